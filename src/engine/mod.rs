//! The engine: a thread that owns the connection to the venue and turns cancel intents into
//! acks, and the [`Handle`] a strategy uses to talk to it.
//!
//! [`Engine::start`] spawns the engine thread (pinned to a core if configured), which connects,
//! logs in, and keeps the session alive: it reconnects with backoff and jitter when the
//! connection fails, pings on schedule, and paces every message to the venue's limits. Cancels
//! submitted with [`Handle::cancel`] go out as soon as the session and pacing allow; each gets
//! exactly one [`Outcome`]: acked, rejected by the venue, unknown (sent, no reply) or not sent.
//!
//! [`Engine::inline`] is the same engine without its thread: an [`InlineEngine`] the strategy
//! turns on its own thread with [`InlineEngine::poll`], whose [`InlineEngine::cancel`] writes the
//! frame before it returns and whose outcomes wait in a queue the strategy drains. One core
//! serves both (the reactor, which owns the poller, and the account, which conducts the pool):
//! the thread runner adds the thread, the idle strategy, the two rings and the waker around it.
//!
//! Host names are looked up on a resolver thread of their own ([`ConfigBuilder::resolver`]),
//! never on the engine thread.
//!
//! While busy (busy-spin, yield, and always inline) the engine reads the sockets of logged-in
//! connections directly and asks the poller only while a connection is being set up or has bytes
//! waiting to be written (see [`ConfigBuilder::direct_reads`]).
//!
//! Against the simulated venue (the live venue takes [`Credentials::from_env`], the default URL,
//! a pinned core and [`IdleStrategy::BusySpin`]):
//!
//! ```
//! use std::time::Duration;
//! use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
//! use bitget_cancel::outcome::Status;
//! use bitget_cancel::sim::{SimConfig, SimVenue};
//! use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let venue = SimVenue::start(SimConfig::default())?;
//! let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
//!
//! let config = Config::builder(Credentials::new("sim-key", "sim-secret", "sim-passphrase")?)
//!     .url(venue.url())
//!     .rest_url(venue.rest_url())
//!     .extra_root_ca_pem(venue.ca_pem())
//!     .idle(IdleStrategy::Backoff)
//!     .build()?;
//! let (engine, handle) = Engine::start(config)?;
//!
//! let cancel = Cancel::new(
//!     InstType::Spot,
//!     InstId::new("BTCUSDT")?,
//!     OrderRef::order_id(&order.order_id)?,
//! )
//! .with_tag(7);
//! let id = handle.cancel(cancel)?;
//! let outcome = handle.outcome_timeout(Duration::from_secs(10)).ok_or("no outcome")?;
//! assert_eq!((outcome.id, outcome.tag(), outcome.status), (id, 7, Status::Acked));
//! println!("round trip {:?} ns", outcome.times.round_trip_ns());
//! engine.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! [`Outcome`]: crate::Outcome

mod account;
mod config;
mod core;
mod handle;
mod inline;
mod link;
mod pacing;
mod plumbing;
mod reactor;
#[cfg(unix)]
mod ready;
mod runner;
mod shared;
mod uta_stats;
mod wire_id;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

pub use config::{Account, BatchBudget, DEMO_UTA_URL, LIVE_UTA_URL};
pub use config::{
    Config, ConfigBuilder, ConfigError, Confirm, Credentials, DEFAULT_BATCH_AFTER,
    DEFAULT_OUTCOME_SPIN, DEMO_URL, ENV_API_KEY, ENV_API_PASSPHRASE, ENV_API_SECRET, HedgeAfter,
    IdleStrategy, LIVE_URL, MAX_CONNECTIONS, ReconnectBackoff, Resolver,
};
pub use handle::{EngineShutdown, Handle, Outcomes, SubmitError, TryOutcomes};
pub use inline::{InlineEngine, InlineShutdown};
#[cfg(unix)]
pub use ready::{FinalReady, OutcomeReady};
pub use shared::{
    BatchStats, ConnectionStats, FinalStats, Pinning, RestPathStats, SessionError, SessionState,
    Stats,
};
pub use uta_stats::UnifiedStats;

