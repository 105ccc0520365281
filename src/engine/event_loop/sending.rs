//! Sending: routing to the best link, first sends in batches, re-sends after a lost link,
//! hedges, and the stamps of when each frame was handed to and taken by the kernel.

use super::*;

/// What `hedge_route` allows a hedge.
enum HedgeRoute {
    /// Out now, on this link.
    Send(usize),
    /// Not now: the account or every other link is out of budget.
    Wait,
    /// Never: it waits for its reply.
    Drop,
}

impl<I: IntentSource, O: OutcomeSink> EventLoop<I, O> {
    /// The serving link with the lowest smoothed round trip that may take a cancel now, leaving
    /// out the links in `exclude` (a bit per slot).
    pub(super) fn best_link(&self, now: u64, exclude: u32) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, link) in self.links.iter().enumerate() {
            if exclude & (1 << i) != 0 || !link.can_take(now) {
                continue;
            }
            let score = self.smoothed_rtt[i].max(self.stalled_for(i, now));
            if best.is_none_or(|(_, b)| score < b) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// How long link `i` has left a cancel sent on it unanswered (0: none waits).
    #[inline]
    pub(super) fn stalled_for(&self, i: usize, now: u64) -> u64 {
        match self.unanswered_since[i] {
            0 => 0,
            since => now.saturating_sub(since),
        }
    }

    /// An attempt on link `l` is no longer waiting (answered, settled elsewhere, given up).
    #[inline]
    pub(super) fn attempt_done(&mut self, l: usize) {
        self.live_attempts[l] = self.live_attempts[l].saturating_sub(1);
        if self.live_attempts[l] == 0 {
            self.unanswered_since[l] = 0;
        }
    }

    /// Counts an attempt sent on link `l` at `now`.
    pub(super) fn attempt_sent(&mut self, l: usize, now: u64) {
        if self.unanswered_since[l] == 0 {
            self.unanswered_since[l] = now;
        }
        self.live_attempts[l] += 1;
        let counters = &self.shared.counters.0;
        counters.sent.incr();
        match counters.links.get(l) {
            Some(link) => link.sent.incr(),
            None => counters.rest_sent.incr(),
        }
    }

    /// Whether a link outside `exclude` serves (whether or not it has budget now).
    pub(super) fn any_serving(&self, exclude: u32) -> bool {
        self.links
            .iter()
            .enumerate()
            .any(|(i, l)| exclude & (1 << i) == 0 && l.is_serving())
    }

    /// Re-sends, first sends and hedges, as pacing allows. True if anything went out or was
    /// decided.
    pub(super) fn send(&mut self) -> bool {
        let waiting = !self.resend.is_empty()
            || self.table.front_queued().is_some()
            || !self.hedge_queue.is_empty();
        if !waiting {
            return false;
        }
        // `now` was read at the start of the turn, possibly before intents taken in during the
        // turn were accepted: stamp cancels with the time they go out, since their ack timeout
        // and the pacing window count from it.
        self.send_at(monotonic_ns())
    }

    /// [`EventLoop::send`] at `now`, which must not be earlier than any intent held.
    #[inline]
    pub(super) fn send_at(&mut self, now: u64) -> bool {
        let mut work = self.send_again(now);
        work |= self.send_first(now);
        if self.table.queued() == 0 && self.resend.is_empty() && self.hedge_after != 0 {
            work |= self.send_hedges(now);
        }
        work
    }

    /// Sends again what lost its connection (or whose connection reported trouble), on another
    /// link; a failover with nowhere to go is settled unknown at once.
    pub(super) fn send_again(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some(&(slot, seq, kind)) = self.resend.front() {
            if !self.table.is_in_flight(slot, seq) {
                self.resend.pop_front();
                continue;
            }
            let e = self.table.entry(slot);
            let covered = e.has_live_attempt();
            if kind == AttemptKind::Failover && covered {
                self.resend.pop_front();
                continue;
            }
            let exclude = e.live_links();
            let can_send = self.table.can_send_again(slot);
            if can_send && !self.any_serving(exclude) && self.rest_usable(exclude) {
                // No WebSocket left: the REST rung takes it, one request at a time.
                if !self.rest_ready(now) {
                    break;
                }
                self.resend.pop_front();
                if kind == AttemptKind::Failover {
                    self.shared.counters.0.failovers.incr();
                }
                self.send_rest_again(slot, kind, now);
                work = true;
                continue;
            }
            if !can_send || !self.any_serving(exclude) {
                self.resend.pop_front();
                work = true;
                if !covered {
                    // No path left: the cancel may or may not have landed.
                    self.settle_unanswered(slot, UnknownReason::ConnectionLost, now);
                }
                continue;
            }
            let l = if kind == AttemptKind::Hedge {
                match self.hedge_route(now, exclude) {
                    HedgeRoute::Send(l) => l,
                    HedgeRoute::Wait => break,
                    HedgeRoute::Drop => {
                        self.resend.pop_front();
                        continue;
                    }
                }
            } else {
                if !self.cancels.is_ready(now) {
                    break;
                }
                let Some(l) = self.best_link(now, exclude) else {
                    break;
                };
                l
            };
            self.resend.pop_front();
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
    fn append_cancel_frame(&mut self, l: usize, slot: u32, id: RequestId) {
        let e = self.table.entry(slot);
        let seq = e.seq;
        self.scratch.json.clear();
        self.settings
            .dialect
            .encode_cancel(&mut self.scratch.json, &id, &e.cancel);
        let mask = self.links[l].next_mask();
        ws::encode_client_frame(
            &mut self.scratch.frames,
            OpCode::Text,
            &self.scratch.json,
            mask,
        );
        self.awaiting_flush[l].push((slot, seq));
    }

    /// Where a hedge of an intent whose live attempts are on `exclude` may go now. Dropped (it
    /// waits for its reply) when hedges spent their share of the budget (counted as capped) or
    /// when the best other link is itself silent for longer than the hedge delay; it waits when
    /// the account or every other link is out of budget.
    fn hedge_route(&self, now: u64, exclude: u32) -> HedgeRoute {
        if !self.hedges.is_ready(now) {
            self.shared.counters.0.hedges_capped.incr();
            return HedgeRoute::Drop;
        }
        if !self.cancels.is_ready(now) {
            return HedgeRoute::Wait;
        }
        match self.best_link(now, exclude) {
            None => HedgeRoute::Wait,
            Some(l) if self.stalled_for(l, now) > self.hedge_after => HedgeRoute::Drop,
            Some(l) => HedgeRoute::Send(l),
        }
    }

    /// Sends waiting intents in arrival order, batching the frames for one link into one write.
    pub(super) fn send_first(&mut self, now: u64) -> bool {
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
                    match self.best_link(now, 0) {
                        Some(l) => l,
                        None => {
                            if self.any_serving(0) {
                                self.count_pacing_wait(seq);
                            } else if self.rest_ready(now) && self.send_rest_first(now) {
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
            self.append_cancel_frame(l, slot, id);
            if self.hedge_after != 0 {
                self.push_hedge(slot, seq);
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
    pub(super) fn count_pacing_wait(&mut self, front_seq: u64) {
        let newest = self.table.arrivals();
        let counted = self.paced_through.max(front_seq - 1);
        self.shared.counters.0.pacing_waits.add(newest - counted);
        self.paced_through = newest;
    }

    pub(super) fn push_hedge(&mut self, slot: u32, seq: u64) {
        if self.hedge_queue.len() == self.hedge_queue.capacity() {
            let table = &self.table;
            self.hedge_queue.retain(|&(s, q)| table.is_in_flight(s, q));
            if self.hedge_queue.len() == self.hedge_queue.capacity() {
                self.hedge_queue.pop_front();
                self.shared.counters.0.hedges_capped.incr();
            }
        }
        self.hedge_queue.push_back((slot, seq));
    }

    /// Writes the frames built for link `l`.
    pub(super) fn write_batch(&mut self, l: usize, now: u64) {
        if self.scratch.frames.is_empty() {
            return;
        }
        let written = self.links[l].try_write_stamped(&self.scratch.frames);
        self.scratch.frames.clear();
        self.after_write(l, written, now);
    }

    pub(super) fn after_write(
        &mut self,
        l: usize,
        written: Result<(bool, u64), SessionError>,
        now: u64,
    ) {
        match written {
            Ok((all, handed)) => {
                self.stamp_handed(l, handed);
                if all {
                    self.stamp_written(l);
                }
            }
            Err(e) => {
                self.links[l].lose(e, link_cx!(self, now));
                self.apply_link_events(now);
            }
        }
    }

    /// One more attempt of the in-flight intent in `slot`, under a fresh id, on link `l`.
    pub(super) fn send_attempt(&mut self, slot: u32, l: usize, kind: AttemptKind, now: u64) {
        let id = self.fresh_id();
        let generation = self.links[l].generation();
        self.links[l].record_message(now);
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedges.record(now);
        }
        self.table
            .send_again(slot, id, kind, now, l as u8, generation);
        self.attempt_sent(l, now);
        self.scratch.frames.clear();
        self.append_cancel_frame(l, slot, id);
        let written = self.links[l].try_write_stamped(&self.scratch.frames);
        self.scratch.frames.clear();
        self.after_write(l, written, now);
    }

    /// A request id no intent or attempt holds: the next engine number.
    /// A request id for another attempt: `r1`, `r2`, ... counted by this engine, so the intents'
    /// own numbering stays unbroken; one a caller's held intent happens to use is skipped.
    pub(super) fn fresh_id(&mut self) -> RequestId {
        loop {
            self.attempts_made += 1;
            let id = RequestId::attempt(self.attempts_made);
            if !self.table.holds_id(&id) {
                return id;
            }
        }
    }

    /// Hedges first sends that had no reply within the hedge delay, within hedges' share of the
    /// cancel budget.
    pub(super) fn send_hedges(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some(&(slot, seq)) = self.hedge_queue.front() {
            if !self.table.is_in_flight(slot, seq) {
                self.hedge_queue.pop_front();
                continue;
            }
            let e = self.table.entry(slot);
            if e.sends > 1 || !e.has_live_attempt() || !self.table.can_send_again(slot) {
                self.hedge_queue.pop_front();
                continue;
            }
            if now < e.first_sent_ns.saturating_add(self.hedge_after) {
                break;
            }
            let exclude = e.live_links();
            if !self.any_serving(exclude) {
                // Nowhere else to send it: it waits for its reply.
                self.hedge_queue.pop_front();
                continue;
            }
            let l = match self.hedge_route(now, exclude) {
                HedgeRoute::Send(l) => l,
                HedgeRoute::Wait => break,
                HedgeRoute::Drop => {
                    self.hedge_queue.pop_front();
                    continue;
                }
            };
            self.hedge_queue.pop_front();
            self.shared.counters.0.hedges_sent.incr();
            self.send_attempt(slot, l, AttemptKind::Hedge, now);
            work = true;
        }
        work
    }

    /// Everything encrypted so far on link `l` went to `write(2)` at `handed`: the first time
    /// counts for each intent.
    pub(super) fn stamp_handed(&mut self, l: usize, handed: u64) {
        for k in 0..self.awaiting_flush[l].len() {
            let (slot, seq) = self.awaiting_flush[l][k];
            if self.table.is_in_flight(slot, seq) {
                let e = self.table.entry_mut(slot);
                if e.handed_ns == 0 {
                    e.handed_ns = handed;
                }
            }
        }
    }

    /// Everything encrypted so far on link `l` is in the kernel now.
    pub(super) fn stamp_written(&mut self, l: usize) {
        if self.awaiting_flush[l].is_empty() {
            return;
        }
        let written = monotonic_ns();
        for k in 0..self.awaiting_flush[l].len() {
            let (slot, seq) = self.awaiting_flush[l][k];
            if self.table.is_in_flight(slot, seq) {
                let e = self.table.entry_mut(slot);
                if e.written_ns == 0 {
                    e.written_ns = written;
                }
            }
        }
        self.awaiting_flush[l].clear();
    }
}
