//! The simulated venue's unified account (V3) beside V2: the V3 WebSocket (login, cancel,
//! batch-cancel, the order topic, the upgrade notice), V3 REST, account modes per key (40084,
//! 40085, switched mid-run) and the countdown that cancels the book, over real TLS.

#[path = "support/sim_client.rs"]
mod common;
#[path = "support/sim_rest.rs"]
mod sim_rest;

use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::sim::{
    AccountMode, Endpoint, Injection, OrderStatus, RestFailWith, RestFailure, RestFaults,
    SimConfig, SimLimits, SimVenue,
};
use common::*;
use serde_json::{Value, json};
use sim_rest::Rest;

fn unified() -> SimConfig {
    SimConfig {
        account_mode: AccountMode::Unified,
        ..SimConfig::default()
    }
}

fn connect_v3(venue: &SimVenue) -> Client {
    let url = venue.v3_url();
    match tungstenite::client::client_with_config(url.as_str(), tls_to(venue), None) {
        Ok((ws, response)) => {
            assert_eq!(response.status(), 101);
            ws
        }
        Err(e) => panic!("V3 handshake failed: {e}"),
    }
}

fn v3_logged_in(venue: &SimVenue) -> Client {
    let mut ws = connect_v3(venue);
    login(venue, &mut ws);
    ws
}

fn v3_cancel(id: &str, category: Option<&str>, args: Value) -> String {
    let mut request = json!({"op": "trade", "id": id, "topic": "cancel-order", "args": args});
    if let Some(category) = category {
        request["category"] = category.into();
    }
    request.to_string()
}

#[test]
fn the_v3_url_is_served_beside_v2_on_the_same_port() {
    let venue = start(SimConfig::default());
    assert_eq!(
        venue.v3_url(),
        format!("wss://localhost:{}/v3/ws/private", venue.addr().port())
    );
    let mut ws = connect_v3(&venue);
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
}

#[test]
fn a_v3_cancel_is_acked_with_string_code_and_ts_and_an_unknown_order_gets_25204() {
    let venue = start(unified());
    let order = spot_order(&venue);
    let mut ws = v3_logged_in(&venue);
    send(
        &mut ws,
        &v3_cancel("c1", Some("spot"), json!([{"orderId": order.order_id}])),
    );
    let ack = next_json(&mut ws);
    assert_eq!(ack["event"], "trade");
    assert_eq!(ack["id"], "c1");
    assert_eq!(ack["topic"], "cancel-order");
    assert_eq!(ack["code"], "0", "a string: {ack}");
    assert_eq!(ack["msg"], "Success");
    assert!(
        ack["ts"].as_str().is_some_and(|t| t.parse::<u64>().is_ok()),
        "{ack}"
    );
    assert_eq!(
        ack["args"],
        json!([{"orderId": order.order_id, "clientOid": order.client_oid}])
    );
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));

    send(
        &mut ws,
        &v3_cancel("c2", None, json!([{"clientOid": order.client_oid}])),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "id": "c2", "code": "25204", "msg": "Order does not exist"})
    );
}

#[test]
fn an_uppercase_category_is_refused_with_41101() {
    let venue = start(unified());
    let order = spot_order(&venue);
    let mut ws = v3_logged_in(&venue);
    send(
        &mut ws,
        &v3_cancel("u", Some("SPOT"), json!([{"orderId": order.order_id}])),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "id": "u", "code": "41101", "msg": "Param category=SPOT error"})
    );
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
}

