//! Properties of the two decoders on the network boundary, over generated input.
//!
//! - The frame decoder: arbitrary bytes and arbitrary frame soup never panic and never take
//!   memory past the limits, nor does a fragmented message near the message limit; generated
//!   valid server streams decode to the messages they were built from whatever the split; a
//!   stream with a protocol violation fails with the same error after the same messages
//!   whatever the split, and so does a stream with random bytes flipped; frames from the client
//!   encoder, unmasked as a server would, decode to the payloads they were built from.
//! - The reply decoder: arbitrary JSON-ish bytes never panic; arbitrary JSON value trees never
//!   panic and simd-json and serde_json agree on them; well-formed replies with arbitrary ids,
//!   codes and messages (escaped in every way JSON allows) decode to exactly those fields.
//!
//! Case counts are modest so the file runs in seconds in a debug build. `PROPTEST_CASES=N`
//! raises every property to `N` cases.

#[path = "support/owned_message.rs"]
mod owned_message;
use owned_message::{Owned, own};

use bitget_cancel::protocol::{DecodeError, OwnedReply, ReplyDecoder, decode_with_serde_json};
use bitget_cancel::ws::{
    FrameDecoder, Limits, MaskGen, Message, OpCode, WsError, apply_mask, encode_client_frame,
    encode_close, encode_pong,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

/// `cases` unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

// =============================================================================================
// Frame decoder: building, feeding and checking streams

/// Limits roomy enough for every generated valid stream, including 64-bit-length frames.
const STREAM_LIMITS: Limits = Limits {
    max_frame: 80 * 1024,
    max_message: 100 * 1024,
};

/// How a frame header writes its payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LenForm {
    /// The 7-, 16- or 64-bit field, whichever is shortest (what RFC 6455 asks for).
    Shortest,
    /// The 16-bit field even for a short payload.
    Wide16,
    /// The 64-bit field even for a short payload.
    Wide64,
}

/// One unmasked server frame.
fn server_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], form: LenForm) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let len = payload.len();
    let form = match form {
        LenForm::Shortest if len < 126 => None,
        LenForm::Shortest if len <= 0xFFFF => Some(LenForm::Wide16),
        LenForm::Shortest => Some(LenForm::Wide64),
        LenForm::Wide16 if len > 0xFFFF => Some(LenForm::Wide64),
        wide => Some(wide),
    };
    match form {
        None => out.push(len as u8),
        Some(LenForm::Wide16) => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        Some(_) => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// What feeding a stream produced: the messages in order, then the error that stopped it.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    messages: Vec<Owned>,
    /// The error's `Debug` text: equal texts mean the same variant with the same fields.
    error: Option<String>,
}

/// Cuts `bytes` into pieces whose sizes cycle through `sizes`.
fn chunk<'b>(bytes: &'b [u8], sizes: &[usize]) -> Vec<&'b [u8]> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).max(1).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Checks what the decoder promises about its memory, whatever it was fed.
fn assert_bounded(decoder: &FrameDecoder, capacity: usize) {
    assert_eq!(decoder.capacity(), capacity, "the read buffer never grows");
    assert!(decoder.buffered_bytes() <= capacity);
    assert!(
        decoder.message_capacity() <= decoder.limits().max_message,
        "reassembly buffer {} over the message limit {}",
        decoder.message_capacity(),
        decoder.limits().max_message
    );
}

/// Checks what the decoder promises about each message it yields.
fn assert_message_within_protocol(message: &Message<'_>, limits: Limits) {
    match message {
        Message::Text(t) => {
            assert!(std::str::from_utf8(t).is_ok(), "text is UTF-8");
            assert!(t.len() <= limits.max_message);
        }
        Message::Binary(b) => assert!(b.len() <= limits.max_message),
        Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125),
        Message::Close(Some((code, reason))) => {
            assert!(matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999));
            assert!(reason.len() <= 123);
        }
        Message::Close(None) => {}
    }
}

