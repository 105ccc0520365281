//! Rate limits checked on the engine thread, never by sleeping.
//!
//! The venue counts messages per second. A classic token bucket of `n` tokens refilled at `n` per
//! second lets `2n` messages through some one-second windows (a full bucket, then a second's
//! refill), so instead each limiter remembers the send times of its last `n` messages (a
//! preallocated ring) and admits a message only when the oldest of them left at least one window
//! ago: no window of that length ever holds more than `n`, and a burst of up to `n` still goes out
//! at once.

/// A sliding-window limit of `limit` events per `window_ns`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Send times of the last `limit` events; `NEVER` where no event happened yet.
    sends: Box<[u64]>,
    /// The index of the oldest remembered event (the next to be overwritten).
    oldest: usize,
    window_ns: u64,
    /// No event before this time (a pause the venue asked for; 0: none).
    held_until: u64,
}

const NEVER: u64 = u64::MAX;

impl RateLimiter {
    /// `limit` events per `window_ns`; `limit` is at least 1.
    pub(crate) fn new(limit: u32, window_ns: u64) -> Self {
        RateLimiter {
            sends: vec![NEVER; limit.max(1) as usize].into_boxed_slice(),
            oldest: 0,
            window_ns,
            held_until: 0,
        }
    }

    /// The earliest time another event is allowed.
    #[inline]
    pub(crate) fn ready_at(&self) -> u64 {
        let window = match self.sends[self.oldest] {
            NEVER => 0,
            t => t.saturating_add(self.window_ns),
        };
        window.max(self.held_until)
    }

    /// Allows no event before `until` (the venue said the limit was reached: back off).
    pub(crate) fn hold_until(&mut self, until: u64) {
        self.held_until = self.held_until.max(until);
    }

    /// Whether an event is allowed at `now`.
    /// When the `k`th send from now (0: the next) may go, if sends go out as soon as each is
    /// allowed: the limit's ring read ahead, one window further on each time round.
    pub(crate) fn ready_at_nth(&self, k: usize) -> u64 {
        let n = self.sends.len();
        let at = self.sends[(self.oldest + k % n) % n];
        let rounds = (k / n) as u64;
        match at {
            NEVER if rounds == 0 => 0,
            // Never used: that slot's first send is now, so each round adds a window.
            NEVER => self.window_ns.saturating_mul(rounds),
            t => t.saturating_add(self.window_ns.saturating_mul(rounds + 1)),
        }
    }

    #[inline]
    pub(crate) fn is_ready(&self, now: u64) -> bool {
        self.ready_at() <= now
    }

    /// Records an event at `now`; call only when [`Self::is_ready`] said yes.
    #[inline]
    pub(crate) fn record(&mut self, now: u64) {
        debug_assert!(self.is_ready(now));
        self.sends[self.oldest] = now;
        self.oldest += 1;
        if self.oldest == self.sends.len() {
            self.oldest = 0;
        }
    }

    /// Records an event at `now` if one is allowed.
    #[cfg(test)]
    pub(crate) fn try_acquire(&mut self, now: u64) -> bool {
        let ready = self.is_ready(now);
        if ready {
            self.record(now);
        }
        ready
    }

    /// Allows `limit` events per window from now on (at least 1), keeping the most recent
    /// events already counted: a changed limit grants no fresh burst. Allocates when the limit
    /// changes (a rare event: the account's dialect switched).
    pub(crate) fn set_limit(&mut self, limit: u32) {
        let limit = limit.max(1) as usize;
        let n = self.sends.len();
        if limit == n {
            return;
        }
        // Oldest first, then the newest `limit` of them.
        let past: Vec<u64> = (0..n)
            .map(|k| self.sends[(self.oldest + k) % n])
            .filter(|&t| t != NEVER)
            .collect();
        let kept = &past[past.len().saturating_sub(limit)..];
        let mut sends = vec![NEVER; limit];
        // The oldest slot is the next overwritten: unused slots first, then the kept events.
        sends[limit - kept.len()..].copy_from_slice(kept);
        self.sends = sends.into_boxed_slice();
        self.oldest = 0;
    }

