//! A burst at the venue's limit, against the simulated venue over real TLS with every
//! documented limit on: the backlog's REST batches (each entry settled by its own list, never
//! orderId and clientOid mixed, no limit exceeded), priorities under a backlog, cancel-alls,
//! a batch that fails as a whole, and batches off; and a unified account (V3), which is sent no
//! REST batch and no cancel-all (V2 requests both).

#[path = "support/engine.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use bitget_cancel::engine::{Account, ConfigBuilder};
use bitget_cancel::outcome::NotSentReason;
use bitget_cancel::sim::{
    AccountMode, RestFailWith, RestFailure, RestFaults, RestingOrder, SimConfig, SimLimits,
    SimVenue,
};
use bitget_cancel::{
    Cancel, CancelAll, InstId, InstType, OrderRef, Outcome, RequestId, Status, Via,
};
use support::*;

/// A venue with every documented limit on.
fn limited() -> SimVenue {
    venue_with(SimConfig {
        limits: Some(SimLimits::default()),
        ..SimConfig::default()
    })
}

/// One connection and the REST rung, on `venue`.
fn burst_config(venue: &SimVenue) -> ConfigBuilder {
    config_for(venue)
        .rest_url(venue.rest_url())
        .max_queue_time(Duration::from_secs(30))
}

/// Waits for the REST connection too (batches and cancel-alls need it).
fn wait_ready(handle: &bitget_cancel::Handle) {
    wait_live(handle);
    wait_until("the REST connection is open", || {
        handle.stats().rest.connected
    });
}

/// `n` outcomes, checked to settle each intent once: by id.
fn settled_once(handle: &bitget_cancel::Handle, ids: &[RequestId]) -> HashMap<RequestId, Outcome> {
    let outcomes = outcomes(handle, ids.len());
    let mut by_id = HashMap::new();
    for o in outcomes {
        assert!(
            by_id.insert(o.id, o).is_none(),
            "a second outcome for {}",
            o.id
        );
    }
    for id in ids {
        assert!(by_id.contains_key(id), "no outcome for {id}");
    }
    assert_eq!(handle.try_outcome(), None, "no more outcomes than intents");
    by_id
}

fn unknown_spot(n: u64) -> Cancel {
    Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT").unwrap(),
        OrderRef::order_id(&(9_000_000 + n).to_string()).unwrap(),
    )
}

#[test]
fn a_backlog_goes_out_in_batches_each_entry_settled_by_its_own_list() {
    let venue = limited();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 60);
    let (engine, handle) = start(burst_config(&venue));
    wait_ready(&handle);
    let mut ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    // Three orders the venue does not know, at the back of the backlog: they go in a batch.
    let unknown: Vec<RequestId> = (1..=3)
        .map(|n| handle.cancel(unknown_spot(n)).unwrap())
        .collect();
    ids.extend(&unknown);
    let by_id = settled_once(&handle, &ids);
    for id in &ids[..60] {
        assert_eq!(by_id[id].status, Status::Acked, "{id}");
    }
    for id in &unknown {
        let o = &by_id[id];
        assert_eq!(o.status.code(), Some(43001), "{o:?}");
        assert_eq!(o.via, Some(Via::Rest));
        assert!(
            o.batch.is_some(),
            "the entry's own failure, reported per intent"
        );
    }
    let batched: Vec<&Outcome> = by_id.values().filter(|o| o.batch.is_some()).collect();
    assert!(
        batched.len() >= 40,
        "most of the backlog went in batches: {}",
        batched.len()
    );
    for o in &batched {
        let b = o.batch.unwrap();
        assert_eq!(o.via, Some(Via::Rest));
        let mates = batched.iter().filter(|p| p.batch == Some(b)).count();
        assert_eq!(mates, usize::from(b.size), "a batch's size is its entries'");
        assert!(b.size as usize <= 20);
    }
    // The front of the queue leaves on the WebSocket, within both budgets.
    assert_eq!(by_id[&ids[0]].via, Some(Via::Connection(0)));
    let singles = by_id
        .values()
        .filter(|o| matches!(o.via, Some(Via::Connection(_))))
        .count();
    assert!((1..=10).contains(&singles), "{singles} singles");
    let activity = venue.activity();
    assert_eq!(
        activity.rate_limited_total(),
        0,
        "no limit exceeded at the venue"
    );
    assert!(activity.batches.iter().all(|b| b.size <= 20));
    let stats = handle.stats();
    assert_eq!(stats.batches.sent as usize, activity.batches.len());
    assert_eq!(stats.batches.carried as usize, batched.len());
    assert_eq!(stats.venue_errors, 0);
    assert_eq!(venue.resting_orders(), 0);
    engine.shutdown();
}

