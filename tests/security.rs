//! Security checks: the API secret and passphrase never show in `Debug`, `Display`, errors or
//! logs; certificate verification cannot be switched off (a venue is trusted only through an
//! extra root CA that signed its certificate for the name dialled); request fields that could
//! inject JSON are refused before anything is encoded.
//!
//! Also pinned elsewhere: an engine without the venue's CA refuses its certificate
//! (`engine_session::a_venue_certificate_signed_by_an_unknown_ca_is_never_trusted`).

#[path = "support/engine.rs"]
mod support;

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use bitget_cancel::engine::{
    Config, ConfigError, Credentials, Engine, IdleStrategy, SessionError, SessionState,
};
use bitget_cancel::outcome::{NotSentReason, Status};
use bitget_cancel::protocol::{encode_cancel, encode_login, sign_login};
use bitget_cancel::sim::{SimConfig, SimVenue};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
use proptest::prelude::*;
use support::*;

/// Distinctive values, so that finding one anywhere is proof of a leak.
const KEY: &str = "key-Ocelot-5521";
const SECRET: &str = "S3cr3t-Zebra-9137";
const PASSPHRASE: &str = "Pa55-Quokka-4702";
const WRONG_PASSPHRASE: &str = "Wr0ng-Ibis-8264";

// ----- a logger that keeps every record ------------------------------------------------------

/// One log record, with the name of the thread that logged it.
#[derive(Debug, Clone)]
struct Record {
    thread: String,
    level: log::Level,
    target: String,
    text: String,
}

struct Capture(Mutex<Vec<Record>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let record = Record {
            thread: std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_string(),
            level: record.level(),
            target: record.target().to_string(),
            text: record.args().to_string(),
        };
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// Installs the capturing logger at `Trace` (once per test binary: every test here logs into it).
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_logger(&CAPTURE).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

fn captured() -> Vec<Record> {
    CAPTURE.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The ways a secret could show: as it is, hex-encoded (how frame payloads are logged), base64.
fn forms(secret: &str) -> Vec<String> {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    vec![secret.to_string(), hex, b64]
}

/// Fails if `text` holds the secret or a passphrase in any of their [`forms`].
fn assert_no_secret(what: &str, text: &str) {
    for secret in [SECRET, PASSPHRASE, WRONG_PASSPHRASE] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} shows a secret ({form}): {text}"
            );
        }
    }
    // A key, by contrast, is not a secret: checking it shows up keeps this check honest.
}

fn credentials(passphrase: &str) -> Credentials {
    Credentials::new(KEY, SECRET, passphrase).expect("valid credentials")
}

fn sim_config() -> SimConfig {
    SimConfig {
        api_key: KEY.to_string(),
        secret: SECRET.to_string(),
        passphrase: PASSPHRASE.to_string(),
        ..SimConfig::default()
    }
}

// ----- secrets --------------------------------------------------------------------------------

#[test]
fn no_debug_output_of_a_type_holding_secrets_shows_them() {
    capture_logs();
    let venue = SimVenue::start(sim_config()).expect("the venue starts");
    let builder = Config::builder(credentials(PASSPHRASE))
        .url(venue.url())
        .rest_url(venue.rest_url())
        .extra_root_ca_pem(venue.ca_pem())
        .idle(IdleStrategy::Backoff);
    let config = builder.clone().build().expect("valid config");
    let (engine, handle) = Engine::start(config.clone()).expect("the engine starts");
    wait_live(&handle);
    let shown = [
        (
            "Credentials",
            format!(
                "{:?} {:#?}",
                credentials(PASSPHRASE),
                credentials(PASSPHRASE)
            ),
        ),
        ("ConfigBuilder", format!("{builder:?} {builder:#?}")),
        ("Config", format!("{config:?} {config:#?}")),
        ("Config::credentials", format!("{:?}", config.credentials())),
        ("Engine", format!("{engine:?} {engine:#?}")),
        ("Handle", format!("{handle:?} {handle:#?}")),
        (
            "SimConfig",
            format!("{:?} {:#?}", sim_config(), venue.config()),
        ),
        ("SimVenue", format!("{venue:?} {venue:#?}")),
    ];
    for (what, text) in &shown {
        assert_no_secret(what, text);
    }
    // The check can see what it looks for: the key (not a secret) is shown.
    assert!(shown[0].1.contains(KEY) && shown[2].1.contains(KEY));
    engine.shutdown();
}

