//! The REST rung: when no WebSocket link is live, cancels go over Bitget's REST API on the
//! account's warm keep-alive HTTPS connections ([`RestClient`]), driven from the same turn.
//! Never while a link serves, nor before the pool had its chance at start (`start_gate.rs`),
//! nor while a refusal of the credentials stands (`refusal.rs`); one cancel at a time; the
//! reply settles the cancel `via: Rest`. A reply that refuses the request's credentials is no
//! verdict on the order: the cancel is settled not sent with the venue's code, and so is every
//! cancel waiting. A failed request (connection lost, 5xx, an unreadable reply, a timeout)
//! goes out again, over REST too (a fresh connection if needed), while sends remain and its ack
//! timeout allows. With `rest_only` every cancel goes this way.
//!
//! The venue's clock: the server time the client fetches (at connect, the median of a few
//! samples, then with every keep-warm) corrects the clock of logins and signatures. The first
//! login waits for it briefly ([`CLOCK_WAIT_NS`], so a missing REST host costs little), and so
//! does the next one after a login refused for its timestamp.

use mio::Registry;

use super::super::link::LinkSeam;
use super::super::pacing::RateLimiter;
use super::super::plumbing::{IntentSource, OutcomeSink};
use super::REST_LINK;
use super::inflight::{AttemptKind, AttemptState};
use crate::clock::{Clock, unix_ms};
use crate::engine::shared::SessionError;
use crate::intent::Cancel;
use crate::outcome::{NotSentReason, Status, UnknownReason, VenueMsg, Via};
use crate::rest::{OrderAnswer, RestClient, RestError, RestEvent, SendError, Verdict};
use crate::venue::Dialect;

use super::inflight::Transient;

/// How long a login waits for the venue's clock over REST: at start, and after a login
/// refused for its timestamp.
pub(crate) const CLOCK_WAIT_NS: u64 = 1_000_000_000;

/// The REST client and the one cancel it may carry.
#[derive(Debug)]
pub(crate) struct RestRung {
    client: Option<RestClient>,
    events: Vec<RestEvent>,
    /// A socket event came for the REST connection.
    socket_event: bool,
    /// The client was started (and not shut down).
    started: bool,
    /// The cancel on the REST connection: `(slot, seq)`; its tag is `seq`.
    /// The single cancel on the REST connection: its slot, its arrival number (the request's
    /// tag) and the dialect it went in, whose codes table reads its answer.
    in_flight: Option<(u32, u64, Dialect)>,
    /// Every cancel goes over REST.
    only: bool,
    /// Logins wait for the venue's clock until then (0: not yet decided).
    clock_wait_until: u64,
    /// Clock samples the client had taken when the wait began: a newer one ends it.
    clock_samples_seen: u64,
}

impl RestRung {
    pub(crate) fn new(client: Option<RestClient>, only: bool) -> Self {
        RestRung {
            client,
            events: Vec::with_capacity(16),
            socket_event: false,
            started: false,
            in_flight: None,
            only,
            clock_wait_until: 0,
            clock_samples_seen: 0,
        }
    }

    /// The REST client, if there is one.
    pub(crate) fn client_mut(&mut self) -> Option<&mut RestClient> {
        self.client.as_mut()
    }

    /// Whether every cancel goes over REST.
    pub(crate) fn only(&self) -> bool {
        self.only
    }

    /// Whether the REST connection is open now.
    pub(crate) fn is_open(&self) -> bool {
        self.client.as_ref().is_some_and(RestClient::is_open)
    }

    /// Whether the rung can take a cancel now: no cancel of the rung's in flight, a connection
    /// ready, and the account budget allows.
    #[inline]
    pub(crate) fn ready(&self, now: u64, cancels: &RateLimiter) -> bool {
        self.in_flight.is_none()
            && self.client.as_ref().is_some_and(RestClient::is_ready)
            && cancels.is_ready(now)
    }

    /// Whether an order query could go out now: a connection is ready while the other is free
    /// for a cancel (or not open).
    #[inline]
    pub(crate) fn can_query(&self) -> bool {
        self.client.as_ref().is_some_and(RestClient::can_query)
    }

