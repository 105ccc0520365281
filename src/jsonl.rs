//! The JSON lines `bitget-cancel run` reads and writes, as types: a [`CancelLine`] per input
//! line, an [`OutcomeLine`] per output line. The command line parses and prints with these, so
//! a program that feeds `run` or reads its output gets the same rules and the same messages.
//!
//! Input, one cancel per line (`orderId`, `clientOid` or both; `id` is optional, a string or a
//! non-negative integer, a label echoed in the line's outcome and never sent; any other field
//! is refused):
//!
//! ```text
//! {"instType":"SPOT","instId":"BTCUSDT","orderId":"1376695893517410305","id":"close-1"}
//! {"instType":"SPOT","instId":"ETHUSDT","clientOid":"q-7","priority":200}
//! {"cancelAll":true,"instType":"USDT-FUTURES"}
//! ```
//!
//! `priority` (0 to 255) orders cancels that wait for the venue's budget; a `cancelAll` line
//! ([`Input::CancelAll`], read by [`parse_input`]) cancels every order of a product line, or of
//! its `instId` (required on `SPOT`).
//!
//! Output, one object per non-blank input line; its `id` is the input's, or, for a line that
//! had none, the engine's wire id of the cancel's first send (`k3Xw9QpZ:17`):
//!
//! ```text
//! {"line":1,"id":"close-1","status":"acked","code":0,"msg":"acknowledged","reason":null,"attempts":1,"via":0,"tick_to_wire_ns":139292,"round_trip_ns":155956}
//! ```
//!
//! With `run --confirm` each line waits for its final word and carries four more fields
//! ([`FinalFields`]), null for a line that was never sent:
//!
//! ```text
//! {"line":1,...,"round_trip_ns":155956,"final":"cancelled","filled_size":"0.25","final_source":"push","final_ns":188204}
//! ```
//!
//! ```
//! use bitget_cancel::jsonl::{self, CancelLine, LineStatus, OutcomeLine};
//! use bitget_cancel::InstType;
//!
//! let cancel = jsonl::parse_cancel(br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","id":7}"#)?;
//! assert_eq!((cancel.inst_type, cancel.id.unwrap().as_str()), (InstType::Spot, "7"));
//!
//! // Bad lines say why, in the words `run` prints.
//! let refused = jsonl::parse_cancel(br#"{"instType":"SPOT","instId":"BTCUSDT"}"#).unwrap_err();
//! assert_eq!(refused.to_string(), "invalid orderId: orderId or clientOid is required");
//!
//! // Writing an input line, reading an output line.
//! assert_eq!(
//!     CancelLine::from(&cancel).to_json(),
//!     r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","id":"7"}"#
//! );
//! let out: OutcomeLine = serde_json::from_str(
//!     r#"{"line":3,"id":"2","status":"rejected","code":43001,"msg":"The order does not exist","reason":null,"attempts":1,"via":"rest","tick_to_wire_ns":113143,"round_trip_ns":169827}"#,
//! )?;
//! assert_eq!((out.status, out.code), (LineStatus::Rejected, Some(43001)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Needs the `serde` feature (on with the default `cli`).

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::final_word::{FinalSource, FinalState, FinalWord};
use crate::intent::{Cancel, CancelAll, InstId, InstType, InvalidField, OrderRef, RequestId};
use crate::outcome::{Outcome, Via, words};

/// The fields of an input line, as `run` lists them.
const FIELDS: [&str; 7] = [
    "instType",
    "instId",
    "orderId",
    "clientOid",
    "id",
    "priority",
    "cancelAll",
];

/// The reason word of an [`OutcomeLine`] whose line was refused before sending.
pub const INVALID_INPUT: &str = "invalid_input";

/// Why an input line is not a cancel. `Display` is the message `run` prints in `msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The bytes are not UTF-8.
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// The text is not JSON; the parser's message.
    #[error("not valid JSON ({0})")]
    Json(String),
    /// JSON, but not an object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// A field that is not one of `instType`, `instId`, `orderId`, `clientOid`, `id`,
    /// `priority`, `cancelAll`.
    #[error(
        "unknown field {0:?} (the fields are instType, instId, orderId, clientOid, id, priority, cancelAll)"
    )]
    UnknownField(String),
    /// A required field (`instType`, `instId`) is absent or null.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A field holds the wrong kind of JSON value.
    #[error("{field} must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be, e.g. `a string`.
        expected: &'static str,
    },
    /// The fields are there but a value breaks the venue's rules (see [`InvalidField`]).
    #[error(transparent)]
    Invalid(#[from] InvalidField),
}

