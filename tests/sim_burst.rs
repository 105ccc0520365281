//! The simulated venue under a burst: REST batch cancels with per-entry failures, cancel-alls,
//! and the live venue's rate limits per account and endpoint, over real TLS.

#[path = "support/sim_client.rs"]
mod common;
#[path = "support/sim_rest.rs"]
mod sim_rest;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::sim::{
    Endpoint, RestFailWith, RestFailure, RestFaults, SimConfig, SimKey, SimLimits, WsRateLimitReply,
};
use common::*;
use serde_json::{Value, json};
use sim_rest::{Rest, RestKey};

const SPOT_BATCH: &str = "/api/v2/spot/trade/batch-cancel-order";
const FUTURES_BATCH: &str = "/api/v2/mix/order/batch-cancel-orders";
const SPOT_CANCEL: &str = "/api/v2/spot/trade/cancel-order";

fn limited() -> SimConfig {
    SimConfig {
        limits: Some(SimLimits::default()),
        max_messages_per_second: 0,
        ..SimConfig::default()
    }
}

fn ids(orders: &[bitget_cancel::sim::RestingOrder]) -> Vec<Value> {
    orders
        .iter()
        .map(|o| json!({"orderId": o.order_id}))
        .collect()
}

#[test]
fn a_spot_batch_cancels_its_entries_and_reports_each_failure() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let mut list = ids(&orders);
    list.push(json!({"orderId": "404"}));
    let mut rest = Rest::connect(&venue);
    let reply = rest.post(SPOT_BATCH, &json!({"symbol": "BTCUSDT", "orderList": list}));
    assert_eq!(
        (reply.status, reply.code()),
        (200, "00000"),
        "{}",
        reply.body
    );
    let data = &reply.json["data"];
    let succeeded: Vec<&str> = data["successList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["orderId"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(succeeded, expected);
    assert_eq!(
        data["successList"][0]["clientOid"],
        orders[0].client_oid.as_deref().unwrap()
    );
    assert_eq!(
        data["failureList"],
        json!([{"orderId": "404", "clientOid": null, "errorMsg": "The order does not exist", "errorCode": "43001"}])
    );
    assert_eq!(venue.resting_orders(), 0);
    let batches = venue.activity().batches;
    assert_eq!(batches.len(), 1);
    assert_eq!(
        (
            batches[0].endpoint,
            batches[0].size,
            batches[0].cancelled,
            batches[0].by_order_id
        ),
        (Endpoint::SpotBatchCancel, 4, 3, true)
    );
}

#[test]
fn a_futures_batch_takes_order_id_list_or_order_list_and_fails_unknown_entries_with_40768() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 2);
    let mut rest = Rest::connect(&venue);
    for (name, order) in [("orderIdList", &orders[0]), ("orderList", &orders[1])] {
        let body = json!({
            "symbol": "BTCUSDT", "productType": "USDT-FUTURES",
            name: [{"clientOid": order.client_oid}, {"clientOid": "gone"}],
        });
        let reply = rest.post(FUTURES_BATCH, &body);
        assert_eq!(reply.code(), "00000", "{}", reply.body);
        assert_eq!(
            reply.json["data"]["successList"][0]["orderId"],
            order.order_id.as_str()
        );
        assert_eq!(reply.json["data"]["failureList"][0]["errorCode"], "40768");
        assert_eq!(reply.json["data"]["failureList"][0]["clientOid"], "gone");
    }
    assert!(venue.activity().batches.iter().all(|b| !b.by_order_id));
}

#[test]
fn a_batch_over_20_entries_is_refused_with_40306_and_cancels_nothing() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 21);
    let mut rest = Rest::connect(&venue);
    let reply = rest.post(
        SPOT_BATCH,
        &json!({"symbol": "BTCUSDT", "orderList": ids(&orders)}),
    );
    assert_eq!((reply.status, reply.code()), (400, "40306"));
    assert_eq!(venue.resting_orders(), 21);
    let reply = rest.post(
        SPOT_BATCH,
        &json!({"symbol": "BTCUSDT", "orderList": ids(&orders[..20])}),
    );
    assert_eq!(
        reply.json["data"]["successList"].as_array().map(Vec::len),
        Some(20)
    );
}

#[test]
fn a_batch_mixing_order_ids_and_client_oids_is_refused_with_40020() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut rest = Rest::connect(&venue);
    let mixed = json!([{"orderId": orders[0].order_id}, {"clientOid": orders[1].client_oid}]);
    let reply = rest.post(
        SPOT_BATCH,
        &json!({"symbol": "BTCUSDT", "orderList": mixed}),
    );
    assert_eq!((reply.status, reply.code()), (400, "40020"));
    assert_eq!(venue.resting_orders(), 2);
    assert!(venue.activity().batches.is_empty());
}

