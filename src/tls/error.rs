//! The one error type of the TLS layer.

use std::io;

use rustls::{AlertDescription, InvalidMessage};

/// What went wrong in the TLS layer, phrased as what the caller should do about it.
///
/// Configuration errors ([`NoCertificateInPem`](Self::NoCertificateInPem),
/// [`BadCaPem`](Self::BadCaPem), [`BadCaCertificate`](Self::BadCaCertificate),
/// [`InvalidServerName`](Self::InvalidServerName), [`Config`](Self::Config)) mean the
/// configuration must be fixed: retrying will not help. [`BufferFull`](Self::BufferFull) and
/// [`HandshakeIncomplete`](Self::HandshakeIncomplete) mean "not now": flush or wait, then retry;
/// [`TooLarge`](Self::TooLarge) means split the data.
/// Every other variant means the connection is finished: drop it and reconnect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The extra CA PEM holds no `CERTIFICATE` section: pass the CA certificate itself.
    #[error("the extra CA PEM contains no certificate")]
    NoCertificateInPem,
    /// The extra CA PEM is malformed (bad base64, unterminated section): fix the file.
    #[error("the extra CA PEM cannot be parsed: {0}")]
    BadCaPem(rustls_pki_types::pem::Error),
    /// A certificate in the extra CA PEM is not a usable trust anchor: pass a valid CA certificate.
    #[error("the extra CA certificate is not a usable trust anchor: {0}")]
    BadCaCertificate(rustls::Error),
    /// The server name is neither a DNS name nor an IP address: fix the URL's host.
    #[error("invalid server name {0:?}: expected a DNS name or an IP address")]
    InvalidServerName(String),
    /// rustls refused the configuration: a bug in how the configuration is built.
    #[error("TLS configuration rejected: {0}")]
    Config(rustls::Error),
    /// The TLS handshake failed (certificate not trusted, wrong server name, alert from the
    /// server, garbage instead of TLS): check the server name and the trusted CAs, then reconnect.
    #[error("TLS handshake failed: {0}")]
    Handshake(rustls::Error),
    /// The established TLS connection failed (alert from the peer, corrupt or oversized record):
    /// drop the connection and reconnect.
    #[error("TLS connection failed: {0}")]
    Protocol(rustls::Error),
    /// The peer closed the TCP connection without sending close_notify first: during the
    /// handshake, in the middle of a record, or between records. The data may have been cut
    /// short (truncation), unlike after [`PeerClosed`](Self::PeerClosed): drop the connection
    /// and reconnect.
    #[error("the TCP connection ended without a TLS close_notify")]
    UnexpectedEof,
    /// The peer sent close_notify, a clean end of the stream, and nothing more can be sent:
    /// drop the connection and reconnect.
    #[error("the peer closed the TLS connection")]
    PeerClosed,
    /// This side already queued close_notify: open a new connection to send more.
    #[error("the TLS connection was closed by this side")]
    Closed,
    /// Application data cannot be sent before the handshake completes: keep driving the
    /// handshake (`drive_handshake`, `read`, `flush_tls`) and retry.
    #[error("the TLS handshake has not completed yet")]
    HandshakeIncomplete,
    /// The outgoing buffer cannot take the record now: call `flush_tls` when the socket is
    /// writable, then retry. Nothing was queued.
    #[error("outgoing TLS buffer full: {needed} bytes needed, {available} available")]
    BufferFull {
        /// Bytes the encrypted record(s) need.
        needed: usize,
        /// Bytes free in the outgoing buffer after compaction.
        available: usize,
    },
    /// More than [`MAX_WRITE`](super::MAX_WRITE) bytes were passed to one `write_record`:
    /// split them. Nothing was queued.
    #[error("{len} bytes passed to write_record, at most {max} accepted per call")]
    TooLarge {
        /// Bytes passed.
        len: usize,
        /// Most bytes one call accepts.
        max: usize,
    },
    /// The peer sent more than the bounded incoming buffers hold (an oversized handshake
    /// message, or plaintext the caller does not read): drop the connection.
    #[error("incoming TLS data exceeds the buffer limits")]
    IncomingFull,
    /// Control messages the peer provoked (key update responses, alerts) no longer fit in the
    /// outgoing buffer because the socket has not taken its contents: the peer does not read
    /// or is hostile. Drop the connection.
    #[error("outgoing TLS buffer overflowed with control messages")]
    OutgoingOverflow,
    /// A record sequence number reached the safe limit of the connection's keys (2^24
    /// records for AES-GCM, RFC 8446 section 5.5): drop the connection and reconnect. A cancel
    /// engine never gets near it (the venue allows 10 messages a second and disconnects daily).
    #[error("the connection's keys protected as many records as they safely can")]
    KeysExhausted,
    /// The socket failed: drop the connection and reconnect.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

