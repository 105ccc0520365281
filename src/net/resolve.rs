//! Host names turned into addresses on a thread of their own, never on the engine thread.
//!
//! A resolver thread owns every lookup ([`Resolver`], the system's `getaddrinfo` unless the
//! configuration names another). The engine thread only reads what it found, through a
//! [`HostAddrs`] per connection: an atomic version check per connection attempt, and a
//! `try_lock` (never a wait) when a new answer came. It asks for a fresh lookup after a failed
//! connect ([`HostAddrs::refresh`], a nonblocking send), and the thread looks every host up again
//! every [`REFRESH_EVERY`] on its own, so a venue that moves its gateways is followed.
//!
//! The thread ends once the last [`HostAddrs`] is dropped (its lookups run to their end first,
//! it is never joined: a stuck resolver never holds up shutdown).

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// How often every host is looked up again, whatever happened.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

type ResolveFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// How host names become addresses: the system resolver by default, or a function of the
/// caller's (a resolver of its own, fixed addresses, a test double).
///
/// It always runs on a thread of its own, never on the engine thread, so it may block as long
/// as it likes: connections already logged in keep sending. It is called with the host and port
/// of each endpoint (and of the REST host) when the engine starts, again after a connection
/// attempt to that host failed, and every five minutes.
///
/// ```
/// use std::net::SocketAddr;
/// use bitget_cancel::engine::{Config, Credentials, Resolver};
///
/// // Every name resolves to one fixed gateway.
/// let gateway: SocketAddr = "127.0.0.1:8443".parse()?;
/// let resolver = Resolver::new(move |_host, _port| Ok(vec![gateway]));
/// assert_eq!(resolver.resolve("ws.bitget.com", 443)?, vec![gateway]);
///
/// let config = Config::builder(Credentials::new("key", "secret", "pass")?)
///     .resolver(resolver)
///     .build()?;
/// # let _ = config;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Resolver {
    lookup: Arc<ResolveFn>,
    system: bool,
}

impl Resolver {
    /// The system resolver (`getaddrinfo`, through [`std::net::ToSocketAddrs`]). The default.
    pub fn system() -> Self {
        Resolver {
            lookup: Arc::new(|host: &str, port: u16| {
                (host, port).to_socket_addrs().map(Iterator::collect)
            }),
            system: true,
        }
    }

    /// A resolver that calls `lookup(host, port)`; an empty list counts as a failure.
    pub fn new(
        lookup: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        Resolver {
            lookup: Arc::new(lookup),
            system: false,
        }
    }

    /// Looks `host` up, on the calling thread.
    pub fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        (self.lookup)(host, port)
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::system()
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.system {
            "Resolver(system)"
        } else {
            "Resolver(custom)"
        })
    }
}

/// What the thread last found for one host.
#[derive(Debug, Default)]
struct Found {
    addrs: Arc<[SocketAddr]>,
    /// Why the last lookup failed, if it did (the addresses are then the last good ones).
    error: Option<Arc<str>>,
}

/// One host, shared by the thread (which writes) and the connections to it (which read).
#[derive(Debug)]
struct Host {
    name: String,
    port: u16,
    found: Mutex<Found>,
    /// Bumped after every lookup, failed or not.
    version: AtomicU64,
    /// A lookup was asked for and has not finished: asking again adds nothing.
    wanted: AtomicBool,
}

/// Where one connection finds the addresses of its host. Cheap to clone (one per connection).
#[derive(Debug, Clone)]
pub(crate) struct HostAddrs {
    host: Arc<Host>,
    index: usize,
    requests: Sender<usize>,
    /// The version last read, and what it said.
    seen: u64,
    addrs: Arc<[SocketAddr]>,
    error: Option<Arc<str>>,
}

