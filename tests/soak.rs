//! Soak: the engine with a pool of two connections against the simulated venue at the venue's
//! limits for a long run, with a forced disconnect of one connection every 30 seconds (the older
//! one, in turn) and intents submitted without pause. Asserts that every intent gets exactly one
//! outcome, that none is unknown for a lost connection (the other connection takes over what was
//! in flight), and that resident memory grows by less than 1 MiB after warm-up; prints the
//! figures.
//!
//! Ignored by default (it runs for minutes):
//!
//! ```text
//! cargo test --release --test soak -- --ignored --nocapture
//! SOAK_SECONDS=120 cargo test --release --test soak -- --ignored --nocapture
//! ```

#[path = "support/engine.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bitget_cancel::engine::{ReconnectBackoff, SubmitError};
use bitget_cancel::outcome::{NotSentReason, Status, UnknownReason};
use bitget_cancel::sim::{Faults, Injection, SimConfig};
use bitget_cancel::{InstType, Outcome};
use support::*;

/// Intents submitted per second: above the venue's 10 messages a second, so the engine's
/// pacing is what holds the venue at its limit, all the time.
const SUBMIT_PER_SECOND: u64 = 12;
const DISCONNECT_EVERY: Duration = Duration::from_secs(30);
const REPLY_DELAY: Duration = Duration::from_millis(200);
/// Resident memory may grow by less than this after warm-up.
const RSS_BUDGET: i64 = 1024 * 1024;

fn soak_seconds() -> u64 {
    match std::env::var("SOAK_SECONDS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("SOAK_SECONDS={v:?} is not a number of seconds")),
        Err(_) => 600,
    }
}

/// Outcome counts, by status.
#[derive(Debug, Default)]
struct Counts {
    acked: u64,
    rejected: u64,
    ack_timeout: u64,
    connection_lost: u64,
    unknown_shutdown: u64,
    queue_timeout: u64,
    not_sent_other: u64,
}

impl Counts {
    fn add(&mut self, status: Status) {
        match status {
            Status::Acked => self.acked += 1,
            Status::Rejected { .. } => self.rejected += 1,
            Status::Unknown(UnknownReason::AckTimeout) => self.ack_timeout += 1,
            Status::Unknown(UnknownReason::ConnectionLost) => self.connection_lost += 1,
            Status::Unknown(UnknownReason::Shutdown) => self.unknown_shutdown += 1,
            Status::NotSent(NotSentReason::QueueTimeout) => self.queue_timeout += 1,
            Status::NotSent(_) => self.not_sent_other += 1,
        }
    }

    fn total(&self) -> u64 {
        self.acked
            + self.rejected
            + self.ack_timeout
            + self.connection_lost
            + self.unknown_shutdown
            + self.queue_timeout
            + self.not_sent_other
    }
}

/// One byte per engine-assigned request id (they count from 1): how many outcomes it got.
/// Allocated and written in full before warm-up, so it adds nothing to resident memory later.
struct Seen(Vec<u8>);

/// The send number of an engine's wire id (`prefix:number`).
fn number(id: bitget_cancel::RequestId) -> Option<u64> {
    id.as_str().rsplit_once(':')?.1.parse().ok()
}

impl Seen {
    fn new(capacity: usize) -> Self {
        let mut v = vec![0xff; capacity + 1];
        v.fill(0);
        Seen(v)
    }

    fn record(&mut self, outcome: &Outcome) {
        let n = number(outcome.id)
            .unwrap_or_else(|| panic!("an outcome for an id never submitted: {outcome:?}"));
        let slot = self
            .0
            .get_mut(n as usize)
            .unwrap_or_else(|| panic!("an outcome for an id never submitted: {outcome:?}"));
        assert_eq!(*slot, 0, "a second outcome for {}: {outcome:?}", outcome.id);
        *slot = 1;
    }
}

