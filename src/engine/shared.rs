//! The little state the engine thread shares with handles besides the two rings: session state,
//! the last error, counters, and the flags that coordinate waking and stopping.

use std::collections::VecDeque;
use std::fmt;
#[cfg(unix)]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Condvar, Mutex};

use super::wire_id::WireIds;
use crate::final_word::FinalWord;
use crate::outcome::{ConnectFailure, ErrorText, Outcome};

/// Where the engine's connections to the venue stand (one connection's, in
/// [`ConnectionStats::state`]; the pool's, from [`crate::Handle::state`]: `Live` while any
/// connection is logged in, else how far the most advanced one got).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SessionState {
    /// Resolving, connecting, TLS handshake, WebSocket upgrade.
    Connecting = 0,
    /// Login sent, waiting for the venue's answer.
    LoggingIn = 1,
    /// Logged in: cancels go out.
    Live = 2,
    /// Waiting before the next connection attempt after a failure (see [`crate::Handle::last_error`]).
    Backoff = 3,
    /// The venue refused the credentials; intents are reported not sent until the next attempt
    /// (if [`crate::engine::ConfigBuilder::login_retry_after`] allows one).
    LoginRejected = 4,
    /// Shutting down or stopped.
    Stopped = 5,
}

impl SessionState {
    /// The state as one word: `connecting`, `logging_in`, `live`, `backoff`, `login_rejected`
    /// or `stopped`. `Display` says it for a person (`logging in`, `waiting to reconnect`, ...).
    ///
    /// ```
    /// use bitget_cancel::engine::SessionState;
    /// assert_eq!(SessionState::LoggingIn.as_str(), "logging_in");
    /// assert_eq!(SessionState::Backoff.to_string(), "waiting to reconnect");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionState::Connecting => "connecting",
            SessionState::LoggingIn => "logging_in",
            SessionState::Live => "live",
            SessionState::Backoff => "backoff",
            SessionState::LoginRejected => "login_rejected",
            SessionState::Stopped => "stopped",
        }
    }

    /// Logged in: cancels go out.
    pub fn is_live(&self) -> bool {
        matches!(self, SessionState::Live)
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => SessionState::Connecting,
            1 => SessionState::LoggingIn,
            2 => SessionState::Live,
            3 => SessionState::Backoff,
            4 => SessionState::LoginRejected,
            _ => SessionState::Stopped,
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionState::Connecting => "connecting",
            SessionState::LoggingIn => "logging in",
            SessionState::Live => "live",
            SessionState::Backoff => "waiting to reconnect",
            SessionState::LoginRejected => "login rejected",
            SessionState::Stopped => "stopped",
        })
    }
}

/// Why the last connection attempt or session ended. Held by the engine for the handle to read; it
/// never contains credentials. `Display` says it in a sentence, e.g. `tls: TLS handshake
/// failed: invalid peer certificate: UnknownIssuer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The TCP connection failed or broke.
    #[error("connection failed: {0}")]
    Io(String),
    /// The TLS handshake or a TLS record failed (certificate not trusted, alert, ...).
    #[error("tls: {0}")]
    Tls(String),
    /// The WebSocket upgrade was refused or malformed.
    #[error("websocket upgrade: {0}")]
    Upgrade(String),
    /// The venue sent something that breaks the WebSocket protocol or the size limits.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A step of connecting or logging in took longer than the connect timeout.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// The venue refused the credentials: a login (30005, 30011, 30012, 30015, ...), or a REST
    /// request's key, passphrase or signature (40006, 40009, 40012, ...).
    #[error("login rejected by the venue: {code} {msg}")]
    LoginRejected {
        /// The venue's code, e.g. 30015 or 40009.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// The venue answered the login with an error that is not about the credentials.
    #[error("login failed: {code} {msg}")]
    LoginFailed {
        /// The venue's code.
        code: i64,
        /// The venue's message.
        msg: String,
    },
    /// The venue closed the connection.
    #[error("closed by the venue{}", closed_how(*.code, .reason))]
    Closed {
        /// The WebSocket close code, if the venue sent a close frame.
        code: Option<u16>,
        /// The close reason, or how the connection ended.
        reason: String,
    },
    /// Nothing came back within the pong deadline after a `ping`.
    #[error("no traffic from the venue within the pong deadline")]
    PeerSilent,
}

