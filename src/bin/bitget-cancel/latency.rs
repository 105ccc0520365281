//! Latency histograms (HDR, 3 significant digits) and their percentiles.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// The longest latency recorded exactly: an hour. Longer samples are clamped to it.
const HIGHEST_NS: u64 = 3_600_000_000_000;

/// The percentiles every summary shows, with their labels.
pub const PERCENTILES: [(&str, f64); 4] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99.9", 0.999),
];

/// A histogram of nanosecond latencies.
#[derive(Debug)]
pub struct Latency {
    histogram: Histogram<u64>,
}

impl Latency {
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NS, 3)
            .expect("1 ns to an hour at 3 significant digits are valid bounds");
        Latency { histogram }
    }

    pub fn record(&mut self, ns: u64) {
        // Clamped into the histogram's range, so recording cannot fail.
        let _ = self.histogram.record(ns.clamp(1, HIGHEST_NS));
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The value at each of [`PERCENTILES`], then the maximum; `None` without samples.
    pub fn figures(&self) -> Option<[u64; 5]> {
        if self.count() == 0 {
            return None;
        }
        let h = &self.histogram;
        Some([
            h.value_at_quantile(PERCENTILES[0].1),
            h.value_at_quantile(PERCENTILES[1].1),
            h.value_at_quantile(PERCENTILES[2].1),
            h.value_at_quantile(PERCENTILES[3].1),
            h.max(),
        ])
    }

    /// `{"count":..,"p50":..,"p90":..,"p99":..,"p99_9":..,"max":..}` in nanoseconds (null
    /// figures without samples).
    pub fn to_json(&self) -> Value {
        let f = self.figures();
        let at = |i: usize| f.map(|f| f[i]);
        json!({
            "count": self.count(),
            "p50": at(0),
            "p90": at(1),
            "p99": at(2),
            "p99_9": at(3),
            "max": at(4),
        })
    }

    /// One row of a text table in microseconds: the label, then the five figures.
    pub fn row(&self, label: &str) -> String {
        match self.figures() {
            None => format!("  {label:<14}{:>10}", "no samples"),
            Some(f) => {
                let mut row = format!("  {label:<14}");
                for v in f {
                    row.push_str(&format!("{:>10.1}", v as f64 / 1000.0));
                }
                row.push_str(&format!("   ({} samples)", self.count()));
                row
            }
        }
    }

    /// The header matching [`Latency::row`].
    pub fn header(title: &str) -> String {
        let mut header = format!("{title:<16}");
        for (label, _) in PERCENTILES {
            header.push_str(&format!("{label:>10}"));
        }
        header.push_str(&format!("{:>10}", "max"));
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_samples() {
        let mut l = Latency::new();
        assert!(l.figures().is_none());
        for v in 1..=1000u64 {
            l.record(v * 1000);
        }
        let [p50, p90, p99, p999, max] = l.figures().unwrap();
        // Three significant digits: within 0.1% of the exact value.
        assert!((499_500..=501_000).contains(&p50), "{p50}");
        assert!((899_000..=901_000).contains(&p90), "{p90}");
        assert!((989_000..=991_000).contains(&p99), "{p99}");
        assert!((998_000..=1_000_000).contains(&p999), "{p999}");
        assert!((999_000..=1_001_000).contains(&max), "{max}");
        assert_eq!(l.to_json()["count"], 1000);
    }

    #[test]
    fn out_of_range_samples_are_clamped_not_lost() {
        let mut l = Latency::new();
        l.record(0);
        l.record(u64::MAX);
        assert_eq!(l.count(), 2);
    }
}
