//! Fuzzes the V3 (unified account) reply and push decoder with hostile venue messages.
//!
//! Each input is read two ways, so that mutations reach the orders of a push and not only the
//! envelope: as a whole message, and as the `data` of an `order` topic push
//! (`{"action":"snapshot","arg":{"instType":"UTA","topic":"order"},"data":` + input + `}`).
//! Each is decoded by the engine's V3 reading (simd-json, one decoder reused across inputs as
//! on a connection, prepared for short messages so that longer ones take the growth path) and
//! by `v3::decode_with_serde_json`. Checked on every input:
//! - nothing panics;
//! - decoding the same input again gives the same result;
//! - the two parsers agree, under the accepted divergences of `common/json.rs`;
//! - every order read has an id.

#![no_main]

#[path = "common/json.rs"]
mod json;

use std::cell::RefCell;

use bitget_cancel::protocol::v3::{decode, decode_with_serde_json};
use bitget_cancel::protocol::{OwnedReply, ReplyDecoder};
use json::assert_serde_agrees;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static DECODER: RefCell<ReplyDecoder> = RefCell::new(ReplyDecoder::with_capacity(256));
}

const ENVELOPE_HEAD: &[u8] =
    br#"{"action":"snapshot","arg":{"instType":"UTA","topic":"order"},"data":"#;

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
        let simd = decode(&mut decoder, &mut text.to_vec()).map(OwnedReply::from);
        let again = decode(&mut decoder, &mut text.to_vec()).map(OwnedReply::from);
        (simd, again)
    });
    assert_eq!(simd, again, "the same input decoded twice differs");
    if let Ok(OwnedReply::Orders { updates }) = &simd {
        for update in updates {
            assert!(
                update.order_id.is_some() || update.client_oid.is_some(),
                "an order without an id: {update:?}"
            );
        }
    }
    assert_serde_agrees(text, &simd, decode_with_serde_json);
}