/// One input line of `run`: a cancel, its fields as written and not yet checked against the
/// venue's rules ([`CancelLine::to_cancel`] does that).
///
/// `Deserialize` refuses unknown fields and wrong kinds of value with the messages of
/// [`LineError`]; `Serialize` writes the fields that are set, in the order above. New optional
/// fields may be added (hence `#[non_exhaustive]`): build one with [`CancelLine::new`] or
/// `From<&Cancel>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct CancelLine {
    /// `instType`: `SPOT`, `USDT-FUTURES`, `COIN-FUTURES` or `USDC-FUTURES`.
    #[serde(rename = "instType")]
    pub inst_type: String,
    /// `instId`, e.g. `BTCUSDT`.
    #[serde(rename = "instId")]
    pub inst_id: String,
    /// `orderId`, the venue's order id.
    #[serde(rename = "orderId", skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// `clientOid`, the client's order id.
    #[serde(rename = "clientOid", skip_serializing_if = "Option::is_none")]
    pub client_oid: Option<String>,
    /// `id`, a label of the caller's, echoed in the outcome and never sent (every send goes
    /// out under a wire id of the engine's own). A non-negative integer in the input is kept as
    /// its decimal digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `priority`, 0 to 255 (0 when absent): when cancels wait for the venue's budget, the
    /// highest leaves first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// `cancelAll`: `true` makes the line a cancel-all of `instType` (one symbol with `instId`,
    /// required on `SPOT`); it takes no `orderId`, `clientOid` or `priority`.
    #[serde(rename = "cancelAll", skip_serializing_if = "std::ops::Not::not")]
    pub cancel_all: bool,
}

/// What an input line of `run` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// One cancel.
    Cancel(Cancel),
    /// A cancel-all (`"cancelAll":true`).
    CancelAll(CancelAll),
}

impl CancelLine {
    /// A line for an order on `inst_type` / `inst_id`, with no order reference or id yet.
    ///
    /// ```
    /// use bitget_cancel::InstType;
    /// use bitget_cancel::jsonl::CancelLine;
    /// let line = CancelLine::new(InstType::UsdtFutures, "ETHUSDT").with_client_oid("c-1");
    /// assert_eq!(line.to_json(), r#"{"instType":"USDT-FUTURES","instId":"ETHUSDT","clientOid":"c-1"}"#);
    /// ```
    pub fn new(inst_type: InstType, inst_id: impl Into<String>) -> Self {
        CancelLine {
            inst_type: inst_type.as_str().to_string(),
            inst_id: inst_id.into(),
            ..CancelLine::default()
        }
    }

    /// With this `orderId`.
    pub fn with_order_id(mut self, order_id: impl Into<String>) -> Self {
        self.order_id = Some(order_id.into());
        self
    }

    /// With this `clientOid`.
    pub fn with_client_oid(mut self, client_oid: impl Into<String>) -> Self {
        self.client_oid = Some(client_oid.into());
        self
    }

    /// With this request `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Reads one line (without its line ending), checking its shape: UTF-8, a JSON object, known
    /// fields only, strings where strings belong. The values are checked by
    /// [`to_cancel`](Self::to_cancel).
    pub fn from_json(line: &[u8]) -> Result<CancelLine, LineError> {
        let text = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
        let value = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            Ok(_) => return Err(LineError::NotAnObject),
            Err(e) => return Err(LineError::Json(e.to_string())),
        };
        // A `RawLine` takes any object: this cannot fail, but is not assumed not to.
        let raw = RawLine::deserialize(value).map_err(|e| LineError::Json(e.to_string()))?;
        raw.check()
    }

    /// The validated cancel (tag 0), or the first field that breaks the venue's rules.
    pub fn to_cancel(&self) -> Result<Cancel, InvalidField> {
        let inst_type: InstType = self.inst_type.parse()?;
        let inst_id = InstId::new(&self.inst_id)?;
        let order = OrderRef::from_parts(self.order_id.as_deref(), self.client_oid.as_deref())?;
        let cancel = Cancel::new(inst_type, inst_id, order).priority(self.priority.unwrap_or(0));
        match &self.id {
            Some(id) => Ok(cancel.with_id(RequestId::new(id)?)),
            None => Ok(cancel),
        }
    }

    /// The validated cancel-all of a `"cancelAll":true` line (tag 0): a symbol only if `instId`
    /// is given, which spot requires.
    pub fn to_cancel_all(&self) -> Result<CancelAll, InvalidField> {
        let inst_type: InstType = self.inst_type.parse()?;
        let inst_id = match self.inst_id.as_str() {
            "" => None,
            symbol => Some(InstId::new(symbol)?),
        };
        let all = CancelAll::new(inst_type, inst_id)?;
        match &self.id {
            Some(id) => Ok(all.with_id(RequestId::new(id)?)),
            None => Ok(all),
        }
    }

    /// The validated cancel or cancel-all this line asks for.
    pub fn to_input(&self) -> Result<Input, InvalidField> {
        if self.cancel_all {
            self.to_cancel_all().map(Input::CancelAll)
        } else {
            self.to_cancel().map(Input::Cancel)
        }
    }

    /// The line as compact JSON, without a line ending.
    pub fn to_json(&self) -> String {
        // Strings only: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl From<&Cancel> for CancelLine {
    /// The line that reads back as this cancel (the tag is not part of the line).
    fn from(c: &Cancel) -> Self {
        CancelLine {
            inst_type: c.inst_type.as_str().to_string(),
            inst_id: c.inst_id.as_str().to_string(),
            order_id: c.order.get_order_id().map(|o| o.as_str().to_string()),
            client_oid: c.order.get_client_oid().map(|o| o.as_str().to_string()),
            id: c.id.map(|id| id.as_str().to_string()),
            priority: (c.priority != 0).then_some(c.priority),
            cancel_all: false,
        }
    }
}

