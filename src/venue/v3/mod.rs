//! The unified trading account's V3 WebSocket trading API (`wss://ws.bitget.com/v3/ws/private`):
//! the login and keepalive are V2's; `cancel-order` and `batch-cancel` carry the request's `id`
//! at the top level, a lowercase `category` and no symbol; replies have string codes and a
//! string `ts`, and a failure (`{"event":"error","id":...}`) names its request by `id` alone;
//! the `order` topic (`{"instType":"UTA","topic":"order"}`) pushes `orderStatus` and
//! `cumExecQty`. REST: `cancel-order`, `cancel-batch`, `cancel-symbol-order`, `order-info`,
//! `account/settings`, `countdown-cancel-all`.
//!
//! The engine reaches these through [`Dialect::V3`](super::Dialect::V3); the public pieces are
//! in [`crate::protocol::v3`].

pub(crate) mod codes;
mod decode;
mod encode;
mod inbound;
pub(crate) mod rest;
pub(crate) mod rest_reply;

pub use decode::{decode, decode_with_serde_json};
pub use encode::{
    BatchKey, MAX_BATCH, MAX_BATCH_LEN, MAX_CANCEL_LEN, SUBSCRIBE_ORDERS, category,
    encode_batch_cancel, encode_cancel, encode_subscribe, inst_type_of,
};
pub(crate) use inbound::read;
pub use rest::{
    CANCEL_BATCH_PATH, CANCEL_PATH, CANCEL_SYMBOL_PATH, COUNTDOWN_PATH, MAX_BATCH_BODY_LEN,
    ORDER_INFO_PATH, SETTINGS_PATH, encode_rest_batch_body, encode_rest_cancel_all_body,
    encode_rest_cancel_body,
};
