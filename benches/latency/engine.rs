//! bitget-cancel itself. Threaded: the engine busy-spinning on its own pinned core, the strategy
//! thread pushing validated intents through the [`Handle`] and spinning on the outcome ring;
//! three rows: one connection, a pool of two, and a pool of two whose first connection is frozen
//! (it never answers a cancel) with cancels hedged after 1 ms. Four more rows wait for each
//! outcome the blocking way, `Handle::outcome_timeout`, as the README does: with the default
//! spin before parking, and parked at once (`outcome_spin` zero), with the engine busy-spinning
//! and with it parking when idle (`IdleStrategy::Backoff`, the README's); beside the spinning
//! row they show what a blocking wait adds. One connection with the final word on
//! (`bitget-cancel-final`): its round trip runs from the intent to its final word (the ack, then
//! the order channel's push), beside the plain row's intent to outcome. Inline: the strategy thread is the engine ([`InlineEngine`]):
//! `cancel` writes the frame, then it polls until the outcome.

use std::time::{Duration, Instant};

use bitget_cancel::engine::{
    Config, Confirm, Credentials, HedgeAfter, IdleStrategy, InlineEngine, Pinning, SessionState,
};
use bitget_cancel::final_word::{FinalSource, FinalState};
use bitget_cancel::{
    Cancel, Engine, FinalWord, Handle, InstId, InstType, OrderRef, Outcome, Status,
};

use super::server::Server;
use super::workload::{BenchResult, Contender, Trip, WireSource};

/// The core the engine thread is pinned to.
pub const ENGINE_CORE: usize = 1;

/// Raised far above the venue's 10/s so that pacing never holds a cancel back in the bench
/// (the most the configuration accepts).
const LIMIT_PER_SECOND: u32 = 100_000;

/// Which pool the contender runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// One connection.
    Single,
    /// Two connections.
    Two,
    /// Two connections, the first frozen by the server; hedges after 1 ms.
    FirstFrozen,
    /// No WebSocket: every cancel over REST, one request at a time on the warm keep-alive
    /// connection.
    RestOnly,
    /// One connection, the final word on: each cancel waits for its outcome and its final word.
    Final,
}

/// How the strategy thread waits for each outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// `try_outcome` in a loop: the thread never sleeps.
    Spin,
    /// `Handle::outcome_timeout`, with this `outcome_spin` before it parks.
    Blocking(Duration),
}

/// The hedge delay of the frozen row.
const FROZEN_HEDGE: Duration = Duration::from_millis(1);

/// The bitget-cancel contender.
pub struct BitgetCancel {
    name: &'static str,
    pool: Pool,
    wait: Wait,
    idle: IdleStrategy,
    engine: Option<Engine>,
    handle: Handle,
    cancel: Cancel,
}

