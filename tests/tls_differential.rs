//! Differential test of the record layer against rustls's own record protection: for each of
//! the six suites the crate supports, records sealed by rustls's `MessageEncrypter` (random
//! lengths and content types, and hostile variants: a bad tag, a body cut short or lengthened,
//! a TLS 1.3 inner plaintext of padding only, an empty body) are opened by `RecordCipher` and
//! by rustls's `MessageDecrypter` under the same keys, which must agree on the verdict, the
//! content type and the plaintext.
//!
//! The keys come from a real handshake (in memory, both sides rustls), since rustls builds
//! keys of every AEAD length only from its key schedule: the client's receiving secrets key
//! both openers, the server's sending secrets key the sealer.

#[path = "support/tls_fixtures.rs"]
mod common;

use bitget_cancel::tls::{MAX_RECORD_PLAINTEXT, RecordCipher, TlsError};
use common::TestPki;
use common::rustls_records::{RustlsOpener, RustlsSealer};
use rustls::crypto::ring::cipher_suite;
use rustls::{
    ClientConnection, ConnectionTrafficSecrets, ContentType, ProtocolVersion, ServerConfig,
    ServerConnection, SupportedCipherSuite,
};

/// Records per suite.
const CASES: usize = 400;

/// xorshift64*: a fixed-seed generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// The three parties of one direction (server to client) of a fresh connection of `suite`.
struct Direction {
    version: ProtocolVersion,
    seq: u64,
    sealer: RustlsSealer,
    ours: RecordCipher,
    theirs: RustlsOpener,
}

/// Runs a handshake of `suite` in memory, both sides rustls, secrets extractable.
fn handshake(pki: &TestPki, suite: SupportedCipherSuite) -> (ClientConnection, ServerConnection) {
    let mut server_config = ServerConfig::clone(&pki.server_config_for_suite(suite));
    server_config.enable_secret_extraction = true;
    let mut server = ServerConnection::new(server_config.into()).expect("server");
    let mut client = ClientConnection::new(pki.client_config(), "localhost".try_into().unwrap())
        .expect("client");
    for _ in 0..20 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).expect("client writes");
        }
        let mut rest = &wire[..];
        while !rest.is_empty() {
            server.read_tls(&mut rest).expect("server reads");
            server.process_new_packets().expect("server handshake");
        }
        wire.clear();
        while server.wants_write() {
            server.write_tls(&mut wire).expect("server writes");
        }
        let mut rest = &wire[..];
        while !rest.is_empty() {
            client.read_tls(&mut rest).expect("client reads");
            client.process_new_packets().expect("client handshake");
        }
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() {
            break;
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    assert_eq!(client.negotiated_cipher_suite(), Some(suite));
    (client, server)
}

/// Takes the server-to-client keys of a fresh connection of `suite`.
fn direction(pki: &TestPki, suite: SupportedCipherSuite) -> Direction {
    let (client, server) = handshake(pki, suite);
    let version = client.protocol_version().expect("version");
    let (client_rx_seq, client_rx) = client.dangerous_extract_secrets().expect("client").rx;
    let (server_tx_seq, server_tx) = server.dangerous_extract_secrets().expect("server").tx;
    assert_eq!(client_rx_seq, server_tx_seq);
    let ours = RecordCipher::new(version, &client_rx, client_rx_seq, u64::MAX).expect("ours");
    Direction {
        version,
        seq: server_tx_seq,
        sealer: RustlsSealer::new(suite, server_tx, server_tx_seq),
        ours,
        theirs: RustlsOpener::new(suite, client_rx, client_rx_seq),
    }
}

/// What opening a record came to: content type and plaintext, or the error.
type Verdict = Result<(ContentType, Vec<u8>), rustls::Error>;

impl Direction {
    fn open_ours(&mut self, record: &[u8]) -> Verdict {
        let mut record = record.to_vec();
        match self.ours.open(&mut record) {
            Ok((content_type, range)) => Ok((content_type, record[range].to_vec())),
            Err(TlsError::Protocol(error)) => Err(error),
            Err(other) => panic!("unexpected error from RecordCipher::open: {other:?}"),
        }
    }

    /// Opens `record` with both; they must agree. Returns the verdict.
    fn both_open(&mut self, record: &[u8], what: &str) -> Verdict {
        let ours = self.open_ours(record);
        let theirs = self.theirs.open(record);
        assert_eq!(ours, theirs, "{:?} {what}: verdicts differ", self.version);
        assert_eq!(
            self.ours.seq(),
            self.theirs.seq,
            "{what}: sequence numbers differ"
        );
        ours
    }
}

/// Sets a record's length field to its body length.
fn fix_length(record: &mut [u8]) {
    let body = (record.len() - 5) as u16;
    record[3..5].copy_from_slice(&body.to_be_bytes());
}

