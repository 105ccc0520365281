//! Reply decoding: the venue's JSON read with simd-json into a reused tape, or with serde_json.
//! Replies to requests are read by their `event`; pushes on the private `orders` channel (no
//! `event`, `arg.channel` `orders`) into fixed-capacity [`OrderUpdate`]s the decoder keeps.

use std::fmt;

use crate::final_word::{CancelReason, Decimal, OrderStatus, OrderUpdate};
use crate::intent::{ClientOid, InstType, OrderId};

use simd_json::prelude::{ValueAsScalar, ValueIntoString};
use simd_json::{Buffers, Tape};

/// One decoded venue message. Strings borrow from the decoded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `event` "trade" with `arg[0].id` (code 0 = acked; anything else is a rejection).
    Trade {
        /// The request id the venue echoed back.
        id: &'a str,
        /// The venue's code: 0 on success.
        code: i64,
        /// The venue's message, `""` when absent.
        msg: &'a str,
    },
    /// `event` "error" with `arg[0].id`: a rejection of that request.
    TradeError {
        /// The request id the venue echoed back.
        id: &'a str,
        /// The venue's error code, e.g. 43001 (spot) or 41101 (futures) for an unknown order.
        code: i64,
        /// The venue's message, `""` when absent.
        msg: &'a str,
    },
    /// `event` "error" with no `arg` (or one without an `id`): belongs to no single request
    /// (30006, 30007, login failures).
    Error {
        /// The venue's error code.
        code: i64,
        /// The venue's message, `""` when absent.
        msg: &'a str,
    },
    /// `event` "login". The live venue answers a good login with
    /// `{"event":"login","code":0,"connId":"<id>"}` (no `msg`; older documentation prints
    /// `"msg":""`).
    Login {
        /// 0 when logged in.
        code: i64,
        /// The venue's message, `""` when absent.
        msg: &'a str,
        /// The venue's name for this connection (`connId`), for logs; `""` when absent, null or
        /// not a string (it is never needed to trade, so an odd one is not worth refusing the
        /// login over).
        conn_id: &'a str,
    },
    /// The text `pong`.
    Pong,
    /// Any other well-formed event (kept so the engine can log and ignore it).
    Other {
        /// The event's name, e.g. `subscribe` (a subscription's acknowledgement).
        event: &'a str,
    },
    /// `event` "error" with `op` "subscribe" or "unsubscribe": the venue refused a
    /// subscription (`{"event":"error","arg":{...},"code":30001,"msg":"...","op":"subscribe"}`).
    SubscribeError {
        /// The venue's error code.
        code: i64,
        /// The venue's message, `""` when absent.
        msg: &'a str,
    },
    /// A push on the private `orders` channel: no `event`, `arg.channel` `orders` (in any
    /// case), `data` a list of orders. `action` (`snapshot` or `update`) is not read: both
    /// carry the orders' latest state.
    ///
    /// Each entry needs `status` (`live`, `partially_filled`, `filled`, `cancelled` or
    /// `canceled`) and an id: `orderId` (digits) or a `clientOid` a cancel could name (one
    /// that breaks [`ClientOid`]'s rule reads as absent). `accBaseVolume` and `priceAvg` are
    /// decimal strings, `cancelReason` a string, `uTime` milliseconds as a string of digits or
    /// an integer; each may be absent, null or `""`.
    Orders {
        /// The orders, in the push's order; held by the decoder until its next message.
        updates: &'a [OrderUpdate],
    },
    /// A V3 `batch-cancel` reply (`event` "trade", `topic` "batch-cancel"): the request's id,
    /// the top-level code (0 even when some entries failed) and each entry's own verdict.
    Batch {
        /// The request id the venue echoed back.
        id: &'a str,
        /// The top-level code.
        code: i64,
        /// The venue's message, `""` when absent.
        msg: &'a str,
        /// Each entry's verdict, in the reply's order; held by the decoder until its next
        /// message.
        entries: &'a [crate::venue::BatchEntry],
    },
}

