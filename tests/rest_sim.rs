//! The simulated venue's REST side, driven by a plain blocking rustls client with hand-written
//! requests and its own signing: what a REST client sees, the shared book, the signature checks
//! and the faults.

#[path = "support/sim_client.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bitget_cancel::InstType;
use bitget_cancel::rest::ResponseReader;
use bitget_cancel::sim::{RestFaults, SimConfig, SimVenue};
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use rustls::StreamOwned;
use serde_json::{Value, json};
use sha2::Sha256;

const SPOT: &str = "/api/v2/spot/trade/cancel-order";
const FUTURES: &str = "/api/v2/mix/order/cancel-order";

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

fn rest_connect(venue: &SimVenue) -> Tls {
    let tcp = TcpStream::connect(venue.rest_addr()).expect("connects");
    tcp.set_read_timeout(Some(SAFETY)).expect("read timeout");
    StreamOwned::new(client_tls(venue), tcp)
}

/// Who signs, and how: the venue's credentials unless a test breaks one.
struct Signing {
    key: String,
    secret: String,
    passphrase: String,
    timestamp: String,
}

impl Signing {
    fn good(config: &SimConfig) -> Signing {
        Signing {
            key: config.api_key.clone(),
            secret: config.secret.clone(),
            passphrase: config.passphrase.clone(),
            timestamp: unix_ms().to_string(),
        }
    }
}

/// How a test breaks a good signature.
type Breaks = fn(&mut Signing);

fn rest_sign(secret: &str, message: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn signed_post(signing: &Signing, path: &str, body: &str) -> Vec<u8> {
    let sign = rest_sign(
        &signing.secret,
        &format!("{}POST{path}{body}", signing.timestamp),
    );
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nACCESS-KEY: {}\r\nACCESS-PASSPHRASE: {}\r\n\
         ACCESS-TIMESTAMP: {}\r\nACCESS-SIGN: {sign}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        signing.key,
        signing.passphrase,
        signing.timestamp,
        body.len()
    )
    .into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// A reply as the client read it.
#[derive(Debug)]
struct Reply {
    status: u16,
    close: bool,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The venue's code and message.
    fn code(&self) -> (String, String) {
        let json = self.json();
        (
            json["code"].as_str().expect("code is a string").to_owned(),
            json["msg"].as_str().expect("msg is a string").to_owned(),
        )
    }
}

fn exchange(tls: &mut Tls, request: &[u8]) -> Reply {
    tls.write_all(request).expect("request written");
    tls.flush().expect("flushed");
    let mut reader = ResponseReader::new(64 * 1024);
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls.read(&mut chunk).expect("the venue replies");
        assert!(n > 0, "the venue closed without a reply");
        raw.extend_from_slice(&chunk[..n]);
        if let Some(response) = reader.push(&chunk[..n]).expect("valid HTTP") {
            let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
            return Reply {
                status: response.status,
                close: response.close,
                head: String::from_utf8_lossy(&raw[..head_end]).into_owned(),
                body: String::from_utf8_lossy(response.body).into_owned(),
            };
        }
    }
}

fn post(venue: &SimVenue, path: &str, body: &Value) -> Reply {
    let mut tls = rest_connect(venue);
    let signing = Signing::good(venue.config());
    exchange(&mut tls, &signed_post(&signing, path, &body.to_string()))
}

/// The connection must end (EOF or error) without another byte of reply.
fn expect_closed(tls: &mut Tls) {
    let mut chunk = [0u8; 256];
    match tls.read(&mut chunk) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the end, got {n} bytes"),
    }
}

#[test]
fn a_rest_cancel_is_acked_and_removes_the_order_for_websocket_too() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);

    let reply = post(
        &venue,
        SPOT,
        &json!({"symbol": "BTCUSDT", "orderId": order.order_id}),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let json = reply.json();
    assert_eq!(json["code"], "00000");
    assert_eq!(json["msg"], "success");
    assert_eq!(json["data"]["orderId"], order.order_id.as_str());
    assert!(
        json["requestTime"]
            .as_u64()
            .is_some_and(|t| t / 1000 + 5 >= now_s())
    );
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));

    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"orderId": order.order_id})),
    );
    assert_eq!(next_json(&mut ws)["code"], 43001);
    assert_eq!(venue.rest_stats().cancels_acked, 1);
}

#[test]
fn a_websocket_cancel_removes_the_order_for_rest_too() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(
        &mut ws,
        &cancel_request("1", "SPOT", json!({"clientOid": order.client_oid})),
    );
    assert_eq!(next_json(&mut ws)["code"], 0);

    let reply = post(
        &venue,
        SPOT,
        &json!({"symbol": "BTCUSDT", "orderId": order.order_id}),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.code(),
        ("43001".to_owned(), "The order does not exist".to_owned())
    );
}

#[test]
fn futures_cancels_go_by_product_type_and_report_40768_for_an_unknown_order() {
    let venue = start(SimConfig::default());
    let order = venue
        .seed_orders(InstType::CoinFutures, "BTCUSD", 1)
        .remove(0);
    let body =
        json!({"symbol": "BTCUSD", "productType": "USDT-FUTURES", "clientOid": order.client_oid});
    let wrong_product = post(&venue, FUTURES, &body);
    assert_eq!(wrong_product.code().0, "40768");
    assert!(venue.order_is_resting(InstType::CoinFutures, "BTCUSD", &order.order_id));

    let body =
        json!({"symbol": "BTCUSD", "productType": "coin-futures", "clientOid": order.client_oid});
    let reply = post(&venue, FUTURES, &body);
    assert_eq!((reply.status, reply.code().0.as_str()), (200, "00000"));
    assert!(!venue.order_is_resting(InstType::CoinFutures, "BTCUSD", &order.order_id));

    let missing = post(
        &venue,
        FUTURES,
        &json!({"symbol": "BTCUSD", "orderId": "1"}),
    );
    assert_eq!(missing.code().0, "40019");
}

