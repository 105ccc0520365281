//! Routing: which link a cancel goes out on.
//!
//! A cancel goes to the serving link (logged in, not draining, not stalled, with message budget
//! now and nothing left unflushed) that is expected to answer first: its score is its smoothed
//! round trip (an exponential average of its replies, 1/8 weight each; 0 before the first), or,
//! while cancels sent on it wait for their replies, the time since it last answered one, if that
//! is longer; times one more than the cancels waiting on it. Ties go to the link with fewer
//! cancels waiting, then to the lowest slot, so a burst is spread over the serving links. A
//! cancel another path settled first counts as a sample of at least the time it had waited
//! there. So a link that stalls stops attracting cancels as soon as it has been silent longer
//! than another takes to answer, and one that lost replies earns its way back as the other slows
//! down.
//!
//! A link that leaves a cancel unanswered past the hedge delay while another path answers is
//! **stalled** ([`Router::stall`]): it takes no new cancels at all until it answers again (any
//! reply, a late one too), is lost or logs in anew; the conductor sends what waits on it
//! elsewhere.
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
    /// When each path last answered anything (0: never).
    last_answer: [u64; PATHS],
    /// Paths found stalled: they take no new cancels until they answer again.
    stalled: [bool; PATHS],
}

impl Router {
    pub(crate) fn new() -> Self {
        Router {
            smoothed: [0; PATHS],
            unanswered_since: [0; PATHS],
            waiting: [0; PATHS],
            last_answer: [0; PATHS],
            stalled: [false; PATHS],
        }
    }

    /// The serving, unstalled link expected to answer first that may take a cancel now,
    /// leaving out the links in `exclude` (a bit per slot); ties go to the one with fewer
    /// cancels waiting, then to the lowest slot.
    #[inline]
    pub(crate) fn best<L: LinkView>(&self, links: &[L], now: u64, exclude: u32) -> Option<usize> {
        let mut best: Option<(usize, u64, u32)> = None;
        for (i, link) in links.iter().enumerate() {
            if exclude & (1 << i) != 0 || self.stalled[i] || !link.can_take(now) {
                continue;
            }
            let waiting = self.waiting[i];
            let score = self.smoothed[i]
                .max(self.stalled_for(i, now))
                .saturating_mul(u64::from(waiting) + 1);
            if best.is_none_or(|(_, s, w)| score < s || (score == s && waiting < w)) {
                best = Some((i, score, waiting));
            }
        }
        best.map(|(i, _, _)| i)
    }

    /// Whether a link outside `exclude` serves and is not stalled (whether or not it has budget
    /// now).
    #[inline]
    pub(crate) fn any_serving<L: LinkView>(&self, links: &[L], exclude: u32) -> bool {
        links
            .iter()
            .enumerate()
            .any(|(i, l)| exclude & (1 << i) == 0 && !self.stalled[i] && l.is_serving())
    }

    /// How long path `i` has left a cancel sent on it unanswered (0: none waits).
    #[inline]
    pub(crate) fn stalled_for(&self, i: usize, now: u64) -> u64 {
        match self.unanswered_since[i] {
            0 => 0,
            since => now.saturating_sub(since),
        }
    }

    /// Since when path `i` has left cancels unanswered (0: none waits).
    #[inline]
    pub(crate) fn unanswered_since(&self, i: usize) -> u64 {
        self.unanswered_since[i]
    }

    /// Whether a path other than `i` answered anything after `since`.
    pub(crate) fn another_answered_after(&self, i: usize, since: u64) -> bool {
        self.last_answer
            .iter()
            .enumerate()
            .any(|(k, &at)| k != i && at > since)
    }

    /// Attempts on path `i` that may still be answered.
    #[inline]
    pub(crate) fn waiting(&self, i: usize) -> u32 {
        self.waiting[i]
    }

    /// Whether path `i` is stalled.
    #[inline]
    pub(crate) fn is_stalled(&self, i: usize) -> bool {
        self.stalled[i]
    }

    /// Path `i` stalled: no new cancels until it answers again.
    pub(crate) fn stall(&mut self, i: usize) {
        self.stalled[i] = true;
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

    /// Path `i` answered something at `now` (a reply, even a late one): its silence counts from
    /// here, if anything still waits on it, and it is no longer stalled.
    #[inline]
    pub(crate) fn progress(&mut self, i: usize, now: u64) {
        self.unanswered_since[i] = if self.waiting[i] == 0 { 0 } else { now };
        self.last_answer[i] = now;
        self.stalled[i] = false;
    }

    /// Link `i` logged in: a new connection starts without a score.
    pub(crate) fn on_live(&mut self, i: usize) {
        self.smoothed[i] = 0;
        self.unanswered_since[i] = 0;
        self.stalled[i] = false;
    }

    /// Link `i` was lost: its round trips no longer say anything.
    pub(crate) fn on_lost(&mut self, i: usize) {
        self.smoothed[i] = 0;
        self.stalled[i] = false;
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
            router.any_serving(&links, 0b100),
            "a busy link still serves"
        );
        assert!(!router.any_serving(&[View::draining(), View::down()], 0));
    }

    #[test]
    fn a_frozen_link_stops_attracting_cancels_once_silent_longer_than_another_answers() {
        let mut router = Router::new();
        let links = [View::serving(), View::serving()];
        // Both have answered before: slot 0 faster.
        router.answered(0, 2 * MS);
        router.answered(1, 5 * MS);
        // A cancel goes to slot 0, which freezes: no reply comes.
        router.sent(0, 100 * MS);
        assert_eq!(
            router.best(&links, 101 * MS, 0),
            Some(0),
            "silent for 1 ms only: with one cancel waiting, still expected first (4 ms)"
        );
        assert_eq!(
            router.best(&links, 104 * MS, 0),
            Some(1),
            "silent for 4 ms, waiting twice that, longer than slot 1 takes to answer"
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
    fn a_burst_is_spread_over_the_serving_links() {
        let mut router = Router::new();
        let links = [View::serving(), View::serving(), View::serving()];
        let mut taken = [0; 3];
        for _ in 0..9 {
            let l = router.best(&links, 10, 0).unwrap();
            router.sent(l, 10);
            taken[l] += 1;
        }
        assert_eq!(taken, [3, 3, 3]);
        // A link that answers twice as fast takes a larger share.
        let mut router = Router::new();
        router.answered(0, MS);
        router.answered(1, 2 * MS);
        let mut taken = [0; 2];
        for _ in 0..9 {
            let l = router.best(&links[..2], 0, 0).unwrap();
            router.sent(l, 0);
            taken[l] += 1;
        }
        assert_eq!(taken, [6, 3]);
    }

    #[test]
    fn a_stalled_link_takes_nothing_until_it_answers_again() {
        let mut router = Router::new();
        let links = [View::serving(), View::serving()];
        router.sent(0, 10);
        router.sent(1, 10);
        router.done(1);
        router.progress(1, 20);
        assert!(router.another_answered_after(0, router.unanswered_since(0)));
        assert!(!router.another_answered_after(1, 20));
        router.stall(0);
        assert!(router.is_stalled(0));
        assert_eq!(
            router.best(&links, 30, 0b10),
            None,
            "slot 1 excluded, slot 0 stalled"
        );
        assert!(!router.any_serving(&links, 0b10));
        router.progress(0, 40);
        assert_eq!(
            router.best(&links, 50, 0b10),
            Some(0),
            "it answered: back in use"
        );
        router.stall(0);
        router.on_lost(0);
        assert!(!router.is_stalled(0), "a new connection starts afresh");
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
