//! The simulated venue's orders: fills by a scripted taker, the V2 private `orders` channel
//! (subscribe, acks, pushes on every subscribed connection of the account), its faults, and
//! the REST order queries, all over real TLS.

#[path = "support/sim_client.rs"]
mod common;
#[path = "support/sim_rest.rs"]
mod sim_rest;

use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::sim::{
    FillBeforeCancel, Injection, MAIN_UID, OrderStatus, PushLoss, RestFailWith, RestFailure,
    RestFaults, RestingOrder, SimConfig, SimKey, SimVenue, SubscribeFault,
};
use common::*;
use serde_json::{Value, json};
use sim_rest::{Rest, RestKey};

fn orders_arg(inst_type: &str) -> Value {
    json!({"instType": inst_type, "channel": "orders", "instId": "default"})
}

fn logged_in(venue: &SimVenue) -> Client {
    let mut ws = connect(venue);
    login(venue, &mut ws);
    ws
}

/// Subscribes to the `orders` channel for these product lines and checks each ack.
fn subscribe(ws: &mut Client, inst_types: &[&str]) {
    let args: Vec<Value> = inst_types.iter().map(|t| orders_arg(t)).collect();
    send(ws, &json!({"op": "subscribe", "args": args}).to_string());
    for arg in args {
        assert_eq!(next_json(ws), json!({"event": "subscribe", "arg": arg}));
    }
}

/// Two `ping`s answered back to back: nothing (no push) was waiting for this connection.
fn expect_nothing_pushed(ws: &mut Client) {
    for _ in 0..2 {
        send(ws, "ping");
        assert_eq!(next_text(ws), "pong");
    }
}

fn cancel(ws: &mut Client, id: &str, inst_type: &str, order_id: &str) -> Value {
    send(
        ws,
        &cancel_request(id, inst_type, json!({"orderId": order_id})),
    );
    next_json(ws)
}

fn push_entry(push: &Value) -> &Value {
    assert_eq!(push["action"], "snapshot", "{push}");
    assert!(push["ts"].as_u64().is_some(), "{push}");
    let data = push["data"].as_array().expect("data is a list");
    assert_eq!(data.len(), 1, "{push}");
    &data[0]
}

fn futures_order(venue: &SimVenue, size: &str) -> RestingOrder {
    let order = RestingOrder {
        inst_type: InstType::UsdtFutures,
        inst_id: "BTCUSDT".into(),
        order_id: "1286956078633488402".into(),
        client_oid: Some("1286956078637682690".into()),
    };
    venue
        .add_order_with(order.clone(), MAIN_UID, size, "83131.5")
        .expect("a valid order");
    order
}

#[test]
fn a_subscription_before_login_gets_30004_and_the_connection_stays_open() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    send(
        &mut ws,
        &json!({"op": "subscribe", "args": [orders_arg("SPOT")]}).to_string(),
    );
    assert_eq!(
        next_json(&mut ws),
        json!({"event": "error", "code": 30004, "msg": "User needs to log in"})
    );
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
}

#[test]
fn each_orders_arg_is_acknowledged_and_an_unknown_channel_gets_30001() {
    let venue = start(SimConfig::default());
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT", "USDT-FUTURES"]);
    let fills = json!({"instType": "SPOT", "channel": "fills", "instId": "default"});
    send(
        &mut ws,
        &json!({"op": "subscribe", "args": [fills]}).to_string(),
    );
    let refused = next_json(&mut ws);
    assert_eq!(refused["event"], "error");
    assert_eq!(refused["code"], 30001);
    assert_eq!(refused["arg"], fills);
    let activity = venue.activity();
    let refused: Vec<Option<u32>> = activity.subscriptions.iter().map(|s| s.refused).collect();
    assert_eq!(refused, [None, None, Some(30001)]);
}

