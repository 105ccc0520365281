//! Faults the venue can be told to commit, to test how a client copes with a misbehaving peer.
//!
//! Two ways in:
//! - [`Faults`], set with [`SimVenue::set_faults`](super::SimVenue::set_faults), shapes how the
//!   venue answers from the next message on: delays, fragmentation, write patterns, extra or
//!   missing replies, login misbehaviour, and one [`Injection`] tied to the Nth cancel
//!   ([`OnCancel`]);
//! - [`Injection`]s, committed once on every open connection right now with
//!   [`SimVenue::inject`](super::SimVenue::inject), or on one connection by its number with
//!   [`SimVenue::inject_on`](super::SimVenue::inject_on): hostile frames, closes, resets, TLS
//!   alerts, stalls, silence and freezes.
//!
//! Every fault is bounded: nothing loops forever or grows without limit, and once the faults are
//! cleared ([`Faults::none`]) new connections are served normally.

use std::time::Duration;

/// What the venue should do wrong, set at any time with
/// [`SimVenue::set_faults`](super::SimVenue::set_faults).
///
/// Connection threads read the current value for every message they receive, so a change applies
/// from the next message on; a reply is shaped by the faults in force when its request arrived.
/// `Faults::default()` is a well-behaved venue. More faults may be added in later versions: build
/// values with `..Faults::default()` so such additions keep compiling.
///
/// ```
/// use std::time::Duration;
/// use bitget_cancel::sim::{CancelFate, Coalesce, Faults, Injection, OnCancel};
///
/// let faults = Faults {
///     reply_delay: Duration::from_millis(50),
///     fragments: 3,
///     ping_between_fragments: true,
///     coalesce: Some(Coalesce { replies: 4, wait: Duration::from_millis(20) }),
///     on_cancel: Some(OnCancel {
///         nth: 2,
///         injection: Injection::too_many_requests(),
///         cancel: CancelFate::Refused,
///     }),
///     ..Faults::default()
/// };
/// assert!(!faults.is_none());
/// assert!(Faults::default().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Hold every reply (login, `pong`, trade replies, errors, the close that follows an error)
    /// this long before sending it. Replies keep their order. Stands for a slow or congested
    /// venue. Default: zero.
    pub reply_delay: Duration,
    /// Never answer cancel requests. The cancel still takes effect on the book (a lost
    /// acknowledgement, the case that leaves a client unsure). Default: `false`.
    pub ignore_cancels: bool,
    /// Drop the connection (no close frame, no TLS close) upon receiving the Nth cancel request
    /// counted from the last [`set_faults`](super::SimVenue::set_faults) across all connections,
    /// 1-based, before that cancel is processed: its order stays resting. Fires once. Stands for
    /// a venue gateway that dies with the request unprocessed. Default: `None`.
    pub drop_on_cancel: Option<u64>,
    /// Split every text reply into this many WebSocket frames (a text frame and continuation
    /// frames; never more frames than the reply has bytes). 0 and 1 mean unfragmented, the
    /// default. Legal per RFC 6455; a proxy or another server implementation may do it.
    pub fragments: usize,
    /// Send a WebSocket ping frame (payload `sim`) before every text reply. The live venue may
    /// send ping frames at any time. Default: `false`.
    pub ping_before_reply: bool,
    /// Right after a successful login reply, send a close frame (1000) and disconnect. Stands for
    /// a venue that accepts the login and then goes away (maintenance, a rebalanced gateway).
    /// Default: `false`.
    pub close_after_login: bool,
    /// With [`fragments`](Self::fragments) above 1, put a WebSocket ping frame (payload `sim`)
    /// between every two fragments of a reply: RFC 6455 lets control frames interleave with a
    /// fragmented message, and a client must answer them without losing the message.
    /// Default: `false`.
    pub ping_between_fragments: bool,
    /// Write every text reply (with the ping frames [`ping_before_reply`](Self::ping_before_reply)
    /// and [`ping_between_fragments`](Self::ping_between_fragments) add to it) one byte at a
    /// time: each byte is its own rustls write, so its own TLS record, flushed to the socket on
    /// its own (its own TCP segment on loopback with `TCP_NODELAY`). Coalesced batches go out
    /// the same way. Pong and close frames and injections are written whole. Stands for a
    /// pathological network path or TLS terminator that re-records the stream; a client must
    /// reassemble frames across any record boundaries. Default: `false`.
    pub byte_per_record: bool,
    /// Hold text replies and write several in one go: one rustls write and one flush, so one TLS
    /// record and one TCP segment on loopback. Stands for Nagle-style batching at the venue or a
    /// proxy; a client must parse several replies out of one read. `None` (the default) writes
    /// every reply as soon as it is due.
    pub coalesce: Option<Coalesce>,
    /// Send every cancel reply twice, byte for byte the same (a duplicate acknowledgement, as a
    /// retrying gateway might). The second copy must not produce a second outcome.
    /// Default: `false`.
    pub duplicate_replies: bool,
    /// Before every cancel reply, send a copy of it whose `arg[0].id` is this id instead of the
    /// request's: a reply for a request the client never sent (or one it has forgotten).
    /// `None`, the default, sends none.
    pub stray_reply_id: Option<String>,
    /// How the venue treats logins. Default: [`LoginFault::Answer`], checking them.
    pub login: LoginFault,
    /// Seconds the venue's clock runs ahead of the system clock (negative: behind) when it checks
    /// login timestamps against [`SimConfig::login_window`](super::SimConfig::login_window).
    /// Beyond the window, an honestly signed login gets 30014 "Request timestamp expired", as a
    /// client whose clock is skewed that much gets on the live venue. Default: 0.
    pub login_clock_offset_s: i64,
    /// One injection at the Nth cancel, and what becomes of that cancel. Fires once.
    /// Default: `None`.
    pub on_cancel: Option<OnCancel>,
    /// The number of a connection (1 for the first the venue accepts, then 2, ...; the numbers
    /// of [`ReceivedFrame::conn`](super::ReceivedFrame::conn) and
    /// [`SimVenue::inject_on`](super::SimVenue::inject_on)) that is frozen like
    /// [`Injection::Freeze`] from its first trade request on, for as long as these faults are in
    /// force: set before a client connects, it freezes "the first connection" without a race.
    /// Default: `None`.
    pub freeze_conn: Option<u64>,
    /// Write the order push a cancel causes before that cancel's reply on the connection that
    /// carried it (by default the reply goes first, then the push). Other connections of the
    /// account get the push as usual. Default: `false`.
    pub push_before_reply: bool,
    /// Hold every order push this long before it is written (pushes keep their order; replies
    /// are not held by it). Default: zero.
    pub push_delay: Duration,
    /// Which order pushes are lost: never written, counted in
    /// [`Activity::pushes_lost`](super::Activity::pushes_lost). Default: none.
    pub lose_pushes: PushLoss,
    /// How subscription requests are answered. Default: [`SubscribeFault::Answer`].
    pub subscribe: SubscribeFault,
    /// The order a cancel names fills just before the cancel reaches it: the cancel then finds
    /// it filled ("does not exist": 43001, 41101, 40768 or 25204 by path) and a `filled` push
    /// goes out; with a partial fill the cancel succeeds on a partly filled order. Fires once.
    /// Default: `None`.
    pub fill_before_cancel: Option<FillBeforeCancel>,
    /// The Nth cancel (1-based, counted like [`OnCancel::nth`]) is refused with a code of the
    /// venue's naming it (V2: `{"event":"error","arg":[ARG],"code":CODE,"msg":MSG}`, its `arg`
    /// echoed): it does not reach the book, its order stays resting. For transient refusals
    /// (30006, 40010, 25001, ...) a client must try again. Fires once. Default: `None`.
    pub refuse_cancel: Option<RefuseCancel>,
    /// The number of a connection (as [`freeze_conn`](Self::freeze_conn) counts them) whose
    /// trade requests are lost inside the venue from now on: they never reach the book (the
    /// orders stay resting) and are never answered, while logins, `ping` and everything else
    /// are served. Stands for a gateway whose matching side never gets the requests; unlike a
    /// freeze, a client that sends the cancel elsewhere finds the order still there.
    /// Default: `None`.
    pub lose_trades_conn: Option<u64>,
}

