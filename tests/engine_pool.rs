//! The pool of connections: two logged-in connections driven by one engine thread, a cancel
//! whose connection is lost sent again on the other, a cancel without a reply hedged on the
//! other, bursts spread over both within every limit, connections replaced before they age out.
//! Every test checks that each intent gets exactly one outcome (`Tally`), and which connection,
//! how many attempts and in what order.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bitget_cancel::engine::{HedgeAfter, SessionState};
use bitget_cancel::outcome::{Status, Via};
use bitget_cancel::sim::{CancelFate, Faults, Injection, OnCancel, Opcode, SimVenue};
use bitget_cancel::{InstType, Outcome};
use chaos::*;
use support::*;

/// Two connections, hedging as given, the fault suite's quick reconnects.
fn pool_config(venue: &SimVenue, hedge: HedgeAfter) -> bitget_cancel::engine::ConfigBuilder {
    chaos_config(venue)
        .connections(2)
        .hedge_after(hedge)
        .ack_timeout(Duration::from_secs(5))
}

/// The first cancel from now on meets `injection` in place of its reply, and `fate`.
fn on_first_cancel(injection: Injection, fate: CancelFate) -> Faults {
    Faults {
        on_cancel: Some(OnCancel {
            nth: 1,
            injection,
            cancel: fate,
        }),
        ..Faults::default()
    }
}

fn wait_pool_live(handle: &bitget_cancel::Handle, n: usize) {
    wait_until(&format!("{n} connections live"), || {
        handle.stats().connections[..n]
            .iter()
            .all(|c| c.state == SessionState::Live)
    });
}

/// The request texts the venue received for this order id: `(venue connection, request id,
/// received at)`, in the order the engine sent them: by the send number that ends each wire id
/// (the venue records each connection from a thread of its own, so its record of two
/// connections can interleave out of that order on a busy machine).
fn requests_for(venue: &SimVenue, order_id: &str) -> Vec<(u64, String, u64)> {
    let send_number = |id: &str| {
        id.rsplit(':')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    };
    let mut requests: Vec<(u64, String, u64)> = venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Text)
        .filter_map(|f| {
            let v: serde_json::Value = serde_json::from_str(&f.text).ok()?;
            let arg = &v["args"][0];
            (v["op"] == "trade" && arg["params"]["orderId"] == order_id).then(|| {
                (
                    f.conn,
                    arg["id"].as_str().unwrap_or_default().to_string(),
                    f.at_ns,
                )
            })
        })
        .collect();
    requests.sort_by_key(|r| send_number(&r.1));
    requests
}

fn via(outcome: &Outcome) -> usize {
    match outcome.via {
        Some(Via::Connection(n)) => n as usize,
        other => panic!("settled by no connection: {outcome:?} ({other:?})"),
    }
}

#[test]
fn both_connections_log_in_and_the_stats_show_each() {
    let venue = venue();
    let (engine, handle) = start(pool_config(&venue, HedgeAfter::Off));
    wait_pool_live(&handle, 2);
    let stats = engine.stats();
    assert_eq!(stats.pool_size, 2);
    assert_eq!(stats.sessions, 2);
    assert_eq!(stats.connections[0].sessions, 1);
    assert_eq!(stats.connections[1].sessions, 1);
    assert_eq!(
        stats.connections[2].state,
        SessionState::Stopped,
        "the spare slot"
    );
    assert_eq!(venue.stats().connections_accepted, 2);
    engine.shutdown();
}

