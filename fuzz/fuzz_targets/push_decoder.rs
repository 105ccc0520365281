//! Fuzzes the decoding of pushes on the private `orders` channel (the reply decoder's
//! `Reply::Orders`) with hostile venue messages.
//!
//! Each input is read two ways, so that mutations reach the orders themselves and not only the
//! envelope: as a whole message, and as the `data` of a push envelope
//! (`{"action":"snapshot","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"data":`
//! + input + `}`). Each is decoded by the engine's decoder (simd-json, one decoder reused across
//! inputs as on a connection, prepared for short messages so that longer ones take the growth
//! path) and by `decode_with_serde_json`. Checked on every input:
//! - nothing panics;
//! - decoding the same input again gives the same result (no update of one push leaks into
//!   the next);
//! - the two parsers agree on `Ok`/`Err`, on the error, and on every field of every order,
//!   under the rules and the accepted divergences of the reply decoder's target
//!   (`common/json.rs`);
//! - every order read has an id and decimals the venue could have written.

#![no_main]

#[path = "common/json.rs"]
mod json;

use std::cell::RefCell;

use bitget_cancel::protocol::{OwnedReply, ReplyDecoder, decode_with_serde_json};
use json::assert_serde_agrees;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static DECODER: RefCell<ReplyDecoder> = RefCell::new(ReplyDecoder::with_capacity(256));
}

const ENVELOPE_HEAD: &[u8] =
    br#"{"action":"snapshot","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"data":"#;

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut wrapped = Vec::with_capacity(ENVELOPE_HEAD.len() + data.len() + 1);
    wrapped.extend_from_slice(ENVELOPE_HEAD);
    wrapped.extend_from_slice(data);
    wrapped.push(b'}');
    check(&wrapped);
});

fn check(text: &[u8]) {
    let (simd, again) = DECODER.with(|decoder| {
        let mut decoder = decoder.borrow_mut();
        let simd = decoder.decode(&mut text.to_vec()).map(OwnedReply::from);
        let again = decoder.decode(&mut text.to_vec()).map(OwnedReply::from);
        (simd, again)
    });
    assert_eq!(simd, again, "the same input decoded twice differs");
    if let Ok(OwnedReply::Orders { updates }) = &simd {
        for update in updates {
            assert!(
                update.order_id.is_some() || update.client_oid.is_some(),
                "an order without an id: {update:?}"
            );
            for decimal in [update.filled, update.price_avg].into_iter().flatten() {
                let digits = decimal.as_str();
                assert!(
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                    "not a decimal: {digits:?}"
                );
            }
        }
    }
    assert_serde_agrees(text, &simd, decode_with_serde_json);
}
