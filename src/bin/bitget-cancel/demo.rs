//! `bitget-cancel demo`: the engine against the embedded simulated venue, with a summary.
//!
//! The venue runs on loopback with a generated CA that the engine trusts as an extra root: the
//! TLS is real and verified. The book holds one resting order per cancel, except for 2% of the
//! cancels, which name orders that do not exist; every cancel must end acked or rejected
//! accordingly, exactly once.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use bitget_cancel::engine::{Config, Credentials, SessionState, StartError, Stats, SubmitError};
use bitget_cancel::jsonl::LineStatus;
use bitget_cancel::sim::{
    CancelFate, Faults, Injection, LoginFault, OnCancel, RestingOrder, SimConfig, SimStats,
    SimVenue,
};
use bitget_cancel::{Cancel, Engine, Handle, InstId, InstType, OrderRef, Outcome, Status};
use serde_json::{Value, json};

use crate::args::DemoArgs;
use crate::failure::Failure;
use crate::idle::{IdleChoice, describe_pinning, pinned_core};
use crate::latency::Latency;
use crate::report::Tally;

/// The live venue's limit on messages and on cancels per second.
const LIVE_LIMIT: u32 = 10;
/// The symbol the demo trades.
const SYMBOL: &str = "BTCUSDT";
/// How long the engine has to connect and log in.
const CONNECT_WAIT: Duration = Duration::from_secs(10);
/// How long a cancel may wait in the engine (pacing, reconnects) before it is reported not sent.
const MAX_QUEUE: Duration = Duration::from_secs(30);
/// How long a sent cancel waits for its reply.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The venue's "the order does not exist" codes (spot, futures over WebSocket, futures over REST).
const ORDER_GONE: [i64; 3] = [43001, 41101, 40768];

/// What a cancel of the demo should come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Acked,
    Rejected,
}

/// The cancels to send, in order; cancel `i` carries tag `i + 1`.
#[derive(Debug)]
struct Plan {
    cancels: Vec<(Cancel, Expect)>,
    resting: u64,
    missing: u64,
}

impl Plan {
    /// Seeds the venue and lays out `n` cancels: SPOT and USDT-FUTURES alternately, by orderId
    /// and by clientOid alternately, with the missing orders spread evenly among them.
    fn seed(venue: &SimVenue, n: usize) -> Result<Plan, Failure> {
        let missing = n.div_ceil(50).min(n / 2);
        let resting = n - missing;
        let spot = venue.seed_orders(InstType::Spot, SYMBOL, resting.div_ceil(2));
        let futures = venue.seed_orders(InstType::UsdtFutures, SYMBOL, resting / 2);
        let mut spot = spot.iter();
        let mut futures = futures.iter();
        let inst_id = InstId::new(SYMBOL).map_err(Failure::runtime)?;
        let mut cancels = Vec::with_capacity(n);
        let (mut placed_missing, mut placed_resting) = (0usize, 0usize);
        for i in 0..n {
            // Bresenham: the missing ones land evenly through the run.
            let is_missing = missing > 0 && (i + 1) * missing / n > i * missing / n;
            let (cancel, expect) = if is_missing {
                placed_missing += 1;
                let j = placed_missing;
                let (inst_type, order) = if j % 2 == 1 {
                    (
                        InstType::Spot,
                        OrderRef::order_id(&format!("{}", 9_000_000_000_000_000_000u64 + j as u64)),
                    )
                } else {
                    (
                        InstType::UsdtFutures,
                        OrderRef::client_oid(&format!("demo-missing-{j}")),
                    )
                };
                let order = order.map_err(Failure::runtime)?;
                (Cancel::new(inst_type, inst_id, order), Expect::Rejected)
            } else {
                placed_resting += 1;
                let (inst_type, resting) = if placed_resting % 2 == 1 {
                    (InstType::Spot, spot.next())
                } else {
                    (InstType::UsdtFutures, futures.next())
                };
                let resting =
                    resting.ok_or_else(|| Failure::runtime("the demo book ran short of orders"))?;
                let order = by_alternate_ref(resting, placed_resting).map_err(Failure::runtime)?;
                (Cancel::new(inst_type, inst_id, order), Expect::Acked)
            };
            cancels.push((cancel.with_tag(i as u64 + 1), expect));
        }
        Ok(Plan {
            cancels,
            resting: resting as u64,
            missing: missing as u64,
        })
    }
}

