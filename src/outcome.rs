//! What became of each accepted intent: exactly one [`Outcome`] per intent, on every path.

use std::fmt;

use crate::intent::{Cancel, CancelAll, RequestId};

/// A message of the venue's, copied into a fixed buffer (truncated at [`VenueMsg::CAPACITY`] bytes
/// on a character boundary) so outcomes stay `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VenueMsg {
    bytes: [u8; VenueMsg::CAPACITY],
    len: u8,
}

impl VenueMsg {
    /// The most bytes kept.
    pub const CAPACITY: usize = 128;

    /// Copies `text`, cut to at most [`Self::CAPACITY`] bytes on a character boundary.
    ///
    /// ```
    /// use bitget_cancel::outcome::VenueMsg;
    /// assert_eq!(VenueMsg::new("The order does not exist").as_str(), "The order does not exist");
    /// assert_eq!(VenueMsg::new(&"é".repeat(100)).as_str().len(), 128);
    /// ```
    pub fn new(text: &str) -> Self {
        let mut end = text.len().min(Self::CAPACITY);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        VenueMsg {
            bytes,
            len: end as u8,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // `new` copies a prefix that ends on a character boundary of a `str`.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for VenueMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for VenueMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text of the engine's own (an error's `Display`), copied into a fixed buffer like
/// [`VenueMsg`] (truncated at [`ErrorText::CAPACITY`] bytes on a character boundary), so that
/// outcomes stay `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ErrorText(VenueMsg);

impl ErrorText {
    /// The most bytes kept.
    pub const CAPACITY: usize = VenueMsg::CAPACITY;

    /// Copies `text`, cut to at most [`Self::CAPACITY`] bytes on a character boundary.
    ///
    /// ```
    /// use bitget_cancel::outcome::ErrorText;
    /// assert_eq!(ErrorText::new("connection refused").as_str(), "connection refused");
    /// ```
    pub fn new(text: &str) -> Self {
        ErrorText(VenueMsg::new(text))
    }

    /// What `value` displays as, written straight into the buffer (nothing is allocated) and
    /// cut like [`ErrorText::new`].
    ///
    /// ```
    /// use bitget_cancel::outcome::ErrorText;
    /// let text = ErrorText::display(&format_args!("timed out while {}", "logging in"));
    /// assert_eq!(text.as_str(), "timed out while logging in");
    /// assert_eq!(ErrorText::display(&"é".repeat(100)).as_str().len(), 128);
    /// ```
    pub fn display(value: &dyn fmt::Display) -> Self {
        let mut w = FixedWriter {
            bytes: [0u8; ErrorText::CAPACITY],
            len: 0,
            full: false,
        };
        // The writer never fails: it keeps what fits and drops the rest.
        let _ = fmt::write(&mut w, format_args!("{value}"));
        ErrorText(VenueMsg {
            bytes: w.bytes,
            len: w.len as u8,
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Writes into a fixed buffer: the longest prefix of whole characters that fits.
struct FixedWriter {
    bytes: [u8; ErrorText::CAPACITY],
    len: usize,
    /// A character did not fit: nothing after it is kept either.
    full: bool,
}

impl fmt::Write for FixedWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let n = c.len_utf8();
            if self.full || self.len + n > self.bytes.len() {
                self.full = true;
                return Ok(());
            }
            c.encode_utf8(&mut self.bytes[self.len..self.len + n]);
            self.len += n;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kept every connection to the venue from coming up, in
/// [`NotSentReason::NoConnection`]: the kind of the last connection error.
///
/// [`as_str`](Self::as_str) is its word (`tls`, `dns`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectFailure {
    /// The host name did not resolve (DNS).
    Dns,
    /// The TCP connection failed: refused, unreachable, reset.
    Connect,
    /// The TLS handshake failed, e.g. a certificate signed by a CA that is not trusted.
    Tls,
    /// The WebSocket upgrade was refused or malformed.
    Upgrade,
    /// Connecting or logging in took longer than the connect timeout.
    Timeout,
    /// The venue (or the network) closed the connection, broke the protocol, or went silent.
    Closed,
    /// The venue answered the login with an error that is not about the credentials.
    Login,
    /// No connection attempt had ended yet: the first was still on its way up.
    Pending,
}

impl ConnectFailure {
    /// The kind as one word: `dns`, `connect`, `tls`, `upgrade`, `timeout`, `closed`, `login`
    /// or `pending`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectFailure::Dns => "dns",
            ConnectFailure::Connect => "connect",
            ConnectFailure::Tls => "tls",
            ConnectFailure::Upgrade => "upgrade",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::Closed => "closed",
            ConnectFailure::Login => "login",
            ConnectFailure::Pending => "pending",
        }
    }
}

/// The words outcomes are spelled with, in one place: [`Status::as_str`], the reasons' `as_str`
/// and the `run` lines of [`crate::jsonl`] use these.
pub(crate) mod words {
    pub const ACKED: &str = "acked";
    pub const REJECTED: &str = "rejected";
    pub const UNKNOWN: &str = "unknown";
    pub const NOT_SENT: &str = "not_sent";
}

/// Why an intent that was sent has no answer: the order may or may not be cancelled.
///
/// [`as_str`](Self::as_str) is its word (`ack_timeout`, ...); `Display` says it in a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// No reply within the ack timeout.
    AckTimeout,
    /// The connection ended while the cancel was in flight, and no other path to the venue was
    /// left to send it again on (no other live connection; the attempt limit reached).
    ConnectionLost,
    /// The engine shut down before the reply came.
    Shutdown,
}

impl UnknownReason {
    /// The reason as one word, as `bitget-cancel run` prints it: `ack_timeout`,
    /// `connection_lost` or `shutdown`.
    ///
    /// ```
    /// use bitget_cancel::outcome::UnknownReason;
    /// assert_eq!(UnknownReason::AckTimeout.as_str(), "ack_timeout");
    /// assert_eq!(UnknownReason::AckTimeout.to_string(), "no reply within the ack timeout");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            UnknownReason::AckTimeout => "ack_timeout",
            UnknownReason::ConnectionLost => "connection_lost",
            UnknownReason::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnknownReason::AckTimeout => "no reply within the ack timeout",
            UnknownReason::ConnectionLost => {
                "the connection ended while the cancel was in flight, and no other was left"
            }
            UnknownReason::Shutdown => "the engine shut down before the reply came",
        })
    }
}

