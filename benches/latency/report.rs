//! The machine, the table on stdout and `target/latency-report.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::workload::{BenchResult, ContenderReport, Percentiles, Plan, WireSource};

/// What the figures were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// Cores available to the process.
    pub cores: usize,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
    /// `/proc/loadavg` when the run started.
    pub load_at_start: String,
    /// `/proc/loadavg` when the run ended.
    pub load_at_end: String,
    /// UTC date of the run (YYYY-MM-DD).
    pub date: String,
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The first three fields of `/proc/loadavg`.
pub fn load() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Machine {
    /// Describes this machine now.
    pub fn describe() -> Machine {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (y, m, d) = civil((secs / 86_400) as i64);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            load_at_start: load(),
            load_at_end: String::new(),
            date: format!("{y:04}-{m:02}-{d:02}"),
        }
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// How much was run.
    pub plan: Plan,
    /// Pinning in force for everyone.
    pub pinning: String,
    /// One entry per contender.
    pub contenders: Vec<ContenderReport>,
    /// Ratios against the targets, when the contenders they need ran.
    pub targets: Vec<Target>,
}

/// One target and how this run did.
#[derive(Debug, Serialize)]
pub struct Target {
    /// What is asked.
    pub what: String,
    /// The measured ratio or value.
    pub measured: f64,
    /// The bound.
    pub bound: f64,
    /// Whether it was met.
    pub met: bool,
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn find<'a>(reports: &'a [ContenderReport], name: &str) -> Option<&'a ContenderReport> {
    reports.iter().find(|r| r.name == name)
}

/// The targets of the specification, computed from one run.
pub fn targets(reports: &[ContenderReport]) -> Vec<Target> {
    let mut out = Vec::new();
    let ours = find(reports, "bitget-cancel");
    let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    let mut push = |what: &str, measured: f64, bound: f64, at_most: bool| {
        out.push(Target {
            what: what.into(),
            measured: (measured * 100.0).round() / 100.0,
            bound,
            met: if at_most {
                measured <= bound
            } else {
                measured >= bound
            },
        });
    };
    let share = |r: &ContenderReport, p: fn(&Percentiles) -> u64| {
        r.engine_share_ns.as_ref().map(|s| p(s) as f64 / 1000.0)
    };
    if let Some(inline) = find(reports, "bitget-cancel-inline") {
        if let Some(floor) = find(reports, "floor") {
            push(
                "round-trip p50: bitget-cancel-inline / floor (at most)",
                ratio(inline.round_trip_ns.p50, floor.round_trip_ns.p50),
                1.05,
                true,
            );
            push(
                "round-trip p99: bitget-cancel-inline / floor (at most)",
                ratio(inline.round_trip_ns.p99, floor.round_trip_ns.p99),
                1.3,
                true,
            );
        }
        if let Some(p50) = share(inline, |p| p.p50) {
            push(
                "engine share p50, bitget-cancel-inline, microseconds (at most)",
                p50,
                0.5,
                true,
            );
        }
        if let Some(tokio) = find(reports, "tokio-tungstenite") {
            push(
                "round-trip p50: tokio / bitget-cancel-inline (at least)",
                ratio(tokio.round_trip_ns.p50, inline.round_trip_ns.p50),
                2.0,
                false,
            );
            push(
                "round-trip p99: tokio / bitget-cancel-inline (at least)",
                ratio(tokio.round_trip_ns.p99, inline.round_trip_ns.p99),
                2.0,
                false,
            );
        }
        push(
            "allocations per cancel, bitget-cancel-inline (at most)",
            inline.allocs_per_cancel,
            0.0,
            true,
        );
    }
    if let Some(ours) = ours {
        if let Some(floor) = find(reports, "floor") {
            push(
                "round-trip p50: bitget-cancel / floor (at most)",
                ratio(ours.round_trip_ns.p50, floor.round_trip_ns.p50),
                1.15,
                true,
            );
        }
        if let Some(p50) = share(ours, |p| p.p50) {
            push(
                "engine share p50, bitget-cancel, microseconds (at most)",
                p50,
                1.0,
                true,
            );
        }
        if let Some(p99) = share(ours, |p| p.p99) {
            push(
                "engine share p99, bitget-cancel, microseconds (at most)",
                p99,
                3.0,
                true,
            );
        }
        if let Some(tokio) = find(reports, "tokio-tungstenite") {
            push(
                "round-trip p50: tokio / bitget-cancel (at least)",
                ratio(tokio.round_trip_ns.p50, ours.round_trip_ns.p50),
                2.0,
                false,
            );
            push(
                "round-trip p99: tokio / bitget-cancel (at least)",
                ratio(tokio.round_trip_ns.p99, ours.round_trip_ns.p99),
                3.0,
                false,
            );
        }
        if let Some(boomnet) = find(reports, "boomnet") {
            push(
                "round-trip p50: bitget-cancel / boomnet (at most)",
                ratio(ours.round_trip_ns.p50, boomnet.round_trip_ns.p50),
                1.0,
                true,
            );
            push(
                "round-trip p99: bitget-cancel / boomnet (at most)",
                ratio(ours.round_trip_ns.p99, boomnet.round_trip_ns.p99),
                1.0,
                true,
            );
        }
        if let Some(pool) = find(reports, "bitget-cancel-pool2") {
            push(
                "round-trip p50: two connections / one (at most)",
                ratio(pool.round_trip_ns.p50, ours.round_trip_ns.p50),
                1.05,
                true,
            );
        }
        if let Some(frozen) = find(reports, "bitget-cancel-frozen") {
            push(
                "round-trip p99: first connection frozen, hedged / one healthy connection (at most)",
                ratio(frozen.round_trip_ns.p99, ours.round_trip_ns.p99),
                2.0,
                true,
            );
        }
        push(
            "tick-to-wire p50, microseconds (under)",
            ours.tick_to_wire_ns.p50 as f64 / 1000.0,
            3.0,
            true,
        );
        push(
            "allocations per cancel (at most)",
            ours.allocs_per_cancel,
            0.0,
            true,
        );
    }
    out
}

