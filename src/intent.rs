//! Validated cancel intents: fixed-capacity values that live on the stack and cross threads by copy.
//!
//! Every field is checked when it is built, on the caller's thread, so a bad intent is refused with
//! an [`InvalidField`] before anything is queued or sent. The rules also guarantee that every value
//! can be written into JSON as it is: no quotes, backslashes, control characters or non-ASCII bytes
//! ever reach the encoder.
//!
//! ```
//! use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
//!
//! let cancel = Cancel::new(
//!     InstType::Spot,
//!     InstId::new("BTCUSDT")?,
//!     OrderRef::order_id("1376695893517410304")?,
//! );
//! assert_eq!(cancel.inst_id.as_str(), "BTCUSDT");
//! assert!(InstId::new("btc\"usdt").is_err());
//! # Ok::<(), bitget_cancel::InvalidField>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// A value that broke a field's rule: names the field and the rule, so the caller can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidField {
    /// The field, as the venue names it (`instId`, `orderId`, `clientOid`, `id`, `instType`).
    pub field: &'static str,
    /// The rule the value broke.
    pub rule: &'static str,
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.field, self.rule)
    }
}

impl std::error::Error for InvalidField {}

/// A fixed-capacity ASCII string whose bytes were checked by one of the rules below.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Ascii<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> Ascii<N> {
    /// Checks `value` byte by byte; `N` must fit in a `u8`.
    fn new(
        value: &str,
        field: &'static str,
        rule: &'static str,
        allow_empty: bool,
        allowed: fn(u8) -> bool,
    ) -> Result<Self, InvalidField> {
        let src = value.as_bytes();
        let invalid = InvalidField { field, rule };
        if src.len() > N || (src.is_empty() && !allow_empty) {
            return Err(invalid);
        }
        if !src.iter().all(|&b| allowed(b)) {
            return Err(invalid);
        }
        let mut bytes = [0u8; N];
        bytes[..src.len()].copy_from_slice(src);
        Ok(Self {
            bytes,
            len: src.len() as u8,
        })
    }

    fn as_str(&self) -> &str {
        // Every constructor admits ASCII bytes only, so the prefix is valid UTF-8. Checked rather
        // than assumed: the cost is a few nanoseconds off the hot path.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

/// The venue's product line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstType {
    /// `SPOT`
    Spot,
    /// `USDT-FUTURES`
    UsdtFutures,
    /// `COIN-FUTURES`
    CoinFutures,
    /// `USDC-FUTURES`
    UsdcFutures,
}

impl InstType {
    /// Every product line, in wire order.
    pub const ALL: [InstType; 4] = [
        InstType::Spot,
        InstType::UsdtFutures,
        InstType::CoinFutures,
        InstType::UsdcFutures,
    ];

    /// The wire spelling, e.g. `USDT-FUTURES`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InstType::Spot => "SPOT",
            InstType::UsdtFutures => "USDT-FUTURES",
            InstType::CoinFutures => "COIN-FUTURES",
            InstType::UsdcFutures => "USDC-FUTURES",
        }
    }

    /// Whether this is a futures product line (the venue answers unknown orders with 41101
    /// there, 43001 on spot).
    pub const fn is_futures(self) -> bool {
        !matches!(self, InstType::Spot)
    }
}

impl FromStr for InstType {
    type Err = InvalidField;

    /// Parses the wire spelling exactly (`SPOT`, `USDT-FUTURES`, `COIN-FUTURES`, `USDC-FUTURES`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InstType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(InvalidField {
                field: "instType",
                rule: "one of SPOT, USDT-FUTURES, COIN-FUTURES, USDC-FUTURES",
            })
    }
}

impl fmt::Display for InstType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! ascii_newtype {
    (
        $(#[$doc:meta])*
        $name:ident, $cap:expr, $field:literal, $rule:literal, allow_empty = $empty:expr, $allowed:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(Ascii<{ $cap }>);

        impl $name {
            /// The longest value the venue accepts, in bytes.
            pub const MAX_LEN: usize = $cap;
            /// The rule a value must follow, as reported in [`InvalidField::rule`].
            pub const RULE: &'static str = $rule;

            /// Checks `value` against the rule and stores it without allocating.
            pub fn new(value: &str) -> Result<Self, InvalidField> {
                Ascii::new(value, $field, $rule, $empty, $allowed).map($name)
            }

            /// The validated value.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidField;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

fn is_symbol_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_client_oid_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'#' | b'-' | b'+' | b'.' | b'/')
}

fn is_request_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'#' | b'-' | b'+' | b' ')
}

