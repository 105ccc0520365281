//! A simulated Bitget venue: a real TLS WebSocket and REST server on loopback that speaks the V2
//! private trading protocol and the unified account's V3, for tests, demos and benchmarks
//! without touching the exchange.
//!
//! It serves `wss://localhost:PORT/v2/ws/private` and, on the same port,
//! `wss://localhost:PORT/v3/ws/private` ([`SimVenue::v3_url`]) with a certificate signed by a CA
//! generated at start; clients trust that CA by adding [`SimVenue::ca_pem`] as a root
//! (verification is never switched off). It behaves like the live venue where that behaviour is
//! known:
//!
//! - the text `ping` is answered with the text `pong`; WebSocket ping frames with pong frames;
//! - a good `login` is answered `{"event":"login","code":0,"connId":"<32 hex digits>"}`, with a
//!   fresh `connId` for each connection ([`SimVenue::conn_id`]);
//! - the WebSocket upgrade reply carries a `Date` header, from the venue's clock
//!   ([`SimConfig::clock_skew_ms`] sets it apart from the system's);
//! - `login` is checked with the venue's signing rule,
//!   `base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"))`, against the key it
//!   names (the main key of [`SimConfig`] or one of [`SimConfig::extra_keys`]), and refused with
//!   30011 (key), 30012 (passphrase), 30013 (timestamp not whole seconds), 30014 (timestamp
//!   outside the window) or 30015 (signature), after which the venue closes the connection;
//! - `trade` on channel `cancel-order` cancels an order of the book the caller seeds
//!   ([`SimVenue::add_order`], [`SimVenue::add_order_with`], [`SimVenue::seed_orders`]); each
//!   order can be cancelled once. The replies are shaped exactly like the ones captured from the
//!   live venue, including 43001 (spot) and 41101 (futures) for an unknown order, and for one
//!   that is filled or cancelled already;
//! - a trade before login gets 30004, bad JSON 30002, an unknown `op` 30003, another channel
//!   30001, a bad request id or parameter 30016;
//! - more than [`SimConfig::max_messages_per_second`] messages in a sliding second gets 30007 and
//!   a disconnect (subscriptions count too); no `ping` for [`SimConfig::idle_timeout`] and
//!   reaching [`SimConfig::lifetime`] disconnect too.
//!
//! Orders and fills: every order has a size, a limit price, a filled size and an average price
//! (decimal strings as the venue writes them, `"0.2"`), a status ([`OrderStatus`]: `live`,
//! `partially_filled`, `filled`, cancelled spelled `cancelled` on spot and `canceled` on
//! futures), `cTime`/`uTime` and a `cancelReason` (`normal_cancel` once a cancel took it). A
//! scripted taker fills orders ([`SimVenue::fill`], [`SimVenue::fill_at`]) at any time, also while
//! a cancel for them is on its way; final orders stay on the book for queries
//! ([`SimVenue::order`], [`SimVenue::orders`]). Orders belong to an account (UID,
//! [`MAIN_UID`] unless added for another): a key only sees its account's orders.
//!
//! The V2 private `orders` channel: `{"op":"subscribe","args":[{"instType","channel":"orders",
//! "instId":"default"}]}` after login (before it 30004), each `arg` acknowledged
//! `{"event":"subscribe","arg":ARG}` (or refused with 30001 for another channel, 30016 for an
//! unknown instType); no push on subscribe; every change of an order (fill, cancel by any path)
//! is pushed `{"action":"snapshot","arg":ARG,"data":[{accBaseVolume, cTime, cancelReason,
//! clientOid, instId, orderId, price, priceAvg, size, status, uTime}],"ts":...}` to every
//! connection of the order's account that subscribed to its product line (`default`, or its
//! symbol). On the connection that made the change the reply goes first, then the push.
//!
//! V3, the unified account, on its own path: the same login; `trade` with topic `cancel-order`
//! (top-level `id`, lowercase `category`, optional; no symbol) and `batch-cancel` (up to 20
//! entries, a `code` per entry under a top-level `"0"`), replies with string codes and a string
//! `ts`, failures `{"event":"error","id":ID,"code":"25204","msg":"Order does not exist"}`, an
//! uppercase category 41101 `Param category=SPOT error`; the `order` topic
//! (`{"instType":"UTA","topic":"order"}`) pushing `category, symbol, orderId, clientOid, qty,
//! cumExecQty, avgPrice, orderStatus, cancelReason, updatedTime`; the service-upgrade notice
//! ([`Injection::service_upgrade`]). Each key has an account mode ([`AccountMode`],
//! [`SimConfig::account_mode`], [`SimKey::mode`], switchable at run time with
//! [`SimVenue::set_account_mode`]): a unified key gets 40085 on V2 REST and, per request with its
//! `arg` echoed, on V2 WebSocket trading (unless
//! [`SimConfig::serve_unified_on_v2_websocket`]); a classic key gets 40084 on V3 REST and on each
//! V3 trade or subscription request (its V3 login is accepted).
//!
//! - REST too, on a listener of its own ([`SimVenue::rest_url`], same CA): the V2 spot and
//!   futures `cancel-order` endpoints on the same book (the reply names the order's own
//!   `orderId` and `clientOid`), the order queries, batch cancels and cancel-alls (see
//!   in the choices below), V3's `cancel-order`, `cancel-batch`, `cancel-symbol-order`,
//!   `order-info`, `account/settings` and `countdown-cancel-all` (which, when it runs out,
//!   cancels every resting order of the account and turns itself off), signed requests checked
//!   (40009 for a bad signature; a GET signs `path?query`), `GET /api/v2/public/time`,
//!   keep-alive, and [`RestFaults`] ([`SimVenue::set_rest_faults`]); [`SimVenue::rest_requests`]
//!   and [`SimVenue::rest_stats`] say what it saw.
//! - Rate limits per account and endpoint ([`SimLimits`], on with [`SimConfig::limits`]): V2
//!   `cancel-order` 10/s with WebSocket and REST together, spot and futures apart; each batch
//!   endpoint 10/s; spot `cancel-symbol-order` 5/s; futures `cancel-all-orders` 10/s; order
//!   queries 20/s spot, 10/s futures; V3 `cancel-order` 10/s, batches 5/s, `cancel-symbol-order`
//!   5/s, `countdown-cancel-all` 1/s. Over a limit: REST HTTP 429 with code `429`, V2 WebSocket
//!   `{"event":"error","code":30006,"msg":"request too many"}` (or per request,
//!   [`WsRateLimitReply`]), V3 WebSocket `{"event":"error","id":ID,"code":"429",...}`; the
//!   request does not reach the book.
//!
//! [`Faults`] make it misbehave on demand from the next message on (delayed, fragmented,
//! coalesced, byte-per-record, duplicated, stray or missing replies, login trouble, an
//! [`Injection`] at the Nth cancel, the Nth cancel refused with a code, a frozen connection or one
//! whose trade requests are lost; pushes before the reply, delayed or lost, subscriptions refused
//! or ignored, an order filled just before the cancel reaches it),
//! and [`SimVenue::inject`] commits an [`Injection`] on every open connection right now (hostile
//! frames, a close frame, a TCP reset, a TLS alert, a read stall, silence, a freeze, a flood,
//! ...),
//! [`SimVenue::inject_on`] on one connection by its number. [`SimVenue::received`],
//! [`SimVenue::cancels_received`], [`SimVenue::stats`], [`SimVenue::activity`] (subscriptions,
//! pushes, fills, batches, cancel-alls, order queries, rate-limit refusals per endpoint,
//! countdown arms), [`SimVenue::open_connections`] and [`SimVenue::accept_times_ns`] say what it
//! saw.
//!
//! Where the live venue's behaviour is not documented, the simulation chooses:
//! - a binary message is refused with 30002; a login with no object in `args` with 30002 (the
//!   connection stays open);
//! - a batch of several cancels in one V2 WebSocket request is refused with 30016, as is a
//!   missing `instType`, `instId` or order id;
//! - a timestamp too far in the future is refused like an expired one (30014);
//! - only the text `ping` resets the idle timer; every text and binary message counts against
//!   the rate limit, WebSocket control frames do not;
//! - the venue closes with a close frame (1000; 1001 on shutdown) after a refused login, a
//!   rate-limit breach, the idle timeout and the lifetime;
//! - pushes: the reply before the push on the connection that made the change (other
//!   connections get theirs within about 20 ms); `priceAvg` left out on futures while nothing
//!   filled, `"0"` on spot; `clientOid` left out for an order without one; a refused
//!   subscription is `{"event":"error","arg":ARG,"code":N,"msg":M,"op":"subscribe"}`;
//!   `unsubscribe` is served and acknowledged `{"event":"unsubscribe","arg":ARG}`;
//! - V3 pushes spell the final state `cancelled` on every category; V3 codes are strings
//!   everywhere (errors with no request too: `{"event":"error","code":"30003",...}`), the login
//!   reply is V2's; the 30033 notice is `{"event":"error","code":"30033","msg":"service
//!   upgrade"}`; a V3 WebSocket `batch-cancel` shares the REST `cancel-batch` limit;
//! - batches: over 20 entries 40306, orderId and clientOid mixed 40020 (V2 REST, V3 REST and V3
//!   WebSocket alike); V3 `cancel-batch` and `cancel-symbol-order` reply with a list of entries,
//!   each with a `code`;
//! - order queries: an unknown order is 43001 (spot `orderInfo`), 40109 (futures
//!   `order/detail`, whose state is in `state`, the documented example's field), 25204 (V3);
//! - spot `cancel-symbol-order` cancels [`SimConfig::async_cancel_delay`] after it was accepted;
//! - rate limits are off unless [`SimConfig::limits`] turns them on, since clients under test
//!   often run far beyond them.
//!
//! ```
//! use bitget_cancel::InstType;
//! use bitget_cancel::sim::{SimConfig, SimVenue};
//!
//! let venue = SimVenue::start(SimConfig::default())?;
//! assert!(venue.url().starts_with("wss://localhost:"));
//! assert!(venue.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//!
//! let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
//! assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &orders[0].order_id));
//! assert_eq!(venue.resting_orders(), 2);
//! venue.shutdown();
//! # Ok::<(), bitget_cancel::sim::SimError>(())
//! ```

