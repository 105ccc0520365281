//! The engine driven on the caller's thread: the same core as [`Engine::start`]'s thread,
//! turned one step at a time by [`InlineEngine::poll`], with no thread, ring or waker.
//!
//! [`Engine::start`]: super::Engine::start

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::Core;
use super::handle::{Submission, SubmitError};
use super::plumbing::{CallerInserts, OutcomeQueue};
use super::shared::{SessionError, SessionState, Shared, Stats};
use crate::clock::monotonic_ns;
use crate::final_word::FinalWord;
use crate::intent::{Cancel, CancelAll, RequestId};
use crate::outcome::Outcome;

/// The engine on the caller's thread, made by [`Engine::inline`](super::Engine::inline).
///
/// It is the threaded engine's core without the thread: [`InlineEngine::poll`] runs one
/// turn of it (read the sockets, advance the connections, send what pacing allows, expire what
/// waited too long, keep the pool), [`InlineEngine::cancel`] puts an intent straight into the
/// in-flight table and sends it at once when the session and pacing allow, and outcomes wait in
/// a queue of [`ConfigBuilder::outcome_capacity`](super::ConfigBuilder::outcome_capacity) slots,
/// allocated once, for [`InlineEngine::try_outcome`]. Pool, failover, hedging, pacing, rotation
/// and the one-outcome-per-intent rule are the threaded engine's own; nothing on the path of a
/// cancel allocates, blocks or takes a lock, and no read-modify-write atomic is touched (the
/// counters behind [`InlineEngine::stats`] are still published, with plain stores).
///
/// The caller owns the pace: nothing happens between calls. Call `poll` in the strategy's loop
/// (it never blocks; a turn with nothing to do costs one nonblocking `read(2)` per logged-in
/// connection); the waiting helpers ([`InlineEngine::outcome_timeout`],
/// [`InlineEngine::wait_live`], [`InlineEngine::poll_until`]) drive `poll` until they are done:
/// back to back for [`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin)
/// (default 1 ms), then, after a turn that found nothing to do, parked in the poller
/// (`epoll_wait`) until a socket event, the engine's next timer or their own deadline.
/// Keepalive, reconnects and timeouts only run while something polls or waits.
///
/// Settings that concern the engine thread do not apply: the idle strategy, the core (pin the
/// calling thread yourself) and the thread-start hook.
///
/// Against the simulated venue:
///
/// ```
/// use std::time::Duration;
/// use bitget_cancel::engine::{Config, Credentials, Engine};
/// use bitget_cancel::outcome::Status;
/// use bitget_cancel::sim::{SimConfig, SimVenue};
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let venue = SimVenue::start(SimConfig::default())?;
/// let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
///
/// let config = Config::builder(Credentials::new("sim-key", "sim-secret", "sim-passphrase")?)
///     .url(venue.url())
///     .rest_url(venue.rest_url())
///     .extra_root_ca_pem(venue.ca_pem())
///     .connections(1)
///     .build()?;
/// let mut engine = Engine::inline(config)?;
/// assert!(engine.wait_live(Duration::from_secs(10)), "{:?}", engine.last_error());
///
/// let cancel = Cancel::new(
///     InstType::Spot,
///     InstId::new("BTCUSDT")?,
///     OrderRef::order_id(&order.order_id)?,
/// );
/// let id = engine.cancel(cancel.with_tag(7))?; // written to the socket before it returns
/// let outcome = engine.outcome_timeout(Duration::from_secs(10)).ok_or("no outcome")?;
/// assert_eq!((outcome.id, outcome.tag(), outcome.status), (id, 7, Status::Acked));
/// println!("engine share {:?} ns", outcome.times.engine_share_ns());
///
/// let stopped = engine.shutdown();
/// assert_eq!(stopped.stats.acked, 1);
/// assert!(stopped.outcomes.is_empty());
/// # Ok(())
/// # }
/// ```
pub struct InlineEngine {
    core: Core<CallerInserts, OutcomeQueue>,
    shared: Arc<Shared>,
    /// How long the waiting helpers poll back to back before they park.
    spin: Duration,
    /// Shut down already: nothing left to do on drop.
    finished: bool,
}

/// What [`InlineEngine::shutdown`] leaves: the final counters and every outcome the caller had
/// not read yet, in the order they were decided.
#[derive(Debug, Clone)]
pub struct InlineShutdown {
    /// The engine's final counters.
    pub stats: Stats,
    /// Outcomes not yet read when shutdown began, then those shutdown decided.
    pub outcomes: Vec<Outcome>,
    /// Final words not yet read (with the final word on), then those shutdown decided.
    pub finals: Vec<FinalWord>,
}

impl fmt::Debug for InlineEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineEngine")
            .field("state", &self.shared.state())
            .field("core", &self.core)
            .field("ready_outcomes", &self.core.account.out.sink.len())
            .finish()
    }
}

