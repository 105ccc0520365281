//! Shared code for the tests that drive the `bitget-cancel` binary: a standalone simulated venue run
//! as a child process (killed when dropped, even when a test fails), scratch directories, and
//! the parsing of `run`'s output.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bitget-cancel");

/// A safety net for anything that waits on a child process; never reached when all is well.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The environment variables `run` reads its credentials from.
pub const ENV_VARS: [&str; 3] = [
    "BITGET_API_KEY",
    "BITGET_API_SECRET",
    "BITGET_API_PASSPHRASE",
];

/// The credentials `sim` accepts by default.
pub const SIM_CREDENTIALS: [(&str, &str); 3] = [
    ("BITGET_API_KEY", "sim-key"),
    ("BITGET_API_SECRET", "sim-secret"),
    ("BITGET_API_PASSPHRASE", "sim-passphrase"),
];

/// A fresh directory under cargo's scratch directory for integration tests.
pub fn scratch_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// `bitget-cancel sim` running as a child process; killed and reaped on drop.
#[derive(Debug)]
pub struct SimProcess {
    child: Child,
    /// The WebSocket URL the venue printed.
    pub url: String,
    /// The REST base URL it printed next.
    pub rest_url: String,
    /// The V3 (unified account) WebSocket URL, its third line.
    pub v3_url: String,
    /// The CA file it wrote.
    pub ca_file: PathBuf,
}

impl SimProcess {
    /// Starts `bitget-cancel sim --listen 127.0.0.1:0 --ca-out DIR/ca.pem` plus `extra` arguments
    /// and waits for its URLs on its first three lines of output.
    pub fn start(dir: &Path, extra: &[&str]) -> SimProcess {
        let ca_file = dir.join("ca.pem");
        let mut child = Command::new(BIN)
            .args(["sim", "--listen", "127.0.0.1:0", "--ca-out"])
            .arg(&ca_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bitget-cancel sim");
        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let (mut line, mut rest, mut v3) = (String::new(), String::new(), String::new());
            let _ = reader.read_line(&mut line);
            let _ = reader.read_line(&mut rest);
            let _ = reader.read_line(&mut v3);
            let _ = tx.send((line, rest, v3));
        });
        // Guard first, so that the child is killed if the URL never comes.
        let mut sim = SimProcess {
            child,
            url: String::new(),
            rest_url: String::new(),
            v3_url: String::new(),
            ca_file,
        };
        let (line, rest, v3) = rx
            .recv_timeout(PATIENCE)
            .expect("bitget-cancel sim printed no URL in time");
        sim.url = line.trim().to_string();
        sim.rest_url = rest.trim().to_string();
        sim.v3_url = v3.trim().to_string();
        assert!(
            sim.url.starts_with("wss://localhost:"),
            "unexpected first line from sim: {line:?}"
        );
        assert!(
            sim.rest_url.starts_with("https://localhost:"),
            "unexpected second line from sim: {rest:?}"
        );
        sim
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bitget-cancel run` against `sim` with the given credentials (each `(variable, value)`), fast
/// limits, and `input` on stdin.
pub fn run_against(
    sim: &SimProcess,
    credentials: &[(&str, &str)],
    input: &str,
) -> std::process::Output {
    run_against_with(sim, credentials, input, &[])
}

/// [`run_against`] with `extra` arguments after the usual ones.
pub fn run_against_with(
    sim: &SimProcess,
    credentials: &[(&str, &str)],
    input: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.args([
        "run",
        "--url",
        &sim.url,
        "--rest-url",
        &sim.rest_url,
        "--ca-file",
    ])
    .arg(&sim.ca_file)
    .args([
        "--max-msgs-per-sec",
        "1000",
        "--max-cancels-per-sec",
        "1000",
        "--idle",
        "backoff",
    ])
    .args(extra);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    for (var, value) in credentials {
        cmd.env(var, value);
    }
    cmd.write_stdin(input)
        .timeout(PATIENCE)
        .output()
        .expect("run bitget-cancel run")
}

/// `run`'s output, one JSON object per line, keyed by input line number; panics on a line that
/// is not an object with a `line` number or on two outcomes for one line.
pub fn outcomes_by_line(stdout: &[u8]) -> BTreeMap<u64, serde_json::Value> {
    let text = std::str::from_utf8(stdout).expect("run prints UTF-8");
    let mut by_line = BTreeMap::new();
    for row in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(row).unwrap_or_else(|e| panic!("not JSON ({e}): {row:?}"));
        let line = v["line"]
            .as_u64()
            .unwrap_or_else(|| panic!("no line number: {row}"));
        assert!(
            by_line.insert(line, v).is_none(),
            "two outcomes for line {line}:\n{text}"
        );
    }
    by_line
}
