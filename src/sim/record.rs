//! What the venue saw and did: the record of received frames and the counters.

use std::fmt;

/// The kind of a WebSocket message the venue received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// A text message (fragmented messages are recorded once, reassembled).
    Text,
    /// A binary message.
    Binary,
    /// A ping frame.
    Ping,
    /// A pong frame.
    Pong,
    /// A close frame.
    Close,
}

/// One message the venue received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// The connection it came on: 1 for the first connection the venue accepted, then 2, ...
    /// The same number names the connection to [`SimVenue::inject_on`](super::SimVenue::inject_on),
    /// [`SimVenue::open_connections`](super::SimVenue::open_connections) and
    /// [`Faults::freeze_conn`](super::Faults::freeze_conn).
    pub conn: u64,
    /// When the venue read it, on [`crate::clock::monotonic_ns`].
    pub at_ns: u64,
    /// What kind of message it was.
    pub opcode: Opcode,
    /// The payload as text (lossy UTF-8 for binary, ping and pong payloads; the reason of a
    /// close frame).
    pub text: String,
}

/// Why the venue ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectCause {
    /// The TLS or WebSocket handshake failed or was refused (e.g. a wrong path: HTTP 404).
    HandshakeFailed,
    /// A login was refused (3001x): the venue sent the error, then a close frame.
    LoginFailed,
    /// Too many messages in one second: 30007, then a close frame.
    RateLimited,
    /// No `ping` within the idle timeout.
    IdleTimeout,
    /// The connection reached its maximum lifetime (24 hours on the live venue).
    Lifetime,
    /// The client closed (close frame, end of stream or a failed read or write).
    ClientClosed,
    /// The client broke the WebSocket protocol (unmasked or oversized frames, bad UTF-8, ...).
    ProtocolError,
    /// An injected fault ended it (drop now, drop on the Nth cancel, close after login, and the
    /// [`Injection`](super::Injection)s that end a connection: a close frame, a drop, a TCP
    /// reset, a TLS close_notify or fatal alert).
    Fault,
    /// The venue was shut down.
    Shutdown,
}

impl DisconnectCause {
    /// Every cause.
    pub const ALL: [DisconnectCause; 9] = [
        DisconnectCause::HandshakeFailed,
        DisconnectCause::LoginFailed,
        DisconnectCause::RateLimited,
        DisconnectCause::IdleTimeout,
        DisconnectCause::Lifetime,
        DisconnectCause::ClientClosed,
        DisconnectCause::ProtocolError,
        DisconnectCause::Fault,
        DisconnectCause::Shutdown,
    ];
}

impl fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DisconnectCause::HandshakeFailed => "handshake failed",
            DisconnectCause::LoginFailed => "login failed",
            DisconnectCause::RateLimited => "rate limited",
            DisconnectCause::IdleTimeout => "idle timeout",
            DisconnectCause::Lifetime => "lifetime reached",
            DisconnectCause::ClientClosed => "client closed",
            DisconnectCause::ProtocolError => "protocol error",
            DisconnectCause::Fault => "injected fault",
            DisconnectCause::Shutdown => "shutdown",
        })
    }
}

/// How many connections ended, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisconnectCounts {
    /// See [`DisconnectCause::HandshakeFailed`].
    pub handshake_failed: u64,
    /// See [`DisconnectCause::LoginFailed`].
    pub login_failed: u64,
    /// See [`DisconnectCause::RateLimited`].
    pub rate_limited: u64,
    /// See [`DisconnectCause::IdleTimeout`].
    pub idle_timeout: u64,
    /// See [`DisconnectCause::Lifetime`].
    pub lifetime: u64,
    /// See [`DisconnectCause::ClientClosed`].
    pub client_closed: u64,
    /// See [`DisconnectCause::ProtocolError`].
    pub protocol_error: u64,
    /// See [`DisconnectCause::Fault`].
    pub fault: u64,
    /// See [`DisconnectCause::Shutdown`].
    pub shutdown: u64,
}

