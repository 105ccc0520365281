//! The established connection: application data, alerts and post-handshake messages, with
//! records protected by [`RecordCipher`] and key schedule updates and session tickets left to
//! rustls's [`KernelConnection`].
//!
//! rustls runs the whole handshake, certificate verification included; once it is over,
//! [`Traffic::establish`] takes the traffic secrets and sequence numbers out of the connection
//! (`dangerous_into_kernel_connection`). From then on records are sealed straight into the
//! outgoing buffer and opened in place in the incoming one, which allocates nothing, where
//! rustls 0.23 allocates one buffer per record in each direction.
//!
//! After the handshake the peer may send, besides application data:
//! - TLS 1.3 NewSessionTicket: handed to rustls, which stores it for resumption (a ticket too
//!   large for the reassembly buffer is skipped: tickets are optional);
//! - TLS 1.3 KeyUpdate: the receiving keys are replaced, and when the peer asks for it this
//!   side sends its own KeyUpdate and replaces its sending keys (RFC 8446 section 4.6.3);
//! - alerts: close_notify ends the stream cleanly, any other alert ends the connection;
//! - TLS 1.2 HelloRequest: renegotiation is refused (a `no_renegotiation` warning, then an
//!   error).
//!
//! Anything else, and any record that fails to authenticate, is fatal: a fatal alert is queued
//! for the peer (best effort) and no plaintext of that record is delivered.

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::kernel::KernelConnection;
use rustls::{
    AlertDescription, ConnectionTrafficSecrets, ContentType, ExtractedSecrets, HandshakeType,
    InvalidMessage, PeerMisbehaved, ProtocolVersion, SupportedCipherSuite,
};

use super::error::Failure;
use super::record::RecordCipher;
use super::sizes::MAX_RECORD_PLAINTEXT;
use super::window::Window;
use zeroize::Zeroizing;

/// Capacity for reassembling a post-handshake message split over several records. Real
/// session tickets are a few hundred bytes; a KeyUpdate is 5.
const REASSEMBLY_CAPACITY: usize = MAX_RECORD_PLAINTEXT;

/// Handshake message header: type and 24-bit length.
const HANDSHAKE_HEADER_LEN: usize = 4;

/// KeyUpdate messages accepted without application data in between (as rustls and BoringSSL
/// do), so a peer cannot keep this side busy rekeying forever.
const MAX_KEY_UPDATES_WITHOUT_DATA: u8 = 32;

/// First sequence number the receiving keys may not use: only the 64-bit wrap (RFC 8446
/// section 5.3), never the sending side's confidentiality limit.
const RECEIVE_LIMIT: u64 = u64::MAX;

/// Alert levels (RFC 8446 section 6).
const ALERT_WARNING: u8 = 1;
const ALERT_FATAL: u8 = 2;

/// What [`Traffic::read_record`] found.
pub(crate) enum Received {
    /// A record of application data was appended to the plaintext buffer.
    ApplicationData,
    /// A control record was handled; `queued` when a reply went into the outgoing buffer.
    Control { queued: bool },
    /// The incoming buffer holds no complete record.
    NeedInput,
    /// The peer sent close_notify: nothing more will be read.
    CloseNotify,
}

/// Why [`Traffic::write_app_data`] queued nothing.
pub(crate) enum WriteRefused {
    /// Not enough room in the outgoing buffer now: flush and retry.
    BufferFull { needed: usize, available: usize },
    /// The connection is finished.
    Fatal(Failure),
}

