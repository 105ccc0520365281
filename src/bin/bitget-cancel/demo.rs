//! `bitget-cancel demo`: the engine against the embedded simulated venue, with a summary.
//!
//! The venue runs on loopback with a generated CA that the engine trusts as an extra root: the
//! TLS is real and verified. The book holds one resting order per cancel, except for 2% of the
//! cancels, which name orders that do not exist; every cancel must end acked or rejected
//! accordingly, exactly once.
//!
//! The final word is on: every cancel also gets its final word, which must agree with the
//! venue's book after the run. A scripted taker fills 4% of the orders wholly just as their
//! cancel is queued (some cancels lose that race: 43001, then the `filled` push) and 4% partly
//! just before (cancelled, with the filled size).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use bitget_cancel::engine::{
    Account, Config, Confirm, Credentials, SessionState, StartError, Stats, SubmitError,
};
use bitget_cancel::final_word::{FinalSource, FinalState, FinalWord, UnconfirmedReason};
use bitget_cancel::jsonl::LineStatus;
use bitget_cancel::sim::{
    AccountMode, CancelFate, Faults, Injection, LoginFault, OnCancel, OrderStatus as BookStatus,
    PushLoss, RestingOrder, SimConfig, SimStats, SimVenue,
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
/// How long a cancel waits for its final word under `--chaos`, where many pushes are lost and
/// the order queries that replace them keep to the venue's own limits (20/s spot, 10/s
/// futures); the library's default (5 s) otherwise.
const CHAOS_CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);
/// The venue's "the order does not exist" codes: spot, futures over WebSocket, futures over REST
/// (V2), and the unified account's (V3).
const ORDER_GONE: [i64; 4] = [43001, 41101, 40768, 25204];

/// What a cancel of the demo should come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Acked,
    Rejected,
    /// A taker fills the order as the cancel is queued: acked, or rejected as gone if the fill
    /// won.
    Race,
}

/// What the scripted taker does to a cancel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    None,
    /// All of it, right after the cancel is queued.
    Race,
    /// [`PARTIAL`] of it, before the run.
    Partial,
}

/// The partial fill, of an order of [`bitget_cancel::sim::DEFAULT_SIZE`] (1).
const PARTIAL: &str = "0.4";

