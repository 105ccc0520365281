//! The record reader under fixed keys (`RecordReader`, `fuzzing` feature): what the fuzz target
//! `record_reader` runs, checked on the streams its seeds hold. The seeds in
//! `fuzz/seeds/record_reader/` are written by this file: `WRITE_FUZZ_SEEDS=1 cargo test --test
//! tls_record_reader` regenerates them after a change of format.

use std::path::PathBuf;

use bitget_cancel::tls::{MAX_RECORD_PLAINTEXT, RecordCipher, RecordReader, TlsError};
use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion};

/// The fuzz target's four fixed connections (keep in step with `fuzz_targets/record_reader.rs`).
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

/// A fixed connection: name, version, and where its secrets come from.
type Connection = (
    &'static str,
    ProtocolVersion,
    fn() -> ConnectionTrafficSecrets,
);

const CONNECTIONS: [Connection; 4] = [
    ("tls13_aes", ProtocolVersion::TLSv1_3, aes),
    ("tls13_chacha", ProtocolVersion::TLSv1_3, chacha),
    ("tls12_aes", ProtocolVersion::TLSv1_2, aes),
    ("tls12_chacha", ProtocolVersion::TLSv1_2, chacha),
];

const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// A TLS 1.3 NewSessionTicket handshake message with a `ticket_len`-byte ticket.
fn new_session_ticket(ticket_len: usize) -> Vec<u8> {
    let mut body = vec![0, 0, 0x1c, 0x20, 1, 2, 3, 4, 1, 7];
    body.extend_from_slice(&(ticket_len as u16).to_be_bytes());
    body.extend((0..ticket_len).map(|i| i as u8));
    body.extend_from_slice(&[0, 0]);
    let mut message = vec![4, 0];
    message.extend_from_slice(&(body.len() as u16).to_be_bytes());
    message.extend_from_slice(&body);
    message
}

/// A peer sealing records under a fixed connection, following its own key updates.
struct Peer {
    version: ProtocolVersion,
    secrets: fn() -> ConnectionTrafficSecrets,
    sealer: RecordCipher,
    stream: Vec<u8>,
    script: Vec<u8>,
}

impl Peer {
    fn new(connection: usize) -> Self {
        let (_, version, secrets) = CONNECTIONS[connection];
        Self {
            version,
            secrets,
            sealer: RecordCipher::new(version, &secrets(), 0, u64::MAX).expect("cipher"),
            stream: Vec::new(),
            script: Vec::new(),
        }
    }

    fn send(&mut self, content_type: ContentType, payload: &[u8]) -> &mut Self {
        let mut record = vec![0u8; self.sealer.sealed_len(payload.len())];
        let n = self
            .sealer
            .seal(content_type, payload, &mut record)
            .expect("seal");
        self.stream.extend_from_slice(&record[..n]);
        self.script.push(u8::from(content_type));
        self.script
            .extend_from_slice(&(payload.len() as u16).to_be_bytes());
        self.script.extend_from_slice(payload);
        self
    }

    /// Sends a KeyUpdate and switches to the next keys (the same ones again, from 0).
    fn key_update(&mut self, update_requested: bool) -> &mut Self {
        self.send(
            ContentType::Handshake,
            &[24, 0, 0, 1, u8::from(update_requested)],
        );
        self.sealer =
            RecordCipher::new(self.version, &(self.secrets)(), 0, u64::MAX).expect("cipher");
        self
    }
}

/// A seed: its name, connection, the plaintext and ending it must produce.
struct Seed {
    name: &'static str,
    connection: usize,
    peer: Peer,
    plaintext: Vec<u8>,
    closed: bool,
    error: Option<fn(&TlsError) -> bool>,
}

fn seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (connection, (_, version, _)) in CONNECTIONS.iter().enumerate() {
        let tls13 = *version == ProtocolVersion::TLSv1_3;
        let big: Vec<u8> = (0..300).map(|i| b'a' + (i % 26) as u8).collect();

        let mut peer = Peer::new(connection);
        peer.send(ContentType::ApplicationData, b"hello")
            .send(ContentType::ApplicationData, &big)
            .send(ContentType::Alert, &CLOSE_NOTIFY);
        let mut plaintext = b"hello".to_vec();
        plaintext.extend_from_slice(&big);
        seeds.push(Seed {
            name: "data_then_close_notify",
            connection,
            peer,
            plaintext,
            closed: true,
            error: None,
        });

        let mut peer = Peer::new(connection);
        peer.send(ContentType::ApplicationData, b"last")
            .send(ContentType::Alert, &[2, 40]);
        seeds.push(Seed {
            name: "fatal_alert",
            connection,
            peer,
            plaintext: b"last".to_vec(),
            closed: false,
            error: Some(|e| matches!(e, TlsError::Protocol(rustls::Error::AlertReceived(_)))),
        });

        if tls13 {
            let ticket = new_session_ticket(120);
            let mut peer = Peer::new(connection);
            peer.send(ContentType::Handshake, &ticket[..50])
                .send(ContentType::Handshake, &ticket[50..])
                .send(ContentType::ApplicationData, b"before")
                .key_update(true);
            peer.send(ContentType::ApplicationData, b"after")
                .key_update(false);
            peer.send(ContentType::ApplicationData, b"!")
                .send(ContentType::Alert, &CLOSE_NOTIFY);
            seeds.push(Seed {
                name: "ticket_and_key_updates",
                connection,
                peer,
                plaintext: b"beforeafter!".to_vec(),
                closed: true,
                error: None,
            });

            // data || real type || zero padding, sealed as if 0 were the type.
            let mut peer = Peer::new(connection);
            peer.send(ContentType::from(0), b"padded\x17\0\0\0")
                .send(ContentType::Alert, &CLOSE_NOTIFY);
            seeds.push(Seed {
                name: "padded",
                connection,
                peer,
                plaintext: b"padded".to_vec(),
                closed: true,
                error: None,
            });
        } else {
            let mut peer = Peer::new(connection);
            peer.send(ContentType::ApplicationData, b"x")
                .send(ContentType::Handshake, &[0, 0, 0, 0]);
            seeds.push(Seed {
                name: "hello_request",
                connection,
                peer,
                plaintext: b"x".to_vec(),
                closed: false,
                error: Some(|e| matches!(e, TlsError::Protocol(_))),
            });
        }
    }
    seeds
}