ascii_newtype!(
    /// A symbol such as `BTCUSDT`: 1 to 32 upper-case ASCII letters and digits.
    ///
    /// Where the rule comes from: the `instId` of Bitget's cancel-order channel pages
    /// (`api-doc/spot/websocket/private/Cancel-Order-Channel`,
    /// `api-doc/contract/websocket/private/Cancel-Order-Channel`) is the symbol that the symbol
    /// info endpoints list, and every listed symbol is upper-case letters and digits. The length
    /// cap is this crate's, well above the longest listed symbol.
    InstId, 32, "instId", "1 to 32 upper-case ASCII letters and digits",
    allow_empty = false, is_symbol_byte
);

ascii_newtype!(
    /// A venue order id: 1 to 32 ASCII digits (Bitget's are 19 today).
    ///
    /// Where the rule comes from: Bitget's cancel-order pages (`api-doc/spot/trade/Cancel-Order`,
    /// `api-doc/contract/trade/Cancel-Order` and the cancel-order channel pages) type `orderId`
    /// as a string, and the venue only ever hands out decimal ids (19 digits in every captured
    /// reply). The length cap is this crate's, with room for growth.
    OrderId, 32, "orderId", "1 to 32 ASCII digits",
    allow_empty = false, |b: u8| b.is_ascii_digit()
);

ascii_newtype!(
    /// A client order id: 1 to 64 of ASCII letters, digits and `_ : # - + . /`.
    ///
    /// Where the rule comes from: `clientOid`, the "custom order ID" of Bitget's place-order and
    /// cancel-order pages (`api-doc/spot/trade/Place-Order`, `api-doc/contract/trade/Place-Order`
    /// and their WebSocket channel pages), whose documented characters are letters, digits and
    /// `_ : # - + . /`. Every one of them is safe to write into JSON as it is: quotes,
    /// backslashes, control characters and non-ASCII bytes are refused, so nothing here ever
    /// needs escaping on the wire.
    ///
    /// ```
    /// use bitget_cancel::ClientOid;
    ///
    /// assert!(ClientOid::new("grid/btc-usdt:7").is_ok());
    /// assert!(ClientOid::new("a\"b").is_err());
    /// ```
    ClientOid, 64, "clientOid", "1 to 64 ASCII letters, digits or _ : # - + . /",
    allow_empty = false, is_client_oid_byte
);

ascii_newtype!(
    /// The request id the venue echoes back: 1 to 40 of ASCII letters, digits, `_ : # - +` and
    /// space (the venue's `^[0-9A-Za-z_:#\-+\s]*$`, less the control characters `\s` would admit).
    ///
    /// Where the rule comes from: the `id` row of Bitget's trade channel pages
    /// (`api-doc/spot/websocket/private/Cancel-Order-Channel` and its futures twin): "Length
    /// <= 40", with that pattern.
    RequestId, 40, "id", "1 to 40 ASCII letters, digits, spaces or _ : # - +",
    allow_empty = false, is_request_id_byte
);

impl InstId {
    /// No symbol: the whole product line, in the [`Cancel`] a cancel-all's outcome carries.
    pub(crate) const EMPTY: InstId = InstId(Ascii {
        bytes: [0; 32],
        len: 0,
    });
}

impl OrderId {
    /// No order: in the [`Cancel`] a cancel-all's outcome carries.
    pub(crate) const EMPTY: OrderId = OrderId(Ascii {
        bytes: [0; 32],
        len: 0,
    });
}

impl RequestId {
    /// The request id made of the decimal digits of `n`.
    ///
    /// ```
    /// assert_eq!(bitget_cancel::RequestId::from_u64(42).as_str(), "42");
    /// ```
    pub fn from_u64(n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let mut bytes = [0u8; 40];
        let len = digits.len() - at;
        bytes[..len].copy_from_slice(&digits[at..]);
        RequestId(Ascii {
            bytes,
            len: len as u8,
        })
    }