/// Why an accepted intent was never written to the venue.
///
/// [`as_str`](Self::as_str) is its word (`queue_timeout`, ...); `Display` says it in a sentence,
/// with the venue's code and message where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSentReason {
    /// It waited longer than the configured maximum queueing time (no live session, or pacing).
    QueueTimeout,
    /// The venue refused the credentials, never the order: a WebSocket login (30005, 30011,
    /// 30012, 30015, ...) or a REST request's key, passphrase or signature (40006, 40009,
    /// 40012, ...), whichever path heard it first. The order was not touched. The engine does
    /// not retry these credentials in a tight loop, and no other path tries them meanwhile: a
    /// refused login keeps cancels off REST, and after a REST refusal cancels are settled at
    /// once. When REST heard it, the cancel that carried the request has `attempts` 1 and
    /// `via` [`Via::Rest`]; the others, 0 and `None`.
    LoginRejected {
        /// The venue's code, e.g. 30015 (login) or 40009 (REST).
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
    /// Another intent with the same request id is in flight. No longer decided by the engine:
    /// every send goes out under a wire id of the engine's own, so a caller's id is a label
    /// that any number of intents may share. Kept so that code matching on it still compiles.
    DuplicateId,
    /// It waited its maximum queueing time and no connection to the venue came up (no
    /// WebSocket connection logged in, and no REST connection open): `error` is the last
    /// connection error, as [`crate::Handle::last_error`] says it (e.g. `tls: TLS handshake
    /// failed: invalid peer certificate: UnknownIssuer`), and `failure` its kind. Queue
    /// timeouts with a connection up (pacing) stay [`NotSentReason::QueueTimeout`].
    NoConnection {
        /// What failed: DNS, TCP, TLS, ...
        failure: ConnectFailure,
        /// The last connection error, in words.
        error: ErrorText,
    },
    /// The engine shut down before it could be sent.
    Shutdown,
}

