//! The strategy's side of the engine: submit cancels, read outcomes, watch the session.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::shared::{Pinning, SessionError, SessionState, Shared, Stats};
use crate::clock::monotonic_ns;
use crate::final_word::FinalWord;
use crate::intent::{Cancel, CancelAll, RequestId};
use crate::outcome::Outcome;

/// An intent on its way to the engine thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Submission {
    /// What the outcome is labelled with: the caller's id, or the first send's wire id.
    pub id: RequestId,
    /// The send number of the first attempt.
    pub wire: u64,
    pub cancel: Cancel,
    pub accepted_ns: u64,
    /// A cancel-all ([`CancelAll`], carried as [`CancelAll::as_cancel`]) rather than a cancel.
    pub cancel_all: bool,
}

/// A cancel that was not accepted; the intent is handed back, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The intent ring is full: the engine is behind (or paced, or not connected). Retry later,
    /// or give up on this intent.
    #[error("the intent ring is full")]
    Full(Cancel),
    /// The engine is shutting down or stopped: no new intents.
    #[error("the engine is stopped")]
    Stopped(Cancel),
}

impl SubmitError {
    /// The intent that was not accepted.
    pub fn into_cancel(self) -> Cancel {
        match self {
            SubmitError::Full(c) | SubmitError::Stopped(c) => c,
        }
    }
}

/// Submits cancels to the engine and reads their outcomes. Cheap to clone and `Send`; every
/// clone feeds the same engine and reads from the same outcome ring (each outcome is read once,
/// by whichever clone asks first).
///
/// Made by [`crate::Engine::start`].
#[derive(Clone)]
pub struct Handle {
    pub(crate) intents: Sender<Submission>,
    pub(crate) outcomes: Receiver<Outcome>,
    /// The final words, while the final word is on.
    pub(crate) finals: Option<Receiver<FinalWord>>,
    pub(crate) shared: Arc<Shared>,
    /// Present only with the park idle strategy: busy-spin and yield never pay for a wake-up.
    pub(crate) waker: Option<Arc<mio::Waker>>,
    /// How long a blocking wait for an outcome spins before it parks
    /// ([`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin)).
    pub(crate) spin: Duration,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("state", &self.state())
            .field("queued_intents", &self.intents.len())
            .field("ready_outcomes", &self.outcomes.len())
            .field("ready_finals", &self.finals.as_ref().map(Receiver::len))
            .field("wakes_engine", &self.waker.is_some())
            .field("outcome_spin", &self.spin)
            .finish()
    }
}

impl Handle {
    /// Queues a cancel for the engine thread and returns the id its outcome will carry: the
    /// caller's ([`Cancel::with_id`]) if it has one, else the wire id of its first send. Never
    /// blocks and never allocates; the outcome comes back later on the outcome ring.
    ///
    /// The intent's fields were checked when the [`Cancel`] was built. A full ring or a stopped
    /// engine hands the intent back in the error.
    ///
    /// Every send of a cancel goes out under a wire id of the engine's own, never used before
    /// (a random prefix drawn when the engine was built, then a counter: `k3Xw9QpZ:17`), and a
    /// reply is matched by that id alone. A caller's id is a label: it never goes on the wire,
    /// any number of intents may carry the same one, and it comes back in the outcome as given.
    // The error carries the intent by value (about 190 bytes) so that it is never lost; boxing
    // it would allocate on the hot path.
    #[allow(clippy::result_large_err)]
    pub fn cancel(&self, cancel: Cancel) -> Result<RequestId, SubmitError> {
        self.submit(cancel, false)
    }

