//! Never wrong under stress, against the simulated venue over real TLS: a frozen connection and
//! a burst, transient refusals and rate limits, REST failures and idle closes, a connection
//! that cannot write or does not answer, everything lost at once, rotation edge cases, a
//! venue's announced close that never comes, floods and huge intervals. Every test checks one
//! outcome per intent (`Tally`), and which path, how many sends and what verdict.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::{Duration, Instant};

use bitget_cancel::engine::Account;
use bitget_cancel::engine::{HedgeAfter, IdleStrategy, SessionError, SessionState};
use bitget_cancel::outcome::{Status, UnknownReason, Via};
use bitget_cancel::rest::RestConfig;
use bitget_cancel::sim::{
    AccountMode, Faults, Injection, LoginFault, Opcode, RefuseCancel, RestFailWith, RestFailure,
    RestFaults, SimConfig, SimLimits, SimVenue, WsRateLimitReply,
};
use bitget_cancel::{Handle, InstType};
use chaos::*;
use support::*;

fn wait_pool_live(handle: &Handle, n: usize) {
    wait_until(&format!("{n} connections live"), || {
        handle.stats().connections[..n]
            .iter()
            .all(|c| c.state == SessionState::Live)
    });
}

/// The wire ids of every trade request the venue received, in order.
fn wire_ids(venue: &SimVenue) -> Vec<String> {
    venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Text)
        .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.text).ok())
        .filter(|v| v["op"] == "trade")
        .map(|v| v["args"][0]["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn rest_for(venue: &SimVenue) -> RestConfig {
    RestConfig {
        base_url: venue.rest_url(),
        extra_ca_pem: Some(venue.ca_pem().to_owned()),
        ..RestConfig::default()
    }
}

// ----- a frozen connection and a burst -----

#[test]
fn the_first_connection_frozen_twelve_cancels_at_once_are_all_acked_within_four_seconds() {
    let venue = venue_with(SimConfig {
        limits: Some(SimLimits::default()),
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 12);
    // The first connection answers logins and pings, and no cancel ever reaches its book.
    venue.set_faults(Faults {
        lose_trades_conn: Some(1),
        ..Faults::default()
    });
    let (engine, handle) = start(
        chaos_config(&venue)
            .connections(2)
            .ack_timeout(Duration::from_secs(5)),
    );
    wait_pool_live(&handle, 2);
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    for &id in &ids {
        let o = tally.outcome(id);
        assert_eq!(o.status, Status::Acked, "{o:?}");
        let took = o.times.settled_ns - o.times.accepted_ns;
        assert!(took <= 4_000_000_000, "{o:?} took {} ms", took / 1_000_000);
    }
    let stats = engine.stats();
    assert_eq!(stats.unknown, 0);
    assert!(stats.stalls >= 1, "{stats:?}");
    // No limit was exceeded: the account's 10 cancels a second, each connection's 10
    // messages a second.
    let activity = venue.activity();
    assert_eq!(activity.rate_limited_total(), 0, "{activity:?}");
    assert_eq!(venue.stats().disconnects.rate_limited, 0);
    tally.finish(stats);
}

// ----- transient answers -----

#[test]
fn a_transient_refusal_is_sent_again_and_the_cancel_acked() {
    // V2's 40010 (request timed out) and V3's "25004" (too frequent), each in place of a reply.
    for (mode, account, code) in [
        (AccountMode::Classic, Account::Classic, 40010),
        (AccountMode::Unified, Account::Unified, 25004),
    ] {
        let venue = venue_with(SimConfig {
            account_mode: mode,
            ..SimConfig::default()
        });
        let order = venue
            .seed_orders(InstType::UsdtFutures, "BTCUSDT", 1)
            .remove(0);
        let (engine, handle) = start(chaos_config(&venue).account(account));
        wait_live(&handle);
        venue.set_faults(Faults {
            refuse_cancel: Some(RefuseCancel {
                nth: 1,
                code,
                msg: "passing trouble".into(),
            }),
            ..Faults::default()
        });
        let mut tally = Tally::new(&handle);
        let id = tally.submit(by_order_id(&order));
        tally.settle();
        let o = *tally.outcome(id);
        assert_eq!(
            (o.status, o.attempts),
            (Status::Acked, 2),
            "{account:?}: {o:?}"
        );
        assert!(!venue.order_is_resting(InstType::UsdtFutures, "BTCUSDT", &order.order_id));
        let stats = engine.stats();
        assert_eq!(stats.unified.unified, account == Account::Unified);
        assert_eq!(
            (stats.transient_answers, stats.retries),
            (1, 1),
            "{account:?}: {stats:?}"
        );
        tally.finish(stats);
    }
}

#[test]
fn a_rate_limit_answer_holds_the_engine_back_until_the_venues_window_has_rolled() {
    // V2's 30006 and V3's "429", each naming the refused request; V3 one cancel per message.
    for (mode, account) in [
        (AccountMode::Classic, Account::Classic),
        (AccountMode::Unified, Account::Unified),
    ] {
        let venue = venue_with(SimConfig {
            account_mode: mode,
            limits: Some(SimLimits {
                websocket_reply: WsRateLimitReply::PerRequest,
                ..SimLimits::default()
            }),
            ..SimConfig::default()
        });
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 12);
        // Configured above the venue's 10 a second for the account.
        let (engine, handle) = start(
            chaos_config(&venue)
                .account(account)
                .batch_cancels(false)
                .connections(2)
                .cancels_per_second(20)
                .ack_timeout(Duration::from_secs(5)),
        );
        wait_pool_live(&handle, 2);
        let mut tally = Tally::new(&handle);
        let ids = tally.submit_orders(&orders);
        tally.settle();
        tally.assert_all(&ids, Status::Acked);
        // Two were refused (naming them); sent again only after the venue's window, they were
        // not refused again.
        assert_eq!(venue.activity().rate_limited_total(), 2, "{account:?}");
        let stats = engine.stats();
        assert_eq!(stats.unified.unified, account == Account::Unified);
        assert_eq!(
            (stats.transient_answers, stats.retries),
            (2, 2),
            "{account:?}: {stats:?}"
        );
        tally.finish(stats);
    }
}

// ----- REST -----

#[test]
fn rest_only_a_failed_request_goes_out_again_over_rest() {
    for with in [RestFailWith::ServerError(503), RestFailWith::Drop] {
        let venue = venue();
        let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
        let (engine, handle) = start(chaos_config(&venue).rest_only(true).rest(rest_for(&venue)));
        wait_until("live over REST", || handle.stats().rest.connected);
        venue.set_rest_faults(RestFaults {
            fail_cancels: Some(RestFailure { times: 1, with }),
            ..RestFaults::default()
        });
        let mut tally = Tally::new(&handle);
        let id = tally.submit(by_order_id(&order));
        tally.settle();
        let o = *tally.outcome(id);
        assert_eq!(
            (o.status, o.via, o.attempts),
            (Status::Acked, Some(Via::Rest), 2),
            "{with:?}: {o:?}"
        );
        let stats = engine.stats();
        assert_eq!((stats.rest.sent, stats.rest.failures), (2, 1), "{with:?}");
        tally.finish(stats);
    }
}

#[test]
fn an_idle_rest_connection_the_server_closed_is_found_before_a_cancel_is_written() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let (engine, handle) = start(
        chaos_config(&venue)
            .rest_only(true)
            .rest(RestConfig {
                keep_warm_every: Duration::from_secs(3600),
                ..rest_for(&venue)
            })
            // No poller while nothing is expected: only a check before writing can tell.
            .idle(IdleStrategy::Yield),
    );
    wait_until("live over REST", || handle.stats().rest.connected);
    let mut tally = Tally::new(&handle);
    let first = tally.submit(by_order_id(&orders[0]));
    tally.settle();
    assert_eq!(tally.status(first), Status::Acked);
    // The venue ends its idle keep-alive connections.
    venue.set_rest_faults(RestFaults {
        idle_close_after: Some(Duration::from_millis(100)),
        ..RestFaults::default()
    });
    std::thread::sleep(Duration::from_millis(600));
    venue.set_rest_faults(RestFaults::default());
    let second = tally.submit(by_order_id(&orders[1]));
    tally.settle();
    let o = *tally.outcome(second);
    assert_eq!(
        (o.status, o.attempts),
        (Status::Acked, 1),
        "never written onto the closed connection: {o:?}"
    );
    assert_eq!(engine.stats().rest.failures, 0);
    tally.finish(engine.stats());
}