/// Feeds `pieces` to a fresh decoder until the first error, draining after every piece, either
/// through `spare_mut` + `commit` (as the engine reads a socket) or through `push` (splitting a
/// piece when the buffer is full, as `BufferFull` asks).
fn feed(limits: Limits, pieces: &[&[u8]], use_push: bool) -> Run {
    let mut decoder = FrameDecoder::new(limits);
    let capacity = decoder.capacity();
    let mut messages = Vec::new();
    for piece in pieces {
        let mut piece = *piece;
        while !piece.is_empty() {
            if use_push {
                match decoder.push(piece) {
                    Ok(()) => piece = &[],
                    Err(WsError::BufferFull { spare, .. }) => {
                        assert!(spare > 0, "a drained decoder always has room");
                        if let Err(err) = decoder.push(&piece[..spare]) {
                            panic!("{spare} free bytes refused: {err:?}");
                        }
                        piece = &piece[spare..];
                    }
                    Err(err) => panic!("push failed before any decoding error: {err:?}"),
                }
            } else {
                let spare = decoder.spare_mut();
                assert!(!spare.is_empty(), "a drained decoder always has room");
                let n = spare.len().min(piece.len());
                spare[..n].copy_from_slice(&piece[..n]);
                decoder.commit(n);
                piece = &piece[n..];
            }
            loop {
                match decoder.next_message() {
                    Ok(Some(message)) => {
                        assert_message_within_protocol(&message, limits);
                        messages.push(own(message));
                    }
                    Ok(None) => break,
                    Err(err) => {
                        assert_bounded(&decoder, capacity);
                        return Run {
                            messages,
                            error: Some(format!("{err:?}")),
                        };
                    }
                }
            }
            assert_bounded(&decoder, capacity);
        }
    }
    Run {
        messages,
        error: None,
    }
}

/// Feeds the whole input in as few pieces as the read buffer allows.
fn feed_whole(limits: Limits, bytes: &[u8]) -> Run {
    feed(limits, &[bytes], false)
}

/// Split points: chunk sizes that are tiny, medium or large, cycled over the whole stream.
fn arb_chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        proptest::collection::vec(1usize..8, 1..16),
        proptest::collection::vec(1usize..600, 1..16),
        proptest::collection::vec(1usize..100_000, 1..4),
    ]
}

/// Deterministic filler bytes, so a long payload costs one generated number, not one per byte.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Valid UTF-8 of about `len` bytes, mixing one- to four-byte characters.
fn filler_text(len: usize, seed: u64) -> Vec<u8> {
    const ALPHABET: [&str; 8] = ["a", "Z", "\"", "\\", "\n", "é", "中", "🦀"];
    let mut out = String::with_capacity(len + 4);
    for byte in filler(len, seed) {
        if out.len() >= len {
            break;
        }
        out.push_str(ALPHABET[usize::from(byte) % ALPHABET.len()]);
    }
    out.into_bytes()
}

/// A payload length: mostly short, sometimes in the 16-bit range, rarely past 65 535 bytes.
fn arb_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..=125,
        3 => 126usize..=1200,
        1 => prop_oneof![Just(0xFFFFusize), Just(0x1_0000), 0x1_0000usize..0x1_0400],
    ]
}

fn arb_form() -> impl Strategy<Value = LenForm> {
    prop_oneof![
        6 => Just(LenForm::Shortest),
        1 => Just(LenForm::Wide16),
        1 => Just(LenForm::Wide64),
    ]
}

/// A control frame that may come between any two frames: (opcode, payload).
fn arb_control() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (
        prop_oneof![Just(0x9u8), Just(0xA)],
        proptest::collection::vec(any::<u8>(), 0..=125),
    )
}

/// One message of a valid stream, as the server frames it.
#[derive(Debug, Clone)]
enum Item {
    /// A whole text or binary message in one frame.
    Whole {
        text: bool,
        len: usize,
        seed: u64,
        form: LenForm,
    },
    /// A text or binary message cut at arbitrary byte positions (mid-character for text),
    /// with control frames between some of the fragments.
    Fragmented {
        text: bool,
        len: usize,
        seed: u64,
        cuts: Vec<Index>,
        controls: Vec<Option<(u8, Vec<u8>)>>,
        form: LenForm,
    },
    /// A ping or pong.
    Control(u8, Vec<u8>),
}

fn arb_item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (any::<bool>(), arb_len(), any::<u64>(), arb_form())
            .prop_map(|(text, len, seed, form)| Item::Whole { text, len, seed, form }),
        3 => (
            any::<bool>(),
            0usize..1500,
            any::<u64>(),
            proptest::collection::vec(any::<Index>(), 1..6),
            proptest::collection::vec(proptest::option::weighted(0.4, arb_control()), 0..6),
            arb_form(),
        )
            .prop_map(|(text, len, seed, cuts, controls, form)| Item::Fragmented {
                text,
                len,
                seed,
                cuts,
                controls,
                form,
            }),
        2 => arb_control().prop_map(|(opcode, payload)| Item::Control(opcode, payload)),
    ]
}

