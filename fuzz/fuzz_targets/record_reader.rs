//! Fuzzes the TLS record reader of an established connection: record header parsing
//! (`RecordCipher::complete_record_len`), record opening (`RecordCipher::open`) and the
//! reassembly and handling of post-handshake messages (session tickets, key updates, alerts),
//! under fixed keys.
//!
//! Input layout: byte 0 picks the connection (bits 0-1: TLS 1.3 or 1.2, AES-256-GCM or
//! ChaCha20-Poly1305), the mode (bit 2) and the size of the pieces the stream is fed in (bits
//! 3-7). The rest is, in raw mode, the ciphertext stream from the peer; in sealed mode, the
//! plaintext records the peer sends, each as a content type byte, a 16-bit big-endian length
//! and that many bytes, which this target seals (following the peer's key updates) before
//! feeding them: no fuzzer forges an AEAD tag, so this is how the post-handshake message
//! handling behind record opening gets explored. The seeds in `seeds/record_reader/` are
//! valid streams of both modes (written by `tests/tls_record_reader.rs`).
//!
//! Checked on every input:
//! - nothing panics;
//! - the result (plaintext, close_notify, error) does not depend on how the stream is split;
//! - no more plaintext comes out than ciphertext went in, and an error is sticky;
//! - what this side would send back is whole records;
//! - `RecordCipher::open` on the raw stream, whatever its length, fails cleanly or returns a
//!   plaintext range inside the record of at most 2^14 bytes.

#![no_main]

use bitget_cancel::tls::{MAX_RECORD_PLAINTEXT, RecordCipher, RecordReader, TlsError};
use libfuzzer_sys::fuzz_target;
use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion};

fn aes() -> ConnectionTrafficSecrets {
    ConnectionTrafficSecrets::Aes256Gcm {
        key: [0x42; 32].into(),
        iv: [0x24; 12].into(),
    }
}

fn chacha() -> ConnectionTrafficSecrets {
    ConnectionTrafficSecrets::Chacha20Poly1305 {
        key: [0x43; 32].into(),
        iv: [0x34; 12].into(),
    }
}

/// The four fixed connections.
fn connection(selector: u8) -> (ProtocolVersion, fn() -> ConnectionTrafficSecrets) {
    match selector & 3 {
        0 => (ProtocolVersion::TLSv1_3, aes),
        1 => (ProtocolVersion::TLSv1_3, chacha),
        2 => (ProtocolVersion::TLSv1_2, aes),
        _ => (ProtocolVersion::TLSv1_2, chacha),
    }
}

/// What reading a stream came to.
#[derive(Debug, PartialEq)]
struct Outcome {
    plaintext: Vec<u8>,
    closed: bool,
    error: Option<String>,
    replies: Vec<u8>,
}

fn read(selector: u8, stream: &[u8], piece: usize) -> Outcome {
    let (version, secrets) = connection(selector);
    let mut reader = RecordReader::new(version, secrets).expect("supported connection");
    let mut outcome = Outcome {
        plaintext: Vec::new(),
        closed: false,
        error: None,
        replies: Vec::new(),
    };
    for chunk in stream.chunks(piece.max(1)) {
        match reader.receive(chunk) {
            Ok(closed) => outcome.closed = closed,
            Err(error) => {
                let again = reader.receive(b"more").expect_err("errors are sticky");
                assert_eq!(again.to_string(), error.to_string());
                outcome.error = Some(error.to_string());
                break;
            }
        }
        reader.take_plaintext(&mut outcome.plaintext);
        if outcome.closed {
            break;
        }
    }
    reader.take_plaintext(&mut outcome.plaintext);
    reader.take_replies(&mut outcome.replies);
    outcome
}

/// Every byte of `wire` belongs to a whole record.
fn assert_whole_records(mut wire: &[u8]) {
    while !wire.is_empty() {
        assert!(wire.len() >= 5, "partial record header in {wire:?}");
        let len = 5 + usize::from(u16::from_be_bytes([wire[3], wire[4]]));
        assert!(wire.len() >= len, "partial record in {wire:?}");
        wire = &wire[len..];
    }
}

/// Seals the plaintext records described by `script` as the peer would, feeding them to a
/// reader one by one to follow its key updates; returns the ciphertext stream.
fn seal_script(selector: u8, mut script: &[u8]) -> Vec<u8> {
    let (version, secrets) = connection(selector);
    let mut reader = RecordReader::new(version, secrets).expect("supported connection");
    let mut sealer = RecordCipher::new(version, &secrets(), 0, u64::MAX).expect("cipher");
    let mut stream = Vec::new();
    let mut record = vec![0u8; 5 + MAX_RECORD_PLAINTEXT + 64];
    while let [content_type, len_hi, len_lo, rest @ ..] = script {
        let len = usize::from(u16::from_be_bytes([*len_hi, *len_lo])).min(rest.len());
        let (payload, tail) = rest.split_at(len.min(MAX_RECORD_PLAINTEXT));
        script = tail;
        let n = sealer
            .seal(ContentType::from(*content_type), payload, &mut record)
            .expect("seal");
        stream.extend_from_slice(&record[..n]);
        let updates = reader.rx_key_updates();
        match reader.receive(&record[..n]) {
            Ok(false) => {}
            Ok(true) | Err(_) => break,
        }
        if reader.rx_key_updates() != updates {
            sealer = RecordCipher::new(version, &secrets(), 0, u64::MAX).expect("cipher");
        }
    }
    stream
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let piece = 1 + usize::from(selector >> 3) * 13;
    let sealed;
    let stream = if selector & 4 == 0 {
        input
    } else {
        sealed = seal_script(selector, input);
        &sealed[..]
    };

    let whole = read(selector, stream, stream.len());
    let pieces = read(selector, stream, piece);
    assert_eq!(
        whole, pieces,
        "the result depends on the split (pieces of {piece})"
    );
    assert!(whole.plaintext.len() <= stream.len());
    assert_whole_records(&whole.replies);

    let (version, secrets) = connection(selector);
    let mut cipher = RecordCipher::new(version, &secrets(), 0, u64::MAX).expect("cipher");
    let mut record = stream.to_vec();
    let _ = cipher.complete_record_len(&record);
    match cipher.open(&mut record) {
        Ok((_, range)) => {
            assert!(range.start >= 5 && range.end <= record.len());
            assert!(range.len() <= MAX_RECORD_PLAINTEXT);
            assert_eq!(cipher.seq(), 1);
        }
        Err(TlsError::Protocol(_)) => assert_eq!(cipher.seq(), 0),
        Err(other) => panic!("unexpected error from open: {other:?}"),
    }
});