impl<'de> Deserialize<'de> for CancelLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawLine::deserialize(deserializer)?
            .check()
            .map_err(de::Error::custom)
    }
}

/// Parses one input line into a validated cancel (tag 0; `run` tags it with the line number),
/// or says why it cannot be sent: [`CancelLine::from_json`], then [`CancelLine::to_cancel`].
pub fn parse_cancel(line: &[u8]) -> Result<Cancel, LineError> {
    Ok(CancelLine::from_json(line)?.to_cancel()?)
}

/// Parses one input line into a validated cancel or cancel-all, or says why it cannot be sent.
///
/// ```
/// use bitget_cancel::jsonl::{self, Input};
/// use bitget_cancel::InstType;
///
/// let all = jsonl::parse_input(br#"{"cancelAll":true,"instType":"USDT-FUTURES"}"#)?;
/// assert!(matches!(all, Input::CancelAll(a) if a.inst_type == InstType::UsdtFutures && a.inst_id.is_none()));
/// let spot = jsonl::parse_input(br#"{"cancelAll":true,"instType":"SPOT"}"#).unwrap_err();
/// assert!(spot.to_string().starts_with("invalid instId: required on SPOT"));
/// let urgent = jsonl::parse_input(br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","priority":9}"#)?;
/// assert!(matches!(urgent, Input::Cancel(c) if c.priority == 9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_input(line: &[u8]) -> Result<Input, LineError> {
    Ok(CancelLine::from_json(line)?.to_input()?)
}

/// A JSON value as an input field sees it.
#[derive(Debug)]
enum Raw {
    Null,
    Str(String),
    Unsigned(u64),
    Bool(bool),
    Other,
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
                Ok(Raw::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Raw, E> {
                Ok(Raw::Str(s))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Raw, E> {
                Ok(Raw::Unsigned(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Raw, E> {
                Ok(u64::try_from(n).map_or(Raw::Other, Raw::Unsigned))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
                Ok(Raw::Other)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(b))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Raw::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Raw::Other)
            }
        }
        deserializer.deserialize_any(RawVisitor)
    }
}

/// An input object's fields before their kinds are checked: any object reads as one.
#[derive(Debug, Default)]
struct RawLine {
    /// Indexed like [`FIELDS`].
    fields: [Option<Raw>; 7],
    unknown: Option<String>,
}

impl<'de> Deserialize<'de> for RawLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LineVisitor;
        impl<'de> Visitor<'de> for LineVisitor {
            type Value = RawLine;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLine, A::Error> {
                let mut line = RawLine::default();
                while let Some(key) = map.next_key::<String>()? {
                    match FIELDS.iter().position(|f| *f == key) {
                        Some(i) => line.fields[i] = Some(map.next_value::<Raw>()?),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                            line.unknown.get_or_insert(key);
                        }
                    }
                }
                Ok(line)
            }
        }
        deserializer.deserialize_map(LineVisitor)
    }
}

