//! The re-send queues: in-flight intents to send again on another path, in order, with why
//! (their link was lost or stalled: a failover; they got a transient answer: a retry) and from
//! when. Failovers are due at once; retries after a short pause, so a queue of them stays in
//! the order they fall due. An intent with nowhere to go waits here until a path comes back
//! or its ack timeout ends it.

use std::collections::VecDeque;

use super::inflight::AttemptKind;

/// Intents to send again: `(slot, seq, why, not before)`, oldest first.
#[derive(Debug)]
pub(crate) struct ResendQueue {
    queue: VecDeque<(u32, u64, AttemptKind, u64)>,
}

impl ResendQueue {
    /// Room for `capacity` entries, allocated once.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        ResendQueue {
            queue: VecDeque::with_capacity(capacity),
        }
    }

    /// Queues the intent in `slot` (arrival `seq`) to be sent again; when the queue is full,
    /// entries `held` no longer says are in flight make room first. False (logged) if there
    /// was still no room: the cancel then waits for its ack timeout.
    pub(crate) fn push(
        &mut self,
        slot: u32,
        seq: u64,
        kind: AttemptKind,
        not_before: u64,
        held: impl Fn(u32, u64) -> bool,
    ) -> bool {
        if self.queue.len() == self.queue.capacity() {
            self.queue.retain(|&(s, q, _, _)| held(s, q));
        }
        if self.queue.len() < self.queue.capacity() {
            self.queue.push_back((slot, seq, kind, not_before));
            true
        } else {
            // Never reached: at most one live entry per held intent, and the table is smaller.
            crate::relay::log_error!("re-send queue full; the cancel waits for its ack timeout");
            false
        }
    }

    /// The oldest entry: `(slot, seq, why, not before)`.
    #[inline]
    pub(crate) fn front(&self) -> Option<(u32, u64, AttemptKind, u64)> {
        self.queue.front().copied()
    }

    #[inline]
    pub(crate) fn pop(&mut self) {
        self.queue.pop_front();
    }

    /// When the oldest entry falls due (`u64::MAX`: none waits).
    #[inline]
    pub(crate) fn due_at(&self) -> u64 {
        self.queue.front().map_or(u64::MAX, |e| e.3)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_sends_leave_in_the_order_they_were_queued() {
        let mut q = ResendQueue::with_capacity(4);
        assert_eq!(q.due_at(), u64::MAX);
        assert!(q.push(3, 30, AttemptKind::Failover, 0, |_, _| true));
        assert!(q.push(1, 10, AttemptKind::Retry, 7, |_, _| true));
        assert_eq!(q.front(), Some((3, 30, AttemptKind::Failover, 0)));
        q.pop();
        assert_eq!(q.front(), Some((1, 10, AttemptKind::Retry, 7)));
        assert_eq!(q.due_at(), 7);
        q.pop();
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_makes_room_by_forgetting_settled_intents() {
        let mut q = ResendQueue::with_capacity(2);
        let capacity = q.queue.capacity() as u64;
        for n in 0..capacity {
            assert!(q.push(n as u32, n, AttemptKind::Failover, 0, |_, _| true));
        }
        assert!(
            !q.push(99, 99, AttemptKind::Failover, 0, |_, _| true),
            "full of live intents"
        );
        // Only the odd ones are still in flight.
        assert!(q.push(99, 99, AttemptKind::Failover, 0, |_, seq| seq % 2 == 1));
        let mut left = Vec::new();
        while let Some((_, seq, _, _)) = q.front() {
            left.push(seq);
            q.pop();
        }
        let mut expected: Vec<u64> = (0..capacity).filter(|s| s % 2 == 1).collect();
        expected.push(99);
        assert_eq!(left, expected);
    }
}
