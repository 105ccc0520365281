//! The engine thread: one loop that owns the pool of connections ([`Link`]s), the in-flight
//! table, the account's cancel limiter and every buffer, and meets the rest of the program only
//! through the two rings. The loop is generic over where intents come from and where outcomes go
//! (`plumbing.rs`): the engine thread runs it with the rings ([`EventLoop::run`]); the inline
//! engine turns it on the caller's thread ([`EventLoop::do_work`]) and inserts intents itself
//! ([`EventLoop::submit`]).
//!
//! The loop is the conductor; each [`Link`] is one connection's state machine. One turn: poll the
//! sockets (zero timeout unless parking; skipped while busy with no connection being set up or
//! waiting to write: then each logged-in socket is read directly, a quiet one every few turns),
//! let every link read and report, advance every link (connection steps, keepalive), take new
//! intents from the ring, send what pacing allows (re-sends first, then first sends on the best
//! link, then hedges), flush TLS, expire what waited too long, rotate old connections, hand
//! outcomes back. Nothing in a turn blocks or allocates once the pool is live; the buffers are
//! allocated in [`EventLoop::new`] or when a connection starts.
//!
//! Routing: a cancel goes to the serving link (logged in, not draining, with message budget now
//! and nothing left unflushed) with the lowest score; ties go to the lowest slot. A link's score
//! is its smoothed round trip (an exponential average of its replies, 1/8 weight each; 0 before
//! the first), or, while cancels sent on it wait for their replies, the time since it last
//! answered one, if that is longer. A cancel another connection settled first counts as a sample
//! of at least the time it had waited. So a connection that stalls stops attracting cancels as
//! soon as it has been silent longer than another takes to answer, and one that lost replies
//! earns its way back as the other slows down.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use crossbeam_channel::TrySendError;
use mio::{Events, Poll};

use super::config::{Config, HedgeAfter, IdleStrategy};
use super::handle::Submission;
use super::inflight::{AttemptKind, AttemptState, Entry, InflightTable, InsertError};
use super::link::{Link, LinkEvent, LinkSettings, OVER_LIMIT_CLOSE, Scratch, ns, unix_ms};
use super::pacing::RateLimiter;
use super::plumbing::{IntentSource, OutcomeSink};
use super::rtt::RttWindow;
use super::shared::{MAX_SLOTS, SessionError, SessionState, Shared};
use crate::clock::monotonic_ns;
use crate::intent::RequestId;
use crate::outcome::{NotSentReason, Outcome, Status, Timestamps, UnknownReason, VenueMsg, Via};
use crate::protocol;
use crate::rest::{RestClient, RestError, RestEvent, Verdict};
use crate::ws::{self, OpCode};

/// Plaintext written in one TLS write: several frames when a burst is allowed out at once.
const BATCH_BYTES: usize = 8 * 1024;
/// The largest cancel frame.
const MAX_CANCEL_FRAME: usize = protocol::MAX_CANCEL_LEN + ws::MAX_CLIENT_HEADER;
/// Idle turns spent spinning, then yielding, before the park strategy parks.
const SPIN_TURNS: u32 = 100;
const YIELD_TURNS: u32 = 20;
/// The longest park: a safety net, every deadline is computed.
const MAX_PARK_NS: u64 = 1_000_000_000;
/// Events one read or step may report before the rest waits for the next turn.
const EVENT_CAPACITY: usize = 1024;
/// How often round-trip percentiles (and the adaptive hedge delay) are recomputed.
const RTT_UPDATE_NS: u64 = 250_000_000;
/// Replies the pool remembers for the adaptive hedge delay, and per connection for its stats.
const POOL_RTT_SAMPLES: usize = 1000;
const LINK_RTT_SAMPLES: usize = 256;
/// Replies needed before the adaptive hedge delay trusts them.
const MIN_RTT_SAMPLES: usize = 20;
/// The adaptive hedge delay's floor.
const MIN_HEDGE_NS: u64 = 1_000_000;
/// With direct reads, a logged-in connection that no cancel waits on is read every this many
/// turns.
const QUIET_READ_EVERY: u32 = 16;
/// Ids of attempts outstanding when their intent settled, kept to tell a late reply from a
/// stranger's.
const LATE_IDS: usize = 256;
/// The attempt "link" of a cancel sent over REST: past every connection slot.
pub(crate) const REST_LINK: usize = MAX_SLOTS;
/// Per-path arrays: every connection slot, then REST.
const PATHS: usize = MAX_SLOTS + 1;
/// The poller token of the REST connection (the waker's is `Token(MAX_SLOTS)`).
pub(crate) const REST_TOKEN: mio::Token = mio::Token(MAX_SLOTS + 1);
/// How long to wait before resolving the REST host again after it failed.
const REST_RESOLVE_RETRY_NS: u64 = 30_000_000_000;

/// A connection being replaced: `new` connects while `old` serves; once `new` is live, `old`
/// drains until `drain_deadline`, then closes.
#[derive(Debug, Clone, Copy)]
struct Rotation {
    old: usize,
    new: usize,
    /// 0 until `new` is live.
    drain_deadline: u64,
}

/// The engine thread's state. Built on the engine thread, so every buffer is allocated there.
pub(crate) struct EventLoop<I, O> {
    // Settings, in nanoseconds.
    ack_timeout: u64,
    max_queue: u64,
    shutdown_grace: u64,
    max_age: u64,
    hedge: HedgeAfter,
    idle: IdleStrategy,
    settings: LinkSettings,

    // Plumbing.
    shared: Arc<Shared>,
    intents: I,
    pub(crate) outcomes: O,
    poll: Poll,
    events: Events,

    // The pool: all links but one serve; the spare slot takes a replacement during a rotation.
    links: Vec<Link>,
    link_events: Vec<(u8, LinkEvent)>,
    rotation: Option<Rotation>,
    /// The venue's last refusal of the credentials.
    rejected: Option<(i64, VenueMsg)>,
    /// Attempts that may still be answered, per path (links, then REST).
    live_attempts: [u32; PATHS],
    /// The states last published per link, and for the pool.
    published: [SessionState; MAX_SLOTS],
    published_pool: SessionState,

    // Intents.
    table: InflightTable,
    /// Outcomes the outcome ring had no room for, oldest first.
    undelivered: VecDeque<Outcome>,
    /// Per link: cancels encrypted but not yet fully handed to the kernel, as `(slot, seq)`.
    awaiting_flush: Vec<Vec<(u32, u64)>>,
    /// The account's cancel limit, across the pool.
    cancels: RateLimiter,
    /// Hedges' share of it.
    hedges: RateLimiter,
    /// Intents up to this arrival number were counted as pacing waits.
    paced_through: u64,
    /// In-flight intents to send again, in order: `(slot, seq, why)`.
    resend: VecDeque<(u32, u64, AttemptKind)>,
    /// First sends in order, for timed hedges: `(slot, seq)`.
    hedge_queue: VecDeque<(u32, u64)>,
    /// The hedge delay in force (0: off).
    hedge_after: u64,
    late_ids: [RequestId; LATE_IDS],
    late_next: usize,
    pool_rtt: RttWindow,
    link_rtt: Vec<RttWindow>,
    /// Smoothed round trip per path (routing).
    smoothed_rtt: [u64; PATHS],
    /// Per path, since when it has had cancels waiting without answering any (0: none waits).
    unanswered_since: [u64; PATHS],
    next_rtt_update: u64,
    rtt_scratch: Vec<u64>,
    slots_scratch: Vec<(u32, u64)>,

    scratch: Scratch,
    /// Extra attempts made so far (their ids are `r1`, `r2`, ...).
    attempts_made: u64,

