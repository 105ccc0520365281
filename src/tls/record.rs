//! Record protection for established connections: AEAD sealing and opening of TLS 1.3 and
//! TLS 1.2 records with ring, in caller-provided buffers, without allocating.
//!
//! The constructions follow the RFCs:
//! - TLS 1.3 (RFC 8446 sections 5.2 to 5.3), for AES-128-GCM, AES-256-GCM and
//!   ChaCha20-Poly1305: the record carries `TLSInnerPlaintext` (data, the real content type,
//!   optional zero padding) sealed under the nonce `iv XOR seq` (the 64-bit sequence number
//!   big-endian, left-padded to 12 bytes), with the 5-byte record header as additional data.
//!   The outer content type is always application_data.
//! - TLS 1.2 AES-GCM (RFC 5246 section 6.2.3.3, RFC 5288 section 3): the nonce is the 4-byte
//!   implicit salt followed by an 8-byte explicit part carried at the start of the record; the
//!   additional data is `seq || type || version || plaintext length`. The explicit part this
//!   side sends is `explicit_iv XOR seq`, unique per record, as rustls does.
//! - TLS 1.2 ChaCha20-Poly1305 (RFC 7905): nonce `iv XOR seq`, nothing explicit on the wire,
//!   the same additional data as AES-GCM.
//!
//! Every length is checked before any slicing, so hostile input yields an error, never a
//! panic. A record that fails authentication yields [`rustls::Error::DecryptError`] and no
//! plaintext.

use std::fmt;
use std::ops::Range;

use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::{
    ConnectionTrafficSecrets, ContentType, InvalidMessage, PeerMisbehaved, ProtocolVersion,
};
use zeroize::Zeroizing;

use super::TlsError;
use super::sizes::{MAX_RECORD_PLAINTEXT, RECORD_HEADER_LEN};

/// Authentication tag of every supported AEAD.
const TAG_LEN: usize = 16;

/// Explicit nonce carried in each TLS 1.2 AES-GCM record (RFC 5288 section 3).
const TLS12_EXPLICIT_NONCE_LEN: usize = 8;

/// Longest TLS 1.3 record body: "MUST NOT exceed 2^14 + 256 bytes" (RFC 8446 section 5.2).
const TLS13_MAX_CIPHERTEXT: usize = MAX_RECORD_PLAINTEXT + 256;

/// Longest TLS 1.2 record body: 2^14 + 2048 bytes (RFC 5246 section 6.2.3).
const TLS12_MAX_CIPHERTEXT: usize = MAX_RECORD_PLAINTEXT + 2048;

/// Legacy record version written into every record: TLS 1.2 (also for TLS 1.3, RFC 8446
/// section 5.1).
const RECORD_VERSION: [u8; 2] = [0x03, 0x03];

/// How records are built for the negotiated protocol version and AEAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Construction {
    /// TLS 1.3, any AEAD.
    Tls13,
    /// TLS 1.2 AES-GCM: implicit salt plus explicit nonce.
    Tls12Gcm,
    /// TLS 1.2 ChaCha20-Poly1305: `iv XOR seq`.
    Tls12ChaCha,
}

/// Protection of one direction of an established TLS connection: an AEAD key, its IV and the
/// record sequence number.
///
/// A connection has two: one seals the records this side sends, the other opens the records
/// the peer sends. Both work in buffers the caller owns ([`seal`](Self::seal) writes a whole
/// record into `out`; [`open`](Self::open) decrypts a whole record in place) and never
/// allocate.
///
/// The sequence number advances with every record and must never reach `limit` (the cipher
/// suite's confidentiality limit, or `u64::MAX` so it cannot wrap): past it, both methods fail
/// with [`TlsError::KeysExhausted`] and the connection must be replaced (or, in TLS 1.3, the
/// keys updated).
///
/// Keys come from the handshake: only tests, benches and fuzz targets build one with keys of
/// their own, through `RecordCipher::new` and the `fuzzing` feature, as here.
///
/// ```
/// use bitget_cancel::tls::RecordCipher;
/// use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion};
///
/// # fn secrets() -> ConnectionTrafficSecrets {
/// #     ConnectionTrafficSecrets::Aes256Gcm { key: [7u8; 32].into(), iv: [9u8; 12].into() }
/// # }
/// // The same secrets on both ends, as a TLS peer would derive them.
/// let secrets = secrets();
/// let mut sender = RecordCipher::new(ProtocolVersion::TLSv1_3, &secrets, 0, 1 << 24)?;
/// let mut receiver = RecordCipher::new(ProtocolVersion::TLSv1_3, &secrets, 0, 1 << 24)?;
///
/// let mut record = [0u8; 64];
/// let len = sender.seal(ContentType::ApplicationData, b"cancel", &mut record)?;
/// assert_eq!(len, sender.sealed_len(6));
///
/// let (content_type, plaintext) = receiver.open(&mut record[..len])?;
/// assert_eq!(content_type, ContentType::ApplicationData);
/// assert_eq!(&record[plaintext], b"cancel");
/// # Ok::<(), bitget_cancel::tls::TlsError>(())
/// ```
pub struct RecordCipher {
    key: LessSafeKey,
    /// Wiped when the cipher is dropped (ring's expanded key is not: ring offers no way to).
    iv: Zeroizing<[u8; NONCE_LEN]>,
    construction: Construction,
    seq: u64,
    limit: u64,
}

