//! The one error type of the WebSocket layer.

use std::io;
use std::sync::Arc;

/// Why the WebSocket layer gave up.
///
/// Every variant except [`WsError::BufferFull`] means the connection cannot be trusted any
/// more: close it and reconnect. Decoding errors (everything from
/// [`WsError::MaskedServerFrame`] to [`WsError::CommitOverflow`]) leave the
/// [`FrameDecoder`](super::FrameDecoder) dead: it keeps returning the same error until
/// [`reset`](super::FrameDecoder::reset). Upgrade errors (from [`WsError::BadUrl`] on) end the
/// handshake; the stream should be dropped.
///
/// The type is `Clone` (an I/O error is shared behind an [`Arc`]) so a dead decoder can report
/// its error again without allocating.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The server masked a frame; RFC 6455 5.1 forbids it. Reconnect.
    #[error("the server sent a masked frame")]
    MaskedServerFrame,
    /// A frame had RSV1, RSV2 or RSV3 set, but no extension was negotiated. Reconnect.
    #[error("a frame has reserved bits set (no extension was negotiated)")]
    ReservedBits,
    /// A frame used a reserved opcode (3-7 or 11-15). Reconnect.
    #[error("a frame has the reserved opcode {0}")]
    BadOpcode(u8),
    /// A frame header announced more payload than [`Limits::max_frame`](super::Limits).
    /// Detected from the header alone, before any of the payload is buffered. Reconnect, or
    /// raise the limit if the venue legitimately sends frames this large.
    #[error("a frame announces {len} bytes of payload, the limit is {limit}")]
    FrameTooLarge {
        /// The payload length in the frame header.
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A (possibly fragmented) message would exceed
    /// [`Limits::max_message`](super::Limits). Detected from a frame header, before the
    /// payload is buffered. Reconnect, or raise the limit.
    #[error("a message would reach at least {len} bytes, the limit is {limit}")]
    MessageTooLarge {
        /// The message length the frame header would lead to.
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A text message or a close reason is not valid UTF-8. Reconnect.
    #[error("a text message or close reason is not valid UTF-8")]
    InvalidUtf8,
    /// A control frame (close, ping, pong) came without FIN. Reconnect.
    #[error("a control frame is fragmented")]
    FragmentedControlFrame,
    /// A control frame carried more than 125 bytes of payload. Reconnect.
    #[error("a control frame carries more than 125 bytes")]
    ControlFrameTooLong,
    /// A continuation frame arrived while no fragmented message was open. Reconnect.
    #[error("a continuation frame arrived with no fragmented message open")]
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was still open. Reconnect.
    #[error("a new data frame arrived while a fragmented message is still open")]
    ExpectedContinuation,
    /// A close frame carried exactly one byte of payload (a code needs two). Reconnect.
    #[error("a close frame has a one-byte payload")]
    BadClosePayload,
    /// A close frame carried a status code that may not appear on the wire (RFC 6455 7.4).
    #[error("a close frame carries the invalid status code {0}")]
    BadCloseCode(u16),
    /// [`FrameDecoder::commit`](super::FrameDecoder::commit) was told more bytes than the last
    /// [`spare_mut`](super::FrameDecoder::spare_mut) slice could hold: a bug in the caller.
    #[error("committed {committed} bytes but only {spare} bytes were free")]
    CommitOverflow {
        /// What the caller committed.
        committed: usize,
        /// What was free.
        spare: usize,
    },
    /// [`FrameDecoder::push`](super::FrameDecoder::push) got more bytes than the read buffer
    /// can take now. Nothing was copied and the decoder is still usable: drain
    /// [`next_message`](super::FrameDecoder::next_message) and push again in smaller pieces.
    #[error("{len} bytes do not fit in the read buffer ({spare} bytes free)")]
    BufferFull {
        /// Bytes offered.
        len: usize,
        /// Bytes free after compaction.
        spare: usize,
    },
    /// The URL given to the upgrade is not a `ws://` or `wss://` URL with a host. Fix the
    /// configuration; retrying will not help.
    #[error("bad WebSocket URL: {0}")]
    BadUrl(String),
    /// The server answered the upgrade request with an HTTP status other than 101, e.g. 404
    /// for a wrong path or 401/403 for a refused client. Check the URL before retrying.
    #[error("the server refused the WebSocket upgrade with HTTP status {status}")]
    UpgradeRejected {
        /// The HTTP status code of the reply.
        status: u16,
    },
    /// The server's reply to the upgrade is not a valid WebSocket handshake (bad
    /// `Sec-WebSocket-Accept`, missing headers, malformed HTTP, connection closed midway,
    /// reply head too large). Reconnect with backoff.
    #[error("WebSocket handshake failed: {0}")]
    Handshake(String),
    /// The stream failed during the upgrade (not `WouldBlock`, which means "call again").
    /// Reconnect with backoff.
    #[error("I/O error during the WebSocket handshake: {0}")]
    Io(Arc<io::Error>),
}

impl From<io::Error> for WsError {
    fn from(e: io::Error) -> Self {
        WsError::Io(Arc::new(e))
    }
}
