//! Routing: which link a cancel goes out on.
//!
//! A cancel goes to the serving link (logged in, not draining, with message budget now and
//! nothing left unflushed) with the lowest score; ties go to the lowest slot. A link's score is
//! its smoothed round trip (an exponential average of its replies, 1/8 weight each; 0 before
//! the first), or, while cancels sent on it wait for their replies, the time since it last
//! answered one, if that is longer. A cancel another path settled first counts as a sample of at
//! least the time it had waited there. So a link that stalls stops attracting cancels as soon as
//! it has been silent longer than another takes to answer, and one that lost replies earns its
//! way back as the other slows down.
//!
//! The router keeps this per path (every connection slot, then the REST rung) and nothing else:
//! it reads the links through [`LinkView`] and is told what was sent and answered.

use super::super::link::LinkView;
use super::PATHS;

/// Scores per path, and what waits on each.
#[derive(Debug)]
pub(crate) struct Router {
    /// Smoothed round trip per path (0: no sample yet).
    smoothed: [u64; PATHS],
    /// Per path, since when it has had cancels waiting without answering any (0: none waits).
    unanswered_since: [u64; PATHS],
    /// Attempts that may still be answered, per path.
    waiting: [u32; PATHS],
}

impl Router {
    pub(crate) fn new() -> Self {
        Router {
            smoothed: [0; PATHS],
            unanswered_since: [0; PATHS],
            waiting: [0; PATHS],
        }
    }