/// A venue message that cannot be understood. Whatever the variant, the peer is not speaking
/// the protocol this crate knows: log the error and end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not `pong` and not one well-formed UTF-8 JSON document (empty, truncated, garbage,
    /// nested deeper than [`ReplyDecoder::MAX_DEPTH`], trailing bytes).
    #[error("reply is not `pong` and not valid JSON")]
    NotJson,
    /// Valid JSON, but not an object.
    #[error("reply is JSON but not an object")]
    NotObject,
    /// A field the reply's event needs is absent (`event`, `code`, `arg`, `arg[0].id`).
    #[error("reply has no `{0}` field")]
    MissingField(&'static str),
    /// A field has a type the venue never sends (e.g. `code` a bool, `arg[0].id` a number).
    #[error("reply field `{0}` has the wrong type")]
    WrongType(&'static str),
    /// A number does not fit an `i64`.
    #[error("reply field `{0}` is out of range")]
    OutOfRange(&'static str),
    /// A field has a value this crate cannot read (an order status it does not know, a
    /// filled size that is not a decimal, an order id that is not digits).
    #[error("reply field `{0}` has a value this crate cannot read")]
    BadValue(&'static str),
}

/// Whether `text` is the keepalive answer `pong`, give or take surrounding whitespace.
pub(in crate::venue) fn is_pong(text: &[u8]) -> bool {
    text.trim_ascii() == b"pong"
}

/// Reusable simd-json decoder: no allocation once warm.
///
/// It owns simd-json's scratch buffers and tape and keeps their allocations from one message to
/// the next. Construction sizes them for the worst case of a message of the given length (every
/// byte structural, nesting at the depth limit), so decoding any message of at most that many
/// bytes never allocates, even the first; a longer message grows them once.
///
/// ```
/// use bitget_cancel::protocol::{DecodeError, Reply, ReplyDecoder};
///
/// let mut decoder = ReplyDecoder::new();
/// let mut reply = br#"{"event":"error","arg":[{"id":"7","instType":"SPOT"}],"code":43001,"msg":"The order does not exist"}"#.to_vec();
/// assert_eq!(
///     decoder.decode(&mut reply)?,
///     Reply::TradeError { id: "7", code: 43001, msg: "The order does not exist" }
/// );
/// assert_eq!(decoder.decode(&mut b" pong\n".to_vec())?, Reply::Pong);
/// assert_eq!(decoder.decode(&mut b"{\"event\"".to_vec()), Err(DecodeError::NotJson));
/// # Ok::<(), DecodeError>(())
/// ```
pub struct ReplyDecoder {
    buffers: Buffers,
    /// Empty between calls; `'static` because it holds no borrowed node while stored.
    tape: Tape<'static>,
    /// The orders of the last push read.
    updates: Vec<OrderUpdate>,
    /// The entries of the last batch reply read (V3's `batch-cancel`).
    batch: Vec<crate::venue::BatchEntry>,
    capacity: usize,
}

impl fmt::Debug for ReplyDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyDecoder")
            .field("capacity", &self.capacity)
            .field("tape_capacity", &self.tape.0.capacity())
            .field("updates_capacity", &self.updates.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for ReplyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyDecoder {
    /// The message length [`ReplyDecoder::new`] prepares for. Venue replies to cancels and
    /// logins are about 200 bytes.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// The deepest nesting accepted. Venue replies nest 4 deep; deeper input is a
    /// [`DecodeError::NotJson`].
    pub const MAX_DEPTH: usize = 32;

    /// The orders of one push read without allocating: more grow the buffer once. The venue
    /// pushes one order per message.
    pub const UPDATES_CAPACITY: usize = 32;

    /// The entries of one batch reply read without allocating: V3's `batch-cancel` carries at
    /// most 20.
    pub const BATCH_CAPACITY: usize = 20;

    /// A decoder prepared for messages of up to [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)
    /// bytes.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A decoder prepared for messages of up to `max_len` bytes: decoding one never allocates.
    /// Allocates about 30 times `max_len` up front (simd-json's tape takes 24 bytes a node).
    pub fn with_capacity(max_len: usize) -> Self {
        // Room for every byte being structural plus the 64 entries simd-json reserves ahead.
        let prepared = max_len + 64;
        let mut decoder = ReplyDecoder {
            buffers: Buffers::with_max_depth(prepared, Self::MAX_DEPTH),
            tape: Tape(Vec::new()),
            updates: Vec::with_capacity(Self::UPDATES_CAPACITY),
            batch: Vec::with_capacity(Self::BATCH_CAPACITY),
            capacity: max_len,
        };
        decoder.warm_up(prepared);
        decoder
    }

    /// Parses a worst-case document of `len` bytes, so every buffer reaches the size the
    /// largest expected message needs: nesting one short of the limit around `0,0,0,...`, which
    /// makes nearly every byte a structural index and a tape node.
    fn warm_up(&mut self, len: usize) {
        let depth = (Self::MAX_DEPTH - 1).min(len / 4);
        let elements = len.saturating_sub(2 * depth).div_ceil(2);
        let mut doc = Vec::with_capacity(len + 1);
        doc.resize(depth, b'[');
        for i in 0..elements {
            if i > 0 {
                doc.push(b',');
            }
            doc.push(b'0');
        }
        doc.resize(doc.len() + depth, b']');
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        // The document only exists to size the buffers; whether it parses does not matter.
        let _ = simd_json::fill_tape(&mut doc, &mut self.buffers, &mut tape);
        self.tape = tape.reset();
    }

    /// The message length this decoder was prepared for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Decodes one text message in place (simd-json unescapes strings inside `text`).
    ///
    /// `pong` (with any surrounding whitespace) is recognised before any JSON parsing. A JSON
    /// reply is read by its `event`: "trade" needs `arg[0].id` and `code`; "error" needs `code`
    /// and carries `arg[0].id` when it answers one request (or `op` "subscribe" when it
    /// refuses a subscription); "login" needs `code`; any other event is [`Reply::Other`].
    /// `code` may be a number or a numeric string, `msg` may be absent, `arg` may be an array
    /// or one object. A message with no `event` is read as a push if its `arg.channel` is
    /// `orders` ([`Reply::Orders`]; the orders stay in the decoder until the next call).
    ///
    /// ```
    /// use bitget_cancel::final_word::OrderStatus;
    /// use bitget_cancel::protocol::{Reply, ReplyDecoder};
    ///
    /// let mut decoder = ReplyDecoder::new();
    /// let mut push = br#"{"action":"snapshot","arg":{"instType":"USDT-FUTURES","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"0.2","clientOid":"c-1","orderId":"1286956078633488402","status":"canceled","uTime":"1742560160311"}],"ts":1742560160318}"#.to_vec();
    /// let Ok(Reply::Orders { updates }) = decoder.decode(&mut push) else { panic!() };
    /// assert_eq!(updates[0].status, OrderStatus::Cancelled);
    /// assert_eq!(updates[0].filled.unwrap().as_str(), "0.2");
    /// assert_eq!(updates[0].updated_ms, Some(1742560160311));
    /// ```
    pub fn decode<'a>(&'a mut self, text: &'a mut [u8]) -> Result<Reply<'a>, DecodeError> {
        if is_pong(text) {
            return Ok(Reply::Pong);
        }
        // Take the tape out so it can borrow `text`; `reset` keeps its allocation and is the
        // only way its lifetime changes. It goes back empty whatever happened.
        let mut tape: Tape<'a> = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        self.updates.clear();
        self.batch.clear();
        let reply = match simd_json::fill_tape(text, &mut self.buffers, &mut tape) {
            Ok(()) => read_reply(tape.as_value(), &mut self.updates),
            Err(_) => Err(DecodeError::NotJson),
        };
        self.tape = tape.reset();
        reply
    }

    /// Parses one text message in place with this decoder's buffers and reads it with `read`
    /// (another dialect's rules over the same tape): what [`decode`](Self::decode) does for V2.
    /// `read` gets the orders buffer empty.
    pub(in crate::venue) fn decode_by<'a, R>(
        &'a mut self,
        text: &'a mut [u8],
        read: impl FnOnce(
            simd_json::tape::Value<'_, 'a>,
            &'a mut Vec<OrderUpdate>,
            &'a mut Vec<crate::venue::BatchEntry>,
        ) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        let mut tape: Tape<'a> = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        self.updates.clear();
        self.batch.clear();
        let reply = match simd_json::fill_tape(text, &mut self.buffers, &mut tape) {
            Ok(()) => read(tape.as_value(), &mut self.updates, &mut self.batch),
            Err(_) => Err(DecodeError::NotJson),
        };
        self.tape = tape.reset();
        reply
    }

    /// The entries of the last message, if it was a batch reply ([`Reply::Batch`]); empty
    /// otherwise.
    pub fn batch_entries(&self) -> &[crate::venue::BatchEntry] {
        &self.batch
    }

    /// The orders of the last message, if it was a push ([`Reply::Orders`]); empty otherwise.
    pub fn updates(&self) -> &[OrderUpdate] {
        &self.updates
    }
}

/// An owned [`Reply`], from [`decode_with_serde_json`]: for tools and tests, not the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedReply {
    /// See [`Reply::Trade`].
    Trade {
        /// The request id the venue echoed back.
        id: String,
        /// The venue's code: 0 on success.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// See [`Reply::TradeError`].
    TradeError {
        /// The request id the venue echoed back.
        id: String,
        /// The venue's error code.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// See [`Reply::Error`].
    Error {
        /// The venue's error code.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// See [`Reply::Login`].
    Login {
        /// 0 when logged in.
        code: i64,
        /// The venue's message.
        msg: String,
        /// The venue's name for the connection, `""` when absent.
        conn_id: String,
    },
    /// See [`Reply::Pong`].
    Pong,
    /// See [`Reply::Other`].
    Other {
        /// The event's name.
        event: String,
    },
    /// See [`Reply::SubscribeError`].
    SubscribeError {
        /// The venue's error code.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// See [`Reply::Orders`].
    Orders {
        /// The orders, in the push's order.
        updates: Vec<OrderUpdate>,
    },
    /// See [`Reply::Batch`].
    Batch {
        /// The request id the venue echoed back.
        id: String,
        /// The top-level code.
        code: i64,
        /// The venue's message.
        msg: String,
        /// Each entry's verdict.
        entries: Vec<crate::venue::BatchEntry>,
    },
}

impl OwnedReply {
    /// The borrowed form, to compare with what [`ReplyDecoder`] returns.
    pub fn as_reply(&self) -> Reply<'_> {
        match self {
            OwnedReply::Trade { id, code, msg } => Reply::Trade {
                id,
                code: *code,
                msg,
            },
            OwnedReply::TradeError { id, code, msg } => Reply::TradeError {
                id,
                code: *code,
                msg,
            },
            OwnedReply::Error { code, msg } => Reply::Error { code: *code, msg },
            OwnedReply::Login { code, msg, conn_id } => Reply::Login {
                code: *code,
                msg,
                conn_id,
            },
            OwnedReply::Pong => Reply::Pong,
            OwnedReply::Other { event } => Reply::Other { event },
            OwnedReply::SubscribeError { code, msg } => Reply::SubscribeError { code: *code, msg },
            OwnedReply::Orders { updates } => Reply::Orders { updates },
            OwnedReply::Batch {
                id,
                code,
                msg,
                entries,
            } => Reply::Batch {
                id,
                code: *code,
                msg,
                entries,
            },
        }
    }
}

impl From<Reply<'_>> for OwnedReply {
    fn from(reply: Reply<'_>) -> Self {
        match reply {
            Reply::Trade { id, code, msg } => OwnedReply::Trade {
                id: id.to_owned(),
                code,
                msg: msg.to_owned(),
            },
            Reply::TradeError { id, code, msg } => OwnedReply::TradeError {
                id: id.to_owned(),
                code,
                msg: msg.to_owned(),
            },
            Reply::Error { code, msg } => OwnedReply::Error {
                code,
                msg: msg.to_owned(),
            },
            Reply::Login { code, msg, conn_id } => OwnedReply::Login {
                code,
                msg: msg.to_owned(),
                conn_id: conn_id.to_owned(),
            },
            Reply::Pong => OwnedReply::Pong,
            Reply::Other { event } => OwnedReply::Other {
                event: event.to_owned(),
            },
            Reply::SubscribeError { code, msg } => OwnedReply::SubscribeError {
                code,
                msg: msg.to_owned(),
            },
            Reply::Orders { updates } => OwnedReply::Orders {
                updates: updates.to_vec(),
            },
            Reply::Batch {
                id,
                code,
                msg,
                entries,
            } => OwnedReply::Batch {
                id: id.to_owned(),
                code,
                msg: msg.to_owned(),
                entries: entries.to_vec(),
            },
        }
    }
}

/// Decodes a reply with serde_json under exactly the rules of [`ReplyDecoder::decode`].
///
/// Allocates (a `serde_json::Value`, then owned strings): meant for tools and for comparing
/// against the simd-json path, not for the engine's hot path.
///
/// # Where the two parsers differ
/// The rules are shared, but the two libraries read a few JSON texts differently before the
/// rules see them. Fuzzing found no other difference; these are accepted:
/// - nesting past [`ReplyDecoder::MAX_DEPTH`]: refused by [`ReplyDecoder`] only
///   (serde_json allows 128 levels);
/// - integer literals outside `i64` and `u64`: simd-json refuses the document, serde_json reads
///   a float;
/// - the literal `-0`: simd-json reads the integer 0, serde_json the float -0.0, so as a `code`
///   it is 0 for [`ReplyDecoder`] and [`DecodeError::WrongType`] here;
/// - duplicate keys in an object: serde_json keeps the last value, simd-json finds the first.
///
/// ```
/// use bitget_cancel::protocol::{decode_with_serde_json, Reply};
///
/// let reply = decode_with_serde_json(br#"{"event":"login","code":0,"connId":"c0ffee"}"#)?;
/// assert_eq!(reply.as_reply(), Reply::Login { code: 0, msg: "", conn_id: "c0ffee" });
/// # Ok::<(), bitget_cancel::protocol::DecodeError>(())
/// ```
pub fn decode_with_serde_json(text: &[u8]) -> Result<OwnedReply, DecodeError> {
    if is_pong(text) {
        return Ok(OwnedReply::Pong);
    }
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|_| DecodeError::NotJson)?;
    let mut updates = Vec::new();
    read_reply(&value, &mut updates).map(OwnedReply::from)
}

/// What the reply reader needs to know about one JSON value.
pub(in crate::venue) enum Kind<'i, V> {
    Null,
    Bool,
    /// An integer that fits an `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    BigInt,
    Float,
    Str(&'i str),
    /// An array, with its first element.
    Array(Option<V>),
    Object,
}

/// A JSON value from either parser, seen through [`Kind`]; strings borrow from the input.
pub(in crate::venue) trait JsonView<'i>: Copy {
    fn kind(self) -> Kind<'i, Self>;
    /// The value under `key` if this is an object that has it.
    fn field(self, key: &str) -> Option<Self>;
    /// The elements if this is an array, else none.
    fn elements(self) -> impl Iterator<Item = Self>;
}

impl<'t, 'i> JsonView<'i> for simd_json::tape::Value<'t, 'i> {
    fn kind(self) -> Kind<'i, Self> {
        if let Some(s) = self.into_string() {
            Kind::Str(s)
        } else if let Some(n) = self.as_i64() {
            Kind::Int(n)
        } else if self.as_u64().is_some() {
            Kind::BigInt
        } else if let Some(array) = self.as_array() {
            Kind::Array(array.get(0))
        } else if self.as_object().is_some() {
            Kind::Object
        } else if self.as_null().is_some() {
            Kind::Null
        } else if self.as_bool().is_some() {
            Kind::Bool
        } else {
            Kind::Float
        }
    }

    fn field(self, key: &str) -> Option<Self> {
        self.get(key)
    }

    fn elements(self) -> impl Iterator<Item = Self> {
        self.as_array().into_iter().flat_map(|array| array.iter())
    }
}

