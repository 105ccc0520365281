//! Request ids the engine makes itself: `r1`, `r2`, ... for every attempt after an intent's
//! first (which goes out under the intent's own id), and the ids of attempts still outstanding
//! when their intent settled, to tell a late reply from a stranger's.

use super::inflight::InflightTable;
use crate::intent::RequestId;

/// How many ids of outstanding attempts of settled intents are remembered.
const LATE_IDS: usize = 256;

/// The attempt ids made so far.
#[derive(Debug, Default)]
pub(crate) struct AttemptIds {
    made: u64,
}

impl AttemptIds {
    /// A request id for another attempt: `r1`, `r2`, ... counted by this engine, so the
    /// intents' own numbering stays unbroken; one a caller's held intent happens to use is
    /// skipped.
    pub(crate) fn fresh(&mut self, table: &InflightTable) -> RequestId {
        loop {
            self.made += 1;
            let id = RequestId::attempt(self.made);
            if !table.holds_id(&id) {
                return id;
            }
        }
    }
}

/// Ids of attempts that were still outstanding when their intent settled: a reply to one of
/// them is late (counted), not a stranger's (unmatched).
#[derive(Debug)]
pub(crate) struct LateIds {
    ids: [RequestId; LATE_IDS],
    next: usize,
}

impl LateIds {
    pub(crate) fn new() -> Self {
        LateIds {
            ids: [RequestId::EMPTY; LATE_IDS],
            next: 0,
        }
    }

    /// Remembers `id`, forgetting the oldest remembered one.
    #[inline]
    pub(crate) fn remember(&mut self, id: RequestId) {
        self.ids[self.next] = id;
        self.next = (self.next + 1) % LATE_IDS;
    }

    /// Whether `id` was remembered (and not yet claimed); claims it, so a second reply to the
    /// same attempt is a stranger's.
    #[inline]
    pub(crate) fn claim(&mut self, id: RequestId) -> bool {
        match self.ids.iter().position(|x| *x == id) {
            Some(at) => {
                self.ids[at] = RequestId::EMPTY;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{Cancel, InstId, InstType, OrderRef};

    #[test]
    fn attempt_ids_count_up_and_skip_one_a_caller_holds() {
        let mut table = InflightTable::new(4);
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::order_id("1").unwrap(),
        );
        table
            .insert_queued(RequestId::new("r2").unwrap(), cancel, 0)
            .unwrap();
        let mut ids = AttemptIds::default();
        assert_eq!(ids.fresh(&table).as_str(), "r1");
        assert_eq!(ids.fresh(&table).as_str(), "r3", "r2 is a caller's");
        assert_eq!(ids.fresh(&table).as_str(), "r4");
    }

    #[test]
    fn a_late_id_is_claimed_once_and_the_oldest_is_forgotten_first() {
        let mut late = LateIds::new();
        late.remember(RequestId::from_u64(1));
        assert!(late.claim(RequestId::from_u64(1)));
        assert!(
            !late.claim(RequestId::from_u64(1)),
            "a second reply is a stranger's"
        );
        for n in 0..LATE_IDS as u64 + 1 {
            late.remember(RequestId::from_u64(1000 + n));
        }
        assert!(!late.claim(RequestId::from_u64(1000)), "forgotten");
        assert!(late.claim(RequestId::from_u64(1001)));
    }
}
