//! The V2 venue's JSON reply to a REST request, read into a verdict.
//!
//! `{"code":"00000","msg":"success","requestTime":...,"data":{...}}` with a 2xx status is an
//! ack; any other `code` (a string over REST; a number is accepted too) is a rejection, whatever
//! the status (the venue sends its refusals with 4xx). A 5xx status, or a body that is not that
//! JSON, carries no verdict: the request failed and the order's fate is unknown.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::outcome::VenueMsg;
use crate::venue::Verdict;

/// Why a REST reply carries no verdict: the request failed, and the order's fate is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoVerdict {
    /// The venue answered 5xx.
    ServerError { status: u16 },
    /// The reply is HTTP but not the venue's JSON reply (or an impossible combination).
    BadReply { status: u16, reason: &'static str },
}

/// The venue's `code`: a string of digits or a JSON integer; anything else reads as `None`.
/// Read without allocating.
struct Code(Option<i64>);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl<'de> serde::de::Visitor<'de> for CodeVisitor {
            type Value = Code;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a numeric code")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Code, E> {
                let digits =
                    !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
                Ok(Code(digits.then(|| s.parse().ok()).flatten()))
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Code, E> {
                Ok(Code(Some(n)))
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Code, E> {
                Ok(Code(i64::try_from(n).ok()))
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Code, E> {
                Ok(Code(None))
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Code, E> {
                Ok(Code(None))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Code, E> {
                Ok(Code(None))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Code, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Code(None))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Code, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Code(None))
            }
        }

        deserializer.deserialize_any(CodeVisitor)
    }
}

/// The venue's `msg`, borrowed from the body unless it holds escapes. (serde's own
/// `Option<Cow<str>>` always copies.)
struct Msg<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Msg<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MsgVisitor;

        impl<'de> serde::de::Visitor<'de> for MsgVisitor {
            type Value = Msg<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a message string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Msg<'de>, E> {
                Ok(Msg(Cow::Borrowed(s)))
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Msg<'de>, E> {
                Ok(Msg(Cow::Owned(s.to_owned())))
            }
        }

        deserializer.deserialize_str(MsgVisitor)
    }
}

/// The fields of the reply envelope a verdict needs; the rest is skipped. Strings without
/// escapes are borrowed from the body, so a reply is read without allocating.
#[derive(Deserialize)]
struct Envelope<'a, D> {
    code: Option<Code>,
    #[serde(borrow)]
    msg: Option<Msg<'a>>,
    data: Option<D>,
}

/// `data` of the server time reply.
#[derive(Deserialize)]
struct TimeData {
    #[serde(rename = "serverTime")]
    server_time: Option<Code>,
}

fn envelope<'a, D: Deserialize<'a>>(
    status: u16,
    body: &'a [u8],
) -> Result<Envelope<'a, D>, NoVerdict> {
    if status >= 500 {
        return Err(NoVerdict::ServerError { status });
    }
    serde_json::from_slice::<Envelope<'a, D>>(body).map_err(|_| NoVerdict::BadReply {
        status,
        reason: "the body is not the venue's JSON reply",
    })
}

/// Reads a cancel reply (status and body) into a [`Verdict`].
pub(crate) fn decode_verdict(status: u16, body: &[u8]) -> Result<Verdict, NoVerdict> {
    let reply = envelope::<IgnoredAny>(status, body)?;
    let code = reply.code.and_then(|c| c.0).ok_or(NoVerdict::BadReply {
        status,
        reason: "the reply has no numeric code",
    })?;
    if !(200..300).contains(&status) && !(400..500).contains(&status) {
        return Err(NoVerdict::BadReply {
            status,
            reason: "unexpected HTTP status",
        });
    }
    match code {
        0 if (200..300).contains(&status) => Ok(Verdict::Acked),
        0 => Err(NoVerdict::BadReply {
            status,
            reason: "success code with an error status",
        }),
        code => Ok(Verdict::Rejected {
            code,
            msg: VenueMsg::new(reply.msg.as_ref().map_or("", |m| &m.0)),
        }),
    }
}

/// Reads `GET /api/v2/public/time`'s reply: `data.serverTime`, Unix milliseconds (a string of
/// digits or a number).
pub(crate) fn decode_server_time(status: u16, body: &[u8]) -> Result<i64, NoVerdict> {
    let reply = envelope::<TimeData>(status, body)?;
    if !(200..300).contains(&status) || reply.code.and_then(|c| c.0) != Some(0) {
        return Err(NoVerdict::BadReply {
            status,
            reason: "the server time request was refused",
        });
    }
    reply
        .data
        .and_then(|d| d.server_time)
        .and_then(|c| c.0)
        .ok_or(NoVerdict::BadReply {
            status,
            reason: "no data.serverTime in the reply",
        })
}
