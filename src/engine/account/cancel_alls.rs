//! Cancel-alls: every open order of a product line (futures `cancel-all-orders`) or of one
//! symbol (futures, and spot's `cancel-symbol-order`), one REST request each.
//!
//! A cancel-all goes first: it leaves on the REST connection ahead of batches and single
//! cancels, under its endpoint's own budget (5 a second on spot, 10 on futures), and waits
//! only for the connection to be free. Cancels of its scope already waiting, or taken in after
//! it, are still sent: a cancel is safe to repeat, and the venue answers one whose order the
//! cancel-all took with "the order does not exist". Its outcome is acked or rejected with the
//! counts of the venue's lists where the reply has them (spot's is asynchronous: acked means
//! accepted). No reply, or a transient refusal, sends it again (it is safe to repeat) while it
//! has sends and time left, else it is unknown (or rejected with the transient code); no REST
//! connection, or a queue timeout, is not sent.
//!
//! Plain policy: the account hands in what it took and what the REST connection said.

use std::collections::VecDeque;

use super::super::pacing::RateLimiter;
use crate::intent::{CancelAll, InstType, RequestId};
use crate::venue::v2::rest::cancel_alls_per_second;

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
}

/// The cancel-alls waiting, and the one on the wire.
#[derive(Debug)]
pub(crate) struct CancelAlls {
    waiting: VecDeque<Held>,
    in_flight: Option<Held>,
    spot: RateLimiter,
    futures: RateLimiter,
    count: u64,
}

impl CancelAlls {
    /// Tags of cancel-all requests on the REST connection carry this bit (single cancels are
    /// tagged with their arrival numbers, which never reach it).
    pub(crate) const TAG_BIT: u64 = 1 << 62;

    /// Each endpoint paced over `window` ns.
    pub(crate) fn new(window: u64) -> Self {
        CancelAlls {
            waiting: VecDeque::with_capacity(CAPACITY),
            in_flight: None,
            spot: RateLimiter::new(cancel_alls_per_second(InstType::Spot), window),
            futures: RateLimiter::new(cancel_alls_per_second(InstType::UsdtFutures), window),
            count: 0,
        }
    }

    fn limiter(&mut self, inst_type: InstType) -> &mut RateLimiter {
        if inst_type.is_futures() {
            &mut self.futures
        } else {
            &mut self.spot
        }
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

    /// The next to send at `now`: the first waiting one whose endpoint has budget, if none is
    /// on the wire (one at a time: the connection carries one request).
    pub(crate) fn due(&self, now: u64) -> Option<Held> {
        if self.in_flight.is_some() {
            return None;
        }
        self.waiting.iter().copied().find(|h| {
            let limiter = if h.all.inst_type.is_futures() {
                &self.futures
            } else {
                &self.spot
            };
            limiter.is_ready(now)
        })
    }

    /// When a waiting one's endpoint next has budget (`u64::MAX`: none waits).
    pub(crate) fn ready_at(&self) -> u64 {
        self.waiting
            .iter()
            .map(|h| {
                if h.all.inst_type.is_futures() {
                    self.futures.ready_at()
                } else {
                    self.spot.ready_at()
                }
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The one with `tag` went out at `now`.
    pub(crate) fn sent(&mut self, tag: u64, now: u64) {
        let Some(at) = self.waiting.iter().position(|h| h.tag == tag) else {
            return;
        };
        if let Some(mut held) = self.waiting.remove(at) {
            self.limiter(held.all.inst_type).record(now);
            held.sent_ns = now;
            held.sends += 1;
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
        let first = alls.due(12).unwrap();
        assert_eq!(first.id.as_str(), "1");
        assert_ne!(first.tag & CancelAlls::TAG_BIT, 0);
        alls.sent(first.tag, 12);
        assert_eq!(alls.due(13), None, "the connection carries one request");
        assert_eq!(alls.take_in_flight(first.tag + 1), None);
        assert_eq!(alls.take_in_flight(first.tag).map(|h| h.sent_ns), Some(12));
        assert_eq!(alls.due(14).map(|h| h.all), Some(spot()));
    }

    #[test]
    fn spot_cancel_alls_keep_to_five_a_second() {
        let mut alls = CancelAlls::new(SECOND);
        for n in 0..7 {
            assert!(alls.push(RequestId::from_u64(n), spot(), n).is_none());
        }
        for n in 0..5 {
            let h = alls.due(100 + n).expect("budget for five");
            alls.sent(h.tag, 100 + n);
            alls.take_in_flight(h.tag);
        }
        assert_eq!(alls.due(200), None);
        assert_eq!(alls.ready_at(), 100 + SECOND);
        // A futures one does not wait behind spot's spent budget.
        assert!(alls.push(RequestId::from_u64(9), futures(), 201).is_none());
        assert_eq!(
            alls.due(202).map(|h| h.id.as_str().to_string()).as_deref(),
            Some("9")
        );
        assert!(alls.due(100 + SECOND).is_some());
    }

    #[test]
    fn what_waits_too_long_or_goes_unanswered_is_handed_back() {
        let mut alls = CancelAlls::new(SECOND);
        assert!(alls.push(RequestId::from_u64(1), futures(), 10).is_none());
        assert!(alls.push(RequestId::from_u64(2), futures(), 20).is_none());
        assert_eq!(alls.oldest_accepted(), 10);
        assert_eq!(alls.take_expired(15).map(|h| h.accepted_ns), Some(10));
        assert_eq!(alls.take_expired(15), None);
        let h = alls.due(30).unwrap();
        alls.sent(h.tag, 30);
        assert_eq!(alls.in_flight_sent(), 30);
        assert_eq!(alls.take_overdue(30), None);
        assert!(alls.take_overdue(31).is_some());
        for n in 0..CAPACITY as u64 {
            assert!(alls.push(RequestId::from_u64(n), spot(), 40).is_none());
        }
        assert!(alls.push(RequestId::from_u64(99), spot(), 41).is_some());
    }
}