/// Reads `stream` with the reader of `connection`, fed in pieces of `piece` bytes.
fn read(connection: usize, stream: &[u8], piece: usize) -> (Vec<u8>, Result<bool, TlsError>) {
    let (_, version, secrets) = CONNECTIONS[connection];
    let mut reader = RecordReader::new(version, secrets).expect("reader");
    let mut plaintext = Vec::new();
    let mut ending = Ok(false);
    for chunk in stream.chunks(piece) {
        ending = reader.receive(chunk);
        reader.take_plaintext(&mut plaintext);
        if !matches!(ending, Ok(false)) {
            break;
        }
    }
    (plaintext, ending)
}

#[test]
fn the_seed_streams_read_as_intended_in_any_piece_size() {
    for seed in seeds() {
        for piece in [1, 5, 13, 64, seed.peer.stream.len()] {
            let (plaintext, ending) = read(seed.connection, &seed.peer.stream, piece);
            let label = format!("{} {} in pieces of {piece}", seed.name, seed.connection);
            assert_eq!(plaintext, seed.plaintext, "{label}");
            match (&ending, seed.error) {
                (Ok(closed), None) => assert_eq!(*closed, seed.closed, "{label}"),
                (Err(error), Some(expected)) => assert!(expected(error), "{label}: {error:?}"),
                _ => panic!("{label}: {ending:?}"),
            }
        }
    }
}

#[test]
fn a_key_update_of_the_wrong_length_is_refused_and_answered_with_decode_error() {
    for body in [&[24, 0, 0, 0][..], &[24, 0, 0, 2, 1, 0]] {
        let mut peer = Peer::new(0);
        peer.send(ContentType::Handshake, body);
        let (_, version, secrets) = CONNECTIONS[0];
        let mut reader = RecordReader::new(version, secrets).expect("reader");
        let error = reader.receive(&peer.stream).expect_err("bad KeyUpdate");
        assert!(
            matches!(error, TlsError::Protocol(rustls::Error::InvalidMessage(_))),
            "{error:?}"
        );
        let mut replies = Vec::new();
        reader.take_replies(&mut replies);
        let mut opener = RecordCipher::new(version, &secrets(), 0, u64::MAX).expect("cipher");
        let (content_type, range) = opener.open(&mut replies).expect("one alert record");
        assert_eq!(content_type, ContentType::Alert);
        assert_eq!(&replies[range], &[2, 50], "fatal decode_error");
    }
}

#[test]
fn refuses_a_record_beyond_2_to_the_14_from_any_fixed_connection() {
    for connection in 0..CONNECTIONS.len() {
        let mut stream = vec![23, 3, 3];
        stream.extend_from_slice(&((MAX_RECORD_PLAINTEXT + 2048 + 1) as u16).to_be_bytes());
        let (_, ending) = read(connection, &stream, stream.len());
        assert!(
            matches!(
                ending,
                Err(TlsError::Protocol(rustls::Error::PeerSentOversizedRecord))
            ),
            "{ending:?}"
        );
    }
}

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/record_reader")
}

/// The fuzz input for a stream: byte 0 picks the connection, the mode (raw stream, or a
/// plaintext script the target seals) and a piece size.
fn fuzz_inputs(seed: &Seed) -> [(String, Vec<u8>); 2] {
    let selector = seed.connection as u8 | (3 << 3);
    let mut raw = vec![selector];
    raw.extend_from_slice(&seed.peer.stream);
    let mut script = vec![selector | 4];
    script.extend_from_slice(&seed.peer.script);
    let name = format!("{}.{}", CONNECTIONS[seed.connection].0, seed.name);
    [
        (format!("{name}.raw"), raw),
        (format!("{name}.sealed"), script),
    ]
}

#[test]
fn the_committed_fuzz_seeds_are_these_streams() {
    let dir = seed_dir();
    let write = std::env::var_os("WRITE_FUZZ_SEEDS").is_some();
    if write {
        std::fs::create_dir_all(&dir).expect("seed directory");
    }
    for seed in seeds() {
        for (name, input) in fuzz_inputs(&seed) {
            let path = dir.join(&name);
            if write {
                std::fs::write(&path, &input).expect("write seed");
            }
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; regenerate with WRITE_FUZZ_SEEDS=1",
                    path.display()
                )
            });
            assert!(
                committed == input,
                "{name} differs; regenerate with WRITE_FUZZ_SEEDS=1"
            );
        }
    }
}
