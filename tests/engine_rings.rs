//! The rings between the strategy and the engine: full rings refuse or hold back, never drop.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::SubmitError;
use bitget_cancel::outcome::{NotSentReason, Status};
use bitget_cancel::sim::Faults;
use support::*;

#[test]
fn a_full_intent_ring_hands_the_intent_back() {
    let venue = venue();
    // Replies held back keep the engine's table full, so the ring behind it fills up too.
    venue.set_faults(Faults {
        reply_delay: Duration::from_secs(30),
        ..Faults::default()
    });
    let (engine, handle) = start(
        config_for(&venue)
            .max_pending(2)
            .intent_capacity(2)
            .shutdown_grace(Duration::ZERO),
    );
    let mut accepted = Vec::new();
    for tag in 0..2 {
        accepted.push(handle.cancel(spot("1").with_tag(tag)).unwrap());
    }
    wait_until("the engine holds the first two", || {
        engine.stats().intents == 2
    });
    for tag in 2..4 {
        accepted.push(handle.cancel(spot("1").with_tag(tag)).unwrap());
    }
    let refused = spot("1").with_tag(4);
    match handle.cancel(refused) {
        Err(SubmitError::Full(back)) => assert_eq!(back, refused, "the very intent comes back"),
        other => panic!("expected a full ring, got {other:?}"),
    }
    engine.shutdown();
    let outcomes: Vec<_> = handle.try_outcomes().collect();
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == Status::NotSent(NotSentReason::Shutdown))
    );
    let mut ids: Vec<_> = outcomes.iter().map(|o| o.id).collect();
    // Wire ids `prefix:n`, in the order drawn.
    let number = |id: &bitget_cancel::RequestId| {
        id.as_str()
            .rsplit(':')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
    };
    ids.sort_by_key(number);
    assert_eq!(
        ids, accepted,
        "one outcome per accepted intent, none for the refused one"
    );
}

#[test]
fn a_full_outcome_ring_holds_outcomes_back_without_losing_any() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 10);
    let (_engine, handle) = start(config_for(&venue).outcome_capacity(2));
    wait_live(&handle);
    for order in &orders {
        handle.cancel(by_order_id(order)).unwrap();
    }
    venue
        .wait_for_stats(PATIENCE, |s| s.cancels_acked == 10)
        .expect("all ten acked at the venue");
    // Nobody read: only two fit in the ring, the engine kept the rest.
    let outcomes = outcomes(&handle, 10);
    assert!(outcomes.iter().all(|o| o.status == Status::Acked));
    assert!(handle.try_outcome().is_none());
}

#[test]
fn a_stopped_engine_hands_intents_back() {
    let venue = venue();
    let (engine, handle) = start(config_for(&venue));
    engine.shutdown();
    let cancel = spot("5").with_tag(9);
    assert_eq!(handle.cancel(cancel), Err(SubmitError::Stopped(cancel)));
    assert!(handle.is_stopped());
    assert!(handle.outcomes().next().is_none(), "nothing was accepted");
}
