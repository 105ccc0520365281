//! The send numbers of attempts still outstanding when their intent settled, to tell a late
//! reply from a stranger's. (The numbers themselves come from the engine's one counter; see
//! `engine/wire_id.rs`.)

/// How many send numbers of outstanding attempts of settled intents are remembered.
const LATE_IDS: usize = 256;

/// Send numbers of attempts that were still outstanding when their intent settled: a reply to
/// one of them is late (counted), not a stranger's (unmatched).
#[derive(Debug)]
pub(crate) struct LateIds {
    ids: [u64; LATE_IDS],
    next: usize,
}

impl LateIds {
    pub(crate) fn new() -> Self {
        LateIds {
            ids: [0; LATE_IDS],
            next: 0,
        }
    }

    /// Remembers send number `wire` (0, a REST request's, is not), forgetting the oldest
    /// remembered one.
    #[inline]
    pub(crate) fn remember(&mut self, wire: u64) {
        if wire == 0 {
            return;
        }
        self.ids[self.next] = wire;
        self.next = (self.next + 1) % LATE_IDS;
    }

    /// Whether `wire` was remembered (and not yet claimed); claims it, so a second reply to the
    /// same attempt is a stranger's.
    #[inline]
    pub(crate) fn claim(&mut self, wire: u64) -> bool {
        if wire == 0 {
            return false;
        }
        match self.ids.iter().position(|&x| x == wire) {
            Some(at) => {
                self.ids[at] = 0;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_id_is_claimed_once_and_the_oldest_is_forgotten_first() {
        let mut late = LateIds::new();
        late.remember(1);
        assert!(late.claim(1));
        assert!(!late.claim(1), "a second reply is a stranger's");
        for n in 0..LATE_IDS as u64 + 1 {
            late.remember(1000 + n);
        }
        assert!(!late.claim(1000), "forgotten");
        assert!(late.claim(1001));
        assert!(!late.claim(0), "REST requests carry no number");
    }
}