/// Where the next traffic secrets come from, and where session tickets go: rustls's
/// [`KernelConnection`] on a real connection; fixed keys when fuzzing.
pub(crate) trait KeySchedule {
    /// The secrets that replace the receiving keys after the peer's KeyUpdate, and their
    /// first sequence number.
    fn next_rx_secrets(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error>;
    /// The secrets that replace the sending keys after this side's KeyUpdate.
    fn next_tx_secrets(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error>;
    /// Takes the body of a TLS 1.3 NewSessionTicket.
    fn session_ticket(&mut self, body: &[u8]) -> Result<(), rustls::Error>;
}

impl KeySchedule for KernelConnection<ClientConnectionData> {
    fn next_rx_secrets(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        self.update_rx_secret()
    }

    fn next_tx_secrets(&mut self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        self.update_tx_secret()
    }

    fn session_ticket(&mut self, body: &[u8]) -> Result<(), rustls::Error> {
        self.handle_new_session_ticket(body)
    }
}

/// The established connection's state.
pub(crate) struct Traffic<S = KernelConnection<ClientConnectionData>> {
    keys: Keys<S>,
    reassembly: Reassembly,
}

/// Record protection and the key schedule behind it.
struct Keys<S> {
    schedule: S,
    version: ProtocolVersion,
    /// First sequence number the sending keys may not use: the suite's confidentiality limit,
    /// which bounds what this side encrypts under one key. The receiving keys are only kept
    /// from wrapping their sequence number ([`RECEIVE_LIMIT`]): what the peer encrypts is the
    /// peer's limit to keep, and rustls does not apply it to decryption either.
    send_limit: u64,
    tx: RecordCipher,
    rx: RecordCipher,
    /// This side queued close_notify: it sends nothing more, not even a KeyUpdate answer
    /// (RFC 8446 section 4.6.3 asks for one "before sending its next Application Data record",
    /// and there will be none).
    closed: bool,
    /// KeyUpdates received since the last application data record.
    key_updates_received: u8,
    /// An answer to an update request went out since the last application data record this
    /// side sent: further requests while this side is silent need no new one (RFC 8446
    /// section 4.6.3).
    answered_update_since_data: bool,
}

/// A post-handshake handshake message being put together from records.
struct Reassembly {
    /// Holds session tickets (resumption secrets): wiped on drop.
    buf: Zeroizing<Box<[u8]>>,
    len: usize,
    /// Bytes still to drop of a session ticket too large for `buf`.
    skip: usize,
}

impl Traffic {
    /// Takes the traffic keys out of a connection whose handshake is complete and that has
    /// nothing left to send; allocates the reassembly buffer.
    pub(crate) fn establish(conn: UnbufferedClientConnection) -> Result<Self, Failure> {
        let (secrets, kernel) = conn
            .dangerous_into_kernel_connection()
            .map_err(Failure::Protocol)?;
        let version = kernel.protocol_version();
        let send_limit = match kernel.negotiated_cipher_suite() {
            SupportedCipherSuite::Tls13(suite) => suite.common.confidentiality_limit,
            SupportedCipherSuite::Tls12(suite) => suite.common.confidentiality_limit,
        };
        let ExtractedSecrets {
            tx: (tx_seq, tx),
            rx: (rx_seq, rx),
        } = secrets;
        Self::with_keys(kernel, version, send_limit, (tx_seq, &tx), (rx_seq, &rx))
    }

    /// The negotiated cipher suite.
    pub(crate) fn cipher_suite(&self) -> SupportedCipherSuite {
        self.keys.schedule.negotiated_cipher_suite()
    }
}

impl<S: KeySchedule> Traffic<S> {
    /// An established connection of `version` keyed with `tx` and `rx` (first sequence number
    /// and secrets), whose sending keys stop at `send_limit`; allocates the reassembly buffer.
    pub(crate) fn with_keys(
        schedule: S,
        version: ProtocolVersion,
        send_limit: u64,
        (tx_seq, tx): (u64, &ConnectionTrafficSecrets),
        (rx_seq, rx): (u64, &ConnectionTrafficSecrets),
    ) -> Result<Self, Failure> {
        let tx = RecordCipher::from_secrets(version, tx, tx_seq, send_limit)?;
        let rx = RecordCipher::from_secrets(version, rx, rx_seq, RECEIVE_LIMIT)?;
        Ok(Self {
            keys: Keys {
                schedule,
                version,
                send_limit,
                tx,
                rx,
                closed: false,
                key_updates_received: 0,
                answered_update_since_data: false,
            },
            reassembly: Reassembly {
                buf: Zeroizing::new(vec![0; REASSEMBLY_CAPACITY].into_boxed_slice()),
                len: 0,
                skip: 0,
            },
        })
    }

    /// The key schedule.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn schedule(&self) -> &S {
        &self.keys.schedule
    }

    /// The negotiated protocol version.
    pub(crate) fn protocol_version(&self) -> ProtocolVersion {
        self.keys.version
    }

    /// Opens the first record of `incoming` if it is complete, and handles it: application
    /// data is appended to `plaintext`, replies to control messages go to `outgoing`. On a
    /// fatal error a fatal alert is queued in `outgoing` when one applies.
    pub(crate) fn read_record(
        &mut self,
        incoming: &mut Window,
        plaintext: &mut Window,
        outgoing: &mut Window,
    ) -> Result<Received, Failure> {
        let result = self.open_and_handle(incoming, plaintext, outgoing);
        if let Err(failure) = &result
            && let Some(alert) = failure.alert()
        {
            self.keys
                .send_alert_best_effort(ALERT_FATAL, alert, outgoing);
        }
        result
    }

    fn open_and_handle(
        &mut self,
        incoming: &mut Window,
        plaintext: &mut Window,
        outgoing: &mut Window,
    ) -> Result<Received, Failure> {
        let Some(len) = self.keys.rx.complete_record_len(incoming.filled())? else {
            return Ok(Received::NeedInput);
        };
        let record = incoming
            .filled_mut()
            .get_mut(..len)
            .ok_or(Failure::IncomingFull)?;
        let (content_type, range) = self.keys.rx.open(record)?;
        let data = record.get(range).ok_or(Failure::IncomingFull)?;

        if content_type != ContentType::Handshake && self.reassembly.pending() {
            // "Handshake messages MUST NOT be interleaved with other record types"
            // (RFC 8446 section 5.1).
            return Err(Failure::Protocol(
                PeerMisbehaved::MessageInterleavedWithHandshakeMessage.into(),
            ));
        }
        let received = match content_type {
            ContentType::ApplicationData => {
                self.keys.key_updates_received = 0;
                if !plaintext.append(data) {
                    return Err(Failure::IncomingFull);
                }
                Received::ApplicationData
            }
            ContentType::Handshake => Received::Control {
                queued: self.reassembly.feed(data, &mut self.keys, outgoing)?,
            },
            ContentType::Alert => on_alert(data)?,
            _ => {
                return Err(Failure::Protocol(
                    InvalidMessage::UnexpectedMessage("unknown record content type").into(),
                ));
            }
        };
        incoming.consume(len);
        Ok(received)
    }

    /// Seals `data` as application data records into `outgoing`, using at most the first
    /// `limit` bytes of its storage. All or nothing: on error nothing is queued.
    pub(crate) fn write_app_data(
        &mut self,
        data: &[u8],
        outgoing: &mut Window,
        limit: usize,
    ) -> Result<(), WriteRefused> {
        let records = data.len().div_ceil(MAX_RECORD_PLAINTEXT);
        let needed = data.len() + records * self.keys.tx.sealed_len(0);
        let available = limit.saturating_sub(outgoing.len());
        if needed > available {
            return Err(WriteRefused::BufferFull { needed, available });
        }
        if self.keys.tx.records_left() < records as u64 {
            return Err(WriteRefused::Fatal(Failure::KeysExhausted));
        }
        if outgoing.spare_mut_until(limit).len() < needed {
            outgoing.compact();
        }
        for chunk in data.chunks(MAX_RECORD_PLAINTEXT) {
            let n = self
                .keys
                .tx
                .seal(
                    ContentType::ApplicationData,
                    chunk,
                    outgoing.spare_mut_until(limit),
                )
                .map_err(|error| WriteRefused::Fatal(Failure::from(error)))?;
            outgoing.commit(n);
        }
        self.keys.answered_update_since_data = false;
        Ok(())
    }

    /// Queues close_notify in `outgoing`.
    pub(crate) fn close_notify(&mut self, outgoing: &mut Window) -> Result<(), Failure> {
        self.keys.send_control(
            ContentType::Alert,
            &[ALERT_WARNING, u8::from(AlertDescription::CloseNotify)],
            outgoing,
        )?;
        self.keys.closed = true;
        Ok(())
    }

    /// TLS 1.3: queues a KeyUpdate asking the peer to update too, and switches to new sending
    /// keys. Returns false, queuing nothing, on TLS 1.2, which has no key update.
    pub(crate) fn refresh_traffic_keys(&mut self, outgoing: &mut Window) -> Result<bool, Failure> {
        if self.keys.version != ProtocolVersion::TLSv1_3 {
            return Ok(false);
        }
        self.keys.send_key_update(true, outgoing)?;
        Ok(true)
    }
}

/// Handles an alert record: close_notify ends the stream, anything else the connection.
fn on_alert(data: &[u8]) -> Result<Received, Failure> {
    // One alert per record, never fragmented (RFC 8446 section 5.1).
    let &[_level, description] = data else {
        return Err(Failure::Protocol(
            InvalidMessage::UnexpectedMessage("an alert record must hold exactly one alert").into(),
        ));
    };
    let description = AlertDescription::from(description);
    if description == AlertDescription::CloseNotify {
        Ok(Received::CloseNotify)
    } else {
        Err(Failure::Protocol(rustls::Error::AlertReceived(description)))
    }
}

impl Reassembly {
    /// A message is partly received (or partly skipped).
    fn pending(&self) -> bool {
        self.len > 0 || self.skip > 0
    }