#[test]
fn cancels_in_flight_on_a_lost_connection_are_sent_again_at_once_on_the_other() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    let (engine, handle) = start(pool_config(&venue, HedgeAfter::Off));
    wait_pool_live(&handle, 2);
    // The first three are processed and their replies held back; the venue drops the connection
    // when the fourth arrives, before processing it.
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(200),
        drop_on_cancel: Some(4),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    // The fourth cancel to arrive fired the drop: its connection is the lost one. Which cancels
    // went out on it depends on how the four were routed (one write, or spread when the first
    // made its connection look busy).
    let arrivals = venue.cancels_received();
    let (lost_conn, dropping_id) = arrivals[3].clone();
    let mut on_lost = 0;
    let mut resent_via = Vec::new();
    for (i, (id, order)) in ids.iter().zip(&orders).enumerate() {
        let outcome = *tally.outcome(*id);
        let requests = requests_for(&venue, &order.order_id);
        let first = &requests[0];
        assert_eq!(
            first.1,
            id.as_str(),
            "#{i}: the first attempt carries the intent's id"
        );
        if first.0 != lost_conn {
            assert_eq!(
                (outcome.status, outcome.attempts, requests.len()),
                (Status::Acked, 1, 1),
                "#{i} went out on the surviving connection: {outcome:?}"
            );
            continue;
        }
        on_lost += 1;
        assert_eq!(outcome.attempts, 2, "#{i}: {outcome:?}");
        assert_eq!(requests.len(), 2, "#{i}: {requests:?}");
        let again = &requests[1];
        assert_ne!(
            again.0, lost_conn,
            "#{i}: sent again on the other connection"
        );
        // Connections 1 and 2 are the two the pool logged in before the fault: the re-send
        // waited for no new connection.
        assert!(again.0 <= 2, "#{i}: on a connection the pool already had");
        assert_ne!(
            first.1, again.1,
            "#{i}: each attempt has a request id of its own"
        );
        // The ones the venue processed before the drop were cancelled by the lost attempt: the
        // order no longer exists. The one that fired the drop was never processed.
        let expected = if first.1 == dropping_id {
            Status::Acked
        } else {
            Status::Rejected {
                code: 43001,
                msg: bitget_cancel::outcome::VenueMsg::new("The order does not exist"),
            }
        };
        assert_eq!(outcome.status, expected, "#{i}: {outcome:?}");
        resent_via.push(via(&outcome));
    }
    assert!(on_lost >= 1);
    assert!(
        resent_via.windows(2).all(|w| w[0] == w[1]),
        "every re-send settled by the surviving connection: {resent_via:?}"
    );
    assert_eq!(venue.resting_orders(), 0);
    let stats = engine.stats();
    assert_eq!(stats.failovers, on_lost, "{stats:?}");
    assert_eq!(stats.unknown, 0);
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn with_one_connection_a_lost_cancel_waits_for_the_reconnect_and_goes_out_again() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let (engine, handle) = start(chaos_config(&venue).connections(1));
    wait_live(&handle);
    // The first is processed, its reply held; the connection drops as the second arrives,
    // before the venue processes it.
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(200),
        drop_on_cancel: Some(2),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    let (first, second) = (tally.outcome(ids[0]), tally.outcome(ids[1]));
    assert!(
        matches!(first.status, Status::Rejected { code: 43001, .. }),
        "the lost send had cancelled it: {first:?}"
    );
    assert_eq!(second.status, Status::Acked, "{second:?}");
    for o in [first, second] {
        assert_eq!((o.attempts, o.via), (2, Some(Via::Connection(0))), "{o:?}");
    }
    let stats = engine.stats();
    assert_eq!(
        (stats.failovers, stats.unknown, stats.reconnects),
        (2, 0, 1)
    );
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_cancel_on_a_frozen_connection_is_hedged_on_the_other_long_before_its_ack_timeout() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 6);
    let hedge = Duration::from_millis(50);
    let (engine, handle) = start(pool_config(&venue, HedgeAfter::Fixed(hedge)));
    wait_pool_live(&handle, 2);
    // The connection that gets the first cancel freezes before processing it: TCP open, pings
    // answered, cancels never answered.
    venue.set_faults(on_first_cancel(Injection::Freeze, CancelFate::Refused));
    let mut tally = Tally::new(&handle);
    let first = tally.submit(by_order_id(&orders[0]));
    tally.settle();
    let outcome = *tally.outcome(first);
    assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    let requests = requests_for(&venue, &orders[0].order_id);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_ne!(
        requests[0].0, requests[1].0,
        "the hedge went to the other connection"
    );
    let round_trip = Duration::from_nanos(outcome.times.round_trip_ns().expect("answered"));
    // The alternative is the 5 s ack timeout.
    assert!(
        round_trip < Duration::from_millis(2_500),
        "hedged after {hedge:?}, settled after {round_trip:?}"
    );
    let healthy = via(&outcome);
    // The frozen connection stops attracting cancels: the next ones go to the healthy one and
    // need no hedge.
    for order in &orders[1..] {
        let id = tally.submit(by_order_id(order));
        tally.settle();
        let outcome = *tally.outcome(id);
        assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
        assert_eq!(
            (via(&outcome), outcome.attempts),
            (healthy, 1),
            "{outcome:?}"
        );
    }
    let stats = engine.stats();
    assert_eq!((stats.hedges_sent, stats.hedges_won), (1, 1), "{stats:?}");
    tally.finish(stats);
}

