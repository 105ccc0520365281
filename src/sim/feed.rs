//! Order pushes: each connection's subscriptions, the texts of the V2 `orders` channel and the
//! V3 `order` topic, and the pushes waiting for a connection's thread to write them.
//!
//! A change on the book (a fill, a cancel by any path) is published while the book is locked, so
//! the pushes of one order leave in the order its changes happened. Each connection of the
//! order's account that subscribed gets its own copy in its [`Feed`]; its thread writes it once
//! due (at once on the connection that made the change; within a tick, about 20 ms, on the
//! others).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::book::OrderState;
use super::lock;
use crate::intent::InstType;

/// One V2 `orders` subscription: its product line, its symbol (`None` for `default`: every
/// symbol) and its `arg` as the client wrote it (echoed in pushes).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct V2Subscription {
    pub(super) inst_type: InstType,
    pub(super) symbol: Option<String>,
    pub(super) arg: Value,
}

#[derive(Debug, Default)]
struct State {
    v2: Vec<V2Subscription>,
    v3: bool,
    pending: VecDeque<(Instant, String)>,
}

/// One connection's subscriptions and pending pushes.
#[derive(Debug, Default)]
pub(super) struct Feed {
    state: Mutex<State>,
}

impl Feed {
    /// Adds a V2 subscription (one per product line and symbol: a repeat replaces it).
    pub(super) fn subscribe_v2(&self, sub: V2Subscription) {
        let mut state = lock(&self.state);
        state
            .v2
            .retain(|s| (s.inst_type, &s.symbol) != (sub.inst_type, &sub.symbol));
        state.v2.push(sub);
    }

    /// Removes a V2 subscription; false when there was none.
    pub(super) fn unsubscribe_v2(&self, inst_type: InstType, symbol: Option<&str>) -> bool {
        let mut state = lock(&self.state);
        let before = state.v2.len();
        state
            .v2
            .retain(|s| (s.inst_type, s.symbol.as_deref()) != (inst_type, symbol));
        state.v2.len() != before
    }

    pub(super) fn subscribe_v3(&self, on: bool) {
        lock(&self.state).v3 = on;
    }

    /// The push text for `order` on this connection, if it subscribed to it.
    pub(super) fn push_text(
        &self,
        order: &OrderState,
        v3_conn: bool,
        ts_ms: u64,
    ) -> Option<String> {
        let state = lock(&self.state);
        if v3_conn {
            return state.v3.then(|| v3_push(order, ts_ms));
        }
        let sub = state.v2.iter().find(|s| {
            s.inst_type == order.inst_type
                && s.symbol.as_deref().is_none_or(|sym| sym == order.inst_id)
        })?;
        Some(v2_push(&sub.arg, order, ts_ms))
    }

    /// Queues a push, written once `due`.
    pub(super) fn post(&self, due: Instant, text: String) {
        let mut state = lock(&self.state);
        // Keeps the order of posting: a push never overtakes an earlier one.
        let due = state.pending.back().map_or(due, |(last, _)| due.max(*last));
        state.pending.push_back((due, text));
    }

    /// The pushes due by `now`, oldest first.
    pub(super) fn take_due(&self, now: Instant) -> Vec<String> {
        let mut state = lock(&self.state);
        let mut due = Vec::new();
        while state.pending.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, text)) = state.pending.pop_front() {
                due.push(text);
            }
        }
        due
    }

    /// When the next push is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        lock(&self.state).pending.front().map(|(at, _)| *at)
    }

    /// Drops what waits (the connection ends) and says how many.
    pub(super) fn clear(&self) -> usize {
        let mut state = lock(&self.state);
        state.v2.clear();
        state.v3 = false;
        std::mem::take(&mut state.pending).len()
    }
}

/// The V3 category of a product line: `spot`, `usdt-futures`, ...
pub(super) fn category(inst_type: InstType) -> &'static str {
    match inst_type {
        InstType::Spot => "spot",
        InstType::UsdtFutures => "usdt-futures",
        InstType::CoinFutures => "coin-futures",
        InstType::UsdcFutures => "usdc-futures",
    }
}

/// A V2 `orders` entry, keys in the live venue's (alphabetical) order. `priceAvg` is left out on
/// futures while nothing filled (as on the live venue for a cancelled futures order), `"0"` on
/// spot; `clientOid` is left out for an order without one.
pub(super) fn v2_entry(order: &OrderState) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("accBaseVolume".into(), order.filled.clone().into());
    entry.insert("cTime".into(), order.c_time_ms.to_string().into());
    entry.insert("cancelReason".into(), order.cancel_reason.clone().into());
    if let Some(oid) = &order.client_oid {
        entry.insert("clientOid".into(), oid.clone().into());
    }
    entry.insert("instId".into(), order.inst_id.clone().into());
    entry.insert("orderId".into(), order.order_id.clone().into());
    match (&order.price_avg, order.inst_type.is_futures()) {
        (Some(avg), _) => {
            entry.insert("priceAvg".into(), avg.clone().into());
        }
        (None, false) => {
            entry.insert("priceAvg".into(), "0".into());
        }
        (None, true) => {}
    }
    entry.insert("price".into(), order.price.clone().into());
    entry.insert("size".into(), order.size.clone().into());
    entry.insert(
        "status".into(),
        order.status.v2_wire(order.inst_type).into(),
    );
    entry.insert("uTime".into(), order.u_time_ms.to_string().into());
    entry
}

