//! Rotation: a link older than the maximum connection age is replaced make-before-break.
//!
//! The spare slot connects (to the endpoint of the link it replaces) and logs in while the old
//! link serves; once the replacement is live the old link drains (no new cancels; it waits for
//! its replies up to the ack timeout, then what is still unanswered goes out elsewhere) and
//! closes with a close frame, but never before the replacement has stayed up a moment
//! ([`SETTLE_NS`], at most the ack timeout): a replacement that dies right after logging in
//! finds the old link still there. The last live link is never taken away first: nothing
//! drains before its replacement is live.
//!
//! If the replacement dies before it is live, it reconnects in its slot (with its own backoff)
//! and the old link serves meanwhile; if it dies while the old link drains, the old link takes
//! cancels again and the switch waits for the replacement's next login. If the old link goes
//! away by itself first, it reconnects in its own slot and the replacement is closed. Once
//! the old link was told to close, the rotation is over: a replacement lost then reconnects
//! in its slot like any link.
//!
//! The rotation decides; the conductor acts ([`RotationStep`]), since acting touches the
//! in-flight table and the sockets.

use super::super::link::LinkView;

/// How long a replacement must stay live before the link it replaces may close.
pub(crate) const SETTLE_NS: u64 = 1_000_000_000;

/// Where a swap stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The replacement connects; the old link serves.
    Connecting,
    /// The replacement is live and the old link drains: from `settle_at` on it closes as
    /// soon as nothing waits on it, and at `deadline` whatever waits.
    Draining { settle_at: u64, deadline: u64 },
    /// The old link was told to close.
    Closing,
}

/// A link being replaced: `new` connects while `old` serves; once `new` is live, `old` drains,
/// then closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Swap {
    old: usize,
    new: usize,
    stage: Stage,
}

/// What the conductor is to do for the rotation this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotationStep {
    /// Nothing.
    Idle,
    /// Take the spare slot `new` into use, at `old`'s endpoint: it replaces `old`.
    Connect { old: usize, new: usize },
    /// The old link went away by itself: close the replacement `new`.
    Abandon { new: usize },
    /// `old` drained, or its drain deadline passed: send what still waits on it elsewhere,
    /// then close it.
    Close { old: usize },
    /// `old` is neither live nor done: drop it.
    Abort { old: usize },
    /// The old link is done: the rotation is over.
    Finished,
}

/// The rotation of the pool's links by age; at most one at a time.
#[derive(Debug)]
pub(crate) struct Rotation {
    max_age: u64,
    ack_timeout: u64,
    swap: Option<Swap>,
}

impl Rotation {
    pub(crate) fn new(max_age: u64, ack_timeout: u64) -> Self {
        Rotation {
            max_age,
            ack_timeout,
            swap: None,
        }
    }

    /// The turn's decision, given each link and how many attempts wait on each.
    pub(crate) fn tick<L: LinkView>(
        &mut self,
        links: &[L],
        waiting: impl Fn(usize) -> u32,
        now: u64,
    ) -> RotationStep {
        let Some(swap) = self.swap else {
            return self.maybe_start(links, now);
        };
        let old = &links[swap.old];
        match swap.stage {
            Stage::Connecting => {
                // The old link serves meanwhile. If it went away on its own, it reconnects in
                // its slot: stop the rotation.
                if !old.is_serving() && !old.is_live() {
                    self.swap = None;
                    return RotationStep::Abandon { new: swap.new };
                }
                RotationStep::Idle
            }
            Stage::Draining {
                settle_at,
                deadline,
            } => {
                if old.is_done() {
                    self.swap = None;
                    return RotationStep::Finished;
                }
                if !old.is_live() {
                    return RotationStep::Abort { old: swap.old };
                }
                if now >= settle_at && (waiting(swap.old) == 0 || now >= deadline) {
                    self.set_stage(Stage::Closing);
                    return RotationStep::Close { old: swap.old };
                }
                RotationStep::Idle
            }
            Stage::Closing => {
                if old.is_done() {
                    self.swap = None;
                    return RotationStep::Finished;
                }
                RotationStep::Idle
            }
        }
    }

    fn set_stage(&mut self, stage: Stage) {
        if let Some(swap) = self.swap.as_mut() {
            swap.stage = stage;
        }
    }