impl SessionError {
    /// Its kind and its sentence, as a not-sent outcome carries them
    /// ([`crate::outcome::NotSentReason::NoConnection`]); nothing is allocated.
    pub(crate) fn as_failure(&self) -> (ConnectFailure, ErrorText) {
        let failure = match self {
            SessionError::Resolve { .. } => ConnectFailure::Dns,
            SessionError::Io(_) => ConnectFailure::Connect,
            SessionError::Tls(_) => ConnectFailure::Tls,
            SessionError::Upgrade(_) => ConnectFailure::Upgrade,
            SessionError::Timeout(_) => ConnectFailure::Timeout,
            SessionError::LoginRejected { .. } | SessionError::LoginFailed { .. } => {
                ConnectFailure::Login
            }
            SessionError::Protocol(_) | SessionError::Closed { .. } | SessionError::PeerSilent => {
                ConnectFailure::Closed
            }
        };
        (failure, ErrorText::display(self))
    }
}

/// The rest of [`SessionError::Closed`]'s sentence: the close frame's code if there was one,
/// then the reason.
fn closed_how(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (Some(code), true) => format!(" with close code {code}"),
        (Some(code), false) => format!(" with close code {code}: {reason}"),
        (None, true) => String::new(),
        (None, false) => format!(": {reason}"),
    }
}

/// Whether the engine thread runs on the core it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pinning {
    /// No core was configured.
    NotRequested,
    /// Pinned to the configured core.
    Pinned(usize),
    /// The configured core could not be used and was optional
    /// ([`crate::engine::ConfigBuilder::core_optional`]); the thread runs unpinned. (A required
    /// core that cannot be used stops [`crate::Engine::start`] instead.)
    Failed(usize),
    /// The engine thread has not got that far yet.
    Pending,
}

/// A counter written by the engine thread only: a plain load and store, no read-modify-write.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The most connection slots: the pool's size plus one for the replacement during a rotation.
pub(crate) const MAX_SLOTS: usize = super::config::MAX_CONNECTIONS + 1;

/// One connection slot of the pool, in [`Stats::connections`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Where it stands (`Stopped` for a slot not in use).
    pub state: SessionState,
    /// Logins that succeeded on it.
    pub sessions: u64,
    /// Cancel frames sent on it.
    pub sent: u64,
    /// Replies to cancels received on it.
    pub replies: u64,
    /// Median round trip of its last 256 replies (send to parsed reply), ns; 0 before any.
    pub rtt_p50_ns: u64,
    /// 99th percentile of the same, ns.
    pub rtt_p99_ns: u64,
}

impl Default for ConnectionStats {
    fn default() -> Self {
        ConnectionStats {
            state: SessionState::Stopped,
            sessions: 0,
            sent: 0,
            replies: 0,
            rtt_p50_ns: 0,
            rtt_p99_ns: 0,
        }
    }
}

/// The REST rung, in [`Stats::rest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestPathStats {
    /// The engine has a REST rung.
    pub enabled: bool,
    /// Its HTTPS connection is open now.
    pub connected: bool,
    /// Cancels sent over REST.
    pub sent: u64,
    /// Verdicts received (acked or rejected).
    pub replies: u64,
    /// Cancels over REST that got no verdict (timeout, connection lost, 5xx).
    pub failures: u64,
    /// The venue's clock minus ours, in milliseconds, from `GET /api/v2/public/time`; logins
    /// and REST signatures use our clock corrected by it. Meaningful once `clock_synced`.
    pub clock_offset_ms: i64,
    /// The clock offset was measured.
    pub clock_synced: bool,
}

