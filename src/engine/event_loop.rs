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
use super::link::{Link, LinkCx, LinkEvent, LinkSettings, OVER_LIMIT_CLOSE, Scratch, ns, unix_ms};
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

mod pool;
mod rest_rung;
mod sending;

/// What a link needs for one call, from the loop's own fields (a macro, so that the borrow of
/// each field stays apart from the borrow of the link itself).
macro_rules! link_cx {
    ($loop:ident, $now:expr) => {
        &mut LinkCx {
            now: $now,
            stopping: $loop.stopping.is_some(),
            registry: $loop.poll.registry(),
            settings: &$loop.settings,
            scratch: &mut $loop.scratch,
            events: &mut $loop.link_events,
        }
    };
}
use link_cx;

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

    /// The earliest time something has to happen (the inline engine parks until then).
    pub(crate) fn next_deadline(&self, now: u64) -> u64 {
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
            work |= self.links[i].read(link_cx!(self, now));
            work |= self.apply_link_events(now);
            work |= self.links[i].advance(link_cx!(self, now));
            work |= self.apply_link_events(now);
        }
        work |= self.drive_rest(now);
        if !stopping {
            work |= self.intake();
        }
        work |= self.send();
        for i in 0..self.links.len() {
            self.links[i].flush(link_cx!(self, now));
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
