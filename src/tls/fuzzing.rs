//! The record reader of an established connection with fixed keys, for fuzz targets and tests
//! only (the `fuzzing` feature): no socket, no handshake, and no rustls behind the key
//! schedule, but the same record parsing, opening and post-handshake message handling as
//! [`TlsStream`](super::TlsStream) once its handshake is over.

use rustls::{ConnectionTrafficSecrets, ProtocolVersion};

use super::TlsError;
use super::error::Failure;
use super::sizes::{INCOMING_CAPACITY, OUTGOING_CAPACITY, PLAINTEXT_CAPACITY};
use super::traffic::{KeySchedule, Received, Traffic};
use super::window::Window;

/// A key schedule that always hands out the same secrets, with the sequence number back at 0:
/// after a KeyUpdate the peer seals under the same keys again.
struct FixedSchedule {
    secrets: fn() -> ConnectionTrafficSecrets,
    /// Times the receiving keys were replaced.
    rx_updates: u64,
}

impl KeySchedule for FixedSchedule {
    fn next_rx_secrets(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        self.rx_updates += 1;
        Ok((0, (self.secrets)()))
    }

    fn next_tx_secrets(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        Ok((0, (self.secrets)()))
    }

    fn session_ticket(&mut self, _body: &[u8]) -> Result<(), rustls::Error> {
        Ok(())
    }
}

/// The receiving side of an established connection whose two directions use the same fixed
/// `secrets`, starting at sequence number 0 (and again at 0 after each KeyUpdate).
///
/// Bytes from the peer go in with [`receive`](Self::receive); application data comes out
/// with [`take_plaintext`](Self::take_plaintext), and what this side would answer (KeyUpdate,
/// alerts) with [`take_replies`](Self::take_replies). Session tickets are accepted unread.
/// After an error, every call returns it again.
///
/// ```
/// use bitget_cancel::tls::{RecordCipher, RecordReader};
/// use rustls::{ConnectionTrafficSecrets, ContentType, ProtocolVersion};
///
/// fn secrets() -> ConnectionTrafficSecrets {
///     ConnectionTrafficSecrets::Chacha20Poly1305 { key: [1u8; 32].into(), iv: [2u8; 12].into() }
/// }
/// let mut peer = RecordCipher::new(ProtocolVersion::TLSv1_3, &secrets(), 0, u64::MAX)?;
/// let mut record = [0u8; 64];
/// let n = peer.seal(ContentType::ApplicationData, b"ack", &mut record)?;
///
/// let mut reader = RecordReader::new(ProtocolVersion::TLSv1_3, secrets)?;
/// assert!(!reader.receive(&record[..n])?, "not closed");
/// let mut plaintext = Vec::new();
/// reader.take_plaintext(&mut plaintext);
/// assert_eq!(plaintext, b"ack");
/// # Ok::<(), bitget_cancel::tls::TlsError>(())
/// ```
pub struct RecordReader {
    traffic: Traffic<FixedSchedule>,
    incoming: Window,
    plaintext: Window,
    outgoing: Window,
    closed: bool,
    failure: Option<Failure>,
}

impl RecordReader {
    /// A reader for a connection of `version` keyed with `secrets` in both directions.
    ///
    /// Errors: [`TlsError::Protocol`] for a version or AEAD the record layer does not support.
    pub fn new(
        version: ProtocolVersion,
        secrets: fn() -> ConnectionTrafficSecrets,
    ) -> Result<Self, TlsError> {
        let traffic = Traffic::with_keys(
            FixedSchedule {
                secrets,
                rx_updates: 0,
            },
            version,
            u64::MAX,
            (0, &secrets()),
            (0, &secrets()),
        )
        .map_err(|failure| failure.to_error())?;
        Ok(Self {
            traffic,
            incoming: Window::with_capacity(INCOMING_CAPACITY),
            plaintext: Window::with_capacity(PLAINTEXT_CAPACITY),
            outgoing: Window::with_capacity(OUTGOING_CAPACITY),
            closed: false,
            failure: None,
        })
    }

    /// Takes `bytes` from the peer and handles every record they complete. Returns whether
    /// the peer has sent close_notify (what follows it is ignored).
    ///
    /// Errors: whatever ends a real connection ([`TlsError::Protocol`],
    /// [`TlsError::IncomingFull`], ...); the reader is dead afterwards.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<bool, TlsError> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        if self.closed {
            return Ok(true);
        }
        if !self.incoming.append(bytes) {
            return Err(self.fail(Failure::IncomingFull));
        }
        loop {
            match self.traffic.read_record(
                &mut self.incoming,
                &mut self.plaintext,
                &mut self.outgoing,
            ) {
                Ok(Received::ApplicationData | Received::Control { .. }) => {}
                Ok(Received::NeedInput) => return Ok(false),
                Ok(Received::CloseNotify) => {
                    self.closed = true;
                    return Ok(true);
                }
                Err(failure) => return Err(self.fail(failure)),
            }
        }
    }

    /// How many KeyUpdates from the peer were accepted: after each, the peer seals under the
    /// same keys again from sequence number 0.
    pub fn rx_key_updates(&self) -> u64 {
        self.traffic.schedule().rx_updates
    }

    /// Appends the application data received so far to `out`, and forgets it.
    pub fn take_plaintext(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.plaintext.filled());
        self.plaintext.consume(self.plaintext.len());
    }

    /// Appends the records this side would have sent back so far (KeyUpdate answers, fatal
    /// alerts) to `out`, and forgets them.
    pub fn take_replies(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.outgoing.filled());
        self.outgoing.consume(self.outgoing.len());
    }

    fn fail(&mut self, failure: Failure) -> TlsError {
        let error = failure.to_error();
        self.failure = Some(failure);
        error
    }
}

/// Shows the state, never key material or plaintext.
impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("incoming_bytes", &self.incoming.len())
            .field("plaintext_bytes", &self.plaintext.len())
            .field("reply_bytes", &self.outgoing.len())
            .field("closed", &self.closed)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}