impl NotSentReason {
    /// The reason as one word, as `bitget-cancel run` prints it: `queue_timeout`,
    /// `login_rejected`, `duplicate_id`, `no_connection` or `shutdown`.
    ///
    /// ```
    /// use bitget_cancel::outcome::{NotSentReason, VenueMsg};
    /// let refused = NotSentReason::LoginRejected { code: 30015, msg: VenueMsg::new("Invalid sign") };
    /// assert_eq!(refused.as_str(), "login_rejected");
    /// assert_eq!(refused.to_string(), "the venue refused the credentials: 30015 Invalid sign");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            NotSentReason::QueueTimeout => "queue_timeout",
            NotSentReason::LoginRejected { .. } => "login_rejected",
            NotSentReason::DuplicateId => "duplicate_id",
            NotSentReason::NoConnection { .. } => "no_connection",
            NotSentReason::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for NotSentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSentReason::QueueTimeout => f.write_str(
                "waited longer than the maximum queueing time without a logged-in connection or a pacing slot",
            ),
            NotSentReason::LoginRejected { code, msg } => {
                write!(f, "the venue refused the credentials: {code} {msg}")
            }
            NotSentReason::DuplicateId => {
                f.write_str("another cancel with the same id is in flight")
            }
            NotSentReason::NoConnection { error, .. } => {
                write!(f, "no connection to the venue came up: {error}")
            }
            NotSentReason::Shutdown => f.write_str("the engine shut down before it could be sent"),
        }
    }
}

/// The final word on one intent.
///
/// `Display` gives its word, the reason's word and a sentence, e.g. `rejected: 43001 The order
/// does not exist` or `unknown (ack_timeout): no reply within the ack timeout`; its methods
/// answer the usual questions without a `match`:
///
/// ```
/// use bitget_cancel::outcome::{Status, UnknownReason, VenueMsg};
///
/// let gone = Status::Rejected { code: 43001, msg: VenueMsg::new("The order does not exist") };
/// assert!(gone.is_rejected() && gone.was_sent());
/// assert_eq!((gone.as_str(), gone.code(), gone.msg()), ("rejected", Some(43001), Some("The order does not exist")));
/// assert_eq!(gone.to_string(), "rejected: 43001 The order does not exist");
///
/// let silent = Status::Unknown(UnknownReason::AckTimeout);
/// assert_eq!((silent.as_str(), silent.reason(), silent.code()), ("unknown", Some("ack_timeout"), None));
/// assert_eq!(silent.to_string(), "unknown (ack_timeout): no reply within the ack timeout");
/// assert!(Status::Acked.is_acked());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The venue answered `code` 0.
    Acked,
    /// The venue answered with an error for this request.
    ///
    /// After a re-send (`attempts` above 1), "the order does not exist" (43001 on spot, 41101
    /// and the like on futures) means the order is not open: an earlier attempt whose reply was
    /// lost may have cancelled it, or it filled. Either way nothing is left to cancel.
    ///
    /// A transient refusal (a rate limit such as 30006 or 429, a timeout such as 40010 or
    /// 25001, a 5xx) is an outcome only when every send was refused that way and no send or
    /// time was left to try again: the venue processed none of them.
    Rejected {
        /// The venue's code, e.g. 43001.
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
    /// Sent, with no reply: the order may or may not be cancelled.
    Unknown(UnknownReason),
    /// Never acted on by the venue: never written, or (credentials refused over REST) refused
    /// before the order was looked at.
    NotSent(NotSentReason),
}

