//! The simulated venue, driven by tungstenite's own client over rustls: the protocol as a client
//! sees it, its limits and its faults.

#[path = "support/sim_client.rs"]
mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::sim::{DisconnectCause, Faults, Opcode, SimConfig};
use common::*;
use serde_json::{Value, json};
use tungstenite::Message;

#[test]
fn tungstenite_client_logs_in_pings_and_cancels() {
    let venue = start(SimConfig::default());
    let spot = spot_order(&venue);
    let futures = venue
        .seed_orders(InstType::UsdtFutures, "BTCUSDT", 1)
        .remove(0);
    let mut ws = connect(&venue);

    login(&venue, &mut ws);
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");

    let by_id = cancel_request("1", "SPOT", json!({"orderId": spot.order_id}));
    send(&mut ws, &by_id);
    let ack = next_text(&mut ws);
    let expected_prefix = format!(
        r#"{{"event":"trade","arg":[{{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{{"orderId":"{}"}}}}],"code":0,"msg":"Success","ts":"#,
        spot.order_id
    );
    assert!(ack.starts_with(&expected_prefix), "{ack}");
    let ack: Value = serde_json::from_str(&ack).expect("JSON");
    let ts = ack["ts"].as_u64().expect("ts is a number");
    assert!(ts / 1000 + 5 >= now_s(), "ts is Unix milliseconds: {ts}");
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &spot.order_id));

    send(&mut ws, &by_id);
    let again = next_json(&mut ws);
    assert_eq!(again["event"], "error");
    assert_eq!(again["code"], 43001);
    assert_eq!(again["msg"], "The order does not exist");
    assert_eq!(again["arg"][0]["id"], "1");

    send(
        &mut ws,
        &cancel_request("2", "USDT-FUTURES", json!({"orderId": "1234"})),
    );
    let unknown = next_json(&mut ws);
    assert_eq!(unknown["event"], "error");
    assert_eq!(unknown["code"], 41101);
    assert_eq!(unknown["msg"], "Param orderId=1234 error");
    assert_eq!(unknown["arg"][0]["instType"], "USDT-FUTURES");

    let oid = futures
        .client_oid
        .clone()
        .expect("generated orders have a client id");
    send(
        &mut ws,
        &cancel_request("3", "USDT-FUTURES", json!({"clientOid": oid})),
    );
    let by_oid = next_json(&mut ws);
    assert_eq!(by_oid["event"], "trade");
    assert_eq!(by_oid["code"], 0);
    assert_eq!(by_oid["arg"][0]["id"], "3");
    assert_eq!(by_oid["arg"][0]["params"]["clientOid"], oid.as_str());
    assert!(!venue.order_is_resting(InstType::UsdtFutures, "BTCUSDT", &futures.order_id));

    let stats = venue.stats();
    assert_eq!((stats.logins_ok, stats.pings), (1, 1));
    assert_eq!((stats.cancels_acked, stats.cancels_rejected), (2, 2));
    assert_eq!(stats.connections_open, 1);

    ws.close(None).expect("close");
    while ws.read().is_ok() {}
    drop(ws);
    wait(&venue, "client close", |s| {
        s.disconnects.client_closed == 1 && s.connections_open == 0
    });
}

#[test]
fn each_login_failure_gets_its_code_then_a_close() {
    let config = SimConfig::default();
    let venue = start(config.clone());
    let ts = now_s().to_string();
    let good_sign = sign(&config.secret, &ts);
    let old = (now_s() - 40).to_string();
    let millis = (now_s() * 1000).to_string();
    let cases = [
        (
            login_request("other-key", &config.passphrase, &ts, &good_sign),
            30011,
            "Invalid ACCESS_KEY",
        ),
        (
            login_request(&config.api_key, "wrong", &ts, &good_sign),
            30012,
            "Invalid ACCESS_PASSPHRASE",
        ),
        (
            login_request(
                &config.api_key,
                &config.passphrase,
                &millis,
                &sign(&config.secret, &millis),
            ),
            30013,
            "Invalid ACCESS_TIMESTAMP",
        ),
        (
            login_request(
                &config.api_key,
                &config.passphrase,
                &old,
                &sign(&config.secret, &old),
            ),
            30014,
            "Request timestamp expired",
        ),
        (
            login_request(
                &config.api_key,
                &config.passphrase,
                &ts,
                &sign("not the secret", &ts),
            ),
            30015,
            "Invalid sign",
        ),
    ];
    for (n, (request, code, msg)) in cases.iter().enumerate() {
        let mut ws = connect(&venue);
        send(&mut ws, request);
        assert_eq!(
            next_text(&mut ws),
            format!(r#"{{"event":"error","code":{code},"msg":"{msg}"}}"#)
        );
        assert_eq!(expect_close(&mut ws), 1000, "close after {code}");
        let stats = wait(&venue, "login failure disconnect", |s| {
            s.disconnects.login_failed == n as u64 + 1
        });
        assert_eq!(stats.logins_failed, n as u64 + 1);
    }
    assert_eq!(venue.stats().logins_ok, 0);
}

#[test]
fn a_trade_before_login_gets_30004_with_its_arg_and_the_connection_stays_open() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    send(
        &mut ws,
        &cancel_request("9", "SPOT", json!({"orderId": order.order_id})),
    );
    let reply = next_json(&mut ws);
    assert_eq!(reply["event"], "error");
    assert_eq!(reply["code"], 30004);
    assert_eq!(reply["msg"], "User needs to log in");
    assert_eq!(reply["arg"][0]["id"], "9");
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    login(&venue, &mut ws);
}