impl BitgetCancel {
    /// Starts the engine and waits until every connection of its pool is logged in.
    pub fn connect(
        server: &Server,
        name: &'static str,
        pool: Pool,
        wait: Wait,
        idle: IdleStrategy,
    ) -> BenchResult<BitgetCancel> {
        let connections = match pool {
            Pool::Single | Pool::Final => 1,
            Pool::Two | Pool::FirstFrozen => 2,
            Pool::RestOnly => 0,
        };
        if pool == Pool::FirstFrozen {
            server.freeze_next_connections(1);
        }
        let config = Config::builder(credentials()?)
            .url(server.url())
            .extra_root_ca_pem(server.certs().ca_pem.as_bytes().to_vec())
            .core(ENGINE_CORE)
            .idle(idle)
            .connections(connections.max(1))
            .hedge_after(match pool {
                Pool::FirstFrozen => HedgeAfter::Fixed(FROZEN_HEDGE),
                _ => HedgeAfter::Adaptive,
            })
            .messages_per_second(LIMIT_PER_SECOND)
            .cancels_per_second(LIMIT_PER_SECOND)
            .direct_reads(direct_reads());
        let config = match wait {
            Wait::Spin => config,
            Wait::Blocking(spin) => config.outcome_spin(spin),
        };
        let config = match pool {
            Pool::RestOnly => config.rest_url(server.rest_url()).rest_only(true),
            Pool::Final => config.no_rest().confirm(Confirm::default()),
            _ => config.no_rest(),
        }
        .build()?;
        let (engine, handle) = Engine::start(config)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let live = |h: &Handle| {
            let stats = h.stats();
            stats.connections[..connections]
                .iter()
                .all(|c| c.state == SessionState::Live)
                && (pool != Pool::RestOnly || stats.rest.connected && stats.rest.clock_synced)
                && (pool != Pool::Final || stats.finals.subscriptions_acked >= 1)
        };
        while !live(&handle) {
            if Instant::now() > deadline {
                return Err(format!(
                    "the engine did not log in within 10 s: {:?} ({:?})",
                    handle.state(),
                    handle.last_error()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let cancel = cancel_template()?;
        Ok(BitgetCancel {
            name,
            pool,
            wait,
            idle,
            engine: Some(engine),
            handle,
            cancel,
        })
    }

    #[inline]
    fn push(&self, tag: u64) -> BenchResult<u64> {
        let cancel = if self.pool == Pool::Final {
            // Each cancel its own order, so that each push answers one intent.
            order_of(tag)?.with_tag(tag)
        } else {
            self.cancel.with_tag(tag)
        };
        let id = self
            .handle
            .cancel(cancel)
            .map_err(|e| format!("cancel refused: {e:?}"))?;
        numeric(id)
    }

    /// Spins on the final-word ring.
    #[inline]
    fn wait_final(&self) -> BenchResult<FinalWord> {
        loop {
            if let Some(word) = self.handle.try_final() {
                if (word.state, word.source) != (FinalState::Cancelled, Some(FinalSource::Push)) {
                    return Err(format!("cancel {:?}: final word {word:?}", word.id).into());
                }
                return Ok(word);
            }
            std::hint::spin_loop();
        }
    }

    /// Spins on the outcome ring, or waits the blocking way.
    #[inline]
    fn wait(&self) -> BenchResult<Outcome> {
        if let Wait::Blocking(_) = self.wait {
            return match self.handle.outcome_timeout(Duration::from_secs(10)) {
                Some(outcome) => acked(outcome),
                None => Err("no outcome within 10 s".into()),
            };
        }
        loop {
            if let Some(outcome) = self.handle.try_outcome() {
                return acked(outcome);
            }
            std::hint::spin_loop();
        }
    }
}

impl Drop for BitgetCancel {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown();
        }
    }
}

impl Contender for BitgetCancel {
    fn name(&self) -> &'static str {
        self.name
    }

    fn setup(&self) -> String {
        let pinning = match self.engine.as_ref().map(Engine::pinning) {
            Some(Pinning::Pinned(core)) => format!("pinned to core {core}"),
            other => format!("NOT pinned ({other:?})"),
        };
        let pool = match self.pool {
            Pool::Single => "one connection".to_owned(),
            Pool::Two => "two connections, adaptive hedging".to_owned(),
            Pool::RestOnly => {
                "REST only, one keep-alive HTTPS connection, one request at a time".to_owned()
            }
            Pool::FirstFrozen => {
                let stats = self.handle.stats();
                format!(
                    "two connections, the first never answers a cancel, hedged after \
                     {FROZEN_HEDGE:?} ({} hedges sent, {} won so far)",
                    stats.hedges_sent, stats.hedges_won
                )
            }
            Pool::Final => "one connection, the final word on: the round trip runs from the \
                            intent to its final word (the ack, then the order channel's push, \
                            which the server writes with the ack), spinning on try_outcome then \
                            try_final"
                .to_owned(),
        };
        let wait = match self.wait {
            Wait::Spin => "spinning on try_outcome".to_owned(),
            Wait::Blocking(spin) if spin.is_zero() => {
                "waiting in outcome_timeout, parked at once (outcome_spin 0)".to_owned()
            }
            Wait::Blocking(spin) => {
                format!("waiting in outcome_timeout, spinning {spin:?} before it parks")
            }
        };
        format!(
            "strategy thread (core 0) {wait}; engine thread {pinning}, \
             {:?}, {}; {pool}; messages/s and cancels/s limits raised to {LIMIT_PER_SECOND}",
            self.idle,
            if direct_reads() && self.idle != IdleStrategy::Backoff {
                "sockets read directly while live"
            } else {
                "epoll_wait every turn (direct reads off)"
            }
        )
    }

    fn wire_source(&self) -> WireSource {
        WireSource::Client
    }

    #[inline]
    fn round_trip(&mut self, seq: u64) -> BenchResult<Trip> {
        let id = self.push(seq)?;
        let outcome = self.wait()?;
        if outcome.tag() != seq {
            return Err(format!("expected the outcome of {seq}, got {}", outcome.tag()).into());
        }
        if self.pool == Pool::Final {
            let word = self.wait_final()?;
            if word.tag() != seq {
                return Err(format!("expected the final word of {seq}, got {}", word.tag()).into());
            }
        }
        let id = if self.pool == Pool::RestOnly {
            super::server::REST_ID
        } else {
            id
        };
        Ok(trip(id, &outcome))
    }

    fn burst(&mut self, seq: u64, n: usize) -> BenchResult<()> {
        for tag in seq..seq + n as u64 {
            self.push(tag)?;
        }
        for _ in 0..n {
            self.wait()?;
        }
        if self.pool == Pool::Final {
            for _ in 0..n {
                self.wait_final()?;
            }
        }
        Ok(())
    }
}

/// What the workload records of one outcome: the request id, when the frame reached the kernel,
/// when its `write(2)` was entered, and the engine's own share.
fn trip(id: u64, outcome: &Outcome) -> Trip {
    let t = outcome.times;
    Trip {
        id,
        wire_ns: Some(t.written_ns),
        write_started_ns: (t.handed_ns != 0).then_some(t.handed_ns),
        engine_share_ns: t.engine_share_ns(),
        settled_ns: (t.settled_ns != 0).then_some(t.settled_ns),
    }
}

/// Whether busy turns read sockets directly (the default); `LATENCY_POLLER=1` asks
/// `epoll_wait` every turn instead, to compare.
fn direct_reads() -> bool {
    std::env::var("LATENCY_POLLER").map_or(true, |v| v != "1")
}

fn credentials() -> BenchResult<Credentials> {
    Ok(Credentials::new("bench-key", "bench-secret", "bench-pass")?)
}

fn cancel_template() -> BenchResult<Cancel> {
    Ok(Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT")?,
        OrderRef::order_id("1376695893517410304")?,
    ))
}

