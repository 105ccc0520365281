//! A burst at the venue's limit, in the turn: cancel-alls first, then the backlog's REST
//! batches beside the WebSocket singles (and, for a unified account, its WebSocket
//! `batch-cancel`s). The decisions are the parts' ([`CancelAlls`], [`Batcher`]); this file
//! wires them to the table, the REST rung and the outcomes.
//!
//! Both go in the account's dialect: V2's batch and cancel-all endpoints for a classic
//! account, V3's `cancel-batch` and `cancel-symbol-order` for a unified one. Each request
//! remembers the dialect it went in: its reply is read, and a refusal classified, by that
//! dialect's tables even if the account switched meanwhile. A refusal for the account's kind
//! (40085 to V2, 40084 to V3) is no verdict on the orders: the account switches, a batch's
//! entries are held and go out again in the new dialect, and a cancel-all is sent again in it
//! (within its sends and its ack timeout).
//!
//! - A cancel-all leaves on the REST connection as soon as it is free and its endpoint has
//!   budget, ahead of any batch; its reply is its outcome (`cancel_all` set on it).
//! - A batch takes waiting cancels out of the queue into flight, each with one attempt on the
//!   REST path under the batch's number. Its reply settles each entry by the list that names
//!   it (`via` REST, `batch` set); an entry named in neither list, or every entry of a batch
//!   that got no answer (no reply, a 5xx, an unreadable reply), has its attempt given up and
//!   goes out again like any cancel whose REST request failed (the re-send queue, within its
//!   sends and its ack timeout). A refusal of the whole request follows the venue's codes
//!   table (`Dialect::answer_class`): a transient one (a rate limit, a timeout) is each entry's
//!   transient answer (it settles nothing while a send is left: retried after a pause), one
//!   refusing the credentials is the credentials' refusal, and any other is each entry's
//!   rejection with the venue's code.

use super::super::link::LinkSeam;
use super::super::plumbing::{IntentSource, OutcomeSink};
use super::REST_LINK;
use super::batcher::{BatchPlan, Batcher};
use super::cancel_alls::{CancelAlls, Held};
use super::inflight::{AttemptKind, AttemptState, Transient};
use crate::clock::{Clock, unix_ms};
use crate::engine::handle::Submission;
use crate::intent::{CancelAll, OrderRef};
use crate::outcome::{
    BatchRef, CancelAllReport, ConnectFailure, ErrorText, NotSentReason, Outcome, Status,
    Timestamps, UnknownReason, Via,
};
use crate::rest::{BatchVerdict, CancelAllVerdict, RestError, Verdict};
use crate::venue::v2::rest::MAX_BATCH;

/// Tags of batch requests on the REST connection carry this bit (single cancels are tagged
/// with their arrival numbers, cancel-alls with [`CancelAlls::TAG_BIT`]).
pub(crate) const BATCH_TAG_BIT: u64 = 1 << 61;

/// The batch on the REST connection: its number, the dialect it went in and the intents it
/// carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchInFlight {
    pub batch: BatchRef,
    pub tag: u64,
    pub dialect: crate::venue::Dialect,
    /// `(slot, seq)` of each entry, in the order sent.
    pub entries: [(u32, u64); MAX_BATCH],
    pub len: usize,
}

/// The account's burst state: the batch policy, the cancel-alls, the batch on the wire.
#[derive(Debug)]
pub(crate) struct Burst {
    pub batcher: Batcher,
    pub alls: CancelAlls,
    pub batch: Option<BatchInFlight>,
}

