//! Fakes for the tests of the account's policy, with no socket anywhere: link views that are
//! only a state, links that record what they were given to send and report what the test tells
//! them to, a clock moved by hand, and an account (`Bench`) built over them.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::{Poll, Registry};

use super::super::config::{Config, ConfigBuilder, Credentials};
use super::super::handle::Submission;
use super::super::link::{LinkCx, LinkEvent, LinkSeam, LinkSettings, LinkView, Scratch};
use super::super::pacing::RateLimiter;
use super::super::plumbing::{CallerInserts, OutcomeQueue};
use super::super::shared::{SessionError, SessionState, Shared, Stats};
use super::{Account, link_settings};
use crate::clock::Clock;
use crate::intent::{Cancel, InstId, InstType, OrderRef, RequestId};
use crate::outcome::{Outcome, VenueMsg};
use crate::venue::{Dialect, Verdict};

pub(crate) const MS: u64 = 1_000_000;

/// A link as the policy sees it, and nothing more.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    live: bool,
    serving: bool,
    done: bool,
    can_take: bool,
    live_since: u64,
}

impl View {
    /// Live since 0, taking cancels.
    pub(crate) fn serving() -> Self {
        View {
            live: true,
            serving: true,
            done: false,
            can_take: true,
            live_since: 0,
        }
    }

    /// Live, serving, out of message budget now.
    pub(crate) fn busy() -> Self {
        View {
            can_take: false,
            ..View::serving()
        }
    }

    /// Live, taking no new cancels.
    pub(crate) fn draining() -> Self {
        View {
            serving: false,
            can_take: false,
            ..View::serving()
        }
    }

    /// On its way up (or backing off).
    pub(crate) fn connecting() -> Self {
        View {
            live: false,
            serving: false,
            done: false,
            can_take: false,
            live_since: 0,
        }
    }

    /// Not in use.
    pub(crate) fn down() -> Self {
        View {
            done: true,
            ..View::connecting()
        }
    }
}

impl LinkView for View {
    fn is_live(&self) -> bool {
        self.live
    }
    fn is_serving(&self) -> bool {
        self.serving
    }
    fn is_done(&self) -> bool {
        self.done
    }
    fn can_take(&self, _now: u64) -> bool {
        self.can_take
    }
    fn live_since(&self) -> u64 {
        self.live_since
    }
}

/// A clock the test moves.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeClock(Rc<Cell<u64>>);

