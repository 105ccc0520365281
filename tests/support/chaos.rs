//! The fault-injection suite's checker: every intent gets exactly one outcome, with the status the
//! fault calls for, and the engine holds nothing once they are all in.
//!
//! Used together with `support/engine.rs`, declared as `support` next to it:
//!
//! ```ignore
//! #[path = "support/engine.rs"]
//! mod support;
//! #[path = "support/chaos.rs"]
//! mod chaos;
//! ```
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bitget_cancel::engine::{ConfigBuilder, Handle, ReconnectBackoff, Stats};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{Faults, Opcode, SimVenue};
use bitget_cancel::{Cancel, InstType, Outcome, RequestId};

use crate::support::{by_order_id, config_for};

/// How long [`Tally::settle`] waits for the last outcome: longer than any queue or ack timeout
/// the suite configures, plus a reconnect. A safety net that fails the test, never a bound on
/// how fast the engine must be.
pub const SETTLE_PATIENCE: Duration = Duration::from_secs(20);

/// An engine configuration for fault tests: the park idle strategy, reconnects from 20 ms
/// doubling up to 100 ms, and an ack timeout long enough (2 s) that only the tests about
/// timeouts ever meet it.
pub fn chaos_config(venue: &SimVenue) -> ConfigBuilder {
    config_for(venue)
        .ack_timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(2))
        .reconnect(ReconnectBackoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            reset_after: Duration::from_secs(30),
        })
}

/// Every intent one test submits, and the outcomes that came back for them.
#[derive(Debug)]
pub struct Tally<'h> {
    handle: &'h Handle,
    /// Request ids in submission order.
    submitted: Vec<RequestId>,
    ids: HashSet<RequestId>,
    settled: HashMap<RequestId, Outcome>,
    /// The order each intent cancels (its `orderId` or `clientOid`): how its sends are found
    /// on the wire, whatever wire id each went out under.
    orders: HashMap<RequestId, String>,
}

impl<'h> Tally<'h> {
    pub fn new(handle: &'h Handle) -> Self {
        Tally {
            handle,
            submitted: Vec::new(),
            ids: HashSet::new(),
            settled: HashMap::new(),
            orders: HashMap::new(),
        }
    }

    /// Submits one intent; the engine must accept it.
    pub fn submit(&mut self, cancel: Cancel) -> RequestId {
        let id = self
            .handle
            .cancel(cancel)
            .unwrap_or_else(|e| panic!("the engine refused an intent: {e}"));
        assert!(self.ids.insert(id), "request id {id} was handed out twice");
        self.submitted.push(id);
        let order = match cancel.order.get_order_id() {
            Some(order_id) => order_id.as_str().to_owned(),
            None => cancel
                .order
                .get_client_oid()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
        };
        self.orders.insert(id, order);
        id
    }

    /// The connections (numbered by the venue from 1) on which the venue received a cancel
    /// request of intent `id`, each send in order, whatever wire id it went out under.
    pub fn sends(&self, venue: &SimVenue, id: RequestId) -> Vec<u64> {
        let order = &self.orders[&id];
        venue
            .received()
            .iter()
            .filter(|f| f.opcode == Opcode::Text)
            .filter(|f| cancelled_order(&f.text).as_deref() == Some(order.as_str()))
            .map(|f| f.conn)
            .collect()
    }

    /// Submits a cancel for each order, in order.
    pub fn submit_orders(&mut self, orders: &[bitget_cancel::sim::RestingOrder]) -> Vec<RequestId> {
        orders.iter().map(|o| self.submit(by_order_id(o))).collect()
    }

