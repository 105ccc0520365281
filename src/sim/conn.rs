//! One connection: TLS and WebSocket handshakes, then the read loop that answers, paces, times
//! out and misbehaves on request.
//!
//! tungstenite reads and unmasks the client's frames; every byte the venue sends after the
//! upgrade is encoded in [`super::frames`] and written straight to the TLS stream, so faults can
//! shape it. tungstenite's own writes (automatic pongs and close replies) are muted.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::{ServerConnection, StreamOwned};
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::frames::{self, close_code};
use super::login::{self, Credentials};
use super::record::{DisconnectCause, Opcode, ReceivedFrame};
use super::rules::{self, Request as VenueRequest, refusals};
use super::{Faults, PATH, Shared};
use crate::clock::monotonic_ns;

/// The longest a connection thread blocks in a read before it looks at its clocks and flags.
const TICK: Duration = Duration::from_millis(100);
/// How long a write may block on a client that does not read before the venue gives up on it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the venue keeps reading (and discarding) after it closed, so its last frames are not
/// lost to a TCP reset.
const LINGER: Duration = Duration::from_secs(1);
/// The payload of the ping frames the venue sends.
const PING_PAYLOAD: &[u8] = b"sim";

/// The TLS stream under tungstenite. While `muted`, writes from tungstenite are discarded: after
/// the upgrade the venue writes every frame itself through [`Wire::send`].
struct Wire {
    tls: StreamOwned<ServerConnection, TcpStream>,
    muted: bool,
}

impl Wire {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.write_all(bytes)?;
        self.tls.flush()
    }

    fn tcp(&self) -> &TcpStream {
        &self.tls.sock
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tls.read(buf)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.muted {
            Ok(buf.len())
        } else {
            self.tls.write(buf)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.muted { Ok(()) } else { self.tls.flush() }
    }
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A close frame, TLS close_notify, then a lingering TCP close.
    Graceful { cause: DisconnectCause, code: u16 },
    /// The TCP connection is shut down at once: no close frame, no TLS close.
    Abrupt(DisconnectCause),
}

/// Something the venue will do once its reply delay has passed.
#[derive(Debug)]
enum Action {
    Text(String),
    Close { cause: DisconnectCause, code: u16 },
}

#[derive(Debug)]
struct Pending {
    due: Instant,
    action: Action,
    /// The faults in force when the request that caused this arrived.
    faults: Faults,
}

/// Runs one accepted connection to its end, then unregisters it.
pub(super) fn serve(shared: &Shared, conn: u64, tcp: TcpStream, kill: &AtomicBool) {
    match handshake(shared, tcp, kill) {
        Ok(ws) => {
            let now = Instant::now();
            let mut live = Live {
                shared,
                conn,
                kill,
                ws,
                logged_in: false,
                opened: now,
                last_ping: now,
                recent: VecDeque::new(),
                queue: VecDeque::new(),
                closing: false,
                out: Vec::with_capacity(1024),
            };
            let end = live.run();
            live.finish(end);
        }
        Err(cause) => shared.count_disconnect(cause),
    }
    shared.connection_ended(conn);
}

// tungstenite's `Callback` fixes this signature, large error variant included.
#[allow(clippy::result_large_err)]
fn check_path(request: &Request, response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() == PATH {
        Ok(response)
    } else {
        let mut refusal = ErrorResponse::new(None);
        *refusal.status_mut() = StatusCode::NOT_FOUND;
        Err(refusal)
    }
}