impl RecordCipher {
    /// Keys one direction of a connection of `version` with `secrets`, starting at sequence
    /// number `seq` (what rustls's `ExtractedSecrets` or `KernelConnection` report). `limit` is
    /// the first sequence number that may not be used.
    ///
    /// Only with the `fuzzing` feature, which exists for tests, benches and fuzz targets: in
    /// the crate, keys come from rustls's handshake and nowhere else.
    ///
    /// Errors: [`TlsError::Protocol`] when the version or the AEAD is not one of TLS 1.3 /
    /// TLS 1.2 with AES-GCM or ChaCha20-Poly1305.
    #[cfg(feature = "fuzzing")]
    pub fn new(
        version: ProtocolVersion,
        secrets: &ConnectionTrafficSecrets,
        seq: u64,
        limit: u64,
    ) -> Result<Self, TlsError> {
        Self::from_secrets(version, secrets, seq, limit)
    }

    /// Keys one direction of a connection: see `new` (public with the `fuzzing` feature).
    pub(crate) fn from_secrets(
        version: ProtocolVersion,
        secrets: &ConnectionTrafficSecrets,
        seq: u64,
        limit: u64,
    ) -> Result<Self, TlsError> {
        let (algorithm, key, iv): (&'static aead::Algorithm, _, _) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => {
                return Err(unsupported(
                    "this AEAD is not supported by the record layer",
                ));
            }
        };
        let construction = match version {
            ProtocolVersion::TLSv1_3 => Construction::Tls13,
            ProtocolVersion::TLSv1_2 if algorithm == &aead::CHACHA20_POLY1305 => {
                Construction::Tls12ChaCha
            }
            ProtocolVersion::TLSv1_2 => Construction::Tls12Gcm,
            _ => {
                return Err(unsupported(
                    "only TLS 1.3 and TLS 1.2 records are supported",
                ));
            }
        };
        let iv: [u8; NONCE_LEN] = iv
            .as_ref()
            .try_into()
            .map_err(|_| unsupported("the IV does not have the AEAD's nonce length"))?;
        // The caller's `AeadKey` wipes itself when dropped.
        let unbound = UnboundKey::new(algorithm, key.as_ref())
            .map_err(|_| unsupported("the key does not have the AEAD's key length"))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            iv: Zeroizing::new(iv),
            construction,
            seq,
            limit,
        })
    }

    /// The sequence number the next record will use.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Records that can still be protected before the limit.
    pub fn records_left(&self) -> u64 {
        self.limit.saturating_sub(self.seq)
    }

    /// Bytes a sealed record of `plaintext_len` bytes occupies on the wire, header included.
    pub fn sealed_len(&self, plaintext_len: usize) -> usize {
        RECORD_HEADER_LEN + plaintext_len + self.expansion()
    }

    /// Bytes sealing adds to a plaintext besides the header.
    fn expansion(&self) -> usize {
        match self.construction {
            // The inner content type byte.
            Construction::Tls13 => 1 + TAG_LEN,
            Construction::Tls12Gcm => TLS12_EXPLICIT_NONCE_LEN + TAG_LEN,
            Construction::Tls12ChaCha => TAG_LEN,
        }
    }

    /// Longest record body this construction accepts from the peer.
    fn max_ciphertext(&self) -> usize {
        match self.construction {
            Construction::Tls13 => TLS13_MAX_CIPHERTEXT,
            Construction::Tls12Gcm | Construction::Tls12ChaCha => TLS12_MAX_CIPHERTEXT,
        }
    }

    /// The nonce for sequence number `seq`: `iv XOR seq` (big-endian, right-aligned).
    fn nonce_bytes(&self, seq: u64) -> [u8; NONCE_LEN] {
        let mut nonce = *self.iv;
        for (byte, seq_byte) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *byte ^= seq_byte;
        }
        nonce
    }

    /// Fails once the sequence number reached the limit.
    fn check_seq(&self) -> Result<(), TlsError> {
        if self.seq >= self.limit {
            Err(TlsError::KeysExhausted)
        } else {
            Ok(())
        }
    }

    /// Seals `plaintext` (at most [`MAX_RECORD_PLAINTEXT`] bytes) as one record of
    /// `content_type` at the start of `out`, and returns the record's length
    /// ([`sealed_len`](Self::sealed_len)). TLS 1.3 records get no padding.
    ///
    /// Errors, with nothing written that counts and the sequence number unchanged:
    /// [`TlsError::TooLarge`], [`TlsError::BufferFull`] when `out` is too short,
    /// [`TlsError::KeysExhausted`].
    pub fn seal(
        &mut self,
        content_type: ContentType,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, TlsError> {
        if plaintext.len() > MAX_RECORD_PLAINTEXT {
            return Err(TlsError::TooLarge {
                len: plaintext.len(),
                max: MAX_RECORD_PLAINTEXT,
            });
        }
        let total = self.sealed_len(plaintext.len());
        if out.len() < total {
            return Err(TlsError::BufferFull {
                needed: total,
                available: out.len(),
            });
        }
        self.check_seq()?;
        let nonce = Nonce::assume_unique_for_key(self.nonce_bytes(self.seq));
        let body_len = total - RECORD_HEADER_LEN;
        // At most 2^14 + 24 bytes: always fits in the 16-bit length field.
        let [len_hi, len_lo] = (body_len as u16).to_be_bytes();
        let outer = match self.construction {
            Construction::Tls13 => ContentType::ApplicationData,
            Construction::Tls12Gcm | Construction::Tls12ChaCha => content_type,
        };
        let header = [
            u8::from(outer),
            RECORD_VERSION[0],
            RECORD_VERSION[1],
            len_hi,
            len_lo,
        ];
        let (out_header, body) = out[..total].split_at_mut(RECORD_HEADER_LEN);
        out_header.copy_from_slice(&header);
        let n = plaintext.len();
        let (sealed, tag_out) = body.split_at_mut(body_len - TAG_LEN);

        let tag = match self.construction {
            Construction::Tls13 => {
                // TLSInnerPlaintext: data || real content type, no padding.
                sealed[..n].copy_from_slice(plaintext);
                sealed[n] = u8::from(content_type);
                self.key
                    .seal_in_place_separate_tag(nonce, Aad::from(header), sealed)
            }
            Construction::Tls12Gcm => {
                let (explicit, data) = sealed.split_at_mut(TLS12_EXPLICIT_NONCE_LEN);
                explicit.copy_from_slice(&nonce.as_ref()[NONCE_LEN - TLS12_EXPLICIT_NONCE_LEN..]);
                data.copy_from_slice(plaintext);
                let aad = tls12_aad(self.seq, content_type, RECORD_VERSION, n);
                self.key.seal_in_place_separate_tag(nonce, aad, data)
            }
            Construction::Tls12ChaCha => {
                sealed.copy_from_slice(plaintext);
                let aad = tls12_aad(self.seq, content_type, RECORD_VERSION, n);
                self.key.seal_in_place_separate_tag(nonce, aad, sealed)
            }
        }
        .map_err(|_| TlsError::Protocol(rustls::Error::EncryptError))?;
        tag_out.copy_from_slice(tag.as_ref());
        self.seq += 1;
        Ok(total)
    }

    /// The length of the first record in `buf`, header included, once all of it is there:
    /// `Ok(None)` while more bytes are needed. Checks the header first, so garbage and
    /// oversized records are refused without waiting for their body.
    ///
    /// Errors ([`TlsError::Protocol`]): not a TLS record (version is not 3.x), a record longer
    /// than the protocol allows (`PeerSentOversizedRecord`), a content type that cannot
    /// follow the handshake.
    pub fn complete_record_len(&self, buf: &[u8]) -> Result<Option<usize>, TlsError> {
        let Some(header) = buf.get(..RECORD_HEADER_LEN) else {
            return Ok(None);
        };
        self.check_outer_type(ContentType::from(header[0]))?;
        if header[1] != 0x03 {
            return Err(protocol(InvalidMessage::UnknownProtocolVersion.into()));
        }
        let body_len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if body_len > self.max_ciphertext() {
            return Err(protocol(rustls::Error::PeerSentOversizedRecord));
        }
        let total = RECORD_HEADER_LEN + body_len;
        Ok((buf.len() >= total).then_some(total))
    }

    /// Refuses record types that cannot appear once the handshake is over: in TLS 1.3 every
    /// record is application_data on the outside; in TLS 1.2 change_cipher_spec would mean a
    /// renegotiation, which this client never does.
    fn check_outer_type(&self, outer: ContentType) -> Result<(), TlsError> {
        let allowed = match self.construction {
            Construction::Tls13 => outer == ContentType::ApplicationData,
            Construction::Tls12Gcm | Construction::Tls12ChaCha => matches!(
                outer,
                ContentType::ApplicationData | ContentType::Alert | ContentType::Handshake
            ),
        };
        if allowed {
            Ok(())
        } else {
            Err(protocol(
                InvalidMessage::UnexpectedMessage("record type not allowed after the handshake")
                    .into(),
            ))
        }
    }

    /// Authenticates and decrypts, in place, the one whole record in `record` (header
    /// included, as [`complete_record_len`](Self::complete_record_len) delimits it). Returns the
    /// record's real content type and where its plaintext now lies within `record`.
    ///
    /// Errors ([`TlsError::Protocol`] unless noted), after which the connection must be
    /// dropped and `record` holds nothing usable: a header that does not match `record`'s length
    /// or announces a forbidden type or size; a record that fails authentication
    /// (`DecryptError`, also for records too short to hold a tag); a plaintext over 2^14 bytes
    /// (`PeerSentOversizedRecord`); a TLS 1.3 inner plaintext that is all padding
    /// (`IllegalTlsInnerPlaintext`) or a protected change_cipher_spec
    /// (`IllegalMiddleboxChangeCipherSpec`); [`TlsError::KeysExhausted`].
    pub fn open(&mut self, record: &mut [u8]) -> Result<(ContentType, Range<usize>), TlsError> {
        if self.complete_record_len(record)? != Some(record.len()) {
            return Err(protocol(
                InvalidMessage::UnexpectedMessage("record length does not match its header").into(),
            ));
        }
        self.check_seq()?;
        let nonce = self.nonce_bytes(self.seq);
        let (header, body) = record.split_at_mut(RECORD_HEADER_LEN);
        let outer = ContentType::from(header[0]);
        let version = [header[1], header[2]];

        let (content_type, plaintext) = match self.construction {
            Construction::Tls13 => {
                // The inner plaintext holds at least its content type byte.
                if body.len() < TAG_LEN + 1 {
                    return Err(protocol(rustls::Error::DecryptError));
                }
                let aad = Aad::from([header[0], header[1], header[2], header[3], header[4]]);
                let inner = self
                    .key
                    .open_in_place(Nonce::assume_unique_for_key(nonce), aad, body)
                    .map_err(|_| protocol(rustls::Error::DecryptError))?;
                if inner.len() > MAX_RECORD_PLAINTEXT + 1 {
                    return Err(protocol(rustls::Error::PeerSentOversizedRecord));
                }
                // Strip the zero padding; the last non-zero byte is the real content type.
                let Some(type_at) = inner.iter().rposition(|&byte| byte != 0) else {
                    return Err(protocol(PeerMisbehaved::IllegalTlsInnerPlaintext.into()));
                };
                let content_type = ContentType::from(inner[type_at]);
                // "An implementation which receives [...] a protected change_cipher_spec
                // record MUST abort the handshake with an unexpected_message alert" (RFC 8446
                // section 5), as rustls does.
                if content_type == ContentType::ChangeCipherSpec {
                    return Err(protocol(
                        PeerMisbehaved::IllegalMiddleboxChangeCipherSpec.into(),
                    ));
                }
                (content_type, RECORD_HEADER_LEN..RECORD_HEADER_LEN + type_at)
            }
            Construction::Tls12Gcm => {
                if body.len() < TLS12_EXPLICIT_NONCE_LEN + TAG_LEN {
                    return Err(protocol(rustls::Error::DecryptError));
                }
                let mut nonce = nonce;
                nonce[4..].copy_from_slice(&body[..TLS12_EXPLICIT_NONCE_LEN]);
                let plaintext_len = body.len() - TLS12_EXPLICIT_NONCE_LEN - TAG_LEN;
                let aad = tls12_aad(self.seq, outer, version, plaintext_len);
                let plaintext = self
                    .key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        aad,
                        &mut body[TLS12_EXPLICIT_NONCE_LEN..],
                    )
                    .map_err(|_| protocol(rustls::Error::DecryptError))?;
                let start = RECORD_HEADER_LEN + TLS12_EXPLICIT_NONCE_LEN;
                (outer, start..start + plaintext.len())
            }
            Construction::Tls12ChaCha => {
                if body.len() < TAG_LEN {
                    return Err(protocol(rustls::Error::DecryptError));
                }
                let plaintext_len = body.len() - TAG_LEN;
                let aad = tls12_aad(self.seq, outer, version, plaintext_len);
                let plaintext = self
                    .key
                    .open_in_place(Nonce::assume_unique_for_key(nonce), aad, body)
                    .map_err(|_| protocol(rustls::Error::DecryptError))?;
                (
                    outer,
                    RECORD_HEADER_LEN..RECORD_HEADER_LEN + plaintext.len(),
                )
            }
        };
        if plaintext.len() > MAX_RECORD_PLAINTEXT {
            return Err(protocol(rustls::Error::PeerSentOversizedRecord));
        }
        self.seq += 1;
        Ok((content_type, plaintext))
    }
}

