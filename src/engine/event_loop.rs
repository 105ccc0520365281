//! The engine thread: one loop that owns the connection, the in-flight table, the pacing state
//! and every buffer, and meets the rest of the program only through the two rings.
//!
//! One turn of the loop: poll the socket (zero timeout unless parking), read and settle replies,
//! take new intents from the ring, advance the connection, send what pacing allows, flush TLS,
//! expire what waited too long, hand outcomes back. Nothing in a turn blocks or allocates once
//! the session is live; the buffers are allocated in [`EventLoop::new`] or when a connection
//! starts.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::{Events, Poll};

use super::config::{Config, IdleStrategy, ReconnectBackoff};
use super::handle::Submission;
use super::inflight::{Entry, InflightTable, InsertError};
use super::pacing::RateLimiter;
use super::session::{Connector, Phase, SOCKET, Step, tls_error};
use super::shared::{SessionError, SessionState, Shared};
use crate::clock::monotonic_ns;
use crate::intent::RequestId;
use crate::outcome::{NotSentReason, Outcome, Status, Timestamps, UnknownReason, VenueMsg};
use crate::protocol::{self, DecodeError, Reply, ReplyDecoder};
use crate::ws::{self, FrameDecoder, Limits, MaskGen, Message, OpCode};

/// Plaintext written in one TLS write: several frames when a burst is allowed out at once.
const BATCH_BYTES: usize = 8 * 1024;
/// The largest cancel frame.
const MAX_CANCEL_FRAME: usize = protocol::MAX_CANCEL_LEN + ws::MAX_CLIENT_HEADER;
/// Size limits for the venue's frames: its replies are well under 1 KiB.
const LIMITS: Limits = Limits {
    max_frame: 64 * 1024,
    max_message: 64 * 1024,
};
/// Idle turns spent spinning, then yielding, before the park strategy parks.
const SPIN_TURNS: u32 = 100;
const YIELD_TURNS: u32 = 20;
/// The longest park: a safety net, every deadline is computed.
const MAX_PARK_NS: u64 = 1_000_000_000;
/// How long shutdown waits for the venue to answer our close frame.
const CLOSE_WAIT_NS: u64 = 500_000_000;
/// Login error codes that mean the credentials (or the clock) are wrong: not retried soon.
const AUTH_CODES: [i64; 6] = [30005, 30011, 30012, 30013, 30014, 30015];
/// The venue's code for "request over limit, connection close".
const OVER_LIMIT_CLOSE: i64 = 30007;

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A message from the venue, copied out of the read buffer so the loop can act on it.
#[derive(Debug, Clone, Copy)]
enum Inbound {
    /// A reply to one request (`event` "trade" or "error" with `arg[0].id`).
    Reply {
        /// `None` when the echoed id cannot be one of ours.
        id: Option<RequestId>,
        code: i64,
        msg: VenueMsg,
        error_event: bool,
    },
    /// An error that belongs to no request.
    VenueError {
        code: i64,
        msg: VenueMsg,
    },
    Login {
        code: i64,
        msg: VenueMsg,
    },
    Pong,
    Ignored,
    Undecodable(DecodeError),
    Ping {
        payload: [u8; 125],
        len: u8,
    },
    Close {
        code: Option<u16>,
        reason: VenueMsg,
    },
}

fn classify(message: Message<'_>, replies: &mut ReplyDecoder) -> Inbound {
    match message {
        Message::Text(text) => match replies.decode(text) {
            Ok(Reply::Trade { id, code, msg }) => Inbound::Reply {
                id: RequestId::new(id).ok(),
                code,
                msg: if code == 0 {
                    VenueMsg::new("")
                } else {
                    VenueMsg::new(msg)
                },
                error_event: false,
            },
            Ok(Reply::TradeError { id, code, msg }) => Inbound::Reply {
                id: RequestId::new(id).ok(),
                code,
                msg: VenueMsg::new(msg),
                error_event: true,
            },
            Ok(Reply::Error { code, msg }) => Inbound::VenueError {
                code,
                msg: VenueMsg::new(msg),
            },
            Ok(Reply::Login { code, msg, .. }) => Inbound::Login {
                code,
                msg: VenueMsg::new(msg),
            },
            Ok(Reply::Pong) => Inbound::Pong,
            Ok(Reply::Other { .. }) => Inbound::Ignored,
            Err(e) => Inbound::Undecodable(e),
        },
        Message::Binary(_) | Message::Pong(_) => Inbound::Ignored,
        Message::Ping(data) => {
            let mut payload = [0u8; 125];
            let len = data.len().min(payload.len());
            payload[..len].copy_from_slice(&data[..len]);
            Inbound::Ping {
                payload,
                len: len as u8,
            }
        }
        Message::Close(close) => Inbound::Close {
            code: close.map(|(code, _)| code),
            reason: VenueMsg::new(close.map(|(_, reason)| reason).unwrap_or("")),
        },
    }
}

