//! One scenario, two engines: the threaded engine ([`Engine::start`], driven by its own thread)
//! and the inline engine ([`Engine::inline`], driven by the waiting calls of this thread), behind
//! one [`Driver`] so that a test runs the same steps and checks against both.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bitget_cancel::engine::{
    ConfigBuilder, Engine, Handle, IdleStrategy, InlineEngine, SessionState, Stats,
};
use bitget_cancel::{Cancel, Outcome, RequestId};

use super::support::PATIENCE;

/// Which engine a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The engine thread, rings and handle, with the configuration's idle strategy (the tests'
    /// park strategy: the poller every turn).
    Threaded,
    /// The engine thread busy-spinning: sockets read directly once logged in.
    ThreadedBusySpin,
    /// The engine driven on the test's thread (sockets read directly once logged in).
    Inline,
}

impl Mode {
    /// Both engines, threaded first.
    pub const BOTH: [Mode; 2] = [Mode::Threaded, Mode::Inline];
    /// Both engines, and the threaded one both ways of reading its sockets.
    pub const ALL: [Mode; 3] = [Mode::Threaded, Mode::ThreadedBusySpin, Mode::Inline];
}

/// What a scenario does with an engine, whichever it is.
pub trait Driver {
    /// Submits a cancel.
    #[allow(clippy::result_large_err)]
    fn cancel(&mut self, cancel: Cancel) -> Result<RequestId, bitget_cancel::engine::SubmitError>;
    /// The next outcome within `timeout` (the inline engine polls meanwhile).
    fn outcome_timeout(&mut self, timeout: Duration) -> Option<Outcome>;
    /// Lets the engine run until `done` holds; false after `timeout`.
    fn run_until(&mut self, timeout: Duration, done: &mut dyn FnMut(&Stats) -> bool) -> bool;
    /// The counters.
    fn stats(&self) -> Stats;
    /// The pool's state.
    fn state(&self) -> SessionState;
    /// Shuts down: the final counters and every outcome not read before.
    fn shutdown(self: Box<Self>) -> (Stats, Vec<Outcome>);
}

struct Threaded {
    engine: Engine,
    handle: Handle,
}

impl Driver for Threaded {
    fn cancel(&mut self, cancel: Cancel) -> Result<RequestId, bitget_cancel::engine::SubmitError> {
        self.handle.cancel(cancel)
    }

    fn outcome_timeout(&mut self, timeout: Duration) -> Option<Outcome> {
        self.handle.outcome_timeout(timeout)
    }

    fn run_until(&mut self, timeout: Duration, done: &mut dyn FnMut(&Stats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.handle.stats()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn stats(&self) -> Stats {
        self.handle.stats()
    }

    fn state(&self) -> SessionState {
        self.handle.state()
    }

    fn shutdown(self: Box<Self>) -> (Stats, Vec<Outcome>) {
        let stats = self.engine.shutdown();
        let left = self.handle.try_outcomes().collect();
        (stats, left)
    }
}

struct Inline(InlineEngine);

impl Driver for Inline {
    fn cancel(&mut self, cancel: Cancel) -> Result<RequestId, bitget_cancel::engine::SubmitError> {
        self.0.cancel(cancel)
    }

    fn outcome_timeout(&mut self, timeout: Duration) -> Option<Outcome> {
        self.0.outcome_timeout(timeout)
    }

    fn run_until(&mut self, timeout: Duration, done: &mut dyn FnMut(&Stats) -> bool) -> bool {
        self.0.poll_until(timeout, |e| done(&e.stats()))
    }

    fn stats(&self) -> Stats {
        self.0.stats()
    }

    fn state(&self) -> SessionState {
        self.0.state()
    }

    fn shutdown(self: Box<Self>) -> (Stats, Vec<Outcome>) {
        let stopped = self.0.shutdown();
        (stopped.stats, stopped.outcomes)
    }
}

/// Starts the engine `mode` asks for with this configuration.
pub fn start_in(mode: Mode, builder: ConfigBuilder) -> Box<dyn Driver> {
    let builder = match mode {
        Mode::ThreadedBusySpin => builder.idle(IdleStrategy::BusySpin),
        _ => builder,
    };
    let config = builder.build().expect("valid config");
    match mode {
        Mode::Threaded | Mode::ThreadedBusySpin => {
            let (engine, handle) = Engine::start(config).expect("the engine starts");
            Box::new(Threaded { engine, handle })
        }
        Mode::Inline => Box::new(Inline(Engine::inline(config).expect("the engine starts"))),
    }
}

/// Runs the engine until `n` connections are logged in; fails the test after [`PATIENCE`].
pub fn wait_connections_live(driver: &mut dyn Driver, n: usize) {
    let live = driver.run_until(PATIENCE, &mut |s| {
        s.connections[..n]
            .iter()
            .all(|c| c.state == SessionState::Live)
    });
    assert!(live, "{n} connections did not log in: {:?}", driver.stats());
}

/// The next outcome; fails the test if none comes within [`PATIENCE`].
pub fn next_outcome_of(driver: &mut dyn Driver) -> Outcome {
    driver
        .outcome_timeout(PATIENCE)
        .unwrap_or_else(|| panic!("no outcome in time: {:?}", driver.stats()))
}

/// Every intent a scenario submitted and the one outcome each got: a second outcome, an outcome
/// for an id never submitted, or a missing outcome fails the test.
#[derive(Debug, Default)]
pub struct Ledger {
    submitted: Vec<RequestId>,
    settled: HashMap<RequestId, Outcome>,
}

impl Ledger {
    /// Submits `cancel`; the engine must accept it.
    pub fn submit(&mut self, driver: &mut dyn Driver, cancel: Cancel) -> RequestId {
        let id = driver
            .cancel(cancel)
            .unwrap_or_else(|e| panic!("the engine refused an intent: {e}"));
        assert!(
            !self.submitted.contains(&id),
            "request id {id} handed out twice"
        );
        self.submitted.push(id);
        id
    }

    /// Records one outcome.
    pub fn record(&mut self, outcome: Outcome) {
        assert!(
            self.submitted.contains(&outcome.id),
            "an outcome for an id never submitted: {outcome:?}"
        );
        if let Some(first) = self.settled.insert(outcome.id, outcome) {
            panic!("two outcomes for {}: {first:?} and {outcome:?}", outcome.id);
        }
    }

    /// Reads outcomes until every intent has one.
    pub fn settle(&mut self, driver: &mut dyn Driver) {
        while self.settled.len() < self.submitted.len() {
            let outcome = next_outcome_of(driver);
            self.record(outcome);
        }
    }

    /// Records what shutdown left and checks that every intent has exactly one outcome.
    pub fn settle_at_shutdown(&mut self, left: Vec<Outcome>) {
        for outcome in left {
            self.record(outcome);
        }
        let missing: HashSet<_> = self
            .submitted
            .iter()
            .filter(|id| !self.settled.contains_key(id))
            .collect();
        assert!(missing.is_empty(), "no outcome for {missing:?}");
    }

    /// The outcome of `id`.
    pub fn outcome(&self, id: RequestId) -> &Outcome {
        self.settled
            .get(&id)
            .unwrap_or_else(|| panic!("no outcome for {id}"))
    }

    /// Every outcome, in submission order.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.submitted.iter().map(|id| *self.outcome(*id)).collect()
    }
}