    fn maybe_start<L: LinkView>(&mut self, links: &[L], now: u64) -> RotationStep {
        let aged = links
            .iter()
            .position(|l| l.is_serving() && now.saturating_sub(l.live_since()) >= self.max_age);
        let Some(old) = aged else {
            return RotationStep::Idle;
        };
        let Some(new) = links.iter().position(|l| l.is_done()) else {
            return RotationStep::Idle;
        };
        self.swap = Some(Swap {
            old,
            new,
            stage: Stage::Connecting,
        });
        RotationStep::Connect { old, new }
    }

    /// Link `l` logged in at `now`. If it is the replacement, the old link is to drain from
    /// now on: its slot.
    pub(crate) fn on_live(&mut self, l: usize, now: u64) -> Option<usize> {
        let swap = self.swap.as_mut()?;
        if swap.new != l || swap.stage != Stage::Connecting {
            return None;
        }
        let deadline = now.saturating_add(self.ack_timeout);
        swap.stage = Stage::Draining {
            settle_at: now.saturating_add(SETTLE_NS.min(self.ack_timeout)),
            deadline,
        };
        Some(swap.old)
    }

    /// Link `l` was lost (`done`: for good, it will not reconnect). If it is the replacement
    /// and the old link drains, the old link is to take cancels again: its slot.
    pub(crate) fn on_lost(&mut self, l: usize, done: bool) -> Option<usize> {
        let swap = self.swap.as_mut()?;
        if swap.new != l {
            return None;
        }
        match swap.stage {
            _ if done => {
                self.swap = None;
                None
            }
            Stage::Connecting => None,
            Stage::Draining { .. } => {
                // It reconnects in its slot; the switch waits for its next login.
                swap.stage = Stage::Connecting;
                Some(swap.old)
            }
            Stage::Closing => {
                // The old link is going: the replacement reconnects in its slot like any link.
                self.swap = None;
                None
            }
        }
    }

