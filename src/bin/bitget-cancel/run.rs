//! `bitget-cancel run`: cancels from stdin to the venue, one JSON outcome per line on stdout.
//!
//! A reader thread reads and validates lines and submits cancels tagged with their line number
//! (retrying while the intent ring is full: a line is never dropped). The main thread writes each
//! outcome as it comes, and the reader's refusals (invalid lines) as they come. After end of input
//! it waits for the outstanding outcomes, as long as the engine's longest chain of re-sends can
//! take ([`Config::longest_outcome_wait`], and some slack), then shuts the engine down.
//!
//! With `--confirm` a sent line waits for its final word too (the engine bounds it by the confirm
//! timeout after the outcome) and is written with both; a line never sent is written at once,
//! its final fields null.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use bitget_cancel::engine::{
    Account, Config, Confirm, Credentials, DEMO_URL, SessionError, SessionState, StartError,
    SubmitError,
};
use bitget_cancel::final_word::FinalSource;
use bitget_cancel::jsonl::{Input, LineFinal, OutcomeLine};
use bitget_cancel::{Cancel, CancelAll, Engine, FinalWord, Handle, Outcome};

use crate::args::RunArgs;
use crate::failure::{EXIT_INTERRUPTED, Failure};
use crate::idle::IdleChoice;
use crate::input::{Line, LineReader, MAX_LINE, is_blank, parse_input};
use crate::report::Tally;

/// What the reader thread tells the main thread.
#[derive(Debug)]
enum Event {
    /// A line that is not sent; print it.
    Line(OutcomeLine),
    /// A cancel went to the engine; its outcome will come from the engine.
    Submitted,
    /// End of input: no more events. Carries how often a submission met a full intent ring
    /// and waited.
    Eof { full_ring_waits: u64 },
    /// Reading stdin failed; no more events.
    ReadError(String),
}

/// How often the main thread looks at the reader's events while waiting for outcomes.
const POLL: Duration = Duration::from_millis(5);

/// How long `run` waits for a verdict on the login before it reads its input.
const LOGIN_WAIT: Duration = Duration::from_secs(15);