/// A close the server may end a stream with: no payload, or a valid code and UTF-8 reason.
fn arb_close() -> impl Strategy<Value = Option<Option<(u16, String)>>> {
    let code = prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999];
    proptest::option::of(proptest::option::of((code, "[a-z é中]{0,30}")))
}

/// A valid server stream and the messages it means.
#[derive(Debug, Clone)]
struct Stream {
    bytes: Vec<u8>,
    /// Byte offsets between messages, where no fragmented message is open (start and end
    /// included).
    boundaries: Vec<usize>,
    messages: Vec<Owned>,
}

fn build_stream(items: &[Item], close: &Option<Option<(u16, String)>>) -> Stream {
    let mut bytes = Vec::new();
    let mut boundaries = vec![0];
    let mut messages = Vec::new();
    for item in items {
        match item {
            Item::Whole {
                text,
                len,
                seed,
                form,
            } => {
                let (opcode, payload) = if *text {
                    (0x1, filler_text(*len, *seed))
                } else {
                    (0x2, filler(*len, *seed))
                };
                server_frame(&mut bytes, true, opcode, &payload, *form);
                messages.push(if *text {
                    Owned::Text(payload)
                } else {
                    Owned::Binary(payload)
                });
            }
            Item::Fragmented {
                text,
                len,
                seed,
                cuts,
                controls,
                form,
            } => {
                let payload = if *text {
                    filler_text(*len, *seed)
                } else {
                    filler(*len, *seed)
                };
                let mut cut_at: Vec<usize> =
                    cuts.iter().map(|c| c.index(payload.len() + 1)).collect();
                cut_at.push(payload.len());
                cut_at.sort_unstable();
                // Fragments may be empty (repeated cut points): that is legal too.
                let mut from = 0;
                for (i, to) in cut_at.iter().enumerate() {
                    let last = i + 1 == cut_at.len();
                    let opcode = match (i == 0, text) {
                        (true, true) => 0x1,
                        (true, false) => 0x2,
                        (false, _) => 0x0,
                    };
                    server_frame(&mut bytes, last, opcode, &payload[from..*to], *form);
                    from = *to;
                    if !last && let Some(Some((control, body))) = controls.get(i) {
                        server_frame(&mut bytes, true, *control, body, LenForm::Shortest);
                        messages.push(control_message(*control, body));
                    }
                }
                messages.push(if *text {
                    Owned::Text(payload)
                } else {
                    Owned::Binary(payload)
                });
            }
            Item::Control(opcode, payload) => {
                server_frame(&mut bytes, true, *opcode, payload, LenForm::Shortest);
                messages.push(control_message(*opcode, payload));
            }
        }
        boundaries.push(bytes.len());
    }
    if let Some(close) = close {
        let payload = match close {
            Some((code, reason)) => {
                let mut p = code.to_be_bytes().to_vec();
                p.extend_from_slice(reason.as_bytes());
                p
            }
            None => Vec::new(),
        };
        server_frame(&mut bytes, true, 0x8, &payload, LenForm::Shortest);
        messages.push(Owned::Close(close.clone()));
        boundaries.push(bytes.len());
    }
    Stream {
        bytes,
        boundaries,
        messages,
    }
}

fn control_message(opcode: u8, payload: &[u8]) -> Owned {
    if opcode == 0x9 {
        Owned::Ping(payload.to_vec())
    } else {
        Owned::Pong(payload.to_vec())
    }
}

fn arb_stream() -> impl Strategy<Value = Stream> {
    (proptest::collection::vec(arb_item(), 1..10), arb_close())
        .prop_map(|(items, close)| build_stream(&items, &close))
}