#[test]
fn credential_errors_never_repeat_the_value() {
    for (key, secret, passphrase) in [
        (KEY, SECRET, "Pa55-Quokka\"4702"),
        (KEY, SECRET, "Pa55-Quokka\\4702"),
        (KEY, SECRET, "Pa55-Quokka\n4702"),
        (KEY, SECRET, "Pa55-Quokka-4702\u{e9}"),
        ("key\"Quokka", SECRET, PASSPHRASE),
        (KEY, "", PASSPHRASE),
    ] {
        let error: ConfigError = Credentials::new(key, secret, passphrase).unwrap_err();
        for text in [error.to_string(), format!("{error:?}")] {
            assert_no_secret("a credential error", &text);
            assert!(!text.contains("Quokka"), "{text}");
        }
    }
    let error = encode_login(
        &mut Vec::new(),
        KEY,
        "Pa55\"Quokka",
        1,
        &sign_login(b"s", 1),
    )
    .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("Quokka"));
}

#[test]
fn a_refused_and_an_accepted_session_log_and_report_no_secret() {
    capture_logs();
    let venue = SimVenue::start(sim_config()).expect("the venue starts");
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let config = |passphrase| {
        Config::builder(credentials(passphrase))
            .url(venue.url())
            .no_rest()
            .extra_root_ca_pem(venue.ca_pem())
            .idle(IdleStrategy::Backoff)
    };
    let mut reported = Vec::new();

    // The wrong passphrase: refused with 30012, the intent reported not sent.
    let (engine, handle) = start(config(WRONG_PASSPHRASE));
    handle.cancel(by_order_id(&orders[0])).unwrap();
    let outcome = next_outcome(&handle);
    assert!(matches!(
        outcome.status,
        Status::NotSent(NotSentReason::LoginRejected { code: 30012, .. })
    ));
    wait_until("the refusal is visible", || {
        handle.state() == SessionState::LoginRejected
    });
    let error = handle.last_error().expect("the refusal is reported");
    assert!(matches!(
        error,
        SessionError::LoginRejected { code: 30012, .. }
    ));
    reported.push(format!(
        "{outcome:?} {error} {error:?} {engine:?} {handle:?}"
    ));
    reported.push(format!("{:?}", engine.shutdown()));

    // The right one: logged in, a cancel acked, shut down.
    let (engine, handle) = start(config(PASSPHRASE));
    handle.cancel(by_order_id(&orders[1])).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked);
    reported.push(format!("{outcome:?} {:?} {engine:?}", handle.last_error()));
    engine.shutdown();
    venue.shutdown();

    for text in &reported {
        assert_no_secret("an outcome, error or state", text);
    }
    // The engine's own records reach the logger on the log relay's thread, never its own; wait
    // for them (so an empty capture cannot pass for a clean one).
    let from_engine = |logs: &[Record], text: &str| {
        logs.iter()
            .any(|r| r.thread == "bitget-cancel-log" && r.text.contains(text))
    };
    wait_until("the engine's records are logged", || {
        let logs = captured();
        from_engine(&logs, "login rejected by the venue") && from_engine(&logs, "logged in to")
    });
    let logs = captured();
    assert!(
        !logs
            .iter()
            .any(|r| r.thread == "bitget-cancel-engine" && r.target.starts_with("bitget_cancel")),
        "the engine thread calls no logger itself"
    );
    for record in &logs {
        let line = format!("{record:?}");
        // The secret never leaves the process in any form, so it is logged nowhere.
        for form in forms(SECRET) {
            assert!(
                !line.contains(&form),
                "a log record shows the secret: {line}"
            );
        }
        // The passphrase is sent to the venue in the login. The simulated venue reads it with
        // tungstenite, which traces every message and frame it receives: that is the venue's
        // side (it needs the passphrase), and trace level. Nothing else logs it.
        let venue_trace = record.thread.starts_with("sim-conn-")
            && record.target.starts_with("tungstenite::")
            && record.level == log::Level::Trace;
        if !venue_trace {
            assert_no_secret("a log record", &line);
        }
    }
}

