//! The venue's book: every order it was given, resting or final, with its fills. What a cancel
//! can find, what a query answers, what a push reports.

use std::collections::HashMap;

use super::decimal::Decimal;
use crate::intent::InstType;

/// An order resting on the simulated venue, cancellable once.
///
/// Fields are plain strings so a test can seed any value the venue could hold, including ones a
/// client would refuse to send. [`SimVenue::add_order`](super::SimVenue::add_order) gives it the
/// size [`DEFAULT_SIZE`] at the price [`DEFAULT_PRICE`] on the main account;
/// [`SimVenue::add_order_with`](super::SimVenue::add_order_with) chooses them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RestingOrder {
    /// The product line.
    pub inst_type: InstType,
    /// The symbol, e.g. `BTCUSDT`.
    pub inst_id: String,
    /// The venue's order id.
    pub order_id: String,
    /// The client's order id, if the order has one.
    pub client_oid: Option<String>,
}

/// The size of an order added without one, in the base coin.
pub const DEFAULT_SIZE: &str = "1";
/// The limit price of an order added without one: what a fill trades at unless told otherwise.
pub const DEFAULT_PRICE: &str = "100";
/// The account (UID) of the main API key ([`SimConfig::api_key`](super::SimConfig::api_key)):
/// orders added without an account rest there.
pub const MAIN_UID: u64 = 1;

/// Where an order stands, as the venue's order channel and queries report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Resting, nothing filled.
    Live,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Wholly filled (final).
    Filled,
    /// Cancelled, with or without fills before (final).
    Cancelled,
}

impl OrderStatus {
    /// Whether the order still rests (can be cancelled or filled).
    pub fn is_resting(self) -> bool {
        matches!(self, OrderStatus::Live | OrderStatus::PartiallyFilled)
    }

    /// The V2 spelling for this product line: `live`, `partially_filled`, `filled`, and
    /// `cancelled` on spot but `canceled` on futures, as the live venue writes them.
    pub fn v2_wire(self, inst_type: InstType) -> &'static str {
        match self {
            OrderStatus::Cancelled if inst_type.is_futures() => "canceled",
            other => other.v3_wire(),
        }
    }

    /// The V3 (unified account) spelling: `live`, `partially_filled`, `filled`, `cancelled`.
    pub fn v3_wire(self) -> &'static str {
        match self {
            OrderStatus::Live => "live",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

/// A snapshot of one order on the simulated venue: what its pushes and queries say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// The product line.
    pub inst_type: InstType,
    /// The symbol.
    pub inst_id: String,
    /// The venue's order id.
    pub order_id: String,
    /// The client's order id, if the order has one.
    pub client_oid: Option<String>,
    /// The account (UID) it belongs to ([`MAIN_UID`] unless added for another).
    pub uid: u64,
    /// Its size in the base coin, as the venue writes it (`"0.2"`).
    pub size: String,
    /// Its limit price.
    pub price: String,
    /// How much of it filled (`accBaseVolume`, `baseVolume`, `cumExecQty`), e.g. `"0"`, `"0.1"`.
    pub filled: String,
    /// The average price of its fills; `None` while nothing filled.
    pub price_avg: Option<String>,
    /// Where it stands.
    pub status: OrderStatus,
    /// `normal_cancel` once a cancel (single, batch, cancel-all or countdown) took it off the
    /// book; empty otherwise.
    pub cancel_reason: String,
    /// When the venue took it (`cTime`), Unix milliseconds.
    pub c_time_ms: u64,
    /// When it last changed (`uTime`), Unix milliseconds.
    pub u_time_ms: u64,
}

/// Why [`SimVenue::fill`](super::SimVenue::fill) or
/// [`SimVenue::add_order_with`](super::SimVenue::add_order_with) did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// No order with these ids is on the book.
    #[error("no such order on the book")]
    Unknown,
    /// The order is filled or cancelled already.
    #[error("the order is final ({0:?})")]
    Final(OrderStatus),
    /// A size or price that is not a plain decimal with at most ten places, or a zero size.
    #[error("{0:?} is not a positive decimal with at most ten places")]
    BadDecimal(String),
    /// More than the order has left to fill.
    #[error("fill of {fill} is more than the {left} left")]
    Overfill {
        /// The fill asked for.
        fill: String,
        /// What was left.
        left: String,
    },
}

