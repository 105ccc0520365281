//! The idle strategy and core pinning, as chosen on the command line and described in summaries.

use bitget_cancel::engine::{IdleStrategy, Pinning};
use clap::ValueEnum;

/// `--idle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Idle {
    /// Spin without sleeping: lowest latency, one core at 100%.
    BusySpin,
    /// Spin, giving the core away (sched_yield) after each idle turn.
    Yield,
    /// Spin briefly, then park until the next event: for shared machines.
    Backoff,
}

impl Idle {
    pub fn strategy(self) -> IdleStrategy {
        match self {
            Idle::BusySpin => IdleStrategy::BusySpin,
            Idle::Yield => IdleStrategy::Yield,
            Idle::Backoff => IdleStrategy::Backoff,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Idle::BusySpin => "busy-spin",
            Idle::Yield => "yield",
            Idle::Backoff => "backoff",
        }
    }
}

/// The strategy in force and why: the one asked for, else busy-spin when the machine has a core
/// to spare for the engine thread (3 or more), else backoff.
#[derive(Debug, Clone)]
pub struct IdleChoice {
    pub idle: Idle,
    pub why: String,
}

impl IdleChoice {
    pub fn new(asked: Option<Idle>) -> Self {
        if let Some(idle) = asked {
            return IdleChoice {
                idle,
                why: "as asked (--idle)".to_string(),
            };
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores >= 3 {
            IdleChoice {
                idle: Idle::BusySpin,
                why: format!("default with {cores} cores: the engine thread spins on one of them"),
            }
        } else {
            IdleChoice {
                idle: Idle::Backoff,
                why: format!(
                    "default with {cores} core{}: a spinning engine would starve the rest; \
                     --idle busy-spin gives the lowest latency on a machine with a core to spare",
                    if cores == 1 { "" } else { "s" }
                ),
            }
        }
    }
}

/// Pinning as a short phrase.
pub fn describe_pinning(pinning: Pinning) -> String {
    match pinning {
        Pinning::NotRequested => "not pinned (--core N pins the engine thread)".to_string(),
        Pinning::Pinned(core) => format!("engine thread pinned to core {core}"),
        Pinning::Failed(core) => format!("could not pin to core {core}; the engine ran unpinned"),
        Pinning::Pending => "not known yet".to_string(),
    }
}

/// Pinning as a JSON value: the core, or null when not pinned.
pub fn pinned_core(pinning: Pinning) -> Option<usize> {
    match pinning {
        Pinning::Pinned(core) => Some(core),
        Pinning::NotRequested | Pinning::Failed(_) | Pinning::Pending => None,
    }
}
