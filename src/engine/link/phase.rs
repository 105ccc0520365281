//! Where one connection stands: on its way up (the dialer's rungs), logging in, live, closing,
//! or waiting to try again.

use mio::net::TcpStream;

use crate::engine::shared::SessionError;
use crate::net::{Dialing, NetError};
use crate::tls::TlsStream;

/// Where the connection stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// No connection; the next attempt starts at `retry_at` (monotonic ns).
    Backoff { retry_at: u64 },
    /// On its way up: an address, TCP, TLS, the WebSocket upgrade.
    Dialing(Dialing),
    /// Login sent, waiting for the venue's answer.
    LoggingIn { tls: TlsStream },
    /// Logged in, the order channel's subscription sent: serving once every part is
    /// acknowledged, refused, or at `deadline` (the grace).
    Subscribing {
        tls: TlsStream,
        acks_left: usize,
        deadline: u64,
    },
    /// Logged in.
    Live { tls: TlsStream },
    /// The venue refused the credentials; try again at `retry_at`, or never.
    LoginRejected { retry_at: Option<u64> },
    /// Shutting down: our close frame is out, waiting for the venue's until `deadline`.
    Closing { tls: TlsStream, deadline: u64 },
    /// Shut down.
    Done,
}

impl Phase {
    /// The TLS stream once the WebSocket is up.
    #[inline]
    pub(crate) fn websocket(&mut self) -> Option<&mut TlsStream> {
        match self {
            Phase::LoggingIn { tls }
            | Phase::Subscribing { tls, .. }
            | Phase::Live { tls }
            | Phase::Closing { tls, .. } => Some(tls),
            _ => None,
        }
    }

    /// The socket, whatever layer owns it.
    pub(crate) fn socket(&mut self) -> Option<&mut TcpStream> {
        match self {
            Phase::Dialing(dialing) => dialing.socket(),
            Phase::LoggingIn { tls }
            | Phase::Subscribing { tls, .. }
            | Phase::Live { tls }
            | Phase::Closing { tls, .. } => Some(tls.tcp_mut()),
            Phase::Backoff { .. } | Phase::LoginRejected { .. } | Phase::Done => None,
        }
    }

    /// Whether a connection attempt is under way (address, connect, TLS, upgrade or login; not
    /// the subscription, which has its own deadline).
    pub(crate) fn is_connecting(&self) -> bool {
        matches!(self, Phase::Dialing(_) | Phase::LoggingIn { .. })
    }

    /// What the engine is doing, for timeout messages.
    pub(crate) fn doing(&self) -> &'static str {
        match self {
            Phase::Backoff { .. } => "waiting to reconnect",
            Phase::Dialing(dialing) => dialing.doing(),
            Phase::LoggingIn { .. } => "logging in",
            Phase::Subscribing { .. } => "subscribing to order updates",
            Phase::Live { .. } => "live",
            Phase::LoginRejected { .. } => "refused by the venue",
            Phase::Closing { .. } => "closing",
            Phase::Done => "stopped",
        }
    }
}

impl From<NetError> for SessionError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Resolve { host, reason } => SessionError::Resolve { host, reason },
            NetError::Io(e) => SessionError::Io(e),
            NetError::Closed(reason) => SessionError::Closed { code: None, reason },
            NetError::Tls(e) => SessionError::Tls(e),
            NetError::Upgrade(e) => SessionError::Upgrade(e),
        }
    }
}

/// A TLS failure on a live connection, as the session reports it.
pub(crate) fn tls_error(e: crate::tls::TlsError) -> SessionError {
    NetError::from(e).into()
}
