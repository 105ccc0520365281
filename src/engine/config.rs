//! Everything the engine can be told, with documented defaults: endpoint, credentials, threading,
//! capacities, timeouts, pacing and reconnect policy.

use std::fmt;
use std::time::Duration;

pub use crate::backoff::ReconnectBackoff;
pub use crate::config_error::ConfigError;
pub use crate::credentials::{Credentials, ENV_API_KEY, ENV_API_PASSPHRASE, ENV_API_SECRET};
use crate::intent::InstType;
pub use crate::net::Resolver;

mod unified;
pub(crate) use unified::UtaSettings;
pub use unified::{Account, BatchBudget, DEMO_UTA_URL, LIVE_UTA_URL};

/// The live private WebSocket endpoint.
pub const LIVE_URL: &str = "wss://ws.bitget.com/v2/ws/private";
/// The demo-trading private WebSocket endpoint (needs a demo API key).
pub const DEMO_URL: &str = "wss://wspap.bitget.com/v2/ws/private";

/// What the engine thread does when a turn of its loop found nothing to do.
///
/// The trade-off is latency against CPU: only [`IdleStrategy::BusySpin`] reacts within
/// nanoseconds, and it keeps one core at 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleStrategy {
    /// Spin: poll the socket with a zero timeout and the intent ring without ever sleeping. The
    /// submitting side makes no system call. For a dedicated (ideally isolated and pinned) core.
    #[default]
    BusySpin,
    /// Like `BusySpin`, but give the core to other threads (`sched_yield`) after an idle turn.
    Yield,
    /// Spin briefly, yield briefly, then park in the poller until the next timer, socket event or
    /// submitted intent; [`crate::Handle::cancel`] wakes a parked engine through a `mio::Waker`
    /// (a system call on the submitting side, only when the engine is parked). For tests and
    /// shared machines.
    Backoff,
}

/// When a cancel that has had no reply is sent again on another live connection (a hedge); the
/// first reply to either settles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HedgeAfter {
    /// From the live round trips: `max(3 x p50, p99)` of the last 1,000 replies across the pool,
    /// at least 1 ms and at most half the ack timeout. Until 20 replies were seen, a fifth of the
    /// ack timeout. The default.
    #[default]
    Adaptive,
    /// After this long without a reply.
    Fixed(Duration),
    /// Never hedge (re-sends after a lost connection still happen).
    Off,
}

/// The most connections in the pool.
pub const MAX_CONNECTIONS: usize = 8;

/// How long a thread waiting for an outcome spins before it parks, unless
/// [`ConfigBuilder::outcome_spin`] says otherwise.
pub const DEFAULT_OUTCOME_SPIN: Duration = Duration::from_millis(1);

/// The projected wait of the waiting cancels beyond which the backlog goes out in REST
/// batches ([`ConfigBuilder::batch_after`]).
pub const DEFAULT_BATCH_AFTER: Duration = Duration::from_millis(100);

/// The longest [`ConfigBuilder::outcome_spin`] accepted.
const MAX_OUTCOME_SPIN: Duration = Duration::from_secs(1);

/// The final word on every cancel (see [`crate::final_word`]): each connection subscribes to
/// the venue's private order channel, and every intent that reached the wire gets, after its
/// outcome, a [`FinalWord`](crate::FinalWord) from a push, or else from the venue's REST order
/// query. Off unless [`ConfigBuilder::confirm`] turns it on: then nothing of this goes on the
/// wire.
///
/// Every field has a documented default; build one with `Confirm::default()` and change what
/// you need:
///
/// ```
/// use std::time::Duration;
/// use bitget_cancel::InstType;
/// use bitget_cancel::engine::{Config, Confirm, Credentials};
///
/// let config = Config::builder(Credentials::new("key", "secret", "pass")?)
///     .confirm(Confirm {
///         inst_types: vec![InstType::UsdtFutures],
///         timeout: Duration::from_secs(3),
///         ..Confirm::default()
///     })
///     .build()?;
/// assert_eq!(config.confirm().map(|c| c.after), Some(Duration::from_secs(1)));
/// # Ok::<(), bitget_cancel::engine::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The product lines whose order channel each connection subscribes to, every symbol of
    /// each (`instId` `default`), in one request counted against the connection's messages
    /// per second. A cancel on another product line gets its final word from REST. Default:
    /// all four.
    pub inst_types: Vec<InstType>,
    /// How long after its outcome an intent with no final push is asked after over REST (and
    /// again with a doubling delay: 1, 2, 4 s after with the default), within the order
    /// queries' own rate limits (20/s spot, 10/s futures). After a connection came back, what
    /// was pending is asked after at once. Default 1 s.
    pub after: Duration,
    /// How long after its outcome an intent waits for its final word: then it is
    /// [`FinalState::Live`](crate::FinalState::Live) if the venue's latest word had the order
    /// open, else [`Unconfirmed`](crate::FinalState::Unconfirmed). Default 5 s.
    pub timeout: Duration,
    /// How long a connection that subscribed waits for the venue's acknowledgement before it
    /// serves anyway (logged; its final words then come from the other connections' pushes or
    /// from REST). A refused subscription is logged and the connection serves at once.
    /// Default 1 s.
    pub subscribe_grace: Duration,
    /// How many intents may wait for their final word at once, past their outcome (a table
    /// allocated at start). One whose outcome finds it full gets
    /// [`Unconfirmed(TableFull)`](crate::final_word::UnconfirmedReason::TableFull) at once,
    /// counted. It also sizes the final-word ring. Default 1024.
    pub capacity: usize,
    /// How many intents still waiting for their reply may keep a push that came first (the
    /// reply and the push are not ordered on the venue's side). A push beyond it is dropped
    /// and counted (`Stats::finals.pushes_dropped`); REST then answers for it. Default 64.
    pub early_pushes: usize,
}

