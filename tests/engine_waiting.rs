//! How a consumer waits for outcomes and final words: spinning then parking
//! (`Handle::outcome_timeout`, `Handle::final_timeout`, the inline engine's waits), and the
//! outcome-ready and final-ready descriptors an event loop watches instead.

#[path = "support/engine.rs"]
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::engine::{
    Config, Confirm, Credentials, Engine, FinalReady, IdleStrategy, OutcomeReady,
};
use bitget_cancel::final_word::{FinalState, FinalWord};
use bitget_cancel::outcome::{NotSentReason, Status};
use bitget_cancel::sim::SimConfig;
use support::*;
use tokio::io::unix::AsyncFd;

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
fn drain(handle: &bitget_cancel::Handle, ready: &OutcomeReady) -> Vec<bitget_cancel::Outcome> {
    ready.clear();
    let mut got = Vec::new();
    loop {
        got.extend(handle.try_outcomes());
        if ready.arm() {
            return got;
        }
    }
}

/// The descriptor registered with the running tokio runtime, for readability.
fn watch(ready: &OutcomeReady) -> AsyncFd<OutcomeReady> {
    // SAFETY: the descriptor belongs to the engine's shared state, which the `OutcomeReady`
    // moved into the `AsyncFd` keeps alive: it stays open for as long as it is registered.
    unsafe { AsyncFd::register_with_interest(ready.clone(), tokio::io::Interest::READABLE) }
        .map_err(std::io::Error::from)
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_event_loop_watching_the_descriptor_gets_every_outcome_once() {
    // No message limit at the venue, none in the engine: the cancels go out as they come.
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 20);
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(1000)
            .cancels_per_second(1000),
    );
    wait_live(&handle);
    let ready = handle.outcome_ready().unwrap();
    assert!(ready.arm(), "nothing is ready before the first cancel");

    // Cancels come from another thread, a few at a time, while the loop sleeps on the descriptor.
    let submitter = {
        let handle = handle.clone();
        let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
        std::thread::spawn(move || {
            let mut ids = Vec::new();
            for chunk in cancels.chunks(3) {
                for cancel in chunk {
                    ids.push(handle.cancel(*cancel).unwrap());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            ids
        })
    };
    let received = runtime().block_on(async {
        let watched = watch(&ready);
        let mut received = Vec::new();
        let mut wake_ups = 0;
        while received.len() < orders.len() {
            let mut guard = tokio::time::timeout(PATIENCE, watched.readable())
                .await
                .expect("the descriptor becomes readable when an outcome lands")
                .unwrap();
            guard.clear_ready();
            wake_ups += 1;
            received.extend(drain(&handle, &ready));
        }
        assert!(wake_ups <= orders.len() + 1, "{wake_ups} wake-ups");
        received
    });
    let sent = submitter.join().unwrap();
    assert_eq!(received.len(), orders.len());
    let ids: HashSet<_> = received.iter().map(|o| o.id).collect();
    assert_eq!(ids, sent.into_iter().collect(), "each outcome once");
    assert!(
        received.iter().all(|o| o.status == Status::Acked),
        "{received:?}"
    );
    engine.shutdown();
}

#[test]
fn nothing_is_written_while_no_consumer_armed_it() {
    let (engine, handle) = unreachable_engine(Duration::from_millis(10));
    let ready = handle.outcome_ready().unwrap();
    handle.cancel(spot("1")).unwrap();
    let outcome = next_outcome(&handle);
    assert!(
        matches!(
            outcome.status,
            Status::NotSent(NotSentReason::NoConnection { .. })
        ),
        "{outcome:?}"
    );
    runtime().block_on(async {
        let watched = watch(&ready);
        // A readable descriptor would answer at once; this one stays quiet.
        let waited = tokio::time::timeout(Duration::from_millis(50), watched.readable()).await;
        assert!(waited.is_err(), "not armed: no write");
    });
    engine.shutdown();
}

#[test]
fn outcomes_decided_at_shutdown_make_it_readable() {
    let (engine, handle) = unreachable_engine(Duration::from_secs(60));
    let ready = handle.outcome_ready().unwrap();
    handle.cancel(spot("1")).unwrap();
    assert!(ready.arm());
    let stopped = std::thread::spawn(move || engine.shutdown());
    runtime().block_on(async {
        let watched = watch(&ready);
        let mut guard = tokio::time::timeout(PATIENCE, watched.readable())
            .await
            .expect("shutdown's outcome wakes the loop")
            .unwrap();
        guard.clear_ready();
    });
    stopped.join().unwrap();
    let outcomes = drain(&handle, &ready);
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].status, Status::NotSent(NotSentReason::Shutdown));
}

#[test]
fn every_handle_shares_one_descriptor() {
    use std::os::fd::AsRawFd;
    let (engine, handle) = unreachable_engine(Duration::from_secs(60));
    let first = handle.outcome_ready().unwrap();
    let second = handle.clone().outcome_ready().unwrap();
    assert_eq!(first.as_raw_fd(), second.as_raw_fd());
    engine.shutdown();
}

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

