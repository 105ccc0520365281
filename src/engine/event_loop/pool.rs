//! The pool's upkeep: round-trip percentiles and the adaptive hedge delay, rotation of old
//! connections (make-before-break), and the states published for the handles.

use super::*;

impl<I: IntentSource, O: OutcomeSink> EventLoop<I, O> {
    /// Round-trip percentiles and rotation by age; true if anything happened.
    pub(super) fn housekeeping(&mut self, now: u64) -> bool {
        if now >= self.next_rtt_update {
            self.next_rtt_update = now + RTT_UPDATE_NS;
            self.update_rtt_stats();
        }
        if self.stopping.is_some() {
            return false;
        }
        match self.rotation {
            None => self.maybe_start_rotation(now),
            Some(r) if r.drain_deadline == 0 => {
                // The replacement is still connecting; the old link serves meanwhile. If the old
                // one went away on its own, it reconnects in its slot: stop the rotation.
                if !self.links[r.old].is_serving() && !self.links[r.old].is_live() {
                    self.links[r.new].close(now, self.poll.registry(), &mut self.scratch);
                    self.rotation = None;
                    return true;
                }
                false
            }
            Some(r) => {
                if self.links[r.old].is_done() {
                    self.rotation = None;
                    return true;
                }
                if self.links[r.old].is_live()
                    && (self.live_attempts[r.old] == 0 || now >= r.drain_deadline)
                {
                    // What is still unanswered there goes out elsewhere.
                    self.requeue_attempts_on(r.old, AttemptKind::Failover, true);
                    self.links[r.old].close(now, self.poll.registry(), &mut self.scratch);
                    return true;
                }
                if !self.links[r.old].is_live() && !self.links[r.old].is_done() {
                    self.links[r.old].abort(self.poll.registry());
                    return true;
                }
                false
            }
        }
    }

    pub(super) fn maybe_start_rotation(&mut self, now: u64) -> bool {
        let aged = self
            .links
            .iter()
            .position(|l| l.is_serving() && now.saturating_sub(l.live_since()) >= self.max_age);
        let Some(old) = aged else {
            return false;
        };
        let Some(new) = self.links.iter().position(Link::is_done) else {
            return false;
        };
        log::info!(
            "connection {old} is {:?} old: connecting its replacement in slot {new}",
            Duration::from_nanos(now.saturating_sub(self.links[old].live_since()))
        );
        self.links[new].enable(now);
        self.rotation = Some(Rotation {
            old,
            new,
            drain_deadline: 0,
        });
        true
    }

    pub(super) fn update_rtt_stats(&mut self) {
        let counters = &self.shared.counters.0;
        for (i, window) in self.link_rtt.iter_mut().enumerate() {
            if let Some((p50, p99)) = window.percentiles(&mut self.rtt_scratch) {
                counters.links[i].rtt_p50_ns.set(p50);
                counters.links[i].rtt_p99_ns.set(p99);
            }
        }
        if self.hedge == HedgeAfter::Adaptive
            && self.pool_rtt.len() >= MIN_RTT_SAMPLES
            && let Some((p50, p99)) = self.pool_rtt.percentiles(&mut self.rtt_scratch)
        {
            self.hedge_after = p50
                .saturating_mul(3)
                .max(p99)
                .max(MIN_HEDGE_NS)
                .min((self.ack_timeout / 2).max(MIN_HEDGE_NS));
            counters.hedge_after_ns.set(self.hedge_after);
        }
    }

    /// Publishes each link's state and the pool's, where they changed.
    pub(super) fn publish_states(&mut self) {
        let counters = &self.shared.counters.0;
        let mut pool = SessionState::Backoff;
        let rank = |s: SessionState| match s {
            SessionState::Live => 5,
            SessionState::LoggingIn => 4,
            SessionState::Connecting => 3,
            SessionState::LoginRejected => 2,
            SessionState::Backoff => 1,
            SessionState::Stopped => 0,
        };
        let mut any = false;
        for (i, link) in self.links.iter().enumerate() {
            let state = link.state();
            if state != self.published[i] {
                self.published[i] = state;
                counters.links[i].set_state(state);
            }
            if !link.is_done() {
                if !any || rank(state) > rank(pool) {
                    pool = state;
                }
                any = true;
            }
        }
        if self.rest_only {
            pool = if self.rest.as_ref().is_some_and(RestClient::is_open) {
                SessionState::Live
            } else {
                SessionState::Connecting
            };
            any = true;
        }
        if self.stopping.is_none() && any && pool != self.published_pool {
            self.published_pool = pool;
            self.shared.set_state(pool);
        }
    }
}