    /// Queues a cancel-all: every open order of the account on `inst_type`, or on one symbol
    /// of it (`inst_id`; spot requires one and is refused without it, `InvalidField` before
    /// anything is queued). It goes over REST ahead of every waiting cancel, in the account's
    /// API under its endpoint's own budget: a classic account's V2 futures `cancel-all-orders`
    /// (10 a second) or spot `cancel-symbol-order` (5), a unified account's V3
    /// `cancel-symbol-order` (`{"category":"USDT-FUTURES"}`, optional `"symbol"`; 5 a second).
    /// Its outcome comes on the outcome ring with [`Outcome::cancel_all`] set: acked (V2 spot:
    /// accepted, carried out by the venue afterwards) or rejected, with the venue's counts
    /// where it gives them (V2 futures' lists; V3's list, each entry by its own code). Refused
    /// for the account's kind (40085 from V2, 40084 from V3), it is sent again in the other
    /// API within its sends and ack timeout.
    ///
    /// Cancels of that scope already waiting, or submitted after it, are still sent: a cancel
    /// is safe to repeat, and the venue answers one whose order the cancel-all took with "the
    /// order does not exist". Without a REST connection (`no_rest`) the cancel-all is not sent
    /// (`NoConnection`).
    ///
    /// ```no_run
    /// # fn demo(handle: &bitget_cancel::Handle) -> Result<(), Box<dyn std::error::Error>> {
    /// use bitget_cancel::{CancelAll, InstId, InstType};
    /// let id = handle.cancel_all(CancelAll::new(InstType::UsdtFutures, None)?)?;
    /// handle.cancel_all(CancelAll::new(InstType::Spot, Some(InstId::new("BTCUSDT")?))?)?;
    /// # let _ = id; Ok(()) }
    /// ```
    #[allow(clippy::result_large_err)]
    pub fn cancel_all(&self, all: CancelAll) -> Result<RequestId, SubmitError> {
        self.submit(all.as_cancel(), true)
    }

    #[allow(clippy::result_large_err)]
    #[inline]
    fn submit(&self, cancel: Cancel, cancel_all: bool) -> Result<RequestId, SubmitError> {
        let shared = &*self.shared;
        // Announce the submission before checking `stopped`: shutdown sets `stopped` and then
        // waits for `submitting` to reach zero before it drains the ring, so an intent is either
        // refused here or drained there, never stranded in a ring nobody reads.
        shared.submit.0.submitting.fetch_add(1, Ordering::SeqCst);
        if shared.stopped.0.load(Ordering::SeqCst) {
            shared.submit.0.submitting.fetch_sub(1, Ordering::SeqCst);
            return Err(SubmitError::Stopped(cancel));
        }
        let wire = shared.submit.0.next_id.fetch_add(1, Ordering::Relaxed);
        let id = match cancel.id {
            Some(id) => id,
            None => shared.wire_ids.id(wire),
        };
        let pushed = self.intents.try_send(Submission {
            id,
            wire,
            cancel,
            accepted_ns: monotonic_ns(),
            cancel_all,
        });
        shared.submit.0.submitting.fetch_sub(1, Ordering::SeqCst);
        match pushed {
            Ok(()) => {
                if let Some(waker) = &self.waker {
                    // Pairs with the engine's fence between setting `parked` and looking at the
                    // ring one last time: either it sees this intent or this sees `parked`.
                    fence(Ordering::SeqCst);
                    if shared.engine.0.parked.load(Ordering::Relaxed) {
                        // A failed wake-up leaves the engine to its next timer, at most a
                        // second away: nothing to report to the caller.
                        let _ = waker.wake();
                    }
                }
                Ok(id)
            }
            Err(TrySendError::Full(s)) => Err(SubmitError::Full(s.cancel)),
            Err(TrySendError::Disconnected(s)) => Err(SubmitError::Stopped(s.cancel)),
        }
    }

    /// The next outcome, if one is ready. Never blocks.
    pub fn try_outcome(&self) -> Option<Outcome> {
        match self.outcomes.try_recv() {
            Ok(o) => Some(o),
            Err(_) => self.shared.pop_late_outcome(),
        }
    }

    /// The next outcome, waiting up to `timeout` for one: watching the ring for up to
    /// [`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin) (default 1 ms; the
    /// core is offered to other threads between looks), then parked until the engine hands one
    /// over. An outcome that lands within the spin reaches the caller within a microsecond; a
    /// parked thread takes tens of microseconds to wake.
    pub fn outcome_timeout(&self, timeout: Duration) -> Option<Outcome> {
        self.outcome_timeout_with_spin(timeout, self.spin)
    }