#[test]
fn a_v3_batch_cancel_has_a_code_per_entry_under_a_top_level_success() {
    let venue = start(unified());
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 2);
    let mut ws = v3_logged_in(&venue);
    let args = json!([
        {"orderId": orders[0].order_id},
        {"orderId": "1"},
        {"orderId": orders[1].order_id}
    ]);
    send(
        &mut ws,
        &json!({"op": "trade", "id": "b1", "category": "usdt-futures", "topic": "batch-cancel", "args": args})
            .to_string(),
    );
    let reply = next_json(&mut ws);
    assert_eq!(
        (reply["event"].as_str(), reply["code"].as_str()),
        (Some("trade"), Some("0"))
    );
    let codes: Vec<&str> = reply["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["0", "25204", "0"]);
    assert_eq!(reply["args"][1]["orderId"], "1");
    assert_eq!(venue.resting_orders(), 0);

    let mixed = json!([{"orderId": "1"}, {"clientOid": "x"}]);
    send(
        &mut ws,
        &json!({"op": "trade", "id": "b2", "topic": "batch-cancel", "args": mixed}).to_string(),
    );
    assert_eq!(next_json(&mut ws)["code"], "40020");
    let batches = venue.activity().batches;
    assert_eq!(
        (batches.len(), batches[0].size, batches[0].cancelled),
        (1, 3, 2)
    );
}

#[test]
fn the_v3_order_topic_pushes_fills_and_cancels() {
    let venue = start(unified());
    let order = venue
        .seed_orders(InstType::UsdtFutures, "BTCUSDT", 1)
        .remove(0);
    let mut ws = v3_logged_in(&venue);
    let arg = json!({"instType": "UTA", "topic": "order"});
    send(
        &mut ws,
        &json!({"op": "subscribe", "args": [arg]}).to_string(),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "subscribe", "arg": arg})
    );

    venue
        .fill(
            InstType::UsdtFutures,
            "BTCUSDT",
            &order.order_id,
            Some("0.5"),
        )
        .unwrap();
    let push = next_json(&mut ws);
    assert_eq!(push["action"], "snapshot");
    assert_eq!(push["arg"], arg);
    let entry = &push["data"][0];
    assert_eq!(entry["category"], "usdt-futures");
    assert_eq!(entry["symbol"], "BTCUSDT");
    assert_eq!(entry["orderId"], order.order_id.as_str());
    assert_eq!(entry["qty"], "1");
    assert_eq!(entry["cumExecQty"], "0.5");
    assert_eq!(entry["avgPrice"], "100");
    assert_eq!(entry["orderStatus"], "partially_filled");
    assert!(entry["updatedTime"].as_str().is_some());

    send(
        &mut ws,
        &v3_cancel("c", None, json!([{"orderId": order.order_id}])),
    );
    assert_eq!(next_json(&mut ws)["code"], "0");
    let push = next_json(&mut ws);
    assert_eq!(push["data"][0]["orderStatus"], "cancelled");
    assert_eq!(push["data"][0]["cancelReason"], "normal_cancel");
}

#[test]
fn a_classic_key_gets_40084_on_v3_and_a_unified_key_40085_on_v2() {
    let classic = start(SimConfig::default());
    let order = spot_order(&classic);
    let mut ws = v3_logged_in(&classic);
    send(
        &mut ws,
        &v3_cancel("k", None, json!([{"orderId": order.order_id}])),
    );
    let refused = next_json(&mut ws);
    assert_eq!(
        (refused["id"].as_str(), refused["code"].as_str()),
        (Some("k"), Some("40084"))
    );
    let mut rest = Rest::connect(&classic);
    let settings = rest.get("/api/v3/account/settings");
    assert_eq!((settings.status, settings.code()), (400, "40084"));
    assert!(classic.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));

    let unified_venue = start(unified());
    let order = spot_order(&unified_venue);
    let mut rest = Rest::connect(&unified_venue);
    let settings = rest.get("/api/v3/account/settings");
    assert_eq!((settings.status, settings.code()), (200, "00000"));
    let v2 = rest.post(
        "/api/v2/spot/trade/cancel-order",
        &json!({"symbol": "BTCUSDT", "orderId": order.order_id}),
    );
    assert_eq!((v2.status, v2.code()), (400, "40085"));
    let mut ws = connect(&unified_venue);
    login(&unified_venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("v2", "SPOT", json!({"orderId": order.order_id})),
    );
    let refused = next_json(&mut ws);
    assert_eq!(refused["code"], 40085);
    assert_eq!(refused["arg"][0]["id"], "v2", "refused per request");
    assert!(unified_venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    assert_eq!(unified_venue.activity().mode_refusals, 2);
}