/// TLS and WebSocket handshakes, bounded by the configured handshake timeout.
fn handshake(
    shared: &Shared,
    tcp: TcpStream,
    kill: &AtomicBool,
) -> Result<WebSocket<Wire>, DisconnectCause> {
    let failed = DisconnectCause::HandshakeFailed;
    let deadline = Instant::now() + shared.config.handshake_timeout;
    tcp.set_read_timeout(Some(TICK)).map_err(|_| failed)?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))
        .map_err(|_| failed)?;
    let tls = ServerConnection::new(shared.tls.clone()).map_err(|_| failed)?;
    let wire = Wire {
        tls: StreamOwned::new(tls, tcp),
        muted: false,
    };
    let limit = Some(shared.config.max_message_size);
    let ws_config = WebSocketConfig::default()
        .max_message_size(limit)
        .max_frame_size(limit);
    let mut attempt = tungstenite::accept_hdr_with_config(wire, check_path, Some(ws_config));
    loop {
        match attempt {
            Ok(mut ws) => {
                ws.get_mut().muted = true;
                return Ok(ws);
            }
            Err(HandshakeError::Interrupted(mid)) => {
                if let Some(cause) = shared.interruption(kill) {
                    return Err(cause);
                }
                if Instant::now() >= deadline {
                    log::debug!("sim: handshake timed out");
                    return Err(failed);
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(error)) => {
                log::debug!("sim: handshake failed: {error}");
                return Err(shared.interruption(kill).unwrap_or(failed));
            }
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

fn unix_ms() -> u64 {
    u64::try_from(unix_now().as_millis()).unwrap_or(u64::MAX)
}

/// An upgraded connection and its state between messages.
struct Live<'a> {
    shared: &'a Shared,
    conn: u64,
    kill: &'a AtomicBool,
    ws: WebSocket<Wire>,
    logged_in: bool,
    opened: Instant,
    last_ping: Instant,
    /// Arrival times of the last messages, for the one-second sliding window.
    recent: VecDeque<Instant>,
    queue: VecDeque<Pending>,
    /// A close is queued: further requests are recorded but not answered.
    closing: bool,
    out: Vec<u8>,
}

impl Live<'_> {
    fn run(&mut self) -> End {
        loop {
            if let Some(cause) = self.shared.interruption(self.kill) {
                return self.interrupted(cause);
            }
            let now = Instant::now();
            if let Some(end) = self.send_due(now) {
                return end;
            }
            if let Some(end) = self.check_deadlines(now) {
                return end;
            }
            let wait = self.next_wake(now);
            if self
                .ws
                .get_ref()
                .tcp()
                .set_read_timeout(Some(wait))
                .is_err()
            {
                return End::Abrupt(DisconnectCause::ClientClosed);
            }
            match self.ws.read() {
                Ok(message) => {
                    if let Some(end) = self.on_message(message) {
                        return end;
                    }
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => return self.read_failed(error),
            }
        }
    }

    fn interrupted(&self, cause: DisconnectCause) -> End {
        match cause {
            DisconnectCause::Shutdown => End::Graceful {
                cause,
                code: close_code::GOING_AWAY,
            },
            _ => End::Abrupt(cause),
        }
    }

    fn read_failed(&self, error: tungstenite::Error) -> End {
        use tungstenite::error::ProtocolError;
        if let Some(cause) = self.shared.interruption(self.kill) {
            return self.interrupted(cause);
        }
        log::debug!("sim: connection {} read failed: {error}", self.conn);
        let protocol = |code| End::Graceful {
            cause: DisconnectCause::ProtocolError,
            code,
        };
        match error {
            tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                End::Abrupt(DisconnectCause::ClientClosed)
            }
            tungstenite::Error::Capacity(_) => protocol(close_code::TOO_BIG),
            tungstenite::Error::Protocol(_)
            | tungstenite::Error::Utf8(_)
            | tungstenite::Error::AttackAttempt => protocol(close_code::PROTOCOL_ERROR),
            tungstenite::Error::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
                // A TLS error: nothing more can be said on this stream.
                End::Abrupt(DisconnectCause::ProtocolError)
            }
            _ => End::Abrupt(DisconnectCause::ClientClosed),
        }
    }

    /// How long the next read may block: until the next reply is due, a deadline passes, or a
    /// tick.
    fn next_wake(&self, now: Instant) -> Duration {
        let mut wake = now + TICK;
        if let Some(pending) = self.queue.front() {
            wake = wake.min(pending.due);
        }
        if let Some(end) = self
            .shared
            .config
            .lifetime
            .and_then(|l| self.opened.checked_add(l))
        {
            wake = wake.min(end);
        }
        let idle_end = self
            .shared
            .config
            .idle_timeout
            .and_then(|t| self.last_ping.checked_add(t));
        if let (false, Some(end)) = (self.closing, idle_end) {
            wake = wake.min(end);
        }
        wake.saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    fn check_deadlines(&self, now: Instant) -> Option<End> {
        let config = &self.shared.config;
        if config
            .lifetime
            .is_some_and(|l| now.saturating_duration_since(self.opened) >= l)
        {
            return Some(End::Graceful {
                cause: DisconnectCause::Lifetime,
                code: close_code::NORMAL,
            });
        }
        if !self.closing
            && config
                .idle_timeout
                .is_some_and(|t| now.saturating_duration_since(self.last_ping) >= t)
        {
            return Some(End::Graceful {
                cause: DisconnectCause::IdleTimeout,
                code: close_code::NORMAL,
            });
        }
        None
    }

    /// Sends every queued reply whose time has come; a queued close ends the connection.
    fn send_due(&mut self, now: Instant) -> Option<End> {
        while self.queue.front().is_some_and(|p| p.due <= now) {
            let pending = self.queue.pop_front()?;
            match pending.action {
                Action::Close { cause, code } => return Some(End::Graceful { cause, code }),
                Action::Text(text) => {
                    self.out.clear();
                    if pending.faults.ping_before_reply {
                        frames::encode_control(&mut self.out, frames::OP_PING, PING_PAYLOAD);
                    }
                    frames::encode_text(&mut self.out, &text, pending.faults.fragments);
                    if let Err(e) = self.ws.get_mut().send(&self.out) {
                        return Some(self.write_failed(e));
                    }
                }
            }
        }
        None
    }

    fn write_failed(&self, error: io::Error) -> End {
        if let Some(cause) = self.shared.interruption(self.kill) {
            return self.interrupted(cause);
        }
        log::debug!("sim: connection {} write failed: {error}", self.conn);
        End::Abrupt(DisconnectCause::ClientClosed)
    }

    fn queue(&mut self, action: Action, faults: &Faults, now: Instant) {
        let mut due = now + faults.reply_delay;
        if let Some(last) = self.queue.back() {
            due = due.max(last.due);
        }
        if matches!(action, Action::Close { .. }) {
            self.closing = true;
        }
        self.queue.push_back(Pending {
            due,
            action,
            faults: faults.clone(),
        });
    }

    fn on_message(&mut self, message: Message) -> Option<End> {
        let at_ns = monotonic_ns();
        let now = Instant::now();
        let (opcode, text) = match &message {
            Message::Text(t) => (Opcode::Text, t.as_str().to_owned()),
            Message::Binary(b) => (Opcode::Binary, String::from_utf8_lossy(b).into_owned()),
            Message::Ping(p) => (Opcode::Ping, String::from_utf8_lossy(p).into_owned()),
            Message::Pong(p) => (Opcode::Pong, String::from_utf8_lossy(p).into_owned()),
            Message::Close(frame) => (
                Opcode::Close,
                frame
                    .as_ref()
                    .map(|f| f.reason.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            Message::Frame(_) => return None,
        };
        self.shared.record(ReceivedFrame {
            conn: self.conn,
            at_ns,
            opcode,
            text,
        });
        match message {
            Message::Text(text) => self.on_data(Some(text.as_str()), now),
            Message::Binary(_) => self.on_data(None, now),
            Message::Ping(payload) => {
                self.out.clear();
                frames::encode_control(&mut self.out, frames::OP_PONG, &payload);
                match self.ws.get_mut().send(&self.out) {
                    Ok(()) => None,
                    Err(e) => Some(self.write_failed(e)),
                }
            }
            Message::Pong(_) | Message::Frame(_) => None,
            Message::Close(frame) => Some(End::Graceful {
                cause: DisconnectCause::ClientClosed,
                code: frame.map_or(close_code::NORMAL, |f| u16::from(f.code)),
            }),
        }
    }

    /// Whether one more message fits in the sliding one-second window.
    fn within_rate(&mut self, now: Instant) -> bool {
        let limit = self.shared.config.max_messages_per_second as usize;
        if limit == 0 {
            return true;
        }
        while self
            .recent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= limit {
            return false;
        }
        self.recent.push_back(now);
        true
    }

    /// A text (`Some`) or binary (`None`) message: counted against the rate limit, then answered.
    fn on_data(&mut self, text: Option<&str>, now: Instant) -> Option<End> {
        if self.closing {
            return None;
        }
        let faults = self.shared.faults();
        if !self.within_rate(now) {
            self.queue(
                Action::Text(rules::error_reply(refusals::OVER_LIMIT)),
                &faults,
                now,
            );
            self.queue(
                Action::Close {
                    cause: DisconnectCause::RateLimited,
                    code: close_code::NORMAL,
                },
                &faults,
                now,
            );
            return None;
        }
        match text {
            Some("ping") => {
                self.last_ping = now;
                self.shared.count(|s| s.pings += 1);
                self.queue(Action::Text("pong".to_owned()), &faults, now);
                None
            }
            Some(json) => self.on_json(json, &faults, now),
            None => {
                self.shared.count(|s| s.requests_refused += 1);
                self.queue(
                    Action::Text(rules::error_reply(refusals::ILLEGAL_REQUEST)),
                    &faults,
                    now,
                );
                None
            }
        }
    }

    fn on_json(&mut self, text: &str, faults: &Faults, now: Instant) -> Option<End> {
        match rules::classify(text) {
            Err(refusal) => {
                self.shared.count(|s| s.requests_refused += 1);
                self.queue(Action::Text(rules::error_reply(refusal)), faults, now);
            }
            Ok(VenueRequest::Login { arg }) => {
                let config = &self.shared.config;
                let creds = Credentials {
                    api_key: &config.api_key,
                    secret: &config.secret,
                    passphrase: &config.passphrase,
                    window_s: config.login_window.as_secs(),
                };
                match login::check(&creds, &arg, unix_now().as_secs()) {
                    Ok(()) => {
                        self.logged_in = true;
                        self.shared.count(|s| s.logins_ok += 1);
                        self.queue(Action::Text(rules::LOGIN_OK.to_owned()), faults, now);
                        if faults.close_after_login {
                            let close = Action::Close {
                                cause: DisconnectCause::Fault,
                                code: close_code::NORMAL,
                            };
                            self.queue(close, faults, now);
                        }
                    }
                    Err(refusal) => {
                        self.logged_in = false;
                        self.shared.count(|s| s.logins_failed += 1);
                        self.queue(Action::Text(rules::error_reply(refusal)), faults, now);
                        let close = Action::Close {
                            cause: DisconnectCause::LoginFailed,
                            code: close_code::NORMAL,
                        };
                        self.queue(close, faults, now);
                    }
                }
            }
            Ok(VenueRequest::Trade { args }) => {
                let request = match rules::check_cancel(&args, self.logged_in) {
                    Ok(request) => request,
                    Err(rejection) => {
                        self.shared.count(|s| s.requests_refused += 1);
                        self.queue(Action::Text(rejection.reply(unix_ms())), faults, now);
                        return None;
                    }
                };
                if self.shared.cancel_arrived_drops() {
                    return Some(End::Abrupt(DisconnectCause::Fault));
                }
                let (reply, found) = self.shared.cancel(&request, unix_ms());
                if faults.ignore_cancels {
                    self.shared.count(|s| s.cancels_unanswered += 1);
                } else {
                    self.queue(Action::Text(reply), faults, now);
                }
                self.shared.count(|s| {
                    if found {
                        s.cancels_acked += 1;
                    } else {
                        s.cancels_rejected += 1;
                    }
                });
            }
        }
        None
    }

    /// Counts the disconnect, then closes as `end` says.
    fn finish(mut self, end: End) {
        match end {
            End::Abrupt(cause) => {
                self.shared.count_disconnect(cause);
                let _ = self.ws.get_ref().tcp().shutdown(Shutdown::Both);
            }
            End::Graceful { cause, code } => {
                self.shared.count_disconnect(cause);
                self.out.clear();
                frames::encode_close(&mut self.out, code, "");
                let wire = self.ws.get_mut();
                if wire.send(&self.out).is_ok() {
                    wire.tls.conn.send_close_notify();
                    let _ = wire.tls.flush();
                }
                let _ = wire.tcp().shutdown(Shutdown::Write);
                self.linger();
            }
        }
    }

    /// Reads and discards until the client closes too, for at most [`LINGER`].
    fn linger(&self) {
        let tcp = self.ws.get_ref().tcp();
        let deadline = Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        while Instant::now() < deadline {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), TICK);
            if tcp.set_read_timeout(Some(wait)).is_err() {
                return;
            }
            match (&mut &*tcp).read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.shared.interruption(self.kill) == Some(DisconnectCause::Fault) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }
}
