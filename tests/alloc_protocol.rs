//! The protocol hot path allocates nothing once warm: encoding cancels and logins into a reused
//! buffer, signing, and decoding every captured venue reply.
//!
//! A counting global allocator counts per thread, so the tests in this binary can run in
//! parallel without seeing each other's allocations.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use std::hint::black_box;

use bitget_cancel::protocol::{
    self, DecodeError, MAX_CANCEL_LEN, Reply, ReplyDecoder, encode_cancel, encode_login, sign_login,
};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};

/// How many allocations (including reallocations) `f` makes on this thread.
fn allocations_during(f: impl FnOnce()) -> u64 {
    counting_alloc::count(f).0
}

/// Every reply captured from the venue, with what it decodes to.
const CAPTURED: [(&[u8], Reply<'static>); 9] = [
    (
        br#"{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}"#,
        Reply::Trade {
            id: "1",
            code: 0,
            msg: "Success",
        },
    ),
    (
        br#"{"event":"error","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"12345"}}],"code":43001,"msg":"The order does not exist","ts":1763958366418}"#,
        Reply::TradeError {
            id: "1",
            code: 43001,
            msg: "The order does not exist",
        },
    ),
    (
        br#"{"event":"trade","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376999173366317057"}}],"code":0,"msg":"Success","ts":1764129519844}"#,
        Reply::Trade {
            id: "1",
            code: 0,
            msg: "Success",
        },
    ),
    (
        br#"{"event":"error","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1234"}}],"code":41101,"msg":"Param orderId=1234 error","ts":1764129464757}"#,
        Reply::TradeError {
            id: "1",
            code: 41101,
            msg: "Param orderId=1234 error",
        },
    ),
    (
        br#"{"event":"error","code":30006,"msg":"request too many"}"#,
        Reply::Error {
            code: 30006,
            msg: "request too many",
        },
    ),
    (
        br#"{"event":"login","code":0,"msg":""}"#,
        Reply::Login {
            code: 0,
            msg: "",
            conn_id: "",
        },
    ),
    (
        br#"{"event":"login","code":0,"connId":"7f3c2a9e5b1d4c8fa06e2b9d3c5a1f70"}"#,
        Reply::Login {
            code: 0,
            msg: "",
            conn_id: "7f3c2a9e5b1d4c8fa06e2b9d3c5a1f70",
        },
    ),
    (
        br#"{"event":"error","code":30015,"msg":"Invalid sign"}"#,
        Reply::Error {
            code: 30015,
            msg: "Invalid sign",
        },
    ),
    (b"pong", Reply::Pong),
];

const ITERATIONS: usize = 1000;

/// Decodes a copy of `text` made in a stack scratch buffer (the engine decodes in its read
/// buffer, which it never frees).
fn decode_copy<'a>(
    decoder: &'a mut ReplyDecoder,
    scratch: &'a mut [u8; 1024],
    text: &[u8],
) -> Result<Reply<'a>, DecodeError> {
    let copy = &mut scratch[..text.len()];
    copy.copy_from_slice(text);
    decoder.decode(copy)
}

#[test]
fn the_counter_sees_allocations() {
    let counted = allocations_during(|| {
        black_box(Vec::<u8>::with_capacity(black_box(16)));
    });
    assert_eq!(
        counted, 1,
        "the counting allocator must see a plain Vec allocation"
    );
}

#[test]
fn warm_encode_sign_and_decode_allocate_nothing() {
    let inst_id = InstId::new("BTCUSDT").unwrap();
    let cancels = [
        OrderRef::order_id("1376695893517410304").unwrap(),
        OrderRef::client_oid("my-client-oid-1").unwrap(),
        OrderRef::from_parts(Some("1376695893517410304"), Some("my-client-oid-1")).unwrap(),
    ]
    .map(|order| Cancel::new(InstType::UsdtFutures, inst_id, order));
    let (api_key, passphrase, secret) = ("bg_0123456789abcdef", "pass phrase", b"secret");
    let mut out = Vec::with_capacity(MAX_CANCEL_LEN + protocol::max_login_len(api_key, passphrase));
    let mut decoder = ReplyDecoder::new();
    let mut scratch = [0u8; 1024];

    let mut turn = |n: u64| {
        for cancel in &cancels {
            out.clear();
            encode_cancel(&mut out, &RequestId::from_u64(n), cancel);
            black_box(&out);
        }
        let timestamp_s = 1_538_054_050 + n;
        let sign = sign_login(black_box(secret), timestamp_s);
        out.clear();
        encode_login(&mut out, api_key, passphrase, timestamp_s, &sign).unwrap();
        black_box(&out);
        for (text, expected) in CAPTURED {
            let reply = decode_copy(&mut decoder, &mut scratch, text);
            assert_eq!(reply, Ok(expected));
        }
    };

    turn(0);
    let counted = allocations_during(|| {
        for n in 1..=ITERATIONS as u64 {
            turn(n);
        }
    });
    assert_eq!(counted, 0, "allocations over {ITERATIONS} warm turns");
}

#[test]
fn a_new_decoder_allocates_nothing_for_any_message_within_its_capacity() {
    const CAPACITY: usize = 1024;
    let mut decoder = ReplyDecoder::with_capacity(CAPACITY);

    // Hostile shapes as long as the capacity allows: every byte structural, nesting at the
    // limit, long strings with escapes, garbage and truncation.
    let mut all_structural = b"[0".to_vec();
    while all_structural.len() + 3 <= CAPACITY {
        all_structural.extend_from_slice(b",0");
    }
    all_structural.push(b']');
    let depth = ReplyDecoder::MAX_DEPTH;
    let too_deep = format!("{}{}", "[".repeat(depth + 1), "]".repeat(depth + 1)).into_bytes();
    let deepest = format!(
        r#"{{"event":"login","x":{}{},"code":0}}"#,
        "[".repeat(depth - 2),
        "]".repeat(depth - 2)
    )
    .into_bytes();
    let escaped = format!(
        r#"{{"event":"error","code":"30016","msg":"{}"}}"#,
        r#"\"\u00e9\n"#.repeat(80)
    )
    .into_bytes();
    let unclosed = "{\"a\":[".repeat(CAPACITY / 6).into_bytes();
    let garbage: Vec<u8> = (0..CAPACITY).map(|i| (i * 37 % 251) as u8).collect();
    let truncated = &CAPTURED[0].0[..100];
    let inputs: [&[u8]; 8] = [
        &all_structural,
        &too_deep,
        &deepest,
        &escaped,
        &unclosed,
        &garbage,
        truncated,
        b"",
    ];
    for input in inputs {
        assert!(input.len() <= CAPACITY);
    }

    let mut scratch = [0u8; 1024];
    let counted = allocations_during(|| {
        for input in inputs {
            black_box(decode_copy(&mut decoder, &mut scratch, input).ok());
        }
        for (text, expected) in CAPTURED {
            assert_eq!(decode_copy(&mut decoder, &mut scratch, text), Ok(expected));
        }
    });
    assert_eq!(counted, 0, "allocations by a fresh decoder");
}
