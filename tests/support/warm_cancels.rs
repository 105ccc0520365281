//! The allocation tests' measured loop, one cancel at a time: a test binary includes this file
//! with `#[path = "support/warm_cancels.rs"] mod warm_cancels;` beside
//! `support/counting_alloc.rs` (as `mod counting_alloc`), whose counts it reads.

use std::time::Duration;

use bitget_cancel::outcome::Status;
use bitget_cancel::{Cancel, Handle};

use crate::counting_alloc;

/// What [`cancel_one_at_a_time`] saw.
pub struct Counted {
    /// Cancels acked, in order, until the first that was not.
    pub acked: usize,
    /// Heap allocations on the engine thread (marked) from the measured part on.
    pub engine: u64,
    /// Heap allocations on this thread from the measured part on.
    pub submitter: u64,
}

/// Submits `cancels` one at a time, each outcome waited for, and counts the allocations of the
/// engine thread and of this one from the `warm_up`th on (just before it, one parked wait: the
/// ring's first blocking receive on a thread sets up its waker there). Stops at the first
/// cancel refused or not acked.
pub fn cancel_one_at_a_time(handle: &Handle, cancels: &[Cancel], warm_up: usize) -> Counted {
    let mut acked = 0usize;
    let mut engine_before = 0;
    let mut submitter_before = 0;
    for (n, cancel) in cancels.iter().enumerate() {
        if n == warm_up {
            // Warm-up outcomes come within the wait's spin, so none may have parked, and a
            // measured wait may park (an outcome slower than the spin).
            assert!(
                handle
                    .outcome_timeout_with_spin(Duration::from_millis(1), Duration::ZERO)
                    .is_none()
            );
            engine_before = counting_alloc::marked_allocations();
            submitter_before = counting_alloc::allocations();
        }
        if handle.cancel(*cancel).is_err() {
            break;
        }
        match handle.outcome_timeout(Duration::from_secs(10)) {
            Some(outcome) if outcome.status == Status::Acked => acked += 1,
            _ => break,
        }
    }
    Counted {
        acked,
        engine: counting_alloc::marked_allocations() - engine_before,
        submitter: counting_alloc::allocations() - submitter_before,
    }
}
