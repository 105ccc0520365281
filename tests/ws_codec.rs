//! The WebSocket codec against hand-built frame streams: encoder round trips, decoding in every
//! split, and one test per protocol violation and limit.

#[path = "support/owned_message.rs"]
mod owned_message;
use owned_message::{Owned, own};

use bitget_cancel::ws::{
    FrameDecoder, Limits, MAX_CLIENT_HEADER, MaskGen, Message, OpCode, WsError, apply_mask,
    encode_client_frame, encode_close, encode_pong,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Frame builders and the feeding loop

/// One unmasked server frame, with the shortest length encoding.
fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

fn text(payload: &[u8]) -> Vec<u8> {
    server_frame(true, 0x1, payload)
}

/// A client frame taken apart: (fin, opcode, unmasked payload, bytes used).
fn parse_client_frame(bytes: &[u8]) -> (bool, u8, Vec<u8>, usize) {
    let fin = bytes[0] & 0x80 != 0;
    assert_eq!(bytes[0] & 0x70, 0, "no reserved bits");
    assert_ne!(bytes[1] & 0x80, 0, "client frames are masked");
    let (len, mut at) = match bytes[1] & 0x7F {
        126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        n => (n as usize, 2),
    };
    let mask = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    at += 4;
    let mut payload = bytes[at..at + len].to_vec();
    apply_mask(&mut payload, mask);
    (fin, bytes[0] & 0x0F, payload, at + len)
}

fn test_limits() -> Limits {
    Limits {
        max_frame: 128 * 1024,
        max_message: 256 * 1024,
    }
}

/// Feeds `pieces` the way the engine does (read into `spare_mut`, `commit`, drain), and
/// returns every message.
fn decode_pieces<'p>(
    decoder: &mut FrameDecoder,
    pieces: impl IntoIterator<Item = &'p [u8]>,
) -> Result<Vec<Owned>, WsError> {
    let mut out = Vec::new();
    for mut piece in pieces {
        while !piece.is_empty() {
            let spare = decoder.spare_mut();
            assert!(
                !spare.is_empty(),
                "no room although every message was drained"
            );
            let n = spare.len().min(piece.len());
            spare[..n].copy_from_slice(&piece[..n]);
            decoder.commit(n);
            piece = &piece[n..];
            while let Some(message) = decoder.next_message()? {
                out.push(own(message));
            }
        }
    }
    Ok(out)
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Owned>, WsError> {
    decode_pieces(&mut FrameDecoder::new(test_limits()), [bytes])
}

/// The first error a stream produces, fed in one piece.
fn first_error(bytes: &[u8], limits: Limits) -> WsError {
    match decode_pieces(&mut FrameDecoder::new(limits), [bytes]) {
        Ok(messages) => panic!("accepted, giving {messages:?}"),
        Err(err) => err,
    }
}

fn json_text(len: usize) -> Vec<u8> {
    let mut body = br#"{"event":"trade","msg":""#.to_vec();
    while body.len() + 2 < len {
        body.push(b'a' + (body.len() % 26) as u8);
    }
    body.extend_from_slice(b"\"}");
    body
}

/// The server streams the decoder must handle, with the messages each one means.
fn streams() -> Vec<(&'static str, Vec<u8>, Vec<Owned>)> {
    let small = br#"{"event":"login","code":0,"msg":""}"#.to_vec();
    let medium = json_text(126);
    let large = json_text(70 * 1024);

    let mut fragmented = server_frame(false, 0x1, b"{\"event\":");
    fragmented.extend(server_frame(true, 0x9, b"keepalive"));
    fragmented.extend(server_frame(false, 0x0, b"\"trade\","));
    fragmented.extend(server_frame(true, 0xA, b""));
    fragmented.extend(server_frame(true, 0x0, b"\"code\":0}"));

    let mut close_payload = 1000u16.to_be_bytes().to_vec();
    close_payload.extend_from_slice("bye ✓".as_bytes());

    let mut cases = vec![
        ("small text", text(&small), vec![Owned::Text(small)]),
        (
            "126-byte text (16-bit length)",
            text(&medium),
            vec![Owned::Text(medium)],
        ),
        (
            "70 KiB text (64-bit length)",
            text(&large),
            vec![Owned::Text(large)],
        ),
        (
            "fragmented text with control frames between fragments",
            fragmented,
            vec![
                Owned::Ping(b"keepalive".to_vec()),
                Owned::Pong(Vec::new()),
                Owned::Text(br#"{"event":"trade","code":0}"#.to_vec()),
            ],
        ),
        (
            "close with code and reason",
            server_frame(true, 0x8, &close_payload),
            vec![Owned::Close(Some((1000, "bye ✓".to_owned())))],
        ),
    ];
    let mut all = Vec::new();
    let mut all_messages = Vec::new();
    for (_, bytes, messages) in &cases {
        // The close ends a connection; the 70 KiB text would only make the every-split test
        // twice as slow without covering a new boundary.
        if messages.iter().any(|m| matches!(m, Owned::Close(_))) || bytes.len() > 65_536 {
            continue;
        }
        all.extend_from_slice(bytes);
        all_messages.extend(messages.iter().cloned());
    }
    cases.push(("all of them back to back", all, all_messages));
    cases
}

// ---------------------------------------------------------------------------------------------
// Encoder

#[test]
fn encoded_frames_unmask_to_the_original_payload_for_every_length_encoding() {
    let mut masks = MaskGen::from_seed(7);
    for len in [0, 1, 7, 8, 9, 125, 126, 127, 65_535, 65_536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        for opcode in [OpCode::Text, OpCode::Binary, OpCode::Continuation] {
            let mut out = Vec::new();
            encode_client_frame(&mut out, opcode, &payload, masks.next_mask());
            let (fin, wire_opcode, unmasked, used) = parse_client_frame(&out);
            assert!(fin, "len {len}");
            assert_eq!(wire_opcode, opcode.to_u8(), "len {len}");
            assert_eq!(used, out.len(), "len {len}: no trailing bytes");
            assert_eq!(unmasked, payload, "len {len}");
        }
    }
}

#[test]
fn pong_and_close_encoders_round_trip() {
    let mut out = Vec::new();
    encode_pong(&mut out, b"keepalive", [0xA1, 0xB2, 0xC3, 0xD4]);
    let (fin, opcode, payload, used) = parse_client_frame(&out);
    assert_eq!(
        (fin, opcode, payload.as_slice()),
        (true, 0xA, &b"keepalive"[..])
    );
    out.drain(..used);
    encode_close(&mut out, Some(1001), [5, 6, 7, 8]);
    let (_, opcode, payload, _) = parse_client_frame(&out);
    assert_eq!((opcode, payload), (0x8, 1001u16.to_be_bytes().to_vec()));
}

#[test]
fn the_payload_on_the_wire_is_masked() {
    let mut out = Vec::new();
    let payload = b"{\"op\":\"trade\"}";
    encode_client_frame(&mut out, OpCode::Text, payload, [0x55, 0xAA, 0x0F, 0xF0]);
    assert_ne!(&out[6..], payload);
}

#[test]
fn encoding_into_spare_capacity_does_not_reallocate() {
    let payload = vec![b'x'; 70_000];
    let mut out = Vec::with_capacity(payload.len() + MAX_CLIENT_HEADER);
    let (ptr, cap) = (out.as_ptr(), out.capacity());
    encode_client_frame(&mut out, OpCode::Text, &payload, [1, 2, 3, 4]);
    assert_eq!((out.as_ptr(), out.capacity()), (ptr, cap));
    assert_eq!(out.len(), payload.len() + MAX_CLIENT_HEADER);
}

#[test]
fn a_client_frame_is_decodable_once_unmasked() {
    // The decoder refuses masked frames, so strip the mask the way a server would and check
    // the decoder reads the result: the two halves agree on the framing.
    let mut out = Vec::new();
    encode_client_frame(&mut out, OpCode::Text, b"hello", [9, 8, 7, 6]);
    let (_, _, payload, _) = parse_client_frame(&out);
    assert_eq!(
        decode_all(&text(&payload)).expect("valid"),
        [Owned::Text(b"hello".to_vec())]
    );
}

// ---------------------------------------------------------------------------------------------
// Decoder: any split gives the same messages

#[test]
fn every_stream_decodes_to_its_messages_in_one_piece() {
    for (name, bytes, expected) in streams() {
        assert_eq!(decode_all(&bytes).expect(name), expected, "{name}");
    }
}

/// Like `decode_pieces` for two pieces, but compares each message where it lies instead of
/// copying it out: the 70 KiB stream is decoded 70 000 times.
fn decode_two_pieces_matches(
    decoder: &mut FrameDecoder,
    pieces: [&[u8]; 2],
    expected: &[Owned],
) -> Result<bool, WsError> {
    let mut next = expected.iter();
    for mut piece in pieces {
        while !piece.is_empty() {
            let spare = decoder.spare_mut();
            let n = spare.len().min(piece.len());
            spare[..n].copy_from_slice(&piece[..n]);
            decoder.commit(n);
            piece = &piece[n..];
            while let Some(message) = decoder.next_message()? {
                let same = match (message, next.next()) {
                    (Message::Text(t), Some(Owned::Text(e))) => &t[..] == e.as_slice(),
                    (Message::Binary(b), Some(Owned::Binary(e))) => b == e.as_slice(),
                    (Message::Ping(p), Some(Owned::Ping(e))) => p == e.as_slice(),
                    (Message::Pong(p), Some(Owned::Pong(e))) => p == e.as_slice(),
                    (Message::Close(c), Some(Owned::Close(e))) => {
                        c.map(|(code, reason)| (code, reason.to_owned())) == *e
                    }
                    _ => false,
                };
                if !same {
                    return Ok(false);
                }
            }
        }
    }
    Ok(next.next().is_none())
}

#[test]
fn every_stream_decodes_the_same_at_every_split_point() {
    for (name, bytes, expected) in streams() {
        let mut decoder = FrameDecoder::new(test_limits());
        for split in 0..=bytes.len() {
            decoder.reset();
            let (a, b) = bytes.split_at(split);
            let same = decode_two_pieces_matches(&mut decoder, [a, b], &expected).expect(name);
            if !same {
                // Decode again, copying, for a readable failure.
                decoder.reset();
                let got = decode_pieces(&mut decoder, [a, b]).expect(name);
                assert_eq!(got, expected, "{name}, split at {split}");
                panic!("{name}, split at {split}: messages differ");
            }
        }
    }
}

#[test]
fn every_stream_decodes_the_same_byte_by_byte() {
    for (name, bytes, expected) in streams() {
        let mut decoder = FrameDecoder::new(test_limits());
        let got = decode_pieces(&mut decoder, bytes.chunks(1)).expect(name);
        assert_eq!(got, expected, "{name}");
        assert_eq!(decoder.buffered_bytes(), 0, "{name}");
    }
}

#[test]
fn push_accepts_the_same_streams_as_spare_mut() {
    for (name, bytes, expected) in streams() {
        let mut decoder = FrameDecoder::new(test_limits());
        let mut got = Vec::new();
        for piece in bytes.chunks(1000) {
            decoder.push(piece).expect(name);
            while let Some(m) = decoder.next_message().expect(name) {
                got.push(own(m));
            }
        }
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_long_stream_through_a_small_read_buffer_decodes_the_same_for_any_read_size() {
    // A read buffer of 214 bytes: the 600-byte stream repeated ten times forces the decoder to
    // compact again and again, with frames straddling every position of the buffer.
    let limits = Limits {
        max_frame: 200,
        max_message: 1000,
    };
    let (_, once, messages) = streams().pop().expect("the combined stream");
    let bytes = once.repeat(10);
    let expected: Vec<Owned> = std::iter::repeat_n(messages, 10).flatten().collect();
    let mut decoder = FrameDecoder::new(limits);
    for read_size in 1..=decoder.capacity() + 1 {
        decoder.reset();
        let got = decode_pieces(&mut decoder, bytes.chunks(read_size)).expect("valid");
        assert_eq!(got, expected, "reads of {read_size} bytes");
    }
}

proptest! {
    #[test]
    fn any_chunking_of_the_streams_gives_the_same_messages(
        cuts in proptest::collection::vec(1usize..300, 1..64)
    ) {
        let (_, bytes, expected) = streams().pop().expect("the combined stream");
        let mut pieces = Vec::new();
        let mut rest = &bytes[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at((*cut).min(rest.len()));
            pieces.push(a);
            rest = b;
        }
        let mut decoder = FrameDecoder::new(test_limits());
        prop_assert_eq!(decode_pieces(&mut decoder, pieces).expect("valid"), expected);
    }
}

#[test]
fn binary_messages_come_out_whole_and_fragmented() {
    let mut bytes = server_frame(true, 0x2, &[0, 159, 146, 150]);
    bytes.extend(server_frame(false, 0x2, &[1, 2]));
    bytes.extend(server_frame(true, 0x0, &[3]));
    assert_eq!(
        decode_all(&bytes).expect("valid"),
        [
            Owned::Binary(vec![0, 159, 146, 150]),
            Owned::Binary(vec![1, 2, 3])
        ]
    );
}

#[test]
fn an_empty_close_has_no_code() {
    assert_eq!(
        decode_all(&server_frame(true, 0x8, b"")).expect("valid"),
        [Owned::Close(None)]
    );
}

#[test]
fn text_can_be_rewritten_in_place() {
    let mut decoder = FrameDecoder::new(Limits::default());
    decoder.push(&text(b"abc")).expect("room");
    match decoder.next_message().expect("valid") {
        Some(Message::Text(t)) => {
            t[0] = b'x';
            assert_eq!(&t[..], b"xbc");
        }
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn a_fragmented_message_after_a_whole_one_does_not_mix_their_bytes() {
    let mut bytes = server_frame(false, 0x1, b"one ");
    bytes.extend(server_frame(true, 0x0, b"two"));
    bytes.extend(server_frame(false, 0x1, b"three "));
    bytes.extend(server_frame(true, 0x0, b"four"));
    assert_eq!(
        decode_all(&bytes).expect("valid"),
        [
            Owned::Text(b"one two".to_vec()),
            Owned::Text(b"three four".to_vec())
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Decoder: rejections

#[test]
fn rejects_masked_server_frames_from_the_first_two_bytes() {
    let mut decoder = FrameDecoder::new(test_limits());
    decoder.push(&[0x81, 0x85]).expect("room");
    assert!(matches!(
        decoder.next_message(),
        Err(WsError::MaskedServerFrame)
    ));
}

#[test]
fn rejects_reserved_bits() {
    for rsv in [0x40, 0x20, 0x10] {
        let mut frame = text(b"x");
        frame[0] |= rsv;
        assert!(
            matches!(first_error(&frame, test_limits()), WsError::ReservedBits),
            "{rsv:#x}"
        );
    }
}

#[test]
fn rejects_reserved_opcodes() {
    for opcode in (3..=7).chain(11..=15) {
        let err = first_error(&server_frame(true, opcode, b""), test_limits());
        assert!(
            matches!(err, WsError::BadOpcode(o) if o == opcode),
            "{opcode}: {err:?}"
        );
    }
}

#[test]
fn rejects_control_frames_longer_than_125_bytes() {
    for opcode in [0x8, 0x9, 0xA] {
        let mut frame = server_frame(true, opcode, &[0; 126]);
        let err = first_error(&frame, test_limits());
        assert!(
            matches!(err, WsError::ControlFrameTooLong),
            "{opcode}: {err:?}"
        );
        // Judged from the first two bytes: the length field alone says 126+.
        frame.truncate(2);
        let err = first_error(&frame, test_limits());
        assert!(
            matches!(err, WsError::ControlFrameTooLong),
            "{opcode}: {err:?}"
        );
    }
}

#[test]
fn accepts_control_frames_of_exactly_125_bytes_even_under_a_smaller_frame_limit() {
    let tiny = Limits {
        max_frame: 16,
        max_message: 16,
    };
    let got = decode_pieces(
        &mut FrameDecoder::new(tiny),
        [&server_frame(true, 0x9, &[7; 125])[..]],
    );
    assert_eq!(got.expect("valid"), [Owned::Ping(vec![7; 125])]);
}

#[test]
fn rejects_fragmented_control_frames() {
    for opcode in [0x8, 0x9, 0xA] {
        let err = first_error(&server_frame(false, opcode, b""), test_limits());
        assert!(
            matches!(err, WsError::FragmentedControlFrame),
            "{opcode}: {err:?}"
        );
    }
}

#[test]
fn rejects_continuation_without_a_started_message() {
    let err = first_error(&server_frame(true, 0x0, b"orphan"), test_limits());
    assert!(matches!(err, WsError::UnexpectedContinuation), "{err:?}");
    // Also after a fragmented message has been completed.
    let mut bytes = server_frame(false, 0x1, b"a");
    bytes.extend(server_frame(true, 0x0, b"b"));
    bytes.extend(server_frame(true, 0x0, b"c"));
    let err = first_error(&bytes, test_limits());
    assert!(matches!(err, WsError::UnexpectedContinuation), "{err:?}");
}

#[test]
fn rejects_a_new_data_frame_while_a_fragmented_message_is_open() {
    for opcode in [0x1, 0x2] {
        let mut bytes = server_frame(false, 0x1, b"part");
        bytes.extend(server_frame(true, opcode, b"new"));
        let err = first_error(&bytes, test_limits());
        assert!(
            matches!(err, WsError::ExpectedContinuation),
            "{opcode}: {err:?}"
        );
    }
}

#[test]
fn rejects_a_one_byte_close_payload() {
    let err = first_error(&server_frame(true, 0x8, &[3]), test_limits());
    assert!(matches!(err, WsError::BadClosePayload), "{err:?}");
}

#[test]
fn rejects_invalid_close_codes() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let err = first_error(&server_frame(true, 0x8, &code.to_be_bytes()), test_limits());
        assert!(
            matches!(err, WsError::BadCloseCode(c) if c == code),
            "{code}: {err:?}"
        );
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 3000, 4000, 4999,
    ] {
        let got = decode_all(&server_frame(true, 0x8, &code.to_be_bytes())).expect("valid code");
        assert_eq!(got, [Owned::Close(Some((code, String::new())))]);
    }
}

#[test]
fn rejects_a_non_utf8_close_reason() {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(&[0xC3, 0x28]);
    let err = first_error(&server_frame(true, 0x8, &payload), test_limits());
    assert!(matches!(err, WsError::InvalidUtf8), "{err:?}");
}

#[test]
fn rejects_non_utf8_text() {
    let err = first_error(&text(&[b'{', 0xFF, b'}']), test_limits());
    assert!(matches!(err, WsError::InvalidUtf8), "{err:?}");
}

#[test]
fn rejects_non_utf8_text_split_across_fragments_only_when_complete() {
    // "é" is C3 A9: split across fragments it is valid; a lone C3 at the end is not.
    let mut valid = server_frame(false, 0x1, &[b'a', 0xC3]);
    valid.extend(server_frame(true, 0x0, &[0xA9]));
    assert_eq!(
        decode_all(&valid).expect("valid"),
        [Owned::Text("aé".as_bytes().to_vec())]
    );

    let mut invalid = server_frame(false, 0x1, b"a");
    invalid.extend(server_frame(true, 0x0, &[0xC3]));
    assert!(matches!(
        first_error(&invalid, test_limits()),
        WsError::InvalidUtf8
    ));
}

#[test]
fn rejects_frames_over_the_frame_limit_from_the_header() {
    let limits = Limits {
        max_frame: 1000,
        max_message: 4000,
    };
    // Only the 4-byte header of a 1001-byte frame: no payload needed to refuse it.
    let header = &server_frame(true, 0x1, &[b'a'; 1001])[..4];
    let err = first_error(header, limits);
    assert!(
        matches!(
            err,
            WsError::FrameTooLarge {
                len: 1001,
                limit: 1000
            }
        ),
        "{err:?}"
    );
    let exact = server_frame(true, 0x1, &[b'a'; 1000]);
    assert_eq!(
        decode_pieces(&mut FrameDecoder::new(limits), [&exact[..]])
            .expect("fits")
            .len(),
        1
    );
}

#[test]
fn rejects_fragmented_messages_over_the_message_limit_from_the_header() {
    let limits = Limits {
        max_frame: 1000,
        max_message: 1500,
    };
    let mut bytes = server_frame(false, 0x1, &[b'a'; 1000]);
    let next = server_frame(true, 0x0, &[b'b'; 501]);
    bytes.extend_from_slice(&next[..4]);
    let mut decoder = FrameDecoder::new(limits);
    let err = decode_pieces(&mut decoder, [&bytes[..]]).expect_err("too large");
    assert!(
        matches!(
            err,
            WsError::MessageTooLarge {
                len: 1501,
                limit: 1500
            }
        ),
        "{err:?}"
    );
    assert!(
        decoder.message_capacity() <= 1500,
        "{}",
        decoder.message_capacity()
    );
}

#[test]
fn rejects_a_single_frame_over_the_message_limit() {
    let limits = Limits {
        max_frame: 1000,
        max_message: 100,
    };
    let err = first_error(&server_frame(true, 0x2, &[0; 101])[..4], limits);
    assert!(
        matches!(
            err,
            WsError::MessageTooLarge {
                len: 101,
                limit: 100
            }
        ),
        "{err:?}"
    );
}

#[test]
fn the_reassembly_buffer_never_grows_past_the_message_limit() {
    let limits = Limits {
        max_frame: 1000,
        max_message: 2500,
    };
    let mut bytes = Vec::new();
    bytes.extend(server_frame(false, 0x2, &[1; 1000]));
    bytes.extend(server_frame(false, 0x0, &[2; 1000]));
    bytes.extend(server_frame(true, 0x0, &[3; 500]));
    let mut decoder = FrameDecoder::new(limits);
    let got = decode_pieces(&mut decoder, [&bytes[..]]).expect("exactly at the limit");
    assert!(matches!(&got[..], [Owned::Binary(b)] if b.len() == 2500));
    assert!(
        decoder.message_capacity() <= 2500,
        "{}",
        decoder.message_capacity()
    );
}

#[test]
fn a_two_to_the_forty_byte_header_fails_at_once_without_growing_any_buffer() {
    let mut decoder = FrameDecoder::new(Limits::default());
    let capacity = decoder.capacity();
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    // The first 9 bytes are not enough to know the length.
    decoder.push(&header[..9]).expect("room");
    assert!(matches!(decoder.next_message(), Ok(None)));
    decoder.push(&header[9..]).expect("room");
    let err = decoder.next_message().expect_err("refused from the header");
    assert!(
        matches!(err, WsError::FrameTooLarge { len, limit } if len == 1 << 40 && limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!(decoder.capacity(), capacity);
    assert_eq!(decoder.message_capacity(), 0);
    assert_eq!(decoder.buffered_bytes(), header.len());
}

#[test]
fn a_length_with_the_top_bit_set_is_refused() {
    let mut header = vec![0x81, 127];
    header.extend_from_slice(&u64::MAX.to_be_bytes());
    let err = first_error(&header, Limits::default());
    assert!(
        matches!(err, WsError::FrameTooLarge { len: u64::MAX, .. }),
        "{err:?}"
    );
}

#[test]
fn a_failed_decoder_stays_dead_until_reset() {
    let mut decoder = FrameDecoder::new(test_limits());
    decoder.push(&server_frame(true, 0x3, b"")).expect("room");
    assert!(matches!(decoder.next_message(), Err(WsError::BadOpcode(3))));
    // Further valid input changes nothing.
    assert!(matches!(
        decoder.push(&text(b"ok")),
        Err(WsError::BadOpcode(3))
    ));
    assert!(matches!(decoder.next_message(), Err(WsError::BadOpcode(3))));
    decoder.reset();
    assert_eq!(decoder.buffered_bytes(), 0);
    decoder.push(&text(b"ok")).expect("room");
    assert!(matches!(decoder.next_message(), Ok(Some(Message::Text(t))) if &t[..] == b"ok"));
}

#[test]
fn reset_drops_a_half_received_fragmented_message() {
    let mut decoder = FrameDecoder::new(test_limits());
    decoder
        .push(&server_frame(false, 0x1, b"stale"))
        .expect("room");
    assert!(matches!(decoder.next_message(), Ok(None)));
    decoder.reset();
    // A continuation is now unexpected, and a fresh message is not prefixed by stale bytes.
    decoder.push(&text(b"fresh")).expect("room");
    assert!(matches!(decoder.next_message(), Ok(Some(Message::Text(t))) if &t[..] == b"fresh"));
}
