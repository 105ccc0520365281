//! TLS records sealed and opened by rustls's own record protection (`MessageEncrypter`,
//! `MessageDecrypter` of the negotiated suite), independent of the crate's record layer: what
//! the TLS tests use as the reference peer and as the differential oracle.
#![allow(dead_code)]

use rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion, SupportedCipherSuite};

/// Bytes of a record header.
const HEADER_LEN: usize = 5;

/// Splits `secrets` into key and 12-byte IV.
fn key_and_iv(secrets: ConnectionTrafficSecrets) -> (rustls::crypto::cipher::AeadKey, [u8; 12]) {
    let (key, iv) = match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (key, iv),
        _ => panic!("unsupported AEAD"),
    };
    let iv: [u8; 12] = iv.as_ref().try_into().expect("12-byte IV");
    (key, iv)
}

/// rustls's encrypter for one direction of a connection of `suite`.
pub struct RustlsSealer {
    encrypter: Box<dyn MessageEncrypter>,
    /// Sequence number of the next record.
    pub seq: u64,
}

impl RustlsSealer {
    pub fn new(suite: SupportedCipherSuite, secrets: ConnectionTrafficSecrets, seq: u64) -> Self {
        let (key, iv) = key_and_iv(secrets);
        let encrypter = match suite {
            SupportedCipherSuite::Tls13(suite) => suite.aead_alg.encrypter(key, iv.into()),
            SupportedCipherSuite::Tls12(suite) => {
                // The secrets' IV is the fixed part followed by the explicit nonce seed.
                let fixed = suite.aead_alg.key_block_shape().fixed_iv_len;
                suite.aead_alg.encrypter(key, &iv[..fixed], &iv[fixed..])
            }
        };
        Self { encrypter, seq }
    }

    /// One whole record (header included) of `content_type` at sequence number `self.seq`,
    /// which then advances.
    pub fn seal(&mut self, content_type: ContentType, payload: &[u8]) -> Vec<u8> {
        let record = self.seal_at(self.seq, content_type, payload);
        self.seq += 1;
        record
    }

    /// One whole record at sequence number `seq`; `self.seq` does not move.
    pub fn seal_at(&mut self, seq: u64, content_type: ContentType, payload: &[u8]) -> Vec<u8> {
        let message = OutboundPlainMessage {
            typ: content_type,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(payload),
        };
        self.encrypter
            .encrypt(message, seq)
            .expect("rustls encrypts")
            .encode()
    }
}

/// rustls's decrypter for one direction of a connection of `suite`.
pub struct RustlsOpener {
    decrypter: Box<dyn MessageDecrypter>,
    /// Sequence number of the next record.
    pub seq: u64,
}

impl RustlsOpener {
    pub fn new(suite: SupportedCipherSuite, secrets: ConnectionTrafficSecrets, seq: u64) -> Self {
        let (key, iv) = key_and_iv(secrets);
        let decrypter = match suite {
            SupportedCipherSuite::Tls13(suite) => suite.aead_alg.decrypter(key, iv.into()),
            SupportedCipherSuite::Tls12(suite) => {
                let fixed = suite.aead_alg.key_block_shape().fixed_iv_len;
                suite.aead_alg.decrypter(key, &iv[..fixed])
            }
        };
        Self { decrypter, seq }
    }

    /// Opens one whole record (header included, its length field trusted) and returns its
    /// content type and plaintext; the sequence number advances only on success, as in
    /// rustls's record layer.
    pub fn open(&mut self, record: &[u8]) -> Result<(ContentType, Vec<u8>), rustls::Error> {
        let mut record = record.to_vec();
        let (header, body) = record.split_at_mut(HEADER_LEN);
        let message = InboundOpaqueMessage::new(
            ContentType::from(header[0]),
            ProtocolVersion::from(u16::from_be_bytes([header[1], header[2]])),
            body,
        );
        let plain = self.decrypter.decrypt(message, self.seq)?;
        self.seq += 1;
        Ok((plain.typ, plain.payload.to_vec()))
    }
}

/// Splits `wire` into whole records (by their header's length field), dropping an incomplete
/// tail.
pub fn split_records(wire: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let mut rest = wire;
    while rest.len() >= HEADER_LEN {
        let len = HEADER_LEN + usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < len {
            break;
        }
        let (record, tail) = rest.split_at(len);
        records.push(record);
        rest = tail;
    }
    records
}
