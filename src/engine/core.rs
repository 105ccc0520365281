//! The engine's work, blind to threads and idling (in Agrona's terms, what a runner or an
//! invoker drives): the reactor and the account it drives. [`Core::do_work`] is one turn:
//! socket readiness, then the account's turn. The thread runner (`runner.rs`) calls it in a loop
//! under an idle strategy; the inline engine (`inline.rs`) once per `poll`, on the caller's
//! thread.
//!
//! One account per engine is the public behaviour. The reactor's token table already names the
//! account each socket belongs to, so a second account on the same thread is a second
//! [`Account`] here, each with its own handle, not a rewrite.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::account::Account;
use super::handle::Submission;
use super::plumbing::{IntentSource, OutcomeSink};
use super::reactor::{Path, Reactor, Sockets};
use super::shared::Shared;
use crate::clock::monotonic_ns;
use crate::intent::RequestId;

/// The reactor and its account.
#[derive(Debug)]
pub(crate) struct Core<I, O> {
    reactor: Reactor,
    pub(crate) account: Account<I, O>,
}

impl<I: IntentSource, O: OutcomeSink> Sockets for Account<I, O> {
    #[inline]
    fn on_socket_event(&mut self, _account: usize, path: Path, readable: bool, writable: bool) {
        Account::on_socket_event(self, path, readable, writable);
    }

    fn on_poller_error(&mut self) {
        Account::on_poller_error(self);
    }

    #[inline]
    fn needs_poller(&self) -> bool {
        Account::needs_poller(self)
    }

    #[inline]
    fn read_directly(&mut self, sweep: bool) {
        Account::read_directly(self, sweep);
    }
}

impl<I: IntentSource, O: OutcomeSink> Core<I, O> {
    pub(crate) fn new(reactor: Reactor, account: Account<I, O>) -> Self {
        Core { reactor, account }
    }

    /// One turn: socket readiness (waiting up to `timeout` for it), then the account's turn.
    /// True if anything happened.
    #[inline]
    pub(crate) fn do_work(&mut self, timeout: Duration) -> bool {
        self.reactor.gather(timeout, &mut self.account);
        if !timeout.is_zero() {
            self.shared()
                .engine
                .0
                .parked
                .store(false, Ordering::Relaxed);
        }
        let now = monotonic_ns();
        self.account.turn(now)
    }

    /// The earliest time something has to happen, at most `cap`.
    pub(crate) fn next_deadline(&self, now: u64, cap: u64) -> u64 {
        self.account.next_deadline(now, cap)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.account.shared()
    }

    /// Whether an intent waits in the ring.
    pub(crate) fn has_intents(&self) -> bool {
        self.account.has_intents()
    }

    /// The inline engine's intake (see [`Account::submit`]).
    #[inline]
    pub(crate) fn submit(&mut self, sub: Submission) -> Result<(), bool> {
        self.account.submit(sub)
    }

    /// The next send number, and its wire id.
    #[inline]
    pub(crate) fn next_wire_id(&self) -> (u64, RequestId) {
        self.account.next_wire_id()
    }

    pub(crate) fn request_shutdown(&mut self) {
        self.account.request_shutdown();
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.account.is_finished()
    }

    pub(crate) fn finish(&mut self) {
        self.account.finish();
    }
}
