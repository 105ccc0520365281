//! The REST rung below the WebSocket pool, against the simulated venue over real TLS: cancels go
//! over REST exactly when no WebSocket connection is live (or in REST-only mode), its connection
//! is warm before the first one needs it, rejections carry the venue's code, a slow REST server
//! gives one unknown outcome, and the account's cancel limit holds across both paths.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Duration;

use bitget_cancel::engine::{ConfigBuilder, SessionState};
use bitget_cancel::outcome::{NotSentReason, Status, UnknownReason, Via};
use bitget_cancel::rest::RestConfig;
use bitget_cancel::sim::{Faults, LoginFault, Opcode, RestFaults, SimConfig, SimVenue};
use bitget_cancel::{InstType, Outcome};
use chaos::*;
use support::*;

/// Two WebSocket connections and the venue's REST side.
fn rest_config(venue: &SimVenue) -> ConfigBuilder {
    chaos_config(venue)
        .connections(2)
        .rest_url(venue.rest_url())
}

fn wait_rest_connected(handle: &bitget_cancel::Handle) {
    wait_until("the REST connection is open and its clock measured", || {
        let rest = handle.stats().rest;
        rest.connected && rest.clock_synced
    });
}

/// Every WebSocket login is swallowed by the venue from now on, and the open connections dropped:
/// no WebSocket connection is live again until the faults are cleared.
fn take_every_websocket_down(venue: &SimVenue, handle: &bitget_cancel::Handle) {
    venue.set_faults(Faults {
        login: LoginFault::Ignore,
        ..Faults::default()
    });
    venue.drop_connections();
    wait_until("no WebSocket connection is live", || {
        handle.stats().connections[..2]
            .iter()
            .all(|c| c.state != SessionState::Live)
    });
}

fn rest_cancels(venue: &SimVenue) -> Vec<bitget_cancel::sim::ReceivedRest> {
    venue
        .rest_requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[test]
fn with_every_websocket_down_cancels_go_over_the_warm_rest_connection_at_once() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let futures = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 1);
    let (engine, handle) = start(rest_config(&venue));
    wait_live(&handle);
    wait_rest_connected(&handle);
    take_every_websocket_down(&venue, &handle);
    let rest_connections_before = venue.rest_stats().connections_accepted;

    let mut tally = Tally::new(&handle);
    let mut ids = tally.submit_orders(&orders);
    ids.push(tally.submit(by_order_id(&futures[0])));
    tally.settle();
    for id in &ids {
        let outcome = tally.outcome(*id);
        assert_eq!(
            (outcome.status, outcome.via, outcome.attempts),
            (Status::Acked, Some(Via::Rest), 1),
            "{outcome:?}"
        );
        let round_trip = Duration::from_nanos(outcome.times.round_trip_ns().expect("answered"));
        assert!(
            round_trip < Duration::from_secs(2),
            "sent at once, not after a WebSocket reconnect: {round_trip:?}"
        );
    }
    assert_eq!(
        venue.rest_stats().connections_accepted,
        rest_connections_before,
        "no new REST connection: the warm one carried them"
    );
    assert_eq!(rest_cancels(&venue).len(), 4);
    assert!(
        rest_cancels(&venue)
            .iter()
            .any(|r| r.path == "/api/v2/mix/order/cancel-order"
                && r.body.contains(r#""productType":"USDT-FUTURES""#)),
        "the futures cancel went to the futures endpoint"
    );
    assert_eq!(venue.resting_orders(), 0);
    let stats = engine.stats();
    assert_eq!((stats.rest.sent, stats.rest.replies), (4, 4));
    assert!(stats.rest.clock_synced);
    tally.finish(stats);
}

#[test]
fn a_rest_rejection_carries_the_venues_code_and_message() {
    let venue = venue();
    let (engine, handle) = start(rest_config(&venue).rest_only(true));
    wait_rest_connected(&handle);
    let mut tally = Tally::new(&handle);
    let spot = tally.submit(spot("1376695893517410399"));
    tally.settle();
    let outcome = *tally.outcome(spot);
    assert!(
        matches!(outcome.status, Status::Rejected { code: 43001, msg } if msg.as_str() == "The order does not exist"),
        "{outcome:?}"
    );
    assert_eq!(outcome.via, Some(Via::Rest));
    tally.finish(engine.stats());
}

#[test]
fn a_bad_signature_over_rest_is_a_refusal_of_the_credentials_not_a_verdict_on_the_order() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let wrong =
        bitget_cancel::engine::Credentials::new("sim-key", "not-the-secret", "sim-passphrase")
            .unwrap();
    let (engine, handle) = start(rest_config(&venue).credentials(wrong).rest_only(true));
    wait_until("the REST connection is open", || {
        handle.stats().rest.connected
    });
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    let outcome = *tally.outcome(id);
    assert!(
        matches!(
            outcome.status,
            Status::NotSent(NotSentReason::LoginRejected { code: 40009, msg })
                if msg.as_str() == "sign signature error"
        ),
        "{outcome:?}"
    );
    assert_eq!((outcome.via, outcome.attempts), (Some(Via::Rest), 1));
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    tally.finish(engine.stats());
}