/// Which id a request names an order by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OrderRef<'a> {
    OrderId(&'a str),
    ClientOid(&'a str),
}

impl<'a> OrderRef<'a> {
    /// The id itself.
    pub(super) fn value(self) -> &'a str {
        match self {
            OrderRef::OrderId(v) | OrderRef::ClientOid(v) => v,
        }
    }

    /// The wire name of the field: `orderId` or `clientOid`.
    pub(super) fn field(self) -> &'static str {
        match self {
            OrderRef::OrderId(_) => "orderId",
            OrderRef::ClientOid(_) => "clientOid",
        }
    }
}

/// The book's key for an order.
pub(super) type Key = (InstType, String, String);

#[derive(Debug, Clone)]
pub(super) struct Order {
    seq: u64,
    uid: u64,
    inst_type: InstType,
    inst_id: String,
    order_id: String,
    client_oid: Option<String>,
    size: Decimal,
    price: Decimal,
    filled: Decimal,
    notional: u128,
    status: OrderStatus,
    cancelled_by_request: bool,
    c_time_ms: u64,
    u_time_ms: u64,
}

impl Order {
    pub(super) fn uid(&self) -> u64 {
        self.uid
    }

    pub(super) fn inst_type(&self) -> InstType {
        self.inst_type
    }

    pub(super) fn inst_id(&self) -> &str {
        &self.inst_id
    }

    pub(super) fn key(&self) -> Key {
        (self.inst_type, self.inst_id.clone(), self.order_id.clone())
    }

    pub(super) fn state(&self) -> OrderState {
        OrderState {
            inst_type: self.inst_type,
            inst_id: self.inst_id.clone(),
            order_id: self.order_id.clone(),
            client_oid: self.client_oid.clone(),
            uid: self.uid,
            size: self.size.to_string(),
            price: self.price.to_string(),
            filled: self.filled.to_string(),
            price_avg: Decimal::average(self.notional, self.filled).map(|p| p.to_string()),
            status: self.status,
            cancel_reason: if self.cancelled_by_request {
                "normal_cancel".to_owned()
            } else {
                String::new()
            },
            c_time_ms: self.c_time_ms,
            u_time_ms: self.u_time_ms,
        }
    }
}

/// Every order by (product line, symbol, order id), with an index by client order id (the
/// latest order that used it).
#[derive(Debug, Default)]
pub(super) struct Book {
    orders: HashMap<Key, Order>,
    by_client_oid: HashMap<Key, String>,
    generated: u64,
    seq: u64,
}

/// The order ids the generator starts from: 19 digits, like the venue's.
const FIRST_GENERATED_ID: u64 = 1_376_695_893_517_410_304;

impl Book {
    /// Adds `order` as live; an order with the same order id, or a resting order with the same
    /// client order id, is replaced.
    pub(super) fn add(
        &mut self,
        order: RestingOrder,
        uid: u64,
        size: Decimal,
        price: Decimal,
        now_ms: u64,
    ) {
        let RestingOrder {
            inst_type,
            inst_id,
            order_id,
            client_oid,
        } = order;
        self.remove(&(inst_type, inst_id.clone(), order_id.clone()));
        if let Some(oid) = &client_oid {
            let oid_key = (inst_type, inst_id.clone(), oid.clone());
            if let Some(previous) = self.by_client_oid.get(&oid_key).cloned() {
                let previous = (inst_type, inst_id.clone(), previous);
                if self
                    .orders
                    .get(&previous)
                    .is_some_and(|o| o.status.is_resting())
                {
                    self.remove(&previous);
                }
            }
            self.by_client_oid.insert(oid_key, order_id.clone());
        }
        self.seq += 1;
        let key = (inst_type, inst_id.clone(), order_id.clone());
        self.orders.insert(
            key,
            Order {
                seq: self.seq,
                uid,
                inst_type,
                inst_id,
                order_id,
                client_oid,
                size,
                price,
                filled: Decimal::ZERO,
                notional: 0,
                status: OrderStatus::Live,
                cancelled_by_request: false,
                c_time_ms: now_ms,
                u_time_ms: now_ms,
            },
        );
    }