/// The final word's figures, in [`Stats::finals`]; all zero while it is off.
///
/// A push carries one order or more: the counts are of orders (`pushes_*`). Every connection of
/// the pool subscribes, so with N connections each order arrives N times: the first copy that
/// finds its intent is matched, the others are unmatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinalStats {
    /// The final word is on.
    pub enabled: bool,
    /// Subscriptions to the order channel the venue acknowledged (one per connection made).
    pub subscriptions_acked: u64,
    /// Subscriptions the venue refused.
    pub subscriptions_refused: u64,
    /// Subscriptions that had no answer within the grace (the connection served anyway).
    pub subscriptions_unanswered: u64,
    /// Orders pushed on the order channel, every copy on every connection.
    pub pushes_received: u64,
    /// Of those, the ones that found an intent (waiting for its reply or its final word).
    pub pushes_matched: u64,
    /// Of the matched, those that came before the intent's reply, and were kept.
    pub pushes_before_reply: u64,
    /// Pushes that came before the intent's reply and found no room
    /// ([`Confirm::early_pushes`](crate::engine::Confirm::early_pushes)): dropped, and REST
    /// answers for them.
    pub pushes_dropped: u64,
    /// Pushes for orders no intent asked about (or already answered): ignored.
    pub pushes_unmatched: u64,
    /// Final words: cancelled.
    pub cancelled: u64,
    /// Final words: filled.
    pub filled: u64,
    /// Final words: live.
    pub live: u64,
    /// Final words: unconfirmed (any reason).
    pub unconfirmed: u64,
    /// Of the unconfirmed, those whose intent found the table full.
    pub table_full: u64,
    /// Final words from a push.
    pub by_push: u64,
    /// Final words from the REST order query.
    pub by_rest: u64,
    /// Final words that found the final-word ring and its overflow full (nobody read them):
    /// dropped, and logged.
    pub undelivered: u64,
    /// REST order queries sent.
    pub queries_sent: u64,
    /// Answers to them (found, not found or refused).
    pub queries_answered: u64,
    /// Queries without an answer (timeout, 5xx, connection lost).
    pub queries_failed: u64,
    /// From an intent's outcome to its final word, over the last 1,024 final words that came
    /// from the venue (push or REST): median, ns.
    pub reply_to_final_p50_ns: u64,
    /// 90th percentile of the same, ns.
    pub reply_to_final_p90_ns: u64,
    /// 99th percentile of the same, ns.
    pub reply_to_final_p99_ns: u64,
    /// Largest of the same, ns.
    pub reply_to_final_max_ns: u64,
}

/// The backlog's REST batches and the cancel-alls, in [`Stats::batches`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchStats {
    /// Batch requests sent (each numbered from 1: an outcome's `batch`).
    pub sent: u64,
    /// Cancels they carried (the sum of their sizes).
    pub carried: u64,
    /// The largest batch sent.
    pub largest: u64,
    /// Batch requests of each size: `sizes[n]` counts the batches of `n` cancels (1 to 20).
    pub sizes: [u64; 21],
    /// Batch requests that got no per-entry answer: refused as a whole, or no reply.
    pub failed: u64,
    /// Cancels settled by a batch reply's entry (acked or rejected).
    pub settled: u64,
    /// Cancels a batch reply listed in neither list: left to another attempt.
    pub unlisted: u64,
    /// Cancel-alls sent.
    pub cancel_alls: u64,
    /// Cancel-alls acked.
    pub cancel_alls_acked: u64,
}