/// The Nth cancel refused with a code ([`Faults::refuse_cancel`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefuseCancel {
    /// Which cancel: 1-based, counted like [`OnCancel::nth`].
    pub nth: u64,
    /// The code, e.g. 30006 (request too many) or 40010 (request timed out).
    pub code: u32,
    /// The message (JSON-escaped on the wire).
    pub msg: String,
}

/// Which order pushes a fault loses ([`Faults::lose_pushes`]). Pushes are counted one per
/// connection they go to, across the venue, from the last
/// [`set_faults`](super::SimVenue::set_faults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushLoss {
    /// None lost (the default).
    #[default]
    None,
    /// The Nth push (1-based) is lost, once.
    Nth(u64),
    /// Every push is lost: subscriptions are acknowledged, nothing is pushed.
    All,
    /// Each push is lost with probability 1 in N (drawn from the OS's random source); 0 and 1
    /// lose none and all.
    OneIn(u32),
}

/// How the venue answers subscription requests ([`Faults::subscribe`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SubscribeFault {
    /// Check and acknowledge them, like the live venue (the default).
    #[default]
    Answer,
    /// Refuse every subscription with this code and message (V2:
    /// `{"event":"error","arg":ARG,"code":CODE,"msg":MSG,"op":"subscribe"}`; V3 the same with
    /// the code as a string); the connection stays open and no push comes.
    Refuse {
        /// The error code, e.g. 30001.
        code: u32,
        /// The message (JSON-escaped on the wire).
        msg: String,
    },
    /// Record and never answer them; no push comes either.
    Ignore,
}