/// The table, in microseconds.
pub fn table(report: &Report) -> String {
    let mut s = String::new();
    let m = &report.machine;
    s.push_str(&format!(
        "{} | {} cores | Linux {} | {} | load {} -> {}\n",
        m.cpu, m.cores, m.kernel, m.date, m.load_at_start, m.load_at_end
    ));
    s.push_str(&format!(
        "{} measured round trips per contender after {} warm-up, back to back; {} bursts of {}; {}\n\n",
        report.plan.cancels, report.plan.warmup, report.plan.bursts, report.plan.burst_size, report.pinning
    ));
    s.push_str(
        "| contender | round trip p50 | p90 | p99 | p99.9 | max | tick-to-wire p50 | p99 | push-to-server p50 | burst 100 | allocs/cancel |\n",
    );
    s.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in &report.contenders {
        let rt: &Percentiles = &r.round_trip_ns;
        let mark = match r.tick_to_wire_source {
            WireSource::Client => "",
            WireSource::ServerReceive => "*",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {}{mark} | {}{mark} | {} | {} | {:.2} |\n",
            r.name,
            us(rt.p50),
            us(rt.p90),
            us(rt.p99),
            us(rt.p999),
            us(rt.max),
            us(r.tick_to_wire_ns.p50),
            us(r.tick_to_wire_ns.p99),
            us(r.push_to_server_receive_ns.p50),
            us(r.burst_100_ns),
            r.allocs_per_cancel,
        ));
    }
    for r in &report.contenders {
        if let Some(e) = &r.engine_share_ns {
            s.push_str(&format!(
                "\n{}: engine share (intent accepted -> the write(2) that carries it) p50 {} / \
                 p99 {} / p99.9 {}",
                r.name,
                us(e.p50),
                us(e.p99),
                us(e.p999)
            ));
        }
    }
    for r in &report.contenders {
        if let Some(h) = &r.handover_ns {
            s.push_str(&format!(
                "\n{}: hand-over (outcome decided on the engine thread -> in the strategy \
                 thread's hands) p50 {} / p99 {} / p99.9 {}",
                r.name,
                us(h.p50),
                us(h.p99),
                us(h.p999)
            ));
        }
    }
    for r in &report.contenders {
        if let Some(w) = &r.write_syscall_ns {
            s.push_str(&format!(
                "\n{}: the write(2) that hands the frame to the kernel takes p50 {} / p99 {} \
                 (inside tick-to-wire)",
                r.name,
                us(w.p50),
                us(w.p99)
            ));
        }
    }
    if let (Some(plain), Some(fin)) = (
        find(&report.contenders, "bitget-cancel"),
        find(&report.contenders, "bitget-cancel-final"),
    ) {
        s.push_str(&format!(
            "\nbitget-cancel-final: intent -> final word (push path) p50 {} / p99 {}, beside \
             bitget-cancel's intent -> outcome p50 {} / p99 {} (same run, same server)",
            us(fin.round_trip_ns.p50),
            us(fin.round_trip_ns.p99),
            us(plain.round_trip_ns.p50),
            us(plain.round_trip_ns.p99),
        ));
    }
    s.push_str(
        "\n\nAll times in microseconds. * tick-to-wire not exposed by the contender: push to the \
         server's receive time instead (same clock).\n",
    );
    if !report.targets.is_empty() {
        s.push('\n');
        for t in &report.targets {
            s.push_str(&format!(
                "[{}] {}: {} (bound {})\n",
                if t.met { "met" } else { "MISSED" },
                t.what,
                t.measured,
                t.bound
            ));
        }
    }
    s
}

/// `target/latency-report.json` under the directory cargo builds into.
pub fn json_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("latency-report.json")
}

/// Writes the report as JSON.
pub fn write_json(report: &Report, path: &Path) -> BenchResult<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, serde_json::to_vec_pretty(report)?)?;
    Ok(())
}
