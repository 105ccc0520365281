//! Logging that never blocks the engine thread.
//!
//! Whatever the engine thread (and the REST client it drives) logs goes through a bounded
//! hand-off to a thread of its own, started on first use, which calls the `log` facade: a
//! logger that blocks (stderr a pipe nobody reads, a slow file) blocks that thread only. When
//! the hand-off is full the record is dropped and counted; the relay says how many were
//! dropped once it can write again. A record is formatted only if the logger wants its level
//! and target (`log::log_enabled!`), so a quiet logger costs nothing but the check.
//!
//! Warnings the venue can provoke at will (a message the engine cannot read, an error naming
//! no request, a reply that matches nothing) also pass a [`WarnGate`]: the first few in an
//! interval are logged, the rest counted and reported once per interval.
//!
//! Dependencies log on their own, through the facade, from wherever they run (tungstenite while
//! a connection is set up); nothing the venue sends on a live connection reaches them.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

/// Records the hand-off holds before it drops.
pub(crate) const CAPACITY: usize = 1024;

/// One record on its way to the logger.
struct Record {
    level: log::Level,
    target: &'static str,
    text: String,
}

struct Relay {
    records: Sender<Record>,
}

static RELAY: OnceLock<Option<Relay>> = OnceLock::new();
/// Records dropped because the hand-off was full (or the relay thread could not start).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Records dropped so far, in this process.
#[cfg(test)]
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

fn relay() -> Option<&'static Relay> {
    RELAY
        .get_or_init(|| {
            let (records, rx) = bounded(CAPACITY);
            std::thread::Builder::new()
                .name("bitget-cancel-log".to_owned())
                .spawn(move || run(&rx))
                .ok()
                .map(|_| Relay { records })
        })
        .as_ref()
}

/// The relay thread: hands every record to the logger, and says how many were dropped.
fn run(records: &Receiver<Record>) {
    let mut reported = 0;
    while let Ok(record) = records.recv() {
        log::log!(target: record.target, record.level, "{}", record.text);
        let dropped = DROPPED.load(Ordering::Relaxed);
        if dropped > reported {
            log::warn!(
                target: "bitget_cancel",
                "{} log records were dropped: the logger did not keep up",
                dropped - reported
            );
            reported = dropped;
        }
    }
}

