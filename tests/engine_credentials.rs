//! Refused credentials are never an order's verdict. Whichever path hears the refusal first (the
//! WebSocket login, 30015 for a bad signature; a REST request, 40009), every cancel it affects is
//! settled `NotSent(LoginRejected)` with the venue's code, no other path tries the credentials
//! meanwhile, and the outcome is the same on every run, threaded and inline.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Instant;

use bitget_cancel::engine::{ConfigBuilder, Credentials, Engine, SessionError, SessionState};
use bitget_cancel::outcome::{NotSentReason, Status, VenueMsg, Via};
use bitget_cancel::sim::SimVenue;
use bitget_cancel::{InstType, Outcome};
use chaos::*;
use support::*;

/// How many times each engine starts with the wrong secret.
const RUNS: usize = 20;

/// The venue's key and passphrase with a secret it does not know: every signature is wrong.
fn wrong_secret() -> Credentials {
    Credentials::new("sim-key", "not-the-secret", "sim-passphrase").expect("valid credentials")
}

/// Two connections and the venue's REST side, with the wrong secret.
fn wrong_secret_config(venue: &SimVenue) -> ConfigBuilder {
    chaos_config(venue)
        .credentials(wrong_secret())
        .connections(2)
        .rest_url(venue.rest_url())
}

/// The POST requests (cancels) the venue's REST side received.
fn rest_cancels(venue: &SimVenue) -> usize {
    venue
        .rest_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// What a cancel of a run became, in the terms that must not change from run to run.
fn verdict(o: &Outcome) -> (Status, u8, Option<Via>) {
    (o.status, o.attempts, o.via)
}

fn refused_login() -> (Status, u8, Option<Via>) {
    let reason = NotSentReason::LoginRejected {
        code: 30015,
        msg: VenueMsg::new("Invalid sign"),
    };
    (Status::NotSent(reason), 0, None)
}

#[test]
fn a_wrong_secret_gives_the_same_outcome_on_every_run_of_the_threaded_engine() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    for run in 0..RUNS {
        let (engine, handle) = start(wrong_secret_config(&venue));
        let mut tally = Tally::new(&handle);
        // Right after start, and once the REST connection is up beside the refused logins.
        let first = tally.submit(by_order_id(&orders[0]));
        wait_until("the REST connection is open", || {
            handle.stats().rest.connected
        });
        let second = tally.submit(by_order_id(&orders[1]));
        tally.settle();
        for id in [first, second] {
            let outcome = tally.outcome(id);
            assert_eq!(verdict(outcome), refused_login(), "run {run}: {outcome:?}");
        }
        assert!(
            !handle.wait_live(PATIENCE),
            "run {run}: the engine says the credentials were refused"
        );
        assert_eq!(handle.state(), SessionState::LoginRejected, "run {run}");
        assert!(
            matches!(
                handle.last_error(),
                Some(SessionError::LoginRejected { code: 30015, .. })
            ),
            "run {run}: {:?}",
            handle.last_error()
        );
        let stats = engine.stats();
        assert_eq!((stats.sent, stats.rest.sent), (0, 0), "run {run}");
        tally.finish(stats);
    }
    assert_eq!(rest_cancels(&venue), 0, "no cancel went over REST");
    assert_eq!(venue.resting_orders(), 2, "nothing was cancelled");
}