impl<'i> JsonView<'i> for &'i serde_json::Value {
    fn kind(self) -> Kind<'i, Self> {
        use serde_json::Value;
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) => match (n.as_i64(), n.is_u64()) {
                (Some(i), _) => Kind::Int(i),
                (None, true) => Kind::BigInt,
                (None, false) => Kind::Float,
            },
            Value::String(s) => Kind::Str(s),
            Value::Array(items) => Kind::Array(items.first()),
            Value::Object(_) => Kind::Object,
        }
    }

    fn field(self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }

    fn elements(self) -> impl Iterator<Item = Self> {
        self.as_array().into_iter().flatten()
    }
}

/// A message's `event`: `None` when it has none (a push, in both dialects); an error when the
/// message is not an object or its `event` is not a string. Both dialects' first step.
pub(in crate::venue) fn event_of<'i, V: JsonView<'i>>(
    root: V,
) -> Result<Option<&'i str>, DecodeError> {
    if !matches!(root.kind(), Kind::Object) {
        return Err(DecodeError::NotObject);
    }
    match root.field("event").map(JsonView::kind) {
        Some(Kind::Str(event)) => Ok(Some(event)),
        Some(_) => Err(DecodeError::WrongType("event")),
        None => Ok(None),
    }
}

/// Whether an error answers a subscription or an unsubscription (its `op`) rather than a trade
/// request: both dialects tell them apart this way.
pub(in crate::venue) fn answers_subscription<'i, V: JsonView<'i>>(root: V) -> bool {
    match root.field("op").map(JsonView::kind) {
        Some(Kind::Str(op)) => {
            op.eq_ignore_ascii_case("subscribe") || op.eq_ignore_ascii_case("unsubscribe")
        }
        _ => false,
    }
}