    /// When the old link's drain may end, at `now` (`u64::MAX`: no drain under way). Once
    /// the replacement settled, a reply that empties the old link wakes the turn anyway.
    pub(crate) fn next_deadline(&self, now: u64) -> u64 {
        match self.swap {
            Some(Swap {
                stage: Stage::Draining { settle_at, .. },
                ..
            }) if now < settle_at => settle_at,
            Some(Swap {
                stage: Stage::Draining { deadline, .. },
                ..
            }) => deadline,
            _ => u64::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::account::testkit::View;

    const MS: u64 = 1_000_000;
    const MAX_AGE: u64 = 60_000 * MS;
    const ACK_TIMEOUT: u64 = 5_000 * MS;

    fn pool() -> [View; 3] {
        // Two links live since 0, the spare slot unused.
        [View::serving(), View::serving(), View::down()]
    }

    #[test]
    fn nothing_rotates_before_the_maximum_age() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        assert_eq!(
            rotation.tick(&pool(), |_| 0, MAX_AGE - 1),
            RotationStep::Idle
        );
    }

    #[test]
    fn an_aged_link_is_replaced_make_before_break() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE),
            RotationStep::Connect { old: 0, new: 2 }
        );
        links[2] = View::connecting();
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE + MS),
            RotationStep::Idle,
            "the old link serves until the replacement is live"
        );
        assert_eq!(
            rotation.on_live(1, MAX_AGE + MS),
            None,
            "not the replacement"
        );
        links[2] = View::serving();
        let live = MAX_AGE + 2 * MS;
        assert_eq!(rotation.on_live(2, live), Some(0), "now the old one drains");
        assert_eq!(rotation.next_deadline(live), live + SETTLE_NS);
        links[0] = View::draining();
        assert_eq!(
            rotation.tick(&links, |_| 0, live + SETTLE_NS - 1),
            RotationStep::Idle,
            "answered, but the replacement has not settled yet"
        );
        assert_eq!(
            rotation.tick(&links, |l| u32::from(l == 0), live + SETTLE_NS),
            RotationStep::Idle,
            "a reply is still due on the old link"
        );
        assert_eq!(
            rotation.next_deadline(live + SETTLE_NS),
            live + ACK_TIMEOUT,
            "then it waits for the drain deadline"
        );
        assert_eq!(
            rotation.tick(&links, |_| 0, live + SETTLE_NS + MS),
            RotationStep::Close { old: 0 },
            "answered: it closes"
        );
        assert_eq!(rotation.next_deadline(live + SETTLE_NS + MS), u64::MAX);
        links[0] = View::down();
        assert_eq!(
            rotation.tick(&links, |_| 0, live + SETTLE_NS + 2 * MS),
            RotationStep::Finished
        );
    }

    #[test]
    fn a_draining_link_closes_at_its_deadline_with_replies_still_due() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        links[2] = View::serving();
        rotation.on_live(2, MAX_AGE);
        links[0] = View::draining();
        assert_eq!(
            rotation.tick(&links, |_| 3, MAX_AGE + ACK_TIMEOUT - 1),
            RotationStep::Idle
        );
        assert_eq!(
            rotation.tick(&links, |_| 3, MAX_AGE + ACK_TIMEOUT),
            RotationStep::Close { old: 0 }
        );
    }

    #[test]
    fn a_replacement_that_dies_before_it_is_live_leaves_the_old_link_serving() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        // Its connection fails: it backs off and tries again in its slot.
        links[2] = View::connecting();
        assert_eq!(rotation.on_lost(2, false), None, "nothing to give back");
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE + MS),
            RotationStep::Idle
        );
        assert!(links[0].is_serving());
        // It makes it the second time: the switch goes on.
        assert_eq!(rotation.on_live(2, MAX_AGE + 9 * MS), Some(0));
    }

    #[test]
    fn a_replacement_that_dies_while_the_old_link_drains_gives_the_old_link_back() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        links[2] = View::serving();
        assert_eq!(rotation.on_live(2, MAX_AGE), Some(0));
        links[0] = View::draining();
        // The replacement is lost while replies are due on the old link.
        links[2] = View::connecting();
        assert_eq!(
            rotation.on_lost(2, false),
            Some(0),
            "the old link takes cancels again"
        );
        links[0] = View::serving();
        assert_eq!(
            rotation.next_deadline(MAX_AGE),
            u64::MAX,
            "no drain under way"
        );
        assert_eq!(
            rotation.tick(&links, |_| 1, MAX_AGE + ACK_TIMEOUT),
            RotationStep::Idle,
            "nothing closes at the old drain deadline"
        );
        // The replacement is back: the old link drains again.
        assert_eq!(rotation.on_live(2, MAX_AGE + 100 * MS), Some(0));
    }

    #[test]
    fn a_replacement_that_dies_right_after_logging_in_finds_the_old_link_still_there() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        links[2] = View::serving();
        assert_eq!(rotation.on_live(2, MAX_AGE), Some(0));
        links[0] = View::draining();
        // Nothing waits on the old link: still, it does not close in the very next turns.
        for t in [MAX_AGE, MAX_AGE + MS, MAX_AGE + SETTLE_NS / 2] {
            assert_eq!(rotation.tick(&links, |_| 0, t), RotationStep::Idle, "{t}");
        }
        // The replacement dies (the venue closed it just after the login).
        links[2] = View::connecting();
        assert_eq!(
            rotation.on_lost(2, false),
            Some(0),
            "the old link serves again"
        );
        links[0] = View::serving();
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE + 2 * SETTLE_NS),
            RotationStep::Idle,
            "and is not closed"
        );
    }

    #[test]
    fn a_replacement_lost_once_the_old_link_closes_reconnects_on_its_own() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        links[2] = View::serving();
        rotation.on_live(2, MAX_AGE);
        links[0] = View::draining();
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE + SETTLE_NS),
            RotationStep::Close { old: 0 }
        );
        links[2] = View::connecting();
        assert_eq!(
            rotation.on_lost(2, false),
            None,
            "the old link is gone already"
        );
        links[0] = View::down();
        assert_ne!(
            rotation.tick(&links, |_| 0, MAX_AGE + SETTLE_NS + MS),
            RotationStep::Abandon { new: 2 },
            "nothing to abandon: that rotation is over"
        );
    }

    #[test]
    fn a_replacement_retired_for_good_ends_the_rotation() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        assert_eq!(rotation.on_lost(2, true), None);
        // A new rotation may start (the spare slot is free again).
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE + MS),
            RotationStep::Connect { old: 0, new: 2 }
        );
    }

    #[test]
    fn an_old_link_that_goes_away_first_abandons_the_replacement() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let mut links = pool();
        rotation.tick(&links, |_| 0, MAX_AGE);
        links[0] = View::connecting();
        assert_eq!(
            rotation.tick(&links, |_| 0, MAX_AGE + MS),
            RotationStep::Abandon { new: 2 }
        );
    }

    #[test]
    fn without_a_free_slot_nothing_is_taken_away() {
        let mut rotation = Rotation::new(MAX_AGE, ACK_TIMEOUT);
        let links = [View::serving(), View::serving()];
        assert_eq!(
            rotation.tick(&links, |_| 0, 10 * MAX_AGE),
            RotationStep::Idle
        );
    }
}
