//! The connect ladder every connection climbs: an address from the resolver thread, a
//! nonblocking TCP connect with `TCP_NODELAY`, the TLS handshake, and the WebSocket upgrade
//! where one is wanted. The WebSocket links and the REST client use this one ladder.
//!
//! Each rung runs as far as the socket allows and returns ([`Dialer::step`]); the caller calls
//! again on the socket's next event. Nothing here blocks: addresses are only read
//! ([`HostAddrs`]), never looked up on the caller's thread. A failed connect asks the resolver
//! thread for a fresh lookup; the next attempt tries the next address meanwhile.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::resolve::{HostAddrs, Lookup};
use crate::tls::{TlsError, TlsStream};
use crate::ws::{Upgrade, UpgradeProgress};

/// Why a connection could not be made, or broke: one classification for links and the REST
/// client alike, each of which turns it into its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetError {
    /// The host has no address (the lookup failed).
    Resolve { host: String, reason: String },
    /// A socket operation failed (refused, reset, ...).
    Io(String),
    /// The peer ended the connection (TLS close_notify, or a bare TCP close).
    Closed(String),
    /// TLS failed: the handshake (certificate, name) or a record.
    Tls(String),
    /// The WebSocket upgrade was refused or malformed.
    Upgrade(String),
}

impl From<TlsError> for NetError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::Io(io) => NetError::Io(io.to_string()),
            TlsError::PeerClosed | TlsError::UnexpectedEof => NetError::Closed(e.to_string()),
            other => NetError::Tls(other.to_string()),
        }
    }
}

impl From<io::Error> for NetError {
    fn from(e: io::Error) -> Self {
        NetError::Io(e.to_string())
    }
}

/// A connection on its way up.
#[derive(Debug)]
pub(crate) enum Dialing {
    /// No address known yet: the resolver thread has not answered. `recheck_at` is when to
    /// look again (the thread does not wake the caller).
    Resolving { recheck_at: u64 },
    /// TCP connect in progress.
    Connecting { tcp: TcpStream },
    /// TLS handshake in progress (boxed, like the upgrade: the stream's buffers live in it,
    /// and a connection is set up once).
    Handshaking { tls: Box<TlsStream> },
    /// WebSocket upgrade in progress (boxed: tungstenite's handshake state is large, and it
    /// lives only for a moment).
    Upgrading { upgrade: Box<Upgrade<TlsStream>> },
}

impl Dialing {
    /// The socket, whichever rung owns it.
    pub(crate) fn socket(&mut self) -> Option<&mut TcpStream> {
        match self {
            Dialing::Resolving { .. } => None,
            Dialing::Connecting { tcp } => Some(tcp),
            Dialing::Handshaking { tls } => Some(tls.tcp_mut()),
            Dialing::Upgrading { upgrade } => Some(upgrade.get_mut().tcp_mut()),
        }
    }

    /// What is going on, for timeout messages.
    pub(crate) fn doing(&self) -> &'static str {
        match self {
            Dialing::Resolving { .. } => "resolving the host",
            Dialing::Connecting { .. } => "connecting",
            Dialing::Handshaking { .. } => "in the TLS handshake",
            Dialing::Upgrading { .. } => "upgrading to WebSocket",
        }
    }

    /// When the caller should step again without a socket event (`u64::MAX`: on events only).
    pub(crate) fn recheck_at(&self) -> u64 {
        match self {
            Dialing::Resolving { recheck_at } => *recheck_at,
            _ => u64::MAX,
        }
    }
}

/// What a rung produced.
// A return value, moved once: the upgraded stream goes straight into the link's phase, where it
// lives inline (no pointer to follow on the hot path).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Dial {
    /// Waiting (for the socket, or for an address): step again on the next event or at
    /// [`Dialing::recheck_at`].
    Wait(Dialing),
    /// TLS is up and no upgrade was wanted.
    Secure(Box<TlsStream>),
    /// The WebSocket is up. `leftover` is what the server sent after its upgrade reply;
    /// `server_date` the reply's `Date` header (Unix seconds), a coarse reading of its clock.
    Upgraded {
        tls: TlsStream,
        leftover: Vec<u8>,
        server_date: Option<u64>,
    },
    /// The attempt failed; the dialer asked for a fresh lookup.
    Failed(NetError),
}