#[test]
fn rest_only_mode_never_opens_a_websocket() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 5);
    let (engine, handle) = start(rest_config(&venue).rest_only(true));
    wait_until("live over REST", || handle.state() == SessionState::Live);
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders);
    tally.settle();
    assert!(
        tally
            .outcomes()
            .iter()
            .all(|o: &Outcome| o.status == Status::Acked && o.via == Some(Via::Rest)),
        "{:?}; {:?}",
        tally.outcomes(),
        engine.stats()
    );
    assert_eq!(venue.stats().connections_accepted, 0);
    assert_eq!(engine.stats().sessions, 0);
    tally.finish(engine.stats());
}

#[test]
fn no_cancel_goes_over_rest_while_a_websocket_connection_is_live() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 20);
    let (engine, handle) = start(
        rest_config(&venue)
            .cancels_per_second(100)
            .messages_per_second(100),
    );
    wait_live(&handle);
    wait_rest_connected(&handle);
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders);
    tally.settle();
    let outcomes = tally.outcomes();
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == Status::Acked && matches!(o.via, Some(Via::Connection(_)))),
        "{outcomes:?}"
    );
    assert_eq!(venue.rest_stats().cancels, 0);
    assert_eq!(engine.stats().rest.sent, 0);
    tally.finish(engine.stats());
}

#[test]
fn a_slow_rest_server_is_tried_again_over_rest_until_no_send_is_left() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(chaos_config(&venue).rest_only(true).rest(RestConfig {
        base_url: venue.rest_url(),
        extra_ca_pem: Some(venue.ca_pem().to_owned()),
        request_timeout: Duration::from_millis(300),
        ..RestConfig::default()
    }));
    wait_rest_connected(&handle);
    venue.set_rest_faults(RestFaults {
        delay: Some(Duration::from_secs(2)),
        ..RestFaults::default()
    });
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    assert_eq!(
        tally.status(id),
        Status::Unknown(UnknownReason::AckTimeout),
        "{:?}",
        tally.outcome(id)
    );
    // Each timed-out request went out again over REST, on a fresh connection, until no send
    // was left.
    let stats = engine.stats();
    assert_eq!((stats.rest.sent, stats.rest.failures), (4, 4));
    assert_eq!(tally.outcome(id).attempts, 4);
    // The late replies (each connection was replaced) make no second outcome.
    std::thread::sleep(Duration::from_millis(300));
    tally.finish(engine.stats());
}

#[test]
fn the_account_limit_holds_across_websocket_and_rest_together() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 16);
    let (engine, handle) = start(
        rest_config(&venue)
            .messages_per_second(100)
            .cancels_per_second(5)
            .max_queue_time(Duration::from_secs(10))
            // Single cancels only: a batch counts on an endpoint limit of its own
            // (`engine_burst.rs`), this is the `cancel-order` budget both paths share.
            .no_batch(),
    );
    wait_live(&handle);
    wait_rest_connected(&handle);
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders[..8]);
    // Mid-way, every WebSocket goes: the rest go over REST, within the same account budget.
    // (Answered, so that none is in flight when the connections go: a lost one would be sent
    // again over REST and find its order cancelled.)
    wait_until("some were answered over WebSocket", || {
        engine.stats().acked >= 5
    });
    take_every_websocket_down(&venue, &handle);
    tally.submit_orders(&orders[8..]);
    tally.settle();
    assert_eq!(tally.count(|s| *s == Status::Acked), 16);
    let over_rest = tally
        .outcomes()
        .iter()
        .filter(|o| o.via == Some(Via::Rest))
        .count();
    assert!(over_rest >= 8, "{over_rest} over REST");
    let mut sends: Vec<u64> = venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Text && f.text.contains(r#""op":"trade""#))
        .map(|f| f.at_ns)
        .chain(rest_cancels(&venue).iter().map(|r| r.at_ns))
        .collect();
    sends.sort_unstable();
    let busiest = sends
        .iter()
        .map(|&t| {
            sends
                .iter()
                .filter(|&&u| u >= t && u < t + 1_000_000_000)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 5,
        "{busiest} cancels in one second across both paths"
    );
    tally.finish(engine.stats());
}

#[test]
fn cancels_in_flight_when_the_last_websocket_is_lost_are_sent_again_over_rest() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(
        chaos_config(&venue)
            .connections(1)
            .rest_url(venue.rest_url()),
    );
    wait_live(&handle);
    wait_rest_connected(&handle);
    // The venue drops the only WebSocket when the third cancel arrives, before processing it;
    // the first two are processed, their replies held back and lost with the connection.
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(200),
        drop_on_cancel: Some(3),
        login: LoginFault::Ignore,
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    for (i, id) in ids.iter().enumerate() {
        let outcome = *tally.outcome(*id);
        assert_eq!(
            (outcome.via, outcome.attempts),
            (Some(Via::Rest), 2),
            "{outcome:?}"
        );
        // The first two were cancelled by their lost WebSocket attempt.
        let expected_code = if i < 2 { Some(43001) } else { None };
        match (outcome.status, expected_code) {
            (Status::Rejected { code, .. }, Some(c)) => assert_eq!(code, c),
            (Status::Acked, None) => {}
            other => panic!("#{i}: {other:?}"),
        }
    }
    assert_eq!(venue.resting_orders(), 0);
    let stats = engine.stats();
    assert_eq!((stats.failovers, stats.unknown, stats.rest.sent), (3, 0, 3));
    tally.finish(stats);
}