#[test]
fn the_keep_warm_request_never_holds_a_cancel_up() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 5);
    let (engine, handle) = start(chaos_config(&venue).rest_only(true).rest(RestConfig {
        keep_warm_every: Duration::from_millis(100),
        ..rest_for(&venue)
    }));
    wait_until("the clock measured over REST", || {
        handle.stats().rest.clock_synced && venue.rest_stats().server_time_requests >= 3
    });
    // From now on every keep-warm request takes three seconds to answer.
    venue.set_rest_faults(RestFaults {
        server_time_delay: Some(Duration::from_secs(3)),
        ..RestFaults::default()
    });
    let mut tally = Tally::new(&handle);
    for order in &orders {
        std::thread::sleep(Duration::from_millis(150));
        let id = tally.submit(by_order_id(order));
        tally.settle();
        let o = *tally.outcome(id);
        assert_eq!((o.status, o.via), (Status::Acked, Some(Via::Rest)));
        let took = o.times.settled_ns - o.times.accepted_ns;
        assert!(
            took < 1_500_000_000,
            "waited {} ms behind a keep-warm request",
            took / 1_000_000
        );
    }
    // Keep-warm requests went out meanwhile (received; their answers are slow).
    let keep_warm = venue
        .rest_requests()
        .iter()
        .filter(|r| r.path == "/api/v2/public/time")
        .count();
    assert!(keep_warm >= 4, "{keep_warm} server time requests");
    tally.finish(engine.stats());
}

