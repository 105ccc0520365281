//! The sizes of TLS records and of the buffers that hold them: one place every part of the
//! record layer (the stream, record protection, post-handshake traffic) reads them from.

/// Bytes of a TLS record header: content type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;

/// Largest plaintext one TLS record carries (RFC 8446 section 5.1).
pub const MAX_RECORD_PLAINTEXT: usize = 16 * 1024;

/// Largest record on the wire: 5-byte header, a full plaintext, and the most expansion
/// TLS 1.2 permits.
pub(crate) const MAX_RECORD_WIRE: usize = RECORD_HEADER_LEN + MAX_RECORD_PLAINTEXT + 2048;

/// Capacity of the incoming ciphertext buffer: a handshake message may span up to 64 KiB of
/// records, plus one full record. A peer that needs more is cut off with
/// [`TlsError::IncomingFull`](super::TlsError::IncomingFull).
pub const INCOMING_CAPACITY: usize = 64 * 1024 + MAX_RECORD_WIRE;

/// Capacity of the outgoing ciphertext buffer.
pub const OUTGOING_CAPACITY: usize = 64 * 1024;

/// Part of the outgoing buffer application data never uses, so control messages the peer
/// provokes (key update responses, alerts) always fit even when the socket is backed up.
pub(crate) const CONTROL_RESERVE: usize = 1024;

/// Largest plaintext one [`TlsStream::write_record`](super::TlsStream::write_record) call
/// accepts. It is split into records of at most [`MAX_RECORD_PLAINTEXT`] bytes; the encrypted
/// result must fit in the free part of the outgoing buffer.
pub const MAX_WRITE: usize = 2 * MAX_RECORD_PLAINTEXT;

/// Capacity of the decrypted-plaintext buffer: every record the incoming buffer can hold, plus
/// the rest of one record a short `read` left behind. Records are only decrypted out of
/// ciphertext already in the incoming buffer, so this bound is never exceeded in practice.
pub(crate) const PLAINTEXT_CAPACITY: usize = INCOMING_CAPACITY + MAX_RECORD_PLAINTEXT;