/// Formats `args` and hands the record to the relay thread; drops it (counted) if the hand-off
/// is full. Never blocks. Use the `log_*!` macros, which check the level first.
#[doc(hidden)]
pub(crate) fn send(level: log::Level, target: &'static str, args: fmt::Arguments<'_>) {
    let Some(relay) = relay() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let record = Record {
        level,
        target,
        text: args.to_string(),
    };
    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
        relay.records.try_send(record)
    {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Logs through the relay at `$level` (a `log::Level`), if the logger wants it.
macro_rules! relay_log {
    ($level:expr, $($arg:tt)+) => {
        if log::log_enabled!($level) {
            $crate::relay::send($level, module_path!(), format_args!($($arg)+));
        }
    };
}

macro_rules! log_error {
    ($($arg:tt)+) => { $crate::relay::relay_log!(log::Level::Error, $($arg)+) };
}

macro_rules! log_warn {
    ($($arg:tt)+) => { $crate::relay::relay_log!(log::Level::Warn, $($arg)+) };
}

macro_rules! log_info {
    ($($arg:tt)+) => { $crate::relay::relay_log!(log::Level::Info, $($arg)+) };
}

macro_rules! log_debug {
    ($($arg:tt)+) => { $crate::relay::relay_log!(log::Level::Debug, $($arg)+) };
}

pub(crate) use {log_debug, log_error, log_info, log_warn, relay_log};

/// How many warnings of one kind an interval shows before it only counts them.
pub(crate) const SHOWN_PER_INTERVAL: u32 = 5;
/// The interval, ns.
pub(crate) const INTERVAL_NS: u64 = 10_000_000_000;

/// Lets the first few warnings of one kind in an interval through and counts the rest.
#[derive(Debug, Clone, Default)]
pub(crate) struct WarnGate {
    /// When the current interval began (0: none began yet).
    since: u64,
    shown: u32,
    hidden: u64,
}

impl WarnGate {
    /// Whether a warning at `now` is to be logged (else it is counted).
    #[inline]
    pub(crate) fn admit(&mut self, now: u64) -> bool {
        if self.since == 0 || now >= self.since.saturating_add(INTERVAL_NS) && self.hidden == 0 {
            self.since = now.max(1);
            self.shown = 0;
        }
        if self.shown < SHOWN_PER_INTERVAL {
            self.shown += 1;
            true
        } else {
            self.hidden += 1;
            false
        }
    }

    /// At the end of an interval in which warnings were counted, how many: report them once
    /// (a new interval begins).
    #[inline]
    pub(crate) fn take_hidden(&mut self, now: u64) -> Option<u64> {
        if self.hidden == 0 || now < self.since.saturating_add(INTERVAL_NS) {
            return None;
        }
        let hidden = self.hidden;
        self.hidden = 0;
        self.shown = 0;
        self.since = now.max(1);
        Some(hidden)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};
    use std::time::{Duration, Instant};

    const MS: u64 = 1_000_000;

    #[test]
    fn the_first_few_warnings_show_and_the_rest_are_counted_per_interval() {
        let mut gate = WarnGate::default();
        let t = 1_000 * MS;
        let shown = (0..20_000).filter(|i| gate.admit(t + i)).count();
        assert_eq!(shown, SHOWN_PER_INTERVAL as usize);
        assert_eq!(
            gate.take_hidden(t + INTERVAL_NS - 1),
            None,
            "not before the interval ends"
        );
        assert_eq!(
            gate.take_hidden(t + INTERVAL_NS),
            Some(20_000 - u64::from(SHOWN_PER_INTERVAL))
        );
        assert_eq!(gate.take_hidden(t + 3 * INTERVAL_NS), None, "told once");
        assert!(
            gate.admit(t + INTERVAL_NS + 1),
            "a new interval shows again"
        );
    }

    /// The one logger of this test binary: it captures what the crate logs and, while
    /// `stuck`, blocks every call, like stderr into a full pipe nobody reads.
    pub(crate) struct Capture {
        stuck: Mutex<bool>,
        unstuck: Condvar,
        seen: Mutex<Vec<String>>,
    }

    impl log::Log for Capture {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.target().starts_with("bitget_cancel")
        }
        fn log(&self, record: &log::Record<'_>) {
            if !self.enabled(record.metadata()) {
                return;
            }
            let mut stuck = self.stuck.lock().unwrap();
            while *stuck {
                stuck = self.unstuck.wait(stuck).unwrap();
            }
            self.seen.lock().unwrap().push(record.args().to_string());
        }
        fn flush(&self) {}
    }

    impl Capture {
        fn set_stuck(&self, stuck: bool) {
            *self.stuck.lock().unwrap() = stuck;
            self.unstuck.notify_all();
        }

        /// Waits (up to 30 s) until a captured line contains `text`.
        pub(crate) fn wait_for(&self, text: &str) -> bool {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if self.seen.lock().unwrap().iter().any(|s| s.contains(text)) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        }
    }

    /// The capturing logger, installed on first use (warnings and up).
    pub(crate) fn capture() -> &'static Capture {
        static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture: &'static Capture = Box::leak(Box::new(Capture {
                stuck: Mutex::new(false),
                unstuck: Condvar::new(),
                seen: Mutex::new(Vec::new()),
            }));
            log::set_logger(capture).expect("the only logger of this test binary");
            log::set_max_level(log::LevelFilter::Warn);
            capture
        })
    }

    #[test]
    fn a_logger_that_blocks_never_blocks_the_caller() {
        let capture = capture();
        capture.set_stuck(true);
        let before = dropped();
        // The caller on a thread of its own, so that a caller the logger holds fails this test
        // (after a bound far away from the caller's few milliseconds) instead of hanging it.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for n in 0..3 * CAPACITY {
                log_warn!("record {n}");
            }
            let _ = done_tx.send(());
        });
        // Thousands of records against a logger that does not return: the caller went on, and
        // what did not fit was counted.
        if done_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            capture.set_stuck(false);
            panic!("the caller was held by a logger that does not return");
        }
        assert!(dropped() - before >= CAPACITY as u64);
        capture.set_stuck(false);
        assert!(
            capture.wait_for("were dropped"),
            "the relay reported the drops"
        );
        assert!(capture.wait_for("record "));
    }
}
