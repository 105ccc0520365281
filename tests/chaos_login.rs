//! Logins that go wrong: never answered, refused for the credentials or the clock, refused with
//! a code the engine has never seen. Intents wait for a session or are reported not sent, each
//! exactly once, and the engine gets back to a session once the venue lets it. (A login refused
//! for its timestamp is tried again, with the clock measured anew: `tests/engine_clock.rs`.)

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{SessionError, SessionState};
use bitget_cancel::outcome::{ConnectFailure, NotSentReason, Status};
use bitget_cancel::sim::{Faults, LoginFault};
use chaos::*;
use support::*;

#[test]
fn intents_wait_through_logins_the_venue_never_answers() {
    let venue = venue();
    venue.set_faults(Faults {
        login: LoginFault::Ignore,
        ..Faults::default()
    });
    let max_queue = Duration::from_secs(2);
    let (engine, handle) = start(
        chaos_config(&venue)
            .connect_timeout(Duration::from_millis(400))
            .max_queue_time(max_queue),
    );
    let mut tally = Tally::new(&handle);
    let early = tally.submit(spot("901"));
    tally.settle();
    let outcome = tally.outcome(early);
    // No connection came up: the reason says why, the login's timeout.
    match outcome.status {
        Status::NotSent(NotSentReason::NoConnection { failure, error }) => {
            assert_eq!(failure, ConnectFailure::Timeout, "{outcome:?}");
            assert_eq!(error.as_str(), "timed out while logging in");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.times.written_ns, 0);
    assert!(outcome.times.settled_ns - outcome.times.accepted_ns >= max_queue.as_nanos() as u64);
    wait_until("a login timeout is reported", || {
        handle.last_error() == Some(SessionError::Timeout("logging in"))
    });
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_ignored >= 2)
        .expect("the engine tries again after a login times out");
    assert_eq!(engine.stats().sessions, 0);

    // An intent submitted now goes out once a login is answered.
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let late = tally.submit(by_order_id(&order));
    venue.set_faults(Faults::none());
    tally.settle();
    assert_eq!(
        tally.status(late),
        Status::Acked,
        "{:?}",
        tally.outcome(late)
    );
    assert_eq!(engine.stats().sessions, 1);
    tally.finish(engine.stats());
}

#[test]
fn a_refused_login_reports_every_intent_not_sent_with_the_venues_code_then_recovers() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    venue.set_faults(Faults {
        login: LoginFault::Reject {
            code: 30012,
            msg: "Invalid ACCESS_PASSPHRASE".to_string(),
        },
        ..Faults::default()
    });
    let retry = Duration::from_millis(300);
    let (engine, handle) = start(chaos_config(&venue).login_retry_after(Some(retry)));
    let mut tally = Tally::new(&handle);
    // Queued before the refusal, refused at once while refused, or queued while the engine
    // tries again: the venue's code comes back every time.
    let mut ids = tally.submit_orders(&orders[..2]);
    wait_until("the refusal is visible", || {
        handle.state() == SessionState::LoginRejected
    });
    ids.extend(tally.submit_orders(&orders[2..]));
    tally.settle();
    for id in ids {
        let outcome = tally.outcome(id);
        match outcome.status {
            Status::NotSent(NotSentReason::LoginRejected { code: 30012, msg }) => {
                assert_eq!(msg.as_str(), "Invalid ACCESS_PASSPHRASE");
            }
            other => panic!("expected the venue's refusal, got {other:?}"),
        }
        assert_eq!(outcome.times.written_ns, 0);
    }
    assert_eq!(venue.resting_orders(), 3, "nothing was cancelled");
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_failed >= 2)
        .expect("the engine tries again after the configured wait");

    // The venue accepts the credentials again: the next attempt logs in.
    venue.set_faults(Faults::none());
    wait_live(&handle);
    // Attempts after a refusal come no sooner than the configured wait: no storm.
    let retry_ns = retry.as_nanos() as u64;
    let times = venue.accept_times_ns();
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= retry_ns, "{times:?}");
    }
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::LoginRejected { code: 30012, .. })
    ));
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert!(stats.login_rejections >= 2, "{stats:?}");
    assert_eq!(stats.sessions, 1);
    tally.finish(stats);
}

#[test]
fn a_login_refused_with_an_unknown_code_is_retried_with_backoff_and_intents_wait() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // Not a code about the credentials: a venue hiccup, tried again after the reconnect delay.
    venue.set_faults(Faults {
        login: LoginFault::Reject {
            code: 39999,
            msg: "Service temporarily unavailable".to_string(),
        },
        ..Faults::default()
    });
    let (engine, handle) = start(chaos_config(&venue));
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_failed >= 3)
        .expect("the engine keeps trying");
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::LoginFailed { code: 39999, .. })
    ));
    assert_eq!(engine.stats().login_rejections, 0);
    venue.set_faults(Faults::none());
    tally.settle();
    assert_eq!(tally.status(id), Status::Acked, "{:?}", tally.outcome(id));
    assert_eq!(engine.stats().sessions, 1);
    tally.finish(engine.stats());
}

/// The venue checks login timestamps against a clock `offset_s` seconds off ours, beyond its
/// 30 s window, while its `Date` header says otherwise: every login is refused with 30014. That
/// is a clock to measure again, never refused credentials: the engine keeps trying, intents
/// wait for a session (and time out in the queue, not sent since no connection came up, with
/// the login's refusal as the reason), and once the clocks agree the engine's next try logs in.
fn a_login_refused_for_its_timestamp_is_tried_again(offset_s: i64) {
    let venue = venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 2);
    venue.set_faults(Faults {
        login_clock_offset_s: offset_s,
        ..Faults::default()
    });
    let (engine, handle) = start(chaos_config(&venue).max_queue_time(Duration::from_secs(1)));
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    for id in ids {
        let outcome = tally.outcome(id);
        match outcome.status {
            Status::NotSent(NotSentReason::NoConnection { failure, error }) => {
                assert_eq!(failure, ConnectFailure::Login, "{outcome:?}");
                assert_eq!(
                    error.as_str(),
                    "login failed: 30014 Request timestamp expired"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_failed >= 3)
        .expect("the engine keeps trying");
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::LoginFailed { code: 30014, .. })
    ));
    assert_ne!(handle.state(), SessionState::LoginRejected);
    assert_eq!(
        engine.stats().login_rejections,
        0,
        "not refused credentials"
    );
    assert_eq!(venue.resting_orders(), 2, "nothing was cancelled");
    venue.set_faults(Faults::none());
    wait_live(&handle);
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_login_refused_for_a_timestamp_behind_the_venues_clock_is_tried_again() {
    a_login_refused_for_its_timestamp_is_tried_again(120);
}

#[test]
fn a_login_refused_for_a_timestamp_ahead_of_the_venues_clock_is_tried_again() {
    a_login_refused_for_its_timestamp_is_tried_again(-120);
}