/// How the `k`-th cancel of a resting order names it: the product lines alternate with `k`, and
/// within each line orderId and clientOid alternate, so that all four combinations occur.
fn by_alternate_ref(
    order: &RestingOrder,
    k: usize,
) -> Result<OrderRef, bitget_cancel::InvalidField> {
    match (&order.client_oid, (k / 2) % 2) {
        (Some(oid), 1) => OrderRef::client_oid(oid),
        _ => OrderRef::order_id(&order.order_id),
    }
}

/// Everything the run saw.
#[derive(Debug)]
struct Tallies {
    counts: Tally,
    rejection_codes: BTreeMap<i64, u64>,
    tick_to_wire: Latency,
    round_trip: Latency,
    /// Accepted to the `write(2)` that carried the frame: the engine's own work.
    engine_share: Latency,
    /// Outcomes seen per tag (index 0 unused).
    seen: Vec<u8>,
    unexpected: u64,
    duplicates: u64,
    outcomes: u64,
    first_unexpected: Option<String>,
    /// Cancels of resting orders sent again (a lost or frozen connection) whose later attempt
    /// found the order gone: an earlier attempt cancelled it.
    gone_after_resend: u64,
}

impl Tallies {
    fn new(n: usize) -> Self {
        Tallies {
            counts: Tally::default(),
            rejection_codes: BTreeMap::new(),
            tick_to_wire: Latency::new(),
            round_trip: Latency::new(),
            engine_share: Latency::new(),
            seen: vec![0; n + 1],
            unexpected: 0,
            duplicates: 0,
            outcomes: 0,
            first_unexpected: None,
            gone_after_resend: 0,
        }
    }

    fn record(&mut self, plan: &Plan, o: &Outcome) {
        self.outcomes += 1;
        self.counts.add(LineStatus::from(&o.status));
        if let Status::Rejected { code, .. } = o.status {
            *self.rejection_codes.entry(code).or_default() += 1;
        }
        if let Some(ns) = o.times.tick_to_wire_ns() {
            self.tick_to_wire.record(ns);
        }
        if let Some(ns) = o.times.round_trip_ns() {
            self.round_trip.record(ns);
        }
        if let Some(ns) = o.times.engine_share_ns() {
            self.engine_share.record(ns);
        }
        let tag = o.tag() as usize;
        let Some(seen) = self.seen.get_mut(tag).filter(|_| tag > 0) else {
            self.unexpected += 1;
            return;
        };
        *seen += 1;
        if *seen > 1 {
            self.duplicates += 1;
            return;
        }
        let expected = plan.cancels[tag - 1].1;
        let gone = expected == Expect::Acked
            && o.attempts > 1
            && matches!(o.status, Status::Rejected { code, .. } if ORDER_GONE.contains(&code));
        if gone {
            self.gone_after_resend += 1;
        }
        let ok = gone
            || matches!(
                (expected, o.status),
                (Expect::Acked, Status::Acked) | (Expect::Rejected, Status::Rejected { .. })
            );
        if !ok {
            self.unexpected += 1;
            self.first_unexpected.get_or_insert_with(|| {
                format!(
                    "cancel {tag} ({}) came back {}",
                    o.cancel.inst_type, o.status
                )
            });
        }
    }

    fn without_outcome(&self) -> u64 {
        self.seen.iter().skip(1).filter(|&&n| n == 0).count() as u64
    }
}