    /// [`Handle::outcome_timeout`] with a spin of its own instead of the configured one (at most
    /// `timeout`; zero parks at once). For a caller that waits in slices, for example to look
    /// for a signal between them, and spins in the first only.
    pub fn outcome_timeout_with_spin(&self, timeout: Duration, spin: Duration) -> Option<Outcome> {
        if let Some(o) = self.try_outcome() {
            return Some(o);
        }
        let started = Instant::now();
        if let Some(o) = self.spin_for(spin.min(timeout), started) {
            return Some(o);
        }
        match self
            .outcomes
            .recv_timeout(timeout.saturating_sub(started.elapsed()))
        {
            Ok(o) => Some(o),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                self.shared.pop_late_outcome()
            }
        }
    }

    /// How long a blocking wait spins before it parks (the configured
    /// [`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin)).
    pub fn outcome_spin(&self) -> Duration {
        self.spin
    }

    /// Watches the ring until an outcome comes or `spin` has passed since `started`, offering
    /// the core to any other runnable thread (`sched_yield`) between every few looks: an engine
    /// thread that parks (`IdleStrategy::Backoff`) may be woken onto this very core, and a
    /// waiter that only spun would keep it off the core for the whole spin (measured on two
    /// busy cores: tick-to-wire grew to the spin, 0.2 ms for 0.2 ms, 1 ms for 1 ms).
    fn spin_for(&self, spin: Duration, started: Instant) -> Option<Outcome> {
        spin_on(spin, started, || self.try_outcome())
    }

    /// A descriptor that becomes readable when an outcome is ready, for an event loop that
    /// cannot wait on the ring (asyncio, tokio's `AsyncFd`, mio, `poll(2)`); see
    /// [`OutcomeReady`](super::OutcomeReady) for the consumer's turn. Created by the first call
    /// (an `eventfd` on Linux, a socket pair elsewhere); every later call, on any clone, shares
    /// it. Until then the engine pays nothing for it; afterwards one fence per outcome, and one
    /// `write(2)` per outcome that finds the consumer waiting. Unix only.
    ///
    /// # Errors
    ///
    /// The descriptor cannot be created (out of file descriptors).
    #[cfg(unix)]
    pub fn outcome_ready(&self) -> std::io::Result<super::OutcomeReady> {
        super::OutcomeReady::new(self.shared.clone(), self.outcomes.clone())
    }

    /// Outcomes as they come, blocking for each (spinning first, like
    /// [`Handle::outcome_timeout`]); ends once the engine has stopped and every outcome was read.
    pub fn outcomes(&self) -> Outcomes<'_> {
        Outcomes { handle: self }
    }

    /// The outcomes ready now, without blocking.
    pub fn try_outcomes(&self) -> TryOutcomes<'_> {
        TryOutcomes { handle: self }
    }

    /// The next final word, if one is ready (with the final word on:
    /// [`ConfigBuilder::confirm`](super::ConfigBuilder::confirm); `None` always while it is
    /// off). Never blocks. Every intent that was sent (acked, rejected or unknown) gets exactly
    /// one, after its outcome: whether the order is cancelled, filled, still live, or
    /// unconfirmed, with the filled size as the venue wrote it. Final words come on a ring of
    /// their own, in the order they are known (not the order of the cancels).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bitget_cancel::engine::{Config, Confirm, Credentials, Engine, IdleStrategy};
    /// use bitget_cancel::final_word::{FinalSource, FinalState};
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    /// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    /// let config = Config::builder(Credentials::new("sim-key", "sim-secret", "sim-passphrase")?)
    ///     .url(venue.url())
    ///     .rest_url(venue.rest_url())
    ///     .extra_root_ca_pem(venue.ca_pem())
    ///     .idle(IdleStrategy::Backoff)
    ///     .confirm(Confirm::default())
    ///     .build()?;
    /// let (engine, handle) = Engine::start(config)?;
    /// assert!(handle.wait_live(Duration::from_secs(10)));
    /// let id = handle.cancel(Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id(&order.order_id)?))?;
    /// let outcome = handle.outcome_timeout(Duration::from_secs(10)).ok_or("no outcome")?;
    /// let word = handle.final_timeout(Duration::from_secs(10)).ok_or("no final word")?;
    /// assert_eq!((word.id, outcome.id), (id, id));
    /// assert_eq!((word.state, word.source), (FinalState::Cancelled, Some(FinalSource::Push)));
    /// println!("filled {:?}, {} ns after the reply", word.filled, word.times.since_settled_ns());
    /// engine.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_final(&self) -> Option<FinalWord> {
        let finals = self.finals.as_ref()?;
        match finals.try_recv() {
            Ok(w) => Some(w),
            Err(_) => self.shared.pop_late_final(),
        }
    }

    /// The next final word, waiting up to `timeout` for one (`None` at once while the final
    /// word is off): watching the ring for
    /// [`ConfigBuilder::outcome_spin`](super::ConfigBuilder::outcome_spin) first, then parked,
    /// like [`Handle::outcome_timeout`].
    pub fn final_timeout(&self, timeout: Duration) -> Option<FinalWord> {
        self.final_timeout_with_spin(timeout, self.spin)
    }

    /// [`Handle::final_timeout`] with a spin of its own instead of the configured one (at most
    /// `timeout`; zero parks at once), like [`Handle::outcome_timeout_with_spin`].
    pub fn final_timeout_with_spin(&self, timeout: Duration, spin: Duration) -> Option<FinalWord> {
        let finals = self.finals.as_ref()?;
        if let Some(w) = self.try_final() {
            return Some(w);
        }
        let started = Instant::now();
        if let Some(w) = spin_on(spin.min(timeout), started, || self.try_final()) {
            return Some(w);
        }
        match finals.recv_timeout(timeout.saturating_sub(started.elapsed())) {
            Ok(w) => Some(w),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                self.shared.pop_late_final()
            }
        }
    }

    /// Whether the final word is on ([`ConfigBuilder::confirm`](super::ConfigBuilder::confirm)):
    /// false means no final word ever comes.
    pub fn confirms(&self) -> bool {
        self.finals.is_some()
    }

    /// A descriptor that becomes readable when a final word is ready, for an event loop: the
    /// final-word ring's [`Handle::outcome_ready`] (see [`FinalReady`](super::FinalReady)).
    /// Created by the first call; every later call, on any clone, shares it. Unix only.
    ///
    /// # Errors
    ///
    /// The final word is off (`ErrorKind::Unsupported`: no final word would ever make it
    /// readable), or the descriptor cannot be created (out of file descriptors).
    #[cfg(unix)]
    pub fn final_ready(&self) -> std::io::Result<super::FinalReady> {
        let finals = self.finals.as_ref().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "the final word is off (ConfigBuilder::confirm)",
            )
        })?;
        super::FinalReady::new(self.shared.clone(), finals.clone())
    }

    /// The final words ready now, without blocking.
    pub fn try_finals(&self) -> impl Iterator<Item = FinalWord> + '_ {
        std::iter::from_fn(|| self.try_final())
    }

    /// Where the connection to the venue stands.
    pub fn state(&self) -> SessionState {
        self.shared.state()
    }

    /// Waits until a connection is logged in (true), or `timeout` has passed, the venue refused
    /// the credentials on every connection or the engine stopped (false; see
    /// [`Handle::last_error`]). The thread parks meanwhile (no polling); the engine wakes it
    /// when its state changes.
    ///
    /// Cancels may be submitted before: they wait for a path to the venue (up to the maximum
    /// queueing time), the first WebSocket login rather than REST (see
    /// [`ConfigBuilder::rest`](super::ConfigBuilder::rest)). Waiting first keeps the first round
    /// trips from measuring connection set-up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// let config = Config::builder(Credentials::new("sim-key", "sim-secret", "sim-passphrase")?)
    ///     .url(venue.url())
    ///     .rest_url(venue.rest_url())
    ///     .extra_root_ca_pem(venue.ca_pem())
    ///     .idle(IdleStrategy::Backoff)
    ///     .build()?;
    /// let (engine, handle) = Engine::start(config)?;
    /// assert!(handle.wait_live(Duration::from_secs(10)), "{:?}", handle.last_error());
    /// assert!(handle.state().is_live());
    /// engine.shutdown();
    /// assert!(!handle.wait_live(Duration::from_secs(10)), "a stopped engine answers at once");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_live(&self, timeout: Duration) -> bool {
        let settled = self.shared.wait_for_state(timeout, |state| {
            matches!(
                state,
                SessionState::Live | SessionState::LoginRejected | SessionState::Stopped
            )
        });
        settled == Some(SessionState::Live)
    }

    /// Why the last connection attempt or session failed, if one did.
    pub fn last_error(&self) -> Option<SessionError> {
        self.shared.last_error()
    }

    /// The engine's counters.
    pub fn stats(&self) -> Stats {
        self.shared.counters.0.snapshot()
    }

    /// Whether the engine thread runs on its configured core.
    pub fn pinning(&self) -> Pinning {
        self.shared.pinning()
    }

    /// Whether the engine has stopped taking intents.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.0.load(Ordering::Acquire)
    }
}

