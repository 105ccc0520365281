//! One connection to the venue as a state machine the account steps: its phase (dialing,
//! login, live, closing, backoff), its TLS stream and frame decoder, its keepalive, its own
//! message pacing and its reconnect backoff.
//!
//! A [`Link`] never sees the in-flight table, the rings or an [`Outcome`](crate::Outcome): it
//! reports what happened as [`LinkEvent`]s into a buffer the account owns, and the account
//! decides what they mean for intents. Every call the account may make on it is a method of
//! [`LinkSeam`] (`seam.rs`, where the contract is written down); the venue's bytes come from the
//! account's [`Dialect`], and the way up (address, TCP, TLS, upgrade) from its [`Dialer`].

mod phase;
mod seam;

use std::io::{self, Read};
use std::time::Duration;

use mio::{Registry, Token};

use super::pacing::RateLimiter;
use super::shared::{SessionError, SessionState};
use crate::backoff::Backoff;
use crate::clock::{ns, unix_ms};
use crate::intent::{Cancel, RequestId};
use crate::net::{Dial, Dialer, Dialing};
use crate::outcome::VenueMsg;
use crate::relay::WarnGate;
use crate::venue::{AnswerClass, Dialect, Inbound, InboundDecoder, LOG_EXCERPT, LoginRefusal};
use crate::ws::{self, FrameDecoder, MaskGen, Message, OpCode};
use phase::{Phase, tls_error};
pub(crate) use seam::{
    LIMITS, LinkCx, LinkEvent, LinkSeam, LinkSettings, LinkView, Scratch, Subscription,
    SubscriptionEnd,
};

/// How long a closing link waits for the venue to answer its close frame.
const CLOSE_WAIT_NS: u64 = 500_000_000;
/// Events kept free in the buffer before a read stops taking messages (the rest wait in the
/// decoder for the next turn).
const EVENT_HEADROOM: usize = 8;
/// The most messages one read acts on; the rest wait for the next turn.
const READ_MESSAGES: usize = 1024;
/// The most bytes one read takes from the socket; the rest wait for the next turn.
const READ_BYTES: usize = 256 * 1024;
/// A probe `ping`'s pong deadline (the keepalive's own, if shorter).
const PROBE_PONG_NS: u64 = 1_000_000_000;
/// At most one probe this often.
const PROBE_EVERY_NS: u64 = 1_000_000_000;
/// How long a link waits for the close the venue announced (30007) before it ends the
/// connection itself.
const ANNOUNCED_CLOSE_GRACE_NS: u64 = 2_000_000_000;

/// One connection slot of the pool.
#[derive(Debug)]
pub(crate) struct Link {
    index: u8,
    token: Token,
    /// The endpoint's URL, for logs.
    url: String,
    dialer: Dialer,
    phase: Phase,
    /// Counts connections made in this slot; attempts carry it so that a late event of a
    /// replaced connection is never credited to its successor.
    generation: u32,
    attempt_started: u64,
    live_since: u64,
    /// Consecutive failed attempts and the jitter of the reconnect delay.
    backoff: Backoff,
    /// A socket event arrived since the last connection step.
    socket_event: bool,
    /// The socket may have bytes to read (edge-triggered: cleared on `WouldBlock`).
    readable: bool,
    /// Read directly this turn, not on the poller's word: one read that brings data is enough,
    /// the next turn reads again (no `read(2)` just to see `WouldBlock`).
    direct: bool,
    next_ping_at: u64,
    /// When the outstanding `ping` went out; 0 when none is outstanding.
    ping_sent_at: u64,
    /// When the outstanding `ping`'s answer is due.
    pong_due: u64,
    /// A probe `ping` waits for the message budget.
    probe_wanted: bool,
    /// When the last probe was asked for (0: never).
    last_probe_at: u64,
    last_inbound: u64,
    /// Since when bytes have waited for room in the socket (0: none wait).
    write_blocked_since: u64,
    /// When the venue announced it would close this connection (30007; 0: it did not).
    close_announced_at: u64,
    /// The last read stopped at its budget: read again next turn.
    more: bool,
    /// The login waits for the venue's clock (the upgrade is done).
    login_due: bool,
    /// This connection's upgrade reply's `Date`, as an offset from our clock (ms).
    date_offset_ms: Option<i64>,
    /// Warnings the venue can provoke at will, shown a few at a time.
    unreadable_warnings: WarnGate,
    venue_error_warnings: WarnGate,
    messages: RateLimiter,
    decoder: FrameDecoder,
    masks: MaskGen,
    /// Takes no new cancels: being replaced, or the venue said it is closing it.
    draining: bool,
    /// Closes once drained and is then not reconnected.
    retiring: bool,
    /// Why the last attempt or session failed, until the engine takes it.
    last_error: Option<SessionError>,
    /// The other dialect's endpoint (URL and dialer), swapped with `url` and `dialer` when an
    /// attempt starts under the dialect that is not `speaks`.
    other: Option<Box<(String, Dialer)>>,
    /// The dialect `url` and `dialer` serve.
    speaks: Dialect,
}

