//! The outbox: cancels sealed on a link but not yet fully handed to the kernel, and the stamps
//! each intent gets when its first frame was handed to `write(2)` (`handed_ns`, the end of the
//! engine's own share) and when the kernel took all of it (`written_ns`).

use super::inflight::InflightTable;

/// Per link, the intents whose frames wait for the kernel, as `(slot, seq)`.
#[derive(Debug)]
pub(crate) struct Outbox {
    awaiting: Vec<Vec<(u32, u64)>>,
}

impl Outbox {
    /// For `links` links, each with room for `capacity` intents (allocated once).
    pub(crate) fn new(links: usize, capacity: usize) -> Self {
        Outbox {
            awaiting: (0..links).map(|_| Vec::with_capacity(capacity)).collect(),
        }
    }

    /// The frame of the intent in `slot` (arrival `seq`) was built for link `l`.
    #[inline]
    pub(crate) fn sealed(&mut self, l: usize, slot: u32, seq: u64) {
        self.awaiting[l].push((slot, seq));
    }

    /// Everything sealed on link `l` went to `write(2)` at `at`: the first time counts for each
    /// intent still in flight.
    #[inline]
    pub(crate) fn handed(&mut self, l: usize, at: u64, table: &mut InflightTable) {
        for &(slot, seq) in &self.awaiting[l] {
            if table.is_in_flight(slot, seq) {
                let e = table.entry_mut(slot);
                if e.handed_ns == 0 {
                    e.handed_ns = at;
                }
            }
        }
    }

    /// Whether anything on link `l` waits for the kernel.
    #[inline]
    pub(crate) fn is_waiting(&self, l: usize) -> bool {
        !self.awaiting[l].is_empty()
    }

    /// Everything sealed on link `l` is in the kernel at `at`: stamped, and forgotten.
    #[inline]
    pub(crate) fn written(&mut self, l: usize, at: u64, table: &mut InflightTable) {
        for &(slot, seq) in &self.awaiting[l] {
            if table.is_in_flight(slot, seq) {
                let e = table.entry_mut(slot);
                if e.written_ns == 0 {
                    e.written_ns = at;
                }
            }
        }
        self.awaiting[l].clear();
    }

    /// Link `l` is gone: what waited there will never be written.
    pub(crate) fn forget(&mut self, l: usize) {
        self.awaiting[l].clear();
    }

    pub(crate) fn forget_all(&mut self) {
        for awaiting in &mut self.awaiting {
            awaiting.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{Cancel, InstId, InstType, OrderRef, RequestId};

    fn table_with(n: u64) -> InflightTable {
        let mut table = InflightTable::new(8);
        for i in 1..=n {
            let cancel = Cancel::new(
                InstType::Spot,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id(&i.to_string()).unwrap(),
            );
            table
                .insert_queued(RequestId::from_u64(i), i, cancel, 0)
                .unwrap();
            table.send_front(1, 0, 1, true).unwrap();
        }
        table
    }

    #[test]
    fn a_batch_is_stamped_when_handed_and_again_when_the_kernel_took_it() {
        let mut table = table_with(2);
        let mut outbox = Outbox::new(2, 8);
        outbox.sealed(0, 0, 1);
        outbox.sealed(0, 1, 2);
        outbox.handed(0, 100, &mut table);
        assert!(outbox.is_waiting(0) && !outbox.is_waiting(1));
        // A second write of the rest of the batch: the first stamp stands.
        outbox.handed(0, 150, &mut table);
        outbox.written(0, 200, &mut table);
        for slot in [0, 1] {
            let e = table.entry(slot);
            assert_eq!((e.handed_ns, e.written_ns), (100, 200));
        }
        assert!(!outbox.is_waiting(0));
    }

    #[test]
    fn a_settled_intent_or_a_later_occupant_of_its_slot_is_not_stamped() {
        let mut table = table_with(1);
        let mut outbox = Outbox::new(1, 8);
        outbox.sealed(0, 0, 1);
        table.settle(0);
        // The slot is taken again by another intent (arrival 2).
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::order_id("9").unwrap(),
        );
        table
            .insert_queued(RequestId::from_u64(9), 9, cancel, 0)
            .unwrap();
        table.send_front(1, 0, 1, true).unwrap();
        outbox.written(0, 300, &mut table);
        assert_eq!(table.entry(0).written_ns, 0);
    }
}
