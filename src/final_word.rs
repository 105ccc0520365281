//! The final word on a cancel: is the order gone, and how much of it filled.
//!
//! An [`Outcome`](crate::Outcome) says what the venue answered to the cancel request (`acked`
//! means it received it). With the final word on ([`ConfigBuilder::confirm`]), every intent
//! that reached the wire (acked, rejected or unknown) then gets exactly one [`FinalWord`],
//! delivered apart from its outcome and always after it ([`Handle::try_final`],
//! [`InlineEngine::try_final`]): the order's state ([`FinalState`]: cancelled, filled, still
//! live, or unconfirmed and why), the filled size as the venue wrote it, where the word came
//! from (a push on the private order channel, or Bitget's REST order query) and when.
//!
//! The venue's word on one order, whichever way it came, is an [`OrderUpdate`]: the order's
//! ids, its [`OrderStatus`] (both spellings of cancelled read alike), its cumulative filled
//! size and average price as [`Decimal`]s (the venue's digits, never a float), its cancel
//! reason and its update time. Everything here is fixed-capacity and `Copy`: no heap.
//!
//! ```
//! use bitget_cancel::final_word::{Decimal, FinalState, OrderStatus, UnconfirmedReason};
//!
//! assert_eq!(OrderStatus::from_venue("canceled"), Some(OrderStatus::Cancelled));
//! assert_eq!(OrderStatus::from_venue("cancelled"), Some(OrderStatus::Cancelled));
//! assert!(OrderStatus::Filled.is_final() && !OrderStatus::PartiallyFilled.is_final());
//!
//! let filled = Decimal::new("0.0500").unwrap();
//! assert_eq!((filled.as_str(), filled.is_zero()), ("0.0500", false));
//! assert!(Decimal::new("1e-3").is_none() && Decimal::new("-1").is_none());
//!
//! let state = FinalState::Unconfirmed(UnconfirmedReason::Timeout);
//! assert_eq!((state.as_str(), state.reason()), ("unconfirmed", Some("timeout")));
//! assert_eq!(FinalState::Cancelled.to_string(), "cancelled");
//! ```
//!
//! [`ConfigBuilder::confirm`]: crate::engine::ConfigBuilder::confirm
//! [`Handle::try_final`]: crate::Handle::try_final
//! [`InlineEngine::try_final`]: crate::engine::InlineEngine::try_final

use std::fmt;

use crate::intent::{Cancel, ClientOid, InstType, OrderId, RequestId};

/// A non-negative decimal number as the venue wrote it (`"0.2"`, `"1.0500"`): 1 to
/// [`Decimal::CAPACITY`] ASCII digits with at most one `.` between digits, kept as text so
/// that nothing is lost to a float.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    bytes: [u8; Decimal::CAPACITY],
    len: u8,
}

impl Decimal {
    /// The most bytes a decimal may have.
    pub const CAPACITY: usize = 40;

    /// The number `text` writes, if it is one: digits, at most one `.` with a digit on each
    /// side, no sign, no exponent, at most [`Decimal::CAPACITY`] bytes.
    pub fn new(text: &str) -> Option<Decimal> {
        let src = text.as_bytes();
        if src.is_empty() || src.len() > Self::CAPACITY {
            return None;
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            return None;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..src.len()].copy_from_slice(src);
        Some(Decimal {
            bytes,
            len: src.len() as u8,
        })
    }

    /// The digits, as the venue wrote them.
    pub fn as_str(&self) -> &str {
        // `new` admits ASCII digits and `.` only.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// Whether the number is zero (`"0"`, `"0.000"`).
    pub fn is_zero(&self) -> bool {
        self.bytes[..self.len as usize]
            .iter()
            .all(|&b| b == b'0' || b == b'.')
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.as_str())
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The venue's reason for a cancellation (`normal_cancel`, `stp_cancel`, ...), copied into a
/// fixed buffer (cut at [`CancelReason::CAPACITY`] bytes on a character boundary).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CancelReason {
    bytes: [u8; CancelReason::CAPACITY],
    len: u8,
}

impl CancelReason {
    /// The most bytes kept.
    pub const CAPACITY: usize = 32;