/// An order filled just before the Nth single cancel reaches it ([`Faults::fill_before_cancel`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FillBeforeCancel {
    /// Which cancel: 1-based, counting every single cancel request that reaches the book over
    /// any path (V2 and V3 WebSocket, V2 and V3 REST) since the last
    /// [`set_faults`](super::SimVenue::set_faults).
    pub nth: u64,
    /// How much fills, as a decimal string; `None` fills all that is left.
    pub size: Option<String>,
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

/// How [`Faults::coalesce`] batches replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coalesce {
    /// Write the held replies as soon as this many are ready. 0 and 1 write every reply alone.
    pub replies: usize,
    /// Write whatever is held this long after the first held reply became due, even if fewer
    /// than [`replies`](Self::replies) are ready, so no reply waits for ever.
    pub wait: Duration,
}

/// How the venue treats a login request ([`Faults::login`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LoginFault {
    /// Check the login and answer, like the live venue (the default).
    #[default]
    Answer,
    /// Record the login and never answer it: the client is not logged in, the connection stays
    /// open and everything else is served (a `ping` gets `pong`, a cancel 30004). Stands for a
    /// login lost inside the venue; the client must time out.
    Ignore,
    /// Refuse every login with this code and message, whatever the credentials, then close
    /// (1000) as after any refused login. For example 30014 "Request timestamp expired", or a
    /// code the client has never seen.
    Reject {
        /// The error code sent, e.g. 30014.
        code: u32,
        /// The message sent (JSON-escaped on the wire).
        msg: String,
    },
}

