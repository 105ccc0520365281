//! A clean start: cancels submitted right after the engine starts wait for the first WebSocket
//! connection to log in (or be refused, or give up) instead of going over REST, whose warm
//! connection is often up first; REST is the rung for when the WebSocket is down, not before it
//! came up. Threaded and inline, against the simulated venue over TLS.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::{Duration, Instant};

use bitget_cancel::engine::{ConfigBuilder, Engine, HedgeAfter};
use bitget_cancel::outcome::{Status, Via};
use bitget_cancel::sim::{Faults, LoginFault, SimVenue};
use bitget_cancel::{InstType, Outcome};
use chaos::*;
use support::*;

/// How long the venue holds every answer, the login's included: long enough that the REST
/// connection, which answers at once, is up well before the first WebSocket login.
const SLOW_LOGIN: Duration = Duration::from_millis(400);

/// Two connections and the venue's REST side; no hedges (the slow venue answers cancels late
/// too), so that every send is counted by its cause.
fn with_rest(venue: &SimVenue) -> ConfigBuilder {
    chaos_config(venue)
        .connections(2)
        .rest_url(venue.rest_url())
        .hedge_after(HedgeAfter::Off)
}

/// The POST requests (cancels) the venue's REST side received.
fn rest_cancels(venue: &SimVenue) -> usize {
    venue
        .rest_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

fn assert_acked_on_a_connection(outcome: &Outcome) {
    assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    assert!(
        matches!(outcome.via, Some(Via::Connection(_))),
        "went {:?}, not over a WebSocket connection: {outcome:?}",
        outcome.via
    );
    assert_eq!(outcome.attempts, 1, "{outcome:?}");
}

#[test]
fn cancels_submitted_right_after_start_wait_for_the_first_login_instead_of_going_over_rest() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    venue.set_faults(Faults {
        reply_delay: SLOW_LOGIN,
        ..Faults::default()
    });
    let (engine, handle) = start(with_rest(&venue));
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    // The REST connection comes up (TLS, then the venue's clock) while the logins wait.
    wait_until("the REST connection is open", || {
        handle.stats().rest.connected
    });
    tally.settle();
    for id in ids {
        assert_acked_on_a_connection(tally.outcome(id));
    }
    assert_eq!(rest_cancels(&venue), 0, "no cancel went over REST");
    let stats = engine.stats();
    assert_eq!(stats.rest.sent, 0);
    tally.finish(stats);
}

#[test]
fn the_inline_engine_waits_for_the_first_login_too() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    venue.set_faults(Faults {
        reply_delay: SLOW_LOGIN,
        ..Faults::default()
    });
    let config = with_rest(&venue).build().expect("valid config");
    let mut engine = Engine::inline(config).expect("the engine starts");
    let ids: Vec<_> = orders
        .iter()
        .map(|o| engine.cancel(by_order_id(o)).expect("accepted"))
        .collect();
    let mut outcomes = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while outcomes.len() < ids.len() {
        assert!(Instant::now() < deadline, "outcomes came: {outcomes:?}");
        engine.poll();
        outcomes.extend(engine.try_outcome());
    }
    for outcome in &outcomes {
        assert!(ids.contains(&outcome.id), "{outcome:?}");
        assert_acked_on_a_connection(outcome);
    }
    assert!(engine.stats().rest.connected, "REST was up, and not used");
    assert_eq!(rest_cancels(&venue), 0, "no cancel went over REST");
    let stopped = engine.shutdown();
    assert!(stopped.outcomes.is_empty());
}

#[test]
fn with_the_websocket_unreachable_cancels_go_over_rest_once_its_first_attempt_failed() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // A port nothing listens on: every WebSocket connect is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed_port = closed.local_addr().expect("its address").port();
    drop(closed);
    let (engine, handle) = start(
        with_rest(&venue)
            .url(format!("wss://127.0.0.1:{closed_port}/v2/ws/private"))
            .connect_timeout(Duration::from_secs(30)),
    );
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    let outcome = *tally.outcome(id);
    assert_eq!(
        (outcome.status, outcome.via, outcome.attempts),
        (Status::Acked, Some(Via::Rest), 1),
        "{outcome:?}"
    );
    let waited = Duration::from_nanos(outcome.times.settled_ns - outcome.times.accepted_ns);
    assert!(
        waited < Duration::from_secs(15),
        "a refused connect is the connection's chance: no wait for the 30 s connect timeout \
         ({waited:?})"
    );
    tally.finish(engine.stats());
}

#[test]
fn a_first_login_that_never_comes_hands_cancels_to_rest_after_the_connect_timeout() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    venue.set_faults(Faults {
        login: LoginFault::Ignore,
        ..Faults::default()
    });
    let connect_timeout = Duration::from_millis(500);
    let before_start = bitget_cancel::clock::monotonic_ns();
    let (engine, handle) = start(
        with_rest(&venue)
            .connect_timeout(connect_timeout)
            .max_queue_time(Duration::from_secs(5)),
    );
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    let outcome = *tally.outcome(id);
    assert_eq!(
        (outcome.status, outcome.via, outcome.attempts),
        (Status::Acked, Some(Via::Rest), 1),
        "{outcome:?}"
    );
    // It cannot have left before the first login's connect timeout ran out, counted from a
    // moment before the engine started.
    let waited = Duration::from_nanos(outcome.times.written_ns - before_start);
    assert!(
        waited >= connect_timeout,
        "went over REST before the first connection had its chance ({waited:?})"
    );
    tally.finish(engine.stats());
}