mod accounts;
mod activity;
mod book;
mod certs;
mod conn;
mod connections;
mod decimal;
mod faults;
mod feed;
mod frames;
mod inbox;
mod login;
mod record;
mod rest;
mod rest_orders;
mod rest_v3;
mod rest_wire;
mod rules;
mod timers;
mod v3;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use rustls_pki_types::CertificateDer;

pub use accounts::{AccountMode, SimKey, SimLimits, WsRateLimitReply};
pub use activity::{
    Activity, BatchRecord, CancelAllRecord, CountdownArm, Endpoint, SubscriptionRecord,
};
pub use book::{
    DEFAULT_PRICE, DEFAULT_SIZE, MAIN_UID, OrderError, OrderState, OrderStatus, RestingOrder,
};
pub use faults::{
    CancelFate, Coalesce, Faults, FillBeforeCancel, Injection, LoginFault, OnCancel, PushLoss,
    RefuseCancel, SubscribeFault,
};
pub use record::{DisconnectCause, DisconnectCounts, Opcode, ReceivedFrame, SimStats};
pub use rest::{ReceivedRest, RestFailWith, RestFailure, RestFaults, RestStats};

use crate::clock::monotonic_ns;
use crate::intent::InstType;
use accounts::Accounts;
use book::{Book, Key, Order, OrderRef};
pub use certs::LoopbackCerts;
use connections::ConnStatus;
use decimal::Decimal;
use feed::Feed;
use inbox::Inbox;
use rules::CancelRequest;