impl RawLine {
    /// The fields' kinds, in the order `run` has always checked them: unknown fields, `id`,
    /// `instType`, `instId`, `orderId`, `clientOid`.
    fn check(mut self) -> Result<CancelLine, LineError> {
        if let Some(unknown) = self.unknown {
            return Err(LineError::UnknownField(unknown));
        }
        let mut take = |name: &'static str| {
            let i = FIELDS.iter().position(|f| *f == name).unwrap_or(0);
            (name, self.fields[i].take())
        };
        let optional_string = |(name, raw): (&'static str, Option<Raw>)| match raw {
            None | Some(Raw::Null) => Ok(None),
            Some(Raw::Str(s)) => Ok(Some(s)),
            Some(_) => Err(LineError::WrongType {
                field: name,
                expected: "a string",
            }),
        };
        let required_string = |field: (&'static str, Option<Raw>)| {
            let name = field.0;
            optional_string(field)?.ok_or(LineError::Missing(name))
        };
        let id = match take("id").1 {
            None | Some(Raw::Null) => None,
            Some(Raw::Str(s)) => Some(s),
            Some(Raw::Unsigned(n)) => Some(n.to_string()),
            Some(Raw::Other | Raw::Bool(_)) => {
                return Err(LineError::WrongType {
                    field: "id",
                    expected: "a string or a non-negative integer",
                });
            }
        };
        let cancel_all = match take("cancelAll").1 {
            None | Some(Raw::Null) | Some(Raw::Bool(false)) => false,
            Some(Raw::Bool(true)) => true,
            Some(_) => {
                return Err(LineError::WrongType {
                    field: "cancelAll",
                    expected: "true or false",
                });
            }
        };
        let priority = match take("priority").1 {
            None | Some(Raw::Null) => None,
            Some(Raw::Unsigned(n)) if n <= 255 => Some(n as u8),
            Some(_) => {
                return Err(LineError::WrongType {
                    field: "priority",
                    expected: "an integer from 0 to 255",
                });
            }
        };
        let inst_type = required_string(take("instType"))?;
        if cancel_all {
            let inst_id = optional_string(take("instId"))?.unwrap_or_default();
            for name in ["orderId", "clientOid"] {
                if optional_string(take(name))?.is_some() {
                    return Err(LineError::Invalid(InvalidField {
                        field: if name == "orderId" {
                            "orderId"
                        } else {
                            "clientOid"
                        },
                        rule: "a cancelAll line names no order",
                    }));
                }
            }
            if priority.is_some() {
                return Err(LineError::Invalid(InvalidField {
                    field: "priority",
                    rule: "a cancelAll line always goes first",
                }));
            }
            return Ok(CancelLine {
                inst_type,
                inst_id,
                id,
                cancel_all,
                ..CancelLine::default()
            });
        }
        Ok(CancelLine {
            inst_type,
            inst_id: required_string(take("instId"))?,
            order_id: optional_string(take("orderId"))?,
            client_oid: optional_string(take("clientOid"))?,
            id,
            priority,
            cancel_all,
        })
    }
}

/// The `status` of an [`OutcomeLine`]: an outcome's [`Status::as_str`](crate::Status::as_str),
/// or `invalid` for a line refused before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineStatus {
    /// `acked`
    Acked,
    /// `rejected`
    Rejected,
    /// `unknown`
    Unknown,
    /// `invalid`: the line was refused before anything was sent.
    Invalid,
    /// `not_sent`
    NotSent,
}

impl LineStatus {
    /// Every status, in the order `run`'s summary counts them.
    pub const ALL: [LineStatus; 5] = [
        LineStatus::Acked,
        LineStatus::Rejected,
        LineStatus::Unknown,
        LineStatus::Invalid,
        LineStatus::NotSent,
    ];

    /// The word, e.g. `not_sent`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Acked => words::ACKED,
            LineStatus::Rejected => words::REJECTED,
            LineStatus::Unknown => words::UNKNOWN,
            LineStatus::Invalid => "invalid",
            LineStatus::NotSent => words::NOT_SENT,
        }
    }
}

impl From<&crate::Status> for LineStatus {
    fn from(status: &crate::Status) -> Self {
        use crate::Status;
        match status {
            Status::Acked => LineStatus::Acked,
            Status::Rejected { .. } => LineStatus::Rejected,
            Status::Unknown(_) => LineStatus::Unknown,
            Status::NotSent(_) => LineStatus::NotSent,
        }
    }
}

impl fmt::Display for LineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LineStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LineStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        LineStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| {
                de::Error::unknown_variant(
                    &word,
                    &["acked", "rejected", "unknown", "invalid", "not_sent"],
                )
            })
    }
}

