//! The outcome-ready notification: a file descriptor an event loop watches, made readable by the
//! engine when an outcome lands while a consumer waits for one ([`Handle::outcome_ready`]).
//!
//! An event loop (asyncio, mio, tokio's `AsyncFd`, a `poll(2)` loop) cannot wait on the outcome
//! ring; it can wait on a descriptor. The consumer [arms](OutcomeReady::arm) the notification
//! before it goes back to its loop; the engine, after handing an outcome over, looks at one flag
//! and, only if a consumer armed it, writes to the descriptor once (one system call, whatever
//! the number of outcomes until the consumer arms again). Until the first
//! [`Handle::outcome_ready`] nothing exists and the engine pays one load per outcome.
//!
//! The descriptor is an `eventfd` on Linux and Android, one end of a Unix socket pair on other
//! Unix systems; there is none elsewhere (`Handle::outcome_ready` is Unix only).
//!
//! Final words have a descriptor of their own, [`FinalReady`] ([`Handle::final_ready`]), that
//! works the same way on the final-word ring: a consumer of both watches two descriptors, and
//! neither pays for the other.
//!
//! [`Handle::outcome_ready`]: super::Handle::outcome_ready
//! [`Handle::final_ready`]: super::Handle::final_ready

pub(super) mod signal;

use std::fmt;
use std::io;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::shared::Shared;
use crate::final_word::FinalWord;
use crate::outcome::Outcome;
use signal::ReadySignal;

/// A file descriptor that becomes readable when an outcome is ready for a consumer that
/// [armed](OutcomeReady::arm) it: what an event loop watches instead of the outcome ring. Made by
/// [`Handle::outcome_ready`](super::Handle::outcome_ready); Unix only (an `eventfd` on Linux).
///
/// The consumer's turn, each time the descriptor is readable:
///
/// 1. [`clear`](Self::clear) it;
/// 2. take every outcome ready ([`Handle::try_outcome`](super::Handle::try_outcome));
/// 3. [`arm`](Self::arm): true means the engine writes to the descriptor when the next outcome
///    lands, so go back to the loop; false means one landed meanwhile: take it (step 2).
///
/// Every [`OutcomeReady`] of an engine shares one descriptor and one flag: let one consumer
/// watch it. Clones of the handle may still read outcomes on other threads; the descriptor then
/// only says an outcome was ready, and the ring decides who takes it.
///
/// ```
/// # #[cfg(unix)] {
/// use std::os::fd::AsRawFd;
/// use std::time::Duration;
/// use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy, OutcomeReady};
/// use bitget_cancel::outcome::{NotSentReason, Status};
/// use bitget_cancel::{Cancel, Handle, InstId, InstType, OrderRef, Outcome};
///
/// /// What an event loop runs each time the descriptor is readable.
/// fn on_readable(handle: &Handle, ready: &OutcomeReady) -> Vec<Outcome> {
///     ready.clear();
///     let mut outcomes = Vec::new();
///     loop {
///         outcomes.extend(handle.try_outcomes());
///         if ready.arm() {
///             return outcomes; // back to the loop: the engine writes when the next one lands
///         }
///     }
/// }
///
/// // Nothing listens on port 1: the cancel waits for a connection until its queueing time ends,
/// // then is not sent, with the reason no connection came up.
/// let config = Config::builder(Credentials::new("key", "secret", "passphrase")?)
///     .url("wss://127.0.0.1:1/v2/ws/private")
///     .no_rest()
///     .max_queue_time(Duration::from_millis(20))
///     .idle(IdleStrategy::Backoff)
///     .build()?;
/// let (engine, handle) = Engine::start(config)?;
/// let ready = handle.outcome_ready()?;
/// let fd = ready.as_raw_fd(); // register it with the loop: asyncio add_reader, tokio AsyncFd, mio SourceFd
/// # let _ = fd;
/// assert!(on_readable(&handle, &ready).is_empty());
///
/// handle.cancel(Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id("1")?))?;
/// while ready.arm() {
///     std::thread::sleep(Duration::from_millis(1)); // a loop would sleep until the descriptor fires
/// }
/// let outcomes = on_readable(&handle, &ready);
/// assert!(matches!(outcomes[0].status, Status::NotSent(NotSentReason::NoConnection { .. })));
/// engine.shutdown();
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct OutcomeReady {
    shared: Arc<Shared>,
    outcomes: Receiver<Outcome>,
}

impl fmt::Debug for OutcomeReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutcomeReady")
            .field("signal", &self.signal())
            .field("ready_outcomes", &self.outcomes.len())
            .finish()
    }
}

