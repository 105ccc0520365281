//! The engine thread's loop (in Agrona's terms, the runner): [`Core::do_work`] again and again
//! under an idle strategy, until shutdown is complete.
//!
//! The idle strategy is an object ([`Idler`]): after a turn with work it starts over; after
//! idle turns it spins (busy-spin), yields (yield), or spins, yields and then parks in the
//! poller until the next deadline (backoff), announcing the park so that a handle wakes it.
//! A busy-spin engine never touches the waker.

use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use super::config::IdleStrategy;
use super::core::Core;
use super::plumbing::{IntentSource, OutcomeSink};
use crate::clock::monotonic_ns;

/// Idle turns spent spinning, then yielding, before the park strategy parks.
const SPIN_TURNS: u32 = 100;
const YIELD_TURNS: u32 = 20;
/// The longest park: a safety net, every deadline is computed.
const MAX_PARK_NS: u64 = 1_000_000_000;

/// What the thread does after a turn, and how long the next turn may wait in the poller.
#[derive(Debug)]
pub(crate) struct Idler {
    strategy: IdleStrategy,
    /// Turns without work in a row.
    idle_turns: u32,
}

impl Idler {
    pub(crate) fn new(strategy: IdleStrategy) -> Self {
        Idler {
            strategy,
            idle_turns: 0,
        }
    }

    /// After a turn: starts over if it did work, else idles as the strategy says.
    #[inline]
    pub(crate) fn idle(&mut self, work: bool) {
        if work {
            self.idle_turns = 0;
            return;
        }
        self.idle_turns = self.idle_turns.saturating_add(1);
        match self.strategy {
            IdleStrategy::BusySpin => std::hint::spin_loop(),
            IdleStrategy::Yield => std::thread::yield_now(),
            IdleStrategy::Backoff if self.idle_turns <= SPIN_TURNS => std::hint::spin_loop(),
            IdleStrategy::Backoff => std::thread::yield_now(),
        }
    }

    /// Whether the next turn may park in the poller: the park strategy, after enough idle
    /// turns.
    #[inline]
    pub(crate) fn may_park(&self) -> bool {
        self.strategy == IdleStrategy::Backoff && self.idle_turns > SPIN_TURNS + YIELD_TURNS
    }
}

/// Runs `core` until shutdown is complete, then reports what is left.
pub(crate) fn run<I: IntentSource, O: OutcomeSink>(mut core: Core<I, O>, strategy: IdleStrategy) {
    let mut idler = Idler::new(strategy);
    loop {
        let timeout = park_timeout(&core, &idler);
        let work = core.do_work(timeout);
        if core.is_finished() {
            break;
        }
        idler.idle(work);
    }
    core.finish();
}

/// Zero, except when the idler may park: then until the next deadline, announcing the park so
/// that handles wake the poller.
fn park_timeout<I: IntentSource, O: OutcomeSink>(core: &Core<I, O>, idler: &Idler) -> Duration {
    if !idler.may_park() {
        return Duration::ZERO;
    }
    let now = monotonic_ns();
    let until = core.next_deadline(now, now.saturating_add(MAX_PARK_NS));
    if until <= now {
        return Duration::ZERO;
    }
    let shared = core.shared();
    let parked = &shared.engine.0.parked;
    parked.store(true, Ordering::Relaxed);
    // Pairs with the fence in `Handle::cancel`: either the handle sees `parked` and wakes the
    // poller, or this sees its intent.
    fence(Ordering::SeqCst);
    if core.has_intents() || shared.shutdown_requested.load(Ordering::Acquire) {
        parked.store(false, Ordering::Relaxed);
        return Duration::ZERO;
    }
    Duration::from_nanos(until - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_park_strategy_parks_and_only_after_spinning_and_yielding() {
        let mut spin = Idler::new(IdleStrategy::BusySpin);
        let mut park = Idler::new(IdleStrategy::Backoff);
        for _ in 0..SPIN_TURNS + YIELD_TURNS {
            spin.idle(false);
            park.idle(false);
            assert!(!park.may_park());
        }
        spin.idle(false);
        park.idle(false);
        assert!(park.may_park());
        assert!(!spin.may_park());
        park.idle(true);
        assert!(!park.may_park(), "work starts it over");
    }
}