/// Progress on stderr: one updating line on a terminal, else a line a second.
#[derive(Debug)]
struct Progress {
    terminal: bool,
    every: Duration,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            terminal,
            every: if terminal {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            },
            last: Instant::now(),
            shown: false,
        }
    }

    fn show(&mut self, sent: usize, n: usize, t: &Tallies, force: bool) {
        if !force && self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let c = &t.counts;
        let text = format!(
            "demo: {sent}/{n} queued, {} outcomes ({} acked, {} rejected, {} unknown, {} not sent)",
            t.outcomes, c.acked, c.rejected, c.unknown, c.not_sent
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{text}\x1b[K")
        } else {
            writeln!(err, "{text}")
        };
        self.shown = true;
    }

    fn finish(&mut self) {
        if self.terminal && self.shown {
            eprintln!();
        }
    }
}

pub fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let n = args.cancels as usize;
    let idle = IdleChoice::new(args.idle);
    let sim_config = SimConfig {
        max_messages_per_second: args.limit,
        record_limit: 0,
        ..SimConfig::default()
    };
    let credentials = Credentials::new(
        sim_config.api_key.as_str(),
        sim_config.secret.as_str(),
        sim_config.passphrase.as_str(),
    )
    .map_err(Failure::runtime)?;
    let venue = SimVenue::start(sim_config)
        .map_err(|e| Failure::runtime(format!("cannot start the simulated venue: {e}")))?;
    let plan = Plan::seed(&venue, n)?;

    let mut builder = args
        .pool
        .apply(Config::builder(credentials))
        .url(venue.url())
        .rest_url(venue.rest_url())
        .extra_root_ca_pem(venue.ca_pem().as_bytes())
        .idle(idle.idle.strategy())
        .messages_per_second(args.limit)
        .cancels_per_second(args.limit)
        .max_queue_time(MAX_QUEUE)
        .ack_timeout(ACK_TIMEOUT)
        // A login the venue swallows (--chaos) is given up after a second.
        .connect_timeout(Duration::from_secs(1))
        .login_retry_after(None);
    if let Some(core) = args.core {
        builder = builder.core(core);
    }
    let config = builder.build().map_err(Failure::runtime)?;
    let (engine, handle) = Engine::start(config).map_err(|e| match e {
        StartError::Pinning { core, reason } => Failure::config(format!(
            "cannot pin the engine thread to core {core} (--core): {reason}"
        )),
        e => Failure::runtime(format!("cannot start the engine: {e}")),
    })?;

    eprintln!(
        "demo: simulated venue at {} with {} resting orders; connecting over TLS...",
        venue.url(),
        plan.resting
    );
    let login = wait_live(&handle)?;
    eprintln!(
        "demo: logged in after {:.1} ms; sending {n} cancels at {}/s (idle {})",
        login.as_secs_f64() * 1000.0,
        args.rate,
        idle.idle.name()
    );

    let started = Instant::now();
    let chaos = args.chaos.then_some(&venue);
    let (tallies, full_ring_waits) = drive(&handle, &plan, args.rate, chaos);
    let duration = started.elapsed();
    let pinning = handle.pinning();
    let stats = engine.shutdown();
    let venue_stats = venue.stats();
    let left_resting = venue.resting_orders() as u64;
    venue.shutdown();

    let summary = Summary {
        n: n as u64,
        args: &args,
        idle: &idle,
        plan: &plan,
        tallies: &tallies,
        stats,
        venue_stats,
        pinning: describe_pinning(pinning),
        pinned_core: pinned_core(pinning),
        full_ring_waits,
        login,
        duration,
        left_resting,
    };
    let problems = summary.problems();
    if args.json {
        println!("{}", summary.json(&problems));
    } else {
        print!("{}", summary.text(&problems));
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure::runtime(format!(
            "the demo did not go as expected: {}",
            problems.join("; ")
        )))
    }
}