/// The path the venue serves for V2; any path but this and [`V3_PATH`] is refused with HTTP 404.
pub const PATH: &str = "/v2/ws/private";
/// The path the venue serves for V3 (the unified account), on the same port as [`PATH`].
pub const V3_PATH: &str = "/v3/ws/private";

/// How the simulated venue behaves. `SimConfig::default()` is the live venue's behaviour on an
/// ephemeral loopback port; shorten the timeouts in tests.
///
/// `Debug` never shows the secret or the passphrase.
#[derive(Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Where to listen. Default `127.0.0.1:0` (a free port; see [`SimVenue::addr`]).
    pub listen: SocketAddr,
    /// The API key the venue accepts. Default `sim-key`.
    pub api_key: String,
    /// The API secret logins are signed with. Default `sim-secret`.
    pub secret: String,
    /// The passphrase the venue accepts. Default `sim-passphrase`.
    pub passphrase: String,
    /// Messages per connection in any one-second window, counting `ping` and every JSON request;
    /// one more gets 30007 and a disconnect. Default 10, the live venue's limit; 0 means no limit.
    pub max_messages_per_second: u32,
    /// Disconnect after this long without a `ping`. Default 120 s; `None` never.
    pub idle_timeout: Option<Duration>,
    /// How far (either way, whole seconds) a login timestamp may be from the venue's clock.
    /// Default 30 s.
    pub login_window: Duration,
    /// Disconnect every connection this long after it was accepted (the live venue does so after
    /// 24 hours). Default 24 h; `None` never.
    pub lifetime: Option<Duration>,
    /// How long a client may take over the TLS and WebSocket handshakes. Default 10 s.
    pub handshake_timeout: Duration,
    /// The largest WebSocket message and frame a client may send, in bytes; more is a protocol
    /// error (close 1009). Default 64 KiB.
    pub max_message_size: usize,
    /// How many received frames [`SimVenue::received`] keeps, and how many accept times
    /// [`SimVenue::accept_times_ns`] keeps; older ones are dropped first. Default 100 000.
    pub record_limit: usize,
    /// The receive buffer (`SO_RCVBUF`) of accepted connections, in bytes, set on the listening
    /// socket so the TCP window is negotiated with it. Small values make a client's writes back
    /// up sooner when the venue stops reading ([`Injection::StallReads`]). The OS adjusts the
    /// value (Linux doubles it and applies a minimum). Default `None`: the OS default, which
    /// grows with the traffic.
    pub receive_buffer: Option<usize>,
    /// The main key's account mode at start ([`SimVenue::set_account_mode`] changes it).
    /// Default [`AccountMode::Classic`].
    pub account_mode: AccountMode,
    /// More API keys the venue accepts, each with its account (UID) and mode. Default none.
    pub extra_keys: Vec<SimKey>,
    /// The per-account rate limits of every endpoint, enforced when `Some`: over a limit, REST
    /// answers HTTP 429 with code `429`, V2 WebSocket 30006, V3 WebSocket `"429"`. Default
    /// `None` (no account limit; the per-connection
    /// [`max_messages_per_second`](Self::max_messages_per_second) still holds), because clients
    /// under test often run far beyond the live venue's limits;
    /// `Some(SimLimits::default())` enforces the documented values.
    pub limits: Option<SimLimits>,
    /// Whether V2 WebSocket trading serves a unified account's key (not verified for the live
    /// venue). Default `false`: each such request is refused with 40085, its `arg` echoed.
    pub serve_unified_on_v2_websocket: bool,
    /// How long after spot `cancel-symbol-order` was accepted its orders are cancelled (the
    /// live venue cancels asynchronously). Default 50 ms.
    pub async_cancel_delay: Duration,
    /// Milliseconds the venue's clock runs ahead of the system clock (negative: behind): the
    /// server time it serves over REST, the `Date` header of its WebSocket upgrade replies,
    /// and the clock login and REST timestamps are checked against. A client whose clock
    /// disagrees this much must measure the venue's. Default 0.
    pub clock_skew_ms: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: "sim-key".to_owned(),
            secret: "sim-secret".to_owned(),
            passphrase: "sim-passphrase".to_owned(),
            max_messages_per_second: 10,
            idle_timeout: Some(Duration::from_secs(120)),
            login_window: Duration::from_secs(30),
            lifetime: Some(Duration::from_secs(24 * 60 * 60)),
            handshake_timeout: Duration::from_secs(10),
            max_message_size: 64 * 1024,
            record_limit: 100_000,
            receive_buffer: None,
            account_mode: AccountMode::Classic,
            extra_keys: Vec::new(),
            limits: None,
            serve_unified_on_v2_websocket: false,
            async_cancel_delay: Duration::from_millis(50),
            clock_skew_ms: 0,
        }
    }
}