impl Default for Confirm {
    fn default() -> Self {
        Confirm {
            inst_types: InstType::ALL.to_vec(),
            after: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            subscribe_grace: Duration::from_secs(1),
            capacity: 1024,
            early_pushes: 64,
        }
    }
}

/// Where the engine connects, parsed from a `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub url: String,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let scheme_len = "wss://".len();
        if url.len() < scheme_len || !url[..scheme_len].eq_ignore_ascii_case("wss://") {
            return Err(invalid("the scheme must be wss:// (TLS is always on)"));
        }
        let rest = &url[scheme_len..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.contains('@') {
            return Err(invalid("user information is not supported"));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let close = bracketed
                .find(']')
                .ok_or_else(|| invalid("unclosed IPv6 address"))?;
            let after = &bracketed[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(invalid("unexpected text after the IPv6 address")),
            };
            (&bracketed[..close], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let port = match port {
            None => 443,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 => n,
                _ => return Err(invalid("the port must be a number from 1 to 65535")),
            },
        };
        Ok(Endpoint {
            url: url.to_string(),
            host: host.to_string(),
            port,
        })
    }
}

/// How the engine runs. Build one with [`Config::builder`]; every setting has a documented
/// default.
///
/// ```
/// use std::time::Duration;
/// use bitget_cancel::engine::{Config, Credentials, IdleStrategy};
///
/// let config = Config::builder(Credentials::new("key", "secret", "pass")?)
///     .url(bitget_cancel::engine::DEMO_URL)
///     .idle(IdleStrategy::Backoff)
///     .ack_timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(config.messages_per_second(), 10);
/// # Ok::<(), bitget_cancel::engine::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Config {
    /// Where the connections go, spread over the pool (connection `i` uses
    /// `endpoints[i % len]`); never empty.
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) connections: usize,
    /// The REST rung; `None` when switched off.
    pub(crate) rest: Option<crate::rest::RestConfig>,
    /// Every cancel over REST, no WebSocket connection at all.
    pub(crate) rest_only: bool,
    /// The backlog's REST batches: off, or the projected wait beyond which they start.
    pub(crate) batch_after: Option<Duration>,
    pub(crate) hedge_after: HedgeAfter,
    pub(crate) max_connection_age: Duration,
    pub(crate) credentials: Credentials,
    pub(crate) extra_root_ca_pem: Option<Vec<u8>>,
    pub(crate) core: Option<usize>,
    /// A core that cannot be had is not an error: the thread runs unpinned.
    pub(crate) core_optional: bool,
    pub(crate) idle: IdleStrategy,
    pub(crate) direct_reads: bool,
    pub(crate) intent_capacity: usize,
    pub(crate) outcome_capacity: usize,
    pub(crate) max_pending: usize,
    pub(crate) ack_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) pong_deadline: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) messages_per_second: u32,
    pub(crate) cancels_per_second: u32,
    pub(crate) rate_margin: Duration,
    pub(crate) max_queue_time: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect: ReconnectBackoff,
    pub(crate) login_retry_after: Option<Duration>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) send_buffer: Option<usize>,
    pub(crate) outcome_spin: Duration,
    pub(crate) on_thread_start: Option<fn()>,
    pub(crate) resolver: Resolver,
    /// The final word; `None` when off.
    pub(crate) confirm: Option<Confirm>,
    /// The unified account's settings (`config/unified.rs`).
    pub(crate) uta: UtaSettings,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field(
                "urls",
                &self.endpoints.iter().map(|e| &e.url).collect::<Vec<_>>(),
            )
            .field("connections", &self.connections)
            .field("rest", &self.rest)
            .field("rest_only", &self.rest_only)
            .field("batch_after", &self.batch_after)
            .field("hedge_after", &self.hedge_after)
            .field("max_connection_age", &self.max_connection_age)
            .field("credentials", &self.credentials)
            .field("extra_root_ca", &self.extra_root_ca_pem.is_some())
            .field("core", &self.core)
            .field("core_optional", &self.core_optional)
            .field("idle", &self.idle)
            .field("direct_reads", &self.direct_reads)
            .field("intent_capacity", &self.intent_capacity)
            .field("outcome_capacity", &self.outcome_capacity)
            .field("max_pending", &self.max_pending)
            .field("ack_timeout", &self.ack_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("pong_deadline", &self.pong_deadline)
            .field("write_timeout", &self.write_timeout)
            .field("messages_per_second", &self.messages_per_second)
            .field("cancels_per_second", &self.cancels_per_second)
            .field("rate_margin", &self.rate_margin)
            .field("max_queue_time", &self.max_queue_time)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect", &self.reconnect)
            .field("login_retry_after", &self.login_retry_after)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("send_buffer", &self.send_buffer)
            .field("outcome_spin", &self.outcome_spin)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("resolver", &self.resolver)
            .field("confirm", &self.confirm)
            .field("uta", &self.uta)
            .finish()
    }
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> $ty {
                self.$name
            }
        )*
    };
}

impl Config {
    /// Starts a configuration with these credentials and every other setting at its default.
    pub fn builder(credentials: Credentials) -> ConfigBuilder {
        ConfigBuilder {
            urls: vec![LIVE_URL.to_string()],
            extra_root_ca_file: None,
            config: Config {
                endpoints: vec![Endpoint {
                    url: LIVE_URL.to_string(),
                    host: "ws.bitget.com".to_string(),
                    port: 443,
                }],
                connections: 2,
                rest: Some(crate::rest::RestConfig::default()),
                rest_only: false,
                batch_after: Some(DEFAULT_BATCH_AFTER),
                hedge_after: HedgeAfter::Adaptive,
                max_connection_age: Duration::from_secs(23 * 3600 + 30 * 60),
                credentials,
                extra_root_ca_pem: None,
                core: None,
                core_optional: false,
                idle: IdleStrategy::BusySpin,
                direct_reads: true,
                intent_capacity: 1024,
                outcome_capacity: 1024,
                max_pending: 1024,
                ack_timeout: Duration::from_secs(5),
                ping_interval: Duration::from_secs(25),
                pong_deadline: Duration::from_secs(10),
                write_timeout: Duration::from_secs(2),
                messages_per_second: 10,
                cancels_per_second: 10,
                rate_margin: Duration::from_millis(50),
                max_queue_time: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(10),
                reconnect: ReconnectBackoff::default(),
                login_retry_after: Some(Duration::from_secs(60)),
                shutdown_grace: Duration::from_secs(2),
                send_buffer: None,
                outcome_spin: DEFAULT_OUTCOME_SPIN,
                on_thread_start: None,
                resolver: Resolver::system(),
                confirm: None,
                uta: UtaSettings::default(),
            },
        }
    }