    /// An id from bytes the engine assembled itself out of characters the rule admits (its
    /// wire ids); `len` at most 40.
    pub(crate) fn from_ascii(bytes: [u8; 40], len: usize) -> Self {
        debug_assert!(len <= 40 && bytes[..len].iter().all(|&b| is_request_id_byte(b)));
        RequestId(Ascii {
            bytes,
            len: len.min(40) as u8,
        })
    }

    /// The number this id stands for, if it is 1 to 19 decimal digits.
    pub fn as_u64(&self) -> Option<u64> {
        parse_u64(self.as_str().as_bytes())
    }
}

/// Parses 1 to 19 ASCII digits into a `u64`; anything else is `None`.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

/// Which order to cancel: by the venue's order id, by the client's id, or both (the venue then
/// goes by `orderId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderRef {
    /// `params.orderId` only.
    OrderId(OrderId),
    /// `params.clientOid` only.
    ClientOid(ClientOid),
    /// Both; the venue prefers `orderId`.
    Both {
        /// The venue's order id.
        order_id: OrderId,
        /// The client's order id.
        client_oid: ClientOid,
    },
}

impl OrderRef {
    /// By the venue's order id, checked.
    pub fn order_id(value: &str) -> Result<Self, InvalidField> {
        OrderId::new(value).map(OrderRef::OrderId)
    }

    /// By the client's order id, checked.
    pub fn client_oid(value: &str) -> Result<Self, InvalidField> {
        ClientOid::new(value).map(OrderRef::ClientOid)
    }

    /// From optional fields as they come from JSON input: at least one is required.
    ///
    /// ```
    /// use bitget_cancel::OrderRef;
    /// assert!(OrderRef::from_parts(None, None).is_err());
    /// assert!(matches!(OrderRef::from_parts(Some("1"), Some("a-1"))?, OrderRef::Both { .. }));
    /// # Ok::<(), bitget_cancel::InvalidField>(())
    /// ```
    pub fn from_parts(
        order_id: Option<&str>,
        client_oid: Option<&str>,
    ) -> Result<Self, InvalidField> {
        match (order_id, client_oid) {
            (Some(o), Some(c)) => Ok(OrderRef::Both {
                order_id: OrderId::new(o)?,
                client_oid: ClientOid::new(c)?,
            }),
            (Some(o), None) => Self::order_id(o),
            (None, Some(c)) => Self::client_oid(c),
            (None, None) => Err(InvalidField {
                field: "orderId",
                rule: "orderId or clientOid is required",
            }),
        }
    }

    /// The venue's order id, if given.
    pub fn get_order_id(&self) -> Option<&OrderId> {
        match self {
            OrderRef::OrderId(o) | OrderRef::Both { order_id: o, .. } => Some(o),
            OrderRef::ClientOid(_) => None,
        }
    }

    /// The client's order id, if given.
    pub fn get_client_oid(&self) -> Option<&ClientOid> {
        match self {
            OrderRef::ClientOid(c) | OrderRef::Both { client_oid: c, .. } => Some(c),
            OrderRef::OrderId(_) => None,
        }
    }
}

/// One cancel intent: what to cancel, with an optional label of the caller's (`id`) and a
/// caller's tag.
///
/// `Copy`, about 200 bytes, no heap: it crosses the ring by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cancel {
    /// The product line.
    pub inst_type: InstType,
    /// The symbol.
    pub inst_id: InstId,
    /// The order.
    pub order: OrderRef,
    /// A label of the caller's, echoed in the outcome's `id`; never sent (every send goes out
    /// under a wire id of the engine's own). `None`: the outcome carries the wire id of the
    /// first send.
    pub id: Option<RequestId>,
    /// A value of the caller's that comes back on the outcome untouched.
    pub tag: u64,
    /// How urgent it is when cancels wait for the venue's budget: a higher priority leaves
    /// first, equal priorities in arrival order (0, the default, is the least urgent). A waiting
    /// cancel still leaves or is settled by its queue timeout, whatever its priority.
    pub priority: u8,
}

