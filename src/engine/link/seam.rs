//! The seam between one connection ([`Link`](super::Link)) and the conductor that drives many:
//! every call the conductor may make on a link is a method of [`LinkSeam`], every thing a link
//! can report is a [`LinkEvent`]. In the manner of a sans-IO connection (quinn-proto's
//! `Connection`), and documented like rustls's `kernel.rs`:
//!
//! - **In**: socket readiness ([`LinkSeam::on_socket_event`], [`LinkSeam::read_directly`]),
//!   bytes ([`LinkSeam::read`]) and time ([`LinkSeam::advance`]: connection steps, keepalive,
//!   deadlines).
//! - **Out**: the conductor builds frames with [`LinkSeam::append_cancel`] and hands them over
//!   with [`LinkSeam::write_frames`]. Precondition: [`LinkView::can_take`] said yes at this
//!   `now` (live, not draining, within the message budget, nothing left unflushed), and
//!   [`LinkSeam::record_message`] counted each frame against the budget.
//! - **Lifecycle**: [`LinkSeam::enable`] (a spare slot taken into use, at the endpoint
//!   [`LinkSeam::adopt_endpoint`] gave it), [`LinkSeam::drain`] (no new cancels),
//!   [`LinkSeam::resume`] (a drain called off), [`LinkSeam::close`] (close frame, then done),
//!   [`LinkSeam::abort`], [`LinkSeam::lose`] (an error the conductor met writing),
//!   [`LinkSeam::probe`] (a `ping` now: a cancel waits unanswered too long).
//! - **What moves**: a link never sees an intent, the in-flight table or an outcome. When a
//!   connection ends it reports [`LinkEvent::Lost`] with the generation that ended; every
//!   attempt the conductor sent on that generation is then the conductor's to send again. A
//!   slot's generation grows with each connection, so a late event of a replaced connection is
//!   never credited to its successor.
//!
//! [`LinkView`] is the read-only part the policy (routing, hedging, rotation) looks at: a
//! snapshot of each link, which its unit tests fake without a socket.

use mio::Registry;

use crate::backoff::ReconnectBackoff;
use crate::credentials::Credentials;
use crate::engine::shared::{SessionError, SessionState};
use crate::final_word::OrderUpdate;
use crate::intent::{Cancel, RequestId};
use crate::outcome::VenueMsg;
use crate::venue::{Dialect, InboundDecoder, Verdict};
use crate::ws::Limits;

/// Size limits for the venue's frames: its replies are well under 1 KiB.
pub(crate) const LIMITS: Limits = Limits {
    max_frame: 64 * 1024,
    max_message: 64 * 1024,
};

/// What every link is told: the settings they share, in nanoseconds.
#[derive(Debug)]
pub(crate) struct LinkSettings {
    pub ping_interval: u64,
    pub pong_deadline: u64,
    pub connect_timeout: u64,
    pub login_retry_after: Option<u64>,
    pub reconnect: ReconnectBackoff,
    pub messages_per_second: u32,
    pub window: u64,
    pub credentials: Credentials,
    /// The venue's API the account speaks.
    pub dialect: Dialect,
    /// A link that cannot hand its bytes to the kernel for this long is torn down.
    pub write_timeout: u64,
    /// The venue's clock minus ours, in milliseconds (from the REST rung's server time, or a
    /// WebSocket upgrade's `Date` header; 0 until known): login timestamps use our clock
    /// corrected by it.
    pub clock_offset_ms: i64,
    /// The offset was measured over REST (to the millisecond); a `Date` header (to the second)
    /// is then not used.
    pub clock_measured: bool,
    /// Logins may go out: false while the account waits (briefly) for the venue's clock, at
    /// start and after a login refused for its timestamp.
    pub clock_ready: bool,
    /// With the final word on: the order channel's subscription, sent once logged in.
    pub subscribe: Option<Subscription>,
}