/// What [`HostAddrs::current`] knows.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// Addresses to try (possibly from before a failed lookup).
    Found(&'a [SocketAddr]),
    /// No answer yet.
    Pending,
    /// The lookups so far failed and found nothing.
    Failed(&'a str),
}

impl HostAddrs {
    /// The latest addresses the thread found. Never blocks: a new answer is read with a
    /// `try_lock`, and while the thread holds the lock the previous answer stands.
    pub(crate) fn current(&mut self) -> Lookup<'_> {
        let version = self.host.version.load(Ordering::Acquire);
        if version != self.seen
            && let Ok(found) = self.host.found.try_lock()
        {
            self.addrs = found.addrs.clone();
            self.error = found.error.clone();
            self.seen = version;
        }
        match (&self.error, self.addrs.is_empty()) {
            (_, false) => Lookup::Found(&self.addrs),
            (Some(error), true) => Lookup::Failed(error),
            (None, true) => Lookup::Pending,
        }
    }

    /// Asks the thread to look the host up again (a connect to it failed). Never blocks.
    pub(crate) fn refresh(&self) {
        if !self.host.wanted.swap(true, Ordering::AcqRel) {
            // Room for one request per host: a full queue cannot happen, a stopped thread
            // changes nothing.
            let _ = self.requests.try_send(self.index);
        }
    }
}

/// Starts the resolver thread for `hosts` (`(name, port)`, duplicates allowed) and returns
/// where each one's addresses will be, in the same order. Every host is looked up at once; an
/// IP address is known without a lookup.
pub(crate) fn start(resolver: Resolver, hosts: &[(&str, u16)]) -> io::Result<Vec<HostAddrs>> {
    start_with(resolver, hosts, REFRESH_EVERY)
}

fn start_with(
    resolver: Resolver,
    hosts: &[(&str, u16)],
    refresh_every: Duration,
) -> io::Result<Vec<HostAddrs>> {
    let mut unique: Vec<Arc<Host>> = Vec::new();
    let mut slots = Vec::with_capacity(hosts.len());
    for &(name, port) in hosts {
        let at = match unique.iter().position(|h| h.name == name && h.port == port) {
            Some(at) => at,
            None => {
                let found = match literal(name, port) {
                    Some(addr) => Found {
                        addrs: Arc::from([addr]),
                        error: None,
                    },
                    None => Found::default(),
                };
                unique.push(Arc::new(Host {
                    name: name.to_owned(),
                    port,
                    found: Mutex::new(found),
                    version: AtomicU64::new(1),
                    wanted: AtomicBool::new(true),
                }));
                unique.len() - 1
            }
        };
        slots.push(at);
    }
    let (requests, inbox) = crossbeam_channel::bounded(unique.len().max(1));
    let thread_hosts = unique.clone();
    std::thread::Builder::new()
        .name("bitget-cancel-resolver".to_owned())
        .spawn(move || run(resolver, thread_hosts, inbox, refresh_every))?;
    Ok(slots
        .into_iter()
        .map(|at| HostAddrs {
            host: unique[at].clone(),
            index: at,
            requests: requests.clone(),
            seen: 0,
            addrs: Arc::from([]),
            error: None,
        })
        .collect())
}