/// An injection tied to one cancel request ([`Faults::on_cancel`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCancel {
    /// Which cancel request fires it: 1-based, counted across all connections since the last
    /// [`set_faults`](super::SimVenue::set_faults), like [`Faults::drop_on_cancel`] (the two
    /// share the count). Only requests that pass the venue's checks (logged in, well formed)
    /// count.
    pub nth: u64,
    /// What the venue does, in that cancel's place in the reply stream: after the replies to
    /// earlier requests, delayed like a reply by [`Faults::reply_delay`].
    pub injection: Injection,
    /// What becomes of the cancel itself.
    pub cancel: CancelFate,
}

/// What becomes of the cancel that fires an [`OnCancel`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CancelFate {
    /// The cancel takes effect on the book and its reply follows the injection (the default):
    /// the injection comes *before* the reply.
    #[default]
    Answered,
    /// The cancel takes effect on the book but its reply is never sent: the injection stands in
    /// for it (a lost acknowledgement for an order that is gone).
    Unanswered,
    /// The cancel is not processed: its order stays resting and no reply is sent; the injection
    /// stands in for the reply (e.g. 30006 "request too many" in place of the acknowledgement).
    Refused,
}

/// Something the venue does once, right now on every open connection
/// ([`SimVenue::inject`](super::SimVenue::inject)) or on one
/// ([`SimVenue::inject_on`](super::SimVenue::inject_on)), or in a cancel's place ([`OnCancel`]).
///
/// Injections that write send their bytes at once in a single rustls write, whatever the
/// [`Faults`] in force (no fragmentation, byte-per-record writes or batching). Injected with
/// [`SimVenue::inject`](super::SimVenue::inject), they go ahead of replies still waiting for
/// their [`Faults::reply_delay`] or held by [`Faults::coalesce`]; fired by an [`OnCancel`], they
/// take that cancel's place in the reply stream. After a hostile frame the venue carries on as if
/// nothing happened: it is for the client to close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// One unfragmented text frame with this text: non-JSON (`not json`), an error with no `arg`
    /// ([`Injection::error`]), an acknowledgement for an id nobody sent, ...
    Text(String),
    /// One binary frame with these bytes (the live venue only ever sends text).
    Binary(Vec<u8>),
    /// The rate-limit disconnect: the text
    /// `{"event":"error","code":30007,"msg":"request over limit, connection close"}`, then a
    /// close frame (1000) and the end of the connection, counted as
    /// [`DisconnectCause::RateLimited`](super::DisconnectCause::RateLimited).
    OverLimit,
    /// A close frame with this status code and no reason, started by the venue: then
    /// close_notify, and the venue waits (up to a second) for the client's close frame, counted
    /// in [`SimStats::close_replies`](super::SimStats::close_replies), before closing TCP.
    /// Stands for a venue going away cleanly (maintenance, a gateway restart).
    Close {
        /// The close status code, e.g. 1000 or 1001.
        code: u16,
    },
    /// End the TCP connection at once (FIN): no close frame, no TLS close. Stands for a crashed
    /// gateway or a middlebox dropping the flow.
    Drop,
    /// Write the first half (rounded down, at least one byte) of a frame, then reset the TCP
    /// connection: `SO_LINGER` 0 and close, so the kernel sends RST. What is cut: the replies
    /// held by [`Faults::coalesce`] (as they would have gone out), else the next reply waiting
    /// out [`Faults::reply_delay`] or the reply of the cancel that fired an [`OnCancel`] with
    /// [`CancelFate::Answered`], as one unfragmented text frame; with none waiting, the text
    /// frame `pong` (`81 04 70 6f 6e 67`, so the bytes `81 04 70` go out). The cut replies count
    /// in [`SimStats::replies_lost`](super::SimStats::replies_lost). Stands for a connection
    /// reset in the middle of a reply.
    ResetMidFrame,
    /// Send TLS close_notify mid-stream, with no WebSocket close frame, then close TCP: the
    /// stream ends cleanly at the TLS layer while the WebSocket is still open (a TLS terminator
    /// shutting down).
    TlsCloseNotify,
    /// Send a fatal TLS alert, then close TCP. The venue's own rustls connection sends it:
    /// handed an application-data record it cannot decrypt, it answers with the fatal alert
    /// `bad_record_mac` (encrypted, as TLS 1.3 sends every alert after the handshake). Stands
    /// for a TLS terminator failing mid-stream; the client's rustls reports
    /// `AlertReceived(BadRecordMac)`.
    TlsFatalAlert,
    /// Stop reading from this connection for this long (or until [`Injection::ResumeReads`]):
    /// the client's writes back up in the venue's receive buffer, then its own send buffer
    /// (make them small with [`SimConfig::receive_buffer`](super::SimConfig::receive_buffer)).
    /// Due replies are still sent and deadlines kept, except the idle timeout, which does not
    /// run while the venue is not reading. Messages that queued up are read in a burst
    /// afterwards and count against the rate limit then. Stands for an overloaded venue.
    StallReads(Duration),
    /// End a [`StallReads`](Injection::StallReads) now.
    ResumeReads,
    /// From now on this connection sends nothing: no replies, no `pong`, no pong frames, and
    /// when it ends (lifetime, shutdown, the client closing) no close frame either. It keeps
    /// reading, recording and processing (cancels still take effect on the book); the withheld
    /// text replies are counted in [`SimStats::replies_lost`](super::SimStats::replies_lost).
    /// Later injections still go out. Stands for a venue that hangs with the connection open;
    /// the client must time out.
    Silence,
    /// From now on this connection answers no trade request: cancels still take effect on the
    /// book (or are refused before it) but their replies are withheld and counted in
    /// [`SimStats::replies_lost`](super::SimStats::replies_lost), replies already waiting out
    /// [`Faults::reply_delay`] included. Everything else is served as usual: the text `ping`
    /// gets `pong`, WebSocket pings get pongs, the idle timeout and the rate limit still run.
    /// Stands for a gateway whose matching side hangs while its keepalive answers, which a
    /// client only notices by its ack timeouts. Ends with [`Injection::Thaw`]. Fired by an
    /// [`OnCancel`] with [`CancelFate::Unanswered`], it freezes the connection that carries the
    /// Nth cancel, from that cancel on.
    Freeze,
    /// Ends a [`Freeze`](Injection::Freeze): trade requests that arrive from now on are answered
    /// again. Replies withheld while frozen stay lost.
    Thaw,
    /// A frame header claiming a 2^40-byte text payload, with no payload after it:
    /// `81 7f 00 00 01 00 00 00 00 00`. A client must refuse it (its size limit) without trying
    /// to allocate it.
    HugeFrameHeader,
    /// A masked text frame (servers must never mask) carrying `pong` under the masking key
    /// `37 fa 21 3d`: `81 84 37 fa 21 3d 47 95 4f 5a`.
    MaskedFrame,
    /// A text frame `pong` with all three reserved bits set (no extension was negotiated):
    /// `f1 04 70 6f 6e 67`.
    ReservedBits,
    /// A text frame whose payload is not UTF-8 (a lead byte followed by a non-continuation
    /// byte): `81 02 c3 28`.
    InvalidUtf8,
    /// A frame with the reserved data opcode 3, payload `pong`: `83 04 70 6f 6e 67`.
    BadOpcode,
    /// These bytes, as they are, inside the TLS stream (anything not covered above).
    Raw(Vec<u8>),
    /// The same unfragmented text frame this many times in a row, written in large pieces as
    /// fast as the client reads them (blocked writes count against the venue's write timeout):
    /// a flood of messages, e.g. ones the client cannot read. Dropping the connection
    /// ([`SimVenue::drop_connections`](super::SimVenue::drop_connections)) or shutting the venue
    /// down ends it early.
    TextRepeated {
        /// The text of each frame.
        text: String,
        /// How many frames.
        times: u32,
    },
}

