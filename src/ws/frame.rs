//! Client frames: the encoder, masking, and masking keys.

/// The longest header a client frame can have (2 + 8 length + 4 mask).
///
/// `encode_client_frame` never allocates when the output vector has at least
/// `payload.len() + MAX_CLIENT_HEADER` bytes of spare capacity.
pub const MAX_CLIENT_HEADER: usize = 14;

/// The longest payload a control frame (close, ping, pong) may carry (RFC 6455 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A WebSocket frame opcode (RFC 6455 5.2). The reserved opcodes have no variant: the decoder
/// rejects them with [`WsError::BadOpcode`](super::WsError::BadOpcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a further fragment of a text or binary message.
    Continuation,
    /// `0x1`: UTF-8 text (first or only frame of a message).
    Text,
    /// `0x2`: binary data (first or only frame of a message).
    Binary,
    /// `0x8`: close, with an optional status code and reason.
    Close,
    /// `0x9`: ping; the peer answers with a pong carrying the same payload.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    /// The 4-bit wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit wire value, or `None` for a reserved value.
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        match value {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// True for close, ping and pong.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Appends one masked client frame with FIN set to `out`.
///
/// The header uses the shortest length encoding (7, 16 or 64 bits), the payload is copied and
/// masked with `mask`. Nothing is allocated when `out` has spare capacity of at least
/// `payload.len() + MAX_CLIENT_HEADER`.
///
/// Control frames (close, ping, pong) must carry at most [`MAX_CONTROL_PAYLOAD`] bytes: the
/// encoder does not check it, and a server will reject a longer one.
///
/// ```
/// use bitget_cancel::ws::{encode_client_frame, OpCode};
///
/// let mut out = Vec::with_capacity(64);
/// encode_client_frame(&mut out, OpCode::Text, b"ping", [1, 2, 3, 4]);
/// assert_eq!(out[0], 0x81); // FIN + text
/// assert_eq!(out[1], 0x80 | 4); // masked, 4 bytes
/// assert_eq!(&out[2..6], &[1, 2, 3, 4]); // the mask
/// assert_eq!(out[6], b'p' ^ 1);
/// ```
pub fn encode_client_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8], mask: [u8; 4]) {
    let len = payload.len();
    out.reserve(len + MAX_CLIENT_HEADER);
    out.push(0x80 | opcode.to_u8());
    if len < 126 {
        // `len < 126` fits in the 7-bit field.
        out.push(0x80 | len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
}

/// Appends a pong answering a server ping: the same payload, masked.
///
/// The decoder only yields pings of at most 125 bytes, so any ping payload it returned can be
/// passed here as is.
pub fn encode_pong(out: &mut Vec<u8>, ping_payload: &[u8], mask: [u8; 4]) {
    encode_client_frame(out, OpCode::Pong, ping_payload, mask);
}

/// Appends a close frame: with `Some(code)` the payload is the two-byte status code (echo the
/// server's code when answering its close), with `None` it is empty (the answer to a close that
/// carried no code).
pub fn encode_close(out: &mut Vec<u8>, code: Option<u16>, mask: [u8; 4]) {
    match code {
        Some(code) => encode_client_frame(out, OpCode::Close, &code.to_be_bytes(), mask),
        None => encode_client_frame(out, OpCode::Close, &[], mask),
    }
}

/// XORs `buf` with `mask` in place (RFC 6455 5.3), starting at mask offset 0.
///
/// Works 8 bytes at a time with one `u64` XOR (safe code: `chunks_exact_mut`), then the tail.
/// Applying the same mask twice restores the input.
///
/// ```
/// use bitget_cancel::ws::apply_mask;
///
/// let mut data = *b"hello, world";
/// apply_mask(&mut data, [0xde, 0xad, 0xbe, 0xef]);
/// assert_ne!(&data, b"hello, world");
/// apply_mask(&mut data, [0xde, 0xad, 0xbe, 0xef]);
/// assert_eq!(&data, b"hello, world");
/// ```
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    let [a, b, c, d] = mask;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    // Every chunk is a multiple of 4 bytes long, so the tail starts at mask offset 0 again.
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= key;
    }
}

/// Masking keys for client frames: an xorshift64* generator seeded once from the OS.
///
/// # Why not a cryptographic generator per frame
/// RFC 6455 10.3 asks for unpredictable masks so that a hostile *author of the payload* (a
/// script in a browser) cannot choose the bytes an intermediary sees on the wire and poison an
/// HTTP cache. Here every payload is produced by this crate from validated intents, never by
/// an adversary sharing the client, and the connection runs over TLS, so intermediaries only
/// see ciphertext. What remains is the RFC's requirement that masks vary from frame to frame,
/// which a fast PRNG meets at a cost of a few nanoseconds and no system call. The seed comes
/// from the OS (`getrandom`) so sequences differ between processes and connections.
///
/// ```
/// use bitget_cancel::ws::MaskGen;
///
/// let mut masks = MaskGen::new();
/// let first = masks.next_mask();
/// let second = masks.next_mask();
/// assert_ne!(first, second);
/// ```
#[derive(Debug)]
pub struct MaskGen {
    state: u64,
}

