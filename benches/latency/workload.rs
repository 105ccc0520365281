//! The workload every contender runs, and what is measured.
//!
//! Round trips: the strategy thread takes a timestamp, pushes one cancel, waits for its outcome
//! and takes another; then the next one, back to back. Bursts: 100 cancels pushed at once, timed
//! until the last outcome. Allocations are counted over the measured round trips on every
//! thread but the server's.

use std::time::Duration;

use bitget_cancel::clock::monotonic_ns;
use hdrhistogram::Histogram;
use serde::Serialize;

use super::alloc;
use super::server::Server;

/// Any failure: the bench reports it and stops.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// A result of the bench.
pub type BenchResult<T> = Result<T, BenchError>;

/// Where a contender's tick-to-wire figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WireSource {
    /// The contender says when its frame's bytes were handed to the kernel.
    Client,
    /// The contender cannot say: the server's receive time (same clock, same process) stands in.
    ServerReceive,
}

/// One round trip as the contender saw it.
#[derive(Debug, Clone, Copy)]
pub struct Trip {
    /// The request id the cancel went out under (numeric).
    pub id: u64,
    /// When the frame's bytes were handed to the kernel (`write(2)` returned), if the contender
    /// can say.
    pub wire_ns: Option<u64>,
    /// When that `write(2)` was entered, if the contender can say.
    pub write_started_ns: Option<u64>,
    /// The contender's own share, from accepting the intent to the `write(2)` that carries it,
    /// if the contender measures it (bitget-cancel's `Timestamps::engine_share_ns`).
    pub engine_share_ns: Option<u64>,
    /// When the contender decided the outcome (the reply parsed, on the engine's thread), if it
    /// can say: the rest of the round trip is the hand-over to the waiting strategy thread.
    pub settled_ns: Option<u64>,
}

/// A way of cancelling orders over the venue's WebSocket.
pub trait Contender {
    /// The short name in the report.
    fn name(&self) -> &'static str;
    /// Threads, pinning, idle strategy, limits: what was in force.
    fn setup(&self) -> String;
    /// Where [`Trip::wire_ns`] comes from.
    fn wire_source(&self) -> WireSource;
    /// Pushes cancel number `seq` and waits for its outcome.
    fn round_trip(&mut self, seq: u64) -> BenchResult<Trip>;
    /// Pushes cancels `seq..seq + n` at once and waits for all their outcomes.
    fn burst(&mut self, seq: u64, n: usize) -> BenchResult<()>;
}

/// How much to run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Plan {
    /// Round trips before measuring.
    pub warmup: usize,
    /// Measured round trips.
    pub cancels: usize,
    /// Measured bursts.
    pub bursts: usize,
    /// Cancels per burst.
    pub burst_size: usize,
    /// Pause between measured round trips (0: back to back).
    #[serde(serialize_with = "as_ns")]
    pub gap: Duration,
}

fn as_ns<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_nanos() as u64)
}

/// Percentiles of one distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: u64,
    /// Samples.
    pub count: u64,
}

impl Percentiles {
    fn of(samples: impl Iterator<Item = u64>) -> BenchResult<Percentiles> {
        // 1 ns to 100 s at 3 significant digits.
        let mut h = Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3)?;
        for s in samples {
            h.record(s.clamp(1, 100_000_000_000))?;
        }
        Ok(Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean() as u64,
            count: h.len(),
        })
    }
}

/// One contender's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ContenderReport {
    /// The contender.
    pub name: &'static str,
    /// What was in force.
    pub setup: String,
    /// Measured round trips.
    pub cancels: usize,
    /// Round trips per second achieved over the measured loop.
    pub rate_per_s: u64,
    /// From the push to the outcome on the strategy thread.
    pub round_trip_ns: Percentiles,
    /// From the push to the bytes handed to the kernel (see `tick_to_wire_source`).
    pub tick_to_wire_ns: Percentiles,
    /// Where `tick_to_wire_ns` comes from.
    pub tick_to_wire_source: WireSource,
    /// From the push to the server's receive time, for every contender alike.
    pub push_to_server_receive_ns: Percentiles,
    /// From the server's receive time to the outcome on the strategy thread: the server's
    /// work, the reply's way back and the contender's reading, decoding and handing over.
    pub server_receive_to_outcome_ns: Percentiles,
    /// How long the `write(2)` that handed the frame to the kernel took, where the contender
    /// can say: on loopback it runs the receiver's TCP path and wakes the server thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_syscall_ns: Option<Percentiles>,
    /// From accepting the intent to the `write(2)` that carries it, as the contender measures
    /// it: its own share of tick-to-wire, without the kernel's (on loopback the receiver's TCP
    /// path runs inside that `write(2)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_share_ns: Option<Percentiles>,
    /// From the outcome decided (the reply parsed) to the outcome in the strategy thread's
    /// hands, where the contender can say: what the way the strategy waits adds to the round
    /// trip (a spin on the ring, a parked thread's wake-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handover_ns: Option<Percentiles>,
    /// Median time from pushing a burst to its last outcome.
    pub burst_100_ns: u64,
    /// Every burst's time, for the spread.
    pub burst_100_all_ns: Percentiles,
    /// Heap allocations per measured round trip, on every thread but the server's.
    pub allocs_per_cancel: f64,
}