    /// Takes the payload of one handshake record and handles every message it completes.
    /// Returns whether a reply was queued.
    fn feed<S: KeySchedule>(
        &mut self,
        mut data: &[u8],
        keys: &mut Keys<S>,
        out: &mut Window,
    ) -> Result<bool, Failure> {
        if data.is_empty() {
            // "Implementations MUST NOT send zero-length fragments of Handshake types"
            // (RFC 8446 section 5.1).
            return Err(Failure::Protocol(
                InvalidMessage::InvalidEmptyPayload.into(),
            ));
        }
        let mut queued = false;
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let n = (self.buf.len() - self.len).min(data.len());
            if n == 0 {
                // Cannot happen (a message as large as the buffer is complete or skipped),
                // but never loop without progress.
                return Err(Failure::Protocol(
                    InvalidMessage::HandshakePayloadTooLarge.into(),
                ));
            }
            self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];

            let mut pos = 0;
            while let Some(header) = self.buf[pos..self.len].get(..HANDSHAKE_HEADER_LEN) {
                let kind = HandshakeType::from(header[0]);
                let body_len = usize::from(header[1]) << 16
                    | usize::from(header[2]) << 8
                    | usize::from(header[3]);
                let total = HANDSHAKE_HEADER_LEN + body_len;
                let buffered = self.len - pos;
                if total > buffered {
                    if total > self.buf.len() {
                        if kind != HandshakeType::NewSessionTicket
                            || keys.version != ProtocolVersion::TLSv1_3
                        {
                            return Err(Failure::Protocol(
                                InvalidMessage::HandshakePayloadTooLarge.into(),
                            ));
                        }
                        // Session tickets are optional: drop one too large to keep.
                        self.skip = total - buffered;
                        pos = self.len;
                    }
                    break;
                }
                let body = &self.buf[pos + HANDSHAKE_HEADER_LEN..pos + total];
                let ends_record = pos + total == self.len && data.is_empty();
                queued |= keys.on_message(kind, body, ends_record, out)?;
                pos += total;
            }
            self.buf.copy_within(pos..self.len, 0);
            self.len -= pos;
        }
        Ok(queued)
    }
}