#[test]
fn no_push_comes_on_subscribe_and_a_cancel_is_pushed_after_its_ack() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    expect_nothing_pushed(&mut ws);

    let ack = cancel(&mut ws, "1", "SPOT", &order.order_id);
    assert_eq!(ack["event"], "trade", "the ack comes first: {ack}");
    let push = next_json(&mut ws);
    assert_eq!(push["arg"], orders_arg("SPOT"));
    let entry = push_entry(&push);
    assert_eq!(entry["orderId"], order.order_id.as_str());
    assert_eq!(entry["clientOid"], order.client_oid.as_deref().unwrap());
    assert_eq!(entry["instId"], "BTCUSDT");
    assert_eq!(
        entry["status"], "cancelled",
        "spot spells it with two l: {entry}"
    );
    assert_eq!(entry["accBaseVolume"], "0");
    assert_eq!(entry["size"], "1");
    assert_eq!(entry["cancelReason"], "normal_cancel");
    let (c_time, u_time): (u64, u64) = (
        entry["cTime"].as_str().unwrap().parse().unwrap(),
        entry["uTime"].as_str().unwrap().parse().unwrap(),
    );
    assert!(c_time <= u_time, "{entry}");
    assert_eq!(venue.activity().pushes_sent, 1);
}

#[test]
fn every_subscribed_connection_of_the_account_gets_the_push_and_no_other_does() {
    let other_key = SimKey {
        api_key: "other-key".into(),
        secret: "other-secret".into(),
        passphrase: "other-pass".into(),
        uid: 2,
        mode: Default::default(),
    };
    let venue = start(SimConfig {
        extra_keys: vec![other_key.clone()],
        ..SimConfig::default()
    });
    let order = spot_order(&venue);
    let (mut first, mut second, mut unsubscribed) =
        (logged_in(&venue), logged_in(&venue), logged_in(&venue));
    subscribe(&mut first, &["SPOT"]);
    subscribe(&mut second, &["SPOT"]);
    let mut futures_only = logged_in(&venue);
    subscribe(&mut futures_only, &["USDT-FUTURES"]);
    let mut other_account = connect(&venue);
    let ts = now_s().to_string();
    send(
        &mut other_account,
        &login_request("other-key", "other-pass", &ts, &sign("other-secret", &ts)),
    );
    assert_login_ok(&next_text(&mut other_account));
    subscribe(&mut other_account, &["SPOT"]);

    let ack = cancel(&mut unsubscribed, "1", "SPOT", &order.order_id);
    assert_eq!(ack["code"], 0);
    for ws in [&mut first, &mut second] {
        let push = next_json(ws);
        assert_eq!(push_entry(&push)["orderId"], order.order_id.as_str());
    }
    for ws in [&mut unsubscribed, &mut futures_only, &mut other_account] {
        expect_nothing_pushed(ws);
    }
    let activity = venue.activity();
    assert_eq!((activity.pushes_sent, activity.pushes_lost), (2, 0));
}

#[test]
fn fills_are_pushed_with_the_filled_size_and_average_price_and_a_filled_order_cannot_be_cancelled()
{
    let venue = start(SimConfig::default());
    let order = futures_order(&venue, "0.2");
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["USDT-FUTURES"]);

    let partial = venue
        .fill(
            InstType::UsdtFutures,
            "BTCUSDT",
            &order.order_id,
            Some("0.05"),
        )
        .unwrap();
    assert_eq!(partial.status, OrderStatus::PartiallyFilled);
    let push = next_json(&mut ws);
    let entry = push_entry(&push);
    assert_eq!(entry["status"], "partially_filled");
    assert_eq!(entry["accBaseVolume"], "0.05");
    assert_eq!(entry["priceAvg"], "83131.5");

    venue
        .fill_at(
            InstType::UsdtFutures,
            "BTCUSDT",
            &order.order_id,
            None,
            Some("83131.6"),
        )
        .unwrap();
    let push = next_json(&mut ws);
    let entry = push_entry(&push);
    assert_eq!(entry["status"], "filled");
    assert_eq!(entry["accBaseVolume"], "0.2");
    assert_eq!(entry["priceAvg"], "83131.575", "weighted by size: {entry}");
    assert_eq!(entry["cancelReason"], "");

    let refused = cancel(&mut ws, "2", "USDT-FUTURES", &order.order_id);
    assert_eq!(
        refused["code"], 41101,
        "a filled order does not exist: {refused}"
    );
    expect_nothing_pushed(&mut ws);
    assert!(
        venue
            .fill(InstType::UsdtFutures, "BTCUSDT", &order.order_id, None)
            .is_err()
    );
    assert_eq!(venue.activity().fills, 2);
}