    /// Generates `n` orders with fresh 19-digit order ids and client ids `sim-<n>`, adds them and
    /// returns them.
    pub(super) fn generate(
        &mut self,
        inst_type: InstType,
        inst_id: &str,
        n: usize,
        uid: u64,
        now_ms: u64,
    ) -> Vec<RestingOrder> {
        let size = Decimal::parse(DEFAULT_SIZE).unwrap_or_default();
        let price = Decimal::parse(DEFAULT_PRICE).unwrap_or_default();
        (0..n)
            .map(|_| {
                self.generated += 1;
                let order = RestingOrder {
                    inst_type,
                    inst_id: inst_id.to_owned(),
                    order_id: (FIRST_GENERATED_ID + self.generated).to_string(),
                    client_oid: Some(format!("sim-{}", self.generated)),
                };
                self.add(order.clone(), uid, size, price, now_ms);
                order
            })
            .collect()
    }

    /// Whether the order with this venue id rests.
    pub(super) fn contains(&self, inst_type: InstType, inst_id: &str, order_id: &str) -> bool {
        self.orders
            .get(&(inst_type, inst_id.to_owned(), order_id.to_owned()))
            .is_some_and(|o| o.status.is_resting())
    }

    /// How many orders rest.
    pub(super) fn len(&self) -> usize {
        self.orders
            .values()
            .filter(|o| o.status.is_resting())
            .count()
    }

    /// The key of the order `by` names on this product line and symbol, whatever its state.
    pub(super) fn locate(
        &self,
        inst_type: InstType,
        inst_id: &str,
        by: OrderRef<'_>,
    ) -> Option<Key> {
        let key = match by {
            OrderRef::OrderId(id) => (inst_type, inst_id.to_owned(), id.to_owned()),
            OrderRef::ClientOid(oid) => {
                let id =
                    self.by_client_oid
                        .get(&(inst_type, inst_id.to_owned(), oid.to_owned()))?;
                (inst_type, inst_id.to_owned(), id.clone())
            }
        };
        self.orders.contains_key(&key).then_some(key)
    }

    /// The key of the order of account `uid` that `by` names on any symbol of the product lines
    /// `inst_types` (the unified account's requests name no symbol); a resting order first, else
    /// the latest.
    pub(super) fn locate_any_symbol(
        &self,
        uid: u64,
        inst_types: &[InstType],
        by: OrderRef<'_>,
    ) -> Option<Key> {
        self.orders
            .values()
            .filter(|o| o.uid == uid && inst_types.contains(&o.inst_type))
            .filter(|o| match by {
                OrderRef::OrderId(id) => o.order_id == id,
                OrderRef::ClientOid(oid) => o.client_oid.as_deref() == Some(oid),
            })
            .max_by_key(|o| (o.status.is_resting(), o.seq))
            .map(Order::key)
    }

    pub(super) fn get(&self, key: &Key) -> Option<&Order> {
        self.orders.get(key)
    }

    /// Takes a resting order off the book at a cancel's request; `None` when it is not resting.
    pub(super) fn cancel(&mut self, key: &Key, now_ms: u64) -> Option<OrderState> {
        let order = self.orders.get_mut(key)?;
        if !order.status.is_resting() {
            return None;
        }
        order.status = OrderStatus::Cancelled;
        order.cancelled_by_request = true;
        order.u_time_ms = now_ms;
        Some(order.state())
    }

