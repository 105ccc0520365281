//! Reconnect delays: exponential growth with jitter, for every connection this crate makes (the
//! WebSocket pool and the REST client alike).

use std::time::Duration;

/// Reconnect delays: exponential from `initial` up to `max`, each drawn at random from its upper
/// half ("equal jitter") so that many clients do not reconnect in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectBackoff {
    /// The first delay after a failure. Default 100 ms.
    pub initial: Duration,
    /// The longest delay. Default 30 s. The venue allows 300 connection attempts per IP per 5
    /// minutes: keep `max` at 1 s or more.
    pub max: Duration,
    /// A session that stayed logged in this long resets the delay to `initial` when it ends;
    /// a venue that accepts and then drops connections at once meets growing delays. Default 30 s.
    pub reset_after: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        ReconnectBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
        }
    }
}

impl ReconnectBackoff {
    /// The delay before attempt `failures + 1` (after `failures` consecutive failures, at least
    /// one), using `random` for the jitter.
    pub(crate) fn delay(&self, failures: u32, random: u64) -> Duration {
        let initial = self.initial.as_nanos() as u64;
        let max = (self.max.as_nanos() as u64).max(initial);
        let shift = failures.saturating_sub(1).min(40);
        let full = initial.saturating_mul(1u64 << shift).min(max);
        let half = full / 2;
        Duration::from_nanos(full - half + random % (half + 1))
    }
}

/// One connection's place among its reconnect delays: how many attempts failed in a row, and
/// the random draws for the jitter (xorshift: jitter needs no more). Each WebSocket link and the
/// REST client keep one.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    policy: ReconnectBackoff,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// No failure yet; `seed` makes the jitter of this connection differ from the others'.
    pub(crate) fn new(policy: ReconnectBackoff, seed: u64) -> Self {
        Backoff {
            policy,
            failures: 0,
            rng: seed | 1,
        }
    }

    /// The policy the delays follow.
    pub(crate) fn policy(&self) -> &ReconnectBackoff {
        &self.policy
    }

    /// Counts one more failure in a row.
    pub(crate) fn note_failure(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// The delay before the next attempt: none after no failure, else exponential in the
    /// failures so far, with jitter.
    pub(crate) fn delay(&mut self) -> Duration {
        if self.failures == 0 {
            return Duration::ZERO;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.policy.delay(self.failures, self.rng)
    }

    /// [`Backoff::note_failure`], then [`Backoff::delay`].
    pub(crate) fn failed(&mut self) -> Duration {
        self.note_failure();
        self.delay()
    }

    /// Forgets the failures: the next one waits `initial` again.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A seed for jitter that differs between processes: the OS's randomness, or the clock if that
/// fails.
pub(crate) fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| crate::clock::monotonic_ns() ^ 0x9e37_79b9_7f4a_7c15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_with_jitter_up_to_the_maximum() {
        let b = ReconnectBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            reset_after: Duration::from_secs(30),
        };
        for random in [0u64, 1, 12_345, u64::MAX] {
            let first = b.delay(1, random);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = b.delay(3, random);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = b.delay(1000, random);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1));
        }
        assert_ne!(b.delay(2, 1), b.delay(2, 99_999_999));
    }

    #[test]
    fn a_connection_backs_off_further_with_each_failure_in_a_row_until_reset() {
        let policy = ReconnectBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            reset_after: Duration::from_secs(30),
        };
        let mut b = Backoff::new(policy, 42);
        assert_eq!(b.delay(), Duration::ZERO, "no failure, no wait");
        let first = b.failed();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let second = b.failed();
        assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        let third = b.failed();
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
        b.reset();
        assert_eq!(b.delay(), Duration::ZERO);
        let again = b.failed();
        assert!(again <= Duration::from_millis(100));
    }
}