#[test]
#[ignore = "runs for minutes: cargo test --release --test soak -- --ignored --nocapture"]
fn every_intent_gets_one_outcome_and_memory_stays_flat_through_forced_disconnects() {
    let seconds = soak_seconds();
    let run = Duration::from_secs(seconds);
    let warm_up = Duration::from_secs(60.min(seconds / 2));
    let capacity = (seconds * SUBMIT_PER_SECOND + 1000) as usize;

    let venue = venue_with(SimConfig {
        // The venue keeps only the newest received frames: its record must not grow either.
        record_limit: 64,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", capacity);
    // Replies take a while, as over a real network: a couple of cancels are in flight at any
    // moment, so each forced disconnect catches some.
    venue.set_faults(Faults {
        reply_delay: REPLY_DELAY,
        ..Faults::default()
    });
    let (engine, handle) = start(
        config_for(&venue)
            .connections(2)
            .reconnect(ReconnectBackoff {
                initial: Duration::from_millis(50),
                max: Duration::from_secs(1),
                reset_after: Duration::from_secs(10),
            }),
    );
    wait_live(&handle);
    venue
        .wait_for_logged_in(2, Duration::from_secs(10))
        .expect("both connections log in");
    // Send numbers: one per intent, and one per later send (at most four sends each).
    let mut seen = Seen::new(capacity * 4);
    let mut counts = Counts::default();

    let stop = Arc::new(AtomicBool::new(false));
    let submitter = {
        let handle = handle.clone();
        let stop = stop.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let period = Duration::from_nanos(1_000_000_000 / SUBMIT_PER_SECOND);
            let (mut submitted, mut refused) = (0u64, 0u64);
            let mut last = 0;
            for order in &orders {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match handle.cancel(by_order_id(order)) {
                    Ok(id) => {
                        submitted += 1;
                        let n = number(id).expect("a wire id");
                        assert!(n > last, "send numbers only grow: {n} after {last}");
                        last = n;
                    }
                    Err(SubmitError::Full(_)) => refused += 1,
                    Err(e) => panic!("the engine stopped: {e}"),
                }
                let next = start + period * (submitted + refused) as u32;
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            (submitted, refused)
        })
    };

    let started = Instant::now();
    let mut next_drop = started + DISCONNECT_EVERY;
    let mut rss_warm = None;
    let mut forced = 0;
    while started.elapsed() < run {
        if let Some(outcome) = handle.outcome_timeout(Duration::from_millis(20)) {
            seen.record(&outcome);
            counts.add(outcome.status);
        }
        if Instant::now() >= next_drop {
            // The older connection goes; the other carries on and takes over its cancels.
            if let Some(&oldest) = venue.logged_in_connections().first()
                && venue.inject_on(oldest, Injection::Drop)
            {
                forced += 1;
            }
            next_drop += DISCONNECT_EVERY;
        }
        if rss_warm.is_none() && started.elapsed() >= warm_up {
            rss_warm = Some(resident_bytes() as i64);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (submitted, refused) = submitter.join().expect("the submitter ran to the end");

    // Every intent submitted is settled within the queue and ack timeouts; 30 s is a safety net.
    let deadline = Instant::now() + Duration::from_secs(30);
    while counts.total() < submitted {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(outcome) = handle.outcome_timeout(left) else {
            panic!(
                "{} of {submitted} intents have no outcome; engine {:?}",
                submitted - counts.total(),
                engine.stats()
            );
        };
        seen.record(&outcome);
        counts.add(outcome.status);
    }
    thread::sleep(Duration::from_millis(200));
    assert!(
        handle.try_outcome().is_none(),
        "an outcome beyond one per intent"
    );
    let rss_end = resident_bytes() as i64;
    let rss_warm = rss_warm.expect("warm-up ended before the run");

    let stats = engine.stats();
    let sim = venue.stats();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "soak: {seconds} s, intents submitted at {SUBMIT_PER_SECOND}/s, replies after {REPLY_DELAY:?}, \
         a forced disconnect every {DISCONNECT_EVERY:?}"
    );
    println!(
        "intents: {submitted} accepted, {refused} refused (ring full); outcomes: {}",
        counts.total()
    );
    println!("outcomes by status: {counts:?}");
    println!(
        "cancels sent: {} ({:.2}/s); engine: {} sessions, {} reconnects, {} failovers, {} hedges, \
         {} pings, {} pacing waits, {} unmatched replies",
        stats.sent,
        stats.sent as f64 / elapsed,
        stats.sessions,
        stats.reconnects,
        stats.failovers,
        stats.hedges_sent,
        stats.pings,
        stats.pacing_waits,
        stats.unmatched_replies
    );
    println!(
        "venue: {forced} forced disconnects, {} connections, {} rate-limit disconnects, {} cancels \
         acked",
        sim.connections_accepted, sim.disconnects.rate_limited, sim.cancels_acked
    );
    println!(
        "resident memory: {} KiB after {} s warm-up, {} KiB at the end ({:+} KiB)",
        rss_warm / 1024,
        warm_up.as_secs(),
        rss_end / 1024,
        (rss_end - rss_warm) / 1024
    );

    assert_eq!(counts.total(), submitted);
    assert_eq!(stats.intents, submitted);
    assert_eq!(
        counts.connection_lost, 0,
        "a lost connection's cancels went out again on the other"
    );
    assert!(counts.acked > 0);
    assert!(forced as u64 >= seconds.saturating_sub(1) / DISCONNECT_EVERY.as_secs());
    assert!(stats.reconnects >= forced as u64);
    assert_eq!(
        sim.disconnects.rate_limited, 0,
        "the engine's pacing kept the venue within its limit"
    );
    assert!(
        rss_end - rss_warm < RSS_BUDGET,
        "resident memory grew by {} KiB after warm-up",
        (rss_end - rss_warm) / 1024
    );
    engine.shutdown();
}
