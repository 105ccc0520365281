//! One monotonic clock for every timestamp the crate takes.
//!
//! Timestamps are nanoseconds since an arbitrary origin fixed the first time the clock is read in
//! the process. They are comparable across threads and never go backwards.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on the crate's monotonic clock.
///
/// ```
/// let a = bitget_cancel::clock::monotonic_ns();
/// let b = bitget_cancel::clock::monotonic_ns();
/// assert!(b >= a);
/// ```
#[inline]
pub fn monotonic_ns() -> u64 {
    let origin = *ORIGIN.get_or_init(Instant::now);
    // A u64 of nanoseconds lasts 584 years: the truncation cannot happen in practice.
    origin.elapsed().as_nanos() as u64
}

/// A duration in nanoseconds, saturating (a `Duration` of 584 years or more is `u64::MAX`).
#[inline]
pub(crate) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The wall clock in Unix milliseconds (signatures and login timestamps; never for intervals).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where the engine reads the time: [`Monotonic`] in every engine, a fake one in the tests of
/// its policy, which move time by hand.
pub(crate) trait Clock {
    /// Now, in nanoseconds on the clock of [`monotonic_ns`].
    fn now(&self) -> u64;
}

/// The crate's monotonic clock, [`monotonic_ns`]; a zero-sized value whose reads inline.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Monotonic;

impl Clock for Monotonic {
    #[inline]
    fn now(&self) -> u64 {
        monotonic_ns()
    }
}

/// Days from 1970-01-01 to the civil date `(y, m, d)` (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(y, m, d)` of day `z` since 1970-01-01.
#[cfg(any(feature = "sim", test))]
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
#[cfg(any(feature = "sim", test))]
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// An HTTP `Date` header's value (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) in Unix
/// seconds; `None` for anything else (the obsolete formats included: servers send this one).
pub(crate) fn parse_http_date(value: &str) -> Option<u64> {
    let b = value.trim().as_bytes();
    if b.len() != 29 || b[3] != b',' || &b[25..] != b" GMT" {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &b[range];
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
        })
    };
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])? as u32 + 1;
    let year = num(12..16)?;
    let (h, min, s) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if !(1..=31).contains(&day) || h > 23 || min > 59 || s > 60 || year < 1970 {
        return None;
    }
    if [b[4], b[7], b[11], b[16]] != [b' '; 4] || b[19] != b':' || b[22] != b':' {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    u64::try_from(days * 86_400 + i64::from(h * 3600 + min * 60 + s)).ok()
}

/// Unix seconds as an HTTP `Date` value (IMF-fixdate).
#[cfg(any(feature = "sim", test))]
pub(crate) fn format_http_date(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The venue's clock as the engine estimates it: the median of the last few measured offsets
/// (the venue's clock minus ours, ms), so one absurd sample is not believed. A sample more than
/// [`ClockEstimate::ABSURD_MS`] from the others' median is dropped; until three samples agree,
/// none is believed that far from ours.
#[derive(Debug, Clone)]
pub(crate) struct ClockEstimate {
    samples: [i64; Self::SAMPLES],
    len: usize,
    next: usize,
}

impl ClockEstimate {
    /// Offsets remembered.
    pub(crate) const SAMPLES: usize = 5;
    /// Samples needed before the estimate stands on its own.
    pub(crate) const ENOUGH: usize = 3;
    /// Farther than this from the others (or, before there are enough, from our own clock) a
    /// sample is not believed alone.
    pub(crate) const ABSURD_MS: i64 = 24 * 3600 * 1000;

    pub(crate) fn new() -> Self {
        ClockEstimate {
            samples: [0; Self::SAMPLES],
            len: 0,
            next: 0,
        }
    }

    /// Takes one measured offset; false if it was not believed (dropped).
    pub(crate) fn add(&mut self, offset_ms: i64) -> bool {
        if self.len >= Self::ENOUGH
            && let Some(median) = self.median()
            && offset_ms.abs_diff(median) > Self::ABSURD_MS as u64
        {
            return false;
        }
        self.samples[self.next] = offset_ms;
        self.next = (self.next + 1) % Self::SAMPLES;
        self.len = (self.len + 1).min(Self::SAMPLES);
        true
    }

    fn median(&self) -> Option<i64> {
        if self.len == 0 {
            return None;
        }
        let mut sorted = self.samples;
        let held = &mut sorted[..self.len];
        held.sort_unstable();
        Some(if self.len % 2 == 1 {
            held[self.len / 2]
        } else {
            (held[self.len / 2 - 1] + held[self.len / 2]) / 2
        })
    }

    /// The offset to use: the median once there are enough samples; before that, the median of
    /// those held if none is absurd on its own.
    pub(crate) fn offset_ms(&self) -> Option<i64> {
        let median = self.median()?;
        if self.len >= Self::ENOUGH {
            return Some(median);
        }
        self.samples[..self.len]
            .iter()
            .all(|s| s.unsigned_abs() <= Self::ABSURD_MS as u64)
            .then_some(median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_read_and_write_the_same() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Xyz 1994 08:49:37 GMT",
            "Sun, 36 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
        for t in [0, 784_111_777, 1_700_000_000, 4_102_444_800 + 86_399] {
            assert_eq!(parse_http_date(&format_http_date(t)), Some(t), "{t}");
        }
    }

    #[test]
    fn the_estimate_is_the_median_and_one_absurd_sample_is_not_believed() {
        let mut clock = ClockEstimate::new();
        assert_eq!(clock.offset_ms(), None);
        let absurd = 10 * 365 * 24 * 3600 * 1000;
        assert!(clock.add(absurd));
        assert_eq!(
            clock.offset_ms(),
            None,
            "alone, an absurd sample is not believed"
        );
        assert!(clock.add(120_000));
        assert!(clock.add(120_010));
        assert_eq!(clock.offset_ms(), Some(120_010), "the median of three");
        assert!(!clock.add(-absurd), "far from the others: dropped");
        for _ in 0..5 {
            assert!(clock.add(119_990));
        }
        assert_eq!(clock.offset_ms(), Some(119_990));
        let mut honest = ClockEstimate::new();
        honest.add(-250);
        assert_eq!(
            honest.offset_ms(),
            Some(-250),
            "one plausible sample serves until more come"
        );
    }
}
