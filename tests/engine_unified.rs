//! The unified trading account (V3) against the simulated venue over real TLS: cancels in V3's
//! envelope acked and rejected (25204), the account found out at start both ways (and classic
//! without a REST rung), a 40085 mid-run that switches to V3 and sends the refused cancel again,
//! the final word over the V3 order topic, and the dead man's switch armed, re-armed and turned
//! off at shutdown.

#[path = "support/engine.rs"]
mod support;

use std::time::{Duration, Instant};

use bitget_cancel::engine::{Account, ConfigBuilder, Confirm, HedgeAfter};
use bitget_cancel::final_word::{FinalSource, FinalState};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{AccountMode, SimConfig, SimVenue};
use bitget_cancel::{InstType, Via};
use support::*;

fn unified_venue() -> SimVenue {
    venue_with(SimConfig {
        account_mode: AccountMode::Unified,
        ..SimConfig::default()
    })
}

/// The cancel frames the venue received: (V3 envelope?, text).
fn cancel_frames(venue: &SimVenue) -> Vec<(bool, String)> {
    venue
        .received()
        .into_iter()
        .filter(|f| f.text.contains("cancel-order"))
        .map(|f| (f.text.contains(r#""topic":"cancel-order""#), f.text))
        .collect()
}

fn settings_requests(venue: &SimVenue) -> usize {
    venue
        .rest_requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v3/account/settings"))
        .count()
}

fn with_rest(venue: &SimVenue) -> ConfigBuilder {
    config_for(venue).rest_url(venue.rest_url())
}

/// A unified account with the REST rung and the final word on (its REST query `after` the
/// outcome, its time up at `timeout`), hedging off.
fn unified_confirming(venue: &SimVenue, after: Duration, timeout: Duration) -> ConfigBuilder {
    with_rest(venue)
        .account(Account::Unified)
        .hedge_after(HedgeAfter::Off)
        .confirm(Confirm {
            after,
            timeout,
            ..Confirm::default()
        })
}

#[test]
fn a_unified_account_cancels_in_v3s_envelope_acked_and_rejected_with_25204() {
    let venue = unified_venue();
    let (engine, handle) = start(config_for(&venue).account(Account::Unified));
    wait_live(&handle);
    let order = venue
        .seed_orders(InstType::UsdtFutures, "BTCUSDT", 1)
        .remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    let acked = next_outcome(&handle);
    assert_eq!(acked.status, Status::Acked);
    assert_eq!(acked.via, Some(Via::Connection(0)));
    assert!(!venue.order_is_resting(InstType::UsdtFutures, "BTCUSDT", &order.order_id));

    handle.cancel(spot("123456")).unwrap();
    match next_outcome(&handle).status {
        Status::Rejected { code, msg } => {
            assert_eq!(code, 25204);
            assert_eq!(msg.as_str(), "Order does not exist");
        }
        other => panic!("{other:?}"),
    }
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.unified.switches, 0);
    let frames = cancel_frames(&venue);
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|(v3, _)| *v3), "{frames:?}");
    assert!(frames[0].1.contains(r#""category":"usdt-futures""#));
    assert!(frames[1].1.contains(r#""category":"spot""#));
    assert!(!frames[0].1.contains("BTCUSDT"), "no symbol in a V3 cancel");
    assert_eq!(venue.activity().mode_refusals, 0);
}

#[test]
fn auto_finds_a_unified_account_over_rest_before_any_connection_dials() {
    let venue = unified_venue();
    let (engine, handle) = start(with_rest(&venue).account(Account::Auto));
    wait_live(&handle);
    assert_eq!(settings_requests(&venue), 1);
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(outcome.attempts, 1, "no refusal on the way");
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.unified.switches, 0);
    assert_eq!(
        venue.activity().mode_refusals,
        0,
        "nothing went to V2 first"
    );
    assert!(cancel_frames(&venue).iter().all(|(v3, _)| *v3));
}

#[test]
fn auto_finds_a_classic_account_and_speaks_v2() {
    let venue = venue();
    let (engine, handle) = start(with_rest(&venue));
    wait_live(&handle);
    assert_eq!(settings_requests(&venue), 1, "the default is auto");
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    let stats = engine.shutdown();
    assert!(!stats.unified.unified);
    let frames = cancel_frames(&venue);
    assert_eq!(frames.len(), 1);
    assert!(!frames[0].0, "a V2 cancel: {}", frames[0].1);
}

#[test]
fn auto_without_a_rest_rung_takes_the_account_for_classic() {
    let venue = unified_venue();
    // config_for has no REST rung: nothing to ask, classic; the venue then refuses V2 trading
    // for the unified key (40085) and the account switches.
    let (engine, handle) = start(config_for(&venue).account(Account::Auto));
    wait_live(&handle);
    assert!(!handle.stats().unified.unified);
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(outcome.attempts, 2, "refused on V2, sent again on V3");
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.unified.switches, 1);
}

#[test]
fn a_40085_mid_run_switches_to_v3_and_sends_the_refused_cancel_again() {
    let venue = venue();
    let (engine, handle) = start(
        config_for(&venue)
            .connections(2)
            .hedge_after(HedgeAfter::Off)
            .account(Account::Classic),
    );
    wait_live(&handle);
    let first = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    handle.cancel(by_order_id(&first)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);

    // The key becomes a unified account's: V2 trading answers 40085.
    assert!(venue.set_account_mode("sim-key", AccountMode::Unified));
    let orders = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 2);
    for order in &orders {
        handle.cancel(by_order_id(order)).unwrap();
    }
    let outcomes = outcomes(&handle, 2);
    for outcome in &outcomes {
        assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
        assert!(outcome.attempts >= 2, "refused once, then sent again");
    }
    for order in &orders {
        assert!(!venue.order_is_resting(InstType::UsdtFutures, "ETHUSDT", &order.order_id));
    }
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(
        stats.unified.switches, 1,
        "one switch, however many refusals"
    );
    let frames = cancel_frames(&venue);
    let last_v2 = frames.iter().rposition(|(v3, _)| !v3).unwrap();
    let first_v3 = frames.iter().position(|(v3, _)| *v3).unwrap();
    assert!(
        last_v2 < first_v3,
        "V2 until the switch, V3 after: {frames:?}"
    );
    assert!(venue.activity().mode_refusals >= 1);
}

#[test]
fn the_final_word_comes_over_the_v3_order_topic() {
    let venue = unified_venue();
    // Far off: a REST answer would be a failure of the push path.
    let (engine, handle) = start(unified_confirming(
        &venue,
        Duration::from_secs(30),
        Duration::from_secs(60),
    ));
    wait_until("the order topic is acknowledged", || {
        handle.stats().finals.subscriptions_acked == 1
    });
    let subscriptions: Vec<_> = venue
        .received()
        .into_iter()
        .filter(|f| f.text.contains("subscribe"))
        .collect();
    assert_eq!(subscriptions.len(), 1);
    assert!(
        subscriptions[0]
            .text
            .contains(r#"{"instType":"UTA","topic":"order"}"#)
    );

    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let id = handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    let word = handle.final_timeout(PATIENCE).expect("a final word");
    assert_eq!(word.id, id);
    assert_eq!(word.state, FinalState::Cancelled);
    assert_eq!(word.source, Some(FinalSource::Push));
    let stats = engine.shutdown();
    assert_eq!(
        stats.finals.queries_sent, 0,
        "no REST order query was needed"
    );
}

#[test]
fn the_dead_mans_switch_is_armed_re_armed_and_turned_off_at_shutdown() {
    let venue = unified_venue();
    let started = Instant::now();
    let (engine, handle) = start(
        with_rest(&venue)
            .account(Account::Unified)
            .dead_man_switch(Duration::from_secs(6)),
    );
    wait_live(&handle);
    // Armed at start, re-armed every 2 s.
    wait_until("armed twice", || handle.stats().unified.dead_man_arms >= 2);
    let arms = venue.activity().countdown_arms;
    assert!(arms.iter().all(|a| a.seconds == 6), "{arms:?}");
    let gap = Duration::from_nanos(arms[1].at_ns - arms[0].at_ns);
    assert!(
        gap >= Duration::from_millis(1500) && gap < Duration::from_secs(5),
        "re-armed every third of the countdown, not at once and not at its end: {gap:?}"
    );
    assert!(venue.countdown_left(bitget_cancel::sim::MAIN_UID).is_some());
    let stats = handle.stats();
    assert!(stats.unified.dead_man_enabled);
    assert!(stats.unified.dead_man_arms >= 2);
    assert!(stats.unified.dead_man_armed_unix_ms > 0);
    assert_eq!(stats.unified.dead_man_failures, 0);

    let resting = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let stats = engine.shutdown();
    assert!(stats.unified.dead_man_off);
    let arms = venue.activity().countdown_arms;
    assert_eq!(arms.last().unwrap().seconds, 0, "turned off: {arms:?}");
    assert!(venue.countdown_left(bitget_cancel::sim::MAIN_UID).is_none());
    assert!(started.elapsed() < Duration::from_secs(30));
    // Off: the orders left resting stay resting past the countdown.
    std::thread::sleep(Duration::from_millis(200));
    for order in &resting {
        assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    }
}

#[test]
fn a_dead_mans_switch_for_a_classic_account_is_refused_clearly() {
    let venue = venue();
    let error = config_for(&venue)
        .rest_url(venue.rest_url())
        .account(Account::Classic)
        .dead_man_switch(Duration::from_secs(10))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("dead_man_switch"), "{error}");
}

#[test]
fn a_service_upgrade_notice_makes_each_connection_finish_and_reconnect_ahead_of_the_cut() {
    let venue = unified_venue();
    let (engine, handle) = start(
        config_for(&venue)
            .account(Account::Unified)
            .connections(2)
            .hedge_after(HedgeAfter::Off),
    );
    wait_until("both connections live", || {
        venue.stats().connections_logged_in == 2
    });
    // 30033 on every connection: the venue disconnects in about 60 s. Nothing waits on either
    // connection, so each reconnects at once instead of serving until the cut.
    assert_eq!(
        venue.inject(bitget_cancel::sim::Injection::service_upgrade()),
        2
    );
    wait_until("both reconnected", || {
        handle.stats().reconnects >= 2 && venue.stats().connections_logged_in == 2
    });
    assert!(venue.stats().connections_accepted >= 4);
    assert!(handle.stats().venue_errors >= 2);
    let order = venue
        .seed_orders(InstType::CoinFutures, "BTCUSD", 1)
        .remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(outcome.attempts, 1);
    let stats = engine.shutdown();
    assert_eq!(stats.unknown, 0);
}

#[test]
fn the_rest_rung_cancels_a_unified_accounts_orders_over_v3() {
    let venue = unified_venue();
    let (engine, handle) = start(with_rest(&venue).account(Account::Unified).rest_only(true));
    let order = venue
        .seed_orders(InstType::CoinFutures, "BTCUSD", 1)
        .remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    assert_eq!(outcome.via, Some(Via::Rest));
    assert!(!venue.order_is_resting(InstType::CoinFutures, "BTCUSD", &order.order_id));
    handle.cancel(spot("99")).unwrap();
    assert!(matches!(
        next_outcome(&handle).status,
        Status::Rejected { code: 25204, .. }
    ));
    let cancels: Vec<_> = venue
        .rest_requests()
        .into_iter()
        .filter(|r| r.path.contains("cancel"))
        .collect();
    assert_eq!(cancels.len(), 2);
    assert!(
        cancels
            .iter()
            .all(|c| c.path == "/api/v3/trade/cancel-order")
    );
    assert_eq!(
        cancels[0].body,
        format!(r#"{{"orderId":"{}"}}"#, order.order_id)
    );
    assert_eq!(venue.stats().connections_accepted, 0, "no WebSocket at all");
    engine.shutdown();
}

/// The V3 cancels the venue received for this order id: `(venue connection, request id)`.
fn v3_requests_for(venue: &SimVenue, order_id: &str) -> Vec<(u64, String)> {
    venue
        .received()
        .iter()
        .filter_map(|f| {
            let v: serde_json::Value = serde_json::from_str(&f.text).ok()?;
            (v["topic"] == "cancel-order" && v["args"][0]["orderId"] == order_id)
                .then(|| (f.conn, v["id"].as_str().unwrap_or_default().to_owned()))
        })
        .collect()
}

#[test]
fn v3_cancels_fail_over_and_hedge_across_the_pool() {
    use bitget_cancel::sim::{CancelFate, Faults, Injection, OnCancel};
    let venue = unified_venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let (engine, handle) = start(
        config_for(&venue)
            .account(Account::Unified)
            .connections(2)
            .hedge_after(HedgeAfter::Fixed(Duration::from_millis(100))),
    );
    wait_until("both connections live", || {
        venue.stats().connections_logged_in == 2
    });

    // Failover: the venue drops the connection that gets the next cancel, before processing it.
    venue.set_faults(Faults {
        drop_on_cancel: Some(1),
        ..Faults::default()
    });
    handle.cancel(by_order_id(&orders[0])).unwrap();
    let failed_over = next_outcome(&handle);
    assert_eq!(failed_over.status, Status::Acked, "{failed_over:?}");
    assert_eq!(failed_over.attempts, 2);
    let requests = v3_requests_for(&venue, &orders[0].order_id);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_ne!(
        requests[0].0, requests[1].0,
        "sent again on another connection"
    );
    wait_until("the dropped connection is back", || {
        venue.stats().connections_logged_in == 2
    });

    // Hedging: the connection of the first cancel freezes before answering it.
    venue.set_faults(Faults {
        on_cancel: Some(OnCancel {
            nth: 1,
            injection: Injection::Freeze,
            cancel: CancelFate::Refused,
        }),
        ..Faults::default()
    });
    handle.cancel(by_order_id(&orders[1])).unwrap();
    let hedged = next_outcome(&handle);
    assert_eq!(hedged.status, Status::Acked, "{hedged:?}");
    assert_eq!(hedged.attempts, 2);
    let requests = v3_requests_for(&venue, &orders[1].order_id);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_ne!(
        requests[0].0, requests[1].0,
        "the hedge went to the other connection"
    );
    assert_ne!(
        requests[0].1, requests[1].1,
        "each attempt has an id of its own"
    );

    let stats = engine.shutdown();
    assert!(stats.hedges_won >= 1);
    assert!(stats.failovers >= 1);
    assert_eq!(venue.resting_orders(), 0);
}

#[test]
fn with_the_order_topics_pushes_lost_the_final_word_comes_from_v3s_order_query() {
    use bitget_cancel::sim::{Faults, MAIN_UID, PushLoss, RestingOrder};
    let venue = unified_venue();
    let (engine, handle) = start(unified_confirming(
        &venue,
        Duration::from_millis(200),
        Duration::from_secs(5),
    ));
    wait_live(&handle);
    venue.set_faults(Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    });
    let order = RestingOrder {
        inst_type: InstType::UsdtFutures,
        inst_id: "BTCUSDT".into(),
        order_id: "1000000000000000077".into(),
        client_oid: None,
    };
    venue
        .add_order_with(order.clone(), MAIN_UID, "1", "100")
        .unwrap();
    venue
        .fill(
            InstType::UsdtFutures,
            "BTCUSDT",
            &order.order_id,
            Some("0.25"),
        )
        .unwrap();
    let id = handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    let word = handle.final_timeout(PATIENCE).expect("a final word");
    assert_eq!(word.id, id);
    assert_eq!(word.state, FinalState::Cancelled);
    assert_eq!(word.source, Some(FinalSource::Rest));
    assert_eq!(word.filled.map(|d| d.to_string()).as_deref(), Some("0.25"));
    let queries: Vec<_> = venue
        .rest_requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("order"))
        .collect();
    assert!(!queries.is_empty());
    assert!(
        queries
            .iter()
            .all(|q| q.path == format!("/api/v3/trade/order-info?orderId={}", order.order_id)),
        "{queries:?}"
    );
    engine.shutdown();
}