// ----- wire ids -----

#[test]
fn ids_on_the_wire_are_never_reused_across_engines_and_never_the_callers() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 6);
    let label = bitget_cancel::RequestId::new("mine").unwrap();
    for round in orders.chunks(3) {
        let (engine, handle) = start(chaos_config(&venue));
        wait_live(&handle);
        let mut tally = Tally::new(&handle);
        let a = tally.submit(by_order_id(&round[0]));
        let b = tally.submit(by_order_id(&round[1]).with_id(label));
        tally.settle();
        assert_eq!(tally.outcome(b).id, label, "the outcome carries the label");
        assert_ne!(a, label);
        // The same label again, at once: a label is no key.
        handle
            .cancel(by_order_id(&round[2]).with_id(label))
            .unwrap();
        assert_eq!(next_outcome(&handle).status, Status::Acked);
        engine.shutdown();
    }
    let ids = wire_ids(&venue);
    assert_eq!(ids.len(), 6);
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 6, "{ids:?}");
    for id in &ids {
        assert!(id.len() <= 40 && id != "mine", "{id}");
        assert!(bitget_cancel::RequestId::new(id).is_ok(), "{id}");
    }
    let prefixes: std::collections::BTreeSet<&str> =
        ids.iter().map(|id| id.split(':').next().unwrap()).collect();
    assert_eq!(prefixes.len(), 2, "a prefix per engine: {ids:?}");
}

// ----- connections that cannot write or do not answer -----

/// `connections` connections whose frames the venue stops reading on the first (small socket
/// buffers on both sides, write timeout 300 ms, hedging off, limits out of the way), and 600
/// cancels submitted at once; settled, each acked. Returns the engine's stats and its last
/// connection error.
fn cancels_to_a_connection_that_cannot_write(
    connections: usize,
) -> (bitget_cancel::engine::Stats, Option<SessionError>) {
    let venue = venue_with(SimConfig {
        receive_buffer: Some(4096),
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 600);
    let (engine, handle) = start(
        chaos_config(&venue)
            .connections(connections)
            .hedge_after(HedgeAfter::Off)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .send_buffer(Some(4096))
            .ack_timeout(Duration::from_secs(10))
            .write_timeout(Duration::from_millis(300)),
    );
    wait_pool_live(&handle, connections);
    assert!(venue.inject_on(1, Injection::StallReads(Duration::from_secs(60))));
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders);
    tally.settle();
    for o in tally.outcomes() {
        assert_eq!(o.status, Status::Acked, "{o:?}");
        let took = o.times.settled_ns - o.times.accepted_ns;
        assert!(took < 8_000_000_000, "{o:?}: as late as the ack timeout");
    }
    let stats = engine.stats();
    assert!(stats.reconnects >= 1, "{stats:?}");
    let why = handle.last_error();
    tally.finish(engine.stats());
    (stats, why)
}