#[test]
fn switching_the_account_to_unified_mid_run_refuses_the_next_v2_cancel_with_40085() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": orders[0].order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);
    assert!(venue.set_account_mode("sim-key", AccountMode::Unified));
    assert_eq!(venue.account_mode("sim-key"), Some(AccountMode::Unified));
    assert!(!venue.set_account_mode("nobody", AccountMode::Unified));
    send(
        &mut ws,
        &cancel_request("2", "SPOT", json!({"orderId": orders[1].order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 40085);
    let mut v3 = v3_logged_in(&venue);
    send(
        &mut v3,
        &v3_cancel("3", Some("spot"), json!([{"orderId": orders[1].order_id}])),
    );
    assert_eq!(next_json(&mut v3)["code"], "0");
}

#[test]
fn v2_websocket_trading_serves_a_unified_key_when_configured_to() {
    let venue = start(SimConfig {
        serve_unified_on_v2_websocket: true,
        ..unified()
    });
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": order.order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);
}

#[test]
fn v3_rest_cancels_one_a_batch_and_a_category_with_uppercase_categories() {
    let venue = start(unified());
    let spot = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 2);
    venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 1);
    let mut rest = Rest::connect(&venue);
    let one = rest.post(
        "/api/v3/trade/cancel-order",
        &json!({"orderId": spot[0].order_id}),
    );
    assert_eq!(
        one.json["data"]["clientOid"],
        spot[0].client_oid.as_deref().unwrap()
    );
    let again = rest.post(
        "/api/v3/trade/cancel-order",
        &json!({"orderId": spot[0].order_id}),
    );
    assert_eq!((again.status, again.code()), (400, "25204"));

    let batch = json!([
        {"orderId": spot[1].order_id, "category": "SPOT", "symbol": "BTCUSDT"},
        {"orderId": "9", "category": "SPOT", "symbol": "BTCUSDT"},
        {"orderId": spot[2].order_id, "category": "SPOT", "symbol": "BTCUSDT"}
    ]);
    let reply = rest.post("/api/v3/trade/cancel-batch", &batch);
    let codes: Vec<&str> = reply.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["0", "25204", "0"]);

    let lowercase = rest.post(
        "/api/v3/trade/cancel-symbol-order",
        &json!({"category": "usdt-futures"}),
    );
    assert_eq!(lowercase.code(), "40020");
    let symbol = rest.post(
        "/api/v3/trade/cancel-symbol-order",
        &json!({"category": "USDT-FUTURES", "symbol": "BTCUSDT"}),
    );
    let cancelled = symbol.json["data"]["list"].as_array().unwrap();
    assert_eq!(cancelled.len(), 2);
    assert!(cancelled.iter().all(|e| e["code"] == "0"));
    assert_eq!(venue.resting_orders(), 1, "ETHUSDT stays");
}

#[test]
fn the_v3_order_query_reports_the_order_topics_fields() {
    let venue = start(unified());
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    venue
        .fill(InstType::Spot, "BTCUSDT", &order.order_id, None)
        .unwrap();
    let mut rest = Rest::connect(&venue);
    let info = rest.get(&format!(
        "/api/v3/trade/order-info?orderId={}",
        order.order_id
    ));
    assert_eq!(info.code(), "00000", "{}", info.body);
    let data = &info.json["data"];
    assert_eq!(
        (
            data["orderStatus"].as_str(),
            data["cumExecQty"].as_str(),
            data["category"].as_str()
        ),
        (Some("filled"), Some("1"), Some("spot"))
    );
    let unknown = rest.get("/api/v3/trade/order-info?clientOid=none");
    assert_eq!((unknown.status, unknown.code()), (400, "25204"));
    assert_eq!(venue.activity().order_queries_on(Endpoint::V3OrderInfo), 2);
}