    /// Reads outcomes until every intent submitted so far has one. Fails the test on an outcome
    /// for an id never submitted, on a second outcome for an id, or when [`SETTLE_PATIENCE`]
    /// passes with some still missing (naming them).
    pub fn settle(&mut self) {
        let deadline = Instant::now() + SETTLE_PATIENCE;
        while self.settled.len() < self.submitted.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(outcome) = self.handle.outcome_timeout(left) else {
                let missing: Vec<&str> = self
                    .submitted
                    .iter()
                    .filter(|id| !self.settled.contains_key(id))
                    .map(RequestId::as_str)
                    .collect();
                panic!(
                    "no outcome within {SETTLE_PATIENCE:?} for {} intents: {missing:?}; engine {:?}",
                    missing.len(),
                    self.handle.stats()
                );
            };
            self.record(outcome);
        }
    }

    fn record(&mut self, outcome: Outcome) {
        assert!(
            self.ids.contains(&outcome.id),
            "an outcome for an intent never submitted: {outcome:?}"
        );
        if let Some(first) = self.settled.insert(outcome.id, outcome) {
            panic!(
                "a second outcome for {}: {first:?} then {outcome:?}",
                outcome.id
            );
        }
    }

    /// The outcome of `id` (settled).
    pub fn outcome(&self, id: RequestId) -> &Outcome {
        self.settled
            .get(&id)
            .unwrap_or_else(|| panic!("{id} is not settled yet"))
    }

    pub fn status(&self, id: RequestId) -> Status {
        self.outcome(id).status
    }

    /// Every settled outcome, in submission order.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.submitted
            .iter()
            .filter_map(|id| self.settled.get(id).copied())
            .collect()
    }

    /// Asserts that each of `ids` settled with `status`.
    pub fn assert_all(&self, ids: &[RequestId], status: Status) {
        for &id in ids {
            assert_eq!(self.status(id), status, "{:?}", self.outcome(id));
        }
    }

    /// How many settled outcomes satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&Status) -> bool) -> usize {
        self.settled.values().filter(|o| pred(&o.status)).count()
    }

    /// The final check, once every intent is settled: no further outcome is waiting, and the
    /// engine holds nothing. Its counters show one outcome per intent it took in, status by
    /// status the same as the ones read here (a second outcome still on its way, or one it is
    /// holding back, would show up there), so its table and buffers hold no leftover.
    pub fn finish(mut self, stats: Stats) {
        self.settle();
        if let Some(extra) = self.handle.try_outcome() {
            panic!("an outcome beyond one per intent: {extra:?}");
        }
        let total = self.submitted.len() as u64;
        let count = |pred: fn(&Status) -> bool| self.count(pred) as u64;
        assert_eq!(
            stats.intents, total,
            "intents the engine took in: {stats:?}"
        );
        assert_eq!(
            (stats.acked, stats.rejected, stats.unknown, stats.not_sent),
            (
                count(|s| *s == Status::Acked),
                count(|s| matches!(s, Status::Rejected { .. })),
                count(|s| matches!(s, Status::Unknown(_))),
                count(|s| matches!(s, Status::NotSent(_))),
            ),
            "the engine's outcome counters against the outcomes read: {stats:?}"
        );
    }
}

/// The order (`orderId`, else `clientOid`) a trade request cancels.
fn cancelled_order(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if v["op"] != "trade" {
        return None;
    }
    let params = &v["args"][0]["params"];
    params["orderId"]
        .as_str()
        .or_else(|| params["clientOid"].as_str())
        .map(str::to_owned)
}

/// The outcomes a fault that ends the connection in place of the reply to `ids[cut]` calls
/// for: the cancels answered before it acked, sent once; the one it cut and every later one
/// that went out on the same connection sent again, once, on the next connection, within their
/// ack timeout: acked if the venue had not processed the first send, else "does not exist"
/// (43001: the lost send cancelled it); a later one that first went out on the next
/// connection acked, sent once. None is unknown.
pub fn assert_cut_at(tally: &Tally<'_>, venue: &SimVenue, ids: &[RequestId], cut: usize) {
    let cut_conn = *tally
        .sends(venue, ids[cut])
        .first()
        .expect("the cancel that fired the fault reached the venue");
    for (i, &id) in ids.iter().enumerate() {
        let conns = tally.sends(venue, id);
        let outcome = tally.outcome(id);
        let lost = i >= cut && conns.first() == Some(&cut_conn);
        if lost {
            assert_eq!(conns.len(), 2, "intent #{i} {outcome:?}: sends {conns:?}");
            assert!(
                conns[1] > cut_conn,
                "again on the next connection: {conns:?}"
            );
            assert_eq!(outcome.attempts, 2, "intent #{i} {outcome:?}");
            assert!(
                matches!(
                    outcome.status,
                    Status::Acked | Status::Rejected { code: 43001, .. }
                ),
                "intent #{i} {outcome:?}"
            );
        } else {
            assert_eq!(conns.len(), 1, "intent #{i} {outcome:?}: sends {conns:?}");
            assert_eq!(outcome.status, Status::Acked, "intent #{i} {outcome:?}");
        }
    }
}

/// Waits until the engine has had `n` sessions and is live again.
pub fn wait_sessions(handle: &Handle, n: u64) {
    crate::support::wait_until(&format!("session {n} is live"), || {
        handle.stats().sessions >= n && handle.state() == bitget_cancel::engine::SessionState::Live
    });
}

/// Clears the faults, then checks that a new cancel is acked: the engine recovered.
pub fn assert_recovers(tally: &mut Tally<'_>, venue: &SimVenue) {
    venue.set_faults(Faults::none());
    let order = venue.seed_orders(InstType::Spot, "ETHUSDT", 1).remove(0);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    assert_eq!(
        tally.status(id),
        Status::Acked,
        "a cancel after the fault: {:?}",
        tally.outcome(id)
    );
}
