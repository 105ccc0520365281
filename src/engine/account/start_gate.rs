//! The WebSocket pool's first chance. REST is the rung for when the WebSocket is down, not for
//! before it came up: the REST connection (one TLS handshake, then the venue's clock) is often
//! open before the first login is answered, and a cancel submitted right after the engine
//! started would otherwise go over REST and measure, or fail on, the wrong path.
//!
//! So until the pool has had its chance, a first send waits for a WebSocket connection rather
//! than go over REST. The chance is over at the first of: a connection logged in; the venue
//! refused the credentials; every connection of the pool saw its first attempt end (refused,
//! TLS, timeout, ...: the WebSocket is down); or the connect timeout passed since the pool
//! started connecting (at most half the maximum queueing time, so that a waiting cancel still
//! has time to go over REST). `rest_only` has no WebSocket to wait for.

/// Whether REST may take first sends yet.
#[derive(Debug)]
pub(crate) struct StartGate {
    /// The pool had its chance.
    open: bool,
    /// How long after the first turn the gate opens at the latest, ns.
    limit: u64,
    /// When it opens at the latest; 0 until the first turn.
    deadline: u64,
    /// One bit per pool slot whose first connection attempt has not ended yet.
    first_attempts: u32,
}

impl StartGate {
    /// A gate for a pool of `pool` connections that opens `limit` ns after the first turn at
    /// the latest; open from the start when there is no pool.
    pub(crate) fn new(pool: usize, limit: u64) -> Self {
        StartGate {
            open: pool == 0,
            limit,
            deadline: 0,
            first_attempts: (1u32 << pool.min(31)) - 1,
        }
    }

    /// The first turn: the pool starts connecting now.
    #[inline]
    pub(crate) fn start(&mut self, now: u64) {
        if self.deadline == 0 {
            self.deadline = now.saturating_add(self.limit).max(1);
        }
    }

    /// A connection logged in, or the venue refused the credentials.
    pub(crate) fn open(&mut self) {
        self.open = true;
    }

    /// A connection attempt in pool slot `slot` ended without a session.
    pub(crate) fn on_attempt_failed(&mut self, slot: usize) {
        if slot < 32 {
            self.first_attempts &= !(1u32 << slot);
        }
        if self.first_attempts == 0 {
            self.open = true;
        }
    }

    /// Whether the pool had its chance: REST may take a first send.
    #[inline]
    pub(crate) fn is_open(&self, now: u64) -> bool {
        self.open || (self.deadline != 0 && now >= self.deadline)
    }

    /// When the gate opens by itself (`u64::MAX`: it is open, or the first turn has not come).
    pub(crate) fn next_deadline(&self) -> u64 {
        if self.open || self.deadline == 0 {
            u64::MAX
        } else {
            self.deadline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn closed_until_the_first_turn_and_the_limit_after_it() {
        let mut gate = StartGate::new(2, 500 * MS);
        assert!(!gate.is_open(u64::MAX - 1), "not started: no deadline yet");
        assert_eq!(gate.next_deadline(), u64::MAX);
        gate.start(1_000 * MS);
        gate.start(1_200 * MS);
        assert_eq!(gate.next_deadline(), 1_500 * MS, "the first turn counts");
        assert!(!gate.is_open(1_499 * MS));
        assert!(gate.is_open(1_500 * MS));
    }

    #[test]
    fn a_login_or_a_refusal_opens_it_at_once() {
        let mut gate = StartGate::new(2, 500 * MS);
        gate.start(MS);
        gate.open();
        assert!(gate.is_open(MS));
        assert_eq!(gate.next_deadline(), u64::MAX);
    }

    #[test]
    fn it_opens_once_every_connection_of_the_pool_failed_its_first_attempt() {
        let mut gate = StartGate::new(3, 500 * MS);
        gate.start(MS);
        gate.on_attempt_failed(0);
        gate.on_attempt_failed(0);
        gate.on_attempt_failed(2);
        assert!(!gate.is_open(MS), "connection 1 is still on its way up");
        // The spare slot is not part of the pool's first chance.
        gate.on_attempt_failed(3);
        assert!(!gate.is_open(MS));
        gate.on_attempt_failed(1);
        assert!(gate.is_open(MS));
    }

    #[test]
    fn no_pool_nothing_to_wait_for() {
        assert!(StartGate::new(0, 500 * MS).is_open(0));
    }
}
