//! The send step of a turn: re-sends first (failovers and trouble hedges), then first sends in
//! arrival order on the best link (batched into one write per link), then timed hedges. The
//! decisions are the parts' (router, hedger, re-send queue, REST rung); this file wires them to
//! the table and the links, and stamps what went out (outbox).

use super::super::link::LinkSeam;
use super::super::plumbing::{IntentSource, OutcomeSink};
use super::super::shared::SessionError;
use super::hedger::HedgeRoute;
use super::inflight::AttemptKind;
use super::router::Router;
use super::{BATCH_BYTES, MAX_CANCEL_FRAME, link_cx};
use crate::clock::Clock;
use crate::intent::RequestId;
use crate::outcome::UnknownReason;

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> super::Account<I, O, L, C> {
    /// Counts an attempt sent on path `l` at `now`.
    #[inline]
    pub(super) fn attempt_sent(&mut self, l: usize, now: u64) {
        self.router.sent(l, now);
        let counters = &self.shared.counters.0;
        counters.sent.incr();
        match counters.links.get(l) {
            Some(link) => link.sent.incr(),
            None => counters.rest_sent.incr(),
        }
    }

    /// Re-sends, first sends and hedges, as pacing allows. True if anything went out or was
    /// decided.
    pub(super) fn send(&mut self) -> bool {
        let waiting = !self.resend.is_empty()
            || self.table.front_queued().is_some()
            || !self.hedger.is_empty();
        if !waiting {
            return false;
        }
        // `now` was read at the start of the turn, possibly before intents taken in during the
        // turn were accepted: stamp cancels with the time they go out, since their ack timeout
        // and the pacing window count from it.
        let now = self.clock.now();
        self.send_at(now)
    }

    /// [`Self::send`] at `now`, which must not be earlier than any intent held.
    #[inline]
    pub(super) fn send_at(&mut self, now: u64) -> bool {
        let mut work = self.send_again(now);
        work |= self.send_first(now);
        if self.table.queued() == 0 && self.resend.is_empty() && self.hedger.is_on() {
            work |= self.send_hedges(now);
        }
        work
    }

    /// Sends again what lost its connection (or whose connection reported trouble), on another
    /// link; a failover with nowhere to go is settled unknown at once.
    fn send_again(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some((slot, seq, kind)) = self.resend.front() {
            if !self.table.is_in_flight(slot, seq) {
                self.resend.pop();
                continue;
            }
            let e = self.table.entry(slot);
            let covered = e.has_live_attempt();
            if kind == AttemptKind::Failover && covered {
                self.resend.pop();
                continue;
            }
            let exclude = e.live_links();
            let can_send = self.table.can_send_again(slot);
            let serving = Router::any_serving(&self.links, exclude);
            if can_send && !serving && self.rest_may_take(exclude, now) {
                // No WebSocket left: the REST rung takes it, one request at a time.
                if !self.rest.ready(now, &self.cancels) {
                    break;
                }
                self.resend.pop();
                if kind == AttemptKind::Failover {
                    self.shared.counters.0.failovers.incr();
                }
                self.send_rest_again(slot, kind, now);
                work = true;
                continue;
            }
            if !can_send || !serving {
                self.resend.pop();
                work = true;
                if !covered {
                    // No path left: the cancel may or may not have landed.
                    self.settle_unanswered(slot, UnknownReason::ConnectionLost, now);
                }
                continue;
            }
            let l = if kind == AttemptKind::Hedge {
                let ready = self.cancels.is_ready(now);
                match self
                    .hedger
                    .route(&self.router, &self.links, now, exclude, ready)
                {
                    HedgeRoute::Send(l) => l,
                    HedgeRoute::Wait => break,
                    HedgeRoute::Capped => {
                        self.shared.counters.0.hedges_capped.incr();
                        self.resend.pop();
                        continue;
                    }
                    HedgeRoute::Drop => {
                        self.resend.pop();
                        continue;
                    }
                }
            } else {
                if !self.cancels.is_ready(now) {
                    break;
                }
                let Some(l) = self.router.best(&self.links, now, exclude) else {
                    break;
                };
                l
            };
            self.resend.pop();
            let counters = &self.shared.counters.0;
            match kind {
                AttemptKind::Failover => counters.failovers.incr(),
                _ => counters.hedges_sent.incr(),
            }
            self.send_attempt(slot, l, kind, now);
            work = true;
        }
        work
    }

    /// Encodes the cancel of the intent in `slot` under request id `id`, appends it as a masked
    /// frame for link `l` to the frames being built, and notes it as waiting for the kernel.
    #[inline]
    pub(super) fn append_cancel_frame(&mut self, l: usize, slot: u32, id: RequestId) {
        let e = self.table.entry(slot);
        self.links[l].append_cancel(
            &mut self.scratch.frames,
            &mut self.scratch.json,
            self.settings.dialect,
            &id,
            &e.cancel,
        );
        let seq = e.seq;
        self.outbox.sealed(l, slot, seq);
    }

    /// Sends waiting intents in arrival order, batching the frames for one link into one write.
    fn send_first(&mut self, now: u64) -> bool {
        let mut work = false;
        let mut batch: Option<usize> = None;
        self.scratch.frames.clear();
        while let Some((_, e)) = self.table.front_queued() {
            let seq = e.seq;
            if !self.cancels.is_ready(now) {
                self.count_pacing_wait(seq);
                break;
            }
            let l = match batch {
                Some(l)
                    if self.links[l].can_take(now)
                        && self.scratch.frames.len() + MAX_CANCEL_FRAME <= BATCH_BYTES =>
                {
                    l
                }
                _ => {
                    if let Some(l) = batch.take() {
                        self.write_batch(l, now);
                    }
                    match self.router.best(&self.links, now, 0) {
                        Some(l) => l,
                        None => {
                            if Router::any_serving(&self.links, 0) {
                                self.count_pacing_wait(seq);
                            } else if self.gate.is_open(now)
                                && self.refusal.rest_may_try(now)
                                && self.rest.ready(now, &self.cancels)
                                && self.send_rest_first(now)
                            {
                                work = true;
                                continue;
                            }
                            break;
                        }
                    }
                }
            };
            let generation = self.links[l].generation();
            self.links[l].record_message(now);
            self.cancels.record(now);
            let Some(slot) = self.table.send_front(now, l as u8, generation) else {
                break;
            };
            self.attempt_sent(l, now);
            let id = self.table.entry(slot).id;
            // V3: into one batch-cancel with the others due now on this link (batch.rs).
            self.append_first(l, slot, id);
            if self.hedger.is_on() {
                let table = &self.table;
                if self
                    .hedger
                    .queue(slot, seq, |s, q| table.is_in_flight(s, q))
                {
                    self.shared.counters.0.hedges_capped.incr();
                }
            }
            batch = Some(l);
            work = true;
        }
        if let Some(l) = batch {
            self.write_batch(l, now);
        }
        work
    }

    /// Every intent waiting now waits for pacing; count each once.
    fn count_pacing_wait(&mut self, front_seq: u64) {
        let newest = self.table.arrivals();
        let counted = self.paced_through.max(front_seq - 1);
        self.shared.counters.0.pacing_waits.add(newest - counted);
        self.paced_through = newest;
    }

    /// Writes the frames built for link `l`.
    fn write_batch(&mut self, l: usize, now: u64) {
        self.close_batch();
        if self.scratch.frames.is_empty() {
            return;
        }
        let written = self.links[l].write_frames(&self.scratch.frames);
        self.scratch.frames.clear();
        self.after_write(l, written, now);
    }

    fn after_write(&mut self, l: usize, written: Result<(bool, u64), SessionError>, now: u64) {
        match written {
            Ok((all, handed)) => {
                self.outbox.handed(l, handed, &mut self.table);
                if all && self.outbox.is_waiting(l) {
                    let at = self.clock.now();
                    self.outbox.written(l, at, &mut self.table);
                }
            }
            Err(e) => {
                self.links[l].lose(e, link_cx!(self, now));
                self.apply_link_events(now);
            }
        }
    }

    /// One more attempt of the in-flight intent in `slot`, under a fresh id, on link `l`.
    fn send_attempt(&mut self, slot: u32, l: usize, kind: AttemptKind, now: u64) {
        let id = self.ids.fresh(&self.table);
        let generation = self.links[l].generation();
        self.links[l].record_message(now);
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedger.sent(now);
        }
        self.table
            .send_again(slot, id, kind, now, l as u8, generation);
        self.attempt_sent(l, now);
        self.scratch.frames.clear();
        self.append_cancel_frame(l, slot, id);
        let written = self.links[l].write_frames(&self.scratch.frames);
        self.scratch.frames.clear();
        self.after_write(l, written, now);
    }

    /// Hedges first sends that had no reply within the hedge delay, within hedges' share of the
    /// cancel budget.
    fn send_hedges(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some((slot, seq)) = self.hedger.front() {
            if !self.table.is_in_flight(slot, seq) {
                self.hedger.pop();
                continue;
            }
            let e = self.table.entry(slot);
            if e.sends > 1 || !e.has_live_attempt() || !self.table.can_send_again(slot) {
                self.hedger.pop();
                continue;
            }
            if !self.hedger.is_due(e.first_sent_ns, now) {
                break;
            }
            let exclude = e.live_links();
            if !Router::any_serving(&self.links, exclude) {
                // Nowhere else to send it: it waits for its reply.
                self.hedger.pop();
                continue;
            }
            let ready = self.cancels.is_ready(now);
            let l = match self
                .hedger
                .route(&self.router, &self.links, now, exclude, ready)
            {
                HedgeRoute::Send(l) => l,
                HedgeRoute::Wait => break,
                HedgeRoute::Capped => {
                    self.shared.counters.0.hedges_capped.incr();
                    self.hedger.pop();
                    continue;
                }
                HedgeRoute::Drop => {
                    self.hedger.pop();
                    continue;
                }
            };
            self.hedger.pop();
            self.shared.counters.0.hedges_sent.incr();
            self.send_attempt(slot, l, AttemptKind::Hedge, now);
            work = true;
        }
        work
    }
}
