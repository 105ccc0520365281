//! A burst at the venue's limit: 200 resting orders (100 on two spot symbols, 100 on one
//! futures symbol) cancelled at once against the simulated venue with every documented limit
//! enforced (10 WebSocket messages a second per connection, 10 `cancel-order` a second per
//! account and product line, 10 batch requests a second per batch endpoint, 5 spot and 10
//! futures cancel-alls a second).
//!
//! Runs side by side, the same burst each: a classic account (V2) with single cancels only
//! (`no_batch`) and with the backlog's REST batches; a unified account (V3: 5 `cancel-batch`
//! requests a second for every category) without REST batches (WebSocket singles and
//! `batch-cancel`s) and with them. Each reports the time from the first `cancel` call to the last of
//! the 200 outcomes, and to the last outcome of the 5 cancels given the highest priority (the
//! last five submitted: with priorities they overtake the backlog).
//!
//! `cargo bench --bench burst`; `BURST_RUNS=n` repeats each run n times (default 3) and reports
//! every run and the median. Writes nothing but its table to standard output.

use std::time::{Duration, Instant};

use bitget_cancel::engine::{Account, Config, Credentials, Engine, IdleStrategy};
use bitget_cancel::sim::{AccountMode, RestingOrder, SimConfig, SimLimits, SimVenue};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, Status, Via};

/// Orders per spot symbol, and on the futures symbol.
const SPOT_PER_SYMBOL: usize = 50;
const FUTURES: usize = 100;
/// The cancels given the highest priority.
const URGENT: usize = 5;
/// How long one run may take before it is reported as incomplete.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Run {
    /// First `cancel` call to the last outcome.
    all: Duration,
    /// First `cancel` call to the last outcome of the urgent five.
    urgent: Duration,
    acked: usize,
    by_batch: usize,
    batches: u64,
    /// Median of a batch's write to its reply, over the batches.
    batch_round_trip: Duration,
}

fn credentials() -> Credentials {
    let c = SimConfig::default();
    Credentials::new(c.api_key, c.secret, c.passphrase).expect("valid credentials")
}

fn cancel_of(order: &RestingOrder) -> Cancel {
    Cancel::new(
        order.inst_type,
        InstId::new(&order.inst_id).expect("valid symbol"),
        OrderRef::order_id(&order.order_id).expect("valid order id"),
    )
}

fn one_run(batches: bool, unified: bool) -> Run {
    let venue = SimVenue::start(SimConfig {
        limits: Some(SimLimits::default()),
        account_mode: if unified {
            AccountMode::Unified
        } else {
            AccountMode::Classic
        },
        ..SimConfig::default()
    })
    .expect("the simulated venue starts");
    let mut orders = venue.seed_orders(InstType::Spot, "BTCUSDT", SPOT_PER_SYMBOL);
    orders.extend(venue.seed_orders(InstType::Spot, "ETHUSDT", SPOT_PER_SYMBOL));
    orders.extend(venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", FUTURES));
    // Interleave the product lines, as a strategy pulling every quote would.
    orders.sort_by_key(|o| o.order_id.parse::<u64>().unwrap_or(0) % 7);
    let mut builder = Config::builder(credentials())
        .connections(1)
        .url(venue.url())
        .uta_url(venue.v3_url())
        .account(if unified {
            Account::Unified
        } else {
            Account::Classic
        })
        .rest_url(venue.rest_url())
        .extra_root_ca_pem(venue.ca_pem().as_bytes())
        .idle(IdleStrategy::Yield)
        .max_queue_time(Duration::from_secs(40))
        .max_pending(1024);
    if !batches {
        builder = builder.no_batch();
    }
    let (engine, handle) =
        Engine::start(builder.build().expect("valid config")).expect("the engine starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.state() != bitget_cancel::engine::SessionState::Live {
        assert!(Instant::now() < deadline, "the engine did not log in");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let the REST connection warm up too.
    std::thread::sleep(Duration::from_millis(300));

    let total = orders.len();
    let start = Instant::now();
    for (i, order) in orders.iter().enumerate() {
        let urgent = i >= total - URGENT;
        let cancel = cancel_of(order)
            .with_tag(i as u64)
            .priority(if urgent { 255 } else { 0 });
        handle.cancel(cancel).expect("room in the ring");
    }
    let mut run = Run {
        all: Duration::ZERO,
        urgent: Duration::ZERO,
        acked: 0,
        by_batch: 0,
        batches: 0,
        batch_round_trip: Duration::ZERO,
    };
    let mut round_trips = Vec::new();
    let mut urgent_left = URGENT;
    let mut left = total;
    let give_up = start + PATIENCE;
    while left > 0 && Instant::now() < give_up {
        let Some(outcome) = handle.outcome_timeout(Duration::from_millis(100)) else {
            continue;
        };
        left -= 1;
        let at = start.elapsed();
        if outcome.status == Status::Acked {
            run.acked += 1;
        }
        if outcome.via == Some(Via::Rest) && outcome.batch.is_some() {
            run.by_batch += 1;
            let t = outcome.times;
            round_trips.push(Duration::from_nanos(
                t.settled_ns.saturating_sub(t.written_ns),
            ));
        }
        if outcome.tag() as usize >= total - URGENT {
            urgent_left -= 1;
            if urgent_left == 0 {
                run.urgent = at;
            }
        }
        run.all = at;
    }
    if left > 0 {
        eprintln!("{left} of {total} outcomes did not come within {PATIENCE:?}");
        run.all = PATIENCE;
    }
    run.batches = handle.stats().batches.sent;
    if !round_trips.is_empty() {
        run.batch_round_trip = median(round_trips);
    }
    engine.shutdown();
    run
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench --no-run` builds this; `cargo test --benches` would run it with `--bench`
    // absent: only a real bench run measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("BURST_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    println!(
        "burst: {} cancels ({} spot on 2 symbols, {} futures), the last {URGENT} at priority 255; \
         simulated venue with every documented limit; {runs} run(s) each",
        2 * SPOT_PER_SYMBOL + FUTURES,
        2 * SPOT_PER_SYMBOL,
        FUTURES
    );
    let mut table = Vec::new();
    for (name, batches, unified) in [
        ("classic, singles only", false, false),
        ("classic, with batches", true, false),
        ("unified, no REST batches", false, true),
        ("unified, with batches", true, true),
    ] {
        let results: Vec<Run> = (0..runs).map(|_| one_run(batches, unified)).collect();
        for r in &results {
            println!(
                "  {name}: last outcome {:>8.1} ms, top-{URGENT} priority {:>8.1} ms, acked {}, \
                 carried by {} batches: {} (a batch's round trip: median {:.1} ms)",
                r.all.as_secs_f64() * 1e3,
                r.urgent.as_secs_f64() * 1e3,
                r.acked,
                r.batches,
                r.by_batch,
                r.batch_round_trip.as_secs_f64() * 1e3
            );
        }
        table.push((
            name,
            median(results.iter().map(|r| r.all).collect()),
            median(results.iter().map(|r| r.urgent).collect()),
        ));
    }
    println!(
        "| run | time to the last of 200 outcomes (median) | time to the top-{URGENT} priority outcomes (median) |"
    );
    println!("| --- | --- | --- |");
    for (name, all, urgent) in &table {
        println!(
            "| {name} | {:.1} ms | {:.1} ms |",
            all.as_secs_f64() * 1e3,
            urgent.as_secs_f64() * 1e3
        );
    }
}
