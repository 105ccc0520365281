//! Logging never blocks the engine thread: `bitget-cancel run` with warnings on, its stderr a
//! pipe nobody reads (full after a few hundred lines), while the venue floods one connection
//! with 20,000 messages the engine cannot read (each worth a warning). The cancels are still
//! acked on time and the run ends normally once the test finally reads stderr.

#[path = "support/cli.rs"]
mod cli;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::sim::{Injection, SimConfig, SimVenue};
use cli::*;

/// Kills the child if the test fails before it ends.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_flood_of_unreadable_messages_with_stderr_a_full_pipe_costs_no_cancel() {
    let venue = SimVenue::start(SimConfig::default()).expect("the venue starts");
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 6);
    let dir = scratch_dir("cli-logging");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, venue.ca_pem()).expect("write the CA");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--url", &venue.url(), "--no-rest", "--ca-file"])
        .arg(&ca)
        .args(["--connections", "2", "--idle", "backoff"])
        .env("RUST_LOG", "bitget_cancel=warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    for (var, value) in SIM_CREDENTIALS {
        cmd.env(var, value);
    }
    let mut child = Reaper(cmd.spawn().expect("start bitget-cancel run"));
    let mut stdin = child.0.stdin.take().expect("stdin");
    let stdout = child.0.stdout.take().expect("stdout");
    // Nobody reads stderr until the end.
    let mut stderr = child.0.stderr.take().expect("stderr");
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_ok >= 2)
        .expect("both connections log in");

    // 20,000 messages the engine cannot read, on the first connection, in the background.
    let flood = std::thread::scope(|s| {
        let venue = &venue;
        let flooding = s.spawn(move || {
            venue.inject_on(
                1,
                Injection::TextRepeated {
                    text: "not json".into(),
                    times: 20_000,
                },
            )
        });
        std::thread::sleep(Duration::from_millis(200));
        for order in &orders {
            writeln!(
                stdin,
                r#"{{"instType":"SPOT","instId":"BTCUSDT","orderId":"{}"}}"#,
                order.order_id
            )
            .expect("write a line");
        }
        drop(stdin);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = Vec::new();
        while lines.len() < orders.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => panic!(
                    "only {} outcomes in 30 s (the engine thread blocked?): {lines:?}",
                    lines.len()
                ),
            }
        }
        flooding.join().expect("the flood thread");
        lines
    });
    for line in &flood {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(v["status"], "acked", "{line}");
        let round_trip = v["round_trip_ns"].as_u64().expect("a round trip");
        assert!(round_trip < 5_000_000_000, "late: {line}");
    }
    // The run ends normally once its stderr is read.
    let drained = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for run") {
            break status;
        }
        assert!(Instant::now() < deadline, "run never ended");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let text = drained.join().expect("stderr");
    assert!(
        text.contains("cannot read"),
        "the first warnings were written: {}",
        &text[..text.len().min(2000)]
    );
    assert!(
        text.lines().filter(|l| l.contains("cannot read")).count() < 100,
        "rate-limited: the flood is counted, not written line by line"
    );
}