/// The final word on, asked over REST soon after a lost push.
fn confirming(venue: &bitget_cancel::sim::SimVenue) -> bitget_cancel::engine::ConfigBuilder {
    config_for(venue)
        .rest_url(venue.rest_url())
        .confirm(Confirm {
            after: Duration::from_millis(200),
            ..Confirm::default()
        })
}

/// The final words' turn of an event loop: clear, drain, arm.
fn drain_finals(handle: &bitget_cancel::Handle, ready: &FinalReady) -> Vec<FinalWord> {
    ready.clear();
    let mut got = Vec::new();
    loop {
        got.extend(handle.try_finals());
        if ready.arm() {
            return got;
        }
    }
}

#[test]
fn an_event_loop_watching_the_final_ready_descriptor_gets_every_final_word_once() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 8);
    let (engine, handle) = start(
        confirming(&venue)
            .messages_per_second(1000)
            .cancels_per_second(1000),
    );
    wait_live(&handle);
    let outcome_ready = handle.outcome_ready().unwrap();
    let ready = handle.final_ready().unwrap();
    assert!(ready.arm(), "nothing is final before the first cancel");
    use std::os::fd::AsRawFd;
    assert_ne!(
        ready.as_raw_fd(),
        outcome_ready.as_raw_fd(),
        "final words have a descriptor of their own"
    );
    let ids: HashSet<_> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    let received = runtime().block_on(async {
        let watched = AsyncFdFinal::watch(&ready);
        let mut received = Vec::new();
        while received.len() < orders.len() {
            let mut guard = tokio::time::timeout(PATIENCE, watched.0.readable())
                .await
                .expect("the descriptor becomes readable when a final word lands")
                .unwrap();
            guard.clear_ready();
            received.extend(drain_finals(&handle, &ready));
        }
        received
    });
    let got: HashSet<_> = received.iter().map(|w| w.id).collect();
    assert_eq!(received.len(), orders.len(), "each final word once");
    assert_eq!(got, ids);
    assert!(
        received.iter().all(|w| w.state == FinalState::Cancelled),
        "{received:?}"
    );
    // The outcomes were not read: they are still on their ring, untouched by the final words.
    assert_eq!(handle.try_outcomes().count(), orders.len());
    engine.shutdown();
}

/// The final-ready descriptor registered with the running tokio runtime.
struct AsyncFdFinal(AsyncFd<FinalReady>);

impl AsyncFdFinal {
    fn watch(ready: &FinalReady) -> Self {
        // SAFETY: as for `watch`: the `FinalReady` moved in keeps the descriptor open.
        AsyncFdFinal(
            unsafe {
                AsyncFd::register_with_interest(ready.clone(), tokio::io::Interest::READABLE)
            }
            .map_err(std::io::Error::from)
            .unwrap(),
        )
    }
}

#[test]
fn final_words_decided_at_shutdown_make_it_readable() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // No REST and every push ignored: the final word can only come from shutdown.
    let (engine, handle) = start(config_for(&venue).no_rest().confirm(Confirm {
        timeout: Duration::from_secs(600),
        ..Confirm::default()
    }));
    wait_live(&handle);
    venue.set_faults(bitget_cancel::sim::Faults {
        lose_pushes: bitget_cancel::sim::PushLoss::All,
        ..Default::default()
    });
    let ready = handle.final_ready().unwrap();
    let id = handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    assert!(ready.arm());
    let stopped = std::thread::spawn(move || engine.shutdown());
    runtime().block_on(async {
        let watched = AsyncFdFinal::watch(&ready);
        let mut guard = tokio::time::timeout(PATIENCE, watched.0.readable())
            .await
            .expect("shutdown's final word wakes the loop")
            .unwrap();
        guard.clear_ready();
    });
    stopped.join().unwrap();
    let words = drain_finals(&handle, &ready);
    assert_eq!(words.len(), 1);
    assert_eq!(words[0].id, id);
    assert_eq!(words[0].state.reason(), Some("shutdown"));
}

#[test]
fn with_the_final_word_off_there_is_no_final_ready_descriptor() {
    let (engine, handle) = unreachable_engine(Duration::from_secs(60));
    assert!(!handle.confirms());
    let refused = handle.final_ready().unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::Unsupported);
    engine.shutdown();
}

#[test]
fn a_blocking_wait_gets_the_final_word_whether_it_spins_or_parks() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    for (n, spin) in [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_secs(1),
    ]
    .into_iter()
    .enumerate()
    {
        let (engine, handle) = start(confirming(&venue).outcome_spin(spin));
        wait_live(&handle);
        assert!(handle.confirms());
        let id = handle.cancel(by_order_id(&orders[n])).unwrap();
        let word = handle.final_timeout(PATIENCE).expect("a final word");
        assert_eq!(
            (word.id, word.state),
            (id, FinalState::Cancelled),
            "{spin:?}"
        );
        // Nothing else is coming: a long spin still ends at the timeout.
        let started = Instant::now();
        assert!(
            handle
                .final_timeout_with_spin(Duration::from_millis(20), Duration::from_secs(600))
                .is_none()
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "spun past its timeout"
        );
        engine.shutdown();
    }
}
