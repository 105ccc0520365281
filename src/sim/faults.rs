//! Faults the venue can be told to commit, to test how a client copes with a misbehaving peer.

use std::time::Duration;

/// What the venue should do wrong, set at any time with
/// [`SimVenue::set_faults`](super::SimVenue::set_faults).
///
/// Connection threads read the current value for every message they receive, so a change applies
/// from the next message on. `Faults::default()` is a well-behaved venue. More faults may be added
/// in later versions: build values with `..Faults::default()` so such additions keep compiling.
///
/// ```
/// use std::time::Duration;
/// use bitget_cancel::sim::Faults;
///
/// let faults = Faults {
///     reply_delay: Duration::from_millis(50),
///     fragments: 3,
///     ..Faults::default()
/// };
/// assert!(!faults.is_none());
/// assert!(Faults::default().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Hold every reply (login, `pong`, trade replies, errors, the close that follows an error)
    /// this long before sending it. Replies keep their order. Default: zero.
    pub reply_delay: Duration,
    /// Never answer cancel requests. The cancel still takes effect on the book (a lost
    /// acknowledgement, the case that leaves a client unsure). Default: `false`.
    pub ignore_cancels: bool,
    /// Drop the connection (no close frame, no TLS close) upon receiving the Nth cancel request
    /// counted from the last [`set_faults`](super::SimVenue::set_faults) across all connections,
    /// 1-based, before that cancel is processed: its order stays resting. Fires once.
    /// Default: `None`.
    pub drop_on_cancel: Option<u64>,
    /// Split every text reply into this many WebSocket frames (a text frame and continuation
    /// frames; never more frames than the reply has bytes). 0 and 1 mean unfragmented, the default.
    pub fragments: usize,
    /// Send a WebSocket ping frame before every text reply. Default: `false`.
    pub ping_before_reply: bool,
    /// Right after a successful login reply, send a close frame and disconnect. Default: `false`.
    pub close_after_login: bool,
}

impl Faults {
    /// A well-behaved venue: the same as `Faults::default()`.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Whether no fault is set.
    pub fn is_none(&self) -> bool {
        *self == Faults::default()
    }
}