/// Runs the plan against one contender.
pub fn run(
    contender: &mut dyn Contender,
    server: &Server,
    plan: &Plan,
) -> BenchResult<ContenderReport> {
    let mut seq = 1u64;
    for _ in 0..plan.warmup {
        contender.round_trip(seq)?;
        seq += 1;
    }

    // [pushed, wire (0: unknown), server receive, done, write entered (0: unknown),
    // engine share (u64::MAX: unknown), settled (0: unknown)], preallocated so that recording
    // allocates nothing inside the measured loop.
    let mut samples = vec![[0u64; 7]; plan.cancels];
    let allocs_before = alloc::allocations();
    let started = monotonic_ns();
    for sample in samples.iter_mut() {
        let pushed = monotonic_ns();
        let trip = contender.round_trip(seq)?;
        let done = monotonic_ns();
        *sample = [
            pushed,
            trip.wire_ns.unwrap_or(0),
            server.received_ns(trip.id),
            done,
            trip.write_started_ns.unwrap_or(0),
            trip.engine_share_ns.unwrap_or(u64::MAX),
            trip.settled_ns.unwrap_or(0),
        ];
        seq += 1;
        if !plan.gap.is_zero() {
            let until = done + plan.gap.as_nanos() as u64;
            while monotonic_ns() < until {
                std::hint::spin_loop();
            }
        }
    }
    let elapsed = monotonic_ns() - started;
    let allocs = alloc::allocations() - allocs_before;

    let mut bursts = vec![0u64; plan.bursts];
    for b in bursts.iter_mut() {
        let t0 = monotonic_ns();
        contender.burst(seq, plan.burst_size)?;
        *b = monotonic_ns() - t0;
        seq += plan.burst_size as u64;
    }
    let burst_all = Percentiles::of(bursts.iter().copied())?;

    let source = contender.wire_source();
    let received = |s: &[u64; 7]| s[2].saturating_sub(s[0]);
    let tick_to_wire = match source {
        WireSource::Client => Percentiles::of(samples.iter().map(|s| s[1].saturating_sub(s[0])))?,
        WireSource::ServerReceive => Percentiles::of(samples.iter().map(received))?,
    };
    if samples.iter().any(|s| s[2] < s[0]) {
        return Err(format!(
            "{}: the server has no receive time for some requests",
            contender.name()
        )
        .into());
    }
    let write_syscall = if samples.iter().all(|s| s[4] != 0 && s[1] >= s[4]) {
        Some(Percentiles::of(samples.iter().map(|s| s[1] - s[4]))?)
    } else {
        None
    };
    let engine_share = if samples.iter().all(|s| s[5] != u64::MAX) {
        Some(Percentiles::of(samples.iter().map(|s| s[5]))?)
    } else {
        None
    };
    let handover = if samples.iter().all(|s| s[6] != 0 && s[3] >= s[6]) {
        Some(Percentiles::of(samples.iter().map(|s| s[3] - s[6]))?)
    } else {
        None
    };
    Ok(ContenderReport {
        name: contender.name(),
        setup: contender.setup(),
        cancels: plan.cancels,
        rate_per_s: (plan.cancels as u128 * 1_000_000_000 / u128::from(elapsed.max(1))) as u64,
        round_trip_ns: Percentiles::of(samples.iter().map(|s| s[3] - s[0]))?,
        tick_to_wire_ns: tick_to_wire,
        tick_to_wire_source: source,
        push_to_server_receive_ns: Percentiles::of(samples.iter().map(received))?,
        server_receive_to_outcome_ns: Percentiles::of(
            samples.iter().map(|s| s[3].saturating_sub(s[2])),
        )?,
        write_syscall_ns: write_syscall,
        engine_share_ns: engine_share,
        handover_ns: handover,
        burst_100_ns: burst_all.p50,
        burst_100_all_ns: burst_all,
        allocs_per_cancel: allocs as f64 / plan.cancels as f64,
    })
}