impl OutcomeReady {
    /// The engine's signal, created once; every `OutcomeReady` of the engine shares it.
    pub(crate) fn new(shared: Arc<Shared>, outcomes: Receiver<Outcome>) -> io::Result<Self> {
        if shared.ready.get().is_none() {
            let signal = ReadySignal::new()?;
            // Another thread may have set it first: theirs is kept, this one is closed.
            let _ = shared.ready.set(signal);
        }
        Ok(OutcomeReady { shared, outcomes })
    }

    fn signal(&self) -> &ReadySignal {
        // Set in `new`, never taken.
        self.shared
            .ready
            .get()
            .unwrap_or_else(|| unreachable!("the signal is set before an OutcomeReady exists"))
    }

    /// Announces a wait: true if no outcome is ready now, and the engine will make the
    /// descriptor readable when the next one lands; false if one is ready already (take it
    /// first, then arm again). Never blocks; no system call.
    pub fn arm(&self) -> bool {
        self.signal()
            .arm(|| self.outcomes.is_empty() && !self.shared.has_late_outcomes())
    }

    /// Takes the descriptor back to not readable (reads what the engine wrote). Call it when
    /// the descriptor was reported readable, before taking the outcomes.
    pub fn clear(&self) {
        self.signal().wake.clear();
    }

    /// Makes the descriptor readable now, from any thread: wakes the loop that watches it (for
    /// example when another thread took outcomes the loop waits for, or to make it look again).
    pub fn notify(&self) {
        self.signal().wake.signal();
    }
}

impl std::os::fd::AsFd for OutcomeReady {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.signal().wake.as_fd()
    }
}

impl std::os::fd::AsRawFd for OutcomeReady {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.as_fd().as_raw_fd()
    }
}

/// A file descriptor that becomes readable when a final word is ready for a consumer that
/// [armed](FinalReady::arm) it: [`OutcomeReady`] for the final-word ring. Made by
/// [`Handle::final_ready`](super::Handle::final_ready) while the final word is on; Unix only.
///
/// The consumer's turn is the same: [`clear`](Self::clear), take every final word ready
/// ([`Handle::try_final`](super::Handle::try_final)), [`arm`](Self::arm) (false: take again).
/// Until the first [`Handle::final_ready`](super::Handle::final_ready) the engine pays one load
/// per final word; afterwards a fence, and one `write(2)` per final word that finds the consumer
/// waiting.
///
/// ```
/// # #[cfg(unix)] {
/// use std::time::Duration;
/// use bitget_cancel::engine::{Config, Confirm, Credentials, Engine, IdleStrategy};
/// use bitget_cancel::final_word::FinalState;
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
/// let ready = handle.final_ready()?; // its descriptor goes to the event loop
/// assert!(handle.wait_live(Duration::from_secs(10)));
/// assert!(ready.arm(), "no final word yet");
/// handle.cancel(Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id(&order.order_id)?))?;
/// while ready.arm() {
///     std::thread::sleep(Duration::from_millis(1)); // a loop would sleep until the descriptor fires
/// }
/// ready.clear();
/// let word = handle.try_final().ok_or("armed said a final word was ready")?;
/// assert_eq!(word.state, FinalState::Cancelled);
/// engine.shutdown();
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FinalReady {
    shared: Arc<Shared>,
    finals: Receiver<FinalWord>,
}

impl fmt::Debug for FinalReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinalReady")
            .field("signal", &self.signal())
            .field("ready_finals", &self.finals.len())
            .finish()
    }
}

impl FinalReady {
    /// The engine's final-word signal, created once; every `FinalReady` of the engine shares it.
    pub(crate) fn new(shared: Arc<Shared>, finals: Receiver<FinalWord>) -> io::Result<Self> {
        if shared.final_ready.get().is_none() {
            let signal = ReadySignal::new()?;
            // Another thread may have set it first: theirs is kept, this one is closed.
            let _ = shared.final_ready.set(signal);
        }
        Ok(FinalReady { shared, finals })
    }

    fn signal(&self) -> &ReadySignal {
        // Set in `new`, never taken.
        self.shared
            .final_ready
            .get()
            .unwrap_or_else(|| unreachable!("the signal is set before a FinalReady exists"))
    }

    /// Announces a wait: true if no final word is ready now, and the engine will make the
    /// descriptor readable when the next one lands; false if one is ready already (take it
    /// first, then arm again). Never blocks; no system call.
    pub fn arm(&self) -> bool {
        self.signal()
            .arm(|| self.finals.is_empty() && !self.shared.has_late_finals())
    }

    /// Takes the descriptor back to not readable. Call it when the descriptor was reported
    /// readable, before taking the final words.
    pub fn clear(&self) {
        self.signal().wake.clear();
    }

    /// Makes the descriptor readable now, from any thread.
    pub fn notify(&self) {
        self.signal().wake.signal();
    }
}

impl std::os::fd::AsFd for FinalReady {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.signal().wake.as_fd()
    }
}

impl std::os::fd::AsRawFd for FinalReady {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.as_fd().as_raw_fd()
    }
}