impl DisconnectCounts {
    /// The count for one cause.
    pub fn get(&self, cause: DisconnectCause) -> u64 {
        *self.slot(cause)
    }

    /// All connections that ended, whatever the cause.
    pub fn total(&self) -> u64 {
        DisconnectCause::ALL.iter().map(|&c| self.get(c)).sum()
    }

    pub(super) fn add(&mut self, cause: DisconnectCause) {
        *self.slot_mut(cause) += 1;
    }

    fn slot(&self, cause: DisconnectCause) -> &u64 {
        match cause {
            DisconnectCause::HandshakeFailed => &self.handshake_failed,
            DisconnectCause::LoginFailed => &self.login_failed,
            DisconnectCause::RateLimited => &self.rate_limited,
            DisconnectCause::IdleTimeout => &self.idle_timeout,
            DisconnectCause::Lifetime => &self.lifetime,
            DisconnectCause::ClientClosed => &self.client_closed,
            DisconnectCause::ProtocolError => &self.protocol_error,
            DisconnectCause::Fault => &self.fault,
            DisconnectCause::Shutdown => &self.shutdown,
        }
    }

    fn slot_mut(&mut self, cause: DisconnectCause) -> &mut u64 {
        match cause {
            DisconnectCause::HandshakeFailed => &mut self.handshake_failed,
            DisconnectCause::LoginFailed => &mut self.login_failed,
            DisconnectCause::RateLimited => &mut self.rate_limited,
            DisconnectCause::IdleTimeout => &mut self.idle_timeout,
            DisconnectCause::Lifetime => &mut self.lifetime,
            DisconnectCause::ClientClosed => &mut self.client_closed,
            DisconnectCause::ProtocolError => &mut self.protocol_error,
            DisconnectCause::Fault => &mut self.fault,
            DisconnectCause::Shutdown => &mut self.shutdown,
        }
    }
}

/// A snapshot of the venue's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// Connections currently open (accepted and not yet ended).
    pub connections_open: u64,
    /// Connections currently open and logged in (a login accepted, and no refused login or end
    /// since): [`SimVenue::wait_for_logged_in`](super::SimVenue::wait_for_logged_in) waits on it.
    pub connections_logged_in: u64,
    /// Logins accepted.
    pub logins_ok: u64,
    /// Logins refused.
    pub logins_failed: u64,
    /// Logins recorded and never answered ([`LoginFault::Ignore`](super::LoginFault::Ignore)).
    pub logins_ignored: u64,
    /// Cancels that found their order (answered with code 0, unless a fault swallowed the reply).
    pub cancels_acked: u64,
    /// Cancels refused because the order does not exist (43001 / 41101).
    pub cancels_rejected: u64,
    /// Cancels processed but not answered because of [`Faults::ignore_cancels`](super::Faults)
    /// or [`CancelFate::Unanswered`](super::CancelFate::Unanswered).
    pub cancels_unanswered: u64,
    /// Requests refused before reaching the book (30001 to 30016: bad JSON, bad op, not logged
    /// in, bad parameters), and cancels an [`OnCancel`](super::OnCancel) refused
    /// ([`CancelFate::Refused`](super::CancelFate::Refused)).
    pub requests_refused: u64,
    /// Replies the venue had ready but never sent: still waiting (delayed or held for a batch)
    /// when their connection ended, cut short by a reset, or withheld by
    /// [`Injection::Silence`](super::Injection::Silence), [`Injection::Freeze`](super::Injection::Freeze)
    /// or [`Faults::freeze_conn`](super::Faults::freeze_conn).
    pub replies_lost: u64,
    /// Close frames the venue sent to start a closing handshake (every close it sends except
    /// its answer to a client's close).
    pub closes_sent: u64,
    /// Close frames clients sent in answer to a close the venue started, received within a
    /// second of it.
    pub close_replies: u64,
    /// Text `ping` messages answered with `pong`.
    pub pings: u64,
    /// Ended connections, by cause.
    pub disconnects: DisconnectCounts,
}