// ----- TLS -----------------------------------------------------------------------------------

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn nothing_in_the_crate_can_switch_certificate_verification_off() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 10, "the sources were found: {files:?}");
    // rustls's doors to custom verification (its `dangerous()` configuration and the verifier
    // traits) and the usual names of a verifier that accepts anything.
    let forbidden = [
        ".dangerous()",
        "DangerousClientConfig",
        "set_certificate_verifier",
        "with_custom_certificate_verifier",
        "ServerCertVerifier",
        "danger::",
        "NoVerifier",
        "NoCertificateVerification",
        "AcceptAnyCert",
        "insecure",
        "skip_verif",
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source file");
        for word in forbidden {
            assert!(
                !text.contains(word),
                "{} mentions {word}",
                file.strip_prefix(root).unwrap_or(&file).display()
            );
        }
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        !manifest.contains("dangerous"),
        "a rustls feature that weakens verification"
    );
    // The one trust setting the TLS layer offers: an extra root CA.
    let _: fn(Option<&[u8]>) -> Result<_, bitget_cancel::tls::TlsError> =
        bitget_cancel::tls::client_config;
}

#[test]
fn a_root_ca_that_did_not_sign_the_venue_certificate_does_not_make_it_trusted() {
    let venue = venue();
    let other = support::venue();
    let (engine, handle) = start(
        Config::builder(sim_credentials())
            .url(venue.url())
            .extra_root_ca_pem(other.ca_pem())
            .idle(IdleStrategy::Backoff),
    );
    wait_until("the handshake fails", || handle.last_error().is_some());
    assert!(
        matches!(handle.last_error(), Some(SessionError::Tls(_))),
        "{:?}",
        handle.last_error()
    );
    assert_eq!(engine.stats().sessions, 0);
    assert_eq!(venue.stats().logins_ok, 0);
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    // The venue's certificate is for `localhost` and `127.0.0.1`; dialled as `[::1]`, it is
    // signed by a trusted CA but for another name.
    let Ok(venue) = SimVenue::start(SimConfig {
        listen: "[::1]:0".parse().expect("an address"),
        ..SimConfig::default()
    }) else {
        eprintln!("no IPv6 loopback here: the name check cannot be exercised");
        return;
    };
    let (engine, handle) = start(
        Config::builder(sim_credentials())
            .url(format!("wss://[::1]:{}/v2/ws/private", venue.addr().port()))
            .extra_root_ca_pem(venue.ca_pem())
            .idle(IdleStrategy::Backoff),
    );
    wait_until("the handshake fails", || handle.last_error().is_some());
    match handle.last_error() {
        Some(SessionError::Tls(reason)) => {
            assert!(reason.to_lowercase().contains("name"), "{reason}")
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(engine.stats().sessions, 0);
    assert_eq!(venue.stats().logins_ok, 0);
}

// ----- JSON injection ------------------------------------------------------------------------

#[test]
fn request_fields_that_could_inject_json_are_refused_when_built() {
    for bad in [
        "BTC\",\"x",
        "BTC\\",
        "BTC\"}",
        "BTC\n",
        "BTC\u{0}",
        "btcusdt",
        "BTC USDT",
        "",
    ] {
        assert!(InstId::new(bad).is_err(), "instId {bad:?}");
    }
    for bad in ["1\"}", "1\\", "1,\"x\":1", "12a", "", "1\u{7f}"] {
        assert!(OrderRef::order_id(bad).is_err(), "orderId {bad:?}");
    }
    for bad in ["a\"b", "a\\b", "a\nb", "a}b", "a,b", "a b", "\u{e9}", ""] {
        assert!(OrderRef::client_oid(bad).is_err(), "clientOid {bad:?}");
    }
    for bad in ["1\",\"op\":\"login", "a\\b", "a\tb", "a\u{0}", "{", ""] {
        assert!(RequestId::new(bad).is_err(), "id {bad:?}");
    }
    for (key, passphrase) in [("k\"", "p"), ("k", "p\""), ("k", "p\\"), ("k\n", "p")] {
        assert!(
            Credentials::new(key, "s", passphrase).is_err(),
            "{key:?} {passphrase:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the strings, a request is either refused field by field when built, or encodes
    /// to JSON that says exactly what was given and nothing else.
    #[test]
    fn a_cancel_that_can_be_built_encodes_to_exactly_its_fields(
        id in r#"[A-Za-z0-9 "\\{}\[\]:,_#+.\-\n\t\u{0}\u{e9}]{0,45}"#,
        inst in r#"[A-Z0-9a-z "\\{}:,]{0,34}"#,
        oid in r#"[A-Za-z0-9 "\\{}:,_#+.\-\n\u{e9}]{0,66}"#,
        by_client_oid in any::<bool>(),
    ) {
        let built = (|| {
            let order = if by_client_oid {
                OrderRef::client_oid(&oid)?
            } else {
                OrderRef::order_id(&oid)?
            };
            Ok::<_, bitget_cancel::InvalidField>((
                RequestId::new(&id)?,
                Cancel::new(InstType::UsdtFutures, InstId::new(&inst)?, order),
            ))
        })();
        let Ok((request_id, cancel)) = built else {
            return Ok(());
        };
        let mut out = Vec::new();
        encode_cancel(&mut out, &request_id, &cancel);
        let json: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| TestCaseError::fail(format!("not JSON: {e}: {}", String::from_utf8_lossy(&out))))?;
        let order_key = if by_client_oid { "clientOid" } else { "orderId" };
        let expected = serde_json::json!({
            "op": "trade",
            "args": [{
                "id": id,
                "instType": "USDT-FUTURES",
                "instId": inst,
                "channel": "cancel-order",
                "params": { order_key: oid },
            }],
        });
        prop_assert_eq!(json, expected);
    }

    /// The same for the login: credentials that can be built encode to JSON with exactly them.
    #[test]
    fn credentials_that_can_be_built_encode_a_login_with_exactly_them(
        key in r#"[A-Za-z0-9 "\\{}:,\-\n\u{e9}]{1,20}"#,
        passphrase in r#"[A-Za-z0-9 "\\{}:,\-\n\u{e9}]{1,20}"#,
    ) {
        let Ok(creds) = Credentials::new(&key, SECRET, &passphrase) else {
            return Ok(());
        };
        let sign = sign_login(SECRET.as_bytes(), 1_700_000_000);
        let mut out = Vec::new();
        encode_login(&mut out, creds.api_key(), &passphrase, 1_700_000_000, &sign)
            .map_err(|e| TestCaseError::fail(format!("built credentials refused: {e}")))?;
        let json: serde_json::Value = serde_json::from_slice(&out)
            .map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
        prop_assert_eq!(&json["args"][0]["apiKey"], &serde_json::Value::from(key));
        prop_assert_eq!(&json["args"][0]["passphrase"], &serde_json::Value::from(passphrase));
        prop_assert_eq!(json["args"].as_array().map(Vec::len), Some(1));
    }
}