#[test]
fn spot_cancel_symbol_order_is_accepted_at_once_and_cancels_shortly_after() {
    let venue = start(SimConfig {
        async_cancel_delay: Duration::from_millis(200),
        ..SimConfig::default()
    });
    venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let other = venue.seed_orders(InstType::Spot, "ETHUSDT", 1);
    venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 1);
    let mut rest = Rest::connect(&venue);
    let reply = rest.post(
        "/api/v2/spot/trade/cancel-symbol-order",
        &json!({"symbol": "BTCUSDT"}),
    );
    assert_eq!(reply.code(), "00000", "{}", reply.body);
    assert_eq!(reply.json["data"]["symbol"], "BTCUSDT");
    let activity = venue
        .wait_for_activity(SAFETY, |a| !a.cancel_alls.is_empty())
        .expect("the cancel-all runs");
    assert_eq!(activity.cancel_alls[0].cancelled, 3);
    assert_eq!(activity.cancel_alls[0].endpoint, Endpoint::SpotCancelSymbol);
    assert_eq!(venue.resting_orders(), 2, "other symbols and futures stay");
    assert!(venue.order_is_resting(InstType::Spot, "ETHUSDT", &other[0].order_id));
    let missing = rest.post("/api/v2/spot/trade/cancel-symbol-order", &json!({}));
    assert_eq!(missing.code(), "40019");
}