impl Link {
    /// A link in slot `index`, idle until [`Link::enable`] (or connecting at once if `enabled`).
    pub(crate) fn new(
        index: u8,
        token: Token,
        url: &str,
        dialer: Dialer,
        settings: &LinkSettings,
        rng: u64,
        enabled: bool,
    ) -> Self {
        Link {
            index,
            token,
            url: url.to_owned(),
            dialer,
            phase: if enabled {
                Phase::Backoff { retry_at: 0 }
            } else {
                Phase::Done
            },
            generation: 0,
            attempt_started: 0,
            live_since: 0,
            backoff: Backoff::new(settings.reconnect, rng),
            socket_event: false,
            readable: false,
            direct: false,
            next_ping_at: 0,
            ping_sent_at: 0,
            pong_due: 0,
            probe_wanted: false,
            last_probe_at: 0,
            last_inbound: 0,
            write_blocked_since: 0,
            close_announced_at: 0,
            more: false,
            login_due: false,
            date_offset_ms: None,
            unreadable_warnings: WarnGate::default(),
            venue_error_warnings: WarnGate::default(),
            messages: RateLimiter::new(settings.messages_per_second, settings.window),
            decoder: FrameDecoder::new(LIMITS),
            masks: MaskGen::new(),
            draining: false,
            retiring: false,
            last_error: None,
            other: None,
            // `url` and `dialer` are the V2 endpoint's.
            speaks: Dialect::V2,
        }
    }

    /// Gives the link the unified account's (V3) endpoint beside the V2 one it was built with:
    /// each connection attempt dials the one of the account's dialect at that moment.
    pub(crate) fn with_v3_endpoint(mut self, url: &str, dialer: Dialer) -> Self {
        self.other = Some(Box::new((url.to_owned(), dialer)));
        self
    }

    /// Before an attempt: the endpoint of the account's dialect now, which the connection
    /// speaks until it ends (an account that switches meanwhile reconnects it).
    fn pick_endpoint(&mut self, dialect: Dialect) {
        if dialect != self.speaks
            && let Some(other) = self.other.as_mut()
        {
            std::mem::swap(&mut self.url, &mut other.0);
            std::mem::swap(&mut self.dialer, &mut other.1);
        }
        self.speaks = dialect;
    }

    fn emit(&self, events: &mut Vec<(u8, LinkEvent)>, event: LinkEvent) {
        events.push((self.index, event));
    }

    fn keepalive(&mut self, cx: &mut LinkCx<'_>) -> bool {
        if self.ping_sent_at != 0 {
            if self.last_inbound > self.ping_sent_at {
                self.ping_sent_at = 0;
            } else if cx.now >= self.pong_due {
                self.lose(SessionError::PeerSilent, cx);
                return true;
            }
        }
        let due = self.probe_wanted || cx.now >= self.next_ping_at;
        if self.ping_sent_at != 0 || !due || !self.can_take_ping(cx.now) {
            return false;
        }
        self.messages.record(cx.now);
        cx.scratch.frames.clear();
        ws::encode_client_frame(
            &mut cx.scratch.frames,
            OpCode::Text,
            self.speaks.ping(),
            self.masks.next_mask(),
        );
        let deadline = if self.probe_wanted {
            cx.settings.pong_deadline.min(PROBE_PONG_NS)
        } else {
            cx.settings.pong_deadline
        };
        self.probe_wanted = false;
        self.ping_sent_at = cx.now;
        self.pong_due = cx.now.saturating_add(deadline);
        self.next_ping_at = cx.now.saturating_add(cx.settings.ping_interval);
        self.emit(cx.events, LinkEvent::PingSent);
        match self.try_write(&cx.scratch.frames) {
            Ok(true) => self.emit(cx.events, LinkEvent::Flushed),
            Ok(false) => {}
            Err(e) => self.lose(e, cx),
        }
        true
    }

    /// Logs how many warnings the venue provoked were only counted, once per interval.
    fn report_hidden_warnings(&mut self, now: u64) {
        if let Some(n) = self.unreadable_warnings.take_hidden(now) {
            crate::relay::log_warn!(
                "connection {}: {n} more messages it cannot read were skipped",
                self.index
            );
        }
        if let Some(n) = self.venue_error_warnings.take_hidden(now) {
            crate::relay::log_warn!(
                "connection {}: {n} more venue errors naming no request",
                self.index
            );
        }
    }

    /// Ends a connection that cannot hand its bytes to the kernel within the write timeout, or
    /// whose announced close never came; true if it did.
    fn watchdogs(&mut self, cx: &mut LinkCx<'_>) -> bool {
        if self.write_blocked_since != 0
            && cx.now
                >= self
                    .write_blocked_since
                    .saturating_add(cx.settings.write_timeout)
        {
            self.lose(
                SessionError::Timeout("writing to a socket with no room"),
                cx,
            );
            return true;
        }
        if self.close_announced_at != 0
            && cx.now
                >= self
                    .close_announced_at
                    .saturating_add(ANNOUNCED_CLOSE_GRACE_NS)
        {
            self.lose(
                SessionError::Closed {
                    code: None,
                    reason: "the venue announced a close (over limit) that never came".into(),
                },
                cx,
            );
            return true;
        }
        false
    }

