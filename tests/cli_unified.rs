//! `bitget-cancel run` and `demo` with a unified trading account: `run --account unified`
//! and `run` (auto, the default) cancel over V3 against `bitget-cancel sim --account unified`,
//! and `demo --account unified` runs its cancels over V3.

#[path = "support/cli.rs"]
mod support;

use support::{
    BIN, PATIENCE, SIM_CREDENTIALS, SimProcess, outcomes_by_line, run_against_with, scratch_dir,
};

fn unified_sim(name: &str, n: usize) -> (SimProcess, String) {
    let dir = scratch_dir(name);
    let book = dir.join("generated.jsonl");
    let sim = SimProcess::start(
        &dir,
        &[
            "--account",
            "unified",
            "--generate",
            &n.to_string(),
            "--orders-out",
            book.to_str().unwrap(),
            "--max-msgs-per-sec",
            "1000",
        ],
    );
    assert!(sim.v3_url.ends_with("/v3/ws/private"), "{}", sim.v3_url);
    let input = std::fs::read_to_string(&book).unwrap();
    (sim, input)
}

fn all_acked_once(out: &std::process::Output, n: usize) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_line = outcomes_by_line(&out.stdout);
    assert_eq!(by_line.len(), n);
    for v in by_line.values() {
        assert_eq!(v["status"], "acked", "{v}");
        assert_eq!(
            v["attempts"], 1,
            "never refused for the account's kind: {v}"
        );
    }
}

#[test]
fn run_account_unified_cancels_over_v3() {
    let (sim, input) = unified_sim("run-unified", 4);
    let out = run_against_with(
        &sim,
        &SIM_CREDENTIALS,
        &input,
        &["--account", "unified", "--uta-url", &sim.v3_url],
    );
    all_acked_once(&out, 4);
}

#[test]
fn run_finds_a_unified_account_by_itself_and_cancels_over_v3() {
    let (sim, input) = unified_sim("run-auto", 3);
    let out = run_against_with(&sim, &SIM_CREDENTIALS, &input, &["--uta-url", &sim.v3_url]);
    all_acked_once(&out, 3);
}

#[test]
fn run_refuses_a_dead_mans_switch_for_a_classic_account_before_connecting() {
    let (sim, input) = unified_sim("run-dead-man-classic", 1);
    let out = run_against_with(
        &sim,
        &SIM_CREDENTIALS,
        &input,
        &["--account", "classic", "--dead-man-s", "10"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dead_man_switch"), "{stderr}");
}

#[test]
fn demo_account_unified_runs_over_v3() {
    let out = assert_cmd::Command::new(BIN)
        .args([
            "demo",
            "--account",
            "unified",
            "--cancels",
            "200",
            "--idle",
            "backoff",
            "--json",
        ])
        .timeout(PATIENCE * 6)
        .output()
        .expect("run bitget-cancel demo");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(summary["account"], "unified", "{summary}");
    assert_eq!(
        summary["account_switches"], 0,
        "V3 from the start: {summary}"
    );
    assert_eq!(summary["ok"], true, "{summary}");
}

#[test]
fn a_run_killed_without_shutdown_has_its_resting_orders_cancelled_by_the_dead_mans_switch() {
    use bitget_cancel::InstType;
    use bitget_cancel::sim::{AccountMode, MAIN_UID, SimConfig, SimVenue};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let venue = SimVenue::start(SimConfig {
        account_mode: AccountMode::Unified,
        ..SimConfig::default()
    })
    .unwrap();
    let dir = scratch_dir("run-dead-man-killed");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, venue.ca_pem()).unwrap();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--url", &venue.url(), "--uta-url", &venue.v3_url()])
        .args(["--rest-url", &venue.rest_url(), "--ca-file"])
        .arg(&ca)
        .args([
            "--account",
            "unified",
            "--dead-man-s",
            "5",
            "--idle",
            "backoff",
        ])
        // stdin stays open: run waits for cancels until it is killed.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (var, value) in SIM_CREDENTIALS {
        cmd.env(var, value);
    }
    let mut child = cmd.spawn().expect("start bitget-cancel run");
    let armed = Instant::now();
    while venue.activity().countdown_arms.is_empty() {
        assert!(
            armed.elapsed() < PATIENCE,
            "run never armed the dead man's switch"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(venue.activity().countdown_arms[0].seconds, 5);
    // Killed: no shutdown, no `"0"`. The countdown runs out and the venue cancels the book.
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    while venue.resting_orders() != 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "the book was not cancelled after the process died"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        killed.elapsed() > Duration::from_secs(1),
        "cancelled by the countdown, not by anything the process sent before it died"
    );
    assert!(
        venue.countdown_left(MAIN_UID).is_none(),
        "the switch turned itself off"
    );
    assert!(
        venue
            .activity()
            .countdown_arms
            .iter()
            .all(|a| a.seconds == 5)
    );
    for order in &orders {
        assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    }
}