    /// Copies `text`, cut to at most [`Self::CAPACITY`] bytes on a character boundary.
    pub fn new(text: &str) -> CancelReason {
        let mut end = text.len().min(Self::CAPACITY);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        CancelReason {
            bytes,
            len: end as u8,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an order stands, as a push or an order query says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Open, nothing filled (`live`; the unified account's `new` too).
    Live,
    /// Open, partly filled (`partially_filled`).
    PartiallyFilled,
    /// Wholly filled: final.
    Filled,
    /// Cancelled, whether or not part of it filled first (`cancelled` on spot, `canceled` on
    /// futures): final.
    Cancelled,
}

impl OrderStatus {
    /// Reads the venue's word for a status, in any case: `live`, `new`, `partially_filled`,
    /// `filled`, `cancelled` or `canceled`.
    pub fn from_venue(word: &str) -> Option<OrderStatus> {
        const WORDS: [(&str, OrderStatus); 6] = [
            ("live", OrderStatus::Live),
            ("new", OrderStatus::Live),
            ("partially_filled", OrderStatus::PartiallyFilled),
            ("filled", OrderStatus::Filled),
            ("cancelled", OrderStatus::Cancelled),
            ("canceled", OrderStatus::Cancelled),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|&(_, s)| s)
    }

    /// The status as one word: `live`, `partially_filled`, `filled` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Live => "live",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Filled or cancelled: the order will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the venue said about one order: an entry of a push on the private order channel, or
/// the answer to an order query. Only the status and an id are sure to be there; every other
/// field is `None` when the venue left it out (or sent it empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The product line (the push's `arg.instType`), when it is one this crate knows.
    pub inst_type: Option<InstType>,
    /// The venue's order id (`orderId`).
    pub order_id: Option<OrderId>,
    /// The client's order id (`clientOid`), when it is one a cancel could name.
    pub client_oid: Option<ClientOid>,
    /// Where the order stands.
    pub status: OrderStatus,
    /// How much of it filled, cumulatively, in the base coin (`accBaseVolume` in a push,
    /// `baseVolume` in a query).
    pub filled: Option<Decimal>,
    /// The average fill price (`priceAvg`).
    pub price_avg: Option<Decimal>,
    /// Why it was cancelled (`cancelReason`), when the venue says.
    pub cancel_reason: Option<CancelReason>,
    /// When the venue last changed it (`uTime`), Unix milliseconds.
    pub updated_ms: Option<u64>,
}

/// What the final word says about the order a cancel named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalState {
    /// The order is cancelled. Part of it may have filled first: see
    /// [`FinalWord::filled`].
    Cancelled,
    /// The order filled wholly: the cancel came too late.
    Filled,
    /// The venue's latest word, when [`Confirm::timeout`](crate::engine::Confirm::timeout)
    /// ran out, still had the order open (live or partly filled): the cancel did not take it,
    /// or its effect was not seen in time.
    Live,
    /// Nothing said where the order stands.
    Unconfirmed(UnconfirmedReason),
}

/// Why a final word is [`FinalState::Unconfirmed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnconfirmedReason {
    /// No push and no order query answered within the confirm timeout (pushes lost, REST
    /// down or switched off, queries failing).
    Timeout,
    /// The venue's order query does not know the order (asked twice): an order id that was
    /// never the account's, or one the venue no longer lists.
    NotFound,
    /// The engine's table of intents waiting for their final word was full when this one's
    /// outcome came ([`Confirm::capacity`](crate::engine::Confirm::capacity)): it was not
    /// followed.
    TableFull,
    /// The engine shut down first.
    Shutdown,
}

impl UnconfirmedReason {
    /// The reason as one word: `timeout`, `not_found`, `table_full` or `shutdown`.
    pub fn as_str(&self) -> &'static str {
        match self {
            UnconfirmedReason::Timeout => "timeout",
            UnconfirmedReason::NotFound => "not_found",
            UnconfirmedReason::TableFull => "table_full",
            UnconfirmedReason::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for UnconfirmedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnconfirmedReason::Timeout => {
                "no push and no order query said where the order stands in time"
            }
            UnconfirmedReason::NotFound => "the venue's order query does not know the order",
            UnconfirmedReason::TableFull => {
                "the table of intents waiting for their final word was full"
            }
            UnconfirmedReason::Shutdown => "the engine shut down first",
        })
    }
}

impl FinalState {
    /// The state as one word, as `bitget-cancel run --confirm` prints it: `cancelled`,
    /// `filled`, `live` or `unconfirmed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FinalState::Cancelled => "cancelled",
            FinalState::Filled => "filled",
            FinalState::Live => "live",
            FinalState::Unconfirmed(_) => "unconfirmed",
        }
    }

    /// The reason's word for [`FinalState::Unconfirmed`].
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            FinalState::Unconfirmed(r) => Some(r.as_str()),
            _ => None,
        }
    }

    /// Cancelled or filled: the order is gone.
    pub fn is_gone(&self) -> bool {
        matches!(self, FinalState::Cancelled | FinalState::Filled)
    }
}

impl fmt::Display for FinalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinalState::Unconfirmed(r) => write!(f, "unconfirmed ({}): {r}", r.as_str()),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Where a final word came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalSource {
    /// A push on the private order channel.
    Push,
    /// Bitget's REST order query.
    Rest,
}

impl FinalSource {
    /// `push` or `rest`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FinalSource::Push => "push",
            FinalSource::Rest => "rest",
        }
    }
}

impl fmt::Display for FinalSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As `bitget-cancel run --confirm` writes it: `"push"` or `"rest"`.
///
/// ```
/// use bitget_cancel::final_word::FinalSource;
/// assert_eq!(serde_json::to_string(&FinalSource::Rest).unwrap(), r#""rest""#);
/// assert_eq!(serde_json::from_str::<FinalSource>(r#""push""#).unwrap(), FinalSource::Push);
/// ```
#[cfg(feature = "serde")]
impl serde::Serialize for FinalSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for FinalSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match &*word {
            "push" => Ok(FinalSource::Push),
            "rest" => Ok(FinalSource::Rest),
            other => Err(serde::de::Error::unknown_variant(other, &["push", "rest"])),
        }
    }
}