/// Waits until the engine is logged in; returns how long it took.
fn wait_live(handle: &Handle) -> Result<Duration, Failure> {
    let started = Instant::now();
    if handle.wait_live(CONNECT_WAIT) {
        return Ok(started.elapsed());
    }
    let why = handle.last_error().map_or_else(
        || "not logged in within the time allowed".to_string(),
        |e| e.to_string(),
    );
    Err(Failure::runtime(format!(
        "the engine could not log in to the simulated venue: {why}"
    )))
}

/// With `--chaos`, as the cancels are queued: a quarter of the way through the venue drops the
/// oldest logged-in connection; half way it freezes the connection that carries the next cancel
/// (pings answered, cancels never); at 60% it takes every WebSocket down (drops them and swallows
/// every login) until 80%, so the REST rung carries the cancels meanwhile.
#[derive(Debug)]
struct Chaos<'v> {
    venue: &'v SimVenue,
    handle: &'v Handle,
    done: u8,
}

/// How long the demo looks for the engine's connection that the venue dropped.
const NOTICE_WAIT: Duration = Duration::from_secs(5);

/// The engine's slot (0-based, as in its log, `via` and the pool's figures) that was live in
/// `before` and has since lost its connection: no longer live, or logged in again. The venue
/// numbers its connections differently (from 1, a new number for each reconnect), so the demo
/// names the engine's slot. `None` if no slot shows it within [`NOTICE_WAIT`].
fn dropped_slot(handle: &Handle, before: &Stats) -> Option<usize> {
    let deadline = Instant::now() + NOTICE_WAIT;
    loop {
        let now = handle.stats();
        let slots = before.pool_size + 1;
        let dropped = (0..slots.min(now.connections.len())).find(|&i| {
            let (was, is) = (&before.connections[i], &now.connections[i]);
            was.state == SessionState::Live
                && (is.state != SessionState::Live || is.sessions > was.sessions)
        });
        if dropped.is_some() || Instant::now() >= deadline {
            return dropped;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

impl Chaos<'_> {
    fn step(&mut self, queued: usize, n: usize) {
        let due = match self.done {
            0 => n / 4,
            1 => n / 2,
            2 => n * 3 / 5,
            3 => n * 4 / 5,
            _ => return,
        };
        if queued < due {
            return;
        }
        self.done += 1;
        let venue = self.venue;
        match self.done {
            1 => {
                let before = self.handle.stats();
                match venue.logged_in_connections().first() {
                    Some(&conn) if venue.inject_on(conn, Injection::Drop) => {
                        match dropped_slot(self.handle, &before) {
                            Some(slot) => eprintln!(
                                "demo: chaos: the venue dropped connection {slot} after {queued} cancels"
                            ),
                            None => eprintln!(
                                "demo: chaos: the venue dropped a connection after {queued} cancels"
                            ),
                        }
                    }
                    _ => eprintln!("demo: chaos: no logged-in connection to drop"),
                }
            }
            2 => {
                venue.set_faults(Faults {
                    on_cancel: Some(OnCancel {
                        nth: 1,
                        injection: Injection::Freeze,
                        cancel: CancelFate::Unanswered,
                    }),
                    ..Faults::default()
                });
                eprintln!(
                    "demo: chaos: the venue freezes the connection of the next cancel, after {queued}"
                );
            }
            3 => {
                venue.set_faults(Faults {
                    login: LoginFault::Ignore,
                    ..Faults::default()
                });
                let dropped = venue.drop_connections();
                eprintln!(
                    "demo: chaos: every WebSocket down after {queued} cancels ({dropped} dropped, \
                     logins swallowed): REST takes over"
                );
            }
            _ => {
                venue.set_faults(Faults::none());
                eprintln!("demo: chaos: WebSocket logins answered again after {queued} cancels");
            }
        }
    }
}

/// Offers the cancels at `rate` per second and collects outcomes until each has one (or the
/// engine's own bounds have passed). Returns the tallies and how often the ring was full.
fn drive(handle: &Handle, plan: &Plan, rate: u32, chaos: Option<&SimVenue>) -> (Tallies, u64) {
    let mut chaos = chaos.map(|venue| Chaos {
        venue,
        handle,
        done: 0,
    });
    let n = plan.cancels.len();
    let mut t = Tallies::new(n);
    let mut progress = Progress::new();
    let mut full_ring_waits = 0u64;
    let started = Instant::now();
    let due = |i: usize| Duration::from_nanos(i as u64 * 1_000_000_000 / u64::from(rate));
    let mut next = 0usize;
    let mut all_sent_at: Option<Instant> = None;
    let give_up_after = MAX_QUEUE + ACK_TIMEOUT + Duration::from_secs(5);
    while t.outcomes < n as u64 {
        let now = started.elapsed();
        while next < n && due(next) <= now {
            match handle.cancel(plan.cancels[next].0) {
                Ok(_) => next += 1,
                Err(SubmitError::Full(_)) => {
                    full_ring_waits += 1;
                    break;
                }
                Err(SubmitError::Stopped(_)) => {
                    next = n;
                    break;
                }
            }
        }
        if let Some(chaos) = &mut chaos {
            chaos.step(next, n);
        }
        if next == n && all_sent_at.is_none() {
            all_sent_at = Some(Instant::now());
        }
        for o in handle.try_outcomes() {
            t.record(plan, &o);
        }
        progress.show(next, n, &t, false);
        if t.outcomes >= n as u64 || all_sent_at.is_some_and(|at| at.elapsed() > give_up_after) {
            break;
        }
        let wait = if next < n {
            due(next).saturating_sub(started.elapsed())
        } else {
            Duration::from_millis(100)
        };
        if let Some(o) = handle.outcome_timeout(wait.min(Duration::from_millis(100))) {
            t.record(plan, &o);
        }
    }
    progress.show(next, n, &t, true);
    progress.finish();
    (t, full_ring_waits)
}

/// Everything the summary reports.
#[derive(Debug)]
struct Summary<'a> {
    n: u64,
    args: &'a DemoArgs,
    idle: &'a IdleChoice,
    plan: &'a Plan,
    tallies: &'a Tallies,
    stats: Stats,
    venue_stats: SimStats,
    pinning: String,
    pinned_core: Option<usize>,
    full_ring_waits: u64,
    login: Duration,
    duration: Duration,
    /// Orders still resting on the venue's book after the run.
    left_resting: u64,
}

impl Summary<'_> {
    /// Sentences for what went wrong; empty when every cancel got exactly one outcome and the
    /// counts match the book.
    fn problems(&self) -> Vec<String> {
        let t = self.tallies;
        let mut problems = Vec::new();
        let missing = t.without_outcome();
        if missing > 0 {
            problems.push(format!("{missing} cancels got no outcome"));
        }
        if t.duplicates > 0 {
            problems.push(format!("{} outcomes were duplicates", t.duplicates));
        }
        if t.unexpected > 0 {
            problems.push(format!(
                "{} cancels did not end as expected (first: {})",
                t.unexpected,
                t.first_unexpected
                    .as_deref()
                    .unwrap_or("an outcome for no cancel of the demo")
            ));
        }
        let gone = t.gone_after_resend;
        if problems.is_empty()
            && (t.counts.acked + gone != self.plan.resting
                || t.counts.rejected - gone != self.plan.missing)
        {
            problems.push(format!(
                "expected {} acked and {} rejected, got {} and {}",
                self.plan.resting, self.plan.missing, t.counts.acked, t.counts.rejected
            ));
        }
        if self.left_resting > 0 {
            problems.push(format!(
                "{} orders are still resting on the venue",
                self.left_resting
            ));
        }
        if self.args.chaos && t.counts.unknown > 0 {
            problems.push(format!(
                "{} cancels ended unknown although another connection was live",
                t.counts.unknown
            ));
        }
        problems
    }

    fn limits_sentence(&self) -> String {
        format!(
            "{limit} messages/s and {limit} cancels/s on the venue and the engine, raised for the \
             demo (the live venue allows {LIVE_LIMIT} of each; --limit changes it)",
            limit = self.args.limit
        )
    }

    fn text(&self, problems: &[String]) -> String {
        let t = self.tallies;
        let c = &t.counts;
        let codes = t
            .rejection_codes
            .iter()
            .map(|(code, n)| format!("{code} x{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut s = String::new();
        let mut line = |l: String| {
            s.push_str(&l);
            s.push('\n');
        };
        line(format!(
            "bitget-cancel demo: {} cancels against the simulated venue, over TLS on loopback, in {:.2} s",
            self.n,
            self.duration.as_secs_f64()
        ));
        line(String::new());
        line("outcomes".into());
        line(format!(
            "  acked       {:>8}   expected {} (resting orders, SPOT and USDT-FUTURES, by orderId and clientOid)",
            c.acked, self.plan.resting
        ));
        line(format!(
            "  rejected    {:>8}   expected {} (orders that do not exist){}",
            c.rejected,
            self.plan.missing,
            if codes.is_empty() {
                String::new()
            } else {
                format!("; codes {codes}")
            }
        ));
        if t.gone_after_resend > 0 {
            line(format!(
                "  of which    {:>8}   resting orders whose cancel was sent again (a lost or frozen connection) and found the order gone: the first attempt cancelled it",
                t.gone_after_resend
            ));
        }
        line(format!("  unknown     {:>8}", c.unknown));
        line(format!("  not sent    {:>8}", c.not_sent));
        line(if problems.is_empty() {
            "  every cancel got exactly one outcome, as expected".to_string()
        } else {
            format!("  PROBLEM: {}", problems.join("; "))
        });
        line(String::new());
        line(Latency::header("latency (us)"));
        line(t.engine_share.row("engine share"));
        line(t.tick_to_wire.row("tick-to-wire"));
        line(t.round_trip.row("round trip"));
        line("  engine share: Handle::cancel to the write(2) that carries the frame (the engine's own work); tick-to-wire: to the write(2)'s return; round trip: to the parsed reply".into());
        line(String::new());
        line("in force".into());
        line(format!("  limits      {}", self.limits_sentence()));
        line(format!(
            "  offered     {} cancels/s{}",
            self.args.rate,
            if self.args.rate > self.args.limit {
                " (above the limit: cancels waited for pacing, and the latency includes the wait)"
            } else {
                ""
            }
        ));
        line(format!(
            "  idle        {} ({})",
            self.idle.idle.name(),
            self.idle.why
        ));
        line(format!("  pinning     {}", self.pinning));
        line(format!(
            "  engine      logged in after {:.1} ms; {} login(s), {} reconnect(s), {} pacing wait(s), {} full-ring retr{}",
            self.login.as_secs_f64() * 1000.0,
            self.stats.sessions,
            self.stats.reconnects,
            self.stats.pacing_waits,
            self.full_ring_waits,
            if self.full_ring_waits == 1 {
                "y"
            } else {
                "ies"
            }
        ));
        line(format!(
            "  pool        {}",
            crate::report::pool_summary(&self.stats)
        ));
        line(format!(
            "  venue       {} acked, {} rejected, {} refused, {} connection(s) ended",
            self.venue_stats.cancels_acked,
            self.venue_stats.cancels_rejected,
            self.venue_stats.requests_refused,
            self.venue_stats.disconnects.total(),
        ));
        s
    }

    fn json(&self, problems: &[String]) -> Value {
        let t = self.tallies;
        let c = &t.counts;
        let codes: serde_json::Map<String, Value> = t
            .rejection_codes
            .iter()
            .map(|(code, n)| (code.to_string(), Value::from(*n)))
            .collect();
        json!({
            "ok": problems.is_empty(),
            "problems": problems,
            "cancels": self.n,
            "counts": {
                "acked": c.acked,
                "rejected": c.rejected,
                "unknown": c.unknown,
                "not_sent": c.not_sent,
            },
            "expected": { "acked": self.plan.resting, "rejected": self.plan.missing },
            "rejection_codes": codes,
            "latency_ns": {
                "engine_share": t.engine_share.to_json(),
                "tick_to_wire": t.tick_to_wire.to_json(),
                "round_trip": t.round_trip.to_json(),
            },
            "limits": {
                "messages_per_second": self.args.limit,
                "cancels_per_second": self.args.limit,
                "raised_for_demo": self.args.limit != LIVE_LIMIT,
                "live_venue_limit": LIVE_LIMIT,
            },
            "offered_rate": self.args.rate,
            "idle": self.idle.idle.name(),
            "idle_why": self.idle.why,
            "pinning": self.pinning,
            "pinned_core": self.pinned_core,
            "login_ms": self.login.as_secs_f64() * 1000.0,
            "duration_ms": self.duration.as_secs_f64() * 1000.0,
            "engine": {
                "logins": self.stats.sessions,
                "reconnects": self.stats.reconnects,
                "sent": self.stats.sent,
                "pacing_waits": self.stats.pacing_waits,
                "full_ring_retries": self.full_ring_waits,
                "connections": self.stats.pool_size,
                "hedges_sent": self.stats.hedges_sent,
                "hedges_won": self.stats.hedges_won,
                "failovers": self.stats.failovers,
                "rotations": self.stats.rotations,
                "late_replies": self.stats.late_replies,
            },
            "venue": {
                "cancels_acked": self.venue_stats.cancels_acked,
                "cancels_rejected": self.venue_stats.cancels_rejected,
                "requests_refused": self.venue_stats.requests_refused,
                "disconnects": self.venue_stats.disconnects.total(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitget_cancel::RequestId;
    use bitget_cancel::outcome::{Timestamps, UnknownReason, VenueMsg};

    fn plan() -> Plan {
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new(SYMBOL).unwrap(),
            OrderRef::order_id("1").unwrap(),
        );
        Plan {
            cancels: vec![
                (cancel.with_tag(1), Expect::Acked),
                (cancel.with_tag(2), Expect::Rejected),
            ],
            resting: 1,
            missing: 1,
        }
    }

    fn outcome(plan: &Plan, tag: u64, status: Status) -> Outcome {
        Outcome {
            id: RequestId::from_u64(tag),
            cancel: plan.cancels[tag as usize - 1].0,
            status,
            times: Timestamps {
                accepted_ns: 10,
                handed_ns: 15,
                written_ns: 20,
                settled_ns: 30,
            },
            attempts: 1,
            via: None,
        }
    }

    fn rejected() -> Status {
        Status::Rejected {
            code: 43001,
            msg: VenueMsg::new("The order does not exist"),
        }
    }

    #[test]
    fn expected_outcomes_leave_no_problem() {
        let plan = plan();
        let mut t = Tallies::new(2);
        t.record(&plan, &outcome(&plan, 1, Status::Acked));
        t.record(&plan, &outcome(&plan, 2, rejected()));
        assert_eq!((t.unexpected, t.duplicates, t.without_outcome()), (0, 0, 0));
        assert_eq!(t.rejection_codes.get(&43001), Some(&1));
        assert_eq!(t.round_trip.count(), 2);
    }

    #[test]
    fn a_missing_a_duplicate_and_a_wrong_outcome_are_all_caught() {
        let plan = plan();
        let mut t = Tallies::new(2);
        t.record(
            &plan,
            &outcome(&plan, 1, Status::Unknown(UnknownReason::AckTimeout)),
        );
        t.record(&plan, &outcome(&plan, 1, Status::Acked));
        assert_eq!(t.unexpected, 1);
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.without_outcome(), 1);
        assert!(t.first_unexpected.unwrap().contains("cancel 1"));
    }
}