    /// Fills `size` of a resting order (`None`: all that is left) at `price` (`None`: its own
    /// price).
    pub(super) fn fill(
        &mut self,
        key: &Key,
        size: Option<Decimal>,
        price: Option<Decimal>,
        now_ms: u64,
    ) -> Result<OrderState, OrderError> {
        let order = self.orders.get_mut(key).ok_or(OrderError::Unknown)?;
        if !order.status.is_resting() {
            return Err(OrderError::Final(order.status));
        }
        let left = order.size.saturating_sub(order.filled);
        let size = size.unwrap_or(left);
        if size.is_zero() {
            return Err(OrderError::BadDecimal(size.to_string()));
        }
        if size > left {
            return Err(OrderError::Overfill {
                fill: size.to_string(),
                left: left.to_string(),
            });
        }
        let price = price.unwrap_or(order.price);
        let notional = size
            .notional(price)
            .and_then(|n| order.notional.checked_add(n))
            .ok_or_else(|| OrderError::BadDecimal(price.to_string()))?;
        order.filled = order.filled.checked_add(size).unwrap_or(order.size);
        order.notional = notional;
        order.status = if order.filled >= order.size {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        order.u_time_ms = now_ms;
        Ok(order.state())
    }

    /// The keys of the resting orders that `keep` keeps, oldest first.
    pub(super) fn resting_where(&self, keep: impl Fn(&Order) -> bool) -> Vec<Key> {
        let mut found: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.status.is_resting() && keep(o))
            .collect();
        found.sort_unstable_by_key(|o| o.seq);
        found.into_iter().map(Order::key).collect()
    }

    /// Every order, oldest first.
    pub(super) fn states(&self) -> Vec<OrderState> {
        let mut all: Vec<&Order> = self.orders.values().collect();
        all.sort_unstable_by_key(|o| o.seq);
        all.into_iter().map(Order::state).collect()
    }

