//! The engine on the strategy's own thread: `Engine::inline` against the simulated venue.
//!
//! The strategy loop owns the engine and turns it with `poll`; `cancel` seals the frame and
//! writes it to the socket before it returns; outcomes wait in a queue the loop drains with
//! `try_outcome`. No engine thread, no rings, no waker. Prints each outcome, then percentiles of
//! the engine's own share (accepted -> the `write(2)` that carries the cancel), tick to wire and
//! round trip.
//!
//! ```text
//! cargo run --release --example inline_engine -- [--count N] [--core N]
//! ```

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{Config, Credentials, Engine};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{SimConfig, SimVenue};
use bitget_cancel::{Cancel, InstId, OrderRef, Outcome};
use hdrhistogram::Histogram;

const LIMIT: u32 = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut count = 1_000usize;
    let mut core = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--count" => count = value.parse()?,
            "--core" => core = Some(value.parse::<usize>()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let sim = SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    };
    let venue = SimVenue::start(sim.clone())?;
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", count + 1);
    let config = Config::builder(Credentials::new(sim.api_key, sim.secret, sim.passphrase)?)
        .url(venue.url())
        .extra_root_ca_pem(venue.ca_pem().as_bytes())
        .connections(1)
        .messages_per_second(LIMIT)
        .cancels_per_second(LIMIT)
        .build()?;

    // The engine runs where the strategy runs: pin this thread if asked.
    if let Some(core) = core {
        let pinned = core_affinity::set_for_current(core_affinity::CoreId { id: core });
        println!("strategy thread pinned to core {core}: {pinned}");
    }
    let mut engine = Engine::inline(config)?;
    if !engine.wait_live(Duration::from_secs(10)) {
        return Err(format!("not logged in: {:?}", engine.last_error()).into());
    }
    println!("logged in to {}", venue.url());

    let mut share = Histogram::<u64>::new(3)?;
    let mut wire = Histogram::<u64>::new(3)?;
    let mut round_trip = Histogram::<u64>::new(3)?;
    let mut record = |o: &Outcome| -> Result<(), Box<dyn std::error::Error>> {
        if o.status != Status::Acked {
            return Err(format!("not acked: {o:?}").into());
        }
        share.record(o.times.engine_share_ns().unwrap_or(0))?;
        wire.record(o.times.tick_to_wire_ns().unwrap_or(0))?;
        round_trip.record(o.times.round_trip_ns().unwrap_or(0))?;
        Ok(())
    };

    // One cancel, its outcome shown in full; a cancel for an order that does not exist, the
    // venue's rejection.
    let first = Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT")?,
        OrderRef::order_id(&orders[0].order_id)?,
    );
    engine.cancel(first.with_tag(1))?;
    let outcome = engine
        .outcome_timeout(Duration::from_secs(5))
        .ok_or("no outcome")?;
    println!("first cancel: {outcome:?}");
    let unknown = Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT")?,
        OrderRef::order_id("42")?,
    );
    engine.cancel(unknown.with_tag(2))?;
    let outcome = engine
        .outcome_timeout(Duration::from_secs(5))
        .ok_or("no outcome")?;
    println!(
        "cancel of an order that does not exist: {:?}",
        outcome.status
    );

    // The strategy loop: one cancel at a time, polling until its outcome.
    for (n, order) in orders[1..].iter().enumerate() {
        let cancel = Cancel::new(
            order.inst_type,
            InstId::new(&order.inst_id)?,
            OrderRef::order_id(&order.order_id)?,
        );
        engine.cancel(cancel.with_tag(n as u64 + 3))?;
        let outcome = loop {
            engine.poll();
            if let Some(outcome) = engine.try_outcome() {
                break outcome;
            }
        };
        record(&outcome)?;
    }

    let stopped = engine.shutdown();
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("{count} cancels, one at a time, microseconds:");
    for (name, h) in [
        ("engine share", &share),
        ("tick to wire", &wire),
        ("round trip", &round_trip),
    ] {
        println!(
            "  {name:<13} p50 {:>7.2}  p99 {:>7.2}  p99.9 {:>7.2}",
            us(h, 0.5),
            us(h, 0.99),
            us(h, 0.999)
        );
    }
    println!(
        "stats: {} acked, {} rejected, {} unread at shutdown",
        stopped.stats.acked,
        stopped.stats.rejected,
        stopped.outcomes.len()
    );
    venue.shutdown();
    Ok(())
}
