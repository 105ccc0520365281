//! The engine's side of the ready notifications: the flag a consumer arms and the descriptor the
//! engine writes (an `eventfd` on Linux and Android, a Unix socket pair elsewhere). The engine
//! reaches them through its shared state (one for outcomes, one for final words); the consumer's
//! side is [`super::OutcomeReady`] or [`super::FinalReady`].

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering, fence};

/// The engine's side: the flag a consumer sets, and the descriptor the engine writes.
pub(crate) struct ReadySignal {
    /// A consumer waits on the descriptor: the next outcome handed over writes to it.
    pub(super) armed: AtomicBool,
    pub(super) wake: Wake,
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

    /// The consumer's side of arming: sets the flag, then looks (`is_empty`) at what it waits
    /// for; true if nothing is there (the engine writes when the next item lands), false if
    /// something is (the flag is taken back).
    pub(crate) fn arm(&self, is_empty: impl FnOnce() -> bool) -> bool {
        self.armed.store(true, Ordering::Relaxed);
        // Pairs with the fence in `delivered`.
        fence(Ordering::SeqCst);
        if is_empty() {
            return true;
        }
        // Ready already: no write needed. If the engine disarmed it first, its write makes one
        // spurious wake-up, which a consumer takes as a turn that finds nothing.
        self.armed.store(false, Ordering::Relaxed);
        false
    }

    /// Called by the engine after it handed an item over (an outcome or a final word, to its
    /// ring or to those shutdown keeps): writes to the descriptor if a consumer armed it, and
    /// disarms.
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
pub(super) enum Wake {
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

    pub(super) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Wake::EventFd(fd) => fd.as_fd(),
            Wake::Pair { rx, .. } => rx.as_fd(),
        }
    }

    /// Makes the descriptor readable. A failure can only mean it is readable already (a full
    /// counter or socket buffer): nothing to report.
    pub(super) fn signal(&self) {
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
    pub(super) fn clear(&self) {
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

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::os::fd::BorrowedFd;
    use std::sync::Arc;
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
