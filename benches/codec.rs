//! The codec on its own: request encoding, WebSocket masking and framing, login signing, and reply
//! decoding with simd-json (the engine's path) beside serde_json (the usual way).
//!
//! `cargo bench --bench codec`

use std::hint::black_box;

use bitget_cancel::protocol::{
    self, MAX_CANCEL_LEN, ReplyDecoder, decode_with_serde_json, encode_cancel, encode_login,
    sign_login,
};
use bitget_cancel::ws::{MAX_CLIENT_HEADER, MaskGen, OpCode, apply_mask, encode_client_frame};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const SUCCESS_ACK: &[u8] = br#"{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}"#;
const ERROR_REPLY: &[u8] = br#"{"event":"error","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"12345"}}],"code":43001,"msg":"The order does not exist","ts":1763958366418}"#;

fn encode(c: &mut Criterion) {
    let inst_id = InstId::new("BTCUSDT").unwrap();
    let cases = [
        (
            "cancel_by_order_id",
            OrderRef::order_id("1376695893517410304").unwrap(),
        ),
        (
            "cancel_by_client_oid",
            OrderRef::client_oid("my-strategy-order-000123").unwrap(),
        ),
        (
            "cancel_by_both",
            OrderRef::from_parts(
                Some("1376695893517410304"),
                Some("my-strategy-order-000123"),
            )
            .unwrap(),
        ),
    ];
    let mut group = c.benchmark_group("encode");
    let mut out = Vec::with_capacity(MAX_CANCEL_LEN);
    for (name, order) in cases {
        let cancel = Cancel::new(InstType::Spot, inst_id, order);
        let mut n = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                out.clear();
                encode_cancel(&mut out, &RequestId::from_u64(n), black_box(&cancel));
                black_box(out.len())
            })
        });
    }

    let (api_key, passphrase) = ("bg_0123456789abcdef0123456789abcdef", "my passphrase");
    let sign = sign_login(b"22582BD0CFF14C41EDBF1AB98506286D", 1538054050);
    let mut out = Vec::with_capacity(protocol::max_login_len(api_key, passphrase));
    group.bench_function("login", |b| {
        b.iter(|| {
            out.clear();
            encode_login(
                &mut out,
                black_box(api_key),
                black_box(passphrase),
                black_box(1538054050),
                &sign,
            )
            .unwrap();
            black_box(out.len())
        })
    });
    group.finish();
}

fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign");
    group.bench_function("sign_login", |b| {
        b.iter(|| {
            sign_login(
                black_box(b"22582BD0CFF14C41EDBF1AB98506286D"),
                black_box(1538054050),
            )
        })
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, text) in [("success_ack", SUCCESS_ACK), ("error_reply", ERROR_REPLY)] {
        let mut decoder = ReplyDecoder::new();
        // simd-json parses in place, so each iteration gets a fresh copy; the copy is made
        // outside the timed section.
        group.bench_function(format!("simd_json/{name}"), |b| {
            b.iter_batched_ref(
                || text.to_vec(),
                |buf| {
                    let reply = decoder.decode(buf).unwrap();
                    black_box(reply);
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("serde_json/{name}"), |b| {
            b.iter(|| black_box(decode_with_serde_json(black_box(text)).unwrap()))
        });
    }
    group.finish();
}

/// Masking and framing a cancel-sized payload, and masking a large one to show throughput.
fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    let mut small = SUCCESS_ACK[..139].to_vec();
    group.bench_function("apply_mask_139_bytes", |b| {
        b.iter(|| apply_mask(black_box(&mut small), black_box([1, 2, 3, 4])))
    });
    let mut large = vec![0x5au8; 64 * 1024];
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("apply_mask_64_KiB", |b| {
        b.iter(|| apply_mask(black_box(&mut large), black_box([1, 2, 3, 4])))
    });
    group.finish();

    let mut group = c.benchmark_group("frame");
    let payload = &SUCCESS_ACK[..139];
    let mut masks = MaskGen::new();
    let mut out = Vec::with_capacity(payload.len() + MAX_CLIENT_HEADER);
    group.bench_function("masked_text_frame_139_bytes", |b| {
        b.iter(|| {
            out.clear();
            encode_client_frame(
                &mut out,
                OpCode::Text,
                black_box(payload),
                masks.next_mask(),
            );
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, encode, mask, sign, decode);
criterion_main!(benches);
