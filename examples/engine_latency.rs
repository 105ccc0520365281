//! Tick-to-wire and round-trip latency of the engine against the simulated venue on loopback.
//!
//! Sends cancels one at a time (each waits for its ack) and reports HDR percentiles of
//! `written - accepted` (tick to wire: from `Handle::cancel` to the frame in the kernel) and
//! `settled - accepted` (round trip: to the parsed ack), with the limits, idle strategy and pinning
//! in force.
//!
//! ```text
//! cargo run --release --example engine_latency -- [--count N] [--idle busy|yield|backoff] [--core N]
//! ```

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{Config, Credentials, Engine, IdleStrategy};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{SimConfig, SimVenue};
use bitget_cancel::{Cancel, InstId, OrderRef};
use hdrhistogram::Histogram;

const LIMIT: u32 = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut count = 1_000usize;
    let mut idle = IdleStrategy::BusySpin;
    let mut core = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--count" => count = value.parse()?,
            "--core" => core = Some(value.parse::<usize>()?),
            "--idle" => {
                idle = match value.as_str() {
                    "busy" => IdleStrategy::BusySpin,
                    "yield" => IdleStrategy::Yield,
                    "backoff" => IdleStrategy::Backoff,
                    other => return Err(format!("unknown idle strategy {other}").into()),
                }
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let sim = SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    };
    let venue = SimVenue::start(sim.clone())?;
    let warm_up = count / 10;
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", warm_up + count);
    let mut builder = Config::builder(Credentials::new(sim.api_key, sim.secret, sim.passphrase)?)
        .url(venue.url())
        .rest_url(venue.rest_url())
        .extra_root_ca_pem(venue.ca_pem().as_bytes())
        .idle(idle)
        .messages_per_second(LIMIT)
        .cancels_per_second(LIMIT);
    if let Some(core) = core {
        builder = builder.core(core);
    }
    let (engine, handle) = Engine::start(builder.build()?)?;
    if !handle.wait_live(Duration::from_secs(10)) {
        let why = handle
            .last_error()
            .map_or("no error reported".to_string(), |e| e.to_string());
        return Err(format!("not logged in after 10 s: {why}").into());
    }

    let mut tick_to_wire = Histogram::<u64>::new(3)?;
    let mut round_trip = Histogram::<u64>::new(3)?;
    for (n, order) in orders.iter().enumerate() {
        let cancel = Cancel::new(
            order.inst_type,
            InstId::new(&order.inst_id)?,
            OrderRef::order_id(&order.order_id)?,
        );
        handle.cancel(cancel).map_err(|e| e.to_string())?;
        let outcome = handle
            .outcome_timeout(Duration::from_secs(10))
            .ok_or("no outcome within 10 s")?;
        if outcome.status != Status::Acked {
            return Err(format!("cancel {n} not acked: {:?}", outcome.status).into());
        }
        if n < warm_up {
            continue;
        }
        let t = outcome.times;
        tick_to_wire.record(t.tick_to_wire_ns().ok_or("not written")?)?;
        round_trip.record(t.round_trip_ns().ok_or("not answered")?)?;
    }
    let pinning = engine.pinning();
    let stats = engine.shutdown();
    venue.shutdown();

    println!(
        "{count} cancels, one at a time, after {warm_up} warm-up; simulated venue over TLS on loopback"
    );
    println!(
        "limits: {LIMIT} messages/s and cancels/s (venue unlimited); idle: {idle:?}; pinning: {pinning:?}"
    );
    println!(
        "{:>14} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "µs", "p50", "p90", "p99", "p99.9", "max"
    );
    for (name, h) in [("tick-to-wire", &tick_to_wire), ("round-trip", &round_trip)] {
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
        println!(
            "{name:>14} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            h.max() as f64 / 1_000.0
        );
    }
    println!(
        "engine: {} sent, {} acked, {} sessions",
        stats.sent, stats.acked, stats.sessions
    );
    Ok(())
}