impl Status {
    /// The status as one word, as `bitget-cancel run` prints it: `acked`, `rejected`,
    /// `unknown` or `not_sent`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Acked => words::ACKED,
            Status::Rejected { .. } => words::REJECTED,
            Status::Unknown(_) => words::UNKNOWN,
            Status::NotSent(_) => words::NOT_SENT,
        }
    }

    /// The venue answered code 0: it received the cancel (whether the order is gone is the
    /// final word's business).
    pub fn is_acked(&self) -> bool {
        matches!(self, Status::Acked)
    }

    /// The venue answered with an error for this request ([`code`](Self::code) and
    /// [`msg`](Self::msg) say which).
    pub fn is_rejected(&self) -> bool {
        matches!(self, Status::Rejected { .. })
    }

    /// Sent, without an answer: the order may or may not be cancelled.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Status::Unknown(_))
    }

    /// Never acted on by the venue: the order is untouched by this intent (never written, or
    /// refused over REST for its credentials before the order was looked at).
    pub fn is_not_sent(&self) -> bool {
        matches!(self, Status::NotSent(_))
    }

    /// The cancel may have reached the order (acked, rejected or unknown): the opposite of
    /// [`is_not_sent`](Self::is_not_sent).
    pub fn was_sent(&self) -> bool {
        !self.is_not_sent()
    }

    /// The venue's code: 0 for acked, the error code of a rejection or of a refused login;
    /// `None` where the venue said nothing.
    pub fn code(&self) -> Option<i64> {
        match self {
            Status::Acked => Some(0),
            Status::Rejected { code, .. }
            | Status::NotSent(NotSentReason::LoginRejected { code, .. }) => Some(*code),
            Status::Unknown(_) | Status::NotSent(_) => None,
        }
    }

    /// The venue's message, for a rejection or a refused login.
    pub fn msg(&self) -> Option<&str> {
        match self {
            Status::Rejected { msg, .. }
            | Status::NotSent(NotSentReason::LoginRejected { msg, .. }) => Some(msg.as_str()),
            Status::Acked | Status::Unknown(_) | Status::NotSent(_) => None,
        }
    }

    /// The reason's word for unknown and not sent (`ack_timeout`, `queue_timeout`, ...; see
    /// [`UnknownReason::as_str`] and [`NotSentReason::as_str`]).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Status::Unknown(r) => Some(r.as_str()),
            Status::NotSent(r) => Some(r.as_str()),
            Status::Acked | Status::Rejected { .. } => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.as_str();
        match self {
            Status::Acked => f.write_str(word),
            Status::Rejected { code, msg } => write!(f, "{word}: {code} {msg}"),
            Status::Unknown(r) => write!(f, "{word} ({}): {r}", r.as_str()),
            Status::NotSent(r) => write!(f, "{word} ({}): {r}", r.as_str()),
        }
    }
}

/// Monotonic timestamps ([`crate::clock::monotonic_ns`]) of one intent's journey; 0 where a step
/// never happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamps {
    /// When [`crate::Handle::cancel`] accepted the intent.
    pub accepted_ns: u64,
    /// When the engine had the frame sealed and called `write(2)` with it: everything before
    /// is the engine's own work (and, threaded, the intent ring's hop).
    pub handed_ns: u64,
    /// When the frame's bytes were handed to the kernel (`write(2)` returned).
    pub written_ns: u64,
    /// When the reply was parsed (or the outcome decided, for outcomes without a reply).
    pub settled_ns: u64,
}

impl Timestamps {
    /// From acceptance to the kernel, if the frame was written.
    pub fn tick_to_wire_ns(&self) -> Option<u64> {
        (self.written_ns != 0).then(|| self.written_ns.saturating_sub(self.accepted_ns))
    }

    /// The engine's own share: from acceptance to the `write(2)` that carries the frame, if it
    /// was written. The kernel's part of [`Timestamps::tick_to_wire_ns`] (on loopback, the
    /// receiver's TCP path) is left out.
    ///
    /// ```
    /// use bitget_cancel::outcome::Timestamps;
    /// let t = Timestamps { accepted_ns: 100, handed_ns: 400, written_ns: 9_000, settled_ns: 50_000 };
    /// assert_eq!(t.engine_share_ns(), Some(300));
    /// assert_eq!(t.tick_to_wire_ns(), Some(8_900));
    /// assert_eq!(Timestamps::default().engine_share_ns(), None);
    /// ```
    pub fn engine_share_ns(&self) -> Option<u64> {
        (self.handed_ns != 0).then(|| self.handed_ns.saturating_sub(self.accepted_ns))
    }

    /// From acceptance to the parsed reply, if the frame was written and answered.
    pub fn round_trip_ns(&self) -> Option<u64> {
        (self.written_ns != 0 && self.settled_ns != 0)
            .then(|| self.settled_ns.saturating_sub(self.accepted_ns))
    }
}

/// The path whose reply settled an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The WebSocket connection in this slot of the pool (0-based).
    Connection(u8),
    /// Bitget's REST API, the rung below the WebSocket pool.
    Rest,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Connection(n) => write!(f, "{n}"),
            Via::Rest => f.write_str("rest"),
        }
    }
}