/// The cancels to send, in order; cancel `i` carries tag `i + 1`.
#[derive(Debug)]
struct Plan {
    cancels: Vec<(Cancel, Expect)>,
    /// The resting order each cancel names (`None` for the missing ones), and the taker's fill.
    orders: Vec<(Option<RestingOrder>, Fill)>,
    resting: u64,
    missing: u64,
    races: u64,
    partials: u64,
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
        let mut orders = Vec::with_capacity(n);
        let (mut races, mut partials) = (0u64, 0u64);
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
                orders.push((None, Fill::None));
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
                // 4% race a taker filling the whole order, 4% find it partly filled.
                let (fill, expect) = match placed_resting % 25 {
                    7 => (Fill::Race, Expect::Race),
                    19 => (Fill::Partial, Expect::Acked),
                    _ => (Fill::None, Expect::Acked),
                };
                races += u64::from(fill == Fill::Race);
                partials += u64::from(fill == Fill::Partial);
                if fill == Fill::Partial {
                    venue
                        .fill(resting.inst_type, SYMBOL, &resting.order_id, Some(PARTIAL))
                        .map_err(Failure::runtime)?;
                }
                orders.push((Some(resting.clone()), fill));
                (Cancel::new(inst_type, inst_id, order), expect)
            };
            cancels.push((cancel.with_tag(i as u64 + 1), expect));
        }
        Ok(Plan {
            cancels,
            orders,
            resting: resting as u64,
            missing: missing as u64,
            races,
            partials,
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
    /// Cancels that lost the race to the taker's fill (rejected as gone).
    race_lost: u64,
    /// Final words per tag (index 0 unused), and how many came per tag.
    finals: Vec<Option<FinalWord>>,
    finals_seen: Vec<u8>,
    final_count: u64,
    final_duplicates: u64,
    /// Outcomes of cancels that were sent: each is owed a final word.
    sent: u64,
    /// From the outcome to the final word, for final words from a push.
    reply_to_final_push: Latency,
    /// The same, from REST.
    reply_to_final_rest: Latency,
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
            race_lost: 0,
            finals: vec![None; n + 1],
            finals_seen: vec![0; n + 1],
            final_count: 0,
            final_duplicates: 0,
            sent: 0,
            reply_to_final_push: Latency::new(),
            reply_to_final_rest: Latency::new(),
        }
    }

    fn record_final(&mut self, w: &FinalWord) {
        self.final_count += 1;
        let tag = w.tag() as usize;
        let Some(seen) = self.finals_seen.get_mut(tag).filter(|_| tag > 0) else {
            return;
        };
        *seen += 1;
        if *seen > 1 {
            self.final_duplicates += 1;
            return;
        }
        self.finals[tag] = Some(*w);
        match w.source {
            Some(FinalSource::Push) => self.reply_to_final_push.record(w.times.since_settled_ns()),
            Some(FinalSource::Rest) => self.reply_to_final_rest.record(w.times.since_settled_ns()),
            None => {}
        }
    }

    /// Final words by state, and by source.
    fn final_counts(&self) -> FinalCounts {
        let mut c = FinalCounts::default();
        for w in self.finals.iter().flatten() {
            match w.state {
                FinalState::Cancelled if w.filled.is_some_and(|f| !f.is_zero()) => {
                    c.cancelled += 1;
                    c.cancelled_partly += 1;
                }
                FinalState::Cancelled => c.cancelled += 1,
                FinalState::Filled => c.filled += 1,
                FinalState::Live => c.live += 1,
                FinalState::Unconfirmed(UnconfirmedReason::NotFound) => {
                    c.unconfirmed += 1;
                    c.not_found += 1;
                }
                FinalState::Unconfirmed(_) => c.unconfirmed += 1,
            }
            match w.source {
                Some(FinalSource::Push) => c.push += 1,
                Some(FinalSource::Rest) => c.rest += 1,
                None => {}
            }
        }
        c
    }

    fn record(&mut self, plan: &Plan, o: &Outcome) {
        self.outcomes += 1;
        self.sent += u64::from(o.status.was_sent());
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
        let order_gone =
            matches!(o.status, Status::Rejected { code, .. } if ORDER_GONE.contains(&code));
        let gone = expected == Expect::Acked && o.attempts > 1 && order_gone;
        if gone {
            self.gone_after_resend += 1;
        }
        let lost_race = expected == Expect::Race && order_gone;
        if lost_race {
            self.race_lost += 1;
        }
        let ok = gone
            || lost_race
            || matches!(
                (expected, o.status),
                (Expect::Acked | Expect::Race, Status::Acked)
                    | (Expect::Rejected, Status::Rejected { .. })
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

/// Final words by state and by source.
#[derive(Debug, Default, Clone, Copy)]
struct FinalCounts {
    cancelled: u64,
    cancelled_partly: u64,
    filled: u64,
    live: u64,
    unconfirmed: u64,
    not_found: u64,
    push: u64,
    rest: u64,
}

/// How the final words compare with the venue's book after the run.
#[derive(Debug, Default)]
struct BookCheck {
    /// Final words whose state or filled size differ from the book's.
    mismatches: u64,
    first_mismatch: Option<String>,
}

/// Compares every final word with the venue's book: a resting order's word must say what the
/// book says (filled with its size, or cancelled with what filled first); a missing order's
/// must be unconfirmed, not found.
fn check_book(venue: &SimVenue, plan: &Plan, t: &Tallies) -> BookCheck {
    let mut check = BookCheck::default();
    for (i, (order, _)) in plan.orders.iter().enumerate() {
        let Some(word) = t.finals[i + 1] else {
            continue;
        };
        let expected =
            match order {
                None => Some((FinalState::Unconfirmed(UnconfirmedReason::NotFound), None)),
                Some(o) => venue
                    .order(o.inst_type, &o.inst_id, &o.order_id)
                    .and_then(|book| match book.status {
                        BookStatus::Filled => Some((FinalState::Filled, Some(book.filled))),
                        BookStatus::Cancelled => Some((FinalState::Cancelled, Some(book.filled))),
                        _ => None,
                    }),
            };
        let said = (word.state, word.filled.map(|d| d.to_string()));
        if expected.as_ref() != Some(&said) {
            check.mismatches += 1;
            check.first_mismatch.get_or_insert_with(|| {
                format!(
                    "cancel {}: the final word says {} (filled {:?}), the book {expected:?}",
                    i + 1,
                    word.state,
                    said.1
                )
            });
        }
    }
    check
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
            "demo: {sent}/{n} queued, {} outcomes ({} acked, {} rejected, {} unknown, {} not sent), {} final words",
            t.outcomes, c.acked, c.rejected, c.unknown, c.not_sent, t.final_count
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

/// Which account, and so which API, the engine speaks.
fn account_words(stats: &Stats) -> &'static str {
    if stats.unified.unified {
        "unified account, V3"
    } else {
        "classic account, V2"
    }
}

pub fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let n = args.cancels as usize;
    let idle = IdleChoice::new(args.idle);
    let sim_config = SimConfig {
        max_messages_per_second: args.limit,
        record_limit: 0,
        // `--account unified` runs the demo over V3: the venue's key is a unified account's.
        account_mode: match args.pool.account {
            Account::Unified => AccountMode::Unified,
            Account::Classic | Account::Auto => AccountMode::Classic,
        },
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
        .uta_url(venue.v3_url())
        .rest_url(venue.rest_url())
        .extra_root_ca_pem(venue.ca_pem().as_bytes())
        .idle(idle.idle.strategy())
        .messages_per_second(args.limit)
        .cancels_per_second(args.limit)
        .max_queue_time(MAX_QUEUE)
        .ack_timeout(ACK_TIMEOUT)
        // A login the venue swallows (--chaos) is given up after a second.
        .connect_timeout(Duration::from_secs(1))
        .login_retry_after(None)
        .confirm(confirm(args.chaos));
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
        "demo: logged in after {:.1} ms ({}); sending {n} cancels at {}/s (idle {})",
        login.as_secs_f64() * 1000.0,
        account_words(&handle.stats()),
        args.rate,
        idle.idle.name()
    );

    let started = Instant::now();
    let (tallies, full_ring_waits) = drive(&handle, &venue, &plan, args.rate, args.chaos);
    let duration = started.elapsed();
    let pinning = handle.pinning();
    let stats = engine.shutdown();
    let venue_stats = venue.stats();
    let left_resting = venue.resting_orders() as u64;
    let book = check_book(&venue, &plan, &tallies);
    let pushes_lost = venue.activity().pushes_lost;
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
        book,
        pushes_lost,
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

/// The final word's settings: the library's defaults, with a longer timeout under `--chaos`.
fn confirm(chaos: bool) -> Confirm {
    let defaults = Confirm::default();
    Confirm {
        timeout: if chaos {
            CHAOS_CONFIRM_TIMEOUT
        } else {
            defaults.timeout
        },
        ..defaults
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
                venue.set_faults(Faults {
                    lose_pushes: PushLoss::OneIn(4),
                    ..Faults::default()
                });
                eprintln!(
                    "demo: chaos: the venue loses one order push in four from now on (REST answers for them)"
                );
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
                    lose_pushes: PushLoss::OneIn(4),
                    ..Faults::default()
                });
                eprintln!(
                    "demo: chaos: the venue freezes the connection of the next cancel, after {queued}"
                );
            }
            3 => {
                venue.set_faults(Faults {
                    login: LoginFault::Ignore,
                    lose_pushes: PushLoss::OneIn(4),
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
                eprintln!(
                    "demo: chaos: WebSocket logins answered and pushes delivered again after {queued} cancels"
                );
            }
        }
    }
}

