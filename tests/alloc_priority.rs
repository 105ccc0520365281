//! Heap allocations on the engine thread for bursts of cancels with mixed priorities, once warm:
//! none. Each burst lands in the intent ring before the engine's turn takes it in, so every
//! cancel above the lowest priority is inserted ahead of waiting ones in the preallocated queue.
//!
//! One `#[test]` only: tests in a binary run on parallel threads, and every engine thread would
//! add to the same marked count.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::SimConfig;
use support::*;

const BURST: usize = 40;
const WARM_UP: usize = 3;
const MEASURED: usize = 3;

#[test]
fn bursts_with_mixed_priorities_allocate_nothing_on_the_engine_thread() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", BURST * (WARM_UP + MEASURED));
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .ping_interval(Duration::from_secs(3600))
            .on_thread_start(counting_alloc::mark_thread),
    );
    wait_live(&handle);
    let mut acked = 0usize;
    let mut before = 0;
    for (round, burst) in orders.chunks(BURST).enumerate() {
        if round == WARM_UP {
            before = counting_alloc::marked_allocations();
        }
        for (i, order) in burst.iter().enumerate() {
            let priority = [0u8, 9, 3, 200, 0, 9][i % 6];
            handle
                .cancel(by_order_id(order).priority(priority))
                .expect("room in the ring");
        }
        for _ in 0..BURST {
            if next_outcome(&handle).status == Status::Acked {
                acked += 1;
            }
        }
    }
    let allocations = counting_alloc::marked_allocations() - before;
    engine.shutdown();
    assert_eq!(acked, BURST * (WARM_UP + MEASURED), "every cancel acked");
    assert_eq!(
        allocations, 0,
        "heap allocations on the engine thread during {MEASURED} bursts of {BURST} after warm-up"
    );
}