#[test]
fn cancels_due_at_once_go_in_one_v3_batch_whose_failed_entry_settles_alone() {
    let venue = unified_venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 3);
    let (engine, handle) = start(config_for(&venue).account(Account::Unified));
    // Accepted before the connection is live: due at once when it is.
    let by_id = [
        handle.cancel(by_order_id(&orders[0])).unwrap(),
        handle.cancel(by_order_id(&orders[1])).unwrap(),
        handle
            .cancel(bitget_cancel::Cancel::new(
                InstType::UsdtFutures,
                bitget_cancel::InstId::new("BTCUSDT").unwrap(),
                bitget_cancel::OrderRef::order_id("1999999999999999999").unwrap(),
            ))
            .unwrap(),
    ];
    // Named by clientOid: never in the same batch as those named by orderId.
    let by_oid = handle.cancel(by_client_oid(&orders[2])).unwrap();
    let outcomes = outcomes(&handle, 4);
    for o in &outcomes {
        let expected = if o.id == by_id[2] {
            Status::Rejected {
                code: 25204,
                msg: bitget_cancel::outcome::VenueMsg::new("Order does not exist"),
            }
        } else {
            Status::Acked
        };
        assert_eq!(o.status, expected, "{o:?}");
        assert_eq!(o.attempts, 1);
        assert_eq!(o.via, Some(Via::Connection(0)));
    }
    assert!(outcomes.iter().any(|o| o.id == by_oid));
    let texts: Vec<serde_json::Value> = venue
        .received()
        .iter()
        .filter_map(|f| serde_json::from_str(&f.text).ok())
        .filter(|v: &serde_json::Value| v["op"] == "trade")
        .collect();
    assert_eq!(texts.len(), 2, "one batch and one single cancel: {texts:?}");
    let batch = texts.iter().find(|v| v["topic"] == "batch-cancel").unwrap();
    let args = batch["args"].as_array().unwrap();
    assert_eq!(args.len(), 3);
    assert!(
        args.iter()
            .all(|a| a.get("orderId").is_some() && a.get("clientOid").is_none())
    );
    assert_eq!(batch["category"], "usdt-futures");
    let records = venue.activity().batches;
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].size, records[0].cancelled), (3, 2));
    assert_eq!(venue.resting_orders(), 0);
    engine.shutdown();
}

#[test]
fn a_40085_over_rest_switches_the_rest_rung_to_v3_and_sends_the_cancel_again() {
    let venue = unified_venue();
    let (engine, handle) = start(with_rest(&venue).account(Account::Classic).rest_only(true));
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    assert_eq!(outcome.attempts, 2, "refused on V2, sent again on V3");
    assert_eq!(outcome.via, Some(Via::Rest));
    let cancels: Vec<_> = venue
        .rest_requests()
        .into_iter()
        .filter(|r| r.path.contains("cancel"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        cancels,
        [
            "/api/v2/spot/trade/cancel-order",
            "/api/v3/trade/cancel-order"
        ]
    );
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.unified.switches, 1);
}