/// A frame that breaks the protocol, and the error it must cause.
fn violation(kind: u8, len_hint: usize) -> (Vec<u8>, &'static str) {
    let mut out = Vec::new();
    match kind % 12 {
        0 => {
            out.extend_from_slice(&[0x81, 0x80 | 3, 1, 2, 3, 4, b'a', b'b', b'c']);
            (out, "MaskedServerFrame")
        }
        1 => {
            server_frame(&mut out, true, 0x1, b"x", LenForm::Shortest);
            out[0] |= 0x10 << (len_hint % 3);
            (out, "ReservedBits")
        }
        2 => {
            server_frame(
                &mut out,
                true,
                3 + (len_hint % 5) as u8,
                b"",
                LenForm::Shortest,
            );
            (out, "BadOpcode")
        }
        3 => {
            server_frame(&mut out, false, 0x9, b"", LenForm::Shortest);
            (out, "FragmentedControlFrame")
        }
        4 => {
            server_frame(
                &mut out,
                true,
                0xA,
                &vec![0; 126 + len_hint % 100],
                LenForm::Shortest,
            );
            (out, "ControlFrameTooLong")
        }
        5 => {
            server_frame(&mut out, true, 0x0, b"orphan", LenForm::Shortest);
            (out, "UnexpectedContinuation")
        }
        6 => {
            server_frame(&mut out, true, 0x8, &[3], LenForm::Shortest);
            (out, "BadClosePayload")
        }
        7 => {
            server_frame(
                &mut out,
                true,
                0x8,
                &1005u16.to_be_bytes(),
                LenForm::Shortest,
            );
            (out, "BadCloseCode")
        }
        8 => {
            server_frame(&mut out, true, 0x1, &[b'{', 0xC3, b'}'], LenForm::Shortest);
            (out, "InvalidUtf8")
        }
        9 => {
            // A 2^40-byte header: refused from the header alone.
            out.extend_from_slice(&[0x82, 127]);
            out.extend_from_slice(&(1u64 << 40).to_be_bytes());
            (out, "FrameTooLarge")
        }
        10 => {
            // Two fragments, each within the frame limit, that together pass the message
            // limit: refused from the second header.
            let half = STREAM_LIMITS.max_message / 2 + 1;
            assert!(half <= STREAM_LIMITS.max_frame);
            server_frame(&mut out, false, 0x2, &vec![0; half], LenForm::Shortest);
            out.extend_from_slice(&[0x80, 127]);
            out.extend_from_slice(&(half as u64).to_be_bytes());
            (out, "MessageTooLarge")
        }
        _ => {
            // A fragmented message interrupted by a new one.
            server_frame(&mut out, false, 0x1, b"part", LenForm::Shortest);
            server_frame(&mut out, true, 0x2, b"new", LenForm::Shortest);
            (out, "ExpectedContinuation")
        }
    }
}