/// One output line of `run`: what became of one input line.
///
/// Fields may be added (hence `#[non_exhaustive]`; `Deserialize` ignores fields it does not
/// know, so a reader keeps working when they are): build one with
/// [`from_outcome`](Self::from_outcome), [`invalid`](Self::invalid) or
/// [`stopped`](Self::stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutcomeLine {
    /// The 1-based input line number.
    pub line: u64,
    /// The input line's `id`, or for a line without one the engine's wire id of its first
    /// send; `None` for a line that was never taken (invalid).
    pub id: Option<String>,
    /// What became of it.
    pub status: LineStatus,
    /// The venue's code (0 for acked), or `None` when the venue did not answer.
    pub code: Option<i64>,
    /// The venue's message for a rejection, `acknowledged` for an ack, else the reason in words
    /// (with the venue's code and message for `login_rejected`, the last connection error for
    /// `no_connection`).
    pub msg: String,
    /// The reason's word for an `unknown`, `not_sent` or `invalid` status
    /// ([`Status::reason`](crate::Status::reason), or [`INVALID_INPUT`]): `ack_timeout`,
    /// `connection_lost`, `shutdown`, `queue_timeout`, `login_rejected`, `no_connection`,
    /// `duplicate_id`, `invalid_input`.
    pub reason: Option<String>,
    /// How many times the cancel was sent (0 if never).
    pub attempts: u8,
    /// The 0-based connection whose reply settled it, or REST; `None` when no reply did.
    pub via: Option<Via>,
    /// From acceptance to the frame handed to the kernel, ns.
    pub tick_to_wire_ns: Option<u64>,
    /// From acceptance to the parsed reply, ns.
    pub round_trip_ns: Option<u64>,
    /// The final word's fields, with `run --confirm` only: absent from the JSON otherwise, so
    /// a line without `--confirm` reads and writes as it always did.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<FinalFields>,
    /// `batch`: the number of the REST batch request that carried the cancel (its `via` is
    /// `rest`); absent for a cancel sent alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    /// `batch_size`: how many cancels that batch carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u8>,
    /// `cancel_all`: present (`true`) on a cancel-all's line only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_all: Option<bool>,
    /// `succeeded`, `failed`: the counts of the venue's success and failure lists of a
    /// cancel-all, where it gives them (futures); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<u32>,
    /// See [`succeeded`](Self::succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u32>,
    /// `asynchronous`: the venue accepted a cancel-all and cancels afterwards (spot); acked
    /// means accepted, not done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asynchronous: Option<bool>,
}

/// The `final` of an [`OutcomeLine`]: a final word's [`FinalState::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineFinal {
    /// `cancelled`
    Cancelled,
    /// `filled`
    Filled,
    /// `live`
    Live,
    /// `unconfirmed`
    Unconfirmed,
}

impl LineFinal {
    /// Every word, in the order `run`'s summary counts them.
    pub const ALL: [LineFinal; 4] = [
        LineFinal::Cancelled,
        LineFinal::Filled,
        LineFinal::Live,
        LineFinal::Unconfirmed,
    ];

    /// The word, e.g. `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineFinal::Cancelled => "cancelled",
            LineFinal::Filled => "filled",
            LineFinal::Live => "live",
            LineFinal::Unconfirmed => "unconfirmed",
        }
    }
}

impl From<&FinalState> for LineFinal {
    fn from(state: &FinalState) -> Self {
        match state {
            FinalState::Cancelled => LineFinal::Cancelled,
            FinalState::Filled => LineFinal::Filled,
            FinalState::Live => LineFinal::Live,
            FinalState::Unconfirmed(_) => LineFinal::Unconfirmed,
        }
    }
}

impl Serialize for LineFinal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LineFinal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        LineFinal::ALL
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| {
                de::Error::unknown_variant(&word, &["cancelled", "filled", "live", "unconfirmed"])
            })
    }
}

/// A field that must be present (to tell a `run --confirm` line from one without), null or a
/// value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// The four fields `run --confirm` adds to an [`OutcomeLine`]. All null for a line that was
/// never sent (`invalid`, `not_sent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FinalFields {
    /// `final`: where the order stands (`cancelled`, `filled`, `live`, `unconfirmed`).
    #[serde(rename = "final", deserialize_with = "present")]
    pub state: Option<LineFinal>,
    /// `filled_size`: how much of the order filled, the venue's decimal string.
    pub filled_size: Option<String>,
    /// `final_source`: `push` or `rest`.
    pub final_source: Option<FinalSource>,
    /// `final_ns`: from the line's intent accepted to its final word, ns.
    pub final_ns: Option<u64>,
}

impl FinalFields {
    /// The fields of a line with no final word (never sent): all null.
    pub fn none() -> Self {
        FinalFields {
            state: None,
            filled_size: None,
            final_source: None,
            final_ns: None,
        }
    }
}

impl From<&FinalWord> for FinalFields {
    fn from(w: &FinalWord) -> Self {
        FinalFields {
            state: Some(LineFinal::from(&w.state)),
            filled_size: w.filled.map(|d| d.as_str().to_string()),
            final_source: w.source,
            final_ns: Some(w.times.since_accepted_ns()),
        }
    }
}