#[test]
fn futures_spell_canceled_and_leave_out_the_average_price_when_nothing_filled() {
    let venue = start(SimConfig::default());
    let order = futures_order(&venue, "0.2");
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["USDT-FUTURES"]);
    assert_eq!(
        cancel(&mut ws, "1", "USDT-FUTURES", &order.order_id)["code"],
        0
    );
    let push = next_json(&mut ws);
    let entry = push_entry(&push);
    assert_eq!(entry["status"], "canceled");
    assert!(entry.get("priceAvg").is_none(), "{entry}");
    assert_eq!(
        venue
            .order(InstType::UsdtFutures, "BTCUSDT", &order.order_id)
            .unwrap()
            .status,
        OrderStatus::Cancelled
    );
}

#[test]
fn a_partial_fill_then_a_cancel_leaves_a_cancelled_order_with_its_filled_size() {
    let venue = start(SimConfig::default());
    let order = futures_order(&venue, "0.2");
    let mut ws = logged_in(&venue);
    venue
        .fill(
            InstType::UsdtFutures,
            "BTCUSDT",
            &order.order_id,
            Some("0.1"),
        )
        .unwrap();
    subscribe(&mut ws, &["USDT-FUTURES"]);
    assert_eq!(
        cancel(&mut ws, "1", "USDT-FUTURES", &order.order_id)["code"],
        0
    );
    let push = next_json(&mut ws);
    let entry = push_entry(&push);
    assert_eq!(
        (entry["status"].as_str(), entry["accBaseVolume"].as_str()),
        (Some("canceled"), Some("0.1"))
    );
    assert_eq!(entry["priceAvg"], "83131.5");
}

#[test]
fn the_push_comes_before_the_ack_when_the_fault_says_so() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    venue.set_faults(bitget_cancel::sim::Faults {
        push_before_reply: true,
        ..Default::default()
    });
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": order.order_id})),
    );
    let first = next_json(&mut ws);
    assert_eq!(push_entry(&first)["status"], "cancelled");
    let ack = next_json(&mut ws);
    assert_eq!(
        (ack["event"].as_str(), ack["code"].as_i64()),
        (Some("trade"), Some(0))
    );
}

#[test]
fn the_nth_push_is_lost_and_counted_and_later_ones_arrive() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    venue.set_faults(bitget_cancel::sim::Faults {
        lose_pushes: PushLoss::Nth(1),
        ..Default::default()
    });
    assert_eq!(cancel(&mut ws, "1", "SPOT", &orders[0].order_id)["code"], 0);
    assert_eq!(cancel(&mut ws, "2", "SPOT", &orders[1].order_id)["code"], 0);
    let push = next_json(&mut ws);
    assert_eq!(
        push_entry(&push)["orderId"],
        orders[1].order_id.as_str(),
        "the first push was lost"
    );
    let activity = venue.activity();
    assert_eq!((activity.pushes_sent, activity.pushes_lost), (1, 1));
}

#[test]
fn with_every_push_lost_the_subscription_is_acknowledged_and_nothing_is_pushed() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    venue.set_faults(bitget_cancel::sim::Faults {
        lose_pushes: PushLoss::All,
        ..Default::default()
    });
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    assert_eq!(cancel(&mut ws, "1", "SPOT", &order.order_id)["code"], 0);
    expect_nothing_pushed(&mut ws);
    assert_eq!(venue.activity().pushes_lost, 1);
}

#[test]
fn delayed_pushes_arrive_after_the_ack_and_no_sooner_than_the_delay() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    let delay = Duration::from_millis(300);
    venue.set_faults(bitget_cancel::sim::Faults {
        push_delay: delay,
        ..Default::default()
    });
    let sent = Instant::now();
    assert_eq!(cancel(&mut ws, "1", "SPOT", &order.order_id)["code"], 0);
    send(&mut ws, "ping");
    assert_eq!(
        next_text(&mut ws),
        "pong",
        "replies are not held by the push delay"
    );
    let push = next_json(&mut ws);
    assert!(sent.elapsed() >= delay, "{:?}", sent.elapsed());
    assert_eq!(push_entry(&push)["status"], "cancelled");
}