    /// Sends an order query for the order `cancel` names, tagged `tag`.
    pub(crate) fn send_query(
        &mut self,
        tag: u64,
        cancel: &Cancel,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        match self.client.as_mut() {
            Some(client) => client.send_query(tag, cancel, now, unix_ms),
            None => Err(SendError::NotReady),
        }
    }

    /// Whether a batch or a cancel-all could go out now: a connection is ready (they may take
    /// both: while a link serves, no single cancel needs REST).
    #[inline]
    pub(crate) fn can_send(&self) -> bool {
        self.client.as_ref().is_some_and(RestClient::is_ready)
    }

    /// Whether the account has a REST client at all.
    pub(crate) fn exists(&self) -> bool {
        self.client.is_some()
    }

    /// Sends a batch cancel (see [`RestClient::send_batch`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_batch(
        &mut self,
        tag: u64,
        inst_type: crate::intent::InstType,
        symbol: &crate::intent::InstId,
        key: crate::rest::BatchKey,
        orders: &[crate::intent::OrderRef],
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        match self.client.as_mut() {
            Some(client) => client.send_batch(tag, inst_type, symbol, key, orders, now, unix_ms),
            None => Err(SendError::NotReady),
        }
    }

    /// Sends a cancel-all (see [`RestClient::send_cancel_all`]).
    pub(crate) fn send_cancel_all(
        &mut self,
        tag: u64,
        all: &crate::intent::CancelAll,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        match self.client.as_mut() {
            Some(client) => client.send_cancel_all(tag, all, now, unix_ms),
            None => Err(SendError::NotReady),
        }
    }

    /// Whether the rung is a path for an intent whose live attempts are on `exclude`: not
    /// already carrying it, and not down (connected or connecting; busy is fine, it waits).
    #[inline]
    pub(crate) fn usable(&self, exclude: u32) -> bool {
        exclude & (1 << REST_LINK) == 0
            && self.started
            && self.client.as_ref().is_some_and(|r| !r.is_down())
    }

    /// Whether the REST connections' events must come from the poller (one is connecting, or
    /// waits for a reply).
    #[inline]
    pub(crate) fn needs_poller(&self) -> bool {
        self.client.as_ref().is_some_and(RestClient::awaits_events)
    }

    pub(crate) fn on_socket_event(&mut self, readable: bool, writable: bool) {
        self.socket_event = true;
        if let Some(client) = &mut self.client {
            client.on_event(readable, writable);
        }
    }

    /// When the client has timer work (`u64::MAX`: none).
    pub(crate) fn next_deadline(&self, stopping: bool) -> u64 {
        match &self.client {
            Some(client) if self.started => client.next_deadline().unwrap_or(u64::MAX),
            // Not started yet: it starts at the next turn.
            Some(_) if !stopping => 0,
            _ => u64::MAX,
        }
    }

    /// Whether a reply may still come to a request on the REST connection.
    /// The dialect the single cancel tagged `tag` went in, while it is on the connection.
    pub(crate) fn dialect_of(&self, tag: u64) -> Option<Dialect> {
        self.in_flight
            .filter(|&(_, seq, _)| seq == tag)
            .map(|(_, _, dialect)| dialect)
    }

    pub(crate) fn has_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether the rung is shut (or never was): no request, not started.
    pub(crate) fn is_closed(&self) -> bool {
        self.in_flight.is_none() && !self.started
    }

    /// The cancel in flight was settled otherwise (shutdown).
    pub(crate) fn forget_in_flight(&mut self) {
        self.in_flight = None;
    }

    /// Shuts the client down, if it was started; true if it was (its events wait to be
    /// applied).
    pub(crate) fn shutdown(&mut self, registry: &Registry) -> bool {
        if !self.started {
            return false;
        }
        if let Some(client) = self.client.as_mut() {
            client.shutdown(registry, &mut self.events);
        }
        self.started = false;
        true
    }
}

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> super::Account<I, O, L, C> {
    /// Whether the REST rung is a path, at `now`, for an intent whose live attempts are on
    /// `exclude`: usable, and no refusal of the credentials holds it back.
    #[inline]
    pub(super) fn rest_may_take(&self, exclude: u32, now: u64) -> bool {
        self.rest.usable(exclude) && self.refusal.rest_may_try(now)
    }

    /// Sends the front waiting intent over REST; false if the client refused it.
    pub(super) fn send_rest_first(&mut self, now: u64) -> bool {
        let Some((_, e)) = self.table.front_queued() else {
            return false;
        };
        let (seq, cancel) = (e.seq, e.cancel);
        let Some(client) = self.rest.client.as_mut() else {
            return false;
        };
        if let Err(e) = client.send_cancel(seq, &cancel, now, unix_ms()) {
            crate::relay::log_debug!("REST refused a cancel: {e}");
            return false;
        }
        self.cancels.record(now);
        let Some(slot) = self.table.send_front(now, REST_LINK as u8, 0, false) else {
            return false;
        };
        self.table.entry_mut(slot).written_ns = self.clock.now();
        self.rest.in_flight = Some((slot, seq, self.settings.dialect));
        self.attempt_sent(REST_LINK, now);
        true
    }

    /// Sends an in-flight intent again over REST (its WebSocket path is gone); false if the
    /// client refused it (nothing was sent: it waits for the next chance).
    pub(super) fn send_rest_again(&mut self, slot: u32, kind: AttemptKind, now: u64) -> bool {
        let e = self.table.entry(slot);
        let (seq, cancel) = (e.seq, e.cancel);
        let sent = match self.rest.client.as_mut() {
            Some(client) => client.send_cancel(seq, &cancel, now, unix_ms()),
            None => return false,
        };
        if let Err(e) = sent {
            crate::relay::log_debug!("REST refused a cancel: {e}");
            return false;
        }
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedger.sent(now);
        }
        self.table
            .send_again(slot, 0, kind, now, REST_LINK as u8, 0);
        let written = self.clock.now();
        let e = self.table.entry_mut(slot);
        if e.written_ns == 0 {
            e.written_ns = written;
        }
        self.rest.in_flight = Some((slot, seq, self.settings.dialect));
        self.attempt_sent(REST_LINK, now);
        true
    }

    /// Whether logins wait for the venue's clock, and until when (`u64::MAX`: they do not).
    pub(super) fn clock_deadline(&self) -> u64 {
        if self.settings.clock_ready || self.rest.clock_wait_until == 0 {
            u64::MAX
        } else {
            self.rest.clock_wait_until
        }
    }

    /// Lets logins go once the venue's clock was measured (a sample newer than the wait), or
    /// the wait is over.
    pub(super) fn update_clock(&mut self, now: u64) {
        if self.settings.clock_ready {
            return;
        }
        let Some(client) = self.rest.client.as_ref() else {
            self.settings.clock_ready = true;
            return;
        };
        if self.rest.clock_wait_until == 0 {
            self.rest.clock_wait_until = now.saturating_add(CLOCK_WAIT_NS);
        }
        let measured = client.clock_samples() > self.rest.clock_samples_seen
            && client.clock_offset_ms().is_some();
        if measured || now >= self.rest.clock_wait_until || self.stopping.is_some() {
            if !measured {
                crate::relay::log_info!(
                    "no server time from the REST rung yet: logging in with our own clock"
                );
            }
            self.settings.clock_ready = true;
            self.rest.clock_wait_until = 0;
        }
    }

    /// A login was refused for its timestamp: measure the venue's clock again, and let the next
    /// login wait (briefly) for it. Without a REST rung the next upgrade's `Date` serves.
    pub(super) fn on_clock_refused(&mut self, now: u64) {
        let Some(client) = self.rest.client.as_mut() else {
            return;
        };
        if !self.rest.started {
            return;
        }
        client.measure_clock();
        self.rest.clock_samples_seen = client.clock_samples();
        self.rest.clock_wait_until = now.saturating_add(CLOCK_WAIT_NS);
        self.settings.clock_ready = false;
    }

    /// A WebSocket upgrade's `Date` header put the venue's clock `offset_ms` from ours: used
    /// until the REST rung measures it more finely.
    pub(super) fn on_server_date(&mut self, offset_ms: i64) {
        if self.settings.clock_measured {
            return;
        }
        self.settings.clock_offset_ms = offset_ms;
        self.shared.counters.0.clock_offset_ms.set(offset_ms as u64);
    }

    /// Starts the REST client and lets it do its I/O and timers when an event or a deadline
    /// calls for it; true if anything happened.
    pub(super) fn drive_rest(&mut self, now: u64) -> bool {
        let Some(client) = self.rest.client.as_mut() else {
            return false;
        };
        let mut work = false;
        if !self.rest.started {
            if self.stopping.is_some() {
                return false;
            }
            // Addresses come from the resolver thread: nothing here looks a name up.
            if let Err(e) = client.start(now) {
                crate::relay::log_warn!("REST rung: {e}");
                return false;
            }
            self.rest.started = true;
            work = true;
        }
        let due = self.rest.socket_event || client.next_deadline().is_some_and(|d| d <= now);
        if !due {
            return work;
        }
        self.rest.socket_event = false;
        client.advance(&self.registry, now, unix_ms(), &mut self.rest.events);
        let counters = &self.shared.counters.0;
        counters.rest_connected.set(u64::from(client.is_open()));
        if let Some(offset) = client.clock_offset_ms() {
            counters.clock_offset_ms.set(offset as u64);
            counters.clock_synced.set(1);
            self.settings.clock_offset_ms = offset;
            self.settings.clock_measured = true;
        }
        self.apply_rest_events(now);
        true
    }

    /// Acts on what the REST client reported.
    pub(super) fn apply_rest_events(&mut self, now: u64) {
        let mut events = std::mem::take(&mut self.rest.events);
        for event in &events {
            match event {
                RestEvent::Reply { tag, verdict, .. } => {
                    self.shared.counters.0.rest_replies.incr();
                    // Read by the codes of the dialect the cancel went in.
                    let dialect = self.rest.dialect_of(*tag).unwrap_or(self.settings.dialect);
                    let definitive = match *verdict {
                        Verdict::Acked => true,
                        Verdict::Rejected { code, msg }
                            if dialect.rest_refuses_credentials(code) =>
                        {
                            self.on_rest_refused(*tag, code, msg, now);
                            continue;
                        }
                        // Sent to the other kind of account's API: no verdict on the order.
                        Verdict::Rejected { code, .. } if Self::is_wrong_account(code) => {
                            match self.take_rest_attempt(*tag) {
                                Some((slot, a)) => {
                                    self.refused_for_account(slot, a, REST_LINK, code, now)
                                }
                                None => self.switch_for(code, now),
                            }
                            continue;
                        }
                        Verdict::Rejected { code, .. } => {
                            !dialect.answer_class(code).is_transient()
                        }
                    };
                    if definitive {
                        // A verdict on the order: the credentials work.
                        self.refusal.on_accepted();
                    }
                    let Some((slot, a)) = self.take_rest_attempt(*tag) else {
                        self.shared.counters.0.late_replies.incr();
                        continue;
                    };
                    match *verdict {
                        Verdict::Acked => {
                            self.settle_reply(slot, a, REST_LINK, Status::Acked, Via::Rest)
                        }
                        Verdict::Rejected { code, msg } => {
                            let class = dialect.answer_class(code);
                            if class.is_transient() {
                                let transient = Transient {
                                    code,
                                    msg,
                                    via: Via::Rest,
                                };
                                self.on_transient(slot, a, REST_LINK, transient, class);
                            } else {
                                let status = Status::Rejected { code, msg };
                                self.settle_reply(slot, a, REST_LINK, status, Via::Rest);
                            }
                        }
                    }
                }
                RestEvent::Failed { tag, error } => {
                    if self.on_burst_failed(*tag, error, now) {
                        continue;
                    }
                    self.shared.counters.0.rest_failures.incr();
                    crate::relay::log_warn!("a cancel over REST got no verdict: {error}");
                    let Some((slot, a)) = self.take_rest_attempt(*tag) else {
                        continue;
                    };
                    let seq = self.table.entry(slot).seq;
                    self.table.entry_mut(slot).attempts[a].state = AttemptState::Dead;
                    self.router.done(REST_LINK);
                    if self.table.entry(slot).has_live_attempt() {
                        continue;
                    }
                    if self.stopping.is_some() {
                        self.settle_unanswered(slot, UnknownReason::Shutdown, now);
                    } else if self.table.can_send_again(slot) {
                        // Out again, over REST too (a fresh connection if needed), within the
                        // ack timeout.
                        self.push_resend(slot, seq, AttemptKind::Failover);
                    } else {
                        let reason = match error {
                            RestError::Timeout(_) => UnknownReason::AckTimeout,
                            _ => UnknownReason::ConnectionLost,
                        };
                        self.settle_no_path(slot, reason, now);
                    }
                }
                RestEvent::Batch { tag, verdict, .. } => {
                    self.on_rest_batch_reply(*tag, **verdict, now);
                }
                RestEvent::CancelAll { tag, verdict, .. } => {
                    self.shared.counters.0.rest_replies.incr();
                    self.on_cancel_all_reply(*tag, *verdict, now);
                }
                RestEvent::Order { tag, answer, .. } => {
                    if let OrderAnswer::Refused { code, .. } = answer
                        && Self::is_wrong_account(*code)
                    {
                        self.switch_for(*code, now);
                    }
                    if let Some(c) = &mut self.confirm {
                        c.on_query_answer(*tag, *answer, now, &self.shared.counters.0.finals);
                    }
                }
                RestEvent::QueryFailed { tag, error } => {
                    crate::relay::log_debug!("an order query got no answer: {error}");
                    if let Some(c) = &mut self.confirm {
                        c.on_query_failed(*tag, now, &self.shared.counters.0.finals);
                    }
                }
                RestEvent::Account(answer) => self.on_account_answer(answer, now),
                RestEvent::Countdown { seconds, verdict } => {
                    self.on_countdown(*seconds, verdict, now)
                }
                RestEvent::Connected => crate::relay::log_info!("REST rung connected"),
                RestEvent::Lost(e) => {
                    crate::relay::log_info!("REST connection ended: {e}");
                    self.on_rest_lost_while_detecting(e, now);
                    if let Some(failure) = e.as_failure() {
                        self.rest_failure = Some(failure);
                    }
                }
            }
        }
        events.clear();
        self.rest.events = events;
    }

    /// The venue refused the credentials of the REST request with `tag`: no verdict on its
    /// order. The cancel is settled not sent with the venue's code (unknown if an earlier
    /// attempt went out on a connection), every waiting cancel too while no connection is live,
    /// and REST carries nothing until the credentials prove good or the retry wait is over.
    fn on_rest_refused(&mut self, tag: u64, code: i64, msg: VenueMsg, now: u64) {
        crate::relay::log_error!(
            "the venue refused the credentials over REST: {code} {msg}; {}",
            match self.settings.login_retry_after {
                Some(d) => format!(
                    "REST tries them again in {:?}",
                    std::time::Duration::from_nanos(d)
                ),
                None => "REST does not try them again".to_string(),
            }
        );
        self.refusal.on_rest_refused(code, msg, now);
        self.gate.open();
        self.shared.set_last_error(SessionError::LoginRejected {
            code,
            msg: msg.as_str().to_string(),
        });
        // A handle that reads the outcomes below sees the state that explains them.
        self.publish_states();
        if let Some((slot, a)) = self.take_rest_attempt(tag) {
            self.table.entry_mut(slot).attempts[a].state = AttemptState::Dead;
            self.router.done(REST_LINK);
            let e = self.table.entry(slot);
            if !e.has_live_attempt() {
                let settled = self.clock.now();
                let (status, via) = if e.sends > 1 {
                    // An earlier attempt went out on a connection and may have landed.
                    (Status::Unknown(UnknownReason::ConnectionLost), None)
                } else {
                    let reason = NotSentReason::LoginRejected { code, msg };
                    (Status::NotSent(reason), Some(Via::Rest))
                };
                let e = self.table.settle(slot);
                self.emit_entry(e, status, settled, via);
            }
        }
        if let Some((code, msg)) = self.refused_now() {
            self.fail_queued(NotSentReason::LoginRejected { code, msg });
        }
    }

    /// The in-flight intent and attempt the REST request with `tag` carried, if it is still in
    /// flight; clears the REST slot either way when the tag is its.
    fn take_rest_attempt(&mut self, tag: u64) -> Option<(u32, usize)> {
        let (slot, seq, _) = self.rest.in_flight.filter(|&(_, seq, _)| seq == tag)?;
        self.rest.in_flight = None;
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