/// Reads a parsed reply by its `event`, or a push by its channel; the one set of rules both
/// parsers share. A push's orders go into `updates` (empty on the way in).
fn read_reply<'i, V: JsonView<'i>>(
    root: V,
    updates: &'i mut Vec<OrderUpdate>,
) -> Result<Reply<'i>, DecodeError> {
    let Some(event) = event_of(root)? else {
        return match orders_push(root) {
            Some(arg) => read_orders(root, arg, updates),
            None => Err(DecodeError::MissingField("event")),
        };
    };
    match event {
        "trade" => {
            let id = match request_id(root)? {
                RequestIdField::Id(id) => id,
                RequestIdField::NoArg => return Err(DecodeError::MissingField("arg")),
                RequestIdField::NoId => return Err(DecodeError::MissingField("arg[0].id")),
            };
            Ok(Reply::Trade {
                id,
                code: code(root)?,
                msg: msg(root)?,
            })
        }
        "error" => {
            let (code, msg) = (code(root)?, msg(root)?);
            if answers_subscription(root) {
                return Ok(Reply::SubscribeError { code, msg });
            }
            Ok(match request_id(root)? {
                RequestIdField::Id(id) => Reply::TradeError { id, code, msg },
                RequestIdField::NoArg | RequestIdField::NoId => Reply::Error { code, msg },
            })
        }
        "login" => Ok(Reply::Login {
            code: code(root)?,
            msg: msg(root)?,
            conn_id: conn_id(root),
        }),
        _ => Ok(Reply::Other { event }),
    }
}

/// The `arg` of a push on the `orders` channel: an object (or a list whose first element is
/// one) whose `channel` is `orders` in any case.
fn orders_push<'i, V: JsonView<'i>>(root: V) -> Option<V> {
    let arg = root.field("arg")?;
    let arg = match arg.kind() {
        Kind::Object => arg,
        Kind::Array(Some(first)) if matches!(first.kind(), Kind::Object) => first,
        _ => return None,
    };
    match arg.field("channel")?.kind() {
        Kind::Str(channel) if channel.eq_ignore_ascii_case("orders") => Some(arg),
        _ => None,
    }
}

/// Reads every entry of a push's `data` into `updates`.
fn read_orders<'i, V: JsonView<'i>>(
    root: V,
    arg: V,
    updates: &'i mut Vec<OrderUpdate>,
) -> Result<Reply<'i>, DecodeError> {
    let inst_type = match arg.field("instType").map(JsonView::kind) {
        Some(Kind::Str(name)) => InstType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name)),
        _ => None,
    };
    let data = root
        .field("data")
        .ok_or(DecodeError::MissingField("data"))?;
    if !matches!(data.kind(), Kind::Array(_)) {
        return Err(DecodeError::WrongType("data"));
    }
    for entry in data.elements() {
        if !matches!(entry.kind(), Kind::Object) {
            return Err(DecodeError::WrongType("data"));
        }
        updates.push(read_update(entry, inst_type)?);
    }
    Ok(Reply::Orders { updates })
}

/// One order of a push.
fn read_update<'i, V: JsonView<'i>>(
    entry: V,
    inst_type: Option<InstType>,
) -> Result<OrderUpdate, DecodeError> {
    read_order_update(entry, || Ok(inst_type), &PushFields::V2)
}

/// The names a dialect gives an order push's fields; the ids and `cancelReason` are named
/// alike in both.
pub(in crate::venue) struct PushFields {
    /// The order's state.
    pub status: &'static str,
    /// The filled size (a decimal string).
    pub filled: &'static str,
    /// The average fill price (a decimal string).
    pub price_avg: &'static str,
    /// The update's time, milliseconds.
    pub updated: &'static str,
}

