//! One connection at a time: which connections are open and logged in, injections aimed at one
//! of them, and which connection received each cancel request.
//!
//! The venue numbers connections in the order it accepts them: 1, 2, ... That number is
//! [`ReceivedFrame::conn`](super::ReceivedFrame::conn), the argument of [`SimVenue::inject_on`]
//! and [`Faults::freeze_conn`](super::Faults::freeze_conn), so a test of a client that keeps
//! several connections can fault one of them and see where each request went.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::inbox::Inbox;
use super::rules::CANCEL_CHANNEL;
use super::{INJECT_WAIT, Injection, Opcode, Shared, SimVenue, lock};
use crate::clock::monotonic_ns;

/// What a connection's thread tells the rest of the venue about it, besides its injections.
#[derive(Debug)]
pub(super) struct ConnStatus {
    /// The venue's name for the connection, sent as `connId` in the login reply.
    pub(super) conn_id: String,
    logged_in: AtomicBool,
    /// It came in on the V3 path.
    v3: AtomicBool,
    /// The key it logged in with (its index) and that key's account, once logged in.
    account: Mutex<Option<(usize, u64)>>,
}

impl ConnStatus {
    /// A connection not yet logged in, with a fresh `connId`.
    pub(super) fn new() -> ConnStatus {
        ConnStatus {
            conn_id: fresh_conn_id(),
            logged_in: AtomicBool::new(false),
            v3: AtomicBool::new(false),
            account: Mutex::new(None),
        }
    }

    pub(super) fn set_v3(&self) {
        self.v3.store(true, Ordering::Release);
    }

    pub(super) fn is_v3(&self) -> bool {
        self.v3.load(Ordering::Acquire)
    }

    /// The key index and account of a logged-in connection.
    pub(super) fn account(&self) -> Option<(usize, u64)> {
        if self.is_logged_in() {
            *lock(&self.account)
        } else {
            None
        }
    }

    /// The account of a logged-in connection.
    pub(super) fn uid(&self) -> Option<u64> {
        self.account().map(|(_, uid)| uid)
    }

    /// Records the key a login was accepted for (before [`set_logged_in`](Self::set_logged_in)).
    pub(super) fn set_account(&self, key: usize, uid: u64) {
        *lock(&self.account) = Some((key, uid));
    }

    pub(super) fn is_logged_in(&self) -> bool {
        self.logged_in.load(Ordering::Acquire)
    }

    /// Records a login or the loss of one, and keeps
    /// [`SimStats::connections_logged_in`](super::SimStats::connections_logged_in) in step (the
    /// flag changes first, so a waiter woken by the counter sees it).
    pub(super) fn set_logged_in(&self, shared: &Shared, logged_in: bool) {
        if self.logged_in.swap(logged_in, Ordering::AcqRel) == logged_in {
            return;
        }
        shared.count(|s| {
            if logged_in {
                s.connections_logged_in += 1;
            } else {
                s.connections_logged_in = s.connections_logged_in.saturating_sub(1);
            }
        });
    }
}

/// 32 lower-case hex digits from the OS's random source, like the live venue's `connId`s.
fn fresh_conn_id() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Only names the connection: a clock reading is unique enough in one process.
        log::warn!("sim: no random bytes for a connId ({e}); using the clock");
        bytes = u128::from(monotonic_ns()).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `id` of a cancel request, from its recorded text: `op` "trade" on channel `cancel-order`
/// with a string `args[0].id`; `None` for anything else.
fn cancel_request_id(text: &str) -> Option<String> {
    let request: Value = serde_json::from_str(text).ok()?;
    if request.get("op").and_then(Value::as_str) != Some("trade") {
        return None;
    }
    let arg = request.get("args")?.as_array()?.first()?;
    if arg.get("channel").and_then(Value::as_str) != Some(CANCEL_CHANNEL) {
        return None;
    }
    arg.get("id").and_then(Value::as_str).map(str::to_owned)
}

impl SimVenue {
    /// The numbers of the open connections past their TLS and WebSocket handshakes (those
    /// [`SimVenue::inject`] and [`SimVenue::inject_on`] reach), in the order they were accepted.
    ///
    /// ```
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// assert!(venue.open_connections().is_empty());
    /// # Ok::<(), bitget_cancel::sim::SimError>(())
    /// ```
    pub fn open_connections(&self) -> Vec<u64> {
        self.connections_where(|inbox, _| inbox.is_serving())
    }

    /// The numbers of the open connections whose login the venue accepted, in the order they
    /// were accepted. A login counts when the venue checks it, a little before its reply
    /// reaches the client.
    ///
    /// ```
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// assert!(venue.logged_in_connections().is_empty());
    /// # Ok::<(), bitget_cancel::sim::SimError>(())
    /// ```
    pub fn logged_in_connections(&self) -> Vec<u64> {
        self.connections_where(|_, status| status.is_logged_in())
    }