// =============================================================================================
// Frame decoder: properties

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn frame_decoder_survives_arbitrary_bytes_with_bounded_memory(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        sizes in proptest::collection::vec(1usize..300, 1..8),
        max_frame in 0usize..400,
        max_message in 0usize..800,
    ) {
        survive(&bytes, &sizes, Limits { max_frame, max_message });
    }

    #[test]
    fn frame_decoder_survives_arbitrary_frame_soup_with_bounded_memory(
        frames in proptest::collection::vec(
            (any::<u8>(), any::<u8>(), 0usize..300, any::<u64>(), any::<bool>()),
            0..24,
        ),
        sizes in proptest::collection::vec(1usize..300, 1..8),
        max_frame in 0usize..400,
        max_message in 0usize..800,
    ) {
        // Headers with every bit arbitrary (fin, reserved bits, opcode, mask bit, length form)
        // over payloads whose length mostly matches the header, so frames get past the first
        // two bytes and reach the fragment, limit and UTF-8 checks.
        let mut bytes = Vec::new();
        for (b0, b1, len, seed, honest) in frames {
            bytes.push(b0);
            let masked = b1 & 0x80;
            match b1 & 0x7F {
                126 => {
                    bytes.push(masked | 126);
                    bytes.extend_from_slice(&(len as u16).to_be_bytes());
                }
                127 => {
                    bytes.push(masked | 127);
                    bytes.extend_from_slice(&(len as u64).to_be_bytes());
                }
                _ => bytes.push(masked | (len.min(125) as u8)),
            }
            let announced = if b1 & 0x7F >= 126 { len } else { len.min(125) };
            let payload_len = if honest { announced } else { len / 3 };
            if seed % 2 == 0 {
                bytes.extend(filler_text(payload_len, seed));
            } else {
                bytes.extend(filler(payload_len, seed));
            }
        }
        survive(&bytes, &sizes, Limits { max_frame, max_message });
    }

    #[test]
    fn the_reassembly_buffer_stays_within_the_message_limit(
        max_frame in 1usize..300,
        max_message in 0usize..1000,
        fragments in proptest::collection::vec(0usize..300, 1..12),
        seed in any::<u64>(),
        sizes in arb_chunk_sizes(),
    ) {
        // One fragmented binary message whose fragments each fit the frame limit; the whole
        // fits the message limit or not. Growth by doubling must stop at the limit.
        let limits = Limits { max_frame, max_message };
        let mut bytes = Vec::new();
        let mut whole = Vec::new();
        for (i, len) in fragments.iter().enumerate() {
            let payload = filler((*len).min(max_frame), seed ^ i as u64);
            let opcode = if i == 0 { 0x2 } else { 0x0 };
            let fin = i + 1 == fragments.len();
            server_frame(&mut bytes, fin, opcode, &payload, LenForm::Shortest);
            whole.extend_from_slice(&payload);
        }
        let run = feed(limits, &chunk(&bytes, &sizes), false);
        if whole.len() <= max_message {
            prop_assert_eq!(run, Run { messages: vec![Owned::Binary(whole)], error: None });
        } else {
            prop_assert!(run.messages.is_empty());
            let error = run.error.unwrap_or_default();
            prop_assert!(error.starts_with("MessageTooLarge"), "{}", error);
        }
    }

    #[test]
    fn valid_streams_decode_to_their_messages_whatever_the_split(
        stream in arb_stream(),
        sizes in arb_chunk_sizes(),
        use_push in any::<bool>(),
    ) {
        let whole = feed_whole(STREAM_LIMITS, &stream.bytes);
        prop_assert_eq!(&whole, &Run { messages: stream.messages.clone(), error: None });
        let split = feed(STREAM_LIMITS, &chunk(&stream.bytes, &sizes), use_push);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn valid_streams_decode_the_same_split_at_arbitrary_points(
        stream in arb_stream(),
        points in proptest::collection::vec(any::<Index>(), 0..64),
    ) {
        let mut cuts: Vec<usize> =
            points.iter().map(|p| p.index(stream.bytes.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.bytes.len());
        cuts.sort_unstable();
        let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &stream.bytes[w[0]..w[1]]).collect();
        let split = feed(STREAM_LIMITS, &pieces, false);
        prop_assert_eq!(split, Run { messages: stream.messages, error: None });
    }

    #[test]
    fn a_protocol_violation_fails_the_same_whatever_the_split(
        stream in arb_stream(),
        at in any::<Index>(),
        kind in any::<u8>(),
        hint in any::<usize>(),
        trailer in proptest::collection::vec(any::<u8>(), 0..64),
        sizes in arb_chunk_sizes(),
        use_push in any::<bool>(),
    ) {
        // The violation goes between two messages (never inside a fragmented one), and
        // anything may follow it.
        let boundary = stream.boundaries[at.index(stream.boundaries.len())];
        let (bad, variant) = violation(kind, hint);
        let mut bytes = stream.bytes[..boundary].to_vec();
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(&stream.bytes[boundary..]);
        bytes.extend_from_slice(&trailer);

        let whole = feed_whole(STREAM_LIMITS, &bytes);
        let error = whole.error.clone().unwrap_or_default();
        prop_assert!(error.starts_with(variant), "expected {}, got {:?}", variant, whole);
        // Exactly the messages before the violation came out.
        let before = feed_whole(STREAM_LIMITS, &stream.bytes[..boundary]);
        prop_assert_eq!(&whole.messages, &before.messages);

        let split = feed(STREAM_LIMITS, &chunk(&bytes, &sizes), use_push);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn corrupted_streams_decode_the_same_whatever_the_split(
        stream in arb_stream(),
        flips in proptest::collection::vec((any::<Index>(), 1u8..=255), 1..6),
        sizes in arb_chunk_sizes(),
        use_push in any::<bool>(),
    ) {
        let mut bytes = stream.bytes;
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        let whole = feed_whole(STREAM_LIMITS, &bytes);
        let split = feed(STREAM_LIMITS, &chunk(&bytes, &sizes), use_push);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn client_frames_unmasked_by_the_server_decode_to_their_payloads(
        frames in proptest::collection::vec(
            (0u8..5, arb_len(), any::<u64>(), 1000u16..=1003),
            1..8,
        ),
        seed in any::<u64>(),
        sizes in arb_chunk_sizes(),
    ) {
        let mut masks = MaskGen::from_seed(seed);
        let mut client = Vec::new();
        let mut expected = Vec::new();
        for (kind, len, fill, code) in frames {
            match kind {
                0 => {
                    let payload = filler_text(len, fill);
                    encode_client_frame(&mut client, OpCode::Text, &payload, masks.next_mask());
                    expected.push(Owned::Text(payload));
                }
                1 => {
                    let payload = filler(len, fill);
                    encode_client_frame(&mut client, OpCode::Binary, &payload, masks.next_mask());
                    expected.push(Owned::Binary(payload));
                }
                2 => {
                    let payload = filler(len % 126, fill);
                    encode_client_frame(&mut client, OpCode::Ping, &payload, masks.next_mask());
                    expected.push(Owned::Ping(payload));
                }
                3 => {
                    let payload = filler(len % 126, fill);
                    encode_pong(&mut client, &payload, masks.next_mask());
                    expected.push(Owned::Pong(payload));
                }
                _ => {
                    let code = (fill % 2 == 0).then_some(code);
                    encode_close(&mut client, code, masks.next_mask());
                    expected.push(Owned::Close(code.map(|c| (c, String::new()))));
                }
            }
        }
        let server = unmask_client_stream(&client);
        prop_assert_eq!(
            feed(STREAM_LIMITS, &chunk(&server, &sizes), false),
            Run { messages: expected, error: None }
        );
    }
}

/// Feeds arbitrary input through a decoder that is reset after every error and goes on with
/// the rest, checking the memory bounds after every step. Reaching the end is the property.
fn survive(bytes: &[u8], sizes: &[usize], limits: Limits) {
    let mut decoder = FrameDecoder::new(limits);
    let capacity = decoder.capacity();
    for piece in chunk(bytes, sizes) {
        let mut piece = piece;
        while !piece.is_empty() {
            let spare = decoder.spare_mut();
            assert!(!spare.is_empty(), "a drained decoder always has room");
            let n = spare.len().min(piece.len());
            spare[..n].copy_from_slice(&piece[..n]);
            decoder.commit(n);
            piece = &piece[n..];
            loop {
                match decoder.next_message() {
                    Ok(Some(message)) => assert_message_within_protocol(&message, limits),
                    Ok(None) => break,
                    Err(_) => {
                        assert_bounded(&decoder, capacity);
                        decoder.reset();
                        assert_eq!(decoder.buffered_bytes(), 0);
                        break;
                    }
                }
            }
            assert_bounded(&decoder, capacity);
        }
    }
}

/// What a server sees after removing the masks from a stream of client frames: the same frames,
/// unmasked, which is the form the decoder reads.
fn unmask_client_stream(mut client: &[u8]) -> Vec<u8> {
    let mut server = Vec::with_capacity(client.len());
    while !client.is_empty() {
        assert_ne!(client[1] & 0x80, 0, "client frames are masked");
        let (header_len, len) = match client[1] & 0x7F {
            126 => (4, usize::from(u16::from_be_bytes([client[2], client[3]]))),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&client[2..10]);
                (10, usize::try_from(u64::from_be_bytes(b)).expect("fits"))
            }
            n => (2, usize::from(n)),
        };
        let mask = [
            client[header_len],
            client[header_len + 1],
            client[header_len + 2],
            client[header_len + 3],
        ];
        server.push(client[0]);
        server.push(client[1] & 0x7F);
        server.extend_from_slice(&client[2..header_len]);
        let payload_at = server.len();
        server.extend_from_slice(&client[header_len + 4..header_len + 4 + len]);
        apply_mask(&mut server[payload_at..], mask);
        client = &client[header_len + 4 + len..];
    }
    server
}