impl OutcomeLine {
    /// The line for an engine outcome of input line `line`.
    ///
    /// ```
    /// use bitget_cancel::jsonl::OutcomeLine;
    /// use bitget_cancel::outcome::{NotSentReason, Outcome, Status, Timestamps};
    /// use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
    ///
    /// let outcome = Outcome {
    ///     id: RequestId::from_u64(1),
    ///     cancel: Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id("1")?),
    ///     status: Status::NotSent(NotSentReason::QueueTimeout),
    ///     times: Timestamps::default(),
    ///     attempts: 0,
    ///     via: None,
    ///     batch: None,
    ///     cancel_all: None,
    /// };
    /// let line = OutcomeLine::from_outcome(4, &outcome);
    /// assert_eq!(line.reason.as_deref(), Some("queue_timeout"));
    /// assert!(line.to_json().starts_with(r#"{"line":4,"id":"1","status":"not_sent","code":null,"#));
    /// # Ok::<(), bitget_cancel::InvalidField>(())
    /// ```
    pub fn from_outcome(line: u64, o: &Outcome) -> Self {
        use crate::Status;
        let msg = match &o.status {
            Status::Acked => "acknowledged".to_string(),
            Status::Rejected { msg, .. } => msg.as_str().to_string(),
            Status::Unknown(reason) => reason.to_string(),
            Status::NotSent(reason) => reason.to_string(),
        };
        OutcomeLine {
            line,
            id: Some(o.id.as_str().to_string()),
            status: LineStatus::from(&o.status),
            code: o.status.code(),
            msg,
            reason: o.status.reason().map(str::to_string),
            attempts: o.attempts,
            via: o.via,
            tick_to_wire_ns: o.times.tick_to_wire_ns(),
            round_trip_ns: o.times.round_trip_ns(),
            confirm: None,
            batch: o.batch.map(|b| b.number),
            batch_size: o.batch.map(|b| b.size),
            cancel_all: o.cancel_all.map(|_| true),
            succeeded: o.cancel_all.and_then(|c| c.succeeded),
            failed: o.cancel_all.and_then(|c| c.failed),
            asynchronous: o.cancel_all.map(|c| c.asynchronous),
        }
    }

    /// The line with the final word's four fields (`run --confirm`): from `word`, or all null
    /// when the line has none (it was never sent).
    ///
    /// ```
    /// use bitget_cancel::jsonl::{FinalFields, OutcomeLine};
    ///
    /// let line = OutcomeLine::invalid(2, "bad").with_final(None);
    /// assert_eq!(line.confirm, Some(FinalFields::none()));
    /// assert!(line.to_json().ends_with(r#""final":null,"filled_size":null,"final_source":null,"final_ns":null}"#));
    /// ```
    pub fn with_final(mut self, word: Option<&FinalWord>) -> Self {
        self.confirm = Some(word.map_or_else(FinalFields::none, FinalFields::from));
        self
    }

    /// The line for input line `line`, refused before it reached the engine, with why.
    pub fn invalid(line: u64, why: impl Into<String>) -> Self {
        OutcomeLine {
            line,
            id: None,
            status: LineStatus::Invalid,
            code: None,
            msg: why.into(),
            reason: Some(INVALID_INPUT.to_string()),
            attempts: 0,
            via: None,
            tick_to_wire_ns: None,
            round_trip_ns: None,
            confirm: None,
            batch: None,
            batch_size: None,
            cancel_all: None,
            succeeded: None,
            failed: None,
            asynchronous: None,
        }
    }

    /// The line for a valid input line the engine refused because it had stopped
    /// ([`SubmitError::Stopped`](crate::engine::SubmitError::Stopped)): not sent, reason
    /// `shutdown`.
    pub fn stopped(line: u64, id: Option<String>) -> Self {
        OutcomeLine {
            line,
            id,
            status: LineStatus::NotSent,
            code: None,
            msg: "the engine stopped before this cancel could be queued".to_string(),
            reason: Some(crate::outcome::NotSentReason::Shutdown.as_str().to_string()),
            attempts: 0,
            via: None,
            tick_to_wire_ns: None,
            round_trip_ns: None,
            confirm: None,
            batch: None,
            batch_size: None,
            cancel_all: None,
            succeeded: None,
            failed: None,
            asynchronous: None,
        }
    }