    fn can_take_ping(&self, now: u64) -> bool {
        match &self.phase {
            Phase::Live { tls } => self.messages.is_ready(now) && !tls.wants_write(),
            _ => false,
        }
    }

    fn apply_step(&mut self, step: Dial, cx: &mut LinkCx<'_>) {
        match step {
            Dial::Wait(dialing) => self.phase = Phase::Dialing(dialing),
            Dial::Failed(e) => self.lose(e.into(), cx),
            Dial::Secure(_) => self.lose(
                SessionError::Upgrade("the connection was not upgraded".to_string()),
                cx,
            ),
            Dial::Upgraded {
                tls,
                leftover,
                server_date,
            } => {
                self.decoder.reset();
                self.phase = Phase::LoggingIn { tls };
                if let Err(e) = self.decoder.push(&leftover) {
                    self.lose(SessionError::Protocol(e.to_string()), cx);
                    return;
                }
                self.messages.reset();
                self.date_offset_ms = None;
                if let Some(date_s) = server_date {
                    // The header is the venue's clock truncated to the second: take the middle.
                    let venue_ms = date_s.saturating_mul(1000).saturating_add(500);
                    let offset = venue_ms as i64 - unix_ms() as i64;
                    self.date_offset_ms = Some(offset);
                    self.emit(cx.events, LinkEvent::ServerDate { offset_ms: offset });
                }
                self.login_due = true;
                if cx.settings.clock_ready
                    && let Err(e) = self.send_login(cx)
                {
                    self.lose(e, cx);
                    return;
                }
                // Frames may already be buffered (leftover, or decrypted with the upgrade).
                self.readable = true;
                self.read(cx);
            }
        }
    }

    fn send_login(&mut self, cx: &mut LinkCx<'_>) -> Result<(), SessionError> {
        self.login_due = false;
        let (s, scratch) = (cx.settings, &mut *cx.scratch);
        // A measured offset first; else this connection's `Date` header, to the second.
        let offset = match self.date_offset_ms {
            Some(date) if !s.clock_measured => date,
            _ => s.clock_offset_ms,
        };
        let unix_ms = unix_ms().saturating_add_signed(offset);
        scratch.json.clear();
        s.dialect
            .encode_login(&mut scratch.json, &s.credentials, unix_ms)
            .map_err(|e| SessionError::LoginFailed {
                code: 0,
                msg: e.to_string(),
            })?;
        scratch.frames.clear();
        ws::encode_client_frame(
            &mut scratch.frames,
            OpCode::Text,
            &scratch.json,
            self.masks.next_mask(),
        );
        self.try_write(&scratch.frames)?;
        self.messages.record(cx.now);
        Ok(())
    }

    fn go_live(&mut self, cx: &mut LinkCx<'_>) {
        let (now, s) = (cx.now, cx.settings);
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let (Phase::LoggingIn { tls } | Phase::Subscribing { tls, .. }) = phase else {
            self.phase = phase;
            return;
        };
        self.phase = Phase::Live { tls };
        self.draining = self.retiring;
        self.dialer.got_through();
        self.live_since = now;
        self.next_ping_at = now.saturating_add(s.ping_interval);
        self.ping_sent_at = 0;
        self.probe_wanted = false;
        self.close_announced_at = 0;
        self.last_inbound = now;
        self.emit(cx.events, LinkEvent::Live);
    }

    /// Logged in: with the final word on, subscribes to the order channel and serves once the
    /// venue answered (or the grace is over); else serves at once. False if the connection
    /// ended.
    fn logged_in(&mut self, cx: &mut LinkCx<'_>) -> bool {
        let settings = cx.settings;
        let Some(sub) = &settings.subscribe else {
            self.go_live(cx);
            return true;
        };
        cx.scratch.frames.clear();
        ws::encode_client_frame(
            &mut cx.scratch.frames,
            OpCode::Text,
            &sub.text,
            self.masks.next_mask(),
        );
        if let Err(e) = self.try_write(&cx.scratch.frames) {
            self.lose(e, cx);
            return false;
        }
        self.messages.record(cx.now);
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        self.phase = match phase {
            Phase::LoggingIn { tls } => Phase::Subscribing {
                tls,
                acks_left: sub.acks,
                deadline: cx.now.saturating_add(sub.grace),
            },
            other => other,
        };
        true
    }

    /// The subscription ended (`end`): report it, then serve.
    fn end_subscription(&mut self, end: SubscriptionEnd, cx: &mut LinkCx<'_>) {
        self.emit(cx.events, LinkEvent::Subscribed(end));
        self.go_live(cx);
    }

    /// Encrypts `frames` and hands them to the socket (the rest waits for writability); true when
    /// all of it reached the kernel.
    pub(crate) fn try_write(&mut self, frames: &[u8]) -> Result<bool, SessionError> {
        self.write_frames(frames).map(|(all, _)| all)
    }