#[test]
fn order_ids_and_client_oids_never_share_a_batch() {
    let venue = limited();
    let orders = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 50);
    let (engine, handle) = start(burst_config(&venue));
    wait_ready(&handle);
    let ids: Vec<RequestId> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let cancel = if i % 2 == 0 {
                by_order_id(o)
            } else {
                by_client_oid(o)
            };
            handle.cancel(cancel).unwrap()
        })
        .collect();
    let by_id = settled_once(&handle, &ids);
    assert!(
        by_id.values().all(|o| o.status == Status::Acked),
        "{by_id:?}"
    );
    let activity = venue.activity();
    assert!(activity.batches.len() >= 2, "both kinds went in batches");
    assert!(activity.batches.iter().any(|b| b.by_order_id));
    assert!(activity.batches.iter().any(|b| !b.by_order_id));
    // The venue refuses a mixed batch (40020): every batch was taken whole.
    assert!(activity.batches.iter().all(|b| b.cancelled == b.size));
    assert_eq!(activity.rate_limited_total(), 0);
    engine.shutdown();
}

#[test]
fn under_a_backlog_the_highest_priority_is_answered_before_the_waiting_ones() {
    let venue = limited();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 35);
    let (engine, handle) = start(burst_config(&venue).no_batch());
    wait_ready(&handle);
    let mut low = Vec::new();
    for o in &orders[..30] {
        low.push(handle.cancel(by_order_id(o)).unwrap());
    }
    let urgent: Vec<RequestId> = orders[30..]
        .iter()
        .map(|o| handle.cancel(by_order_id(o).priority(200)).unwrap())
        .collect();
    let all: Vec<RequestId> = low.iter().chain(&urgent).copied().collect();
    let by_id = settled_once(&handle, &all);
    assert!(by_id.values().all(|o| o.status == Status::Acked));
    let last_urgent = urgent
        .iter()
        .map(|id| by_id[id].times.settled_ns)
        .max()
        .unwrap();
    // The ten that went at once were sent before the urgent ones arrived; of the twenty that
    // waited with them, none is answered before the last urgent one.
    let overtaken = low[10..]
        .iter()
        .filter(|id| by_id[*id].times.settled_ns < last_urgent)
        .count();
    assert_eq!(
        overtaken, 0,
        "every urgent cancel left before the waiting ones"
    );
    assert_eq!(handle.stats().batches.sent, 0);
    engine.shutdown();
}

#[test]
fn batches_off_sends_every_cancel_alone_within_the_limits() {
    let venue = limited();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 25);
    let (engine, handle) = start(burst_config(&venue).no_batch());
    wait_ready(&handle);
    let ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    let by_id = settled_once(&handle, &ids);
    assert!(by_id.values().all(|o| o.status == Status::Acked));
    assert!(
        by_id
            .values()
            .all(|o| o.batch.is_none() && o.via == Some(Via::Connection(0)))
    );
    assert!(venue.activity().batches.is_empty());
    assert_eq!(venue.activity().rate_limited_total(), 0);
    engine.shutdown();
}

#[test]
fn a_batch_that_fails_as_a_whole_goes_out_again_and_every_cancel_is_settled_once() {
    for with in [RestFailWith::RateLimited, RestFailWith::ServerError(502)] {
        let venue = limited();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 30);
        venue.set_rest_faults(RestFaults {
            fail_batches: Some(RestFailure { times: 1, with }),
            ..RestFaults::default()
        });
        let (engine, handle) = start(burst_config(&venue));
        wait_ready(&handle);
        let ids: Vec<RequestId> = orders
            .iter()
            .map(|o| handle.cancel(by_order_id(o)).unwrap())
            .collect();
        let by_id = settled_once(&handle, &ids);
        assert!(
            by_id.values().all(|o| o.status == Status::Acked),
            "{with:?}: {by_id:?}"
        );
        let stats = handle.stats();
        assert_eq!(stats.batches.failed, 1, "{with:?}");
        // The failed batch's cancels had a second attempt.
        assert!(by_id.values().any(|o| o.attempts == 2), "{with:?}");
        assert_eq!(venue.resting_orders(), 0);
        engine.shutdown();
    }
}

