//! The reactor: what belongs to the thread that drives the accounts, not to any account. One
//! `mio::Poll`, its events, the token table (which account and which path a socket event is
//! for), and the choice each turn between asking the poller and reading logged-in sockets
//! directly.
//!
//! Tokens: account `a`'s connection slot `i` is `Token(a * TOKENS_PER_ACCOUNT + i)`, its REST
//! connection `Token(a * TOKENS_PER_ACCOUNT + MAX_SLOTS)`; the waker's token is past every
//! account's. A token that names nothing (a sporadic event of a socket already gone) is ignored.

use std::io;
use std::time::Duration;

use mio::{Events, Poll, Token};

use super::shared::MAX_SLOTS;

/// Tokens set aside per account: every connection slot, the REST connection, room to spare.
const TOKENS_PER_ACCOUNT: usize = 16;
const _: () = assert!(MAX_SLOTS < TOKENS_PER_ACCOUNT);

/// The waker's token: past any account's.
pub(crate) const WAKER: Token = Token(usize::MAX - 1);

/// With direct reads, a logged-in connection that no cancel waits on is read every this many
/// turns.
const QUIET_READ_EVERY: u32 = 16;

/// Which of an account's sockets a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// A connection slot of the pool.
    Link(usize),
    /// The REST rung's connection.
    Rest,
}

/// The token of `path` in account number `account`.
pub(crate) const fn token(account: usize, path: Path) -> Token {
    let base = account * TOKENS_PER_ACCOUNT;
    match path {
        Path::Link(i) => Token(base + i),
        Path::Rest => Token(base + MAX_SLOTS),
    }
}

/// The account and path a token names, if any.
pub(crate) const fn route(token: Token) -> Option<(usize, Path)> {
    if token.0 == WAKER.0 {
        return None;
    }
    let (account, i) = (token.0 / TOKENS_PER_ACCOUNT, token.0 % TOKENS_PER_ACCOUNT);
    if i < MAX_SLOTS {
        Some((account, Path::Link(i)))
    } else if i == MAX_SLOTS {
        Some((account, Path::Rest))
    } else {
        None
    }
}

/// What the reactor needs from whatever it drives (an account, or several).
pub(crate) trait Sockets {
    /// A socket event for `path` of account `account`.
    fn on_socket_event(&mut self, account: usize, path: Path, readable: bool, writable: bool);
    /// The poller failed: every socket is to be looked at.
    fn on_poller_error(&mut self);
    /// Whether this turn must ask the poller (a connection being set up, or waiting to write).
    fn needs_poller(&self) -> bool;
    /// Marks logged-in sockets readable for this turn; `sweep`: the quiet ones too.
    fn read_directly(&mut self, sweep: bool);
}

/// The thread's poller.
#[derive(Debug)]
pub(crate) struct Reactor {
    poll: Poll,
    events: Events,
    /// Busy turns read logged-in sockets directly, without `epoll_wait`.
    direct_reads: bool,
    /// Turns that read directly so far.
    direct_turns: u32,
}

impl Reactor {
    pub(crate) fn new(poll: Poll, direct_reads: bool) -> Self {
        Reactor {
            poll,
            events: Events::with_capacity(64),
            direct_reads,
            direct_turns: 0,
        }
    }

    /// Socket readiness for this turn: from the poller (waiting up to `timeout` for it) when
    /// parking, when direct reads are off, or when `sockets` needs it; else each logged-in
    /// socket is marked to be read directly, until `WouldBlock`, with no `epoll_wait`.
    #[inline]
    pub(crate) fn gather<S: Sockets>(&mut self, timeout: Duration, sockets: &mut S) {
        if !timeout.is_zero() || !self.direct_reads || sockets.needs_poller() {
            self.poll(timeout, sockets);
        } else {
            self.direct_turns = self.direct_turns.wrapping_add(1);
            sockets.read_directly(self.direct_turns % QUIET_READ_EVERY == 0);
        }
    }

    fn poll<S: Sockets>(&mut self, timeout: Duration, sockets: &mut S) {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {
                for event in self.events.iter() {
                    let readable =
                        event.is_readable() || event.is_read_closed() || event.is_error();
                    if let Some((account, path)) = route(event.token()) {
                        sockets.on_socket_event(account, path, readable, event.is_writable());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                crate::relay::log_error!("poll failed: {e}");
                // Never spin hot on a broken poller.
                std::thread::sleep(Duration::from_millis(1));
                sockets.on_poller_error();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_names_one_path_of_one_account_and_the_waker_none() {
        for account in 0..3 {
            for i in 0..MAX_SLOTS {
                let path = Path::Link(i);
                assert_eq!(route(token(account, path)), Some((account, path)));
            }
            assert_eq!(
                route(token(account, Path::Rest)),
                Some((account, Path::Rest))
            );
        }
        assert_eq!(
            token(0, Path::Link(3)),
            Token(3),
            "account 0 keeps slot numbers"
        );
        assert_eq!(route(WAKER), None);
        assert_eq!(route(Token(MAX_SLOTS + 1)), None, "a spare token");
    }
}