#[test]
fn malformed_requests_get_the_venue_error_codes() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(&mut ws, "{not json");
    assert_eq!(
        next_text(&mut ws),
        r#"{"event":"error","code":30002,"msg":"Illegal request"}"#
    );
    send(&mut ws, r#"{"op":"dance","args":[]}"#);
    assert_eq!(
        next_text(&mut ws),
        r#"{"event":"error","code":30003,"msg":"Invalid op"}"#
    );
    let other_channel = json!({"op": "trade", "args": [{
        "id": "1", "instType": "SPOT", "instId": "BTCUSDT", "channel": "place-order", "params": {}
    }]});
    send(&mut ws, &other_channel.to_string());
    let reply = next_json(&mut ws);
    assert_eq!(
        (reply["code"].as_u64(), reply["arg"][0]["id"].as_str()),
        (Some(30001), Some("1"))
    );
    send(
        &mut ws,
        &cancel_request("no/slash", "SPOT", json!({"orderId": "1"})),
    );
    let reply = next_json(&mut ws);
    assert_eq!(
        (reply["code"].as_u64(), reply["msg"].as_str()),
        (Some(30016), Some("Param error"))
    );
    assert_eq!(venue.stats().requests_refused, 4);
}

#[test]
fn too_many_messages_in_a_second_get_30007_and_a_disconnect() {
    let venue = start(SimConfig {
        max_messages_per_second: 3,
        ..SimConfig::default()
    });
    let mut ws = connect(&venue);
    for _ in 0..4 {
        send(&mut ws, "ping");
    }
    for _ in 0..3 {
        assert_eq!(next_text(&mut ws), "pong");
    }
    assert_eq!(
        next_text(&mut ws),
        r#"{"event":"error","code":30007,"msg":"request over limit, connection close"}"#
    );
    expect_close(&mut ws);
    wait(&venue, "rate-limit disconnect", |s| {
        s.disconnects.rate_limited == 1
    });
}

#[test]
fn the_rate_window_slides_so_messages_spread_over_time_stay_within_the_limit() {
    let venue = start(SimConfig {
        max_messages_per_second: 2,
        ..SimConfig::default()
    });
    let mut ws = connect(&venue);
    send(&mut ws, "ping");
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    assert_eq!(next_text(&mut ws), "pong");
    // Lower bound only: the window must have slid past both messages.
    std::thread::sleep(Duration::from_millis(1050));
    send(&mut ws, "ping");
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    assert_eq!(next_text(&mut ws), "pong");
    assert_eq!(venue.stats().disconnects.total(), 0);
}

#[test]
fn a_connection_without_ping_is_closed_after_the_idle_timeout() {
    let venue = start(SimConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..SimConfig::default()
    });
    let started = Instant::now();
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_eq!(expect_close(&mut ws), 1000);
    assert!(started.elapsed() >= Duration::from_millis(300));
    wait(&venue, "idle disconnect", |s| {
        s.disconnects.idle_timeout == 1
    });
}

#[test]
fn pings_keep_an_idle_connection_open() {
    let venue = start(SimConfig {
        idle_timeout: Some(Duration::from_millis(600)),
        ..SimConfig::default()
    });
    let mut ws = connect(&venue);
    // 900 ms in all, longer than the idle timeout.
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        send(&mut ws, "ping");
        assert_eq!(next_text(&mut ws), "pong");
    }
    assert_eq!(venue.stats().disconnects.idle_timeout, 0);
}

#[test]
fn a_connection_is_closed_when_its_lifetime_ends() {
    let venue = start(SimConfig {
        lifetime: Some(Duration::from_millis(300)),
        ..SimConfig::default()
    });
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_eq!(expect_close(&mut ws), 1000);
    wait(&venue, "lifetime disconnect", |s| {
        s.disconnects.lifetime == 1
    });
}