// =============================================================================================
// Reply decoder: generators

/// Decodes with both parsers, asserting they agree; the common result.
fn decode_both(text: &[u8]) -> Result<OwnedReply, DecodeError> {
    let mut decoder = ReplyDecoder::new();
    let simd = decoder.decode(&mut text.to_vec()).map(OwnedReply::from);
    let serde = decode_with_serde_json(text);
    assert_eq!(
        simd,
        serde,
        "simd-json and serde_json disagree on {:?}",
        String::from_utf8_lossy(text)
    );
    simd
}

/// Any JSON value, nested at most a few levels (far below both parsers' depth limits).
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        prop_oneof![
            Just("trade"),
            Just("error"),
            Just("login"),
            Just("0"),
            Just("-1"),
            Just("id")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Object keys: mostly the ones the reply reader looks for, so generated trees reach its rules.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop_oneof![
            Just("event"), Just("arg"), Just("id"), Just("code"), Just("msg"), Just("ts"),
        ]
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A venue code: the ones it sends, small numbers, the `i64` edges, or anything.
fn arb_code() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop_oneof![
            Just(0i64),
            Just(43001),
            Just(41101),
            Just(30006),
            Just(30007)
        ],
        -10i64..100_000,
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1)],
        any::<i64>(),
    ]
}

