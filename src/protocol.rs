//! The Bitget V2 wire protocol: what goes into a WebSocket text frame and what comes out of one.
//!
//! These are the public pieces of the V2 dialect, which the engine reaches through its venue
//! seam (the one part of the crate that knows the venue's bytes); they are exported here for
//! tools, benches and tests that want to encode or read the venue's messages themselves.
//!
//! Three jobs, each free of heap allocation once its buffers are warm:
//!
//! - **Encoding** ([`encode_cancel`], [`encode_login`], [`encode_subscribe`]) appends a request
//!   to a buffer the caller owns and reuses. The values come from the validated types of [`crate::intent`], which admit
//!   only JSON-safe ASCII, so they are written verbatim with no escaping pass.
//! - **Signing** ([`sign_login`]) computes the login signature,
//!   `base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"))`, into a stack array.
//! - **Decoding** ([`ReplyDecoder`]) parses the venue's reply with simd-json into a reused tape
//!   and reads the few fields the engine acts on (`event`, `code`, `msg`, `arg[0].id`) into a
//!   [`Reply`] that borrows from the message; a push on the private `orders` channel reads into
//!   [`OrderUpdate`](crate::final_word::OrderUpdate)s the decoder keeps ([`Reply::Orders`]). [`decode_with_serde_json`] reads the same replies
//!   with serde_json for tools and comparisons; it allocates and is not meant for the hot path.
//!
//! The venue is read tolerantly: `code` may be a JSON number or a numeric string, `msg` may be
//! missing, and `arg` may be an array or a single object. Anything else that does not make sense
//! is a [`DecodeError`], never a panic.
//!
//! ```
//! use bitget_cancel::protocol::{self, Reply, ReplyDecoder};
//! use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
//!
//! let cancel = Cancel::new(
//!     InstType::Spot,
//!     InstId::new("BTCUSDT")?,
//!     OrderRef::order_id("1376695893517410304")?,
//! );
//! let mut request = Vec::with_capacity(protocol::MAX_CANCEL_LEN);
//! protocol::encode_cancel(&mut request, &RequestId::from_u64(1), &cancel);
//! assert!(request.starts_with(br#"{"op":"trade","args":[{"id":"1","#));
//!
//! let mut decoder = ReplyDecoder::new();
//! let mut ack = br#"{"event":"trade","arg":[{"id":"1"}],"code":0,"msg":"Success"}"#.to_vec();
//! assert_eq!(
//!     decoder.decode(&mut ack)?,
//!     Reply::Trade { id: "1", code: 0, msg: "Success" }
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::venue::v2::{
    DecodeError, EncodeError, MAX_CANCEL_LEN, OwnedReply, PING, Reply, ReplyDecoder, SIGN_LEN,
    decode_with_serde_json, encode_cancel, encode_login, encode_subscribe, max_login_len,
    sign_login,
};

/// The unified trading account's V3 dialect: the same login, keepalive and [`ReplyDecoder`]
/// buffers, its own request envelope (top-level `id`, lowercase `category`), replies read by
/// [`v3::decode`] into the same [`Reply`] kinds.
pub mod v3 {
    pub use crate::venue::BatchEntry;
    pub use crate::venue::v3::*;
}
