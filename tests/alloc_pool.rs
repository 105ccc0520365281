//! Heap allocations per cancel with two connections, once warm: none for a plain cancel, none
//! for a hedged one, none for one sent again after a transient refusal, and none per cancel
//! across a failover (a lost connection costs its error message once, whatever the number of
//! cancels re-sent on the other connection).
//!
//! Counted on the engine thread (marked through `on_thread_start`) and, for plain cancels, on
//! the submitting thread, like `alloc_engine.rs`. One `#[test]` only: tests in a binary run on
//! parallel threads, and every engine thread would add to the same marked count.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{HedgeAfter, ReconnectBackoff, SessionState};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{
    CancelFate, Faults, Injection, OnCancel, RefuseCancel, SimConfig, SimVenue,
};
use support::*;

const WARM_UP: usize = 200;
const MEASURED: usize = 100;
const HEDGED: usize = 10;
const RETRIED: usize = 10;

/// Submits one cancel per order and waits for each outcome; returns their statuses and
/// attempts, in a vector allocated before the first cancel.
fn cancel_each(
    handle: &bitget_cancel::Handle,
    orders: &[bitget_cancel::sim::RestingOrder],
) -> Vec<(Status, u8)> {
    let mut outcomes = Vec::with_capacity(orders.len());
    for o in orders {
        handle.cancel(by_order_id(o)).expect("accepted");
        let outcome = next_outcome(handle);
        outcomes.push((outcome.status, outcome.attempts));
    }
    outcomes
}

fn wait_both_live(handle: &bitget_cancel::Handle) {
    wait_until("both connections live", || {
        handle.stats().connections[..2]
            .iter()
            .all(|c| c.state == SessionState::Live)
    });
}

/// Drops the connection that gets the `n`th cancel of a burst of `n` (the first `n - 1` held
/// back by a reply delay) and returns the engine thread's allocations from the burst to its
/// last outcome, with the outcomes.
fn failover_burst(
    venue: &SimVenue,
    handle: &bitget_cancel::Handle,
    faults: Faults,
    n: usize,
) -> (u64, Vec<(Status, u8)>) {
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", n);
    let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
    let mut outcomes = Vec::with_capacity(n);
    venue.set_faults(faults);
    let before = counting_alloc::marked_allocations();
    for c in &cancels {
        handle.cancel(*c).expect("accepted");
    }
    for _ in 0..n {
        let o = next_outcome(handle);
        outcomes.push((o.status, o.attempts));
    }
    (counting_alloc::marked_allocations() - before, outcomes)
}

/// Every cancel answered (none unknown) and at least one sent again: the one that fired the
/// drop, with the others that went out on its connection (routing may have put some on the
/// other).
fn failed_over(outcomes: &[(Status, u8)]) -> bool {
    outcomes
        .iter()
        .all(|o| matches!(o.0, Status::Acked | Status::Rejected { code: 43001, .. }))
        && outcomes.iter().any(|o| o.1 == 2)
}

fn failover_faults(n: usize) -> Faults {
    Faults {
        reply_delay: Duration::from_millis(50),
        drop_on_cancel: Some(n as u64),
        ..Faults::default()
    }
}

