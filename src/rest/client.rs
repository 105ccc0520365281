//! One keep-alive HTTPS connection to the venue's REST API, as a nonblocking state machine the
//! caller's `mio` loop drives.

use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use mio::{Registry, Token};

use super::config::BaseUrl;
use super::http::ResponseReader;
use super::{OrderAnswer, RestConfig, RestError, Verdict};
use crate::backoff::{Backoff, random_seed};
use crate::credentials::Credentials;
use crate::intent::{Cancel, InstType};
use crate::net::{Dial, Dialer, Dialing, HostAddrs, NetError};
use crate::tls::{TlsError, TlsStream, client_config};
use crate::venue::{AccountAnswer, Dialect, RestSigner};

/// Something the client reports from [`RestClient::advance`] (or [`RestClient::shutdown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestEvent {
    /// The TLS handshake completed: a connection is open. Unless the clock offset was measured
    /// recently, the client sends `GET /api/v2/public/time` on it at once, and
    /// [`RestClient::is_ready`] turns true one round trip later.
    Connected,
    /// The venue's verdict on the cancel sent with `tag`.
    Reply {
        /// The caller's tag from [`RestClient::send_cancel`].
        tag: u64,
        /// Acked, or rejected with the venue's code and message.
        verdict: Verdict,
        /// From the request's write to its complete reply, in nanoseconds of the caller's clock.
        round_trip_ns: u64,
    },
    /// The cancel sent with `tag` got no verdict: timeout, connection lost mid-request, a 5xx or
    /// an unreadable reply. Its fate is unknown (a cancel is safe to send again).
    Failed {
        /// The caller's tag.
        tag: u64,
        /// Why.
        error: RestError,
    },
    /// The venue's answer to the order query sent with `tag` ([`RestClient::send_query`]).
    Order {
        /// The caller's tag.
        tag: u64,
        /// Where the order stands, or that the venue does not know it, or a refusal.
        answer: OrderAnswer,
        /// From the request's write to its complete reply, in nanoseconds of the caller's clock.
        round_trip_ns: u64,
    },
    /// The order query sent with `tag` got no answer (timeout, connection lost, a 5xx, an
    /// unreadable reply): ask again later.
    QueryFailed {
        /// The caller's tag.
        tag: u64,
        /// Why.
        error: RestError,
    },
    /// The venue's answer to [`RestClient::send_account_settings`], or why none came.
    Account(Result<AccountAnswer, RestError>),
    /// The venue's verdict on [`RestClient::send_countdown`] with `seconds`, or why none came.
    Countdown {
        /// The countdown asked for (0: off).
        seconds: u32,
        /// Acked, rejected (e.g. 40084 for a classic account), or no verdict.
        verdict: Result<Verdict, RestError>,
    },
    /// The connection (or an attempt to make one) ended; the client reconnects by itself, at
    /// once after a routine keep-alive close ([`RestError::ClosedByServer`]), else after a
    /// backoff delay. A request in flight was reported [`RestEvent::Failed`] just before.
    Lost(RestError),
}

/// Why [`RestClient::send_cancel`] refused a cancel: nothing was sent, and no event will come for
/// it. The caller still holds the cancel (it is `Copy`) and may route it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No open connection, or a request is in flight ([`RestClient::is_ready`] is false): wait
    /// for it, or use another route.
    #[error("the REST connection is not ready (connecting, or a request is in flight)")]
    NotReady,
    /// The request could not be queued on the connection, which is now being replaced.
    #[error("the REST connection failed: {0}")]
    Broken(RestError),
}

/// Where the connection stands.
enum Phase {
    /// Not started, or shut down.
    Stopped,
    /// No connection; the next attempt starts at `retry_at`.
    Backoff { retry_at: u64 },
    /// On its way up (an address, TCP, TLS); `deadline` is the connect timeout.
    Dialing { dialing: Dialing, deadline: u64 },
    /// The connection is open (a request may be in flight).
    Open { tls: Box<TlsStream> },
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Stopped => "stopped",
            Phase::Backoff { .. } => "backoff",
            Phase::Dialing { .. } => "dialing",
            Phase::Open { .. } => "open",
        }
    }
}