/// Counters since the engine started; a snapshot of [`crate::Handle::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// TCP connection attempts.
    pub connect_attempts: u64,
    /// Sessions that reached `Live` (successful logins).
    pub sessions: u64,
    /// Live sessions that ended other than by shutdown.
    pub reconnects: u64,
    /// Logins the venue refused for the credentials.
    pub login_rejections: u64,
    /// Intents accepted from the ring by the engine.
    pub intents: u64,
    /// Cancel frames written.
    pub sent: u64,
    /// Outcomes: acked.
    pub acked: u64,
    /// Outcomes: rejected by the venue.
    pub rejected: u64,
    /// Outcomes: unknown (ack timeout, connection lost, shutdown).
    pub unknown: u64,
    /// Outcomes: not sent.
    pub not_sent: u64,
    /// Intents that had to wait for a rate limit.
    pub pacing_waits: u64,
    /// Error replies that belong to no request (e.g. 30006 "request too many").
    pub venue_errors: u64,
    /// Replies whose id matched nothing in flight (e.g. an ack after its timeout).
    pub unmatched_replies: u64,
    /// `ping` texts sent.
    pub pings: u64,
    /// `pong` texts received.
    pub pongs: u64,
    /// Cancels sent again on another connection because they had no reply within the hedge
    /// delay, or their connection reported trouble (an error naming no request).
    pub hedges_sent: u64,
    /// Intents settled by the reply to a hedge.
    pub hedges_won: u64,
    /// Hedges that had to wait because hedges had spent their share of the cancel budget (they
    /// go out once it comes back).
    pub hedges_capped: u64,
    /// Cancels sent again because the connection they were on was lost, or stalled (left a
    /// cancel unanswered past the hedge delay while another path answered).
    pub failovers: u64,
    /// Connections found stalled: they took no new cancels until they answered again.
    pub stalls: u64,
    /// Transient answers (a rate limit, overload, a timeout) that settled nothing: the cancel
    /// was still live elsewhere or went out again.
    pub transient_answers: u64,
    /// Cancels sent again after a transient answer.
    pub retries: u64,
    /// Connections replaced for their age (make-before-break).
    pub rotations: u64,
    /// Replies to an attempt of an intent another attempt had already settled: counted, never a
    /// second outcome.
    pub late_replies: u64,
    /// Well-formed messages the engine could not read (not JSON, no `event`, a binary frame,
    /// ...): counted, logged and skipped; they never cost the connection.
    pub unreadable_messages: u64,
    /// The hedge delay in force, ns (0 when hedging is off).
    pub hedge_after_ns: u64,
    /// How many connections the pool keeps.
    pub pool_size: usize,
    /// Each connection slot: `connections[..pool_size + 1]` are in use (the last one only while
    /// a connection is being replaced).
    pub connections: [ConnectionStats; MAX_SLOTS],
    /// The REST rung.
    pub rest: RestPathStats,
    /// The final word (all zero while it is off).
    pub finals: FinalStats,
    /// The backlog's REST batches and the cancel-alls.
    pub batches: BatchStats,
    /// The account's API (classic V2 or unified V3) and the dead man's switch.
    pub unified: super::uta_stats::UnifiedStats,
}

/// One slot's counters, written by the engine thread.
#[derive(Debug, Default)]
pub(crate) struct LinkCounters {
    pub state: AtomicU8,
    pub sessions: Counter,
    pub sent: Counter,
    pub replies: Counter,
    pub rtt_p50_ns: Counter,
    pub rtt_p99_ns: Counter,
}

impl LinkCounters {
    pub(crate) fn set_state(&self, state: SessionState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            state: SessionState::from_u8(self.state.load(Ordering::Relaxed)),
            sessions: self.sessions.get(),
            sent: self.sent.get(),
            replies: self.replies.get(),
            rtt_p50_ns: self.rtt_p50_ns.get(),
            rtt_p99_ns: self.rtt_p99_ns.get(),
        }
    }
}