impl SimConfig {
    /// Every key the venue accepts: the main one (account [`MAIN_UID`]) first, then
    /// [`extra_keys`](Self::extra_keys).
    pub fn keys(&self) -> Vec<SimKey> {
        let mut keys = vec![SimKey {
            api_key: self.api_key.clone(),
            secret: self.secret.clone(),
            passphrase: self.passphrase.clone(),
            uid: MAIN_UID,
            mode: self.account_mode,
        }];
        keys.extend(self.extra_keys.iter().cloned());
        keys
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("passphrase", &"<redacted>")
            .field("max_messages_per_second", &self.max_messages_per_second)
            .field("idle_timeout", &self.idle_timeout)
            .field("login_window", &self.login_window)
            .field("lifetime", &self.lifetime)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("record_limit", &self.record_limit)
            .field("receive_buffer", &self.receive_buffer)
            .field("account_mode", &self.account_mode)
            .field("extra_keys", &self.extra_keys)
            .field("limits", &self.limits)
            .field(
                "serve_unified_on_v2_websocket",
                &self.serve_unified_on_v2_websocket,
            )
            .field("async_cancel_delay", &self.async_cancel_delay)
            .field("clock_skew_ms", &self.clock_skew_ms)
            .finish()
    }
}

/// Why the venue could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address is taken or not local: choose another [`SimConfig::listen`].
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// The certificates could not be generated (a bug or an exhausted entropy source).
    #[error("cannot generate the venue's certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the generated certificate or its protocol settings (a bug).
    #[error("cannot build the venue's TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The OS refused a thread or a poller: the process is out of resources.
    #[error("cannot start the venue ({what}): {source}")]
    Os {
        /// What was being set up.
        what: &'static str,
        /// What the OS said.
        source: io::Error,
    },
}

/// Locks, ignoring poisoning: a panicked connection thread must not take the venue down with it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection as the rest of the venue sees it: a handle to shut its socket and a flag that
/// tells its thread the shutdown was a fault.
#[derive(Debug)]
struct ConnHandle {
    tcp: TcpStream,
    kill: Arc<AtomicBool>,
    inbox: Arc<Inbox>,
    status: Arc<ConnStatus>,
    feed: Arc<Feed>,
}

#[derive(Debug, Default)]
struct FaultState {
    faults: Faults,
    /// Cancels that reached the book since the faults were last set.
    cancels_seen: u64,
    /// Single cancels on any path that reached the book since (for
    /// [`Faults::fill_before_cancel`]).
    single_cancels_seen: u64,
    /// Pushes posted since (for [`Faults::lose_pushes`]).
    pushes_seen: u64,
}

/// What the faults say about a cancel that just arrived.
#[derive(Debug)]
struct CancelArrival {
    /// [`Faults::drop_on_cancel`] fires on it.
    drop: bool,
    /// [`Faults::on_cancel`] fires on it.
    on_cancel: Option<OnCancel>,
    /// [`Faults::refuse_cancel`] fires on it: the code and message.
    refuse: Option<(u32, String)>,
}

/// How long [`SimVenue::inject`] waits for a connection to act on an injection: longer than a
/// connection can be stuck in one write.
const INJECT_WAIT: Duration = Duration::from_secs(conn::WRITE_TIMEOUT.as_secs() + 1);

/// What the venue's threads share.
#[derive(Debug)]
struct Shared {
    config: SimConfig,
    tls: Arc<rustls::ServerConfig>,
    book: Mutex<Book>,
    faults: Mutex<FaultState>,
    record: Mutex<VecDeque<ReceivedFrame>>,
    accepts: Mutex<VecDeque<u64>>,
    stats: Mutex<SimStats>,
    stats_changed: Condvar,
    stopping: AtomicBool,
    conns: Mutex<HashMap<u64, ConnHandle>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_conn: AtomicU64,
    rest: rest::RestState,
    accounts: Accounts,
    activity: Mutex<Activity>,
    activity_changed: Condvar,
    timers: timers::Timers,
}

/// Unix time in milliseconds, the venue's clock for `ts`, `cTime` and `uTime`.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One random draw in `0..n` (n > 0) from the OS's random source.
fn random_below(n: u32) -> u32 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = (monotonic_ns() as u32).to_le_bytes();
    }
    u32::from_le_bytes(bytes) % n.max(1)
}

impl Shared {
    /// The venue's own clock, Unix ms: the system clock and [`SimConfig::clock_skew_ms`].
    fn venue_unix_ms(&self) -> u64 {
        unix_ms().saturating_add_signed(self.config.clock_skew_ms)
    }

    fn count(&self, update: impl FnOnce(&mut SimStats)) {
        update(&mut lock(&self.stats));
        self.stats_changed.notify_all();
    }

    fn count_disconnect(&self, cause: DisconnectCause) {
        self.count(|s| s.disconnects.add(cause));
    }

    fn faults(&self) -> Faults {
        lock(&self.faults).faults.clone()
    }

    /// Counts a cancel reaching the book, and says which one-shot faults fire on it.
    fn cancel_arrived(&self) -> CancelArrival {
        let mut state = lock(&self.faults);
        state.cancels_seen += 1;
        let seen = state.cancels_seen;
        CancelArrival {
            drop: state.faults.drop_on_cancel == Some(seen),
            on_cancel: state
                .faults
                .on_cancel
                .as_ref()
                .filter(|o| o.nth == seen)
                .cloned(),
            refuse: state
                .faults
                .refuse_cancel
                .as_ref()
                .filter(|r| r.nth == seen)
                .map(|r| (r.code, r.msg.clone())),
        }
    }

    /// A V2 WebSocket cancel of account `uid` on the book: the reply and whether it found its
    /// order.
    fn cancel(&self, uid: u64, request: &CancelRequest, ts_ms: u64) -> (String, bool) {
        let by = match (&request.order_id, &request.client_oid) {
            (Some(id), _) => OrderRef::OrderId(id),
            (None, Some(oid)) => OrderRef::ClientOid(oid),
            (None, None) => return (rules::cancel_reply(request, false, ts_ms), false),
        };
        let found = self
            .cancel_one(uid, |book| {
                book.locate(request.inst_type, &request.inst_id, by)
            })
            .is_some();
        (rules::cancel_reply(request, found, ts_ms), found)
    }

