//! Latency against the peers, side by side, in one run on one machine against one server.
//!
//! `cargo bench --bench latency` runs every contender through the same workload against the same
//! loopback TLS WebSocket server, prints a table and writes `target/latency-report.json`.
//! `LATENCY_QUICK=1` runs a CI-sized version (under a minute).
//!
//! The contenders:
//! - `bitget-cancel-inline`: this crate's engine driven on the strategy thread itself
//!   (`Engine::inline`), one connection: `cancel` writes the frame, `poll` reads the reply;
//! - `bitget-cancel`: this crate's engine with one connection, busy-spinning, pinned to core 1;
//!   `bitget-cancel-pool2`, the same with a pool of two connections; `bitget-cancel-frozen`, a
//!   pool of two whose first connection never answers a cancel, hedged after 1 ms (with one
//!   connection such a venue makes every cancel wait out the 5 s ack timeout, then unknown);
//!   `bitget-cancel-rest`, the REST rung alone: one cancel per request over the warm keep-alive
//!   HTTPS connection to the same server; `bitget-cancel-wait` and `bitget-cancel-park`, one
//!   connection with the strategy thread waiting in `Handle::outcome_timeout` (the README's way)
//!   instead of spinning on `try_outcome`: with the default spin before it parks, and parked at
//!   once; their hand-over line (outcome decided -> in the strategy thread's hands) is what the
//!   blocking wait adds; `bitget-cancel-backoff-wait` and `bitget-cancel-backoff-park`, the same
//!   two with the engine parking when idle (`IdleStrategy::Backoff`, as the README configures
//!   it); `bitget-cancel-final`, one connection with the final word on, whose round trip runs
//!   from the intent to its final word (the server writes the order's push right after the
//!   ack), beside `bitget-cancel`'s intent to outcome;
//! - `tokio-tungstenite`: what a trader would write instead (tokio, tokio-tungstenite over
//!   rustls, serde_json, an mpsc channel in and a std channel back), its runtime thread pinned
//!   to the strategy core where it measured fastest; `tokio-tungstenite-unpinned` is the same
//!   code with the runtime thread left to the scheduler, as most users would leave it;
//! - `boomnet`: the closest low-latency peer, busy-polled on the strategy thread;
//! - `floor`: prebuilt frame bytes encrypted and written, the reply only counted: how fast this
//!   machine can go through TLS.
//!
//! The strategy thread is pinned to core 0 for every contender; the server's thread for a
//! connection runs on the core of the contender's writing thread (see [`server_core`]).
//!
//! Environment: `LATENCY_QUICK=1` (CI size), `LATENCY_ONLY=floor,boomnet` (a subset),
//! `LATENCY_WARMUP`, `LATENCY_CANCELS`, `LATENCY_BURSTS` (override the counts),
//! `LATENCY_GAP_US` (a pause between measured round trips; default none),
//! `LATENCY_POLLER=1` (the bitget-cancel rows ask `epoll_wait` every turn instead of reading
//! their sockets directly, to compare).

#[path = "latency/alloc.rs"]
mod alloc;
#[path = "latency/boomnet_ws.rs"]
mod boomnet_ws;
#[path = "latency/engine.rs"]
mod engine;
#[path = "latency/floor.rs"]
mod floor;
#[path = "latency/report.rs"]
mod report;
#[path = "latency/server.rs"]
mod server;
#[path = "latency/tls_client.rs"]
mod tls_client;
#[path = "latency/tokio_ws.rs"]
mod tokio_ws;
#[path = "latency/workload.rs"]
mod workload;

use std::time::Duration;

use bitget_cancel::engine::{DEFAULT_OUTCOME_SPIN, IdleStrategy};
use report::{Machine, Report};
use server::Server;
use workload::{BenchResult, Contender, Plan};

#[global_allocator]
static GLOBAL: alloc::CountingAllocator = alloc::CountingAllocator;

/// The core the strategy thread runs on, for every contender.
const STRATEGY_CORE: usize = 0;