    /// The WebSocket URL (the first, if several were given).
    pub fn url(&self) -> &str {
        &self.endpoints[0].url
    }

    /// The REST base URL, if the REST rung is on.
    pub fn rest_url(&self) -> Option<&str> {
        self.rest.as_ref().map(|r| r.base_url.as_str())
    }

    /// The projected wait beyond which a backlog goes out in REST batches; `None` when
    /// batches are off (`no_batch`) or there is no REST rung.
    pub fn batch_threshold(&self) -> Option<Duration> {
        self.batch_after.filter(|_| self.rest.is_some())
    }

    /// Whether every cancel goes over REST.
    pub fn is_rest_only(&self) -> bool {
        self.rest_only
    }

    /// Every WebSocket URL, spread over the pool.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|e| e.url.as_str())
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The longest an accepted intent can wait for its outcome: the maximum queueing time,
    /// then up to four sends (the first, hedges, re-sends), each of which may come just before
    /// the last one's ack timeout ran out, after a pause the venue asked for (a rate limit
    /// holds the account back for its one-second window). An upper bound, for a caller that
    /// waits for every outcome (`bitget-cancel run` waits this long after its input ends).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bitget_cancel::engine::{Config, Credentials};
    ///
    /// let config = Config::builder(Credentials::new("k", "s", "p")?).build()?;
    /// // 5 s in the queue, then 4 x (5 s ack timeout + 1.05 s pause).
    /// assert_eq!(config.longest_outcome_wait(), Duration::from_millis(5_000 + 4 * 6_050));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn longest_outcome_wait(&self) -> Duration {
        let per_send = self
            .ack_timeout
            .saturating_add(Duration::from_secs(1))
            .saturating_add(self.rate_margin);
        self.max_queue_time
            .saturating_add(per_send.saturating_mul(crate::engine::MAX_SENDS as u32))
    }

    /// Whether the engine runs unpinned when its [`core`](Self::core) cannot be had, instead
    /// of failing to start ([`ConfigBuilder::core_optional`]).
    pub fn is_core_optional(&self) -> bool {
        self.core_optional
    }

    /// The final word's settings, if it is on.
    pub fn confirm(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }

    getters! {
        /// How many connections the pool keeps logged in.
        connections: usize;
        /// When a cancel without a reply is hedged on another connection.
        hedge_after: HedgeAfter;
        /// The age at which a connection is replaced (make-before-break).
        max_connection_age: Duration;
        /// The core the engine thread is pinned to, if any.
        core: Option<usize>;
        /// The idle strategy.
        idle: IdleStrategy;
        /// Whether busy turns read logged-in sockets directly instead of asking the poller.
        direct_reads: bool;
        /// Capacity of the intent ring.
        intent_capacity: usize;
        /// Capacity of the outcome ring.
        outcome_capacity: usize;
        /// Most intents the engine holds at once (waiting or in flight).
        max_pending: usize;
        /// How long a sent cancel waits for its reply before it is reported unknown.
        ack_timeout: Duration;
        /// How often the text `ping` is sent.
        ping_interval: Duration;
        /// How long after a `ping` the venue must have sent something.
        pong_deadline: Duration;
        /// How long a connection may be unable to hand its bytes to the kernel.
        write_timeout: Duration;
        /// Most messages per second on one connection, `ping` and login included.
        messages_per_second: u32;
        /// Most cancels per second, across connections.
        cancels_per_second: u32;
        /// Extra length added to the one-second pacing window.
        rate_margin: Duration;
        /// How long an intent may wait to be sent before it is reported not sent.
        max_queue_time: Duration;
        /// Time allowed from the start of a connection attempt to a logged-in session.
        connect_timeout: Duration;
        /// Reconnect delays.
        reconnect: ReconnectBackoff;
        /// When to try again after the venue refused the credentials (`None`: never).
        login_retry_after: Option<Duration>;
        /// How long shutdown waits for replies to cancels in flight.
        shutdown_grace: Duration;
        /// The socket send buffer asked for, if any.
        send_buffer: Option<usize>;
        /// How long a thread waiting for an outcome spins before it parks.
        outcome_spin: Duration;
    }
}

/// Builds a [`Config`]; see each method for the default.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    urls: Vec<String>,
    /// Read by `build`, into `config.extra_root_ca_pem`.
    extra_root_ca_file: Option<std::path::PathBuf>,
    config: Config,
}

