//! One connection's way from nothing to a WebSocket ready for the login: resolve, nonblocking TCP
//! connect with `TCP_NODELAY`, TLS handshake, WebSocket upgrade. Each step runs as far as the
//! socket allows and returns; the event loop calls again on the next socket event.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::config::Endpoint;
use super::shared::SessionError;
use crate::tls::{TlsError, TlsStream};
use crate::ws::{Upgrade, UpgradeProgress};

/// Where the connection stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// No connection; the next attempt starts at `retry_at` (monotonic ns).
    Backoff { retry_at: u64 },
    /// TCP connect in progress.
    Connecting { tcp: TcpStream },
    /// TLS handshake in progress.
    Handshaking { tls: TlsStream },
    /// WebSocket upgrade in progress (boxed: tungstenite's handshake state is large, and it
    /// lives only for a moment).
    Upgrading { upgrade: Box<Upgrade<TlsStream>> },
    /// Login sent, waiting for the venue's answer.
    LoggingIn { tls: TlsStream },
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
            Phase::LoggingIn { tls } | Phase::Live { tls } | Phase::Closing { tls, .. } => {
                Some(tls)
            }
            _ => None,
        }
    }

    /// The socket, whatever layer owns it.
    pub(crate) fn socket(&mut self) -> Option<&mut TcpStream> {
        match self {
            Phase::Connecting { tcp } => Some(tcp),
            Phase::Handshaking { tls }
            | Phase::LoggingIn { tls }
            | Phase::Live { tls }
            | Phase::Closing { tls, .. } => Some(tls.tcp_mut()),
            Phase::Upgrading { upgrade } => Some(upgrade.get_mut().tcp_mut()),
            Phase::Backoff { .. } | Phase::LoginRejected { .. } | Phase::Done => None,
        }
    }

    /// Whether a connection attempt is under way (connect, TLS, upgrade or login).
    pub(crate) fn is_connecting(&self) -> bool {
        matches!(
            self,
            Phase::Connecting { .. }
                | Phase::Handshaking { .. }
                | Phase::Upgrading { .. }
                | Phase::LoggingIn { .. }
        )
    }

    /// What the engine is doing, for timeout messages.
    pub(crate) fn doing(&self) -> &'static str {
        match self {
            Phase::Backoff { .. } => "waiting to reconnect",
            Phase::Connecting { .. } => "connecting",
            Phase::Handshaking { .. } => "in the TLS handshake",
            Phase::Upgrading { .. } => "upgrading to WebSocket",
            Phase::LoggingIn { .. } => "logging in",
            Phase::Live { .. } => "live",
            Phase::LoginRejected { .. } => "refused by the venue",
            Phase::Closing { .. } => "closing",
            Phase::Done => "stopped",
        }
    }
}

/// What a connection step produced.
#[derive(Debug)]
pub(crate) enum Step {
    /// Waiting for the socket: call again on its next event.
    Wait(Phase),
    /// The WebSocket is up: log in. `leftover` is what the venue sent after its upgrade reply.
    Upgraded { tls: TlsStream, leftover: Vec<u8> },
    /// The attempt failed.
    Failed(SessionError),
}

/// What the steps need to know.
#[derive(Debug)]
pub(crate) struct Connector {
    pub endpoint: Endpoint,
    pub tls_config: Arc<rustls::ClientConfig>,
    /// `SO_SNDBUF` for new connections, if configured.
    send_buffer: Option<usize>,
    /// The resolved addresses, tried in turn.
    addrs: Vec<SocketAddr>,
    next_addr: usize,
}

impl Connector {
    pub(crate) fn new(
        endpoint: Endpoint,
        tls_config: Arc<rustls::ClientConfig>,
        send_buffer: Option<usize>,
    ) -> Self {
        Connector {
            endpoint,
            tls_config,
            send_buffer,
            addrs: Vec::new(),
            next_addr: 0,
        }
    }

