//! The REST rung: when no WebSocket link is live, cancels go over Bitget's REST API on the
//! engine's one warm keep-alive HTTPS connection, driven from the same loop.

use super::*;

impl<I: IntentSource, O: OutcomeSink> EventLoop<I, O> {
    /// Whether the REST rung can take a cancel now: open, idle, and the account budget allows.
    pub(super) fn rest_ready(&self, now: u64) -> bool {
        self.rest.as_ref().is_some_and(RestClient::is_ready) && self.cancels.is_ready(now)
    }

    /// Whether the REST rung is a path for an intent whose live attempts are on `exclude`: not
    /// already carrying it, and not down (connected or connecting; busy is fine, it waits).
    pub(super) fn rest_usable(&self, exclude: u32) -> bool {
        exclude & (1 << REST_LINK) == 0
            && self.rest_started
            && self.rest.as_ref().is_some_and(|r| !r.is_down())
    }

    /// Sends the front waiting intent over REST; false if the client refused it.
    pub(super) fn send_rest_first(&mut self, now: u64) -> bool {
        let Some((_, e)) = self.table.front_queued() else {
            return false;
        };
        let (seq, cancel) = (e.seq, e.cancel);
        let Some(rest) = self.rest.as_mut() else {
            return false;
        };
        if let Err(e) = rest.send_cancel(seq, &cancel, now, unix_ms()) {
            log::debug!("REST refused a cancel: {e}");
            return false;
        }
        self.cancels.record(now);
        let Some(slot) = self.table.send_front(now, REST_LINK as u8, 0) else {
            return false;
        };
        self.table.entry_mut(slot).written_ns = monotonic_ns();
        self.rest_in_flight = Some((slot, seq));
        self.attempt_sent(REST_LINK, now);
        true
    }

    /// Sends an in-flight intent again over REST (its WebSocket path is gone).
    pub(super) fn send_rest_again(&mut self, slot: u32, kind: AttemptKind, now: u64) {
        let e = self.table.entry(slot);
        let (seq, cancel) = (e.seq, e.cancel);
        let sent = match self.rest.as_mut() {
            Some(rest) => rest.send_cancel(seq, &cancel, now, unix_ms()),
            None => return,
        };
        if let Err(e) = sent {
            log::debug!("REST refused a cancel: {e}");
            if !self.table.entry(slot).has_live_attempt() {
                self.settle_unanswered(slot, UnknownReason::ConnectionLost, now);
            }
            return;
        }
        let id = self.fresh_id();
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedges.record(now);
        }
        self.table
            .send_again(slot, id, kind, now, REST_LINK as u8, 0);
        let e = self.table.entry_mut(slot);
        if e.written_ns == 0 {
            e.written_ns = monotonic_ns();
        }
        self.rest_in_flight = Some((slot, seq));
        self.attempt_sent(REST_LINK, now);
    }

    /// Starts the REST client (resolving its host) and lets it do its I/O and timers when an
    /// event or a deadline calls for it; true if anything happened.
    pub(super) fn drive_rest(&mut self, now: u64) -> bool {
        let Some(rest) = self.rest.as_mut() else {
            return false;
        };
        let mut work = false;
        if !self.rest_started {
            if self.stopping.is_some() || now < self.rest_retry_at {
                return false;
            }
            match rest.start(now) {
                Ok(()) => {
                    self.rest_started = true;
                    work = true;
                }
                Err(e) => {
                    log::warn!("REST rung: {e}; trying again in 30 s");
                    self.rest_retry_at = now.saturating_add(REST_RESOLVE_RETRY_NS);
                    return false;
                }
            }
        }
        let due = self.rest_event || rest.next_deadline().is_some_and(|d| d <= now);
        if !due {
            return work;
        }
        self.rest_event = false;
        rest.advance(self.poll.registry(), now, unix_ms(), &mut self.rest_events);
        let counters = &self.shared.counters.0;
        counters.rest_connected.set(u64::from(rest.is_open()));
        if let Some(offset) = rest.clock_offset_ms() {
            counters.clock_offset_ms.set(offset as u64);
            counters.clock_synced.set(1);
            self.settings.clock_offset_ms = offset;
        }
        self.apply_rest_events(now);
        true
    }

    /// Acts on what the REST client reported.
    pub(super) fn apply_rest_events(&mut self, now: u64) {
        let mut events = std::mem::take(&mut self.rest_events);
        for event in &events {
            match event {
                RestEvent::Reply { tag, verdict, .. } => {
                    self.shared.counters.0.rest_replies.incr();
                    let status = match *verdict {
                        Verdict::Acked => Status::Acked,
                        Verdict::Rejected { code, msg } => Status::Rejected { code, msg },
                    };
                    match self.take_rest_attempt(*tag) {
                        Some((slot, a)) => self.settle_reply(slot, a, REST_LINK, status, Via::Rest),
                        None => self.shared.counters.0.late_replies.incr(),
                    }
                }
                RestEvent::Failed { tag, error } => {
                    self.shared.counters.0.rest_failures.incr();
                    log::warn!("a cancel over REST got no verdict: {error}");
                    let Some((slot, a)) = self.take_rest_attempt(*tag) else {
                        continue;
                    };
                    let seq = self.table.entry(slot).seq;
                    self.table.entry_mut(slot).attempts[a].state = AttemptState::Dead;
                    self.attempt_done(REST_LINK);
                    if self.table.entry(slot).has_live_attempt() {
                        continue;
                    }
                    if self.stopping.is_none() && self.any_serving(0) {
                        self.push_resend(slot, seq, AttemptKind::Failover);
                    } else {
                        let reason = match error {
                            _ if self.stopping.is_some() => UnknownReason::Shutdown,
                            RestError::Timeout(_) => UnknownReason::AckTimeout,
                            _ => UnknownReason::ConnectionLost,
                        };
                        self.settle_unanswered(slot, reason, now);
                    }
                }
                RestEvent::Connected => log::info!("REST rung connected"),
                RestEvent::Lost(e) => log::info!("REST connection ended: {e}"),
            }
        }
        events.clear();
        self.rest_events = events;
    }

    /// The in-flight intent and attempt the REST request with `tag` carried, if it is still in
    /// flight; clears the REST slot either way when the tag is its.
    pub(super) fn take_rest_attempt(&mut self, tag: u64) -> Option<(u32, usize)> {
        let (slot, seq) = self.rest_in_flight.filter(|&(_, seq)| seq == tag)?;
        self.rest_in_flight = None;
        if !self.table.is_in_flight(slot, seq) {
            return None;
        }
        let e = self.table.entry(slot);
        let a = (0..e.sends as usize).rev().find(|&a| {
            e.attempts[a].link as usize == REST_LINK && e.attempts[a].state == AttemptState::Live
        })?;
        Some((slot, a))
    }
}