pub fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let credentials = Credentials::from_env().map_err(|e| {
        Failure::config(format!(
            "{e}: run reads the credentials from BITGET_API_KEY, BITGET_API_SECRET and \
             BITGET_API_PASSPHRASE"
        ))
    })?;
    let idle = IdleChoice::new(args.idle);
    let (config, url) = config(&args, credentials, &idle)?;
    let longest = give_up_after(&config);
    eprintln!(
        "bitget-cancel run: connecting to {} ({} connections, idle {}, at most {} messages/s per connection and {} cancels/s)",
        match config.account() {
            Account::Classic => url.clone(),
            Account::Unified => config.uta_url().to_owned(),
            Account::Auto => format!(
                "{url} or, for a unified account (asked over REST first), {}",
                config.uta_url()
            ),
        },
        config.connections(),
        idle.idle.name(),
        config.messages_per_second(),
        config.cancels_per_second(),
    );
    let (engine, handle) = Engine::start(config).map_err(|e| match e {
        StartError::Tls(e) => Failure::config(format!("cannot use the CA file: {e}")),
        StartError::Io(e) => Failure::runtime(format!("cannot start the engine: {e}")),
        StartError::Pinning { core, reason } => Failure::config(format!(
            "cannot pin the engine thread to core {core} (--core): {reason}"
        )),
    })?;

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = interrupted.clone();
        if let Err(e) = ctrlc::set_handler(move || interrupted.store(true, Ordering::SeqCst)) {
            log::warn!("cannot handle Ctrl-C; it will end the process at once: {e}");
        }
    }

    let (tx, rx) = mpsc::channel();
    {
        let handle = handle.clone();
        thread::Builder::new()
            .name("stdin-reader".to_string())
            .spawn(move || read_input(&handle, &tx))
            .map_err(|e| Failure::runtime(format!("cannot start the input thread: {e}")))?;
    }

    let mut out = Output::new(args.confirm);
    let ended = pump(&handle, &rx, &mut out, &interrupted, longest)?;
    let last_error = handle.last_error();
    let stats = engine.shutdown();
    // Whatever shutdown reported (only after an interruption or the safety net).
    for outcome in handle.try_outcomes() {
        out.outcome(&outcome)?;
    }
    for word in handle.try_finals() {
        out.final_word(word)?;
    }
    for event in rx.try_iter() {
        if let Event::Line(record) = event {
            out.write(record)?;
        }
    }
    // Shutdown gives every waiting line its final word; a line still without one is written
    // with none rather than lost.
    out.flush_held()?;
    let t = out.tally;
    eprintln!(
        "bitget-cancel run: {} line{}: {} acked, {} rejected, {} unknown, {} invalid, {} not sent{}",
        t.total(),
        if t.total() == 1 { "" } else { "s" },
        t.acked,
        t.rejected,
        t.unknown,
        t.invalid,
        t.not_sent,
        match ended.full_ring_waits {
            0 => String::new(),
            n => format!(" (input waited {n} times for room in the intent ring)"),
        }
    );
    if args.confirm {
        let f = &out.finals;
        eprintln!(
            "bitget-cancel run: final words: {} cancelled, {} filled, {} live, {} unconfirmed \
             ({} by push, {} by REST)",
            f.cancelled, f.filled, f.live, f.unconfirmed, f.push, f.rest
        );
    }
    eprintln!("bitget-cancel run: {}", crate::report::pool_summary(&stats));
    eprintln!("bitget-cancel run: {}", account_summary(&stats));

    match ended.end {
        End::Interrupted => {
            return Err(Failure {
                message: "interrupted; the outcomes known so far were reported".to_string(),
                code: EXIT_INTERRUPTED,
            });
        }
        End::ReadError(e) => {
            return Err(Failure::runtime(format!("cannot read standard input: {e}")));
        }
        End::Eof => {}
    }
    if let Some(SessionError::LoginRejected { code, msg }) = &last_error {
        return Err(Failure::config(format!(
            "the venue refused the credentials ({code} {msg}); every cancel was reported not_sent"
        )));
    }
    if stats.sessions == 0 && stats.rest.replies == 0 {
        let why = last_error.map_or_else(
            || "not logged in within the time allowed".to_string(),
            |e| e.to_string(),
        );
        return Err(Failure::runtime(format!(
            "could not log in to the venue at {url}: {why}"
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// The engine configuration from the options; defaults are the library's.
fn config(
    args: &RunArgs,
    credentials: Credentials,
    idle: &IdleChoice,
) -> Result<(Config, String), Failure> {
    let url = if args.demo_trading {
        DEMO_URL.to_string()
    } else {
        args.url.clone()
    };
    let ms = Duration::from_millis;
    let mut b = args
        .pool
        .apply(Config::builder(credentials).rest_url(args.rest_url.clone()))
        .url(url.clone())
        .idle(idle.idle.strategy())
        // Refused credentials stay refused: report every line at once instead of retrying.
        .login_retry_after(None);
    if let Some(path) = &args.ca_file {
        b = b.extra_root_ca_file(path);
    }
    if let Some(uta_url) = &args.uta_url {
        b = b.uta_url(uta_url.clone());
    }
    if let Some(v) = args.ack_timeout_ms {
        b = b.ack_timeout(ms(v));
    }
    if let Some(v) = args.ping_interval_ms {
        b = b.ping_interval(ms(v));
    }
    if let Some(v) = args.max_msgs_per_sec {
        b = b.messages_per_second(v);
    }
    if let Some(v) = args.max_cancels_per_sec {
        b = b.cancels_per_second(v);
    }
    if let Some(v) = args.max_queue_ms {
        b = b.max_queue_time(ms(v));
    }
    if let Some(core) = args.core {
        b = b.core(core);
    }
    if args.confirm {
        let defaults = Confirm::default();
        let timeout = args.confirm_timeout_ms.map_or(defaults.timeout, ms);
        b = b.confirm(Confirm {
            after: defaults.after.min(timeout),
            timeout,
            ..defaults
        });
    }
    let config = b.build().map_err(Failure::config)?;
    Ok((config, url))
}

/// The reader thread: one event per non-blank line, then `Eof` (or `ReadError`).
///
/// It starts reading once the login has a verdict: a cancel cannot go out before, and its
/// tick-to-wire then measures the engine, not the login. A refused login or a failed connection
/// ends the wait too, so that every line still gets its outcome.
fn read_input(handle: &Handle, events: &Sender<Event>) {
    wait_for_login_verdict(handle);
    let stdin = io::stdin().lock();
    let mut reader = LineReader::new(stdin);
    let mut number = 0u64;
    let mut full_ring_waits = 0u64;
    loop {
        let line = match reader.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                let _ = events.send(Event::ReadError(e.to_string()));
                return;
            }
        };
        number += 1;
        let event = match line {
            Line::TooLong => Event::Line(OutcomeLine::invalid(
                number,
                format!("the line is longer than {MAX_LINE} bytes"),
            )),
            Line::Text(text) if is_blank(&text) => continue,
            Line::Text(text) => match parse_input(&text) {
                Err(why) => Event::Line(OutcomeLine::invalid(number, why)),
                Ok(Input::Cancel(cancel)) => {
                    submit(handle, cancel.with_tag(number), &mut full_ring_waits)
                }
                Ok(Input::CancelAll(all)) => {
                    submit_all(handle, all.with_tag(number), &mut full_ring_waits)
                }
            },
        };
        if events.send(event).is_err() {
            return;
        }
    }
    let _ = events.send(Event::Eof { full_ring_waits });
}

/// Hands a cancel to the engine, waiting while the ring is full (counted in `full_ring_waits`).
fn submit(handle: &Handle, mut cancel: Cancel, full_ring_waits: &mut u64) -> Event {
    loop {
        match handle.cancel(cancel) {
            Ok(_) => return Event::Submitted,
            Err(SubmitError::Full(c)) => {
                cancel = c;
                *full_ring_waits += 1;
                thread::sleep(Duration::from_micros(200));
            }
            Err(SubmitError::Stopped(c)) => {
                return Event::Line(OutcomeLine::stopped(
                    c.tag,
                    c.id.map(|id| id.as_str().to_string()),
                ));
            }
        }
    }
}

/// Hands a cancel-all to the engine, waiting while the ring is full.
fn submit_all(handle: &Handle, all: CancelAll, full_ring_waits: &mut u64) -> Event {
    loop {
        match handle.cancel_all(all) {
            Ok(_) => return Event::Submitted,
            Err(SubmitError::Full(_)) => {
                *full_ring_waits += 1;
                thread::sleep(Duration::from_micros(200));
            }
            Err(SubmitError::Stopped(_)) => {
                return Event::Line(OutcomeLine::stopped(all.tag, None));
            }
        }
    }
}

#[derive(Debug)]
enum End {
    Eof,
    Interrupted,
    ReadError(String),
}

#[derive(Debug)]
struct Ended {
    end: End,
    /// How often a submission met a full intent ring and waited.
    full_ring_waits: u64,
}

/// How long `run` waits for outcomes after its input ended: the engine's longest chain of
/// re-sends, then the final word's confirm timeout when it is on, and some slack.
fn give_up_after(config: &Config) -> Duration {
    config
        .longest_outcome_wait()
        .saturating_add(config.confirm().map_or(Duration::ZERO, |c| c.timeout))
        .saturating_add(Duration::from_secs(5))
}

/// Writes outcomes (with `--confirm`, once their final word came too) and the reader's records
/// until the input ended and every submitted cancel has its line, or an interruption. Past the
/// engine's own bound after the end of input ([`give_up_after`]), it stops waiting: shutdown
/// reports the rest.
fn pump(
    handle: &Handle,
    events: &Receiver<Event>,
    out: &mut Output,
    interrupted: &AtomicBool,
    give_up: Duration,
) -> Result<Ended, Failure> {
    let mut submitted = 0u64;
    let mut end: Option<End> = None;
    let mut give_up_at: Option<Instant> = None;
    let mut full_ring_waits = 0u64;
    loop {
        while end.is_none() {
            match events.try_recv() {
                Ok(Event::Line(record)) => out.write(record)?,
                Ok(Event::Submitted) => submitted += 1,
                Ok(Event::Eof { full_ring_waits: n }) => {
                    full_ring_waits = n;
                    end = Some(End::Eof)
                }
                Ok(Event::ReadError(e)) => end = Some(End::ReadError(e)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    end = Some(End::ReadError("the input thread ended".into()))
                }
            }
            if end.is_some() {
                // A wait too long for the clock is no give-up time at all.
                give_up_at = Instant::now().checked_add(give_up);
            }
        }
        if interrupted.load(Ordering::SeqCst) {
            return Ok(Ended {
                end: End::Interrupted,
                full_ring_waits,
            });
        }
        if let Some(e) = end.take_if(|_| out.done >= submitted) {
            return Ok(Ended {
                end: e,
                full_ring_waits,
            });
        }
        if give_up_at.is_some_and(|t| Instant::now() >= t) {
            log::warn!("outcomes are late; shutting the engine down to collect them");
            return Ok(Ended {
                end: end.unwrap_or(End::Eof),
                full_ring_waits,
            });
        }
        let mut any = false;
        while let Some(word) = handle.try_final() {
            out.final_word(word)?;
            any = true;
        }
        if !any && let Some(outcome) = handle.outcome_timeout(POLL) {
            out.outcome(&outcome)?;
        }
    }
}

/// Waits until the login succeeded, was refused, or the first connection attempt failed (at
/// most [`LOGIN_WAIT`]).
fn wait_for_login_verdict(handle: &Handle) {
    let deadline = Instant::now() + LOGIN_WAIT;
    while Instant::now() < deadline {
        match handle.state() {
            SessionState::Live | SessionState::LoginRejected | SessionState::Stopped => return,
            SessionState::Backoff if handle.last_error().is_some() => return,
            _ => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Which API the account spoke, how often the venue made it switch, and the dead man's switch.
fn account_summary(stats: &bitget_cancel::engine::Stats) -> String {
    let u = &stats.unified;
    let mut text = format!(
        "account {} ({}), {} switch(es)",
        if u.unified { "unified" } else { "classic" },
        if u.unified { "V3" } else { "V2" },
        u.switches
    );
    if u.dead_man_enabled {
        text.push_str(&format!(
            "; dead man's switch: {} arm(s), {} failure(s), {}",
            u.dead_man_arms,
            u.dead_man_failures,
            if u.dead_man_off {
                "turned off at exit"
            } else {
                "not turned off"
            }
        ));
    }
    text
}

/// Final words counted by state and source, for the summary.
#[derive(Debug, Default, Clone, Copy)]
struct FinalTally {
    cancelled: u64,
    filled: u64,
    live: u64,
    unconfirmed: u64,
    push: u64,
    rest: u64,
}

/// Standard output, one flushed JSON line per record. With `--confirm`, a sent line is held
/// until its final word came (they come on two rings: either may be read first).
struct Output {
    out: io::StdoutLock<'static>,
    tally: Tally,
    finals: FinalTally,
    confirm: bool,
    /// Lines of sent cancels waiting for their final word, by line number.
    held: HashMap<u64, OutcomeLine>,
    /// Final words read before their outcome, by line number.
    early: HashMap<u64, FinalWord>,
    /// Lines of submitted cancels written.
    done: u64,
}

impl Output {
    fn new(confirm: bool) -> Self {
        Output {
            out: io::stdout().lock(),
            tally: Tally::default(),
            finals: FinalTally::default(),
            confirm,
            held: HashMap::new(),
            early: HashMap::new(),
            done: 0,
        }
    }

    /// An engine outcome: written at once, or (with `--confirm`, for a sent cancel) once its
    /// final word is there too.
    fn outcome(&mut self, outcome: &Outcome) -> Result<(), Failure> {
        let tag = outcome.tag();
        let line = OutcomeLine::from_outcome(tag, outcome);
        // A cancel-all has no final word of its own.
        if !self.confirm || !outcome.status.was_sent() || outcome.cancel_all.is_some() {
            self.done += 1;
            return self.write(line);
        }
        match self.early.remove(&tag) {
            Some(word) => {
                self.done += 1;
                self.write(line.with_final(Some(&word)))
            }
            None => {
                self.held.insert(tag, line);
                Ok(())
            }
        }
    }

    fn final_word(&mut self, word: FinalWord) -> Result<(), Failure> {
        match self.held.remove(&word.tag()) {
            Some(line) => {
                self.done += 1;
                self.write(line.with_final(Some(&word)))
            }
            None => {
                self.early.insert(word.tag(), word);
                Ok(())
            }
        }
    }

    /// Writes the lines still waiting for a final word, without one.
    fn flush_held(&mut self) -> Result<(), Failure> {
        let mut held: Vec<OutcomeLine> = self.held.drain().map(|(_, line)| line).collect();
        held.sort_by_key(|line| line.line);
        for line in held {
            self.done += 1;
            self.write(line.with_final(None))?;
        }
        Ok(())
    }

    fn write(&mut self, mut line: OutcomeLine) -> Result<(), Failure> {
        if self.confirm && line.confirm.is_none() {
            line = line.with_final(None);
        }
        self.tally.add(line.status);
        if let Some(fields) = &line.confirm {
            let f = &mut self.finals;
            match fields.state {
                Some(LineFinal::Cancelled) => f.cancelled += 1,
                Some(LineFinal::Filled) => f.filled += 1,
                Some(LineFinal::Live) => f.live += 1,
                Some(LineFinal::Unconfirmed) => f.unconfirmed += 1,
                None => {}
            }
            match fields.final_source {
                Some(FinalSource::Push) => f.push += 1,
                Some(FinalSource::Rest) => f.rest += 1,
                None => {}
            }
        }
        writeln!(self.out, "{}", line.to_json())
            .and_then(|()| self.out.flush())
            .map_err(|e| Failure::runtime(format!("cannot write to standard output: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitget_cancel::engine::IdleStrategy;
    use bitget_cancel::{InstId, InstType, OrderRef, Status};

    #[test]
    fn the_wait_after_the_input_ends_covers_the_engines_longest_chain_of_re_sends() {
        let config = Config::builder(Credentials::new("k", "s", "p").unwrap())
            .ack_timeout(Duration::from_secs(5))
            .max_queue_time(Duration::from_secs(5))
            .build()
            .unwrap();
        let wait = give_up_after(&config);
        // Queued 5 s, then four sends, each just before the last one's ack timeout ran out.
        assert!(wait >= Duration::from_secs(5 + 4 * 5), "{wait:?}");
        assert!(wait >= config.longest_outcome_wait());
    }

    #[test]
    fn submit_waits_for_room_in_a_full_ring_instead_of_dropping_the_cancel() {
        // Nothing listens on port 1: every cancel waits its queue time, then comes back not sent,
        // which frees room for the next. A ring and an in-flight table of one make every
        // submission after the second meet a full ring.
        let config = Config::builder(Credentials::new("k", "s", "p").unwrap())
            .url("wss://127.0.0.1:1/v2/ws/private")
            .idle(IdleStrategy::Backoff)
            .intent_capacity(1)
            .max_pending(1)
            .max_queue_time(Duration::from_millis(20))
            .build()
            .unwrap();
        let (engine, handle) = Engine::start(config).unwrap();
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::order_id("1").unwrap(),
        );
        let mut full_ring_waits = 0;
        for tag in 1..=4 {
            assert!(matches!(
                submit(&handle, cancel.with_tag(tag), &mut full_ring_waits),
                Event::Submitted
            ));
        }
        assert!(
            full_ring_waits > 0,
            "the ring was never full: the test proves nothing"
        );
        let mut tags: Vec<u64> = (0..4)
            .map(|_| {
                let o = handle
                    .outcome_timeout(Duration::from_secs(30))
                    .expect("an outcome for every cancel");
                assert!(matches!(o.status, Status::NotSent(_)), "{o:?}");
                o.tag()
            })
            .collect();
        tags.sort_unstable();
        assert_eq!(tags, [1, 2, 3, 4]);
        engine.shutdown();
    }

    #[test]
    fn demo_trading_switches_both_hosts_and_uta_url_only_the_v3_one() {
        use clap::Parser;
        let config_of = |argv: &[&str]| {
            let cli = crate::args::Cli::try_parse_from(argv).unwrap();
            let crate::args::Command::Run(args) = cli.command else {
                panic!("not run")
            };
            let idle = IdleChoice::new(args.idle);
            config(&args, Credentials::new("k", "s", "p").unwrap(), &idle)
                .unwrap()
                .0
        };
        let demo = config_of(&["bitget-cancel", "run", "--demo-trading"]);
        assert_eq!(demo.url(), DEMO_URL);
        assert_eq!(demo.uta_url(), bitget_cancel::engine::DEMO_UTA_URL);
        assert_eq!(demo.account(), Account::Auto);
        let live = config_of(&[
            "bitget-cancel",
            "run",
            "--account",
            "unified",
            "--dead-man-s",
            "10",
        ]);
        assert_eq!(live.uta_url(), bitget_cancel::engine::LIVE_UTA_URL);
        assert_eq!(live.account(), Account::Unified);
        assert_eq!(live.dead_man_switch(), Some(Duration::from_secs(10)));
        let own = config_of(&[
            "bitget-cancel",
            "run",
            "--uta-url",
            "wss://localhost:9/v3/ws/private",
        ]);
        assert_eq!(own.uta_url(), "wss://localhost:9/v3/ws/private");
        assert_eq!(own.url(), bitget_cancel::engine::LIVE_URL);
        assert!(
            crate::args::Cli::try_parse_from(["bitget-cancel", "run", "--dead-man-s", "4"])
                .is_err()
        );
        assert!(
            crate::args::Cli::try_parse_from(["bitget-cancel", "run", "--account", "uta"]).is_err()
        );
    }
}