impl<S: KeySchedule> Keys<S> {
    /// Handles one complete post-handshake message; `ends_record` when nothing follows it in
    /// its record. Returns whether a reply was queued.
    fn on_message(
        &mut self,
        kind: HandshakeType,
        body: &[u8],
        ends_record: bool,
        out: &mut Window,
    ) -> Result<bool, Failure> {
        match (self.version, kind) {
            (ProtocolVersion::TLSv1_3, HandshakeType::NewSessionTicket) => {
                self.schedule
                    .session_ticket(body)
                    .map_err(Failure::Protocol)?;
                Ok(false)
            }
            (ProtocolVersion::TLSv1_3, HandshakeType::KeyUpdate) => {
                self.on_key_update(body, ends_record, out)
            }
            (ProtocolVersion::TLSv1_2, HandshakeType::HelloRequest) => {
                self.send_alert_best_effort(ALERT_WARNING, AlertDescription::NoRenegotiation, out);
                Err(Failure::Protocol(rustls::Error::General(
                    "the server asked for a TLS 1.2 renegotiation, which is refused".into(),
                )))
            }
            _ => Err(Failure::Protocol(
                InvalidMessage::UnexpectedMessage(
                    "handshake message not allowed after the handshake",
                )
                .into(),
            )),
        }
    }

