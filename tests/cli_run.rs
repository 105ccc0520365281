//! `bitget-cancel run` against `bitget-cancel sim`, both driven as built binaries.

#[path = "support/cli.rs"]
mod support;

use std::net::TcpListener;

use assert_cmd::Command;
use bitget_cancel::Via;
use bitget_cancel::jsonl::{self, LineStatus, OutcomeLine};
use support::{
    BIN, ENV_VARS, PATIENCE, SIM_CREDENTIALS, SimProcess, outcomes_by_line, run_against,
    run_against_with, scratch_dir,
};

const BOOK: &str = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001"}
{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000002","clientOid":"spot-2"}
{"instType":"USDT-FUTURES","instId":"ETHUSDT","orderId":"1100000000000000003","clientOid":"fut-3"}
"#;

/// Lines 1 to 10: three resting orders, two unknown ones, four bad lines and a blank line.
const INPUT: &str = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001"}
{"instType":"SPOT","instId":"BTCUSDT","clientOid":"spot-2","id":"mine-2"}
{"instType":"SPOT","instId":"BTCUSDT","orderId":"1999999999999999999"}
not json at all

{"instType":"USDT-FUTURES","instId":"ETHUSDT","clientOid":"fut-3"}
{"instType":"SPOT","instId":"btc-usdt","orderId":"1"}
{"instType":"USDT-FUTURES","instId":"ETHUSDT","orderId":"77"}
{"instType":"SPOT","instId":"BTCUSDT"}
{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","price":"1"}
"#;

fn sim_with_book(name: &str) -> SimProcess {
    let dir = scratch_dir(name);
    let book = dir.join("book.jsonl");
    std::fs::write(&book, BOOK).unwrap();
    SimProcess::start(
        &dir,
        &[
            "--orders",
            book.to_str().unwrap(),
            "--max-msgs-per-sec",
            "1000",
        ],
    )
}

#[test]
fn run_reports_exactly_one_outcome_per_line_with_the_right_status() {
    let sim = sim_with_book("run-mix");
    let out = run_against(&sim, &SIM_CREDENTIALS, INPUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let by_line = outcomes_by_line(&out.stdout);
    // Every non-blank line (all but 5), once.
    assert_eq!(
        by_line.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 6, 7, 8, 9, 10],
        "{stderr}"
    );
    let status = |line: u64| by_line[&line]["status"].as_str().unwrap().to_string();
    for line in [1, 2, 6] {
        assert_eq!(status(line), "acked", "line {line}: {}", by_line[&line]);
        assert_eq!(by_line[&line]["code"], 0);
        assert!(by_line[&line]["round_trip_ns"].as_u64().unwrap() > 0);
        assert!(by_line[&line]["tick_to_wire_ns"].as_u64().unwrap() > 0);
    }
    for line in [1, 2, 3, 6, 8] {
        let v = &by_line[&line];
        assert_eq!(v["attempts"], 1, "line {line}: {v}");
        assert!(v["via"].is_u64(), "a connection number, line {line}: {v}");
    }
    assert!(
        stderr.contains("pool of 2:") && stderr.contains("REST: 0 cancels sent"),
        "the summary shows the paths used: {stderr}"
    );
    assert!(
        by_line.values().all(|v| v.get("final").is_none()
            && v.get("filled_size").is_none()
            && v.get("final_source").is_none()
            && v.get("final_ns").is_none()),
        "without --confirm the lines are as they always were"
    );
    assert!(!stderr.contains("final words"), "{stderr}");
    assert_eq!(by_line[&2]["id"], "mine-2", "the caller's id is kept");
    assert!(
        by_line[&1]["id"].is_string(),
        "an engine-assigned id is shown"
    );
    assert_eq!(status(3), "rejected");
    assert_eq!(by_line[&3]["code"], 43001);
    assert_eq!(by_line[&3]["msg"], "The order does not exist");
    assert_eq!(status(8), "rejected");
    assert_eq!(by_line[&8]["code"], 41101);
    for (line, reason) in [
        (4, "not valid JSON"),
        (7, "invalid instId"),
        (9, "orderId or clientOid is required"),
        (10, "unknown field \"price\""),
    ] {
        let v = &by_line[&line];
        assert_eq!(v["status"], "invalid", "line {line}: {v}");
        assert!(v["id"].is_null(), "line {line}: {v}");
        assert!(
            v["msg"].as_str().unwrap().contains(reason),
            "line {line}: {v}"
        );
    }
}

#[test]
fn run_confirm_gives_every_sent_line_its_final_word_and_null_to_the_others() {
    let sim = sim_with_book("run-confirm");
    let out = run_against_with(
        &sim,
        &SIM_CREDENTIALS,
        INPUT,
        &["--confirm", "--confirm-timeout-ms", "4000"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(
        by_line.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 6, 7, 8, 9, 10],
        "{stderr}"
    );
    for line in [1, 2, 6] {
        let v = &by_line[&line];
        assert_eq!(
            (
                v["status"].as_str(),
                v["final"].as_str(),
                v["final_source"].as_str()
            ),
            (Some("acked"), Some("cancelled"), Some("push")),
            "line {line}: {v}"
        );
        assert_eq!(v["filled_size"], "0", "line {line}: {v}");
        let (final_ns, round_trip_ns) = (v["final_ns"].as_u64(), v["round_trip_ns"].as_u64());
        assert!(
            final_ns.unwrap() >= round_trip_ns.unwrap(),
            "the final word comes after the reply: {v}"
        );
    }
    // Orders the venue does not know: its order query says so, twice.
    for line in [3, 8] {
        let v = &by_line[&line];
        assert_eq!(v["status"], "rejected", "line {line}: {v}");
        assert_eq!(v["final"], "unconfirmed", "line {line}: {v}");
        assert!(
            v["filled_size"].is_null() && v["final_source"].is_null(),
            "{v}"
        );
        assert!(v["final_ns"].as_u64().is_some(), "{v}");
    }
    for line in [4, 7, 9, 10] {
        let v = &by_line[&line];
        assert_eq!(v["status"], "invalid", "line {line}: {v}");
        for field in ["final", "filled_size", "final_source", "final_ns"] {
            assert!(v[field].is_null(), "present and null, line {line}: {v}");
            assert!(v.get(field).is_some(), "present and null, line {line}: {v}");
        }
    }
    assert!(
        stderr.contains(
            "final words: 3 cancelled, 0 filled, 0 live, 2 unconfirmed (3 by push, 0 by REST)"
        ),
        "{stderr}"
    );
    // The lines read back as the library's type, the final word's fields with them.
    for row in String::from_utf8_lossy(&out.stdout).lines() {
        let line: OutcomeLine = serde_json::from_str(row).unwrap();
        assert!(line.confirm.is_some(), "{row}");
        assert_eq!(line.to_json(), row);
    }
}

#[test]
fn run_reports_every_line_not_sent_with_the_venues_code_when_credentials_are_refused() {
    let sim = sim_with_book("run-bad-credentials");
    let wrong_secret = [
        ("BITGET_API_KEY", "sim-key"),
        ("BITGET_API_SECRET", "not-the-secret"),
        ("BITGET_API_PASSPHRASE", "sim-passphrase"),
    ];
    let input = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001"}
{"instType":"USDT-FUTURES","instId":"ETHUSDT","clientOid":"fut-3"}
{"instType":"SPOT","instId":"BTCUSDT","orderId":"1999999999999999999"}
"#;
    let out = run_against(&sim, &wrong_secret, input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret leaked: {stderr}"
    );
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line.len(), 3);
    for (line, v) in &by_line {
        assert_eq!(v["status"], "not_sent", "line {line}: {v}");
        // 30015: the signature made with the wrong secret does not verify.
        assert_eq!(v["code"], 30015, "line {line}: {v}");
    }
}

#[test]
fn run_rest_only_with_refused_credentials_exits_2_with_every_line_not_sent_on_every_run() {
    let sim = sim_with_book("run-rest-only-bad-credentials");
    let wrong_secret = [
        ("BITGET_API_KEY", "sim-key"),
        ("BITGET_API_SECRET", "not-the-secret"),
        ("BITGET_API_PASSPHRASE", "sim-passphrase"),
    ];
    let input = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001"}
{"instType":"USDT-FUTURES","instId":"ETHUSDT","clientOid":"fut-3"}
"#;
    for run in 0..3 {
        let out = run_against_with(&sim, &wrong_secret, input, &["--rest-only"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "run {run}: {stderr}");
        assert!(stderr.contains("refused the credentials"), "{stderr}");
        let by_line = outcomes_by_line(&out.stdout);
        assert_eq!(by_line.len(), 2, "run {run}");
        for (line, v) in &by_line {
            // The REST signature made with the wrong secret does not verify: 40009, never a
            // verdict on the order.
            assert_eq!(
                (&v["status"], &v["reason"], &v["code"]),
                (
                    &serde_json::json!("not_sent"),
                    &serde_json::json!("login_rejected"),
                    &serde_json::json!(40009)
                ),
                "run {run}, line {line}: {v}"
            );
        }
    }
}

#[test]
fn run_with_refused_credentials_and_no_input_still_exits_2() {
    let sim = sim_with_book("run-bad-key-no-input");
    let wrong_key = [
        ("BITGET_API_KEY", "someone-else"),
        ("BITGET_API_SECRET", "sim-secret"),
        ("BITGET_API_PASSPHRASE", "sim-passphrase"),
    ];
    let out = run_against(&sim, &wrong_key, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("30011"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn run_refuses_a_core_the_machine_does_not_have_before_connecting() {
    // A listener that would see the connection if `run` tried one.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "--url",
        &format!("wss://127.0.0.1:{port}/v2/ws/private"),
        "--no-rest",
        "--core",
        "100000",
    ]);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .envs(SIM_CREDENTIALS)
        .write_stdin("")
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot pin the engine thread to core 100000"),
        "{stderr}"
    );
    assert!(listener.accept().is_err(), "run connected anyway");
    assert!(out.stdout.is_empty());
}

#[test]
fn run_refuses_to_start_when_a_credential_variable_is_missing() {
    // A listener that would see the connection if `run` tried one.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "wss://127.0.0.1:{}/v2/ws/private",
        listener.local_addr().unwrap().port()
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--url", &url]);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("BITGET_API_KEY", "k")
        .env("BITGET_API_PASSPHRASE", "p")
        .write_stdin(r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1"}"#)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("BITGET_API_SECRET"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "run connected before checking its credentials"
    );
}

#[test]
fn run_cancels_every_order_of_a_book_generated_by_sim() {
    let dir = scratch_dir("run-generated");
    let book = dir.join("generated.jsonl");
    let sim = SimProcess::start(
        &dir,
        &[
            "--generate",
            "6",
            "--orders-out",
            book.to_str().unwrap(),
            "--max-msgs-per-sec",
            "1000",
        ],
    );
    let input = std::fs::read_to_string(&book).unwrap();
    assert_eq!(input.lines().count(), 6);
    let out = run_against(&sim, &SIM_CREDENTIALS, &input);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line.len(), 6);
    assert!(
        by_line.values().all(|v| v["status"] == "acked"),
        "{by_line:?}"
    );
    // Each order can be cancelled once: the same book again is all rejected.
    let again = run_against(&sim, &SIM_CREDENTIALS, &input);
    let by_line = outcomes_by_line(&again.stdout);
    assert!(
        by_line.values().all(|v| v["status"] == "rejected"),
        "{by_line:?}"
    );
}

#[test]
fn sim_refuses_an_orders_file_with_a_bad_line_and_names_it() {
    let dir = scratch_dir("sim-bad-book");
    let book = dir.join("book.jsonl");
    std::fs::write(
        &book,
        "{\"instType\":\"SPOT\",\"instId\":\"BTCUSDT\",\"orderId\":\"1\"}\n\n{\"instType\":\"SPOT\",\"instId\":\"BTCUSDT\"}\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["sim", "--orders", book.to_str().unwrap()])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "sim must not print a URL it does not serve"
    );
}

#[test]
fn run_reports_not_sent_and_exits_1_when_the_venue_cannot_be_reached() {
    // A port that was free a moment ago: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "--url",
        &format!("wss://127.0.0.1:{port}/v2/ws/private"),
    ])
    .args(["--max-queue-ms", "200", "--idle", "backoff"]);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .envs(SIM_CREDENTIALS)
        .write_stdin("{\"instType\":\"SPOT\",\"instId\":\"BTCUSDT\",\"orderId\":\"1\"}\n")
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not log in to the venue"), "{stderr}");
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line.len(), 1);
    assert_eq!(by_line[&1]["status"], "not_sent");
    assert_eq!(by_line[&1]["reason"], "no_connection");
    let msg = by_line[&1]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("no connection to the venue came up: connection failed: "),
        "{msg}"
    );
}