/// Where the server's thread for a contender's connection runs. On this kind of machine (a VM
/// with two vCPUs) waking a thread on the other vCPU costs tens of microseconds, so the server
/// runs on the core of the contender's writing thread, where each contender fares best: the
/// strategy core for the single-threaded contenders, the engine's core for bitget-cancel, and
/// the strategy core for tokio, whose runtime thread is pinned there too (measured: runtime and
/// server on core 0, p50 about 43 us; both on core 1, about 110 us; both unpinned, 120 to
/// 200 us).
/// `LATENCY_SERVER_CORE` (a core number or `none`) overrides it for everyone.
fn server_core(name: &str) -> Option<usize> {
    match name {
        "bitget-cancel-inline" => Some(STRATEGY_CORE),
        n if n.starts_with("bitget-cancel") => Some(engine::ENGINE_CORE),
        _ => Some(STRATEGY_CORE),
    }
}

/// Every contender, in the order they run.
const CONTENDERS: [&str; 14] = [
    "floor",
    "bitget-cancel",
    "bitget-cancel-final",
    "bitget-cancel-wait",
    "bitget-cancel-park",
    "bitget-cancel-backoff-wait",
    "bitget-cancel-backoff-park",
    "bitget-cancel-inline",
    "bitget-cancel-pool2",
    "bitget-cancel-frozen",
    "bitget-cancel-rest",
    "boomnet",
    "tokio-tungstenite",
    "tokio-tungstenite-unpinned",
];

fn env_usize(name: &str) -> BenchResult<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(
            v.trim().parse().map_err(|e| format!("{name}={v}: {e}"))?,
        )),
        Err(_) => Ok(None),
    }
}

fn plan(smoke: bool) -> BenchResult<Plan> {
    let quick = std::env::var("LATENCY_QUICK").is_ok_and(|v| v == "1");
    let (warmup, cancels, bursts) = match (smoke, quick) {
        (true, _) => (20, 100, 2),
        (false, true) => (500, 2_000, 10),
        (false, false) => (1_000, 10_000, 20),
    };
    Ok(Plan {
        warmup: env_usize("LATENCY_WARMUP")?.unwrap_or(warmup),
        cancels: env_usize("LATENCY_CANCELS")?.unwrap_or(cancels).max(1),
        bursts: env_usize("LATENCY_BURSTS")?.unwrap_or(bursts).max(1),
        burst_size: 100,
        gap: Duration::from_micros(env_usize("LATENCY_GAP_US")?.unwrap_or(0) as u64),
    })
}

fn connect(name: &str, server: &Server) -> BenchResult<Box<dyn Contender>> {
    Ok(match name {
        "floor" => Box::new(floor::Floor::connect(server)?),
        "bitget-cancel" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel",
            engine::Pool::Single,
            engine::Wait::Spin,
            IdleStrategy::BusySpin,
        )?),
        "bitget-cancel-wait" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-wait",
            engine::Pool::Single,
            engine::Wait::Blocking(DEFAULT_OUTCOME_SPIN),
            IdleStrategy::BusySpin,
        )?),
        "bitget-cancel-park" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-park",
            engine::Pool::Single,
            engine::Wait::Blocking(Duration::ZERO),
            IdleStrategy::BusySpin,
        )?),
        "bitget-cancel-backoff-wait" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-backoff-wait",
            engine::Pool::Single,
            engine::Wait::Blocking(DEFAULT_OUTCOME_SPIN),
            IdleStrategy::Backoff,
        )?),
        "bitget-cancel-backoff-park" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-backoff-park",
            engine::Pool::Single,
            engine::Wait::Blocking(Duration::ZERO),
            IdleStrategy::Backoff,
        )?),
        "bitget-cancel-inline" => Box::new(engine::BitgetCancelInline::connect(server)?),
        "bitget-cancel-pool2" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-pool2",
            engine::Pool::Two,
            engine::Wait::Spin,
            IdleStrategy::BusySpin,
        )?),
        "bitget-cancel-frozen" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-frozen",
            engine::Pool::FirstFrozen,
            engine::Wait::Spin,
            IdleStrategy::BusySpin,
        )?),
        "bitget-cancel-rest" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-rest",
            engine::Pool::RestOnly,
            engine::Wait::Spin,
            IdleStrategy::BusySpin,
        )?),
        "bitget-cancel-final" => Box::new(engine::BitgetCancel::connect(
            server,
            "bitget-cancel-final",
            engine::Pool::Final,
            engine::Wait::Spin,
            IdleStrategy::BusySpin,
        )?),
        "boomnet" => Box::new(boomnet_ws::Boomnet::connect(server)?),
        "tokio-tungstenite" => Box::new(tokio_ws::TokioWs::connect(
            server,
            "tokio-tungstenite",
            Some(STRATEGY_CORE),
        )?),
        "tokio-tungstenite-unpinned" => Box::new(tokio_ws::TokioWs::connect(
            server,
            "tokio-tungstenite-unpinned",
            None,
        )?),
        other => return Err(format!("unknown contender {other}").into()),
    })
}