    /// Records what the venue saw beyond single cancels, and wakes
    /// [`SimVenue::wait_for_activity`].
    fn note(&self, update: impl FnOnce(&mut Activity)) {
        update(&mut lock(&self.activity));
        self.activity_changed.notify_all();
    }

    /// One single cancel of account `uid` (any path): finds the order with `locate`, lets
    /// [`Faults::fill_before_cancel`] fill it first, cancels it and pushes every change. The
    /// cancelled order, or `None` when no resting order of that account was found.
    fn cancel_one(
        &self,
        uid: u64,
        locate: impl FnOnce(&Book) -> Option<Key>,
    ) -> Option<OrderState> {
        let race = {
            let mut state = lock(&self.faults);
            state.single_cancels_seen += 1;
            let seen = state.single_cancels_seen;
            state
                .faults
                .fill_before_cancel
                .as_ref()
                .filter(|f| f.nth == seen)
                .cloned()
        };
        let mut book = lock(&self.book);
        let key = locate(&book).filter(|key| book.get(key).is_some_and(|o| o.uid() == uid))?;
        let now = unix_ms();
        let mut changes = Vec::new();
        if let Some(race) = race {
            let size = race.size.as_deref().and_then(Decimal::parse);
            if let Ok(filled) = book.fill(&key, size, None, now) {
                self.note(|a| a.fills += 1);
                changes.push(filled);
            }
        }
        let cancelled = book.cancel(&key, now);
        changes.extend(cancelled.iter().cloned());
        self.publish(&changes);
        cancelled
    }

    /// Cancels every resting order of account `uid` that `keep` keeps, oldest first, pushing
    /// each change; returns the cancelled orders.
    fn cancel_all_where(&self, uid: u64, keep: impl Fn(&Order) -> bool) -> Vec<OrderState> {
        let mut book = lock(&self.book);
        let now = unix_ms();
        let cancelled: Vec<OrderState> = book
            .resting_where(|o| o.uid() == uid && keep(o))
            .iter()
            .filter_map(|key| book.cancel(key, now))
            .collect();
        self.publish(&cancelled);
        cancelled
    }

    /// Posts a push of each change to every subscribed connection of the order's account, as
    /// [`Faults::lose_pushes`] and [`Faults::push_delay`] say. Called with the book locked, so
    /// one order's pushes keep the order of its changes.
    fn publish(&self, changes: &[OrderState]) {
        if changes.is_empty() {
            return;
        }
        let ts = unix_ms();
        let now = Instant::now();
        let conns = lock(&self.conns);
        for order in changes {
            for handle in conns.values() {
                if handle.status.uid() != Some(order.uid) {
                    continue;
                }
                let Some(text) = handle.feed.push_text(order, handle.status.is_v3(), ts) else {
                    continue;
                };
                let (lost, delay) = {
                    let mut state = lock(&self.faults);
                    state.pushes_seen += 1;
                    let lost = match state.faults.lose_pushes {
                        PushLoss::None => false,
                        PushLoss::Nth(n) => n == state.pushes_seen,
                        PushLoss::All => true,
                        PushLoss::OneIn(n) => n <= 1 || random_below(n) == 0,
                    };
                    (lost, state.faults.push_delay)
                };
                if lost {
                    self.note(|a| a.pushes_lost += 1);
                } else {
                    handle.feed.post(now + delay, text);
                }
            }
        }
    }

    fn record(&self, frame: ReceivedFrame) {
        push_bounded(&mut lock(&self.record), frame, self.config.record_limit);
    }

    /// Whether the connection must end now, and why: a fault (drop now) or shutdown.
    fn interruption(&self, kill: &AtomicBool) -> Option<DisconnectCause> {
        if kill.load(Ordering::Acquire) {
            Some(DisconnectCause::Fault)
        } else if self.stopping.load(Ordering::Acquire) {
            Some(DisconnectCause::Shutdown)
        } else {
            None
        }
    }

    /// Unregisters a connection whose thread has ended. With `reset`, its socket is closed
    /// without a shutdown, so the kernel sends the RST that `SO_LINGER` 0 asks for.
    fn connection_ended(&self, conn: u64, reset: bool) {
        if let Some(handle) = lock(&self.conns).remove(&conn)
            && !reset
        {
            let _ = handle.tcp.shutdown(Shutdown::Both);
        }
        self.count(|s| s.connections_open = s.connections_open.saturating_sub(1));
    }

    /// Registers an accepted connection and starts its thread.
    fn spawn_connection(self: &Arc<Self>, stream: mio::net::TcpStream) {
        push_bounded(
            &mut lock(&self.accepts),
            monotonic_ns(),
            self.config.record_limit,
        );
        let tcp = TcpStream::from(stream);
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        self.count(|s| {
            s.connections_accepted += 1;
            s.connections_open += 1;
        });
        let kill = Arc::new(AtomicBool::new(false));
        let registered = tcp
            .set_nonblocking(false)
            .and_then(|()| tcp.set_nodelay(true))
            .and_then(|()| tcp.try_clone());
        let handle_tcp = match registered {
            Ok(clone) => clone,
            Err(e) => {
                log::warn!("sim: cannot set up connection {conn}: {e}");
                self.count_disconnect(DisconnectCause::HandshakeFailed);
                self.connection_ended(conn, false);
                return;
            }
        };
        let inbox = Arc::new(Inbox::default());
        let status = Arc::new(ConnStatus::new());
        let feed = Arc::new(Feed::default());
        lock(&self.conns).insert(
            conn,
            ConnHandle {
                tcp: handle_tcp,
                kill: kill.clone(),
                inbox: inbox.clone(),
                status: status.clone(),
                feed: feed.clone(),
            },
        );
        let shared = self.clone();
        let spawned = thread::Builder::new()
            .name(format!("sim-conn-{conn}"))
            .spawn(move || conn::serve(&shared, conn, tcp, &kill, &inbox, &status, &feed));
        match spawned {
            Ok(handle) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
            }
            Err(e) => {
                log::warn!("sim: cannot start a thread for connection {conn}: {e}");
                self.count_disconnect(DisconnectCause::HandshakeFailed);
                self.connection_ended(conn, false);
            }
        }
    }
}

