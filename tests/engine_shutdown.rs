//! Shutdown: every accepted intent gets exactly one outcome, and the WebSocket closes cleanly.

#[path = "support/engine.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::SessionState;
use bitget_cancel::outcome::{NotSentReason, Status, UnknownReason};
use bitget_cancel::sim::{DisconnectCause, Faults, Opcode};
use support::*;

#[test]
fn every_accepted_intent_gets_exactly_one_outcome_at_shutdown() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 40);
    let (engine, handle) = start(
        config_for(&venue)
            .shutdown_grace(Duration::from_millis(300))
            .max_queue_time(Duration::from_secs(30)),
    );
    wait_live(&handle);
    // Slow replies and the default pacing (10 per second) leave intents in every state: acked,
    // in flight, waiting for pacing, still in the ring.
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(100),
        ..Faults::default()
    });
    let mut accepted = HashMap::new();
    for (tag, order) in orders.iter().enumerate() {
        let id = handle
            .cancel(by_order_id(order).with_tag(tag as u64))
            .unwrap();
        accepted.insert(id, tag as u64);
    }
    wait_until("some acks", || engine.stats().acked >= 1);
    let stats = engine.shutdown();
    assert_eq!(handle.state(), SessionState::Stopped);

    let mut seen = HashMap::new();
    for outcome in handle.outcomes() {
        assert_eq!(
            accepted.get(&outcome.id),
            Some(&outcome.tag()),
            "{outcome:?}"
        );
        assert!(
            seen.insert(outcome.id, outcome.status).is_none(),
            "two outcomes for {}",
            outcome.id
        );
    }
    assert_eq!(seen.len(), accepted.len(), "an outcome for every intent");
    let count = |wanted: fn(&Status) -> bool| seen.values().filter(|s| wanted(s)).count();
    assert!(count(|s| *s == Status::Acked) >= 1);
    assert!(count(|s| *s == Status::NotSent(NotSentReason::Shutdown)) >= 1);
    assert_eq!(
        count(|s| !matches!(
            s,
            Status::Acked
                | Status::NotSent(NotSentReason::Shutdown)
                | Status::Unknown(UnknownReason::Shutdown)
        )),
        0,
        "{seen:?}"
    );
    assert_eq!(stats.acked as usize, count(|s| *s == Status::Acked));
    assert_eq!(
        (stats.acked + stats.unknown + stats.not_sent) as usize,
        accepted.len()
    );
    // The venue saw the WebSocket close, then the client leaving.
    venue
        .wait_for_stats(PATIENCE, |s| s.connections_open == 0)
        .expect("the connection is closed");
    assert!(venue.received().iter().any(|f| f.opcode == Opcode::Close));
    assert_eq!(
        venue.stats().disconnects.get(DisconnectCause::ClientClosed),
        1
    );
}

#[test]
fn shutdown_waits_for_replies_in_flight() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 3);
    let (engine, handle) = start(config_for(&venue).shutdown_grace(Duration::from_secs(5)));
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(100),
        ..Faults::default()
    });
    for order in &orders {
        handle.cancel(by_order_id(order)).unwrap();
    }
    venue
        .wait_for_stats(PATIENCE, |s| s.cancels_acked == 3)
        .expect("the venue has them all");
    engine.shutdown();
    let statuses: Vec<_> = handle.outcomes().map(|o| o.status).collect();
    assert_eq!(statuses, [Status::Acked; 3]);
}

#[test]
fn dropping_the_engine_shuts_it_down() {
    let venue = venue();
    let (engine, handle) = start(
        config_for(&venue)
            .max_queue_time(Duration::from_secs(30))
            .shutdown_grace(Duration::from_millis(50)),
    );
    // Not live yet, or live: either way the intent is reported.
    venue.set_faults(Faults {
        ignore_cancels: true,
        ..Faults::default()
    });
    let id = handle.cancel(spot("77")).unwrap();
    drop(engine);
    let outcome = handle.outcomes().next().expect("an outcome");
    assert_eq!(outcome.id, id);
    assert!(matches!(
        outcome.status,
        Status::NotSent(NotSentReason::Shutdown) | Status::Unknown(UnknownReason::Shutdown)
    ));
    assert!(handle.outcomes().next().is_none());
}

#[test]
fn intents_racing_a_shutdown_are_either_refused_or_reported_once() {
    let venue = venue_with(bitget_cancel::sim::SimConfig {
        max_messages_per_second: 0,
        ..Default::default()
    });
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .intent_capacity(64)
            .shutdown_grace(Duration::from_millis(100)),
    );
    wait_live(&handle);
    let submitters: Vec<_> = (0..2u64)
        .map(|thread| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let mut accepted = Vec::new();
                for n in 0u64.. {
                    let cancel = spot("1").with_tag(thread << 32 | n);
                    match handle.cancel(cancel) {
                        Ok(id) => accepted.push((id, cancel.tag)),
                        Err(bitget_cancel::engine::SubmitError::Full(_)) => {
                            std::thread::yield_now()
                        }
                        Err(bitget_cancel::engine::SubmitError::Stopped(_)) => break,
                    }
                }
                accepted
            })
        })
        .collect();
    wait_until("both submitters got intents in", || {
        engine.stats().intents >= 200
    });
    engine.shutdown();
    let accepted: HashMap<_, _> = submitters
        .into_iter()
        .flat_map(|t| t.join().expect("submitter"))
        .collect();
    let mut seen = HashMap::new();
    for outcome in handle.outcomes() {
        assert_eq!(accepted.get(&outcome.id), Some(&outcome.tag()));
        assert!(
            seen.insert(outcome.id, ()).is_none(),
            "two outcomes for {}",
            outcome.id
        );
    }
    assert_eq!(
        seen.len(),
        accepted.len(),
        "an outcome for every accepted intent"
    );
}