/// One entry of `arg`: an object with or without an `id` of any type.
fn arb_arg_entry() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        3 => any::<String>().prop_map(Value::String),
        1 => arb_value(),
    ];
    (proptest::option::of(id), arb_value()).prop_map(|(id, extra)| {
        let mut entry = Map::new();
        if let Some(id) = id {
            entry.insert("id".to_owned(), id);
        }
        entry.insert("instType".to_owned(), extra);
        Value::Object(entry)
    })
}

/// A root object shaped like a reply: the reader's fields with arbitrary values or none, plus
/// arbitrary extra fields.
fn arb_reply_like() -> impl Strategy<Value = Value> {
    let event = prop_oneof![
        Just("trade"),
        Just("error"),
        Just("login"),
        Just("subscribe"),
        Just(""),
    ]
    .prop_map(|s| Value::String(s.to_owned()));
    let event = prop_oneof![6 => event, 1 => arb_value()];
    let arg = prop_oneof![
        3 => proptest::collection::vec(arb_arg_entry(), 0..4).prop_map(Value::Array),
        1 => arb_arg_entry(),
        1 => arb_value(),
    ];
    let code = prop_oneof![
        2 => arb_code().prop_map(Value::from),
        2 => arb_code().prop_map(|c| Value::String(c.to_string())),
        1 => arb_value(),
    ];
    let msg = prop_oneof![
        3 => any::<String>().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => arb_value(),
    ];
    // Mostly present, so that replies get past the first missing field to the later rules.
    (
        proptest::option::weighted(0.9, event),
        proptest::option::weighted(0.8, arg),
        proptest::option::weighted(0.8, code),
        proptest::option::weighted(0.7, msg),
        proptest::collection::vec((any::<String>(), arb_value()), 0..3),
    )
        .prop_map(|(event, arg, code, msg, extra)| {
            let mut root: Map<String, Value> = extra.into_iter().collect();
            for (key, value) in [("event", event), ("arg", arg), ("code", code), ("msg", msg)] {
                if let Some(value) = value {
                    root.insert(key.to_owned(), value);
                }
            }
            Value::Object(root)
        })
}