/// How often a connection without an address looks for one.
const RESOLVE_RECHECK_NS: u64 = 2_000_000;

/// Where addresses come from.
#[derive(Debug)]
enum Addresses {
    /// From the resolver thread.
    Thread(HostAddrs),
    /// Looked up by the owner (the standalone REST client's blocking `start`).
    Fixed(Vec<SocketAddr>),
}

/// One connection's way to its server: host, TLS configuration, the upgrade URL if any, and
/// the addresses to try in turn.
#[derive(Debug)]
pub(crate) struct Dialer {
    /// The name the certificate must carry.
    host: String,
    /// `Some(url)`: upgrade to WebSocket at this URL once TLS is up.
    upgrade: Option<String>,
    tls_config: Arc<rustls::ClientConfig>,
    /// `SO_SNDBUF` for new sockets, if configured.
    send_buffer: Option<usize>,
    addresses: Addresses,
    /// The next address to try (an index, taken modulo the addresses known then).
    next_addr: usize,
}

impl Dialer {
    /// A dialer to `host` whose addresses come from the resolver thread.
    pub(crate) fn new(
        host: &str,
        addrs: HostAddrs,
        tls_config: Arc<rustls::ClientConfig>,
        upgrade: Option<String>,
        send_buffer: Option<usize>,
    ) -> Self {
        Dialer {
            host: host.to_owned(),
            upgrade,
            tls_config,
            send_buffer,
            addresses: Addresses::Thread(addrs),
            next_addr: 0,
        }
    }

    /// A dialer to `host` that tries only the addresses given with [`Dialer::set_addresses`].
    pub(crate) fn with_fixed_addresses(
        host: &str,
        tls_config: Arc<rustls::ClientConfig>,
        upgrade: Option<String>,
    ) -> Self {
        Dialer {
            host: host.to_owned(),
            upgrade,
            tls_config,
            send_buffer: None,
            addresses: Addresses::Fixed(Vec::new()),
            next_addr: 0,
        }
    }

    /// A dialer to the same server (host, addresses, TLS, upgrade URL), for another connection:
    /// a replacement takes the endpoint of the connection it replaces.
    pub(crate) fn fork(&self) -> Dialer {
        Dialer {
            host: self.host.clone(),
            upgrade: self.upgrade.clone(),
            tls_config: self.tls_config.clone(),
            send_buffer: self.send_buffer,
            addresses: match &self.addresses {
                Addresses::Thread(addrs) => Addresses::Thread(addrs.clone()),
                Addresses::Fixed(addrs) => Addresses::Fixed(addrs.clone()),
            },
            next_addr: self.next_addr,
        }
    }

    /// Replaces fixed addresses (a dialer fed by the resolver thread ignores this).
    pub(crate) fn set_addresses(&mut self, addrs: Vec<SocketAddr>) {
        if let Addresses::Fixed(fixed) = &mut self.addresses {
            *fixed = addrs;
            self.next_addr = 0;
        }
    }

    /// Whether addresses come from the resolver thread.
    pub(crate) fn resolves_itself(&self) -> bool {
        matches!(self.addresses, Addresses::Thread(_))
    }

    /// Starts an attempt: a nonblocking connect to the next address, registered with `token`
    /// for reads and writes; or waiting for an address.
    pub(crate) fn start(&mut self, registry: &Registry, token: Token, now: u64) -> Dial {
        let addr = match &mut self.addresses {
            Addresses::Fixed(addrs) if addrs.is_empty() => {
                return Dial::Failed(NetError::Resolve {
                    host: self.host.clone(),
                    reason: "no addresses".to_owned(),
                });
            }
            Addresses::Fixed(addrs) => addrs[self.next_addr % addrs.len()],
            Addresses::Thread(book) => match book.current() {
                Lookup::Found(addrs) => addrs[self.next_addr % addrs.len()],
                Lookup::Pending => {
                    return Dial::Wait(Dialing::Resolving {
                        recheck_at: now.saturating_add(RESOLVE_RECHECK_NS),
                    });
                }
                Lookup::Failed(reason) => {
                    let error = NetError::Resolve {
                        host: self.host.clone(),
                        reason: reason.to_owned(),
                    };
                    book.refresh();
                    return Dial::Failed(error);
                }
            },
        };
        // The next attempt tries the next address, unless this one gets through.
        self.next_addr = self.next_addr.wrapping_add(1);
        let mut tcp = match TcpStream::connect(addr) {
            Ok(tcp) => tcp,
            Err(e) => return self.failed(NetError::Io(format!("connect to {addr}: {e}"))),
        };
        if let Some(size) = self.send_buffer
            && let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(size)
        {
            crate::relay::log_warn!("cannot set the socket send buffer to {size} bytes: {e}");
        }
        if let Err(e) = registry.register(&mut tcp, token, Interest::READABLE | Interest::WRITABLE)
        {
            return self.failed(NetError::Io(format!("register socket: {e}")));
        }
        Dial::Wait(Dialing::Connecting { tcp })
    }

