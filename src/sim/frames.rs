//! Server frames (RFC 6455 section 5), encoded here rather than by tungstenite so faults can
//! shape them: fragments, control frames in between, and hostile frames no server should send.
//!
//! Server frames are never masked.

/// Continuation frame.
pub(super) const OP_CONTINUATION: u8 = 0x0;
/// Text frame.
pub(super) const OP_TEXT: u8 = 0x1;
/// Binary frame.
pub(super) const OP_BINARY: u8 = 0x2;
/// A reserved data opcode.
pub(super) const OP_RESERVED_DATA: u8 = 0x3;
/// Close frame.
pub(super) const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub(super) const OP_PING: u8 = 0x9;
/// Pong frame.
pub(super) const OP_PONG: u8 = 0xA;

/// The longest payload a control frame may carry.
pub(super) const MAX_CONTROL_PAYLOAD: usize = 125;

/// Close status codes the venue uses.
pub(super) mod close_code {
    /// Normal closure.
    pub(in crate::sim) const NORMAL: u16 = 1000;
    /// The server is going away (shutdown).
    pub(in crate::sim) const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub(in crate::sim) const PROTOCOL_ERROR: u16 = 1002;
    /// A message too big to process.
    pub(in crate::sim) const TOO_BIG: u16 = 1009;
}

/// Appends one unmasked frame.
pub(super) fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0F));
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// Appends a text message split into `fragments` frames (0 or 1: one frame). The pieces are as
/// even as possible and never empty, so there are at most as many frames as payload bytes. With
/// `ping_between`, a ping frame with that payload goes between every two fragments.
pub(super) fn encode_text(
    out: &mut Vec<u8>,
    text: &str,
    fragments: usize,
    ping_between: Option<&[u8]>,
) {
    let payload = text.as_bytes();
    let pieces = fragments.clamp(1, payload.len().max(1));
    let base = payload.len() / pieces;
    let extra = payload.len() % pieces;
    let mut at = 0;
    for i in 0..pieces {
        if let (true, Some(ping)) = (i > 0, ping_between) {
            encode_control(out, OP_PING, ping);
        }
        let len = base + usize::from(i < extra);
        let opcode = if i == 0 { OP_TEXT } else { OP_CONTINUATION };
        encode_frame(out, i + 1 == pieces, opcode, &payload[at..at + len]);
        at += len;
    }
}

/// Appends a control frame; the payload is cut to the 125 bytes a control frame may carry.
pub(super) fn encode_control(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
    encode_frame(out, true, opcode, payload);
}

/// Appends a close frame with a status code and a reason (cut to fit a control frame, on a
/// character boundary).
pub(super) fn encode_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    encode_frame(out, true, OP_CLOSE, &payload);
}