/// The most sends one cancel gets: the first, then hedges and re-sends.
pub(crate) use account::inflight::MAX_ATTEMPTS as MAX_SENDS;

use account::Hosts;
use core::Core;
use reactor::{Reactor, WAKER};
use shared::Shared;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The TLS configuration could not be built (e.g. the extra root CA is not valid PEM).
    #[error("tls configuration: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The poller, its waker or the thread could not be created (out of file descriptors or
    /// threads).
    #[error("cannot start the engine thread: {0}")]
    Io(#[from] std::io::Error),
    /// The engine thread cannot be pinned to the configured core
    /// ([`ConfigBuilder::core`]): it does not exist, or it is not among the CPUs this process
    /// may run on (`taskset`, a cgroup's cpuset). Pick another core, or let the engine run
    /// unpinned when the core cannot be had ([`ConfigBuilder::core_optional`]).
    #[error(
        "cannot pin the engine thread to core {core}: {reason} (pick a core this process may use, \
         or allow running unpinned with ConfigBuilder::core_optional)"
    )]
    Pinning {
        /// The configured core.
        core: usize,
        /// Why not.
        reason: String,
    },
}

/// The running engine. Dropping it shuts it down like [`Engine::shutdown`].
pub struct Engine {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    waker: Option<Arc<mio::Waker>>,
    handle: Handle,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("state", &self.shared.state())
            .field("pinning", &self.shared.pinning())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl Engine {
    /// Spawns the engine thread, which pins itself to the configured core (if any) and starts
    /// connecting at once. Returns the engine (to stop it) and a handle (to submit cancels;
    /// clone it freely), once the thread runs where it was asked to.
    ///
    /// A core the machine cannot give the thread (one that does not exist, or is not among the
    /// CPUs this process may use) is [`StartError::Pinning`], unless the configuration says the
    /// core is optional ([`ConfigBuilder::core_optional`]).
    ///
    /// ```
    /// use bitget_cancel::engine::{Config, Credentials, Engine, StartError};
    ///
    /// // No machine gives a thread CPU 100000.
    /// let config = Config::builder(Credentials::new("key", "secret", "passphrase")?)
    ///     .core(100_000)
    ///     .build()?;
    /// match Engine::start(config) {
    ///     Err(StartError::Pinning { core: 100_000, reason }) => println!("not pinned: {reason}"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(config: Config) -> Result<(Engine, Handle), StartError> {
        let tls_config = crate::tls::client_config(config.extra_root_ca_pem.as_deref())?;
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = match config.idle {
            IdleStrategy::Backoff => Some(Arc::new(mio::Waker::new(poll.registry(), WAKER)?)),
            IdleStrategy::BusySpin | IdleStrategy::Yield => None,
        };
        let (intent_tx, intent_rx) = crossbeam_channel::bounded(config.intent_capacity);
        let (outcome_tx, outcome_rx) = crossbeam_channel::bounded(config.outcome_capacity);
        let (final_tx, final_rx) = match &config.confirm {
            Some(c) => {
                let (tx, rx) = crossbeam_channel::bounded(c.capacity);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared::new());
        let handle = Handle {
            intents: intent_tx,
            outcomes: outcome_rx,
            finals: final_rx,
            shared: shared.clone(),
            waker: waker.clone(),
            spin: config.outcome_spin,
        };
        let thread_shared = shared.clone();
        // The thread tells whether it got as far as running: pinned as asked, the resolver
        // thread started.
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel(1);
        let outcome_ring = plumbing::OutcomeRing::new(outcome_tx, shared.clone());
        let thread = std::thread::Builder::new()
            .name("bitget-cancel-engine".to_string())
            .spawn(move || {
                let hosts = match pin(&config).and_then(|pinning| {
                    thread_shared.set_pinning(pinning);
                    Hosts::resolve(&config).map_err(StartError::Io)
                }) {
                    Ok(hosts) => hosts,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(()));
                if let Some(hook) = config.on_thread_start {
                    hook();
                }
                // Built here, so every buffer is allocated on the engine thread.
                let mut account = account::Account::new(
                    &config,
                    0,
                    tls_config,
                    hosts,
                    registry,
                    thread_shared,
                    intent_rx,
                    outcome_ring,
                );
                if let Some(tx) = final_tx {
                    account.send_finals_to(tx);
                }
                let direct_reads = config.direct_reads && config.idle != IdleStrategy::Backoff;
                let core = Core::new(Reactor::new(poll, direct_reads), account);
                runner::run(core, config.idle);
            })?;
        let started = started_rx.recv();
        if !matches!(started, Ok(Ok(()))) {
            // The thread returned (or panicked) before it built anything.
            let _ = thread.join();
            shared.stopped.0.store(true, Ordering::SeqCst);
            return Err(match started {
                Ok(Err(e)) => e,
                _ => StartError::Io(std::io::Error::other(
                    "the engine thread ended before it started",
                )),
            });
        }
        let engine = Engine {
            shared,
            thread: Some(thread),
            waker,
            handle: handle.clone(),
        };
        Ok((engine, handle))
    }

    /// The engine without a thread: the same core, driven on the caller's thread by
    /// [`InlineEngine::poll`], with cancels going straight into the in-flight table and
    /// outcomes into a queue the caller drains (see [`InlineEngine`]). Connecting starts at the
    /// first poll.
    ///
    /// The idle strategy, the core and the thread-start hook of `config` do not apply.
    pub fn inline(config: Config) -> Result<InlineEngine, StartError> {
        let tls_config = crate::tls::client_config(config.extra_root_ca_pem.as_deref())?;
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let hosts = Hosts::resolve(&config)?;
        let shared = Arc::new(Shared::new());
        shared.set_pinning(Pinning::NotRequested);
        let account = account::Account::new(
            &config,
            0,
            tls_config,
            hosts,
            registry,
            shared.clone(),
            plumbing::CallerInserts,
            plumbing::OutcomeQueue::with_capacity(config.outcome_capacity),
        );
        let core = Core::new(Reactor::new(poll, config.direct_reads), account);
        Ok(InlineEngine::new(core, shared, config.outcome_spin))
    }

    /// Another handle to this engine.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Where the connection to the venue stands.
    pub fn state(&self) -> SessionState {
        self.shared.state()
    }

    /// The engine's counters.
    pub fn stats(&self) -> Stats {
        self.shared.counters.0.snapshot()
    }

    /// Why the last connection attempt or session failed, if one did.
    pub fn last_error(&self) -> Option<SessionError> {
        self.shared.last_error()
    }

    /// Whether the engine thread runs on its configured core.
    pub fn pinning(&self) -> Pinning {
        self.shared.pinning()
    }

    /// Stops the engine: refuses new intents ([`SubmitError::Stopped`]), reports intents not yet
    /// sent as not sent, waits up to the configured grace for replies to cancels in flight
    /// (then reports the rest unknown), closes the WebSocket with a close frame and joins the
    /// thread. Returns the final counters.
    ///
    /// The outcomes nobody has read yet, those shutdown decided included, stay in the handles:
    /// drain them with [`Handle::try_outcomes`] afterwards, or stop with
    /// [`Engine::shutdown_with_outcomes`], which hands them over.
    pub fn shutdown(mut self) -> Stats {
        self.stop();
        self.stats()
    }

    /// Stops like [`Engine::shutdown`], then takes every outcome not read yet (in the order they
    /// were decided) along with the final counters, like [`InlineEngine::shutdown`]: with the
    /// outcomes read before, exactly one per accepted intent. A handle that reads outcomes on
    /// another thread meanwhile may take some of them first; each is read once.
    ///
    /// ```
    /// use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
    /// use bitget_cancel::outcome::{NotSentReason, Status};
    /// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
    ///
    /// // Nothing listens on port 1: the cancel waits for a connection until shutdown.
    /// let config = Config::builder(Credentials::new("key", "secret", "passphrase")?)
    ///     .url("wss://127.0.0.1:1/v2/ws/private")
    ///     .no_rest()
    ///     .idle(IdleStrategy::Backoff)
    ///     .build()?;
    /// let (engine, handle) = Engine::start(config)?;
    /// handle.cancel(Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id("1")?))?;
    /// let stopped = engine.shutdown_with_outcomes();
    /// assert_eq!(stopped.outcomes.len(), 1);
    /// assert_eq!(stopped.outcomes[0].status, Status::NotSent(NotSentReason::Shutdown));
    /// assert_eq!(stopped.stats.not_sent, 1);
    /// assert!(handle.try_outcome().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_with_outcomes(mut self) -> EngineShutdown {
        self.stop();
        EngineShutdown {
            stats: self.stats(),
            outcomes: self.handle.try_outcomes().collect(),
            finals: self.handle.try_finals().collect(),
        }
    }

    fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared
            .shutdown_requested
            .store(true, Ordering::Release);
        if let Some(waker) = &self.waker {
            // If the wake-up fails the engine notices at its next timer, within a second.
            let _ = waker.wake();
        }
        if thread.join().is_err() {
            crate::relay::log_error!("the engine thread panicked");
            self.shared.stopped.0.store(true, Ordering::SeqCst);
            self.shared.set_state(SessionState::Stopped);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Linux's `CPU_SETSIZE`: the most CPUs an affinity mask can name.
const CPU_SET_SIZE: usize = 1024;

/// Pins the current thread as configured: where it runs, or why it cannot run there when the
/// core is required.
fn pin(config: &Config) -> Result<Pinning, StartError> {
    let Some(core) = config.core else {
        return Ok(Pinning::NotRequested);
    };
    match pin_to(core) {
        Ok(()) => Ok(Pinning::Pinned(core)),
        Err(reason) if config.core_optional => {
            crate::relay::log_warn!(
                "cannot pin the engine thread to core {core} ({reason}); running unpinned"
            );
            Ok(Pinning::Failed(core))
        }
        Err(reason) => Err(StartError::Pinning { core, reason }),
    }
}

/// Pins the current thread to `core`, or says why the kernel would not.
///
/// The kernel is the judge: it refuses a core that does not exist and one outside the
/// process's cpuset. A core outside the mask this thread inherited from the thread that called
/// [`Engine::start`] is fine (a strategy that pinned itself first narrowed that mask to its own
/// core), as long as the process may use it.
fn pin_to(core: usize) -> Result<(), String> {
    // core_affinity panics on ids beyond what an affinity mask can name.
    if core >= CPU_SET_SIZE {
        return Err(format!(
            "an affinity mask names CPUs 0 to {}",
            CPU_SET_SIZE - 1
        ));
    }
    let inherited = core_affinity::get_core_ids();
    if core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        return Ok(());
    }
    // On Linux, set_for_current's last call is sched_setaffinity: errno is its answer.
    let refused = match std::io::Error::last_os_error() {
        e if cfg!(target_os = "linux") && e.raw_os_error().is_some_and(|n| n != 0) => {
            format!("the kernel refused it ({e})")
        }
        _ => "the system refused it".to_string(),
    };
    Err(match inherited {
        Some(ids) if !ids.is_empty() => format!(
            "{refused}: no such core, or not one this process may use (the thread that started \
             the engine may run on CPUs {})",
            cpu_list(ids.iter().map(|c| c.id))
        ),
        _ => format!("{refused}: no such core, or not one this process may use"),
    })
}

/// CPU numbers as a list with ranges, the way `taskset -c` writes them: `0-3,6`.
fn cpu_list(ids: impl Iterator<Item = usize>) -> String {
    let mut ids: Vec<usize> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        while i + 1 < ids.len() && ids[i + 1] == ids[i] + 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if ids[i] == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{}", ids[i]));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cpu_list;

    #[test]
    fn cpu_lists_are_written_with_ranges() {
        assert_eq!(cpu_list([0, 1, 2, 3, 6].into_iter()), "0-3,6");
        assert_eq!(cpu_list([5, 1, 1].into_iter()), "1,5");
        assert_eq!(cpu_list(std::iter::empty()), "");
    }
}
