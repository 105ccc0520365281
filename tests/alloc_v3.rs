//! Heap allocations per cancel over the unified account's V3 API, once warm, on the engine thread
//! and on the submitting thread: none on either (the V2 twin is `alloc_engine.rs`), one cancel
//! at a time and in bursts (which go out as `batch-cancel`s when they are due at once).
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
use bitget_cancel::engine::Account;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{AccountMode, SimConfig};
use support::*;

const WARM_UP: usize = 200;
const MEASURED: usize = 100;
/// Bursts of cancels submitted back to back, then their outcomes read.
const BURSTS: usize = 40;
const BURST: usize = 5;

#[test]
fn a_warm_v3_cancel_allocates_nothing_on_the_engine_or_the_submitting_thread() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        account_mode: AccountMode::Unified,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(
        InstType::Spot,
        "BTCUSDT",
        WARM_UP + MEASURED + 2 * BURSTS * BURST,
    );
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

    let counted =
        warm_cancels::cancel_one_at_a_time(&handle, &cancels[..WARM_UP + MEASURED], WARM_UP);
    let (acked, engine_allocations, submitter_allocations) =
        (counted.acked, counted.engine, counted.submitter);

    // Bursts: the first half warms the batch path (the decoder's batch entries, the frames of
    // a batch), the second half is measured.
    let mut burst_engine = 0;
    let mut burst_submitter = 0;
    let mut burst_acked = 0usize;
    let rest = &cancels[WARM_UP + MEASURED..];
    for (b, burst) in rest.chunks(BURST).enumerate() {
        if b == BURSTS {
            burst_engine = counting_alloc::marked_allocations();
            burst_submitter = counting_alloc::allocations();
        }
        for cancel in burst {
            handle.cancel(*cancel).expect("room in the ring");
        }
        for _ in burst {
            match handle.outcome_timeout(Duration::from_secs(10)) {
                Some(outcome) if outcome.status == Status::Acked => burst_acked += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    let burst_engine = counting_alloc::marked_allocations() - burst_engine;
    let burst_submitter = counting_alloc::allocations() - burst_submitter;
    engine.shutdown();
    assert_eq!(burst_acked, rest.len());
    assert_eq!(
        (burst_engine, burst_submitter),
        (0, 0),
        "heap allocations (engine, submitter) during {BURSTS} bursts of {BURST} after warm-up"
    );

    assert_eq!(acked, WARM_UP + MEASURED, "every cancel acked by the venue");
    assert!(
        venue
            .received()
            .iter()
            .filter(|f| f.text.contains("cancel-order"))
            .all(|f| f.text.contains(r#""topic":"cancel-order""#)),
        "every cancel went out in V3's envelope"
    );
    let batches = venue
        .received()
        .iter()
        .filter(|f| f.text.contains(r#""topic":"batch-cancel""#))
        .count();
    // Which bursts went out together depends on when the engine thread looked: at least one
    // did, or the batch path was not measured.
    assert!(batches >= 1, "no burst went out as a batch-cancel");
    assert_eq!(
        submitter_allocations, 0,
        "heap allocations on the submitting thread during {MEASURED} cancels after warm-up"
    );
    assert_eq!(
        engine_allocations, 0,
        "heap allocations on the engine thread during {MEASURED} cancels after warm-up"
    );
}