impl InlineEngine {
    pub(crate) fn new(
        core: Core<CallerInserts, OutcomeQueue>,
        shared: Arc<Shared>,
        spin: Duration,
    ) -> Self {
        InlineEngine {
            core,
            shared,
            spin,
            finished: false,
        }
    }

    /// Takes a cancel and returns the id its outcome will carry: the caller's
    /// ([`Cancel::with_id`]), a label that never goes on the wire, or else the wire id of its
    /// first send. When a connection is live and
    /// pacing allows, the frame is sealed and written to the socket before this returns; else
    /// the intent waits, like the threaded engine's, for a later [`InlineEngine::poll`]. Never
    /// blocks and never allocates.
    ///
    /// A full in-flight table (see [`ConfigBuilder::max_pending`](super::ConfigBuilder::max_pending);
    /// outcomes that found the outcome queue full count too) hands the intent back as [`SubmitError::Full`]; after
    /// shutdown began, [`SubmitError::Stopped`]. Ids follow the rules of
    /// [`Handle::cancel`](super::Handle::cancel).
    // The error carries the intent by value, never boxed: see `Handle::cancel`.
    #[allow(clippy::result_large_err)]
    #[inline]
    pub fn cancel(&mut self, cancel: Cancel) -> Result<RequestId, SubmitError> {
        self.submit(cancel, false)
    }

    /// Submits a cancel-all on the caller's thread, as [`Handle::cancel_all`](super::Handle::cancel_all)
    /// does (same rules, same outcome); it goes out at the next [`poll`](Self::poll).
    #[allow(clippy::result_large_err)]
    pub fn cancel_all(&mut self, all: CancelAll) -> Result<RequestId, SubmitError> {
        self.submit(all.as_cancel(), true)
    }

    #[allow(clippy::result_large_err)]
    #[inline]
    fn submit(&mut self, cancel: Cancel, cancel_all: bool) -> Result<RequestId, SubmitError> {
        if self.finished {
            return Err(SubmitError::Stopped(cancel));
        }
        let (wire, wire_id) = self.core.next_wire_id();
        let id = cancel.id.unwrap_or(wire_id);
        let sub = Submission {
            id,
            wire,
            cancel,
            accepted_ns: monotonic_ns(),
            cancel_all,
        };
        match self.core.submit(sub) {
            Ok(()) => Ok(id),
            Err(true) => Err(SubmitError::Stopped(cancel)),
            Err(false) => Err(SubmitError::Full(cancel)),
        }
    }

    /// One turn of the engine; true if anything happened (a read, a step of a connection,
    /// a send, an outcome decided). Never blocks.
    #[inline]
    pub fn poll(&mut self) -> bool {
        if self.finished {
            return false;
        }
        self.core.do_work(Duration::ZERO)
    }

    /// The next outcome, if one is ready. Does not poll.
    #[inline]
    pub fn try_outcome(&mut self) -> Option<Outcome> {
        self.core.account.out.sink.pop()
    }

    /// How many outcomes wait to be read.
    pub fn ready_outcomes(&self) -> usize {
        self.core.account.out.sink.len()
    }

    /// The next final word, if one is ready (with the final word on; see
    /// [`Handle::try_final`](super::Handle::try_final)). Does not poll. Final words wait in a
    /// queue of [`Confirm::capacity`](super::Confirm::capacity), allocated once.
    #[inline]
    pub fn try_final(&mut self) -> Option<FinalWord> {
        self.core.account.pop_final()
    }

    /// How many final words wait to be read.
    pub fn ready_finals(&self) -> usize {
        self.core.account.ready_finals()
    }

    /// The next final word, polling until one is ready or `timeout` has passed, as
    /// [`InlineEngine::outcome_timeout`] waits for an outcome.
    pub fn final_timeout(&mut self, timeout: Duration) -> Option<FinalWord> {
        self.final_timeout_with_spin(timeout, self.spin)
    }

    /// [`InlineEngine::final_timeout`] with a spin of its own instead of the configured one,
    /// like [`InlineEngine::outcome_timeout_with_spin`].
    pub fn final_timeout_with_spin(
        &mut self,
        timeout: Duration,
        spin: Duration,
    ) -> Option<FinalWord> {
        self.wait(timeout, spin, InlineEngine::try_final)
    }

    /// Whether the final word is on ([`ConfigBuilder::confirm`](super::ConfigBuilder::confirm)).
    pub fn confirms(&self) -> bool {
        self.core.account.confirms()
    }

    /// The next outcome, polling until one is ready or `timeout` has passed: back to back for
    /// [`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin), then parked in the
    /// poller between turns (see [`InlineEngine`]).
    pub fn outcome_timeout(&mut self, timeout: Duration) -> Option<Outcome> {
        self.outcome_timeout_with_spin(timeout, self.spin)
    }

