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
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::{ServerConnection, StreamOwned};
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::accounts::{AccountMode, WsRateLimitReply, cancel_endpoint};
use super::activity::{BatchRecord, SubscriptionRecord, push_bounded};
use super::connections::ConnStatus;
use super::feed::Feed;
use super::frames::{self, close_code, hostile};
use super::inbox::Inbox;
use super::login::{self, Credentials};
use super::record::{DisconnectCause, Opcode, ReceivedFrame};
use super::rules::{self, Request as VenueRequest, refusals};
use super::v3;
use super::{
    CancelFate, Endpoint, Faults, Injection, LoginFault, OnCancel, PATH, Shared, SubscribeFault,
    V3_PATH,
};
use crate::clock::monotonic_ns;

/// The longest a connection thread blocks in a read before it looks at its clocks, flags and
/// injections.
const TICK: Duration = Duration::from_millis(20);
/// How long a write may block on a client that does not read before the venue gives up on it.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the venue waits for the client's close frame, then keeps reading (and discarding)
/// after it closed, so its last frames are not lost to a TCP reset.
const LINGER: Duration = Duration::from_secs(1);
/// The payload of the ping frames the venue sends.
const PING_PAYLOAD: &[u8] = b"sim";
/// A stall "for ever" ends after this long at most.
const LONGEST_STALL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The TLS stream under tungstenite. While `muted`, writes from tungstenite are discarded: after
/// the upgrade the venue writes every frame itself through [`Wire::send`].
struct Wire {
    tls: StreamOwned<ServerConnection, TcpStream>,
    muted: bool,
}

impl Wire {
    /// One rustls write (one TLS record up to 16 KiB) and one flush.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.write_all(bytes)?;
        self.tls.flush()
    }

    /// Each byte its own rustls write (its own TLS record) and its own flush.
    fn send_bytewise(&mut self, bytes: &[u8]) -> io::Result<()> {
        for byte in bytes {
            self.send(std::slice::from_ref(byte))?;
        }
        Ok(())
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
    /// `SO_LINGER` 0 and close: the kernel resets the connection.
    Reset,
    /// TLS close_notify with no close frame, then a lingering TCP close.
    TlsCloseNotify,
    /// A fatal TLS alert, then a lingering TCP close.
    TlsFatalAlert,
}

/// Something the venue will do once its reply delay has passed.
#[derive(Debug)]
enum Action {
    Text(String),
    Close { cause: DisconnectCause, code: u16 },
    Inject(Injection),
}

#[derive(Debug)]
struct Pending {
    due: Instant,
    action: Action,
    /// The faults in force when the request that caused this arrived.
    faults: Faults,
    /// It answers a trade request: a freeze withholds it.
    trade_reply: bool,
}

/// Replies held by [`Faults::coalesce`](super::Faults::coalesce), already encoded.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    replies: usize,
    /// When the batch goes out even if it is not full.
    due: Option<Instant>,
    /// Whether it goes out one byte per record.
    bytewise: bool,
}

/// A stall of the read side.
#[derive(Debug, Clone, Copy)]
struct Stall {
    since: Instant,
    until: Instant,
}

/// Runs one accepted connection to its end, then unregisters it.
pub(super) fn serve(
    shared: &Shared,
    conn: u64,
    tcp: TcpStream,
    kill: &AtomicBool,
    inbox: &Inbox,
    status: &ConnStatus,
    feed: &Feed,
) {
    let reset = match handshake(shared, tcp, kill, inbox, status) {
        Ok(ws) => {
            let now = Instant::now();
            let mut live = Live {
                shared,
                conn,
                kill,
                inbox,
                status,
                feed,
                v3: status.is_v3(),
                ws,
                opened: now,
                last_ping: now,
                recent: VecDeque::new(),
                queue: VecDeque::new(),
                closing: false,
                out: Vec::with_capacity(1024),
                batch: Batch::default(),
                stall: None,
                silent: false,
                frozen: false,
            };
            let end = live.run();
            live.finish(end)
        }
        Err(cause) => {
            shared.count_disconnect(cause);
            false
        }
    };
    inbox.close();
    shared.connection_ended(conn, reset);
}

