//! One monotonic clock for every timestamp the crate takes.
//!
//! Timestamps are nanoseconds since an arbitrary origin fixed the first time the clock is read in
//! the process. They are comparable across threads and never go backwards.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on the crate's monotonic clock.
///
/// ```
/// let a = bitget_cancel::clock::monotonic_ns();
/// let b = bitget_cancel::clock::monotonic_ns();
/// assert!(b >= a);
/// ```
#[inline]
pub fn monotonic_ns() -> u64 {
    let origin = *ORIGIN.get_or_init(Instant::now);
    // A u64 of nanoseconds lasts 584 years: the truncation cannot happen in practice.
    origin.elapsed().as_nanos() as u64
}

/// A duration in nanoseconds, saturating (a `Duration` of 584 years or more is `u64::MAX`).
#[inline]
pub(crate) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The wall clock in Unix milliseconds (signatures and login timestamps; never for intervals).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where the engine reads the time: [`Monotonic`] in every engine, a fake one in the tests of
/// its policy, which move time by hand.
pub(crate) trait Clock {
    /// Now, in nanoseconds on the clock of [`monotonic_ns`].
    fn now(&self) -> u64;
}

/// The crate's monotonic clock, [`monotonic_ns`]; a zero-sized value whose reads inline.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Monotonic;

impl Clock for Monotonic {
    #[inline]
    fn now(&self) -> u64 {
        monotonic_ns()
    }
}