#[test]
fn a_refused_subscription_gets_its_code_and_no_push_follows() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    venue.set_faults(bitget_cancel::sim::Faults {
        subscribe: SubscribeFault::Refuse {
            code: 30016,
            msg: "Param error".into(),
        },
        ..Default::default()
    });
    let mut ws = logged_in(&venue);
    send(
        &mut ws,
        &json!({"op": "subscribe", "args": [orders_arg("SPOT")]}).to_string(),
    );
    let refused = next_json(&mut ws);
    assert_eq!(
        refused,
        json!({"event": "error", "arg": orders_arg("SPOT"), "code": 30016, "msg": "Param error", "op": "subscribe"})
    );
    assert_eq!(cancel(&mut ws, "1", "SPOT", &order.order_id)["code"], 0);
    expect_nothing_pushed(&mut ws);
}

#[test]
fn an_ignored_subscription_gets_no_answer() {
    let venue = start(SimConfig::default());
    venue.set_faults(bitget_cancel::sim::Faults {
        subscribe: SubscribeFault::Ignore,
        ..Default::default()
    });
    let mut ws = logged_in(&venue);
    send(
        &mut ws,
        &json!({"op": "subscribe", "args": [orders_arg("SPOT")]}).to_string(),
    );
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    assert_eq!(venue.activity().subscriptions.len(), 1);
}

#[test]
fn an_order_filled_just_before_the_cancel_gets_43001_and_a_filled_push() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    venue.set_faults(bitget_cancel::sim::Faults {
        fill_before_cancel: Some(FillBeforeCancel { nth: 1, size: None }),
        ..Default::default()
    });
    let refused = cancel(&mut ws, "1", "SPOT", &order.order_id);
    assert_eq!(refused["code"], 43001, "{refused}");
    let push = next_json(&mut ws);
    let entry = push_entry(&push);
    assert_eq!(
        (entry["status"].as_str(), entry["accBaseVolume"].as_str()),
        (Some("filled"), Some("1"))
    );
    let state = venue
        .order(InstType::Spot, "BTCUSDT", &order.order_id)
        .unwrap();
    assert_eq!(
        (state.status, state.filled.as_str()),
        (OrderStatus::Filled, "1")
    );
}

#[test]
fn a_partial_fill_just_before_the_cancel_is_pushed_then_the_cancel() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    venue.set_faults(bitget_cancel::sim::Faults {
        fill_before_cancel: Some(FillBeforeCancel {
            nth: 1,
            size: Some("0.4".into()),
        }),
        ..Default::default()
    });
    assert_eq!(cancel(&mut ws, "1", "SPOT", &order.order_id)["code"], 0);
    let statuses: Vec<(String, String)> = (0..2)
        .map(|_| {
            let push = next_json(&mut ws);
            let entry = push_entry(&push);
            (
                entry["status"].as_str().unwrap().to_owned(),
                entry["accBaseVolume"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("partially_filled".to_owned(), "0.4".to_owned()),
            ("cancelled".to_owned(), "0.4".to_owned())
        ]
    );
}

#[test]
fn a_fill_while_the_cancel_is_in_flight_makes_the_cancel_find_a_filled_order() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    assert!(venue.inject_on(1, Injection::StallReads(Duration::from_secs(30))));
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": order.order_id})),
    );
    venue
        .fill(InstType::Spot, "BTCUSDT", &order.order_id, None)
        .unwrap();
    assert!(venue.inject_on(1, Injection::ResumeReads));
    // The fill's push was posted while the venue was not reading; the cancel comes after.
    let push = next_json(&mut ws);
    assert_eq!(push_entry(&push)["status"], "filled");
    assert_eq!(next_json(&mut ws)["code"], 43001);
}

#[test]
fn subscribe_messages_count_toward_the_message_limit() {
    let venue = start(SimConfig {
        max_messages_per_second: 3,
        ..SimConfig::default()
    });
    let mut ws = logged_in(&venue);
    subscribe(&mut ws, &["SPOT"]);
    subscribe(&mut ws, &["USDT-FUTURES"]);
    send(
        &mut ws,
        &json!({"op": "subscribe", "args": [orders_arg("COIN-FUTURES")]}).to_string(),
    );
    assert_eq!(next_json(&mut ws)["code"], 30007);
    assert_eq!(expect_close(&mut ws), 1000);
}

fn order_info(rest: &mut Rest, query: &str) -> sim_rest::RestReply {
    rest.get(&format!("/api/v2/spot/trade/orderInfo?{query}"))
}