#[test]
fn a_wrong_path_is_refused_with_404() {
    let venue = start(SimConfig::default());
    let url = venue.url().replace("/v2/ws/private", "/v2/ws/public");
    match tungstenite::client::client(url.as_str(), tls_to(&venue)) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 404);
        }
        Ok(_) => panic!("the wrong path was accepted"),
        Err(e) => panic!("expected an HTTP 404, got {e}"),
    }
    wait(&venue, "handshake failure", |s| {
        s.disconnects.handshake_failed == 1
    });
}

#[test]
fn websocket_ping_frames_are_answered_with_pong_frames() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    ws.send(Message::Ping(b"hello".to_vec().into()))
        .expect("send ping");
    match next(&mut ws) {
        Message::Pong(payload) => assert_eq!(&payload[..], b"hello"),
        other => panic!("expected a pong frame, got {other:?}"),
    }
}

#[test]
fn fragmented_replies_arrive_reassembled_with_the_same_content() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    venue.set_faults(Faults {
        fragments: 4,
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    send(
        &mut ws,
        &cancel_request("5", "SPOT", json!({"orderId": orders[0].order_id})),
    );
    let ack = next_json(&mut ws);
    assert_eq!(
        (ack["event"].as_str(), ack["code"].as_u64()),
        (Some("trade"), Some(0))
    );
    assert_eq!(
        ack["arg"][0]["params"]["orderId"],
        orders[0].order_id.as_str()
    );
}

/// Parses the unmasked frames in `bytes`: (fin, opcode, payload) of each complete one.
fn parse_frames(bytes: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 2 {
        let len = usize::from(bytes[at + 1] & 0x7F);
        assert!(len < 126, "short frames only in this test");
        if bytes.len() < at + 2 + len {
            break;
        }
        frames.push((
            bytes[at] & 0x80 != 0,
            bytes[at] & 0x0F,
            bytes[at + 2..at + 2 + len].to_vec(),
        ));
        at += 2 + len;
    }
    frames
}

#[test]
fn fragmented_replies_are_split_into_that_many_frames_on_the_wire() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        fragments: 3,
        ping_before_reply: true,
        ..Faults::default()
    });
    send(&mut ws, "ping");
    // The venue sent nothing since the login reply, so tungstenite holds no buffered bytes: read
    // the frames themselves from the TLS stream.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 256];
    while parse_frames(&raw).len() < 4 {
        let n = ws.get_mut().read(&mut chunk).expect("read raw frames");
        assert!(n > 0, "connection ended early");
        raw.extend_from_slice(&chunk[..n]);
    }
    let frames = parse_frames(&raw);
    assert_eq!(
        frames[0],
        (true, 0x9, b"sim".to_vec()),
        "a ping frame first"
    );
    assert_eq!(
        (frames[1].0, frames[1].1),
        (false, 0x1),
        "a text frame without FIN"
    );
    assert_eq!((frames[2].0, frames[2].1), (false, 0x0), "a continuation");
    assert_eq!(
        (frames[3].0, frames[3].1),
        (true, 0x0),
        "the final continuation"
    );
    let text: Vec<u8> = frames[1..].iter().flat_map(|f| f.2.clone()).collect();
    assert_eq!(text, b"pong");
}

#[test]
fn a_ping_frame_precedes_each_reply_when_asked_and_the_client_pong_is_recorded() {
    let venue = start(SimConfig::default());
    venue.set_faults(Faults {
        ping_before_reply: true,
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    send(&mut ws, &good_login(venue.config()));
    assert!(matches!(next(&mut ws), Message::Ping(p) if &p[..] == b"sim"));
    assert!(matches!(next(&mut ws), Message::Text(t) if t.as_str().contains("\"login\"")));
    send(&mut ws, "ping");
    assert!(matches!(next(&mut ws), Message::Ping(_)));
    assert!(matches!(next(&mut ws), Message::Text(t) if t.as_str() == "pong"));
    // tungstenite answered both pings on its following reads and writes.
    ws.flush().expect("flush");
    venue.set_faults(Faults::none());
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    let pongs = venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Pong)
        .count();
    assert_eq!(pongs, 2);
}

#[test]
fn replies_are_delayed_by_the_configured_delay_and_keep_their_order() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    let delay = Duration::from_millis(200);
    venue.set_faults(Faults {
        reply_delay: delay,
        ..Faults::default()
    });
    let sent = Instant::now();
    send(&mut ws, "ping");
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": order.order_id})),
    );
    assert_eq!(next_text(&mut ws), "pong");
    assert!(sent.elapsed() >= delay, "the pong came before the delay");
    assert_eq!(next_json(&mut ws)["code"], 0);
    // The cancel took effect when it arrived; only its reply waited.
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
}