/// The hostile frames of [`super::Injection`], byte for byte as documented there.
pub(super) mod hostile {
    /// A text frame header claiming 2^40 payload bytes, with no payload.
    pub(in crate::sim) const HUGE_FRAME_HEADER: [u8; 10] =
        [0x81, 0x7F, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00];
    /// The key [`MASKED_FRAME`] is masked with.
    pub(in crate::sim) const MASKING_KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];
    /// `pong` in a masked text frame.
    pub(in crate::sim) const MASKED_FRAME: [u8; 10] = [
        0x81,
        0x84,
        MASKING_KEY[0],
        MASKING_KEY[1],
        MASKING_KEY[2],
        MASKING_KEY[3],
        b'p' ^ MASKING_KEY[0],
        b'o' ^ MASKING_KEY[1],
        b'n' ^ MASKING_KEY[2],
        b'g' ^ MASKING_KEY[3],
    ];
    /// `pong` in a text frame with RSV1, RSV2 and RSV3 set.
    pub(in crate::sim) const RESERVED_BITS: [u8; 6] = [0xF1, 0x04, b'p', b'o', b'n', b'g'];
    /// A text frame whose payload is not UTF-8.
    pub(in crate::sim) const INVALID_UTF8: [u8; 4] = [0x81, 0x02, 0xC3, 0x28];
    /// `pong` in a frame with the reserved opcode 3.
    pub(in crate::sim) const BAD_OPCODE: [u8; 6] =
        [0x80 | super::OP_RESERVED_DATA, 0x04, b'p', b'o', b'n', b'g'];
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A decoded frame: (fin, opcode, payload).
    pub(in crate::sim) type Decoded = (bool, u8, Vec<u8>);

    /// Decodes unmasked frames; panics on malformed input (for tests).
    pub(in crate::sim) fn decode_all(mut bytes: &[u8]) -> Vec<Decoded> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let fin = bytes[0] & 0x80 != 0;
            let opcode = bytes[0] & 0x0F;
            assert_eq!(bytes[1] & 0x80, 0, "server frames are unmasked");
            let (len, header) = match bytes[1] & 0x7F {
                126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
                127 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&bytes[2..10]);
                    (u64::from_be_bytes(n) as usize, 10)
                }
                n => (n as usize, 2),
            };
            frames.push((fin, opcode, bytes[header..header + len].to_vec()));
            bytes = &bytes[header + len..];
        }
        frames
    }

    #[test]
    fn lengths_use_the_shortest_form() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let mut out = Vec::new();
            encode_frame(&mut out, true, OP_TEXT, &vec![b'x'; len]);
            assert_eq!(out.len(), header + len, "payload of {len}");
            let frames = decode_all(&out);
            assert_eq!(frames, vec![(true, OP_TEXT, vec![b'x'; len])]);
        }
    }

    #[test]
    fn text_is_split_into_the_asked_number_of_fragments() {
        let mut out = Vec::new();
        encode_text(&mut out, "{\"event\":\"login\"}", 3, None);
        let frames = decode_all(&out);
        assert_eq!(frames.len(), 3);
        assert_eq!((frames[0].0, frames[0].1), (false, OP_TEXT));
        assert_eq!((frames[1].0, frames[1].1), (false, OP_CONTINUATION));
        assert_eq!((frames[2].0, frames[2].1), (true, OP_CONTINUATION));
        let joined: Vec<u8> = frames.into_iter().flat_map(|f| f.2).collect();
        assert_eq!(joined, b"{\"event\":\"login\"}");
    }

    #[test]
    fn fragments_never_outnumber_bytes_and_zero_means_one_frame() {
        let mut out = Vec::new();
        encode_text(&mut out, "pong", 10, None);
        assert_eq!(decode_all(&out).len(), 4);
        out.clear();
        encode_text(&mut out, "pong", 0, None);
        assert_eq!(decode_all(&out), vec![(true, OP_TEXT, b"pong".to_vec())]);
        out.clear();
        encode_text(&mut out, "", 5, None);
        assert_eq!(decode_all(&out), vec![(true, OP_TEXT, Vec::new())]);
    }

    #[test]
    fn pings_go_between_fragments_and_never_before_or_after() {
        let mut out = Vec::new();
        encode_text(&mut out, "pong", 3, Some(b"sim"));
        let ping = (true, OP_PING, b"sim".to_vec());
        assert_eq!(
            decode_all(&out),
            vec![
                (false, OP_TEXT, b"po".to_vec()),
                ping.clone(),
                (false, OP_CONTINUATION, b"n".to_vec()),
                ping,
                (true, OP_CONTINUATION, b"g".to_vec()),
            ]
        );
        out.clear();
        encode_text(&mut out, "pong", 1, Some(b"sim"));
        assert_eq!(decode_all(&out), vec![(true, OP_TEXT, b"pong".to_vec())]);
    }

    #[test]
    fn hostile_frames_are_the_documented_bytes() {
        assert_eq!(
            hostile::HUGE_FRAME_HEADER[2..],
            (1u64 << 40).to_be_bytes()[..]
        );
        assert_eq!(
            hostile::MASKED_FRAME,
            [0x81, 0x84, 0x37, 0xfa, 0x21, 0x3d, 0x47, 0x95, 0x4f, 0x5a]
        );
        assert_eq!(hostile::BAD_OPCODE, [0x83, 0x04, 0x70, 0x6f, 0x6e, 0x67]);
        assert!(std::str::from_utf8(&hostile::INVALID_UTF8[2..]).is_err());
    }

    #[test]
    fn close_frames_carry_the_code_and_a_bounded_reason() {
        let mut out = Vec::new();
        encode_close(&mut out, close_code::NORMAL, &"é".repeat(100));
        let frames = decode_all(&out);
        let payload = &frames[0].2;
        assert_eq!(&payload[..2], &1000u16.to_be_bytes());
        assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
        assert!(std::str::from_utf8(&payload[2..]).is_ok());
    }

    #[test]
    fn control_payloads_are_cut_to_125_bytes() {
        let mut out = Vec::new();
        encode_control(&mut out, OP_PONG, &[7u8; 300]);
        assert_eq!(decode_all(&out), vec![(true, OP_PONG, vec![7u8; 125])]);
    }
}