    /// RFC 8446 section 4.6.3: switch to the peer's next keys; if asked, send our own
    /// KeyUpdate and switch our sending keys.
    fn on_key_update(
        &mut self,
        body: &[u8],
        ends_record: bool,
        out: &mut Window,
    ) -> Result<bool, Failure> {
        // KeyUpdate { KeyUpdateRequest request_update; }: one byte (RFC 8446 section 4.6.3).
        // A body of another length does not decode (decode_error); a byte other than 0 or 1
        // is an illegal parameter.
        let update_requested = match body {
            [0] => false,
            [1] => true,
            [_] => return Err(Failure::Protocol(InvalidMessage::InvalidKeyUpdate.into())),
            [] => {
                return Err(Failure::Protocol(
                    InvalidMessage::MissingData("KeyUpdate").into(),
                ));
            }
            [_, ..] => {
                return Err(Failure::Protocol(
                    InvalidMessage::TrailingData("KeyUpdate").into(),
                ));
            }
        };
        // The key changes after this message, so it must end its record (RFC 8446 section 5.1).
        if !ends_record {
            return Err(Failure::Protocol(
                PeerMisbehaved::KeyEpochWithPendingFragment.into(),
            ));
        }
        self.key_updates_received += 1;
        if self.key_updates_received > MAX_KEY_UPDATES_WITHOUT_DATA {
            return Err(Failure::Protocol(
                PeerMisbehaved::TooManyKeyUpdateRequests.into(),
            ));
        }
        let (seq, secrets) = self.schedule.next_rx_secrets().map_err(Failure::Protocol)?;
        self.rx = RecordCipher::from_secrets(self.version, &secrets, seq, RECEIVE_LIMIT)?;
        if update_requested && !self.answered_update_since_data && !self.closed {
            self.send_key_update(false, out)?;
            self.answered_update_since_data = true;
            return Ok(true);
        }
        Ok(false)
    }

    /// Queues a KeyUpdate under the current sending keys, then switches to the next ones.
    fn send_key_update(&mut self, update_requested: bool, out: &mut Window) -> Result<(), Failure> {
        let message = [
            u8::from(HandshakeType::KeyUpdate),
            0,
            0,
            1,
            u8::from(update_requested),
        ];
        self.send_control(ContentType::Handshake, &message, out)?;
        let (seq, secrets) = self.schedule.next_tx_secrets().map_err(Failure::Protocol)?;
        self.tx = RecordCipher::from_secrets(self.version, &secrets, seq, self.send_limit)?;
        Ok(())
    }

    /// Seals a control record into `out`, where the reserve kept free of application data
    /// may be used. Not fitting at all means the peer does not read: fatal.
    fn send_control(
        &mut self,
        content_type: ContentType,
        payload: &[u8],
        out: &mut Window,
    ) -> Result<(), Failure> {
        let needed = self.tx.sealed_len(payload.len());
        if out.spare_len() < needed {
            if out.capacity() - out.len() < needed {
                return Err(Failure::OutgoingOverflow);
            }
            out.compact();
        }
        let n = self.tx.seal(content_type, payload, out.spare_mut())?;
        out.commit(n);
        Ok(())
    }

    /// Queues an alert if it fits; the connection is ending either way.
    fn send_alert_best_effort(
        &mut self,
        level: u8,
        description: AlertDescription,
        out: &mut Window,
    ) {
        let _ = self.send_control(ContentType::Alert, &[level, u8::from(description)], out);
    }
}