impl PushFields {
    /// V2's `orders` channel.
    pub const V2: PushFields = PushFields {
        status: "status",
        filled: "accBaseVolume",
        price_avg: "priceAvg",
        updated: "uTime",
    };
}

/// One order of a push, its fields named by `names`: the ids (at least one), the status, and
/// the optional fill, price, reason and time; `inst_type` reads the product line (from the
/// dialect's own field, or the push's `arg`) after the status and time.
#[inline]
pub(in crate::venue) fn read_order_update<'i, V: JsonView<'i>>(
    entry: V,
    inst_type: impl FnOnce() -> Result<Option<InstType>, DecodeError>,
    names: &PushFields,
) -> Result<OrderUpdate, DecodeError> {
    let order_id = match text_field(entry, "orderId")? {
        Some(id) => Some(OrderId::new(id).map_err(|_| DecodeError::BadValue("orderId"))?),
        None => None,
    };
    // A client order id no cancel could name cannot tie the push to one: read as absent.
    let client_oid = text_field(entry, "clientOid")?.and_then(|oid| ClientOid::new(oid).ok());
    if order_id.is_none() && client_oid.is_none() {
        return Err(DecodeError::MissingField("orderId"));
    }
    let status = match entry.field(names.status).map(JsonView::kind) {
        Some(Kind::Str(word)) => {
            OrderStatus::from_venue(word).ok_or(DecodeError::BadValue(names.status))?
        }
        Some(_) => return Err(DecodeError::WrongType(names.status)),
        None => return Err(DecodeError::MissingField(names.status)),
    };
    let updated_ms = match entry.field(names.updated).map(JsonView::kind) {
        Some(Kind::Str("")) | Some(Kind::Null) | None => None,
        Some(Kind::Str(digits)) => Some(
            crate::intent::parse_u64(digits.as_bytes())
                .ok_or(DecodeError::BadValue(names.updated))?,
        ),
        Some(Kind::Int(ms)) => {
            Some(u64::try_from(ms).map_err(|_| DecodeError::BadValue(names.updated))?)
        }
        Some(_) => return Err(DecodeError::WrongType(names.updated)),
    };
    Ok(OrderUpdate {
        inst_type: inst_type()?,
        order_id,
        client_oid,
        status,
        filled: decimal_field(entry, names.filled)?,
        price_avg: decimal_field(entry, names.price_avg)?,
        cancel_reason: text_field(entry, "cancelReason")?.map(CancelReason::new),
        updated_ms,
    })
}

/// A string field; absent, null and `""` read as none.
pub(in crate::venue) fn text_field<'i, V: JsonView<'i>>(
    entry: V,
    field: &'static str,
) -> Result<Option<&'i str>, DecodeError> {
    match entry.field(field).map(JsonView::kind) {
        Some(Kind::Str("")) | Some(Kind::Null) | None => Ok(None),
        Some(Kind::Str(text)) => Ok(Some(text)),
        Some(_) => Err(DecodeError::WrongType(field)),
    }
}

/// A decimal string field; absent, null and `""` read as none.
pub(in crate::venue) fn decimal_field<'i, V: JsonView<'i>>(
    entry: V,
    field: &'static str,
) -> Result<Option<Decimal>, DecodeError> {
    match text_field(entry, field)? {
        Some(text) => Decimal::new(text)
            .map(Some)
            .ok_or(DecodeError::BadValue(field)),
        None => Ok(None),
    }
}

/// What `arg[0].id` turned out to be.
enum RequestIdField<'i> {
    Id(&'i str),
    /// `arg` absent, null or an empty array.
    NoArg,
    /// `arg[0]` (or the single `arg` object) has no `id`.
    NoId,
}

fn request_id<'i, V: JsonView<'i>>(root: V) -> Result<RequestIdField<'i>, DecodeError> {
    let Some(arg) = root.field("arg") else {
        return Ok(RequestIdField::NoArg);
    };
    let entry = match arg.kind() {
        Kind::Null | Kind::Array(None) => return Ok(RequestIdField::NoArg),
        Kind::Array(Some(first)) => first,
        Kind::Object => arg,
        _ => return Err(DecodeError::WrongType("arg")),
    };
    if !matches!(entry.kind(), Kind::Object) {
        return Err(DecodeError::WrongType("arg"));
    }
    match entry.field("id").map(JsonView::kind) {
        Some(Kind::Str(id)) => Ok(RequestIdField::Id(id)),
        Some(_) => Err(DecodeError::WrongType("arg[0].id")),
        None => Ok(RequestIdField::NoId),
    }
}

/// `code` as a JSON integer or a string of one (`0`, `"0"`, `43001`, `"43001"`).
pub(in crate::venue) fn code<'i, V: JsonView<'i>>(root: V) -> Result<i64, DecodeError> {
    const FIELD: &str = "code";
    match root.field(FIELD).map(JsonView::kind) {
        Some(Kind::Int(code)) => Ok(code),
        Some(Kind::BigInt) => Err(DecodeError::OutOfRange(FIELD)),
        Some(Kind::Str(text)) => parse_code(text),
        Some(_) => Err(DecodeError::WrongType(FIELD)),
        None => Err(DecodeError::MissingField(FIELD)),
    }
}

/// An optionally negative run of ASCII digits that fits an `i64`.
fn parse_code(text: &str) -> Result<i64, DecodeError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::WrongType("code"));
    }
    text.parse().map_err(|_| DecodeError::OutOfRange("code"))
}

/// `connId` when it is a string, else `""`: it only names the connection in logs.
pub(in crate::venue) fn conn_id<'i, V: JsonView<'i>>(root: V) -> &'i str {
    match root.field("connId").map(JsonView::kind) {
        Some(Kind::Str(id)) => id,
        _ => "",
    }
}