#[test]
fn the_countdown_cancels_every_resting_order_of_the_account_when_it_runs_out_then_turns_off() {
    let venue = start(unified());
    venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    venue.seed_orders(InstType::UsdcFutures, "BTCPERP", 1);
    let other_account = venue
        .seed_orders_for(2, InstType::Spot, "BTCUSDT", 1)
        .remove(0);
    let mut rest = Rest::connect(&venue);
    let armed = rest.post(
        "/api/v3/trade/countdown-cancel-all",
        &json!({"countdown": "5"}),
    );
    assert_eq!(armed.code(), "00000", "{}", armed.body);
    let left = venue.countdown_left(1).expect("armed");
    assert!(
        left <= Duration::from_secs(5) && left > Duration::ZERO,
        "{left:?}"
    );
    let activity = venue
        .wait_for_activity(Duration::from_secs(30), |a| !a.cancel_alls.is_empty())
        .expect("the countdown runs out");
    let fired = &activity.cancel_alls[0];
    assert_eq!(
        (fired.endpoint, fired.cancelled, fired.uid),
        (Endpoint::V3Countdown, 3, 1)
    );
    assert_eq!(venue.resting_orders(), 1);
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &other_account.order_id));
    assert_eq!(venue.countdown_left(1), None, "it turned itself off");
    assert!(
        venue
            .orders()
            .iter()
            .filter(|o| o.uid == 1)
            .all(|o| o.status == OrderStatus::Cancelled)
    );
}

#[test]
fn re_arming_postpones_the_countdown_and_zero_turns_it_off() {
    let venue = start(unified());
    venue.seed_orders(InstType::Spot, "BTCUSDT", 1);
    let mut rest = Rest::connect(&venue);
    let started = Instant::now();
    assert_eq!(
        rest.post(
            "/api/v3/trade/countdown-cancel-all",
            &json!({"countdown": "5"})
        )
        .code(),
        "00000"
    );
    assert_eq!(
        rest.post(
            "/api/v3/trade/countdown-cancel-all",
            &json!({"countdown": "60"})
        )
        .code(),
        "00000"
    );
    let left = venue.countdown_left(1).expect("armed");
    assert!(left > Duration::from_secs(50), "re-armed to 60 s: {left:?}");
    assert_eq!(
        rest.post(
            "/api/v3/trade/countdown-cancel-all",
            &json!({"countdown": "0"})
        )
        .code(),
        "00000"
    );
    assert_eq!(venue.countdown_left(1), None);
    for bad in ["4", "61", "ten", ""] {
        let reply = rest.post(
            "/api/v3/trade/countdown-cancel-all",
            &json!({"countdown": bad}),
        );
        assert_eq!(reply.code(), "40020", "{bad:?}");
    }
    // Past the first arming's 5 s: nothing was cancelled.
    let seconds: Vec<u64> = venue
        .activity()
        .countdown_arms
        .iter()
        .map(|a| a.seconds)
        .collect();
    assert_eq!(seconds, [5, 60, 0]);
    std::thread::sleep(Duration::from_secs(6).saturating_sub(started.elapsed()));
    assert_eq!(venue.resting_orders(), 1);
    assert!(venue.activity().cancel_alls.is_empty());
}

