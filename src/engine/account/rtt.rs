//! Round trips remembered for routing statistics and the adaptive hedge delay: a fixed ring of
//! the latest samples, with percentiles computed off the hot path into a preallocated buffer.

/// The last `capacity` round trips, in nanoseconds.
#[derive(Debug)]
pub(crate) struct RttWindow {
    samples: Box<[u64]>,
    next: usize,
    len: usize,
    /// A sample arrived since the last percentiles.
    fresh: bool,
}

impl RttWindow {
    pub(crate) fn new(capacity: usize) -> Self {
        RttWindow {
            samples: vec![0; capacity.max(1)].into_boxed_slice(),
            next: 0,
            len: 0,
            fresh: false,
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, ns: u64) {
        self.samples[self.next] = ns;
        self.next = (self.next + 1) % self.samples.len();
        self.len = (self.len + 1).min(self.samples.len());
        self.fresh = true;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The median and 99th percentile of the samples, if any arrived since the last call.
    /// `scratch` needs room for the window (it is allocated once by the caller).
    pub(crate) fn percentiles(&mut self, scratch: &mut Vec<u64>) -> Option<(u64, u64)> {
        if !self.fresh || self.len == 0 {
            return None;
        }
        self.fresh = false;
        scratch.clear();
        scratch.extend_from_slice(&self.samples[..self.len]);
        scratch.sort_unstable();
        let p99_at = (self.len * 99 / 100).min(self.len - 1);
        Some((scratch[self.len / 2], scratch[p99_at]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_latest_samples_only() {
        let mut w = RttWindow::new(100);
        let mut scratch = Vec::with_capacity(100);
        assert_eq!(w.percentiles(&mut scratch), None);
        for n in 1..=100 {
            w.record(n);
        }
        assert_eq!(w.percentiles(&mut scratch), Some((51, 100)));
        assert_eq!(w.percentiles(&mut scratch), None, "nothing new");
        // 100 more samples replace the first ones entirely.
        for _ in 0..100 {
            w.record(1_000);
        }
        assert_eq!(w.percentiles(&mut scratch), Some((1_000, 1_000)));
        assert_eq!(w.len(), 100);
    }
}