/// `{"action":"snapshot","arg":ARG,"data":[ENTRY],"ts":TS}`.
pub(super) fn v2_push(arg: &Value, order: &OrderState, ts_ms: u64) -> String {
    json!({
        "action": "snapshot",
        "arg": arg,
        "data": [Value::Object(v2_entry(order))],
        "ts": ts_ms,
    })
    .to_string()
}

/// A V3 `order` entry: `category, symbol, orderId, clientOid, qty, cumExecQty, avgPrice`
/// (`"0"` while nothing filled), `orderStatus` (`cancelled` spelled so on every category),
/// `cancelReason`, `createdTime`, `updatedTime`.
pub(super) fn v3_entry(order: &OrderState) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert(
        "avgPrice".into(),
        order.price_avg.clone().unwrap_or_else(|| "0".into()).into(),
    );
    entry.insert("cancelReason".into(), order.cancel_reason.clone().into());
    entry.insert("category".into(), category(order.inst_type).into());
    if let Some(oid) = &order.client_oid {
        entry.insert("clientOid".into(), oid.clone().into());
    }
    entry.insert("createdTime".into(), order.c_time_ms.to_string().into());
    entry.insert("cumExecQty".into(), order.filled.clone().into());
    entry.insert("orderId".into(), order.order_id.clone().into());
    entry.insert("orderStatus".into(), order.status.v3_wire().into());
    entry.insert("price".into(), order.price.clone().into());
    entry.insert("qty".into(), order.size.clone().into());
    entry.insert("symbol".into(), order.inst_id.clone().into());
    entry.insert("updatedTime".into(), order.u_time_ms.to_string().into());
    entry
}

/// `{"action":"snapshot","arg":{"instType":"UTA","topic":"order"},"data":[ENTRY],"ts":TS}`.
pub(super) fn v3_push(order: &OrderState, ts_ms: u64) -> String {
    json!({
        "action": "snapshot",
        "arg": {"instType": "UTA", "topic": "order"},
        "data": [Value::Object(v3_entry(order))],
        "ts": ts_ms,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::book::OrderStatus;

    fn state(
        inst_type: InstType,
        status: OrderStatus,
        filled: &str,
        avg: Option<&str>,
    ) -> OrderState {
        OrderState {
            inst_type,
            inst_id: "LTCUSDT".into(),
            order_id: "1286956078633488402".into(),
            client_oid: Some("1286956078637682690".into()),
            uid: 1,
            size: "0.2".into(),
            price: "100".into(),
            filled: filled.into(),
            price_avg: avg.map(str::to_owned),
            status,
            cancel_reason: String::new(),
            c_time_ms: 1742560160311,
            u_time_ms: 1742560160311,
        }
    }

    #[test]
    fn a_live_futures_push_has_the_live_venue_fields() {
        let arg = json!({"instType":"USDT-FUTURES","channel":"orders","instId":"default"});
        let order = state(InstType::UsdtFutures, OrderStatus::Live, "0", None);
        let push: Value = serde_json::from_str(&v2_push(&arg, &order, 1742560160318)).unwrap();
        assert_eq!(
            push,
            json!({"action":"snapshot","arg":arg,"data":[{"accBaseVolume":"0","cTime":"1742560160311",
                "cancelReason":"","clientOid":"1286956078637682690","instId":"LTCUSDT","orderId":
                "1286956078633488402","price":"100","size":"0.2","status":"live","uTime":"1742560160311"}],
                "ts":1742560160318u64})
        );
    }

    #[test]
    fn cancelled_is_spelled_per_product_line_and_futures_leave_out_an_empty_average() {
        let futures = v2_entry(&state(
            InstType::UsdtFutures,
            OrderStatus::Cancelled,
            "0",
            None,
        ));
        assert_eq!(futures["status"], "canceled");
        assert!(!futures.contains_key("priceAvg"));
        let spot = v2_entry(&state(InstType::Spot, OrderStatus::Cancelled, "0", None));
        assert_eq!(
            (spot["status"].as_str(), spot["priceAvg"].as_str()),
            (Some("cancelled"), Some("0"))
        );
        let v3 = v3_entry(&state(
            InstType::UsdtFutures,
            OrderStatus::Filled,
            "0.2",
            Some("83131.5"),
        ));
        assert_eq!(
            (
                v3["orderStatus"].as_str(),
                v3["cumExecQty"].as_str(),
                v3["avgPrice"].as_str()
            ),
            (Some("filled"), Some("0.2"), Some("83131.5"))
        );
        assert_eq!(v3["category"], "usdt-futures");
    }

    #[test]
    fn a_feed_keeps_posting_order_and_hands_out_only_due_pushes() {
        let feed = Feed::default();
        let now = Instant::now();
        feed.post(now + std::time::Duration::from_secs(60), "late".into());
        feed.post(now, "after".into());
        assert!(feed.take_due(now).is_empty(), "never overtakes");
        assert_eq!(feed.clear(), 2);
    }
}
