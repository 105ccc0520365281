//! Round trips remembered for routing statistics and the adaptive hedge delay: the latest
//! samples of a sliding window, kept as a log-linear histogram (16 buckets per power of two,
//! so a percentile is within about 3% of the exact one).
//!
//! Recording a sample is O(1) (it also forgets the oldest one's bucket), and percentiles walk
//! the fixed set of buckets: nothing is copied or sorted on the engine thread, whatever the
//! window's length (sorting the pool's 1,000 samples every 250 ms cost the engine thread a
//! stall of several microseconds; see `window_percentiles_cost` below).

/// Buckets below this value hold one value each.
const LINEAR: u64 = 16;
/// Sub-buckets per power of two (4 bits).
const SUB_BITS: u32 = 4;
/// Every `u64` has a bucket: 16 exact ones, then 16 per power of two from 2^4 to 2^63.
const BUCKETS: usize = (LINEAR as usize) + (64 - SUB_BITS as usize) * (1 << SUB_BITS);

/// The bucket of `ns`.
#[inline]
fn bucket(ns: u64) -> u16 {
    if ns < LINEAR {
        return ns as u16;
    }
    let exp = 63 - ns.leading_zeros();
    let sub = (ns >> (exp - SUB_BITS)) & (LINEAR - 1);
    ((exp - SUB_BITS + 1) as u64 * LINEAR + sub) as u16
}

/// The middle of bucket `b`'s range.
#[inline]
fn value(b: usize) -> u64 {
    if b < LINEAR as usize {
        return b as u64;
    }
    let exp = (b / LINEAR as usize) as u32 + SUB_BITS - 1;
    let sub = (b % LINEAR as usize) as u64;
    let width = 1u64 << (exp - SUB_BITS);
    let low = (LINEAR + sub) << (exp - SUB_BITS);
    low.saturating_add(width / 2)
}

/// The last `capacity` round trips, in nanoseconds, as a histogram.
#[derive(Debug)]
pub(crate) struct RttWindow {
    /// The bucket of each remembered sample, oldest at `next` once full.
    ring: Box<[u16]>,
    next: usize,
    len: usize,
    counts: Box<[u32; BUCKETS]>,
    /// A sample arrived since the last percentiles.
    fresh: bool,
}

impl RttWindow {
    pub(crate) fn new(capacity: usize) -> Self {
        RttWindow {
            ring: vec![0; capacity.max(1)].into_boxed_slice(),
            next: 0,
            len: 0,
            counts: Box::new([0; BUCKETS]),
            fresh: false,
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, ns: u64) {
        if self.len == self.ring.len() {
            let old = self.ring[self.next] as usize;
            self.counts[old] -= 1;
        } else {
            self.len += 1;
        }
        let b = bucket(ns);
        self.counts[b as usize] += 1;
        self.ring[self.next] = b;
        self.next = (self.next + 1) % self.ring.len();
        self.fresh = true;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The median and 99th percentile of the samples (each within its bucket's width), if any
    /// arrived since the last call.
    pub(crate) fn percentiles(&mut self) -> Option<(u64, u64)> {
        if !self.fresh || self.len == 0 {
            return None;
        }
        self.fresh = false;
        let p50_at = self.len / 2;
        let p99_at = (self.len * 99 / 100).min(self.len - 1);
        let (mut seen, mut p50) = (0usize, None);
        for (b, &count) in self.counts.iter().enumerate() {
            seen += count as usize;
            if p50.is_none() && seen > p50_at {
                p50 = Some(value(b));
            }
            if seen > p99_at {
                return Some((p50.unwrap_or_else(|| value(b)), value(b)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within the relative error of a bucket (1/32 each way of its middle, and exact below 16).
    fn close(got: u64, exact: u64) -> bool {
        got.abs_diff(exact) <= exact / 16 + 1
    }

    #[test]
    fn every_value_falls_in_a_bucket_whose_middle_is_near_it() {
        let mut v = 1u64;
        while v < u64::MAX / 3 {
            for x in [v, v + 1, v * 3 / 2] {
                let b = bucket(x) as usize;
                assert!(b < BUCKETS);
                assert!(close(value(b), x), "{x}: bucket {b} says {}", value(b));
            }
            v = v * 2 + 1;
        }
        assert!((bucket(u64::MAX) as usize) < BUCKETS);
        for x in 0..16 {
            assert_eq!(value(bucket(x) as usize), x, "exact below 16");
        }
    }

    #[test]
    fn percentiles_come_from_the_latest_samples_only() {
        let mut w = RttWindow::new(100);
        assert_eq!(w.percentiles(), None);
        for n in 1..=100 {
            w.record(n * 1_000);
        }
        let (p50, p99) = w.percentiles().unwrap();
        assert!(close(p50, 51_000) && close(p99, 100_000), "{p50} {p99}");
        assert_eq!(w.percentiles(), None, "nothing new");
        // 100 more samples replace the first ones entirely.
        for _ in 0..100 {
            w.record(1_000);
        }
        let (p50, p99) = w.percentiles().unwrap();
        assert!(close(p50, 1_000) && close(p99, 1_000), "{p50} {p99}");
        assert_eq!(w.len(), 100);
    }

    #[test]
    fn percentiles_agree_with_sorting_the_window() {
        let mut w = RttWindow::new(1_000);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut kept = std::collections::VecDeque::new();
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let rtt = 20_000 + state % 2_000_000;
            w.record(rtt);
            kept.push_back(rtt);
            if kept.len() > 1_000 {
                kept.pop_front();
            }
        }
        let mut sorted: Vec<u64> = kept.into_iter().collect();
        sorted.sort_unstable();
        let (p50, p99) = w.percentiles().unwrap();
        assert!(close(p50, sorted[500]), "{p50} against {}", sorted[500]);
        assert!(close(p99, sorted[990]), "{p99} against {}", sorted[990]);
    }

    /// What one recomputation costs on the engine thread, sorting a copy of the window against
    /// walking the buckets: `cargo test --release --lib window_percentiles_cost -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn window_percentiles_cost() {
        use std::time::Instant;
        let mut w = RttWindow::new(1_000);
        let samples: Vec<u64> = (0..1_000u64).map(|n| (n * 7_919) % 3_000_000).collect();
        let mut scratch = Vec::with_capacity(1_000);
        let rounds = 20_000;
        let started = Instant::now();
        let mut sink = 0u64;
        for _ in 0..rounds {
            scratch.clear();
            scratch.extend_from_slice(&samples);
            scratch.sort_unstable();
            sink ^= scratch[500] ^ scratch[990];
        }
        let sorting = started.elapsed() / rounds;
        for &s in &samples {
            w.record(s);
        }
        let started = Instant::now();
        for n in 0..rounds {
            w.record(n as u64);
            let (p50, p99) = w.percentiles().unwrap();
            sink ^= p50 ^ p99;
        }
        let walking = started.elapsed() / rounds;
        println!("1,000 samples: sort {sorting:?}, histogram {walking:?} ({sink})");
    }
}