/// A cancel of order `1376695893517410304 + tag`, built without allocating.
fn order_of(tag: u64) -> BenchResult<Cancel> {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = 1_376_695_893_517_410_304u64.wrapping_add(tag);
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let id = std::str::from_utf8(&digits[at..])?;
    Ok(Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT")?,
        OrderRef::order_id(id)?,
    ))
}

/// The send number of the engine's wire id (`prefix:number`), which the server records.
fn numeric(id: bitget_cancel::RequestId) -> BenchResult<u64> {
    std::str::from_utf8(super::server::sequence(id.as_str().as_bytes()))
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the engine's wire id {id} carries no number").into())
}

fn acked(outcome: Outcome) -> BenchResult<Outcome> {
    if outcome.status != Status::Acked {
        return Err(format!("cancel {:?} not acked: {:?}", outcome.id, outcome.status).into());
    }
    Ok(outcome)
}

/// The inline engine on the strategy thread, one connection.
pub struct BitgetCancelInline {
    engine: Option<InlineEngine>,
    cancel: Cancel,
    direct_reads: bool,
}

impl BitgetCancelInline {
    /// Builds the engine and polls until its connection is logged in.
    pub fn connect(server: &Server) -> BenchResult<BitgetCancelInline> {
        let direct_reads = direct_reads();
        let config = Config::builder(credentials()?)
            .url(server.url())
            .extra_root_ca_pem(server.certs().ca_pem.as_bytes().to_vec())
            .connections(1)
            .no_rest()
            .direct_reads(direct_reads)
            .messages_per_second(LIMIT_PER_SECOND)
            .cancels_per_second(LIMIT_PER_SECOND)
            .build()?;
        let mut engine = Engine::inline(config)?;
        if !engine.wait_live(Duration::from_secs(10)) {
            return Err(format!(
                "the inline engine did not log in within 10 s: {:?} ({:?})",
                engine.state(),
                engine.last_error()
            )
            .into());
        }
        Ok(BitgetCancelInline {
            engine: Some(engine),
            cancel: cancel_template()?,
            direct_reads,
        })
    }

    fn engine(&mut self) -> &mut InlineEngine {
        self.engine.as_mut().expect("the engine runs until drop")
    }

    #[inline]
    fn push(&mut self, tag: u64) -> BenchResult<u64> {
        let cancel = self.cancel.with_tag(tag);
        let id = self
            .engine()
            .cancel(cancel)
            .map_err(|e| format!("cancel refused: {e:?}"))?;
        numeric(id)
    }

    /// Polls until the next outcome.
    #[inline]
    fn wait(&mut self) -> BenchResult<Outcome> {
        let engine = self.engine();
        loop {
            engine.poll();
            if let Some(outcome) = engine.try_outcome() {
                return acked(outcome);
            }
        }
    }
}

impl Drop for BitgetCancelInline {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown();
        }
    }
}

impl Contender for BitgetCancelInline {
    fn name(&self) -> &'static str {
        "bitget-cancel-inline"
    }

    fn setup(&self) -> String {
        format!(
            "the strategy thread (core 0) is the engine: cancel writes the frame, then poll              until the outcome; one connection; {}; messages/s and cancels/s limits raised to              {LIMIT_PER_SECOND}",
            if self.direct_reads {
                "sockets read directly while live"
            } else {
                "epoll_wait every poll (direct reads off)"
            }
        )
    }

    fn wire_source(&self) -> WireSource {
        WireSource::Client
    }

    #[inline]
    fn round_trip(&mut self, seq: u64) -> BenchResult<Trip> {
        let id = self.push(seq)?;
        let outcome = self.wait()?;
        if outcome.tag() != seq {
            return Err(format!("expected the outcome of {seq}, got {}", outcome.tag()).into());
        }
        Ok(trip(id, &outcome))
    }

    fn burst(&mut self, seq: u64, n: usize) -> BenchResult<()> {
        for tag in seq..seq + n as u64 {
            self.push(tag)?;
        }
        for _ in 0..n {
            self.wait()?;
        }
        Ok(())
    }
}
