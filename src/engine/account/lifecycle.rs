//! An intent's life in the account outside its sends: taken in (from the ring, or straight
//! from the inline caller), settled without a reply (expired, no path left, shutdown), and the
//! account's own shutdown. Every accepted intent leaves through exactly one `emit`.

use super::super::handle::Submission;
use super::super::link::{LinkSeam, LinkView};
use super::super::plumbing::{IntentSource, OutcomeSink};
use super::super::shared::SessionState;
use super::PATHS;
use super::inflight::{Entry, InsertError};
use super::stats::pool_state;
use crate::clock::Clock;
use crate::intent::RequestId;
use crate::outcome::{
    ConnectFailure, ErrorText, NotSentReason, Outcome, Status, Timestamps, UnknownReason, VenueMsg,
    Via,
};
use std::sync::atomic::Ordering;

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> super::Account<I, O, L, C> {
    /// The venue's refusal of the credentials that settles a cancel at once, if one stands and
    /// no path is trying them again (see [`super::Refusal::refuses`]): no connection is live,
    /// and REST waits after its own refusal or every connection in use was refused.
    #[inline]
    pub(super) fn refused_now(&self) -> Option<(i64, VenueMsg)> {
        self.refusal.last()?;
        let every_link_refused = self
            .links
            .iter()
            .filter(|l| !l.is_done())
            .all(|l| l.state() == SessionState::LoginRejected);
        let any_live = self.links.iter().any(LinkView::is_live);
        self.refusal
            .refuses(self.clock.now(), any_live, every_link_refused)
    }

    /// Why a cancel that waited its maximum queueing time was never sent: the venue's refusal
    /// of the credentials if one stands and no connection is live; the last connection error if
    /// no path came up (no connection live, no REST connection open); else the queue timeout
    /// (a path was up: pacing held it).
    fn unsent_reason(&self) -> NotSentReason {
        let any_live = self.links.iter().any(LinkView::is_live);
        if let Some((code, msg)) = self.refusal.last()
            && !any_live
        {
            return NotSentReason::LoginRejected { code, msg };
        }
        if any_live || self.rest.is_open() {
            return NotSentReason::QueueTimeout;
        }
        let last = if self.rest.only() {
            self.rest_failure
        } else {
            self.link_failure.or(self.rest_failure)
        };
        let (failure, error) = last.unwrap_or_else(|| {
            let error = if self.rest.only() {
                ErrorText::new("the REST connection was not open yet")
            } else {
                let states = self.links.iter().filter(|l| !l.is_done()).map(L::state);
                let state = pool_state(states).unwrap_or(SessionState::Connecting);
                ErrorText::display(&format_args!(
                    "no connection attempt had ended yet (still {state})"
                ))
            };
            (ConnectFailure::Pending, error)
        });
        NotSentReason::NoConnection { failure, error }
    }

    /// Whether there is room to hold one more intent and its outcome.
    #[inline]
    fn has_room(&self) -> bool {
        self.table.len() + self.out.waiting() < self.table.capacity()
    }

    /// Takes intents from the ring while there is room to hold them and their outcomes.
    pub(super) fn intake(&mut self) -> bool {
        let mut work = false;
        while self.has_room() {
            let Ok(sub) = self.intents.try_recv() else {
                break;
            };
            work = true;
            self.take_in(sub);
        }
        work
    }

    /// Holds one accepted intent (or decides its outcome at once).
    fn take_in(&mut self, sub: Submission) {
        self.shared.counters.0.intents.incr();
        if sub.cancel_all {
            self.take_in_cancel_all(sub);
            return;
        }
        if let Some((code, msg)) = self.refused_now() {
            self.emit_unsent(&sub, NotSentReason::LoginRejected { code, msg });
            return;
        }
        match self
            .table
            .insert_queued(sub.id, sub.wire, sub.cancel, sub.accepted_ns)
        {
            Ok(slot) => {
                if let Some(c) = &mut self.confirm {
                    let seq = self.table.entry(slot).seq;
                    // No room is not lost: the intent is unconfirmed once its outcome comes.
                    c.track(seq, sub.id, &sub.cancel, sub.accepted_ns);
                }
            }
            // Callers check `has_room` first; kept total rather than trusted.
            Err(InsertError::Full) => self.emit_unsent(&sub, NotSentReason::QueueTimeout),
        }
    }

    /// The inline engine's intake: holds `sub` and sends what pacing allows at once, on the
    /// caller's thread. Hands the intent back when the engine is stopping (`Err(true)`) or has
    /// no room (`Err(false)`).
    #[inline]
    pub(crate) fn submit(&mut self, sub: Submission) -> Result<(), bool> {
        if self.stopping.is_some() {
            return Err(true);
        }
        if !self.has_room() {
            return Err(false);
        }
        let now = sub.accepted_ns;
        self.take_in(sub);
        // Accepted a moment ago: that is the time it goes out.
        self.send_at(now);
        Ok(())
    }

    /// Draws the next send number, and its wire id.
    #[inline]
    pub(crate) fn next_wire_id(&self) -> (u64, RequestId) {
        let n = self.next_wire();
        (n, self.wire_ids.id(n))
    }

    /// Draws the next send number (from the counter the handles draw first sends from).
    #[inline]
    pub(crate) fn next_wire(&self) -> u64 {
        self.intents.take_id(&self.shared.submit.0.next_id)
    }

    /// Starts shutting down, as the threaded engine's `shutdown` asks its thread to.
    pub(crate) fn request_shutdown(&mut self) {
        if self.stopping.is_none() {
            let now = self.clock.now();
            self.begin_shutdown(now);
        }
    }

    pub(super) fn emit_unsent(&mut self, sub: &Submission, reason: NotSentReason) {
        let now = self.clock.now();
        let outcome = Outcome {
            id: sub.id,
            cancel: sub.cancel,
            status: Status::NotSent(reason),
            times: Timestamps {
                accepted_ns: sub.accepted_ns,
                handed_ns: 0,
                written_ns: 0,
                settled_ns: now,
            },
            attempts: 0,
            via: None,
            batch: None,
            cancel_all: None,
        };
        self.out.emit(outcome, &self.shared.counters.0);
    }

    pub(super) fn emit_entry(&mut self, e: Entry, status: Status, now: u64, via: Option<Via>) {
        self.emit_entry_in(e, status, now, via, None);
    }

    /// [`Self::emit_entry`] for an intent settled by an entry of the batch `batch`, if any.
    pub(super) fn emit_entry_in(
        &mut self,
        e: Entry,
        status: Status,
        now: u64,
        via: Option<Via>,
        batch: Option<crate::outcome::BatchRef>,
    ) {
        let outcome = Outcome {
            id: e.id,
            cancel: e.cancel,
            status,
            times: Timestamps {
                accepted_ns: e.accepted_ns,
                handed_ns: e.handed_ns,
                written_ns: e.written_ns,
                settled_ns: now,
            },
            attempts: e.sends,
            via,
            batch,
            cancel_all: None,
        };
        self.out.emit(outcome, &self.shared.counters.0);
        // The final word comes after the outcome, never before.
        if let Some(c) = &mut self.confirm {
            let counters = &self.shared.counters.0.finals;
            let sent = status.was_sent();
            c.settle(e.seq, e.id, &e.cancel, e.accepted_ns, sent, now, counters);
        }
    }

    /// Settles an in-flight intent without a reply.
    pub(super) fn settle_unanswered(&mut self, slot: u32, reason: UnknownReason, now: u64) {
        let live = self.table.entry(slot).live_links();
        for k in 0..PATHS {
            if live & (1 << k) != 0 {
                self.router.done(k);
            }
        }
        let e = self.table.settle(slot);
        self.emit_entry(e, Status::Unknown(reason), now, None);
    }

    /// Every cancel in flight gets `reason`.
    fn fail_in_flight(&mut self, reason: UnknownReason) {
        let now = self.clock.now();
        while let Some((slot, _)) = self.table.oldest_in_flight() {
            self.settle_unanswered(slot, reason, now);
        }
        self.outbox.forget_all();
        self.resend.clear();
        self.retries.clear();
        self.rest.forget_in_flight();
        self.burst.batch = None;
    }

    /// Every waiting intent gets `reason`.
    pub(super) fn fail_queued(&mut self, reason: NotSentReason) {
        let now = self.clock.now();
        while let Some(e) = self.table.pop_queued() {
            self.emit_entry(e, Status::NotSent(reason), now, None);
        }
    }

    /// Settles what waited too long: to be sent (queue timeout) or for its reply (ack
    /// timeout).
    pub(super) fn expire(&mut self, now: u64) -> bool {
        let mut work = false;
        // The oldest first, wherever its priority put it: none waits past its queue timeout.
        while let Some((slot, e)) = self.table.oldest_queued() {
            if e.accepted_ns.saturating_add(self.max_queue) > now {
                break;
            }
            let reason = self.unsent_reason();
            if let Some(e) = self.table.remove_queued(slot) {
                self.emit_entry(e, Status::NotSent(reason), now, None);
            }
            work = true;
        }
        while let Some((slot, e)) = self.table.oldest_in_flight() {
            if e.sent_ns.saturating_add(self.ack_timeout) > now {
                break;
            }
            if e.has_live_attempt() {
                self.settle_unanswered(slot, UnknownReason::AckTimeout, now);
            } else {
                // Waited for a path (or a retry) for its whole ack timeout.
                self.settle_no_path(slot, UnknownReason::ConnectionLost, now);
            }
            work = true;
        }
        work
    }

    // ----- shutdown -----

    /// Stops taking intents: everything not yet sent is reported not sent.
    pub(super) fn begin_shutdown(&mut self, now: u64) {
        let shared = self.shared.clone();
        shared.stopped.0.store(true, Ordering::SeqCst);
        // A handle that saw `stopped` false is between two instructions: wait for its push.
        while shared.submit.0.submitting.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
        while let Ok(sub) = self.intents.try_recv() {
            shared.counters.0.intents.incr();
            self.emit_unsent(&sub, NotSentReason::Shutdown);
        }
        self.fail_queued(NotSentReason::Shutdown);
        self.fail_waiting_cancel_alls();
        self.stopping = Some(now.saturating_add(self.shutdown_grace));
        crate::relay::log_info!(
            "shutting down with {} cancels in flight",
            self.table.in_flight()
        );
    }

    /// Waits for replies in flight, then closes every link; true while there is work.
    pub(super) fn shutdown_step(&mut self, now: u64) -> bool {
        let grace_over = self.stopping.is_some_and(|d| now >= d);
        // A reply can still come on a live link or to the request on the REST connection.
        let live = self.links.iter().any(LinkView::is_live)
            || self.rest.has_in_flight()
            || self.burst.batch.is_some()
            || self.burst.alls.has_in_flight();
        if !(self.table.in_flight() == 0 || grace_over || !live) {
            return false;
        }
        let mut work = false;
        if self.table.in_flight() > 0 {
            self.fail_in_flight(UnknownReason::Shutdown);
            work = true;
        }
        // The dead man's switch goes off before the REST connection closes.
        if self.dead_man_off_pending(grace_over) {
            return true;
        }
        for i in 0..self.links.len() {
            let link = &self.links[i];
            if link.is_done() || link.state() == SessionState::Stopped {
                continue;
            }
            self.links[i].close(now, &self.registry, &mut self.scratch);
            work = true;
        }
        if self.rest.shutdown(&self.registry) {
            self.apply_rest_events(now);
            work = true;
        }
        work
    }

    /// Whether shutdown is complete: every link and the REST connection closed.
    /// `finish` comes next.
    pub(crate) fn is_finished(&self) -> bool {
        self.stopping.is_some() && self.links.iter().all(LinkView::is_done) && self.rest.is_closed()
    }

    /// Reports whatever is left and hands every outcome over.
    pub(crate) fn finish(&mut self) {
        self.fail_cancel_alls();
        self.fail_in_flight(UnknownReason::Shutdown);
        self.fail_queued(NotSentReason::Shutdown);
        while let Ok(sub) = self.intents.try_recv() {
            self.emit_unsent(&sub, NotSentReason::Shutdown);
        }
        if let Some(c) = &mut self.confirm {
            c.finish(self.clock.now(), &self.shared.counters.0.finals);
        }
        // The caller may not be reading: what does not fit waits where handles look last.
        self.out.leave_the_rest(&self.shared);
        if let Some(c) = &mut self.confirm {
            c.out.leave_the_rest(&self.shared);
        }
        for link in &self.shared.counters.0.links {
            link.set_state(SessionState::Stopped);
        }
        self.shared.set_state(SessionState::Stopped);
        crate::relay::log_info!("engine stopped");
    }
}
