//! Cancel-alls: every open order of a product line or of one symbol, one REST request each, in
//! the account's dialect: V2 (classic) futures `cancel-all-orders` or spot
//! `cancel-symbol-order`; V3 (unified) `cancel-symbol-order` for every category.
//!
//! A cancel-all goes first: it leaves on the REST connection ahead of batches and single
//! cancels, under its endpoint's own budget (V2: 5 a second on spot, 10 on futures; V3: 5 for
//! every category), and waits only for the connection to be free. Cancels of its scope already
//! waiting, or taken in after it, are still sent: a cancel is safe to repeat, and the venue
//! answers one whose order the cancel-all took with "the order does not exist". Its outcome is
//! acked or rejected with the counts of the venue's lists where the reply has them (V2 spot's
//! is asynchronous: acked means accepted). No reply, a transient refusal, or a refusal for the
//! account's kind (which switches the dialect) sends it again (it is safe to repeat) while it
//! has sends and time left, else it is unknown (or rejected with the code); no REST
//! connection, or a queue timeout, is not sent.
//!
//! Plain policy: the account hands in what it took and what the REST connection said.

use std::collections::VecDeque;

use super::super::pacing::RateLimiter;
use crate::intent::{CancelAll, InstType, RequestId};
use crate::venue::Dialect;

/// The most cancel-alls held at once (waiting or on the wire); more are not sent.
pub(crate) const CAPACITY: usize = 64;

/// One cancel-all the account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    pub id: RequestId,
    pub all: CancelAll,
    pub accepted_ns: u64,
    /// When it went out; 0 while it waits.
    pub sent_ns: u64,
    /// Its tag on the REST connection (`CancelAlls::TAG_BIT` and a count).
    pub tag: u64,
    /// Times it went out.
    pub sends: u8,
    /// The dialect it last went out in (its reply is read by that dialect's rules).
    pub dialect: Dialect,
}

/// The cancel-alls waiting, and the one on the wire.
#[derive(Debug)]
pub(crate) struct CancelAlls {
    waiting: VecDeque<Held>,
    in_flight: Option<Held>,
    /// Each endpoint's budget: V2 spot, V2 futures, V3 (every category).
    endpoints: [RateLimiter; 3],
    count: u64,
}

/// The endpoint a cancel-all on `inst_type` counts on in `dialect`.
fn endpoint(dialect: Dialect, inst_type: InstType) -> usize {
    match dialect {
        Dialect::V2 => usize::from(inst_type.is_futures()),
        Dialect::V3 => 2,
    }
}

impl CancelAlls {
    /// Tags of cancel-all requests on the REST connection carry this bit (single cancels are
    /// tagged with their arrival numbers, which never reach it).
    pub(crate) const TAG_BIT: u64 = 1 << 62;

    /// Each endpoint paced over `window` ns.
    pub(crate) fn new(window: u64) -> Self {
        let limiter =
            |d: Dialect, t: InstType| RateLimiter::new(d.cancel_alls_per_second(t), window);
        CancelAlls {
            waiting: VecDeque::with_capacity(CAPACITY),
            in_flight: None,
            endpoints: [
                limiter(Dialect::V2, InstType::Spot),
                limiter(Dialect::V2, InstType::UsdtFutures),
                limiter(Dialect::V3, InstType::Spot),
            ],
            count: 0,
        }
    }

    fn limiter(&self, dialect: Dialect, inst_type: InstType) -> &RateLimiter {
        &self.endpoints[endpoint(dialect, inst_type)]
    }

    /// Takes one in; hands it back (`Some`) when [`CAPACITY`] are held.
    pub(crate) fn push(&mut self, id: RequestId, all: CancelAll, now: u64) -> Option<Held> {
        self.count += 1;
        let held = Held {
            id,
            all,
            accepted_ns: now,
            sent_ns: 0,
            tag: Self::TAG_BIT | self.count,
            sends: 0,
            dialect: Dialect::V2,
        };
        if self.waiting.len() + usize::from(self.in_flight.is_some()) >= CAPACITY {
            return Some(held);
        }
        self.waiting.push_back(held);
        None
    }

    /// Whether one waits to be sent.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether one is on the wire.
    pub(crate) fn has_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The next to send at `now` in `dialect`: the first waiting one whose endpoint has
    /// budget, if none is on the wire (one at a time: the connection carries one request).
    pub(crate) fn due(&self, dialect: Dialect, now: u64) -> Option<Held> {
        if self.in_flight.is_some() {
            return None;
        }
        self.waiting
            .iter()
            .copied()
            .find(|h| self.limiter(dialect, h.all.inst_type).is_ready(now))
    }