    fn drop_connection(&mut self, registry: &Registry) {
        if let Some(socket) = self.phase.socket() {
            // The socket is closed right after; a failed deregistration changes nothing.
            let _ = registry.deregister(socket);
        }
        self.decoder.reset();
        self.readable = false;
        self.socket_event = false;
        self.ping_sent_at = 0;
        self.probe_wanted = false;
        self.write_blocked_since = 0;
        self.close_announced_at = 0;
        self.more = false;
        self.login_due = false;
    }

    /// The connection ended from the venue's side (or broke).
    fn closed_by_peer(&mut self, error: SessionError, cx: &mut LinkCx<'_>) {
        self.lose(error, cx);
    }

    /// Acts on complete messages, up to `budget` of them (counted down); `Some(any)` while the
    /// connection stands, `None` once it ended. Stopped by the budget or a nearly full event
    /// buffer, it leaves the rest in the decoder and asks to be read again next turn.
    fn process_messages(&mut self, cx: &mut LinkCx<'_>, budget: &mut usize) -> Option<bool> {
        let mut any = false;
        loop {
            if *budget == 0 || cx.events.len() + EVENT_HEADROOM >= cx.events.capacity() {
                self.more = true;
                return Some(any);
            }
            let inbound = match self.decoder.next_message() {
                Ok(None) => return Some(any),
                // Read in the dialect this connection speaks: after the account switched, a
                // connection of the old one still answers what is due on it in its own.
                Ok(Some(message)) => received(message, self.speaks, &mut cx.scratch.replies),
                Err(e) => {
                    self.lose(SessionError::Protocol(e.to_string()), cx);
                    return None;
                }
            };
            *budget -= 1;
            any = true;
            if !self.on_received(inbound, cx) {
                return None;
            }
        }
    }

    fn on_received(&mut self, received: Received, cx: &mut LinkCx<'_>) -> bool {
        match received {
            Received::Venue(inbound) => return self.on_inbound(inbound, cx),
            Received::Nothing => {}
            Received::Ping { payload, len } => {
                cx.scratch.frames.clear();
                ws::encode_pong(
                    &mut cx.scratch.frames,
                    &payload[..len as usize],
                    self.masks.next_mask(),
                );
                if let Err(e) = self.try_write(&cx.scratch.frames) {
                    self.lose(e, cx);
                    return false;
                }
            }
            Received::Close { code, reason } => {
                if !matches!(self.phase, Phase::Closing { .. }) {
                    // Answer with the same code, then start over.
                    cx.scratch.frames.clear();
                    ws::encode_close(&mut cx.scratch.frames, code, self.masks.next_mask());
                    // The connection is going away anyway: a failed answer changes nothing.
                    let _ = self.try_write(&cx.scratch.frames);
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
                    cx,
                );
                return false;
            }
        }
        true
    }

    /// Acts on what the venue said; false once the connection ended.
    fn on_inbound(&mut self, inbound: Inbound, cx: &mut LinkCx<'_>) -> bool {
        let logging_in = matches!(self.phase, Phase::LoggingIn { .. });
        let subscribing = matches!(self.phase, Phase::Subscribing { .. });
        match inbound {
            Inbound::Reply { id, verdict } => {
                self.emit(cx.events, LinkEvent::Reply { id, verdict })
            }
            Inbound::LoggedIn { conn_id } => {
                if logging_in {
                    crate::relay::log_debug!(
                        "connection {} logged in to {} (venue connId {conn_id})",
                        self.index,
                        self.url()
                    );
                    return self.logged_in(cx);
                }
            }
            Inbound::Batch { id, count } => {
                for k in 0..count {
                    let entry = cx.scratch.replies.batch_entries()[k];
                    self.emit(cx.events, LinkEvent::BatchEntry { batch: id, entry });
                }
            }
            Inbound::Orders { count } => {
                for k in 0..count {
                    let update = cx.scratch.replies.updates()[k];
                    self.emit(cx.events, LinkEvent::Push(update));
                }
            }
            Inbound::Subscribed => {
                if let Phase::Subscribing { acks_left, .. } = &mut self.phase {
                    *acks_left = acks_left.saturating_sub(1);
                    if *acks_left == 0 {
                        self.end_subscription(SubscriptionEnd::Acked, cx);
                    }
                } else {
                    crate::relay::log_debug!(
                        "connection {}: the venue acknowledged a subscription late",
                        self.index
                    );
                }
            }
            Inbound::SubscribeRefused { code, msg } => {
                crate::relay::log_warn!(
                    "connection {}: the venue refused the order channel's subscription ({code} \
                     {msg}): it serves without those pushes; final words come from the other \
                     connections' pushes or from REST",
                    self.index
                );
                if subscribing {
                    self.end_subscription(SubscriptionEnd::Refused { code }, cx);
                }
            }
            // While subscribing, an error that names no request is the subscription's answer.
            Inbound::VenueError { code, msg, .. } if subscribing => {
                crate::relay::log_warn!(
                    "connection {}: the venue answered the order channel's subscription with \
                     {code} {msg}: it serves without those pushes; final words come from the \
                     other connections' pushes or from REST",
                    self.index
                );
                self.end_subscription(SubscriptionEnd::Refused { code }, cx);
            }
            Inbound::LoginRefused { code, msg } => {
                if logging_in {
                    self.login_refused(code, msg, cx);
                    return false;
                }
            }
            // While logging in, an error that names no request is the login's answer.
            Inbound::VenueError { code, msg, .. } if logging_in => {
                self.login_refused(code, msg, cx);
                return false;
            }
            Inbound::VenueError { code, msg, closing } => {
                if self.venue_error_warnings.admit(cx.now) {
                    crate::relay::log_warn!(
                        "connection {}: venue error {code} {msg}{}",
                        self.index,
                        if closing {
                            " (the venue will close the connection)"
                        } else {
                            ""
                        }
                    );
                }
                if closing && self.close_announced_at == 0 {
                    self.close_announced_at = cx.now.max(1);
                }
                let rate_limited = self.speaks.answer_class(code) == AnswerClass::RateLimited;
                self.emit(
                    cx.events,
                    LinkEvent::VenueError {
                        closing,
                        rate_limited,
                    },
                );
            }
            Inbound::Pong => self.emit(cx.events, LinkEvent::Pong),
            Inbound::Notice => {}
            Inbound::Unreadable {
                error,
                excerpt,
                len,
            } => {
                self.emit(cx.events, LinkEvent::Unreadable);
                if !self.unreadable_warnings.admit(cx.now) {
                    return true;
                }
                crate::relay::log_warn!(
                    "connection {}: skipped a message it cannot read ({}): {:?}{}",
                    self.index,
                    match error {
                        Some(e) => e.to_string(),
                        None => "binary".to_string(),
                    },
                    String::from_utf8_lossy(&excerpt[..len as usize]),
                    if len as usize == LOG_EXCERPT {
                        "..."
                    } else {
                        ""
                    }
                );
            }
        }
        true
    }