/// How a string is written in JSON: serde_json's minimal escaping, every character as `\u`
/// (surrogate pairs beyond the BMP), or a mix of short escapes, `\u` escapes and raw text.
fn write_json_string(out: &mut String, s: &str, style: u8, seed: u64) {
    let escape_all = match style % 3 {
        0 => {
            out.push_str(&serde_json::to_string(s).expect("strings serialize"));
            return;
        }
        1 => true,
        _ => false,
    };
    let mut pick = filler(s.chars().count(), seed).into_iter();
    out.push('"');
    for c in s.chars() {
        let choice = pick.next().unwrap_or(0) % 3;
        match c {
            '"' | '\\' if !escape_all && choice == 0 => {
                out.push('\\');
                out.push(c);
            }
            '\n' if !escape_all && choice == 0 => out.push_str("\\n"),
            '\t' if !escape_all && choice == 0 => out.push_str("\\t"),
            '\r' if !escape_all && choice == 0 => out.push_str("\\r"),
            '\u{8}' if !escape_all && choice == 0 => out.push_str("\\b"),
            '\u{c}' if !escape_all && choice == 0 => out.push_str("\\f"),
            '/' if !escape_all && choice == 0 => out.push_str("\\/"),
            // Quotes, backslashes and control characters must be escaped one way or another.
            '"' | '\\' | '\u{0}'..='\u{1f}' => unicode(out, c),
            _ if escape_all || choice == 1 => unicode(out, c),
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// `c` as `\u` escapes: one, or a surrogate pair beyond the BMP.
fn unicode(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        out.push_str(&format!("\\u{unit:04x}"));
    }
}

/// A well-formed reply: (its JSON text, what it must decode to).
fn arb_well_formed_reply() -> impl Strategy<Value = (String, OwnedReply)> {
    (
        0u8..4,
        any::<String>(),
        arb_code(),
        proptest::option::of(any::<String>()),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<u8>(), any::<u64>()),
    )
        .prop_map(
            |(event, id, code, msg, (quoted_code, arg_is_array, null_msg, spaced), (style, seed))| {
                let sep = if spaced { " \n\t" } else { "" };
                let string = |s: &str, salt: u64| {
                    let mut out = String::new();
                    write_json_string(&mut out, s, style, seed ^ salt);
                    out
                };
                let code_json = if quoted_code {
                    format!("\"{code}\"")
                } else {
                    code.to_string()
                };
                let msg_json = match (&msg, null_msg) {
                    (Some(m), _) => format!(",{sep}\"msg\":{sep}{}", string(m, 1)),
                    (None, true) => format!(",\"msg\":{sep}null"),
                    (None, false) => String::new(),
                };
                let msg = msg.unwrap_or_default();
                let entry = format!(
                    "{{\"instType\":\"SPOT\",{sep}\"id\":{sep}{},\"params\":{{\"orderId\":\"1\"}}}}",
                    string(&id, 2)
                );
                let arg = if arg_is_array { format!("[{sep}{entry}{sep}]") } else { entry };
                let arg_json = format!(",{sep}\"arg\":{sep}{arg}");
                // A login carries the id as its connId, the live venue's shape.
                let conn_id_json = format!(",{sep}\"connId\":{sep}{}", string(&id, 4));
                // The field beside code and msg that each event carries.
                let (name, extra_json, expected) = match event {
                    0 => ("trade", arg_json, OwnedReply::Trade { id, code, msg }),
                    1 => ("error", arg_json, OwnedReply::TradeError { id, code, msg }),
                    2 => ("error", String::new(), OwnedReply::Error { code, msg }),
                    _ => ("login", conn_id_json, OwnedReply::Login { code, msg, conn_id: id }),
                };
                let text = format!(
                    "{sep}{{{sep}\"code\":{sep}{code_json}{extra_json}{msg_json},\"event\":{}{sep}}}{sep}",
                    string(name, 3)
                );
                (text, expected)
            },
        )
}

/// Bytes from JSON's own alphabet, so most inputs get deep into the parsers.
fn arb_json_ish() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"\"",
        b"\\",
        b"\\u",
        b"d83d",
        b"de00",
        b"0",
        b"-",
        b"1e999",
        b"18446744073709551616",
        b".5",
        b"true",
        b"null",
        b" ",
        b"\n",
        b"\"event\"",
        b"\"trade\"",
        b"\"error\"",
        b"\"login\"",
        b"\"arg\"",
        b"\"id\"",
        b"\"code\"",
        b"\"msg\"",
        b"pong",
        b"\xff",
        b"\xc3\xa9",
    ];
    let token = proptest::sample::select(TOKENS);
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

// =============================================================================================
// Reply decoder: properties

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn reply_decoder_survives_json_ish_bytes(bytes in arb_json_ish()) {
        // Only survival: on such input the parsers may legitimately disagree (integers past
        // u64, nesting past the decoder's limit), which the value-tree property excludes.
        let mut decoder = ReplyDecoder::with_capacity(16);
        let _ = decoder.decode(&mut bytes.clone());
        let _ = decode_with_serde_json(&bytes);
        // The decoder is still good for a real reply afterwards.
        let mut ack = br#"{"event":"trade","arg":[{"id":"9"}],"code":0}"#.to_vec();
        prop_assert!(decoder.decode(&mut ack).is_ok());
    }

    #[test]
    fn reply_decoder_survives_arbitrary_bytes_after_a_pong_prefix(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        before in any::<bool>(),
    ) {
        let mut text = if before { b"pong".to_vec() } else { Vec::new() };
        text.extend_from_slice(&bytes);
        if !before {
            text.extend_from_slice(b"pong");
        }
        let _ = ReplyDecoder::new().decode(&mut text.clone());
        let _ = decode_with_serde_json(&text);
    }

    #[test]
    fn arbitrary_json_values_decode_the_same_with_both_parsers(
        value in prop_oneof![3 => arb_reply_like(), 1 => arb_value()],
        pretty in any::<bool>(),
    ) {
        let text = if pretty {
            serde_json::to_vec_pretty(&value)
        } else {
            serde_json::to_vec(&value)
        }
        .expect("values serialize");
        let _ = decode_both(&text);
    }

    #[test]
    fn well_formed_replies_decode_to_exactly_their_fields(
        (text, expected) in arb_well_formed_reply(),
    ) {
        prop_assert_eq!(decode_both(text.as_bytes()), Ok(expected), "{}", text);
    }
}
