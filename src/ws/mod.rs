//! WebSocket client framing (RFC 6455), incremental deframing with limits, and the upgrade
//! handshake.
//!
//! The layer is split along the data path:
//!
//! - **Out**: [`encode_client_frame`] appends a masked frame to a caller's preallocated buffer
//!   (plus [`encode_pong`] and [`encode_close`] for answering control frames), with masks from
//!   [`MaskGen`].
//! - **In**: [`FrameDecoder`] takes bytes in any split and yields complete [`Message`]s,
//!   enforcing [`Limits`] from frame headers before buffering anything.
//! - **Upgrade**: [`Upgrade`] runs tungstenite's client handshake over any nonblocking
//!   `Read + Write` stream and hands the stream back for raw framing.
//!
//! No extension or subprotocol is negotiated, so reserved bits are errors. Every failure is a
//! [`WsError`].
//!
//! ```
//! use bitget_cancel::ws::{encode_client_frame, FrameDecoder, Limits, MaskGen, Message, OpCode};
//!
//! // Out: a masked text frame into a buffer with room to spare.
//! let mut masks = MaskGen::new();
//! let mut out = Vec::with_capacity(256);
//! encode_client_frame(&mut out, OpCode::Text, b"ping", masks.next_mask());
//!
//! // In: the server's (unmasked) answer, as the socket delivered it.
//! let mut decoder = FrameDecoder::new(Limits::default());
//! decoder.push(&[0x81, 4, b'p', b'o', b'n', b'g'])?;
//! while let Some(message) = decoder.next_message()? {
//!     assert_eq!(message, Message::Text(&mut b"pong".to_vec()));
//! }
//! # Ok::<(), bitget_cancel::ws::WsError>(())
//! ```

mod decode;
mod error;
mod frame;
pub mod handshake;

pub use decode::{FrameDecoder, Limits, Message};
pub use error::WsError;
pub use frame::{
    MAX_CLIENT_HEADER, MAX_CONTROL_PAYLOAD, MaskGen, OpCode, apply_mask, encode_client_frame,
    encode_close, encode_pong,
};
pub use handshake::{Upgrade, UpgradeProgress};
