//! The unified account's figures in [`Stats`](super::Stats): which API the account speaks, how
//! often the venue made it switch, and the dead man's switch.

use std::sync::atomic::{AtomicU64, Ordering};

/// A figure written by the engine thread only (a plain load and store).
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn incr(&self) {
        self.set(self.get() + 1);
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The account's kind and the dead man's switch, in [`Stats::unified`](super::Stats::unified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnifiedStats {
    /// The account speaks the unified account's V3 API now (else the classic V2).
    pub unified: bool,
    /// Times the venue's answer (40085 on V2, 40084 on V3) switched the API at run time.
    pub switches: u64,
    /// The dead man's switch is on (configured, and the account is unified).
    pub dead_man_enabled: bool,
    /// When the venue last acknowledged arming it, Unix milliseconds; 0 never.
    pub dead_man_armed_unix_ms: u64,
    /// Arms (and re-arms) the venue acknowledged.
    pub dead_man_arms: u64,
    /// Arms the venue refused or did not answer (counted and logged).
    pub dead_man_failures: u64,
    /// The clean shutdown turned it off.
    pub dead_man_off: bool,
}

#[derive(Debug, Default)]
pub(crate) struct UtaCounters {
    pub unified: Counter,
    pub switches: Counter,
    pub dead_man_enabled: Counter,
    pub dead_man_armed_unix_ms: Counter,
    pub dead_man_arms: Counter,
    pub dead_man_failures: Counter,
    pub dead_man_off: Counter,
}

impl UtaCounters {
    pub(crate) fn snapshot(&self) -> UnifiedStats {
        UnifiedStats {
            unified: self.unified.get() != 0,
            switches: self.switches.get(),
            dead_man_enabled: self.dead_man_enabled.get() != 0,
            dead_man_armed_unix_ms: self.dead_man_armed_unix_ms.get(),
            dead_man_arms: self.dead_man_arms.get(),
            dead_man_failures: self.dead_man_failures.get(),
            dead_man_off: self.dead_man_off.get() != 0,
        }
    }
}