    /// When a waiting one's endpoint in `dialect` next has budget (`u64::MAX`: none waits).
    pub(crate) fn ready_at(&self, dialect: Dialect) -> u64 {
        self.waiting
            .iter()
            .map(|h| self.limiter(dialect, h.all.inst_type).ready_at())
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The one with `tag` went out in `dialect` at `now`.
    pub(crate) fn sent(&mut self, tag: u64, dialect: Dialect, now: u64) {
        let Some(at) = self.waiting.iter().position(|h| h.tag == tag) else {
            return;
        };
        if let Some(mut held) = self.waiting.remove(at) {
            self.endpoints[endpoint(dialect, held.all.inst_type)].record(now);
            held.sent_ns = now;
            held.sends += 1;
            held.dialect = dialect;
            self.in_flight = Some(held);
        }
    }

    /// Puts one that went out back at the front, to go out again under a fresh tag (a
    /// transient answer, or none): a cancel-all is safe to repeat.
    pub(crate) fn requeue(&mut self, mut held: Held) {
        self.count += 1;
        held.tag = Self::TAG_BIT | self.count;
        self.waiting.push_front(held);
    }

    /// The one on the wire with `tag`, taken for its outcome.
    pub(crate) fn take_in_flight(&mut self, tag: u64) -> Option<Held> {
        self.in_flight.take_if(|h| h.tag == tag)
    }

    /// The one on the wire, if it was sent before `before` (its reply is overdue).
    pub(crate) fn take_overdue(&mut self, before: u64) -> Option<Held> {
        self.in_flight.take_if(|h| h.sent_ns < before)
    }

    /// The waiting one accepted before `before` (it waited too long), oldest first.
    pub(crate) fn take_expired(&mut self, before: u64) -> Option<Held> {
        if self.waiting.front()?.accepted_ns < before {
            self.waiting.pop_front()
        } else {
            None
        }
    }

    /// Every waiting one, taken.
    pub(crate) fn take_waiting(&mut self) -> Option<Held> {
        self.waiting.pop_front()
    }

    /// The oldest waiting one's acceptance (`u64::MAX`: none waits).
    pub(crate) fn oldest_accepted(&self) -> u64 {
        self.waiting.front().map_or(u64::MAX, |h| h.accepted_ns)
    }

    /// When the one on the wire went out (`u64::MAX`: none).
    pub(crate) fn in_flight_sent(&self) -> u64 {
        self.in_flight.map_or(u64::MAX, |h| h.sent_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::InstId;
    use crate::venue::Dialect::{V2, V3};

    const SECOND: u64 = 1_000_000_000;

    fn spot() -> CancelAll {
        CancelAll::new(InstType::Spot, Some(InstId::new("BTCUSDT").unwrap())).unwrap()
    }

    fn futures() -> CancelAll {
        CancelAll::new(InstType::UsdtFutures, None).unwrap()
    }

    #[test]
    fn one_at_a_time_in_arrival_order() {
        let mut alls = CancelAlls::new(SECOND);
        assert!(alls.push(RequestId::from_u64(1), futures(), 10).is_none());
        assert!(alls.push(RequestId::from_u64(2), spot(), 11).is_none());
        let first = alls.due(V2, 12).unwrap();
        assert_eq!(first.id.as_str(), "1");
        assert_ne!(first.tag & CancelAlls::TAG_BIT, 0);
        alls.sent(first.tag, V2, 12);
        assert_eq!(alls.due(V2, 13), None, "the connection carries one request");
        assert_eq!(alls.take_in_flight(first.tag + 1), None);
        assert_eq!(alls.take_in_flight(first.tag).map(|h| h.sent_ns), Some(12));
        assert_eq!(alls.due(V2, 14).map(|h| h.all), Some(spot()));
    }

    #[test]
    fn spot_cancel_alls_keep_to_five_a_second() {
        let mut alls = CancelAlls::new(SECOND);
        for n in 0..7 {
            assert!(alls.push(RequestId::from_u64(n), spot(), n).is_none());
        }
        for n in 0..5 {
            let h = alls.due(V2, 100 + n).expect("budget for five");
            alls.sent(h.tag, V2, 100 + n);
            alls.take_in_flight(h.tag);
        }
        assert_eq!(alls.due(V2, 200), None);
        assert_eq!(alls.ready_at(V2), 100 + SECOND);
        // A futures one does not wait behind spot's spent budget.
        assert!(alls.push(RequestId::from_u64(9), futures(), 201).is_none());
        assert_eq!(
            alls.due(V2, 202)
                .map(|h| h.id.as_str().to_string())
                .as_deref(),
            Some("9")
        );
        assert!(alls.due(V2, 100 + SECOND).is_some());
    }

    #[test]
    fn what_waits_too_long_or_goes_unanswered_is_handed_back() {
        let mut alls = CancelAlls::new(SECOND);
        assert!(alls.push(RequestId::from_u64(1), futures(), 10).is_none());
        assert!(alls.push(RequestId::from_u64(2), futures(), 20).is_none());
        assert_eq!(alls.oldest_accepted(), 10);
        assert_eq!(alls.take_expired(15).map(|h| h.accepted_ns), Some(10));
        assert_eq!(alls.take_expired(15), None);
        let h = alls.due(V2, 30).unwrap();
        alls.sent(h.tag, V2, 30);
        assert_eq!(alls.in_flight_sent(), 30);
        assert_eq!(alls.take_overdue(30), None);
        assert!(alls.take_overdue(31).is_some());
        for n in 0..CAPACITY as u64 {
            assert!(alls.push(RequestId::from_u64(n), spot(), 40).is_none());
        }
        assert!(alls.push(RequestId::from_u64(99), spot(), 41).is_some());
    }

    #[test]
    fn v3_cancel_alls_keep_to_five_a_second_for_every_category() {
        let mut alls = CancelAlls::new(SECOND);
        for n in 0..6 {
            assert!(alls.push(RequestId::from_u64(n), futures(), n).is_none());
        }
        for n in 0..5 {
            let h = alls.due(V3, 100 + n).expect("budget for five");
            alls.sent(h.tag, V3, 100 + n);
            assert_eq!(alls.take_in_flight(h.tag).map(|h| h.dialect), Some(V3));
        }
        assert_eq!(alls.due(V3, 200), None, "futures' 10 are V2's, not V3's");
        assert_eq!(alls.ready_at(V3), 100 + SECOND);
        assert!(alls.push(RequestId::from_u64(9), spot(), 201).is_none());
        assert_eq!(alls.due(V3, 202), None, "one endpoint for spot and futures");
        // V2's endpoints keep their own budgets.
        assert!(alls.due(V2, 202).is_some());
        assert!(alls.due(V3, 100 + SECOND).is_some());
    }
}