#[test]
fn a_late_reply_after_a_hedge_won_makes_no_second_outcome() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (engine, handle) = start(pool_config(
        &venue,
        HedgeAfter::Fixed(Duration::from_millis(30)),
    ));
    wait_pool_live(&handle, 2);
    // The first attempt is never answered (the cancel is not processed); the hedge is.
    venue.set_faults(on_first_cancel(
        Injection::Text(r#"{"event":"subscribe"}"#.into()),
        CancelFate::Refused,
    ));
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    let outcome = *tally.outcome(id);
    assert_eq!((outcome.status, outcome.attempts), (Status::Acked, 2));
    assert_eq!(engine.stats().hedges_won, 1);
    // Now the first attempt's reply turns up after all, on both connections: an "order does not
    // exist" that must not overwrite the ack.
    let late = format!(
        r#"{{"event":"error","arg":[{{"id":"{id}","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{{"orderId":"{}"}}}}],"code":43001,"msg":"The order does not exist","ts":1}}"#,
        order.order_id
    );
    assert_eq!(venue.inject(Injection::Text(late)), 2);
    wait_until("the late reply is counted", || {
        let s = engine.stats();
        s.late_replies + s.unmatched_replies == 2
    });
    let stats = engine.stats();
    assert_eq!(
        stats.late_replies, 1,
        "the first copy is late, the second a stranger"
    );
    assert_eq!(handle.try_outcome(), None, "no second outcome");
    tally.finish(stats);
}

#[test]
fn hedges_take_at_most_a_fifth_of_the_cancel_budget() {
    let venue = venue_with(bitget_cancel::sim::SimConfig {
        max_messages_per_second: 0,
        ..bitget_cancel::sim::SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 10);
    // 20 cancels a second for the account, so 4 for hedges; the timed hedge never fires here.
    let (engine, handle) = start(
        pool_config(&venue, HedgeAfter::Fixed(Duration::from_secs(5)))
            .messages_per_second(100)
            .cancels_per_second(20)
            .ack_timeout(Duration::from_secs(3)),
    );
    wait_pool_live(&handle, 2);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(500),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders);
    wait_until("the venue has all ten", || {
        venue.cancels_received().len() == 10
    });
    // Trouble on the busier connection: everything waiting there wants a hedge at once.
    let received = venue.cancels_received();
    let busiest = [1u64, 2]
        .into_iter()
        .max_by_key(|c| received.iter().filter(|(conn, _)| conn == c).count())
        .unwrap();
    let waiting = received.iter().filter(|(c, _)| *c == busiest).count() as u64;
    // An error naming no request, not a rate limit (which would hold every cancel back).
    assert!(venue.inject_on(busiest, Injection::error(30016, "Param error")));
    tally.settle();
    let stats = engine.stats();
    assert!(waiting >= 5, "{received:?}");
    assert_eq!(stats.hedges_sent, 4, "a fifth of 20 a second: {stats:?}");
    assert!(
        stats.hedges_capped >= 1,
        "the others wait for the share: {stats:?}"
    );
    // The originals were answered first; each hedge's reply came late and made no outcome.
    assert_eq!(tally.count(|s| *s == Status::Acked), 10);
    wait_until("the hedges' replies", || engine.stats().late_replies == 4);
    assert_eq!(engine.stats().sent, 14);
    tally.finish(engine.stats());
}

/// Every message (text frame) the venue received, per connection, with its arrival time.
fn messages_by_conn(venue: &SimVenue) -> std::collections::HashMap<u64, Vec<u64>> {
    let mut by_conn = std::collections::HashMap::<u64, Vec<u64>>::new();
    for f in venue.received() {
        if matches!(f.opcode, Opcode::Text | Opcode::Binary) {
            by_conn.entry(f.conn).or_default().push(f.at_ns);
        }
    }
    by_conn
}

/// The most of `times` (sorted) in any window of one second.
fn busiest_second(times: &[u64]) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= 1_000_000_000 {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

#[test]
fn a_burst_leaves_on_both_connections_within_every_limit() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 30);
    let (engine, handle) = start(
        pool_config(&venue, HedgeAfter::Off)
            .messages_per_second(10)
            .cancels_per_second(15),
    );
    wait_pool_live(&handle, 2);
    let mut tally = Tally::new(&handle);
    tally.submit_orders(&orders);
    tally.settle();
    assert_eq!(tally.count(|s| *s == Status::Acked), 30);
    let stats = engine.stats();
    assert!(
        stats.connections[0].sent > 0 && stats.connections[1].sent > 0,
        "both connections used: {stats:?}"
    );
    for (conn, mut times) in messages_by_conn(&venue) {
        times.sort_unstable();
        assert!(
            busiest_second(&times) <= 10,
            "connection {conn}: {} messages in one second",
            busiest_second(&times)
        );
    }
    let mut cancels: Vec<u64> = venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Text && f.text.contains(r#""op":"trade""#))
        .map(|f| f.at_ns)
        .collect();
    cancels.sort_unstable();
    assert!(busiest_second(&cancels) <= 15, "account limit");
    assert_eq!(venue.stats().disconnects.total(), 0);
    tally.finish(stats);
}

