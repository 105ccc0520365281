//! Replies in strange shapes the engine must read through without losing the session: fragments,
//! ping frames between them, one byte per TLS record, several replies in one segment, replies for
//! ids it never sent or has not sent yet, duplicates, binary frames, errors that name no request.
//!
//! Every test checks that each intent gets exactly one outcome with the status the fault calls
//! for, that the session survives, that a cancel after the fault is acked, and that the engine
//! holds nothing once the outcomes are in.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Duration;

use bitget_cancel::outcome::{Status, UnknownReason};
use bitget_cancel::sim::{CancelFate, Coalesce, Faults, Injection, OnCancel, Opcode};
use bitget_cancel::{InstType, RequestId};
use chaos::*;
use support::*;

fn on_cancel(nth: u64, injection: Injection, cancel: CancelFate) -> Option<OnCancel> {
    Some(OnCancel {
        nth,
        injection,
        cancel,
    })
}

#[test]
fn replies_cut_into_many_fragments_are_reassembled() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 4);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        fragments: 9,
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let found = tally.submit_orders(&orders);
    let missing = tally.submit(spot("999"));
    tally.settle();
    tally.assert_all(&found, Status::Acked);
    assert!(
        matches!(tally.status(missing), Status::Rejected { code: 43001, .. }),
        "{:?}",
        tally.outcome(missing)
    );
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn ping_frames_between_fragments_are_answered_and_the_reply_kept() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        fragments: 4,
        ping_between_fragments: true,
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    // Three pings inside each of the three replies, each answered with its own payload.
    wait_until("every ping frame is answered", || {
        let pongs: Vec<_> = venue
            .received()
            .into_iter()
            .filter(|f| f.opcode == Opcode::Pong)
            .collect();
        assert!(pongs.iter().all(|p| p.text == "sim"), "{pongs:?}");
        pongs.len() == 9
    });
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn replies_written_one_byte_per_tls_record_are_reassembled() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::CoinFutures, "BTCUSD", 3);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        byte_per_record: true,
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids: Vec<_> = orders
        .iter()
        .map(|o| tally.submit(by_client_oid(o)))
        .collect();
    let missing = tally.submit(spot("999"));
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    assert!(matches!(
        tally.status(missing),
        Status::Rejected { code: 43001, .. }
    ));
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn several_replies_in_one_tcp_segment_are_all_settled() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 6);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        coalesce: Some(Coalesce {
            replies: 6,
            wait: Duration::from_millis(200),
        }),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_reply_for_an_id_never_sent_is_counted_and_settles_nothing() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        stray_reply_id: Some("424242".to_string()),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    wait_until("every stray reply is counted", || {
        engine.stats().unmatched_replies == 3
    });
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_reply_naming_a_cancel_still_waiting_to_be_sent_does_not_settle_it() {
    let venue = venue();
    let first = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // One cancel a second: the second intent waits about a second to be sent.
    let (engine, handle) = start(chaos_config(&venue).cancels_per_second(1));
    wait_live(&handle);
    let waiting = RequestId::new("still-waiting").unwrap();
    let forged = r#"{"event":"trade","arg":[{"id":"still-waiting","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"999"}}],"code":0,"msg":"Success","ts":1}"#;
    venue.set_faults(Faults {
        on_cancel: on_cancel(1, Injection::Text(forged.into()), CancelFate::Answered),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let sent = tally.submit(by_order_id(&first));
    // No order 999 on the book: the real reply is a rejection, the forged one an ack.
    tally.submit(spot("999").with_id(waiting));
    tally.settle();
    assert_eq!(tally.status(sent), Status::Acked);
    let outcome = tally.outcome(waiting);
    assert!(
        matches!(outcome.status, Status::Rejected { code: 43001, .. }),
        "settled by a reply to a request it never sent: {outcome:?}"
    );
    assert_eq!(tally.sends(&venue, waiting), [1], "sent once, later");
    assert_eq!(engine.stats().unmatched_replies, 1);
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_duplicated_reply_yields_one_outcome() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        duplicate_replies: true,
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    let missing = tally.submit(spot("999"));
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    assert!(matches!(
        tally.status(missing),
        Status::Rejected { code: 43001, .. }
    ));
    wait_until("every copy arrives", || {
        engine.stats().unmatched_replies == 4
    });
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_binary_frame_is_ignored_and_the_session_kept() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(30),
        on_cancel: on_cancel(
            2,
            Injection::Binary(b"\x00\xff{\"event\":\"trade\"}".to_vec()),
            CancelFate::Answered,
        ),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn an_error_without_arg_settles_nothing_and_the_session_stays() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(30),
        on_cancel: on_cancel(
            2,
            Injection::error(30002, "Illegal request"),
            CancelFate::Answered,
        ),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
    wait_until("the error is counted", || engine.stats().venue_errors == 1);
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_30006_in_place_of_a_reply_leaves_that_cancel_unknown_after_the_ack_timeout() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let ack_timeout = Duration::from_millis(400);
    let (engine, handle) = start(chaos_config(&venue).ack_timeout(ack_timeout));
    wait_live(&handle);
    venue.set_faults(Faults {
        on_cancel: on_cancel(2, Injection::too_many_requests(), CancelFate::Refused),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    assert_eq!(tally.status(ids[0]), Status::Acked);
    assert_eq!(tally.status(ids[2]), Status::Acked);
    let refused = tally.outcome(ids[1]);
    assert_eq!(refused.status, Status::Unknown(UnknownReason::AckTimeout));
    assert!(
        refused.times.settled_ns - refused.times.accepted_ns >= ack_timeout.as_nanos() as u64,
        "timed out early: {refused:?}"
    );
    // The venue did not process it: "unknown" is the honest answer.
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &orders[1].order_id));
    let stats = engine.stats();
    assert_eq!(stats.venue_errors, 1);
    assert_eq!(stats.sessions, 1, "the session stays up");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}