impl FakeClock {
    pub(crate) fn advance(&self, ns: u64) {
        self.0.set(self.0.get() + ns);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> u64 {
        self.0.get()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FakeState {
    /// Not connected: backing off (`done: false`) or not in use (`done: true`).
    Down {
        done: bool,
    },
    Connecting,
    Live,
    /// The venue refused the credentials.
    Refused,
}

/// A connection that is only a state: it records the request ids it was given to send, and
/// reports the events the test queues for it at its next read.
#[derive(Debug)]
pub(crate) struct FakeLink {
    index: u8,
    /// Where it connects (a replacement takes its predecessor's).
    url: String,
    state: FakeState,
    draining: bool,
    retiring: bool,
    generation: u32,
    live_since: u64,
    budget: RateLimiter,
    clock: FakeClock,
    /// Built into frames, not yet written.
    pending: Vec<RequestId>,
    /// Written, in order.
    pub(crate) sent: Vec<RequestId>,
    /// Every cancel built into a frame, with the dialect it was encoded in (a batch: its id).
    pub(crate) encoded: Vec<(RequestId, Dialect)>,
    /// Every batch built into a frame: its id and how many entries.
    pub(crate) batches: Vec<(RequestId, usize)>,
    /// When each of `sent` was written.
    pub(crate) sent_at: Vec<u64>,
    /// How many of `sent` [`FakeLink::answer_all`] answered so far.
    answered: usize,
    /// Reported at the next read.
    pub(crate) inbox: Vec<LinkEvent>,
    /// The next read finds the connection broken.
    pub(crate) drop_on_read: bool,
    /// Times the account asked it to probe the venue with a `ping`.
    pub(crate) probes: u32,
    error: Option<SessionError>,
    /// The dialect of its current attempt: the account's when the attempt began (as a real
    /// link picks it when it dials).
    speaks: Dialect,
}

impl FakeLink {
    fn new(index: u8, enabled: bool, settings: &LinkSettings, clock: FakeClock) -> Self {
        FakeLink {
            index,
            url: format!("wss://fake.invalid/{index}"),
            state: if enabled {
                FakeState::Connecting
            } else {
                FakeState::Down { done: true }
            },
            draining: false,
            retiring: false,
            generation: 0,
            live_since: 0,
            budget: RateLimiter::new(settings.messages_per_second, settings.window),
            clock,
            pending: Vec::new(),
            sent: Vec::new(),
            encoded: Vec::new(),
            batches: Vec::new(),
            sent_at: Vec::new(),
            answered: 0,
            inbox: Vec::new(),
            drop_on_read: false,
            probes: 0,
            error: None,
            speaks: settings.dialect,
        }
    }

    /// Logs in now: reports `Live` at the next read.
    pub(crate) fn log_in(&mut self) {
        self.state = FakeState::Live;
        self.generation += 1;
        self.live_since = self.clock.now();
        self.draining = self.retiring;
        self.inbox.push(LinkEvent::Live);
    }

    /// The venue refuses the login now: reports `LoginRejected` at the next read.
    pub(crate) fn refuse(&mut self, code: i64, msg: &str) {
        self.state = FakeState::Refused;
        self.inbox.push(LinkEvent::LoginRejected {
            code,
            msg: VenueMsg::new(msg),
        });
    }

    /// The venue's verdict on the request `id`, reported at the next read.
    pub(crate) fn reply(&mut self, id: &str, verdict: Verdict) {
        self.inbox.push(LinkEvent::Reply {
            id: RequestId::new(id).ok(),
            verdict,
        });
    }

    /// A push on the order channel about order `n`, reported at the next read.
    pub(crate) fn push(&mut self, n: u64, status: crate::final_word::OrderStatus, filled: &str) {
        self.inbox
            .push(LinkEvent::Push(crate::final_word::OrderUpdate {
                inst_type: Some(InstType::Spot),
                order_id: crate::intent::OrderId::new(&n.to_string()).ok(),
                client_oid: None,
                status,
                filled: crate::final_word::Decimal::new(filled),
                price_avg: None,
                cancel_reason: None,
                updated_ms: None,
            }));
    }

    /// Whether it is logged in (the view the account has of it).
    pub(crate) fn is_live_for_test(&self) -> bool {
        self.state == FakeState::Live
    }

    /// The ids written so far, as text.
    pub(crate) fn sent_ids(&self) -> Vec<String> {
        self.sent.iter().map(|id| id.as_str().to_owned()).collect()
    }

    /// Answers every request written since the last call with `verdict` (at the next read).
    pub(crate) fn answer_all(&mut self, verdict: Verdict) {
        for id in &self.sent[self.answered..] {
            self.inbox.push(LinkEvent::Reply {
                id: Some(*id),
                verdict,
            });
        }
        self.answered = self.sent.len();
    }

    /// A venue error naming no request, reported at the next read.
    pub(crate) fn venue_error(&mut self, closing: bool, rate_limited: bool) {
        self.inbox.push(LinkEvent::VenueError {
            closing,
            rate_limited,
        });
    }
}

impl LinkView for FakeLink {
    fn is_live(&self) -> bool {
        self.state == FakeState::Live
    }
    fn is_serving(&self) -> bool {
        self.is_live() && !self.draining
    }
    fn is_done(&self) -> bool {
        self.state == FakeState::Down { done: true }
    }
    fn can_take(&self, now: u64) -> bool {
        self.is_serving() && self.budget.is_ready(now)
    }
    fn live_since(&self) -> u64 {
        self.live_since
    }
}

impl LinkSeam for FakeLink {
    fn state(&self) -> SessionState {
        match self.state {
            FakeState::Live => SessionState::Live,
            FakeState::Connecting => SessionState::Connecting,
            FakeState::Refused => SessionState::LoginRejected,
            FakeState::Down { done: false } => SessionState::Backoff,
            FakeState::Down { done: true } => SessionState::Stopped,
        }
    }
    fn generation(&self) -> u32 {
        self.generation
    }
    fn url(&self) -> &str {
        &self.url
    }
    fn speaks(&self) -> Dialect {
        self.speaks
    }
    fn ready_at(&self) -> u64 {
        self.budget.ready_at()
    }
    fn wants_write(&self) -> bool {
        false
    }
    fn needs_poller(&self) -> bool {
        false
    }
    fn next_deadline(&self, _settings: &LinkSettings) -> u64 {
        u64::MAX
    }
    fn take_error(&mut self) -> Option<SessionError> {
        self.error.take()
    }
    fn on_socket_event(&mut self, _readable: bool) {}
    fn read_directly(&mut self) {}
    fn read(&mut self, cx: &mut LinkCx<'_>) -> bool {
        if self.drop_on_read {
            self.drop_on_read = false;
            self.lose(SessionError::Io("dropped by the test".into()), cx);
            return true;
        }
        let any = !self.inbox.is_empty();
        for event in self.inbox.drain(..) {
            cx.events.push((self.index, event));
        }
        any
    }
    fn advance(&mut self, cx: &mut LinkCx<'_>) -> bool {
        if !matches!(self.state, FakeState::Live) {
            self.speaks = cx.settings.dialect;
        }
        false
    }
    fn append_cancel(
        &mut self,
        frames: &mut Vec<u8>,
        _json: &mut Vec<u8>,
        dialect: Dialect,
        id: &RequestId,
        _cancel: &Cancel,
    ) {
        frames.push(b'.');
        self.pending.push(*id);
        self.encoded.push((*id, dialect));
    }
    fn append_batch(
        &mut self,
        frames: &mut Vec<u8>,
        _json: &mut Vec<u8>,
        id: &RequestId,
        _key: crate::venue::v3::BatchKey,
        cancels: &[Cancel],
    ) {
        frames.push(b'.');
        self.pending.push(*id);
        self.encoded.push((*id, Dialect::V3));
        self.batches.push((*id, cancels.len()));
    }
    fn record_message(&mut self, now: u64) {
        self.budget.record(now);
    }
    fn write_frames(&mut self, _frames: &[u8]) -> Result<(bool, u64), SessionError> {
        let now = self.clock.now();
        self.sent_at.extend(self.pending.iter().map(|_| now));
        self.sent.append(&mut self.pending);
        Ok((true, now))
    }
    fn flush(&mut self, _cx: &mut LinkCx<'_>) {}
    fn enable(&mut self, _now: u64) {
        if self.is_done() {
            self.state = FakeState::Connecting;
            self.draining = false;
            self.retiring = false;
        }
    }
    fn drain(&mut self, retire: bool) {
        self.draining = true;
        self.retiring |= retire;
    }
    fn resume(&mut self) {
        if self.is_live() {
            self.draining = false;
            self.retiring = false;
        }
    }
    fn lose(&mut self, error: SessionError, cx: &mut LinkCx<'_>) {
        let was_live = self.is_live();
        cx.events.push((
            self.index,
            LinkEvent::Lost {
                generation: self.generation,
                was_live,
            },
        ));
        self.state = FakeState::Down {
            done: cx.stopping || self.retiring,
        };
        self.draining = false;
        self.pending.clear();
        self.error = Some(error);
    }
    fn close(&mut self, _now: u64, _registry: &Registry, _scratch: &mut Scratch) {
        self.retiring = true;
        self.draining = true;
        self.state = FakeState::Down { done: true };
    }
    fn abort(&mut self, _registry: &Registry) {
        self.state = FakeState::Down { done: true };
    }
    fn probe(&mut self, _now: u64) {
        self.probes += 1;
    }
    fn adopt_endpoint(&mut self, other: &Self) {
        if self.is_done() {
            self.url.clone_from(&other.url);
        }
    }
}

/// The credentials every bench signs with (nothing is ever signed).
fn credentials() -> Credentials {
    Credentials::new("key", "secret", "passphrase").unwrap()
}

/// An account over fake links and a fake clock, with the inline engine's plumbing.
pub(crate) struct Bench {
    pub(crate) account: Account<CallerInserts, OutcomeQueue, FakeLink, FakeClock>,
    pub(crate) clock: FakeClock,
    _poll: Poll,
}

impl Bench {
    /// `connections` links (none logged in yet) and the spare slot; no REST rung; `tune`
    /// changes the rest of the configuration.
    pub(crate) fn new(
        connections: usize,
        tune: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Bench {
        let config: Config = tune(
            Config::builder(credentials())
                .connections(connections)
                .no_rest(),
        )
        .build()
        .expect("a valid configuration");
        let clock = FakeClock::default();
        // Far from 0, which the table and the router read as "never".
        clock.advance(1_000 * MS);
        let settings = link_settings(&config, super::unified::initial_dialect(&config));
        let links = (0..=connections)
            .map(|i| FakeLink::new(i as u8, i < connections, &settings, clock.clone()))
            .collect();
        let poll = Poll::new().expect("a poller");
        let registry = poll.registry().try_clone().expect("its registry");
        let account = Account::with_links(
            &config,
            settings,
            links,
            None,
            registry,
            clock.clone(),
            Arc::new(Shared::new()),
            CallerInserts,
            OutcomeQueue::with_capacity(config.outcome_capacity),
        );
        Bench {
            account,
            clock,
            _poll: poll,
        }
    }

    /// The link in slot `i`.
    pub(crate) fn link(&mut self, i: usize) -> &mut FakeLink {
        &mut self.account.links[i]
    }

    /// One turn at the clock's time.
    pub(crate) fn turn(&mut self) {
        self.account.turn(self.clock.now());
    }

    /// Moves the clock, then turns.
    pub(crate) fn after(&mut self, ns: u64) {
        self.clock.advance(ns);
        self.turn();
    }

    /// Links `slots` log in (one turn).
    pub(crate) fn log_in(&mut self, slots: &[usize]) {
        for &i in slots {
            self.link(i).log_in();
        }
        self.turn();
    }

    /// Submits a cancel of order `n` now, as the inline engine does; the id its outcome
    /// carries (its first send's wire id).
    pub(crate) fn cancel(&mut self, n: u64) -> RequestId {
        self.cancel_with_priority(n, 0)
    }

    /// [`Self::cancel`] with a priority.
    pub(crate) fn cancel_with_priority(&mut self, n: u64, priority: u8) -> RequestId {
        let (wire, id) = self.account.next_wire_id();
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::order_id(&n.to_string()).unwrap(),
        )
        .with_tag(n)
        .priority(priority);
        let sub = Submission {
            id,
            wire,
            cancel,
            accepted_ns: self.clock.now(),
            cancel_all: false,
        };
        self.account.submit(sub).expect("room for the cancel");
        id
    }

    /// Submits a cancel of order `n` labelled `label` (the caller's id); the id its outcome
    /// carries.
    pub(crate) fn cancel_labelled(&mut self, n: u64, label: RequestId) -> RequestId {
        let (wire, _) = self.account.next_wire_id();
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::order_id(&n.to_string()).unwrap(),
        )
        .with_tag(n)
        .with_id(label);
        let sub = Submission {
            id: label,
            wire,
            cancel,
            accepted_ns: self.clock.now(),
            cancel_all: false,
        };
        self.account.submit(sub).expect("room for the cancel");
        label
    }

    /// The wire id of send number `n` (the first send of the first cancel is 1, and every
    /// send after draws the next).
    pub(crate) fn wire(&self, n: u64) -> String {
        self.account.wire_ids.id(n).as_str().to_owned()
    }

    /// The final words delivered so far, in order.
    pub(crate) fn finals(&mut self) -> Vec<crate::final_word::FinalWord> {
        std::iter::from_fn(|| self.account.pop_final()).collect()
    }

    /// The outcomes decided so far, in order.
    pub(crate) fn outcomes(&mut self) -> Vec<Outcome> {
        let mut out = Vec::new();
        while let Some(o) = self.account.out.sink.pop() {
            out.push(o);
        }
        out
    }

    /// How many outcomes wait to be read.
    pub(crate) fn outcomes_len(&self) -> usize {
        self.account.out.sink.len()
    }

    pub(crate) fn stats(&self) -> Stats {
        self.account.shared.counters.0.snapshot()
    }
}

/// An ack.
pub(crate) const ACKED: Verdict = Verdict::Acked;

/// A rejection with this code.
pub(crate) fn rejected(code: i64) -> Verdict {
    Verdict::Rejected {
        code,
        msg: VenueMsg::new("refused"),
    }
}

/// A duration in ns.
pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
