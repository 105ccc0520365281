//! Where an account's intents come from and where its outcomes go.
//!
//! The engine's core (the reactor and the account) is one piece of code driven two ways. Run on
//! its own thread ([`Engine::start`]) it reads intents from a ring the handles push into and
//! hands outcomes to a ring they read.
//! Driven on the caller's thread ([`Engine::inline`]) the caller puts intents straight into the
//! in-flight table, so its source is always empty, and outcomes go to a preallocated queue the
//! caller drains: no ring, no atomic read-modify-write, no waker.
//!
//! Both edges are tiny traits so that the account is monomorphised for each way (every call
//! inlines).
//! The methods reuse crossbeam's result types, which the rings already speak.
//!
//! [`Engine::start`]: super::Engine::start
//! [`Engine::inline`]: super::Engine::inline

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use super::handle::Submission;
use super::shared::Shared;
use crate::outcome::Outcome;

/// Where the account takes new intents from, in arrival order.
pub(crate) trait IntentSource {
    /// The next intent, if one waits.
    fn try_recv(&self) -> Result<Submission, TryRecvError>;
    /// Whether none waits (checked before the thread parks).
    fn is_empty(&self) -> bool;
    /// Takes the next send number (of a wire id) from `next_id`, which the submitting side
    /// also draws from.
    fn take_id(&self, next_id: &AtomicU64) -> u64;
}

/// Where the account hands outcomes over. Never blocks: a full sink hands the outcome back.
pub(crate) trait OutcomeSink {
    /// Hands `outcome` over, or gives it back when there is no room (or nobody can read it).
    // The outcome comes back by value, never boxed: boxing would allocate on the hot path.
    #[allow(clippy::result_large_err)]
    fn try_send(&mut self, outcome: Outcome) -> Result<(), TrySendError<Outcome>>;
}

/// The threaded engine's intent ring: handles on other threads push, so ids are drawn atomically.
impl IntentSource for Receiver<Submission> {
    #[inline]
    fn try_recv(&self) -> Result<Submission, TryRecvError> {
        Receiver::try_recv(self)
    }

    #[inline]
    fn is_empty(&self) -> bool {
        Receiver::is_empty(self)
    }

    #[inline]
    fn take_id(&self, next_id: &AtomicU64) -> u64 {
        next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The threaded engine's outcome ring, and the outcome-ready notification a consumer may be
/// waiting on.
#[derive(Debug)]
pub(crate) struct OutcomeRing {
    tx: Sender<Outcome>,
    shared: Arc<Shared>,
}

impl OutcomeRing {
    pub(crate) fn new(tx: Sender<Outcome>, shared: Arc<Shared>) -> Self {
        OutcomeRing { tx, shared }
    }
}

impl OutcomeSink for OutcomeRing {
    #[inline]
    #[allow(clippy::result_large_err)]
    fn try_send(&mut self, outcome: Outcome) -> Result<(), TrySendError<Outcome>> {
        self.tx.try_send(outcome)?;
        self.shared.outcome_delivered();
        Ok(())
    }
}

/// The inline engine's source: the caller inserts intents itself, so nothing ever waits here.
/// Ids are drawn by the one thread that drives the engine, with a plain load and store.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallerInserts;

impl IntentSource for CallerInserts {
    #[inline]
    fn try_recv(&self) -> Result<Submission, TryRecvError> {
        Err(TryRecvError::Empty)
    }

    #[inline]
    fn is_empty(&self) -> bool {
        true
    }

    #[inline]
    fn take_id(&self, next_id: &AtomicU64) -> u64 {
        // Only the driving thread draws ids: no read-modify-write needed.
        let n = next_id.load(Ordering::Relaxed);
        next_id.store(n.wrapping_add(1), Ordering::Relaxed);
        n
    }
}

/// The inline engine's outcome queue: fixed capacity, allocated once, drained by the caller.
#[derive(Debug)]
pub(crate) struct OutcomeQueue {
    queue: VecDeque<Outcome>,
    capacity: usize,
}

impl OutcomeQueue {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        OutcomeQueue {
            queue: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// The oldest outcome not yet read.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Outcome> {
        self.queue.pop_front()
    }

    /// Outcomes ready.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

impl OutcomeSink for OutcomeQueue {
    #[inline]
    #[allow(clippy::result_large_err)]
    fn try_send(&mut self, outcome: Outcome) -> Result<(), TrySendError<Outcome>> {
        if self.queue.len() >= self.capacity {
            return Err(TrySendError::Full(outcome));
        }
        self.queue.push_back(outcome);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{Cancel, InstId, InstType, OrderRef, RequestId};
    use crate::outcome::{NotSentReason, Status, Timestamps};

    fn outcome(tag: u64) -> Outcome {
        Outcome {
            id: RequestId::from_u64(tag),
            cancel: Cancel::new(
                InstType::Spot,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id("1").unwrap(),
            )
            .with_tag(tag),
            status: Status::NotSent(NotSentReason::Shutdown),
            times: Timestamps::default(),
            attempts: 0,
            via: None,
            batch: None,
            cancel_all: None,
        }
    }

    #[test]
    fn the_outcome_queue_refuses_past_its_capacity_and_keeps_order() {
        let mut q = OutcomeQueue::with_capacity(2);
        assert!(q.try_send(outcome(1)).is_ok());
        assert!(q.try_send(outcome(2)).is_ok());
        match q.try_send(outcome(3)) {
            Err(TrySendError::Full(o)) => assert_eq!(o.tag(), 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.pop().map(|o| o.tag()), Some(1));
        assert!(q.try_send(outcome(3)).is_ok());
        assert_eq!(q.pop().map(|o| o.tag()), Some(2));
        assert_eq!(q.pop().map(|o| o.tag()), Some(3));
        assert!(q.pop().is_none());
    }

    #[test]
    fn the_caller_side_source_is_always_empty_and_counts_ids_up() {
        let ids = AtomicU64::new(5);
        assert!(CallerInserts.try_recv().is_err());
        assert!(CallerInserts.is_empty());
        assert_eq!(CallerInserts.take_id(&ids), 5);
        assert_eq!(CallerInserts.take_id(&ids), 6);
        assert_eq!(ids.load(Ordering::Relaxed), 7);
    }
}
