//! One monotonic clock for every timestamp the crate takes.
//!
//! Timestamps are nanoseconds since an arbitrary origin fixed the first time the clock is read in
//! the process. They are comparable across threads and never go backwards.

use std::sync::OnceLock;
use std::time::Instant;

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