    /// The venue refused the login.
    fn login_refused(&mut self, code: i64, msg: VenueMsg, cx: &mut LinkCx<'_>) {
        let refusal = self.speaks.login_refusal(code);
        if refusal != LoginRefusal::Credentials {
            if refusal == LoginRefusal::Clock {
                crate::relay::log_warn!(
                    "connection {}: the venue refused the login's timestamp ({code} {msg}); \
                     measuring its clock again",
                    self.index
                );
                self.emit(cx.events, LinkEvent::ClockRefused);
            }
            self.lose(
                SessionError::LoginFailed {
                    code,
                    msg: msg.as_str().to_string(),
                },
                cx,
            );
            return;
        }
        self.drop_connection(cx.registry);
        let error = SessionError::LoginRejected {
            code,
            msg: msg.as_str().to_string(),
        };
        crate::relay::log_error!(
            "connection {}: {error}; {}",
            self.index,
            match cx.settings.login_retry_after {
                Some(d) => format!("trying again in {:?}", Duration::from_nanos(d)),
                None => "not trying again".to_string(),
            }
        );
        self.last_error = Some(error);
        self.emit(cx.events, LinkEvent::LoginRejected { code, msg });
        self.phase = if cx.stopping || self.retiring {
            Phase::Done
        } else {
            Phase::LoginRejected {
                retry_at: cx
                    .settings
                    .login_retry_after
                    .map(|d| cx.now.saturating_add(d)),
            }
        };
    }
}

impl LinkView for Link {
    #[inline]
    fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Live { .. })
    }

    /// Live and taking new cancels.
    #[inline]
    fn is_serving(&self) -> bool {
        self.is_live() && !self.draining
    }

    /// Not in use: never started, retired and closed, or shut down.
    #[inline]
    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Whether a cancel frame may go out now: live, not draining, within the message budget and
    /// with nothing left over from the last write (else what waits stays queued, and keeps its
    /// place for pacing, rather than pile up in the TLS buffer).
    #[inline]
    fn can_take(&self, now: u64) -> bool {
        match &self.phase {
            Phase::Live { tls } => {
                !self.draining && self.messages.is_ready(now) && !tls.wants_write()
            }
            _ => false,
        }
    }

    fn live_since(&self) -> u64 {
        self.live_since
    }
}

impl LinkSeam for Link {
    fn state(&self) -> SessionState {
        match &self.phase {
            Phase::Backoff { .. } => SessionState::Backoff,
            Phase::Dialing(_) => SessionState::Connecting,
            Phase::LoggingIn { .. } | Phase::Subscribing { .. } => SessionState::LoggingIn,
            Phase::Live { .. } => SessionState::Live,
            Phase::LoginRejected { .. } => SessionState::LoginRejected,
            Phase::Closing { .. } | Phase::Done => SessionState::Stopped,
        }
    }

