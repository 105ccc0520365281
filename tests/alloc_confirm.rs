//! Heap allocations of the final word, once warm: none per push and none per final word, on
//! the engine thread (and none on the thread that submits cancels and reads outcomes and final
//! words).
//!
//! Three measured runs, each after the same path ran during the warm-up: cancels whose final
//! word comes from a push (the subscription, the push decoded with simd-json into fixed-capacity
//! updates, tied to its intent, the final word on its ring); pushes for orders no intent asked
//! about (a taker filling other orders); and cancels whose pushes are lost, so the REST order
//! query (signed, sent, its reply read) gives the final word. Counted like `alloc_engine.rs`:
//! the engine thread marks itself through `on_thread_start`. One `#[test]` only: tests in a
//! binary run on parallel threads.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{Confirm, Handle, HedgeAfter};
use bitget_cancel::final_word::{FinalSource, FinalState};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{Faults, PushLoss, RestingOrder, SimConfig, SimVenue};
use support::*;

const WARM_UP: usize = 200;
const MEASURED: usize = 100;
const UNRELATED: usize = 20;
const BY_REST: usize = 10;

type Seen = Vec<(Status, FinalState, Option<FinalSource>)>;

/// What `cancel_each` needs, allocated before anything is counted.
fn prepare(orders: &[RestingOrder]) -> (Vec<bitget_cancel::Cancel>, Seen) {
    (
        orders.iter().map(by_order_id).collect(),
        Vec::with_capacity(orders.len()),
    )
}

/// Cancels each one and waits for its outcome and final word; their states and sources go
/// into `seen`, allocated beforehand.
fn cancel_each(handle: &Handle, (cancels, mut seen): (Vec<bitget_cancel::Cancel>, Seen)) -> Seen {
    for &cancel in &cancels {
        handle.cancel(cancel).expect("accepted");
        let outcome = next_outcome(handle);
        let word = handle
            .final_timeout(PATIENCE)
            .expect("a final word in time");
        seen.push((outcome.status, word.state, word.source));
    }
    seen
}

fn all(seen: &[(Status, FinalState, Option<FinalSource>)], source: FinalSource) -> bool {
    seen.iter()
        .all(|s| *s == (Status::Acked, FinalState::Cancelled, Some(source)))
}

/// A taker fills `orders`; returns once the engine has read every copy of their pushes.
fn fill_unrelated(venue: &SimVenue, handle: &Handle, orders: &[RestingOrder], copies: u64) {
    let before = handle.stats().finals.pushes_received;
    for o in orders {
        venue
            .fill(o.inst_type, &o.inst_id, &o.order_id, Some("0.1"))
            .unwrap();
    }
    let expected = before + copies * orders.len() as u64;
    wait_until("every copy of the unrelated pushes read", || {
        handle.stats().finals.pushes_received >= expected
    });
}

#[test]
fn pushes_and_final_words_allocate_nothing_once_warm() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let (engine, handle) = start(
        config_for(&venue)
            .connections(2)
            .rest_url(venue.rest_url())
            .hedge_after(HedgeAfter::Off)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .ping_interval(Duration::from_secs(3600))
            .confirm(Confirm {
                after: Duration::from_millis(50),
                ..Confirm::default()
            })
            .on_thread_start(counting_alloc::mark_thread),
    );
    wait_until("both connections subscribed", || {
        handle.stats().finals.subscriptions_acked == 2
    });
    let lose_pushes = || Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    };

    // Warm-up: every path once and more.
    let warm = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP);
    assert!(all(
        &cancel_each(&handle, prepare(&warm)),
        FinalSource::Push
    ));
    let unrelated = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 2 * UNRELATED);
    fill_unrelated(&venue, &handle, &unrelated[..UNRELATED], 2);
    venue.set_faults(lose_pushes());
    let warm_rest = venue.seed_orders(InstType::Spot, "BTCUSDT", BY_REST);
    assert!(all(
        &cancel_each(&handle, prepare(&warm_rest)),
        FinalSource::Rest
    ));
    venue.set_faults(Faults::none());
    // crossbeam grows a channel's list of waiting threads the first time a thread blocks on it
    // (it spins first, and a reply or a final word that comes quickly never makes it block):
    // block once on each empty ring.
    assert!(handle.outcome_timeout(Duration::from_millis(20)).is_none());
    assert!(handle.final_timeout(Duration::from_millis(20)).is_none());

    // Final words from pushes.
    let orders = prepare(&venue.seed_orders(InstType::Spot, "BTCUSDT", MEASURED));
    let engine_before = counting_alloc::marked_allocations();
    let submitter_before = counting_alloc::allocations();
    let pushed = cancel_each(&handle, orders);
    let push_engine = counting_alloc::marked_allocations() - engine_before;
    let push_submitter = counting_alloc::allocations() - submitter_before;
    assert!(all(&pushed, FinalSource::Push), "{pushed:?}");

    // Pushes nobody asked about.
    let engine_before = counting_alloc::marked_allocations();
    fill_unrelated(&venue, &handle, &unrelated[UNRELATED..], 2);
    let unrelated_engine = counting_alloc::marked_allocations() - engine_before;

    // Final words from REST.
    let by_rest = prepare(&venue.seed_orders(InstType::Spot, "BTCUSDT", BY_REST));
    venue.set_faults(lose_pushes());
    let engine_before = counting_alloc::marked_allocations();
    let answered = cancel_each(&handle, by_rest);
    let rest_engine = counting_alloc::marked_allocations() - engine_before;
    assert!(all(&answered, FinalSource::Rest), "{answered:?}");
    let stats = engine.shutdown();
    assert!(stats.finals.pushes_unmatched >= 2 * UNRELATED as u64);

    println!(
        "engine-thread allocations: {push_engine} over {MEASURED} final words from pushes \
         ({push_submitter} on the submitting thread), {unrelated_engine} over {} pushes for \
         other orders, {rest_engine} over {BY_REST} final words from REST order queries",
        2 * UNRELATED
    );
    assert_eq!(push_engine, 0, "engine thread, final words from pushes");
    assert_eq!(
        push_submitter, 0,
        "submitting thread, cancels, outcomes, final words"
    );
    assert_eq!(
        unrelated_engine, 0,
        "engine thread, pushes nobody asked about"
    );
    assert_eq!(rest_engine, 0, "engine thread, final words from REST");
}
