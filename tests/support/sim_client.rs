//! Code shared by the integration tests that drive the simulated venue with tungstenite's
//! own client over rustls.
// Each test binary uses its own subset of these functions.
#![allow(dead_code)]

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bitget_cancel::InstType;
use bitget_cancel::sim::{RestingOrder, SimConfig, SimStats, SimVenue};
use hmac::{Hmac, KeyInit, Mac};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};
use sha2::Sha256;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

pub type Tls = StreamOwned<ClientConnection, TcpStream>;
pub type Client = WebSocket<Tls>;

/// A safety net only: a test that waits this long has failed.
pub const SAFETY: Duration = Duration::from_secs(10);

pub fn start(config: SimConfig) -> SimVenue {
    SimVenue::start(config).expect("the venue starts")
}

/// A rustls client connection (not yet connected) for the venue, trusting its CA as a root (verification stays on).
pub fn client_tls(venue: &SimVenue) -> ClientConnection {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(venue.ca_pem().as_bytes()).expect("CA PEM parses");
    roots.add(ca).expect("CA is a valid root");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("valid name");
    ClientConnection::new(Arc::new(config), name).expect("client connection")
}

pub fn tls_to(venue: &SimVenue) -> Tls {
    let tcp = TcpStream::connect(venue.addr()).expect("connects");
    tcp.set_read_timeout(Some(SAFETY)).expect("read timeout");
    StreamOwned::new(client_tls(venue), tcp)
}

pub fn connect_with(venue: &SimVenue, config: Option<WebSocketConfig>) -> Client {
    let request = venue.url();
    match tungstenite::client::client_with_config(request.as_str(), tls_to(venue), config) {
        Ok((ws, response)) => {
            assert_eq!(response.status(), 101);
            ws
        }
        Err(e) => panic!("WebSocket handshake failed: {e}"),
    }
}

pub fn connect(venue: &SimVenue) -> Client {
    connect_with(venue, None)
}

pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

pub fn sign(secret: &str, timestamp: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}GET/user/verify").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn login_request(api_key: &str, passphrase: &str, timestamp: &str, sign: &str) -> String {
    json!({"op": "login", "args": [{
        "apiKey": api_key, "passphrase": passphrase, "timestamp": timestamp, "sign": sign
    }]})
    .to_string()
}

pub fn good_login(config: &SimConfig) -> String {
    let ts = now_s().to_string();
    login_request(
        &config.api_key,
        &config.passphrase,
        &ts,
        &sign(&config.secret, &ts),
    )
}

pub fn send(ws: &mut Client, text: &str) {
    ws.send(Message::text(text)).expect("send");
}

/// The next message, failing the test if none comes within the safety net.
pub fn next(ws: &mut Client) -> Message {
    match ws.read() {
        Ok(message) => message,
        Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
            panic!("the venue sent nothing within {SAFETY:?}")
        }
        Err(e) => panic!("read failed: {e}"),
    }
}

/// The next text message, skipping ping frames (tungstenite answers them).
pub fn next_text(ws: &mut Client) -> String {
    loop {
        match next(ws) {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

pub fn next_json(ws: &mut Client) -> Value {
    let text = next_text(ws);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Checks that `text` is the live venue's login success, `{"event":"login","code":0,"connId":ID}`
/// with no other field and 32 lower-case hex digits as ID, and returns the ID.
pub fn assert_login_ok(text: &str) -> String {
    let reply: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let fields = reply
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {text}"));
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "connId", "event"], "{text}");
    assert_eq!(reply["event"], "login", "{text}");
    assert_eq!(reply["code"], 0, "{text}");
    let conn_id = reply["connId"]
        .as_str()
        .unwrap_or_else(|| panic!("connId not a string: {text}"));
    assert_eq!(conn_id.len(), 32, "{text}");
    assert!(
        conn_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{text}"
    );
    conn_id.to_owned()
}

/// Logs in with the venue's credentials and returns the `connId` of the venue's reply.
pub fn login(venue: &SimVenue, ws: &mut Client) -> String {
    send(ws, &good_login(venue.config()));
    assert_login_ok(&next_text(ws))
}

pub fn cancel_request(id: &str, inst_type: &str, params: Value) -> String {
    json!({"op": "trade", "args": [{
        "id": id, "instType": inst_type, "instId": "BTCUSDT", "channel": "cancel-order", "params": params
    }]})
    .to_string()
}

/// Reads until the venue's close frame and returns its code; then the connection must end.
pub fn expect_close(ws: &mut Client) -> u16 {
    let code = loop {
        match next(ws) {
            Message::Close(frame) => break frame.map(|f| u16::from(f.code)).expect("a close code"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        other => panic!("expected the connection to end after the close, got {other:?}"),
    }
    code
}

/// The connection must end without a close frame.
pub fn expect_dropped(ws: &mut Client) {
    match ws.read() {
        Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
            panic!("the connection was not dropped within {SAFETY:?}")
        }
        Err(_) => {}
        Ok(message) => panic!("expected a dropped connection, got {message:?}"),
    }
}

pub fn wait(venue: &SimVenue, what: &str, done: impl FnMut(&SimStats) -> bool) -> SimStats {
    venue.wait_for_stats(SAFETY, done).unwrap_or_else(|| {
        panic!(
            "{what}: not seen within {SAFETY:?}; stats {:?}",
            venue.stats()
        )
    })
}

pub fn spot_order(venue: &SimVenue) -> RestingOrder {
    venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0)
}
