//! What the venue does later by itself: spot `cancel-symbol-order`'s asynchronous cancels and
//! the unified account's countdown (dead man's switch), on one thread that sleeps until the next
//! is due.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::activity::CancelAllRecord;
use super::activity::push_bounded;
use super::{Endpoint, Shared, lock};
use crate::intent::InstType;

/// A job for later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Job {
    /// Cancel every resting order of account `uid` on spot `symbol`.
    CancelSymbol { uid: u64, symbol: String },
    /// The countdown of account `uid` armed as `generation` runs out, unless re-armed since.
    Countdown { uid: u64, generation: u64 },
}

#[derive(Debug, Default)]
struct State {
    jobs: Vec<(Instant, Job)>,
    /// Account -> (deadline, generation) of its armed countdown.
    countdowns: HashMap<u64, (Instant, u64)>,
    generation: u64,
}

/// The jobs, and the condition the thread sleeps on.
#[derive(Debug, Default)]
pub(super) struct Timers {
    state: Mutex<State>,
    changed: Condvar,
}

impl Timers {
    pub(super) fn schedule(&self, at: Instant, job: Job) {
        lock(&self.state).jobs.push((at, job));
        self.changed.notify_all();
    }

    /// Arms (or re-arms) account `uid`'s countdown to run out in `after`; `None` turns it off.
    pub(super) fn arm_countdown(&self, uid: u64, after: Option<Duration>) {
        let mut state = lock(&self.state);
        match after {
            None => {
                state.countdowns.remove(&uid);
            }
            Some(after) => {
                state.generation += 1;
                let generation = state.generation;
                let at = Instant::now() + after;
                state.countdowns.insert(uid, (at, generation));
                state.jobs.push((at, Job::Countdown { uid, generation }));
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    /// How long account `uid`'s countdown has left, if armed.
    pub(super) fn countdown_left(&self, uid: u64) -> Option<Duration> {
        lock(&self.state)
            .countdowns
            .get(&uid)
            .map(|(at, _)| at.saturating_duration_since(Instant::now()))
    }

    /// Wakes the thread (to stop). Under the lock, so the wake cannot fall between the
    /// thread's look at `stopping` and its wait.
    pub(super) fn wake(&self) {
        let _state = lock(&self.state);
        self.changed.notify_all();
    }

    /// The jobs due now (countdowns re-armed since are dropped), or waits for the next.
    fn next_due(&self, shared: &Shared) -> Vec<Job> {
        let mut state = lock(&self.state);
        loop {
            if shared.stopping.load(Ordering::Acquire) {
                return Vec::new();
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut state.jobs)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            state.jobs = later;
            let mut ready = Vec::new();
            for (_, job) in due {
                if let Job::Countdown { uid, generation } = job {
                    if state.countdowns.get(&uid).map(|c| c.1) != Some(generation) {
                        continue;
                    }
                    state.countdowns.remove(&uid);
                }
                ready.push(job);
            }
            if !ready.is_empty() {
                return ready;
            }
            let wait = state
                .jobs
                .iter()
                .map(|(at, _)| at.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(3600));
            state = self
                .changed
                .wait_timeout(state, wait.max(Duration::from_millis(1)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Runs jobs as they fall due until the venue stops.
pub(super) fn run(shared: Arc<Shared>) {
    while !shared.stopping.load(Ordering::Acquire) {
        for job in shared.timers.next_due(&shared) {
            match job {
                Job::CancelSymbol { uid, symbol } => {
                    let cancelled = shared.cancel_all_where(uid, |o| {
                        o.inst_type() == InstType::Spot && o.inst_id() == symbol
                    });
                    shared.note(|a| {
                        push_bounded(
                            &mut a.cancel_alls,
                            shared.config.record_limit,
                            CancelAllRecord {
                                endpoint: Endpoint::SpotCancelSymbol,
                                uid,
                                inst_type: Some(InstType::Spot),
                                symbol: Some(symbol.clone()),
                                cancelled: cancelled.len(),
                            },
                        );
                    });
                }
                Job::Countdown { uid, .. } => {
                    let cancelled = shared.cancel_all_where(uid, |_| true);
                    log::debug!(
                        "sim: countdown of account {uid} ran out: {} cancelled",
                        cancelled.len()
                    );
                    shared.note(|a| {
                        push_bounded(
                            &mut a.cancel_alls,
                            shared.config.record_limit,
                            CancelAllRecord {
                                endpoint: Endpoint::V3Countdown,
                                uid,
                                inst_type: None,
                                symbol: None,
                                cancelled: cancelled.len(),
                            },
                        );
                    });
                }
            }
        }
    }
}