/// How many times a spinning wait looks at the ring between two reads of the clock.
const SPINS_PER_CLOCK_READ: u32 = 16;

/// Looks (`look`) until it gives something or `spin` has passed since `started`, offering the
/// core to other threads between every few looks (see [`Handle::spin_for`]).
fn spin_on<T>(spin: Duration, started: Instant, mut look: impl FnMut() -> Option<T>) -> Option<T> {
    if spin.is_zero() {
        return None;
    }
    loop {
        // A clock read every few looks: the ring's emptiness is two loads, the clock more.
        for _ in 0..SPINS_PER_CLOCK_READ {
            if let Some(item) = look() {
                return Some(item);
            }
            std::hint::spin_loop();
        }
        if started.elapsed() >= spin {
            return None;
        }
        std::thread::yield_now();
    }
}

/// What [`Engine::shutdown_with_outcomes`](crate::Engine::shutdown_with_outcomes) leaves: the
/// final counters and every outcome no handle had read, in the order they were decided (the
/// threaded engine's [`InlineShutdown`](super::InlineShutdown)).
#[derive(Debug, Clone)]
pub struct EngineShutdown {
    /// The engine's final counters.
    pub stats: Stats,
    /// The outcomes not read when shutdown began, then those shutdown decided.
    pub outcomes: Vec<Outcome>,
    /// The final words not read (with the final word on), those shutdown decided last.
    pub finals: Vec<FinalWord>,
}

