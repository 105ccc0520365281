//! Inputs found by the fuzz targets in fuzz/, kept inline so what each finding taught stays
//! pinned down by `cargo test`, without the fuzzer.

use bitget_cancel::protocol::{
    DecodeError, OwnedReply, Reply, ReplyDecoder, decode_with_serde_json,
};

/// Found by `reply_decoder` (as `{"event":"error","arg-":[],"code":-0,"msg":"订单"}`, minimized
/// by hand): simd-json reads the literal `-0` as the integer 0, serde_json as the float -0.0.
/// The engine's decoder reads `code` 0, as the rule "an integer that fits an i64" asks; the
/// serde_json path cannot tell `-0` from `-0.0` once parsed and refuses it. A documented
/// difference between the two paths, not a fault of the engine's decoder.
#[test]
fn a_negative_zero_code_is_zero_for_the_engine_decoder() {
    let found =
        b"{\"event\":\"error\",\"arg-\":[],\"code\":-0,\"msg\":\"\xe8\xae\xa2\xe5\x8d\x95\"}";
    let mut decoder = ReplyDecoder::new();
    assert_eq!(
        decoder.decode(&mut found.to_vec()),
        Ok(Reply::Error {
            code: 0,
            msg: "订单"
        })
    );
    assert_eq!(
        decode_with_serde_json(found),
        Err(DecodeError::WrongType("code"))
    );

    let minimal = b"{\"event\":\"login\",\"code\":-0}";
    assert_eq!(
        decoder.decode(&mut minimal.to_vec()),
        Ok(Reply::Login {
            code: 0,
            msg: "",
            conn_id: ""
        })
    );
    // A float zero stays a wrong type for both, whatever its sign.
    for float in [
        &b"{\"event\":\"login\",\"code\":-0.0}"[..],
        b"{\"event\":\"login\",\"code\":0e0}",
    ] {
        assert_eq!(
            decoder.decode(&mut float.to_vec()),
            Err(DecodeError::WrongType("code"))
        );
        assert_eq!(
            decode_with_serde_json(float),
            Err(DecodeError::WrongType("code"))
        );
    }
}

/// How the two parsers read duplicate keys, which the `reply_decoder` target relies on (it
/// compares the engine's decoder with serde_json reading a copy that keeps the first value of
/// each key): the engine's decoder takes the first `event`, serde_json the last.
#[test]
fn duplicate_keys_take_the_first_value_in_the_engine_decoder() {
    let text = br#"{"event":"login","code":0,"event":"trade","arg":[{"id":"1"}],"code":5}"#;
    let mut decoder = ReplyDecoder::new();
    assert_eq!(
        decoder.decode(&mut text.to_vec()),
        Ok(Reply::Login {
            code: 0,
            msg: "",
            conn_id: ""
        })
    );
    assert_eq!(
        decode_with_serde_json(text),
        Ok(OwnedReply::Trade {
            id: "1".to_owned(),
            code: 5,
            msg: String::new()
        })
    );
}
