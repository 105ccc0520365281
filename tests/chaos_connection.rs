//! The connection under attack: a close frame, the rate-limit disconnect, a TCP reset in the
//! middle of a reply, TLS alerts and closes, a gateway that dies with a request unprocessed, a
//! venue that stops reading or never answers, the daily forced disconnect, and a venue that drops
//! every session at once (a reconnect storm the backoff must space out).
//!
//! Every test checks that each intent gets exactly one outcome with the status the fault calls
//! for (a cancel whose connection is lost goes out again once the engine has reconnected,
//! within its ack timeout), that a cancel after the fault is acked, and that the engine holds
//! nothing once the outcomes are in.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Duration;

use bitget_cancel::engine::{ReconnectBackoff, SessionError, SessionState};
use bitget_cancel::outcome::{NotSentReason, Status, UnknownReason};
use bitget_cancel::sim::{CancelFate, Faults, Injection, OnCancel, SimConfig};
use bitget_cancel::{InstType, RequestId};
use chaos::*;
use support::*;

/// Four cancels in flight with replies held 30 ms; `injection` takes the second one's place.
/// Returns their ids once all four are settled.
fn cut_second_of_four(
    venue: &bitget_cancel::sim::SimVenue,
    tally: &mut Tally<'_>,
    injection: Injection,
) -> Vec<RequestId> {
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(30),
        on_cancel: Some(OnCancel {
            nth: 2,
            injection,
            cancel: CancelFate::Answered,
        }),
        ..Faults::default()
    });
    let ids = tally.submit_orders(&orders);
    tally.settle();
    assert_cut_at(tally, venue, &ids, 1);
    ids
}