    /// Resolves the host (when every known address was tried) and starts a nonblocking connect to
    /// the next address. Resolution uses the system resolver and may block: it happens once per
    /// connection attempt, never on the hot path.
    pub(crate) fn start(&mut self, registry: &Registry, token: Token) -> Step {
        if self.next_addr >= self.addrs.len() {
            self.next_addr = 0;
            self.addrs = match (self.endpoint.host.as_str(), self.endpoint.port).to_socket_addrs() {
                Ok(addrs) => addrs.collect(),
                Err(e) => {
                    return Step::Failed(SessionError::Resolve {
                        host: self.endpoint.host.clone(),
                        reason: e.to_string(),
                    });
                }
            };
            if self.addrs.is_empty() {
                return Step::Failed(SessionError::Resolve {
                    host: self.endpoint.host.clone(),
                    reason: "no addresses".to_string(),
                });
            }
        }
        let addr = self.addrs[self.next_addr];
        // The next attempt tries the next address, unless this one gets to log in.
        self.next_addr += 1;
        let mut tcp = match TcpStream::connect(addr) {
            Ok(tcp) => tcp,
            Err(e) => return Step::Failed(SessionError::Io(format!("connect to {addr}: {e}"))),
        };
        if let Some(size) = self.send_buffer
            && let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(size)
        {
            log::warn!("cannot set the socket send buffer to {size} bytes: {e}");
        }
        if let Err(e) = registry.register(&mut tcp, token, Interest::READABLE | Interest::WRITABLE)
        {
            return Step::Failed(SessionError::Io(format!("register socket: {e}")));
        }
        Step::Wait(Phase::Connecting { tcp })
    }

    /// The address worked: keep using it.
    pub(crate) fn logged_in(&mut self) {
        self.next_addr = self.next_addr.saturating_sub(1);
    }

    /// Advances a connection in `phase` as far as the socket allows.
    pub(crate) fn step(&self, phase: Phase) -> Step {
        match phase {
            Phase::Connecting { tcp } => self.step_connect(tcp),
            Phase::Handshaking { tls } => self.step_tls(tls),
            Phase::Upgrading { upgrade } => step_upgrade(upgrade.resume()),
            other => Step::Wait(other),
        }
    }

    fn step_connect(&self, tcp: TcpStream) -> Step {
        match tcp.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return Step::Failed(SessionError::Io(e.to_string())),
        }
        match tcp.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                return Step::Wait(Phase::Connecting { tcp });
            }
            Err(e) => return Step::Failed(SessionError::Io(e.to_string())),
        }
        if let Err(e) = tcp.set_nodelay(true) {
            log::warn!("cannot set TCP_NODELAY: {e}");
        }
        match TlsStream::new(self.tls_config.clone(), &self.endpoint.host, tcp) {
            Ok(tls) => self.step_tls(tls),
            Err(e) => Step::Failed(tls_error(e)),
        }
    }

    fn step_tls(&self, mut tls: TlsStream) -> Step {
        match tls.drive_handshake() {
            Ok(false) => Step::Wait(Phase::Handshaking { tls }),
            Ok(true) => step_upgrade(Upgrade::start(&self.endpoint.url, tls)),
            Err(e) => Step::Failed(tls_error(e)),
        }
    }
}

fn step_upgrade(progress: Result<UpgradeProgress<TlsStream>, crate::ws::WsError>) -> Step {
    match progress {
        Ok(UpgradeProgress::Done { stream, leftover }) => Step::Upgraded {
            tls: stream,
            leftover,
        },
        Ok(UpgradeProgress::Pending(mut upgrade)) => {
            // The request may sit encrypted in the TLS buffer: push it out now.
            if let Err(e) = upgrade.get_mut().flush_tls() {
                return Step::Failed(SessionError::Io(e.to_string()));
            }
            Step::Wait(Phase::Upgrading {
                upgrade: Box::new(upgrade),
            })
        }
        Err(e) => Step::Failed(SessionError::Upgrade(e.to_string())),
    }
}

pub(crate) fn tls_error(e: TlsError) -> SessionError {
    match e {
        TlsError::Io(io) => SessionError::Io(io.to_string()),
        TlsError::PeerClosed | TlsError::UnexpectedEof => SessionError::Closed {
            code: None,
            reason: e.to_string(),
        },
        other => SessionError::Tls(other.to_string()),
    }
}