#[test]
fn the_spot_order_query_reports_status_filled_size_and_average_price() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut rest = Rest::connect(&venue);
    let live = order_info(&mut rest, &format!("orderId={}", order.order_id));
    assert_eq!((live.status, live.code()), (200, "00000"), "{}", live.body);
    let data = &live.json["data"];
    assert_eq!(data.as_array().map(Vec::len), Some(1), "a list of one");
    assert_eq!(data[0]["status"], "live");
    assert_eq!(data[0]["baseVolume"], "0");

    venue
        .fill(InstType::Spot, "BTCUSDT", &order.order_id, Some("0.25"))
        .unwrap();
    let mut ws = logged_in(&venue);
    assert_eq!(cancel(&mut ws, "1", "SPOT", &order.order_id)["code"], 0);
    let oid = order.client_oid.unwrap();
    let done = order_info(&mut rest, &format!("clientOid={oid}"));
    let data = &done.json["data"][0];
    assert_eq!(data["orderId"], order.order_id.as_str());
    assert_eq!(data["status"], "cancelled");
    assert_eq!(data["baseVolume"], "0.25");
    assert_eq!(data["priceAvg"], "100");
    assert_eq!(data["cancelReason"], "normal_cancel");
    assert!(
        data["uTime"]
            .as_str()
            .is_some_and(|t| t.parse::<u64>().is_ok())
    );

    let unknown = order_info(&mut rest, "orderId=42");
    assert_eq!((unknown.status, unknown.code()), (400, "43001"));
    assert_eq!(
        venue
            .activity()
            .order_queries_on(bitget_cancel::sim::Endpoint::SpotOrderInfo),
        3
    );
}

#[test]
fn the_futures_order_detail_reports_the_state_and_an_unknown_order_gets_40109() {
    let venue = start(SimConfig::default());
    let order = futures_order(&venue, "0.2");
    venue
        .fill(InstType::UsdtFutures, "BTCUSDT", &order.order_id, None)
        .unwrap();
    let mut rest = Rest::connect(&venue);
    let detail = rest.get(&format!(
        "/api/v2/mix/order/detail?symbol=BTCUSDT&productType=USDT-FUTURES&orderId={}",
        order.order_id
    ));
    assert_eq!(
        (detail.status, detail.code()),
        (200, "00000"),
        "{}",
        detail.body
    );
    let data = &detail.json["data"];
    assert!(data.is_object(), "an object: {data}");
    assert_eq!(data["state"], "filled");
    assert_eq!(data["baseVolume"], "0.2");
    assert_eq!(data["priceAvg"], "83131.5");

    let unknown =
        rest.get("/api/v2/mix/order/detail?symbol=BTCUSDT&productType=usdt-futures&clientOid=nope");
    assert_eq!((unknown.status, unknown.code()), (400, "40109"));
    let wrong_product = rest.get(&format!(
        "/api/v2/mix/order/detail?symbol=BTCUSDT&productType=COIN-FUTURES&orderId={}",
        order.order_id
    ));
    assert_eq!(wrong_product.code(), "40109");
}

#[test]
fn order_queries_are_signed_over_the_path_and_query() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut rest = Rest::connect(&venue);
    let target = format!("/api/v2/spot/trade/orderInfo?orderId={}", order.order_id);
    let bad = rest.signed_with("GET", &target, "", "not-the-secret");
    assert_eq!((bad.status, bad.code()), (400, "40009"));
    assert_eq!(rest.get(&target).code(), "00000");
}

#[test]
fn an_order_query_fails_as_told_then_succeeds() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let query = format!("orderId={}", order.order_id);
    venue.set_rest_faults(RestFaults {
        fail_queries: Some(RestFailure {
            times: 2,
            with: RestFailWith::ServerError(503),
        }),
        ..RestFaults::default()
    });
    let mut rest = Rest::connect(&venue);
    for _ in 0..2 {
        assert_eq!(order_info(&mut rest, &query).status, 503);
    }
    assert_eq!(order_info(&mut rest, &query).code(), "00000");

    venue.set_rest_faults(RestFaults {
        fail_queries: Some(RestFailure {
            times: 1,
            with: RestFailWith::Drop,
        }),
        ..RestFaults::default()
    });
    let target = format!("/api/v2/spot/trade/orderInfo?{query}");
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(
        rest.exchange(request.as_bytes()).is_none(),
        "dropped without a reply"
    );
    let mut again = Rest::connect(&venue);
    assert_eq!(order_info(&mut again, &query).code(), "00000");
    let _ = RestKey::main(&venue);
}