fn differential(suite: SupportedCipherSuite, seed: u64) {
    let pki = TestPki::generate();
    let mut d = direction(&pki, suite);
    let tls13 = d.version == ProtocolVersion::TLSv1_3;
    let mut rng = Rng(seed);
    let mut accepted = 0;
    let mut refused = 0;
    for case in 0..CASES {
        let len = match rng.below(5) {
            0 => rng.below(17),
            1 | 2 => rng.below(513),
            3 => rng.below(MAX_RECORD_PLAINTEXT + 1),
            _ => MAX_RECORD_PLAINTEXT - rng.below(2),
        };
        let content_type = match (tls13, rng.below(8)) {
            // Any non-zero inner type opens under TLS 1.3; the record layer above decides.
            (true, 0) => ContentType::from(1 + rng.below(255) as u8),
            (_, 1) => ContentType::Alert,
            (_, 2) => ContentType::Handshake,
            _ => ContentType::ApplicationData,
        };
        let payload = rng.bytes(len);
        let record = d.sealer.seal_at(d.seq, content_type, &payload);
        let what = format!("case {case}: {content_type:?}, {len} bytes");

        let hostile = match rng.below(7) {
            1 => {
                let mut bad = record.clone();
                let at = 5 + rng.below(bad.len() - 5);
                bad[at] ^= 1 << rng.below(8);
                Some((bad, "a flipped body byte"))
            }
            2 => {
                let mut bad = record.clone();
                bad.truncate(bad.len() - 1 - rng.below(20.min(bad.len() - 5)));
                fix_length(&mut bad);
                Some((bad, "a body cut short"))
            }
            3 => {
                let mut bad = record.clone();
                let extra = 1 + rng.below(16);
                bad.extend(rng.bytes(extra));
                fix_length(&mut bad);
                Some((bad, "a lengthened body"))
            }
            4 => {
                let mut bad = record[..5].to_vec();
                fix_length(&mut bad);
                Some((bad, "an empty body"))
            }
            5 if tls13 => {
                let padding = vec![0u8; rng.below(40)];
                let bad = d.sealer.seal_at(d.seq, ContentType::from(0), &padding);
                Some((bad, "an inner plaintext of padding only"))
            }
            _ => None,
        };
        if let Some((bad, how)) = hostile {
            let verdict = d.both_open(&bad, &format!("{what}, {how}"));
            assert!(verdict.is_err(), "{what}, {how}: accepted");
            refused += 1;
        }
        let verdict = d.both_open(&record, &what);
        if tls13 && content_type == ContentType::ChangeCipherSpec {
            // A protected change_cipher_spec is refused by both (RFC 8446 section 5).
            assert!(verdict.is_err(), "{what}: accepted");
            refused += 1;
            continue;
        }
        let (opened_type, plaintext) = verdict.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(opened_type, content_type, "{what}");
        assert!(plaintext == payload, "{what}: plaintext differs");
        accepted += 1;
        d.seq += 1;
    }
    // The generator made both kinds of case in numbers.
    assert!(
        accepted > CASES * 9 / 10 && refused > CASES / 3,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn tls13_aes_128_gcm_records_open_as_rustls_opens_them() {
    differential(cipher_suite::TLS13_AES_128_GCM_SHA256, 0x1301);
}

#[test]
fn tls13_aes_256_gcm_records_open_as_rustls_opens_them() {
    differential(cipher_suite::TLS13_AES_256_GCM_SHA384, 0x1302);
}

#[test]
fn tls13_chacha20_poly1305_records_open_as_rustls_opens_them() {
    differential(cipher_suite::TLS13_CHACHA20_POLY1305_SHA256, 0x1303);
}

#[test]
fn tls12_ecdhe_aes_128_gcm_records_open_as_rustls_opens_them() {
    differential(
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        0xc02b,
    );
}

#[test]
fn tls12_ecdhe_aes_256_gcm_records_open_as_rustls_opens_them() {
    differential(
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        0xc02c,
    );
}

#[test]
fn tls12_ecdhe_chacha20_poly1305_records_open_as_rustls_opens_them() {
    differential(
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        0xcca9,
    );
}

#[test]
fn records_sealed_by_the_crate_open_in_rustls() {
    // The other way round: what the crate seals, rustls's decrypter opens to the same content.
    let pki = TestPki::generate();
    let mut rng = Rng(0xfeed);
    for suite in [
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let (client, server) = handshake(&pki, suite);
        let version = client.protocol_version().expect("version");
        let (tx_seq, tx): (u64, ConnectionTrafficSecrets) =
            client.dangerous_extract_secrets().expect("client").tx;
        let (rx_seq, rx) = server.dangerous_extract_secrets().expect("server").rx;
        let mut sealer = RecordCipher::new(version, &tx, tx_seq, u64::MAX).expect("sealer");
        let mut opener = RustlsOpener::new(suite, rx, rx_seq);
        for content_type in [ContentType::ApplicationData, ContentType::Alert].repeat(25) {
            let len = rng.below(2000);
            let payload = rng.bytes(len);
            let mut record = vec![0u8; sealer.sealed_len(payload.len())];
            let n = sealer
                .seal(content_type, &payload, &mut record)
                .expect("seal");
            let (opened_type, plaintext) = opener.open(&record[..n]).expect("rustls opens");
            assert_eq!(opened_type, content_type, "{suite:?}");
            assert!(plaintext == payload, "{suite:?}: plaintext differs");
        }
    }
}