/// Appends `item`, dropping the oldest items beyond `limit` (0 keeps nothing).
fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, limit: usize) {
    if limit == 0 {
        return;
    }
    while queue.len() >= limit {
        queue.pop_front();
    }
    queue.push_back(item);
}

const LISTENER: Token = Token(0);
const WAKE: Token = Token(1);

/// Accepts connections until the venue stops; sleeps in `poll` in between.
fn accept_loop(shared: Arc<Shared>, listener: mio::net::TcpListener, mut poll: Poll) {
    let mut events = Events::with_capacity(8);
    while !shared.stopping.load(Ordering::Acquire) {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("sim: poll failed, no longer accepting: {e}");
            return;
        }
        while !shared.stopping.load(Ordering::Acquire) {
            match listener.accept() {
                Ok((stream, _peer)) => shared.spawn_connection(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors or memory: wait for some to be freed.
                    log::warn!("sim: accept failed: {e}");
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// A running simulated venue. Dropping it shuts it down like [`SimVenue::shutdown`].
pub struct SimVenue {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    waker: Waker,
    acceptor: Option<JoinHandle<()>>,
    timer_thread: Option<JoinHandle<()>>,
    rest: rest::RestServer,
}

impl fmt::Debug for SimVenue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimVenue")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SimVenue {
    /// Generates certificates, binds [`SimConfig::listen`] and starts accepting on a thread of
    /// its own; each connection gets a thread too.
    pub fn start(config: SimConfig) -> Result<SimVenue, SimError> {
        let certs = LoopbackCerts::generate()?;
        let os = |what| move |source| SimError::Os { what, source };
        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        listener.set_nonblocking(true).map_err(os("listener"))?;
        if let Some(size) = config.receive_buffer {
            socket2::SockRef::from(&listener)
                .set_recv_buffer_size(size)
                .map_err(os("listener receive buffer"))?;
        }
        let addr = listener.local_addr().map_err(os("listener"))?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        let poll = Poll::new().map_err(os("poller"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(os("poller"))?;
        let waker = Waker::new(poll.registry(), WAKE).map_err(os("poller"))?;

        let accounts = Accounts::new(config.keys(), config.limits.clone());
        let shared = Arc::new(Shared {
            config,
            tls: certs.server_config,
            book: Mutex::new(Book::default()),
            faults: Mutex::new(FaultState::default()),
            record: Mutex::new(VecDeque::new()),
            accepts: Mutex::new(VecDeque::new()),
            stats: Mutex::new(SimStats::default()),
            stats_changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(0),
            rest: rest::RestState::default(),
            accounts,
            activity: Mutex::new(Activity::default()),
            activity_changed: Condvar::new(),
            timers: timers::Timers::default(),
        });
        let rest = rest::RestServer::start(&shared)?;
        let timer_thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("sim-timers".to_owned())
                .spawn(move || timers::run(shared))
                .map_err(os("timer thread"))?
        };
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("sim-acceptor".to_owned())
                .spawn(move || accept_loop(shared, listener, poll))
                .map_err(os("acceptor thread"))?
        };
        Ok(SimVenue {
            shared,
            addr,
            ca_pem: certs.ca_pem,
            ca_der: certs.ca_der,
            waker,
            acceptor: Some(acceptor),
            timer_thread: Some(timer_thread),
            rest,
        })
    }

    /// The address the venue listens on (with the real port when the config asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `wss://localhost:PORT/v2/ws/private`. The certificate is also valid for `127.0.0.1`.
    pub fn url(&self) -> String {
        format!("wss://localhost:{}{PATH}", self.addr.port())
    }

    /// `wss://localhost:PORT/v3/ws/private`: the unified account's (V3) WebSocket, on the same
    /// port and certificate as [`url`](Self::url).
    pub fn v3_url(&self) -> String {
        format!("wss://localhost:{}{V3_PATH}", self.addr.port())
    }

    /// The PEM of the CA that signed the venue's certificate: add it as a root to trust the venue.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The same CA certificate, DER-encoded.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The configuration the venue runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Puts a live order on the book, for the main account, of size [`DEFAULT_SIZE`] at
    /// [`DEFAULT_PRICE`]; an order with the same order id, or a resting one with the same client
    /// order id, is replaced.
    pub fn add_order(&self, order: RestingOrder) {
        let size = Decimal::parse(DEFAULT_SIZE).unwrap_or_default();
        let price = Decimal::parse(DEFAULT_PRICE).unwrap_or_default();
        lock(&self.shared.book).add(order, MAIN_UID, size, price, unix_ms());
    }

    /// Puts a live order on the book for account `uid` (see [`SimKey::uid`]), of `size` at
    /// `price` (decimal strings as the venue writes them, e.g. `"0.2"`), like
    /// [`add_order`](Self::add_order).
    ///
    /// ```
    /// use bitget_cancel::InstType;
    /// use bitget_cancel::sim::{MAIN_UID, OrderStatus, RestingOrder, SimConfig, SimVenue};
    ///
    /// let venue = SimVenue::start(SimConfig::default())?;
    /// let order = RestingOrder {
    ///     inst_type: InstType::UsdtFutures,
    ///     inst_id: "LTCUSDT".into(),
    ///     order_id: "1286956078633488402".into(),
    ///     client_oid: Some("1286956078637682690".into()),
    /// };
    /// venue.add_order_with(order, MAIN_UID, "0.2", "90.5")?;
    /// let state = venue.fill(InstType::UsdtFutures, "LTCUSDT", "1286956078633488402", Some("0.05"))?;
    /// assert_eq!((state.status, state.filled.as_str()), (OrderStatus::PartiallyFilled, "0.05"));
    /// assert_eq!(state.price_avg.as_deref(), Some("90.5"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_order_with(
        &self,
        order: RestingOrder,
        uid: u64,
        size: &str,
        price: &str,
    ) -> Result<(), OrderError> {
        let size = Decimal::parse(size)
            .filter(|s| !s.is_zero())
            .ok_or_else(|| OrderError::BadDecimal(size.to_owned()))?;
        let price =
            Decimal::parse(price).ok_or_else(|| OrderError::BadDecimal(price.to_owned()))?;
        lock(&self.shared.book).add(order, uid, size, price, unix_ms());
        Ok(())
    }

    /// Puts `n` new orders on the book, with fresh 19-digit order ids and client order ids
    /// `sim-<n>`, and returns them.
    pub fn seed_orders(&self, inst_type: InstType, inst_id: &str, n: usize) -> Vec<RestingOrder> {
        self.seed_orders_for(MAIN_UID, inst_type, inst_id, n)
    }

    /// [`seed_orders`](Self::seed_orders) for account `uid`.
    pub fn seed_orders_for(
        &self,
        uid: u64,
        inst_type: InstType,
        inst_id: &str,
        n: usize,
    ) -> Vec<RestingOrder> {
        lock(&self.shared.book).generate(inst_type, inst_id, n, uid, unix_ms())
    }

    /// A scripted taker: fills `size` (a decimal string; `None`: all that is left) of a resting
    /// order at its own price, and pushes the change to the account's subscribed connections.
    /// Works at any time, also while a cancel for the order is on its way (that cancel then
    /// finds a partly filled order, or a filled one that "does not exist").
    pub fn fill(
        &self,
        inst_type: InstType,
        inst_id: &str,
        order_id: &str,
        size: Option<&str>,
    ) -> Result<OrderState, OrderError> {
        self.fill_at(inst_type, inst_id, order_id, size, None)
    }

    /// [`fill`](Self::fill) at `price` (`None`: the order's price).
    pub fn fill_at(
        &self,
        inst_type: InstType,
        inst_id: &str,
        order_id: &str,
        size: Option<&str>,
        price: Option<&str>,
    ) -> Result<OrderState, OrderError> {
        let parse = |text: &str| {
            Decimal::parse(text).ok_or_else(|| OrderError::BadDecimal(text.to_owned()))
        };
        let size = size.map(parse).transpose()?;
        let price = price.map(parse).transpose()?;
        let mut book = lock(&self.shared.book);
        let key = (inst_type, inst_id.to_owned(), order_id.to_owned());
        let filled = book.fill(&key, size, price, unix_ms())?;
        self.shared.note(|a| a.fills += 1);
        self.shared.publish(std::slice::from_ref(&filled));
        Ok(filled)
    }

    /// The order with this venue order id, resting or final.
    pub fn order(&self, inst_type: InstType, inst_id: &str, order_id: &str) -> Option<OrderState> {
        let book = lock(&self.shared.book);
        book.get(&(inst_type, inst_id.to_owned(), order_id.to_owned()))
            .map(Order::state)
    }

    /// Every order the venue was given, resting or final, oldest first.
    pub fn orders(&self) -> Vec<OrderState> {
        lock(&self.shared.book).states()
    }

    /// Switches the mode of the account behind `api_key` from now on (for example to unified,
    /// so its next V2 request gets 40085); false when no such key is configured.
    pub fn set_account_mode(&self, api_key: &str, mode: AccountMode) -> bool {
        self.shared.accounts.set_mode(api_key, mode)
    }

    /// The mode of the account behind `api_key`, if that key is configured.
    pub fn account_mode(&self, api_key: &str) -> Option<AccountMode> {
        self.shared
            .accounts
            .find(api_key)
            .map(|(_, key)| key.mode())
    }

    /// How long account `uid`'s countdown (`countdown-cancel-all`) has left, if armed.
    pub fn countdown_left(&self, uid: u64) -> Option<Duration> {
        self.shared.timers.countdown_left(uid)
    }

    /// What the venue saw beyond single cancels: subscriptions, pushes, fills, batches,
    /// cancel-alls, order queries, rate-limit refusals, countdown arms.
    pub fn activity(&self) -> Activity {
        lock(&self.shared.activity).clone()
    }

    /// Waits until `done` holds for [`activity`](Self::activity), or `timeout` passes (then
    /// `None`). Wakes on every change; never polls.
    pub fn wait_for_activity(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Activity) -> bool,
    ) -> Option<Activity> {
        let deadline = Instant::now() + timeout;
        let mut activity = lock(&self.shared.activity);
        loop {
            if done(&activity) {
                return Some(activity.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            activity = self
                .shared
                .activity_changed
                .wait_timeout(activity, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Whether the order with this venue order id rests on the book (not yet cancelled).
    pub fn order_is_resting(&self, inst_type: InstType, inst_id: &str, order_id: &str) -> bool {
        lock(&self.shared.book).contains(inst_type, inst_id, order_id)
    }

    /// How many orders rest on the book.
    pub fn resting_orders(&self) -> usize {
        lock(&self.shared.book).len()
    }

    /// Sets the faults every connection commits from its next message on, and restarts the
    /// cancel count [`Faults::drop_on_cancel`] and [`Faults::on_cancel`] go by.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = FaultState {
            faults,
            ..FaultState::default()
        };
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Drops every open connection now: no close frame, no TLS close (counted as
    /// [`DisconnectCause::Fault`]). Returns how many there were.
    pub fn drop_connections(&self) -> usize {
        let conns = lock(&self.shared.conns);
        for handle in conns.values() {
            handle.kill.store(true, Ordering::Release);
            let _ = handle.tcp.shutdown(Shutdown::Both);
        }
        conns.len()
    }

    /// Commits `injection` once on every open connection (past its handshakes) right now, ahead
    /// of replies still waiting to be sent, and returns once each has acted on it (its bytes
    /// written, its stall, silence or freeze begun, or its end begun), or has ended, or after a
    /// few seconds at most. Returns how many connections acted on it. [`SimVenue::inject_on`]
    /// aims at one connection.
    ///
    /// A connection notices an injection within about 20 ms, or when a write it is blocked in
    /// ends (at most 5 s, for a client that does not read).
    pub fn inject(&self, injection: Injection) -> usize {
        let posted: Vec<(Arc<Inbox>, u64)> = lock(&self.shared.conns)
            .values()
            .filter_map(|handle| {
                let ticket = handle.inbox.post(injection.clone())?;
                Some((handle.inbox.clone(), ticket))
            })
            .collect();
        let deadline = Instant::now() + INJECT_WAIT;
        posted
            .iter()
            .filter(|(inbox, ticket)| inbox.wait(*ticket, deadline))
            .count()
    }

    /// When the venue accepted each TCP connection, on [`crate::clock::monotonic_ns`], oldest
    /// first (up to [`SimConfig::record_limit`]): the spacing of a client's reconnection
    /// attempts, to check its backoff.
    pub fn accept_times_ns(&self) -> Vec<u64> {
        lock(&self.shared.accepts).iter().copied().collect()
    }

    /// Every message received so far (up to [`SimConfig::record_limit`]), oldest first.
    pub fn received(&self) -> Vec<ReceivedFrame> {
        lock(&self.shared.record).iter().cloned().collect()
    }

    /// Forgets the received messages.
    pub fn clear_received(&self) {
        lock(&self.shared.record).clear();
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        *lock(&self.shared.stats)
    }

    /// Waits until `done` holds for the counters, or `timeout` passes (then `None`). Wakes on
    /// every counter change; never polls.
    pub fn wait_for_stats(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&SimStats) -> bool,
    ) -> Option<SimStats> {
        let deadline = Instant::now() + timeout;
        let mut stats = lock(&self.shared.stats);
        loop {
            if done(&stats) {
                return Some(*stats);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            stats = self
                .shared
                .stats_changed
                .wait_timeout(stats, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Stops accepting, closes every connection (close frame 1001 where the client lets the venue
    /// write it within a second, else a TCP shutdown) and joins every thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::Release);
        if let Err(e) = self.waker.wake() {
            log::error!("sim: cannot wake the acceptor: {e}");
        }
        let _ = acceptor.join();
        self.shared.timers.wake();
        if let Some(timers) = self.timer_thread.take() {
            let _ = timers.join();
        }
        self.rest.stop(&self.shared);
        for handle in lock(&self.shared.conns).values() {
            // Wakes a blocked read; the thread then closes with 1001.
            let _ = handle.tcp.shutdown(Shutdown::Read);
        }
        if self
            .wait_for_stats(Duration::from_secs(1), |s| s.connections_open == 0)
            .is_none()
        {
            for handle in lock(&self.shared.conns).values() {
                let _ = handle.tcp.shutdown(Shutdown::Both);
            }
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for SimVenue {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_redacts_the_secret_and_passphrase() {
        let config = SimConfig {
            secret: "s3cr3t-value".into(),
            passphrase: "pa55-value".into(),
            ..SimConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("pa55-value"), "{shown}");
        assert!(shown.contains("sim-key"), "{shown}");
    }

    #[test]
    fn the_default_config_is_the_live_venue() {
        let config = SimConfig::default();
        assert_eq!(config.max_messages_per_second, 10);
        assert_eq!(config.idle_timeout, Some(Duration::from_secs(120)));
        assert_eq!(config.login_window, Duration::from_secs(30));
        assert_eq!(config.lifetime, Some(Duration::from_secs(86_400)));
        assert!(config.listen.ip().is_loopback());
    }

    #[test]
    fn starts_and_shuts_down_without_connections() {
        let venue = SimVenue::start(SimConfig::default()).unwrap();
        assert_ne!(venue.addr().port(), 0);
        assert_eq!(
            venue.url(),
            format!("wss://localhost:{}/v2/ws/private", venue.addr().port())
        );
        venue.shutdown();
    }

    #[test]
    fn refuses_to_bind_a_taken_port() {
        let first = SimVenue::start(SimConfig::default()).unwrap();
        let err = SimVenue::start(SimConfig {
            listen: first.addr(),
            ..SimConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, SimError::Bind { .. }), "{err}");
    }

    #[test]
    fn the_record_keeps_only_the_newest_frames() {
        let venue = SimVenue::start(SimConfig {
            record_limit: 2,
            ..SimConfig::default()
        })
        .unwrap();
        for n in 0..3 {
            venue.shared.record(ReceivedFrame {
                conn: 1,
                at_ns: n,
                opcode: Opcode::Text,
                text: n.to_string(),
            });
        }
        let kept: Vec<u64> = venue.received().iter().map(|f| f.at_ns).collect();
        assert_eq!(kept, vec![1, 2]);
        venue.clear_received();
        assert!(venue.received().is_empty());
    }
}