impl TlsError {
    /// The [`io::ErrorKind`] this error maps to when it travels through `Read`/`Write`.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Self::Io(e) => e.kind(),
            Self::UnexpectedEof => io::ErrorKind::UnexpectedEof,
            Self::PeerClosed | Self::Closed => io::ErrorKind::BrokenPipe,
            Self::HandshakeIncomplete | Self::BufferFull { .. } => io::ErrorKind::WouldBlock,
            Self::TooLarge { .. } => io::ErrorKind::InvalidInput,
            Self::InvalidServerName(_)
            | Self::NoCertificateInPem
            | Self::BadCaPem(_)
            | Self::BadCaCertificate(_)
            | Self::Config(_) => io::ErrorKind::InvalidInput,
            Self::Handshake(_)
            | Self::Protocol(_)
            | Self::IncomingFull
            | Self::OutgoingOverflow
            | Self::KeysExhausted => io::ErrorKind::InvalidData,
        }
    }
}

/// Converts for the `Read`/`Write` implementations. Socket errors come back unchanged; any
/// other error is wrapped, so callers can recover it with `io::Error::get_ref` and
/// `downcast_ref::<TlsError>()`.
impl From<TlsError> for io::Error {
    fn from(error: TlsError) -> Self {
        match error {
            TlsError::Io(e) => e,
            other => io::Error::new(other.io_kind(), other),
        }
    }
}

/// Why a connection is dead: kept by the stream and turned into a fresh [`TlsError`] on every
/// later call.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    Handshake(rustls::Error),
    Protocol(rustls::Error),
    UnexpectedEof,
    PeerClosed,
    IncomingFull,
    OutgoingOverflow,
    KeysExhausted,
}

impl Failure {
    pub(crate) fn to_error(&self) -> TlsError {
        match self {
            Self::Handshake(e) => TlsError::Handshake(e.clone()),
            Self::Protocol(e) => TlsError::Protocol(e.clone()),
            Self::UnexpectedEof => TlsError::UnexpectedEof,
            Self::PeerClosed => TlsError::PeerClosed,
            Self::IncomingFull => TlsError::IncomingFull,
            Self::OutgoingOverflow => TlsError::OutgoingOverflow,
            Self::KeysExhausted => TlsError::KeysExhausted,
        }
    }

    /// The fatal alert that tells the peer about a failure found in its records, if any
    /// (RFC 8446 section 6.2). None for failures the peer announced itself or that are
    /// local.
    pub(crate) fn alert(&self) -> Option<AlertDescription> {
        let Self::Protocol(error) = self else {
            return None;
        };
        Some(match error {
            rustls::Error::DecryptError => AlertDescription::BadRecordMac,
            rustls::Error::PeerSentOversizedRecord => AlertDescription::RecordOverflow,
            rustls::Error::InvalidMessage(InvalidMessage::InvalidKeyUpdate) => {
                AlertDescription::IllegalParameter
            }
            rustls::Error::InvalidMessage(InvalidMessage::UnexpectedMessage(_))
            | rustls::Error::PeerMisbehaved(_) => AlertDescription::UnexpectedMessage,
            rustls::Error::InvalidMessage(_) => AlertDescription::DecodeError,
            _ => return None,
        })
    }
}

/// Errors of the record layer on an established connection: all of them end it.
impl From<TlsError> for Failure {
    fn from(error: TlsError) -> Self {
        match error {
            TlsError::Protocol(e) => Self::Protocol(e),
            TlsError::KeysExhausted => Self::KeysExhausted,
            TlsError::IncomingFull => Self::IncomingFull,
            // A control record that does not fit.
            TlsError::BufferFull { .. } | TlsError::OutgoingOverflow => Self::OutgoingOverflow,
            TlsError::UnexpectedEof => Self::UnexpectedEof,
            TlsError::PeerClosed => Self::PeerClosed,
            TlsError::Handshake(e) => Self::Handshake(e),
            other => Self::Protocol(rustls::Error::General(other.to_string())),
        }
    }
}