impl ConfigBuilder {
    /// The WebSocket URL: [`LIVE_URL`] (default), [`DEMO_URL`] or any `wss://` URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.urls = vec![url.into()];
        self
    }

    /// Several WebSocket URLs (gateways of the same venue), spread over the pool: connection `i`
    /// uses the URL `i % len`. Default: the one [`url`](Self::url).
    pub fn endpoints<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// How many connections the pool keeps logged in, each with its own TCP, TLS, WebSocket,
    /// login, keepalive, backoff and message pacing, all driven by the one engine thread: 1 to
    /// [`MAX_CONNECTIONS`]. Default 2. With two or more, a cancel whose connection is lost is sent
    /// again at once on another, and one with no reply in time is hedged on another (see
    /// [`hedge_after`](Self::hedge_after)). The venue allows 100 connections per IP.
    pub fn connections(mut self, n: usize) -> Self {
        self.config.connections = n;
        self
    }

    /// The REST rung, below the WebSocket pool: a cancel goes over Bitget's REST API when no
    /// WebSocket connection is live at the moment it is due, or when its connection was lost and
    /// no other is live; never while a WebSocket connection is live, and not before the pool had
    /// its chance: at start, cancels wait until a connection logged in, the venue refused the
    /// credentials, every connection's first attempt failed, or the
    /// [`connect_timeout`](Self::connect_timeout) passed (at most half the
    /// [`max_queue_time`](Self::max_queue_time), so that a waiting cancel keeps time for REST).
    /// Its keep-alive HTTPS connection opens at start and is kept warm; its server time corrects the clock of every
    /// login and REST signature. REST cancels count against the same account cancel limit.
    /// Default: on, Bitget's live REST host ([`crate::rest::LIVE_BASE_URL`]), with demo trading
    /// when the WebSocket URL is [`DEMO_URL`] and the extra root CA of
    /// [`extra_root_ca_pem`](Self::extra_root_ca_pem).
    pub fn rest(mut self, rest: crate::rest::RestConfig) -> Self {
        self.config.rest = Some(rest);
        self
    }

    /// The REST rung at this base URL (`https://host[:port]`), other REST settings at their
    /// defaults (see [`rest`](Self::rest)).
    pub fn rest_url(mut self, url: impl Into<String>) -> Self {
        let mut rest = self.config.rest.take().unwrap_or_default();
        rest.base_url = url.into();
        self.config.rest = Some(rest);
        self
    }

    /// No REST rung: a cancel whose WebSocket path is gone is reported unknown.
    pub fn no_rest(mut self) -> Self {
        self.config.rest = None;
        self.config.rest_only = false;
        self
    }

    /// Every cancel over REST, for accounts without WebSocket trading: no WebSocket connection
    /// is made. Default `false`.
    pub fn rest_only(mut self, only: bool) -> Self {
        self.config.rest_only = only;
        self
    }

    /// No REST batches for a backlog: waiting cancels leave one by one, as the account's
    /// budget allows. Default: batches on (see [`batch_after`](Self::batch_after)).
    pub fn no_batch(mut self) -> Self {
        self.config.batch_after = None;
        self
    }

    /// Batches for the backlog: when the cancels waiting for the account's budget would wait
    /// longer than `after` to go out one by one (the projected wait of the last of them), the
    /// engine sends the ones the WebSocket budget cannot take soon as REST batch requests in
    /// the account's API (a classic account's spot `batch-cancel-order` and futures
    /// `batch-cancel-orders`, 10 requests a second each; a unified account's V3
    /// `cancel-batch`, 5 a second for every category): up to 20 cancels of one product line
    /// and symbol per request, all named by `orderId` or all by `clientOid`, alongside the
    /// WebSocket singles. Default on, after [`DEFAULT_BATCH_AFTER`]. Needs the REST rung.
    pub fn batch_after(mut self, after: Duration) -> Self {
        self.config.batch_after = Some(after);
        self
    }

    /// When a cancel without a reply is sent again on another live connection. Default
    /// [`HedgeAfter::Adaptive`]. Hedges spend the account's cancel budget: at most a fifth of it
    /// in any window goes to hedges, and a hedge never delays a first send.
    pub fn hedge_after(mut self, hedge: HedgeAfter) -> Self {
        self.config.hedge_after = hedge;
        self
    }

    /// A connection older than this is replaced: a new one logs in first, then the old one takes
    /// no new cancels, waits for its replies (up to the ack timeout; what is left is sent again
    /// elsewhere) and closes with a close frame. Default 23 h 30 min, under the venue's forced
    /// disconnect at 24 h.
    pub fn max_connection_age(mut self, d: Duration) -> Self {
        self.config.max_connection_age = d;
        self
    }

    /// Replaces the credentials given to [`Config::builder`].
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = credentials;
        self
    }

    /// An extra root CA trusted besides the webpki roots, e.g. the simulated venue's: the text
    /// of a PEM file with one or more `CERTIFICATE` sections (not a path: see
    /// [`extra_root_ca_file`](Self::extra_root_ca_file)). Replaces an earlier extra CA.
    /// Default: none. Verification is never switched off.
    ///
    /// [`build`](Self::build) checks it: anything that is not a usable PEM certificate is
    /// [`ConfigError::InvalidCa`].
    ///
    /// ```
    /// use bitget_cancel::engine::{Config, ConfigError, Credentials};
    ///
    /// let builder = Config::builder(Credentials::new("key", "secret", "pass")?);
    /// let error = builder.extra_root_ca_pem("sim-ca.pem").build().unwrap_err();
    /// assert!(matches!(error, ConfigError::InvalidCa { .. }));
    /// assert!(error.to_string().contains("extra_root_ca_file"), "{error}");
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn extra_root_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.config.extra_root_ca_pem = Some(pem.into());
        self.extra_root_ca_file = None;
        self
    }

    /// An extra root CA read from a PEM file (e.g. the one `bitget-cancel sim --ca-out` writes),
    /// trusted besides the webpki roots. Replaces an earlier extra CA. The file is read by
    /// [`build`](Self::build): a file that cannot be read is [`ConfigError::CaFile`], one
    /// without a usable certificate [`ConfigError::InvalidCa`].
    ///
    /// ```
    /// use bitget_cancel::engine::{Config, ConfigError, Credentials};
    ///
    /// let builder = Config::builder(Credentials::new("key", "secret", "pass")?);
    /// let error = builder.extra_root_ca_file("no/such/ca.pem").build().unwrap_err();
    /// assert!(matches!(error, ConfigError::CaFile { .. }));
    /// assert!(error.to_string().starts_with("cannot read the CA file no/such/ca.pem: "), "{error}");
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn extra_root_ca_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.extra_root_ca_file = Some(path.as_ref().to_path_buf());
        self.config.extra_root_ca_pem = None;
        self
    }

    /// Pins the engine thread to this core, numbered as the kernel numbers CPUs (`taskset
    /// -c`, `/proc/cpuinfo`'s `processor`). Default: not pinned. A core the machine cannot give
    /// the thread (it does not exist, or it is not among the CPUs this process may run on) makes
    /// [`crate::Engine::start`] fail with [`crate::engine::StartError::Pinning`]; see
    /// [`core_optional`](Self::core_optional) to run unpinned instead. The inline engine runs on
    /// the caller's thread and ignores it (pin that thread yourself).
    ///
    /// Which core: the engine thread busy-spins there, and every microsecond it waits for the
    /// CPU is a microsecond added to a cancel.
    ///
    /// - **Isolated**: a core the scheduler gives nothing else (`isolcpus=` or a cpuset that
    ///   keeps other work away, ideally with `nohz_full=` and `rcu_nocbs=`), so the spinning
    ///   thread is never preempted.
    /// - **Not the SMT sibling of the strategy's thread**: two hyperthreads of one physical
    ///   core share its execution units and caches; a spinning engine there slows the strategy
    ///   and itself. Siblings are listed in
    ///   `/sys/devices/system/cpu/cpuN/topology/thread_siblings_list`; take a core whose
    ///   sibling is idle (or offline).
    /// - **Away from the NIC's interrupts**: a core that takes the network card's interrupts
    ///   (`/proc/interrupts`, `/proc/irq/N/smp_affinity_list`; irqbalance moves them) stalls the
    ///   thread on every packet. Keep them on another core of the same NUMA node as the NIC
    ///   (`/sys/class/net/IFACE/device/numa_node`), and put the engine on that node too.
    ///
    /// [`crate::Engine::pinning`] reports where it runs.
    ///
    /// ```
    /// use bitget_cancel::engine::{Config, Credentials};
    ///
    /// let config = Config::builder(Credentials::new("key", "secret", "pass")?)
    ///     .core(3)
    ///     .build()?;
    /// assert_eq!((config.core(), config.is_core_optional()), (Some(3), false));
    /// # Ok::<(), bitget_cancel::engine::ConfigError>(())
    /// ```
    pub fn core(mut self, core: usize) -> Self {
        self.config.core = Some(core);
        self.config.core_optional = false;
        self
    }

    /// Pins the engine thread to this core when the machine allows it, and runs it unpinned
    /// otherwise: [`crate::Engine::start`] succeeds either way, [`crate::Engine::pinning`]
    /// says [`crate::engine::Pinning::Failed`] and a warning is logged. For a configuration
    /// shared by machines of different sizes; see [`core`](Self::core) for how to pick one.
    ///
    /// ```
    /// use bitget_cancel::engine::{Config, Credentials};
    ///
    /// let config = Config::builder(Credentials::new("key", "secret", "pass")?)
    ///     .core_optional(3)
    ///     .build()?;
    /// assert_eq!((config.core(), config.is_core_optional()), (Some(3), true));
    /// # Ok::<(), bitget_cancel::engine::ConfigError>(())
    /// ```
    pub fn core_optional(mut self, core: usize) -> Self {
        self.config.core = Some(core);
        self.config.core_optional = true;
        self
    }

    /// The idle strategy. Default [`IdleStrategy::BusySpin`].
    pub fn idle(mut self, idle: IdleStrategy) -> Self {
        self.config.idle = idle;
        self
    }

    /// Whether busy turns (idle strategies [`IdleStrategy::BusySpin`] and
    /// [`IdleStrategy::Yield`], and every turn of the inline engine) read the sockets of
    /// logged-in connections directly, one nonblocking `read(2)` each, instead of asking the
    /// poller (`epoll_wait`) first. The poller still serves connection set-up, writes that wait
    /// for room in the socket, and parking. Default true: a reply then costs one syscall to
    /// reach the engine instead of three (poll, read, read until `WouldBlock`). False asks the
    /// poller every turn.
    pub fn direct_reads(mut self, on: bool) -> Self {
        self.config.direct_reads = on;
        self
    }

    /// Capacity of the intent ring; a full ring hands the intent back. Default 1024.
    pub fn intent_capacity(mut self, n: usize) -> Self {
        self.config.intent_capacity = n;
        self
    }

    /// Capacity of the outcome ring. Default 1024. When it is full the engine keeps outcomes
    /// and stops taking intents until the caller reads some.
    pub fn outcome_capacity(mut self, n: usize) -> Self {
        self.config.outcome_capacity = n;
        self
    }

    /// Most intents the engine holds at once, waiting or in flight; sizes the in-flight table.
    /// Default 1024.
    pub fn max_pending(mut self, n: usize) -> Self {
        self.config.max_pending = n;
        self
    }

    /// How long a sent cancel waits for its reply before it is reported
    /// [`crate::outcome::UnknownReason::AckTimeout`]. Default 5 s.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.config.ack_timeout = d;
        self
    }

    /// How often the keepalive text `ping` is sent. Default 25 s (the venue drops a connection
    /// after 2 minutes without one; clients in the wild use 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.config.ping_interval = d;
        self
    }

    /// How long after a `ping` the venue has to send something (its `pong` or anything else)
    /// before the connection is declared dead and replaced. Default 10 s.
    pub fn pong_deadline(mut self, d: Duration) -> Self {
        self.config.pong_deadline = d;
        self
    }

    /// How long a connection may be unable to hand its bytes to the kernel (its TCP send
    /// buffer full: the venue does not read) before it is torn down and what waits on it goes
    /// out elsewhere. Default 2 s. (A peer that reads but does not answer is found out sooner:
    /// a cancel unanswered past the hedge delay makes its connection send a `ping` with a
    /// pong deadline of 1 s.)
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.config.write_timeout = d;
        self
    }

    /// Most messages per second on one connection, counting `ping`, login and cancels. Default
    /// 10, the venue's limit; going over makes the venue disconnect.
    pub fn messages_per_second(mut self, n: u32) -> Self {
        self.config.messages_per_second = n;
        self
    }

    /// Most cancels per second, across reconnects. Default 10, the venue's per-account limit.
    pub fn cancels_per_second(mut self, n: u32) -> Self {
        self.config.cancels_per_second = n;
        self
    }

    /// Both limits are enforced over a sliding window of one second plus this margin, which
    /// absorbs jitter between when a message leaves and when the venue counts it (network and
    /// scheduling delays that bunch messages together on arrival). Default 50 ms.
    pub fn rate_margin(mut self, d: Duration) -> Self {
        self.config.rate_margin = d;
        self
    }

    /// How long an accepted intent may wait (for a session or for pacing) before it is reported
    /// [`crate::outcome::NotSentReason::QueueTimeout`]. Default 5 s.
    pub fn max_queue_time(mut self, d: Duration) -> Self {
        self.config.max_queue_time = d;
        self
    }

    /// Time allowed from the start of a connection attempt to a logged-in session. Default 10 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// Reconnect delays. Default [`ReconnectBackoff::default`].
    pub fn reconnect(mut self, backoff: ReconnectBackoff) -> Self {
        self.config.reconnect = backoff;
        self
    }

    /// When to try the credentials again after the venue refused them: a connection whose login
    /// was refused (30005, 30011 to 30015) logs in again, and the REST rung, if a REST request
    /// was refused for its key or signature (40006, 40009, 40012, ...), takes a cancel again.
    /// `None` never tries again. Default 60 s. Meanwhile every intent is reported
    /// [`crate::outcome::NotSentReason::LoginRejected`] at once (or, while another connection
    /// still has its login's answer to come, once it has it), and no cancel goes over REST
    /// with credentials a login was refused for.
    pub fn login_retry_after(mut self, d: Option<Duration>) -> Self {
        self.config.login_retry_after = d;
        self
    }

    /// How long [`crate::Engine::shutdown`] waits for replies to cancels in flight. Default 2 s.
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.config.shutdown_grace = d;
        self
    }

    /// The connection's socket send buffer (`SO_SNDBUF`), in bytes. Default `None`: the OS
    /// default, which grows with the traffic (to megabytes on Linux). A venue that stops
    /// reading makes the kernel hold every cancel that fits in that buffer: each one counts as
    /// sent, and ends [`crate::outcome::UnknownReason::AckTimeout`] if no reply comes. A small
    /// buffer keeps them in the engine instead, where
    /// [`max_queue_time`](Self::max_queue_time) reports them
    /// [`crate::outcome::NotSentReason::QueueTimeout`]: a certain answer rather than an
    /// uncertain one. The OS adjusts the value (Linux doubles it and applies a minimum).
    pub fn send_buffer(mut self, bytes: Option<usize>) -> Self {
        self.config.send_buffer = bytes;
        self
    }

    /// How long a thread that waits for an outcome spins before it parks: the caller of
    /// [`Handle::outcome_timeout`](crate::Handle::outcome_timeout) and of the blocking
    /// [`Handle::outcomes`](crate::Handle::outcomes) iterator watches the outcome ring this long,
    /// then sleeps until the engine hands an outcome over; the inline engine's waiting helpers
    /// ([`InlineEngine::outcome_timeout`](super::InlineEngine::outcome_timeout),
    /// [`wait_live`](super::InlineEngine::wait_live),
    /// [`poll_until`](super::InlineEngine::poll_until)) poll this long, then park in the poller
    /// until a socket event or the engine's next timer. Default 1 ms
    /// ([`DEFAULT_OUTCOME_SPIN`]); at most 1 s; zero parks at once.
    ///
    /// A parked thread's wake-up costs tens of microseconds (a futex and the scheduler, more on
    /// a VM), as much as the engine's whole round trip on loopback; an outcome that lands
    /// within the spin is in the caller's hands within a microsecond. The spin costs CPU only
    /// while a thread waits, at most this long per wait.
    ///
    /// It is the same for every idle strategy, because the waiting thread offers its core to
    /// any other runnable thread between every few looks at the ring (`sched_yield`). That
    /// matters most with [`IdleStrategy::Backoff`]: its engine thread parks and is woken, maybe
    /// onto the waiter's core, and a waiter that only spun kept it off that core until the spin
    /// ended (measured on two busy cores: tick-to-wire grew to the spin). Yielding, the engine
    /// runs at once and the waiter still sees the outcome within a microsecond or two. On a
    /// machine where a waiting thread must take no CPU at all, set zero.
    pub fn outcome_spin(mut self, d: Duration) -> Self {
        self.config.outcome_spin = d;
        self
    }

    /// A function the engine thread calls once when it starts, before it allocates its buffers:
    /// to set a thread priority, mark the thread for a profiler or an allocation counter, etc.
    /// Default: none.
    pub fn on_thread_start(mut self, f: fn()) -> Self {
        self.config.on_thread_start = Some(f);
        self
    }

    /// How host names (of the endpoints and of the REST host) become addresses. Default
    /// [`Resolver::system`]. Lookups run on a thread of their own, never on the engine thread:
    /// at start, again after a connection attempt to a host failed, and every five minutes, so
    /// a slow resolver never delays a cancel on a connection that is up, and moved gateways are
    /// followed.
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.config.resolver = resolver;
        self
    }

    /// Turns the final word on with these settings (see [`Confirm`]; `Confirm::default()` for
    /// the defaults): each connection subscribes to the private order channel once logged in,
    /// and serves once the subscription is acknowledged (or its grace is over); every intent
    /// that reached the wire gets a [`FinalWord`](crate::FinalWord) after its outcome, read
    /// with [`Handle::try_final`](crate::Handle::try_final) or
    /// [`InlineEngine::try_final`](super::InlineEngine::try_final). Default: off, and nothing
    /// of it goes on the wire.
    pub fn confirm(mut self, confirm: Confirm) -> Self {
        self.config.confirm = Some(confirm);
        self
    }

    /// Turns the final word off (the default).
    pub fn no_confirm(mut self) -> Self {
        self.config.confirm = None;
        self
    }

    /// Checks the settings and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut config = self.config;
        let invalid = |field, reason| Err(ConfigError::InvalidValue { field, reason });
        if self.urls.is_empty() {
            return invalid("endpoints", "at least one URL is needed");
        }
        config.endpoints = self
            .urls
            .iter()
            .map(|url| Endpoint::parse(url))
            .collect::<Result<_, _>>()?;
        if config.connections == 0 || config.connections > MAX_CONNECTIONS {
            return invalid("connections", "must be from 1 to 8");
        }
        if config.max_connection_age < Duration::from_millis(100) {
            return invalid("max_connection_age", "must be at least 100 ms");
        }
        if config.rest_only && config.rest.is_none() {
            return invalid("rest_only", "needs the REST rung (no_rest was set)");
        }
        if let Some(path) = &self.extra_root_ca_file {
            let pem = std::fs::read(path).map_err(|e| ConfigError::CaFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            config.extra_root_ca_pem = Some(pem);
        }
        if let Some(pem) = &config.extra_root_ca_pem {
            check_root_ca(pem)?;
        }
        if let Some(rest) = &mut config.rest {
            crate::rest::check_base_url(&rest.base_url).map_err(|reason| {
                ConfigError::InvalidUrl {
                    url: rest.base_url.clone(),
                    reason,
                }
            })?;
            if rest.extra_ca_pem.is_none()
                && let Some(pem) = &config.extra_root_ca_pem
            {
                rest.extra_ca_pem = Some(String::from_utf8_lossy(pem).into_owned());
            }
            if self.urls.first().is_some_and(|u| u == DEMO_URL) {
                rest.demo_trading = true;
            }
        }
        if config.intent_capacity == 0 {
            return invalid("intent_capacity", "must be at least 1");
        }
        if config.outcome_capacity == 0 {
            return invalid("outcome_capacity", "must be at least 1");
        }
        if config.max_pending == 0 || config.max_pending > 1 << 20 {
            return invalid("max_pending", "must be from 1 to 1048576");
        }
        if config.messages_per_second == 0 || config.messages_per_second > 100_000 {
            return invalid("messages_per_second", "must be from 1 to 100000");
        }
        if config.cancels_per_second == 0 || config.cancels_per_second > 100_000 {
            return invalid("cancels_per_second", "must be from 1 to 100000");
        }
        for (field, d) in [
            ("ack_timeout", config.ack_timeout),
            ("ping_interval", config.ping_interval),
            ("pong_deadline", config.pong_deadline),
            ("write_timeout", config.write_timeout),
            ("connect_timeout", config.connect_timeout),
        ] {
            if d.is_zero() {
                return invalid(field, "must be longer than zero");
            }
        }
        if config.send_buffer == Some(0) {
            return invalid("send_buffer", "must be at least 1 byte");
        }
        if config.outcome_spin > MAX_OUTCOME_SPIN {
            return invalid("outcome_spin", "must be at most 1 s");
        }
        if config.reconnect.initial.is_zero() {
            return invalid("reconnect.initial", "must be longer than zero");
        }
        if let Some(confirm) = &config.confirm {
            check_confirm(confirm)?;
        }
        unified::check(&mut config, &self.urls)?;
        Ok(config)
    }
}

