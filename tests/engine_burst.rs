//! A burst at the venue's limit, against the simulated venue over real TLS with every
//! documented limit on: the backlog's REST batches (each entry settled by its own list, never
//! orderId and clientOid mixed, no limit exceeded), priorities under a backlog, cancel-alls,
//! a batch that fails as a whole, and batches off; and a unified account (V3), whose backlog
//! leaves in V3 `cancel-batch`es and whose cancel-all is V3's `cancel-symbol-order`, and the
//! switches both ways when the venue says the key is the other kind (40085 to V2, 40084 to V3).

#[path = "support/engine.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use bitget_cancel::engine::{Account, ConfigBuilder};
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

/// The outcomes that came from a REST batch, at least `at_least` of them (most of a backlog),
/// each over REST, each batch's size the count of its entries, at most 20.
fn batched_outcomes(by_id: &HashMap<RequestId, Outcome>, at_least: usize) -> Vec<&Outcome> {
    let batched: Vec<&Outcome> = by_id.values().filter(|o| o.batch.is_some()).collect();
    assert!(
        batched.len() >= at_least,
        "most of the backlog went in REST batches: {}",
        batched.len()
    );
    for o in &batched {
        let b = o.batch.unwrap();
        assert_eq!(o.via, Some(Via::Rest));
        let mates = batched.iter().filter(|p| p.batch == Some(b)).count();
        assert_eq!(mates, usize::from(b.size), "a batch's size is its entries'");
        assert!(b.size as usize <= 20);
    }
    batched
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
    let batched = batched_outcomes(&by_id, 40);
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

/// The classic account's venue and the unified account's, each with the engine's setting.
fn both_kinds() -> [(fn() -> SimVenue, Account); 2] {
    [
        (limited, Account::Classic),
        (unified_limited, Account::Unified),
    ]
}

#[test]
fn a_batch_that_fails_as_a_whole_goes_out_again_and_every_cancel_is_settled_once() {
    for ((venue_of, account), with) in both_kinds().into_iter().flat_map(|k| {
        [
            (k, RestFailWith::RateLimited),
            (k, RestFailWith::ServerError(502)),
        ]
    }) {
        let with_account = (with, account);
        let venue = venue_of();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 30);
        venue.set_rest_faults(RestFaults {
            fail_batches: Some(RestFailure { times: 1, with }),
            ..RestFaults::default()
        });
        let (engine, handle) = start(burst_config(&venue).account(account));
        wait_ready(&handle);
        let ids: Vec<RequestId> = orders
            .iter()
            .map(|o| handle.cancel(by_order_id(o)).unwrap())
            .collect();
        let by_id = settled_once(&handle, &ids);
        assert!(
            by_id.values().all(|o| o.status == Status::Acked),
            "{with_account:?}: {by_id:?}"
        );
        let stats = handle.stats();
        assert_eq!(stats.batches.failed, 1, "{with_account:?}");
        // The failed batch's cancels had a second attempt.
        assert!(by_id.values().any(|o| o.attempts == 2), "{with_account:?}");
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
    assert_eq!(o.cancel_all_scope(), Some(symbol));
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
    for ((venue_of, account), with) in both_kinds().into_iter().flat_map(|k| {
        [
            (k, RestFailWith::ServerError(503)),
            (k, RestFailWith::RateLimited),
            (k, RestFailWith::Drop),
        ]
    }) {
        let with_account = (with, account);
        let venue = venue_of();
        seed(&venue, InstType::UsdtFutures, "BTCUSDT", 4);
        let (engine, handle) = start(burst_config(&venue).account(account));
        wait_ready(&handle);
        venue.set_rest_faults(RestFaults {
            fail_cancel_alls: Some(RestFailure { times: 1, with }),
            ..RestFaults::default()
        });
        let id = handle
            .cancel_all(CancelAll::new(InstType::UsdtFutures, None).unwrap())
            .unwrap();
        let o = next_outcome(&handle);
        assert_eq!(
            (o.id, o.status),
            (id, Status::Acked),
            "{with_account:?}: {o:?}"
        );
        assert_eq!(
            o.attempts, 2,
            "{with_account:?}: the second send was answered"
        );
        assert_eq!(o.cancel_all.unwrap().succeeded, Some(4), "{with_account:?}");
        assert_eq!(venue.resting_orders(), 0);
        assert_eq!(handle.stats().batches.cancel_alls, 2, "{with_account:?}");
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

/// The requests to V3's batch and cancel-all endpoints the venue received.
fn v3_burst_requests(venue: &SimVenue) -> Vec<String> {
    venue
        .rest_requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p == "/api/v3/trade/cancel-batch" || p == "/api/v3/trade/cancel-symbol-order")
        .collect()
}

fn unknown(inst_type: InstType, n: u64) -> Cancel {
    Cancel::new(
        inst_type,
        InstId::new("BTCUSDT").unwrap(),
        OrderRef::order_id(&(9_000_000 + n).to_string()).unwrap(),
    )
}

#[test]
fn a_unified_accounts_backlog_leaves_in_v3_rest_batches_beside_the_websocket() {
    let venue = unified_limited();
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 60);
    let (engine, handle) = start(burst_config(&venue).account(Account::Auto));
    wait_ready(&handle);
    let mut ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    // One order the venue does not know, at the back of the backlog: it goes in a batch.
    let missing = handle.cancel(unknown(InstType::UsdtFutures, 1)).unwrap();
    ids.push(missing);
    let by_id = settled_once(&handle, &ids);
    for id in &ids[..60] {
        assert_eq!(by_id[id].status, Status::Acked, "{:?}", by_id[id]);
    }
    let o = &by_id[&missing];
    assert_eq!(o.status.code(), Some(25204), "{o:?}");
    assert_eq!(o.via, Some(Via::Rest));
    let missing_batch = o
        .batch
        .expect("the entry's own rejection, reported per intent");
    let batched = batched_outcomes(&by_id, 30);
    let mates_acked = batched
        .iter()
        .filter(|p| p.batch == Some(missing_batch) && p.status == Status::Acked)
        .count();
    assert_eq!(
        mates_acked,
        usize::from(missing_batch.size) - 1,
        "the rest of its batch acked"
    );
    // The front of the queue leaves on the WebSocket link.
    assert_eq!(by_id[&ids[0]].via, Some(Via::Connection(0)));
    let activity = venue.activity();
    let v3_rest: Vec<_> = activity
        .batches
        .iter()
        .filter(|b| b.endpoint == bitget_cancel::sim::Endpoint::V3CancelBatch && b.size > 0)
        .collect();
    assert!(!v3_rest.is_empty());
    assert!(activity.batches.iter().all(|b| b.size <= 20));
    assert_eq!(
        activity.rate_limited_total(),
        0,
        "no limit exceeded at the venue"
    );
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(
        v3_burst_requests(&venue).len() as u64,
        stats.batches.sent,
        "every REST batch went to V3's cancel-batch"
    );
    assert_eq!(stats.batches.carried as usize, batched.len());
    assert_eq!(v2_burst_requests(&venue), Vec::<String>::new());
    assert_eq!(activity.mode_refusals, 0);
    assert_eq!(venue.resting_orders(), 0);
}

#[test]
fn a_unified_accounts_cancel_all_is_acked_with_its_counts_and_empties_its_scope() {
    let venue = unified_limited();
    seed(&venue, InstType::UsdtFutures, "BTCUSDT", 3);
    seed(&venue, InstType::UsdtFutures, "ETHUSDT", 2);
    seed(&venue, InstType::Spot, "BTCUSDT", 4);
    let (engine, handle) = start(burst_config(&venue).account(Account::Auto));
    wait_ready(&handle);

    let symbol = CancelAll::new(InstType::UsdtFutures, Some(InstId::new("ETHUSDT").unwrap()))
        .unwrap()
        .with_tag(5);
    let id = handle.cancel_all(symbol).unwrap();
    let o = next_outcome(&handle);
    assert_eq!(
        (o.id, o.status, o.via, o.tag(), o.attempts),
        (id, Status::Acked, Some(Via::Rest), 5, 1)
    );
    let report = o.cancel_all.unwrap();
    assert_eq!(o.cancel_all_scope(), Some(symbol));
    assert_eq!((report.succeeded, report.failed), (Some(2), Some(0)));
    assert!(!report.asynchronous, "V3's reply lists what it cancelled");
    assert_eq!(venue.resting_orders(), 7);

    handle
        .cancel_all(CancelAll::new(InstType::UsdtFutures, None).unwrap())
        .unwrap();
    let o = next_outcome(&handle);
    assert_eq!(o.status, Status::Acked);
    assert_eq!(o.cancel_all.unwrap().succeeded, Some(3));
    assert_eq!(venue.resting_orders(), 4, "spot untouched");

    // Spot still needs its symbol, and is carried out before the reply.
    let spot = CancelAll::new(InstType::Spot, Some(InstId::new("BTCUSDT").unwrap())).unwrap();
    handle.cancel_all(spot).unwrap();
    let o = next_outcome(&handle);
    let report = o.cancel_all.unwrap();
    assert_eq!(
        (o.status, report.succeeded, report.asynchronous),
        (Status::Acked, Some(4), false)
    );
    assert_eq!(venue.resting_orders(), 0);

    let records = venue.activity().cancel_alls;
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r.endpoint == bitget_cancel::sim::Endpoint::V3CancelSymbol)
    );
    let stats = engine.shutdown();
    assert!(stats.unified.unified);
    assert_eq!(stats.batches.cancel_alls_acked, 3);
    assert_eq!(v2_burst_requests(&venue), Vec::<String>::new());
    assert_eq!(venue.activity().mode_refusals, 0);
}