    /// [`InlineEngine::outcome_timeout`] with a spin of its own instead of the configured one
    /// (zero parks after the first idle turn). For a caller that waits in slices and spins in
    /// the first only.
    pub fn outcome_timeout_with_spin(
        &mut self,
        timeout: Duration,
        spin: Duration,
    ) -> Option<Outcome> {
        self.wait(timeout, spin, InlineEngine::try_outcome)
    }

    /// Polls until `done` holds (true) or `timeout` has passed (false). `done` is asked before
    /// the first turn and after each. Turns run back to back for
    /// [`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin), then park in the
    /// poller between turns (see [`InlineEngine`]): `done` must depend on the engine's state
    /// (it is asked after turns, not while parked).
    pub fn poll_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&InlineEngine) -> bool,
    ) -> bool {
        let spin = self.spin;
        self.wait(timeout, spin, |engine| done(engine).then_some(()))
            .is_some()
    }

    /// Polls until a connection is logged in (true), or `timeout` has passed or the venue
    /// refused the credentials (false; see [`InlineEngine::last_error`]), like
    /// [`Handle::wait_live`](super::Handle::wait_live).
    pub fn wait_live(&mut self, timeout: Duration) -> bool {
        self.poll_until(timeout, |e| {
            matches!(
                e.state(),
                SessionState::Live | SessionState::LoginRejected | SessionState::Stopped
            )
        });
        self.state() == SessionState::Live
    }

    /// Turns the loop until `ready` gives a value or `timeout` has passed: back to back for
    /// `spin`, then parked in the poller after each turn that found nothing to do, until a
    /// socket event, the engine's next timer or the deadline. `ready` is asked before the first
    /// turn and after each.
    fn wait<T>(
        &mut self,
        timeout: Duration,
        spin: Duration,
        mut ready: impl FnMut(&mut InlineEngine) -> Option<T>,
    ) -> Option<T> {
        let started = Instant::now();
        // `None`: no deadline (a timeout too long to add to now).
        let deadline = started.checked_add(timeout);
        let spin = spin.min(timeout);
        loop {
            if let Some(value) = ready(self) {
                return Some(value);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) => d.saturating_duration_since(now),
                None => Duration::MAX,
            };
            if self.finished || left.is_zero() {
                return None;
            }
            // A turn that did something may have left bytes to read (a direct read takes one
            // chunk per turn): park only after a turn that found nothing.
            if !self.poll() && now.duration_since(started) >= spin {
                self.park(left);
            }
        }
    }

    /// Waits in the poller for a socket event, up to the engine's next timer or `most`,
    /// whichever is first, then runs the turn.
    fn park(&mut self, most: Duration) {
        let now = monotonic_ns();
        let most_ns = u64::try_from(most.as_nanos()).unwrap_or(u64::MAX);
        let until = self.core.next_deadline(now, now.saturating_add(most_ns));
        let wait = Duration::from_nanos(until.saturating_sub(now)).min(most);
        self.core.do_work(wait);
    }

    /// Where the connections to the venue stand.
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

    /// Stops like [`Engine::shutdown`](super::Engine::shutdown), on this thread: refuses new
    /// intents, reports those not yet sent as not sent, polls until the cancels in flight are
    /// answered or the shutdown grace is over (the rest are reported unknown), closes every
    /// connection with a close frame. Returns the final counters and every outcome not read
    /// yet: with those read before, exactly one per accepted intent.
    pub fn shutdown(mut self) -> InlineShutdown {
        let outcomes = self.stop();
        let mut finals = Vec::with_capacity(self.ready_finals());
        while let Some(w) = self.core.account.pop_final() {
            finals.push(w);
        }
        while let Some(w) = self.shared.pop_late_final() {
            finals.push(w);
        }
        InlineShutdown {
            stats: self.stats(),
            outcomes,
            finals,
        }
    }

    fn stop(&mut self) -> Vec<Outcome> {
        if self.finished {
            return Vec::new();
        }
        self.core.request_shutdown();
        while !self.core.is_finished() {
            if !self.core.do_work(Duration::ZERO) {
                std::hint::spin_loop();
            }
        }
        self.core.finish();
        self.finished = true;
        let mut outcomes = Vec::with_capacity(self.core.account.out.sink.len());
        while let Some(o) = self.core.account.out.sink.pop() {
            outcomes.push(o);
        }
        while let Some(o) = self.shared.pop_late_outcome() {
            outcomes.push(o);
        }
        outcomes
    }
}

impl Drop for InlineEngine {
    /// Shuts down like [`InlineEngine::shutdown`]; the outcomes nobody read are logged as
    /// discarded.
    fn drop(&mut self) {
        let left = self.stop();
        if !left.is_empty() {
            crate::relay::log_warn!(
                "inline engine dropped with {} outcomes unread; use shutdown() to get them",
                left.len()
            );
        }
    }
}