/// Queues cancel `i`, and for a race the taker fills its order right after; false when the
/// ring was full (nothing happened), `Err` when the engine stopped.
fn queue(handle: &Handle, venue: &SimVenue, plan: &Plan, i: usize) -> Result<bool, ()> {
    match handle.cancel(plan.cancels[i].0) {
        Ok(_) => {
            if let (Some(o), Fill::Race) = &plan.orders[i] {
                // A fill of an order the cancel already took is refused by the book: the
                // cancel won the race.
                let _ = venue.fill(o.inst_type, &o.inst_id, &o.order_id, None);
            }
            Ok(true)
        }
        Err(SubmitError::Full(_)) => Ok(false),
        Err(SubmitError::Stopped(_)) => Err(()),
    }
}

/// Offers the cancels at `rate` per second and collects outcomes and final words until each
/// sent cancel has both (or the engine's own bounds have passed). Returns the tallies and how
/// often the ring was full.
fn drive(handle: &Handle, venue: &SimVenue, plan: &Plan, rate: u32, chaos: bool) -> (Tallies, u64) {
    let mut chaos = chaos.then_some(Chaos {
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
    let give_up_after =
        MAX_QUEUE + ACK_TIMEOUT + confirm(chaos.is_some()).timeout + Duration::from_secs(5);
    let done = |t: &Tallies| t.outcomes >= n as u64 && t.final_count >= t.sent;
    while !done(&t) {
        let now = started.elapsed();
        while next < n && due(next) <= now {
            match queue(handle, venue, plan, next) {
                Ok(true) => next += 1,
                Ok(false) => {
                    full_ring_waits += 1;
                    break;
                }
                Err(()) => {
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
        for w in handle.try_finals() {
            t.record_final(&w);
        }
        progress.show(next, n, &t, false);
        if done(&t) || all_sent_at.is_some_and(|at| at.elapsed() > give_up_after) {
            break;
        }
        let wait = if next < n {
            due(next).saturating_sub(started.elapsed())
        } else {
            Duration::from_millis(100)
        };
        if t.outcomes < n as u64 {
            if let Some(o) = handle.outcome_timeout(wait.min(Duration::from_millis(100))) {
                t.record(plan, &o);
            }
        } else if let Some(w) = handle.final_timeout(wait.min(Duration::from_millis(100))) {
            t.record_final(&w);
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
    /// The final words against the book.
    book: BookCheck,
    /// Pushes the venue lost on purpose (`--chaos`).
    pushes_lost: u64,
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
        let gone = t.gone_after_resend + t.race_lost;
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
        let without_final = t
            .sent
            .saturating_sub(t.finals.iter().flatten().count() as u64);
        if without_final > 0 {
            problems.push(format!("{without_final} sent cancels got no final word"));
        }
        if t.final_duplicates > 0 {
            problems.push(format!(
                "{} final words were duplicates",
                t.final_duplicates
            ));
        }
        if self.book.mismatches > 0 {
            problems.push(format!(
                "{} final words disagree with the venue's book (first: {})",
                self.book.mismatches,
                self.book.first_mismatch.as_deref().unwrap_or("?")
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
        let race = if self.plan.races > 0 {
            " and cancels that lose the race to a fill"
        } else {
            ""
        };
        line(format!(
            "  acked       {:>8}   expected {} (resting orders, SPOT and USDT-FUTURES, by orderId and clientOid){}",
            c.acked,
            self.plan.resting,
            if race.is_empty() {
                ""
            } else {
                ", less the cancels that lose the race to a fill"
            }
        ));
        line(format!(
            "  rejected    {:>8}   expected {} (orders that do not exist{race}){}",
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
        if t.race_lost > 0 {
            line(format!(
                "  of which    {:>8}   lost the race to a taker filling the order at that moment: the fill came first",
                t.race_lost
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
        let f = t.final_counts();
        line("final words (is the order gone, and how much filled)".into());
        line(format!(
            "  cancelled   {:>8}   {} of them partly filled first ({} planned, {PARTIAL} each)",
            f.cancelled, f.cancelled_partly, self.plan.partials
        ));
        line(format!(
            "  filled      {:>8}   the taker's fill won the race ({} raced)",
            f.filled, self.plan.races
        ));
        line(format!("  live        {:>8}", f.live));
        line(format!(
            "  unconfirmed {:>8}   {} of them orders the venue does not know (its order query says so)",
            f.unconfirmed, f.not_found
        ));
        line(format!(
            "  from        {:>8} pushes, {} REST order queries{}",
            f.push,
            f.rest,
            if self.pushes_lost > 0 {
                format!(" ({} pushes lost on purpose)", self.pushes_lost)
            } else {
                String::new()
            }
        ));
        if problems.is_empty() {
            line("  every sent cancel got exactly one final word, and each agrees with the venue's book".into());
        }
        line(String::new());
        line(Latency::header("latency (us)"));
        line(t.engine_share.row("engine share"));
        line(t.tick_to_wire.row("tick-to-wire"));
        line(t.round_trip.row("round trip"));
        line(t.reply_to_final_push.row("final (push)"));
        line(t.reply_to_final_rest.row("final (REST)"));
        line("  engine share: Handle::cancel to the write(2) that carries the frame (the engine's own work); tick-to-wire: to the write(2)'s return; round trip: to the parsed reply; final: from the reply to the final word, by where it came from".into());
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
        let c = confirm(self.args.chaos);
        line(format!(
            "  final word  pushes on the {}; REST order query {:?} after the reply when none came, then backing off, within the venue's query limits ({}); time up {:?} after the reply{}",
            if self.stats.unified.unified {
                "order topic"
            } else {
                "order channel"
            },
            c.after,
            if self.stats.unified.unified {
                "order-info, 10/s for every category together"
            } else {
                "20/s spot, 10/s futures"
            },
            c.timeout,
            if self.args.chaos {
                " (longer under --chaos, where many pushes are lost)"
            } else {
                ""
            }
        ));
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
        let f = t.final_counts();
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
                "reply_to_final_push": t.reply_to_final_push.to_json(),
                "reply_to_final_rest": t.reply_to_final_rest.to_json(),
            },
            "finals": {
                "cancelled": f.cancelled,
                "cancelled_partly_filled": f.cancelled_partly,
                "filled": f.filled,
                "live": f.live,
                "unconfirmed": f.unconfirmed,
                "not_found": f.not_found,
                "by_push": f.push,
                "by_rest": f.rest,
                "races": self.plan.races,
                "races_lost": t.race_lost,
                "partial_fills": self.plan.partials,
                "book_mismatches": self.book.mismatches,
                "pushes_lost": self.pushes_lost,
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
            "account": if self.stats.unified.unified { "unified" } else { "classic" },
            "account_switches": self.stats.unified.switches,
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
            orders: vec![(None, Fill::None), (None, Fill::None)],
            resting: 1,
            missing: 1,
            races: 0,
            partials: 0,
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
            batch: None,
            cancel_all: None,
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
