//! `bitget-cancel sim` as a user runs it: its three URLs on stdout (V2 WebSocket, REST, V3
//! WebSocket), `--account`, and a stop summary that counts REST cancels beside WebSocket ones.

#[path = "support/cli.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bitget_cancel::rest::ResponseReader;
use hmac::{Hmac, KeyInit, Mac};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{BIN, PATIENCE, scratch_dir};

/// Kills and reaps the child on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sim` with `extra` arguments and reads `lines` lines of its stdout.
fn start(name: &str, extra: &[&str], lines: usize) -> (Reaped, Vec<String>, std::path::PathBuf) {
    let ca = scratch_dir(name).join("ca.pem");
    let mut child = Reaped(
        Command::new(BIN)
            .args(["sim", "--listen", "127.0.0.1:0", "--ca-out"])
            .arg(&ca)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bitget-cancel sim"),
    );
    let mut reader = BufReader::new(child.0.stdout.take().expect("piped"));
    let read: Vec<String> = (0..lines)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).expect("sim prints its lines");
            line.trim().to_owned()
        })
        .collect();
    (child, read, ca)
}

/// One signed REST request to `base` (`https://localhost:PORT`), trusting the CA in `ca`.
fn signed_post(base: &str, ca: &std::path::Path, path: &str, body: &Value) -> (u16, Value) {
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).expect("the CA file sim wrote"))
        .expect("a valid root");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let conn = ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("localhost").expect("a name"),
    )
    .expect("a client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut tls = StreamOwned::new(conn, tcp);
    let body = body.to_string();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"sim-secret").expect("a key");
    mac.update(format!("{ts}POST{path}{body}").as_bytes());
    let sign = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nACCESS-KEY: sim-key\r\nACCESS-PASSPHRASE: \
         sim-passphrase\r\nACCESS-TIMESTAMP: {ts}\r\nACCESS-SIGN: {sign}\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).expect("written");
    let mut reader = ResponseReader::new(64 * 1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls.read(&mut chunk).expect("a reply");
        assert!(n > 0, "closed without a reply");
        if let Some(response) = reader.push(&chunk[..n]).expect("HTTP") {
            let json = serde_json::from_slice(response.body).expect("JSON");
            return (response.status, json);
        }
    }
}

fn stop(mut sim: Reaped) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &sim.0.id().to_string()])
        .status()
        .expect("run kill(1)");
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    while sim.0.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "sim did not stop in time");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut stderr = String::new();
    sim.0
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr");
    stderr
}

#[test]
fn sim_prints_the_v3_url_third_and_its_summary_counts_rest_cancels() {
    let (sim, lines, ca) = start("sim-three-urls", &["--generate", "2"], 5);
    let port = lines[0]
        .strip_prefix("wss://localhost:")
        .and_then(|rest| rest.strip_suffix("/v2/ws/private"))
        .unwrap_or_else(|| panic!("first line: {:?}", lines[0]));
    assert!(lines[1].starts_with("https://localhost:"), "{lines:?}");
    assert_eq!(lines[2], format!("wss://localhost:{port}/v3/ws/private"));
    let order: Value = serde_json::from_str(&lines[3]).expect("an order line");
    assert_eq!(order["instType"], "SPOT", "{order}");

    let (status, reply) = signed_post(
        &lines[1],
        &ca,
        "/api/v2/spot/trade/cancel-order",
        &json!({"symbol": "BTCUSDT", "orderId": order["orderId"]}),
    );
    assert_eq!(
        (status, reply["code"].as_str()),
        (200, Some("00000")),
        "{reply}"
    );
    assert_eq!(reply["data"]["clientOid"], order["clientOid"]);
    let (status, _) = signed_post(
        &lines[1],
        &ca,
        "/api/v2/spot/trade/cancel-order",
        &json!({"symbol": "BTCUSDT", "orderId": order["orderId"]}),
    );
    assert_eq!(status, 400);

    let stderr = stop(sim);
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("sim: stopped"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        summary.contains(
            "cancels over WebSocket 0 acked / 0 rejected, over REST 1 acked / 1 rejected"
        ),
        "{summary}"
    );
}

#[test]
fn sim_with_a_unified_account_refuses_v2_rest_with_40085() {
    let (sim, lines, ca) = start(
        "sim-unified",
        &["--account", "unified", "--generate", "1"],
        4,
    );
    let order: Value = serde_json::from_str(&lines[3]).expect("an order line");
    let (status, reply) = signed_post(
        &lines[1],
        &ca,
        "/api/v2/spot/trade/cancel-order",
        &json!({"symbol": "BTCUSDT", "orderId": order["orderId"]}),
    );
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("40085")),
        "{reply}"
    );
    let (status, reply) = signed_post(
        &lines[1],
        &ca,
        "/api/v3/trade/cancel-order",
        &json!({"orderId": order["orderId"]}),
    );
    assert_eq!(
        (status, reply["code"].as_str()),
        (200, Some("00000")),
        "{reply}"
    );
    let stderr = stop(sim);
    assert!(stderr.contains("the key's account is unified"), "{stderr}");
}