impl Cancel {
    /// A cancel with no label (its outcome carries the wire id of its first send), tag 0 and
    /// priority 0.
    pub fn new(inst_type: InstType, inst_id: InstId, order: OrderRef) -> Self {
        Cancel {
            inst_type,
            inst_id,
            order,
            id: None,
            tag: 0,
            priority: 0,
        }
    }

    /// Gives this cancel a priority: when cancels wait for the venue's budget, the highest
    /// priority leaves first, then arrival order.
    ///
    /// ```
    /// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
    /// let urgent = Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id("1")?)
    ///     .priority(200);
    /// assert_eq!(urgent.priority, 200);
    /// # Ok::<(), bitget_cancel::InvalidField>(())
    /// ```
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Labels this cancel with the caller's id: the outcome's `id` is this label. It is never
    /// sent and no reply is matched by it, so any number of intents may carry the same one.
    pub fn with_id(mut self, id: RequestId) -> Self {
        self.id = Some(id);
        self
    }

    /// Attaches a caller's tag, returned on the outcome.
    pub fn with_tag(mut self, tag: u64) -> Self {
        self.tag = tag;
        self
    }
}

/// Cancel every open order of the account on a product line, or on one symbol of it: one
/// request (futures `cancel-all-orders`, spot `cancel-symbol-order`) that goes ahead of every
/// waiting cancel.
///
/// Spot has no all-symbols form at the venue, so a spot cancel-all needs a symbol:
///
/// ```
/// use bitget_cancel::{CancelAll, InstId, InstType};
/// let line = CancelAll::new(InstType::UsdtFutures, None)?;
/// assert_eq!(line.inst_id, None);
/// let err = CancelAll::new(InstType::Spot, None).unwrap_err();
/// assert_eq!(err.field, "instId");
/// assert!(CancelAll::new(InstType::Spot, Some(InstId::new("BTCUSDT")?)).is_ok());
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CancelAll {
    /// The product line.
    pub inst_type: InstType,
    /// One symbol, or the whole product line (futures only).
    pub inst_id: Option<InstId>,
    /// The caller's id for its outcome; `None` lets the engine assign one.
    pub id: Option<RequestId>,
    /// A value of the caller's that comes back on the outcome untouched.
    pub tag: u64,
}

impl CancelAll {
    /// The rule a spot cancel-all without a symbol breaks.
    pub const SPOT_NEEDS_SYMBOL: &'static str =
        "required on SPOT: the venue cancels all spot orders one symbol at a time";

    /// A cancel-all of `inst_type` (one symbol if `inst_id` is given), tag 0; spot without a
    /// symbol is refused.
    pub fn new(inst_type: InstType, inst_id: Option<InstId>) -> Result<Self, InvalidField> {
        if !inst_type.is_futures() && inst_id.is_none() {
            return Err(InvalidField {
                field: "instId",
                rule: Self::SPOT_NEEDS_SYMBOL,
            });
        }
        Ok(CancelAll {
            inst_type,
            inst_id,
            id: None,
            tag: 0,
        })
    }

    /// Names its outcome with the caller's id.
    pub fn with_id(mut self, id: RequestId) -> Self {
        self.id = Some(id);
        self
    }

    /// Attaches a caller's tag, returned on the outcome.
    pub fn with_tag(mut self, tag: u64) -> Self {
        self.tag = tag;
        self
    }

    /// The [`Cancel`] that stands for this cancel-all on the intent ring and in its outcome:
    /// its product line, its symbol (empty for a whole product line), no order (an empty
    /// `orderId`), its tag, and the highest priority.
    pub(crate) fn as_cancel(&self) -> Cancel {
        let cancel = Cancel::new(
            self.inst_type,
            self.inst_id.unwrap_or(InstId::EMPTY),
            OrderRef::OrderId(OrderId::EMPTY),
        )
        .with_tag(self.tag)
        .priority(u8::MAX);
        match self.id {
            Some(id) => cancel.with_id(id),
            None => cancel,
        }
    }

