//! One keep-alive HTTPS connection to the venue's REST API, as a nonblocking state machine the
//! caller's `mio` loop drives.

use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use mio::{Registry, Token};

use super::config::BaseUrl;
use super::http::ResponseReader;
use super::{BatchVerdict, CancelAllVerdict, OrderAnswer, RestConfig, RestError, Verdict};
use crate::backoff::{Backoff, random_seed};
use crate::clock::ClockEstimate;
use crate::credentials::Credentials;
use crate::intent::{Cancel, CancelAll, InstId, InstType, OrderRef};
use crate::net::{Dial, Dialer, Dialing, HostAddrs, NetError};
use crate::tls::{TlsError, TlsStream, client_config};
use crate::venue::v2::rest::{BatchKey, MAX_BATCH};
use crate::venue::{AccountAnswer, Dialect, RestSigner};

/// Something the client reports from [`RestClient::advance`] (or [`RestClient::shutdown`]).
///
/// A batch's verdict (a few kilobytes, one verdict per entry) comes boxed: carried by value it
/// made every event that size, and a single cancel's reply paid for copying it several times
/// on its way out. A batch reply allocates once; a single cancel's allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestEvent {
    /// The TLS handshake completed: a connection is open. Unless the clock offset was measured
    /// recently (or the other connection measures it), the client sends
    /// `GET /api/v2/public/time` on it three times at once, and that connection is ready three
    /// round trips later.
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
    /// The venue's answer to the batch cancel sent with `tag` ([`RestClient::send_batch`]):
    /// each entry's verdict, or a refusal of the request as a whole. A batch without an answer
    /// is [`RestEvent::Failed`] with its tag.
    Batch {
        /// The caller's tag.
        tag: u64,
        /// Entry by entry, in the order sent, or refused as a whole.
        verdict: Box<BatchVerdict>,
        /// From the request's write to its complete reply, in nanoseconds of the caller's clock.
        round_trip_ns: u64,
    },
    /// The venue's answer to the cancel-all sent with `tag` ([`RestClient::send_cancel_all`]).
    /// A cancel-all without an answer is [`RestEvent::Failed`] with its tag.
    CancelAll {
        /// The caller's tag.
        tag: u64,
        /// Taken (with the counts of its lists where the reply has them), or refused.
        verdict: CancelAllVerdict,
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

/// Where one connection stands.
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

/// What the request in flight is, with the dialect it was sent in, whose rules read its reply
/// even if the client switched meanwhile. A batch's entries wait in its connection's
/// `Lane::batch_sent`, to read its reply by: kept out of here, as this is copied with every
/// request, a single cancel's included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cancel {
        tag: u64,
        dialect: Dialect,
    },
    Query {
        tag: u64,
        inst_type: InstType,
        dialect: Dialect,
    },
    Batch {
        tag: u64,
        key: BatchKey,
        len: u8,
        dialect: Dialect,
    },
    CancelAll {
        tag: u64,
        dialect: Dialect,
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
/// The most bytes one connection reads per [`RestClient::advance`]; the rest waits for the
/// next call.
const READ_BUDGET: usize = 256 * 1024;
/// The keep-alive connections the client keeps.
const LANES: usize = 2;
/// Server-time requests in a clock measurement (their median is believed).
const CLOCK_ROUND: u8 = 3;
/// Server times outside these bounds (2020 and 2200, Unix ms) are not believed at all.
const PLAUSIBLE_MS: std::ops::Range<i64> = 1_577_836_800_000..7_258_118_400_000;

/// One keep-alive connection of the client.
struct Lane {
    /// The connect ladder, and where the host's addresses come from.
    dialer: Dialer,
    phase: Phase,
    in_flight: Option<InFlight>,
    reader: ResponseReader,
    readable: bool,
    /// The last advance stopped at its read budget: read again at once.
    more: bool,
    /// Consecutive failures (none after any complete reply) and the jitter of the delays.
    backoff: Backoff,
    /// This connection delivered at least one complete reply.
    answered: bool,
    /// When this connection, idle, sends its keep-warm request.
    warm_at: u64,
    /// Server-time requests left in a clock measurement under way on this connection.
    sampling: u8,
    /// A failure met inside `send_cancel`, reported by the next `advance`.
    broken: Option<RestError>,
    /// The entries of the batch in flight on this connection, in the order sent (the first
    /// `len` of its `Kind::Batch`).
    batch_sent: [OrderRef; MAX_BATCH],
}

impl Lane {
    fn tls(&self) -> Option<&TlsStream> {
        match &self.phase {
            Phase::Open { tls } if !tls.peer_closed() && !tls.is_closed() => Some(tls),
            _ => None,
        }
    }

    fn is_open(&self) -> bool {
        self.tls().is_some() && self.broken.is_none()
    }

    fn is_ready(&self) -> bool {
        self.is_open() && self.in_flight.is_none() && !self.reader.has_started()
    }

    fn is_down(&self) -> bool {
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

    fn next_deadline(&self, keep_warm: bool) -> Option<u64> {
        if self.broken.is_some() || self.more {
            return Some(0);
        }
        match &self.phase {
            Phase::Stopped => None,
            Phase::Backoff { retry_at } => Some(*retry_at),
            Phase::Dialing { dialing, deadline } => Some((*deadline).min(dialing.recheck_at())),
            Phase::Open { .. } => match &self.in_flight {
                Some(request) => Some(request.deadline),
                None if keep_warm => Some(self.warm_at),
                None => None,
            },
        }
    }
}

/// Keep-alive HTTPS connections to the venue's REST API, as a nonblocking state machine the
/// caller's `mio` loop drives without ever blocking it (DNS resolution in
/// [`start`](Self::start) excepted). HTTP/1.1, one request at a time on each connection.
///
/// It keeps two connections (both registered under the caller's token), so that the
/// keep-warm request on one never delays a cancel: a connection sends its keep-warm only while
/// the other is ready for a cancel, and a cancel goes on whichever is ready.
///
/// Time comes from the caller: `now` is nanoseconds on a monotonic clock (the crate's
/// [`crate::clock::monotonic_ns`]), `unix_ms` the wall clock in Unix milliseconds (for the
/// signature's timestamp, corrected by the measured clock offset).
///
/// Semantics the caller can rely on:
/// - [`send_cancel`](Self::send_cancel) returns `Ok` only when the request is committed to a
///   connection; from then on exactly one [`RestEvent::Reply`] or [`RestEvent::Failed`] with its
///   tag comes out of a later [`advance`](Self::advance) (or [`shutdown`](Self::shutdown)).
///   Before it writes onto an idle connection it checks that the server has not closed it
///   meanwhile (an idle keep-alive the server ended is replaced, never written to).
/// - [`is_ready`](Self::is_ready) is true when a connection is open and has nothing in flight.
///   A new connection first measures the clock (three `GET /api/v2/public/time`, whose median
///   offset is believed; a server time far from the others is not) unless the last
///   measurement is younger than [`RestConfig::keep_warm_every`]; the other connection takes
///   cancels meanwhile.
/// - A request times out after [`RestConfig::request_timeout`]; its connection is then
///   replaced, so a late reply can never be taken for the next request's.
/// - An idle connection sends `GET /api/v2/public/time` every
///   [`RestConfig::keep_warm_every`] (while the other one is ready); its reply updates
///   [`clock_offset_ms`](Self::clock_offset_ms).
/// - Broken connections are replaced with exponential backoff and jitter
///   ([`RestConfig::reconnect`]); a routine keep-alive close is replaced at once.
/// - Each call to `advance` reads a bounded amount from each connection; call `advance` when
///   an event came for the token or [`next_deadline`](Self::next_deadline) has passed;
///   calling it more often is harmless.
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
    lanes: [Lane; LANES],
    body: Vec<u8>,
    request: Vec<u8>,
    scratch: Box<[u8]>,
    /// The venue's clock, from the server times measured.
    clock: ClockEstimate,
    /// Server times believed so far.
    clock_samples: u64,
    /// When the clock was last measured.
    synced_at: Option<u64>,
    /// A measurement was asked for ([`RestClient::measure_clock`]).
    measure_wanted: bool,
    /// The venue's API the requests speak.
    dialect: Dialect,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .field("token", &self.token)
            .field(
                "connections",
                &[self.lanes[0].phase.name(), self.lanes[1].phase.name()],
            )
            .field(
                "in_flight",
                &[self.lanes[0].in_flight, self.lanes[1].in_flight],
            )
            .field("clock_offset_ms", &self.clock_offset_ms())
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
    /// Checks the configuration and allocates every buffer; no I/O. The sockets will be
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
        let lane = |dialer: Dialer| Lane {
            dialer,
            phase: Phase::Stopped,
            in_flight: None,
            reader: ResponseReader::new(config.max_body),
            readable: false,
            more: false,
            backoff: Backoff::new(config.reconnect, random_seed()),
            answered: false,
            warm_at: 0,
            sampling: 0,
            broken: None,
            batch_sent: [OrderRef::OrderId(crate::intent::OrderId::EMPTY); MAX_BATCH],
        };
        let second = dialer.fork();
        Ok(RestClient {
            lanes: [lane(dialer), lane(second)],
            url,
            credentials: credentials.clone(),
            token,
            body: Vec::with_capacity(
                Dialect::V2
                    .max_rest_body_len()
                    .max(Dialect::V3.max_rest_body_len()),
            ),
            dialect: Dialect::V2,
            request: Vec::with_capacity(2048),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            clock: ClockEstimate::new(),
            clock_samples: 0,
            synced_at: None,
            measure_wanted: false,
            config,
        })
    }

    /// Resolves the host (the system resolver: this may block, once) and schedules the first
    /// connections for the next [`advance`](Self::advance). Calling it again re-resolves.
    ///
    /// Errors: [`RestError::Resolve`].
    pub fn start(&mut self, now: u64) -> Result<(), RestError> {
        if !self.lanes[0].dialer.resolves_itself() {
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
            for lane in &mut self.lanes {
                lane.dialer.set_addresses(addrs.clone());
            }
        }
        for lane in &mut self.lanes {
            if matches!(lane.phase, Phase::Stopped) {
                lane.phase = Phase::Backoff { retry_at: now };
            }
        }
        Ok(())
    }

    /// Notes a socket event for this client's token. Cheap; the work happens in
    /// [`advance`](Self::advance).
    pub fn on_event(&mut self, readable: bool, _writable: bool) {
        for lane in &mut self.lanes {
            lane.readable |= readable;
        }
    }

    /// True when a connection is open and has no request in flight, and the venue's clock is
    /// known (or no measurement is under way): a [`send_cancel`](Self::send_cancel) now goes
    /// straight to the socket (unless the server closed that idle connection meanwhile, which
    /// `send_cancel` finds out first).
    pub fn is_ready(&self) -> bool {
        (0..LANES).any(|k| self.lane_ready(k))
    }

    /// Whether connection `k` may take a cancel: idle, and not ahead of the first clock
    /// measurement (a cancel signed with an unmeasured clock may be refused for it).
    fn lane_ready(&self, k: usize) -> bool {
        let measuring = self.clock_samples == 0 && self.lanes.iter().any(|l| l.sampling > 0);
        self.lanes[k].is_ready() && !measuring
    }

    /// True when the client has no connection and waits to try again (after a failure), or was
    /// never started or was shut down: a cancel cannot go out on it soon.
    pub fn is_down(&self) -> bool {
        self.lanes.iter().all(Lane::is_down)
    }

    /// True when a connection is being set up or waits for a reply: the caller must deliver
    /// its socket events (a loop that skips the poller while nothing is expected must not skip
    /// it now).
    pub fn awaits_events(&self) -> bool {
        self.lanes.iter().any(|lane| {
            lane.in_flight.is_some()
                || matches!(lane.phase, Phase::Dialing { .. })
                || (lane.is_open() && lane.reader.has_started())
        })
    }

    /// True when a connection is open, whether or not a request is in flight: a cancel handed to
    /// this client now goes out at the latest one round trip later.
    pub fn is_open(&self) -> bool {
        self.lanes.iter().any(Lane::is_open)
    }

    /// The venue's clock minus the local one, in milliseconds: the median of the last few
    /// offsets measured (each at the midpoint of a `GET /api/v2/public/time` round trip); `None`
    /// until one is believed. Signatures use the local clock corrected by it.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.clock.offset_ms()
    }

    /// How many server times were believed so far (a newer measurement makes it grow).
    pub fn clock_samples(&self) -> u64 {
        self.clock_samples
    }

    /// Measures the venue's clock again as soon as a connection is idle (the venue refused a
    /// timestamp: the offset may have drifted).
    pub fn measure_clock(&mut self) {
        self.measure_wanted = true;
    }

    /// The earliest time (on the `now` clock) at which [`advance`](Self::advance) has timer work:
    /// a reconnection, a connect or request timeout, a keep-warm request, a read left over. `None`
    /// when stopped. Socket events come through the registry, not this.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.measure_wanted && self.lanes.iter().any(Lane::is_ready) {
            return Some(0);
        }
        (0..LANES)
            .filter_map(|k| self.lanes[k].next_deadline(self.may_keep_warm(k)))
            .min()
    }

    /// Whether connection `k` may send a request other than a cancel now: the other one is ready
    /// for a cancel, or not open at all (then there is nothing to keep free).
    fn may_keep_warm(&self, k: usize) -> bool {
        let other = &self.lanes[1 - k];
        other.is_ready() || !other.is_open()
    }

    /// Sends `cancel` as a signed REST request, timestamped `unix_ms` corrected by the clock
    /// offset, on a connection that is ready. On `Ok`, exactly one [`RestEvent::Reply`] or
    /// [`RestEvent::Failed`] with `tag` follows; on `Err` nothing was sent and none will.
    ///
    /// Allocates nothing once warm (the buffers are reused).
    pub fn send_cancel(
        &mut self,
        tag: u64,
        cancel: &Cancel,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        let k = self.cancel_lane()?;
        let dialect = self.dialect;
        let kind = Kind::Cancel { tag, dialect };
        self.send_signed(k, kind, now, unix_ms, |request, body, signer, ts| {
            dialect.encode_rest_cancel(request, body, signer, ts, cancel)
        })
    }

    /// Sends a signed order query asking where the order `cancel` names stands (spot
    /// `orderInfo`, futures `order/detail`; by `orderId` when the cancel has one, else by
    /// `clientOid`), timestamped like [`send_cancel`](Self::send_cancel), on a connection that is ready while
    /// the other one is ready for a cancel too (or not open). On `Ok`, exactly one
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
        let k = self.spare_lane()?;
        let dialect = self.dialect;
        let kind = Kind::Query {
            tag,
            inst_type: cancel.inst_type,
            dialect,
        };
        self.send_signed(k, kind, now, unix_ms, |request, _, signer, ts| {
            dialect.encode_rest_query(request, signer, ts, cancel)
        })
    }

    /// Sends a signed batch cancel of `orders` (at most [`MAX_BATCH`], all of `inst_type` and
    /// `symbol`, all named by `key`: orderId and clientOid are never mixed; an order without a
    /// value under `key` is left out), timestamped like [`send_cancel`](Self::send_cancel), in
    /// the API the client speaks ([`set_unified`](Self::set_unified)): the classic account's
    /// V2 spot `batch-cancel-order` or futures `batch-cancel-orders`, or the unified account's
    /// V3 `cancel-batch` (a bare JSON list of `{orderId|clientOid, category, symbol}`). On
    /// `Ok`, exactly one [`RestEvent::Batch`] or [`RestEvent::Failed`] with `tag` follows, its
    /// reply read by the rules of the API it was sent to; on `Err` nothing was sent and none
    /// will. The venue allows 10 a second per V2 batch endpoint (spot, futures) and 5 a second
    /// on V3's one endpoint, per account: pacing them is the caller's job.
    #[allow(clippy::too_many_arguments)]
    pub fn send_batch(
        &mut self,
        tag: u64,
        inst_type: InstType,
        symbol: &InstId,
        key: BatchKey,
        orders: &[OrderRef],
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        let k = self.cancel_lane()?;
        let mut sent = [OrderRef::OrderId(crate::intent::OrderId::EMPTY); MAX_BATCH];
        let mut len = 0;
        for order in orders
            .iter()
            .filter(|o| key.value(o).is_some())
            .take(MAX_BATCH)
        {
            sent[len] = *order;
            len += 1;
        }
        let dialect = self.dialect;
        let kind = Kind::Batch {
            tag,
            key,
            len: len as u8,
            dialect,
        };
        self.send_signed(k, kind, now, unix_ms, |request, body, signer, ts| {
            dialect.encode_rest_batch(
                request,
                body,
                signer,
                ts,
                inst_type,
                symbol,
                key,
                &sent[..len],
            );
        })?;
        self.lanes[k].batch_sent[..len].copy_from_slice(&sent[..len]);
        Ok(())
    }

    /// Sends a signed cancel-all, timestamped like [`send_cancel`](Self::send_cancel), in the
    /// API the client speaks: V2 futures `cancel-all-orders` or spot `cancel-symbol-order`
    /// (asynchronous: its ack means accepted), or V3 `cancel-symbol-order` (`{"category":..}`
    /// with an optional `"symbol"`; its reply lists the orders). On `Ok`, exactly one
    /// [`RestEvent::CancelAll`] or [`RestEvent::Failed`] with `tag` follows; on `Err` nothing
    /// was sent.
    pub fn send_cancel_all(
        &mut self,
        tag: u64,
        all: &CancelAll,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        let k = self.cancel_lane()?;
        let dialect = self.dialect;
        let kind = Kind::CancelAll { tag, dialect };
        self.send_signed(k, kind, now, unix_ms, |request, body, signer, ts| {
            dialect.encode_rest_cancel_all(request, body, signer, ts, all)
        })
    }

    /// Asks which account the key belongs to (`GET /api/v3/account/settings`, signed) on a
    /// connection ready now. On `Ok`, exactly one [`RestEvent::Account`] follows; on `Err`
    /// nothing was sent.
    pub fn send_account_settings(&mut self, now: u64, unix_ms: u64) -> Result<(), SendError> {
        let k = self.cancel_lane()?;
        let dialect = self.dialect;
        self.send_signed(k, Kind::Account, now, unix_ms, |request, _, signer, ts| {
            dialect.encode_rest_account(request, signer, ts)
        })
    }

    /// Arms the unified account's dead man's switch for `seconds` (5 to 60; 0 turns it off):
    /// `POST /api/v3/trade/countdown-cancel-all`, signed, on a connection that is ready while
    /// the other one is ready for a cancel too (or not open), like an order query. On `Ok`,
    /// exactly one [`RestEvent::Countdown`] follows; on `Err` nothing was sent. The venue
    /// allows one a second per account.
    pub fn send_countdown(
        &mut self,
        seconds: u32,
        now: u64,
        unix_ms: u64,
    ) -> Result<(), SendError> {
        let k = self.spare_lane()?;
        let dialect = self.dialect;
        let kind = Kind::Countdown { seconds };
        self.send_signed(k, kind, now, unix_ms, |request, body, signer, ts| {
            dialect.encode_rest_countdown(request, body, signer, ts, seconds)
        })
    }

    /// The first connection ready for a cancel and still open.
    fn cancel_lane(&mut self) -> Result<usize, SendError> {
        (0..LANES)
            .find(|&k| self.lane_ready(k) && self.still_open(k))
            .ok_or(SendError::NotReady)
    }

    /// A connection for a request other than a cancel: never the last one ready for a cancel,
    /// such a request waits for one to spare.
    fn spare_lane(&mut self) -> Result<usize, SendError> {
        (0..LANES)
            .rev()
            .find(|&k| self.lane_may_query(k) && self.still_open(k))
            .ok_or(SendError::NotReady)
    }

    /// Writes the request `encode` makes (into the request buffer, with the body buffer to
    /// spare, signed by this client's key at `unix_ms` corrected by the clock offset) and sends
    /// it on connection `k` as `kind`.
    #[inline]
    fn send_signed(
        &mut self,
        k: usize,
        kind: Kind,
        now: u64,
        unix_ms: u64,
        encode: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>, &RestSigner<'_>, u64),
    ) -> Result<(), SendError> {
        let timestamp = unix_ms.saturating_add_signed(self.clock_offset_ms().unwrap_or(0));
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        encode(&mut self.request, &mut self.body, &signer, timestamp);
        self.transmit(k, kind, now, unix_ms)
            .map_err(SendError::Broken)
    }

    /// Speaks the unified account's V3 REST API (`true`) or the classic V2 one: which cancel,
    /// order-query, batch and cancel-all endpoints the next requests go to (a request already
    /// in flight is read by the rules of the API it went to).
    pub fn set_unified(&mut self, unified: bool) {
        self.dialect = if unified { Dialect::V3 } else { Dialect::V2 };
    }

    /// Whether the requests speak the unified account's V3 API.
    pub fn is_unified(&self) -> bool {
        self.dialect == Dialect::V3
    }

    /// Whether [`send_query`](Self::send_query) has a connection for an order query now: one
    /// is ready while the other is ready for a cancel too (or not open).
    pub fn can_query(&self) -> bool {
        (0..LANES).any(|k| self.lane_may_query(k))
    }

    fn lane_may_query(&self, k: usize) -> bool {
        self.lane_ready(k) && self.may_keep_warm(k)
    }

    /// Whether idle connection `k` is still open: a nonblocking read finds nothing. A server
    /// that closed the idle keep-alive (or sent anything unasked) marks it broken, to be
    /// replaced at the next `advance` (at once, for a close).
    fn still_open(&mut self, k: usize) -> bool {
        let lane = &mut self.lanes[k];
        let Phase::Open { tls } = &mut lane.phase else {
            return false;
        };
        let closed = match tls.read(&mut self.scratch) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
            Ok(0) => RestError::ClosedByServer,
            Ok(_) => RestError::BadReply {
                status: 0,
                reason: "bytes from the server on an idle connection",
            },
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => RestError::ClosedByServer,
            Err(e) => RestError::Io(e.to_string()),
        };
        crate::relay::log_debug!(
            "REST: an idle connection was found ended before a cancel: {closed}"
        );
        lane.broken = Some(closed);
        false
    }

    /// Writes `self.request` on connection `k` and records it as in flight. An error means
    /// nothing was queued.
    fn transmit(&mut self, k: usize, kind: Kind, now: u64, unix_ms: u64) -> Result<(), RestError> {
        let lane = &mut self.lanes[k];
        let Phase::Open { tls } = &mut lane.phase else {
            return Err(RestError::Io("no open connection".to_owned()));
        };
        if let Err(e) = tls.write_record(&self.request) {
            let error = tls_error(e);
            lane.broken = Some(error.clone());
            return Err(error);
        }
        lane.in_flight = Some(InFlight {
            kind,
            sent_ns: now,
            sent_unix_ms: unix_ms,
            deadline: now.saturating_add(ms(self.config.request_timeout)),
        });
        if let Err(e) = tls.flush_tls() {
            // Part of the request may be out: the next `advance` reports it failed.
            lane.broken = Some(RestError::Io(e.to_string()));
        }
        Ok(())
    }

    fn send_server_time(&mut self, k: usize, now: u64, unix_ms: u64) -> Result<(), RestError> {
        self.request.clear();
        let signer = signer(&self.credentials, &self.url, &self.config);
        self.dialect.encode_rest_clock(&mut self.request, &signer);
        self.transmit(k, Kind::ServerTime, now, unix_ms)
    }

    /// Does the I/O and the timers: connects, handshakes, reads replies, times requests out,
    /// keeps the connections warm, measures the clock, reconnects. Appends what happened to
    /// `events` (reserve capacity up front to keep this allocation-free: a handful per call at
    /// most).
    pub fn advance(
        &mut self,
        registry: &Registry,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) {
        for k in 0..LANES {
            self.advance_lane(k, registry, now, unix_ms, events);
        }
    }

    fn advance_lane(
        &mut self,
        k: usize,
        registry: &Registry,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) {
        if let Some(error) = self.lanes[k].broken.take() {
            let clean = error == RestError::ClosedByServer;
            self.lose(k, registry, now, error, clean, events);
        }
        // A connect that completes goes on to the handshake, and a handshake to the first
        // request, in the same call.
        for _ in 0..4 {
            let phase = std::mem::replace(&mut self.lanes[k].phase, Phase::Stopped);
            let before = phase.name();
            let next = match phase {
                Phase::Backoff { retry_at } if now >= retry_at => {
                    self.connect(k, registry, now, unix_ms, events)
                }
                Phase::Dialing { dialing, deadline } => {
                    let dial = self.lanes[k]
                        .dialer
                        .step(dialing, registry, self.token, now);
                    self.after_dial(k, registry, dial, deadline, now, unix_ms, events)
                }
                Phase::Open { tls } => self.step_open(k, registry, tls, now, unix_ms, events),
                other => other,
            };
            self.lanes[k].phase = next;
            if self.lanes[k].phase.name() == before {
                break;
            }
        }
    }

    fn connect(
        &mut self,
        k: usize,
        registry: &Registry,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        let deadline = now.saturating_add(ms(self.config.connect_timeout));
        match self.lanes[k].dialer.start(registry, self.token, now) {
            Dial::Failed(e) => {
                crate::relay::log_warn!(
                    "REST: connect to {}: {}",
                    self.url.host,
                    RestError::from(e)
                );
                let lane = &mut self.lanes[k];
                lane.backoff.note_failure();
                Phase::Backoff {
                    retry_at: now.saturating_add(ms(lane.backoff.delay())),
                }
            }
            dial => self.after_dial(k, registry, dial, deadline, now, unix_ms, events),
        }
    }

    /// Acts on a rung of the connect ladder: still waiting (within the connect timeout), open,
    /// or failed.
    #[allow(clippy::too_many_arguments)]
    fn after_dial(
        &mut self,
        k: usize,
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
            Dial::Secure(tls) => return self.opened(k, tls, now, unix_ms, events),
            Dial::Upgraded { mut tls, .. } => {
                let _ = registry.deregister(tls.tcp_mut());
                RestError::Io("unexpected WebSocket upgrade".to_owned())
            }
            // The stream (and its socket) is gone with the error; mio forgets a closed socket.
            Dial::Failed(e) => e.into(),
        };
        let lane = &mut self.lanes[k];
        lane.backoff.note_failure();
        events.push(RestEvent::Lost(error));
        Phase::Backoff {
            retry_at: now.saturating_add(ms(lane.backoff.delay())),
        }
    }

    /// The TLS handshake completed: the connection is open.
    fn opened(
        &mut self,
        k: usize,
        tls: Box<TlsStream>,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        let keep_warm = ms(self.config.keep_warm_every);
        let lane = &mut self.lanes[k];
        lane.answered = false;
        lane.readable = true;
        lane.reader.reset();
        lane.phase = Phase::Open { tls };
        lane.warm_at = now.saturating_add(keep_warm);
        events.push(RestEvent::Connected);
        // Measure the clock at once unless a recent measurement stands (a server that closes
        // every connection after one reply must not make this a loop), or the other
        // connection measures it already.
        let stale = self
            .synced_at
            .is_none_or(|at| now.saturating_sub(at) >= keep_warm);
        if (stale || self.measure_wanted) && self.lanes[1 - k].sampling == 0 {
            self.begin_measurement(k, now, unix_ms);
        }
        std::mem::replace(&mut self.lanes[k].phase, Phase::Stopped)
    }

    /// Starts a clock measurement on idle connection `k`: [`CLOCK_ROUND`] server-time
    /// requests, one after the other.
    fn begin_measurement(&mut self, k: usize, now: u64, unix_ms: u64) {
        self.measure_wanted = false;
        self.lanes[k].sampling = CLOCK_ROUND;
        if let Err(e) = self.send_server_time(k, now, unix_ms) {
            self.lanes[k].sampling = 0;
            crate::relay::log_warn!("REST: server time request failed: {e}");
        }
    }

    fn step_open(
        &mut self,
        k: usize,
        registry: &Registry,
        mut tls: Box<TlsStream>,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) -> Phase {
        if tls.wants_write()
            && let Err(e) = tls.flush_tls()
        {
            let error = RestError::Io(e.to_string());
            return self.drop_open(k, registry, tls, now, error, false, events);
        }
        self.lanes[k].more = false;
        let mut read = 0usize;
        while self.lanes[k].readable {
            if read >= READ_BUDGET {
                self.lanes[k].more = true;
                break;
            }
            match tls.read(&mut self.scratch) {
                Ok(0) => {
                    let lane = &mut self.lanes[k];
                    lane.readable = false;
                    let in_flight = lane.in_flight;
                    match lane.reader.finish() {
                        Ok(Some(response)) => {
                            let decoded = decode(
                                self.dialect,
                                in_flight,
                                &lane.batch_sent,
                                response.status,
                                response.body,
                            );
                            self.settle(k, decoded, now, unix_ms, events);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let error = self.closed_error(k, RestError::Http(e));
                            return self.drop_open(k, registry, tls, now, error, false, events);
                        }
                    }
                    let clean = self.lanes[k].in_flight.is_none() && self.lanes[k].answered;
                    let error = self.closed_error(k, RestError::ClosedByServer);
                    return self.drop_open(k, registry, tls, now, error, clean, events);
                }
                Ok(n) => {
                    read += n;
                    let lane = &mut self.lanes[k];
                    let in_flight = lane.in_flight;
                    let (decoded, close) = match lane.reader.push(&self.scratch[..n]) {
                        Ok(Some(response)) => (
                            decode(
                                self.dialect,
                                in_flight,
                                &lane.batch_sent,
                                response.status,
                                response.body,
                            ),
                            response.close,
                        ),
                        Ok(None) => continue,
                        Err(e) => {
                            let error = self.closed_error(k, RestError::Http(e));
                            return self.drop_open(k, registry, tls, now, error, false, events);
                        }
                    };
                    if let Decoded::Unsolicited { status } = decoded {
                        let error = RestError::BadReply {
                            status,
                            reason: "a reply to no request",
                        };
                        return self.drop_open(k, registry, tls, now, error, false, events);
                    }
                    self.lanes[k].reader.reset();
                    if close {
                        self.settle(k, decoded, now, unix_ms, events);
                        return self.drop_open(
                            k,
                            registry,
                            tls,
                            now,
                            RestError::ClosedByServer,
                            true,
                            events,
                        );
                    }
                    // The next request of a measurement may follow on this connection.
                    self.lanes[k].phase = Phase::Open { tls };
                    self.settle(k, decoded, now, unix_ms, events);
                    let Phase::Open { tls: back } =
                        std::mem::replace(&mut self.lanes[k].phase, Phase::Stopped)
                    else {
                        return Phase::Stopped;
                    };
                    tls = back;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.lanes[k].readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let error = self.closed_error(k, RestError::Io(e.to_string()));
                    return self.drop_open(k, registry, tls, now, error, false, events);
                }
            }
        }
        if let Some(request) = self.lanes[k].in_flight
            && now >= request.deadline
        {
            let error = RestError::Timeout("waiting for the reply");
            return self.drop_open(k, registry, tls, now, error, false, events);
        }
        self.lanes[k].phase = Phase::Open { tls };
        let idle = self.lanes[k].is_ready();
        if idle && self.may_keep_warm(k) {
            if self.measure_wanted && self.lanes[1 - k].sampling == 0 {
                self.begin_measurement(k, now, unix_ms);
            } else if now >= self.lanes[k].warm_at
                && let Err(e) = self.send_server_time(k, now, unix_ms)
            {
                crate::relay::log_warn!("REST: keep-warm request failed: {e}");
            }
        }
        std::mem::replace(&mut self.lanes[k].phase, Phase::Stopped)
    }

    /// The error a connection that ended reports: with a request in flight, that it was lost.
    fn closed_error(&self, k: usize, cause: RestError) -> RestError {
        match (&self.lanes[k].in_flight, cause) {
            (Some(_), RestError::ClosedByServer) => {
                RestError::ConnectionLost("the server closed the connection".to_owned())
            }
            (Some(_), RestError::Io(reason)) => RestError::ConnectionLost(reason),
            (_, cause) => cause,
        }
    }

    /// Acts on a complete reply to the request in flight on connection `k`; a measurement
    /// under way there sends its next request (the connection's phase is open).
    fn settle(
        &mut self,
        k: usize,
        decoded: Decoded,
        now: u64,
        unix_ms: u64,
        events: &mut Vec<RestEvent>,
    ) {
        let keep_warm = ms(self.config.keep_warm_every);
        let lane = &mut self.lanes[k];
        let Some(request) = lane.in_flight.take() else {
            return;
        };
        lane.backoff.reset();
        lane.answered = true;
        lane.warm_at = now.saturating_add(keep_warm);
        match (request.kind, decoded) {
            (Kind::Cancel { tag, .. }, Decoded::Cancel(verdict)) => events.push(match verdict {
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
            (Kind::Batch { tag, .. }, Decoded::Batch(verdict)) => events.push(match verdict {
                Ok(verdict) => RestEvent::Batch {
                    tag,
                    verdict,
                    round_trip_ns: now.saturating_sub(request.sent_ns),
                },
                Err(error) => RestEvent::Failed { tag, error },
            }),
            (Kind::CancelAll { tag, .. }, Decoded::CancelAll(verdict)) => {
                events.push(match verdict {
                    Ok(verdict) => RestEvent::CancelAll {
                        tag,
                        verdict,
                        round_trip_ns: now.saturating_sub(request.sent_ns),
                    },
                    Err(error) => RestEvent::Failed { tag, error },
                })
            }
            (Kind::ServerTime, Decoded::Time(Ok(server_ms))) => {
                let midpoint = (request.sent_unix_ms + unix_ms.max(request.sent_unix_ms)) / 2;
                self.note_server_time(server_ms, midpoint, now);
                self.next_sample(k, now, unix_ms);
            }
            (Kind::ServerTime, Decoded::Time(Err(e))) => {
                crate::relay::log_warn!("REST: server time: {e}");
                self.next_sample(k, now, unix_ms);
            }
            (Kind::Account, Decoded::Account(answer)) => {
                events.push(RestEvent::Account(Ok(answer)))
            }
            (Kind::Countdown { seconds }, Decoded::Countdown(verdict)) => {
                events.push(RestEvent::Countdown { seconds, verdict })
            }
            (_, _) => crate::relay::log_error!("REST: a reply decoded for another request (a bug)"),
        }
    }

    /// A server time `server_ms` read at our `midpoint`: believed unless implausible, or far
    /// from the others.
    fn note_server_time(&mut self, server_ms: i64, midpoint: u64, now: u64) {
        if !PLAUSIBLE_MS.contains(&server_ms) {
            crate::relay::log_warn!(
                "REST: the venue's server time {server_ms} ms is not plausible: ignored"
            );
            return;
        }
        let offset = server_ms - midpoint as i64;
        if self.clock.add(offset) {
            self.clock_samples += 1;
            self.synced_at = Some(now);
        } else {
            crate::relay::log_warn!(
                "REST: a server time {offset} ms from our clock is far from the last ones: ignored"
            );
        }
    }

    /// Sends the next server-time request of a measurement under way on connection `k`.
    fn next_sample(&mut self, k: usize, now: u64, unix_ms: u64) {
        let lane = &mut self.lanes[k];
        lane.sampling = lane.sampling.saturating_sub(1);
        if lane.sampling == 0 || !lane.is_ready() {
            lane.sampling = 0;
            return;
        }
        if let Err(e) = self.send_server_time(k, now, unix_ms) {
            self.lanes[k].sampling = 0;
            crate::relay::log_warn!("REST: server time request failed: {e}");
        }
    }

    /// Ends open connection `k`: `Failed` for a cancel in flight, then `Lost`, then backoff
    /// (none after a clean close).
    #[allow(clippy::too_many_arguments)]
    fn drop_open(
        &mut self,
        k: usize,
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
        self.fail_in_flight(k, &error, events);
        let lane = &mut self.lanes[k];
        lane.reader.reset();
        lane.readable = false;
        lane.more = false;
        lane.sampling = 0;
        if !clean {
            lane.backoff.note_failure();
        }
        events.push(RestEvent::Lost(error));
        Phase::Backoff {
            retry_at: now.saturating_add(ms(lane.backoff.delay())),
        }
    }

    fn fail_in_flight(&mut self, k: usize, error: &RestError, events: &mut Vec<RestEvent>) {
        let error = || match error {
            RestError::ClosedByServer => {
                RestError::ConnectionLost("the server closed the connection".to_owned())
            }
            RestError::Io(reason) => RestError::ConnectionLost(reason.clone()),
            other => other.clone(),
        };
        match self.lanes[k].in_flight.take().map(|r| r.kind) {
            Some(
                Kind::Cancel { tag, .. } | Kind::Batch { tag, .. } | Kind::CancelAll { tag, .. },
            ) => events.push(RestEvent::Failed {
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

    /// Ends connection `k`, found broken outside `step_open` (a failure inside `send_cancel`).
    fn lose(
        &mut self,
        k: usize,
        registry: &Registry,
        now: u64,
        error: RestError,
        clean: bool,
        events: &mut Vec<RestEvent>,
    ) {
        match std::mem::replace(&mut self.lanes[k].phase, Phase::Stopped) {
            Phase::Open { tls } => {
                self.lanes[k].phase = self.drop_open(k, registry, tls, now, error, clean, events);
            }
            other => {
                self.lanes[k].phase = other;
                self.fail_in_flight(k, &error, events);
            }
        }
    }

    /// Closes the connections (close_notify, best effort), reports a cancel in flight as
    /// [`RestEvent::Failed`] with [`RestError::Shutdown`], and stops. [`start`](Self::start)
    /// begins again.
    pub fn shutdown(&mut self, registry: &Registry, events: &mut Vec<RestEvent>) {
        for k in 0..LANES {
            match std::mem::replace(&mut self.lanes[k].phase, Phase::Stopped) {
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
            self.lanes[k].broken = None;
            self.lanes[k].sampling = 0;
            self.lanes[k].more = false;
            self.fail_in_flight(k, &RestError::Shutdown, events);
            self.lanes[k].reader.reset();
        }
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
    Batch(Result<Box<BatchVerdict>, RestError>),
    CancelAll(Result<CancelAllVerdict, RestError>),
    Account(AccountAnswer),
    Countdown(Result<Verdict, RestError>),
    Unsolicited { status: u16 },
}

/// Reads a reply to the request `in_flight` (a batch's entries are `batch_sent`).
fn decode(
    dialect: Dialect,
    in_flight: Option<InFlight>,
    batch_sent: &[OrderRef; MAX_BATCH],
    status: u16,
    body: &[u8],
) -> Decoded {
    match in_flight.map(|r| r.kind) {
        // A request for an order is read in the dialect it was sent in, whatever the client
        // speaks now (the account may have switched while it was on the wire).
        Some(Kind::Cancel { dialect, .. }) => Decoded::Cancel(
            dialect
                .read_rest_verdict(status, body)
                .map_err(RestError::from),
        ),
        Some(Kind::Query {
            inst_type, dialect, ..
        }) => Decoded::Query(
            dialect
                .read_rest_order(status, body, inst_type)
                .map_err(RestError::from),
        ),
        // A batch or a cancel-all is read in the dialect it was sent in, whatever the
        // client speaks now.
        Some(Kind::Batch {
            key, len, dialect, ..
        }) => Decoded::Batch(
            dialect
                .read_rest_batch(status, body, key, &batch_sent[..usize::from(len)])
                .map(Box::new)
                .map_err(RestError::from),
        ),
        Some(Kind::CancelAll { dialect, .. }) => Decoded::CancelAll(
            dialect
                .read_rest_cancel_all(status, body)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::Verdict;

    fn in_flight(kind: Kind) -> Option<InFlight> {
        Some(InFlight {
            kind,
            sent_ns: 0,
            sent_unix_ms: 0,
            deadline: 0,
        })
    }

    fn batch(dialect: Dialect) -> Kind {
        Kind::Batch {
            tag: 1,
            key: BatchKey::OrderId,
            len: 1,
            dialect,
        }
    }

    /// The entries of the batch `batch` made: order 1.
    fn sent() -> [OrderRef; MAX_BATCH] {
        let mut sent = [OrderRef::OrderId(crate::intent::OrderId::EMPTY); MAX_BATCH];
        sent[0] = OrderRef::order_id("1").unwrap();
        sent
    }

    #[test]
    fn what_every_single_cancel_copies_stays_small_whatever_a_batch_carries() {
        // A batch's entries and verdicts once rode in these, and a single cancel over REST
        // paid for copying kilobytes several times between its reply and its outcome.
        assert!(std::mem::size_of::<InFlight>() <= 64);
        assert!(std::mem::size_of::<Decoded>() <= 512);
        assert!(std::mem::size_of::<RestEvent>() <= 512);
    }

    #[test]
    fn a_batch_or_cancel_all_is_read_in_the_dialect_it_went_in_whatever_the_client_speaks_now() {
        let v3 = br#"{"code":"00000","data":[{"orderId":"1","code":"25204","msg":"gone"}]}"#;
        // Sent in V3, read after the client switched to V2: V3's per-entry codes.
        let Decoded::Batch(Ok(verdict)) =
            decode(Dialect::V2, in_flight(batch(Dialect::V3)), &sent(), 200, v3)
        else {
            panic!("a batch verdict")
        };
        let BatchVerdict::Entries(results) = *verdict else {
            panic!("entries")
        };
        assert!(matches!(
            results.get(0),
            Some(Verdict::Rejected { code: 25204, .. })
        ));
        // Read by V2's rules (success and failure lists), the same body is no V2 reply.
        assert!(matches!(
            decode(Dialect::V3, in_flight(batch(Dialect::V2)), &sent(), 200, v3),
            Decoded::Batch(Err(RestError::BadReply { .. }))
        ));

        let listed = br#"{"code":"00000","data":{"list":[{"orderId":"1","code":"0"}]}}"#;
        let all = |dialect| Kind::CancelAll { tag: 2, dialect };
        assert!(matches!(
            decode(
                Dialect::V2,
                in_flight(all(Dialect::V3)),
                &sent(),
                200,
                listed
            ),
            Decoded::CancelAll(Ok(CancelAllVerdict::Acked {
                succeeded: Some(1),
                failed: Some(0)
            }))
        ));
        assert!(matches!(
            decode(
                Dialect::V3,
                in_flight(all(Dialect::V2)),
                &sent(),
                200,
                listed
            ),
            Decoded::CancelAll(Ok(CancelAllVerdict::Acked {
                succeeded: None,
                failed: None
            }))
        ));
    }
}