#[test]
fn two_connections_allocate_nothing_per_cancel_hedged_or_failed_over() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let (engine, handle) = start(
        config_for(&venue)
            .connections(2)
            // Long enough that a loaded machine's slow reply is not hedged by chance.
            .hedge_after(HedgeAfter::Fixed(Duration::from_millis(200)))
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .ack_timeout(Duration::from_secs(5))
            .ping_interval(Duration::from_secs(3600))
            .reconnect(ReconnectBackoff {
                initial: Duration::from_millis(300),
                max: Duration::from_millis(300),
                reset_after: Duration::from_secs(30),
            })
            .on_thread_start(counting_alloc::mark_thread),
    );
    wait_both_live(&handle);

    // Warm-up: plain cancels, a hedge and a failover, so every path has run once.
    let warm = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP);
    assert!(
        cancel_each(&handle, &warm)
            .iter()
            .all(|s| s.0 == Status::Acked)
    );
    let refused_first = || Faults {
        on_cancel: Some(OnCancel {
            nth: 1,
            injection: Injection::Text(r#"{"event":"subscribe"}"#.into()),
            cancel: CancelFate::Refused,
        }),
        ..Faults::default()
    };
    venue.set_faults(refused_first());
    let hedge_warm = venue.seed_orders(InstType::Spot, "BTCUSDT", 1);
    assert_eq!(cancel_each(&handle, &hedge_warm), [(Status::Acked, 2)]);
    let transient_first = || Faults {
        refuse_cancel: Some(RefuseCancel {
            nth: 1,
            code: 40010,
            msg: "Request timed out".into(),
        }),
        ..Faults::default()
    };
    venue.set_faults(transient_first());
    let retry_warm = venue.seed_orders(InstType::Spot, "BTCUSDT", 1);
    assert_eq!(cancel_each(&handle, &retry_warm), [(Status::Acked, 2)]);
    let (_, warm_failover) = failover_burst(&venue, &handle, failover_faults(2), 2);
    assert!(failed_over(&warm_failover), "{warm_failover:?}");
    venue.set_faults(Faults::none());
    wait_both_live(&handle);
    let rewarm = venue.seed_orders(InstType::Spot, "BTCUSDT", 20);
    assert!(
        cancel_each(&handle, &rewarm)
            .iter()
            .all(|s| s.0 == Status::Acked)
    );

    // Plain cancels.
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", MEASURED);
    let mut plain = Vec::with_capacity(MEASURED);
    let engine_before = counting_alloc::marked_allocations();
    let submitter_before = counting_alloc::allocations();
    for order in &orders {
        handle.cancel(by_order_id(order)).expect("accepted");
        let outcome = next_outcome(&handle);
        plain.push((outcome.status, outcome.attempts));
    }
    let plain_engine = counting_alloc::marked_allocations() - engine_before;
    let plain_submitter = counting_alloc::allocations() - submitter_before;
    assert!(plain.iter().all(|s| *s == (Status::Acked, 1)), "{plain:?}");

    // Hedged cancels: the first attempt of each is never answered. The faults are built before
    // counting (they hold a string).
    let hedged_faults: Vec<Faults> = (0..HEDGED).map(|_| refused_first()).collect();
    let hedged_orders = venue.seed_orders(InstType::Spot, "BTCUSDT", HEDGED);
    let engine_before = counting_alloc::marked_allocations();
    let mut hedged = Vec::with_capacity(HEDGED);
    for (faults, order) in hedged_faults.into_iter().zip(&hedged_orders) {
        venue.set_faults(faults);
        hedged.extend(cancel_each(&handle, std::slice::from_ref(order)));
    }
    let hedged_engine = counting_alloc::marked_allocations() - engine_before;
    assert!(
        hedged.iter().all(|s| *s == (Status::Acked, 2)),
        "{hedged:?}"
    );

    // Cancels sent again after a transient refusal ("request timed out") of the first send.
    let retried_faults: Vec<Faults> = (0..RETRIED).map(|_| transient_first()).collect();
    let retried_orders = venue.seed_orders(InstType::Spot, "BTCUSDT", RETRIED);
    let engine_before = counting_alloc::marked_allocations();
    let mut retried = Vec::with_capacity(RETRIED);
    for (faults, order) in retried_faults.into_iter().zip(&retried_orders) {
        venue.set_faults(faults);
        retried.extend(cancel_each(&handle, std::slice::from_ref(order)));
    }
    let retried_engine = counting_alloc::marked_allocations() - engine_before;
    assert!(
        retried.iter().all(|s| *s == (Status::Acked, 2)),
        "{retried:?}"
    );

    // Failovers of 1 and of 8 cancels cost the same: nothing per cancel.
    wait_both_live(&handle);
    let (one, outcomes) = failover_burst(&venue, &handle, failover_faults(1), 1);
    assert!(failed_over(&outcomes), "{outcomes:?}");
    venue.set_faults(Faults::none());
    wait_both_live(&handle);
    assert!(
        cancel_each(&handle, &venue.seed_orders(InstType::Spot, "BTCUSDT", 20))
            .iter()
            .all(|s| s.0 == Status::Acked)
    );
    let (eight, outcomes) = failover_burst(&venue, &handle, failover_faults(8), 8);
    assert!(failed_over(&outcomes), "{outcomes:?}");
    engine.shutdown();

    println!(
        "engine-thread allocations: {plain_engine} over {MEASURED} cancels, {hedged_engine} over \
         {HEDGED} hedged cancels, {retried_engine} over {RETRIED} retried cancels, {one} for a \
         failover of 1 cancel, {eight} for a failover of 8"
    );
    assert_eq!(plain_submitter, 0, "submitting thread, {MEASURED} cancels");
    assert_eq!(plain_engine, 0, "engine thread, {MEASURED} cancels");
    assert_eq!(hedged_engine, 0, "engine thread, {HEDGED} hedged cancels");
    assert_eq!(
        retried_engine, 0,
        "engine thread, {RETRIED} retried cancels"
    );
    assert_eq!(
        eight, one,
        "a failover of 8 cancels allocates what a failover of 1 does: nothing per cancel"
    );
}