    fn remove(&mut self, key: &Key) {
        if let Some(order) = self.orders.remove(key)
            && let Some(oid) = order.client_oid
        {
            let oid_key = (key.0, key.1.clone(), oid);
            if self.by_client_oid.get(&oid_key) == Some(&key.2) {
                self.by_client_oid.remove(&oid_key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, oid: Option<&str>) -> RestingOrder {
        RestingOrder {
            inst_type: InstType::Spot,
            inst_id: "BTCUSDT".into(),
            order_id: id.into(),
            client_oid: oid.map(str::to_owned),
        }
    }

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn book_of(orders: &[RestingOrder]) -> Book {
        let mut book = Book::default();
        for o in orders {
            book.add(o.clone(), MAIN_UID, d("1"), d("100"), 1);
        }
        book
    }

    fn cancel(book: &mut Book, by: OrderRef<'_>) -> bool {
        book.locate(InstType::Spot, "BTCUSDT", by)
            .and_then(|key| book.cancel(&key, 2))
            .is_some()
    }

    #[test]
    fn an_order_is_cancellable_once_by_either_id() {
        let mut book = book_of(&[order("1", Some("a")), order("2", Some("b"))]);
        assert!(cancel(&mut book, OrderRef::OrderId("1")));
        assert!(!cancel(&mut book, OrderRef::OrderId("1")));
        assert!(!cancel(&mut book, OrderRef::ClientOid("a")));
        assert!(cancel(&mut book, OrderRef::ClientOid("b")));
        assert!(!book.contains(InstType::Spot, "BTCUSDT", "2"));
        assert_eq!(book.len(), 0);
        let states = book.states();
        assert_eq!(states.len(), 2, "final orders stay for queries");
        assert!(states.iter().all(|s| s.status == OrderStatus::Cancelled));
        assert_eq!(states[0].cancel_reason, "normal_cancel");
        assert_eq!((states[0].c_time_ms, states[0].u_time_ms), (1, 2));
    }

    #[test]
    fn orders_are_scoped_by_product_line_and_symbol() {
        let book = book_of(&[order("1", None)]);
        assert!(
            book.locate(InstType::UsdtFutures, "BTCUSDT", OrderRef::OrderId("1"))
                .is_none()
        );
        assert!(
            book.locate(InstType::Spot, "ETHUSDT", OrderRef::OrderId("1"))
                .is_none()
        );
        assert!(book.contains(InstType::Spot, "BTCUSDT", "1"));
    }

    #[test]
    fn re_adding_an_order_replaces_it_without_leaving_stale_client_ids() {
        let mut book = book_of(&[order("1", Some("a")), order("1", Some("b"))]);
        assert!(!cancel(&mut book, OrderRef::ClientOid("a")));
        assert!(cancel(&mut book, OrderRef::ClientOid("b")));
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn a_client_oid_names_the_latest_order_once_the_first_is_final() {
        let mut book = book_of(&[order("1", Some("a"))]);
        assert!(cancel(&mut book, OrderRef::ClientOid("a")));
        book.add(order("2", Some("a")), MAIN_UID, d("1"), d("1"), 3);
        let key = book
            .locate(InstType::Spot, "BTCUSDT", OrderRef::ClientOid("a"))
            .unwrap();
        assert_eq!(key.2, "2");
        assert!(
            book.locate(InstType::Spot, "BTCUSDT", OrderRef::OrderId("1"))
                .is_some()
        );
    }

    #[test]
    fn fills_move_an_order_to_partially_filled_then_filled_with_an_average_price() {
        let mut book = Book::default();
        book.add(order("1", None), MAIN_UID, d("0.3"), d("100"), 1);
        let key = book
            .locate(InstType::Spot, "BTCUSDT", OrderRef::OrderId("1"))
            .unwrap();
        let first = book.fill(&key, Some(d("0.1")), None, 2).unwrap();
        assert_eq!(first.status, OrderStatus::PartiallyFilled);
        assert_eq!(
            (first.filled.as_str(), first.price_avg.as_deref()),
            ("0.1", Some("100"))
        );
        assert_eq!(
            book.fill(&key, Some(d("0.3")), None, 3),
            Err(OrderError::Overfill {
                fill: "0.3".into(),
                left: "0.2".into()
            })
        );
        let last = book.fill(&key, None, Some(d("103")), 4).unwrap();
        assert_eq!(last.status, OrderStatus::Filled);
        assert_eq!(
            (last.filled.as_str(), last.price_avg.as_deref()),
            ("0.3", Some("102"))
        );
        assert_eq!(last.cancel_reason, "");
        assert_eq!(
            book.fill(&key, None, None, 5),
            Err(OrderError::Final(OrderStatus::Filled))
        );
        assert_eq!(
            book.cancel(&key, 5),
            None,
            "a filled order cannot be cancelled"
        );
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn the_unified_lookup_needs_no_symbol_but_keeps_accounts_apart() {
        let mut book = Book::default();
        book.add(order("1", Some("a")), 7, d("1"), d("1"), 1);
        let spot = [InstType::Spot];
        assert!(
            book.locate_any_symbol(7, &spot, OrderRef::ClientOid("a"))
                .is_some()
        );
        assert!(
            book.locate_any_symbol(MAIN_UID, &spot, OrderRef::OrderId("1"))
                .is_none()
        );
        assert!(
            book.locate_any_symbol(7, &[InstType::UsdtFutures], OrderRef::OrderId("1"))
                .is_none()
        );
    }

    #[test]
    fn generated_orders_have_unique_venue_shaped_ids() {
        let mut book = Book::default();
        let first = book.generate(InstType::UsdtFutures, "ETHUSDT", 3, MAIN_UID, 1);
        let second = book.generate(InstType::UsdtFutures, "ETHUSDT", 2, MAIN_UID, 1);
        let mut ids: Vec<_> = first
            .iter()
            .chain(&second)
            .map(|o| o.order_id.clone())
            .collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()))
        );
        ids.dedup();
        assert_eq!(ids.len(), 5);
        assert_eq!(book.len(), 5);
        assert!(first.iter().all(|o| o.client_oid.is_some()));
        assert_eq!(book.states()[0].size, DEFAULT_SIZE);
    }
}