    /// The serving link with the lowest score that may take a cancel now, leaving out the
    /// links in `exclude` (a bit per slot); ties go to the lowest slot.
    #[inline]
    pub(crate) fn best<L: LinkView>(&self, links: &[L], now: u64, exclude: u32) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, link) in links.iter().enumerate() {
            if exclude & (1 << i) != 0 || !link.can_take(now) {
                continue;
            }
            let score = self.smoothed[i].max(self.stalled_for(i, now));
            if best.is_none_or(|(_, b)| score < b) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Whether a link outside `exclude` serves (whether or not it has budget now).
    #[inline]
    pub(crate) fn any_serving<L: LinkView>(links: &[L], exclude: u32) -> bool {
        links
            .iter()
            .enumerate()
            .any(|(i, l)| exclude & (1 << i) == 0 && l.is_serving())
    }

    /// How long path `i` has left a cancel sent on it unanswered (0: none waits).
    #[inline]
    pub(crate) fn stalled_for(&self, i: usize, now: u64) -> u64 {
        match self.unanswered_since[i] {
            0 => 0,
            since => now.saturating_sub(since),
        }
    }

    /// Attempts on path `i` that may still be answered.
    #[inline]
    pub(crate) fn waiting(&self, i: usize) -> u32 {
        self.waiting[i]
    }

    /// An attempt went out on path `i` at `now`.
    #[inline]
    pub(crate) fn sent(&mut self, i: usize, now: u64) {
        if self.unanswered_since[i] == 0 {
            self.unanswered_since[i] = now;
        }
        self.waiting[i] += 1;
    }

    /// An attempt on path `i` is no longer waiting (answered, settled elsewhere, given up).
    #[inline]
    pub(crate) fn done(&mut self, i: usize) {
        self.waiting[i] = self.waiting[i].saturating_sub(1);
        if self.waiting[i] == 0 {
            self.unanswered_since[i] = 0;
        }
    }

    /// Path `i` answered a cancel after `rtt`.
    #[inline]
    pub(crate) fn answered(&mut self, i: usize, rtt: u64) {
        let s = &mut self.smoothed[i];
        *s = if *s == 0 { rtt } else { *s - *s / 8 + rtt / 8 };
    }

    /// Another path settled a cancel that had waited `waited` on path `i`: `i` is at least that
    /// slow.
    #[inline]
    pub(crate) fn outrun(&mut self, i: usize, waited: u64) {
        let s = &mut self.smoothed[i];
        *s = *s - *s / 8 + waited / 8;
    }

    /// Path `i` showed progress at `now` (a reply, even a late one): its silence counts from
    /// here, if anything still waits on it.
    #[inline]
    pub(crate) fn progress(&mut self, i: usize, now: u64) {
        self.unanswered_since[i] = if self.waiting[i] == 0 { 0 } else { now };
    }

    /// Link `i` logged in: a new connection starts without a score.
    pub(crate) fn on_live(&mut self, i: usize) {
        self.smoothed[i] = 0;
        self.unanswered_since[i] = 0;
    }

    /// Link `i` was lost: its round trips no longer say anything.
    pub(crate) fn on_lost(&mut self, i: usize) {
        self.smoothed[i] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::account::testkit::View;

    const MS: u64 = 1_000_000;

    #[test]
    fn ties_go_to_the_lowest_slot() {
        let router = Router::new();
        let links = [View::serving(), View::serving(), View::serving()];
        assert_eq!(router.best(&links, 10, 0), Some(0));
        assert_eq!(router.best(&links, 10, 0b001), Some(1), "slot 0 excluded");
        assert_eq!(router.best(&links, 10, 0b011), Some(2));
        assert_eq!(router.best(&links, 10, 0b111), None);
    }

    #[test]
    fn the_link_that_answers_fastest_takes_the_cancel() {
        let mut router = Router::new();
        let links = [View::serving(), View::serving()];
        router.answered(0, 5 * MS);
        router.answered(1, 2 * MS);
        assert_eq!(router.best(&links, 10 * MS, 0), Some(1));
        // Smoothing: one fast reply on slot 0 does not win it back at once.
        router.answered(0, MS);
        assert_eq!(router.best(&links, 10 * MS, 0), Some(1));
    }

    #[test]
    fn links_that_cannot_take_a_cancel_now_are_skipped() {
        let router = Router::new();
        let links = [View::busy(), View::draining(), View::serving()];
        assert_eq!(router.best(&links, 0, 0), Some(2));
        assert!(
            Router::any_serving(&links, 0b100),
            "a busy link still serves"
        );
        assert!(!Router::any_serving(&[View::draining(), View::down()], 0));
    }

    #[test]
    fn a_frozen_link_stops_attracting_cancels_once_silent_longer_than_another_answers() {
        let mut router = Router::new();
        let links = [View::serving(), View::serving()];
        // Both have answered before: slot 0 a little faster.
        router.answered(0, 2 * MS);
        router.answered(1, 3 * MS);
        // A cancel goes to slot 0, which freezes: no reply comes.
        router.sent(0, 100 * MS);
        assert_eq!(
            router.best(&links, 101 * MS, 0),
            Some(0),
            "silent for 1 ms only"
        );
        assert_eq!(
            router.best(&links, 104 * MS, 0),
            Some(1),
            "silent for 4 ms, longer than slot 1 takes to answer"
        );
        // Slot 1 answers while slot 0 stays frozen: slot 0 keeps losing.
        router.sent(1, 104 * MS);
        router.answered(1, 3 * MS);
        router.done(1);
        router.progress(1, 107 * MS);
        assert_eq!(router.best(&links, 200 * MS, 0), Some(1));
        // When what waited on slot 0 is given up, its silence no longer counts against it,
        // but the wait it lost is charged to its score.
        router.done(0);
        router.outrun(0, 100 * MS);
        assert_eq!(router.stalled_for(0, 200 * MS), 0);
        assert_eq!(router.best(&links, 200 * MS, 0), Some(1));
    }

    #[test]
    fn a_late_reply_counts_as_progress_while_other_cancels_wait() {
        let mut router = Router::new();
        router.sent(0, 10);
        router.sent(0, 20);
        assert_eq!(router.waiting(0), 2);
        assert_eq!(router.stalled_for(0, 50), 40);
        router.done(0);
        router.progress(0, 45);
        assert_eq!(
            router.stalled_for(0, 50),
            5,
            "silence counts from the reply"
        );
        router.done(0);
        router.progress(0, 48);
        assert_eq!(router.stalled_for(0, 50), 0, "nothing waits");
    }

    #[test]
    fn a_new_connection_starts_without_a_score() {
        let mut router = Router::new();
        router.answered(1, 9 * MS);
        router.sent(1, 5);
        router.on_lost(1);
        router.on_live(1);
        let links = [View::serving(), View::serving()];
        router.answered(0, MS);
        assert_eq!(router.best(&links, 10 * MS, 0), Some(1), "0 beats 1 ms");
    }
}