    /// The connection got through (logged in, or answered): the next attempt starts with the
    /// same address.
    pub(crate) fn got_through(&mut self) {
        self.next_addr = self.next_addr.wrapping_sub(1);
    }

    /// Moves an attempt as far as the socket allows.
    pub(crate) fn step(
        &mut self,
        dialing: Dialing,
        registry: &Registry,
        token: Token,
        now: u64,
    ) -> Dial {
        let step = match dialing {
            Dialing::Resolving { recheck_at } if now < recheck_at => {
                return Dial::Wait(Dialing::Resolving { recheck_at });
            }
            Dialing::Resolving { .. } => return self.start(registry, token, now),
            Dialing::Connecting { tcp } => self.step_connect(tcp),
            Dialing::Handshaking { tls } => self.step_tls(tls),
            Dialing::Upgrading { upgrade } => step_upgrade(upgrade.resume()),
        };
        match step {
            Dial::Failed(error) => self.failed(error),
            other => other,
        }
    }

    /// An attempt failed: a fresh lookup is asked for (the host may have moved).
    fn failed(&mut self, error: NetError) -> Dial {
        if let Addresses::Thread(book) = &self.addresses {
            book.refresh();
        }
        Dial::Failed(error)
    }

    fn step_connect(&self, tcp: TcpStream) -> Dial {
        match tcp.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return Dial::Failed(e.into()),
        }
        match tcp.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                return Dial::Wait(Dialing::Connecting { tcp });
            }
            Err(e) => return Dial::Failed(e.into()),
        }
        if let Err(e) = tcp.set_nodelay(true) {
            crate::relay::log_warn!("cannot set TCP_NODELAY: {e}");
        }
        match TlsStream::new(self.tls_config.clone(), &self.host, tcp) {
            Ok(tls) => self.step_tls(Box::new(tls)),
            Err(e) => Dial::Failed(e.into()),
        }
    }

    fn step_tls(&self, mut tls: Box<TlsStream>) -> Dial {
        match tls.drive_handshake() {
            Ok(false) => Dial::Wait(Dialing::Handshaking { tls }),
            Ok(true) => match &self.upgrade {
                Some(url) => step_upgrade(Upgrade::start(url, *tls)),
                None => Dial::Secure(tls),
            },
            Err(e) => Dial::Failed(e.into()),
        }
    }
}