    /// The cancel-all a [`Cancel`] made by [`Self::as_cancel`] stands for.
    pub(crate) fn from_cancel(cancel: &Cancel) -> CancelAll {
        CancelAll {
            inst_type: cancel.inst_type,
            inst_id: (!cancel.inst_id.as_str().is_empty()).then_some(cancel.inst_id),
            id: cancel.id,
            tag: cancel.tag,
        }
    }

    /// Whether a cancel of `cancel`'s order falls within this cancel-all.
    pub fn covers(&self, cancel: &Cancel) -> bool {
        cancel.inst_type == self.inst_type && self.inst_id.is_none_or(|s| s == cancel.inst_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_type_round_trips_its_wire_spelling() {
        for t in InstType::ALL {
            assert_eq!(t.as_str().parse::<InstType>(), Ok(t));
        }
        assert_eq!("spot".parse::<InstType>().unwrap_err().field, "instType");
    }

    #[test]
    fn inst_id_refuses_anything_that_could_break_json() {
        for bad in [
            "",
            "btcusdt",
            "BTC\"USDT",
            "BTC\\USDT",
            "BTC\nUSDT",
            "BTCÜSDT",
            "BTC USDT",
        ] {
            let err = InstId::new(bad).unwrap_err();
            assert_eq!(err.field, "instId", "{bad:?}");
        }
        assert!(InstId::new(&"A".repeat(32)).is_ok());
        assert!(InstId::new(&"A".repeat(33)).is_err());
    }

    #[test]
    fn order_id_takes_digits_only() {
        assert!(OrderId::new("1376695893517410304").is_ok());
        for bad in ["", "12a", "-1", "1 2", "１"] {
            assert_eq!(OrderId::new(bad).unwrap_err().field, "orderId", "{bad:?}");
        }
    }

    #[test]
    fn client_oid_takes_the_venue_charset() {
        assert!(ClientOid::new("my-order_1:#+.x").is_ok());
        assert!(ClientOid::new("a/b").is_ok());
        for bad in ["", "a\"b", "a\\b", "a b", "a\tb", "é"] {
            assert_eq!(
                ClientOid::new(bad).unwrap_err().field,
                "clientOid",
                "{bad:?}"
            );
        }
        assert!(ClientOid::new(&"a".repeat(65)).is_err());
    }

    #[test]
    fn a_client_oid_with_a_slash_is_accepted_and_stays_json_safe() {
        let oid = ClientOid::new("grid/btc/7").expect("`/` is one of the venue's characters");
        assert_eq!(oid.as_str(), "grid/btc/7");
        // JSON never needs `/` escaped, so the value goes on the wire as it is and reads back.
        let json = format!("{{\"clientOid\":\"{}\"}}", oid.as_str());
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["clientOid"], "grid/btc/7");
        for bad in ["a/\"b", "a/\\b", "a/\u{1}"] {
            assert!(ClientOid::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn request_id_follows_the_documented_pattern_without_control_characters() {
        assert!(RequestId::new("abc 1_2:3#4-5+6").is_ok());
        assert!(RequestId::new(&"x".repeat(40)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(41),
            "a\tb".into(),
            "a\"b".into(),
            "a\u{7f}".into(),
        ] {
            let err = RequestId::new(&bad).unwrap_err();
            assert_eq!(err.field, "id", "{bad:?}");
            assert!(err.to_string().contains("40"));
        }
    }

    #[test]
    fn engine_ids_round_trip_through_u64() {
        for n in [0u64, 7, 10, 1_000_000, u64::MAX / 10] {
            let id = RequestId::from_u64(n);
            assert_eq!(id.as_str(), n.to_string());
            assert_eq!(id.as_u64(), Some(n));
        }
        assert_eq!(RequestId::new("12a").unwrap().as_u64(), None);
    }

    #[test]
    fn order_ref_needs_at_least_one_id() {
        let err = OrderRef::from_parts(None, None).unwrap_err();
        assert!(err.rule.contains("required"));
        let both = OrderRef::from_parts(Some("1"), Some("c")).unwrap();
        assert_eq!(both.get_order_id().unwrap().as_str(), "1");
        assert_eq!(both.get_client_oid().unwrap().as_str(), "c");
    }
}
