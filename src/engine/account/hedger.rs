//! Hedging: a cancel that had no reply within the hedge delay goes out again on another link,
//! and so does one waiting on a link that reported trouble (an error naming no request).
//!
//! The delay is fixed, or adaptive: `max(3 x p50, p99)` of the last 1,000 replies across the
//! pool, at least 1 ms and at most half the ack timeout (a fifth of the ack timeout until 20
//! replies were seen). Hedges get at most their share of the account's cancel budget (a fifth):
//! one held back by that share waits for it, it is never dropped. They never go to a link that
//! is itself silent for longer than the delay, and never ahead of a first send (the conductor
//! sends hedges after first sends, from what budget is left).
//!
//! The hedger owns the delay, its share of the budget, the queue of first sends in the order
//! their delays run out and the queue of cancels on troubled links; the conductor asks it where
//! a hedge may go ([`Hedger::route`]).

use std::collections::VecDeque;

use super::super::config::HedgeAfter;
use super::super::link::LinkView;
use super::super::pacing::RateLimiter;
use super::router::Router;
use super::rtt::RttWindow;
use crate::clock::ns;

/// Replies the pool remembers for the adaptive hedge delay.
const POOL_RTT_SAMPLES: usize = 1000;
/// Replies needed before the adaptive hedge delay trusts them.
const MIN_RTT_SAMPLES: usize = 20;
/// The adaptive hedge delay's floor.
const MIN_HEDGE_NS: u64 = 1_000_000;

/// Where a hedge may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HedgeRoute {
    /// Out now, on this link.
    Send(usize),
    /// Not now: the account or every other link is out of budget.
    Wait,
    /// Never: the best other link is itself silent for longer than the hedge delay; the cancel
    /// waits for its reply.
    Drop,
    /// Not now: hedges spent their share of the budget; it waits for the share to come back.
    Capped,
}

/// The hedge delay, hedges' share of the budget, and the first sends waiting to be hedged.
#[derive(Debug)]
pub(crate) struct Hedger {
    adaptive: bool,
    /// The delay in force (0: off).
    after: u64,
    ack_timeout: u64,
    /// Hedges' share of the account's cancel budget.
    cap: RateLimiter,
    /// First sends in order, for timed hedges: `(slot, seq)`.
    queue: VecDeque<(u32, u64)>,
    /// Cancels waiting on a link that reported trouble, due at once: `(slot, seq, link)`.
    troubled: VecDeque<(u32, u64, u8)>,
    /// The hedge last counted as held back by the share (each is counted once).
    capped: Option<(u32, u64)>,
    /// Round trips across the pool (links only), for the adaptive delay.
    pool_rtt: RttWindow,
}

impl Hedger {
    /// Hedging as `mode` says, for an account of `cancels_per_second` over `window` ns, holding
    /// up to `max_pending` intents.
    pub(crate) fn new(
        mode: HedgeAfter,
        ack_timeout: u64,
        cancels_per_second: u32,
        window: u64,
        max_pending: usize,
    ) -> Self {
        let after = match mode {
            HedgeAfter::Off => 0,
            HedgeAfter::Fixed(d) if d.is_zero() => 0,
            HedgeAfter::Fixed(d) => ns(d),
            HedgeAfter::Adaptive => ack_timeout / 5,
        };
        Hedger {
            adaptive: after != 0 && mode == HedgeAfter::Adaptive,
            after,
            ack_timeout,
            cap: RateLimiter::new((cancels_per_second / 5).max(1), window),
            queue: VecDeque::with_capacity(max_pending * 2),
            troubled: VecDeque::with_capacity(max_pending * 2),
            capped: None,
            pool_rtt: RttWindow::new(POOL_RTT_SAMPLES),
        }
    }