impl Burst {
    pub(crate) fn new(batch_after: Option<u64>, window: u64) -> Self {
        Burst {
            batcher: Batcher::new(batch_after, window),
            alls: CancelAlls::new(window),
            batch: None,
        }
    }
}

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> super::Account<I, O, L, C> {
    // ----- cancel-alls -----

    /// Takes a cancel-all in: held until the REST connection is free, or settled at once.
    pub(super) fn take_in_cancel_all(&mut self, sub: Submission) {
        let all = CancelAll::from_cancel(&sub.cancel);
        if self.stopping.is_some() {
            self.emit_cancel_all_unsent(sub.id, all, sub.accepted_ns, NotSentReason::Shutdown);
            return;
        }
        if !self.rest.exists() {
            let reason = NotSentReason::NoConnection {
                failure: ConnectFailure::Pending,
                error: ErrorText::new("a cancel-all goes over REST, and the REST rung is off"),
            };
            self.emit_cancel_all_unsent(sub.id, all, sub.accepted_ns, reason);
            return;
        }
        if let Some(held) = self.burst.alls.push(sub.id, all, sub.accepted_ns) {
            self.emit_cancel_all_unsent(
                held.id,
                held.all,
                held.accepted_ns,
                NotSentReason::QueueTimeout,
            );
        }
    }

    /// Sends the cancel-all that is due, if the REST connection is free; true if one went.
    pub(super) fn send_cancel_alls(&mut self, now: u64) -> bool {
        if !self.burst.alls.is_waiting() || self.kind_pending() {
            // While the account's kind is asked, a cancel-all waits for the answer.
            return false;
        }
        if !self.rest.can_send() {
            return false;
        }
        // The REST client speaks the account's dialect.
        let dialect = self.settings.dialect;
        let Some(held) = self.burst.alls.due(dialect, now) else {
            return false;
        };
        match self
            .rest
            .send_cancel_all(held.tag, &held.all, now, unix_ms())
        {
            Ok(()) => {
                self.burst.alls.sent(held.tag, dialect, now);
                self.shared.counters.0.batches.cancel_alls.incr();
                true
            }
            Err(e) => {
                crate::relay::log_debug!("REST refused a cancel-all: {e}");
                false
            }
        }
    }

    /// The venue's answer to the cancel-all with `tag`.
    pub(super) fn on_cancel_all_reply(&mut self, tag: u64, verdict: CancelAllVerdict, now: u64) {
        let Some(held) = self.burst.alls.take_in_flight(tag) else {
            self.shared.counters.0.late_replies.incr();
            return;
        };
        // Read by the tables of the dialect it went in, whatever the account speaks now.
        let dialect = held.dialect;
        if let CancelAllVerdict::Rejected { code, msg } = verdict {
            if code == dialect.wrong_account_code() {
                // Sent to the other kind of account's API (40085 to V2, 40084 to V3): no
                // verdict on the orders. The account switches, and the cancel-all goes out
                // again in the new dialect while it has sends and time left.
                self.switch_for(code, now);
                if self.stopping.is_none() && self.may_send_cancel_all_again(&held, now) {
                    self.burst.alls.requeue(held);
                    return;
                }
            } else if dialect.rest_refuses_credentials(code) {
                // No verdict on the orders: the credentials' refusal, as for a cancel.
                self.refusal.on_rest_refused(code, msg, now);
                let reason = NotSentReason::LoginRejected { code, msg };
                self.emit_cancel_all(held, Status::NotSent(reason), Some(Via::Rest), None);
                return;
            }
            if dialect.answer_class(code).is_transient()
                && self.may_send_cancel_all_again(&held, now)
            {
                // A rate limit or a timeout settles nothing while time is left: again.
                self.burst.alls.requeue(held);
                return;
            }
        }
        let asynchronous = dialect.cancel_all_is_asynchronous(held.all.inst_type);
        let (status, succeeded, failed) = match verdict {
            CancelAllVerdict::Acked { succeeded, failed } => {
                self.shared.counters.0.batches.cancel_alls_acked.incr();
                (Status::Acked, succeeded, failed)
            }
            CancelAllVerdict::Rejected { code, msg } => {
                (Status::Rejected { code, msg }, None, None)
            }
        };
        let report = CancelAllReport {
            succeeded,
            failed,
            asynchronous: asynchronous && status.is_acked(),
        };
        self.emit_cancel_all(held, status, Some(Via::Rest), Some(report));
    }

    /// The cancel-all with `tag` got no answer: its fate is unknown.
    fn on_cancel_all_failed(&mut self, tag: u64, error: &RestError) {
        let Some(held) = self.burst.alls.take_in_flight(tag) else {
            return;
        };
        crate::relay::log_warn!("a cancel-all over REST got no answer: {error}");
        let now = self.clock.now();
        if self.stopping.is_none() && self.may_send_cancel_all_again(&held, now) {
            self.burst.alls.requeue(held);
            return;
        }
        let reason = match error {
            _ if self.stopping.is_some() => UnknownReason::Shutdown,
            RestError::Timeout(_) => UnknownReason::AckTimeout,
            _ => UnknownReason::ConnectionLost,
        };
        self.emit_cancel_all(held, Status::Unknown(reason), None, None);
    }

    /// Whether a cancel-all that went out without a verdict may go again: sends left (as many
    /// as a cancel's), and within its ack timeout since it was taken in.
    fn may_send_cancel_all_again(&self, held: &Held, now: u64) -> bool {
        usize::from(held.sends) < super::inflight::MAX_ATTEMPTS
            && now < held.accepted_ns.saturating_add(self.ack_timeout)
    }

    /// Cancel-alls that waited longer than the maximum queueing time, or whose reply is
    /// later than the ack timeout; true if any.
    pub(super) fn expire_cancel_alls(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some(held) = self
            .burst
            .alls
            .take_expired(now.saturating_sub(self.max_queue))
        {
            let reason = if self.rest.is_open() {
                NotSentReason::QueueTimeout
            } else {
                NotSentReason::NoConnection {
                    failure: ConnectFailure::Pending,
                    error: ErrorText::new("the REST connection was not open"),
                }
            };
            self.emit_cancel_all_unsent(held.id, held.all, held.accepted_ns, reason);
            work = true;
        }
        if let Some(held) = self
            .burst
            .alls
            .take_overdue(now.saturating_sub(self.ack_timeout))
        {
            let status = Status::Unknown(UnknownReason::AckTimeout);
            self.emit_cancel_all(held, status, None, None);
            work = true;
        }
        work
    }

    /// Every cancel-all held is settled: at the end of shutdown.
    pub(super) fn fail_cancel_alls(&mut self) {
        self.fail_waiting_cancel_alls();
        if let Some(held) = self.burst.alls.take_overdue(u64::MAX) {
            self.emit_cancel_all(held, Status::Unknown(UnknownReason::Shutdown), None, None);
        }
    }

    /// Every cancel-all waiting is not sent: shutdown began.
    pub(super) fn fail_waiting_cancel_alls(&mut self) {
        while let Some(held) = self.burst.alls.take_waiting() {
            self.emit_cancel_all_unsent(
                held.id,
                held.all,
                held.accepted_ns,
                NotSentReason::Shutdown,
            );
        }
    }

    /// When cancel-alls next need the turn: budget, expiry, an overdue reply.
    pub(super) fn cancel_alls_deadline(&self) -> u64 {
        let alls = &self.burst.alls;
        let mut t = u64::MAX;
        if alls.is_waiting() {
            t = t
                .min(alls.ready_at(self.settings.dialect))
                .min(alls.oldest_accepted().saturating_add(self.max_queue));
        }
        if alls.has_in_flight() {
            t = t.min(alls.in_flight_sent().saturating_add(self.ack_timeout));
        }
        t
    }

    fn emit_cancel_all_unsent(
        &mut self,
        id: crate::intent::RequestId,
        all: CancelAll,
        accepted_ns: u64,
        reason: NotSentReason,
    ) {
        let held = Held {
            id,
            all,
            accepted_ns,
            sent_ns: 0,
            tag: 0,
            sends: 0,
            dialect: self.settings.dialect,
        };
        let scope = CancelAllReport {
            succeeded: None,
            failed: None,
            asynchronous: false,
        };
        self.emit_cancel_all(held, Status::NotSent(reason), None, Some(scope));
    }

    fn emit_cancel_all(
        &mut self,
        held: Held,
        status: Status,
        via: Option<Via>,
        report: Option<CancelAllReport>,
    ) {
        let now = self.clock.now();
        let report = report.unwrap_or(CancelAllReport {
            succeeded: None,
            failed: None,
            asynchronous: false,
        });
        let outcome = Outcome {
            id: held.id,
            cancel: held.all.as_cancel(),
            status,
            times: Timestamps {
                accepted_ns: held.accepted_ns,
                handed_ns: held.sent_ns,
                written_ns: held.sent_ns,
                settled_ns: now,
            },
            attempts: held.sends,
            via,
            batch: None,
            cancel_all: Some(report),
        };
        self.out.emit(outcome, &self.shared.counters.0);
    }

    // ----- batches -----

    /// Sends the next batch the policy plans, if a WebSocket link serves, a REST connection is
    /// free and no cancel-all is due; true if one went.
    ///
    /// Called every turn: with no backlog it returns before it reads the clock (the time after
    /// the turn's singles went), so a busy-polling engine pays nothing for batches it does not
    /// send.
    pub(super) fn send_batches(&mut self) -> bool {
        if !self.burst.batcher.is_on()
            || self.table.queued() == 0
            || self.burst.batch.is_some()
            || self.stopping.is_some()
            || self.kind_pending()
        {
            return false;
        }
        let now = self.clock.now();
        if self.burst.alls.due(self.settings.dialect, now).is_some()
            || !self.refusal.rest_may_try(now)
            || !self.rest.can_send()
        {
            return false;
        }
        let ws = self
            .links
            .iter()
            .filter(|l| l.is_serving())
            .map(LinkSeam::ready_at)
            .min();
        if ws.is_none() {
            // Batches go beside a serving pool; without one the REST rung's own rules hold
            // (the start gate, the credentials' refusal, one cancel at a time).
            return false;
        }
        let table = &self.table;
        let waiting = table.queued_slots().map(|s| (s, &table.entry(s).cancel));
        let dialect = self.settings.dialect;
        let Some(plan) = self
            .burst
            .batcher
            .plan(dialect, waiting, &self.cancels, ws, now)
        else {
            return false;
        };
        self.send_batch(plan, now)
    }

    fn send_batch(&mut self, plan: BatchPlan, now: u64) -> bool {
        let mut orders = [OrderRef::OrderId(crate::intent::OrderId::EMPTY); MAX_BATCH];
        for (k, &slot) in plan.slots().iter().enumerate() {
            orders[k] = self.table.entry(slot).cancel.order;
        }
        // The REST client speaks the account's dialect.
        let dialect = self.settings.dialect;
        let number = self.burst.batcher.next_number();
        let tag = BATCH_TAG_BIT | number;
        let sent = self.rest.send_batch(
            tag,
            plan.inst_type,
            &plan.inst_id,
            plan.key,
            &orders[..plan.len],
            now,
            unix_ms(),
        );
        if let Err(e) = sent {
            crate::relay::log_debug!("REST refused a batch: {e}");
            return false;
        }
        let batch = self
            .burst
            .batcher
            .sent(dialect, plan.inst_type, plan.len, now);
        let mut flight = BatchInFlight {
            batch,
            tag,
            dialect,
            entries: [(0, 0); MAX_BATCH],
            len: 0,
        };
        let written = self.clock.now();
        for &slot in plan.slots() {
            if !self.table.send_queued(slot, now, REST_LINK as u8, 0) {
                continue;
            }
            let e = self.table.entry_mut(slot);
            e.handed_ns = written;
            e.written_ns = written;
            flight.entries[flight.len] = (slot, e.seq);
            flight.len += 1;
            self.attempt_sent(REST_LINK, now);
        }
        self.shared.counters.0.batches.on_sent(flight.len);
        self.burst.batch = Some(flight);
        true
    }

    /// The batch on the wire with `tag`, taken.
    fn take_batch(&mut self, tag: u64) -> Option<BatchInFlight> {
        self.burst.batch.take_if(|b| b.tag == tag)
    }

    /// The REST attempt of the intent `(slot, seq)`, if it is still in flight with one.
    fn batch_attempt(&self, slot: u32, seq: u64) -> Option<usize> {
        if !self.table.is_in_flight(slot, seq) {
            return None;
        }
        let e = self.table.entry(slot);
        (0..e.sends as usize).rev().find(|&a| {
            e.attempts[a].link as usize == REST_LINK && e.attempts[a].state == AttemptState::Live
        })
    }

    /// The venue's answer to the batch with `tag`.
    pub(super) fn on_rest_batch_reply(&mut self, tag: u64, verdict: BatchVerdict, now: u64) {
        let Some(flight) = self.take_batch(tag) else {
            self.shared.counters.0.late_replies.incr();
            return;
        };
        let counters = &self.shared.counters.0;
        counters.rest_replies.incr();
        match verdict {
            BatchVerdict::Entries(results) => {
                self.refusal.on_accepted();
                for (i, &(slot, seq)) in flight.entries[..flight.len].iter().enumerate() {
                    let Some(a) = self.batch_attempt(slot, seq) else {
                        continue;
                    };
                    match results.get(i) {
                        Some(verdict) => {
                            self.shared.counters.0.batches.settled.incr();
                            let status = match verdict {
                                Verdict::Acked => Status::Acked,
                                Verdict::Rejected { code, msg } => Status::Rejected { code, msg },
                            };
                            self.settle_reply_in(
                                slot,
                                a,
                                REST_LINK,
                                status,
                                Via::Rest,
                                Some(flight.batch),
                            );
                        }
                        None => {
                            self.shared.counters.0.batches.unlisted.incr();
                            self.give_up_batch_attempt(slot, seq, a, now);
                        }
                    }
                }
            }
            BatchVerdict::Refused { code, .. } if code == flight.dialect.wrong_account_code() => {
                // Sent to the other kind of account's API (40085 to V2, 40084 to V3): no
                // verdict on the orders. Each entry goes out again in the other dialect, and
                // the account switches.
                self.shared.counters.0.batches.failed.incr();
                for &(slot, seq) in &flight.entries[..flight.len] {
                    if let Some(a) = self.batch_attempt(slot, seq) {
                        self.refused_for_account(slot, a, REST_LINK, code, now);
                    }
                }
                self.switch_for(code, now);
            }
            BatchVerdict::Refused { code, msg } => {
                self.shared.counters.0.batches.failed.incr();
                // Read by the tables of the dialect it went in.
                let credentials = flight.dialect.rest_refuses_credentials(code);
                let class = flight.dialect.answer_class(code);
                if credentials {
                    self.refusal.on_rest_refused(code, msg, now);
                }
                crate::relay::log_warn!(
                    "the venue refused batch {}: {code} {msg}",
                    flight.batch.number
                );
                for &(slot, seq) in &flight.entries[..flight.len] {
                    let Some(a) = self.batch_attempt(slot, seq) else {
                        continue;
                    };
                    if credentials {
                        self.give_up_batch_attempt(slot, seq, a, now);
                    } else if class.is_transient() {
                        let transient = Transient {
                            code,
                            msg,
                            via: Via::Rest,
                        };
                        self.on_transient(slot, a, REST_LINK, transient, class);
                    } else {
                        let status = Status::Rejected { code, msg };
                        let batch = Some(flight.batch);
                        self.settle_reply_in(slot, a, REST_LINK, status, Via::Rest, batch);
                    }
                }
            }
        }
    }

    /// The batch with `tag` got no answer: every entry's attempt is given up.
    fn on_batch_failed(&mut self, tag: u64, error: &RestError, now: u64) {
        let Some(flight) = self.take_batch(tag) else {
            return;
        };
        let counters = &self.shared.counters.0;
        counters.rest_failures.incr();
        counters.batches.failed.incr();
        crate::relay::log_warn!("batch {} got no answer: {error}", flight.batch.number);
        for &(slot, seq) in &flight.entries[..flight.len] {
            if let Some(a) = self.batch_attempt(slot, seq) {
                self.give_up_batch_attempt(slot, seq, a, now);
            }
        }
    }

    /// An entry's batch attempt settles nothing: it is dead, and the intent goes out again
    /// (another connection, else REST alone, else unknown), like any cancel whose path failed.
    fn give_up_batch_attempt(&mut self, slot: u32, seq: u64, a: usize, now: u64) {
        self.table.entry_mut(slot).attempts[a].state = AttemptState::Dead;
        self.router.done(REST_LINK);
        if self.table.entry(slot).has_live_attempt() {
            return;
        }
        if self.stopping.is_some() {
            self.settle_unanswered(slot, UnknownReason::Shutdown, now);
        } else if self.table.can_send_again(slot) {
            // Out again, like a single cancel whose REST request failed: another connection,
            // or REST alone, within its sends and its ack timeout.
            self.push_resend(slot, seq, AttemptKind::Failover);
        } else {
            self.settle_no_path(slot, UnknownReason::ConnectionLost, now);
        }
    }

    /// A REST failure whose tag is a batch's or a cancel-all's; false if it is a single
    /// cancel's.
    pub(super) fn on_burst_failed(&mut self, tag: u64, error: &RestError, now: u64) -> bool {
        if tag & CancelAlls::TAG_BIT != 0 {
            self.on_cancel_all_failed(tag, error);
            true
        } else if tag & BATCH_TAG_BIT != 0 {
            self.on_batch_failed(tag, error, now);
            true
        } else {
            false
        }
    }

    /// When batches next need the turn: a batch endpoint's budget back while cancels wait.
    pub(super) fn batches_deadline(&self, now: u64) -> u64 {
        if !self.burst.batcher.is_on() || self.table.queued() == 0 || self.burst.batch.is_some() {
            return u64::MAX;
        }
        match self.burst.batcher.ready_at(self.settings.dialect) {
            t if t > now => t,
            _ => u64::MAX,
        }
    }
}