#[test]
fn futures_cancel_all_covers_a_product_line_or_one_symbol() {
    let venue = start(SimConfig::default());
    venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 2);
    let eth = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 2);
    venue.seed_orders(InstType::CoinFutures, "BTCUSD", 1);
    venue.seed_orders(InstType::Spot, "BTCUSDT", 1);
    let mut rest = Rest::connect(&venue);
    let one_symbol = rest.post(
        "/api/v2/mix/order/cancel-all-orders",
        &json!({"productType": "USDT-FUTURES", "symbol": "ETHUSDT", "marginCoin": "USDT"}),
    );
    let data = &one_symbol.json["data"];
    let cancelled: Vec<&str> = data["successList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(
        cancelled,
        [eth[0].order_id.as_str(), eth[1].order_id.as_str()]
    );
    assert_eq!(data["failureList"], json!([]));
    let line = rest.post(
        "/api/v2/mix/order/cancel-all-orders",
        &json!({"productType": "USDT-FUTURES"}),
    );
    assert_eq!(
        line.json["data"]["successList"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(venue.resting_orders(), 2, "coin futures and spot stay");
    let records = venue.activity().cancel_alls;
    assert_eq!(
        records
            .iter()
            .map(|r| (r.symbol.clone(), r.cancelled))
            .collect::<Vec<_>>(),
        [(Some("ETHUSDT".to_owned()), 2), (None, 2)]
    );
}

#[test]
fn a_whole_batch_request_fails_with_a_5xx_or_a_rate_limit_answer_when_told() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let body = json!({"symbol": "BTCUSDT", "orderList": ids(&orders)});
    let mut rest = Rest::connect(&venue);
    for (with, status) in [
        (RestFailWith::ServerError(502), 502),
        (RestFailWith::RateLimited, 429),
    ] {
        venue.set_rest_faults(RestFaults {
            fail_batches: Some(RestFailure { times: 1, with }),
            ..RestFaults::default()
        });
        let failed = rest.post(SPOT_BATCH, &body);
        assert_eq!(failed.status, status, "{}", failed.body);
        if status == 429 {
            assert_eq!(failed.code(), "429");
        }
        assert_eq!(venue.resting_orders(), 2, "no entry reached the book");
    }
    let reply = rest.post(SPOT_BATCH, &body);
    assert_eq!(
        reply.json["data"]["successList"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn the_cancel_limit_is_shared_by_websocket_and_rest_per_account_and_product_family() {
    let venue = start(limited());
    let spot = venue.seed_orders(InstType::Spot, "BTCUSDT", 11);
    let futures = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 1);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    for (n, order) in spot[..9].iter().enumerate() {
        send(
            &mut ws,
            &cancel_request(&n.to_string(), "SPOT", json!({"orderId": order.order_id})),
        );
        assert_eq!(next_json(&mut ws)["code"], 0);
    }
    let mut rest = Rest::connect(&venue);
    let tenth = rest.post(
        SPOT_CANCEL,
        &json!({"symbol": "BTCUSDT", "orderId": spot[9].order_id}),
    );
    assert_eq!(tenth.code(), "00000");
    // The eleventh spot cancel within the second, over either path, is refused.
    send(
        &mut ws,
        &cancel_request("x", "SPOT", json!({"orderId": spot[10].order_id})),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "code": 30006, "msg": "request too many"}),
        "the documented shape names no request"
    );
    let over = rest.post(
        SPOT_CANCEL,
        &json!({"symbol": "BTCUSDT", "orderId": spot[10].order_id}),
    );
    assert_eq!((over.status, over.code()), (429, "429"));
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &spot[10].order_id));
    // Futures count apart.
    send(
        &mut ws,
        &cancel_request("f", "USDT-FUTURES", json!({"orderId": futures[0].order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);
    let refused = venue.activity().rate_limited;
    assert_eq!(refused.get(&Endpoint::SpotCancelOrder), Some(&2));
    assert_eq!(venue.activity().rate_limited_total(), 2);
}

#[test]
fn the_per_request_rate_limit_reply_echoes_the_arg() {
    let venue = start(SimConfig {
        limits: Some(SimLimits {
            cancel_order: 1,
            websocket_reply: WsRateLimitReply::PerRequest,
            ..SimLimits::default()
        }),
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("a", "SPOT", json!({"orderId": orders[0].order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);
    send(
        &mut ws,
        &cancel_request("b", "SPOT", json!({"orderId": orders[1].order_id})),
    );
    let refused = next_json(&mut ws);
    assert_eq!(
        (refused["event"].as_str(), refused["code"].as_i64()),
        (Some("error"), Some(30006))
    );
    assert_eq!(refused["arg"][0]["id"], "b");
}

#[test]
fn each_batch_endpoint_has_its_own_limit_per_account() {
    let second = SimKey {
        api_key: "k2".into(),
        secret: "s2".into(),
        passphrase: "p2".into(),
        uid: 2,
        mode: Default::default(),
    };
    let venue = start(SimConfig {
        extra_keys: vec![second.clone()],
        ..limited()
    });
    let mut rest = Rest::connect(&venue);
    let body = json!({"symbol": "BTCUSDT", "orderList": [{"orderId": "1"}]});
    for _ in 0..10 {
        assert_eq!(rest.post(SPOT_BATCH, &body).code(), "00000");
    }
    assert_eq!(rest.post(SPOT_BATCH, &body).status, 429);
    let futures = json!({"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "orderIdList": [{"orderId": "1"}]});
    assert_eq!(
        rest.post(FUTURES_BATCH, &futures).code(),
        "00000",
        "futures count apart"
    );
    let mut other = Rest::connect_as(
        &venue,
        RestKey {
            key: second.api_key,
            secret: second.secret,
            passphrase: second.passphrase,
        },
    );
    assert_eq!(
        other.post(SPOT_BATCH, &body).code(),
        "00000",
        "another account counts apart"
    );
    let activity = venue.activity();
    assert_eq!(
        activity.rate_limited.get(&Endpoint::SpotBatchCancel),
        Some(&1)
    );
    assert_eq!(activity.batches.len(), 12);
}

#[test]
fn order_queries_and_cancel_alls_have_their_documented_limits() {
    let venue = start(limited());
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let mut rest = Rest::connect(&venue);
    let info = format!("/api/v2/spot/trade/orderInfo?orderId={}", order.order_id);
    for _ in 0..20 {
        assert_eq!(rest.get(&info).code(), "00000");
    }
    assert_eq!(rest.get(&info).status, 429);
    for _ in 0..5 {
        let reply = rest.post(
            "/api/v2/spot/trade/cancel-symbol-order",
            &json!({"symbol": "ETHUSDT"}),
        );
        assert_eq!(reply.code(), "00000");
    }
    let over = rest.post(
        "/api/v2/spot/trade/cancel-symbol-order",
        &json!({"symbol": "ETHUSDT"}),
    );
    assert_eq!(over.status, 429);
    let limited = venue.activity().rate_limited;
    assert_eq!(limited.get(&Endpoint::SpotOrderInfo), Some(&1));
    assert_eq!(limited.get(&Endpoint::SpotCancelSymbol), Some(&1));
}

#[test]
fn without_limits_a_burst_beyond_the_live_limits_is_served() {
    let venue = start(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 30);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    for (n, order) in orders.iter().enumerate() {
        send(
            &mut ws,
            &cancel_request(&n.to_string(), "SPOT", json!({"orderId": order.order_id})),
        );
    }
    for _ in &orders {
        assert_eq!(next_json(&mut ws)["code"], 0);
    }
    assert_eq!(venue.activity().rate_limited_total(), 0);
}

#[test]
fn the_rest_cancel_reply_names_the_orders_own_client_oid() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut rest = Rest::connect(&venue);
    let by_id = rest.post(
        SPOT_CANCEL,
        &json!({"symbol": "BTCUSDT", "orderId": orders[0].order_id}),
    );
    assert_eq!(
        by_id.json["data"],
        json!({"orderId": orders[0].order_id, "clientOid": orders[0].client_oid})
    );
    let by_oid = rest.post(
        SPOT_CANCEL,
        &json!({"symbol": "BTCUSDT", "clientOid": orders[1].client_oid}),
    );
    assert_eq!(by_oid.json["data"]["orderId"], orders[1].order_id.as_str());
}
