//! One account: the conductor of a pool of connections, in the manner of Aeron's conductor and
//! quinn's `Endpoint`. Everything that belongs to one set of credentials lives here: the links
//! (connections), the REST rung, the in-flight table, the account's cancel limiter, and the
//! policy that decides where each cancel goes. What belongs to the thread (the poller, the idle
//! strategy, the runner or the inline invoker) lives in the reactor and the runner, so a second
//! account on the same thread is a second `Account`, not a rewrite.
//!
//! The account is the turn that wires its parts together; each part owns its state and is
//! tested alone, with a fake clock and fake links (`testkit.rs`), no socket:
//!
//! | part | file | decides |
//! | --- | --- | --- |
//! | [`InflightTable`] | `inflight.rs` | which intent a reply belongs to (id -> attempt) |
//! | [`Router`] | `router.rs` | which link a cancel goes out on |
//! | [`Hedger`] | `hedger.rs` | when a cancel without a reply goes out again, and where |
//! | [`ResendQueue`] | `resend.rs` | the order a lost or stalled link's cancels, and those with a transient answer, go out again in |
//! | [`Rotation`] | `rotation.rs` | when a link is replaced, make-before-break |
//! | [`RestRung`] | `rest_rung.rs` | when a cancel goes over REST |
//! | [`Refusal`] | `refusal.rs` | what a refusal of the credentials holds back, on every path |
//! | [`StartGate`] | `start_gate.rs` | when the pool has had its chance and REST may take first sends |
//! | [`Outbox`] | `outbox.rs` | when each cancel was handed to `write(2)` and taken by the kernel |
//! | [`LateIds`] | `ids.rs` | which replies are late (wire ids: `engine/wire_id.rs`) |
//! | [`Delivery`] | `delivery.rs` | how outcomes reach the caller |
//! | [`PoolStats`] | `stats.rs` | what the handles see of the pool |
//! | [`Confirmations`] | `confirm.rs` | the final word: which intent a push is about, when to ask REST, when time is up |
//!
//! The account chooses the venue's dialect (`LinkSettings::dialect`, an enum): its links log in,
//! encode and read with it, so switching an account's dialect at runtime is one assignment, read
//! by every link at its next call.
//!
//! One turn ([`Account::turn`]): let every link read and report, advance every link (connection
//! steps, keepalive), drive the REST rung, take new intents, watch for links that leave cancels
//! unanswered (probe them, mark them stalled), send what pacing allows (re-sends first, then
//! first sends spread over the best links, then hedges), flush, expire what waited too long,
//! rotate old connections, hand outcomes over. Nothing in a turn blocks or allocates once the
//! pool is live.

mod batcher;
mod burst;
mod cancel_alls;
mod confirm;
mod delivery;
mod hedger;
mod ids;
pub(crate) mod inflight;
mod lifecycle;
mod outbox;
mod refusal;
mod resend;
mod rest_rung;
mod rotation;
mod router;
mod rtt;
mod send;
mod start_gate;
mod stats;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
mod unified;
mod waiting;
mod ws_batch;

use std::sync::Arc;
use std::time::Duration;

use mio::Registry;

use super::config::Config;
use super::link::{
    Link, LinkEvent, LinkSeam, LinkSettings, LinkView, Scratch, Subscription, SubscriptionEnd,
};
use super::pacing::RateLimiter;
use super::plumbing::{IntentSource, OutcomeSink};
use super::reactor::{self, Path};
use super::shared::{MAX_SLOTS, SessionState, Shared};
use super::wire_id::WireIds;
use crate::clock::{Clock, Monotonic, ns, unix_ms};
use crate::final_word::FinalWord;
use crate::intent::RequestId;
use crate::net::{Dialer, HostAddrs};
use crate::outcome::{ConnectFailure, ErrorText, NotSentReason, Status, UnknownReason, Via};
use crate::relay::WarnGate;
use crate::rest::RestClient;
use crate::venue::{AnswerClass, Dialect, Verdict};
use crate::ws;

use burst::Burst;
use confirm::{Confirmations, FinalOut};
use delivery::Delivery;
use hedger::Hedger;
use ids::LateIds;
use inflight::{AttemptKind, AttemptState, InflightTable, Transient};
use outbox::Outbox;
use refusal::Refusal;
use resend::ResendQueue;
use rest_rung::RestRung;
use rotation::{Rotation, RotationStep};
use router::Router;
use start_gate::StartGate;
use stats::PoolStats;
use unified::AccountKind;
use ws_batch::WsBatches;

/// Plaintext written in one TLS write: several frames when a burst is allowed out at once.
const BATCH_BYTES: usize = 8 * 1024;
/// The largest cancel frame.
const MAX_CANCEL_FRAME: usize = Dialect::MAX_CANCEL_LEN + ws::MAX_CLIENT_HEADER;
/// Events one read or step may report before the rest waits for the next turn.
const EVENT_CAPACITY: usize = 1024;
/// The path index of the REST rung in per-path arrays (past every connection slot).
pub(crate) const REST_LINK: usize = MAX_SLOTS;
/// How long a cancel waits after a transient answer before it goes out again.
const RETRY_PAUSE_NS: u64 = 50_000_000;
/// Per-path arrays: every connection slot, then REST.
pub(crate) const PATHS: usize = MAX_SLOTS + 1;