/// As `bitget-cancel run` writes it: the connection's number, or the string `"rest"`.
///
/// ```
/// use bitget_cancel::Via;
/// assert_eq!(serde_json::to_string(&Via::Connection(1)).unwrap(), "1");
/// assert_eq!(serde_json::from_str::<Via>("\"rest\"").unwrap(), Via::Rest);
/// ```
#[cfg(feature = "serde")]
impl serde::Serialize for Via {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Via::Connection(n) => serializer.serialize_u8(*n),
            Via::Rest => serializer.serialize_str("rest"),
        }
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Via {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ViaVisitor;
        impl serde::de::Visitor<'_> for ViaVisitor {
            type Value = Via;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a connection number from 0 to 255 or \"rest\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Via, E> {
                u8::try_from(n)
                    .map(Via::Connection)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Via, E> {
                u64::try_from(n)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
                    .and_then(|n| self.visit_u64(n))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Via, E> {
                match s {
                    "rest" => Ok(Via::Rest),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(s), &self)),
                }
            }
        }
        deserializer.deserialize_any(ViaVisitor)
    }
}

/// One intent's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The id [`Handle::cancel`](crate::Handle::cancel) returned for the intent: the caller's
    /// ([`Cancel::with_id`](crate::Cancel::with_id)), a label that never goes on the wire, or
    /// else the wire id of its first send (later sends go out under wire ids of their own).
    pub id: RequestId,
    /// The intent as accepted (its `tag` is the caller's).
    pub cancel: Cancel,
    /// What happened.
    pub status: Status,
    /// When things happened.
    pub times: Timestamps,
    /// How many times the cancel was sent (the first send, hedges, re-sends after a lost
    /// connection); 0 if it never was.
    pub attempts: u8,
    /// The path whose reply settled it; `None` when no reply did (unknown, not sent), except
    /// [`Via::Rest`] for a cancel the venue refused over REST for its credentials
    /// ([`NotSentReason::LoginRejected`]).
    pub via: Option<Via>,
    /// The REST batch request whose reply settled it (`via` is [`Via::Rest`]), so that a desk
    /// can tell which cancels went out together; `None` for a cancel sent alone.
    pub batch: Option<BatchRef>,
    /// Set on the outcome of a cancel-all ([`crate::Handle::cancel_all`]): the venue's counts.
    /// Its `cancel` then carries the scope: the product line, the symbol (empty for a whole
    /// product line), no order (an empty `orderId`) and the tag; [`Outcome::cancel_all_scope`]
    /// gives it back as the [`CancelAll`] submitted.
    pub cancel_all: Option<CancelAllReport>,
}

impl Outcome {
    /// The caller's tag.
    pub fn tag(&self) -> u64 {
        self.cancel.tag
    }

    /// The cancel-all this is the outcome of, as submitted; `None` for a cancel's outcome.
    ///
    /// ```no_run
    /// # fn demo(handle: &bitget_cancel::Handle) -> Result<(), Box<dyn std::error::Error>> {
    /// use bitget_cancel::{CancelAll, InstType};
    /// let all = CancelAll::new(InstType::UsdtFutures, None)?;
    /// handle.cancel_all(all)?;
    /// let outcome = handle.outcome_timeout(std::time::Duration::from_secs(5)).expect("an outcome");
    /// assert_eq!(outcome.cancel_all_scope(), Some(all));
    /// # Ok(()) }
    /// ```
    pub fn cancel_all_scope(&self) -> Option<CancelAll> {
        self.cancel_all
            .map(|_| CancelAll::from_cancel(&self.cancel))
    }
}

/// Which REST batch request carried a cancel: the engine numbers its batches from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchRef {
    /// The batch's number, from 1 (`Stats::batches` counts them).
    pub number: u64,
    /// How many cancels it carried (1 to 20).
    pub size: u8,
}

