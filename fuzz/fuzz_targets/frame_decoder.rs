//! Fuzzes the WebSocket frame decoder with hostile server streams.
//!
//! Input layout: byte 0 picks the limits, the way bytes go in (`spare_mut` + `commit` or
//! `push`) and a scale for the chunk sizes; bytes 1 to 4 are chunk sizes, cycled; the rest is
//! the stream from the server.
//!
//! Checked on every input:
//! - nothing panics, and after every step the read buffer has its construction size, holds at
//!   most that many bytes, and the reassembly buffer stays within `max_message`;
//! - every message is within the protocol (text is UTF-8, control payloads at most 125 bytes,
//!   close codes valid, messages within `max_message`);
//! - up to the first error, the messages and the error are the same as when the stream is fed
//!   in the largest pieces the buffer takes: the result does not depend on the split;
//! - after an error the decoder is reset and fed the rest of the input, as a reconnect would,
//!   and the bounds still hold.

#![no_main]

use bitget_cancel::ws::{FrameDecoder, Limits, Message, WsError};
use libfuzzer_sys::fuzz_target;

/// Limit presets, from smaller than a control frame to the size of a big venue message.
const LIMITS: [Limits; 4] = [
    Limits {
        max_frame: 16,
        max_message: 16,
    },
    Limits {
        max_frame: 200,
        max_message: 500,
    },
    Limits {
        max_frame: 1024,
        max_message: 4096,
    },
    Limits {
        max_frame: 64 * 1024,
        max_message: 96 * 1024,
    },
];

/// A message with its bytes copied out, to compare the two passes.
#[derive(Debug, PartialEq, Eq)]
enum Owned {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

fn own(message: &Message<'_>) -> Owned {
    match message {
        Message::Text(t) => Owned::Text(t.to_vec()),
        Message::Binary(b) => Owned::Binary(b.to_vec()),
        Message::Ping(p) => Owned::Ping(p.to_vec()),
        Message::Pong(p) => Owned::Pong(p.to_vec()),
        Message::Close(c) => Owned::Close(c.map(|(code, reason)| (code, reason.to_owned()))),
    }
}

fn check_message(message: &Message<'_>, limits: Limits) {
    match message {
        Message::Text(t) => {
            assert!(std::str::from_utf8(t).is_ok(), "text that is not UTF-8");
            assert!(t.len() <= limits.max_message, "text over the message limit");
        }
        Message::Binary(b) => assert!(b.len() <= limits.max_message, "binary over the limit"),
        Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125, "long control payload"),
        Message::Close(Some((code, reason))) => {
            assert!(
                matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999),
                "close code {code} passed"
            );
            assert!(reason.len() <= 123, "close reason too long");
        }
        Message::Close(None) => {}
    }
}

fn check_bounds(decoder: &FrameDecoder, capacity: usize) {
    assert_eq!(decoder.capacity(), capacity, "the read buffer changed size");
    assert!(
        decoder.buffered_bytes() <= capacity,
        "more buffered than the buffer holds"
    );
    assert!(
        decoder.message_capacity() <= decoder.limits().max_message,
        "reassembly buffer of {} bytes over the message limit {}",
        decoder.message_capacity(),
        decoder.limits().max_message
    );
}

/// Everything up to the first error: the messages, then the error's `Debug` text.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    messages: Vec<Owned>,
    error: Option<String>,
}

/// Puts as much of `piece` into the decoder as fits now; returns how much that was.
fn put(decoder: &mut FrameDecoder, piece: &[u8], use_push: bool) -> usize {
    if use_push {
        match decoder.push(piece) {
            Ok(()) => piece.len(),
            Err(WsError::BufferFull { spare, .. }) => {
                assert!(
                    spare > 0 && spare < piece.len(),
                    "BufferFull with {spare} free"
                );
                if let Err(err) = decoder.push(&piece[..spare]) {
                    panic!("push of the {spare} free bytes failed: {err:?}");
                }
                spare
            }
            Err(err) => panic!("push failed on a live, drained decoder: {err:?}"),
        }
    } else {
        let spare = decoder.spare_mut();
        assert!(!spare.is_empty(), "no room in a live, drained decoder");
        let n = spare.len().min(piece.len());
        spare[..n].copy_from_slice(&piece[..n]);
        decoder.commit(n);
        n
    }
}

/// Drains the decoder; `Err` with the error's text when it fails.
fn drain(
    decoder: &mut FrameDecoder,
    limits: Limits,
    mut out: Option<&mut Vec<Owned>>,
) -> Result<(), String> {
    loop {
        match decoder.next_message() {
            Ok(Some(message)) => {
                check_message(&message, limits);
                if let Some(out) = out.as_deref_mut() {
                    out.push(own(&message));
                }
            }
            Ok(None) => return Ok(()),
            Err(err) => return Err(format!("{err:?}")),
        }
    }
}

/// The reference: the stream in the largest pieces the read buffer takes, until the first error.
fn reference(limits: Limits, mut stream: &[u8]) -> Run {
    let mut decoder = FrameDecoder::new(limits);
    let capacity = decoder.capacity();
    let mut messages = Vec::new();
    while !stream.is_empty() {
        let n = put(&mut decoder, stream, false);
        stream = &stream[n..];
        let drained = drain(&mut decoder, limits, Some(&mut messages));
        check_bounds(&decoder, capacity);
        if let Err(error) = drained {
            return Run {
                messages,
                error: Some(error),
            };
        }
    }
    Run {
        messages,
        error: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    if rest.len() < 4 {
        return;
    }
    let (sizes, stream) = rest.split_at(4);
    let limits = LIMITS[usize::from(config & 3)];
    let use_push = config & 4 != 0;
    let scale = (config >> 3) & 7;
    let sizes: Vec<usize> = sizes
        .iter()
        .map(|&b| (usize::from(b) + 1) << scale)
        .collect();

    let expected = reference(limits, stream);

    let mut decoder = FrameDecoder::new(limits);
    let capacity = decoder.capacity();
    let mut messages = Vec::new();
    let mut first_error = None;
    let mut rest = stream;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let mut piece = &rest[..(*size).min(rest.len())];
        rest = &rest[piece.len()..];
        while !piece.is_empty() {
            let n = put(&mut decoder, piece, use_push);
            piece = &piece[n..];
            let record = first_error.is_none().then_some(&mut messages);
            let drained = drain(&mut decoder, limits, record);
            check_bounds(&decoder, capacity);
            if let Err(error) = drained {
                // As a reconnect would: forget everything and go on with what is left.
                first_error.get_or_insert(error);
                decoder.reset();
                assert_eq!(decoder.buffered_bytes(), 0, "reset kept bytes");
                check_bounds(&decoder, capacity);
            }
        }
    }
    let split = Run {
        messages,
        error: first_error,
    };
    assert_eq!(
        split, expected,
        "the split {sizes:?} changed what the stream decodes to"
    );
});