/// The subscription a link sends once logged in, when the final word is on.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// The request's text (the dialect's `encode_subscribe`).
    pub text: Vec<u8>,
    /// How many acknowledgements the venue sends for it.
    pub acks: usize,
    /// How long the link waits for them before it serves anyway.
    pub grace: u64,
}

/// How a link's subscription to the order channel ended, reported just before it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionEnd {
    /// Every part acknowledged.
    Acked,
    /// The venue refused it (or answered with an error naming no request).
    Refused { code: i64 },
    /// No answer within the grace.
    Unanswered,
}

/// Buffers the links share, owned by the engine and lent to one link at a time.
#[derive(Debug)]
pub(crate) struct Scratch {
    pub json: Vec<u8>,
    pub frames: Vec<u8>,
    pub replies: InboundDecoder,
}

impl Scratch {
    pub(crate) fn new(json_capacity: usize, frames_capacity: usize) -> Self {
        Scratch {
            json: Vec::with_capacity(json_capacity),
            frames: Vec::with_capacity(frames_capacity),
            replies: InboundDecoder::with_capacity(LIMITS.max_message),
        }
    }
}

/// What a link needs from the engine for one call: the time, whether the engine is shutting
/// down, the poller's registry, the settings and buffers the links share, and where to report.
#[derive(Debug)]
pub(crate) struct LinkCx<'a> {
    pub now: u64,
    pub stopping: bool,
    pub registry: &'a Registry,
    pub settings: &'a LinkSettings,
    pub scratch: &'a mut Scratch,
    pub events: &'a mut Vec<(u8, LinkEvent)>,
}

/// What a link reports to the engine.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkEvent {
    /// Logged in (and, with the final word on, subscribed or given up waiting): cancels may go
    /// out on it.
    Live,
    /// The subscription to the order channel ended this way; `Live` follows at once.
    Subscribed(SubscriptionEnd),
    /// One order of a push on the order channel.
    Push(OrderUpdate),
    /// The venue's verdict on one request.
    Reply {
        /// `None` when the echoed id cannot be one of ours.
        id: Option<RequestId>,
        verdict: Verdict,
    },
    /// The venue's verdict on one entry of the batch request `batch`.
    BatchEntry {
        /// `None` when the echoed id cannot be one of ours.
        batch: Option<RequestId>,
        entry: crate::venue::BatchEntry,
    },
    /// An error that names no request ("request too many", "over limit" before a close, ...):
    /// a sign of trouble on this connection; `closing` when the venue closes it next,
    /// `rate_limited` when it says a rate limit was reached.
    VenueError { closing: bool, rate_limited: bool },
    /// The venue refused the credentials.
    LoginRejected { code: i64, msg: VenueMsg },
    /// The venue refused the login for its timestamp: the clock needs measuring again (the
    /// link backs off and tries again; this never counts as refused credentials).
    ClockRefused,
    /// The upgrade reply's `Date` header put the venue's clock this far from ours (ms), to
    /// the second.
    ServerDate { offset_ms: i64 },
    /// The connection of this generation ended (or an attempt to make one failed); the link
    /// backs off and reconnects on its own unless it was retired.
    Lost { generation: u32, was_live: bool },
    /// Everything handed to the link so far is in the kernel.
    Flushed,
    /// A well-formed message it cannot read was skipped.
    Unreadable,
    /// A connection attempt started.
    Connecting,
    /// The keepalive `ping` went out.
    PingSent,
    /// The venue answered a `ping`.
    Pong,
}

/// What the policy reads of one link: whether it serves, whether it may take a cancel now, how
/// old its connection is.
pub(crate) trait LinkView {
    /// Logged in (draining or not).
    fn is_live(&self) -> bool;
    /// Live and taking new cancels.
    fn is_serving(&self) -> bool;
    /// Not in use: never started, retired and closed, or shut down.
    fn is_done(&self) -> bool;
    /// Whether a cancel frame may go out now: live, not draining, within the message budget
    /// and with nothing left over from the last write.
    fn can_take(&self, now: u64) -> bool;
    /// When the current connection logged in.
    fn live_since(&self) -> u64;
}

