//! What became of each accepted intent: exactly one [`Outcome`] per intent, on every path.

use std::fmt;

use crate::intent::{Cancel, RequestId};

/// A message of the venue's, copied into a fixed buffer (truncated at [`VenueMsg::CAPACITY`] bytes
/// on a character boundary) so outcomes stay `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VenueMsg {
    bytes: [u8; VenueMsg::CAPACITY],
    len: u8,
}

impl VenueMsg {
    /// The most bytes kept.
    pub const CAPACITY: usize = 128;

    /// Copies `text`, cut to at most [`Self::CAPACITY`] bytes on a character boundary.
    ///
    /// ```
    /// use bitget_cancel::outcome::VenueMsg;
    /// assert_eq!(VenueMsg::new("The order does not exist").as_str(), "The order does not exist");
    /// assert_eq!(VenueMsg::new(&"é".repeat(100)).as_str().len(), 128);
    /// ```
    pub fn new(text: &str) -> Self {
        let mut end = text.len().min(Self::CAPACITY);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        VenueMsg {
            bytes,
            len: end as u8,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // `new` copies a prefix that ends on a character boundary of a `str`.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for VenueMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for VenueMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an intent that was sent has no answer: the order may or may not be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// No reply within the ack timeout.
    AckTimeout,
    /// The connection ended while the cancel was in flight, and no other path to the venue was
    /// left to send it again on (no other live connection; the attempt limit reached).
    ConnectionLost,
    /// The engine shut down before the reply came.
    Shutdown,
}

/// Why an accepted intent was never written to the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSentReason {
    /// It waited longer than the configured maximum queueing time (no live session, or pacing).
    QueueTimeout,
    /// The venue refused the login; the engine does not retry these credentials in a tight loop.
    LoginRejected {
        /// The venue's code, e.g. 30015.
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
    /// Another intent with the same request id is in flight; sending this one would make the two
    /// replies impossible to tell apart.
    DuplicateId,
    /// The engine shut down before it could be sent.
    Shutdown,
}

/// The final word on one intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The venue answered `code` 0.
    Acked,
    /// The venue answered with an error for this request.
    ///
    /// After a re-send (`attempts` above 1), "the order does not exist" (43001 on spot, 41101
    /// and the like on futures) means the order is not open: an earlier attempt whose reply was
    /// lost may have cancelled it, or it filled. Either way nothing is left to cancel.
    Rejected {
        /// The venue's code, e.g. 43001.
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
    /// Sent, with no reply: the order may or may not be cancelled.
    Unknown(UnknownReason),
    /// Never sent.
    NotSent(NotSentReason),
}

/// Monotonic timestamps ([`crate::clock::monotonic_ns`]) of one intent's journey; 0 where a step
/// never happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamps {
    /// When [`crate::Handle::cancel`] accepted the intent.
    pub accepted_ns: u64,
    /// When the engine had the frame sealed and called `write(2)` with it: everything before
    /// is the engine's own work (and, threaded, the intent ring's hop).
    pub handed_ns: u64,
    /// When the frame's bytes were handed to the kernel (`write(2)` returned).
    pub written_ns: u64,
    /// When the reply was parsed (or the outcome decided, for outcomes without a reply).
    pub settled_ns: u64,
}

impl Timestamps {
    /// From acceptance to the kernel, if the frame was written.
    pub fn tick_to_wire_ns(&self) -> Option<u64> {
        (self.written_ns != 0).then(|| self.written_ns.saturating_sub(self.accepted_ns))
    }

    /// The engine's own share: from acceptance to the `write(2)` that carries the frame, if it
    /// was written. The kernel's part of [`Timestamps::tick_to_wire_ns`] (on loopback, the
    /// receiver's TCP path) is left out.
    ///
    /// ```
    /// use bitget_cancel::outcome::Timestamps;
    /// let t = Timestamps { accepted_ns: 100, handed_ns: 400, written_ns: 9_000, settled_ns: 50_000 };
    /// assert_eq!(t.engine_share_ns(), Some(300));
    /// assert_eq!(t.tick_to_wire_ns(), Some(8_900));
    /// assert_eq!(Timestamps::default().engine_share_ns(), None);
    /// ```
    pub fn engine_share_ns(&self) -> Option<u64> {
        (self.handed_ns != 0).then(|| self.handed_ns.saturating_sub(self.accepted_ns))
    }

    /// From acceptance to the parsed reply, if the frame was written and answered.
    pub fn round_trip_ns(&self) -> Option<u64> {
        (self.written_ns != 0 && self.settled_ns != 0)
            .then(|| self.settled_ns.saturating_sub(self.accepted_ns))
    }
}

/// The path whose reply settled an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The WebSocket connection in this slot of the pool (0-based).
    Connection(u8),
    /// Bitget's REST API, the rung below the WebSocket pool.
    Rest,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Connection(n) => write!(f, "{n}"),
            Via::Rest => f.write_str("rest"),
        }
    }
}

/// One intent's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The request id the intent was (or would have been) sent under.
    pub id: RequestId,
    /// The intent as accepted (its `tag` is the caller's).
    pub cancel: Cancel,
    /// What happened.
    pub status: Status,
    /// When things happened.
    pub times: Timestamps,
    /// How many times the cancel was sent (the first send, hedges, re-sends after a lost
    /// connection); 0 if it never was.
    pub attempts: u8,
    /// The path whose reply settled it; `None` when no reply did (unknown, not sent).
    pub via: Option<Via>,
}

impl Outcome {
    /// The caller's tag.
    pub fn tag(&self) -> u64 {
        self.cancel.tag
    }
}
