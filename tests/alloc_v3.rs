//! Heap allocations per cancel over the unified account's V3 API, once warm, on the engine thread
//! and on the submitting thread: none on either (the V2 twin is `alloc_engine.rs`).
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

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::Account;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{AccountMode, SimConfig};
use support::*;

const WARM_UP: usize = 200;
const MEASURED: usize = 100;

#[test]
fn a_warm_v3_cancel_allocates_nothing_on_the_engine_or_the_submitting_thread() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        account_mode: AccountMode::Unified,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP + MEASURED);
    let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
    let (engine, handle) = start(
        config_for(&venue)
            .account(Account::Unified)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            // No keepalive inside the measured window, so the window holds cancels only.
            .ping_interval(Duration::from_secs(3600))
            .on_thread_start(counting_alloc::mark_thread),
    );
    wait_live(&handle);
    // The mark works: the engine thread allocated its buffers after marking itself.
    assert!(counting_alloc::marked_allocations() > 0);

    let mut acked = 0usize;
    let mut engine_before = 0;
    let mut submitter_before = 0;
    for (n, cancel) in cancels.iter().enumerate() {
        if n == WARM_UP {
            // One parked wait: the ring's first blocking receive on a thread sets up its waker
            // there. Warm-up outcomes come within the wait's spin, so none may have parked, and
            // a measured wait may park (an outcome slower than the spin).
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
    let engine_allocations = counting_alloc::marked_allocations() - engine_before;
    let submitter_allocations = counting_alloc::allocations() - submitter_before;
    engine.shutdown();

    assert_eq!(acked, WARM_UP + MEASURED, "every cancel acked by the venue");
    assert!(
        venue
            .received()
            .iter()
            .filter(|f| f.text.contains("cancel-order"))
            .all(|f| f.text.contains(r#""topic":"cancel-order""#)),
        "every cancel went out in V3's envelope"
    );
    assert_eq!(
        submitter_allocations, 0,
        "heap allocations on the submitting thread during {MEASURED} cancels after warm-up"
    );
    assert_eq!(
        engine_allocations, 0,
        "heap allocations on the engine thread during {MEASURED} cancels after warm-up"
    );
}