/// The engine thread's state. Built on the engine thread, so every buffer is allocated there.
pub(crate) struct EventLoop {
    // Settings, in nanoseconds.
    ack_timeout: u64,
    ping_interval: u64,
    pong_deadline: u64,
    max_queue: u64,
    connect_timeout: u64,
    shutdown_grace: u64,
    login_retry_after: Option<u64>,
    reconnect: ReconnectBackoff,
    idle: IdleStrategy,
    api_key: String,
    credentials: super::config::Credentials,

    // Plumbing.
    shared: Arc<Shared>,
    intents: Receiver<Submission>,
    outcomes: Sender<Outcome>,
    poll: Poll,
    events: Events,
    connector: Connector,

    // Connection state.
    phase: Phase,
    /// When the current connection attempt started.
    attempt_started: u64,
    live_since: u64,
    /// Consecutive failed attempts (sets the reconnect delay).
    failures: u32,
    /// A socket event arrived since the last connection step.
    socket_event: bool,
    /// The socket may have bytes to read (edge-triggered: cleared on `WouldBlock`).
    readable: bool,
    /// The venue's last refusal of the credentials.
    rejected: Option<(i64, VenueMsg)>,
    next_ping_at: u64,
    /// When the outstanding `ping` went out; 0 when none is outstanding.
    ping_sent_at: u64,
    last_inbound: u64,

    // Intents.
    table: InflightTable,
    /// Outcomes the outcome ring had no room for, oldest first.
    undelivered: VecDeque<Outcome>,
    /// Cancels encrypted but not yet fully handed to the kernel: (slot, sent_ns).
    awaiting_flush: Vec<(u32, u64)>,
    messages: RateLimiter,
    cancels: RateLimiter,
    /// Intents up to this arrival number were counted as pacing waits.
    paced_through: u64,

    // Buffers.
    json: Vec<u8>,
    frames: Vec<u8>,
    decoder: FrameDecoder,
    replies: ReplyDecoder,
    masks: MaskGen,

    rng: u64,
    /// Set when shutdown began: the time by which replies in flight must have come.
    stopping: Option<u64>,
    idle_turns: u32,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("phase", &self.phase.doing())
            .field("held", &self.table.len())
            .finish()
    }
}