#[test]
fn key_passphrase_timestamp_and_signature_are_checked_before_the_book() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let body = json!({"symbol": "BTCUSDT", "orderId": order.order_id}).to_string();
    let config = venue.config().clone();
    let cases: [(&str, Breaks); 6] = [
        ("40006", |s| s.key = "other-key".into()),
        ("40012", |s| s.passphrase = "wrong".into()),
        ("40005", |s| s.timestamp = "12a".into()),
        ("40005", |s| s.timestamp = String::new()),
        ("40008", |s| s.timestamp = (unix_ms() - 31_000).to_string()),
        ("40009", |s| s.secret = "not-the-secret".into()),
    ];
    let mut tls = rest_connect(&venue);
    for (code, breaks) in cases {
        let mut signing = Signing::good(&config);
        breaks(&mut signing);
        let reply = exchange(&mut tls, &signed_post(&signing, SPOT, &body));
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.code().0, code, "{reply:?}");
        assert!(!reply.close, "a refusal keeps the connection");
    }
    assert_eq!(
        exchange(&mut tls, &signed_post(&Signing::good(&config), SPOT, &body))
            .code()
            .1,
        "success"
    );
    let stats = venue.rest_stats();
    assert_eq!(
        (stats.cancels, stats.connections_accepted),
        (1, 1),
        "{stats:?}"
    );
}

#[test]
fn an_unknown_path_is_40404_and_the_server_time_is_public() {
    let venue = start(SimConfig::default());
    let mut tls = rest_connect(&venue);
    let reply = exchange(&mut tls, &get("/api/v2/spot/trade/nothing"));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.code().0, "40404");

    let before = unix_ms();
    let reply = exchange(&mut tls, &get("/api/v2/public/time"));
    let after = unix_ms();
    assert_eq!((reply.status, reply.code().0.as_str()), (200, "00000"));
    let server: u64 = reply.json()["data"]["serverTime"]
        .as_str()
        .expect("serverTime is a string")
        .parse()
        .expect("digits");
    assert!(
        (before..=after).contains(&server),
        "{before} {server} {after}"
    );

    let record = venue.rest_requests();
    assert_eq!(record.len(), 2);
    assert_eq!(record[1].method, "GET");
    assert_eq!(record[1].path, "/api/v2/public/time");
    assert_eq!(venue.rest_stats().cancels, 0);
    assert_eq!(venue.rest_stats().server_time_requests, 1);
}

#[test]
fn the_record_keeps_each_cancel_body() {
    let venue = start(SimConfig::default());
    let body = json!({"symbol": "BTCUSDT", "orderId": "42"});
    post(&venue, SPOT, &body);
    let record = venue.rest_requests();
    assert_eq!(record.len(), 1);
    assert_eq!(
        (record[0].method.as_str(), record[0].path.as_str()),
        ("POST", SPOT)
    );
    assert_eq!(record[0].body, body.to_string());
    assert_eq!(record[0].conn, 1);
}

#[test]
fn faults_shape_the_replies() {
    let venue = start(SimConfig::default());
    let time = get("/api/v2/public/time");

    venue.set_rest_faults(RestFaults {
        chunked: true,
        ..RestFaults::default()
    });
    let mut tls = rest_connect(&venue);
    let reply = exchange(&mut tls, &time);
    assert!(
        reply.head.contains("Transfer-Encoding: chunked"),
        "{}",
        reply.head
    );
    assert!(!reply.head.contains("Content-Length"), "{}", reply.head);
    assert_eq!(reply.code().0, "00000");

    venue.set_rest_faults(RestFaults {
        server_error: Some(503),
        ..RestFaults::default()
    });
    let reply = exchange(&mut tls, &time);
    assert_eq!(reply.status, 503);
    assert!(reply.body.starts_with("<html>"));

    venue.set_rest_faults(RestFaults {
        close_after_reply: true,
        ..RestFaults::default()
    });
    let reply = exchange(&mut tls, &time);
    assert!(
        reply.close && reply.head.contains("Connection: close"),
        "{reply:?}"
    );
    expect_closed(&mut tls);

    let delay = Duration::from_millis(300);
    venue.set_rest_faults(RestFaults {
        delay: Some(delay),
        ..RestFaults::default()
    });
    let mut tls = rest_connect(&venue);
    let started = Instant::now();
    assert_eq!(exchange(&mut tls, &time).status, 200);
    assert!(started.elapsed() >= delay);
}

#[test]
fn a_venue_that_is_down_closes_connections_without_a_reply() {
    let venue = start(SimConfig::default());
    let mut open = rest_connect(&venue);
    assert_eq!(exchange(&mut open, &get("/api/v2/public/time")).status, 200);

    venue.set_rest_faults(RestFaults {
        down: true,
        ..RestFaults::default()
    });
    expect_closed(&mut open);
    let mut fresh = rest_connect(&venue);
    let _ = fresh.write_all(&get("/api/v2/public/time"));
    expect_closed(&mut fresh);
    assert_eq!(venue.rest_stats().requests, 1);

    venue.set_rest_faults(RestFaults::default());
    let mut again = rest_connect(&venue);
    assert_eq!(
        exchange(&mut again, &get("/api/v2/public/time")).status,
        200
    );
}