#[test]
fn a_40084_on_a_v3_cancel_all_switches_to_v2_and_sends_it_again_there() {
    let venue = unified_limited();
    seed(&venue, InstType::UsdtFutures, "BTCUSDT", 4);
    let (engine, handle) = start(burst_config(&venue).account(Account::Unified));
    wait_ready(&handle);
    // V3 answers 40084 from now on: the key is classic again.
    assert!(venue.set_account_mode("sim-key", AccountMode::Classic));
    let all = CancelAll::new(InstType::UsdtFutures, None).unwrap();
    let id = handle.cancel_all(all).unwrap();
    let o = next_outcome(&handle);
    assert_eq!(
        (o.id, o.status, o.via),
        (id, Status::Acked, Some(Via::Rest)),
        "{o:?}"
    );
    assert_eq!(o.attempts, 2, "refused once in V3, then sent in V2");
    let report = o.cancel_all.unwrap();
    assert_eq!(
        (o.cancel_all_scope(), report.succeeded),
        (Some(all), Some(4))
    );
    assert_eq!(handle.try_outcome(), None, "one outcome");
    assert_eq!(venue.resting_orders(), 0);
    let records = venue.activity().cancel_alls;
    assert_eq!(
        records.iter().map(|r| r.endpoint).collect::<Vec<_>>(),
        [bitget_cancel::sim::Endpoint::FuturesCancelAll],
        "the V3 request was refused before it cancelled anything"
    );
    assert_eq!(
        v3_burst_requests(&venue),
        ["/api/v3/trade/cancel-symbol-order"]
    );
    let stats = engine.shutdown();
    assert!(!stats.unified.unified);
    assert_eq!(stats.unified.switches, 1);
    assert_eq!(stats.batches.cancel_alls, 2);
}