/// The final word's settings that cannot work.
fn check_confirm(c: &Confirm) -> Result<(), ConfigError> {
    let invalid = |field, reason| Err(ConfigError::InvalidValue { field, reason });
    if c.inst_types.is_empty() {
        return invalid("confirm.inst_types", "at least one product line is needed");
    }
    if (1..c.inst_types.len()).any(|i| c.inst_types[..i].contains(&c.inst_types[i])) {
        return invalid("confirm.inst_types", "each product line at most once");
    }
    if c.after.is_zero() || c.timeout.is_zero() {
        return invalid(
            "confirm.after",
            "confirm.after and confirm.timeout must be longer than zero",
        );
    }
    if c.after > c.timeout {
        return invalid("confirm.after", "must not be longer than confirm.timeout");
    }
    if c.capacity == 0 || c.capacity > 1 << 20 {
        return invalid("confirm.capacity", "must be from 1 to 1048576");
    }
    if c.early_pushes > 1 << 20 {
        return invalid("confirm.early_pushes", "must be at most 1048576");
    }
    Ok(())
}

/// Whether `pem` would be accepted as extra roots at start; says why not, with a hint when it
/// looks like a path.
fn check_root_ca(pem: &[u8]) -> Result<(), ConfigError> {
    match crate::tls::client_config(Some(pem)) {
        Ok(_) => Ok(()),
        Err(e) => {
            let looks_like_a_path =
                pem.len() < 4096 && !pem.contains(&b'\n') && !pem.windows(5).any(|w| w == b"-----");
            let reason = if looks_like_a_path {
                format!(
                    "{e}; it reads {:?}, which looks like a file name: pass the file's contents, \
                     or the path to extra_root_ca_file",
                    String::from_utf8_lossy(pem)
                )
            } else {
                e.to_string()
            };
            Err(ConfigError::InvalidCa { reason })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("key-1", "s3cr3t-value", "pa55-value").unwrap()
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("key generation");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("self-signed CA").pem()
    }

    fn scratch_file(name: &str, contents: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "bitget-cancel-config-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("write a scratch file");
        path
    }

    #[test]
    fn a_ca_file_is_read_when_the_config_is_built_and_reaches_the_rest_rung_too() {
        let pem = ca_pem();
        let path = scratch_file("ca.pem", &pem);
        let config = Config::builder(creds())
            .extra_root_ca_file(&path)
            .build()
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(config.extra_root_ca_pem.as_deref(), Some(pem.as_bytes()));
        assert_eq!(
            config.rest.as_ref().unwrap().extra_ca_pem.as_deref(),
            Some(pem.as_str())
        );
    }

    #[test]
    fn a_ca_file_that_cannot_be_read_or_holds_no_certificate_is_refused_by_build() {
        let missing = std::env::temp_dir().join("bitget-cancel-config-no-such-ca.pem");
        match Config::builder(creds())
            .extra_root_ca_file(&missing)
            .build()
        {
            Err(ConfigError::CaFile { path, reason }) => {
                assert_eq!(path, missing);
                assert!(!reason.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let text = scratch_file("not-a-ca.pem", "hello\n");
        let refused = Config::builder(creds()).extra_root_ca_file(&text).build();
        std::fs::remove_file(&text).unwrap();
        assert!(
            matches!(refused, Err(ConfigError::InvalidCa { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn a_ca_given_as_a_path_instead_of_pem_is_refused_with_a_hint() {
        let refused = Config::builder(creds())
            .extra_root_ca_pem("sim-ca.pem")
            .build()
            .unwrap_err();
        let text = refused.to_string();
        assert!(text.contains("\"sim-ca.pem\""), "{text}");
        assert!(text.contains("extra_root_ca_file"), "{text}");
        // Broken PEM is refused without the hint.
        let broken = Config::builder(creds())
            .extra_root_ca_pem(
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
            )
            .build()
            .unwrap_err();
        assert!(
            matches!(broken, ConfigError::InvalidCa { .. }),
            "{broken:?}"
        );
        assert!(
            !broken.to_string().contains("extra_root_ca_file"),
            "{broken}"
        );
    }

    #[test]
    fn the_later_of_a_ca_pem_and_a_ca_file_is_the_one_used() {
        let pem = ca_pem();
        let missing = std::env::temp_dir().join("bitget-cancel-config-never-read.pem");
        let config = Config::builder(creds())
            .extra_root_ca_file(&missing)
            .extra_root_ca_pem(pem.clone())
            .build()
            .unwrap();
        assert_eq!(config.extra_root_ca_pem.as_deref(), Some(pem.as_bytes()));
        let refused = Config::builder(creds())
            .extra_root_ca_pem(pem)
            .extra_root_ca_file(&missing)
            .build();
        assert!(
            matches!(refused, Err(ConfigError::CaFile { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret_or_passphrase() {
        let config = Config::builder(creds()).build().unwrap();
        for shown in [format!("{config:?}"), format!("{:?}", creds())] {
            assert!(shown.contains("key-1"), "{shown}");
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
            assert!(!shown.contains("pa55-value"), "{shown}");
        }
    }

    #[test]
    fn urls_must_be_wss_with_a_host() {
        let e = Endpoint::parse("wss://127.0.0.1:8443/v2/ws/private").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 8443));
        let e = Endpoint::parse(LIVE_URL).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("ws.bitget.com", 443));
        let e = Endpoint::parse("WSS://[::1]:9000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
        for bad in [
            "ws://ws.bitget.com/v2/ws/private",
            "https://x",
            "wss://",
            "wss://:443/",
            "wss://host:0/",
            "wss://host:70000/",
            "wss://host:port/",
            "wss://user@host/",
            "wss://[::1/",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(ConfigError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults_match_the_venue_limits() {
        let c = Config::builder(creds()).build().unwrap();
        assert_eq!(c.url(), LIVE_URL);
        assert_eq!(c.messages_per_second(), 10);
        assert_eq!(c.cancels_per_second(), 10);
        assert_eq!(c.ping_interval(), Duration::from_secs(25));
        assert_eq!(c.idle(), IdleStrategy::BusySpin);
        assert_eq!(c.core(), None);
        assert_eq!(c.outcome_spin(), DEFAULT_OUTCOME_SPIN);
    }

    #[test]
    fn the_final_word_is_off_by_default_and_its_settings_are_checked() {
        let c = Config::builder(creds()).build().unwrap();
        assert_eq!(c.confirm(), None);
        let on = Config::builder(creds())
            .confirm(Confirm::default())
            .build()
            .unwrap();
        let confirm = on.confirm().unwrap();
        assert_eq!(confirm.inst_types, InstType::ALL);
        assert_eq!(
            (confirm.after, confirm.timeout, confirm.subscribe_grace),
            (
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(1)
            )
        );
        assert_eq!((confirm.capacity, confirm.early_pushes), (1024, 64));
        for (bad, field) in [
            (
                Confirm {
                    inst_types: vec![],
                    ..Confirm::default()
                },
                "confirm.inst_types",
            ),
            (
                Confirm {
                    inst_types: vec![InstType::Spot, InstType::Spot],
                    ..Confirm::default()
                },
                "confirm.inst_types",
            ),
            (
                Confirm {
                    after: Duration::from_secs(6),
                    ..Confirm::default()
                },
                "confirm.after",
            ),
            (
                Confirm {
                    capacity: 0,
                    ..Confirm::default()
                },
                "confirm.capacity",
            ),
        ] {
            match Config::builder(creds()).confirm(bad).build() {
                Err(ConfigError::InvalidValue { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let off = Config::builder(creds())
            .confirm(Confirm::default())
            .no_confirm()
            .build()
            .unwrap();
        assert_eq!(off.confirm(), None);
    }

    #[test]
    fn build_refuses_settings_that_cannot_work() {
        let b = || Config::builder(creds());
        for (built, field) in [
            (b().intent_capacity(0).build(), "intent_capacity"),
            (b().outcome_capacity(0).build(), "outcome_capacity"),
            (b().max_pending(0).build(), "max_pending"),
            (b().messages_per_second(0).build(), "messages_per_second"),
            (b().cancels_per_second(0).build(), "cancels_per_second"),
            (b().ack_timeout(Duration::ZERO).build(), "ack_timeout"),
            (b().send_buffer(Some(0)).build(), "send_buffer"),
            (
                b().outcome_spin(Duration::from_millis(1001)).build(),
                "outcome_spin",
            ),
        ] {
            match built {
                Err(ConfigError::InvalidValue { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