    /// Whether hedging is on.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.after != 0
    }

    /// The delay in force, ns (0: off).
    #[inline]
    pub(crate) fn delay(&self) -> u64 {
        self.after
    }

    /// Whether a cancel first sent at `first_sent_ns` is due for a hedge at `now`.
    #[inline]
    pub(crate) fn is_due(&self, first_sent_ns: u64, now: u64) -> bool {
        now >= first_sent_ns.saturating_add(self.after)
    }

    /// Queues a first send for a timed hedge; `held` tells whether a queued entry is still in
    /// flight. True when the queue was full of live entries and the oldest was dropped (counted
    /// as capped).
    pub(crate) fn queue(&mut self, slot: u32, seq: u64, held: impl Fn(u32, u64) -> bool) -> bool {
        let mut dropped = false;
        if self.queue.len() == self.queue.capacity() {
            self.queue.retain(|&(s, q)| held(s, q));
            if self.queue.len() == self.queue.capacity() {
                self.queue.pop_front();
                dropped = true;
            }
        }
        self.queue.push_back((slot, seq));
        dropped
    }

    /// The first send whose delay runs out first.
    #[inline]
    pub(crate) fn front(&self) -> Option<(u32, u64)> {
        self.queue.front().copied()
    }

    pub(crate) fn pop(&mut self) {
        self.queue.pop_front();
    }

    /// Queues a cancel waiting on `link`, which reported trouble: hedged as soon as the
    /// share allows, after first sends. When the queue is full of live entries the newcomer
    /// is left out (the timed hedge still covers it).
    pub(crate) fn queue_troubled(
        &mut self,
        slot: u32,
        seq: u64,
        link: u8,
        held: impl Fn(u32, u64) -> bool,
    ) {
        if self.troubled.len() == self.troubled.capacity() {
            self.troubled.retain(|&(s, q, _)| held(s, q));
        }
        if self.troubled.len() < self.troubled.capacity() {
            self.troubled.push_back((slot, seq, link));
        }
    }

    /// The oldest cancel on a troubled link: `(slot, seq, link)`.
    #[inline]
    pub(crate) fn front_troubled(&self) -> Option<(u32, u64, u8)> {
        self.troubled.front().copied()
    }

    pub(crate) fn pop_troubled(&mut self) {
        self.troubled.pop_front();
    }

    /// Whether no hedge waits, timed or for trouble.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.troubled.is_empty()
    }

    /// When hedges' share allows the next hedge.
    #[inline]
    pub(crate) fn ready_at(&self) -> u64 {
        self.cap.ready_at()
    }

    /// Notes that the hedge of `(slot, seq)` waits for the share; true the first time for it
    /// (count it once).
    pub(crate) fn note_capped(&mut self, slot: u32, seq: u64) -> bool {
        if self.capped == Some((slot, seq)) {
            return false;
        }
        self.capped = Some((slot, seq));
        true
    }

    /// Where a hedge of a cancel whose live attempts are on `exclude` may go now, given
    /// whether the account's budget allows a cancel (`account_ready`).
    pub(crate) fn route<L: LinkView>(
        &self,
        router: &Router,
        links: &[L],
        now: u64,
        exclude: u32,
        account_ready: bool,
    ) -> HedgeRoute {
        if !self.cap.is_ready(now) {
            return HedgeRoute::Capped;
        }
        if !account_ready {
            return HedgeRoute::Wait;
        }
        match router.best(links, now, exclude) {
            None => HedgeRoute::Wait,
            Some(l) if router.stalled_for(l, now) > self.after => HedgeRoute::Drop,
            Some(l) => HedgeRoute::Send(l),
        }
    }

    /// A hedge went out at `now`: it counts against hedges' share.
    #[inline]
    pub(crate) fn sent(&mut self, now: u64) {
        self.cap.record(now);
    }

    /// A reply on a link came `rtt` after its attempt went out.
    #[inline]
    pub(crate) fn observe(&mut self, rtt: u64) {
        self.pool_rtt.record(rtt);
    }

    /// Recomputes the adaptive delay from the round trips seen; the new delay if it was
    /// recomputed.
    pub(crate) fn update(&mut self) -> Option<u64> {
        if !self.adaptive || self.pool_rtt.len() < MIN_RTT_SAMPLES {
            return None;
        }
        let (p50, p99) = self.pool_rtt.percentiles()?;
        self.after = p50
            .saturating_mul(3)
            .max(p99)
            .max(MIN_HEDGE_NS)
            .min((self.ack_timeout / 2).max(MIN_HEDGE_NS));
        Some(self.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::account::testkit::View;
    use std::time::Duration;

    const MS: u64 = 1_000_000;
    const SECOND: u64 = 1_000 * MS;

    fn fixed(after_ms: u64, cancels_per_second: u32) -> Hedger {
        Hedger::new(
            HedgeAfter::Fixed(Duration::from_millis(after_ms)),
            5 * SECOND,
            cancels_per_second,
            SECOND,
            16,
        )
    }

    #[test]
    fn a_held_back_hedge_is_counted_once() {
        let mut hedger = fixed(10, 10);
        assert!(hedger.note_capped(1, 1));
        assert!(!hedger.note_capped(1, 1));
        assert!(hedger.note_capped(2, 2));
    }

    #[test]
    fn the_hedge_cap_holds_hedges_to_a_fifth_of_the_budget() {
        // 10 cancels a second: 2 hedges a second.
        let mut hedger = fixed(10, 10);
        let router = Router::new();
        let links = [View::serving(), View::serving()];
        let mut now = 100 * MS;
        for _ in 0..2 {
            assert_eq!(
                hedger.route(&router, &links, now, 0b01, true),
                HedgeRoute::Send(1)
            );
            hedger.sent(now);
            now += MS;
        }
        assert_eq!(
            hedger.route(&router, &links, now, 0b01, true),
            HedgeRoute::Capped
        );
        assert_eq!(
            hedger.route(&router, &links, 100 * MS + SECOND, 0b01, true),
            HedgeRoute::Send(1),
            "the share is back a window later"
        );
    }

    #[test]
    fn a_hedge_waits_for_budget_or_for_a_link_that_can_take_it() {
        let hedger = fixed(10, 10);
        let router = Router::new();
        let links = [View::serving(), View::busy()];
        assert_eq!(
            hedger.route(&router, &links, 0, 0b01, false),
            HedgeRoute::Wait,
            "the account is out of budget"
        );
        assert_eq!(
            hedger.route(&router, &links, 0, 0b01, true),
            HedgeRoute::Wait,
            "the other link is out of budget"
        );
    }

    #[test]
    fn a_hedge_never_goes_to_a_link_that_is_itself_silent_longer_than_the_delay() {
        let hedger = fixed(10, 10);
        let mut router = Router::new();
        let links = [View::serving(), View::serving()];
        router.sent(1, MS);
        assert_eq!(
            hedger.route(&router, &links, 6 * MS, 0b01, true),
            HedgeRoute::Send(1)
        );
        assert_eq!(
            hedger.route(&router, &links, 12 * MS, 0b01, true),
            HedgeRoute::Drop
        );
    }

    #[test]
    fn off_or_zero_means_no_hedges() {
        for mode in [HedgeAfter::Off, HedgeAfter::Fixed(Duration::ZERO)] {
            let hedger = Hedger::new(mode, 5 * SECOND, 10, SECOND, 4);
            assert!(!hedger.is_on());
            assert_eq!(hedger.delay(), 0);
        }
        let hedger = fixed(7, 10);
        assert!(hedger.is_on() && hedger.is_due(100, 100 + 7 * MS));
        assert!(!hedger.is_due(100, 99 + 7 * MS));
    }

    #[test]
    fn the_adaptive_delay_follows_the_round_trips_within_its_bounds() {
        let mut hedger = Hedger::new(HedgeAfter::Adaptive, 5 * SECOND, 10, SECOND, 4);
        assert_eq!(
            hedger.delay(),
            SECOND,
            "a fifth of the ack timeout at first"
        );
        // Within a percentile bucket's width (3%).
        let near =
            |got: Option<u64>, exact: u64| got.is_some_and(|g| g.abs_diff(exact) <= exact / 32);
        for _ in 0..19 {
            hedger.observe(2 * MS);
        }
        assert_eq!(hedger.update(), None, "too few replies yet");
        hedger.observe(2 * MS);
        assert!(near(hedger.update(), 6 * MS), "3 x p50: {}", hedger.delay());
        for _ in 0..20 {
            hedger.observe(10);
        }
        assert!(
            near(hedger.update(), 6 * MS),
            "half the window still took 2 ms: {}",
            hedger.delay()
        );
        for _ in 0..1000 {
            hedger.observe(10);
        }
        assert_eq!(hedger.update(), Some(MS), "at least 1 ms");
        for _ in 0..1000 {
            hedger.observe(9 * SECOND);
        }
        assert_eq!(
            hedger.update(),
            Some(5 * SECOND / 2),
            "at most half the ack timeout"
        );
    }

    #[test]
    fn a_full_queue_forgets_settled_cancels_before_it_drops_a_live_one() {
        let mut hedger = fixed(10, 10);
        let capacity = hedger.queue.capacity();
        for n in 0..capacity as u64 {
            assert!(!hedger.queue(n as u32, n, |_, _| true));
        }
        // Every queued cancel settled: room is made without dropping anything.
        assert!(!hedger.queue(99, 99, |_, _| false));
        assert_eq!(hedger.front(), Some((99, 99)));
        for n in 0..capacity as u64 - 1 {
            assert!(!hedger.queue(n as u32, n, |_, _| true));
        }
        // Full of cancels still in flight: the oldest is dropped.
        assert!(hedger.queue(7, 7, |_, _| true));
        assert_eq!(hedger.front(), Some((0, 0)));
    }
}