#[test]
fn a_connection_that_cannot_write_is_torn_down_and_its_cancels_go_out_elsewhere() {
    // Either the write timeout or the probe's ping finds the stuck connection out, whichever
    // comes first: both were seen (once the router stops feeding a late connection its bytes
    // may drain into the kernel's buffers, and then only the ping finds it). The next test
    // pins the write timeout alone.
    let (stats, _) = cancels_to_a_connection_that_cannot_write(2);
    assert!(stats.failovers > 0, "{stats:?}");
}

#[test]
fn with_one_connection_a_write_that_stays_blocked_ends_it_at_the_write_timeout() {
    // One connection: every cancel keeps going to it, so its writes stay blocked once the
    // venue stops reading. It must be ended by the write timeout (300 ms), ahead of the
    // probe's pong deadline (1 s after an unanswered cancel), for its cancels to be acked
    // after the reconnect and not unknown at their ack timeout.
    let (_, why) = cancels_to_a_connection_that_cannot_write(1);
    assert!(
        matches!(&why, Some(SessionError::Timeout(what)) if what.contains("writing")),
        "{why:?}"
    );
}

#[test]
fn with_one_connection_a_silent_peer_is_found_within_seconds_not_the_keepalives_35() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // The keepalive's own: a ping every 25 s, a pong due within 10 s.
    // A 10 s ack timeout: the first hedge delay (a fifth of it, before any round trip was
    // seen) is 2 s, then the probe's pong is due within a second.
    let (engine, handle) = start(
        chaos_config(&venue)
            .ack_timeout(Duration::from_secs(10))
            .ping_interval(Duration::from_secs(25))
            .pong_deadline(Duration::from_secs(10)),
    );
    wait_live(&handle);
    assert_eq!(venue.inject(Injection::Silence), 1);
    let started = Instant::now();
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    wait_until("the silent peer is found out", || {
        handle.last_error() == Some(SessionError::PeerSilent)
    });
    let found = started.elapsed();
    assert!(found < Duration::from_secs(8), "found after {found:?}");
    // The cancel waited for the reconnect and went out again; the silent venue had processed
    // it.
    tally.settle();
    let o = *tally.outcome(id);
    assert!(
        matches!(o.status, Status::Rejected { code: 43001, .. }) && o.attempts == 2,
        "{o:?}"
    );
    tally.finish(engine.stats());
}

// ----- everything lost at once -----

#[test]
fn everything_lost_at_once_the_cancels_wait_for_a_reconnect_and_go_out_again() {
    for connections in [1, 2] {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
        // REST is there, but down.
        venue.set_rest_faults(RestFaults {
            down: true,
            ..RestFaults::default()
        });
        let (engine, handle) = start(
            chaos_config(&venue)
                .connections(connections)
                .rest(rest_for(&venue)),
        );
        wait_pool_live(&handle, connections);
        // The venue reads nothing more: the cancels are in flight, unprocessed, when every
        // connection drops (a maintenance cut).
        assert_eq!(
            venue.inject(Injection::StallReads(Duration::from_secs(60))),
            connections
        );
        let mut tally = Tally::new(&handle);
        let ids = tally.submit_orders(&orders);
        wait_until("all sent", || engine.stats().sent >= 4);
        assert_eq!(venue.drop_connections(), connections);
        tally.settle();
        for &id in &ids {
            let o = tally.outcome(id);
            assert_eq!(
                (o.status, o.attempts),
                (Status::Acked, 2),
                "{connections}: {o:?}"
            );
        }
        let stats = engine.stats();
        assert_eq!(stats.unknown, 0);
        tally.finish(stats);
    }
}

