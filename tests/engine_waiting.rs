//! How a consumer waits for outcomes: spinning then parking (`Handle::outcome_timeout`, the
//! inline engine's helpers).

#[path = "support/engine.rs"]
mod support;

use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
use bitget_cancel::outcome::Status;
use support::*;

/// An engine whose venue never answers (nothing listens on port 1): its cancels wait for a
/// connection until their queueing time is over or the engine stops.
fn unreachable_engine(max_queue_time: Duration) -> (Engine, bitget_cancel::Handle) {
    let config = Config::builder(Credentials::new("key", "secret", "passphrase").unwrap())
        .url("wss://127.0.0.1:1/v2/ws/private")
        .no_rest()
        .max_queue_time(max_queue_time)
        .idle(IdleStrategy::Backoff)
        .build()
        .unwrap();
    Engine::start(config).unwrap()
}

/// What an event loop runs when the descriptor is readable: clear, drain, arm (again if an
/// outcome landed meanwhile).
#[test]
fn a_blocking_wait_gets_the_outcome_whether_it_spins_or_parks() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    for spin in [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_secs(1),
    ] {
        let (engine, handle) = start(config_for(&venue).outcome_spin(spin));
        wait_live(&handle);
        assert_eq!(handle.outcome_spin(), spin);
        let order = &orders[spin.as_millis().min(2) as usize];
        let id = handle.cancel(by_order_id(order)).unwrap();
        let outcome = handle.outcome_timeout(PATIENCE).expect("an outcome");
        assert_eq!(
            (outcome.id, outcome.status),
            (id, Status::Acked),
            "{spin:?}"
        );
        engine.shutdown();
    }
}

#[test]
fn the_spin_never_outlasts_the_timeout() {
    let (engine, handle) = unreachable_engine(Duration::from_secs(60));
    let started = Instant::now();
    assert!(
        handle
            .outcome_timeout_with_spin(Duration::from_millis(20), Duration::from_secs(600))
            .is_none()
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(20), "{waited:?}");
    assert!(
        waited < Duration::from_secs(300),
        "spun past its timeout: {waited:?}"
    );
    engine.shutdown();
}

#[test]
fn the_inline_engine_parks_between_turns_and_still_gets_its_outcome() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let config = config_for(&venue)
        .outcome_spin(Duration::ZERO)
        .build()
        .unwrap();
    let mut engine = Engine::inline(config).unwrap();
    // No spin: the wait for the login parks in the poller between turns.
    assert!(engine.wait_live(PATIENCE), "{:?}", engine.last_error());
    let id = engine.cancel(by_order_id(&order)).unwrap();
    let outcome = engine
        .outcome_timeout(PATIENCE)
        .expect("the reply wakes the parked poller");
    assert_eq!((outcome.id, outcome.status), (id, Status::Acked));
    // Nothing pending: the wait ends at its timeout, parked rather than polling.
    let started = Instant::now();
    assert!(engine.outcome_timeout(Duration::from_millis(30)).is_none());
    assert!(started.elapsed() >= Duration::from_millis(30));
    let stopped = engine.shutdown();
    assert_eq!(stopped.stats.acked, 1);
}
