//! What the account publishes for the handles: each link's round-trip percentiles, and where
//! each link and the pool as a whole stand.

use super::rtt::RttWindow;
use crate::engine::shared::{Counters, MAX_SLOTS, SessionState};

/// Replies remembered per link for its percentiles.
const LINK_RTT_SAMPLES: usize = 256;
/// How often the percentiles (and the adaptive hedge delay) are recomputed.
pub(crate) const RTT_UPDATE_NS: u64 = 250_000_000;

/// The pool's state as the handles see it: `Live` while any link is, else how far the most
/// advanced link got.
pub(crate) fn pool_state(states: impl IntoIterator<Item = SessionState>) -> Option<SessionState> {
    let rank = |s: SessionState| match s {
        SessionState::Live => 5,
        SessionState::LoggingIn => 4,
        SessionState::Connecting => 3,
        SessionState::LoginRejected => 2,
        SessionState::Backoff => 1,
        SessionState::Stopped => 0,
    };
    states.into_iter().max_by_key(|&s| rank(s))
}

/// Round trips per link, and the states last published.
#[derive(Debug)]
pub(crate) struct PoolStats {
    link_rtt: Vec<RttWindow>,
    next_update: u64,
    published: [SessionState; MAX_SLOTS],
    published_pool: SessionState,
}

impl PoolStats {
    /// For `links` links.
    pub(crate) fn new(links: usize) -> Self {
        PoolStats {
            link_rtt: (0..links)
                .map(|_| RttWindow::new(LINK_RTT_SAMPLES))
                .collect(),
            next_update: 0,
            published: [SessionState::Stopped; MAX_SLOTS],
            published_pool: SessionState::Connecting,
        }
    }

    /// Link `l` answered after `rtt`.
    #[inline]
    pub(crate) fn record(&mut self, l: usize, rtt: u64) {
        self.link_rtt[l].record(rtt);
    }

    /// Whether the percentiles are due at `now`; if so, the next update is scheduled.
    pub(crate) fn is_due(&mut self, now: u64) -> bool {
        if now < self.next_update {
            return false;
        }
        self.next_update = now + RTT_UPDATE_NS;
        true
    }

    /// Publishes each link's percentiles where new replies came.
    pub(crate) fn publish_rtt(&mut self, counters: &Counters) {
        for (i, window) in self.link_rtt.iter_mut().enumerate() {
            if let Some((p50, p99)) = window.percentiles() {
                counters.links[i].rtt_p50_ns.set(p50);
                counters.links[i].rtt_p99_ns.set(p99);
            }
        }
    }

    /// Publishes each link's state where it changed; the pool's state if it changed (`None`:
    /// nothing to say, every link is done).
    pub(crate) fn publish_states(
        &mut self,
        states: impl Iterator<Item = (SessionState, bool)>,
        counters: &Counters,
    ) -> Option<SessionState> {
        let mut in_use = [SessionState::Stopped; MAX_SLOTS];
        let mut n = 0;
        for (i, (state, done)) in states.enumerate() {
            if state != self.published[i] {
                self.published[i] = state;
                counters.links[i].set_state(state);
            }
            if !done {
                in_use[n] = state;
                n += 1;
            }
        }
        pool_state(in_use[..n].iter().copied())
    }

    /// The pool's state changed to `pool`: true if it differs from what was published.
    pub(crate) fn pool_changed(&mut self, pool: SessionState) -> bool {
        if pool == self.published_pool {
            return false;
        }
        self.published_pool = pool;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_shows_its_most_advanced_connection() {
        use SessionState::*;
        assert_eq!(pool_state([Backoff, Live, Connecting]), Some(Live));
        assert_eq!(pool_state([Backoff, LoggingIn]), Some(LoggingIn));
        assert_eq!(pool_state([LoginRejected, Backoff]), Some(LoginRejected));
        assert_eq!(pool_state([]), None);
    }

    #[test]
    fn states_are_published_where_they_changed() {
        let counters = Counters::default();
        let mut stats = PoolStats::new(3);
        let pool = stats.publish_states(
            [
                (SessionState::Live, false),
                (SessionState::Connecting, false),
                (SessionState::Stopped, true),
            ]
            .into_iter(),
            &counters,
        );
        assert_eq!(pool, Some(SessionState::Live));
        assert!(stats.pool_changed(SessionState::Live));
        assert!(!stats.pool_changed(SessionState::Live), "told once");
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.connections[0].state, SessionState::Live);
        assert_eq!(snapshot.connections[1].state, SessionState::Connecting);
    }

    #[test]
    fn percentiles_are_published_on_their_schedule() {
        let counters = Counters::default();
        let mut stats = PoolStats::new(2);
        assert!(stats.is_due(0));
        assert!(!stats.is_due(RTT_UPDATE_NS - 1));
        stats.record(1, 7);
        stats.publish_rtt(&counters);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.connections[1].rtt_p50_ns, 7);
        assert_eq!(snapshot.connections[0].rtt_p50_ns, 0);
        assert!(stats.is_due(RTT_UPDATE_NS));
    }
}