/// Blocking iterator over outcomes; see [`Handle::outcomes`].
#[derive(Debug)]
pub struct Outcomes<'a> {
    handle: &'a Handle,
}

impl Iterator for Outcomes<'_> {
    type Item = Outcome;

    fn next(&mut self) -> Option<Outcome> {
        let handle = self.handle;
        if let Some(o) = handle.try_outcome() {
            return Some(o);
        }
        if let Some(o) = handle.spin_for(handle.spin, Instant::now()) {
            return Some(o);
        }
        match handle.outcomes.recv() {
            Ok(o) => Some(o),
            Err(_) => handle.shared.pop_late_outcome(),
        }
    }
}

/// Non-blocking iterator over the outcomes ready now; see [`Handle::try_outcomes`].
#[derive(Debug)]
pub struct TryOutcomes<'a> {
    handle: &'a Handle,
}

impl Iterator for TryOutcomes<'_> {
    type Item = Outcome;

    fn next(&mut self) -> Option<Outcome> {
        self.handle.try_outcome()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{InstId, InstType, OrderRef};
    use crate::outcome::{NotSentReason, Status, Timestamps};

    fn cancel() -> Cancel {
        Cancel::new(
            InstType::UsdtFutures,
            InstId::new("ETHUSDT").unwrap(),
            OrderRef::client_oid("c-1").unwrap(),
        )
    }

    fn handle(
        capacity: usize,
    ) -> (
        Handle,
        crossbeam_channel::Receiver<Submission>,
        Sender<Outcome>,
    ) {
        let (itx, irx) = crossbeam_channel::bounded(capacity);
        let (otx, orx) = crossbeam_channel::bounded(capacity);
        let handle = Handle {
            intents: itx,
            outcomes: orx,
            finals: None,
            shared: Arc::new(Shared::new()),
            waker: None,
            spin: crate::engine::DEFAULT_OUTCOME_SPIN,
        };
        (handle, irx, otx)
    }

    #[test]
    fn handles_cross_threads() {
        fn send_and_sync<T: Send + Sync + Clone>() {}
        send_and_sync::<Handle>();
    }

    #[test]
    fn every_intent_draws_the_next_send_number_and_a_callers_id_is_its_label() {
        let (h, rx, _otx) = handle(8);
        let ids = h.shared.wire_ids;
        assert_eq!(h.cancel(cancel()).unwrap(), ids.id(1));
        assert_eq!(h.cancel(cancel()).unwrap(), ids.id(2));
        let mine = RequestId::new("mine-7").unwrap();
        assert_eq!(h.cancel(cancel().with_id(mine)).unwrap(), mine);
        assert_eq!(
            h.cancel(cancel().with_id(mine)).unwrap(),
            mine,
            "labels may repeat"
        );
        let got: Vec<_> = rx.try_iter().map(|s| (s.id, s.wire)).collect();
        assert_eq!(
            got,
            [(ids.id(1), 1), (ids.id(2), 2), (mine, 3), (mine, 4)],
            "the wire id is never the label"
        );
    }

    #[test]
    fn acceptance_is_timestamped() {
        let (h, rx, _otx) = handle(1);
        let before = monotonic_ns();
        h.cancel(cancel()).unwrap();
        let s = rx.try_recv().unwrap();
        assert!(s.accepted_ns >= before && s.accepted_ns <= monotonic_ns());
    }

    #[test]
    fn a_full_ring_hands_the_intent_back() {
        let (h, _rx, _otx) = handle(1);
        h.cancel(cancel()).unwrap();
        let refused = cancel().with_tag(99);
        match h.cancel(refused) {
            Err(SubmitError::Full(c)) => assert_eq!(c, refused),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stopped_engine_hands_the_intent_back() {
        let (h, rx, _otx) = handle(4);
        h.shared.stopped.0.store(true, Ordering::SeqCst);
        assert_eq!(
            h.cancel(cancel().with_tag(1)),
            Err(SubmitError::Stopped(cancel().with_tag(1)))
        );
        h.shared.stopped.0.store(false, Ordering::SeqCst);
        drop(rx);
        assert_eq!(
            h.cancel(cancel().with_tag(2)).unwrap_err().into_cancel(),
            cancel().with_tag(2)
        );
    }

    /// Far longer than any wake-up takes: a wait that ends before it was woken, not timed out.
    const PATIENCE: Duration = Duration::from_secs(60);

    #[test]
    fn wait_live_wakes_when_the_engine_publishes_live() {
        let (h, _rx, _otx) = handle(1);
        let shared = h.shared.clone();
        let publisher = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            shared.set_state(SessionState::LoggingIn);
            std::thread::sleep(Duration::from_millis(20));
            shared.set_state(SessionState::Live);
        });
        let started = std::time::Instant::now();
        assert!(h.wait_live(PATIENCE));
        assert!(started.elapsed() < PATIENCE / 2, "woken, not timed out");
        assert_eq!(h.state(), SessionState::Live);
        publisher.join().unwrap();
        assert!(h.wait_live(Duration::ZERO), "already live: true at once");
    }

    #[test]
    fn wait_live_gives_up_at_once_on_refused_credentials_or_a_stopped_engine() {
        for end in [SessionState::LoginRejected, SessionState::Stopped] {
            let (h, _rx, _otx) = handle(1);
            let shared = h.shared.clone();
            let publisher = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                shared.set_state(end);
            });
            let started = std::time::Instant::now();
            assert!(!h.wait_live(PATIENCE), "{end:?}");
            assert!(
                started.elapsed() < PATIENCE / 2,
                "{end:?}: woken, not timed out"
            );
            publisher.join().unwrap();
        }
    }

    #[test]
    fn wait_live_times_out_while_the_engine_connects() {
        let (h, _rx, _otx) = handle(1);
        h.shared.set_state(SessionState::Backoff);
        let started = std::time::Instant::now();
        assert!(!h.wait_live(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn outcomes_come_from_the_ring_then_from_what_shutdown_left() {
        let (h, _rx, otx) = handle(4);
        let outcome = |tag| Outcome {
            id: RequestId::from_u64(tag),
            cancel: cancel().with_tag(tag),
            status: Status::NotSent(NotSentReason::Shutdown),
            times: Timestamps::default(),
            attempts: 0,
            via: None,
            batch: None,
            cancel_all: None,
        };
        assert!(h.try_outcome().is_none());
        otx.send(outcome(1)).unwrap();
        h.shared.push_late_outcome(outcome(2));
        assert_eq!(h.try_outcome().unwrap().tag(), 1);
        assert_eq!(h.try_outcome().unwrap().tag(), 2);
        assert!(h.try_outcome().is_none());
        otx.send(outcome(3)).unwrap();
        h.shared.push_late_outcome(outcome(4));
        drop(otx);
        let tags: Vec<u64> = h.outcomes().map(|o| o.tag()).collect();
        assert_eq!(tags, [3, 4]);
        assert!(h.outcome_timeout(Duration::from_millis(1)).is_none());
    }
}