fn seed(venue: &SimVenue, inst_type: InstType, symbol: &str, n: usize) -> Vec<RestingOrder> {
    venue.seed_orders(inst_type, symbol, n)
}

#[test]
fn a_futures_cancel_all_covers_the_product_line_or_one_symbol() {
    let venue = limited();
    seed(&venue, InstType::UsdtFutures, "BTCUSDT", 6);
    seed(&venue, InstType::UsdtFutures, "ETHUSDT", 4);
    seed(&venue, InstType::Spot, "BTCUSDT", 3);
    let (engine, handle) = start(burst_config(&venue));
    wait_ready(&handle);

    let symbol = CancelAll::new(InstType::UsdtFutures, Some(InstId::new("ETHUSDT").unwrap()))
        .unwrap()
        .with_tag(7);
    let id = handle.cancel_all(symbol).unwrap();
    let o = next_outcome(&handle);
    assert_eq!(
        (o.id, o.status, o.via, o.tag()),
        (id, Status::Acked, Some(Via::Rest), 7)
    );
    let report = o.cancel_all.expect("a cancel-all's outcome says so");
    assert_eq!(report.scope, symbol);
    assert_eq!((report.succeeded, report.failed), (Some(4), Some(0)));
    assert!(!report.asynchronous);
    assert_eq!(venue.resting_orders(), 9);

    handle
        .cancel_all(CancelAll::new(InstType::UsdtFutures, None).unwrap())
        .unwrap();
    let o = next_outcome(&handle);
    assert_eq!(o.status, Status::Acked);
    assert_eq!(o.cancel_all.unwrap().succeeded, Some(6));
    assert_eq!(venue.resting_orders(), 3, "spot untouched");
    let records = venue.activity().cancel_alls;
    assert_eq!(records.len(), 2);
    assert_eq!(handle.stats().batches.cancel_alls_acked, 2);
    engine.shutdown();
}

#[test]
fn a_spot_cancel_all_needs_a_symbol_and_is_accepted_then_carried_out() {
    assert_eq!(
        CancelAll::new(InstType::Spot, None).unwrap_err().field,
        "instId"
    );
    let venue = limited();
    seed(&venue, InstType::Spot, "BTCUSDT", 5);
    seed(&venue, InstType::Spot, "ETHUSDT", 2);
    let (engine, handle) = start(burst_config(&venue));
    wait_ready(&handle);
    let all = CancelAll::new(InstType::Spot, Some(InstId::new("BTCUSDT").unwrap())).unwrap();
    handle.cancel_all(all).unwrap();
    let o = next_outcome(&handle);
    assert_eq!(o.status, Status::Acked);
    let report = o.cancel_all.unwrap();
    assert!(
        report.asynchronous,
        "spot's cancel-all is accepted, then carried out"
    );
    assert_eq!((report.succeeded, report.failed), (None, None));
    wait_until("the venue carried the cancel-all out", || {
        venue.resting_orders() == 2
    });
    engine.shutdown();
}

#[test]
fn a_cancel_all_goes_ahead_of_a_waiting_backlog() {
    let venue = limited();
    let orders = seed(&venue, InstType::Spot, "BTCUSDT", 40);
    seed(&venue, InstType::UsdtFutures, "BTCUSDT", 3);
    let (engine, handle) = start(burst_config(&venue).no_batch());
    wait_ready(&handle);
    let ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    let all_id = handle
        .cancel_all(CancelAll::new(InstType::UsdtFutures, None).unwrap())
        .unwrap();
    let mut all_ids = ids.clone();
    all_ids.push(all_id);
    let by_id = settled_once(&handle, &all_ids);
    let all = &by_id[&all_id];
    assert_eq!(all.status, Status::Acked);
    let behind = ids
        .iter()
        .filter(|id| by_id[*id].times.settled_ns > all.times.settled_ns)
        .count();
    assert!(
        behind >= 20,
        "the cancel-all did not wait for the backlog: {behind} after it"
    );
    engine.shutdown();
}

#[test]
fn without_the_rest_rung_a_cancel_all_is_not_sent() {
    let venue = limited();
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    handle
        .cancel_all(CancelAll::new(InstType::UsdtFutures, None).unwrap())
        .unwrap();
    let o = next_outcome(&handle);
    assert_eq!(o.status.reason(), Some("no_connection"), "{o:?}");
    assert!(o.cancel_all.is_some());
    engine.shutdown();
}