impl EventLoop {
    pub(crate) fn new(
        config: &Config,
        tls_config: Arc<rustls::ClientConfig>,
        shared: Arc<Shared>,
        intents: Receiver<Submission>,
        outcomes: Sender<Outcome>,
        poll: Poll,
    ) -> Self {
        let window = ns(Duration::from_secs(1) + config.rate_margin);
        let api_key = config.credentials.api_key().to_string();
        let json_capacity = protocol::MAX_CANCEL_LEN.max(protocol::max_login_len(
            &api_key,
            config.credentials.passphrase_str(),
        ));
        let mut seed = [0u8; 8];
        // Jitter only needs to differ between processes; a failed read falls back to the clock.
        let rng = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => monotonic_ns() ^ 0x9e37_79b9_7f4a_7c15,
        } | 1;
        EventLoop {
            ack_timeout: ns(config.ack_timeout),
            ping_interval: ns(config.ping_interval),
            pong_deadline: ns(config.pong_deadline),
            max_queue: ns(config.max_queue_time),
            connect_timeout: ns(config.connect_timeout),
            shutdown_grace: ns(config.shutdown_grace),
            login_retry_after: config.login_retry_after.map(ns),
            reconnect: config.reconnect,
            idle: config.idle,
            api_key,
            credentials: config.credentials.clone(),
            shared,
            intents,
            outcomes,
            poll,
            events: Events::with_capacity(64),
            connector: Connector::new(config.endpoint.clone(), tls_config, config.send_buffer),
            phase: Phase::Backoff { retry_at: 0 },
            attempt_started: 0,
            live_since: 0,
            failures: 0,
            socket_event: false,
            readable: false,
            rejected: None,
            next_ping_at: 0,
            ping_sent_at: 0,
            last_inbound: 0,
            table: InflightTable::new(config.max_pending),
            undelivered: VecDeque::with_capacity(config.max_pending),
            awaiting_flush: Vec::with_capacity(config.max_pending),
            messages: RateLimiter::new(config.messages_per_second, window),
            cancels: RateLimiter::new(config.cancels_per_second, window),
            paced_through: 0,
            json: Vec::with_capacity(json_capacity),
            frames: Vec::with_capacity(BATCH_BYTES),
            decoder: FrameDecoder::new(LIMITS),
            replies: ReplyDecoder::with_capacity(LIMITS.max_message),
            masks: MaskGen::new(),
            rng,
            stopping: None,
            idle_turns: 0,
        }
    }

    /// Runs until shutdown is complete.
    pub(crate) fn run(mut self) {
        loop {
            let timeout = self.poll_timeout();
            self.poll_socket(timeout);
            let now = monotonic_ns();
            let work = self.turn(now);
            if matches!(self.phase, Phase::Done) {
                break;
            }
            self.idle_turns = if work { 0 } else { self.idle_turns + 1 };
            if !work {
                match self.idle {
                    IdleStrategy::BusySpin => std::hint::spin_loop(),
                    IdleStrategy::Yield => std::thread::yield_now(),
                    IdleStrategy::Backoff if self.idle_turns <= SPIN_TURNS => {
                        std::hint::spin_loop()
                    }
                    IdleStrategy::Backoff => std::thread::yield_now(),
                }
            }
        }
        self.finish();
    }

    /// Zero, except for the park strategy after enough idle turns: then until the next deadline,
    /// announcing the park so that handles wake the poller.
    fn poll_timeout(&mut self) -> Duration {
        if self.idle != IdleStrategy::Backoff || self.idle_turns <= SPIN_TURNS + YIELD_TURNS {
            return Duration::ZERO;
        }
        let now = monotonic_ns();
        let until = self.next_deadline(now);
        if until <= now {
            return Duration::ZERO;
        }
        let parked = &self.shared.engine.0.parked;
        parked.store(true, Ordering::Relaxed);
        // Pairs with the fence in `Handle::cancel`: either the handle sees `parked` and wakes
        // the poller, or this sees its intent.
        fence(Ordering::SeqCst);
        if !self.intents.is_empty() || self.shared.shutdown_requested.load(Ordering::Acquire) {
            parked.store(false, Ordering::Relaxed);
            return Duration::ZERO;
        }
        Duration::from_nanos(until - now)
    }

    fn poll_socket(&mut self, timeout: Duration) {
        let result = self.poll.poll(&mut self.events, Some(timeout));
        self.shared.engine.0.parked.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => {
                for event in self.events.iter() {
                    if event.token() == SOCKET {
                        self.socket_event = true;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.readable = true;
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::error!("poll failed: {e}");
                // Never spin hot on a broken poller.
                std::thread::sleep(Duration::from_millis(1));
                self.socket_event = true;
                self.readable = true;
            }
        }
    }

    /// The earliest time something has to happen.
    fn next_deadline(&self, now: u64) -> u64 {
        let mut t = now.saturating_add(MAX_PARK_NS);
        if !self.undelivered.is_empty() {
            // Nothing tells the engine when the caller makes room in the outcome ring.
            t = t.min(now + 1_000_000);
        }
        if let Some((_, e)) = self.table.front_queued() {
            t = t.min(e.accepted_ns.saturating_add(self.max_queue));
            // Held back by pacing: due when both limits allow. Held back by a full socket: due
            // on its writable event.
            if let Phase::Live { tls } = &self.phase
                && !tls.wants_write()
            {
                t = t.min(self.messages.ready_at().max(self.cancels.ready_at()));
            }
        }
        if let Some((_, e)) = self.table.oldest_in_flight() {
            t = t.min(e.sent_ns.saturating_add(self.ack_timeout));
        }
        match &self.phase {
            Phase::Live { .. } => {
                t = t.min(self.next_ping_at.max(self.messages.ready_at()));
                if self.ping_sent_at != 0 {
                    t = t.min(self.ping_sent_at + self.pong_deadline);
                }
            }
            Phase::Backoff { retry_at } => t = t.min(*retry_at),
            Phase::LoginRejected {
                retry_at: Some(retry_at),
            } => t = t.min(*retry_at),
            Phase::Closing { deadline, .. } => t = t.min(*deadline),
            p if p.is_connecting() => {
                t = t.min(self.attempt_started.saturating_add(self.connect_timeout));
            }
            _ => {}
        }
        if let Some(deadline) = self.stopping {
            t = t.min(deadline);
        }
        t
    }

    /// One turn; true if anything happened.
    fn turn(&mut self, now: u64) -> bool {
        let mut work = false;
        if self.stopping.is_none() && self.shared.shutdown_requested.load(Ordering::Relaxed) {
            self.begin_shutdown(now);
            work = true;
        }
        work |= self.read_socket(now);
        work |= self.advance_connection(now);
        if self.stopping.is_none() {
            work |= self.intake();
        }
        work |= self.send(now);
        self.flush_pending(now);
        work |= self.expire(now);
        if self.stopping.is_some() {
            work |= self.shutdown_step(now);
        }
        if !self.undelivered.is_empty() {
            self.deliver();
        }
        work
    }

    // ----- intents and outcomes -----

    /// Takes intents from the ring while there is room to hold them and their outcomes.
    fn intake(&mut self) -> bool {
        let mut work = false;
        while self.table.len() + self.undelivered.len() < self.table.capacity() {
            let Ok(sub) = self.intents.try_recv() else {
                break;
            };
            work = true;
            self.shared.counters.0.intents.incr();
            if let (Phase::LoginRejected { .. }, Some((code, msg))) = (&self.phase, self.rejected) {
                self.emit_unsent(&sub, NotSentReason::LoginRejected { code, msg });
                continue;
            }
            match self
                .table
                .insert_queued(sub.id, sub.cancel, sub.accepted_ns)
            {
                Ok(_) => {}
                Err(InsertError::Duplicate) => self.emit_unsent(&sub, NotSentReason::DuplicateId),
                // The loop condition leaves a free slot; kept total rather than trusted.
                Err(InsertError::Full) => self.emit_unsent(&sub, NotSentReason::QueueTimeout),
            }
        }
        work
    }

    fn emit_unsent(&mut self, sub: &Submission, reason: NotSentReason) {
        let now = monotonic_ns();
        self.emit(Outcome {
            id: sub.id,
            cancel: sub.cancel,
            status: Status::NotSent(reason),
            times: Timestamps {
                accepted_ns: sub.accepted_ns,
                written_ns: 0,
                settled_ns: now,
            },
        });
    }

    fn emit_entry(&mut self, e: Entry, status: Status, now: u64) {
        self.emit(Outcome {
            id: e.id,
            cancel: e.cancel,
            status,
            times: Timestamps {
                accepted_ns: e.accepted_ns,
                written_ns: e.written_ns,
                settled_ns: now,
            },
        });
    }

    fn emit(&mut self, outcome: Outcome) {
        let counters = &self.shared.counters.0;
        match outcome.status {
            Status::Acked => counters.acked.incr(),
            Status::Rejected { .. } => counters.rejected.incr(),
            Status::Unknown(_) => counters.unknown.incr(),
            Status::NotSent(_) => counters.not_sent.incr(),
        }
        if self.undelivered.is_empty() {
            match self.outcomes.try_send(outcome) {
                Ok(()) => {}
                Err(TrySendError::Full(o)) => self.undelivered.push_back(o),
                // Every handle is gone: nobody can read it.
                Err(TrySendError::Disconnected(_)) => {}
            }
        } else {
            self.undelivered.push_back(outcome);
        }
    }

    fn deliver(&mut self) {
        while let Some(&o) = self.undelivered.front() {
            match self.outcomes.try_send(o) {
                Ok(()) => {
                    self.undelivered.pop_front();
                }
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    self.undelivered.clear();
                    break;
                }
            }
        }
    }

    /// Every cancel in flight gets `reason`.
    fn fail_in_flight(&mut self, reason: UnknownReason) {
        let now = monotonic_ns();
        while let Some((slot, _)) = self.table.oldest_in_flight() {
            let e = self.table.settle(slot);
            self.emit_entry(e, Status::Unknown(reason), now);
        }
        self.awaiting_flush.clear();
    }

    /// Every waiting intent gets `reason`.
    fn fail_queued(&mut self, reason: NotSentReason) {
        let now = monotonic_ns();
        while let Some(e) = self.table.pop_queued() {
            self.emit_entry(e, Status::NotSent(reason), now);
        }
    }

    fn expire(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some((_, e)) = self.table.front_queued() {
            if e.accepted_ns.saturating_add(self.max_queue) > now {
                break;
            }
            if let Some(e) = self.table.pop_queued() {
                self.emit_entry(e, Status::NotSent(NotSentReason::QueueTimeout), now);
            }
            work = true;
        }
        while let Some((slot, e)) = self.table.oldest_in_flight() {
            if e.sent_ns.saturating_add(self.ack_timeout) > now {
                break;
            }
            let e = self.table.settle(slot);
            self.emit_entry(e, Status::Unknown(UnknownReason::AckTimeout), now);
            work = true;
        }
        if self.ping_sent_at != 0 && matches!(self.phase, Phase::Live { .. }) {
            if self.last_inbound > self.ping_sent_at {
                self.ping_sent_at = 0;
            } else if now >= self.ping_sent_at + self.pong_deadline {
                self.lost(SessionError::PeerSilent, now);
                work = true;
            }
        }
        work
    }

    // ----- the connection -----

    fn set_phase(&mut self, phase: Phase) {
        let state = match &phase {
            Phase::Backoff { .. } => SessionState::Backoff,
            Phase::Connecting { .. } | Phase::Handshaking { .. } | Phase::Upgrading { .. } => {
                SessionState::Connecting
            }
            Phase::LoggingIn { .. } => SessionState::LoggingIn,
            Phase::Live { .. } => SessionState::Live,
            Phase::LoginRejected { .. } => SessionState::LoginRejected,
            Phase::Closing { .. } | Phase::Done => SessionState::Stopped,
        };
        self.phase = phase;
        if self.stopping.is_none() || state == SessionState::Stopped {
            self.shared.set_state(state);
        }
    }

    /// Starts attempts when due and advances an attempt under way on socket events.
    fn advance_connection(&mut self, now: u64) -> bool {
        match self.phase {
            Phase::Backoff { retry_at } if now >= retry_at && self.stopping.is_none() => {
                self.attempt_started = now;
                self.shared.counters.0.connect_attempts.incr();
                self.set_phase(Phase::Backoff { retry_at: u64::MAX });
                self.shared.set_state(SessionState::Connecting);
                let step = self.connector.start(self.poll.registry());
                self.socket_event = false;
                self.readable = false;
                self.apply_step(step, now);
                true
            }
            Phase::LoginRejected {
                retry_at: Some(retry_at),
            } if now >= retry_at && self.stopping.is_none() => {
                self.set_phase(Phase::Backoff { retry_at: now });
                true
            }
            ref p if p.is_connecting() => {
                if now >= self.attempt_started.saturating_add(self.connect_timeout) {
                    let doing = self.phase.doing();
                    self.lost(SessionError::Timeout(doing), now);
                    return true;
                }
                if !self.socket_event || matches!(self.phase, Phase::LoggingIn { .. }) {
                    return false;
                }
                self.socket_event = false;
                let phase = std::mem::replace(&mut self.phase, Phase::Done);
                let step = self.connector.step(phase);
                self.apply_step(step, now);
                true
            }
            _ => false,
        }
    }

    fn apply_step(&mut self, step: Step, now: u64) {
        match step {
            Step::Wait(phase) => self.set_phase(phase),
            Step::Failed(e) => self.lost(e, now),
            Step::Upgraded { tls, leftover } => {
                self.decoder.reset();
                if let Err(e) = self.decoder.push(&leftover) {
                    self.set_phase(Phase::LoggingIn { tls });
                    self.lost(SessionError::Protocol(e.to_string()), now);
                    return;
                }
                self.set_phase(Phase::LoggingIn { tls });
                self.messages.reset();
                if let Err(e) = self.send_login(now) {
                    self.lost(e, now);
                    return;
                }
                // Frames may already be buffered (leftover, or decrypted with the upgrade).
                self.readable = true;
                self.read_socket(now);
            }
        }
    }

    fn send_login(&mut self, now: u64) -> Result<(), SessionError> {
        let timestamp = unix_seconds();
        let sign = protocol::sign_login(self.credentials.secret(), timestamp);
        self.json.clear();
        protocol::encode_login(
            &mut self.json,
            &self.api_key,
            self.credentials.passphrase_str(),
            timestamp,
            &sign,
        )
        .map_err(|e| SessionError::LoginFailed {
            code: 0,
            msg: e.to_string(),
        })?;
        self.frames.clear();
        ws::encode_client_frame(
            &mut self.frames,
            OpCode::Text,
            &self.json,
            self.masks.next_mask(),
        );
        let Some(tls) = self.phase.websocket() else {
            return Err(SessionError::Io("no connection".to_string()));
        };
        tls.write_record(&self.frames).map_err(tls_error)?;
        tls.flush_tls()
            .map_err(|e| SessionError::Io(e.to_string()))?;
        self.messages.record(now);
        Ok(())
    }

    fn go_live(&mut self, now: u64) {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let Phase::LoggingIn { tls } = phase else {
            self.phase = phase;
            return;
        };
        self.set_phase(Phase::Live { tls });
        self.connector.logged_in();
        self.rejected = None;
        self.live_since = now;
        self.next_ping_at = now + self.ping_interval;
        self.ping_sent_at = 0;
        self.last_inbound = now;
        self.shared.counters.0.sessions.incr();
        log::info!(
            "logged in to {} ({} intents waiting)",
            self.connector.endpoint.url,
            self.table.queued()
        );
    }

    /// Drops the connection.
    fn drop_connection(&mut self) {
        let registry = self.poll.registry();
        if let Some(socket) = self.phase.socket() {
            // The socket is closed right after; a failed deregistration changes nothing.
            let _ = registry.deregister(socket);
        }
        self.decoder.reset();
        self.readable = false;
        self.socket_event = false;
        self.ping_sent_at = 0;
    }

    /// The connection or attempt ended with `error`: report what was in flight, back off.
    fn lost(&mut self, error: SessionError, now: u64) {
        let was_live = matches!(self.phase, Phase::Live { .. } | Phase::Closing { .. });
        self.drop_connection();
        self.fail_in_flight(UnknownReason::ConnectionLost);
        if self.stopping.is_some() {
            self.set_phase(Phase::Done);
            return;
        }
        if was_live {
            self.shared.counters.0.reconnects.incr();
            if now.saturating_sub(self.live_since) >= ns(self.reconnect.reset_after) {
                self.failures = 0;
            }
        }
        self.failures = self.failures.saturating_add(1);
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let delay = self.reconnect.delay(self.failures, self.rng);
        log::warn!(
            "connection to {} {}: {error}; reconnecting in {delay:?}",
            self.connector.endpoint.url,
            if was_live { "lost" } else { "failed" },
        );
        self.shared.set_last_error(error);
        self.set_phase(Phase::Backoff {
            retry_at: now.saturating_add(ns(delay)),
        });
    }

    /// The venue refused the login.
    fn login_refused(&mut self, code: i64, msg: VenueMsg, now: u64) {
        if !AUTH_CODES.contains(&code) {
            self.lost(
                SessionError::LoginFailed {
                    code,
                    msg: msg.as_str().to_string(),
                },
                now,
            );
            return;
        }
        self.drop_connection();
        self.shared.counters.0.login_rejections.incr();
        let error = SessionError::LoginRejected {
            code,
            msg: msg.as_str().to_string(),
        };
        log::error!(
            "{error}; {}",
            match self.login_retry_after {
                Some(d) => format!("trying again in {:?}", Duration::from_nanos(d)),
                None => "not trying again".to_string(),
            }
        );
        self.shared.set_last_error(error);
        self.rejected = Some((code, msg));
        self.fail_queued(NotSentReason::LoginRejected { code, msg });
        if self.stopping.is_some() {
            self.set_phase(Phase::Done);
            return;
        }
        self.set_phase(Phase::LoginRejected {
            retry_at: self.login_retry_after.map(|d| now.saturating_add(d)),
        });
    }

    // ----- reading -----

    /// Reads whatever the socket has and acts on every complete message.
    fn read_socket(&mut self, now: u64) -> bool {
        if !self.readable {
            return false;
        }
        let mut work = false;
        loop {
            let result = {
                let Some(tls) = self.phase.websocket() else {
                    return work;
                };
                let spare = self.decoder.spare_mut();
                if spare.is_empty() {
                    Err(None)
                } else {
                    tls.read(spare).map_err(Some)
                }
            };
            match result {
                Ok(0) => {
                    self.closed_by_peer(
                        SessionError::Closed {
                            code: None,
                            reason: "the connection was closed".to_string(),
                        },
                        now,
                    );
                    return true;
                }
                Ok(n) => {
                    work = true;
                    self.decoder.commit(n);
                    self.last_inbound = now;
                    if !self.process_messages(now) {
                        return true;
                    }
                }
                Err(Some(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return work;
                }
                Err(Some(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(Some(e)) => {
                    let error = match e.into_inner() {
                        Some(inner) => match inner.downcast::<crate::tls::TlsError>() {
                            Ok(tls) => tls_error(*tls),
                            Err(other) => SessionError::Io(other.to_string()),
                        },
                        None => SessionError::Io("read failed".to_string()),
                    };
                    self.closed_by_peer(error, now);
                    return true;
                }
                Err(None) => {
                    self.lost(
                        SessionError::Protocol("a message does not fit the read buffer".into()),
                        now,
                    );
                    return true;
                }
            }
        }
    }

    /// The connection ended from the venue's side (or broke).
    fn closed_by_peer(&mut self, error: SessionError, now: u64) {
        if matches!(self.phase, Phase::Closing { .. }) {
            self.drop_connection();
            self.set_phase(Phase::Done);
        } else {
            self.lost(error, now);
        }
    }

    /// Acts on every complete message; false when the connection ended.
    fn process_messages(&mut self, now: u64) -> bool {
        loop {
            let inbound = match self.decoder.next_message() {
                Ok(None) => return true,
                Ok(Some(message)) => classify(message, &mut self.replies),
                Err(e) => {
                    self.lost(SessionError::Protocol(e.to_string()), now);
                    return false;
                }
            };
            if !self.on_inbound(inbound, now) {
                return false;
            }
        }
    }

    fn on_inbound(&mut self, inbound: Inbound, now: u64) -> bool {
        match inbound {
            Inbound::Reply {
                id,
                code,
                msg,
                error_event,
            } => {
                let slot = id.and_then(|id| self.table.find_in_flight(id.as_str().as_bytes()));
                match slot {
                    Some(slot) => {
                        let settled = monotonic_ns();
                        let e = self.table.settle(slot);
                        let status = if code == 0 && !error_event {
                            Status::Acked
                        } else {
                            Status::Rejected { code, msg }
                        };
                        self.emit_entry(e, status, settled);
                    }
                    None => self.shared.counters.0.unmatched_replies.incr(),
                }
            }
            Inbound::Login { code, msg } => {
                if matches!(self.phase, Phase::LoggingIn { .. }) {
                    if code == 0 {
                        self.go_live(now);
                    } else {
                        self.login_refused(code, msg, now);
                        return false;
                    }
                }
            }
            Inbound::VenueError { code, msg } => {
                if matches!(self.phase, Phase::LoggingIn { .. }) {
                    self.login_refused(code, msg, now);
                    return false;
                }
                self.shared.counters.0.venue_errors.incr();
                log::warn!(
                    "venue error {code} {msg}{}",
                    if code == OVER_LIMIT_CLOSE {
                        " (the venue will close the connection)"
                    } else {
                        ""
                    }
                );
            }
            Inbound::Pong => self.shared.counters.0.pongs.incr(),
            Inbound::Ignored => {}
            Inbound::Undecodable(e) => {
                self.lost(
                    SessionError::Protocol(format!("undecodable reply: {e:?}")),
                    now,
                );
                return false;
            }
            Inbound::Ping { payload, len } => {
                self.frames.clear();
                ws::encode_pong(
                    &mut self.frames,
                    &payload[..len as usize],
                    self.masks.next_mask(),
                );
                if let Err(e) = self.write_frames() {
                    self.lost(e, now);
                    return false;
                }
            }
            Inbound::Close { code, reason } => {
                if !matches!(self.phase, Phase::Closing { .. }) {
                    // Answer with the same code, then start over.
                    self.frames.clear();
                    ws::encode_close(&mut self.frames, code, self.masks.next_mask());
                    // The connection is going away anyway: a failed answer changes nothing.
                    let _ = self.write_frames();
                }
                if let Some(tls) = self.phase.websocket() {
                    let _ = tls.close();
                    let _ = tls.flush_tls();
                }
                self.closed_by_peer(
                    SessionError::Closed {
                        code,
                        reason: reason.as_str().to_string(),
                    },
                    now,
                );
                return false;
            }
        }
        true
    }

    /// Encrypts `self.frames` and hands it to the socket (the rest waits for writability).
    fn write_frames(&mut self) -> Result<bool, SessionError> {
        let Some(tls) = self.phase.websocket() else {
            return Err(SessionError::Io("no connection".to_string()));
        };
        tls.write_record(&self.frames).map_err(tls_error)?;
        tls.flush_tls().map_err(|e| SessionError::Io(e.to_string()))
    }

    // ----- writing -----

    /// Sends the keepalive and as many waiting cancels as pacing allows, in one TLS write.
    fn send(&mut self, now: u64) -> bool {
        let Phase::Live { tls } = &self.phase else {
            return false;
        };
        if tls.wants_write() {
            // The socket has not taken the last batch yet: what waits stays queued (and keeps
            // its place for pacing) rather than pile up in the TLS buffer.
            return false;
        }
        // `now` was read at the start of the turn, possibly before intents taken in during the
        // turn were accepted: stamp cancels with the time they go out, since their ack timeout
        // and the pacing window count from it.
        let now = if self.table.front_queued().is_some() {
            monotonic_ns()
        } else {
            now
        };
        self.frames.clear();
        let first = self.awaiting_flush.len();
        if self.ping_sent_at == 0 && now >= self.next_ping_at && self.messages.is_ready(now) {
            self.messages.record(now);
            ws::encode_client_frame(
                &mut self.frames,
                OpCode::Text,
                protocol::PING,
                self.masks.next_mask(),
            );
            self.ping_sent_at = now;
            self.next_ping_at = now + self.ping_interval;
            self.shared.counters.0.pings.incr();
        }
        while let Some((_, e)) = self.table.front_queued() {
            if self.frames.len() + MAX_CANCEL_FRAME > BATCH_BYTES {
                break;
            }
            if !self.messages.is_ready(now) || !self.cancels.is_ready(now) {
                // Every intent waiting now waits for pacing; count each once.
                let newest = self.table.arrivals();
                let counted = self.paced_through.max(e.seq - 1);
                self.shared.counters.0.pacing_waits.add(newest - counted);
                self.paced_through = newest;
                break;
            }
            self.messages.record(now);
            self.cancels.record(now);
            let Some(slot) = self.table.send_front(now) else {
                break;
            };
            let e = self.table.entry(slot);
            self.json.clear();
            protocol::encode_cancel(&mut self.json, &e.id, &e.cancel);
            ws::encode_client_frame(
                &mut self.frames,
                OpCode::Text,
                &self.json,
                self.masks.next_mask(),
            );
            self.awaiting_flush.push((slot, now));
        }
        if self.frames.is_empty() {
            return false;
        }
        let sent = (self.awaiting_flush.len() - first) as u64;
        self.shared.counters.0.sent.add(sent);
        match self.write_frames() {
            Ok(true) => self.stamp_written(),
            Ok(false) => {}
            Err(e) => self.lost(e, now),
        }
        true
    }

    /// Flushes ciphertext left behind by a socket that would not take it all.
    fn flush_pending(&mut self, now: u64) {
        let Some(tls) = self.phase.websocket() else {
            return;
        };
        if !tls.wants_write() {
            return;
        }
        match tls.flush_tls() {
            Ok(true) => self.stamp_written(),
            Ok(false) => {}
            Err(e) => self.lost(SessionError::Io(e.to_string()), now),
        }
    }

    /// Everything encrypted so far is in the kernel now.
    fn stamp_written(&mut self) {
        if self.awaiting_flush.is_empty() {
            return;
        }
        let written = monotonic_ns();
        for &(slot, sent_ns) in &self.awaiting_flush {
            let e = self.table.entry_mut(slot);
            if e.sent_ns == sent_ns && e.written_ns == 0 {
                e.written_ns = written;
            }
        }
        self.awaiting_flush.clear();
    }

    // ----- shutdown -----

    /// Stops taking intents: everything not yet sent is reported not sent.
    fn begin_shutdown(&mut self, now: u64) {
        let shared = &self.shared;
        shared.stopped.0.store(true, Ordering::SeqCst);
        // A handle that saw `stopped` false is between two instructions: wait for its push.
        while shared.submit.0.submitting.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
        while let Ok(sub) = self.intents.try_recv() {
            self.shared.counters.0.intents.incr();
            self.emit_unsent(&sub, NotSentReason::Shutdown);
        }
        self.fail_queued(NotSentReason::Shutdown);
        self.stopping = Some(now.saturating_add(self.shutdown_grace));
        log::info!(
            "shutting down with {} cancels in flight",
            self.table.in_flight()
        );
    }

    /// Waits for replies in flight, then closes; true while there is work.
    fn shutdown_step(&mut self, now: u64) -> bool {
        let grace_over = self.stopping.is_some_and(|d| now >= d);
        match self.phase {
            Phase::Live { .. } if self.table.in_flight() == 0 || grace_over => {
                self.fail_in_flight(UnknownReason::Shutdown);
                self.frames.clear();
                ws::encode_close(&mut self.frames, Some(1000), self.masks.next_mask());
                let answered = self.write_frames();
                let phase = std::mem::replace(&mut self.phase, Phase::Done);
                match (phase, answered) {
                    (Phase::Live { tls }, Ok(_)) => self.set_phase(Phase::Closing {
                        tls,
                        deadline: now.saturating_add(CLOSE_WAIT_NS),
                    }),
                    (phase, _) => {
                        self.phase = phase;
                        self.drop_connection();
                        self.set_phase(Phase::Done);
                    }
                }
                true
            }
            Phase::Live { .. } => false,
            Phase::Closing { deadline, .. } if now >= deadline => {
                self.drop_connection();
                self.set_phase(Phase::Done);
                true
            }
            Phase::Closing { .. } | Phase::Done => false,
            _ => {
                self.fail_in_flight(UnknownReason::Shutdown);
                self.drop_connection();
                self.set_phase(Phase::Done);
                true
            }
        }
    }

    /// Reports whatever is left and hands every outcome over.
    fn finish(&mut self) {
        self.fail_in_flight(UnknownReason::Shutdown);
        self.fail_queued(NotSentReason::Shutdown);
        while let Ok(sub) = self.intents.try_recv() {
            self.emit_unsent(&sub, NotSentReason::Shutdown);
        }
        self.deliver();
        // The caller may not be reading: what does not fit waits where handles look last.
        for outcome in self.undelivered.drain(..) {
            self.shared.push_late_outcome(outcome);
        }
        self.shared.set_state(SessionState::Stopped);
        log::info!("engine stopped");
    }
}