/// `msg`, or `""` when absent or null.
pub(in crate::venue) fn msg<'i, V: JsonView<'i>>(root: V) -> Result<&'i str, DecodeError> {
    match root.field("msg").map(JsonView::kind) {
        Some(Kind::Str(msg)) => Ok(msg),
        Some(Kind::Null) | None => Ok(""),
        Some(_) => Err(DecodeError::WrongType("msg")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every reply captured from the live venue or printed in its documentation, with the exact
    /// fields the engine must see.
    const CAPTURED: [(&str, Reply<'static>); 8] = [
        (
            r#"{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}"#,
            Reply::Trade {
                id: "1",
                code: 0,
                msg: "Success",
            },
        ),
        (
            r#"{"event":"error","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"12345"}}],"code":43001,"msg":"The order does not exist","ts":1763958366418}"#,
            Reply::TradeError {
                id: "1",
                code: 43001,
                msg: "The order does not exist",
            },
        ),
        (
            r#"{"event":"trade","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376999173366317057"}}],"code":0,"msg":"Success","ts":1764129519844}"#,
            Reply::Trade {
                id: "1",
                code: 0,
                msg: "Success",
            },
        ),
        (
            r#"{"event":"error","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1234"}}],"code":41101,"msg":"Param orderId=1234 error","ts":1764129464757}"#,
            Reply::TradeError {
                id: "1",
                code: 41101,
                msg: "Param orderId=1234 error",
            },
        ),
        (
            r#"{"event":"error","code":30006,"msg":"request too many"}"#,
            Reply::Error {
                code: 30006,
                msg: "request too many",
            },
        ),
        (
            r#"{"event":"login","code":0,"connId":"7f3c2a9e5b1d4c8fa06e2b9d3c5a1f70"}"#,
            Reply::Login {
                code: 0,
                msg: "",
                conn_id: "7f3c2a9e5b1d4c8fa06e2b9d3c5a1f70",
            },
        ),
        (
            r#"{"event":"login","code":"0","msg":""}"#,
            Reply::Login {
                code: 0,
                msg: "",
                conn_id: "",
            },
        ),
        (
            r#"{"event":"error","code":30015,"msg":"Invalid sign"}"#,
            Reply::Error {
                code: 30015,
                msg: "Invalid sign",
            },
        ),
    ];

    /// Decodes `text` with both parsers, checks they agree, and returns the result.
    fn decode_both(text: &str) -> Result<OwnedReply, DecodeError> {
        let mut decoder = ReplyDecoder::new();
        let mut buf = text.as_bytes().to_vec();
        let simd = decoder.decode(&mut buf).map(OwnedReply::from);
        let serde = decode_with_serde_json(text.as_bytes());
        assert_eq!(simd, serde, "simd-json and serde_json disagree on {text:?}");
        simd
    }

    fn decodes_to(text: &str, expected: Reply<'_>) {
        let decoded = decode_both(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(decoded.as_reply(), expected, "{text:?}");
    }

    fn fails_with(text: &str, expected: DecodeError) {
        assert_eq!(decode_both(text), Err(expected), "{text:?}");
    }

    #[test]
    fn captured_venue_replies_decode_to_their_exact_fields() {
        for (text, expected) in CAPTURED {
            decodes_to(text, expected);
        }
    }

    #[test]
    fn one_decoder_reads_every_captured_reply_in_turn_without_growing() {
        let mut decoder = ReplyDecoder::new();
        let tape_capacity = decoder.tape.0.capacity();
        for _ in 0..3 {
            for (text, expected) in CAPTURED {
                let mut buf = text.as_bytes().to_vec();
                assert_eq!(decoder.decode(&mut buf), Ok(expected));
            }
        }
        assert_eq!(decoder.tape.0.capacity(), tape_capacity);
        assert!(decoder.tape.0.is_empty());
    }

    #[test]
    fn code_is_read_from_a_json_number_or_a_numeric_string() {
        for (code, expected) in [
            ("0", 0),
            (r#""0""#, 0),
            ("43001", 43001),
            (r#""43001""#, 43001),
            ("-1", -1),
            (r#""-1""#, -1),
            ("9223372036854775807", i64::MAX),
            (r#""-9223372036854775808""#, i64::MIN),
        ] {
            let text = format!(r#"{{"event":"error","arg":[{{"id":"5"}}],"code":{code}}}"#);
            decodes_to(
                &text,
                Reply::TradeError {
                    id: "5",
                    code: expected,
                    msg: "",
                },
            );
        }
    }

    #[test]
    fn msg_is_empty_when_missing_or_null() {
        decodes_to(
            r#"{"event":"trade","arg":[{"id":"1"}],"code":0}"#,
            Reply::Trade {
                id: "1",
                code: 0,
                msg: "",
            },
        );
        decodes_to(
            r#"{"event":"login","code":0,"msg":null}"#,
            Reply::Login {
                code: 0,
                msg: "",
                conn_id: "",
            },
        );
    }

    #[test]
    fn a_login_reply_carries_its_conn_id_beside_an_optional_msg() {
        decodes_to(
            r#"{"event":"login","code":0,"msg":"ok","connId":"1234567890"}"#,
            Reply::Login {
                code: 0,
                msg: "ok",
                conn_id: "1234567890",
            },
        );
        decodes_to(
            r#"{"connId":"ab\u0063","code":"0","event":"login"}"#,
            Reply::Login {
                code: 0,
                msg: "",
                conn_id: "abc",
            },
        );
        // Only for logs: an odd connId leaves the login readable.
        for odd in ["null", "7", "true", "[\"a\"]", "{}"] {
            decodes_to(
                &format!(r#"{{"event":"login","code":0,"connId":{odd}}}"#),
                Reply::Login {
                    code: 0,
                    msg: "",
                    conn_id: "",
                },
            );
        }
        // A refused login is an error event, with no connId.
        decodes_to(
            r#"{"event":"error","code":30015,"msg":"Invalid sign"}"#,
            Reply::Error {
                code: 30015,
                msg: "Invalid sign",
            },
        );
    }

    #[test]
    fn arg_may_be_a_single_object() {
        decodes_to(
            r#"{"event":"trade","arg":{"id":"x 1","instType":"SPOT"},"code":"0","msg":"Success"}"#,
            Reply::Trade {
                id: "x 1",
                code: 0,
                msg: "Success",
            },
        );
        decodes_to(
            r#"{"event":"error","arg":{"id":"9"},"code":43001,"msg":"gone"}"#,
            Reply::TradeError {
                id: "9",
                code: 43001,
                msg: "gone",
            },
        );
    }

    #[test]
    fn errors_without_a_request_id_belong_to_no_request() {
        for arg in [
            "",
            r#","arg":null"#,
            r#","arg":[]"#,
            r#","arg":[{"instType":"SPOT","channel":"orders"}]"#,
            r#","arg":{"instType":"SPOT","channel":"orders","instId":"default"}"#,
        ] {
            let text =
                format!(r#"{{"event":"error"{arg},"code":30001,"msg":"Channel does not exist"}}"#);
            decodes_to(
                &text,
                Reply::Error {
                    code: 30001,
                    msg: "Channel does not exist",
                },
            );
        }
    }

    #[test]
    fn only_the_first_arg_is_read() {
        decodes_to(
            r#"{"event":"trade","arg":[{"id":"first"},{"id":"second"}],"code":0}"#,
            Reply::Trade {
                id: "first",
                code: 0,
                msg: "",
            },
        );
    }

    #[test]
    fn pong_is_recognised_before_any_json_parsing() {
        for text in ["pong", " pong", "pong\n", "\t pong \r\n"] {
            decodes_to(text, Reply::Pong);
        }
        fails_with("pongs", DecodeError::NotJson);
        fails_with("PONG", DecodeError::NotJson);
        fails_with("po ng", DecodeError::NotJson);
        fails_with(r#""pong""#, DecodeError::NotObject);
    }

    #[test]
    fn other_events_are_kept_by_name_without_needing_a_code() {
        decodes_to(
            r#"{"event":"subscribe","arg":{"instType":"SPOT","channel":"orders","instId":"default"}}"#,
            Reply::Other { event: "subscribe" },
        );
        decodes_to(
            r#"{"event":"unsubscribe","code":"whatever"}"#,
            Reply::Other {
                event: "unsubscribe",
            },
        );
        decodes_to(r#"{"event":""}"#, Reply::Other { event: "" });
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        decodes_to(
            r#"{"event":"error","arg":[{"id":"a\u0062c"}],"code":30016,"msg":"Param \"orderId\" error \u00e9\n"}"#,
            Reply::TradeError {
                id: "abc",
                code: 30016,
                msg: "Param \"orderId\" error \u{e9}\n",
            },
        );
        decodes_to(
            r#"{"event":"error","code":1,"msg":"订单不存在"}"#,
            Reply::Error {
                code: 1,
                msg: "订单不存在",
            },
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let cases = [
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":true}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":{"n":0}}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":[0]}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":null}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":1.5}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":"abc"}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":""}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":"+1"}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":"1"}],"code":" 0"}"#,
                DecodeError::WrongType("code"),
            ),
            (
                r#"{"event":"trade","arg":[{"id":1}],"code":0}"#,
                DecodeError::WrongType("arg[0].id"),
            ),
            (
                r#"{"event":"error","arg":[{"id":null}],"code":0}"#,
                DecodeError::WrongType("arg[0].id"),
            ),
            (
                r#"{"event":"trade","arg":"1","code":0}"#,
                DecodeError::WrongType("arg"),
            ),
            (
                r#"{"event":"error","arg":["1"],"code":0}"#,
                DecodeError::WrongType("arg"),
            ),
            (
                r#"{"event":"error","arg":[[{"id":"1"}]],"code":0}"#,
                DecodeError::WrongType("arg"),
            ),
            (r#"{"event":7,"code":0}"#, DecodeError::WrongType("event")),
            (
                r#"{"event":"login","code":0,"msg":5}"#,
                DecodeError::WrongType("msg"),
            ),
        ];
        for (text, expected) in cases {
            fails_with(text, expected);
        }
    }

    #[test]
    fn missing_fields_are_named() {
        fails_with(r#"{"code":0,"msg":""}"#, DecodeError::MissingField("event"));
        fails_with(r#"{}"#, DecodeError::MissingField("event"));
        fails_with(
            r#"{"event":"trade","code":0}"#,
            DecodeError::MissingField("arg"),
        );
        fails_with(
            r#"{"event":"trade","arg":[],"code":0}"#,
            DecodeError::MissingField("arg"),
        );
        fails_with(
            r#"{"event":"trade","arg":[{"instId":"BTCUSDT"}],"code":0}"#,
            DecodeError::MissingField("arg[0].id"),
        );
        fails_with(
            r#"{"event":"trade","arg":[{"id":"1"}],"msg":""}"#,
            DecodeError::MissingField("code"),
        );
        fails_with(r#"{"event":"error"}"#, DecodeError::MissingField("code"));
        fails_with(r#"{"event":"login"}"#, DecodeError::MissingField("code"));
    }

    #[test]
    fn codes_beyond_i64_are_out_of_range_or_wrong_type() {
        fails_with(
            r#"{"event":"login","code":9223372036854775808}"#,
            DecodeError::OutOfRange("code"),
        );
        fails_with(
            r#"{"event":"login","code":18446744073709551615}"#,
            DecodeError::OutOfRange("code"),
        );
        fails_with(
            r#"{"event":"login","code":"9223372036854775808"}"#,
            DecodeError::OutOfRange("code"),
        );
        fails_with(
            r#"{"event":"login","code":"-99999999999999999999999999999"}"#,
            DecodeError::OutOfRange("code"),
        );
        // Integers past u64: simd-json refuses the document, serde_json reads a float.
        let huge = br#"{"event":"login","code":123456789012345678901234567890}"#;
        let mut decoder = ReplyDecoder::new();
        assert_eq!(
            decoder.decode(&mut huge.to_vec()),
            Err(DecodeError::NotJson)
        );
        assert_eq!(
            decode_with_serde_json(huge),
            Err(DecodeError::WrongType("code"))
        );
        fails_with(
            r#"{"event":"login","code":1e3}"#,
            DecodeError::WrongType("code"),
        );
    }

    #[test]
    fn non_objects_are_refused() {
        for text in ["[]", "[1,2]", "0", "null", "true", r#""event""#] {
            fails_with(text, DecodeError::NotObject);
        }
    }

    #[test]
    fn malformed_json_is_not_json() {
        for text in [
            "",
            " ",
            "\n\t",
            "garbage",
            "{",
            "}",
            r#"{"event":"login","code":0"#,
            r#"{"event":"login","code":0}x"#,
            r#"{"event":"login","code":0}{"event":"login","code":0}"#,
            r#"{"event":"login","code":01}"#,
            r#"{"event":"login",}"#,
            r#"{'event':'login'}"#,
            r#"{"event":"log\in","code":0}"#,
            "{\"event\":\"lo\u{1}gin\",\"code\":0}",
            "ping",
        ] {
            fails_with(text, DecodeError::NotJson);
        }
    }

    #[test]
    fn invalid_utf8_is_not_json() {
        let mut decoder = ReplyDecoder::new();
        let mut text = br#"{"event":"error","code":1,"msg":"\xff\xfe"}"#.to_vec();
        assert_eq!(decoder.decode(&mut text), Err(DecodeError::NotJson));
        assert_eq!(
            decode_with_serde_json(br#"{"event":"error","code":1,"msg":"\xff\xfe"}"#),
            Err(DecodeError::NotJson)
        );
    }

    #[test]
    fn every_truncation_of_a_captured_reply_is_refused() {
        let mut decoder = ReplyDecoder::new();
        for (text, _) in CAPTURED {
            for end in 0..text.len() {
                let mut buf = text.as_bytes()[..end].to_vec();
                assert!(decoder.decode(&mut buf).is_err(), "{:?}", &text[..end]);
                assert!(decode_with_serde_json(&text.as_bytes()[..end]).is_err());
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut decoder = ReplyDecoder::new();
        for depth in [ReplyDecoder::MAX_DEPTH + 1, 1000, 100_000] {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let inside =
                format!(r#"{{"event":"trade","x":{nested},"arg":[{{"id":"1"}}],"code":0}}"#);
            let unclosed = "[".repeat(depth);
            for text in [nested, inside, unclosed] {
                assert_eq!(
                    decoder.decode(&mut text.clone().into_bytes()),
                    Err(DecodeError::NotJson),
                    "depth {depth}"
                );
                // serde_json's own limit is 128 levels.
                if depth > 128 {
                    assert_eq!(
                        decode_with_serde_json(text.as_bytes()),
                        Err(DecodeError::NotJson)
                    );
                }
            }
        }
        // Nesting up to the limit is fine.
        let depth = ReplyDecoder::MAX_DEPTH - 1;
        let text = format!(
            r#"{{"event":"login","x":{}{},"code":0}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        );
        let mut decoder = ReplyDecoder::new();
        assert_eq!(
            decoder.decode(&mut text.into_bytes()),
            Ok(Reply::Login {
                code: 0,
                msg: "",
                conn_id: ""
            })
        );
    }

    #[test]
    fn a_message_longer_than_the_capacity_still_decodes() {
        let mut decoder = ReplyDecoder::with_capacity(64);
        let long_msg = "m".repeat(10_000);
        let text = format!(r#"{{"event":"error","code":30002,"msg":"{long_msg}"}}"#);
        assert_eq!(
            decoder.decode(&mut text.clone().into_bytes()),
            Ok(Reply::Error {
                code: 30002,
                msg: &long_msg
            })
        );
        let mut ack = CAPTURED[0].0.as_bytes().to_vec();
        assert_eq!(decoder.decode(&mut ack), Ok(CAPTURED[0].1));
    }

    #[test]
    fn a_failed_decode_leaves_the_decoder_usable() {
        let mut decoder = ReplyDecoder::new();
        assert!(decoder.decode(&mut b"{\"event\":".to_vec()).is_err());
        assert!(decoder.decode(&mut b"[1,2,3]".to_vec()).is_err());
        let mut ack = CAPTURED[1].0.as_bytes().to_vec();
        assert_eq!(decoder.decode(&mut ack), Ok(CAPTURED[1].1));
    }

    #[test]
    fn tiny_capacities_are_fine() {
        for capacity in [0, 1, 3, 4, 7] {
            let mut decoder = ReplyDecoder::with_capacity(capacity);
            assert_eq!(decoder.capacity(), capacity);
            let mut ack = CAPTURED[0].0.as_bytes().to_vec();
            assert_eq!(decoder.decode(&mut ack), Ok(CAPTURED[0].1));
        }
    }

    /// A reply as the venue could send it, and what it must decode to.
    fn arb_reply() -> impl Strategy<Value = (String, OwnedReply)> {
        let id = "[0-9A-Za-z_:#+ -]{1,40}";
        let msg = proptest::option::of("[ -~\u{e9}\u{4e2d}\n\t]{0,40}");
        let code = (any::<i64>(), any::<bool>());
        (0usize..4, id, code, msg, any::<bool>(), any::<bool>()).prop_map(
            |(event, id, (code, quoted), msg, arg_is_array, ts)| {
                let code_json = if quoted {
                    format!("\"{code}\"")
                } else {
                    code.to_string()
                };
                let msg_text = msg.clone().unwrap_or_default();
                let msg_json = match &msg {
                    Some(m) => format!(r#","msg":{}"#, serde_json::to_string(m).unwrap()),
                    None => String::new(),
                };
                let entry =
                    format!(r#"{{"id":"{id}","instType":"SPOT","params":{{"orderId":"1"}}}}"#);
                let arg = if arg_is_array {
                    format!("[{entry}]")
                } else {
                    entry
                };
                let ts_json = if ts { r#","ts":1763958928351"# } else { "" };
                let (name, with_arg, expected) = match event {
                    0 => (
                        "trade",
                        true,
                        OwnedReply::Trade {
                            id,
                            code,
                            msg: msg_text,
                        },
                    ),
                    1 => (
                        "error",
                        true,
                        OwnedReply::TradeError {
                            id,
                            code,
                            msg: msg_text,
                        },
                    ),
                    2 => (
                        "error",
                        false,
                        OwnedReply::Error {
                            code,
                            msg: msg_text,
                        },
                    ),
                    _ => (
                        "login",
                        false,
                        OwnedReply::Login {
                            code,
                            msg: msg_text,
                            conn_id: String::new(),
                        },
                    ),
                };
                let arg_json = if with_arg {
                    format!(r#","arg":{arg}"#)
                } else {
                    String::new()
                };
                (
                    format!(
                        r#"{{"event":"{name}"{arg_json},"code":{code_json}{msg_json}{ts_json}}}"#
                    ),
                    expected,
                )
            },
        )
    }

    proptest! {
        #[test]
        fn generated_replies_decode_to_their_fields_with_both_parsers((text, expected) in arb_reply()) {
            prop_assert_eq!(decode_both(&text), Ok(expected));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut decoder = ReplyDecoder::new();
            let _ = decoder.decode(&mut bytes.clone());
            let _ = decode_with_serde_json(&bytes);
        }

        #[test]
        fn mutated_captured_replies_never_panic_and_both_parsers_agree(
            which in 0usize..CAPTURED.len(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = CAPTURED[which].0.as_bytes().to_vec();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            let mut decoder = ReplyDecoder::new();
            let simd = decoder.decode(&mut bytes.clone()).map(OwnedReply::from);
            let serde = decode_with_serde_json(&bytes);
            prop_assert_eq!(simd, serde, "{:?}", String::from_utf8_lossy(&bytes));
        }
    }
}