    // The REST rung.
    rest: Option<RestClient>,
    rest_events: Vec<RestEvent>,
    /// A socket event came for the REST connection.
    rest_event: bool,
    /// The host resolved and the client started.
    rest_started: bool,
    rest_retry_at: u64,
    /// The cancel on the REST connection: `(slot, seq)`; its tag is `seq`.
    rest_in_flight: Option<(u32, u64)>,
    /// Every cancel goes over REST.
    rest_only: bool,

    /// Set when shutdown began: the time by which replies in flight must have come.
    stopping: Option<u64>,
    idle_turns: u32,
    /// Busy turns read logged-in sockets directly, without `epoll_wait`.
    direct_reads: bool,
    /// Turns that read directly so far.
    direct_turns: u32,
}

impl<I, O> std::fmt::Debug for EventLoop<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("links", &self.links.len())
            .field("held", &self.table.len())
            .finish()
    }
}

impl<I: IntentSource, O: OutcomeSink> EventLoop<I, O> {
    pub(crate) fn new(
        config: &Config,
        tls_config: Arc<rustls::ClientConfig>,
        shared: Arc<Shared>,
        intents: I,
        outcomes: O,
        poll: Poll,
    ) -> Self {
        let window = ns(Duration::from_secs(1) + config.rate_margin);
        let api_key = config.credentials.api_key().to_string();
        let json_capacity = protocol::MAX_CANCEL_LEN.max(protocol::max_login_len(
            &api_key,
            config.credentials.passphrase_str(),
        ));
        let mut seed = [0u8; 8];
        // Jitter only needs to differ between processes; a failed read falls back to the clock.
        let mut rng = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => monotonic_ns() ^ 0x9e37_79b9_7f4a_7c15,
        } | 1;
        let settings = LinkSettings {
            ping_interval: ns(config.ping_interval),
            pong_deadline: ns(config.pong_deadline),
            connect_timeout: ns(config.connect_timeout),
            login_retry_after: config.login_retry_after.map(ns),
            reconnect: config.reconnect,
            messages_per_second: config.messages_per_second,
            window,
            api_key,
            credentials: config.credentials.clone(),
            clock_offset_ms: 0,
        };
        let pool_size = config.connections;
        let slots = pool_size + 1;
        let links = (0..slots)
            .map(|i| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(i as u64);
                Link::new(
                    i as u8,
                    config.endpoints[i % config.endpoints.len()].clone(),
                    tls_config.clone(),
                    config.send_buffer,
                    &settings,
                    rng,
                    i < pool_size && !config.rest_only,
                )
            })
            .collect();
        let counters = &shared.counters.0;
        counters.pool_size.set(pool_size as u64);
        for link in &counters.links {
            link.set_state(SessionState::Stopped);
        }
        let hedge_after = match config.hedge_after {
            HedgeAfter::Off => 0,
            HedgeAfter::Fixed(d) if d.is_zero() => 0,
            HedgeAfter::Fixed(d) => ns(d),
            HedgeAfter::Adaptive => ns(config.ack_timeout) / 5,
        };
        counters.hedge_after_ns.set(hedge_after);
        let hedge_share = (config.cancels_per_second / 5).max(1);
        let rest = config.rest.as_ref().and_then(|rest| {
            match RestClient::new(rest.clone(), &config.credentials, REST_TOKEN) {
                Ok(client) => Some(client),
                Err(e) => {
                    log::error!("no REST rung: {e}");
                    None
                }
            }
        });
        counters.rest_enabled.set(u64::from(rest.is_some()));
        EventLoop {
            ack_timeout: ns(config.ack_timeout),
            max_queue: ns(config.max_queue_time),
            shutdown_grace: ns(config.shutdown_grace),
            max_age: ns(config.max_connection_age),
            hedge: if hedge_after == 0 {
                HedgeAfter::Off
            } else {
                config.hedge_after
            },
            idle: config.idle,
            settings,
            shared,
            intents,
            outcomes,
            poll,
            events: Events::with_capacity(64),
            links,
            link_events: Vec::with_capacity(EVENT_CAPACITY),
            rotation: None,
            rejected: None,
            live_attempts: [0; PATHS],
            published: [SessionState::Stopped; MAX_SLOTS],
            published_pool: SessionState::Connecting,
            table: InflightTable::new(config.max_pending),
            undelivered: VecDeque::with_capacity(config.max_pending),
            awaiting_flush: (0..slots)
                .map(|_| Vec::with_capacity(config.max_pending))
                .collect(),
            cancels: RateLimiter::new(config.cancels_per_second, window),
            hedges: RateLimiter::new(hedge_share, window),
            paced_through: 0,
            resend: VecDeque::with_capacity(config.max_pending * 2),
            hedge_queue: VecDeque::with_capacity(config.max_pending * 2),
            hedge_after,
            late_ids: [RequestId::EMPTY; LATE_IDS],
            late_next: 0,
            pool_rtt: RttWindow::new(POOL_RTT_SAMPLES),
            link_rtt: (0..slots)
                .map(|_| RttWindow::new(LINK_RTT_SAMPLES))
                .collect(),
            smoothed_rtt: [0; PATHS],
            unanswered_since: [0; PATHS],
            next_rtt_update: 0,
            rtt_scratch: Vec::with_capacity(POOL_RTT_SAMPLES),
            slots_scratch: Vec::with_capacity(config.max_pending),
            scratch: Scratch::new(json_capacity, BATCH_BYTES),
            attempts_made: 0,
            rest,
            rest_events: Vec::with_capacity(16),
            rest_event: false,
            rest_started: false,
            rest_retry_at: 0,
            rest_in_flight: None,
            rest_only: config.rest_only,
            stopping: None,
            idle_turns: 0,
            direct_reads: config.direct_reads && config.idle != IdleStrategy::Backoff,
            direct_turns: 0,
        }
    }

    /// Runs until shutdown is complete: the engine thread's loop, [`EventLoop::do_work`] under an
    /// idle strategy.
    pub(crate) fn run(mut self) {
        loop {
            let timeout = self.poll_timeout();
            let work = self.do_work(timeout);
            if self.is_finished() {
                break;
            }
            self.idle_turns = if work { 0 } else { self.idle_turns + 1 };
            if !work {
                match self.idle {
                    IdleStrategy::BusySpin => std::hint::spin_loop(),
                    IdleStrategy::Yield => std::thread::yield_now(),
                    IdleStrategy::Backoff if self.idle_turns <= SPIN_TURNS => {
                        std::hint::spin_loop()
                    }
                    IdleStrategy::Backoff => std::thread::yield_now(),
                }
            }
        }
        self.finish();
    }

    /// One turn of the loop: socket readiness (waiting up to `timeout` for it), then
    /// [`EventLoop::turn`]. True if anything happened. The thread runner calls it in a loop; the
    /// inline engine once per `poll`.
    #[inline]
    pub(crate) fn do_work(&mut self, timeout: Duration) -> bool {
        if !timeout.is_zero() || self.needs_poller() {
            self.poll_sockets(timeout);
        } else {
            self.read_directly();
        }
        let now = monotonic_ns();
        self.turn(now)
    }

    /// Whether busy turns read logged-in sockets directly (the inline engine is always busy).
    pub(crate) fn set_direct_reads(&mut self, on: bool) {
        self.direct_reads = on;
    }

    /// Whether shutdown is complete: every link and the REST connection closed.
    /// [`EventLoop::finish`] comes next.
    pub(crate) fn is_finished(&self) -> bool {
        self.stopping.is_some()
            && self.links.iter().all(Link::is_done)
            && self.rest_in_flight.is_none()
            && !self.rest_started
    }

    /// Whether this turn must ask the poller: a link is connecting (TCP, TLS handshake and
    /// upgrade move on socket events) or waits to write; or direct reads are off. Otherwise
    /// every socket the loop cares about is read directly, until `WouldBlock`, with no
    /// `epoll_wait` per turn.
    #[inline]
    fn needs_poller(&self) -> bool {
        !self.direct_reads
            || self.links.iter().any(Link::needs_poller)
            // The REST connection is connecting or waits for a reply: its events come from the
            // poller.
            || self.rest.as_ref().is_some_and(|r| !r.is_ready() && !r.is_down())
    }

    /// Marks connected links readable: each reads its socket this turn. A logged-in link that
    /// no cancel waits on is read every [`QUIET_READ_EVERY`] turns only: what it may bring
    /// (a pong, the venue's close) can wait a few turns, and the turns between are a ring check
    /// each instead of a `read(2)` that an intent arriving meanwhile would wait behind.
    #[inline]
    fn read_directly(&mut self) {
        self.direct_turns = self.direct_turns.wrapping_add(1);
        let sweep = self.direct_turns % QUIET_READ_EVERY == 0;
        for (i, link) in self.links.iter_mut().enumerate() {
            if sweep || self.live_attempts[i] != 0 || !link.is_live() {
                link.read_directly();
            }
        }
    }

    /// Zero, except for the park strategy after enough idle turns: then until the next deadline,
    /// announcing the park so that handles wake the poller.
    fn poll_timeout(&mut self) -> Duration {
        if self.idle != IdleStrategy::Backoff || self.idle_turns <= SPIN_TURNS + YIELD_TURNS {
            return Duration::ZERO;
        }
        let now = monotonic_ns();
        let until = self.next_deadline(now);
        if until <= now {
            return Duration::ZERO;
        }
        let parked = &self.shared.engine.0.parked;
        parked.store(true, Ordering::Relaxed);
        // Pairs with the fence in `Handle::cancel`: either the handle sees `parked` and wakes
        // the poller, or this sees its intent.
        fence(Ordering::SeqCst);
        if !self.intents.is_empty() || self.shared.shutdown_requested.load(Ordering::Acquire) {
            parked.store(false, Ordering::Relaxed);
            return Duration::ZERO;
        }
        Duration::from_nanos(until - now)
    }

    fn poll_sockets(&mut self, timeout: Duration) {
        let result = self.poll.poll(&mut self.events, Some(timeout));
        self.shared.engine.0.parked.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => {
                for event in self.events.iter() {
                    // Sporadic events of a slot's old socket may come: a link reads until
                    // `WouldBlock` and ignores an event that finds nothing.
                    let readable =
                        event.is_readable() || event.is_read_closed() || event.is_error();
                    if event.token() == REST_TOKEN {
                        self.rest_event = true;
                        if let Some(rest) = &mut self.rest {
                            rest.on_event(readable, event.is_writable());
                        }
                    } else if let Some(link) = self.links.get_mut(event.token().0) {
                        link.on_socket_event(readable);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::error!("poll failed: {e}");
                // Never spin hot on a broken poller.
                std::thread::sleep(Duration::from_millis(1));
                for link in &mut self.links {
                    link.on_socket_event(true);
                }
            }
        }
    }

    /// The earliest time something has to happen.
    fn next_deadline(&self, now: u64) -> u64 {
        let mut t = now.saturating_add(MAX_PARK_NS);
        if !self.undelivered.is_empty() {
            // Nothing tells the engine when the caller makes room in the outcome ring.
            t = t.min(now + 1_000_000);
        }
        if !self.resend.is_empty() {
            t = t.min(self.send_ready_at());
        }
        if let Some((_, e)) = self.table.front_queued() {
            t = t.min(e.accepted_ns.saturating_add(self.max_queue));
            t = t.min(self.send_ready_at());
        }
        if let Some((_, e)) = self.table.oldest_in_flight() {
            t = t.min(e.sent_ns.saturating_add(self.ack_timeout));
        }
        if self.hedge_after != 0
            && let Some(&(slot, seq)) = self.hedge_queue.front()
            && self.table.is_in_flight(slot, seq)
        {
            let e = self.table.entry(slot);
            t = t.min(e.first_sent_ns.saturating_add(self.hedge_after));
        }
        for link in &self.links {
            t = t.min(link.next_deadline(&self.settings));
        }
        if let Some(rest) = &self.rest {
            match rest.next_deadline() {
                Some(d) if self.rest_started => t = t.min(d),
                _ if !self.rest_started && self.stopping.is_none() => t = t.min(self.rest_retry_at),
                _ => {}
            }
        }
        if let Some(r) = self.rotation
            && r.drain_deadline != 0
        {
            t = t.min(r.drain_deadline);
        }
        if let Some(deadline) = self.stopping {
            t = t.min(deadline);
        }
        t
    }

    /// When pacing next lets a cancel out: the account limit and the earliest link budget. A link
    /// held back by a full socket is due on its writable event instead.
    fn send_ready_at(&self) -> u64 {
        let link_ready = self
            .links
            .iter()
            .filter(|l| l.is_serving() && !l.wants_write())
            .map(Link::ready_at)
            .min()
            .unwrap_or(u64::MAX);
        link_ready.max(self.cancels.ready_at())
    }

    /// One turn; true if anything happened.
    fn turn(&mut self, now: u64) -> bool {
        let mut work = false;
        if self.stopping.is_none() && self.shared.shutdown_requested.load(Ordering::Relaxed) {
            self.begin_shutdown(now);
            work = true;
        }
        let stopping = self.stopping.is_some();
        for i in 0..self.links.len() {
            work |= self.links[i].read(
                now,
                stopping,
                self.poll.registry(),
                &self.settings,
                &mut self.scratch,
                &mut self.link_events,
            );
            work |= self.apply_link_events(now);
            work |= self.links[i].advance(
                now,
                stopping,
                self.poll.registry(),
                &self.settings,
                &mut self.scratch,
                &mut self.link_events,
            );
            work |= self.apply_link_events(now);
        }
        work |= self.drive_rest(now);
        if !stopping {
            work |= self.intake();
        }
        work |= self.send();
        for i in 0..self.links.len() {
            self.links[i].flush(
                now,
                stopping,
                self.poll.registry(),
                &self.settings,
                &mut self.link_events,
            );
        }
        self.apply_link_events(now);
        work |= self.expire(now);
        work |= self.housekeeping(now);
        if stopping {
            work |= self.shutdown_step(now);
        }
        if !self.undelivered.is_empty() {
            self.deliver();
        }
        self.publish_states();
        work
    }

    // ----- what the links report -----

    /// Acts on every event the links reported; true if there were any.
    fn apply_link_events(&mut self, now: u64) -> bool {
        if self.link_events.is_empty() {
            return false;
        }
        let mut k = 0;
        while k < self.link_events.len() {
            let (link, event) = self.link_events[k];
            self.on_link_event(link as usize, event, now);
            k += 1;
        }
        self.link_events.clear();
        true
    }

    fn on_link_event(&mut self, l: usize, event: LinkEvent, now: u64) {
        let counters = &self.shared.counters.0;
        match event {
            LinkEvent::Reply {
                id,
                code,
                msg,
                error_event,
            } => self.on_reply(l, id, code, msg, error_event),
            LinkEvent::Live => {
                counters.sessions.incr();
                counters.links[l].sessions.incr();
                self.rejected = None;
                self.smoothed_rtt[l] = 0;
                self.unanswered_since[l] = 0;
                log::info!(
                    "connection {l} logged in to {} ({} intents waiting)",
                    self.links[l].url(),
                    self.table.queued()
                );
                if let Some(r) = &mut self.rotation
                    && r.new == l
                    && r.drain_deadline == 0
                {
                    r.drain_deadline = now.saturating_add(self.ack_timeout).max(1);
                    let old = r.old;
                    self.links[old].drain(true);
                    counters.rotations.incr();
                    log::info!("connection {l} replaces connection {old}, which drains");
                }
            }
            LinkEvent::Connecting => counters.connect_attempts.incr(),
            LinkEvent::PingSent => counters.pings.incr(),
            LinkEvent::Pong => counters.pongs.incr(),
            LinkEvent::Unreadable => counters.unreadable_messages.incr(),
            LinkEvent::Flushed => self.stamp_written(l),
            LinkEvent::VenueError { code, .. } => {
                counters.venue_errors.incr();
                if code == OVER_LIMIT_CLOSE && self.links[l].is_live() {
                    // The venue closes it: no new cancels there.
                    self.links[l].drain(false);
                }
                // Trouble on this connection: what waits for a reply on it goes out elsewhere
                // too, rather than wait out the ack timeout.
                if self.hedge_after != 0 {
                    self.requeue_attempts_on(l, AttemptKind::Hedge, false);
                }
            }
            LinkEvent::LoginRejected { code, msg } => {
                counters.login_rejections.incr();
                if let Some(e) = self.links[l].take_error() {
                    self.shared.set_last_error(e);
                }
                self.rejected = Some((code, msg));
                if !self.links.iter().any(Link::is_live) {
                    self.fail_queued(NotSentReason::LoginRejected { code, msg });
                }
            }
            LinkEvent::Lost {
                generation,
                was_live,
            } => {
                if let Some(e) = self.links[l].take_error() {
                    self.shared.set_last_error(e);
                }
                // A link that ends for good (retired, shutting down) is not reconnecting.
                if was_live && !self.links[l].is_done() {
                    counters.reconnects.incr();
                }
                self.awaiting_flush[l].clear();
                self.smoothed_rtt[l] = 0;
                self.bury_link(l, generation);
                if let Some(r) = self.rotation
                    && r.new == l
                    && self.links[l].is_done()
                {
                    self.rotation = None;
                }
            }
        }
    }

    fn on_reply(
        &mut self,
        l: usize,
        id: Option<RequestId>,
        code: i64,
        msg: VenueMsg,
        error_event: bool,
    ) {
        let counters = &self.shared.counters.0;
        counters.links[l].replies.incr();
        let found = id.and_then(|id| self.table.find_in_flight(id.as_str().as_bytes()));
        let Some((slot, a)) = found else {
            // It answers, if late: still progress on this connection.
            self.unanswered_since[l] = if self.live_attempts[l] == 0 {
                0
            } else {
                monotonic_ns()
            };
            match id.and_then(|id| self.late_ids.iter().position(|x| *x == id)) {
                Some(at) => {
                    self.late_ids[at] = RequestId::EMPTY;
                    counters.late_replies.incr();
                }
                None => counters.unmatched_replies.incr(),
            }
            return;
        };
        let status = if code == 0 && !error_event {
            Status::Acked
        } else {
            Status::Rejected { code, msg }
        };
        self.settle_reply(slot, a, l, status, Via::Connection(l as u8));
    }

    /// Settles the intent in `slot` with the reply to its attempt `a`, which came on path `l` (a
    /// link, or [`REST_LINK`]).
    fn settle_reply(&mut self, slot: u32, a: usize, l: usize, status: Status, via: Via) {
        let counters = &self.shared.counters.0;
        let settled = monotonic_ns();
        let e = *self.table.entry(slot);
        let attempt = e.attempts[a];
        let rtt = settled.saturating_sub(attempt.sent_ns);
        if l < MAX_SLOTS {
            self.pool_rtt.record(rtt);
            self.link_rtt[l].record(rtt);
        }
        let s = &mut self.smoothed_rtt[l];
        *s = if *s == 0 { rtt } else { *s - *s / 8 + rtt / 8 };
        if attempt.kind == AttemptKind::Hedge {
            counters.hedges_won.incr();
        }
        for (n, other) in e.attempts[..e.sends as usize].iter().enumerate() {
            if other.state == AttemptState::Live {
                let k = other.link as usize;
                self.attempt_done(k);
                if n != a {
                    self.late_ids[self.late_next] = other.id;
                    self.late_next = (self.late_next + 1) % LATE_IDS;
                    // Outrun by another connection: at least this slow.
                    let waited = settled.saturating_sub(other.sent_ns);
                    let s = &mut self.smoothed_rtt[k];
                    *s = *s - *s / 8 + waited / 8;
                }
            }
        }
        self.unanswered_since[l] = if self.live_attempts[l] == 0 {
            0
        } else {
            settled
        };
        let e = self.table.settle(slot);
        self.emit_entry(e, status, settled, Some(via));
    }

    /// The connection of `generation` in slot `l` is gone: its attempts can no longer be
    /// answered, and every intent left without a live attempt is sent again elsewhere.
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
                self.attempt_done(l);
            }
            if !self.table.entry(slot).has_live_attempt() {
                self.push_resend(slot, seq, AttemptKind::Failover);
            }
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
                    self.attempt_done(l);
                }
            }
            self.push_resend(slot, seq, kind);
        }
    }

    fn push_resend(&mut self, slot: u32, seq: u64, kind: AttemptKind) {
        if self.resend.len() == self.resend.capacity() {
            let table = &self.table;
            self.resend.retain(|&(s, q, _)| table.is_in_flight(s, q));
        }
        if self.resend.len() < self.resend.capacity() {
            self.resend.push_back((slot, seq, kind));
        } else {
            // Never reached: at most one live entry per held intent, and the table is smaller.
            log::error!("re-send queue full; the cancel waits for its ack timeout");
        }
    }

    // ----- intents and outcomes -----

    /// Whether every connection of the pool was refused by the venue and none is live. The REST
    /// rung is not tried then: it signs with the same credentials the venue just refused.
    fn all_rejected(&self) -> bool {
        self.rejected.is_some()
            && !self.links.iter().any(Link::is_live)
            && self
                .links
                .iter()
                .filter(|l| !l.is_done())
                .all(|l| l.state() == SessionState::LoginRejected)
    }

    /// Whether there is room to hold one more intent and its outcome.
    #[inline]
    fn has_room(&self) -> bool {
        self.table.len() + self.undelivered.len() < self.table.capacity()
    }

    /// Takes intents from the ring while there is room to hold them and their outcomes.
    fn intake(&mut self) -> bool {
        let mut work = false;
        while self.has_room() {
            let Ok(sub) = self.intents.try_recv() else {
                break;
            };
            work = true;
            self.take_in(sub);
        }
        work
    }

    /// Holds one accepted intent (or decides its outcome at once).
    fn take_in(&mut self, sub: Submission) {
        self.shared.counters.0.intents.incr();
        if self.all_rejected()
            && let Some((code, msg)) = self.rejected
        {
            self.emit_unsent(&sub, NotSentReason::LoginRejected { code, msg });
            return;
        }
        match self
            .table
            .insert_queued(sub.id, sub.cancel, sub.accepted_ns)
        {
            Ok(_) => {}
            Err(InsertError::Duplicate) => self.emit_unsent(&sub, NotSentReason::DuplicateId),
            // Callers check `has_room` first; kept total rather than trusted.
            Err(InsertError::Full) => self.emit_unsent(&sub, NotSentReason::QueueTimeout),
        }
    }

    /// The inline engine's intake: holds `sub` and sends what pacing allows at once, on the
    /// caller's thread. Hands the intent back when the engine is stopping (`Err(true)`) or has
    /// no room (`Err(false)`).
    pub(crate) fn submit(&mut self, sub: Submission) -> Result<(), bool> {
        if self.stopping.is_some() {
            return Err(true);
        }
        if !self.has_room() {
            return Err(false);
        }
        let now = sub.accepted_ns;
        self.take_in(sub);
        // Accepted a moment ago: that is the time it goes out.
        self.send_at(now);
        Ok(())
    }

    /// Draws the next engine-assigned request id.
    #[inline]
    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId::from_u64(self.intents.take_id(&self.shared.submit.0.next_id))
    }

    /// Starts shutting down, as the threaded engine's `shutdown` asks its thread to.
    pub(crate) fn request_shutdown(&mut self) {
        if self.stopping.is_none() {
            self.begin_shutdown(monotonic_ns());
        }
    }

    fn emit_unsent(&mut self, sub: &Submission, reason: NotSentReason) {
        let now = monotonic_ns();
        self.emit(Outcome {
            id: sub.id,
            cancel: sub.cancel,
            status: Status::NotSent(reason),
            times: Timestamps {
                accepted_ns: sub.accepted_ns,
                handed_ns: 0,
                written_ns: 0,
                settled_ns: now,
            },
            attempts: 0,
            via: None,
        });
    }

    fn emit_entry(&mut self, e: Entry, status: Status, now: u64, via: Option<Via>) {
        self.emit(Outcome {
            id: e.id,
            cancel: e.cancel,
            status,
            times: Timestamps {
                accepted_ns: e.accepted_ns,
                handed_ns: e.handed_ns,
                written_ns: e.written_ns,
                settled_ns: now,
            },
            attempts: e.sends,
            via,
        });
    }

    fn emit(&mut self, outcome: Outcome) {
        let counters = &self.shared.counters.0;
        match outcome.status {
            Status::Acked => counters.acked.incr(),
            Status::Rejected { .. } => counters.rejected.incr(),
            Status::Unknown(_) => counters.unknown.incr(),
            Status::NotSent(_) => counters.not_sent.incr(),
        }
        if self.undelivered.is_empty() {
            match self.outcomes.try_send(outcome) {
                Ok(()) => {}
                Err(TrySendError::Full(o)) => self.undelivered.push_back(o),
                // Every handle is gone: nobody can read it.
                Err(TrySendError::Disconnected(_)) => {}
            }
        } else {
            self.undelivered.push_back(outcome);
        }
    }

    fn deliver(&mut self) {
        while let Some(&o) = self.undelivered.front() {
            match self.outcomes.try_send(o) {
                Ok(()) => {
                    self.undelivered.pop_front();
                }
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    self.undelivered.clear();
                    break;
                }
            }
        }
    }

    /// Settles an in-flight intent without a reply.
    fn settle_unanswered(&mut self, slot: u32, reason: UnknownReason, now: u64) {
        let live = self.table.entry(slot).live_links();
        for k in 0..PATHS {
            if live & (1 << k) != 0 {
                self.attempt_done(k);
            }
        }
        let e = self.table.settle(slot);
        self.emit_entry(e, Status::Unknown(reason), now, None);
    }

    /// Every cancel in flight gets `reason`.
    fn fail_in_flight(&mut self, reason: UnknownReason) {
        let now = monotonic_ns();
        while let Some((slot, _)) = self.table.oldest_in_flight() {
            self.settle_unanswered(slot, reason, now);
        }
        for pending in &mut self.awaiting_flush {
            pending.clear();
        }
        self.resend.clear();
        self.rest_in_flight = None;
    }

    /// Every waiting intent gets `reason`.
    fn fail_queued(&mut self, reason: NotSentReason) {
        let now = monotonic_ns();
        while let Some(e) = self.table.pop_queued() {
            self.emit_entry(e, Status::NotSent(reason), now, None);
        }
    }

    fn expire(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some((_, e)) = self.table.front_queued() {
            if e.accepted_ns.saturating_add(self.max_queue) > now {
                break;
            }
            if let Some(e) = self.table.pop_queued() {
                self.emit_entry(e, Status::NotSent(NotSentReason::QueueTimeout), now, None);
            }
            work = true;
        }
        while let Some((slot, e)) = self.table.oldest_in_flight() {
            if e.sent_ns.saturating_add(self.ack_timeout) > now {
                break;
            }
            let reason = if e.has_live_attempt() {
                UnknownReason::AckTimeout
            } else {
                UnknownReason::ConnectionLost
            };
            self.settle_unanswered(slot, reason, now);
            work = true;
        }
        work
    }

    // ----- sending -----

    /// The serving link with the lowest smoothed round trip that may take a cancel now, leaving
    /// out the links in `exclude` (a bit per slot).
    fn best_link(&self, now: u64, exclude: u32) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, link) in self.links.iter().enumerate() {
            if exclude & (1 << i) != 0 || !link.can_take(now) {
                continue;
            }
            let score = self.smoothed_rtt[i].max(self.stalled_for(i, now));
            if best.is_none_or(|(_, b)| score < b) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// How long link `i` has left a cancel sent on it unanswered (0: none waits).
    #[inline]
    fn stalled_for(&self, i: usize, now: u64) -> u64 {
        match self.unanswered_since[i] {
            0 => 0,
            since => now.saturating_sub(since),
        }
    }

    /// An attempt on link `l` is no longer waiting (answered, settled elsewhere, given up).
    #[inline]
    fn attempt_done(&mut self, l: usize) {
        self.live_attempts[l] = self.live_attempts[l].saturating_sub(1);
        if self.live_attempts[l] == 0 {
            self.unanswered_since[l] = 0;
        }
    }

    /// Counts an attempt sent on link `l` at `now`.
    fn attempt_sent(&mut self, l: usize, now: u64) {
        if self.unanswered_since[l] == 0 {
            self.unanswered_since[l] = now;
        }
        self.live_attempts[l] += 1;
        let counters = &self.shared.counters.0;
        counters.sent.incr();
        match counters.links.get(l) {
            Some(link) => link.sent.incr(),
            None => counters.rest_sent.incr(),
        }
    }

    /// Whether a link outside `exclude` serves (whether or not it has budget now).
    fn any_serving(&self, exclude: u32) -> bool {
        self.links
            .iter()
            .enumerate()
            .any(|(i, l)| exclude & (1 << i) == 0 && l.is_serving())
    }

    /// Re-sends, first sends and hedges, as pacing allows. True if anything went out or was
    /// decided.
    fn send(&mut self) -> bool {
        let waiting = !self.resend.is_empty()
            || self.table.front_queued().is_some()
            || !self.hedge_queue.is_empty();
        if !waiting {
            return false;
        }
        // `now` was read at the start of the turn, possibly before intents taken in during the
        // turn were accepted: stamp cancels with the time they go out, since their ack timeout
        // and the pacing window count from it.
        self.send_at(monotonic_ns())
    }

    /// [`EventLoop::send`] at `now`, which must not be earlier than any intent held.
    #[inline]
    fn send_at(&mut self, now: u64) -> bool {
        let mut work = self.send_again(now);
        work |= self.send_first(now);
        if self.table.queued() == 0 && self.resend.is_empty() && self.hedge_after != 0 {
            work |= self.send_hedges(now);
        }
        work
    }

    /// Sends again what lost its connection (or whose connection reported trouble), on another
    /// link; a failover with nowhere to go is settled unknown at once.
    fn send_again(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some(&(slot, seq, kind)) = self.resend.front() {
            if !self.table.is_in_flight(slot, seq) {
                self.resend.pop_front();
                continue;
            }
            let e = self.table.entry(slot);
            let covered = e.has_live_attempt();
            if kind == AttemptKind::Failover && covered {
                self.resend.pop_front();
                continue;
            }
            let exclude = e.live_links();
            let can_send = self.table.can_send_again(slot);
            if can_send && !self.any_serving(exclude) && self.rest_usable(exclude) {
                // No WebSocket left: the REST rung takes it, one request at a time.
                if !self.rest_ready(now) {
                    break;
                }
                self.resend.pop_front();
                if kind == AttemptKind::Failover {
                    self.shared.counters.0.failovers.incr();
                }
                self.send_rest_again(slot, kind, now);
                work = true;
                continue;
            }
            if !can_send || !self.any_serving(exclude) {
                self.resend.pop_front();
                work = true;
                if !covered {
                    // No path left: the cancel may or may not have landed.
                    self.settle_unanswered(slot, UnknownReason::ConnectionLost, now);
                }
                continue;
            }
            if kind == AttemptKind::Hedge && !self.hedges.is_ready(now) {
                // Hedges spent their share of the budget: this one waits for its reply.
                self.resend.pop_front();
                self.shared.counters.0.hedges_capped.incr();
                continue;
            }
            if !self.cancels.is_ready(now) {
                break;
            }
            let Some(l) = self.best_link(now, exclude) else {
                break;
            };
            self.resend.pop_front();
            let counters = &self.shared.counters.0;
            match kind {
                AttemptKind::Failover => counters.failovers.incr(),
                _ => counters.hedges_sent.incr(),
            }
            self.send_attempt(slot, l, kind, now);
            work = true;
        }
        work
    }

    /// Sends waiting intents in arrival order, batching the frames for one link into one write.
    fn send_first(&mut self, now: u64) -> bool {
        let mut work = false;
        let mut batch: Option<usize> = None;
        self.scratch.frames.clear();
        while let Some((_, e)) = self.table.front_queued() {
            let seq = e.seq;
            if !self.cancels.is_ready(now) {
                self.count_pacing_wait(seq);
                break;
            }
            let l = match batch {
                Some(l)
                    if self.links[l].can_take(now)
                        && self.scratch.frames.len() + MAX_CANCEL_FRAME <= BATCH_BYTES =>
                {
                    l
                }
                _ => {
                    if let Some(l) = batch.take() {
                        self.write_batch(l, now);
                    }
                    match self.best_link(now, 0) {
                        Some(l) => l,
                        None => {
                            if self.any_serving(0) {
                                self.count_pacing_wait(seq);
                            } else if self.rest_ready(now) && self.send_rest_first(now) {
                                work = true;
                                continue;
                            }
                            break;
                        }
                    }
                }
            };
            let generation = self.links[l].generation();
            self.links[l].record_message(now);
            self.cancels.record(now);
            let Some(slot) = self.table.send_front(now, l as u8, generation) else {
                break;
            };
            self.attempt_sent(l, now);
            let e = self.table.entry(slot);
            self.scratch.json.clear();
            protocol::encode_cancel(&mut self.scratch.json, &e.id, &e.cancel);
            let mask = self.links[l].next_mask();
            ws::encode_client_frame(
                &mut self.scratch.frames,
                OpCode::Text,
                &self.scratch.json,
                mask,
            );
            self.awaiting_flush[l].push((slot, seq));
            if self.hedge_after != 0 {
                self.push_hedge(slot, seq);
            }
            batch = Some(l);
            work = true;
        }
        if let Some(l) = batch {
            self.write_batch(l, now);
        }
        work
    }

    /// Every intent waiting now waits for pacing; count each once.
    fn count_pacing_wait(&mut self, front_seq: u64) {
        let newest = self.table.arrivals();
        let counted = self.paced_through.max(front_seq - 1);
        self.shared.counters.0.pacing_waits.add(newest - counted);
        self.paced_through = newest;
    }

    fn push_hedge(&mut self, slot: u32, seq: u64) {
        if self.hedge_queue.len() == self.hedge_queue.capacity() {
            let table = &self.table;
            self.hedge_queue.retain(|&(s, q)| table.is_in_flight(s, q));
            if self.hedge_queue.len() == self.hedge_queue.capacity() {
                self.hedge_queue.pop_front();
                self.shared.counters.0.hedges_capped.incr();
            }
        }
        self.hedge_queue.push_back((slot, seq));
    }

    /// Writes the frames built for link `l`.
    fn write_batch(&mut self, l: usize, now: u64) {
        if self.scratch.frames.is_empty() {
            return;
        }
        let written = self.links[l].try_write_stamped(&self.scratch.frames);
        self.scratch.frames.clear();
        self.after_write(l, written, now);
    }

    fn after_write(&mut self, l: usize, written: Result<(bool, u64), SessionError>, now: u64) {
        match written {
            Ok((all, handed)) => {
                self.stamp_handed(l, handed);
                if all {
                    self.stamp_written(l);
                }
            }
            Err(e) => {
                let stopping = self.stopping.is_some();
                self.links[l].lose(
                    e,
                    now,
                    stopping,
                    self.poll.registry(),
                    &self.settings,
                    &mut self.link_events,
                );
                self.apply_link_events(now);
            }
        }
    }

    /// One more attempt of the in-flight intent in `slot`, under a fresh id, on link `l`.
    fn send_attempt(&mut self, slot: u32, l: usize, kind: AttemptKind, now: u64) {
        let id = self.fresh_id();
        let generation = self.links[l].generation();
        self.links[l].record_message(now);
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedges.record(now);
        }
        self.table
            .send_again(slot, id, kind, now, l as u8, generation);
        self.attempt_sent(l, now);
        let e = self.table.entry(slot);
        let seq = e.seq;
        self.scratch.json.clear();
        protocol::encode_cancel(&mut self.scratch.json, &id, &e.cancel);
        self.scratch.frames.clear();
        let mask = self.links[l].next_mask();
        ws::encode_client_frame(
            &mut self.scratch.frames,
            OpCode::Text,
            &self.scratch.json,
            mask,
        );
        self.awaiting_flush[l].push((slot, seq));
        let written = self.links[l].try_write_stamped(&self.scratch.frames);
        self.scratch.frames.clear();
        self.after_write(l, written, now);
    }

    /// A request id no intent or attempt holds: the next engine number.
    /// A request id for another attempt: `r1`, `r2`, ... counted by this engine, so the intents'
    /// own numbering stays unbroken; one a caller's held intent happens to use is skipped.
    fn fresh_id(&mut self) -> RequestId {
        loop {
            self.attempts_made += 1;
            let id = RequestId::attempt(self.attempts_made);
            if !self.table.holds_id(&id) {
                return id;
            }
        }
    }

    /// Hedges first sends that had no reply within the hedge delay, within hedges' share of the
    /// cancel budget.
    fn send_hedges(&mut self, now: u64) -> bool {
        let mut work = false;
        while let Some(&(slot, seq)) = self.hedge_queue.front() {
            if !self.table.is_in_flight(slot, seq) {
                self.hedge_queue.pop_front();
                continue;
            }
            let e = self.table.entry(slot);
            if e.sends > 1 || !e.has_live_attempt() || !self.table.can_send_again(slot) {
                self.hedge_queue.pop_front();
                continue;
            }
            if now < e.first_sent_ns.saturating_add(self.hedge_after) {
                break;
            }
            let exclude = e.live_links();
            if !self.any_serving(exclude) {
                // Nowhere else to send it: it waits for its reply.
                self.hedge_queue.pop_front();
                continue;
            }
            if !self.hedges.is_ready(now) {
                self.hedge_queue.pop_front();
                self.shared.counters.0.hedges_capped.incr();
                continue;
            }
            if !self.cancels.is_ready(now) {
                break;
            }
            let Some(l) = self.best_link(now, exclude) else {
                break;
            };
            self.hedge_queue.pop_front();
            if self.stalled_for(l, now) > self.hedge_after {
                // The only other link is itself not answering: a hedge there helps nothing.
                continue;
            }
            self.shared.counters.0.hedges_sent.incr();
            self.send_attempt(slot, l, AttemptKind::Hedge, now);
            work = true;
        }
        work
    }

    /// Everything encrypted so far on link `l` went to `write(2)` at `handed`: the first time
    /// counts for each intent.
    fn stamp_handed(&mut self, l: usize, handed: u64) {
        for k in 0..self.awaiting_flush[l].len() {
            let (slot, seq) = self.awaiting_flush[l][k];
            if self.table.is_in_flight(slot, seq) {
                let e = self.table.entry_mut(slot);
                if e.handed_ns == 0 {
                    e.handed_ns = handed;
                }
            }
        }
    }

    /// Everything encrypted so far on link `l` is in the kernel now.
    fn stamp_written(&mut self, l: usize) {
        if self.awaiting_flush[l].is_empty() {
            return;
        }
        let written = monotonic_ns();
        for k in 0..self.awaiting_flush[l].len() {
            let (slot, seq) = self.awaiting_flush[l][k];
            if self.table.is_in_flight(slot, seq) {
                let e = self.table.entry_mut(slot);
                if e.written_ns == 0 {
                    e.written_ns = written;
                }
            }
        }
        self.awaiting_flush[l].clear();
    }

    // ----- the REST rung -----

    /// Whether the REST rung can take a cancel now: open, idle, and the account budget allows.
    fn rest_ready(&self, now: u64) -> bool {
        self.rest.as_ref().is_some_and(RestClient::is_ready) && self.cancels.is_ready(now)
    }

    /// Whether the REST rung is a path for an intent whose live attempts are on `exclude`: not
    /// already carrying it, and not down (connected or connecting; busy is fine, it waits).
    fn rest_usable(&self, exclude: u32) -> bool {
        exclude & (1 << REST_LINK) == 0
            && self.rest_started
            && self.rest.as_ref().is_some_and(|r| !r.is_down())
    }

    /// Sends the front waiting intent over REST; false if the client refused it.
    fn send_rest_first(&mut self, now: u64) -> bool {
        let Some((_, e)) = self.table.front_queued() else {
            return false;
        };
        let (seq, cancel) = (e.seq, e.cancel);
        let Some(rest) = self.rest.as_mut() else {
            return false;
        };
        if let Err(e) = rest.send_cancel(seq, &cancel, now, unix_ms()) {
            log::debug!("REST refused a cancel: {e}");
            return false;
        }
        self.cancels.record(now);
        let Some(slot) = self.table.send_front(now, REST_LINK as u8, 0) else {
            return false;
        };
        self.table.entry_mut(slot).written_ns = monotonic_ns();
        self.rest_in_flight = Some((slot, seq));
        self.attempt_sent(REST_LINK, now);
        true
    }

    /// Sends an in-flight intent again over REST (its WebSocket path is gone).
    fn send_rest_again(&mut self, slot: u32, kind: AttemptKind, now: u64) {
        let e = self.table.entry(slot);
        let (seq, cancel) = (e.seq, e.cancel);
        let sent = match self.rest.as_mut() {
            Some(rest) => rest.send_cancel(seq, &cancel, now, unix_ms()),
            None => return,
        };
        if let Err(e) = sent {
            log::debug!("REST refused a cancel: {e}");
            if !self.table.entry(slot).has_live_attempt() {
                self.settle_unanswered(slot, UnknownReason::ConnectionLost, now);
            }
            return;
        }
        let id = self.fresh_id();
        self.cancels.record(now);
        if kind == AttemptKind::Hedge {
            self.hedges.record(now);
        }
        self.table
            .send_again(slot, id, kind, now, REST_LINK as u8, 0);
        let e = self.table.entry_mut(slot);
        if e.written_ns == 0 {
            e.written_ns = monotonic_ns();
        }
        self.rest_in_flight = Some((slot, seq));
        self.attempt_sent(REST_LINK, now);
    }

    /// Starts the REST client (resolving its host) and lets it do its I/O and timers when an
    /// event or a deadline calls for it; true if anything happened.
    fn drive_rest(&mut self, now: u64) -> bool {
        let Some(rest) = self.rest.as_mut() else {
            return false;
        };
        let mut work = false;
        if !self.rest_started {
            if self.stopping.is_some() || now < self.rest_retry_at {
                return false;
            }
            match rest.start(now) {
                Ok(()) => {
                    self.rest_started = true;
                    work = true;
                }
                Err(e) => {
                    log::warn!("REST rung: {e}; trying again in 30 s");
                    self.rest_retry_at = now.saturating_add(REST_RESOLVE_RETRY_NS);
                    return false;
                }
            }
        }
        let due = self.rest_event || rest.next_deadline().is_some_and(|d| d <= now);
        if !due {
            return work;
        }
        self.rest_event = false;
        rest.advance(self.poll.registry(), now, unix_ms(), &mut self.rest_events);
        let counters = &self.shared.counters.0;
        counters.rest_connected.set(u64::from(rest.is_open()));
        if let Some(offset) = rest.clock_offset_ms() {
            counters.clock_offset_ms.set(offset as u64);
            counters.clock_synced.set(1);
            self.settings.clock_offset_ms = offset;
        }
        self.apply_rest_events(now);
        true
    }

    /// Acts on what the REST client reported.
    fn apply_rest_events(&mut self, now: u64) {
        let mut events = std::mem::take(&mut self.rest_events);
        for event in &events {
            match event {
                RestEvent::Reply { tag, verdict, .. } => {
                    self.shared.counters.0.rest_replies.incr();
                    let status = match *verdict {
                        Verdict::Acked => Status::Acked,
                        Verdict::Rejected { code, msg } => Status::Rejected { code, msg },
                    };
                    match self.take_rest_attempt(*tag) {
                        Some((slot, a)) => self.settle_reply(slot, a, REST_LINK, status, Via::Rest),
                        None => self.shared.counters.0.late_replies.incr(),
                    }
                }
                RestEvent::Failed { tag, error } => {
                    self.shared.counters.0.rest_failures.incr();
                    log::warn!("a cancel over REST got no verdict: {error}");
                    let Some((slot, a)) = self.take_rest_attempt(*tag) else {
                        continue;
                    };
                    let seq = self.table.entry(slot).seq;
                    self.table.entry_mut(slot).attempts[a].state = AttemptState::Dead;
                    self.attempt_done(REST_LINK);
                    if self.table.entry(slot).has_live_attempt() {
                        continue;
                    }
                    if self.stopping.is_none() && self.any_serving(0) {
                        self.push_resend(slot, seq, AttemptKind::Failover);
                    } else {
                        let reason = match error {
                            _ if self.stopping.is_some() => UnknownReason::Shutdown,
                            RestError::Timeout(_) => UnknownReason::AckTimeout,
                            _ => UnknownReason::ConnectionLost,
                        };
                        self.settle_unanswered(slot, reason, now);
                    }
                }
                RestEvent::Connected => log::info!("REST rung connected"),
                RestEvent::Lost(e) => log::info!("REST connection ended: {e}"),
            }
        }
        events.clear();
        self.rest_events = events;
    }

    /// The in-flight intent and attempt the REST request with `tag` carried, if it is still in
    /// flight; clears the REST slot either way when the tag is its.
    fn take_rest_attempt(&mut self, tag: u64) -> Option<(u32, usize)> {
        let (slot, seq) = self.rest_in_flight.filter(|&(_, seq)| seq == tag)?;
        self.rest_in_flight = None;
        if !self.table.is_in_flight(slot, seq) {
            return None;
        }
        let e = self.table.entry(slot);
        let a = (0..e.sends as usize).rev().find(|&a| {
            e.attempts[a].link as usize == REST_LINK && e.attempts[a].state == AttemptState::Live
        })?;
        Some((slot, a))
    }

    // ----- the pool -----

    /// Round-trip percentiles and rotation by age; true if anything happened.
    fn housekeeping(&mut self, now: u64) -> bool {
        if now >= self.next_rtt_update {
            self.next_rtt_update = now + RTT_UPDATE_NS;
            self.update_rtt_stats();
        }
        if self.stopping.is_some() {
            return false;
        }
        match self.rotation {
            None => self.maybe_start_rotation(now),
            Some(r) if r.drain_deadline == 0 => {
                // The replacement is still connecting; the old link serves meanwhile. If the old
                // one went away on its own, it reconnects in its slot: stop the rotation.
                if !self.links[r.old].is_serving() && !self.links[r.old].is_live() {
                    self.links[r.new].close(now, self.poll.registry(), &mut self.scratch);
                    self.rotation = None;
                    return true;
                }
                false
            }
            Some(r) => {
                if self.links[r.old].is_done() {
                    self.rotation = None;
                    return true;
                }
                if self.links[r.old].is_live()
                    && (self.live_attempts[r.old] == 0 || now >= r.drain_deadline)
                {
                    // What is still unanswered there goes out elsewhere.
                    self.requeue_attempts_on(r.old, AttemptKind::Failover, true);
                    self.links[r.old].close(now, self.poll.registry(), &mut self.scratch);
                    return true;
                }
                if !self.links[r.old].is_live() && !self.links[r.old].is_done() {
                    self.links[r.old].abort(self.poll.registry());
                    return true;
                }
                false
            }
        }
    }

    fn maybe_start_rotation(&mut self, now: u64) -> bool {
        let aged = self
            .links
            .iter()
            .position(|l| l.is_serving() && now.saturating_sub(l.live_since()) >= self.max_age);
        let Some(old) = aged else {
            return false;
        };
        let Some(new) = self.links.iter().position(Link::is_done) else {
            return false;
        };
        log::info!(
            "connection {old} is {:?} old: connecting its replacement in slot {new}",
            Duration::from_nanos(now.saturating_sub(self.links[old].live_since()))
        );
        self.links[new].enable(now);
        self.rotation = Some(Rotation {
            old,
            new,
            drain_deadline: 0,
        });
        true
    }

    fn update_rtt_stats(&mut self) {
        let counters = &self.shared.counters.0;
        for (i, window) in self.link_rtt.iter_mut().enumerate() {
            if let Some((p50, p99)) = window.percentiles(&mut self.rtt_scratch) {
                counters.links[i].rtt_p50_ns.set(p50);
                counters.links[i].rtt_p99_ns.set(p99);
            }
        }
        if self.hedge == HedgeAfter::Adaptive
            && self.pool_rtt.len() >= MIN_RTT_SAMPLES
            && let Some((p50, p99)) = self.pool_rtt.percentiles(&mut self.rtt_scratch)
        {
            self.hedge_after = p50
                .saturating_mul(3)
                .max(p99)
                .max(MIN_HEDGE_NS)
                .min((self.ack_timeout / 2).max(MIN_HEDGE_NS));
            counters.hedge_after_ns.set(self.hedge_after);
        }
    }

    /// Publishes each link's state and the pool's, where they changed.
    fn publish_states(&mut self) {
        let counters = &self.shared.counters.0;
        let mut pool = SessionState::Backoff;
        let rank = |s: SessionState| match s {
            SessionState::Live => 5,
            SessionState::LoggingIn => 4,
            SessionState::Connecting => 3,
            SessionState::LoginRejected => 2,
            SessionState::Backoff => 1,
            SessionState::Stopped => 0,
        };
        let mut any = false;
        for (i, link) in self.links.iter().enumerate() {
            let state = link.state();
            if state != self.published[i] {
                self.published[i] = state;
                counters.links[i].set_state(state);
            }
            if !link.is_done() {
                if !any || rank(state) > rank(pool) {
                    pool = state;
                }
                any = true;
            }
        }
        if self.rest_only {
            pool = if self.rest.as_ref().is_some_and(RestClient::is_open) {
                SessionState::Live
            } else {
                SessionState::Connecting
            };
            any = true;
        }
        if self.stopping.is_none() && any && pool != self.published_pool {
            self.published_pool = pool;
            self.shared.set_state(pool);
        }
    }

    // ----- shutdown -----

    /// Stops taking intents: everything not yet sent is reported not sent.
    fn begin_shutdown(&mut self, now: u64) {
        let shared = &self.shared;
        shared.stopped.0.store(true, Ordering::SeqCst);
        // A handle that saw `stopped` false is between two instructions: wait for its push.
        while shared.submit.0.submitting.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
        while let Ok(sub) = self.intents.try_recv() {
            self.shared.counters.0.intents.incr();
            self.emit_unsent(&sub, NotSentReason::Shutdown);
        }
        self.fail_queued(NotSentReason::Shutdown);
        self.stopping = Some(now.saturating_add(self.shutdown_grace));
        log::info!(
            "shutting down with {} cancels in flight",
            self.table.in_flight()
        );
    }

    /// Waits for replies in flight, then closes every link; true while there is work.
    fn shutdown_step(&mut self, now: u64) -> bool {
        let grace_over = self.stopping.is_some_and(|d| now >= d);
        // A reply can still come on a live link or to the request on the REST connection.
        let live = self.links.iter().any(Link::is_live) || self.rest_in_flight.is_some();
        if !(self.table.in_flight() == 0 || grace_over || !live) {
            return false;
        }
        let mut work = false;
        if self.table.in_flight() > 0 {
            self.fail_in_flight(UnknownReason::Shutdown);
            work = true;
        }
        for i in 0..self.links.len() {
            let link = &self.links[i];
            if link.is_done() || link.state() == SessionState::Stopped {
                continue;
            }
            self.links[i].close(now, self.poll.registry(), &mut self.scratch);
            work = true;
        }
        if self.rest_started
            && let Some(rest) = self.rest.as_mut()
        {
            rest.shutdown(self.poll.registry(), &mut self.rest_events);
            self.rest_started = false;
            self.apply_rest_events(now);
            work = true;
        }
        work
    }

    /// Reports whatever is left and hands every outcome over.
    pub(crate) fn finish(&mut self) {
        self.fail_in_flight(UnknownReason::Shutdown);
        self.fail_queued(NotSentReason::Shutdown);
        while let Ok(sub) = self.intents.try_recv() {
            self.emit_unsent(&sub, NotSentReason::Shutdown);
        }
        self.deliver();
        // The caller may not be reading: what does not fit waits where handles look last.
        for outcome in self.undelivered.drain(..) {
            self.shared.push_late_outcome(outcome);
        }
        for link in &self.shared.counters.0.links {
            link.set_state(SessionState::Stopped);
        }
        self.shared.set_state(SessionState::Stopped);
        log::info!("engine stopped");
    }
}