#[test]
fn a_cancel_all_without_an_answer_or_refused_for_the_rate_goes_out_again() {
    for with in [
        RestFailWith::ServerError(503),
        RestFailWith::RateLimited,
        RestFailWith::Drop,
    ] {
        let venue = limited();
        seed(&venue, InstType::UsdtFutures, "BTCUSDT", 4);
        let (engine, handle) = start(burst_config(&venue));
        wait_ready(&handle);
        venue.set_rest_faults(RestFaults {
            fail_cancel_alls: Some(RestFailure { times: 1, with }),
            ..RestFaults::default()
        });
        let id = handle
            .cancel_all(CancelAll::new(InstType::UsdtFutures, None).unwrap())
            .unwrap();
        let o = next_outcome(&handle);
        assert_eq!((o.id, o.status), (id, Status::Acked), "{with:?}: {o:?}");
        assert_eq!(o.attempts, 2, "{with:?}: the second send was answered");
        assert_eq!(o.cancel_all.unwrap().succeeded, Some(4), "{with:?}");
        assert_eq!(venue.resting_orders(), 0);
        assert_eq!(handle.stats().batches.cancel_alls, 2, "{with:?}");
        assert_eq!(handle.try_outcome(), None, "one outcome");
        engine.shutdown();
    }
}

/// A unified account's venue with every documented limit on.
fn unified_limited() -> SimVenue {
    venue_with(SimConfig {
        limits: Some(SimLimits::default()),
        account_mode: AccountMode::Unified,
        ..SimConfig::default()
    })
}

/// The REST requests to V2's batch and cancel-all endpoints the venue received.
fn v2_burst_requests(venue: &SimVenue) -> Vec<String> {
    venue
        .rest_requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| {
            p.starts_with("/api/v2/")
                && (p.contains("batch") || p.contains("cancel-all") || p.contains("cancel-symbol"))
        })
        .collect()
}

#[test]
fn a_unified_accounts_cancel_all_is_not_sent_and_says_why() {
    let venue = unified_limited();
    seed(&venue, InstType::UsdtFutures, "BTCUSDT", 3);
    let (engine, handle) = start(burst_config(&venue).account(Account::Auto));
    wait_ready(&handle);
    let all = CancelAll::new(InstType::UsdtFutures, None).unwrap();
    let id = handle.cancel_all(all).unwrap();
    let o = next_outcome(&handle);
    assert_eq!(o.id, id);
    assert_eq!(
        o.status,
        Status::NotSent(NotSentReason::ClassicOnly),
        "{o:?}"
    );
    assert_eq!(o.cancel_all.unwrap().scope, all);
    assert_eq!(o.attempts, 0);
    assert_eq!(venue.resting_orders(), 3, "nothing was cancelled");
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.batches.cancel_alls, 0);
    assert_eq!(v2_burst_requests(&venue), Vec::<String>::new());
    assert_eq!(venue.activity().mode_refusals, 0, "no V2 request at all");
}

#[test]
fn a_unified_accounts_backlog_goes_without_rest_batches_each_cancel_settled_once() {
    let venue = unified_limited();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 40);
    let (engine, handle) = start(burst_config(&venue).account(Account::Auto));
    wait_ready(&handle);
    let ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    let by_id = settled_once(&handle, &ids);
    for id in &ids {
        let o = &by_id[id];
        assert_eq!(o.status, Status::Acked, "{o:?}");
        assert_eq!(o.batch, None, "no REST batch for a unified account");
    }
    assert_eq!(venue.resting_orders(), 0);
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.batches.sent, 0);
    assert_eq!(v2_burst_requests(&venue), Vec::<String>::new());
    assert_eq!(venue.activity().mode_refusals, 0);
}

#[test]
fn a_key_turned_unified_mid_burst_has_every_cancel_settled_once_over_v3() {
    let venue = limited();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 40);
    let (engine, handle) = start(burst_config(&venue).account(Account::Classic));
    wait_ready(&handle);
    // V2 answers 40085 from now on, to the WebSocket's singles and the REST batches alike.
    assert!(venue.set_account_mode("sim-key", AccountMode::Unified));
    let ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    let by_id = settled_once(&handle, &ids);
    for id in &ids {
        assert_eq!(by_id[id].status, Status::Acked, "{:?}", by_id[id]);
    }
    assert_eq!(venue.resting_orders(), 0);
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.unified.switches, 1);
    // What batches went were refused (40085) before the switch; none went after it.
    assert_eq!(stats.batches.sent, stats.batches.failed);
    assert!(venue.activity().mode_refusals >= 1);
}
