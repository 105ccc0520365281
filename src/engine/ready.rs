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
//! [`Handle::outcome_ready`]: super::Handle::outcome_ready

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use crossbeam_channel::Receiver;

use super::shared::Shared;
use crate::outcome::Outcome;

/// The engine's side: the flag a consumer sets, and the descriptor the engine writes.
pub(crate) struct ReadySignal {
    /// A consumer waits on the descriptor: the next outcome handed over writes to it.
    armed: AtomicBool,
    wake: Wake,
}

impl fmt::Debug for ReadySignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadySignal")
            .field("armed", &self.armed.load(Ordering::Relaxed))
            .field("fd", &self.wake.as_fd())
            .finish()
    }
}

impl ReadySignal {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(ReadySignal {
            armed: AtomicBool::new(false),
            wake: Wake::new()?,
        })
    }

    /// Called by the engine after it handed an outcome over (to the ring, or to the outcomes
    /// shutdown keeps): writes to the descriptor if a consumer armed it, and disarms.
    #[inline]
    pub(crate) fn delivered(&self) {
        // Pairs with the fence in `OutcomeReady::arm`: either the consumer, looking at the ring
        // after arming, sees this outcome, or this sees the consumer's flag.
        fence(Ordering::SeqCst);
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            self.wake.signal();
        }
    }
}

/// The descriptor and how it is written and drained.
enum Wake {
    /// A counter: a write adds to it, a read takes it back to zero.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    EventFd(std::os::fd::OwnedFd),
    /// A connected pair: the engine writes a byte to `tx`, the consumer watches and drains `rx`.
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    Pair {
        rx: std::os::unix::net::UnixStream,
        tx: std::os::unix::net::UnixStream,
    },
}

impl Wake {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn new() -> io::Result<Wake> {
        use rustix::event::{EventfdFlags, eventfd};
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Wake::EventFd(fd))
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn new() -> io::Result<Wake> {
        Wake::pair()
    }

    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    fn pair() -> io::Result<Wake> {
        let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(Wake::Pair { rx, tx })
    }

    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Wake::EventFd(fd) => fd.as_fd(),
            Wake::Pair { rx, .. } => rx.as_fd(),
        }
    }

    /// Makes the descriptor readable. A failure can only mean it is readable already (a full
    /// counter or socket buffer): nothing to report.
    fn signal(&self) {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Wake::EventFd(fd) => {
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
            Wake::Pair { tx, .. } => {
                use std::io::Write;
                let _ = (&*tx).write(&[1]);
            }
        }
    }

    /// Takes the descriptor back to not readable.
    fn clear(&self) {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Wake::EventFd(fd) => {
                let mut count = [0u8; 8];
                let _ = rustix::io::read(fd, &mut count);
            }
            Wake::Pair { rx, .. } => {
                use std::io::Read;
                let mut bytes = [0u8; 64];
                while matches!((&*rx).read(&mut bytes), Ok(n) if n > 0) {}
            }
        }
    }
}

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
/// // Nothing listens on port 1: the cancel waits for a connection until its queueing time ends.
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
/// assert_eq!(outcomes[0].status, Status::NotSent(NotSentReason::QueueTimeout));
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
        let signal = self.signal();
        signal.armed.store(true, Ordering::Relaxed);
        // Pairs with the fence in `ReadySignal::delivered`.
        fence(Ordering::SeqCst);
        if self.outcomes.is_empty() && !self.shared.has_late_outcomes() {
            return true;
        }
        // Ready already: no write needed. If the engine disarmed it first, its write makes one
        // spurious wake-up, which a consumer takes as a turn that finds nothing.
        signal.armed.store(false, Ordering::Relaxed);
        false
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

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::os::fd::BorrowedFd;
    use std::time::Duration;

    /// Whether `fd` becomes readable within `timeout` (`poll(2)`).
    fn readable_within(fd: BorrowedFd<'_>, timeout: Duration) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        poll(&mut fds, Some(&timeout)).unwrap() > 0
    }

    fn readable(wake: &Wake) -> bool {
        readable_within(wake.as_fd(), Duration::ZERO)
    }

    fn every_kind() -> Vec<Wake> {
        vec![Wake::pair().unwrap(), Wake::new().unwrap()]
    }

    #[test]
    fn a_signal_makes_the_descriptor_readable_until_cleared() {
        for wake in every_kind() {
            assert!(!readable(&wake));
            wake.signal();
            wake.signal();
            assert!(readable(&wake));
            wake.clear();
            assert!(!readable(&wake), "one clear takes back every signal");
            wake.clear();
            assert!(
                !readable(&wake),
                "clearing a quiet descriptor does not block"
            );
        }
    }

    #[test]
    fn the_engine_writes_only_when_armed_and_once_per_arming() {
        let signal = ReadySignal::new().unwrap();
        signal.delivered();
        assert!(!readable(&signal.wake), "nobody armed it: no write");
        signal.armed.store(true, Ordering::Relaxed);
        signal.delivered();
        assert!(readable(&signal.wake));
        assert!(
            !signal.armed.load(Ordering::Relaxed),
            "the write disarms it"
        );
        signal.wake.clear();
        signal.delivered();
        assert!(
            !readable(&signal.wake),
            "a second outcome before re-arming writes nothing"
        );
    }

    #[test]
    fn a_signal_from_another_thread_wakes_a_waiter() {
        for wake in every_kind() {
            let wake = Arc::new(wake);
            let signaller = {
                let wake = wake.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    wake.signal();
                })
            };
            assert!(readable_within(wake.as_fd(), Duration::from_secs(60)));
            signaller.join().unwrap();
            wake.clear();
            assert!(!readable(&wake));
        }
    }
}