#[test]
fn connections_are_replaced_before_they_age_out_without_a_moment_offline() {
    let venue = venue();
    let (engine, handle) = start(
        pool_config(&venue, HedgeAfter::Off)
            .max_connection_age(Duration::from_secs(2))
            .messages_per_second(10)
            .cancels_per_second(10),
    );
    wait_pool_live(&handle, 2);
    let offline = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (handle, offline, done) = (handle.clone(), offline.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if handle.state() != SessionState::Live {
                    offline.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };
    let mut tally = Tally::new(&handle);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
        tally.submit(by_order_id(&order));
        std::thread::sleep(Duration::from_millis(150));
    }
    tally.settle();
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let stats = engine.stats();
    assert_eq!(
        tally.count(|s| matches!(s, Status::Unknown(_) | Status::NotSent(_))),
        0,
        "{stats:?}"
    );
    assert_eq!(tally.count(|s| *s == Status::Acked), tally.outcomes().len());
    assert!(
        stats.rotations >= 3,
        "two connections, 2 s apiece, 10 s: {stats:?}"
    );
    assert_eq!(
        offline.load(Ordering::Relaxed),
        0,
        "the pool was never without a logged-in connection"
    );
    assert!(
        venue
            .stats()
            .disconnects
            .get(bitget_cancel::sim::DisconnectCause::ClientClosed)
            >= stats.rotations.saturating_sub(1),
        "the old connections were closed by the engine: {:?}",
        venue.stats()
    );
    tally.finish(stats);
}

#[test]
fn an_error_naming_no_request_hedges_what_waits_on_that_connection_at_once() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // A hedge delay far beyond the test: only the trouble report can make the second attempt.
    let (engine, handle) = start(pool_config(
        &venue,
        HedgeAfter::Fixed(Duration::from_secs(4)),
    ));
    wait_pool_live(&handle, 2);
    venue.set_faults(on_first_cancel(
        Injection::too_many_requests(),
        CancelFate::Refused,
    ));
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&order));
    tally.settle();
    let outcome = *tally.outcome(id);
    assert_eq!((outcome.status, outcome.attempts), (Status::Acked, 2));
    let requests = requests_for(&venue, &order.order_id);
    assert_ne!(
        requests[0].0, requests[1].0,
        "sent again on the other connection"
    );
    let round_trip = Duration::from_nanos(outcome.times.round_trip_ns().expect("answered"));
    assert!(
        round_trip < Duration::from_secs(2),
        "hedged on the error, not after the 4 s hedge delay or the 5 s ack timeout: {round_trip:?}"
    );
    let stats = engine.stats();
    assert_eq!(
        (stats.venue_errors, stats.hedges_sent, stats.sessions),
        (1, 1, 2)
    );
    tally.finish(stats);
}

#[test]
fn several_endpoints_are_spread_over_the_pool_and_a_lost_gateway_fails_over_to_the_other() {
    let (first, second) = (venue(), venue());
    let both_cas = format!("{}{}", first.ca_pem(), second.ca_pem());
    let orders = first.seed_orders(InstType::Spot, "BTCUSDT", 1);
    let (engine, handle) = start(
        chaos_config(&first)
            .endpoints([first.url(), second.url()])
            .extra_root_ca_pem(both_cas)
            .connections(2),
    );
    wait_pool_live(&handle, 2);
    assert_eq!(
        first.stats().logins_ok,
        1,
        "connection 0 on the first gateway"
    );
    assert_eq!(second.stats().logins_ok, 1, "connection 1 on the second");
    // The first gateway goes away for good: its cancel is answered through the second, whose
    // venue does not know the order (another gateway, another book here).
    first.set_faults(Faults {
        login: bitget_cancel::sim::LoginFault::Ignore,
        ..Faults::default()
    });
    first.drop_connections();
    wait_until("connection 0 is down", || {
        handle.stats().connections[0].state != SessionState::Live
    });
    let mut tally = Tally::new(&handle);
    let id = tally.submit(by_order_id(&orders[0]));
    tally.settle();
    let outcome = *tally.outcome(id);
    assert_eq!(outcome.via, Some(Via::Connection(1)), "{outcome:?}");
    assert!(
        matches!(outcome.status, Status::Rejected { code: 43001, .. }),
        "{outcome:?}"
    );
    assert_eq!(second.stats().cancels_rejected, 1);
    tally.finish(engine.stats());
}