#[test]
fn run_reports_a_certificate_nobody_trusts_in_each_lines_reason() {
    let sim = sim_with_book("run-untrusted-ca");
    let mut cmd = Command::new(BIN);
    // No --ca-file: the venue's certificate is signed by a CA the engine does not trust.
    cmd.args(["run", "--url", &sim.url, "--rest-url", &sim.rest_url])
        .args(["--max-queue-ms", "1500", "--idle", "backoff"]);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .envs(SIM_CREDENTIALS)
        .write_stdin("{\"instType\":\"SPOT\",\"instId\":\"BTCUSDT\",\"orderId\":\"1\"}\n")
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let by_line = outcomes_by_line(&out.stdout);
    let line = &by_line[&1];
    assert_eq!(
        (&line["status"], &line["reason"], &line["code"]),
        (
            &serde_json::json!("not_sent"),
            &serde_json::json!("no_connection"),
            &serde_json::Value::Null
        ),
        "{line}"
    );
    let msg = line["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("no connection to the venue came up: tls: "),
        "{msg}"
    );
    assert!(msg.contains("UnknownIssuer"), "{msg}");
}

#[test]
fn run_rest_only_cancels_over_rest_and_says_so() {
    let sim = sim_with_book("run-rest-only");
    let input = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001"}
{"instType":"USDT-FUTURES","instId":"ETHUSDT","orderId":"1999999999999999999"}
"#;
    let out = run_against_with(&sim, &SIM_CREDENTIALS, input, &["--rest-only"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line[&1]["status"], "acked", "{}", by_line[&1]);
    assert_eq!(by_line[&1]["via"], "rest");
    assert_eq!(by_line[&2]["status"], "rejected", "{}", by_line[&2]);
    assert_eq!(
        by_line[&2]["code"], 40768,
        "the futures 'order does not exist' over REST"
    );
    assert_eq!(by_line[&2]["via"], "rest");
    assert!(
        stderr.contains("REST: 2 cancels sent, 2 verdicts"),
        "{stderr}"
    );
}

#[test]
fn huge_intervals_given_to_run_never_wrap() {
    let sim = sim_with_book("run-huge-intervals");
    let input = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001"}
"#;
    let huge = u64::MAX.to_string();
    let out = run_against_with(
        &sim,
        &SIM_CREDENTIALS,
        input,
        &["--ping-interval-ms", &huge, "--ack-timeout-ms", &huge],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line[&1]["status"], "acked", "{}", by_line[&1]);
}

#[test]
fn run_output_reads_back_as_the_librarys_outcome_lines() {
    let sim = sim_with_book("run-typed");
    let out = run_against(&sim, &SIM_CREDENTIALS, INPUT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<OutcomeLine> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 9, "{text}");
    for (row, line) in text.lines().zip(&lines) {
        // The same bytes: the command line prints with the type it can be read back into.
        assert_eq!(line.to_json(), row);
    }
    let by_line = |n: u64| lines.iter().find(|l| l.line == n).unwrap();
    assert_eq!(by_line(1).status, LineStatus::Acked);
    assert!(matches!(by_line(1).via, Some(Via::Connection(_))));
    assert_eq!(
        (by_line(3).status, by_line(3).code),
        (LineStatus::Rejected, Some(43001))
    );
    assert_eq!(by_line(4).status, LineStatus::Invalid);
    assert_eq!(by_line(4).reason.as_deref(), Some("invalid_input"));
    // The input lines read with the library's parser as `run` reads them.
    let valid: Vec<u64> = INPUT
        .lines()
        .zip(1..)
        .filter(|(l, _)| jsonl::parse_cancel(l.as_bytes()).is_ok())
        .map(|(_, n)| n)
        .collect();
    let sent: Vec<u64> = lines
        .iter()
        .filter(|l| l.status != LineStatus::Invalid)
        .map(|l| l.line)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(valid, sent);
}

#[test]
fn run_refuses_a_ca_file_it_cannot_read_or_use_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "wss://127.0.0.1:{}/v2/ws/private",
        listener.local_addr().unwrap().port()
    );
    let dir = scratch_dir("run-bad-ca");
    let not_a_certificate = dir.join("notes.txt");
    std::fs::write(&not_a_certificate, "not a certificate\n").unwrap();
    for (ca_file, expected) in [
        (dir.join("missing.pem"), "cannot read the CA file"),
        (not_a_certificate, "the extra root CA cannot be used"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--url", &url, "--ca-file"]).arg(&ca_file);
        for var in ENV_VARS {
            cmd.env_remove(var);
        }
        let out = cmd
            .envs(SIM_CREDENTIALS)
            .write_stdin(r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1"}"#)
            .timeout(PATIENCE)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "run connected before checking its CA file"
    );
}

#[test]
fn run_takes_priorities_and_cancel_all_lines_and_refuses_a_spot_one_without_a_symbol() {
    let sim = sim_with_book("run-cancel-all");
    let input = r#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1100000000000000001","priority":9}
{"cancelAll":true,"instType":"USDT-FUTURES"}
{"cancelAll":true,"instType":"SPOT"}
{"cancelAll":true,"instType":"SPOT","instId":"BTCUSDT","id":"all-spot"}
{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","priority":256}
"#;
    let out = run_against_with(&sim, &SIM_CREDENTIALS, input, &["--no-batch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line.len(), 5, "{stderr}");
    assert_eq!(by_line[&1]["status"], "acked", "{}", by_line[&1]);
    assert!(by_line[&1].get("cancel_all").is_none());
    let futures = &by_line[&2];
    assert_eq!(futures["status"], "acked", "{futures}");
    assert_eq!(
        (futures["cancel_all"].as_bool(), futures["via"].as_str()),
        (Some(true), Some("rest"))
    );
    assert_eq!(
        futures["succeeded"], 1,
        "the book's one futures order: {futures}"
    );
    assert_eq!(futures["failed"], 0);
    assert_eq!(by_line[&3]["status"], "invalid");
    assert!(
        by_line[&3]["msg"]
            .as_str()
            .unwrap()
            .contains("required on SPOT"),
        "{}",
        by_line[&3]
    );
    let spot = &by_line[&4];
    assert_eq!(
        (spot["status"].as_str(), spot["id"].as_str()),
        (Some("acked"), Some("all-spot")),
        "{spot}"
    );
    assert_eq!(spot["asynchronous"], true);
    assert_eq!(by_line[&5]["status"], "invalid");
    assert!(by_line[&5]["msg"].as_str().unwrap().contains("priority"));
    assert!(
        stderr.contains("0 batches carrying 0 cancels")
            && stderr.contains("2 cancel-alls (2 acked)"),
        "{stderr}"
    );
}
