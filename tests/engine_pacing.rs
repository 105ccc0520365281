//! Pacing: a burst never makes the venue count more messages in a second than its limit.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{DisconnectCause, Opcode, SimConfig};
use support::*;

/// Both limits raised together keep the test short: 100 intents at 50/s take two windows.
const LIMIT: u32 = 50;
const SECOND_NS: u64 = 1_000_000_000;

/// The most messages any one-second window of `times` holds.
fn busiest_second(times: &[u64]) -> usize {
    times
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            times[i..]
                .iter()
                .take_while(|&&t| t < start + SECOND_NS)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_burst_of_100_intents_never_exceeds_the_venues_limit_in_any_second() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: LIMIT,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 100);
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(LIMIT)
            .cancels_per_second(LIMIT)
            // The venue counts by receive time; on a loaded test machine its thread may read a
            // batch late, bunching messages together. The margin absorbs that.
            .rate_margin(Duration::from_millis(100)),
    );
    wait_live(&handle);
    for order in &orders {
        handle
            .cancel(by_order_id(order))
            .expect("the ring holds 100");
    }
    for outcome in outcomes(&handle, 100) {
        assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    }

    // Every text message the venue counted (login, pings, cancels), by receive time.
    let mut times: Vec<u64> = venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Text || f.opcode == Opcode::Binary)
        .map(|f| f.at_ns)
        .collect();
    times.sort_unstable();
    assert!(times.len() >= 101);
    let busiest = busiest_second(&times);
    assert!(
        busiest <= LIMIT as usize,
        "{busiest} messages in one second, limit {LIMIT}"
    );
    // The burst did fill the window: pacing, not slowness, kept it under the limit.
    assert!(
        busiest >= LIMIT as usize - 1,
        "busiest second held {busiest}"
    );
    let stats = venue.stats();
    assert_eq!(stats.disconnects.get(DisconnectCause::RateLimited), 0);
    assert_eq!(stats.connections_accepted, 1);
    assert!(engine.stats().pacing_waits >= 40, "{:?}", engine.stats());
}

#[test]
fn the_cancel_limit_holds_across_a_reconnect() {
    // Per-account cancels per second, unlike messages per connection, survive a new connection.
    let venue = venue_with(SimConfig {
        max_messages_per_second: 100,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 20);
    let (_engine, handle) = start(
        config_for(&venue)
            .messages_per_second(100)
            .cancels_per_second(10)
            .rate_margin(Duration::from_millis(100)),
    );
    wait_live(&handle);
    for order in &orders[..10] {
        handle.cancel(by_order_id(order)).unwrap();
    }
    for outcome in outcomes(&handle, 10) {
        assert_eq!(outcome.status, Status::Acked);
    }
    venue.drop_connections();
    for order in &orders[10..] {
        handle.cancel(by_order_id(order)).unwrap();
    }
    for outcome in outcomes(&handle, 10) {
        assert_eq!(outcome.status, Status::Acked);
    }
    let mut times: Vec<u64> = venue
        .received()
        .iter()
        .filter(|f| f.text.contains("cancel-order"))
        .map(|f| f.at_ns)
        .collect();
    times.sort_unstable();
    assert_eq!(times.len(), 20);
    assert!(busiest_second(&times) <= 10);
}