impl Injection {
    /// A text frame with an error that belongs to no request, as the venue words them:
    /// `{"event":"error","code":CODE,"msg":MSG}` (the message JSON-escaped).
    ///
    /// ```
    /// use bitget_cancel::sim::Injection;
    ///
    /// assert_eq!(
    ///     Injection::error(30002, "Illegal request"),
    ///     Injection::Text(r#"{"event":"error","code":30002,"msg":"Illegal request"}"#.into())
    /// );
    /// ```
    pub fn error(code: u32, msg: &str) -> Injection {
        Injection::Text(super::rules::error_text(code, msg))
    }

    /// The rate-limit warning with no `arg`:
    /// `{"event":"error","code":30006,"msg":"request too many"}`.
    pub fn too_many_requests() -> Injection {
        Injection::error(30006, "request too many")
    }

    /// The unified account's notice that the service is being upgraded and the connection will
    /// be closed soon (about 60 s later on the live venue), as the simulated venue words it
    /// (the live shape is not documented): `{"event":"error","code":"30033","msg":"service upgrade"}`,
    /// a request-wide error with a string code like every V3 code.
    ///
    /// ```
    /// use bitget_cancel::sim::Injection;
    ///
    /// assert_eq!(
    ///     Injection::service_upgrade(),
    ///     Injection::Text(r#"{"event":"error","code":"30033","msg":"service upgrade"}"#.into())
    /// );
    /// ```
    pub fn service_upgrade() -> Injection {
        Injection::Text(r#"{"event":"error","code":"30033","msg":"service upgrade"}"#.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_requests_is_the_documented_error_without_arg() {
        assert_eq!(
            Injection::too_many_requests(),
            Injection::Text(r#"{"event":"error","code":30006,"msg":"request too many"}"#.into())
        );
    }

    #[test]
    fn error_messages_are_json_escaped() {
        assert_eq!(
            Injection::error(1, "a\"b"),
            Injection::Text(r#"{"event":"error","code":1,"msg":"a\"b"}"#.into())
        );
    }

    #[test]
    fn every_new_fault_makes_faults_not_none() {
        let set = [
            Faults {
                ping_between_fragments: true,
                ..Faults::default()
            },
            Faults {
                byte_per_record: true,
                ..Faults::default()
            },
            Faults {
                coalesce: Some(Coalesce {
                    replies: 2,
                    wait: Duration::ZERO,
                }),
                ..Faults::default()
            },
            Faults {
                duplicate_replies: true,
                ..Faults::default()
            },
            Faults {
                stray_reply_id: Some("x".into()),
                ..Faults::default()
            },
            Faults {
                login: LoginFault::Ignore,
                ..Faults::default()
            },
            Faults {
                login_clock_offset_s: -1,
                ..Faults::default()
            },
            Faults {
                on_cancel: Some(OnCancel {
                    nth: 1,
                    injection: Injection::Drop,
                    cancel: CancelFate::default(),
                }),
                ..Faults::default()
            },
            Faults {
                freeze_conn: Some(1),
                ..Faults::default()
            },
            Faults {
                push_before_reply: true,
                ..Faults::default()
            },
            Faults {
                push_delay: Duration::from_millis(1),
                ..Faults::default()
            },
            Faults {
                lose_pushes: PushLoss::All,
                ..Faults::default()
            },
            Faults {
                subscribe: SubscribeFault::Ignore,
                ..Faults::default()
            },
            Faults {
                fill_before_cancel: Some(FillBeforeCancel::default()),
                ..Faults::default()
            },
            Faults {
                refuse_cancel: Some(RefuseCancel {
                    nth: 1,
                    code: 30006,
                    msg: "request too many".into(),
                }),
                ..Faults::default()
            },
            Faults {
                lose_trades_conn: Some(1),
                ..Faults::default()
            },
        ];
        for faults in set {
            assert!(!faults.is_none(), "{faults:?}");
        }
    }
}