#[test]
fn the_nth_cancel_drops_the_connection_before_it_is_processed() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        drop_on_cancel: Some(2),
        ..Faults::default()
    });
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": orders[0].order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);
    send(
        &mut ws,
        &cancel_request("2", "SPOT", json!({"orderId": orders[1].order_id})),
    );
    expect_dropped(&mut ws);
    wait(&venue, "fault disconnect", |s| s.disconnects.fault == 1);
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &orders[1].order_id));

    // It fires once: the next connection cancels normally.
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("3", "SPOT", json!({"orderId": orders[1].order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);
}

#[test]
fn ignored_cancels_take_effect_without_a_reply() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        ignore_cancels: true,
        ..Faults::default()
    });
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": order.order_id})),
    );
    send(&mut ws, "ping");
    // The pong is the next thing on the wire: the cancel got no reply.
    assert_eq!(next_text(&mut ws), "pong");
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    let stats = venue.stats();
    assert_eq!((stats.cancels_acked, stats.cancels_unanswered), (1, 1));
}

#[test]
fn drop_connections_ends_every_open_connection_without_a_close_frame() {
    let venue = start(SimConfig::default());
    let mut first = connect(&venue);
    let mut second = connect(&venue);
    login(&venue, &mut first);
    login(&venue, &mut second);
    assert_eq!(venue.drop_connections(), 2);
    expect_dropped(&mut first);
    expect_dropped(&mut second);
    wait(&venue, "both dropped", |s| {
        s.disconnects.fault == 2 && s.connections_open == 0
    });
    let mut third = connect(&venue);
    login(&venue, &mut third);
}

#[test]
fn close_after_login_fault_closes_right_after_the_login_reply() {
    let venue = start(SimConfig::default());
    venue.set_faults(Faults {
        close_after_login: true,
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_eq!(expect_close(&mut ws), 1000);
    wait(&venue, "fault close", |s| s.disconnects.fault == 1);
}

#[test]
fn oversized_messages_end_the_connection_with_1009() {
    let venue = start(SimConfig {
        max_message_size: 1024,
        ..SimConfig::default()
    });
    let mut ws = connect(&venue);
    send(&mut ws, &"x".repeat(4096));
    assert_eq!(expect_close(&mut ws), 1009);
    wait(&venue, "protocol error", |s| {
        s.disconnects.protocol_error == 1
    });
}

#[test]
fn the_venue_records_every_received_frame_in_order() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    let login_text = good_login(venue.config());
    send(&mut ws, &login_text);
    next_text(&mut ws);
    send(&mut ws, "ping");
    next_text(&mut ws);
    ws.send(Message::Ping(b"p".to_vec().into()))
        .expect("ping frame");
    assert!(matches!(next(&mut ws), Message::Pong(_)));

    let mut second = connect(&venue);
    send(&mut second, "ping");
    next_text(&mut second);

    let record = venue.received();
    let seen: Vec<(u64, Opcode, &str)> = record
        .iter()
        .map(|f| (f.conn, f.opcode, f.text.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, Opcode::Text, login_text.as_str()),
            (1, Opcode::Text, "ping"),
            (1, Opcode::Ping, "p"),
            (2, Opcode::Text, "ping"),
        ]
    );
    assert!(record.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
    assert!(record[3].at_ns <= bitget_cancel::clock::monotonic_ns());
    venue.clear_received();
    assert!(venue.received().is_empty());
}

#[test]
fn shutdown_closes_open_connections_with_going_away() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    let reader = std::thread::spawn(move || expect_close(&mut ws));
    venue.shutdown();
    assert_eq!(reader.join().expect("reader thread"), 1001);
}

#[test]
fn every_accepted_connection_ends_with_exactly_one_cause() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    send(&mut ws, &login_request("bad", "bad", "1", "bad"));
    next_text(&mut ws);
    expect_close(&mut ws);
    let _ =
        tungstenite::client::client(venue.url().replace("private", "x").as_str(), tls_to(&venue));
    let mut open = connect(&venue);
    login(&venue, &mut open);
    open.close(None).expect("close");
    while open.read().is_ok() {}
    drop((ws, open));
    let stats = wait(&venue, "three ended", |s| {
        s.disconnects.total() == 3 && s.connections_open == 0
    });
    assert_eq!(stats.connections_accepted, 3);
    for cause in [
        DisconnectCause::LoginFailed,
        DisconnectCause::HandshakeFailed,
        DisconnectCause::ClientClosed,
    ] {
        assert_eq!(stats.disconnects.get(cause), 1, "{cause}");
    }
}