#[test]
fn everything_lost_and_no_reconnect_in_time_the_cancels_are_unknown_at_their_ack_timeout() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let ack_timeout = Duration::from_millis(800);
    let (engine, handle) = start(chaos_config(&venue).ack_timeout(ack_timeout));
    wait_live(&handle);
    assert_eq!(
        venue.inject(Injection::StallReads(Duration::from_secs(60))),
        1
    );
    // No login is answered from now on.
    venue.set_faults(Faults {
        login: LoginFault::Ignore,
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    wait_until("both sent", || engine.stats().sent >= 2);
    venue.drop_connections();
    tally.settle();
    for &id in &ids {
        let o = tally.outcome(id);
        assert_eq!(
            (o.status, o.attempts),
            (Status::Unknown(UnknownReason::ConnectionLost), 1),
            "{o:?}"
        );
        let waited = o.times.settled_ns - o.times.written_ns;
        assert!(
            waited >= ack_timeout.as_nanos() as u64,
            "{o:?}: not at once"
        );
    }
    venue.set_faults(Faults::none());
    wait_live(&handle);
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

// ----- rotation, and the venue's announced close -----

#[test]
fn a_replacement_that_dies_right_after_logging_in_leaves_the_old_connection_serving() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(
        chaos_config(&venue)
            .max_connection_age(Duration::from_millis(500))
            .reconnect(bitget_cancel::engine::ReconnectBackoff {
                initial: Duration::from_secs(2),
                max: Duration::from_secs(2),
                reset_after: Duration::from_secs(30),
            }),
    );
    wait_live(&handle);
    // The replacement logs in; the venue drops it a moment later.
    wait_until("the replacement is live", || engine.stats().rotations == 1);
    let newest = venue.stats().connections_accepted;
    assert!(venue.inject_on(newest, Injection::Drop));
    wait_until("the replacement is lost", || {
        engine.stats().connections[1].state != SessionState::Live
    });
    // The old connection still serves: no gap.
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    let o = *tally.outcome(id);
    assert_eq!(
        (o.status, o.via),
        (Status::Acked, Some(Via::Connection(0))),
        "{o:?}"
    );
    let stats = engine.stats();
    assert_eq!(
        (stats.connections[0].state, stats.connections[0].sessions),
        (SessionState::Live, 1),
        "the first connection never closed: {stats:?}"
    );
    tally.finish(stats);
}

#[test]
fn an_announced_close_that_never_comes_ends_the_connection_after_a_grace() {
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    // 30007 ("over limit, connection close"), and then no close.
    assert_eq!(
        venue.inject(Injection::error(
            30007,
            "request over limit, connection close"
        )),
        1
    );
    wait_until("the link ends and logs in again", || {
        engine.stats().sessions == 2 && handle.state() == SessionState::Live
    });
    assert!(
        matches!(handle.last_error(), Some(SessionError::Closed { code: None, ref reason }) if reason.contains("never came")),
        "{:?}",
        handle.last_error()
    );
    let mut tally = Tally::new(&handle);
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

// ----- bounded work, saturating intervals -----

#[test]
fn a_flood_of_messages_never_pins_the_engine_in_one_read() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(chaos_config(&venue).connections(2));
    wait_pool_live(&handle, 2);
    std::thread::scope(|s| {
        let venue = &venue;
        // Notices the engine reads and skips (no outcome, no event), without end, as fast as
        // it reads them.
        let flood = s.spawn(move || {
            venue.inject_on(
                1,
                Injection::TextRepeated {
                    text: r#"{"event":"notice","arg":{"channel":"x"}}"#.into(),
                    times: u32::MAX,
                },
            )
        });
        // Whatever happens below, the flood ends with its connection.
        struct EndFlood<'v>(&'v SimVenue);
        impl Drop for EndFlood<'_> {
            fn drop(&mut self) {
                self.0.drop_connections();
            }
        }
        let _end = EndFlood(venue);
        std::thread::sleep(Duration::from_millis(100));
        let mut tally = Tally::new(&handle);
        let ids = tally.submit_orders(&orders);
        tally.settle();
        tally.assert_all(&ids, Status::Acked);
        assert!(!flood.is_finished(), "acked while the flood goes on");
        assert_eq!(engine.stats().sessions, 2, "no connection lost");
        drop(_end);
        flood.join().expect("the flood thread");
    });
}

#[test]
fn huge_intervals_never_wrap() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(
        chaos_config(&venue)
            .ping_interval(Duration::from_millis(u64::MAX))
            .pong_deadline(Duration::MAX)
            .write_timeout(Duration::MAX)
            .max_connection_age(Duration::MAX),
    );
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    assert_eq!(tally.status(id), Status::Acked);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(engine.stats().pings, 0, "no ping for ever");
    tally.finish(engine.stats());
}