#[test]
fn a_wrong_secret_gives_the_same_outcome_on_every_run_of_the_inline_engine() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    for run in 0..RUNS {
        let config = wrong_secret_config(&venue).build().expect("valid config");
        let mut engine = Engine::inline(config).expect("the engine starts");
        let mut ids = vec![engine.cancel(by_order_id(&orders[0])).expect("accepted")];
        let deadline = Instant::now() + PATIENCE;
        while !engine.stats().rest.connected {
            assert!(Instant::now() < deadline, "run {run}: REST never came up");
            engine.poll();
        }
        ids.push(engine.cancel(by_order_id(&orders[1])).expect("accepted"));
        let mut outcomes = Vec::new();
        while outcomes.len() < ids.len() {
            assert!(Instant::now() < deadline, "run {run}: {outcomes:?}");
            engine.poll();
            outcomes.extend(engine.try_outcome());
        }
        for outcome in &outcomes {
            assert!(ids.contains(&outcome.id), "run {run}: {outcome:?}");
            assert_eq!(verdict(outcome), refused_login(), "run {run}: {outcome:?}");
        }
        let waited = Instant::now();
        assert!(!engine.wait_live(PATIENCE), "run {run}");
        assert!(
            waited.elapsed() < PATIENCE,
            "run {run}: the refusal ends the wait, not the timeout"
        );
        let stopped = engine.shutdown();
        assert!(stopped.outcomes.is_empty(), "run {run}");
        assert_eq!((stopped.stats.sent, stopped.stats.rest.sent), (0, 0));
    }
    assert_eq!(rest_cancels(&venue), 0, "no cancel went over REST");
    assert_eq!(venue.resting_orders(), 2, "nothing was cancelled");
}

#[test]
fn a_refusal_heard_over_rest_settles_the_cancel_not_sent_and_stops_rest_from_trying_again() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    // A port nothing listens on: the WebSocket is down, REST is the path, and hears it first.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed_port = closed.local_addr().expect("its address").port();
    drop(closed);
    let (engine, handle) = start(
        wrong_secret_config(&venue)
            .url(format!("wss://127.0.0.1:{closed_port}/v2/ws/private"))
            .login_retry_after(None),
    );
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders[..3]);
    tally.settle();
    let refusal = NotSentReason::LoginRejected {
        code: 40009,
        msg: VenueMsg::new("sign signature error"),
    };
    let over_rest: Vec<_> = ids
        .iter()
        .map(|id| *tally.outcome(*id))
        .filter(|o| o.via == Some(Via::Rest))
        .collect();
    assert_eq!(over_rest.len(), 1, "one request heard the refusal");
    assert_eq!(
        (over_rest[0].status, over_rest[0].attempts),
        (Status::NotSent(refusal), 1)
    );
    for id in &ids {
        let outcome = tally.outcome(*id);
        assert_eq!(outcome.status, Status::NotSent(refusal), "{outcome:?}");
        assert!(!outcome.status.was_sent(), "not an order's verdict");
    }
    assert!(!handle.wait_live(PATIENCE));
    assert_eq!(handle.state(), SessionState::LoginRejected);
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::LoginRejected { code: 40009, .. })
    ));
    // Refused at once now, with no request to the venue.
    let late = tally.submit(by_order_id(&orders[3]));
    tally.settle();
    let outcome = tally.outcome(late);
    assert_eq!(
        (outcome.status, outcome.attempts, outcome.via),
        (Status::NotSent(refusal), 0, None)
    );
    assert_eq!(rest_cancels(&venue), 1, "REST tried the credentials once");
    assert_eq!(venue.resting_orders(), 4, "nothing was cancelled");
    tally.finish(engine.stats());
}

#[test]
fn rest_only_with_a_wrong_secret_gives_the_same_outcome_on_every_run() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let refusal = NotSentReason::LoginRejected {
        code: 40009,
        msg: VenueMsg::new("sign signature error"),
    };
    for run in 0..5 {
        let (engine, handle) = start(wrong_secret_config(&venue).rest_only(true));
        let mut tally = Tally::new(&handle);
        let id = tally.submit(by_order_id(&order));
        tally.settle();
        assert_eq!(
            verdict(tally.outcome(id)),
            (Status::NotSent(refusal), 1, Some(Via::Rest)),
            "run {run}"
        );
        assert!(!handle.wait_live(PATIENCE), "run {run}");
        assert_eq!(handle.state(), SessionState::LoginRejected, "run {run}");
        tally.finish(engine.stats());
    }
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
}
