//! The incremental decoder of server frames.

use std::fmt;
use std::ops::Range;

use super::WsError;
use super::frame::{MAX_CLIENT_HEADER, MAX_CONTROL_PAYLOAD, OpCode};

/// Size limits for incoming frames and messages.
///
/// Both are checked against frame headers, before any payload is buffered, so a hostile length
/// costs nothing. The read buffer is allocated once at
/// [`FrameDecoder::new`] with room for one whole frame (`max_frame` plus a header); the buffer for
/// reassembling fragmented messages grows lazily up to `max_message`. Control frames are always
/// accepted up to their protocol maximum of 125 bytes, whatever `max_frame` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of one frame, in bytes. Default: 1 MiB, far above any Bitget reply
    /// (well under 1 KiB) while keeping the preallocated read buffer small.
    pub max_frame: usize,
    /// Largest message, in bytes, after reassembling fragments. Default: 1 MiB.
    pub max_message: usize,
}

impl Limits {
    /// The default limits: 1 MiB per frame and per message.
    pub const DEFAULT: Limits = Limits {
        max_frame: 1 << 20,
        max_message: 1 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A complete message from the server, borrowed from the decoder until the next call.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// UTF-8-validated text, mutable so JSON can be parsed in place.
    Text(&'a mut [u8]),
    /// Binary data.
    Binary(&'a [u8]),
    /// A ping (at most 125 bytes); answer with [`encode_pong`](super::encode_pong) and the
    /// same payload.
    Ping(&'a [u8]),
    /// A pong (at most 125 bytes).
    Pong(&'a [u8]),
    /// A close, with its status code and UTF-8 reason when the server gave a code. Answer with
    /// [`encode_close`](super::encode_close) echoing the code, then drop the connection.
    Close(Option<(u16, &'a str)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Text,
    Binary,
}

/// What `next_event` found, as positions: the borrow is taken only when building the message.
enum Event {
    Data(DataKind, Range<usize>),
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close(Option<(u16, Range<usize>)>),
    Assembled(DataKind),
}

/// Incremental decoder of server frames, with bounded memory.
///
/// Bytes go in through [`spare_mut`](Self::spare_mut) + [`commit`](Self::commit) (read straight
/// from the socket into the decoder) or [`push`](Self::push) (copy), in any split: one byte at a
/// time works. [`next_message`](Self::next_message) returns complete messages:
/// unfragmented ones are slices of the read buffer (no copy), fragmented ones are reassembled in
/// a second buffer. Control frames inside a fragmented message come out at once as their own
/// messages. Drain `next_message` until it returns `Ok(None)` before reading again.
///
/// The read buffer is allocated once, in [`new`](Self::new); consumed bytes are compacted away
/// only when the space is needed. Once warm, decoding unfragmented messages never allocates.
///
/// After any error the decoder is dead: every call to `next_message` and `push` returns that
/// error until [`reset`](Self::reset).
///
/// ```
/// use bitget_cancel::ws::{FrameDecoder, Limits, Message};
///
/// let mut decoder = FrameDecoder::new(Limits::default());
/// // A server text frame: FIN + text, unmasked, 4 bytes. It arrives in two pieces.
/// let wire = [0x81, 0x04, b'p', b'o', b'n', b'g'];
/// let first = &wire[..3];
/// decoder.spare_mut()[..first.len()].copy_from_slice(first);
/// decoder.commit(first.len());
/// assert_eq!(decoder.next_message()?, None);
///
/// decoder.push(&wire[3..])?;
/// match decoder.next_message()? {
///     Some(Message::Text(text)) => assert_eq!(&text[..], b"pong"),
///     other => panic!("unexpected {other:?}"),
/// }
/// assert_eq!(decoder.next_message()?, None);
/// # Ok::<(), bitget_cancel::ws::WsError>(())
/// ```
pub struct FrameDecoder {
    limits: Limits,
    /// The read buffer: `buf[start..end]` holds bytes not yet consumed.
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes from `start` the current frame needs before it can be decoded.
    need: usize,
    /// Reassembly buffer for fragmented messages; grows lazily up to `max_message`.
    message: Vec<u8>,
    /// The kind of the fragmented message being reassembled, if one is open.
    open: Option<DataKind>,
    /// The last message returned came from `message`: clear it on the next call.
    clear_message: bool,
    failed: Option<WsError>,
}

impl FrameDecoder {
    /// A decoder whose read buffer (`max(max_frame, 125) + 14` bytes) is allocated now.
    pub fn new(limits: Limits) -> Self {
        let capacity = limits
            .max_frame
            .max(MAX_CONTROL_PAYLOAD)
            .saturating_add(MAX_CLIENT_HEADER);
        FrameDecoder {
            limits,
            buf: vec![0u8; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
            need: 0,
            message: Vec::new(),
            open: None,
            clear_message: false,
            failed: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Size of the read buffer: fixed at construction, it never grows.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Capacity of the reassembly buffer for fragmented messages (0 until one arrives; never
    /// above `max_message`).
    pub fn message_capacity(&self) -> usize {
        self.message.capacity()
    }

    /// Bytes received but not yet consumed by [`next_message`](Self::next_message).
    pub fn buffered_bytes(&self) -> usize {
        self.end - self.start
    }

    /// Free space to read into; then [`commit`](Self::commit) what was read.
    ///
    /// Consumed bytes are compacted away when the free tail is exhausted or too short for the
    /// frame in progress, so the slice is empty only when the buffer holds nothing but
    /// unconsumed bytes (call [`next_message`](Self::next_message) until `Ok(None)` first).
    pub fn spare_mut(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0
            && (self.end == self.buf.len() || self.start + self.need > self.buf.len())
        {
            self.compact();
        }
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes written at the front of the last [`spare_mut`](Self::spare_mut) slice as
    /// received.
    ///
    /// Committing more than that slice held is a bug in the caller: the decoder dies with
    /// [`WsError::CommitOverflow`] rather than decode garbage.
    pub fn commit(&mut self, n: usize) {
        let spare = self.buf.len() - self.end;
        if n > spare {
            if self.failed.is_none() {
                self.failed = Some(WsError::CommitOverflow {
                    committed: n,
                    spare,
                });
            }
            return;
        }
        self.end += n;
    }

    /// Copies `bytes` in (the same as writing them into [`spare_mut`](Self::spare_mut) and
    /// committing).
    ///
    /// # Errors
    /// [`WsError::BufferFull`] when they do not fit even after compaction (nothing is copied
    /// and the decoder stays usable); the decoder's error if it is dead.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), WsError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.end + bytes.len() > self.buf.len() {
            self.compact();
        }
        let spare = self.buf.len() - self.end;
        if bytes.len() > spare {
            return Err(WsError::BufferFull {
                len: bytes.len(),
                spare,
            });
        }
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
        Ok(())
    }

    /// The next complete message, or `Ok(None)` when more bytes are needed.
    ///
    /// The message borrows the decoder; the bytes it points to stay valid until the next call
    /// on the decoder.
    ///
    /// # Errors
    /// Any protocol violation or limit in [`WsError`]; the decoder is then dead until
    /// [`reset`](Self::reset) and the connection should be closed.
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>, WsError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.clear_message {
            self.message.clear();
            self.clear_message = false;
        }
        let event = match self.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(None),
            Err(err) => {
                self.failed = Some(err.clone());
                return Err(err);
            }
        };
        let message = match event {
            Event::Data(DataKind::Text, range) => {
                let text = &mut self.buf[range];
                if std::str::from_utf8(text).is_err() {
                    return Err(fail(&mut self.failed, WsError::InvalidUtf8));
                }
                Message::Text(text)
            }
            Event::Data(DataKind::Binary, range) => Message::Binary(&self.buf[range]),
            Event::Assembled(DataKind::Text) => {
                let text = &mut self.message[..];
                if std::str::from_utf8(text).is_err() {
                    return Err(fail(&mut self.failed, WsError::InvalidUtf8));
                }
                Message::Text(text)
            }
            Event::Assembled(DataKind::Binary) => Message::Binary(&self.message[..]),
            Event::Ping(range) => Message::Ping(&self.buf[range]),
            Event::Pong(range) => Message::Pong(&self.buf[range]),
            Event::Close(None) => Message::Close(None),
            Event::Close(Some((code, range))) => match std::str::from_utf8(&self.buf[range]) {
                Ok(reason) => Message::Close(Some((code, reason))),
                Err(_) => return Err(fail(&mut self.failed, WsError::InvalidUtf8)),
            },
        };
        Ok(Some(message))
    }

    /// Forgets every byte and all state, and revives a dead decoder: for a new connection.
    /// Keeps its buffers.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.need = 0;
        self.message.clear();
        self.open = None;
        self.clear_message = false;
        self.failed = None;
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }

    /// Decodes frames until one makes a message, more bytes are needed, or the input is wrong.
    fn next_event(&mut self) -> Result<Option<Event>, WsError> {
        loop {
            let avail = self.end - self.start;
            if avail < 2 {
                self.need = 2;
                return Ok(None);
            }
            let b0 = self.buf[self.start];
            let b1 = self.buf[self.start + 1];
            // Everything that can be judged from the first two bytes is judged now.
            if b1 & 0x80 != 0 {
                return Err(WsError::MaskedServerFrame);
            }
            if b0 & 0x70 != 0 {
                return Err(WsError::ReservedBits);
            }
            let fin = b0 & 0x80 != 0;
            let raw_opcode = b0 & 0x0F;
            let opcode = OpCode::from_u8(raw_opcode).ok_or(WsError::BadOpcode(raw_opcode))?;
            let len7 = b1 & 0x7F;
            if opcode.is_control() {
                if !fin {
                    return Err(WsError::FragmentedControlFrame);
                }
                if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                    return Err(WsError::ControlFrameTooLong);
                }
            } else {
                match (opcode, self.open) {
                    (OpCode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
                    (OpCode::Text | OpCode::Binary, Some(_)) => {
                        return Err(WsError::ExpectedContinuation);
                    }
                    _ => {}
                }
            }

            let (header_len, len) = match len7 {
                126 => {
                    if avail < 4 {
                        self.need = 4;
                        return Ok(None);
                    }
                    let s = self.start;
                    (
                        4,
                        u64::from(u16::from_be_bytes([self.buf[s + 2], self.buf[s + 3]])),
                    )
                }
                127 => {
                    if avail < 10 {
                        self.need = 10;
                        return Ok(None);
                    }
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(&self.buf[self.start + 2..self.start + 10]);
                    (10, u64::from_be_bytes(bytes))
                }
                short => (2, u64::from(short)),
            };

            // Limits, from the header alone: nothing of the payload is buffered beyond what the
            // read buffer (one frame) already holds.
            if len > self.limits.max_frame as u64 && !opcode.is_control() {
                return Err(WsError::FrameTooLarge {
                    len,
                    limit: self.limits.max_frame,
                });
            }
            let message_len = match opcode {
                OpCode::Continuation => self.message.len() as u64 + len,
                OpCode::Text | OpCode::Binary => len,
                _ => 0,
            };
            if message_len > self.limits.max_message as u64 {
                return Err(WsError::MessageTooLarge {
                    len: message_len,
                    limit: self.limits.max_message,
                });
            }

            // `len` is at most `max_frame` (or 125) here, so it fits the buffer and a usize.
            let frame_len = header_len + len as usize;
            if avail < frame_len {
                self.need = frame_len;
                return Ok(None);
            }
            let payload = self.start + header_len..self.start + frame_len;
            // Consumed. The bytes stay where they are until the next spare_mut/push, which
            // cannot happen while the returned message borrows the decoder.
            self.start += frame_len;

            match opcode {
                OpCode::Ping => return Ok(Some(Event::Ping(payload))),
                OpCode::Pong => return Ok(Some(Event::Pong(payload))),
                OpCode::Close => return close_event(&self.buf, payload).map(Some),
                OpCode::Text | OpCode::Binary => {
                    let kind = if opcode == OpCode::Text {
                        DataKind::Text
                    } else {
                        DataKind::Binary
                    };
                    if fin {
                        return Ok(Some(Event::Data(kind, payload)));
                    }
                    self.open = Some(kind);
                    self.message.clear();
                    self.append_fragment(payload);
                }
                OpCode::Continuation => {
                    self.append_fragment(payload);
                    if fin && let Some(kind) = self.open.take() {
                        self.clear_message = true;
                        return Ok(Some(Event::Assembled(kind)));
                    }
                }
            }
        }
    }

    /// Appends a fragment; the caller has checked that the message stays within `max_message`.
    /// Growth doubles like `Vec` but never reserves beyond `max_message`.
    fn append_fragment(&mut self, payload: Range<usize>) {
        let needed = self.message.len() + payload.len();
        if needed > self.message.capacity() {
            let target = self
                .message
                .capacity()
                .saturating_mul(2)
                .max(needed)
                .min(self.limits.max_message.max(needed));
            self.message.reserve_exact(target - self.message.len());
        }
        self.message.extend_from_slice(&self.buf[payload]);
    }
}

fn fail(slot: &mut Option<WsError>, err: WsError) -> WsError {
    *slot = Some(err.clone());
    err
}

/// Checks a close payload: empty, or a valid code followed by a reason (checked for UTF-8 when
/// the message is built).
fn close_event(buf: &[u8], payload: Range<usize>) -> Result<Event, WsError> {
    match payload.len() {
        0 => Ok(Event::Close(None)),
        1 => Err(WsError::BadClosePayload),
        _ => {
            let code = u16::from_be_bytes([buf[payload.start], buf[payload.start + 1]]);
            if !close_code_is_valid(code) {
                return Err(WsError::BadCloseCode(code));
            }
            Ok(Event::Close(Some((code, payload.start + 2..payload.end))))
        }
    }
}

/// Codes a peer may send (RFC 6455 7.4 and the IANA registry): the defined 1000-1003 and
/// 1007-1014, and the 3000-4999 ranges for libraries and applications. 1004-1006 and 1015 are
/// reserved for local use and must never be on the wire.
fn close_code_is_valid(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("limits", &self.limits)
            .field("capacity", &self.buf.len())
            .field("buffered_bytes", &self.buffered_bytes())
            .field("fragmented_open", &self.open)
            .field("message_len", &self.message.len())
            .field("failed", &self.failed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FrameDecoder {
        FrameDecoder::new(Limits {
            max_frame: 1024,
            max_message: 4096,
        })
    }

    #[test]
    fn read_buffer_is_sized_for_one_whole_frame_at_construction() {
        let decoder = small();
        assert_eq!(decoder.capacity(), 1024 + MAX_CLIENT_HEADER);
        assert_eq!(decoder.message_capacity(), 0);
        let tiny = FrameDecoder::new(Limits {
            max_frame: 10,
            max_message: 10,
        });
        assert_eq!(
            tiny.capacity(),
            125 + MAX_CLIENT_HEADER,
            "room for any control frame"
        );
    }

    #[test]
    fn consumed_bytes_are_compacted_only_when_the_tail_runs_out() {
        let mut decoder = small();
        let cap = decoder.capacity();
        // Fill to the brim with complete 10-byte pings (2 header + 8 payload) plus a 4-byte
        // fragment of the next one.
        let mut wire = Vec::new();
        while wire.len() + 10 <= cap - 4 {
            wire.extend_from_slice(&[0x89, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        let whole = wire.len();
        wire.extend_from_slice(&[0x89, 8, 1, 2]);
        let spare = decoder.spare_mut();
        spare[..wire.len()].copy_from_slice(&wire);
        decoder.commit(wire.len());
        let mut pings = 0;
        while let Some(m) = decoder.next_message().expect("valid stream") {
            assert_eq!(m, Message::Ping(&[1, 2, 3, 4, 5, 6, 7, 8]));
            pings += 1;
        }
        assert_eq!(pings, whole / 10);
        assert_eq!(decoder.buffered_bytes(), 4);
        // The tail of the buffer still has room, but not for the rest of the frame in
        // progress: compaction moves the 4 bytes to the front.
        let spare_len = decoder.spare_mut().len();
        assert_eq!(spare_len, cap - 4);
        decoder.push(&[3, 4, 5, 6, 7, 8]).expect("room");
        assert_eq!(
            decoder.next_message().expect("valid"),
            Some(Message::Ping(&[1, 2, 3, 4, 5, 6, 7, 8]))
        );
    }

    #[test]
    fn spare_is_never_empty_while_consumed_bytes_can_be_dropped() {
        let mut decoder = small();
        let cap = decoder.capacity();
        // One binary frame of exactly max_frame bytes (header 4) followed by a partial header.
        let mut wire = vec![0x82, 126, 0x04, 0x00];
        wire.extend(std::iter::repeat_n(0xAB, 1024));
        wire.push(0x89);
        let fit = cap.min(wire.len());
        decoder.spare_mut()[..fit].copy_from_slice(&wire[..fit]);
        decoder.commit(fit);
        assert!(matches!(decoder.next_message(), Ok(Some(Message::Binary(b))) if b.len() == 1024));
        assert_eq!(decoder.next_message().expect("partial"), None);
        assert!(!decoder.spare_mut().is_empty());
    }

    #[test]
    fn commit_past_the_spare_slice_kills_the_decoder() {
        let mut decoder = small();
        let spare = decoder.spare_mut().len();
        decoder.commit(spare + 1);
        assert!(matches!(
            decoder.next_message(),
            Err(WsError::CommitOverflow { committed, spare: s }) if committed == spare + 1 && s == spare
        ));
        decoder.reset();
        assert!(matches!(decoder.next_message(), Ok(None)));
    }

    #[test]
    fn push_that_does_not_fit_is_refused_without_copying() {
        let mut decoder = small();
        let too_much = vec![0u8; decoder.capacity() + 1];
        assert!(matches!(
            decoder.push(&too_much),
            Err(WsError::BufferFull { .. })
        ));
        assert_eq!(decoder.buffered_bytes(), 0);
        decoder.push(&[0x8A, 0]).expect("still usable");
        assert_eq!(
            decoder.next_message().expect("pong"),
            Some(Message::Pong(&[]))
        );
    }

    #[test]
    fn close_codes_follow_rfc_6455() {
        for code in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(close_code_is_valid(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
            assert!(!close_code_is_valid(code), "{code}");
        }
    }
}
