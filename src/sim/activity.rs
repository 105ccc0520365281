//! What the venue saw beyond single cancels: subscriptions, pushes, fills, batches, cancel-alls,
//! order queries, rate-limit refusals per endpoint and countdown arms, so a test can assert, for
//! example, that no limit was exceeded at the venue.

use std::collections::BTreeMap;
use std::fmt;

use crate::intent::InstType;

/// An endpoint with a rate limit of its own ([`SimLimits`](super::SimLimits)), as the venue
/// counts it: WebSocket and REST together where they share a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// V2 spot `cancel-order`, WebSocket and REST.
    SpotCancelOrder,
    /// V2 futures `cancel-order`, WebSocket and REST (every futures product line).
    FuturesCancelOrder,
    /// `POST /api/v2/spot/trade/batch-cancel-order`.
    SpotBatchCancel,
    /// `POST /api/v2/mix/order/batch-cancel-orders`.
    FuturesBatchCancel,
    /// `POST /api/v2/spot/trade/cancel-symbol-order`.
    SpotCancelSymbol,
    /// `POST /api/v2/mix/order/cancel-all-orders`.
    FuturesCancelAll,
    /// `GET /api/v2/spot/trade/orderInfo`.
    SpotOrderInfo,
    /// `GET /api/v2/mix/order/detail`.
    FuturesOrderDetail,
    /// V3 `cancel-order`, WebSocket and REST.
    V3CancelOrder,
    /// V3 batch cancels: WebSocket `batch-cancel` and REST `cancel-batch`.
    V3CancelBatch,
    /// `POST /api/v3/trade/cancel-symbol-order`.
    V3CancelSymbol,
    /// `GET /api/v3/trade/order-info`.
    V3OrderInfo,
    /// `POST /api/v3/trade/countdown-cancel-all`.
    V3Countdown,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 13] = [
        Endpoint::SpotCancelOrder,
        Endpoint::FuturesCancelOrder,
        Endpoint::SpotBatchCancel,
        Endpoint::FuturesBatchCancel,
        Endpoint::SpotCancelSymbol,
        Endpoint::FuturesCancelAll,
        Endpoint::SpotOrderInfo,
        Endpoint::FuturesOrderDetail,
        Endpoint::V3CancelOrder,
        Endpoint::V3CancelBatch,
        Endpoint::V3CancelSymbol,
        Endpoint::V3OrderInfo,
        Endpoint::V3Countdown,
    ];

    /// A short name, e.g. `spot cancel-order`.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::SpotCancelOrder => "spot cancel-order",
            Endpoint::FuturesCancelOrder => "futures cancel-order",
            Endpoint::SpotBatchCancel => "spot batch-cancel-order",
            Endpoint::FuturesBatchCancel => "futures batch-cancel-orders",
            Endpoint::SpotCancelSymbol => "spot cancel-symbol-order",
            Endpoint::FuturesCancelAll => "futures cancel-all-orders",
            Endpoint::SpotOrderInfo => "spot orderInfo",
            Endpoint::FuturesOrderDetail => "futures order detail",
            Endpoint::V3CancelOrder => "v3 cancel-order",
            Endpoint::V3CancelBatch => "v3 cancel-batch",
            Endpoint::V3CancelSymbol => "v3 cancel-symbol-order",
            Endpoint::V3OrderInfo => "v3 order-info",
            Endpoint::V3Countdown => "v3 countdown-cancel-all",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A subscription request the venue answered (or was told to ignore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The connection it came on (the numbers of [`ReceivedFrame::conn`](super::ReceivedFrame::conn)).
    pub conn: u64,
    /// The subscribed `arg`, as JSON text.
    pub arg: String,
    /// `None` when acknowledged (or ignored by a fault), else the code it was refused with.
    pub refused: Option<u32>,
}

/// A batch cancel request that reached the book (WebSocket or REST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    /// Which endpoint carried it.
    pub endpoint: Endpoint,
    /// The account.
    pub uid: u64,
    /// How many entries it had.
    pub size: usize,
    /// Entries that cancelled their order.
    pub cancelled: usize,
    /// Whether it named orders by `orderId` (else by `clientOid`).
    pub by_order_id: bool,
}

/// A cancel-all request the venue accepted (spot `cancel-symbol-order`, futures
/// `cancel-all-orders`, V3 `cancel-symbol-order`) or a countdown that ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAllRecord {
    /// Which endpoint (the countdown's for a countdown that ran out).
    pub endpoint: Endpoint,
    /// The account.
    pub uid: u64,
    /// The product line it covered; `None` for every one (countdown).
    pub inst_type: Option<InstType>,
    /// The symbol it covered, if it named one.
    pub symbol: Option<String>,
    /// Orders it took off the book (for spot's asynchronous one: once it ran).
    pub cancelled: usize,
}

/// A countdown (dead man's switch) set or turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountdownArm {
    /// The account.
    pub uid: u64,
    /// Seconds asked for; 0 turns it off.
    pub seconds: u64,
    /// When, on [`crate::clock::monotonic_ns`].
    pub at_ns: u64,
}

/// What the venue saw beyond single cancels ([`SimVenue::activity`](super::SimVenue::activity)).
/// The lists keep the newest [`SimConfig::record_limit`](super::SimConfig::record_limit) entries
/// each; the counters count everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Subscription requests answered, oldest first.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Order pushes handed to a connection's socket (one per connection it went to), counted
    /// just before the write (or before a [`Faults::coalesce`](super::Faults::coalesce) batch
    /// holds it).
    pub pushes_sent: u64,
    /// Order pushes a fault lost (never sent), or still waiting when their connection ended.
    pub pushes_lost: u64,
    /// Fills (scripted, or a fault's fill before a cancel).
    pub fills: u64,
    /// Batch cancel requests that reached the book, oldest first.
    pub batches: Vec<BatchRecord>,
    /// Cancel-all requests accepted and countdowns that ran out, oldest first.
    pub cancel_alls: Vec<CancelAllRecord>,
    /// Order queries answered (found or not), per endpoint.
    pub order_queries: BTreeMap<Endpoint, u64>,
    /// Requests refused for a rate limit, per endpoint.
    pub rate_limited: BTreeMap<Endpoint, u64>,
    /// Countdown requests accepted, oldest first.
    pub countdown_arms: Vec<CountdownArm>,
    /// Requests refused for the account's mode (40084 on V3 for a classic key, 40085 on V2 for
    /// a unified one).
    pub mode_refusals: u64,
}

impl Activity {
    /// Requests refused for a rate limit, every endpoint together: 0 means no limit was
    /// exceeded at the venue.
    pub fn rate_limited_total(&self) -> u64 {
        self.rate_limited.values().sum()
    }

    /// Order queries answered on one endpoint.
    pub fn order_queries_on(&self, endpoint: Endpoint) -> u64 {
        self.order_queries.get(&endpoint).copied().unwrap_or(0)
    }
}

/// Appends `item`, dropping the oldest items beyond `limit` (0 keeps nothing).
pub(super) fn push_bounded<T>(list: &mut Vec<T>, limit: usize, item: T) {
    if limit == 0 {
        return;
    }
    if list.len() >= limit {
        let excess = list.len() + 1 - limit;
        list.drain(..excess);
    }
    list.push(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_only_the_newest_entries() {
        let mut list = vec![1, 2, 3];
        push_bounded(&mut list, 2, 4);
        assert_eq!(list, [3, 4]);
        push_bounded(&mut list, 0, 5);
        assert_eq!(list, [3, 4], "0 keeps nothing new");
    }
}
