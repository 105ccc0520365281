//! The send step of a turn: re-sends first (failovers, then retries after a transient answer
//! whose pause is over), then first sends in arrival order spread over the best links (one
//! write per link), then hedges (for troubled links first, then timed), from what budget is
//! left. The decisions are the parts' (router, hedger, re-send queues, REST rung); this file
//! wires them to the table and the links, and stamps what went out (outbox).

use super::super::link::LinkSeam;
use super::super::plumbing::{IntentSource, OutcomeSink};
use super::super::shared::SessionError;
use super::hedger::HedgeRoute;
use super::inflight::AttemptKind;
use super::{BATCH_BYTES, MAX_CANCEL_FRAME, link_cx};
use crate::clock::Clock;
use crate::outcome::UnknownReason;

/// Which re-send queue a pass works through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resends {
    /// Failovers: due at once.
    Failovers,
    /// Retries after a transient answer: due after their pause.
    Retries,
}

/// What became of the front of a re-send queue.
enum Step {
    /// Dealt with (sent, or settled, or no longer in flight): next.
    Next,
    /// It waits (for budget, a path, or its pause): so does the rest of the queue.
    Wait,
}

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
            || !self.retries.is_empty()
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
        let mut work = false;
        if !self.resend.is_empty() || !self.retries.is_empty() {
            work |= self.send_again(now);
        }
        work |= self.send_first(now);
        if self.hedger.is_on() && !self.hedger.is_empty() {
            work |= self.send_hedges(now);
        }
        work
    }

    /// Sends again what lost its connection (or whose connection stalled), then what got a
    /// transient answer and has waited its pause, on another path. One with nowhere to go
    /// waits here for a path to come back, within its ack timeout; one with no send left is
    /// settled.
    fn send_again(&mut self, now: u64) -> bool {
        let mut work = false;
        for which in [Resends::Failovers, Resends::Retries] {
            loop {
                let front = match which {
                    Resends::Failovers => self.resend.front(),
                    Resends::Retries => self.retries.front(),
                };
                let Some((slot, seq, kind, not_before)) = front else {
                    break;
                };
                if not_before > now {
                    break;
                }
                match self.send_again_one(slot, seq, kind, now, &mut work) {
                    Step::Next => match which {
                        Resends::Failovers => self.resend.pop(),
                        Resends::Retries => self.retries.pop(),
                    },
                    Step::Wait => break,
                }
            }
        }
        work
    }

    /// One entry of a re-send queue (see [`Self::send_again`]).
    fn send_again_one(
        &mut self,
        slot: u32,
        seq: u64,
        kind: AttemptKind,
        now: u64,
        work: &mut bool,
    ) -> Step {
        if !self.table.is_in_flight(slot, seq) {
            return Step::Next;
        }
        let e = self.table.entry(slot);
        // Covered by an attempt that may still be answered (a stalled link's does not count).
        let covered = e
            .live_attempts()
            .any(|a| !self.router.is_stalled(a.link as usize));
        if covered {
            return Step::Next;
        }
        if !self.table.can_send_again(slot) {
            *work = true;
            if !self.table.entry(slot).has_live_attempt() {
                // No send left: the cancel may or may not have landed.
                self.settle_no_path(slot, UnknownReason::ConnectionLost, now);
            }
            return Step::Next;
        }
        let exclude = e.live_links();
        // After a transient answer, another path if there is one.
        let avoid = exclude | e.refused_links();
        if !self.cancels.is_ready(now) {
            return Step::Wait;
        }
        let link = self
            .router
            .best(&self.links, now, avoid)
            .or_else(|| self.router.best(&self.links, now, exclude));
        if let Some(l) = link {
            let counters = &self.shared.counters.0;
            match kind {
                AttemptKind::Retry => counters.retries.incr(),
                _ => counters.failovers.incr(),
            }
            self.send_attempt(slot, l, kind, now);
            *work = true;
            return Step::Next;
        }
        if !self.router.any_serving(&self.links, exclude) && self.rest_may_take(exclude, now) {
            // No WebSocket left: the REST rung takes it, one request at a time.
            if !self.rest.ready(now, &self.cancels) || !self.send_rest_again(slot, kind, now) {
                return Step::Wait;
            }
            let counters = &self.shared.counters.0;
            match kind {
                AttemptKind::Retry => counters.retries.incr(),
                _ => counters.failovers.incr(),
            }
            *work = true;
            return Step::Next;
        }
        // A link serves but has no budget now, or no path is up: wait (the ack timeout ends
        // the wait if nothing comes back in time).
        Step::Wait
    }

    /// Encodes the cancel of the intent in `slot` under send number `wire`, appends it as a
    /// masked frame for link `l` to the frames being built for it, and notes it as waiting for
    /// the kernel.
    #[inline]
    pub(super) fn append_cancel_frame(&mut self, l: usize, slot: u32, wire: u64) {
        let id = self.wire_ids.id(wire);
        let e = self.table.entry(slot);
        self.links[l].append_cancel(
            &mut self.batches[l],
            &mut self.scratch.json,
            self.settings.dialect,
            &id,
            &e.cancel,
        );
        let seq = e.seq;
        self.outbox.sealed(l, slot, seq);
    }

    /// Sends waiting intents in arrival order, each on the link expected to answer first (so a
    /// burst is spread over the serving links), the frames for one link written together.
    fn send_first(&mut self, now: u64) -> bool {
        let mut work = false;
        let mut building: u32 = 0;
        while let Some((_, e)) = self.table.front_queued() {
            let seq = e.seq;
            let wire = e.first_wire;
            // A V3 batch being built takes what fits it: one message for the link's budget, and
            // one cancel per entry for the account's unless configured to count messages.
            let joins = self.joins_open_batch(&e.cancel);
            let counted = joins.is_none() || self.v3_batches.entries_count;
            if counted && !self.cancels.is_ready(now) {
                self.count_pacing_wait(seq);
                break;
            }
            let Some(l) = joins.or_else(|| self.router.best(&self.links, now, 0)) else {
                if self.router.any_serving(&self.links, 0) {
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
            };
            if self.batches[l].len() + MAX_CANCEL_FRAME > BATCH_BYTES {
                self.write_batch(l, now);
                building &= !(1 << l);
                if !self.links[l].can_take(now) {
                    continue;
                }
            }
            let generation = self.links[l].generation();
            if joins.is_none() {
                self.links[l].record_message(now);
            }
            if counted {
                self.cancels.record(now);
            }
            let Some(slot) = self.table.send_front(now, l as u8, generation, true) else {
                break;
            };
            self.attempt_sent(l, now);
            // V3: into one batch-cancel with the others due now on this link (ws_batch.rs).
            self.append_first(l, slot, wire);
            building |= 1 << l;
            if self.hedger.is_on() {
                let table = &self.table;
                if self
                    .hedger
                    .queue(slot, seq, |s, q| table.is_in_flight(s, q))
                {
                    self.shared.counters.0.hedges_capped.incr();
                }
            }
            work = true;
        }
        while building != 0 {
            let l = building.trailing_zeros() as usize;
            building &= building - 1;
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
        if self.batches[l].is_empty() {
            return;
        }
        let written = self.links[l].write_frames(&self.batches[l]);
        self.batches[l].clear();
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

    /// One more attempt of the in-flight intent in `slot`, under a fresh wire id, on link `l`.
    fn send_attempt(&mut self, slot: u32, l: usize, kind: AttemptKind, now: u64) {
        let wire = self.next_wire();
        let generation = self.links[l].generation();
        self.links[l].record_message(now);
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedger.sent(now);
        }
        self.table
            .send_again(slot, wire, kind, now, l as u8, generation);
        self.attempt_sent(l, now);
        self.batches[l].clear();
        self.append_cancel_frame(l, slot, wire);
        self.write_batch(l, now);
    }

    /// Hedges, from what budget first sends left and within hedges' share of it: first the
    /// cancels waiting on links that reported trouble, then first sends that had no reply
    /// within the hedge delay. A hedge the share holds back waits for it.
    fn send_hedges(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some((slot, seq, troubled)) = self.hedger.front_troubled() {
            if !self.table.is_in_flight(slot, seq) {
                self.hedger.pop_troubled();
                continue;
            }
            let e = self.table.entry(slot);
            // Covered elsewhere already, or nothing left to hedge.
            let elsewhere = e.live_links() & !(1 << troubled);
            if elsewhere != 0 || !e.has_live_attempt() || !self.table.can_send_again(slot) {
                self.hedger.pop_troubled();
                continue;
            }
            match self.hedge(slot, seq, now) {
                Some(true) => {
                    self.hedger.pop_troubled();
                    work = true;
                }
                Some(false) => {
                    self.hedger.pop_troubled();
                }
                None => return work,
            }
        }
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
            match self.hedge(slot, seq, now) {
                Some(true) => {
                    self.hedger.pop();
                    work = true;
                }
                Some(false) => self.hedger.pop(),
                None => break,
            }
        }
        work
    }

    /// Hedges the intent in `slot` now if it can: `Some(true)` sent, `Some(false)` never
    /// (nowhere else to send it: it waits for its reply), `None` not now (the share, the budget
    /// or every other link's budget: it waits).
    fn hedge(&mut self, slot: u32, seq: u64, now: u64) -> Option<bool> {
        let exclude = self.table.entry(slot).live_links();
        if !self.router.any_serving(&self.links, exclude) {
            return Some(false);
        }
        let ready = self.cancels.is_ready(now);
        match self
            .hedger
            .route(&self.router, &self.links, now, exclude, ready)
        {
            HedgeRoute::Send(l) => {
                self.shared.counters.0.hedges_sent.incr();
                self.send_attempt(slot, l, AttemptKind::Hedge, now);
                Some(true)
            }
            HedgeRoute::Wait => None,
            HedgeRoute::Capped => {
                if self.hedger.note_capped(slot, seq) {
                    self.shared.counters.0.hedges_capped.incr();
                }
                None
            }
            HedgeRoute::Drop => Some(false),
        }
    }
}