/// What a link needs for one call, from the account's own fields (a macro, so that the borrow
/// of each field stays apart from the borrow of the link itself).
macro_rules! link_cx {
    ($account:ident, $now:expr) => {
        &mut $crate::engine::link::LinkCx {
            now: $now,
            stopping: $account.stopping.is_some(),
            registry: &$account.registry,
            settings: &$account.settings,
            scratch: &mut $account.scratch,
            events: &mut $account.events,
        }
    };
}
pub(crate) use link_cx;

/// Two distinct elements of `items`: the first shared, the second mutable.
fn two_mut<T>(items: &mut [T], a: usize, b: usize) -> (&T, &mut T) {
    debug_assert_ne!(a, b);
    if a < b {
        let (left, right) = items.split_at_mut(b);
        (&left[a], &mut right[0])
    } else {
        let (left, right) = items.split_at_mut(a);
        (&right[0], &mut left[b])
    }
}

/// Where the addresses of every host come from: one per connection slot, and the REST host's.
#[derive(Debug)]
pub(crate) struct Hosts {
    pub links: Vec<HostAddrs>,
    pub rest: Option<HostAddrs>,
    /// The V3 host's addresses, when it is none of the V2 hosts.
    pub uta: Option<HostAddrs>,
}

impl Hosts {
    /// Starts the resolver thread for every host `config` connects to.
    pub(crate) fn resolve(config: &Config) -> std::io::Result<Hosts> {
        let slots = config.connections + 1;
        let mut names: Vec<(&str, u16)> = (0..slots)
            .map(|i| {
                let e = &config.endpoints[i % config.endpoints.len()];
                (e.host.as_str(), e.port)
            })
            .collect();
        let rest = config
            .rest
            .as_ref()
            .and_then(|r| crate::rest::base_host(&r.base_url));
        if let Some((host, port)) = &rest {
            names.push((host.as_str(), *port));
        }
        let uta = &config.uta.endpoint;
        let uta_apart = !config
            .endpoints
            .iter()
            .any(|e| e.host == uta.host && e.port == uta.port);
        if uta_apart {
            names.push((uta.host.as_str(), uta.port));
        }
        let mut addrs = crate::net::start_resolver(config.resolver.clone(), &names)?;
        let uta = if uta_apart { addrs.pop() } else { None };
        let rest = rest.and_then(|_| addrs.pop());
        Ok(Hosts {
            links: addrs,
            rest,
            uta,
        })
    }
}

/// The settings every link of an account shares, from its configuration.
pub(crate) fn link_settings(config: &Config, dialect: Dialect) -> LinkSettings {
    LinkSettings {
        ping_interval: ns(config.ping_interval),
        pong_deadline: ns(config.pong_deadline),
        connect_timeout: ns(config.connect_timeout),
        login_retry_after: config.login_retry_after.map(ns),
        reconnect: config.reconnect,
        messages_per_second: config.messages_per_second,
        window: ns(Duration::from_secs(1).saturating_add(config.rate_margin)),
        credentials: config.credentials.clone(),
        dialect,
        write_timeout: ns(config.write_timeout),
        clock_offset_ms: 0,
        clock_measured: false,
        // Without a REST rung nothing is waited for: the upgrade's `Date` header serves.
        clock_ready: config.rest.is_none(),
        subscribe: config.confirm.as_ref().map(|c| {
            let mut text = Vec::new();
            let acks = dialect.encode_subscribe(&mut text, &c.inst_types);
            Subscription {
                text,
                acks,
                grace: ns(c.subscribe_grace),
            }
        }),
    }
}

/// One account's conductor. Built on the thread that drives it, so every buffer is allocated
/// there. `L` is the link type and `C` the clock: [`Link`] and [`Monotonic`] in every engine, a
/// fake link and a fake clock in the policy's tests.
pub(crate) struct Account<I, O, L = Link, C = Monotonic> {
    // Settings, in nanoseconds.
    ack_timeout: u64,
    max_queue: u64,
    shutdown_grace: u64,
    settings: LinkSettings,
    clock: C,

    // Plumbing.
    shared: Arc<Shared>,
    registry: Registry,
    intents: I,
    pub(crate) out: Delivery<O>,

    // The pool: all links but one serve; the spare slot takes a replacement during a rotation.
    links: Vec<L>,
    events: Vec<(u8, LinkEvent)>,
    scratch: Scratch,
    /// The venue's last refusal of the credentials, on any path.
    refusal: Refusal,
    /// The last error of a connection attempt or session, and of the REST connection, for
    /// cancels no connection came up for.
    link_failure: Option<(ConnectFailure, ErrorText)>,
    rest_failure: Option<(ConnectFailure, ErrorText)>,

    // Intents, and the parts that decide about them.
    table: InflightTable,
    /// The account's cancel limit, across the pool and the REST rung.
    cancels: RateLimiter,
    /// Intents up to this arrival number were counted as pacing waits.
    paced_through: u64,
    router: Router,
    hedger: Hedger,
    resend: ResendQueue,
    rotation: Rotation,
    outbox: Outbox,
    /// The engine's wire ids (its prefix); the numbers come from the shared counter.
    wire_ids: WireIds,
    late: LateIds,
    /// Cancels with a transient answer, to go out again after a short pause.
    retries: ResendQueue,
    stats: PoolStats,
    rest: RestRung,
    gate: StartGate,
    slots_scratch: Vec<(u32, u64)>,
    /// Frames being built, one buffer per link: a burst spread over the pool goes out as one
    /// write per link.
    batches: Vec<Vec<u8>>,
    /// Replies that match no request in flight, shown a few at a time.
    unmatched_warnings: WarnGate,
    /// The final word, when it is on.
    confirm: Option<Confirmations>,
    /// Cancel-alls, and the backlog's REST batches.
    burst: Burst,
    /// Classic or unified, how it was found out, and the dead man's switch.
    kind: AccountKind,
    /// V3's batch cancels: the one being built, and those on the wire.
    v3_batches: WsBatches,

