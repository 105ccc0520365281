//! SIGINT and SIGTERM: `sim` stops cleanly; `run` reports what it has read and exits 130.

#[path = "support/cli.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{BIN, ENV_VARS, PATIENCE, SIM_CREDENTIALS, SimProcess, scratch_dir};

/// Kills and reaps a child on drop, so that a failing test leaves no process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill(1)");
    assert!(status.success());
}

/// Waits for the child to exit, with the usual safety net.
fn exit_code(child: &mut Reaped) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for the child") {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the child did not exit in time");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sim_stops_cleanly_on_sigterm() {
    let dir = scratch_dir("sim-sigterm");
    let mut sim = Reaped(
        Command::new(BIN)
            .args(["sim", "--listen", "127.0.0.1:0", "--ca-out"])
            .arg(dir.join("ca.pem"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(sim.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("wss://localhost:"), "{first:?}");
    signal(&sim.0, "TERM");
    assert_eq!(exit_code(&mut sim), Some(0));
    let mut stderr = String::new();
    sim.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("sim: stopped"), "{stderr}");
}

#[test]
fn run_interrupted_reports_the_lines_it_read_and_exits_130() {
    let dir = scratch_dir("run-sigint");
    let book = dir.join("book.jsonl");
    let sim = SimProcess::start(
        &dir,
        &["--generate", "1", "--orders-out", book.to_str().unwrap()],
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--url", &sim.url, "--ca-file"])
        .arg(&sim.ca_file)
        .args(["--idle", "backoff"]);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(SIM_CREDENTIALS);
    let mut run = Reaped(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // One line, and stdin stays open: run is still reading when the signal comes.
    let mut stdin = run.0.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(&book).unwrap()).unwrap();
    stdin.flush().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = run.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(PATIENCE).expect("an outcome for line 1");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        (v["line"].as_u64(), v["status"].as_str()),
        (Some(1), Some("acked"))
    );
    signal(&run.0, "INT");
    assert_eq!(exit_code(&mut run), Some(130));
    let mut stderr = String::new();
    run.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    drop(stdin);
}