/// Appends a reply as `faults` shape it: a ping first, fragments, pings between them.
fn encode_reply(out: &mut Vec<u8>, text: &str, faults: &Faults) {
    if faults.ping_before_reply {
        frames::encode_control(out, frames::OP_PING, PING_PAYLOAD);
    }
    let between = faults.ping_between_fragments.then_some(PING_PAYLOAD);
    frames::encode_text(out, text, faults.fragments, between);
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

// tungstenite's `Callback` fixes this signature, large error variant included.
#[allow(clippy::result_large_err)]
fn check_path(request: &Request, response: Response) -> Result<Response, ErrorResponse> {
    if [PATH, V3_PATH].contains(&request.uri().path()) {
        Ok(response)
    } else {
        let mut refusal = ErrorResponse::new(None);
        *refusal.status_mut() = StatusCode::NOT_FOUND;
        Err(refusal)
    }
}

/// TLS and WebSocket handshakes, bounded by the configured handshake timeout. The inbox opens
/// once the upgrade is accepted, before the 101 response is written: a client that has read it
/// can count on [`SimVenue::inject`](super::SimVenue::inject) reaching its connection.
fn handshake(
    shared: &Shared,
    tcp: TcpStream,
    kill: &AtomicBool,
    inbox: &Inbox,
    status: &ConnStatus,
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
    // tungstenite's `Callback` fixes this signature, large error variant included.
    #[allow(clippy::result_large_err)]
    let accept = |request: &Request, mut response: Response| {
        let date = crate::clock::format_http_date(shared.venue_unix_ms() / 1000);
        if let Ok(value) = tungstenite::http::HeaderValue::from_str(&date) {
            response.headers_mut().insert("Date", value);
        }
        let accepted = check_path(request, response);
        if accepted.is_ok() {
            if request.uri().path() == V3_PATH {
                status.set_v3();
            }
            inbox.open();
        }
        accepted
    };
    let mut attempt = tungstenite::accept_hdr_with_config(wire, accept, Some(ws_config));
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
    /// Whether it is logged in, and its `connId`, shared with the venue.
    status: &'a ConnStatus,
    /// Its order subscriptions and the pushes waiting for it.
    feed: &'a Feed,
    /// It speaks V3 (it came in on [`V3_PATH`]).
    v3: bool,
    ws: WebSocket<Wire>,
    opened: Instant,
    last_ping: Instant,
    /// Arrival times of the last messages, for the one-second sliding window.
    recent: VecDeque<Instant>,
    queue: VecDeque<Pending>,
    /// A close is queued: further requests are recorded but not answered.
    closing: bool,
    out: Vec<u8>,
    inbox: &'a Inbox,
    batch: Batch,
    /// The read side is stalled ([`Injection::StallReads`]).
    stall: Option<Stall>,
    /// Nothing more is sent ([`Injection::Silence`]).
    silent: bool,
    /// Trade requests are not answered ([`Injection::Freeze`]).
    frozen: bool,
}

impl Live<'_> {
    fn run(&mut self) -> End {
        loop {
            if let Some(cause) = self.shared.interruption(self.kill) {
                return self.interrupted(cause);
            }
            let now = Instant::now();
            if let Some(end) = self.take_injections(now) {
                return end;
            }
            if self.stall.is_some_and(|s| s.until <= now) {
                self.resume(now);
            }
            if let Some(end) = self.send_due(now) {
                return end;
            }
            if let Some(end) = self.send_pushes() {
                return end;
            }
            if let Some(end) = self.check_deadlines(now) {
                return end;
            }
            let wait = self.next_wake(now);
            if self.stall.is_some() {
                thread::sleep(wait);
                continue;
            }
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
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(error) => return self.read_failed(error),
            }
        }
    }

    /// Commits every injection posted to this connection, in order.
    fn take_injections(&mut self, now: Instant) -> Option<End> {
        while let Some((ticket, injection)) = self.inbox.take() {
            let end = self.commit(injection, now);
            self.inbox.committed(ticket);
            if end.is_some() {
                return end;
            }
        }
        None
    }

    /// Does what `injection` says; `Some` when that ends the connection.
    fn commit(&mut self, injection: Injection, now: Instant) -> Option<End> {
        match injection {
            Injection::Text(text) => self.write_frame(frames::OP_TEXT, text.as_bytes()),
            Injection::Binary(bytes) => self.write_frame(frames::OP_BINARY, &bytes),
            Injection::OverLimit => {
                let text = rules::error_reply(refusals::OVER_LIMIT);
                self.write_frame(frames::OP_TEXT, text.as_bytes())
                    .or(Some(End::Graceful {
                        cause: DisconnectCause::RateLimited,
                        code: close_code::NORMAL,
                    }))
            }
            Injection::Close { code } => Some(End::Graceful {
                cause: DisconnectCause::Fault,
                code,
            }),
            Injection::Drop => Some(End::Abrupt(DisconnectCause::Fault)),
            Injection::ResetMidFrame => {
                let frame = self.take_next_reply();
                let half = (frame.len() / 2).max(1);
                self.write_raw(&frame[..half]).or(Some(End::Reset))
            }
            Injection::TlsCloseNotify => Some(End::TlsCloseNotify),
            Injection::TlsFatalAlert => Some(End::TlsFatalAlert),
            Injection::StallReads(length) => {
                let until = now.checked_add(length.min(LONGEST_STALL)).unwrap_or(now);
                let since = self.stall.map_or(now, |s| s.since);
                self.stall = Some(Stall { since, until });
                None
            }
            Injection::ResumeReads => {
                self.resume(now);
                None
            }
            Injection::Silence => {
                self.silent = true;
                None
            }
            Injection::Freeze => {
                self.frozen = true;
                None
            }
            Injection::Thaw => {
                self.frozen = false;
                None
            }
            Injection::HugeFrameHeader => self.write_raw(&hostile::HUGE_FRAME_HEADER),
            Injection::MaskedFrame => self.write_raw(&hostile::MASKED_FRAME),
            Injection::ReservedBits => self.write_raw(&hostile::RESERVED_BITS),
            Injection::InvalidUtf8 => self.write_raw(&hostile::INVALID_UTF8),
            Injection::BadOpcode => self.write_raw(&hostile::BAD_OPCODE),
            Injection::Raw(bytes) => self.write_raw(&bytes),
            Injection::TextRepeated { text, times } => {
                let mut frame = Vec::new();
                frames::encode_frame(&mut frame, true, frames::OP_TEXT, text.as_bytes());
                let per_write = (16 * 1024 / frame.len().max(1)).max(1);
                let mut left = times as usize;
                let mut chunk = Vec::with_capacity(frame.len() * per_write.min(left));
                while left > 0 {
                    if let Some(cause) = self.shared.interruption(self.kill) {
                        return Some(self.interrupted(cause));
                    }
                    let n = per_write.min(left);
                    chunk.clear();
                    for _ in 0..n {
                        chunk.extend_from_slice(&frame);
                    }
                    if let Some(end) = self.write_raw(&chunk) {
                        return Some(end);
                    }
                    left -= n;
                }
                None
            }
        }
    }

    /// Ends a stall; the idle timer skips the time the venue was not reading.
    fn resume(&mut self, now: Instant) {
        if let Some(stall) = self.stall.take() {
            self.last_ping += now.saturating_duration_since(stall.since);
        }
    }

    /// The next reply waiting to be sent, as one unfragmented frame, taken out of the batch or
    /// the queue (and counted lost: it will never arrive whole); a `pong` frame if none waits.
    fn take_next_reply(&mut self) -> Vec<u8> {
        let mut frame = Vec::new();
        if self.batch.replies > 0 {
            self.lost(self.batch.replies);
            return std::mem::take(&mut self.batch).bytes;
        }
        let next = self
            .queue
            .iter()
            .position(|p| matches!(p.action, Action::Text(_)))
            .and_then(|at| self.queue.remove(at));
        let text = match next {
            Some(Pending {
                action: Action::Text(text),
                ..
            }) => {
                self.lost(1);
                text
            }
            _ => "pong".to_owned(),
        };
        frames::encode_text(&mut frame, &text, 1, None);
        frame
    }

    fn lost(&self, replies: usize) {
        self.shared
            .count(|s| s.replies_lost += u64::try_from(replies).unwrap_or(u64::MAX));
    }

    /// Writes one unfragmented frame at once; `Some` if the write failed.
    fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> Option<End> {
        let mut frame = std::mem::take(&mut self.out);
        frame.clear();
        frames::encode_frame(&mut frame, true, opcode, payload);
        let end = self.write_raw(&frame);
        self.out = frame;
        end
    }

    /// Writes these bytes at once, in one rustls write; `Some` if the write failed.
    fn write_raw(&mut self, bytes: &[u8]) -> Option<End> {
        match self.ws.get_mut().send(bytes) {
            Ok(()) => None,
            Err(e) => Some(self.write_failed(e)),
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
        if let Some(due) = self.batch.due {
            wake = wake.min(due);
        }
        if let Some(due) = self.feed.next_due() {
            wake = wake.min(due);
        }
        if let Some(stall) = self.stall {
            wake = wake.min(stall.until);
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
        if let (false, None, Some(end)) = (self.closing, self.stall, idle_end) {
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
            && self.stall.is_none()
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
            let end = match pending.action {
                Action::Close { cause, code } => {
                    Some(self.flush_batch().unwrap_or(End::Graceful { cause, code }))
                }
                Action::Inject(injection) => self.commit(injection, now),
                Action::Text(_) if pending.trade_reply && self.frozen => {
                    self.lost(1);
                    None
                }
                Action::Text(text) => self.send_reply(&text, &pending.faults, pending.due),
            };
            if end.is_some() {
                return end;
            }
        }
        if self.batch.due.is_some_and(|due| due <= now) {
            return self.flush_batch();
        }
        None
    }

    /// Writes the order pushes due by now (read afresh, so a push posted a moment ago goes
    /// before anything the connection reads next), shaped like replies by the faults in force
    /// (none while [`Injection::Silence`] holds: those are lost).
    fn send_pushes(&mut self) -> Option<End> {
        let now = Instant::now();
        let due = self.feed.take_due(now);
        if due.is_empty() {
            return None;
        }
        let faults = self.shared.faults();
        for text in due {
            if self.silent {
                self.shared.note(|a| a.pushes_lost += 1);
                continue;
            }
            // Counted first, so a client that has read the push sees it counted.
            self.shared.note(|a| a.pushes_sent += 1);
            if let Some(end) = self.send_reply(&text, &faults, now) {
                return Some(end);
            }
        }
        None
    }

    /// Sends one reply, or adds it to the batch when `faults` coalesce replies.
    fn send_reply(&mut self, text: &str, faults: &Faults, due: Instant) -> Option<End> {
        if self.silent {
            self.lost(1);
            return None;
        }
        let coalesce = faults.coalesce.filter(|c| c.replies > 1);
        if coalesce.is_none()
            && let Some(end) = self.flush_batch()
        {
            return Some(end);
        }
        let mut frame = std::mem::take(&mut self.out);
        frame.clear();
        encode_reply(&mut frame, text, faults);
        let end = match coalesce {
            Some(c) => {
                self.batch.bytes.extend_from_slice(&frame);
                self.batch.replies += 1;
                self.batch.bytewise = faults.byte_per_record;
                self.batch
                    .due
                    .get_or_insert(due.checked_add(c.wait).unwrap_or(due));
                if self.batch.replies >= c.replies {
                    self.flush_batch()
                } else {
                    None
                }
            }
            None => self.write_reply(&frame, faults.byte_per_record),
        };
        self.out = frame;
        end
    }

    /// Writes the held replies in one go.
    fn flush_batch(&mut self) -> Option<End> {
        if self.batch.replies == 0 {
            return None;
        }
        let batch = std::mem::take(&mut self.batch);
        self.write_reply(&batch.bytes, batch.bytewise)
    }

    fn write_reply(&mut self, bytes: &[u8], bytewise: bool) -> Option<End> {
        let wire = self.ws.get_mut();
        let written = if bytewise {
            wire.send_bytewise(bytes)
        } else {
            wire.send(bytes)
        };
        written.err().map(|e| self.write_failed(e))
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
            trade_reply: false,
        });
    }

    /// Queues the reply to a trade request, or withholds it (counted lost) when `frozen`.
    fn queue_trade_reply(&mut self, text: String, frozen: bool, faults: &Faults, now: Instant) {
        if frozen {
            self.lost(1);
            return;
        }
        self.queue(Action::Text(text), faults, now);
        if let Some(pending) = self.queue.back_mut() {
            pending.trade_reply = true;
        }
    }

    fn on_message(&mut self, message: Message) -> Option<End> {
        let now = Instant::now();
        if matches!(message, Message::Frame(_)) {
            return None;
        }
        self.record(&message);
        match message {
            Message::Text(text) => self.on_data(Some(text.as_str()), now),
            Message::Binary(_) => self.on_data(None, now),
            Message::Ping(payload) => {
                if self.silent {
                    return None;
                }
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

    /// Adds a received message to the venue's record.
    fn record(&self, message: &Message) {
        let at_ns = monotonic_ns();
        let (opcode, text) = match message {
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
            Message::Frame(_) => return,
        };
        self.shared.record(ReceivedFrame {
            conn: self.conn,
            at_ns,
            opcode,
            text,
        });
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
        if self.v3 {
            return self.on_v3_json(text, faults, now);
        }
        match rules::classify(text) {
            Err(refusal) => {
                self.shared.count(|s| s.requests_refused += 1);
                self.queue(Action::Text(rules::error_reply(refusal)), faults, now);
            }
            Ok(VenueRequest::Login { arg }) => self.on_login(&arg, faults, now),
            Ok(VenueRequest::Trade { args }) => return self.on_trade(&args, faults, now),
            Ok(VenueRequest::Subscribe { args, subscribe }) => {
                self.on_subscribe(&args, subscribe, faults, now);
            }
        }
        None
    }

    /// A login, as [`Faults::login`] says (the same frame on V2 and V3).
    fn on_login(&mut self, arg: &serde_json::Value, faults: &Faults, now: Instant) {
        match &faults.login {
            LoginFault::Ignore => self.shared.count(|s| s.logins_ignored += 1),
            LoginFault::Reject { code, msg } => {
                self.refuse_login(rules::error_text(*code, msg), faults, now);
            }
            LoginFault::Answer => self.check_login(arg, faults, now),
        }
    }

    fn on_v3_json(&mut self, text: &str, faults: &Faults, now: Instant) -> Option<End> {
        match v3::classify(text) {
            Err(reply) => {
                self.shared.count(|s| s.requests_refused += 1);
                self.queue(Action::Text(reply), faults, now);
            }
            Ok(v3::Request::Login { arg }) => self.on_login(&arg, faults, now),
            Ok(v3::Request::Subscribe { args, subscribe }) => {
                self.on_subscribe(&args, subscribe, faults, now);
            }
            Ok(v3::Request::Trade { request }) => return self.on_v3_trade(&request, faults, now),
        }
        None
    }

    /// Records a subscription request's answer.
    fn note_subscription(&self, arg: &serde_json::Value, refused: Option<u32>) {
        let conn = self.conn;
        let arg = arg.to_string();
        self.shared.note(|a| {
            a.subscriptions
                .push(SubscriptionRecord { conn, arg, refused });
        });
    }

    /// A subscribe or unsubscribe request (V2 `orders` channel or V3 `order` topic): each `arg`
    /// answered on its own, as [`Faults::subscribe`] says.
    fn on_subscribe(
        &mut self,
        args: &serde_json::Value,
        subscribe: bool,
        faults: &Faults,
        now: Instant,
    ) {
        let error = |code: u32, msg: &str| {
            if self.v3 {
                v3::error(None, (&code.to_string(), msg))
            } else {
                rules::error_text(code, msg)
            }
        };
        let Some(account) = self.status.account() else {
            self.shared.count(|s| s.requests_refused += 1);
            let reply = error(refusals::NOT_LOGGED_IN.code, refusals::NOT_LOGGED_IN.msg);
            self.queue(Action::Text(reply), faults, now);
            return;
        };
        let list = match args.as_array() {
            Some(list) if !list.is_empty() => list.clone(),
            _ => {
                self.shared.count(|s| s.requests_refused += 1);
                let reply = error(
                    refusals::ILLEGAL_REQUEST.code,
                    refusals::ILLEGAL_REQUEST.msg,
                );
                self.queue(Action::Text(reply), faults, now);
                return;
            }
        };
        let classic_on_v3 = self.v3
            && self
                .shared
                .accounts
                .get(account.0)
                .is_some_and(|k| k.mode() == AccountMode::Classic);
        for arg in &list {
            let refusal = match (&faults.subscribe, subscribe) {
                (SubscribeFault::Ignore, true) => {
                    self.note_subscription(arg, None);
                    continue;
                }
                (SubscribeFault::Refuse { code, msg }, true) => Some((*code, msg.clone())),
                _ if classic_on_v3 => {
                    self.shared.note(|a| a.mode_refusals += 1);
                    Some((
                        refusals::CLASSIC_ON_V3.code,
                        refusals::CLASSIC_ON_V3.msg.to_owned(),
                    ))
                }
                _ => self.apply_subscription(arg, subscribe),
            };
            let reply = match &refusal {
                None => rules::subscribe_ack(subscribe, arg),
                Some((code, msg)) if self.v3 => {
                    v3::subscribe_error(arg, &code.to_string(), msg, subscribe)
                }
                Some((code, msg)) => rules::subscribe_error(arg, *code, msg, subscribe),
            };
            if subscribe {
                self.note_subscription(arg, refusal.as_ref().map(|r| r.0));
            }
            if refusal.is_some() {
                self.shared.count(|s| s.requests_refused += 1);
            }
            self.queue(Action::Text(reply), faults, now);
        }
    }

    /// Checks one subscription `arg` and (un)subscribes; the refusal, if any.
    fn apply_subscription(
        &self,
        arg: &serde_json::Value,
        subscribe: bool,
    ) -> Option<(u32, String)> {
        if self.v3 {
            if !v3::is_order_topic(arg) {
                let (code, msg) = v3::codes::NO_TOPIC;
                return Some((code.parse().unwrap_or(30001), msg.to_owned()));
            }
            self.feed.subscribe_v3(subscribe);
            return None;
        }
        match rules::check_subscription(arg) {
            Ok(sub) if subscribe => {
                self.feed.subscribe_v2(sub);
                None
            }
            Ok(sub) => {
                self.feed
                    .unsubscribe_v2(sub.inst_type, sub.symbol.as_deref());
                None
            }
            Err(refused) => Some((refused.refusal.code, refused.refusal.msg.to_owned())),
        }
    }

    fn check_login(&mut self, arg: &serde_json::Value, faults: &Faults, now: Instant) {
        let config = &self.shared.config;
        let api_key = arg
            .get("apiKey")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let (index, key) = match self.shared.accounts.find(api_key) {
            Some(found) => found,
            // An unknown key is refused with 30011 by the checks below.
            None => match self.shared.accounts.get(0) {
                Some(main) => (0, main),
                None => return,
            },
        };
        let uid = key.key.uid;
        let creds = Credentials {
            api_key: &key.key.api_key,
            secret: &key.key.secret,
            passphrase: &key.key.passphrase,
            window_s: config.login_window.as_secs(),
        };
        let venue_now_s = i64::try_from(self.shared.venue_unix_ms() / 1000)
            .unwrap_or(i64::MAX)
            .saturating_add(faults.login_clock_offset_s);
        let venue_now_s = u64::try_from(venue_now_s).unwrap_or(0);
        match login::check(&creds, arg, venue_now_s) {
            Ok(()) => {
                self.status.set_account(index, uid);
                self.status.set_logged_in(self.shared, true);
                self.shared.count(|s| s.logins_ok += 1);
                let reply = rules::login_ok(&self.status.conn_id);
                self.queue(Action::Text(reply), faults, now);
                if faults.close_after_login {
                    let close = Action::Close {
                        cause: DisconnectCause::Fault,
                        code: close_code::NORMAL,
                    };
                    self.queue(close, faults, now);
                }
            }
            Err(refusal) => self.refuse_login(rules::error_reply(refusal), faults, now),
        }
    }

    /// Answers a login with an error, then closes.
    fn refuse_login(&mut self, reply: String, faults: &Faults, now: Instant) {
        self.status.set_logged_in(self.shared, false);
        self.shared.count(|s| s.logins_failed += 1);
        self.queue(Action::Text(reply), faults, now);
        let close = Action::Close {
            cause: DisconnectCause::LoginFailed,
            code: close_code::NORMAL,
        };
        self.queue(close, faults, now);
    }

    fn on_trade(&mut self, args: &serde_json::Value, faults: &Faults, now: Instant) -> Option<End> {
        let frozen = self.frozen || faults.freeze_conn == Some(self.conn);
        if faults.lose_trades_conn == Some(self.conn) {
            self.lost(1);
            return None;
        }
        let request = match rules::check_cancel(args, self.status.is_logged_in()) {
            Ok(request) => request,
            Err(rejection) => {
                self.shared.count(|s| s.requests_refused += 1);
                self.queue_trade_reply(rejection.reply(unix_ms()), frozen, faults, now);
                return None;
            }
        };
        let fate = match self.cancel_arrival(faults, now) {
            Ok((fate, None)) => fate,
            Ok((_, Some((code, msg)))) => {
                self.shared.count(|s| s.requests_refused += 1);
                let reply = rules::arg_error_reply(&request.echo, code, &msg, unix_ms());
                self.queue_trade_reply(reply, frozen, faults, now);
                return None;
            }
            Err(end) => return end,
        };
        let (key, uid) = self.status.account().unwrap_or((0, super::MAIN_UID));
        let unified = self
            .shared
            .accounts
            .get(key)
            .is_some_and(|k| k.mode() == AccountMode::Unified);
        if unified && !self.shared.config.serve_unified_on_v2_websocket {
            self.shared.count(|s| s.requests_refused += 1);
            self.shared.note(|a| a.mode_refusals += 1);
            let reply = rules::arg_error_reply(
                &request.echo,
                refusals::UNIFIED_ON_V2.code,
                refusals::UNIFIED_ON_V2.msg,
                unix_ms(),
            );
            self.queue_trade_reply(reply, frozen, faults, now);
            return None;
        }
        let endpoint = cancel_endpoint(request.inst_type);
        if !self.shared.accounts.admit(uid, endpoint) {
            self.shared.count(|s| s.requests_refused += 1);
            self.shared
                .note(|a| *a.rate_limited.entry(endpoint).or_default() += 1);
            let shape = self
                .shared
                .accounts
                .limits()
                .map(|l| l.websocket_reply)
                .unwrap_or_default();
            let reply = match shape {
                WsRateLimitReply::Bare => rules::error_reply(refusals::TOO_MANY),
                WsRateLimitReply::PerRequest => rules::arg_error_reply(
                    &request.echo,
                    refusals::TOO_MANY.code,
                    refusals::TOO_MANY.msg,
                    unix_ms(),
                ),
            };
            self.queue_trade_reply(reply, frozen, faults, now);
            return None;
        }
        if fate == CancelFate::Refused {
            self.shared.count(|s| s.requests_refused += 1);
            return None;
        }
        let (reply, found) = self.shared.cancel(uid, &request, unix_ms());
        if faults.push_before_reply
            && let Some(end) = self.send_pushes()
        {
            return Some(end);
        }
        if faults.ignore_cancels || fate == CancelFate::Unanswered {
            self.shared.count(|s| s.cancels_unanswered += 1);
        } else {
            if let Some(id) = &faults.stray_reply_id {
                let stray = rules::with_request_id(&reply, &request.echo, id);
                self.queue_trade_reply(stray, frozen, faults, now);
            }
            if faults.duplicate_replies {
                self.queue_trade_reply(reply.clone(), frozen, faults, now);
            }
            self.queue_trade_reply(reply, frozen, faults, now);
        }
        self.count_cancels(usize::from(found), usize::from(!found));
        None
    }

    /// Counts a cancel request reaching the book and applies the one-shot faults tied to it: a
    /// drop ends the connection (`Err`), an [`OnCancel`] queues its injection and says what
    /// becomes of the cancel.
    /// Also says whether [`Faults::refuse_cancel`] fires on it (its code and message).
    #[allow(clippy::type_complexity)]
    fn cancel_arrival(
        &mut self,
        faults: &Faults,
        now: Instant,
    ) -> Result<(CancelFate, Option<(u32, String)>), Option<End>> {
        let arrival = self.shared.cancel_arrived();
        if arrival.drop {
            return Err(Some(End::Abrupt(DisconnectCause::Fault)));
        }
        let fate = match arrival.on_cancel {
            Some(OnCancel {
                injection, cancel, ..
            }) => {
                self.queue(Action::Inject(injection), faults, now);
                cancel
            }
            None => CancelFate::Answered,
        };
        Ok((fate, arrival.refuse))
    }

    fn count_cancels(&self, acked: usize, rejected: usize) {
        self.shared.count(|s| {
            s.cancels_acked += acked as u64;
            s.cancels_rejected += rejected as u64;
        });
    }

    /// A V3 `trade` request: `cancel-order` or `batch-cancel`.
    fn on_v3_trade(
        &mut self,
        request: &serde_json::Map<String, serde_json::Value>,
        faults: &Faults,
        now: Instant,
    ) -> Option<End> {
        let frozen = self.frozen || faults.freeze_conn == Some(self.conn);
        if faults.lose_trades_conn == Some(self.conn) {
            self.lost(1);
            return None;
        }
        let trade = match v3::check_trade(request, self.status.is_logged_in()) {
            Ok(trade) => trade,
            Err(reply) => {
                self.shared.count(|s| s.requests_refused += 1);
                self.queue_trade_reply(reply, frozen, faults, now);
                return None;
            }
        };
        let fate = match self.cancel_arrival(faults, now) {
            Ok((fate, None)) => fate,
            Ok((_, Some((code, msg)))) => {
                self.shared.count(|s| s.requests_refused += 1);
                let reply = v3::error(Some(&trade.id), (&code.to_string(), &msg));
                self.queue_trade_reply(reply, frozen, faults, now);
                return None;
            }
            Err(end) => return end,
        };
        let (key, uid) = self.status.account().unwrap_or((0, super::MAIN_UID));
        let classic = self
            .shared
            .accounts
            .get(key)
            .is_none_or(|k| k.mode() == AccountMode::Classic);
        let refusal = if classic {
            self.shared.note(|a| a.mode_refusals += 1);
            Some(v3::codes::CLASSIC)
        } else {
            let endpoint = match trade.topic {
                v3::Topic::Cancel => Endpoint::V3CancelOrder,
                v3::Topic::Batch => Endpoint::V3CancelBatch,
            };
            let admitted = self.shared.accounts.admit(uid, endpoint);
            if !admitted {
                self.shared
                    .note(|a| *a.rate_limited.entry(endpoint).or_default() += 1);
            }
            (!admitted).then_some(v3::codes::TOO_MANY)
        };
        if let Some(refusal) = refusal {
            self.shared.count(|s| s.requests_refused += 1);
            self.queue_trade_reply(v3::error(Some(&trade.id), refusal), frozen, faults, now);
            return None;
        }
        if fate == CancelFate::Refused {
            self.shared.count(|s| s.requests_refused += 1);
            return None;
        }
        let results: Vec<(v3::Entry, Option<super::OrderState>)> = trade
            .entries
            .iter()
            .map(|entry| {
                let cancelled = entry.by().and_then(|by| {
                    self.shared.cancel_one(uid, |book| {
                        book.locate_any_symbol(uid, &trade.inst_types, by)
                    })
                });
                (entry.clone(), cancelled)
            })
            .collect();
        let found = results.iter().filter(|(_, c)| c.is_some()).count();
        let ts = unix_ms();
        let reply = match trade.topic {
            v3::Topic::Cancel => v3::cancel_reply(&trade.id, results[0].1.as_ref(), ts),
            v3::Topic::Batch => {
                let record = BatchRecord {
                    endpoint: Endpoint::V3CancelBatch,
                    uid,
                    size: results.len(),
                    cancelled: found,
                    by_order_id: trade.entries[0].order_id.is_some(),
                };
                self.shared.note(|a| {
                    push_bounded(&mut a.batches, self.shared.config.record_limit, record)
                });
                v3::batch_reply(&trade.id, &results, ts)
            }
        };
        if faults.push_before_reply
            && let Some(end) = self.send_pushes()
        {
            return Some(end);
        }
        if faults.ignore_cancels || fate == CancelFate::Unanswered {
            self.shared.count(|s| s.cancels_unanswered += 1);
        } else {
            if faults.duplicate_replies {
                self.queue_trade_reply(reply.clone(), frozen, faults, now);
            }
            self.queue_trade_reply(reply, frozen, faults, now);
        }
        self.count_cancels(found, results.len() - found);
        None
    }

    /// Counts the disconnect, then closes as `end` says. True when the socket must be closed
    /// with a reset (`SO_LINGER` 0 is set): nothing may shut it down first.
    fn finish(mut self, end: End) -> bool {
        self.status.set_logged_in(self.shared, false);
        let pushes = self.feed.clear() as u64;
        if pushes > 0 {
            self.shared.note(|a| a.pushes_lost += pushes);
        }
        let unsent = self
            .queue
            .iter()
            .filter(|p| matches!(p.action, Action::Text(_)))
            .count()
            + self.batch.replies;
        if unsent > 0 {
            self.lost(unsent);
        }
        let end = match end {
            End::Graceful { cause, .. } if self.silent => End::Abrupt(cause),
            end => end,
        };
        let deadline = Instant::now() + LINGER;
        match end {
            End::Abrupt(cause) => {
                self.shared.count_disconnect(cause);
                let _ = self.ws.get_ref().tcp().shutdown(Shutdown::Both);
                false
            }
            End::Graceful { cause, code } => {
                self.out.clear();
                frames::encode_close(&mut self.out, code, "");
                let wire = self.ws.get_mut();
                let sent = wire.send(&self.out).is_ok();
                if sent {
                    wire.tls.conn.send_close_notify();
                    let _ = wire.tls.flush();
                }
                let _ = wire.tcp().shutdown(Shutdown::Write);
                if sent && cause != DisconnectCause::ClientClosed {
                    self.shared.count(|s| s.closes_sent += 1);
                    self.await_close_reply(deadline);
                }
                self.shared.count_disconnect(cause);
                self.linger(deadline);
                false
            }
            End::Reset => {
                self.shared.count_disconnect(DisconnectCause::Fault);
                let tcp = self.ws.get_ref().tcp();
                if let Err(e) = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO)) {
                    log::warn!("sim: cannot set SO_LINGER 0, closing without a reset: {e}");
                    let _ = tcp.shutdown(Shutdown::Both);
                    return false;
                }
                true
            }
            End::TlsCloseNotify => {
                self.shared.count_disconnect(DisconnectCause::Fault);
                let wire = self.ws.get_mut();
                wire.tls.conn.send_close_notify();
                let _ = wire.tls.flush();
                let _ = wire.tcp().shutdown(Shutdown::Write);
                self.linger(deadline);
                false
            }
            End::TlsFatalAlert => {
                self.shared.count_disconnect(DisconnectCause::Fault);
                self.send_fatal_alert();
                let _ = self.ws.get_ref().tcp().shutdown(Shutdown::Write);
                self.linger(deadline);
                false
            }
        }
    }

    /// Makes the venue's own rustls connection send a fatal alert: handed an application-data
    /// record it cannot decrypt, it queues `bad_record_mac`, which is then written out.
    fn send_fatal_alert(&mut self) {
        const UNDECRYPTABLE: [u8; 5 + 32] = {
            let mut record = [0u8; 37];
            record[0] = 0x17; // application data
            record[1] = 0x03;
            record[2] = 0x03;
            record[4] = 32;
            record
        };
        let tls = &mut self.ws.get_mut().tls;
        let fed = tls.conn.read_tls(&mut &UNDECRYPTABLE[..]);
        if fed.is_err() || tls.conn.process_new_packets().is_ok() {
            log::warn!("sim: rustls did not refuse the undecryptable record; no alert sent");
        }
        while tls.conn.wants_write() {
            match tls.conn.write_tls(&mut tls.sock) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Reads until the client's close frame (recorded and counted), the end of the stream, or
    /// `deadline`.
    fn await_close_reply(&mut self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let wait = left.clamp(Duration::from_millis(1), TICK);
            if self
                .ws
                .get_ref()
                .tcp()
                .set_read_timeout(Some(wait))
                .is_err()
            {
                return;
            }
            match self.ws.read() {
                Ok(message @ Message::Close(_)) => {
                    self.record(&message);
                    self.shared.count(|s| s.close_replies += 1);
                    return;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {
                    if self.shared.interruption(self.kill) == Some(DisconnectCause::Fault) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Reads and discards until the client closes too, or `deadline`.
    fn linger(&self, deadline: Instant) {
        let tcp = self.ws.get_ref().tcp();
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
                Err(e) if is_timeout(&e) => {
                    if self.shared.interruption(self.kill) == Some(DisconnectCause::Fault) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }
}