    /// Set when shutdown began: the time by which replies in flight must have come.
    stopping: Option<u64>,
}

impl<I, O, L, C> std::fmt::Debug for Account<I, O, L, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("links", &self.links.len())
            .field("held", &self.table.len())
            .field("stopping", &self.stopping.is_some())
            .finish()
    }
}

impl<I: IntentSource, O: OutcomeSink> Account<I, O> {
    /// The account of `config`, with real links to its endpoints, registered with `registry`
    /// under the tokens of account number `index`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &Config,
        index: usize,
        tls_config: Arc<rustls::ClientConfig>,
        hosts: Hosts,
        registry: Registry,
        shared: Arc<Shared>,
        intents: I,
        outcomes: O,
    ) -> Self {
        let dialect = unified::initial_dialect(config);
        let settings = link_settings(config, dialect);
        let mut seed = crate::backoff::random_seed() | 1;
        let pool_size = config.connections;
        let rest = config
            .rest
            .as_ref()
            .zip(hosts.rest)
            .and_then(|(rest, addrs)| {
                let token = reactor::token(index, Path::Rest);
                match RestClient::with_addresses(rest.clone(), &config.credentials, token, addrs) {
                    Ok(client) => Some(client),
                    Err(e) => {
                        crate::relay::log_error!("no REST rung: {e}");
                        None
                    }
                }
            });
        // Asking the venue which account this is comes first: the links wait for the answer.
        let wait = unified::detects(config, rest.is_some());
        let uta = &config.uta.endpoint;
        let links = (0..pool_size + 1)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(i as u64);
                let endpoint = &config.endpoints[i % config.endpoints.len()];
                let dialer = Dialer::new(
                    &endpoint.host,
                    hosts.links[i].clone(),
                    tls_config.clone(),
                    Some(endpoint.url.clone()),
                    config.send_buffer,
                );
                let uta_addrs = match &hosts.uta {
                    Some(addrs) => addrs.clone(),
                    None => config
                        .endpoints
                        .iter()
                        .position(|e| e.host == uta.host && e.port == uta.port)
                        .map(|k| hosts.links[k].clone())
                        .unwrap_or_else(|| hosts.links[i].clone()),
                };
                let uta_dialer = Dialer::new(
                    &uta.host,
                    uta_addrs,
                    tls_config.clone(),
                    Some(uta.url.clone()),
                    config.send_buffer,
                );
                Link::new(
                    i as u8,
                    reactor::token(index, Path::Link(i)),
                    &endpoint.url,
                    dialer,
                    &settings,
                    seed,
                    i < pool_size && !config.rest_only && !wait,
                )
                .with_v3_endpoint(&uta.url, uta_dialer)
            })
            .collect();
        Account::with_links(
            config, settings, links, rest, registry, Monotonic, shared, intents, outcomes,
        )
    }
}

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> Account<I, O, L, C> {
    /// The account of `config` over `links` (the pool's slots, the spare last) and the REST
    /// client if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn with_links(
        config: &Config,
        settings: LinkSettings,
        links: Vec<L>,
        mut rest: Option<RestClient>,
        registry: Registry,
        clock: C,
        shared: Arc<Shared>,
        intents: I,
        outcomes: O,
    ) -> Self {
        let window = settings.window;
        let ack_timeout = ns(config.ack_timeout);
        // Either dialect may be spoken: the account switches when the venue says so.
        let json_capacity = Dialect::MAX_CANCEL_LEN
            .max(crate::venue::v3::MAX_BATCH_LEN)
            .max(settings.dialect.max_login_len(&config.credentials));
        let kind = AccountKind::new(config, rest.is_some());
        if let Some(client) = &mut rest {
            client.set_unified(settings.dialect == Dialect::V3);
        }
        let hedger = Hedger::new(
            config.hedge_after,
            ack_timeout,
            config.cancels_per_second,
            window,
            config.max_pending,
        );
        let counters = &shared.counters.0;
        counters.pool_size.set(config.connections as u64);
        for link in &counters.links {
            link.set_state(SessionState::Stopped);
        }
        counters.hedge_after_ns.set(hedger.delay());
        counters.rest_enabled.set(u64::from(rest.is_some()));
        counters
            .finals
            .enabled
            .set(u64::from(config.confirm.is_some()));
        let confirm = config.confirm.as_ref().map(|c| {
            Confirmations::new(
                c,
                settings.dialect,
                config.max_pending,
                window,
                FinalOut::queue(c.capacity),
            )
        });
        let slots = links.len();
        let wire_ids = shared.wire_ids;
        let account = Account {
            ack_timeout,
            max_queue: ns(config.max_queue_time),
            shutdown_grace: ns(config.shutdown_grace),
            settings,
            clock,
            shared,
            registry,
            intents,
            out: Delivery::new(outcomes, config.max_pending),
            links,
            events: Vec::with_capacity(EVENT_CAPACITY),
            scratch: Scratch::new(json_capacity, BATCH_BYTES),
            refusal: Refusal::new(config.login_retry_after.map(ns)),
            link_failure: None,
            rest_failure: None,
            table: InflightTable::new(config.max_pending),
            cancels: RateLimiter::new(config.cancels_per_second, window),
            paced_through: 0,
            router: Router::new(),
            hedger,
            resend: ResendQueue::with_capacity(config.max_pending * 2),
            rotation: Rotation::new(ns(config.max_connection_age), ack_timeout),
            outbox: Outbox::new(slots, config.max_pending),
            wire_ids,
            late: LateIds::new(),
            retries: ResendQueue::with_capacity(config.max_pending),
            stats: PoolStats::new(slots),
            rest: RestRung::new(rest, config.rest_only),
            gate: StartGate::new(
                if config.rest_only {
                    0
                } else {
                    config.connections
                },
                ns(config.connect_timeout.min(config.max_queue_time / 2)),
            ),
            slots_scratch: Vec::with_capacity(config.max_pending),
            batches: (0..slots)
                .map(|_| Vec::with_capacity(BATCH_BYTES))
                .collect(),
            unmatched_warnings: WarnGate::default(),
            confirm,
            burst: Burst::new(config.batch_threshold().map(ns), window),
            kind,
            v3_batches: WsBatches::new(
                config.uta.batch_cancels,
                config.uta.batch_budget == crate::engine::config::BatchBudget::PerEntry,
            ),
            stopping: None,
        };
        account.publish_kind();
        account
    }

    /// Final words go to this ring (the threaded engine) instead of the inline engine's queue.
    pub(crate) fn send_finals_to(&mut self, tx: crossbeam_channel::Sender<FinalWord>) {
        if let Some(c) = &mut self.confirm {
            let capacity = tx.capacity().unwrap_or(1024);
            c.out = FinalOut::ring(tx, self.shared.clone(), capacity);
        }
    }

    /// The inline engine's next final word.
    #[inline]
    pub(crate) fn pop_final(&mut self) -> Option<FinalWord> {
        self.confirm.as_mut().and_then(|c| c.out.pop())
    }

    /// Final words ready for the inline engine's caller.
    pub(crate) fn ready_finals(&self) -> usize {
        self.confirm.as_ref().map_or(0, |c| c.out.ready())
    }

    /// Whether the final word is on.
    pub(crate) fn confirms(&self) -> bool {
        self.confirm.is_some()
    }

    /// The shared state of this account's handles.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Whether a new intent is waiting in the ring (checked before the thread parks).
    pub(crate) fn has_intents(&self) -> bool {
        !self.intents.is_empty()
    }

    // ----- what the reactor tells -----

    /// A socket of this account is ready.
    #[inline]
    pub(crate) fn on_socket_event(&mut self, path: Path, readable: bool, writable: bool) {
        match path {
            // Sporadic events of a slot's old socket may come: a link reads until `WouldBlock`
            // and ignores an event that finds nothing.
            Path::Link(i) => {
                if let Some(link) = self.links.get_mut(i) {
                    link.on_socket_event(readable);
                }
            }
            Path::Rest => self.rest.on_socket_event(readable, writable),
        }
    }

    /// The poller failed: every link looks at its socket.
    pub(crate) fn on_poller_error(&mut self) {
        for link in &mut self.links {
            link.on_socket_event(true);
        }
    }

    /// Whether this turn must ask the poller: a link is setting up (TCP, TLS and the upgrade
    /// move on socket events) or waits to write, or the REST connection is connecting or waits
    /// for a reply.
    #[inline]
    pub(crate) fn needs_poller(&self) -> bool {
        self.links.iter().any(LinkSeam::needs_poller) || self.rest.needs_poller()
    }

    /// Marks connected links readable: each reads its socket this turn. A logged-in link that
    /// no cancel waits on is read on `sweep` turns only: what it may bring (a pong, the venue's
    /// close) can wait a few turns, and the turns between are a ring check each instead of a
    /// `read(2)` that an intent arriving meanwhile would wait behind. So is an order push with
    /// the final word on: read with the reply when it came in the same read, else at the next
    /// sweep, so that it costs the acks nothing.
    #[inline]
    pub(crate) fn read_directly(&mut self, sweep: bool) {
        for (i, link) in self.links.iter_mut().enumerate() {
            if sweep || self.router.waiting(i) != 0 || !link.is_live() {
                link.read_directly();
            }
        }
    }

    // ----- the turn -----

    /// One turn; true if anything happened.
    pub(crate) fn turn(&mut self, now: u64) -> bool {
        let mut work = false;
        if self.stopping.is_none()
            && self
                .shared
                .shutdown_requested
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.begin_shutdown(now);
            work = true;
        }
        let stopping = self.stopping.is_some();
        self.gate.start(now);
        for i in 0..self.links.len() {
            work |= self.links[i].read(link_cx!(self, now));
            work |= self.apply_link_events(now);
            work |= self.links[i].advance(link_cx!(self, now));
            work |= self.apply_link_events(now);
        }
        work |= self.drive_rest(now);
        work |= self.drive_kind(now);
        self.update_clock(now);
        if !stopping {
            work |= self.intake();
        }
        work |= self.watch_links(now);
        // A cancel-all goes first, then the singles, then the backlog's batches.
        work |= self.send_cancel_alls(now);
        work |= self.send();
        work |= self.send_batches();
        for i in 0..self.links.len() {
            self.links[i].flush(link_cx!(self, now));
        }
        self.apply_link_events(now);
        work |= self.expire(now);
        work |= self.expire_cancel_alls(now);
        work |= self.drive_confirm(now);
        work |= self.housekeeping(now);
        if stopping {
            work |= self.shutdown_step(now);
        }
        if self.out.waiting() != 0 {
            self.out.deliver();
        }
        if let Some(c) = &mut self.confirm
            && c.out.waiting() != 0
        {
            c.out.deliver();
        }
        self.publish_states();
        work
    }

    /// The earliest time something has to happen, at most `cap`.
    pub(crate) fn next_deadline(&self, now: u64, cap: u64) -> u64 {
        let mut t = cap;
        if self.out.waiting() != 0 {
            // Nothing tells the engine when the caller makes room in the outcome ring.
            t = t.min(now + 1_000_000);
        }
        let ready = self.send_ready_at();
        if !self.resend.is_empty() {
            t = t.min(ready);
        }
        if !self.retries.is_empty() {
            t = t.min(self.retries.due_at().max(ready));
        }
        if let Some((_, e)) = self.table.oldest_queued() {
            t = t.min(e.accepted_ns.saturating_add(self.max_queue));
            t = t.min(ready);
            t = t.min(self.gate.next_deadline());
        }
        if let Some((_, e)) = self.table.oldest_in_flight() {
            t = t.min(e.sent_ns.saturating_add(self.ack_timeout));
        }
        if self.hedger.is_on() {
            let hedge_ready = self.hedger.ready_at().max(ready);
            if self.hedger.front_troubled().is_some() {
                t = t.min(hedge_ready);
            }
            if let Some((slot, seq)) = self.hedger.front()
                && self.table.is_in_flight(slot, seq)
            {
                let e = self.table.entry(slot);
                let due = e.first_sent_ns.saturating_add(self.hedger.delay());
                t = t.min(due.max(hedge_ready));
            }
        }
        // A link that leaves cancels unanswered is probed, and maybe found stalled, then.
        let probe_after = self.probe_after();
        for l in 0..self.links.len() {
            let since = self.router.unanswered_since(l);
            if since != 0 {
                let at = since.saturating_add(probe_after).saturating_add(1);
                if at > now {
                    t = t.min(at);
                }
            }
        }
        for link in &self.links {
            t = t.min(link.next_deadline(&self.settings));
        }
        t = t.min(self.rest.next_deadline(self.stopping.is_some()));
        t = t.min(self.cancel_alls_deadline());
        t = t.min(self.batches_deadline(now));
        t = t.min(self.clock_deadline());
        t = t.min(self.rotation.next_deadline(now));
        t = t.min(self.kind_deadline());
        if let Some(c) = &self.confirm {
            t = t.min(c.next_deadline(now, self.may_query()));
        }
        if let Some(deadline) = self.stopping {
            t = t.min(deadline);
        }
        t
    }

    /// When pacing next lets a cancel out: the account limit and the earliest link budget. A
    /// link held back by a full socket is due on its writable event instead.
    fn send_ready_at(&self) -> u64 {
        let link_ready = self
            .links
            .iter()
            .enumerate()
            .filter(|(i, l)| l.is_serving() && !l.wants_write() && !self.router.is_stalled(*i))
            .map(|(_, l)| l.ready_at())
            .min()
            .unwrap_or(u64::MAX);
        link_ready.max(self.cancels.ready_at())
    }

    /// How long a cancel may wait unanswered on a link before the link is probed with a
    /// `ping` (and, if another path answers meanwhile, found stalled): the hedge delay, or a
    /// fifth of the ack timeout with hedging off.
    fn probe_after(&self) -> u64 {
        if self.hedger.is_on() {
            self.hedger.delay()
        } else {
            self.ack_timeout / 5
        }
    }

    /// Probes every link that has left a cancel unanswered past the hedge delay; one that did
    /// while another path answered is stalled (with hedging on): it takes no new cancels, and
    /// what waits on it goes out elsewhere as a failover. True if a link was found stalled.
    fn watch_links(&mut self, now: u64) -> bool {
        let probe_after = self.probe_after();
        let mut work = false;
        for l in 0..self.links.len() {
            if self.router.waiting(l) == 0 || self.router.stalled_for(l, now) <= probe_after {
                continue;
            }
            self.links[l].probe(now);
            let since = self.router.unanswered_since(l);
            if self.hedger.is_on()
                && !self.router.is_stalled(l)
                && self.links[l].is_serving()
                && self.router.another_answered_after(l, since)
            {
                self.router.stall(l);
                self.shared.counters.0.stalls.incr();
                crate::relay::log_warn!(
                    "connection {l} left a cancel unanswered for {:?} while another path \
                     answered: stalled, what waits on it goes out elsewhere",
                    Duration::from_nanos(now.saturating_sub(since))
                );
                self.requeue_attempts_on(l, AttemptKind::Failover, false);
                work = true;
            }
        }
        work
    }

    // ----- what the links report -----

    /// Acts on every event the links reported; true if there were any.
    fn apply_link_events(&mut self, now: u64) -> bool {
        if self.events.is_empty() {
            return false;
        }
        let mut k = 0;
        while k < self.events.len() {
            let (link, event) = self.events[k];
            self.on_link_event(link as usize, event, now);
            k += 1;
        }
        self.events.clear();
        true
    }

    fn on_link_event(&mut self, l: usize, event: LinkEvent, now: u64) {
        let counters = &self.shared.counters.0;
        match event {
            LinkEvent::Reply { id, verdict } => self.on_reply(l, id, verdict),
            LinkEvent::BatchEntry { batch, entry } => self.on_ws_batch_entry(l, batch, entry),
            LinkEvent::Push(update) => {
                if let Some(c) = &mut self.confirm {
                    c.on_push(update, self.clock.now(), &counters.finals);
                }
            }
            LinkEvent::Subscribed(end) => match end {
                SubscriptionEnd::Acked => counters.finals.subscriptions_acked.incr(),
                SubscriptionEnd::Refused { .. } => counters.finals.subscriptions_refused.incr(),
                SubscriptionEnd::Unanswered => counters.finals.subscriptions_unanswered.incr(),
            },
            LinkEvent::Live => {
                if let Some(c) = &mut self.confirm {
                    c.on_link_live(now);
                }
                counters.sessions.incr();
                counters.links[l].sessions.incr();
                self.refusal.on_accepted();
                self.gate.open();
                self.router.on_live(l);
                crate::relay::log_info!(
                    "connection {l} logged in to {} ({} intents waiting)",
                    self.links[l].url(),
                    self.table.queued()
                );
                if let Some(old) = self.rotation.on_live(l, now) {
                    self.links[old].drain(true);
                    counters.rotations.incr();
                    crate::relay::log_info!(
                        "connection {l} replaces connection {old}, which drains"
                    );
                }
            }
            LinkEvent::Connecting => counters.connect_attempts.incr(),
            LinkEvent::PingSent => counters.pings.incr(),
            LinkEvent::Pong => counters.pongs.incr(),
            LinkEvent::Unreadable => counters.unreadable_messages.incr(),
            LinkEvent::Flushed => {
                if self.outbox.is_waiting(l) {
                    let at = self.clock.now();
                    self.outbox.written(l, at, &mut self.table);
                }
            }
            LinkEvent::VenueError {
                closing,
                rate_limited,
            } => {
                counters.venue_errors.incr();
                if rate_limited {
                    self.cancels
                        .hold_until(now.saturating_add(self.settings.window));
                }
                if closing && self.links[l].is_live() {
                    // The venue closes it: no new cancels there.
                    self.links[l].drain(false);
                    self.on_closing_notice(l, now);
                }
                // Trouble on this connection: what waits for a reply on it goes out elsewhere
                // too, after first sends, rather than wait out the ack timeout.
                if self.hedger.is_on() {
                    self.queue_troubled(l);
                }
            }
            LinkEvent::LoginRejected { code, msg } => {
                counters.login_rejections.incr();
                if let Some(e) = self.links[l].take_error() {
                    self.link_failure = Some(e.as_failure());
                    self.shared.set_last_error(e);
                }
                self.refusal.on_login_refused(code, msg);
                self.gate.open();
                // A handle that reads the outcomes below sees the state that explains them.
                self.publish_states();
                if !self.links.iter().any(LinkView::is_live) {
                    self.fail_queued(NotSentReason::LoginRejected { code, msg });
                }
            }
            LinkEvent::ClockRefused => self.on_clock_refused(now),
            LinkEvent::ServerDate { offset_ms } => self.on_server_date(offset_ms),
            LinkEvent::Lost {
                generation,
                was_live,
            } => {
                if let Some(e) = self.links[l].take_error() {
                    self.link_failure = Some(e.as_failure());
                    // While a refusal of the credentials stands it is the error that explains
                    // the state handles see; a connection failing meanwhile does not hide it.
                    if self.refusal.last().is_none() {
                        self.shared.set_last_error(e);
                    }
                }
                let done = self.links[l].is_done();
                // A link that ends for good (retired, shutting down) is not reconnecting.
                if was_live && !done {
                    counters.reconnects.incr();
                }
                if !was_live {
                    self.gate.on_attempt_failed(l);
                }
                if was_live && let Some(c) = &mut self.confirm {
                    c.on_link_lost();
                }
                self.outbox.forget(l);
                self.router.on_lost(l);
                self.bury_link(l, generation);
                if let Some(old) = self.rotation.on_lost(l, done) {
                    self.links[old].resume();
                    crate::relay::log_info!(
                        "connection {l}, the replacement of connection {old}, was lost: \
                         connection {old} serves again until it is back"
                    );
                }
            }
        }
    }

    fn on_reply(&mut self, l: usize, id: Option<RequestId>, verdict: Verdict) {
        let wire = id.and_then(|id| self.wire_ids.parse(id.as_str().as_bytes()));
        let found = wire.and_then(|wire| self.table.find_in_flight(wire, l as u8));
        if found.is_none()
            && let Some(id) = &id
            && self.on_ws_batch_reply(l, id, verdict)
        {
            // A batch answered as a whole: each entry's verdict was counted as its reply.
            return;
        }
        self.shared.counters.0.links[l].replies.incr();
        let Some((slot, a)) = found else {
            // It answers, if late: still progress on this connection.
            let now = self.clock.now();
            self.router.progress(l, now);
            let counters = &self.shared.counters.0;
            match wire {
                Some(wire) if self.late.claim(wire) => counters.late_replies.incr(),
                _ => {
                    counters.unmatched_replies.incr();
                    if self.unmatched_warnings.admit(now) {
                        crate::relay::log_warn!(
                            "connection {l}: a reply to {} matches no request in flight \
                             (late, or not this engine's); skipped",
                            match &id {
                                Some(id) => id.as_str(),
                                None => "an id that cannot be one of ours",
                            }
                        );
                    }
                }
            }
            return;
        };
        let via = Via::Connection(l as u8);
        match verdict {
            Verdict::Acked => self.settle_reply(slot, a, l, Status::Acked, via),
            // Sent to the other kind of account's API: no verdict on the order.
            Verdict::Rejected { code, .. } if Self::is_wrong_account(code) => {
                let now = self.clock.now();
                self.refused_for_account(slot, a, l, code, now);
            }
            Verdict::Rejected { code, msg } => {
                // By the codes of the dialect the connection speaks: after a switch, the old
                // dialect's connection still answers what was sent on it.
                let class = self.links[l].speaks().answer_class(code);
                if class.is_transient() {
                    self.on_transient(slot, a, l, Transient { code, msg, via }, class);
                } else {
                    self.settle_reply(slot, a, l, Status::Rejected { code, msg }, via);
                }
            }
        }
    }

    /// Attempt `a` of the intent in `slot` was answered on path `l` with a transient refusal:
    /// it settles nothing while another attempt may still be answered or sends remain; the
    /// cancel goes out again after a short pause (a rate limit holds the account's limiter
    /// back for a window). With no path left it is the outcome.
    pub(super) fn on_transient(
        &mut self,
        slot: u32,
        a: usize,
        l: usize,
        transient: Transient,
        class: AnswerClass,
    ) {
        let now = self.clock.now();
        self.shared.counters.0.transient_answers.incr();
        let e = self.table.entry_mut(slot);
        e.attempts[a].state = AttemptState::Refused;
        e.transient = Some(transient);
        let seq = e.seq;
        self.router.done(l);
        self.router.progress(l, now);
        if class == AnswerClass::RateLimited {
            self.cancels
                .hold_until(now.saturating_add(self.settings.window));
        }
        if self.table.entry(slot).has_live_attempt() {
            return;
        }
        if self.table.can_send_again(slot) {
            let table = &self.table;
            self.retries.push(
                slot,
                seq,
                AttemptKind::Retry,
                now.saturating_add(RETRY_PAUSE_NS),
                |s, q| table.is_in_flight(s, q),
            );
        } else {
            self.settle_no_path(slot, UnknownReason::ConnectionLost, now);
        }
    }

    /// Settles the intent in `slot` with the reply to its attempt `a`, which came on path `l` (a
    /// link, or [`REST_LINK`]).
    fn settle_reply(&mut self, slot: u32, a: usize, l: usize, status: Status, via: Via) {
        self.settle_reply_in(slot, a, l, status, via, None);
    }

    /// [`Self::settle_reply`] for a reply that came in the batch `batch`, if any.
    fn settle_reply_in(
        &mut self,
        slot: u32,
        a: usize,
        l: usize,
        status: Status,
        via: Via,
        batch: Option<crate::outcome::BatchRef>,
    ) {
        let counters = &self.shared.counters.0;
        let settled = self.clock.now();
        let e = *self.table.entry(slot);
        let attempt = e.attempts[a];
        let rtt = settled.saturating_sub(attempt.sent_ns);
        if l < MAX_SLOTS {
            self.hedger.observe(rtt);
            self.stats.record(l, rtt);
        }
        self.router.answered(l, rtt);
        if attempt.kind == AttemptKind::Hedge {
            counters.hedges_won.incr();
        }
        for (n, other) in e.attempts[..e.sends as usize].iter().enumerate() {
            if other.state == AttemptState::Live {
                let k = other.link as usize;
                self.router.done(k);
                if n != a {
                    self.late.remember(other.wire);
                    // Outrun by another path: at least this slow.
                    self.router.outrun(k, settled.saturating_sub(other.sent_ns));
                }
            }
        }
        self.router.progress(l, settled);
        let e = self.table.settle(slot);
        self.emit_entry_in(e, status, settled, Some(via), batch);
    }

    /// The connection of `generation` in slot `l` is gone: its attempts can no longer be
    /// answered, and every intent left without a live attempt is sent again elsewhere (or
    /// waits for a path to come back, within its ack timeout).
    fn bury_link(&mut self, l: usize, generation: u32) {
        self.table.in_flight_slots(&mut self.slots_scratch);
        for k in 0..self.slots_scratch.len() {
            let (slot, seq) = self.slots_scratch[k];
            let e = self.table.entry(slot);
            let on_it = e
                .live_attempts()
                .any(|a| a.link as usize == l && a.generation == generation);
            if !on_it {
                continue;
            }
            for _ in 0..self.table.bury_attempts(slot, l as u8) {
                self.router.done(l);
            }
            if !self.table.entry(slot).has_live_attempt() {
                self.push_resend(slot, seq, AttemptKind::Failover);
            }
        }
    }

    /// Queues a trouble hedge for every intent with a live attempt on link `l`.
    fn queue_troubled(&mut self, l: usize) {
        self.table.in_flight_slots(&mut self.slots_scratch);
        for k in 0..self.slots_scratch.len() {
            let (slot, seq) = self.slots_scratch[k];
            if self
                .table
                .entry(slot)
                .live_attempts()
                .any(|a| a.link as usize == l)
            {
                let table = &self.table;
                self.hedger
                    .queue_troubled(slot, seq, l as u8, |s, q| table.is_in_flight(s, q));
            }
        }
    }

    /// Settles an intent no path is left for: `rejected` with the transient answer it got if
    /// every send was refused that way (the venue processed none), else `unknown` for
    /// `reason`.
    pub(super) fn settle_no_path(&mut self, slot: u32, reason: UnknownReason, now: u64) {
        let e = self.table.entry(slot);
        match e.transient {
            Some(t) if e.all_refused() => {
                let e = self.table.settle(slot);
                let status = Status::Rejected {
                    code: t.code,
                    msg: t.msg,
                };
                self.emit_entry(e, status, now, Some(t.via));
            }
            _ => self.settle_unanswered(slot, reason, now),
        }
    }

    /// Queues every intent with a live attempt on link `l` to be sent again on another link;
    /// with `bury`, those attempts are given up first.
    fn requeue_attempts_on(&mut self, l: usize, kind: AttemptKind, bury: bool) {
        self.table.in_flight_slots(&mut self.slots_scratch);
        for k in 0..self.slots_scratch.len() {
            let (slot, seq) = self.slots_scratch[k];
            if !self
                .table
                .entry(slot)
                .live_attempts()
                .any(|a| a.link as usize == l)
            {
                continue;
            }
            if bury {
                for _ in 0..self.table.bury_attempts(slot, l as u8) {
                    self.router.done(l);
                }
            }
            self.push_resend(slot, seq, kind);
        }
    }

    fn push_resend(&mut self, slot: u32, seq: u64, kind: AttemptKind) {
        let table = &self.table;
        self.resend
            .push(slot, seq, kind, 0, |s, q| table.is_in_flight(s, q));
    }

    // ----- the final word -----

    /// Whether an order query may go on the REST connection now: it is idle, and no cancel
    /// waits for it (cancels go first; while a link serves they do not take REST).
    fn may_query(&self) -> bool {
        self.rest.can_query()
            && (self.router.any_serving(&self.links, 0)
                || (self.table.queued() == 0 && self.resend.is_empty() && self.retries.is_empty()))
    }

    /// The final words whose time is up, then the order query that is due; true if anything
    /// happened.
    fn drive_confirm(&mut self, now: u64) -> bool {
        if self.confirm.is_none() {
            return false;
        }
        let may_query = self.may_query();
        let Some(c) = &mut self.confirm else {
            return false;
        };
        let counters = &self.shared.counters.0.finals;
        let mut work = c.expire(now, counters);
        if !may_query {
            return work;
        }
        if let Some((tag, cancel)) = c.take_due_query(now) {
            work = true;
            match self.rest.send_query(tag, &cancel, now, unix_ms()) {
                Ok(()) => {
                    counters.queries_sent.incr();
                    c.query_sent(tag, cancel.inst_type, now);
                }
                Err(e) => {
                    crate::relay::log_debug!("REST refused an order query: {e}");
                    c.on_query_failed(tag, now, counters);
                }
            }
        }
        work
    }

    // ----- the pool's upkeep -----

    /// Round-trip percentiles and rotation by age; true if anything happened.
    fn housekeeping(&mut self, now: u64) -> bool {
        if let Some(n) = self.unmatched_warnings.take_hidden(now) {
            crate::relay::log_warn!("{n} more replies matched no request in flight");
        }
        if self.stats.is_due(now) {
            let counters = &self.shared.counters.0;
            self.stats.publish_rtt(counters);
            if let Some(c) = &mut self.confirm {
                c.publish(&counters.finals);
            }
            if let Some(after) = self.hedger.update() {
                counters.hedge_after_ns.set(after);
            }
        }
        if self.stopping.is_some() {
            return false;
        }
        let router = &self.router;
        match self.rotation.tick(&self.links, |l| router.waiting(l), now) {
            RotationStep::Idle => false,
            RotationStep::Connect { old, new } => {
                crate::relay::log_info!(
                    "connection {old} is {:?} old: connecting its replacement in slot {new}",
                    Duration::from_nanos(now.saturating_sub(self.links[old].live_since()))
                );
                // The replacement goes where the old one went (its gateway, its endpoint).
                let (old_link, new_link) = two_mut(&mut self.links, old, new);
                new_link.adopt_endpoint(old_link);
                self.links[new].enable(now);
                true
            }
            RotationStep::Abandon { new } => {
                self.links[new].close(now, &self.registry, &mut self.scratch);
                true
            }
            RotationStep::Close { old } => {
                // What is still unanswered there goes out elsewhere.
                self.requeue_attempts_on(old, AttemptKind::Failover, true);
                self.links[old].close(now, &self.registry, &mut self.scratch);
                true
            }
            RotationStep::Abort { old } => {
                self.links[old].abort(&self.registry);
                true
            }
            RotationStep::Finished => true,
        }
    }

    /// Publishes each link's state and the pool's, where they changed.
    pub(super) fn publish_states(&mut self) {
        let counters = &self.shared.counters.0;
        let states = self.links.iter().map(|l| (l.state(), l.is_done()));
        let mut pool = self.stats.publish_states(states, counters);
        if self.rest.only() {
            pool = Some(if self.rest.is_open() {
                SessionState::Live
            } else {
                SessionState::Connecting
            });
        }
        // Refused credentials while no connection is live (heard over REST, or by every
        // connection): refused, whatever the connections are doing or the REST connection's
        // state.
        if self.refused_now().is_some() {
            pool = Some(SessionState::LoginRejected);
        }
        if self.stopping.is_none()
            && let Some(pool) = pool
            && self.stats.pool_changed(pool)
        {
            self.shared.set_state(pool);
        }
    }
}
