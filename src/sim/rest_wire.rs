//! What every REST handler of the simulated venue shares: the request as read, the venue's
//! reply shapes, the account's rate-limit check. The listener (`rest.rs`) and the handlers of
//! order queries, batches and cancel-alls (`rest_orders.rs`) and of V3 (`rest_v3.rs`) all read
//! it; it reads none of them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Endpoint, Shared};
use crate::intent::InstType;

/// A request read whole.
pub(super) struct HttpRequest {
    pub(super) method: String,
    /// The request target, query included.
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl HttpRequest {
    /// The value of query parameter `name`, percent-decoded; an empty value counts as none.
    pub(super) fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.path.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| percent_decode(value))
            .filter(|v| !v.is_empty())
    }

    /// The body as a JSON value, if it is one.
    pub(super) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `%XX` escapes and `+` decoded; a bad escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A reply: status, reason phrase, body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) content_type: &'static str,
    pub(super) body: String,
}

pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(super) fn venue_reply(status: u16, code: &str, msg: &str, data: Value) -> Reply {
    let body = json!({"code": code, "msg": msg, "requestTime": unix_ms(), "data": data});
    Reply {
        status,
        reason: match status {
            200 => "OK",
            404 => "Not Found",
            429 => "Too Many Requests",
            _ => "Bad Request",
        },
        content_type: "application/json",
        body: body.to_string(),
    }
}

pub(super) fn refused(code: &str, msg: &str) -> Reply {
    venue_reply(400, code, msg, Value::Null)
}

/// A successful reply with `data`.
pub(super) fn success(data: Value) -> Reply {
    venue_reply(200, "00000", "success", data)
}

/// The venue's answer over a rate limit: HTTP 429, code `429`.
pub(super) fn too_many() -> Reply {
    venue_reply(429, "429", "Too Many Requests", Value::Null)
}

pub(super) fn server_error(status: u16) -> Reply {
    Reply {
        status,
        reason: "Service Unavailable",
        content_type: "text/html",
        body: format!("<html><body><h1>{status}</h1></body></html>"),
    }
}

/// Counts one request of account `uid` on `endpoint`; over the limit, the 429 reply.
pub(super) fn admit(shared: &Shared, uid: u64, endpoint: Endpoint) -> Result<(), Reply> {
    if shared.accounts.admit(uid, endpoint) {
        Ok(())
    } else {
        shared.note(|a| *a.rate_limited.entry(endpoint).or_default() += 1);
        Err(too_many())
    }
}

/// The account a signed request trades for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caller {
    pub(super) uid: u64,
}

/// The V2 REST "does not exist" refusal: 43001 on spot, 40768 on futures.
pub(super) fn not_found(inst_type: InstType) -> Reply {
    let (code, msg) = not_found_code(inst_type);
    refused(code, msg)
}

/// The V2 REST "does not exist" code and message: 43001 on spot, 40768 on futures.
pub(super) fn not_found_code(inst_type: InstType) -> (&'static str, &'static str) {
    if inst_type.is_futures() {
        ("40768", "Order does not exist")
    } else {
        ("43001", "The order does not exist")
    }
}
