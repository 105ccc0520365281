//! Fuzzes the reply decoder with hostile venue messages.
//!
//! Every input is decoded by the engine's decoder (simd-json, one decoder reused across inputs
//! as on a connection, prepared for short messages so longer ones take the growth path) and by
//! `decode_with_serde_json`. Checked on every input:
//! - nothing panics;
//! - decoding the same input again gives the same result (no state leaks between messages);
//! - the two parsers agree on `Ok`/`Err`, on the error, and on every field of the reply.
//!
//! Objects with duplicate keys are compared too: serde_json keeps the last value and simd-json's
//! lookup finds the first (RFC 8259 section 4 leaves the reading of duplicates to the receiver),
//! so for such input the serde_json side reads a copy rewritten to keep the first value of each
//! key. Any other disagreement is a crash unless the input is in one of the classes where the
//! two libraries are known to read JSON differently (see `known_divergence` in
//! `common/json.rs`, which the push decoder's target shares).

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

fuzz_target!(|data: &[u8]| {
    let (simd, again) = DECODER.with(|decoder| {
        let mut decoder = decoder.borrow_mut();
        let simd = decoder.decode(&mut data.to_vec()).map(OwnedReply::from);
        let again = decoder.decode(&mut data.to_vec()).map(OwnedReply::from);
        (simd, again)
    });
    assert_eq!(simd, again, "the same input decoded twice differs");

    assert_serde_agrees(data, &simd, decode_with_serde_json);
});
