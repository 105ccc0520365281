//! A venue that misbehaves: duplicate and stray replies, errors that belong to no request,
//! batched and re-recorded replies, a venue-initiated close, hostile frames, logins it never
//! answers or refuses for the clock.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{SessionError, SessionState};
use bitget_cancel::outcome::{Status, UnknownReason};
use bitget_cancel::sim::{CancelFate, Coalesce, Faults, Injection, OnCancel};
use support::*;

#[test]
fn a_duplicated_reply_settles_its_intent_once() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        duplicate_replies: true,
        ..Faults::default()
    });
    for order in &orders {
        handle.cancel(by_order_id(order)).unwrap();
    }
    for outcome in outcomes(&handle, 2) {
        assert_eq!(outcome.status, Status::Acked);
    }
    wait_until("both copies arrive", || {
        engine.stats().unmatched_replies == 2
    });
    assert!(handle.try_outcome().is_none());
    assert_eq!(engine.stats().acked, 2);
}

#[test]
fn a_reply_for_an_id_never_sent_is_ignored() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        stray_reply_id: Some("123456789".to_string()),
        ..Faults::default()
    });
    let id = handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!((outcome.id, outcome.status), (id, Status::Acked));
    assert_eq!(engine.stats().unmatched_replies, 1);
}

#[test]
fn an_error_that_names_no_request_settles_nothing() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(config_for(&venue).ack_timeout(Duration::from_millis(200)));
    wait_live(&handle);
    // 30006 "request too many" in place of the cancel's reply.
    venue.set_faults(Faults {
        on_cancel: Some(OnCancel {
            nth: 1,
            injection: Injection::too_many_requests(),
            cancel: CancelFate::Refused,
        }),
        ..Faults::default()
    });
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Unknown(UnknownReason::AckTimeout));
    let stats = engine.stats();
    assert_eq!(stats.venue_errors, 1);
    assert_eq!(stats.sessions, 1, "the session stays up");
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
}

#[test]
fn batched_replies_and_replies_cut_into_one_byte_records_are_all_read() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 8);
    let (_engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        coalesce: Some(Coalesce {
            replies: 4,
            wait: Duration::from_millis(20),
        }),
        ..Faults::default()
    });
    for order in &orders[..4] {
        handle.cancel(by_order_id(order)).unwrap();
    }
    for outcome in outcomes(&handle, 4) {
        assert_eq!(outcome.status, Status::Acked);
    }
    venue.set_faults(Faults {
        byte_per_record: true,
        fragments: 3,
        ping_between_fragments: true,
        ..Faults::default()
    });
    for order in &orders[4..] {
        handle.cancel(by_client_oid(order)).unwrap();
    }
    for outcome in outcomes(&handle, 4) {
        assert_eq!(outcome.status, Status::Acked);
    }
}

#[test]
fn a_close_started_by_the_venue_is_answered_with_a_close_frame() {
    let venue = venue();
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    assert_eq!(venue.inject(Injection::Close { code: 1001 }), 1);
    venue
        .wait_for_stats(PATIENCE, |s| s.close_replies == 1)
        .expect("the engine answers the close");
    wait_until("the close is reported", || {
        matches!(
            handle.last_error(),
            Some(SessionError::Closed {
                code: Some(1001),
                ..
            })
        )
    });
    wait_until("a new session", || engine.stats().sessions == 2);
    assert_eq!(handle.state(), SessionState::Live);
}

#[test]
fn hostile_frames_end_the_connection_and_the_engine_starts_over() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(config_for(&venue));
    for (n, hostile) in [
        Injection::MaskedFrame,
        Injection::HugeFrameHeader,
        Injection::ReservedBits,
        Injection::InvalidUtf8,
        Injection::BadOpcode,
        Injection::Text("not json".to_string()),
    ]
    .into_iter()
    .enumerate()
    {
        wait_until("live", || {
            handle.state() == SessionState::Live && engine.stats().sessions == n as u64 + 1
        });
        assert_eq!(venue.inject(hostile.clone()), 1, "{hostile:?}");
        wait_until("the connection is dropped", || {
            matches!(handle.last_error(), Some(SessionError::Protocol(_)))
                && engine.stats().reconnects == n as u64 + 1
        });
        // Reported once: clear the way for the next round's check.
        wait_until("back up", || engine.stats().sessions == n as u64 + 2);
    }
    handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
}

#[test]
fn a_login_the_venue_never_answers_times_out_and_is_tried_again() {
    let venue = venue();
    venue.set_faults(Faults {
        login: bitget_cancel::sim::LoginFault::Ignore,
        ..Faults::default()
    });
    let (engine, handle) = start(config_for(&venue).connect_timeout(Duration::from_millis(200)));
    wait_until("the login times out", || {
        handle.last_error() == Some(SessionError::Timeout("logging in"))
    });
    venue.set_faults(Faults::default());
    wait_live(&handle);
    assert!(engine.stats().connect_attempts >= 2);
}

#[test]
fn a_login_refused_for_a_skewed_clock_is_reported_with_the_venues_code() {
    let venue = venue();
    venue.set_faults(Faults {
        login_clock_offset_s: 120,
        ..Faults::default()
    });
    let (_engine, handle) = start(config_for(&venue));
    handle.cancel(spot("1")).unwrap();
    assert!(matches!(
        next_outcome(&handle).status,
        Status::NotSent(bitget_cancel::outcome::NotSentReason::LoginRejected { code: 30014, .. })
    ));
}