/// An address written as an IP literal (`127.0.0.1`, `::1`) needs no lookup.
fn literal(name: &str, port: u16) -> Option<SocketAddr> {
    name.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// The thread: every host at once, then each as asked, and all again every `refresh_every`.
fn run(resolver: Resolver, hosts: Vec<Arc<Host>>, inbox: Receiver<usize>, refresh_every: Duration) {
    for host in &hosts {
        look_up(&resolver, host);
    }
    let mut next_round = Instant::now() + refresh_every;
    loop {
        let wait = next_round.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(wait) {
            Ok(index) => {
                if let Some(host) = hosts.get(index) {
                    look_up(&resolver, host);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                for host in &hosts {
                    look_up(&resolver, host);
                }
                next_round = Instant::now() + refresh_every;
            }
            // Every connection is gone: so is the engine.
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn look_up(resolver: &Resolver, host: &Host) {
    // Cleared first: a request made while this lookup runs gets a lookup of its own.
    host.wanted.store(false, Ordering::Release);
    if literal(&host.name, host.port).is_some() {
        return;
    }
    let result = resolver.resolve(&host.name, host.port);
    let mut found = match host.found.lock() {
        Ok(found) => found,
        Err(poisoned) => poisoned.into_inner(),
    };
    match result {
        Ok(addrs) if !addrs.is_empty() => {
            found.addrs = Arc::from(addrs);
            found.error = None;
        }
        Ok(_) => found.error = Some(Arc::from("no addresses")),
        Err(e) => {
            log::warn!("cannot resolve {}: {e}", host.name);
            found.error = Some(Arc::from(e.to_string()));
        }
    }
    drop(found);
    host.version.fetch_add(1, Ordering::AcqRel);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "gave up waiting: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn found(addrs: &mut HostAddrs) -> Option<Vec<SocketAddr>> {
        match addrs.current() {
            Lookup::Found(a) => Some(a.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn ip_literals_are_known_at_once_and_names_once_the_thread_answers() {
        let resolver = Resolver::new(|_, port| Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))]));
        let mut hosts = start(resolver, &[("127.0.0.1", 8443), ("gw.example", 443)]).unwrap();
        assert_eq!(
            found(&mut hosts[0]),
            Some(vec!["127.0.0.1:8443".parse().unwrap()])
        );
        wait_for("the name resolves", || found(&mut hosts[1]).is_some());
        assert_eq!(
            found(&mut hosts[1]),
            Some(vec!["10.0.0.1:443".parse().unwrap()])
        );
    }

    #[test]
    fn a_slow_lookup_never_blocks_the_reader() {
        let (release, gate) = crossbeam_channel::bounded::<()>(0);
        let resolver = Resolver::new(move |_, port| {
            let _ = gate.recv_timeout(Duration::from_secs(10));
            Ok(vec![SocketAddr::from(([10, 0, 0, 2], port))])
        });
        let mut hosts = start(resolver, &[("slow.example", 443)]).unwrap();
        let started = Instant::now();
        for _ in 0..1000 {
            assert!(matches!(hosts[0].current(), Lookup::Pending));
            hosts[0].refresh();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "reads never wait"
        );
        release.send(()).unwrap();
        wait_for("the lookup lands", || found(&mut hosts[0]).is_some());
    }

    #[test]
    fn a_refresh_picks_up_changed_addresses_and_a_failure_keeps_the_last_good_ones() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let resolver = Resolver::new(
            move |_, port| match counted.fetch_add(1, Ordering::SeqCst) {
                0 => Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))]),
                1 => Ok(vec![SocketAddr::from(([10, 0, 0, 9], port))]),
                _ => Err(io::Error::other("resolver down")),
            },
        );
        let mut hosts = start(resolver, &[("gw.example", 443)]).unwrap();
        wait_for("the first answer", || found(&mut hosts[0]).is_some());
        hosts[0].refresh();
        wait_for("the changed address", || {
            found(&mut hosts[0]) == Some(vec!["10.0.0.9:443".parse().unwrap()])
        });
        hosts[0].refresh();
        wait_for("the failed lookup", || calls.load(Ordering::SeqCst) >= 3);
        wait_for("the failure is read", || {
            let _ = hosts[0].current();
            hosts[0].error.is_some()
        });
        assert_eq!(
            found(&mut hosts[0]),
            Some(vec!["10.0.0.9:443".parse().unwrap()]),
            "a failed lookup keeps the last good addresses"
        );
    }

    #[test]
    fn every_host_is_looked_up_again_on_a_timer() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let resolver = Resolver::new(move |_, port| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(vec![SocketAddr::from(([10, 0, 0, 1], port))])
        });
        let _hosts = start_with(
            resolver,
            &[("a.example", 1), ("b.example", 2)],
            Duration::from_millis(20),
        )
        .unwrap();
        wait_for("two rounds over both hosts", || {
            calls.load(Ordering::SeqCst) >= 4
        });
    }

    #[test]
    fn a_name_that_never_resolves_reports_why() {
        let resolver = Resolver::new(|_, _| Err(io::Error::other("no such host")));
        let mut hosts = start(resolver, &[("nowhere.example", 443)]).unwrap();
        wait_for(
            "the failure",
            || matches!(hosts[0].current(), Lookup::Failed(why) if why.contains("no such host")),
        );
    }
}
