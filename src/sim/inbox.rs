//! Injections on their way to one connection's thread, and the hand-back that lets
//! [`SimVenue::inject`](super::SimVenue::inject) return only once they were acted on.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

use super::{Injection, lock};

#[derive(Debug, Default)]
struct State {
    pending: VecDeque<(u64, Injection)>,
    /// The last ticket handed out.
    issued: u64,
    /// Every ticket up to this one was acted on.
    committed: u64,
    /// The connection is past its handshakes and not yet ended: it takes injections.
    serving: bool,
}

/// One connection's injections.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    state: Mutex<State>,
    changed: Condvar,
}

impl Inbox {
    /// The connection serves from now on: injections are taken.
    pub(super) fn open(&self) {
        lock(&self.state).serving = true;
    }

    /// The connection ended: what was not taken is dropped and waiters are released.
    pub(super) fn close(&self) {
        let mut state = lock(&self.state);
        state.serving = false;
        state.pending.clear();
        self.changed.notify_all();
    }

    /// Whether the connection is past its handshakes and not yet ended.
    pub(super) fn is_serving(&self) -> bool {
        lock(&self.state).serving
    }

    /// Queues `injection`; its ticket, or `None` when the connection is not serving.
    pub(super) fn post(&self, injection: Injection) -> Option<u64> {
        let mut state = lock(&self.state);
        if !state.serving {
            return None;
        }
        state.issued += 1;
        let ticket = state.issued;
        state.pending.push_back((ticket, injection));
        Some(ticket)
    }

    /// The oldest injection not yet taken, with its ticket.
    pub(super) fn take(&self) -> Option<(u64, Injection)> {
        lock(&self.state).pending.pop_front()
    }

    /// The injection with this ticket was acted on.
    pub(super) fn committed(&self, ticket: u64) {
        let mut state = lock(&self.state);
        state.committed = state.committed.max(ticket);
        self.changed.notify_all();
    }

    /// Waits until the injection with this ticket was acted on (true), or the connection ended
    /// or `deadline` passed (false).
    pub(super) fn wait(&self, ticket: u64, deadline: Instant) -> bool {
        let mut state = lock(&self.state);
        loop {
            if state.committed >= ticket {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !state.serving || left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn takes_nothing_before_the_connection_serves_or_after_it_ends() {
        let inbox = Inbox::default();
        assert_eq!(inbox.post(Injection::Drop), None);
        assert!(!inbox.is_serving());
        inbox.open();
        assert!(inbox.is_serving());
        assert_eq!(inbox.post(Injection::Drop), Some(1));
        inbox.close();
        assert!(!inbox.is_serving());
        assert_eq!(inbox.take(), None);
        assert_eq!(inbox.post(Injection::Silence), None);
        assert!(!inbox.wait(1, Instant::now() + Duration::from_secs(5)));
    }

    #[test]
    fn a_waiter_returns_once_its_ticket_is_committed() {
        let inbox = std::sync::Arc::new(Inbox::default());
        inbox.open();
        let first = inbox.post(Injection::Silence).unwrap();
        let second = inbox.post(Injection::Drop).unwrap();
        let worker = {
            let inbox = inbox.clone();
            std::thread::spawn(move || {
                while let Some((ticket, _)) = inbox.take() {
                    inbox.committed(ticket);
                }
            })
        };
        assert!(inbox.wait(second, Instant::now() + Duration::from_secs(10)));
        assert!(inbox.wait(first, Instant::now()));
        worker.join().unwrap();
    }
}