/// TLS 1.2 additional data: `seq_num || type || version || length` (RFC 5246 section 6.2.3.3).
fn tls12_aad(seq: u64, content_type: ContentType, version: [u8; 2], len: usize) -> Aad<[u8; 13]> {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = u8::from(content_type);
    aad[9..11].copy_from_slice(&version);
    // Callers pass at most 2^14 + 2048 bytes.
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    Aad::from(aad)
}

fn protocol(error: rustls::Error) -> TlsError {
    TlsError::Protocol(error)
}

fn unsupported(what: &'static str) -> TlsError {
    TlsError::Protocol(rustls::Error::General(what.into()))
}

/// Shows the construction and sequence numbers, never key material.
impl fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordCipher")
            .field("construction", &self.construction)
            .field("algorithm", self.key.algorithm())
            .field("seq", &self.seq)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];

    fn secrets(kind: usize) -> ConnectionTrafficSecrets {
        let iv = [0x5au8; 12].into();
        match kind {
            0 => ConnectionTrafficSecrets::Aes256Gcm {
                key: [0x11u8; 32].into(),
                iv,
            },
            _ => ConnectionTrafficSecrets::Chacha20Poly1305 {
                key: [0x22u8; 32].into(),
                iv,
            },
        }
    }

    fn pair(version: ProtocolVersion, kind: usize, limit: u64) -> (RecordCipher, RecordCipher) {
        let seal = RecordCipher::from_secrets(version, &secrets(kind), 3, limit).expect("sealer");
        let open = RecordCipher::from_secrets(version, &secrets(kind), 3, limit).expect("opener");
        (seal, open)
    }

    fn every_cipher() -> impl Iterator<Item = (ProtocolVersion, usize)> {
        VERSIONS
            .into_iter()
            .flat_map(|version| (0..2).map(move |kind| (version, kind)))
    }

    #[test]
    fn opens_what_it_seals_for_every_construction() {
        for (version, kind) in every_cipher() {
            let (mut sealer, mut opener) = pair(version, kind, u64::MAX);
            for len in [0usize, 1, 139, MAX_RECORD_PLAINTEXT] {
                let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut out = vec![0u8; sealer.sealed_len(len)];
                let n = sealer
                    .seal(ContentType::ApplicationData, &plaintext, &mut out)
                    .expect("seal");
                assert_eq!(n, out.len());
                if len >= 16 {
                    assert!(
                        !out.windows(16).any(|w| w == &plaintext[..16]),
                        "plaintext visible in the sealed record"
                    );
                }
                let (content_type, range) = opener.open(&mut out).expect("open");
                assert_eq!(content_type, ContentType::ApplicationData, "{version:?}");
                assert!(out[range] == plaintext[..], "{version:?} {kind} {len}");
            }
            assert_eq!(sealer.seq(), 7);
            assert_eq!(opener.seq(), 7);
        }
    }

    #[test]
    fn carries_the_real_content_type() {
        for (version, kind) in every_cipher() {
            let (mut sealer, mut opener) = pair(version, kind, u64::MAX);
            let mut out = [0u8; 64];
            let n = sealer
                .seal(ContentType::Alert, &[1, 0], &mut out)
                .expect("seal");
            let expected_outer = match version {
                ProtocolVersion::TLSv1_3 => ContentType::ApplicationData,
                _ => ContentType::Alert,
            };
            assert_eq!(ContentType::from(out[0]), expected_outer);
            let (content_type, range) = opener.open(&mut out[..n]).expect("open");
            assert_eq!(content_type, ContentType::Alert);
            assert_eq!(&out[range], &[1, 0]);
        }
    }

    #[test]
    fn refuses_a_record_with_any_byte_flipped() {
        for (version, kind) in every_cipher() {
            let (mut sealer, _) = pair(version, kind, u64::MAX);
            let mut sealed = [0u8; 64];
            let n = sealer
                .seal(ContentType::ApplicationData, b"cancel order 1", &mut sealed)
                .expect("seal");
            // Every byte after the length field (the length itself is checked separately).
            for position in [0, 1, 2].into_iter().chain(RECORD_HEADER_LEN..n) {
                let (_, mut opener) = pair(version, kind, u64::MAX);
                let mut record = sealed;
                record[position] ^= 0x01;
                assert!(
                    opener.open(&mut record[..n]).is_err(),
                    "{version:?} {kind}: flipped byte {position} accepted"
                );
            }
        }
    }

    #[test]
    fn refuses_a_replayed_or_reordered_record() {
        for (version, kind) in every_cipher() {
            let (mut sealer, mut opener) = pair(version, kind, u64::MAX);
            let mut first = [0u8; 64];
            let mut second = [0u8; 64];
            let n1 = sealer
                .seal(ContentType::ApplicationData, b"one", &mut first)
                .expect("seal");
            let n2 = sealer
                .seal(ContentType::ApplicationData, b"two", &mut second)
                .expect("seal");
            let error = opener.open(&mut second[..n2]).expect_err("out of order");
            assert!(
                matches!(error, TlsError::Protocol(rustls::Error::DecryptError)),
                "{error:?}"
            );
            let (_, mut opener) = pair(version, kind, u64::MAX);
            let mut copy = first;
            opener.open(&mut first[..n1]).expect("first");
            assert!(opener.open(&mut copy[..n1]).is_err(), "replay accepted");
        }
    }

    #[test]
    fn refuses_records_too_short_to_hold_a_tag_without_panicking() {
        for (version, kind) in every_cipher() {
            let (_, mut opener) = pair(version, kind, u64::MAX);
            for body_len in 0..=24usize {
                let mut record = vec![0u8; RECORD_HEADER_LEN + body_len];
                record[..5].copy_from_slice(&[23, 3, 3, 0, body_len as u8]);
                let error = opener.open(&mut record).expect_err("too short");
                assert!(
                    matches!(error, TlsError::Protocol(rustls::Error::DecryptError)),
                    "{version:?} {body_len}: {error:?}"
                );
            }
        }
    }

    #[test]
    fn refuses_a_tls13_inner_plaintext_that_is_all_padding() {
        let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_3, 0, u64::MAX);
        // Seal "content type 0" with no data: after stripping zeros nothing is left.
        let mut out = [0u8; 64];
        let n = sealer
            .seal(ContentType::from(0u8), &[0, 0, 0], &mut out)
            .expect("seal");
        let error = opener.open(&mut out[..n]).expect_err("all padding");
        assert!(
            matches!(
                error,
                TlsError::Protocol(rustls::Error::PeerMisbehaved(
                    PeerMisbehaved::IllegalTlsInnerPlaintext
                ))
            ),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_a_protected_change_cipher_spec_under_tls13() {
        let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_3, 1, u64::MAX);
        let mut out = [0u8; 64];
        let n = sealer
            .seal(ContentType::ChangeCipherSpec, &[1], &mut out)
            .expect("seal");
        let error = opener
            .open(&mut out[..n])
            .expect_err("protected change_cipher_spec");
        assert!(
            matches!(
                error,
                TlsError::Protocol(rustls::Error::PeerMisbehaved(
                    PeerMisbehaved::IllegalMiddleboxChangeCipherSpec
                ))
            ),
            "{error:?}"
        );
        assert_eq!(opener.seq(), 3, "a refused record uses no sequence number");
    }

    #[test]
    fn strips_tls13_zero_padding() {
        let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_3, 1, u64::MAX);
        // data || 0x17 || 00 00 00 00, sealed as if 0x00 were the type: the opener must find
        // the real type 0x17 before the padding.
        let mut inner = b"padded".to_vec();
        inner.extend_from_slice(&[0x17, 0, 0, 0]);
        let mut out = [0u8; 64];
        let n = sealer
            .seal(ContentType::from(0u8), &inner, &mut out)
            .expect("seal");
        let (content_type, range) = opener.open(&mut out[..n]).expect("open");
        assert_eq!(content_type, ContentType::ApplicationData);
        assert_eq!(&out[range], b"padded");
    }

    #[test]
    fn refuses_oversized_and_foreign_records_from_the_header_alone() {
        for (version, kind) in every_cipher() {
            let (_, opener) = pair(version, kind, u64::MAX);
            let max = opener.max_ciphertext();
            let too_long = (max + 1) as u16;
            let header = [23, 3, 3, (too_long >> 8) as u8, too_long as u8];
            assert!(matches!(
                opener.complete_record_len(&header),
                Err(TlsError::Protocol(rustls::Error::PeerSentOversizedRecord))
            ));
            let max_header = [23, 3, 3, (max >> 8) as u8, max as u8];
            assert_eq!(opener.complete_record_len(&max_header).expect("max"), None);
            assert!(opener.complete_record_len(b"HTTP/1.1 200").is_err());
            assert!(opener.complete_record_len(&[23, 2, 0, 0, 0]).is_err());
            // change_cipher_spec never follows the handshake.
            assert!(opener.complete_record_len(&[20, 3, 3, 0, 1, 1]).is_err());
            assert_eq!(opener.complete_record_len(&[23, 3]).expect("short"), None);
        }
        let (_, tls13) = pair(ProtocolVersion::TLSv1_3, 0, u64::MAX);
        // In TLS 1.3 even alerts and handshake messages travel as application_data.
        assert!(tls13.complete_record_len(&[21, 3, 3, 0, 2, 1, 0]).is_err());
        assert!(tls13.complete_record_len(&[22, 3, 3, 0, 1, 0]).is_err());
    }

    /// Seals `inner` as a record body the way `cipher` would, without its size checks, so
    /// records with oversized plaintexts can be built.
    fn seal_unchecked(cipher: &mut RecordCipher, outer: ContentType, inner: &[u8]) -> Vec<u8> {
        let body_len = inner.len() + TAG_LEN;
        let header = [u8::from(outer), 3, 3, (body_len >> 8) as u8, body_len as u8];
        let mut record = header.to_vec();
        record.extend_from_slice(inner);
        let nonce = Nonce::assume_unique_for_key(cipher.nonce_bytes(cipher.seq));
        let aad = match cipher.construction {
            Construction::Tls13 => Aad::from(header.to_vec()),
            _ => Aad::from(
                tls12_aad(cipher.seq, outer, [3, 3], inner.len())
                    .as_ref()
                    .to_vec(),
            ),
        };
        let tag = cipher
            .key
            .seal_in_place_separate_tag(nonce, aad, &mut record[RECORD_HEADER_LEN..])
            .expect("seal");
        record.extend_from_slice(tag.as_ref());
        cipher.seq += 1;
        record
    }

    #[test]
    fn refuses_records_whose_plaintext_exceeds_2_to_the_14() {
        // TLS 1.3: data of 2^14 bytes plus its type byte is the most; one padding byte more is
        // an overflow (RFC 8446 section 5.2), and so is more data.
        for inner_len in [MAX_RECORD_PLAINTEXT + 2, MAX_RECORD_PLAINTEXT + 200] {
            let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_3, 0, u64::MAX);
            let mut inner = vec![b'x'; MAX_RECORD_PLAINTEXT];
            inner.push(u8::from(ContentType::ApplicationData));
            inner.resize(inner_len, 0);
            let mut record = seal_unchecked(&mut sealer, ContentType::ApplicationData, &inner);
            assert!(matches!(
                opener.open(&mut record),
                Err(TlsError::Protocol(rustls::Error::PeerSentOversizedRecord))
            ));
        }
        let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_3, 0, u64::MAX);
        let mut inner = vec![b'x'; MAX_RECORD_PLAINTEXT];
        inner.push(u8::from(ContentType::ApplicationData));
        let mut record = seal_unchecked(&mut sealer, ContentType::ApplicationData, &inner);
        let (_, range) = opener.open(&mut record).expect("2^14 bytes is allowed");
        assert_eq!(range.len(), MAX_RECORD_PLAINTEXT);

        // TLS 1.2 ChaCha20-Poly1305: 2^14 + 1 plaintext bytes.
        let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_2, 1, u64::MAX);
        let inner = vec![b'y'; MAX_RECORD_PLAINTEXT + 1];
        let mut record = seal_unchecked(&mut sealer, ContentType::ApplicationData, &inner);
        assert!(matches!(
            opener.open(&mut record),
            Err(TlsError::Protocol(rustls::Error::PeerSentOversizedRecord))
        ));
    }

    #[test]
    fn refuses_a_header_that_does_not_match_the_record() {
        let (mut sealer, mut opener) = pair(ProtocolVersion::TLSv1_3, 0, u64::MAX);
        let mut out = [0u8; 64];
        let n = sealer
            .seal(ContentType::ApplicationData, b"abc", &mut out)
            .expect("seal");
        assert!(opener.open(&mut out[..n - 1]).is_err());
        assert!(opener.open(&mut out[..n + 1]).is_err());
        assert!(opener.open(&mut out[..n]).is_ok());
    }

    #[test]
    fn stops_at_the_sequence_limit() {
        for (version, kind) in every_cipher() {
            let (mut sealer, mut opener) = pair(version, kind, 5);
            let mut records = [[0u8; 32]; 2];
            for record in &mut records {
                sealer
                    .seal(ContentType::ApplicationData, b"x", record)
                    .expect("under the limit");
            }
            assert_eq!(sealer.records_left(), 0);
            let seq = sealer.seq();
            assert!(matches!(
                sealer.seal(ContentType::ApplicationData, b"x", &mut [0u8; 32]),
                Err(TlsError::KeysExhausted)
            ));
            assert_eq!(sealer.seq(), seq, "a refused seal uses no sequence number");
            let n = sealer.sealed_len(1);
            for record in &mut records {
                opener.open(&mut record[..n]).expect("under the limit");
            }
            assert!(matches!(
                opener.open(&mut records[0][..n]),
                Err(TlsError::KeysExhausted)
            ));
        }
    }

    #[test]
    fn refuses_an_output_buffer_too_small_and_plaintext_too_large() {
        let (mut sealer, _) = pair(ProtocolVersion::TLSv1_2, 0, u64::MAX);
        let mut out = [0u8; 30];
        assert!(matches!(
            sealer.seal(
                ContentType::ApplicationData,
                b"too long for thirty",
                &mut out
            ),
            Err(TlsError::BufferFull {
                needed: 48,
                available: 30
            })
        ));
        let big = vec![0u8; MAX_RECORD_PLAINTEXT + 1];
        let mut out = vec![0u8; 2 * MAX_RECORD_PLAINTEXT];
        assert!(matches!(
            sealer.seal(ContentType::ApplicationData, &big, &mut out),
            Err(TlsError::TooLarge { .. })
        ));
        assert_eq!(sealer.seq(), 3);
    }

    #[test]
    fn uses_a_fresh_explicit_nonce_per_tls12_gcm_record() {
        let (mut sealer, _) = pair(ProtocolVersion::TLSv1_2, 0, u64::MAX);
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        sealer
            .seal(ContentType::ApplicationData, b"same", &mut a)
            .expect("seal");
        sealer
            .seal(ContentType::ApplicationData, b"same", &mut b)
            .expect("seal");
        assert_ne!(a[5..13], b[5..13], "explicit nonces repeat");
        assert_ne!(a[13..], b[13..]);
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let (sealer, _) = pair(ProtocolVersion::TLSv1_3, 0, 10);
        let debug = format!("{sealer:?}");
        assert!(debug.contains("seq: 3"), "{debug}");
        assert!(!debug.contains("17, 17"), "{debug}");
    }
}
