//! `bitget-cancel demo`: the engine against the embedded simulated venue, driven through the
//! built binary.

#[path = "support/cli.rs"]
mod support;

use assert_cmd::Command;
use support::{BIN, PATIENCE};

/// The count on the summary line that starts with `label`, e.g. `  acked   49   expected 49`.
fn count(summary: &str, label: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{summary}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count on {line:?}"))
}

#[test]
fn demo_of_50_cancels_acks_the_resting_orders_and_rejects_the_missing_one() {
    let out = Command::new(BIN)
        .args(["demo", "--cancels", "50", "--idle", "backoff"])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // 2% of 50 name orders that do not exist: one. Two race a taker's fill: a cancel that
    // loses is rejected too, and its final word says filled.
    let (acked, rejected) = (count(&stdout, "acked"), count(&stdout, "rejected"));
    assert_eq!(acked + rejected, 50, "{stdout}");
    assert!((1..=3).contains(&rejected), "{stdout}");
    assert_eq!(count(&stdout, "filled"), rejected - 1, "{stdout}");
    assert_eq!(count(&stdout, "cancelled"), acked, "{stdout}");
    assert_eq!(count(&stdout, "unconfirmed"), 1, "{stdout}");
    assert_eq!(count(&stdout, "live"), 0, "{stdout}");
    assert_eq!(count(&stdout, "unknown"), 0, "{stdout}");
    assert_eq!(count(&stdout, "not sent"), 0, "{stdout}");
    assert!(
        stdout.contains("every cancel got exactly one outcome"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "every sent cancel got exactly one final word, and each agrees with the venue's book"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("2 of them partly filled first"), "{stdout}");
    for needed in [
        "tick-to-wire",
        "round trip",
        "p99.9",
        "final (push)",
        "raised for the demo",
        "backoff",
        "pinning",
    ] {
        assert!(
            stdout.contains(needed),
            "summary lacks {needed:?}:\n{stdout}"
        );
    }
    assert!(
        stderr.contains("50/50 queued"),
        "no progress on stderr:\n{stderr}"
    );
}

#[test]
fn demo_json_summary_parses_and_accounts_for_every_cancel() {
    let out = Command::new(BIN)
        .args(["demo", "--cancels", "100", "--json", "--idle", "backoff"])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["cancels"], 100);
    let f = &v["finals"];
    let lost = f["races_lost"].as_u64().unwrap();
    assert_eq!(f["races"], 4, "{v:#}");
    assert_eq!(v["counts"]["acked"], 98 - lost, "{v:#}");
    assert_eq!(v["counts"]["rejected"], 2 + lost, "{v:#}");
    assert_eq!(v["counts"]["unknown"], 0);
    assert_eq!(v["counts"]["not_sent"], 0);
    assert_eq!(v["expected"]["acked"], 98);
    // One missing order on each product line, answered with each line's code (and a race lost
    // is one more of its line's).
    assert!(
        v["rejection_codes"]["43001"].as_u64().unwrap() >= 1,
        "{v:#}"
    );
    assert!(
        v["rejection_codes"]["41101"].as_u64().unwrap() >= 1,
        "{v:#}"
    );
    // Every final word: what the book says.
    assert_eq!(f["filled"], lost, "{v:#}");
    assert_eq!(f["cancelled"], 98 - lost, "{v:#}");
    assert_eq!(f["cancelled_partly_filled"], 4, "{v:#}");
    assert_eq!(f["unconfirmed"], 2, "{v:#}");
    assert_eq!(f["not_found"], 2, "{v:#}");
    assert_eq!(f["live"], 0, "{v:#}");
    assert_eq!(f["book_mismatches"], 0, "{v:#}");
    assert_eq!(
        f["by_push"].as_u64().unwrap() + f["by_rest"].as_u64().unwrap(),
        98,
        "the missing orders' words are unconfirmed, from no source: {v:#}"
    );
    assert_eq!(
        v["latency_ns"]["reply_to_final_push"]["count"],
        f["by_push"]
    );
    for series in ["tick_to_wire", "round_trip"] {
        let l = &v["latency_ns"][series];
        assert_eq!(l["count"], 100, "{series}: {l}");
        let p50 = l["p50"].as_u64().unwrap();
        let max = l["max"].as_u64().unwrap();
        assert!(p50 > 0 && p50 <= max, "{series}: {l}");
    }
    assert_eq!(v["limits"]["raised_for_demo"], true);
    assert_eq!(v["limits"]["live_venue_limit"], 10);
    assert_eq!(v["idle"], "backoff");
    assert_eq!(v["engine"]["sent"], 100);
    assert_eq!(v["venue"]["cancels_acked"], 98 - lost);
}

#[test]
fn demo_chaos_loses_pushes_too_and_rest_gives_those_cancels_their_final_word() {
    let out = Command::new(BIN)
        .args([
            "demo",
            "--chaos",
            "--cancels",
            "200",
            "--json",
            "--idle",
            "backoff",
        ])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("loses one order push in four"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["ok"], true, "{v:#}");
    let f = &v["finals"];
    assert!(f["pushes_lost"].as_u64().unwrap() > 0, "{v:#}");
    assert!(f["by_rest"].as_u64().unwrap() > 0, "{v:#}");
    assert_eq!(f["book_mismatches"], 0, "{v:#}");
    let words: u64 = ["cancelled", "filled", "live", "unconfirmed"]
        .iter()
        .map(|k| f[k].as_u64().unwrap())
        .sum();
    assert_eq!(words, 200, "one final word per cancel: {v:#}");
}

#[test]
fn demo_refuses_zero_cancels_as_a_usage_error() {
    let out = Command::new(BIN)
        .args(["demo", "--cancels", "0"])
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cancels"));
    assert!(out.stdout.is_empty());
}

#[test]
fn demo_chaos_names_the_dropped_connection_as_the_engine_does_and_reads_calmly() {
    let out = Command::new(BIN)
        .args(["demo", "--chaos", "--cancels", "400", "--idle", "backoff"])
        .env("RUST_LOG", "bitget_cancel=warn")
        .timeout(PATIENCE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The demo's own line, e.g. `demo: chaos: the venue dropped connection 0 after 100 cancels`.
    let said = stderr
        .lines()
        .find_map(|l| l.split("demo: chaos: the venue dropped connection ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no dropped connection named:\n{stderr}"))
        .to_string();
    // The engine's log of the first connection it lost, e.g. `connection 0 to wss://... lost: ...`.
    let logged = stderr
        .lines()
        .filter(|l| l.contains(" lost: "))
        .find_map(|l| l.split("] connection ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no lost connection in the engine's log:\n{stderr}"))
        .to_string();
    assert_eq!(said, logged, "{stderr}");
    assert!(said == "0" || said == "1", "a 0-based slot of two: {said}");
    // A TCP close without close_notify is told as what it is, not as an attack.
    assert!(!stderr.contains("truncation"), "{stderr}");
    assert!(
        stderr.contains("ended without a TLS close_notify"),
        "{stderr}"
    );
}
