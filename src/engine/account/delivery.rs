//! Handing outcomes over: to the outcome ring (or the inline engine's queue), and, when it is
//! full, into a queue of the account's own that is emptied first, in order, as room appears.

use std::collections::VecDeque;

use crossbeam_channel::TrySendError;

use super::super::plumbing::OutcomeSink;
use super::super::shared::{Counters, Shared};
use crate::outcome::{Outcome, Status};

/// Where outcomes go, and those still waiting for room there.
#[derive(Debug)]
pub(crate) struct Delivery<O> {
    pub(crate) sink: O,
    /// Outcomes the sink had no room for, oldest first.
    undelivered: VecDeque<Outcome>,
}

impl<O: OutcomeSink> Delivery<O> {
    /// Room for `capacity` undelivered outcomes, allocated once.
    pub(crate) fn new(sink: O, capacity: usize) -> Self {
        Delivery {
            sink,
            undelivered: VecDeque::with_capacity(capacity),
        }
    }

    /// Outcomes waiting for room in the sink.
    #[inline]
    pub(crate) fn waiting(&self) -> usize {
        self.undelivered.len()
    }

    /// Counts `outcome` by its status and hands it over, or keeps it behind those already
    /// waiting.
    #[inline]
    pub(crate) fn emit(&mut self, outcome: Outcome, counters: &Counters) {
        match outcome.status {
            Status::Acked => counters.acked.incr(),
            Status::Rejected { .. } => counters.rejected.incr(),
            Status::Unknown(_) => counters.unknown.incr(),
            Status::NotSent(_) => counters.not_sent.incr(),
        }
        if self.undelivered.is_empty() {
            match self.sink.try_send(outcome) {
                Ok(()) => {}
                Err(TrySendError::Full(o)) => self.undelivered.push_back(o),
                // Every handle is gone: nobody can read it.
                Err(TrySendError::Disconnected(_)) => {}
            }
        } else {
            self.undelivered.push_back(outcome);
        }
    }

    /// Hands over what waits, as far as the sink has room.
    pub(crate) fn deliver(&mut self) {
        while let Some(&o) = self.undelivered.front() {
            match self.sink.try_send(o) {
                Ok(()) => {
                    self.undelivered.pop_front();
                }
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    self.undelivered.clear();
                    break;
                }
            }
        }
    }

    /// At the end: what still does not fit waits where the handles look last.
    pub(crate) fn leave_the_rest(&mut self, shared: &Shared) {
        self.deliver();
        for outcome in self.undelivered.drain(..) {
            shared.push_late_outcome(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plumbing::OutcomeQueue;
    use crate::intent::{Cancel, InstId, InstType, OrderRef, RequestId};
    use crate::outcome::{NotSentReason, Timestamps};

    fn outcome(tag: u64, status: Status) -> Outcome {
        Outcome {
            id: RequestId::from_u64(tag),
            cancel: Cancel::new(
                InstType::Spot,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id("1").unwrap(),
            )
            .with_tag(tag),
            status,
            times: Timestamps::default(),
            attempts: 0,
            via: None,
            batch: None,
            cancel_all: None,
        }
    }

    #[test]
    fn outcomes_the_sink_cannot_take_wait_and_keep_their_order() {
        let counters = Counters::default();
        let mut delivery = Delivery::new(OutcomeQueue::with_capacity(1), 8);
        delivery.emit(outcome(1, Status::Acked), &counters);
        delivery.emit(outcome(2, Status::Acked), &counters);
        delivery.emit(
            outcome(3, Status::NotSent(NotSentReason::Shutdown)),
            &counters,
        );
        assert_eq!(delivery.waiting(), 2);
        assert_eq!(delivery.sink.pop().map(|o| o.tag()), Some(1));
        delivery.deliver();
        assert_eq!(delivery.sink.pop().map(|o| o.tag()), Some(2));
        delivery.deliver();
        assert_eq!(delivery.sink.pop().map(|o| o.tag()), Some(3));
        assert_eq!(delivery.waiting(), 0);
        let stats = counters.snapshot();
        assert_eq!(
            (stats.acked, stats.not_sent),
            (2, 1),
            "counted when decided"
        );
    }
}
