//! Cancels whose fate the engine cannot know: no reply, or a connection lost with them in flight.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::SessionError;
use bitget_cancel::outcome::{Status, UnknownReason};
use bitget_cancel::sim::{Faults, Opcode};
use support::*;

/// How many cancel requests the venue received.
fn cancels_received(venue: &bitget_cancel::sim::SimVenue) -> usize {
    venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Text && f.text.contains("cancel-order"))
        .count()
}

#[test]
fn no_reply_within_the_ack_timeout_is_unknown() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(config_for(&venue).ack_timeout(Duration::from_millis(100)));
    wait_live(&handle);
    venue.set_faults(Faults {
        ignore_cancels: true,
        ..Faults::default()
    });
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Unknown(UnknownReason::AckTimeout));
    assert_ne!(outcome.times.written_ns, 0, "it was sent");
    // The venue did cancel it: exactly the uncertainty "unknown" stands for.
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    assert_eq!(
        engine.stats().sessions,
        1,
        "a missing reply is not a reason to reconnect"
    );
}

#[test]
fn a_late_reply_after_the_timeout_is_counted_and_ignored() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(config_for(&venue).ack_timeout(Duration::from_millis(50)));
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(200),
        ..Faults::default()
    });
    handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(
        next_outcome(&handle).status,
        Status::Unknown(UnknownReason::AckTimeout)
    );
    wait_until("the late reply arrives", || {
        engine.stats().unmatched_replies == 1
    });
    assert!(handle.try_outcome().is_none(), "one outcome per intent");
}

#[test]
fn a_dropped_connection_sends_its_cancels_in_flight_again_once_the_engine_reconnects() {
    let venue = venue();
    let before = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let after = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 2);
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        ignore_cancels: true,
        ..Faults::default()
    });
    for order in &before {
        handle.cancel(by_order_id(order)).unwrap();
    }
    venue
        .wait_for_stats(PATIENCE, |s| s.cancels_unanswered == 3)
        .expect("the venue got all three");
    assert_eq!(venue.drop_connections(), 1);
    venue.set_faults(Faults::default());
    // No other path: they wait for the reconnect (within their ack timeout) and go out again;
    // the venue had cancelled the orders, so the second sends find nothing left to cancel.
    for outcome in outcomes(&handle, 3) {
        assert!(
            matches!(outcome.status, Status::Rejected { code: 43001, .. }),
            "{outcome:?}"
        );
        assert_eq!(outcome.attempts, 2);
    }
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::Closed { .. } | SessionError::Io(_) | SessionError::Tls(_))
    ));
    venue.set_faults(Faults::default());
    for order in &after {
        handle.cancel(by_order_id(order)).unwrap();
    }
    for outcome in outcomes(&handle, 2) {
        assert_eq!(outcome.status, Status::Acked);
    }
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1));
    assert_eq!(venue.stats().logins_ok, 2);
    assert_eq!(cancels_received(&venue), 8, "the three lost ones twice");
}