#[test]
fn a_close_frame_from_the_venue_is_answered_and_the_engine_reconnects() {
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    cut_second_of_four(&venue, &mut tally, Injection::Close { code: 1001 });
    venue
        .wait_for_stats(PATIENCE, |s| s.close_replies == 1)
        .expect("the engine answers the close frame");
    wait_until("the close is reported", || {
        matches!(
            handle.last_error(),
            Some(SessionError::Closed {
                code: Some(1001),
                ..
            })
        )
    });
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn a_30007_disconnect_sends_the_cancels_in_flight_again_on_the_next_connection() {
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    cut_second_of_four(&venue, &mut tally, Injection::OverLimit);
    venue
        .wait_for_stats(PATIENCE, |s| {
            s.close_replies == 1 && s.disconnects.rate_limited == 1
        })
        .expect("the engine answers the close that follows 30007");
    wait_until("the 30007 is counted", || engine.stats().venue_errors == 1);
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn pacing_set_above_the_venues_limit_gets_30007_and_loses_no_intent() {
    // A misconfigured engine: 30 messages a second against the venue's 10.
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 15);
    let (engine, handle) = start(
        chaos_config(&venue)
            .messages_per_second(30)
            .cancels_per_second(30),
    );
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    // The venue answers up to its limit (the login counts when it was less than a second
    // earlier), refuses the next message with 30007 and closes; the rest were in flight, never
    // processed, and go out again once the engine has reconnected and held back for the
    // window the rate limit asks for.
    let first = ids
        .iter()
        .take_while(|&&id| tally.outcome(id).attempts == 1)
        .count();
    assert!((9..=10).contains(&first), "{:?}", tally.outcomes());
    tally.assert_all(&ids, Status::Acked);
    for &id in &ids[first..] {
        assert_eq!(tally.outcome(id).attempts, 2, "{:?}", tally.outcome(id));
    }
    let sim = venue
        .wait_for_stats(PATIENCE, |s| s.disconnects.rate_limited >= 1)
        .expect("the venue disconnects for the rate limit");
    assert_eq!(sim.cancels_acked, 15, "each processed once: {sim:?}");
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_tcp_reset_in_the_middle_of_a_reply_sends_the_cancels_in_flight_again() {
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    cut_second_of_four(&venue, &mut tally, Injection::ResetMidFrame);
    let sim = venue.stats();
    assert!(sim.replies_lost >= 1, "half a reply went out: {sim:?}");
    wait_until("the reset is reported", || {
        matches!(handle.last_error(), Some(SessionError::Io(_)))
    });
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn a_fatal_tls_alert_sends_the_cancels_in_flight_again() {
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    cut_second_of_four(&venue, &mut tally, Injection::TlsFatalAlert);
    wait_until(
        "the alert is reported",
        || matches!(handle.last_error(), Some(SessionError::Tls(ref e)) if e.contains("BadRecordMac")),
    );
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn a_tls_close_without_a_websocket_close_sends_the_cancels_in_flight_again() {
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    cut_second_of_four(&venue, &mut tally, Injection::TlsCloseNotify);
    wait_until("the close is reported", || {
        matches!(
            handle.last_error(),
            Some(SessionError::Closed { code: None, .. })
        )
    });
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn a_gateway_dying_with_a_cancel_unprocessed_sends_it_again_and_it_is_acked() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(100),
        drop_on_cancel: Some(2),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    // The drop comes as the second cancel arrives, before the first one's reply was due
    // (unless the second came more than the reply delay after the first).
    let sim = venue
        .wait_for_stats(PATIENCE, |s| s.disconnects.fault == 1)
        .expect("the venue drops the connection");
    let cut = if sim.replies_lost == 0 { 1 } else { 0 };
    assert_cut_at(&tally, &venue, &ids, cut);
    // This one never reached the book: its second send cancelled the order.
    assert_eq!(
        tally.status(ids[1]),
        Status::Acked,
        "{:?}",
        tally.outcome(ids[1])
    );
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &orders[1].order_id));
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn a_venue_that_stops_reading_backs_up_writes_without_stalling_the_engine() {
    let venue = venue_with(SimConfig {
        receive_buffer: Some(4096),
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let n = 600;
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", n);
    let max_queue = Duration::from_millis(500);
    let ack_timeout = Duration::from_millis(500);
    // Pacing out of the way and small socket buffers: only the full socket holds cancels back.
    let (engine, handle) = start(
        chaos_config(&venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .send_buffer(Some(4096))
            .max_queue_time(max_queue)
            .ack_timeout(ack_timeout)
            // The connection stays (a write timeout has its own test).
            .write_timeout(Duration::from_secs(60)),
    );
    wait_live(&handle);
    assert_eq!(
        venue.inject(Injection::StallReads(Duration::from_secs(60))),
        1
    );
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders);
    // Every outcome comes while the venue is still not reading: the engine never blocks on
    // the full socket.
    tally.settle();
    assert_eq!(venue.stats().cancels_acked, 0, "the venue read nothing");
    let waited = tally.count(|s| *s == Status::NotSent(NotSentReason::QueueTimeout));
    let timed_out = tally.count(|s| *s == Status::Unknown(UnknownReason::AckTimeout));
    assert_eq!(waited + timed_out, n, "{:?}", engine.stats());
    assert!(
        waited > 0,
        "the writes never backed up: {:?}",
        engine.stats()
    );
    assert!(timed_out > 0, "nothing was written: {:?}", engine.stats());
    assert_eq!(engine.stats().sent as usize, timed_out);
    for o in tally.outcomes() {
        let waited_ns = o.times.settled_ns - o.times.accepted_ns;
        match o.status {
            Status::NotSent(_) => {
                assert_eq!(o.times.written_ns, 0, "{o:?}");
                assert!(waited_ns >= max_queue.as_nanos() as u64, "{o:?}");
            }
            _ => assert!(waited_ns >= ack_timeout.as_nanos() as u64, "{o:?}"),
        }
    }

    // Reads resume: the backlog is read, its late replies counted, and the session carries on.
    assert_eq!(venue.inject(Injection::ResumeReads), 1);
    venue
        .wait_for_stats(PATIENCE, |s| s.cancels_acked as usize == timed_out)
        .expect("the venue reads every cancel that was written");
    wait_until("the late replies arrive", || {
        engine.stats().unmatched_replies as usize == timed_out
    });
    assert_recovers(&mut tally, &venue);
    assert_eq!(engine.stats().sessions, 1, "the connection survived");
    tally.finish(engine.stats());
}

#[test]
fn a_venue_that_never_answers_leaves_cancels_unknown_and_is_replaced() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let ack_timeout = Duration::from_millis(300);
    let (engine, handle) = start(
        chaos_config(&venue)
            .ack_timeout(ack_timeout)
            .ping_interval(Duration::from_secs(1))
            .pong_deadline(Duration::from_secs(1)),
    );
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(30),
        on_cancel: Some(OnCancel {
            nth: 2,
            injection: Injection::Silence,
            cancel: CancelFate::Answered,
        }),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    assert_eq!(tally.status(ids[0]), Status::Acked);
    tally.assert_all(&ids[1..], Status::Unknown(UnknownReason::AckTimeout));
    // The venue did cancel them: exactly the uncertainty "unknown" stands for.
    assert_eq!(venue.resting_orders(), 0);
    // The unanswered keepalive tells the engine the venue is gone.
    wait_until("the silence is noticed", || {
        handle.last_error() == Some(SessionError::PeerSilent)
    });
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn the_daily_forced_disconnect_sends_the_cancels_in_flight_again_on_the_next_connection() {
    // The live venue ends every connection after 24 hours; this one after 1.5 s.
    let venue = venue_with(SimConfig {
        lifetime: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue).ack_timeout(Duration::from_secs(10)));
    wait_live(&handle);
    // Replies held past the end of the connection: the cancels are in flight when it comes.
    venue.set_faults(Faults {
        reply_delay: Duration::from_secs(10),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    venue
        .wait_for_stats(PATIENCE, |s| s.cancels_acked == 3)
        .expect("the venue processed all three");
    // The next connection answers at once.
    venue.set_faults(Faults::none());
    tally.settle();
    // Sent again on the next connection, within their ack timeout: the venue had cancelled
    // them, so the second sends find nothing to cancel.
    for &id in &ids {
        let o = tally.outcome(id);
        assert!(
            matches!(o.status, Status::Rejected { code: 43001, .. }) && o.attempts == 2,
            "{o:?}"
        );
    }
    // The venue counts the disconnect once it has seen the engine's answer and lingered.
    let sim = venue
        .wait_for_stats(PATIENCE, |s| {
            s.close_replies >= 1 && s.disconnects.lifetime >= 1
        })
        .expect("the engine answers the venue's close");
    assert_eq!(sim.replies_lost, 3);
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::Closed {
            code: Some(1000),
            ..
        })
    ));
    // The next session takes new cancels.
    assert_recovers(&mut tally, &venue);
    assert!(engine.stats().sessions >= 2);
    tally.finish(engine.stats());
}

/// The shortest delay the backoff may draw after `failures` consecutive failures: half of
/// `initial * 2^(failures - 1)`, capped at `max`.
fn shortest_delay(backoff: &ReconnectBackoff, failures: u32) -> u64 {
    let initial = backoff.initial.as_nanos() as u64;
    let full = (initial << (failures - 1).min(20)).min(backoff.max.as_nanos() as u64);
    full - full / 2
}

#[test]
fn a_venue_that_closes_every_session_after_login_meets_a_growing_backoff_and_loses_no_intent() {
    let venue = venue();
    // Every session is closed by the venue right after its login.
    venue.set_faults(Faults {
        close_after_login: true,
        ..Faults::default()
    });
    let backoff = ReconnectBackoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(160),
        reset_after: Duration::from_secs(30),
    };
    let (engine, handle) = start(
        chaos_config(&venue)
            .reconnect(backoff)
            .max_queue_time(Duration::from_secs(1)),
    );
    let mut tally = Tally::new(&handle);
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    tally.submit_orders(&orders);
    let attempts = 8;
    venue
        .wait_for_stats(PATIENCE, |s| s.connections_accepted >= attempts)
        .expect("the engine keeps trying");
    let times = venue.accept_times_ns();
    let storm_over = bitget_cancel::clock::monotonic_ns();
    venue.set_faults(Faults::none());

    // Attempt k+1 comes no sooner than the shortest delay after k failures: the spacing grows
    // up to the maximum, and no more attempts fit in the window than the backoff allows.
    let mut earliest = times[0];
    for (k, pair) in times.windows(2).enumerate() {
        let least = shortest_delay(&backoff, k as u32 + 1);
        assert!(
            pair[1] - pair[0] >= least,
            "attempt {} came {} ms after the previous one, before the backoff's {} ms: {times:?}",
            k + 2,
            (pair[1] - pair[0]) / 1_000_000,
            least / 1_000_000
        );
        earliest += least;
        assert!(pair[1] >= earliest);
    }
    let window = times[times.len() - 1] - times[0];
    let allowed = 1
        + (1..)
            .scan(0u64, |sum, k| {
                *sum += shortest_delay(&backoff, k);
                (*sum <= window).then_some(())
            })
            .count();
    assert!(
        times.len() <= allowed,
        "{} attempts in {window} ns, the backoff allows {allowed}",
        times.len()
    );

    // The venue answers nothing once it has decided to close, which it does at each login
    // during the storm: an intent sent then goes out again at the next login, until its ack
    // timeout or its sends run out (then it is unknown); one never sent times out; only a
    // send after the storm can be acked.
    tally.settle();
    for o in tally.outcomes() {
        match o.status {
            Status::Unknown(UnknownReason::ConnectionLost | UnknownReason::AckTimeout)
            | Status::NotSent(NotSentReason::QueueTimeout)
            | Status::NotSent(NotSentReason::NoConnection { .. }) => {}
            Status::Acked => assert!(o.times.settled_ns > storm_over, "{o:?}"),
            _ => panic!("{o:?}"),
        }
    }
    // The storm ends with the fault.
    wait_until("live again", || {
        handle.state() == SessionState::Live && venue.stats().connections_open == 1
    });
    assert_recovers(&mut tally, &venue);
    assert!(engine.stats().connect_attempts >= attempts);
    tally.finish(engine.stats());
}