/// The final word's counters, written by the engine thread.
#[derive(Debug, Default)]
pub(crate) struct FinalCounters {
    pub enabled: Counter,
    pub subscriptions_acked: Counter,
    pub subscriptions_refused: Counter,
    pub subscriptions_unanswered: Counter,
    pub pushes_received: Counter,
    pub pushes_matched: Counter,
    pub pushes_before_reply: Counter,
    pub pushes_dropped: Counter,
    pub pushes_unmatched: Counter,
    pub cancelled: Counter,
    pub filled: Counter,
    pub live: Counter,
    pub unconfirmed: Counter,
    pub table_full: Counter,
    pub by_push: Counter,
    pub by_rest: Counter,
    pub undelivered: Counter,
    pub queries_sent: Counter,
    pub queries_answered: Counter,
    pub queries_failed: Counter,
    pub p50_ns: Counter,
    pub p90_ns: Counter,
    pub p99_ns: Counter,
    pub max_ns: Counter,
}

impl FinalCounters {
    fn snapshot(&self) -> FinalStats {
        FinalStats {
            enabled: self.enabled.get() != 0,
            subscriptions_acked: self.subscriptions_acked.get(),
            subscriptions_refused: self.subscriptions_refused.get(),
            subscriptions_unanswered: self.subscriptions_unanswered.get(),
            pushes_received: self.pushes_received.get(),
            pushes_matched: self.pushes_matched.get(),
            pushes_before_reply: self.pushes_before_reply.get(),
            pushes_dropped: self.pushes_dropped.get(),
            pushes_unmatched: self.pushes_unmatched.get(),
            cancelled: self.cancelled.get(),
            filled: self.filled.get(),
            live: self.live.get(),
            unconfirmed: self.unconfirmed.get(),
            table_full: self.table_full.get(),
            by_push: self.by_push.get(),
            by_rest: self.by_rest.get(),
            undelivered: self.undelivered.get(),
            queries_sent: self.queries_sent.get(),
            queries_answered: self.queries_answered.get(),
            queries_failed: self.queries_failed.get(),
            reply_to_final_p50_ns: self.p50_ns.get(),
            reply_to_final_p90_ns: self.p90_ns.get(),
            reply_to_final_p99_ns: self.p99_ns.get(),
            reply_to_final_max_ns: self.max_ns.get(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connect_attempts: Counter,
    pub sessions: Counter,
    pub reconnects: Counter,
    pub login_rejections: Counter,
    pub intents: Counter,
    pub sent: Counter,
    pub acked: Counter,
    pub rejected: Counter,
    pub unknown: Counter,
    pub not_sent: Counter,
    pub pacing_waits: Counter,
    pub venue_errors: Counter,
    pub unmatched_replies: Counter,
    pub pings: Counter,
    pub pongs: Counter,
    pub hedges_sent: Counter,
    pub hedges_won: Counter,
    pub hedges_capped: Counter,
    pub failovers: Counter,
    pub stalls: Counter,
    pub transient_answers: Counter,
    pub retries: Counter,
    pub rotations: Counter,
    pub late_replies: Counter,
    pub unreadable_messages: Counter,
    pub hedge_after_ns: Counter,
    pub pool_size: Counter,
    pub links: [LinkCounters; MAX_SLOTS],
    pub rest_enabled: Counter,
    pub rest_connected: Counter,
    pub rest_sent: Counter,
    pub rest_replies: Counter,
    pub rest_failures: Counter,
    /// The offset's bits (`i64` as `u64`).
    pub clock_offset_ms: Counter,
    pub clock_synced: Counter,
    pub finals: FinalCounters,
    pub batches: BatchCounters,
    pub uta: super::uta_stats::UtaCounters,
}

/// The batches' counters, written by the engine thread.
#[derive(Debug, Default)]
pub(crate) struct BatchCounters {
    pub sent: Counter,
    pub carried: Counter,
    pub largest: Counter,
    pub sizes: [Counter; 21],
    pub failed: Counter,
    pub settled: Counter,
    pub unlisted: Counter,
    pub cancel_alls: Counter,
    pub cancel_alls_acked: Counter,
}

impl BatchCounters {
    /// One batch of `size` cancels went out.
    pub(crate) fn on_sent(&self, size: usize) {
        self.sent.incr();
        self.carried.add(size as u64);
        if (size as u64) > self.largest.get() {
            self.largest.set(size as u64);
        }
        if let Some(c) = self.sizes.get(size) {
            c.incr();
        }
    }

    fn snapshot(&self) -> BatchStats {
        BatchStats {
            sent: self.sent.get(),
            carried: self.carried.get(),
            largest: self.largest.get(),
            sizes: std::array::from_fn(|i| self.sizes[i].get()),
            failed: self.failed.get(),
            settled: self.settled.get(),
            unlisted: self.unlisted.get(),
            cancel_alls: self.cancel_alls.get(),
            cancel_alls_acked: self.cancel_alls_acked.get(),
        }
    }
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            connect_attempts: self.connect_attempts.get(),
            sessions: self.sessions.get(),
            reconnects: self.reconnects.get(),
            login_rejections: self.login_rejections.get(),
            intents: self.intents.get(),
            sent: self.sent.get(),
            acked: self.acked.get(),
            rejected: self.rejected.get(),
            unknown: self.unknown.get(),
            not_sent: self.not_sent.get(),
            pacing_waits: self.pacing_waits.get(),
            venue_errors: self.venue_errors.get(),
            unmatched_replies: self.unmatched_replies.get(),
            pings: self.pings.get(),
            pongs: self.pongs.get(),
            hedges_sent: self.hedges_sent.get(),
            hedges_won: self.hedges_won.get(),
            hedges_capped: self.hedges_capped.get(),
            failovers: self.failovers.get(),
            stalls: self.stalls.get(),
            transient_answers: self.transient_answers.get(),
            retries: self.retries.get(),
            rotations: self.rotations.get(),
            late_replies: self.late_replies.get(),
            unreadable_messages: self.unreadable_messages.get(),
            hedge_after_ns: self.hedge_after_ns.get(),
            pool_size: self.pool_size.get() as usize,
            connections: std::array::from_fn(|i| self.links[i].snapshot()),
            rest: RestPathStats {
                enabled: self.rest_enabled.get() != 0,
                connected: self.rest_connected.get() != 0,
                sent: self.rest_sent.get(),
                replies: self.rest_replies.get(),
                failures: self.rest_failures.get(),
                clock_offset_ms: self.clock_offset_ms.get() as i64,
                clock_synced: self.clock_synced.get() != 0,
            },
            finals: self.finals.snapshot(),
            batches: self.batches.snapshot(),
            unified: self.uta.snapshot(),
        }
    }
}

/// Keeps a value on its own cache line(s), so that writes by one thread do not slow down reads of
/// neighbouring fields by another.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub T);

/// Written by submitting threads.
#[derive(Debug)]
pub(crate) struct SubmitSide {
    /// The next send number (of a wire id): drawn by handles for first sends, by the engine
    /// thread for later ones.
    pub next_id: AtomicU64,
    /// Submissions between their `stopped` check and their push; shutdown waits for zero.
    pub submitting: AtomicUsize,
}

/// Written by the engine thread, read by handles.
#[derive(Debug)]
pub(crate) struct EngineSide {
    /// The engine is about to park and wants a wake-up (park idle strategy only).
    pub parked: AtomicBool,
    pub state: AtomicU8,
    pub pinning: Mutex<Pinning>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// The engine's wire ids (its random prefix).
    pub wire_ids: WireIds,
    pub submit: Padded<SubmitSide>,
    pub engine: Padded<EngineSide>,
    pub counters: Padded<Counters>,
    /// Set once by shutdown: handles refuse new intents.
    pub stopped: Padded<AtomicBool>,
    /// Set by `Engine::shutdown` or drop: the engine thread winds down.
    pub shutdown_requested: AtomicBool,
    pub last_error: Mutex<Option<SessionError>>,
    /// Wakes the threads parked in [`crate::Handle::wait_live`] when the pool's state changes.
    pub state_changed: StateSignal,
    /// Outcomes decided at shutdown that found the outcome ring full.
    pub late_outcomes: Mutex<VecDeque<Outcome>>,
    pub has_late_outcomes: AtomicBool,
    /// The outcome-ready notification, once a handle asked for it
    /// ([`crate::Handle::outcome_ready`]); until then the engine pays one load per outcome.
    #[cfg(unix)]
    pub ready: OnceLock<super::ready::signal::ReadySignal>,
    /// The final-ready notification, once a handle asked for it
    /// ([`crate::Handle::final_ready`]); until then the engine pays one load per final word.
    #[cfg(unix)]
    pub final_ready: OnceLock<super::ready::signal::ReadySignal>,
    /// Final words decided at shutdown that found the final-word ring full.
    pub late_finals: Mutex<VecDeque<FinalWord>>,
    pub has_late_finals: AtomicBool,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            wire_ids: WireIds::random(),
            submit: Padded(SubmitSide {
                next_id: AtomicU64::new(1),
                submitting: AtomicUsize::new(0),
            }),
            engine: Padded(EngineSide {
                parked: AtomicBool::new(false),
                state: AtomicU8::new(SessionState::Connecting as u8),
                pinning: Mutex::new(Pinning::Pending),
            }),
            counters: Padded(Counters::default()),
            stopped: Padded(AtomicBool::new(false)),
            shutdown_requested: AtomicBool::new(false),
            last_error: Mutex::new(None),
            state_changed: StateSignal::default(),
            late_outcomes: Mutex::new(VecDeque::new()),
            has_late_outcomes: AtomicBool::new(false),
            #[cfg(unix)]
            ready: OnceLock::new(),
            #[cfg(unix)]
            final_ready: OnceLock::new(),
            late_finals: Mutex::new(VecDeque::new()),
            has_late_finals: AtomicBool::new(false),
        }
    }

    pub(crate) fn state(&self) -> SessionState {
        SessionState::from_u8(self.engine.0.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_state(&self, state: SessionState) {
        self.engine.0.state.store(state as u8, Ordering::Release);
        self.state_changed.notify();
    }

    /// Parks the calling thread until `done(state)` holds (that state) or `timeout` has passed
    /// (`None`).
    pub(crate) fn wait_for_state(
        &self,
        timeout: std::time::Duration,
        done: impl Fn(SessionState) -> bool,
    ) -> Option<SessionState> {
        let signal = &self.state_changed;
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut guard = lock(&signal.lock);
        signal.waiting.fetch_add(1, Ordering::SeqCst);
        // Pairs with the fence in `StateSignal::notify`: either this load sees the new state or
        // the engine sees this waiter and takes the lock to wake it.
        fence(Ordering::SeqCst);
        let met = loop {
            let state = self.state();
            if done(state) {
                break Some(state);
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(std::time::Instant::now()),
                None => std::time::Duration::MAX,
            };
            if left.is_zero() {
                break None;
            }
            guard = signal
                .changed
                .wait_timeout(guard, left)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        };
        signal.waiting.fetch_sub(1, Ordering::SeqCst);
        met
    }

    pub(crate) fn last_error(&self) -> Option<SessionError> {
        lock(&self.last_error).clone()
    }

    /// Off the hot path: called when a connection attempt or session fails.
    pub(crate) fn set_last_error(&self, error: SessionError) {
        *lock(&self.last_error) = Some(error);
    }

    pub(crate) fn pinning(&self) -> Pinning {
        *lock(&self.engine.0.pinning)
    }

    pub(crate) fn set_pinning(&self, pinning: Pinning) {
        *lock(&self.engine.0.pinning) = pinning;
    }

    /// The next late outcome, if shutdown left any.
    pub(crate) fn pop_late_outcome(&self) -> Option<Outcome> {
        if !self.has_late_outcomes.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.late_outcomes).pop_front()
    }

    pub(crate) fn push_late_outcome(&self, outcome: Outcome) {
        lock(&self.late_outcomes).push_back(outcome);
        self.has_late_outcomes.store(true, Ordering::Release);
        self.outcome_delivered();
    }

    /// Whether shutdown left outcomes beside the ring.
    pub(crate) fn has_late_outcomes(&self) -> bool {
        self.has_late_outcomes.load(Ordering::Acquire)
    }

    /// Called by the engine after it handed an outcome over: signals a consumer that armed the
    /// outcome-ready notification, if one exists.
    #[inline]
    pub(crate) fn outcome_delivered(&self) {
        #[cfg(unix)]
        if let Some(ready) = self.ready.get() {
            ready.delivered();
        }
    }

    /// The next final word shutdown left, if any.
    pub(crate) fn pop_late_final(&self) -> Option<FinalWord> {
        if !self.has_late_finals.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.late_finals).pop_front()
    }

    pub(crate) fn push_late_final(&self, word: FinalWord) {
        lock(&self.late_finals).push_back(word);
        self.has_late_finals.store(true, Ordering::Release);
        self.final_delivered();
    }

    /// Whether shutdown left final words beside the ring.
    pub(crate) fn has_late_finals(&self) -> bool {
        self.has_late_finals.load(Ordering::Acquire)
    }

    /// Called by the engine after it handed a final word over: signals a consumer that armed
    /// the final-ready notification, if one exists.
    #[inline]
    pub(crate) fn final_delivered(&self) {
        #[cfg(unix)]
        if let Some(ready) = self.final_ready.get() {
            ready.delivered();
        }
    }
}