/// What the request in flight is.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Cancel {
        tag: u64,
    },
    Query {
        tag: u64,
        inst_type: InstType,
    },
    ServerTime,
    /// `GET /api/v3/account/settings`.
    Account,
    /// `countdown-cancel-all` with these seconds.
    Countdown {
        seconds: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    kind: Kind,
    sent_ns: u64,
    sent_unix_ms: u64,
    deadline: u64,
}

/// The read buffer: one TLS record's plaintext.
const READ_CHUNK: usize = 16 * 1024;

/// One keep-alive HTTPS connection to the venue's REST API, driven by the caller's `mio` loop
/// without ever blocking it (DNS resolution in [`start`](Self::start) excepted). HTTP/1.1, one
/// request at a time.
///
/// Time comes from the caller: `now` is nanoseconds on a monotonic clock (the crate's
/// [`crate::clock::monotonic_ns`]), `unix_ms` the wall clock in Unix milliseconds (for the
/// signature's timestamp, corrected by the measured clock offset).
///
/// Semantics the caller can rely on:
/// - [`send_cancel`](Self::send_cancel) returns `Ok` only when the request is committed to the
///   connection; from then on exactly one [`RestEvent::Reply`] or [`RestEvent::Failed`] with its
///   tag comes out of a later [`advance`](Self::advance) (or [`shutdown`](Self::shutdown)).
/// - [`is_ready`](Self::is_ready) is true when the connection is open and nothing is in flight.
///   A new connection first measures the clock (`GET /api/v2/public/time`) unless the last
///   measurement is younger than [`RestConfig::keep_warm_every`], so it is ready one round trip
///   after [`RestEvent::Connected`] at most.
/// - A request times out after [`RestConfig::request_timeout`]; its connection is then
///   replaced, so a late reply can never be taken for the next request's.
/// - An idle connection sends `GET /api/v2/public/time` every
///   [`RestConfig::keep_warm_every`]; its reply updates [`clock_offset_ms`](Self::clock_offset_ms).
/// - Broken connections are replaced with exponential backoff and jitter
///   ([`RestConfig::reconnect`]); a routine keep-alive close is replaced at once.
/// - Call `advance` when an event came for the token or [`next_deadline`](Self::next_deadline)
///   has passed; calling it more often is harmless.
///
/// ```no_run
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use bitget_cancel::clock::monotonic_ns;
/// use bitget_cancel::engine::Credentials;
/// use bitget_cancel::rest::{RestClient, RestConfig, RestEvent};
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
/// use mio::{Events, Poll, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let unix_ms = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(16);
/// let mut out = Vec::with_capacity(16);
/// let credentials = Credentials::from_env()?;
/// let mut rest = RestClient::new(RestConfig::default(), &credentials, Token(7))?;
/// rest.start(monotonic_ns())?;
/// let cancel = Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id("1")?);
/// let mut sent = false;
/// loop {
///     let now = monotonic_ns();
///     let wait = rest.next_deadline().map(|d| Duration::from_nanos(d.saturating_sub(now)));
///     poll.poll(&mut events, wait)?;
///     for event in events.iter() {
///         if event.token() == Token(7) {
///             rest.on_event(event.is_readable(), event.is_writable());
///         }
///     }
///     rest.advance(poll.registry(), monotonic_ns(), unix_ms(), &mut out);
///     for event in out.drain(..) {
///         if let RestEvent::Reply { tag: 1, verdict, .. } = event {
///             println!("{verdict:?}");
///             return Ok(());
///         }
///     }
///     if !sent && rest.is_ready() {
///         rest.send_cancel(1, &cancel, monotonic_ns(), unix_ms())?;
///         sent = true;
///     }
/// }
/// # }
/// ```
pub struct RestClient {
    config: RestConfig,
    url: BaseUrl,
    credentials: Credentials,
    token: Token,
    /// The connect ladder, and where the host's addresses come from.
    dialer: Dialer,
    phase: Phase,
    in_flight: Option<InFlight>,
    reader: ResponseReader,
    body: Vec<u8>,
    request: Vec<u8>,
    scratch: Box<[u8]>,
    readable: bool,
    /// Consecutive failures (none after any complete reply) and the jitter of the delays.
    backoff: Backoff,
    /// This connection delivered at least one complete reply.
    answered: bool,
    /// When an idle open connection sends its keep-warm request.
    warm_at: u64,
    clock_offset_ms: Option<i64>,
    /// When the clock offset was last measured.
    synced_at: Option<u64>,
    /// The venue's API the requests speak.
    dialect: Dialect,
    /// A failure met inside `send_cancel`, reported by the next `advance`.
    broken: Option<RestError>,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .field("token", &self.token)
            .field("phase", &self.phase.name())
            .field("in_flight", &self.in_flight)
            .field("backoff", &self.backoff)
            .field("clock_offset_ms", &self.clock_offset_ms)
            .finish_non_exhaustive()
    }
}