impl MaskGen {
    /// A generator seeded from the operating system's random source.
    ///
    /// If the OS source fails (it practically never does on Linux), the seed falls back to the
    /// monotonic clock mixed with an address: the masks still vary per frame, which is all a
    /// TLS client needs (see the type's docs).
    pub fn new() -> Self {
        let seed = getrandom::u64().unwrap_or_else(|_| fallback_seed());
        MaskGen::from_seed(seed)
    }

    /// A generator with a fixed seed, for reproducible tests. Do not use it on a real
    /// connection.
    pub fn from_seed(seed: u64) -> Self {
        // xorshift must never hold 0; splitmix64 spreads a poor seed over all bits.
        let state = splitmix64(seed);
        MaskGen {
            state: if state == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                state
            },
        }
    }

    /// The next masking key.
    #[inline]
    pub fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        let out = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // The high half of xorshift64* is its best-distributed part.
        ((out >> 32) as u32).to_ne_bytes()
    }
}

impl Default for MaskGen {
    fn default() -> Self {
        MaskGen::new()
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fallback_seed() -> u64 {
    let local = 0u8;
    let address = &local as *const u8 as u64;
    crate::clock::monotonic_ns() ^ address.rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_mask(buf: &mut [u8], mask: [u8; 4]) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
    }

    #[test]
    fn apply_mask_matches_the_byte_by_byte_definition_for_every_length_and_alignment() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let source: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37)).collect();
        for offset in 0..8 {
            for len in 0..(source.len() - offset) {
                let mut fast = source[offset..offset + len].to_vec();
                let mut slow = fast.clone();
                apply_mask(&mut fast, mask);
                naive_mask(&mut slow, mask);
                assert_eq!(fast, slow, "offset {offset} len {len}");
            }
        }
    }

    #[test]
    fn frame_header_uses_the_shortest_length_encoding() {
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0x80]),
            (125, &[0x80 | 125]),
            (126, &[0x80 | 126, 0, 126]),
            (65535, &[0x80 | 126, 0xff, 0xff]),
            (65536, &[0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0]),
            (70_000, &[0x80 | 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
        ];
        for (len, length_bytes) in cases {
            let mut out = Vec::new();
            encode_client_frame(&mut out, OpCode::Binary, &vec![7u8; len], [0; 4]);
            assert_eq!(out[0], 0x82, "len {len}");
            assert_eq!(&out[1..1 + length_bytes.len()], length_bytes, "len {len}");
            assert_eq!(out.len(), 1 + length_bytes.len() + 4 + len, "len {len}");
        }
    }

    #[test]
    fn encode_appends_after_existing_bytes() {
        let mut out = b"xyz".to_vec();
        encode_client_frame(&mut out, OpCode::Ping, b"", [9, 9, 9, 9]);
        assert_eq!(out, [b'x', b'y', b'z', 0x89, 0x80, 9, 9, 9, 9]);
    }

    #[test]
    fn encode_close_writes_the_code_big_endian_or_nothing() {
        let mut out = Vec::new();
        encode_close(&mut out, Some(1000), [0; 4]);
        assert_eq!(out, [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]);
        out.clear();
        encode_close(&mut out, None, [0; 4]);
        assert_eq!(out, [0x88, 0x80, 0, 0, 0, 0]);
    }

    #[test]
    fn opcode_wire_values_round_trip_and_reserved_values_are_refused() {
        for value in 0..16u8 {
            match OpCode::from_u8(value) {
                Some(op) => assert_eq!(op.to_u8(), value),
                None => assert!(matches!(value, 3..=7 | 11..=15), "{value}"),
            }
        }
    }

    #[test]
    fn masks_vary_from_frame_to_frame() {
        let mut masks = MaskGen::from_seed(0);
        let drawn: Vec<[u8; 4]> = (0..64).map(|_| masks.next_mask()).collect();
        let mut distinct = drawn.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            drawn.len(),
            "a mask repeated within 64 frames"
        );
    }

    #[test]
    fn os_seeded_generators_differ() {
        let a: Vec<[u8; 4]> = {
            let mut g = MaskGen::new();
            (0..4).map(|_| g.next_mask()).collect()
        };
        let b: Vec<[u8; 4]> = {
            let mut g = MaskGen::new();
            (0..4).map(|_| g.next_mask()).collect()
        };
        assert_ne!(a, b);
    }
}
