//! Heap allocations per cancel, once warm, on the engine thread and on the submitting thread:
//! none on either.
//!
//! The shared counting allocator counts per thread. The simulated venue runs in this process and
//! allocates freely on its own threads, so only two threads are looked at: this test's thread,
//! which submits cancels and reads outcomes (its own per-thread count), and the engine thread,
//! which marks itself through the `on_thread_start` hook of its configuration so its count can be
//! read from here. A warm cancel is the whole hot path: the intent ring, pacing, encoding,
//! framing, TLS record sealing, `write(2)`, `read(2)`, record opening, deframing, simd-json
//! decoding, correlation and the outcome ring.
//!
//! One `#[test]` only: tests in a binary run on parallel threads.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/engine.rs"]
mod support;
#[path = "support/warm_cancels.rs"]
mod warm_cancels;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::sim::SimConfig;
use support::*;

const WARM_UP: usize = 200;
const MEASURED: usize = 100;

#[test]
fn a_warm_cancel_allocates_nothing_on_the_engine_or_the_submitting_thread() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP + MEASURED);
    let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            // No keepalive inside the measured window, so the window holds cancels only.
            .ping_interval(Duration::from_secs(3600))
            .on_thread_start(counting_alloc::mark_thread),
    );
    wait_live(&handle);
    // The mark works: the engine thread allocated its buffers after marking itself.
    assert!(counting_alloc::marked_allocations() > 0);

    let counted = warm_cancels::cancel_one_at_a_time(&handle, &cancels, WARM_UP);
    let (acked, engine_allocations, submitter_allocations) =
        (counted.acked, counted.engine, counted.submitter);
    engine.shutdown();

    assert_eq!(acked, WARM_UP + MEASURED, "every cancel acked by the venue");
    assert_eq!(
        submitter_allocations, 0,
        "heap allocations on the submitting thread during {MEASURED} cancels after warm-up"
    );
    assert_eq!(
        engine_allocations, 0,
        "heap allocations on the engine thread during {MEASURED} cancels after warm-up"
    );
}