impl From<NetError> for RestError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Resolve { host, reason } => RestError::Resolve { host, reason },
            NetError::Io(e) | NetError::Upgrade(e) => RestError::Io(e),
            NetError::Closed(reason) => RestError::ConnectionLost(reason),
            NetError::Tls(e) => RestError::Tls(e),
        }
    }
}

fn tls_error(e: TlsError) -> RestError {
    NetError::from(e).into()
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl RestClient {
    /// Checks the configuration and allocates every buffer; no I/O. The socket will be
    /// registered under `token` with the registry given to [`advance`](Self::advance).
    ///
    /// Errors: [`RestError::InvalidUrl`], [`RestError::Tls`] (the extra CA cannot be used).
    pub fn new(
        config: RestConfig,
        credentials: &Credentials,
        token: Token,
    ) -> Result<RestClient, RestError> {
        RestClient::build(config, credentials, token, None)
    }

    /// [`RestClient::new`] for the engine: the host's addresses come from its resolver thread,
    /// and [`start`](Self::start) looks nothing up.
    pub(crate) fn with_addresses(
        config: RestConfig,
        credentials: &Credentials,
        token: Token,
        addrs: HostAddrs,
    ) -> Result<RestClient, RestError> {
        RestClient::build(config, credentials, token, Some(addrs))
    }

    fn build(
        config: RestConfig,
        credentials: &Credentials,
        token: Token,
        addrs: Option<HostAddrs>,
    ) -> Result<RestClient, RestError> {
        let url = BaseUrl::parse(&config.base_url)?;
        let tls_config = client_config(config.extra_ca_pem.as_deref().map(str::as_bytes))
            .map_err(|e| RestError::Tls(e.to_string()))?;
        let dialer = match addrs {
            Some(addrs) => Dialer::new(&url.host, addrs, tls_config, None, None),
            None => Dialer::with_fixed_addresses(&url.host, tls_config, None),
        };
        Ok(RestClient {
            reader: ResponseReader::new(config.max_body),
            url,
            credentials: credentials.clone(),
            token,
            dialer,
            phase: Phase::Stopped,
            in_flight: None,
            body: Vec::with_capacity(
                Dialect::V2
                    .max_rest_body_len()
                    .max(Dialect::V3.max_rest_body_len()),
            ),
            dialect: Dialect::V2,
            request: Vec::with_capacity(2048),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            readable: false,
            backoff: Backoff::new(config.reconnect, random_seed()),
            answered: false,
            warm_at: 0,
            clock_offset_ms: None,
            synced_at: None,
            broken: None,
            config,
        })
    }

    /// Resolves the host (the system resolver: this may block, once) and schedules the first
    /// connection for the next [`advance`](Self::advance). Calling it again re-resolves.
    ///
    /// Errors: [`RestError::Resolve`].
    pub fn start(&mut self, now: u64) -> Result<(), RestError> {
        if !self.dialer.resolves_itself() {
            let resolve_error = |reason: String| RestError::Resolve {
                host: self.url.host.clone(),
                reason,
            };
            let addrs: Vec<SocketAddr> = (self.url.host.as_str(), self.url.port)
                .to_socket_addrs()
                .map_err(|e| resolve_error(e.to_string()))?
                .collect();
            if addrs.is_empty() {
                return Err(resolve_error("no addresses".to_owned()));
            }
            self.dialer.set_addresses(addrs);
        }
        if matches!(self.phase, Phase::Stopped) {
            self.phase = Phase::Backoff { retry_at: now };
        }
        Ok(())
    }

    /// Notes a socket event for this client's token. Cheap; the work happens in
    /// [`advance`](Self::advance).
    pub fn on_event(&mut self, readable: bool, _writable: bool) {
        self.readable |= readable;
    }

    /// True when a connection is open and no request is in flight: a
    /// [`send_cancel`](Self::send_cancel) now goes straight to the socket.
    pub fn is_ready(&self) -> bool {
        matches!(&self.phase, Phase::Open { tls } if !tls.peer_closed() && !tls.is_closed())
            && self.in_flight.is_none()
            && self.broken.is_none()
            && !self.reader.has_started()
    }

    /// True when the client has no connection and waits to try again (after a failure), or was
    /// never started or was shut down: a cancel cannot go out on it soon.
    pub fn is_down(&self) -> bool {
        matches!(
            self.phase,
            Phase::Stopped
                | Phase::Backoff { .. }
                | Phase::Dialing {
                    dialing: Dialing::Resolving { .. },
                    ..
                }
        )
    }

    /// True when a connection is open, whether or not a request is in flight: a cancel handed to
    /// this client now goes out at the latest one round trip later.
    pub fn is_open(&self) -> bool {
        matches!(&self.phase, Phase::Open { tls } if !tls.peer_closed() && !tls.is_closed())
            && self.broken.is_none()
    }

    /// The venue's clock minus the local one, in milliseconds, measured at the midpoint of the
    /// last `GET /api/v2/public/time` round trip; `None` until one succeeded. Signatures use
    /// the local clock corrected by it.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.clock_offset_ms
    }

    /// The earliest time (on the `now` clock) at which [`advance`](Self::advance) has timer work:
    /// a reconnection, a connect or request timeout, a keep-warm request. `None` when stopped.
    /// Socket events come through the registry, not this.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.broken.is_some() {
            return Some(0);
        }
        match &self.phase {
            Phase::Stopped => None,
            Phase::Backoff { retry_at } => Some(*retry_at),
            Phase::Dialing { dialing, deadline } => Some((*deadline).min(dialing.recheck_at())),
            Phase::Open { .. } => Some(match &self.in_flight {
                Some(request) => request.deadline,
                None => self.warm_at,
            }),
        }
    }

    /// Sends `cancel` as a signed REST request, timestamped `unix_ms` corrected by the clock
    /// offset. On `Ok`, exactly one [`RestEvent::Reply`] or [`RestEvent::Failed`] with `tag`
    /// follows; on `Err` nothing was sent and none will.
    ///
    /// Allocates nothing once warm (the buffers are reused).
    pub fn send_cancel(
        &mut self,
        tag: u64,
        cancel: &Cancel,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        if !self.is_ready() {
            return Err(SendError::NotReady);
        }
        let timestamp = unix_ms.saturating_add_signed(self.clock_offset_ms.unwrap_or(0));
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        self.dialect.encode_rest_cancel(
            &mut self.request,
            &mut self.body,
            &signer,
            timestamp,
            cancel,
        );
        self.transmit(Kind::Cancel { tag }, now, unix_ms)
            .map_err(SendError::Broken)
    }

    /// Sends a signed order query asking where the order `cancel` names stands (spot
    /// `orderInfo`, futures `order/detail`; by `orderId` when the cancel has one, else by
    /// `clientOid`), timestamped like [`send_cancel`](Self::send_cancel). On `Ok`, exactly one
    /// [`RestEvent::Order`] or [`RestEvent::QueryFailed`] with `tag` follows; on `Err` nothing
    /// was sent and none will. The venue limits these per account (20/s spot, 10/s futures):
    /// pacing them is the caller's job.
    ///
    /// Allocates nothing once warm (the buffers are reused).
    pub fn send_query(
        &mut self,
        tag: u64,
        cancel: &Cancel,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        if !self.is_ready() {
            return Err(SendError::NotReady);
        }
        let timestamp = unix_ms.saturating_add_signed(self.clock_offset_ms.unwrap_or(0));
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        self.dialect
            .encode_rest_query(&mut self.request, &signer, timestamp, cancel);
        let kind = Kind::Query {
            tag,
            inst_type: cancel.inst_type,
        };
        self.transmit(kind, now, unix_ms).map_err(SendError::Broken)
    }

    /// Asks which account the key belongs to (`GET /api/v3/account/settings`, signed). On
    /// `Ok`, exactly one [`RestEvent::Account`] follows; on `Err` nothing was sent.
    pub fn send_account_settings(&mut self, now: u64, unix_ms: u64) -> Result<(), SendError> {
        if !self.is_ready() {
            return Err(SendError::NotReady);
        }
        let timestamp = unix_ms.saturating_add_signed(self.clock_offset_ms.unwrap_or(0));
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        self.dialect
            .encode_rest_account(&mut self.request, &signer, timestamp);
        self.transmit(Kind::Account, now, unix_ms)
            .map_err(SendError::Broken)
    }

    /// Arms the unified account's dead man's switch for `seconds` (5 to 60; 0 turns it off):
    /// `POST /api/v3/trade/countdown-cancel-all`, signed. On `Ok`, exactly one
    /// [`RestEvent::Countdown`] follows; on `Err` nothing was sent. The venue allows one a
    /// second per account.
    pub fn send_countdown(
        &mut self,
        seconds: u32,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        if !self.is_ready() {
            return Err(SendError::NotReady);
        }
        let timestamp = unix_ms.saturating_add_signed(self.clock_offset_ms.unwrap_or(0));
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        self.dialect.encode_rest_countdown(
            &mut self.request,
            &mut self.body,
            &signer,
            timestamp,
            seconds,
        );
        self.transmit(Kind::Countdown { seconds }, now, unix_ms)
            .map_err(SendError::Broken)
    }

    /// Speaks the unified account's V3 REST API (`true`) or the classic V2 one: which cancel
    /// and order-query endpoints the requests go to.
    pub fn set_unified(&mut self, unified: bool) {
        self.dialect = if unified { Dialect::V3 } else { Dialect::V2 };
    }

    /// Whether the requests speak the unified account's V3 API.
    pub fn is_unified(&self) -> bool {
        self.dialect == Dialect::V3
    }

    /// Writes `self.request` and records it as in flight. An error means nothing was queued.
    fn transmit(&mut self, kind: Kind, now: u64, unix_ms: u64) -> Result<(), RestError> {
        let Phase::Open { tls } = &mut self.phase else {
            return Err(RestError::Io("no open connection".to_owned()));
        };
        if let Err(e) = tls.write_record(&self.request) {
            let error = tls_error(e);
            self.broken = Some(error.clone());
            return Err(error);
        }
        self.in_flight = Some(InFlight {
            kind,
            sent_ns: now,
            sent_unix_ms: unix_ms,
            deadline: now.saturating_add(ms(self.config.request_timeout)),
        });
        if let Err(e) = tls.flush_tls() {
            // Part of the request may be out: the next `advance` reports it failed.
            self.broken = Some(RestError::Io(e.to_string()));
        }
        Ok(())
    }

    fn send_server_time(&mut self, now: u64, unix_ms: u64) -> Result<(), RestError> {
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        self.dialect.encode_rest_clock(&mut self.request, &signer);
        self.transmit(Kind::ServerTime, now, unix_ms)
    }

    /// Does the I/O and the timers: connects, handshakes, reads replies, times requests out,
    /// keeps the connection warm, reconnects. Appends what happened to `events` (reserve
    /// capacity up front to keep this allocation-free: a handful per call at most).
    pub fn advance(
        &mut self,
        registry: &Registry,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) {
        if let Some(error) = self.broken.take() {
            self.lose(registry, now, error, false, events);
        }
        // A connect that completes goes on to the handshake, and a handshake to the first
        // request, in the same call.
        for _ in 0..4 {
            let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
            let before = phase.name();
            self.phase = match phase {
                Phase::Backoff { retry_at } if now >= retry_at => {
                    self.connect(registry, now, unix_ms, events)
                }
                Phase::Dialing { dialing, deadline } => {
                    let dial = self.dialer.step(dialing, registry, self.token, now);
                    self.after_dial(registry, dial, deadline, now, unix_ms, events)
                }
                Phase::Open { tls } => self.step_open(registry, tls, now, unix_ms, events),
                other => other,
            };
            if self.phase.name() == before {
                break;
            }
        }
    }

    fn connect(
        &mut self,
        registry: &Registry,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        let deadline = now.saturating_add(ms(self.config.connect_timeout));
        match self.dialer.start(registry, self.token, now) {
            Dial::Failed(e) => {
                log::warn!("REST: connect to {}: {}", self.url.host, RestError::from(e));
                self.backoff.note_failure();
                Phase::Backoff {
                    retry_at: now.saturating_add(self.backoff_ns()),
                }
            }
            dial => self.after_dial(registry, dial, deadline, now, unix_ms, events),
        }
    }

    /// Acts on a rung of the connect ladder: still waiting (within the connect timeout), open,
    /// or failed.
    fn after_dial(
        &mut self,
        registry: &Registry,
        dial: Dial,
        deadline: u64,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        let error = match dial {
            Dial::Wait(dialing) if now < deadline => return Phase::Dialing { dialing, deadline },
            Dial::Wait(mut dialing) => {
                if let Some(socket) = dialing.socket() {
                    let _ = registry.deregister(socket);
                }
                RestError::Timeout(dialing.doing())
            }
            Dial::Secure(tls) => return self.opened(tls, now, unix_ms, events),
            Dial::Upgraded { mut tls, .. } => {
                let _ = registry.deregister(tls.tcp_mut());
                RestError::Io("unexpected WebSocket upgrade".to_owned())
            }
            // The stream (and its socket) is gone with the error; mio forgets a closed socket.
            Dial::Failed(e) => e.into(),
        };
        self.backoff.note_failure();
        events.push(RestEvent::Lost(error));
        Phase::Backoff {
            retry_at: now.saturating_add(self.backoff_ns()),
        }
    }

    /// The TLS handshake completed: the connection is open.
    fn opened(
        &mut self,
        tls: Box<TlsStream>,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        self.answered = false;
        self.readable = true;
        self.reader.reset();
        self.phase = Phase::Open { tls };
        events.push(RestEvent::Connected);
        self.warm_at = now.saturating_add(ms(self.config.keep_warm_every));
        // Measure the clock at once unless a recent measurement stands (a server that closes
        // every connection after one reply must not make this a loop).
        let stale = self
            .synced_at
            .is_none_or(|at| now.saturating_sub(at) >= ms(self.config.keep_warm_every));
        if stale && let Err(e) = self.send_server_time(now, unix_ms) {
            log::warn!("REST: first request failed: {e}");
        }
        std::mem::replace(&mut self.phase, Phase::Stopped)
    }

    fn step_open(
        &mut self,
        registry: &Registry,
        mut tls: Box<TlsStream>,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        if tls.wants_write()
            && let Err(e) = tls.flush_tls()
        {
            return self.drop_open(
                registry,
                tls,
                now,
                RestError::Io(e.to_string()),
                false,
                events,
            );
        }
        while self.readable {
            match tls.read(&mut self.scratch) {
                Ok(0) => {
                    self.readable = false;
                    let in_flight = self.in_flight;
                    match self.reader.finish() {
                        Ok(Some(response)) => {
                            let decoded =
                                decode(self.dialect, in_flight, response.status, response.body);
                            self.settle(decoded, now, unix_ms, events);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let error = self.closed_error(RestError::Http(e));
                            return self.drop_open(registry, tls, now, error, false, events);
                        }
                    }
                    let clean = self.in_flight.is_none() && self.answered;
                    let error = self.closed_error(RestError::ClosedByServer);
                    return self.drop_open(registry, tls, now, error, clean, events);
                }
                Ok(n) => {
                    let in_flight = self.in_flight;
                    let (decoded, close) = match self.reader.push(&self.scratch[..n]) {
                        Ok(Some(response)) => (
                            decode(self.dialect, in_flight, response.status, response.body),
                            response.close,
                        ),
                        Ok(None) => continue,
                        Err(e) => {
                            let error = self.closed_error(RestError::Http(e));
                            return self.drop_open(registry, tls, now, error, false, events);
                        }
                    };
                    if let Decoded::Unsolicited { status } = decoded {
                        let error = RestError::BadReply {
                            status,
                            reason: "a reply to no request",
                        };
                        return self.drop_open(registry, tls, now, error, false, events);
                    }
                    self.settle(decoded, now, unix_ms, events);
                    self.reader.reset();
                    if close {
                        return self.drop_open(
                            registry,
                            tls,
                            now,
                            RestError::ClosedByServer,
                            true,
                            events,
                        );
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let error = self.closed_error(RestError::Io(e.to_string()));
                    return self.drop_open(registry, tls, now, error, false, events);
                }
            }
        }
        if let Some(request) = self.in_flight
            && now >= request.deadline
        {
            return self.drop_open(
                registry,
                tls,
                now,
                RestError::Timeout("waiting for the reply"),
                false,
                events,
            );
        }
        self.phase = Phase::Open { tls };
        if self.in_flight.is_none()
            && now >= self.warm_at
            && let Err(e) = self.send_server_time(now, unix_ms)
        {
            log::warn!("REST: keep-warm request failed: {e}");
        }
        std::mem::replace(&mut self.phase, Phase::Stopped)
    }

    /// The error a connection that ended reports: with a request in flight, that it was lost.
    fn closed_error(&self, cause: RestError) -> RestError {
        match (&self.in_flight, cause) {
            (Some(_), RestError::ClosedByServer) => {
                RestError::ConnectionLost("the server closed the connection".to_owned())
            }
            (Some(_), RestError::Io(reason)) => RestError::ConnectionLost(reason),
            (_, cause) => cause,
        }
    }

    /// Acts on a complete reply to the request in flight.
    fn settle(&mut self, decoded: Decoded, now: u64, unix_ms: u64, events: &mut Vec<RestEvent>) {
        let Some(request) = self.in_flight.take() else {
            return;
        };
        self.backoff.reset();
        self.answered = true;
        self.warm_at = now.saturating_add(ms(self.config.keep_warm_every));
        match (request.kind, decoded) {
            (Kind::Cancel { tag }, Decoded::Cancel(verdict)) => events.push(match verdict {
                Ok(verdict) => RestEvent::Reply {
                    tag,
                    verdict,
                    round_trip_ns: now.saturating_sub(request.sent_ns),
                },
                Err(error) => RestEvent::Failed { tag, error },
            }),
            (Kind::Query { tag, .. }, Decoded::Query(answer)) => events.push(match answer {
                Ok(answer) => RestEvent::Order {
                    tag,
                    answer,
                    round_trip_ns: now.saturating_sub(request.sent_ns),
                },
                Err(error) => RestEvent::QueryFailed { tag, error },
            }),
            (Kind::ServerTime, Decoded::Time(Ok(server_ms))) => {
                let midpoint = (request.sent_unix_ms + unix_ms.max(request.sent_unix_ms)) / 2;
                self.clock_offset_ms = Some(server_ms - midpoint as i64);
                self.synced_at = Some(now);
            }
            (Kind::ServerTime, Decoded::Time(Err(e))) => log::warn!("REST: server time: {e}"),
            (Kind::Account, Decoded::Account(answer)) => {
                events.push(RestEvent::Account(Ok(answer)))
            }
            (Kind::Countdown { seconds }, Decoded::Countdown(verdict)) => {
                events.push(RestEvent::Countdown { seconds, verdict })
            }
            (_, _) => log::error!("REST: a reply decoded for another request (a bug)"),
        }
    }

    /// Ends the open connection: `Failed` for a cancel in flight, then `Lost`, then backoff
    /// (none after a clean close).
    fn drop_open(
        &mut self,
        registry: &Registry,
        mut tls: Box<TlsStream>,
        now: u64,
        error: RestError,
        clean: bool,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        if tls.close().is_ok() {
            let _ = tls.flush_tls();
        }
        let _ = registry.deregister(tls.tcp_mut());
        self.fail_in_flight(&error, events);
        self.reader.reset();
        self.readable = false;
        if !clean {
            self.backoff.note_failure();
        }
        events.push(RestEvent::Lost(error));
        Phase::Backoff {
            retry_at: now.saturating_add(self.backoff_ns()),
        }
    }

    fn fail_in_flight(&mut self, error: &RestError, events: &mut Vec<RestEvent>) {
        let error = || match error {
            RestError::ClosedByServer => {
                RestError::ConnectionLost("the server closed the connection".to_owned())
            }
            RestError::Io(reason) => RestError::ConnectionLost(reason.clone()),
            other => other.clone(),
        };
        match self.in_flight.take().map(|r| r.kind) {
            Some(Kind::Cancel { tag }) => events.push(RestEvent::Failed {
                tag,
                error: error(),
            }),
            Some(Kind::Query { tag, .. }) => events.push(RestEvent::QueryFailed {
                tag,
                error: error(),
            }),
            Some(Kind::Account) => events.push(RestEvent::Account(Err(error()))),
            Some(Kind::Countdown { seconds }) => events.push(RestEvent::Countdown {
                seconds,
                verdict: Err(error()),
            }),
            Some(Kind::ServerTime) | None => {}
        }
    }

    /// Ends a connection found broken outside `step_open` (a failure inside `send_cancel`).
    fn lose(
        &mut self,
        registry: &Registry,
        now: u64,
        error: RestError,
        clean: bool,
        events: &mut Vec<RestEvent>,
    ) {
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Open { tls } => {
                self.phase = self.drop_open(registry, tls, now, error, clean, events);
            }
            other => {
                self.phase = other;
                self.fail_in_flight(&error, events);
            }
        }
    }

    /// Closes the connection (close_notify, best effort), reports a cancel in flight as
    /// [`RestEvent::Failed`] with [`RestError::Shutdown`], and stops. [`start`](Self::start)
    /// begins again.
    pub fn shutdown(&mut self, registry: &Registry, events: &mut Vec<RestEvent>) {
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Open { mut tls } => {
                if tls.close().is_ok() {
                    let _ = tls.flush_tls();
                }
                let _ = registry.deregister(tls.tcp_mut());
            }
            Phase::Dialing { mut dialing, .. } => {
                if let Some(socket) = dialing.socket() {
                    let _ = registry.deregister(socket);
                }
            }
            Phase::Backoff { .. } | Phase::Stopped => {}
        }
        self.broken = None;
        self.fail_in_flight(&RestError::Shutdown, events);
        self.reader.reset();
    }

    /// The delay before the next attempt: none after a clean close, else exponential with
    /// jitter.
    fn backoff_ns(&mut self) -> u64 {
        ms(self.backoff.delay())
    }
}