#[test]
fn v3_batches_and_cancel_alls_take_five_a_second_each_and_refuse_a_classic_key() {
    let venue = start(SimConfig {
        limits: Some(SimLimits::default()),
        ..unified()
    });
    let mut rest = Rest::connect(&venue);
    let batch = json!([{"orderId": "9", "category": "SPOT", "symbol": "BTCUSDT"}]);
    let all = json!({"category": "USDT-FUTURES"});
    for _ in 0..5 {
        assert_eq!(
            rest.post("/api/v3/trade/cancel-batch", &batch).code(),
            "00000"
        );
        let reply = rest.post("/api/v3/trade/cancel-symbol-order", &all);
        assert_eq!(reply.code(), "00000");
    }
    let over = rest.post("/api/v3/trade/cancel-batch", &batch);
    assert_eq!((over.status, over.code()), (429, "429"));
    let over = rest.post("/api/v3/trade/cancel-symbol-order", &all);
    assert_eq!((over.status, over.code()), (429, "429"));
    let limited = venue.activity().rate_limited;
    assert_eq!(limited.get(&Endpoint::V3CancelBatch), Some(&1));
    assert_eq!(limited.get(&Endpoint::V3CancelSymbol), Some(&1));

    // Faulted like V2's: the next one of each fails as configured, then they serve again.
    let venue = start(unified());
    venue.set_rest_faults(RestFaults {
        fail_batches: Some(RestFailure {
            times: 1,
            with: RestFailWith::ServerError(502),
        }),
        fail_cancel_alls: Some(RestFailure {
            times: 1,
            with: RestFailWith::RateLimited,
        }),
        ..RestFaults::default()
    });
    let mut rest = Rest::connect(&venue);
    assert_eq!(rest.post("/api/v3/trade/cancel-batch", &batch).status, 502);
    assert_eq!(rest.post("/api/v3/trade/cancel-batch", &batch).status, 200);
    let refused = rest.post("/api/v3/trade/cancel-symbol-order", &all);
    assert_eq!((refused.status, refused.code()), (429, "429"));
    assert_eq!(
        rest.post("/api/v3/trade/cancel-symbol-order", &all).code(),
        "00000"
    );

    // A classic key: 40084 on both, and nothing is cancelled.
    let classic = start(SimConfig::default());
    let order = spot_order(&classic);
    let mut rest = Rest::connect(&classic);
    let batch = json!([{"orderId": order.order_id, "category": "SPOT", "symbol": "BTCUSDT"}]);
    let refused = rest.post("/api/v3/trade/cancel-batch", &batch);
    assert_eq!((refused.status, refused.code()), (400, "40084"));
    let refused = rest.post(
        "/api/v3/trade/cancel-symbol-order",
        &json!({"category": "SPOT", "symbol": "BTCUSDT"}),
    );
    assert_eq!((refused.status, refused.code()), (400, "40084"));
    assert!(classic.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    assert_eq!(classic.activity().mode_refusals, 2);
}

#[test]
fn the_countdown_takes_one_request_per_second_when_limits_are_on() {
    let venue = start(SimConfig {
        limits: Some(SimLimits::default()),
        ..unified()
    });
    let mut rest = Rest::connect(&venue);
    assert_eq!(
        rest.post(
            "/api/v3/trade/countdown-cancel-all",
            &json!({"countdown": "10"})
        )
        .code(),
        "00000"
    );
    let over = rest.post(
        "/api/v3/trade/countdown-cancel-all",
        &json!({"countdown": "10"}),
    );
    assert_eq!((over.status, over.code()), (429, "429"));
    assert_eq!(
        venue.activity().rate_limited.get(&Endpoint::V3Countdown),
        Some(&1)
    );
    assert_eq!(venue.activity().countdown_arms.len(), 1);
}

#[test]
fn v3_websocket_cancels_share_the_v3_cancel_limit_and_get_429() {
    let venue = start(SimConfig {
        limits: Some(SimLimits {
            v3_cancel_order: 1,
            ..SimLimits::default()
        }),
        ..unified()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut ws = v3_logged_in(&venue);
    send(
        &mut ws,
        &v3_cancel("1", None, json!([{"orderId": orders[0].order_id}])),
    );
    assert_eq!(next_json(&mut ws)["code"], "0");
    let mut rest = Rest::connect(&venue);
    let over = rest.post(
        "/api/v3/trade/cancel-order",
        &json!({"orderId": orders[1].order_id}),
    );
    assert_eq!(over.status, 429);
    send(
        &mut ws,
        &v3_cancel("2", None, json!([{"orderId": orders[1].order_id}])),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "id": "2", "code": "429", "msg": "Too Many Requests"})
    );
}

#[test]
fn a_service_upgrade_notice_can_be_injected_on_v3() {
    let venue = start(unified());
    let mut ws = v3_logged_in(&venue);
    assert_eq!(venue.inject(Injection::service_upgrade()), 1);
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "code": "30033", "msg": "service upgrade"})
    );
    send(&mut ws, "ping");
    assert_eq!(
        next_text(&mut ws),
        "pong",
        "the connection stays until the venue closes it"
    );
}

#[test]
fn a_v3_trade_before_login_gets_30004_with_its_id() {
    let venue = start(unified());
    let mut ws = connect_v3(&venue);
    send(
        &mut ws,
        &v3_cancel("early", None, json!([{"orderId": "1"}])),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "id": "early", "code": "30004", "msg": "User needs to log in"})
    );
}
