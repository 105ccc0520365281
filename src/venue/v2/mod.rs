//! The classic account's V2 WebSocket trading API: the login (`op: login`, signed with
//! HMAC-SHA256), the keepalive (`ping` / `pong`), `cancel-order` (`op: trade`), the private
//! `orders` channel's subscription, and the replies (`event: trade`, `error`, `login`,
//! `subscribe`) and pushes, read with simd-json.
//!
//! The pieces are public through [`crate::protocol`]; the engine reaches them through
//! [`Dialect::V2`](super::Dialect::V2).

pub(crate) mod codes;
pub(in crate::venue) mod decode;
mod encode;
mod inbound;
pub(crate) mod rest;
pub(crate) mod rest_reply;
pub(crate) mod sign;

pub use decode::{DecodeError, OwnedReply, Reply, ReplyDecoder, decode_with_serde_json};
pub use encode::{
    EncodeError, MAX_CANCEL_LEN, PING, encode_cancel, encode_login, encode_subscribe, max_login_len,
};
pub(crate) use inbound::read;
pub(in crate::venue) use inbound::read_as;
pub use sign::{SIGN_LEN, sign_login};