    #[inline]
    fn generation(&self) -> u32 {
        self.generation
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn speaks(&self) -> Dialect {
        self.speaks
    }

    /// When the message budget allows the next frame.
    #[inline]
    fn ready_at(&self) -> u64 {
        self.messages.ready_at()
    }

    /// Whether ciphertext waits for the socket.
    fn wants_write(&self) -> bool {
        match &self.phase {
            Phase::LoggingIn { tls }
            | Phase::Subscribing { tls, .. }
            | Phase::Live { tls }
            | Phase::Closing { tls, .. } => tls.wants_write(),
            _ => false,
        }
    }

    /// Whether this link needs the poller's readiness: a connection attempt before login (it
    /// moves on socket events) or ciphertext waiting for room in the socket.
    #[inline]
    fn needs_poller(&self) -> bool {
        match &self.phase {
            Phase::LoggingIn { tls }
            | Phase::Subscribing { tls, .. }
            | Phase::Live { tls }
            | Phase::Closing { tls, .. } => tls.wants_write(),
            p => p.is_connecting(),
        }
    }

    /// The earliest time this link has something to do (`u64::MAX`: nothing).
    fn next_deadline(&self, s: &LinkSettings) -> u64 {
        match &self.phase {
            Phase::Live { .. } => {
                if self.more {
                    return 0;
                }
                let mut t = if self.probe_wanted {
                    self.messages.ready_at()
                } else {
                    self.next_ping_at.max(self.messages.ready_at())
                };
                if self.ping_sent_at != 0 {
                    t = t.min(self.pong_due);
                }
                if self.write_blocked_since != 0 {
                    t = t.min(self.write_blocked_since.saturating_add(s.write_timeout));
                }
                if self.close_announced_at != 0 {
                    t = t.min(
                        self.close_announced_at
                            .saturating_add(ANNOUNCED_CLOSE_GRACE_NS),
                    );
                }
                t
            }
            Phase::Backoff { retry_at } => *retry_at,
            Phase::LoginRejected {
                retry_at: Some(retry_at),
            } => *retry_at,
            Phase::Closing { deadline, .. } => *deadline,
            Phase::Dialing(dialing) => self
                .attempt_started
                .saturating_add(s.connect_timeout)
                .min(dialing.recheck_at()),
            Phase::LoggingIn { .. } => {
                let t = self.attempt_started.saturating_add(s.connect_timeout);
                if self.write_blocked_since != 0 {
                    t.min(self.write_blocked_since.saturating_add(s.write_timeout))
                } else {
                    t
                }
            }
            Phase::Subscribing { deadline, .. } => {
                if self.write_blocked_since != 0 {
                    (*deadline).min(self.write_blocked_since.saturating_add(s.write_timeout))
                } else {
                    *deadline
                }
            }
            _ => u64::MAX,
        }
    }

    /// Why the last connection attempt or session of this link failed, taken once.
    fn take_error(&mut self) -> Option<SessionError> {
        self.last_error.take()
    }

    fn on_socket_event(&mut self, readable: bool) {
        self.socket_event = true;
        self.readable |= readable;
        self.direct = false;
    }

    /// This turn reads the socket without the poller's word (it is logged in or closing, or
    /// has no socket: then nothing is read).
    #[inline]
    fn read_directly(&mut self) {
        self.readable = true;
        self.direct = true;
    }

    /// Reads what the socket has and reports every complete message, within a budget of
    /// messages and bytes per call; stops early at the budget or when the event buffer is
    /// nearly full (the rest waits in the decoder or the socket, and the link asks to be read
    /// again next turn). True if anything was read.
    fn read(&mut self, cx: &mut LinkCx<'_>) -> bool {
        if self.phase.websocket().is_none() {
            return false;
        }
        self.more = false;
        let mut budget = READ_MESSAGES;
        // Messages already buffered first (a previous read may have stopped early).
        let mut work = match self.process_messages(cx, &mut budget) {
            Some(w) => w,
            None => return true,
        };
        if !self.readable || self.more {
            return work;
        }
        let mut bytes = 0usize;
        loop {
            if bytes >= READ_BYTES {
                self.more = true;
                return work;
            }
            if cx.events.len() + EVENT_HEADROOM >= cx.events.capacity() {
                self.more = true;
                return work;
            }
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
                        cx,
                    );
                    return true;
                }
                Ok(n) => {
                    work = true;
                    bytes += n;
                    self.decoder.commit(n);
                    self.last_inbound = cx.now;
                    if self.process_messages(cx, &mut budget).is_none() || self.direct {
                        return true;
                    }
                    if self.more {
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
                    self.closed_by_peer(error, cx);
                    return true;
                }
                Err(None) => {
                    self.lose(
                        SessionError::Protocol("a message does not fit the read buffer".into()),
                        cx,
                    );
                    return true;
                }
            }
        }
    }

    /// Time-driven work: starts an attempt when its backoff is over, advances an attempt under
    /// way on socket events, times it out, sends the keepalive, declares a silent peer dead,
    /// ends a close that took too long. True if anything happened.
    fn advance(&mut self, cx: &mut LinkCx<'_>) -> bool {
        self.report_hidden_warnings(cx.now);
        if self.phase.websocket().is_some() && self.watchdogs(cx) {
            return true;
        }
        if self.login_due
            && cx.settings.clock_ready
            && matches!(self.phase, Phase::LoggingIn { .. })
        {
            if let Err(e) = self.send_login(cx) {
                self.lose(e, cx);
            }
            return true;
        }
        match self.phase {
            Phase::Backoff { retry_at } if cx.now >= retry_at && !cx.stopping => {
                self.attempt_started = cx.now;
                self.generation = self.generation.wrapping_add(1);
                self.phase = Phase::Backoff { retry_at: u64::MAX };
                self.emit(cx.events, LinkEvent::Connecting);
                self.pick_endpoint(cx.settings.dialect);
                let step = self.dialer.start(cx.registry, self.token, cx.now);
                self.socket_event = false;
                self.readable = false;
                self.apply_step(step, cx);
                true
            }
            Phase::LoginRejected {
                retry_at: Some(retry_at),
            } if cx.now >= retry_at && !cx.stopping => {
                self.phase = Phase::Backoff { retry_at: cx.now };
                true
            }
            Phase::Closing { deadline, .. } if cx.now >= deadline => {
                self.drop_connection(cx.registry);
                self.phase = Phase::Done;
                true
            }
            Phase::Subscribing { deadline, .. } if cx.now >= deadline => {
                crate::relay::log_warn!(
                    "connection {}: no answer to the order channel's subscription within {:?}: \
                     it serves anyway; its pushes may not come, and REST confirms what they miss",
                    self.index,
                    Duration::from_nanos(cx.settings.subscribe.as_ref().map_or(0, |s| s.grace))
                );
                self.end_subscription(SubscriptionEnd::Unanswered, cx);
                true
            }
            ref p if p.is_connecting() => {
                if cx.now
                    >= self
                        .attempt_started
                        .saturating_add(cx.settings.connect_timeout)
                {
                    let doing = self.phase.doing();
                    self.lose(SessionError::Timeout(doing), cx);
                    return true;
                }
                let due = match &self.phase {
                    Phase::Dialing(Dialing::Resolving { recheck_at }) => cx.now >= *recheck_at,
                    Phase::Dialing(_) => self.socket_event,
                    _ => false,
                };
                if !due {
                    return false;
                }
                self.socket_event = false;
                let Phase::Dialing(dialing) = std::mem::replace(&mut self.phase, Phase::Done)
                else {
                    return false;
                };
                let step = self.dialer.step(dialing, cx.registry, self.token, cx.now);
                self.apply_step(step, cx);
                true
            }
            Phase::Live { .. } => self.keepalive(cx),
            _ => false,
        }
    }

    #[inline]
    fn append_cancel(
        &mut self,
        frames: &mut Vec<u8>,
        json: &mut Vec<u8>,
        dialect: Dialect,
        id: &RequestId,
        cancel: &Cancel,
    ) {
        json.clear();
        dialect.encode_cancel(json, id, cancel);
        ws::encode_client_frame(frames, OpCode::Text, json, self.masks.next_mask());
    }

    #[inline]
    fn append_batch(
        &mut self,
        frames: &mut Vec<u8>,
        json: &mut Vec<u8>,
        id: &RequestId,
        key: crate::venue::v3::BatchKey,
        cancels: &[Cancel],
    ) {
        json.clear();
        if crate::venue::v3::encode_batch_cancel(json, id, key, cancels) {
            ws::encode_client_frame(frames, OpCode::Text, json, self.masks.next_mask());
        }
    }

    /// Counts one frame against the message budget; the caller checked [`Link::can_take`].
    #[inline]
    fn record_message(&mut self, now: u64) {
        self.messages.record(now);
    }

    /// [`Link::try_write`], also returning when the records were sealed and handed to
    /// `write(2)`: the end of the engine's own share of a cancel's journey.
    #[inline]
    fn write_frames(&mut self, frames: &[u8]) -> Result<(bool, u64), SessionError> {
        let Some(tls) = self.phase.websocket() else {
            return Err(SessionError::Io("no connection".to_string()));
        };
        tls.write_record(frames).map_err(tls_error)?;
        let handed = crate::clock::monotonic_ns();
        let all = tls
            .flush_tls()
            .map_err(|e| SessionError::Io(e.to_string()))?;
        if all {
            self.write_blocked_since = 0;
        } else if self.write_blocked_since == 0 {
            self.write_blocked_since = handed.max(1);
        }
        Ok((all, handed))
    }

    /// Flushes ciphertext left behind by a socket that would not take it all.
    fn flush(&mut self, cx: &mut LinkCx<'_>) {
        let Some(tls) = self.phase.websocket() else {
            return;
        };
        if !tls.wants_write() {
            return;
        }
        match tls.flush_tls() {
            Ok(true) => {
                self.write_blocked_since = 0;
                self.emit(cx.events, LinkEvent::Flushed)
            }
            Ok(false) => {}
            Err(e) => self.lose(SessionError::Io(e.to_string()), cx),
        }
    }

    /// Starts connecting (a spare slot taken into use).
    fn enable(&mut self, now: u64) {
        if self.is_done() {
            self.phase = Phase::Backoff { retry_at: now };
            self.draining = false;
            self.retiring = false;
            self.backoff.reset();
        }
    }

    /// Takes no new cancels from now on; with `retire`, closes once the engine calls
    /// [`Link::close`] and is not reconnected.
    fn drain(&mut self, retire: bool) {
        self.draining = true;
        self.retiring |= retire;
    }

    fn resume(&mut self) {
        if self.is_live() {
            self.draining = false;
            self.retiring = false;
        }
    }

    /// The connection or attempt ended with `error`: report it, back off (or end, if retired or
    /// shutting down).
    fn lose(&mut self, error: SessionError, cx: &mut LinkCx<'_>) {
        let was_live = matches!(self.phase, Phase::Live { .. } | Phase::Closing { .. });
        let closing = matches!(self.phase, Phase::Closing { .. });
        self.drop_connection(cx.registry);
        self.emit(
            cx.events,
            LinkEvent::Lost {
                generation: self.generation,
                was_live,
            },
        );
        if cx.stopping || self.retiring || closing {
            self.phase = Phase::Done;
            if !closing && !cx.stopping {
                crate::relay::log_info!(
                    "connection {} to {} ended while retiring: {error}",
                    self.index,
                    self.url()
                );
            }
            self.last_error = Some(error);
            return;
        }
        if was_live
            && cx.now.saturating_sub(self.live_since) >= ns(self.backoff.policy().reset_after)
        {
            self.backoff.reset();
        }
        let delay = self.backoff.failed();
        crate::relay::log_warn!(
            "connection {} to {} {}: {error}; reconnecting in {delay:?}",
            self.index,
            self.url(),
            if was_live { "lost" } else { "failed" },
        );
        self.draining = false;
        self.last_error = Some(error);
        self.phase = Phase::Backoff {
            retry_at: cx.now.saturating_add(ns(delay)),
        };
    }

    /// Sends our close frame and waits (briefly) for the venue's; a link that is not live is
    /// dropped at once. The link ends [`Link::is_done`].
    fn close(&mut self, now: u64, registry: &Registry, scratch: &mut Scratch) {
        self.retiring = true;
        self.draining = true;
        if !self.is_live() {
            self.drop_connection(registry);
            self.phase = Phase::Done;
            return;
        }
        scratch.frames.clear();
        ws::encode_close(&mut scratch.frames, Some(1000), self.masks.next_mask());
        let answered = self.try_write(&scratch.frames);
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        match (phase, answered) {
            (Phase::Live { tls }, Ok(_)) => {
                self.phase = Phase::Closing {
                    tls,
                    deadline: now.saturating_add(CLOSE_WAIT_NS),
                }
            }
            (phase, _) => {
                self.phase = phase;
                self.drop_connection(registry);
                self.phase = Phase::Done;
            }
        }
    }

    /// Drops the connection without a word (shutdown of a link that never got live).
    fn abort(&mut self, registry: &Registry) {
        self.drop_connection(registry);
        self.phase = Phase::Done;
    }

    fn probe(&mut self, now: u64) {
        if !self.is_live()
            || (self.last_probe_at != 0 && now < self.last_probe_at.saturating_add(PROBE_EVERY_NS))
        {
            return;
        }
        self.last_probe_at = now;
        if self.ping_sent_at != 0 {
            // A keepalive is out already: its answer is due sooner now.
            self.pong_due = self.pong_due.min(now.saturating_add(PROBE_PONG_NS));
        } else {
            self.probe_wanted = true;
        }
    }

    fn adopt_endpoint(&mut self, other: &Link) {
        if self.is_done() {
            self.url.clone_from(&other.url);
            self.dialer = other.dialer.fork();
        }
    }
}

/// One complete WebSocket message, copied out of the read buffer so the link can act on it:
/// what the venue said (read by the dialect), or a control frame the link answers itself.
#[derive(Debug, Clone, Copy)]
enum Received {
    Venue(Inbound),
    Ping {
        payload: [u8; 125],
        len: u8,
    },
    Close {
        code: Option<u16>,
        reason: VenueMsg,
    },
    /// An unsolicited pong frame: nothing to do.
    Nothing,
}

fn received(message: Message<'_>, dialect: Dialect, replies: &mut InboundDecoder) -> Received {
    match message {
        Message::Text(text) => Received::Venue(dialect.read(text, replies)),
        Message::Binary(data) => Received::Venue(Inbound::unreadable(None, data)),
        Message::Pong(_) => Received::Nothing,
        Message::Ping(data) => {
            let mut payload = [0u8; 125];
            let len = data.len().min(payload.len());
            payload[..len].copy_from_slice(&data[..len]);
            Received::Ping {
                payload,
                len: len as u8,
            }
        }
        Message::Close(close) => Received::Close {
            code: close.map(|(code, _)| code),
            reason: VenueMsg::new(close.map(|(_, reason)| reason).unwrap_or("")),
        },
    }
}
