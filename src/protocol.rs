//! CONTRACT STUB: replaced by the real module. Signatures are the contract other modules code against.
//! Bitget V2 wire protocol: request encoding into caller buffers, login signing, reply decoding.
#![allow(missing_docs, unused_variables, clippy::all)]

use crate::intent::{Cancel, RequestId};

/// The keepalive text the client sends.
pub const PING: &[u8] = b"ping";
/// An upper bound on the length of any encoded cancel request.
pub const MAX_CANCEL_LEN: usize = 512;

/// Appends the cancel request JSON for `cancel` under request id `id` to `out`.
/// Never allocates when `out` has `MAX_CANCEL_LEN` spare capacity.
pub fn encode_cancel(out: &mut Vec<u8>, id: &RequestId, cancel: &Cancel) {
    unimplemented!("contract stub")
}

/// `base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"))`: always 44 ASCII bytes.
pub fn sign_login(secret: &[u8], timestamp_s: u64) -> [u8; 44] {
    unimplemented!("contract stub")
}

/// Appends the login request JSON to `out`; api_key and passphrase are checked for JSON safety.
pub fn encode_login(
    out: &mut Vec<u8>,
    api_key: &str,
    passphrase: &str,
    timestamp_s: u64,
    sign: &[u8; 44],
) -> Result<(), EncodeError> {
    unimplemented!("contract stub")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode the login request: {field} {rule}")]
pub struct EncodeError {
    pub field: &'static str,
    pub rule: &'static str,
}

pub const SIGN_LEN: usize = 44;

/// The longest login request for these credentials.
pub fn max_login_len(api_key: &str, passphrase: &str) -> usize {
    unimplemented!("contract stub")
}

/// One decoded venue message. Strings borrow from the decoded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `event` "trade" with `arg[0].id` (code 0 = acked; anything else is a rejection).
    Trade {
        id: &'a str,
        code: i64,
        msg: &'a str,
    },
    /// `event` "error" with `arg[0].id`: a rejection of that request.
    TradeError {
        id: &'a str,
        code: i64,
        msg: &'a str,
    },
    /// `event` "error" with no `arg`: belongs to no single request (30006, 30007, login failures).
    Error { code: i64, msg: &'a str },
    /// `event` "login".
    Login { code: i64, msg: &'a str },
    /// The text `pong`.
    Pong,
    /// Any other well-formed event (kept so the engine can log and ignore it).
    Other { event: &'a str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

/// Reusable simd-json decoder: no allocation once warm.
#[derive(Debug, Default)]
pub struct ReplyDecoder {}

impl ReplyDecoder {
    pub fn new() -> Self {
        unimplemented!("contract stub")
    }
    pub fn with_capacity(max_len: usize) -> Self {
        unimplemented!("contract stub")
    }
    /// Decodes one text message in place (simd-json mutates `text`).
    pub fn decode<'a>(&mut self, text: &'a mut [u8]) -> Result<Reply<'a>, DecodeError> {
        unimplemented!("contract stub")
    }
}
