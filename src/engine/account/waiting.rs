//! The order in which waiting intents leave: the highest priority first, equal priorities in
//! arrival order. A plain deque of slots kept sorted on insertion, in storage allocated once.
//!
//! Cancels of priority 0 (the default) only ever go to the back, so the common case costs what
//! a FIFO costs; a higher priority is inserted ahead of every lower one (a shift of the deque,
//! within its capacity). The oldest waiting intent is not always at the front once priorities
//! differ, so expiry asks [`WaitQueue::oldest`], which looks at every entry only then: no
//! waiting cancel outlives its queue timeout, whatever its priority.

use std::collections::VecDeque;

/// One waiting intent: its slot, priority and arrival number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiting {
    slot: u32,
    priority: u8,
    seq: u64,
}

/// Waiting intents, highest priority first, then arrival order.
#[derive(Debug)]
pub(crate) struct WaitQueue {
    order: VecDeque<Waiting>,
    /// Entries with a priority above 0: while none is waiting, the front is the oldest.
    raised: usize,
}

impl WaitQueue {
    /// Room for `capacity` waiting intents, allocated now.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        WaitQueue {
            order: VecDeque::with_capacity(capacity),
            raised: 0,
        }
    }

    /// Intents waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none waits.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Adds the intent in `slot` (arrival number `seq`, later than every waiting one's): behind
    /// every intent of its priority or higher, ahead of every lower one.
    #[inline]
    pub(crate) fn push(&mut self, slot: u32, priority: u8, seq: u64) {
        let entry = Waiting {
            slot,
            priority,
            seq,
        };
        if priority != 0 {
            self.raised += 1;
        }
        let at = match self.order.back() {
            None => 0,
            Some(back) if back.priority >= priority => self.order.len(),
            // Behind the last entry of at least this priority: the run of lower ones starts
            // after it (the deque is sorted by priority, highest first).
            Some(_) => self.order.partition_point(|w| w.priority >= priority),
        };
        if at == self.order.len() {
            self.order.push_back(entry);
        } else {
            self.order.insert(at, entry);
        }
    }

    /// The slot that leaves next.
    #[inline]
    pub(crate) fn front(&self) -> Option<u32> {
        self.order.front().map(|w| w.slot)
    }

    /// Takes the slot that leaves next.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<u32> {
        let w = self.order.pop_front()?;
        if w.priority != 0 {
            self.raised -= 1;
        }
        Some(w.slot)
    }

    /// The slot of the waiting intent that arrived first (the first to reach its queue
    /// timeout, since every intent waits as long).
    #[inline]
    pub(crate) fn oldest(&self) -> Option<u32> {
        if self.raised == 0 {
            return self.front();
        }
        self.order.iter().min_by_key(|w| w.seq).map(|w| w.slot)
    }

    /// Takes `slot` out, wherever it stands; false if it does not wait here.
    pub(crate) fn remove(&mut self, slot: u32) -> bool {
        let Some(at) = self.order.iter().position(|w| w.slot == slot) else {
            return false;
        };
        if let Some(w) = self.order.remove(at)
            && w.priority != 0
        {
            self.raised -= 1;
        }
        true
    }

    /// The waiting slots, in the order they leave.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + Clone + '_ {
        self.order.iter().map(|w| w.slot)
    }

    /// Drops every entry.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.raised = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut WaitQueue) -> Vec<u32> {
        std::iter::from_fn(|| q.pop_front()).collect()
    }

    #[test]
    fn equal_priorities_leave_in_arrival_order() {
        let mut q = WaitQueue::with_capacity(8);
        for slot in 0..5 {
            q.push(slot, 0, u64::from(slot) + 1);
        }
        assert_eq!(q.oldest(), Some(0));
        assert_eq!(drain(&mut q), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_higher_priority_leaves_first_then_arrival_order() {
        let mut q = WaitQueue::with_capacity(8);
        // (slot, priority) in arrival order.
        for (seq, (slot, priority)) in [(0, 0), (1, 5), (2, 0), (3, 9), (4, 5), (5, 9), (6, 1)]
            .into_iter()
            .enumerate()
        {
            q.push(slot, priority, seq as u64 + 1);
        }
        assert_eq!(q.iter().collect::<Vec<_>>(), [3, 5, 1, 4, 6, 0, 2]);
        assert_eq!(drain(&mut q), [3, 5, 1, 4, 6, 0, 2]);
        assert!(q.is_empty());
    }

    #[test]
    fn the_oldest_is_found_behind_higher_priorities() {
        let mut q = WaitQueue::with_capacity(8);
        q.push(7, 0, 1);
        q.push(8, 200, 2);
        q.push(9, 100, 3);
        assert_eq!(q.front(), Some(8));
        assert_eq!(q.oldest(), Some(7), "the first arrival times out first");
        assert!(q.remove(7));
        assert!(!q.remove(7));
        assert_eq!(q.oldest(), Some(8));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_front(), Some(8));
        assert_eq!(q.pop_front(), Some(9));
        // Every raised entry gone: the front is the oldest again.
        q.push(1, 0, 4);
        q.push(2, 0, 5);
        assert_eq!(q.oldest(), Some(1));
        q.clear();
        assert_eq!(q.front(), None);
    }

    #[test]
    fn a_full_queue_reorders_without_growing() {
        let mut q = WaitQueue::with_capacity(64);
        let capacity = q.order.capacity();
        for n in 0..64u32 {
            q.push(n, (n % 7) as u8 * 30, u64::from(n) + 1);
        }
        assert_eq!(q.order.capacity(), capacity);
        let out = drain(&mut q);
        let keys: Vec<(std::cmp::Reverse<u32>, u32)> =
            out.iter().map(|&n| (std::cmp::Reverse(n % 7), n)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "priority first, then arrival");
    }
}