/// What every request carries: the credentials, the host, demo trading.
fn signer<'a>(
    credentials: &'a Credentials,
    url: &'a BaseUrl,
    config: &RestConfig,
) -> RestSigner<'a> {
    RestSigner {
        api_key: credentials.api_key(),
        secret: credentials.secret(),
        passphrase: credentials.passphrase_str(),
        authority: &url.authority,
        demo_trading: config.demo_trading,
    }
}

/// A complete reply, read according to the request it answers.
enum Decoded {
    Cancel(Result<Verdict, RestError>),
    Query(Result<OrderAnswer, RestError>),
    Time(Result<i64, RestError>),
    Account(AccountAnswer),
    Countdown(Result<Verdict, RestError>),
    Unsolicited { status: u16 },
}

fn decode(dialect: Dialect, in_flight: Option<InFlight>, status: u16, body: &[u8]) -> Decoded {
    match in_flight.map(|r| r.kind) {
        Some(Kind::Cancel { .. }) => Decoded::Cancel(
            dialect
                .read_rest_verdict(status, body)
                .map_err(RestError::from),
        ),
        Some(Kind::Query { inst_type, .. }) => Decoded::Query(
            dialect
                .read_rest_order(status, body, inst_type)
                .map_err(RestError::from),
        ),
        Some(Kind::ServerTime) => Decoded::Time(
            dialect
                .read_rest_clock(status, body)
                .map_err(RestError::from),
        ),
        Some(Kind::Account) => Decoded::Account(dialect.read_rest_account(status, body)),
        Some(Kind::Countdown { .. }) => Decoded::Countdown(
            dialect
                .read_rest_verdict(status, body)
                .map_err(RestError::from),
        ),
        None => Decoded::Unsolicited { status },
    }
}