    /// The line as compact JSON, without a line ending.
    pub fn to_json(&self) -> String {
        // Strings, numbers and options: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{NotSentReason, Status, Timestamps, UnknownReason, VenueMsg};

    #[test]
    fn a_cancel_by_order_id_with_a_numeric_id_parses() {
        let c = parse_cancel(br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"123","id":7}"#)
            .unwrap();
        assert_eq!(c.inst_type, InstType::Spot);
        assert_eq!(c.order.get_order_id().unwrap().as_str(), "123");
        assert_eq!(c.id.unwrap().as_str(), "7");
    }

    #[test]
    fn a_bad_line_is_named_with_the_messages_run_prints() {
        for (line, expected) in [
            (
                &b"{"[..],
                "not valid JSON (EOF while parsing an object at line 1 column 1)",
            ),
            (b"[1]", "expected a JSON object"),
            (
                br#"{"instType":"SPOT","instId":"BTCUSDT"}"#,
                "invalid orderId: orderId or clientOid is required",
            ),
            (
                br#"{"instType":"spot","instId":"BTCUSDT","orderId":"1"}"#,
                "invalid instType: one of SPOT, USDT-FUTURES, COIN-FUTURES, USDC-FUTURES",
            ),
            (
                br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":1}"#,
                "orderId must be a string",
            ),
            (
                br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","side":"buy"}"#,
                "unknown field \"side\" (the fields are instType, instId, orderId, clientOid, id, priority, cancelAll)",
            ),
            (
                br#"{"instId":"BTCUSDT","orderId":"1"}"#,
                "instType is missing",
            ),
            (
                br#"{"instType":null,"instId":"BTCUSDT"}"#,
                "instType is missing",
            ),
            (
                br#"{"instType":1,"instId":"BTCUSDT"}"#,
                "instType must be a string",
            ),
            (
                br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","id":-1}"#,
                "id must be a string or a non-negative integer",
            ),
            (
                br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","id":1.5}"#,
                "id must be a string or a non-negative integer",
            ),
            (b"\xff", "the line is not UTF-8"),
        ] {
            let err = parse_cancel(line).unwrap_err();
            assert_eq!(
                err.to_string(),
                expected,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        let err =
            parse_cancel(br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","id":"a\"b"}"#)
                .unwrap_err();
        assert!(err.to_string().starts_with("invalid id"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_named_before_a_wrong_kind_of_value() {
        let err = CancelLine::from_json(br#"{"orderId":1,"price":"1"}"#).unwrap_err();
        assert_eq!(err, LineError::UnknownField("price".into()));
    }

    #[test]
    fn serde_deserialize_refuses_what_from_json_refuses_with_the_same_words() {
        let err =
            serde_json::from_str::<CancelLine>(r#"{"instType":"SPOT","orderId":"1"}"#).unwrap_err();
        assert!(err.to_string().starts_with("instId is missing"), "{err}");
        let line: CancelLine = serde_json::from_str(
            r#"{"instType":"SPOT","instId":"BTCUSDT","clientOid":"c","id":3}"#,
        )
        .unwrap();
        assert_eq!(
            line,
            CancelLine::new(InstType::Spot, "BTCUSDT")
                .with_client_oid("c")
                .with_id("3")
        );
    }

    #[test]
    fn a_cancel_round_trips_through_its_line() {
        let cancel = Cancel::new(
            InstType::CoinFutures,
            InstId::new("BTCUSD").unwrap(),
            OrderRef::from_parts(Some("42"), Some("c-1")).unwrap(),
        )
        .with_id(RequestId::new("mine-1").unwrap());
        let text = CancelLine::from(&cancel).to_json();
        assert_eq!(
            text,
            r#"{"instType":"COIN-FUTURES","instId":"BTCUSD","orderId":"42","clientOid":"c-1","id":"mine-1"}"#
        );
        assert_eq!(parse_cancel(text.as_bytes()).unwrap(), cancel);
    }

    fn outcome(status: Status, times: Timestamps, via: Option<Via>) -> Outcome {
        Outcome {
            id: RequestId::from_u64(9),
            cancel: Cancel::new(
                InstType::Spot,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id("1").unwrap(),
            )
            .with_tag(4),
            status,
            times,
            attempts: 2,
            via,
            batch: None,
            cancel_all: None,
        }
    }

    #[test]
    fn a_rejection_line_carries_the_venues_code_and_message_in_runs_format() {
        let o = outcome(
            Status::Rejected {
                code: 43001,
                msg: VenueMsg::new("The order does not exist"),
            },
            Timestamps {
                accepted_ns: 100,
                handed_ns: 120,
                written_ns: 150,
                settled_ns: 400,
            },
            Some(Via::Connection(1)),
        );
        assert_eq!(
            OutcomeLine::from_outcome(4, &o).to_json(),
            r#"{"line":4,"id":"9","status":"rejected","code":43001,"msg":"The order does not exist","reason":null,"attempts":2,"via":1,"tick_to_wire_ns":50,"round_trip_ns":300}"#
        );
    }

    #[test]
    fn a_refused_login_line_is_not_sent_with_the_venues_code() {
        let o = outcome(
            Status::NotSent(NotSentReason::LoginRejected {
                code: 30015,
                msg: VenueMsg::new("Invalid sign"),
            }),
            Timestamps::default(),
            None,
        );
        let line = OutcomeLine::from_outcome(4, &o);
        assert_eq!((line.status, line.code), (LineStatus::NotSent, Some(30015)));
        assert_eq!(line.reason.as_deref(), Some("login_rejected"));
        assert!(line.msg.contains("Invalid sign"), "{}", line.msg);
        assert_eq!(
            (line.tick_to_wire_ns, line.round_trip_ns, line.via),
            (None, None, None)
        );
    }

    #[test]
    fn a_line_no_connection_came_up_for_says_why_in_its_msg() {
        use crate::outcome::{ConnectFailure, ErrorText};
        let o = outcome(
            Status::NotSent(NotSentReason::NoConnection {
                failure: ConnectFailure::Tls,
                error: ErrorText::new(
                    "tls: TLS handshake failed: invalid peer certificate: UnknownIssuer",
                ),
            }),
            Timestamps::default(),
            None,
        );
        let line = OutcomeLine::from_outcome(2, &o);
        assert_eq!((line.status, line.code), (LineStatus::NotSent, None));
        assert_eq!(line.reason.as_deref(), Some("no_connection"));
        assert_eq!(
            line.msg,
            "no connection to the venue came up: tls: TLS handshake failed: invalid peer \
             certificate: UnknownIssuer"
        );
    }

    #[test]
    fn an_invalid_line_has_no_id_and_says_why() {
        assert_eq!(
            OutcomeLine::invalid(3, "bad").to_json(),
            r#"{"line":3,"id":null,"status":"invalid","code":null,"msg":"bad","reason":"invalid_input","attempts":0,"via":null,"tick_to_wire_ns":null,"round_trip_ns":null}"#
        );
    }

    #[test]
    fn every_status_word_is_the_outcomes_own_and_reads_back() {
        let statuses = [
            Status::Acked,
            Status::Rejected {
                code: 1,
                msg: VenueMsg::new("x"),
            },
            Status::Unknown(UnknownReason::ConnectionLost),
            Status::NotSent(NotSentReason::DuplicateId),
        ];
        for status in statuses {
            let line = OutcomeLine::from_outcome(
                1,
                &outcome(status, Timestamps::default(), Some(Via::Rest)),
            );
            assert_eq!(line.status.as_str(), status.as_str());
            assert_eq!(line.reason.as_deref(), status.reason());
            let back: OutcomeLine = serde_json::from_str(&line.to_json()).unwrap();
            assert_eq!(back, line);
        }
        let invalid = OutcomeLine::invalid(3, "bad");
        let back: OutcomeLine = serde_json::from_str(&invalid.to_json()).unwrap();
        assert_eq!(
            (back.status, back.reason.as_deref()),
            (LineStatus::Invalid, Some("invalid_input"))
        );
    }

    #[test]
    fn the_final_words_fields_come_only_with_confirm_and_read_back() {
        use crate::final_word::{Decimal, FinalTimes, UnconfirmedReason};
        let o = outcome(
            Status::Acked,
            Timestamps {
                accepted_ns: 100,
                handed_ns: 120,
                written_ns: 150,
                settled_ns: 400,
            },
            Some(Via::Connection(0)),
        );
        let plain = OutcomeLine::from_outcome(4, &o);
        let json = plain.to_json();
        assert!(!json.contains("final"), "{json}");
        assert_eq!(serde_json::from_str::<OutcomeLine>(&json).unwrap(), plain);
        let word = FinalWord {
            id: o.id,
            cancel: o.cancel,
            state: FinalState::Cancelled,
            filled: Decimal::new("0.25"),
            price_avg: None,
            cancel_reason: None,
            source: Some(FinalSource::Push),
            venue_time_ms: None,
            times: FinalTimes {
                accepted_ns: 100,
                settled_ns: 400,
                final_ns: 1_100,
            },
        };
        let line = OutcomeLine::from_outcome(4, &o).with_final(Some(&word));
        assert_eq!(
            line.to_json(),
            r#"{"line":4,"id":"9","status":"acked","code":0,"msg":"acknowledged","reason":null,"attempts":2,"via":0,"tick_to_wire_ns":50,"round_trip_ns":300,"final":"cancelled","filled_size":"0.25","final_source":"push","final_ns":1000}"#
        );
        assert_eq!(
            serde_json::from_str::<OutcomeLine>(&line.to_json()).unwrap(),
            line
        );
        let unconfirmed = FinalWord {
            state: FinalState::Unconfirmed(UnconfirmedReason::Timeout),
            filled: None,
            source: None,
            ..word
        };
        let line = OutcomeLine::from_outcome(4, &o).with_final(Some(&unconfirmed));
        assert!(line.to_json().ends_with(
            r#""final":"unconfirmed","filled_size":null,"final_source":null,"final_ns":1000}"#
        ));
        let unsent = OutcomeLine::invalid(5, "bad").with_final(None);
        let back: OutcomeLine = serde_json::from_str(&unsent.to_json()).unwrap();
        assert_eq!(back.confirm, Some(FinalFields::none()));
    }

    #[test]
    fn an_output_line_with_fields_added_later_still_reads() {
        let line: OutcomeLine = serde_json::from_str(
            r#"{"line":1,"id":"1","status":"acked","code":0,"msg":"acknowledged","reason":null,"attempts":1,"via":0,"tick_to_wire_ns":1,"round_trip_ns":2,"final":"cancelled"}"#,
        )
        .unwrap();
        assert_eq!(
            (line.status, line.via),
            (LineStatus::Acked, Some(Via::Connection(0)))
        );
    }
}
