//! Heap allocations per cancel on the caller's thread with the inline engine, once warm: none.
//!
//! The inline engine runs entirely on this test's thread, so the per-thread count of the shared
//! counting allocator sees the whole hot path: intake into the in-flight table, pacing, encoding,
//! framing, TLS sealing, `write(2)`, the polls that read the reply (directly or after the
//! poller), record opening, deframing, simd-json decoding, correlation and the outcome queue.
//! The simulated venue allocates freely on its own threads, which are not counted.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::engine::Engine;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::SimConfig;
use bitget_cancel::{Cancel, InstType};
use support::*;

const WARM_UP: usize = 200;
const MEASURED: usize = 100;

/// Cancels each one and waits for its outcome (polling); returns how many were acked and the
/// allocations made from the first measured cancel on.
fn run(
    direct_reads: bool,
    cancels: &[Cancel],
    venue: &bitget_cancel::sim::SimVenue,
) -> (usize, u64) {
    let at_start = counting_alloc::allocations();
    let mut engine = Engine::inline(
        config_for(venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            // No keepalive inside the measured window, so the window holds cancels only.
            .ping_interval(Duration::from_secs(3600))
            .direct_reads(direct_reads)
            .build()
            .expect("valid config"),
    )
    .expect("the engine starts");
    assert!(engine.wait_live(PATIENCE), "{:?}", engine.last_error());
    // The count works: the engine allocated its buffers on this thread.
    assert!(counting_alloc::allocations() > at_start);
    let mut acked = 0usize;
    let mut before = 0;
    for (n, cancel) in cancels.iter().enumerate() {
        if n == WARM_UP {
            before = counting_alloc::allocations();
        }
        if engine.cancel(*cancel).is_err() {
            break;
        }
        match engine.outcome_timeout(PATIENCE) {
            Some(outcome) if outcome.status == Status::Acked => acked += 1,
            _ => break,
        }
    }
    let allocations = counting_alloc::allocations() - before;
    engine.shutdown();
    (acked, allocations)
}

#[test]
fn a_warm_inline_cancel_allocates_nothing_on_the_callers_thread() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    for direct_reads in [true, false] {
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP + MEASURED);
        let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
        let (acked, allocations) = run(direct_reads, &cancels, &venue);
        assert_eq!(
            acked,
            WARM_UP + MEASURED,
            "every cancel acked (direct reads {direct_reads})"
        );
        assert_eq!(
            allocations, 0,
            "heap allocations on the caller's thread during {MEASURED} inline cancels after \
             warm-up (direct reads {direct_reads})"
        );
    }
}