/// What the venue said of a cancel-all (what it covered is the outcome's
/// [`cancel_all_scope`](Outcome::cancel_all_scope), kept out of here so that every outcome, a
/// cancel's included, stays small on its way to the strategy thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelAllReport {
    /// How many orders the venue listed as cancelled (`successList`), where it lists them:
    /// futures `cancel-all-orders` does; spot `cancel-symbol-order` does not.
    pub succeeded: Option<u32>,
    /// How many orders the venue listed as failed (`failureList`), where it lists them.
    pub failed: Option<u32>,
    /// The venue accepted the request and cancels afterwards (spot `cancel-symbol-order`):
    /// acked means accepted, not done.
    pub asynchronous: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_status() -> Vec<Status> {
        vec![
            Status::Acked,
            Status::Rejected {
                code: 43001,
                msg: VenueMsg::new("The order does not exist"),
            },
            Status::Unknown(UnknownReason::AckTimeout),
            Status::Unknown(UnknownReason::ConnectionLost),
            Status::Unknown(UnknownReason::Shutdown),
            Status::NotSent(NotSentReason::QueueTimeout),
            Status::NotSent(NotSentReason::LoginRejected {
                code: 30015,
                msg: VenueMsg::new("Invalid sign"),
            }),
            Status::NotSent(NotSentReason::DuplicateId),
            Status::NotSent(NotSentReason::NoConnection {
                failure: ConnectFailure::Tls,
                error: ErrorText::new(
                    "tls: TLS handshake failed: invalid peer certificate: UnknownIssuer",
                ),
            }),
            Status::NotSent(NotSentReason::Shutdown),
        ]
    }

    #[test]
    fn every_status_has_the_words_the_command_line_prints() {
        let words: Vec<(&str, Option<&str>)> = every_status()
            .iter()
            .map(|s| (s.as_str(), s.reason()))
            .collect();
        assert_eq!(
            words,
            [
                ("acked", None),
                ("rejected", None),
                ("unknown", Some("ack_timeout")),
                ("unknown", Some("connection_lost")),
                ("unknown", Some("shutdown")),
                ("not_sent", Some("queue_timeout")),
                ("not_sent", Some("login_rejected")),
                ("not_sent", Some("duplicate_id")),
                ("not_sent", Some("no_connection")),
                ("not_sent", Some("shutdown")),
            ]
        );
    }

    #[test]
    fn every_status_says_why_in_a_sentence() {
        let sentences: Vec<String> = every_status().iter().map(ToString::to_string).collect();
        assert_eq!(
            sentences,
            [
                "acked",
                "rejected: 43001 The order does not exist",
                "unknown (ack_timeout): no reply within the ack timeout",
                "unknown (connection_lost): the connection ended while the cancel was in flight, and no other was left",
                "unknown (shutdown): the engine shut down before the reply came",
                "not_sent (queue_timeout): waited longer than the maximum queueing time without a logged-in connection or a pacing slot",
                "not_sent (login_rejected): the venue refused the credentials: 30015 Invalid sign",
                "not_sent (duplicate_id): another cancel with the same id is in flight",
                "not_sent (no_connection): no connection to the venue came up: tls: TLS handshake failed: invalid peer certificate: UnknownIssuer",
                "not_sent (shutdown): the engine shut down before it could be sent",
            ]
        );
    }

    #[test]
    fn the_questions_agree_with_the_variant() {
        for s in every_status() {
            let flags = [
                s.is_acked(),
                s.is_rejected(),
                s.is_unknown(),
                s.is_not_sent(),
            ];
            assert_eq!(flags.iter().filter(|&&f| f).count(), 1, "{s:?}");
            assert_eq!(s.was_sent(), !s.is_not_sent(), "{s:?}");
            assert_eq!(s.msg().is_some(), s.code().is_some_and(|c| c != 0), "{s:?}");
        }
        assert_eq!(Status::Acked.code(), Some(0));
        assert_eq!(
            Status::NotSent(NotSentReason::LoginRejected {
                code: 30011,
                msg: VenueMsg::new("Invalid ACCESS_KEY"),
            })
            .msg(),
            Some("Invalid ACCESS_KEY")
        );
    }

    #[test]
    fn error_text_keeps_the_longest_prefix_of_whole_characters_that_fits() {
        let long = format!("{}é and more", "x".repeat(ErrorText::CAPACITY - 1));
        let text = ErrorText::display(&long);
        assert_eq!(text.as_str(), "x".repeat(ErrorText::CAPACITY - 1));
        assert_eq!(ErrorText::new(&long), text, "the same cut as new");
        assert_eq!(ErrorText::display(&"").as_str(), "");
    }

    #[test]
    fn every_connect_failure_has_a_word() {
        let all = [
            ConnectFailure::Dns,
            ConnectFailure::Connect,
            ConnectFailure::Tls,
            ConnectFailure::Upgrade,
            ConnectFailure::Timeout,
            ConnectFailure::Closed,
            ConnectFailure::Login,
            ConnectFailure::Pending,
        ];
        let words: Vec<&str> = all.iter().map(ConnectFailure::as_str).collect();
        assert_eq!(
            words,
            [
                "dns", "connect", "tls", "upgrade", "timeout", "closed", "login", "pending"
            ]
        );
    }
}