/// Parked threads waiting for a change of the pool's state. The engine thread pays a fence and a
/// load per state change, and takes the lock only while someone waits.
#[derive(Debug, Default)]
pub(crate) struct StateSignal {
    waiting: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
}

impl StateSignal {
    /// Called after the state was stored.
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            // Held by a waiter only between its look at the state and its wait.
            let _guard = lock(&self.lock);
            self.changed.notify_all();
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section
/// here is a single assignment or queue operation).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_session_says_how_without_debug_noise() {
        let closed = |code, reason: &str| {
            SessionError::Closed {
                code,
                reason: reason.to_string(),
            }
            .to_string()
        };
        assert_eq!(
            closed(None, "the TCP connection ended without a TLS close_notify"),
            "closed by the venue: the TCP connection ended without a TLS close_notify"
        );
        assert_eq!(
            closed(Some(1001), "going away"),
            "closed by the venue with close code 1001: going away"
        );
        assert_eq!(
            closed(Some(1000), ""),
            "closed by the venue with close code 1000"
        );
        assert_eq!(closed(None, ""), "closed by the venue");
    }

    #[test]
    fn every_session_state_has_a_word_and_a_phrase() {
        let all = [
            SessionState::Connecting,
            SessionState::LoggingIn,
            SessionState::Live,
            SessionState::Backoff,
            SessionState::LoginRejected,
            SessionState::Stopped,
        ];
        let words: Vec<&str> = all.iter().map(SessionState::as_str).collect();
        assert_eq!(
            words,
            [
                "connecting",
                "logging_in",
                "live",
                "backoff",
                "login_rejected",
                "stopped"
            ]
        );
        let phrases: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(
            phrases,
            [
                "connecting",
                "logging in",
                "live",
                "waiting to reconnect",
                "login rejected",
                "stopped"
            ]
        );
        for state in all {
            assert_eq!(SessionState::from_u8(state as u8), state);
            assert_eq!(state.is_live(), state == SessionState::Live);
        }
    }
}