/// One contender on a strategy thread of its own: connect (unpinned, so that the threads the
/// contender starts inherit no pinning), pin to the strategy core, run the workload, disconnect.
fn strategy_thread(
    name: &'static str,
    server: &Server,
    server_core: Option<usize>,
    plan: &Plan,
) -> BenchResult<workload::ContenderReport> {
    eprintln!("latency: {name}: connecting");
    server.pin_next_connections(server_core);
    let mut contender = connect(name, server)?;
    if !core_affinity::set_for_current(core_affinity::CoreId { id: STRATEGY_CORE }) {
        return Err(format!("cannot pin the strategy thread to core {STRATEGY_CORE}").into());
    }
    eprintln!(
        "latency: {name}: {} warm-up, {} measured, {} bursts of {}",
        plan.warmup, plan.cancels, plan.bursts, plan.burst_size
    );
    let mut report = workload::run(&mut *contender, server, plan)?;
    drop(contender);
    report.setup.push_str(&match server_core {
        Some(core) => format!("; server thread pinned to core {core}"),
        None => "; server thread unpinned".to_owned(),
    });
    Ok(report)
}

fn run() -> BenchResult<()> {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) gets a smoke
    // run that only checks every contender works.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let plan = plan(smoke)?;
    let only: Option<Vec<String>> = std::env::var("LATENCY_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());

    let mut machine = Machine::describe();
    let server_core_override = match std::env::var("LATENCY_SERVER_CORE") {
        Ok(v) if v == "none" => Some(None),
        Ok(v) => Some(Some(
            v.trim()
                .parse::<usize>()
                .map_err(|e| format!("LATENCY_SERVER_CORE={v}: {e}"))?,
        )),
        Err(_) => None,
    };
    let server = Server::start()?;
    let pinning = format!(
        "strategy thread pinned to core {STRATEGY_CORE} (a fresh thread per contender, pinned \
         after connecting so that threads a contender starts are not confined to it); \
         server thread (one per connection, blocking) {}",
        match server_core_override {
            Some(Some(core)) => format!("pinned to core {core} for everyone"),
            Some(None) => "unpinned for everyone".to_owned(),
            None => "on the core of the contender's writing thread (see each setup)".to_owned(),
        }
    );
    let mut contenders = Vec::new();
    for name in CONTENDERS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let server = &server;
        let measured = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let core = server_core_override.unwrap_or_else(|| server_core(name));
                    strategy_thread(name, server, core, &plan)
                })
                .join()
        });
        contenders.push(measured.map_err(|_| format!("{name}: the strategy thread panicked"))??);
    }
    machine.load_at_end = report::load();

    let targets = report::targets(&contenders);
    let report = Report {
        machine,
        plan,
        pinning,
        contenders,
        targets,
    };
    println!("{}", report::table(&report));
    if smoke {
        println!("(smoke run: no report written; `cargo bench --bench latency` measures)");
    } else {
        let path = report::json_path();
        report::write_json(&report, &path)?;
        println!("report: {}", path.display());
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("latency bench failed: {e}");
        std::process::exit(1);
    }
}