#[test]
fn a_40084_on_a_v3_batch_switches_to_v2_and_every_entry_is_settled_once_there() {
    let venue = unified_limited();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 40);
    let (engine, handle) = start(burst_config(&venue).account(Account::Unified));
    wait_ready(&handle);
    // The WebSocket's answers come late, so the backlog's first REST batch leaves in V3
    // before any 40084 has switched the account.
    venue.set_faults(bitget_cancel::sim::Faults {
        reply_delay: Duration::from_millis(300),
        ..Default::default()
    });
    assert!(venue.set_account_mode("sim-key", AccountMode::Classic));
    let ids: Vec<RequestId> = orders
        .iter()
        .map(|o| handle.cancel(by_order_id(o)).unwrap())
        .collect();
    let by_id = settled_once(&handle, &ids);
    for id in &ids {
        assert_eq!(by_id[id].status, Status::Acked, "{:?}", by_id[id]);
    }
    assert_eq!(venue.resting_orders(), 0);
    let v3_batches = v3_burst_requests(&venue).len();
    assert!(v3_batches >= 1, "a V3 cancel-batch went before the switch");
    let stats = engine.shutdown();
    assert!(!stats.unified.unified);
    assert_eq!(stats.unified.switches, 1);
    // Every V3 batch was refused (40084) as a whole; what batches went after the switch were
    // V2's, and taken.
    assert!(stats.batches.failed as usize >= v3_batches);
    assert_eq!(
        venue
            .activity()
            .batches
            .iter()
            .filter(|b| b.endpoint == bitget_cancel::sim::Endpoint::V3CancelBatch)
            .count(),
        0,
        "no V3 batch was carried out"
    );
    assert!(venue.activity().mode_refusals as usize >= v3_batches);
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
    // What V2 batches went were refused (40085) before the switch; what went after it went
    // to V3's cancel-batch.
    let v2_batches = v2_burst_requests(&venue).len() as u64;
    let v3_batches = v3_burst_requests(&venue).len() as u64;
    assert_eq!(stats.batches.sent, v2_batches + v3_batches);
    assert!(stats.batches.failed >= v2_batches);
    assert!(venue.activity().mode_refusals >= 1);
}