    fn connections_where(&self, keep: impl Fn(&Inbox, &ConnStatus) -> bool) -> Vec<u64> {
        let mut conns: Vec<u64> = lock(&self.shared.conns)
            .iter()
            .filter(|(_, handle)| keep(&handle.inbox, &handle.status))
            .map(|(&conn, _)| conn)
            .collect();
        conns.sort_unstable();
        conns
    }

    /// Waits until at least `n` connections are open and logged in, then returns
    /// [`SimVenue::logged_in_connections`]; `None` if that does not happen within `timeout`.
    /// Wakes on every change of [`SimStats`](super::SimStats) (see
    /// [`SimStats::connections_logged_in`](super::SimStats::connections_logged_in)); never polls.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// assert_eq!(venue.wait_for_logged_in(0, Duration::ZERO), Some(vec![]));
    /// assert_eq!(venue.wait_for_logged_in(1, Duration::from_millis(10)), None);
    /// # Ok::<(), bitget_cancel::sim::SimError>(())
    /// ```
    pub fn wait_for_logged_in(&self, n: usize, timeout: Duration) -> Option<Vec<u64>> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.wait_for_stats(timeout, |s| s.connections_logged_in >= n)?;
        Some(self.logged_in_connections())
    }

    /// Commits `injection` on connection `conn` only, right now, like [`SimVenue::inject`] does
    /// on every connection: ahead of replies still waiting to be sent, returning once the
    /// connection acted on it, ended, or after a few seconds at most. True when connection
    /// `conn` was open past its handshakes and acted on it; the other connections are not
    /// touched.
    ///
    /// ```
    /// use bitget_cancel::sim::{Injection, SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// assert!(!venue.inject_on(1, Injection::Freeze), "no connection 1 yet");
    /// # Ok::<(), bitget_cancel::sim::SimError>(())
    /// ```
    pub fn inject_on(&self, conn: u64, injection: Injection) -> bool {
        let inbox: Option<Arc<Inbox>> = lock(&self.shared.conns)
            .get(&conn)
            .map(|handle| handle.inbox.clone());
        let Some(inbox) = inbox else {
            return false;
        };
        match inbox.post(injection) {
            Some(ticket) => inbox.wait(ticket, Instant::now() + INJECT_WAIT),
            None => false,
        }
    }

    /// The `connId` the venue sends connection `conn` when it accepts its login (32 hex
    /// digits, fresh for each connection), while that connection is open.
    ///
    /// ```
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// assert_eq!(venue.conn_id(1), None);
    /// # Ok::<(), bitget_cancel::sim::SimError>(())
    /// ```
    pub fn conn_id(&self, conn: u64) -> Option<String> {
        lock(&self.shared.conns)
            .get(&conn)
            .map(|handle| handle.status.conn_id.clone())
    }

    /// Every cancel request received so far (up to [`SimConfig::record_limit`](super::SimConfig)
    /// frames back), oldest first, as the connection it came on and its request `id`: every
    /// recorded text message with `op` "trade" on channel `cancel-order` and a string
    /// `args[0].id`, whether the venue answered it, refused it or withheld its reply.
    ///
    /// ```
    /// use bitget_cancel::sim::{SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// assert!(venue.cancels_received().is_empty());
    /// # Ok::<(), bitget_cancel::sim::SimError>(())
    /// ```
    pub fn cancels_received(&self) -> Vec<(u64, String)> {
        lock(&self.shared.record)
            .iter()
            .filter(|frame| frame.opcode == Opcode::Text)
            .filter_map(|frame| cancel_request_id(&frame.text).map(|id| (frame.conn, id)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_ids_are_32_hex_digits_and_fresh_each_time() {
        let first = fresh_conn_id();
        let second = fresh_conn_id();
        for id in [&first, &second] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{id}"
            );
        }
        assert_ne!(first, second);
    }

    #[test]
    fn only_cancel_requests_with_a_string_id_name_a_request() {
        let cancel = r#"{"op":"trade","args":[{"id":"x-1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1"}}]}"#;
        assert_eq!(cancel_request_id(cancel).as_deref(), Some("x-1"));
        for other in [
            "ping",
            "not json",
            r#"{"op":"login","args":[{"id":"1"}]}"#,
            r#"{"op":"trade","args":[{"id":"1","channel":"place-order"}]}"#,
            r#"{"op":"trade","args":[{"id":7,"channel":"cancel-order"}]}"#,
            r#"{"op":"trade","args":[]}"#,
            r#"{"op":"trade","args":{"id":"1","channel":"cancel-order"}}"#,
        ] {
            assert_eq!(cancel_request_id(other), None, "{other}");
        }
    }

    #[test]
    fn the_logged_in_count_follows_each_change_once() {
        let venue = SimVenue::start(super::super::SimConfig::default()).unwrap();
        let status = ConnStatus::new();
        status.set_logged_in(&venue.shared, true);
        status.set_logged_in(&venue.shared, true);
        assert_eq!(venue.stats().connections_logged_in, 1);
        assert!(status.is_logged_in());
        status.set_logged_in(&venue.shared, false);
        status.set_logged_in(&venue.shared, false);
        assert_eq!(venue.stats().connections_logged_in, 0);
    }
}