fn step_upgrade(progress: Result<UpgradeProgress<TlsStream>, crate::ws::WsError>) -> Dial {
    match progress {
        Ok(UpgradeProgress::Done {
            stream,
            leftover,
            server_date,
        }) => Dial::Upgraded {
            tls: stream,
            leftover,
            server_date,
        },
        Ok(UpgradeProgress::Pending(mut upgrade)) => {
            // The request may sit encrypted in the TLS buffer: push it out now.
            if let Err(e) = upgrade.get_mut().flush_tls() {
                return Dial::Failed(e.into());
            }
            Dial::Wait(Dialing::Upgrading {
                upgrade: Box::new(upgrade),
            })
        }
        Err(e) => Dial::Failed(NetError::Upgrade(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Resolver, start_resolver};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const MS: u64 = 1_000_000;

    fn tls() -> Arc<rustls::ClientConfig> {
        crate::tls::client_config(None).expect("the default TLS configuration")
    }

    fn closed_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    /// Steps `dialing` until it is no longer waiting on the socket (or 10 s pass).
    fn settle(dialer: &mut Dialer, mut dial: Dial, poll: &mio::Poll) -> Dial {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match dial {
                Dial::Wait(d @ Dialing::Connecting { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                    dial = dialer.step(d, poll.registry(), Token(0), 0);
                }
                other => return other,
            }
        }
    }

    #[test]
    fn a_dialer_waits_for_its_address_without_blocking_then_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (release, gate) = crossbeam_channel::bounded::<()>(0);
        let resolver = Resolver::new(move |_, port| {
            let _ = gate.recv_timeout(Duration::from_secs(10));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        });
        let addrs = start_resolver(resolver, &[("gw.example", port)]).unwrap();
        let poll = mio::Poll::new().unwrap();
        let mut dialer = Dialer::new("gw.example", addrs[0].clone(), tls(), None, None);
        let started = Instant::now();
        let dial = dialer.start(poll.registry(), Token(0), 10 * MS);
        let Dial::Wait(Dialing::Resolving { recheck_at }) = dial else {
            panic!("{dial:?}")
        };
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no lookup on this thread"
        );
        assert!(recheck_at > 10 * MS);
        // Before the recheck time nothing is asked; after it, still nothing to connect to.
        let dial = dialer.step(
            Dialing::Resolving { recheck_at },
            poll.registry(),
            Token(0),
            10 * MS,
        );
        assert!(matches!(dial, Dial::Wait(Dialing::Resolving { .. })));
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut now = recheck_at;
        loop {
            match dialer.step(
                Dialing::Resolving { recheck_at: now },
                poll.registry(),
                Token(0),
                now,
            ) {
                Dial::Wait(Dialing::Resolving { recheck_at }) => {
                    assert!(Instant::now() < deadline, "the address never came");
                    std::thread::sleep(Duration::from_millis(1));
                    now = recheck_at;
                }
                Dial::Wait(Dialing::Connecting { .. }) => break,
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_refused_connect_asks_the_resolver_thread_for_a_fresh_lookup() {
        let port = closed_port();
        let lookups = Arc::new(AtomicUsize::new(0));
        let counted = lookups.clone();
        let resolver = Resolver::new(move |_, port| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        });
        let mut addrs = start_resolver(resolver, &[("gw.example", port)]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(addrs[0].current(), crate::net::resolve::Lookup::Found(_)) {
            assert!(Instant::now() < deadline, "the first lookup never came");
            std::thread::sleep(Duration::from_millis(1));
        }
        let poll = mio::Poll::new().unwrap();
        let mut dialer = Dialer::new("gw.example", addrs[0].clone(), tls(), None, None);
        let dial = dialer.start(poll.registry(), Token(0), 0);
        match settle(&mut dialer, dial, &poll) {
            Dial::Failed(NetError::Io(_)) => {}
            other => panic!("{other:?}"),
        }
        while lookups.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "no fresh lookup was asked for");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn each_attempt_tries_the_next_address_until_one_gets_through() {
        let poll = mio::Poll::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let bad = SocketAddr::from(([127, 0, 0, 1], closed_port()));
        let mut dialer = Dialer::with_fixed_addresses("localhost", tls(), None);
        assert!(matches!(
            dialer.start(poll.registry(), Token(0), 0),
            Dial::Failed(NetError::Resolve { .. })
        ));
        dialer.set_addresses(vec![bad, good]);
        let dial = dialer.start(poll.registry(), Token(0), 0);
        assert!(
            matches!(settle(&mut dialer, dial, &poll), Dial::Failed(_)),
            "the bad one"
        );
        let peer = |dialer: &mut Dialer, token| {
            let dial = dialer.start(poll.registry(), Token(token), 0);
            match settle(dialer, dial, &poll) {
                // Connected: the TLS handshake has begun.
                Dial::Wait(Dialing::Handshaking { mut tls }) => tls.tcp_mut().peer_addr().ok(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(peer(&mut dialer, 1), Some(good), "then the next one");
        dialer.got_through();
        assert_eq!(
            peer(&mut dialer, 2),
            Some(good),
            "the address that got through is tried first again"
        );
    }
}