    /// Forgets every event (a new connection starts with a clean count at the venue).
    pub(crate) fn reset(&mut self) {
        self.sends.fill(NEVER);
        self.oldest = 0;
        self.held_until = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    /// The most events any window of `window` nanoseconds holds, by brute force.
    fn busiest_window(times: &[u64], window: u64) -> usize {
        times
            .iter()
            .map(|&start| {
                times
                    .iter()
                    .filter(|&&t| t >= start && t < start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_lower_limit_counts_the_events_already_sent_and_a_higher_one_grants_only_the_difference() {
        let mut limiter = RateLimiter::new(20, SECOND);
        for k in 0..15 {
            assert!(limiter.try_acquire(k));
        }
        limiter.set_limit(10);
        // The newest 10 of the 15 (sent at 5..=14) fill the lower limit: none until they age.
        assert!(!limiter.try_acquire(100));
        assert_eq!(limiter.ready_at(), 5 + SECOND);
        assert!(limiter.try_acquire(5 + SECOND));
        assert!(!limiter.try_acquire(5 + SECOND));

        let mut limiter = RateLimiter::new(10, SECOND);
        for k in 0..10 {
            assert!(limiter.try_acquire(k));
        }
        limiter.set_limit(20);
        let allowed = (0..20).filter(|_| limiter.try_acquire(50)).count();
        assert_eq!(allowed, 10, "ten more within the window, not twenty");
        assert_eq!(
            limiter.ready_at(),
            SECOND,
            "then the oldest of the earlier ten ages out"
        );
    }

    #[test]
    fn a_hold_stops_every_event_until_it_ends() {
        let mut limiter = RateLimiter::new(10, SECOND);
        assert!(limiter.try_acquire(1));
        limiter.hold_until(SECOND / 2);
        limiter.hold_until(SECOND / 4);
        assert_eq!(limiter.ready_at(), SECOND / 2, "the later hold stands");
        assert!(!limiter.try_acquire(SECOND / 2 - 1));
        assert!(limiter.try_acquire(SECOND / 2));
    }

    #[test]
    fn a_burst_up_to_the_limit_goes_out_at_once() {
        let mut limiter = RateLimiter::new(10, SECOND);
        let now = 5;
        for _ in 0..10 {
            assert!(limiter.try_acquire(now));
        }
        assert!(!limiter.try_acquire(now));
        assert_eq!(limiter.ready_at(), now + SECOND);
        assert!(!limiter.try_acquire(now + SECOND - 1));
        assert!(limiter.try_acquire(now + SECOND));
    }

    #[test]
    fn the_nth_send_from_now_is_projected_round_by_round() {
        let mut limiter = RateLimiter::new(3, SECOND);
        assert_eq!(limiter.ready_at_nth(0), 0);
        assert_eq!(
            limiter.ready_at_nth(4),
            SECOND,
            "a fresh limiter: 3 now, 3 a window on"
        );
        for t in [10, 20, 30] {
            assert!(limiter.try_acquire(t));
        }
        assert_eq!(limiter.ready_at_nth(0), 10 + SECOND);
        assert_eq!(limiter.ready_at_nth(2), 30 + SECOND);
        assert_eq!(limiter.ready_at_nth(3), 10 + 2 * SECOND);
        assert_eq!(limiter.ready_at_nth(7), 20 + 3 * SECOND);
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        // Demand arrives at irregular times, far faster than the limit allows.
        let mut limiter = RateLimiter::new(7, SECOND);
        let mut sent = Vec::new();
        let mut now = 0u64;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        while now < 10 * SECOND {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            now += state % (SECOND / 20);
            while limiter.try_acquire(now) {
                sent.push(now);
            }
        }
        assert!(sent.len() > 50, "the limiter must let traffic through");
        assert_eq!(busiest_window(&sent, SECOND), 7);
    }

    #[test]
    fn reset_forgets_earlier_events() {
        let mut limiter = RateLimiter::new(2, SECOND);
        assert!(limiter.try_acquire(1));
        assert!(limiter.try_acquire(1));
        assert!(!limiter.is_ready(2));
        limiter.reset();
        assert!(limiter.try_acquire(2));
        assert_eq!(limiter.ready_at(), 0);
    }

    #[test]
    fn a_process_that_just_started_is_not_held_back() {
        // The monotonic clock starts near zero: "never sent" must not read as "sent at 0".
        let mut limiter = RateLimiter::new(1, SECOND);
        assert!(limiter.try_acquire(3));
        assert!(!limiter.try_acquire(4));
    }
}