/// Every call the conductor makes on a link (see the module documentation for the contract).
pub(crate) trait LinkSeam: LinkView {
    /// Where the connection stands, as the handles see it.
    fn state(&self) -> SessionState;
    /// The slot's connection count: attempts carry it.
    fn generation(&self) -> u32;
    /// The endpoint, for logs.
    fn url(&self) -> &str;
    /// The venue's API this connection speaks (its current or last attempt's): its replies are
    /// read, and their codes classified, in it, even after the account switched.
    fn speaks(&self) -> crate::venue::Dialect;
    /// When the message budget allows the next frame.
    fn ready_at(&self) -> u64;
    /// Whether ciphertext waits for room in the socket.
    fn wants_write(&self) -> bool;
    /// Whether this link needs the poller's readiness (setting up, or waiting to write).
    fn needs_poller(&self) -> bool;
    /// The earliest time this link has something to do (`u64::MAX`: nothing).
    fn next_deadline(&self, settings: &LinkSettings) -> u64;
    /// Why the last connection attempt or session failed, taken once.
    fn take_error(&mut self) -> Option<SessionError>;

    /// Readiness from the poller.
    fn on_socket_event(&mut self, readable: bool);
    /// This turn reads the socket without the poller's word.
    fn read_directly(&mut self);
    /// Reads what the socket has and reports every complete message; true if anything was
    /// read.
    fn read(&mut self, cx: &mut LinkCx<'_>) -> bool;
    /// Time-driven work (connection steps, keepalive, deadlines); true if anything happened.
    fn advance(&mut self, cx: &mut LinkCx<'_>) -> bool;

    /// Appends the frame of the request cancelling `cancel` under `id` to `frames` (`json` is
    /// scratch for the request's text). Allocates nothing when both have room.
    fn append_cancel(
        &mut self,
        frames: &mut Vec<u8>,
        json: &mut Vec<u8>,
        dialect: Dialect,
        id: &RequestId,
        cancel: &Cancel,
    );
    /// Appends the frame of one V3 `batch-cancel` of `cancels` (one product line, all named by
    /// `key`) under `id` to `frames`. Allocates nothing when both buffers have room.
    fn append_batch(
        &mut self,
        frames: &mut Vec<u8>,
        json: &mut Vec<u8>,
        id: &RequestId,
        key: crate::venue::v3::BatchKey,
        cancels: &[Cancel],
    );
    /// Counts one frame against the message budget.
    fn record_message(&mut self, now: u64);
    /// Seals `frames` and hands them to the socket: whether all of it reached the kernel, and
    /// when the records were handed to `write(2)`.
    fn write_frames(&mut self, frames: &[u8]) -> Result<(bool, u64), SessionError>;
    /// Flushes ciphertext left behind by a socket that would not take it all.
    fn flush(&mut self, cx: &mut LinkCx<'_>);

    /// Starts connecting (a spare slot taken into use).
    fn enable(&mut self, now: u64);
    /// Takes no new cancels from now on; with `retire`, closes once told and is not
    /// reconnected.
    fn drain(&mut self, retire: bool);
    /// Takes cancels again (a rotation whose replacement died gives the old link back).
    fn resume(&mut self);
    /// The connection ended with `error`: report it, back off (or end, if retired).
    fn lose(&mut self, error: SessionError, cx: &mut LinkCx<'_>);
    /// Sends the close frame and waits briefly for the venue's; ends done.
    fn close(&mut self, now: u64, registry: &Registry, scratch: &mut Scratch);
    /// Drops the connection without a word; ends done.
    fn abort(&mut self, registry: &Registry);
    /// Sends a `ping` now (or as soon as the message budget allows), with a short pong
    /// deadline: a cancel has waited on this link longer than the hedge delay. At most one
    /// probe a second.
    fn probe(&mut self, now: u64);
    /// Connects to `other`'s endpoint from now on (a replacement takes the endpoint of the
    /// link it replaces). Called on a link that is done.
    fn adopt_endpoint(&mut self, other: &Self);
}