/// Monotonic timestamps ([`crate::clock::monotonic_ns`]) of a final word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinalTimes {
    /// When the intent was accepted (its outcome's `accepted_ns`).
    pub accepted_ns: u64,
    /// When its outcome was decided (its outcome's `settled_ns`).
    pub settled_ns: u64,
    /// When the final word was known.
    pub final_ns: u64,
}

impl FinalTimes {
    /// From the intent accepted to the final word.
    pub fn since_accepted_ns(&self) -> u64 {
        self.final_ns.saturating_sub(self.accepted_ns)
    }

    /// From the outcome (the reply, for a cancel that got one) to the final word.
    pub fn since_settled_ns(&self) -> u64 {
        self.final_ns.saturating_sub(self.settled_ns)
    }
}

/// The final word on one intent: delivered once, after its outcome, for every intent that
/// was sent, while the final word is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalWord {
    /// The intent's request id (its outcome's `id`).
    pub id: RequestId,
    /// The intent as accepted (its `tag` is the caller's).
    pub cancel: Cancel,
    /// Where the order stands.
    pub state: FinalState,
    /// How much of the order filled, in the base coin, as the venue wrote it; `None` when no
    /// word said (unconfirmed, or a word without the field).
    pub filled: Option<Decimal>,
    /// The average fill price, when the venue said.
    pub price_avg: Option<Decimal>,
    /// Why the venue cancelled it, when it said.
    pub cancel_reason: Option<CancelReason>,
    /// Where the word came from; `None` for [`FinalState::Unconfirmed`].
    pub source: Option<FinalSource>,
    /// The venue's time of the word (`uTime`), Unix milliseconds, when it said.
    pub venue_time_ms: Option<u64>,
    /// When things happened.
    pub times: FinalTimes,
}

impl FinalWord {
    /// The caller's tag.
    pub fn tag(&self) -> u64 {
        self.cancel.tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_the_venues_digits_and_refuse_anything_else() {
        for good in ["0", "0.2", "12.000", "00.5", &"9".repeat(40)] {
            assert_eq!(Decimal::new(good).map(|d| d.to_string()), Some(good.into()));
        }
        for bad in [
            "",
            ".",
            ".5",
            "5.",
            "1.2.3",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1,5",
            "NaN",
            &"9".repeat(41),
        ] {
            assert_eq!(Decimal::new(bad), None, "{bad:?}");
        }
        assert!(Decimal::new("0.000").unwrap().is_zero());
        assert!(!Decimal::new("0.001").unwrap().is_zero());
    }

    #[test]
    fn every_spelling_of_a_status_reads_and_only_filled_and_cancelled_are_final() {
        for (word, status) in [
            ("live", OrderStatus::Live),
            ("NEW", OrderStatus::Live),
            ("partially_filled", OrderStatus::PartiallyFilled),
            ("filled", OrderStatus::Filled),
            ("cancelled", OrderStatus::Cancelled),
            ("Canceled", OrderStatus::Cancelled),
        ] {
            assert_eq!(OrderStatus::from_venue(word), Some(status), "{word}");
        }
        assert_eq!(OrderStatus::from_venue("init"), None);
        let finals: Vec<bool> = [
            OrderStatus::Live,
            OrderStatus::PartiallyFilled,
            OrderStatus::Filled,
            OrderStatus::Cancelled,
        ]
        .iter()
        .map(|s| s.is_final())
        .collect();
        assert_eq!(finals, [false, false, true, true]);
    }

    #[test]
    fn every_state_has_a_word_and_unconfirmed_ones_a_reason() {
        let states = [
            FinalState::Cancelled,
            FinalState::Filled,
            FinalState::Live,
            FinalState::Unconfirmed(UnconfirmedReason::Timeout),
            FinalState::Unconfirmed(UnconfirmedReason::NotFound),
            FinalState::Unconfirmed(UnconfirmedReason::TableFull),
            FinalState::Unconfirmed(UnconfirmedReason::Shutdown),
        ];
        let words: Vec<(&str, Option<&str>)> =
            states.iter().map(|s| (s.as_str(), s.reason())).collect();
        assert_eq!(
            words,
            [
                ("cancelled", None),
                ("filled", None),
                ("live", None),
                ("unconfirmed", Some("timeout")),
                ("unconfirmed", Some("not_found")),
                ("unconfirmed", Some("table_full")),
                ("unconfirmed", Some("shutdown")),
            ]
        );
        assert_eq!(
            FinalState::Unconfirmed(UnconfirmedReason::NotFound).to_string(),
            "unconfirmed (not_found): the venue's order query does not know the order"
        );
        assert!(FinalState::Filled.is_gone() && !FinalState::Live.is_gone());
    }

    #[test]
    fn a_cancel_reason_is_cut_on_a_character_boundary() {
        assert_eq!(CancelReason::new("stp_cancel").as_str(), "stp_cancel");
        assert_eq!(CancelReason::new(&"é".repeat(20)).as_str().len(), 32);
    }
}
