//! A client TLS connection over a nonblocking mio socket: rustls's unbuffered API for the
//! handshake, this crate's record layer afterwards.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::{fmt, mem};

use mio::net::TcpStream;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, InsufficientSizeError, UnbufferedStatus,
};
use rustls::{ClientConfig, ProtocolVersion, SupportedCipherSuite};
use rustls_pki_types::ServerName;

use super::TlsError;
use super::error::Failure;
use super::sizes::{
    CONTROL_RESERVE, INCOMING_CAPACITY, MAX_RECORD_PLAINTEXT, MAX_RECORD_WIRE, MAX_WRITE,
    OUTGOING_CAPACITY, PLAINTEXT_CAPACITY, RECORD_HEADER_LEN,
};
use super::traffic::{Received, Traffic, WriteRefused};
use super::window::Window;

/// A client TLS connection over a nonblocking [`mio::net::TcpStream`].
///
/// rustls's unbuffered API runs the handshake and verifies the certificate; once the handshake
/// is over the connection's traffic keys are taken from rustls and records are protected by
/// this crate's [`RecordCipher`](super::RecordCipher). Three buffers are allocated at
/// construction: incoming ciphertext ([`INCOMING_CAPACITY`]), outgoing ciphertext
/// ([`OUTGOING_CAPACITY`]) and decrypted plaintext not yet read. Records are decrypted in place
/// in the incoming buffer and sealed straight into the outgoing one; no method blocks, and
/// once the connection is established, sending and receiving application data allocates
/// nothing (see the [module documentation](super) for the few events that still do).
///
/// How an event loop drives it (mio readiness is edge-triggered):
/// - on readable: call [`read`](Read::read) until it returns `WouldBlock` (or `Ok(0)`: the
///   peer closed). While handshaking, `read` drives the handshake and returns `WouldBlock`
///   until application data arrives; [`drive_handshake`](Self::drive_handshake) does the same
///   without a buffer.
/// - to send: [`write_record`](Self::write_record) encrypts into the outgoing buffer (no
///   syscall), then [`flush_tls`](Self::flush_tls) hands what the socket takes to the kernel.
/// - on writable, and on every loop turn while [`wants_write`](Self::wants_write): call
///   `flush_tls`. A flush that stopped on `WouldBlock` never prevents reading.
/// - to finish: [`close`](Self::close) queues close_notify, then flush.
///
/// `Read` and `Write` are implemented with nonblocking semantics (`WouldBlock`), so a
/// WebSocket upgrade library can run over the stream. Errors that travel through them carry a
/// [`TlsError`] (see `From<TlsError> for io::Error`). After a TLS failure every call returns
/// the same error again; pending ciphertext (the fatal alert rustls queued) can still be
/// flushed.
///
/// ```no_run
/// use std::io::{ErrorKind, Read};
/// use std::net::ToSocketAddrs;
///
/// use bitget_cancel::tls::{client_config, TlsStream};
/// use mio::{Events, Interest, Poll, Token};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let addr = ("example.com", 443).to_socket_addrs()?.next().ok_or("no address")?;
/// let tcp = mio::net::TcpStream::connect(addr)?;
/// tcp.set_nodelay(true)?;
/// let mut tls = TlsStream::new(client_config(None)?, "example.com", tcp)?;
///
/// let mut poll = Poll::new()?;
/// let mut events = Events::with_capacity(8);
/// let interest = Interest::READABLE | Interest::WRITABLE;
/// poll.registry().register(tls.tcp_mut(), Token(0), interest)?;
///
/// while !tls.drive_handshake()? {
///     poll.poll(&mut events, None)?;
/// }
/// tls.write_record(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")?;
/// let mut reply = [0u8; 4096];
/// loop {
///     tls.flush_tls()?;
///     match tls.read(&mut reply) {
///         Ok(0) => break, // the server closed the connection
///         Ok(n) => println!("{}", String::from_utf8_lossy(&reply[..n])),
///         Err(e) if e.kind() == ErrorKind::WouldBlock => poll.poll(&mut events, None)?,
///         Err(e) => return Err(e.into()),
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct TlsStream {
    phase: Phase,
    tcp: TcpStream,
    /// Ciphertext read from the socket and not processed yet.
    incoming: Window,
    /// Ciphertext waiting for the socket.
    outgoing: Window,
    /// Decrypted application data not yet handed to the caller.
    plaintext: Window,
    /// Control data (handshake, key update, alert) was queued since the last flush attempt.
    control_pending: bool,
    /// During the handshake: how many bytes at the front of `incoming` (whole records) rustls
    /// has been shown so far. See [`TlsStream::process_handshake`].
    shown_to_rustls: usize,
    /// The peer sent close_notify (a TCP close without it is a failure: `UnexpectedEof`).
    peer_closed: bool,
    /// The peer sent close_notify: under TLS 1.3 this side may still write (half-close, RFC 8446
    /// 6.1), e.g. to answer a WebSocket close frame that came just before it.
    close_notify_received: bool,
    /// close_notify was queued by this side.
    we_closed: bool,
    /// The connection is dead; every call returns this again.
    failure: Option<Failure>,
}

/// Who protects the records.
// One per connection, never in a collection: keeping the hot `Established` state inline beats
// boxing it to shrink the enum.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// rustls runs the handshake.
    Handshaking(UnbufferedClientConnection),
    /// The handshake is over: records are protected by this crate.
    Established(Traffic),
    /// Switching from one to the other; stays so only when the switch failed (the failure is
    /// recorded).
    Switching,
}

/// What one call asks the connection for.
#[derive(Clone, Copy)]
enum Job<'a> {
    /// Decrypt one application data record into the plaintext buffer.
    Read,
    /// Advance the handshake as far as buffered input allows.
    Handshake,
    /// Encrypt application data into the outgoing buffer.
    Encrypt(&'a [u8]),
    /// Encrypt close_notify into the outgoing buffer.
    CloseNotify,
}

/// Where [`TlsStream::process`] stopped.
enum Progress {
    /// A record's plaintext was appended to the plaintext buffer (`Job::Read`).
    Plaintext,
    /// Nothing more can happen without more ciphertext from the socket.
    NeedInput,
    /// The `Encrypt` or `CloseNotify` job is done.
    Done,
    /// The peer closed the connection (only for `Job::Read` and a finished handshake).
    PeerClosed,
}

/// The outcome of handling one rustls state, before the discard is applied.
enum Step {
    Continue,
    Plaintext,
    NeedInput,
    PeerClosed,
    Closed,
    Established,
    Fail(Failure),
    Rustls(rustls::Error),
}

/// The result of one nonblocking socket read into the incoming buffer.
enum Fill {
    Data,
    WouldBlock,
    Eof,
}

impl TlsStream {
    /// Starts a client TLS connection to `server_name` over `tcp` (connected or still connecting).
    ///
    /// `server_name` is the DNS name or IP address the certificate must be valid for; it is
    /// also sent as SNI when it is a DNS name. An IPv6 address may be given in brackets.
    /// Allocates the three buffers and encodes the ClientHello into the outgoing buffer; no
    /// socket I/O happens here, so [`wants_write`](Self::wants_write) is true on return.
    /// Socket options (`TCP_NODELAY`) are the caller's. On Linux a socket whose connect is
    /// still in progress reports `WouldBlock`, so the handshake may be driven right away; where
    /// it reports `NotConnected` instead, wait for the first writable event.
    ///
    /// `config` must allow secret extraction (`enable_secret_extraction`, set by
    /// [`client_config`](super::client_config)) so the record keys can be taken from rustls once
    /// the handshake is over; a configuration without it is copied with it switched on.
    ///
    /// Errors: [`TlsError::InvalidServerName`], [`TlsError::Config`].
    pub fn new(
        config: Arc<ClientConfig>,
        server_name: &str,
        tcp: TcpStream,
    ) -> Result<Self, TlsError> {
        let host = server_name
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(server_name);
        let name = ServerName::try_from(host)
            .map_err(|_| TlsError::InvalidServerName(server_name.to_owned()))?
            .to_owned();
        let config = if config.enable_secret_extraction {
            config
        } else {
            let mut with_extraction = ClientConfig::clone(&config);
            with_extraction.enable_secret_extraction = true;
            Arc::new(with_extraction)
        };
        let conn = UnbufferedClientConnection::new(config, name).map_err(TlsError::Config)?;
        let mut stream = Self {
            phase: Phase::Handshaking(conn),
            tcp,
            incoming: Window::with_capacity(INCOMING_CAPACITY),
            outgoing: Window::with_capacity(OUTGOING_CAPACITY),
            plaintext: Window::with_capacity(PLAINTEXT_CAPACITY),
            control_pending: false,
            shown_to_rustls: 0,
            peer_closed: false,
            close_notify_received: false,
            we_closed: false,
            failure: None,
        };
        stream.process(Job::Handshake)?;
        Ok(stream)
    }

    /// The socket, e.g. to read its addresses.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The socket, e.g. to register it with a mio `Registry`. Reading or writing it directly
    /// corrupts the TLS stream.
    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// True until the handshake has completed (a failed handshake never completes).
    pub fn is_handshaking(&self) -> bool {
        match &self.phase {
            Phase::Handshaking(conn) => conn.is_handshaking(),
            Phase::Established(_) | Phase::Switching => false,
        }
    }

    /// The negotiated protocol version, once known.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        match &self.phase {
            Phase::Handshaking(conn) => conn.protocol_version(),
            Phase::Established(traffic) => Some(traffic.protocol_version()),
            Phase::Switching => None,
        }
    }

    /// The negotiated cipher suite, once known.
    pub fn cipher_suite(&self) -> Option<SupportedCipherSuite> {
        match &self.phase {
            Phase::Handshaking(conn) => conn.negotiated_cipher_suite(),
            Phase::Established(traffic) => Some(traffic.cipher_suite()),
            Phase::Switching => None,
        }
    }

    /// True once the handshake is over and records are protected by this crate's record layer
    /// (the state in which sending and receiving allocate nothing).
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established(_))
    }

    /// True when ciphertext is waiting for [`flush_tls`](Self::flush_tls).
    pub fn wants_write(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// True once the peer sent close_notify: `read` returns `Ok(0)` once the buffered plaintext
    /// is drained, and nothing more can be sent (except under TLS 1.3, which allows
    /// half-close). A TCP close without close_notify is not a close but a failure,
    /// [`TlsError::UnexpectedEof`].
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.we_closed
    }

    /// True when decrypted plaintext is buffered, so `read` returns data without I/O.
    pub fn has_plaintext(&self) -> bool {
        !self.plaintext.is_empty()
    }

    /// Advances the handshake: processes buffered and readable ciphertext, and writes what the
    /// socket takes. Returns `Ok(true)` once the handshake has completed, `Ok(false)` when it
    /// waits for the socket (call again when it is readable or writable).
    ///
    /// Errors: [`TlsError::Handshake`] (certificate, name, alert, garbage), [`TlsError::UnexpectedEof`],
    /// [`TlsError::PeerClosed`], [`TlsError::Io`]. The connection is dead after any of them.
    pub fn drive_handshake(&mut self) -> Result<bool, TlsError> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        loop {
            if !self.is_handshaking() {
                self.flush_tls()?;
                return Ok(true);
            }
            let progress = match self.process(Job::Handshake) {
                Ok(progress) => progress,
                Err(error) => {
                    self.flush_control();
                    return Err(error);
                }
            };
            if let Progress::NeedInput = progress {
                if !self.is_handshaking() {
                    continue;
                }
                self.flush_tls()?;
                self.control_pending = false;
                match self.fill_incoming()? {
                    Fill::Data => {}
                    Fill::WouldBlock => return Ok(false),
                    Fill::Eof => return Err(self.fail(Failure::UnexpectedEof)),
                }
            }
        }
    }

    /// Encrypts `plaintext` into the outgoing buffer, as one record or, beyond
    /// [`MAX_RECORD_PLAINTEXT`] bytes, several. No syscall: call [`flush_tls`](Self::flush_tls)
    /// to send. Allocates nothing once the connection is established.
    ///
    /// Errors that leave the connection usable: [`TlsError::BufferFull`] (flush, then retry; nothing
    /// was queued), [`TlsError::HandshakeIncomplete`], [`TlsError::TooLarge`] (more than
    /// [`MAX_WRITE`] bytes: split it). After [`close`](Self::close): [`TlsError::Closed`]; once
    /// the peer closed: [`TlsError::PeerClosed`] (except after its close_notify under TLS 1.3,
    /// which allows writing on: half-close). Fatal: [`TlsError::KeysExhausted`] (reconnect), and,
    /// while rustls still finishes the handshake's leftovers, [`TlsError::Protocol`].
    pub fn write_record(&mut self, plaintext: &[u8]) -> Result<(), TlsError> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        if self.we_closed {
            return Err(TlsError::Closed);
        }
        if self.peer_closed && !self.may_write_after_peer_close() {
            return Err(TlsError::PeerClosed);
        }
        if self.is_handshaking() {
            return Err(TlsError::HandshakeIncomplete);
        }
        if plaintext.len() > MAX_WRITE {
            return Err(TlsError::TooLarge {
                len: plaintext.len(),
                max: MAX_WRITE,
            });
        }
        if plaintext.is_empty() {
            return Ok(());
        }
        match self.process(Job::Encrypt(plaintext))? {
            Progress::Done => Ok(()),
            Progress::PeerClosed => Err(TlsError::PeerClosed),
            Progress::Plaintext | Progress::NeedInput => Err(TlsError::HandshakeIncomplete),
        }
    }

    /// Writes pending ciphertext to the socket until it is all sent or the socket would block.
    /// Returns `Ok(true)` when nothing remains pending, `Ok(false)` when the rest waits for the
    /// socket to become writable. Never blocks, never drops bytes; socket errors other than
    /// `WouldBlock` and `Interrupted` are returned (the connection is then dead).
    pub fn flush_tls(&mut self) -> io::Result<bool> {
        while !self.outgoing.is_empty() {
            match self.tcp.write(self.outgoing.filled()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.outgoing.consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Queues close_notify (flush to send it); later writes fail with [`TlsError::Closed`].
    /// Reading still works, to drain the peer's last data and its close_notify. During the
    /// handshake, or on a failed connection, nothing is queued: just drop the connection.
    ///
    /// Errors: [`TlsError::OutgoingOverflow`] when even the reserve of the outgoing buffer is
    /// exhausted.
    pub fn close(&mut self) -> Result<(), TlsError> {
        if self.we_closed || self.failure.is_some() {
            return Ok(());
        }
        self.we_closed = true;
        if self.is_handshaking() {
            return Ok(());
        }
        self.process(Job::CloseNotify).map(|_| ())
    }

    /// TLS 1.3: sends a KeyUpdate that also asks the peer to update its keys (RFC 8446
    /// section 4.6.3), and switches to fresh sending keys; flush to send it. Returns
    /// `Ok(false)`, queuing nothing, on a TLS 1.2 connection, which has no key update
    /// (reconnect instead). Not needed for safety: the keys are good for 2^24 records.
    /// Allocates (rustls derives the next secret).
    ///
    /// Errors: [`TlsError::HandshakeIncomplete`]; [`TlsError::Closed`] after
    /// [`close`](Self::close); [`TlsError::PeerClosed`]; fatal: [`TlsError::OutgoingOverflow`],
    /// [`TlsError::KeysExhausted`].
    pub fn refresh_traffic_keys(&mut self) -> Result<bool, TlsError> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        if self.we_closed {
            return Err(TlsError::Closed);
        }
        if self.peer_closed {
            return Err(TlsError::PeerClosed);
        }
        if self.is_handshaking() {
            return Err(TlsError::HandshakeIncomplete);
        }
        self.process(Job::Handshake)?;
        let Phase::Established(traffic) = &mut self.phase else {
            return Err(TlsError::HandshakeIncomplete);
        };
        match traffic.refresh_traffic_keys(&mut self.outgoing) {
            Ok(queued) => {
                self.control_pending |= queued;
                Ok(queued)
            }
            Err(failure) => Err(self.fail(failure)),
        }
    }

    /// Runs the connection on the buffered ciphertext until `job` is done or more input is
    /// needed: rustls while it handshakes, then this crate's record layer. Performs no socket
    /// I/O.
    fn process(&mut self, job: Job<'_>) -> Result<Progress, TlsError> {
        if let Some(failure) = &self.failure {
            return Err(failure.to_error());
        }
        if let Phase::Handshaking(_) = self.phase
            && let Some(progress) = self.process_handshake(job)?
        {
            return Ok(progress);
        }
        self.process_traffic(job)
    }

    /// True when rustls finished the handshake and holds nothing this side must still send
    /// or read out: its keys can be taken over without losing anything.
    fn ready_to_establish(&self) -> bool {
        match &self.phase {
            Phase::Handshaking(conn) => !conn.is_handshaking() && !conn.wants_write(),
            Phase::Established(_) | Phase::Switching => false,
        }
    }

    /// Takes the record keys out of rustls.
    fn establish(&mut self) -> Result<(), TlsError> {
        let Phase::Handshaking(conn) = mem::replace(&mut self.phase, Phase::Switching) else {
            return Ok(());
        };
        match Traffic::establish(conn) {
            Ok(traffic) => {
                self.phase = Phase::Established(traffic);
                Ok(())
            }
            Err(failure) => Err(self.fail(failure)),
        }
    }

    /// Runs the rustls state machine until `job` is done, more input is needed, or the
    /// handshake is over and the connection switched to this crate's record layer (`None`:
    /// continue there).
    ///
    /// rustls is shown the incoming buffer one whole record at a time (and an incomplete
    /// record's first bytes once it has processed everything before, so garbage is refused
    /// early): the next record is revealed only when rustls is blocked waiting for input,
    /// exactly as if the records had arrived one by one. So rustls never reads past the record that completes the handshake, and the switch
    /// happens at the first moment it has finished the handshake and has nothing queued (in
    /// TLS 1.3 right after the client's Finished is encoded; in TLS 1.2 right after the
    /// server's Finished is read): every later record is this crate's to open.
    fn process_handshake(&mut self, job: Job<'_>) -> Result<Option<Progress>, TlsError> {
        loop {
            if self.ready_to_establish() {
                self.establish()?;
                return Ok(None);
            }
            let Phase::Handshaking(conn) = &mut self.phase else {
                return Ok(None);
            };
            let view = rustls_view(self.incoming.filled(), self.shown_to_rustls);
            let UnbufferedStatus { mut discard, state } =
                conn.process_tls_records(&mut self.incoming.filled_mut()[..view]);
            let step = match state {
                Err(error) => Step::Rustls(error),
                Ok(ConnectionState::ReadTraffic(mut traffic)) => match traffic.next_record() {
                    None => Step::Continue,
                    Some(Err(error)) => Step::Rustls(error),
                    Some(Ok(record)) => {
                        discard += record.discard;
                        if self.plaintext.append(record.payload) {
                            Step::Plaintext
                        } else {
                            Step::Fail(Failure::IncomingFull)
                        }
                    }
                },
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    encode_control(&mut data, &mut self.outgoing)
                }
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    // The encoded bytes stay queued in `outgoing`, in order, until flushed.
                    data.done();
                    self.control_pending = true;
                    Step::Continue
                }
                Ok(ConnectionState::BlockedHandshake) => Step::NeedInput,
                Ok(ConnectionState::WriteTraffic(_)) => Step::Established,
                Ok(ConnectionState::PeerClosed) => Step::PeerClosed,
                Ok(ConnectionState::Closed) => Step::Closed,
                Ok(_) => Step::Rustls(rustls::Error::General(
                    "unexpected state of a client TLS connection".into(),
                )),
            };
            self.incoming.consume(discard);
            self.shown_to_rustls = self.shown_to_rustls.saturating_sub(discard);

            match step {
                Step::Continue => {}
                Step::Plaintext => {
                    if let Job::Read = job {
                        return Ok(Some(Progress::Plaintext));
                    }
                }
                Step::NeedInput => {
                    let unseen = self.incoming.filled().get(self.shown_to_rustls..);
                    match unseen.and_then(next_record_len) {
                        // Show rustls one more record.
                        Some(len) => self.shown_to_rustls += len,
                        // Let rustls check the header of the incomplete record.
                        None if self.shown_to_rustls == 0 && view < self.incoming.len() => {}
                        None => return Ok(Some(Progress::NeedInput)),
                    }
                }
                Step::Established => {
                    self.establish()?;
                    return Ok(None);
                }
                Step::PeerClosed | Step::Closed => {
                    self.peer_closed = true;
                    self.close_notify_received = true;
                    match job {
                        Job::Read => return Ok(Some(Progress::PeerClosed)),
                        Job::Handshake if self.is_handshaking() => {
                            return Err(self.fail(Failure::PeerClosed));
                        }
                        Job::Handshake => return Ok(Some(Progress::PeerClosed)),
                        Job::Encrypt(_) => return Err(TlsError::PeerClosed),
                        // The next state is WriteTraffic: the switch, then our close_notify.
                        Job::CloseNotify => {}
                    }
                }
                Step::Fail(failure) => return Err(self.fail(failure)),
                Step::Rustls(error) => {
                    let failure = if self.is_handshaking() {
                        Failure::Handshake(error)
                    } else {
                        Failure::Protocol(error)
                    };
                    self.encode_pending_alerts();
                    return Err(self.fail(failure));
                }
            }
        }
    }

    /// Runs `job` on the established connection.
    fn process_traffic(&mut self, job: Job<'_>) -> Result<Progress, TlsError> {
        let Phase::Established(traffic) = &mut self.phase else {
            return Err(TlsError::HandshakeIncomplete);
        };
        let failure = match job {
            Job::Handshake => return Ok(Progress::NeedInput),
            Job::Read => loop {
                match traffic.read_record(
                    &mut self.incoming,
                    &mut self.plaintext,
                    &mut self.outgoing,
                ) {
                    Ok(Received::ApplicationData) => return Ok(Progress::Plaintext),
                    Ok(Received::Control { queued }) => self.control_pending |= queued,
                    Ok(Received::NeedInput) => return Ok(Progress::NeedInput),
                    Ok(Received::CloseNotify) => {
                        self.peer_closed = true;
                        self.close_notify_received = true;
                        return Ok(Progress::PeerClosed);
                    }
                    Err(failure) => {
                        // A fatal alert may have been queued for the peer.
                        self.control_pending = true;
                        break failure;
                    }
                }
            },
            Job::Encrypt(plaintext) => {
                let limit = self.outgoing.capacity() - CONTROL_RESERVE;
                match traffic.write_app_data(plaintext, &mut self.outgoing, limit) {
                    Ok(()) => return Ok(Progress::Done),
                    Err(WriteRefused::BufferFull { needed, available }) => {
                        return Err(TlsError::BufferFull { needed, available });
                    }
                    Err(WriteRefused::Fatal(failure)) => failure,
                }
            }
            Job::CloseNotify => match traffic.close_notify(&mut self.outgoing) {
                Ok(()) => return Ok(Progress::Done),
                Err(failure) => failure,
            },
        };
        Err(self.fail(failure))
    }

    /// Marks the connection dead and returns the error to report.
    fn fail(&mut self, failure: Failure) -> TlsError {
        let error = failure.to_error();
        self.failure = Some(failure);
        error
    }

    /// After rustls failed, encodes the fatal alert it queued so the peer learns why
    /// (best effort: the connection is dead either way).
    ///
    /// rustls hands queued messages out before it looks at any input, so the state machine is
    /// only asked while it has something queued, and with no input: feeding it the input that
    /// failed again would repeat the failure.
    fn encode_pending_alerts(&mut self) {
        let Phase::Handshaking(conn) = &mut self.phase else {
            return;
        };
        for _ in 0..4 {
            if !conn.wants_write() {
                break;
            }
            let UnbufferedStatus { state, .. } = conn.process_tls_records(&mut []);
            match state {
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    if let Ok(n) = data.encode(self.outgoing.spare_mut()) {
                        self.outgoing.commit(n);
                    }
                }
                _ => break,
            }
        }
        self.control_pending = true;
    }

    /// Best-effort flush of control data (handshake flights, key update responses, alerts)
    /// queued while reading, so the peer is not kept waiting. Errors and `WouldBlock` are
    /// left for the next [`flush_tls`](Self::flush_tls).
    fn flush_control(&mut self) {
        if self.control_pending {
            self.control_pending = false;
            let _ = self.flush_tls();
        }
    }

    /// One nonblocking socket read appended to the incoming buffer.
    fn fill_incoming(&mut self) -> Result<Fill, TlsError> {
        if self.incoming.spare_len() < MAX_RECORD_WIRE {
            self.incoming.compact();
        }
        if self.incoming.spare_len() == 0 {
            return Err(self.fail(Failure::IncomingFull));
        }
        loop {
            match self.tcp.read(self.incoming.spare_mut()) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.incoming.commit(n);
                    return Ok(Fill::Data);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::WouldBlock),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TlsError::Io(e)),
            }
        }
    }

    /// Whether writing is still allowed although the peer closed: it sent close_notify (not a
    /// bare TCP close) under TLS 1.3, which lets each side close its write side on its own.
    fn may_write_after_peer_close(&self) -> bool {
        self.close_notify_received && self.protocol_version() == Some(ProtocolVersion::TLSv1_3)
    }

    /// The peer closed the TCP connection before its close_notify. Only close_notify ends a
    /// stream cleanly (RFC 8446 section 6.1): without it, whoever closed the connection may
    /// have cut the data short, even between two records.
    fn on_eof(&mut self) -> TlsError {
        self.fail(Failure::UnexpectedEof)
    }
}

/// The length of the record at the start of `buf` if all of it is there. Only the header's
/// length field is read: rustls validates the rest.
fn next_record_len(buf: &[u8]) -> Option<usize> {
    let header = buf.get(..RECORD_HEADER_LEN)?;
    let len = RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([header[3], header[4]]));
    (buf.len() >= len).then_some(len)
}

/// How much of `filled` rustls may see during the handshake: the `shown` bytes of whole
/// records; or, once it has processed all of those, what there is of the next record when it
/// is incomplete (rustls refuses a garbage or oversized header without waiting for the rest).
fn rustls_view(filled: &[u8], shown: usize) -> usize {
    let shown = shown.min(filled.len());
    match next_record_len(&filled[shown..]) {
        None if shown == 0 => filled.len(),
        _ => shown,
    }
}

/// Encodes one queued control message (handshake, key update, alert) into `out`. Such a
/// message cannot be put back, so not fitting is fatal.
fn encode_control(data: &mut EncodeTlsData<'_, ClientConnectionData>, out: &mut Window) -> Step {
    loop {
        match data.encode(out.spare_mut()) {
            Ok(n) => {
                out.commit(n);
                return Step::Continue;
            }
            Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size }))
                if required_size <= out.capacity() - out.len()
                    && out.spare_len() < required_size =>
            {
                out.compact();
            }
            Err(EncodeError::InsufficientSize(_)) => return Step::Fail(Failure::OutgoingOverflow),
            Err(EncodeError::AlreadyEncoded) => return Step::Continue,
        }
    }
}

impl Read for TlsStream {
    /// Reads decrypted application data. `Ok(0)` means the peer closed the connection with
    /// close_notify; a TCP close without it fails with [`TlsError::UnexpectedEof`] (the data
    /// may have been cut short), once the plaintext before it was read. `WouldBlock` means no
    /// plaintext is available until the socket is readable again. Drives the handshake while
    /// it is in progress. Fills `buf` with as many buffered records as fit before touching the
    /// socket.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = self.plaintext.take_into(buf);
        while n < buf.len() && !self.peer_closed {
            match self.process(Job::Read) {
                Ok(Progress::Plaintext) => n += self.plaintext.take_into(&mut buf[n..]),
                Ok(Progress::PeerClosed) => break,
                Ok(Progress::NeedInput | Progress::Done) => {
                    if n > 0 {
                        break;
                    }
                    self.flush_control();
                    match self.fill_incoming() {
                        Ok(Fill::Data) => {}
                        Ok(Fill::WouldBlock) => return Err(io::ErrorKind::WouldBlock.into()),
                        Ok(Fill::Eof) => return Err(self.on_eof().into()),
                        Err(error) => return Err(error.into()),
                    }
                }
                // What was already copied is returned; the failure is sticky, so the next
                // call reports it.
                Err(_) if n > 0 => break,
                Err(error) => {
                    self.flush_control();
                    return Err(error.into());
                }
            }
        }
        self.flush_control();
        Ok(n)
    }
}

impl Write for TlsStream {
    /// Encrypts up to [`MAX_RECORD_PLAINTEXT`] bytes of `buf` as one record and returns how
    /// many were taken. Drives the handshake first while it is in progress; `WouldBlock` when
    /// the handshake or a full outgoing buffer must wait for the socket.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.is_handshaking() && !self.drive_handshake()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let chunk = &buf[..buf.len().min(MAX_RECORD_PLAINTEXT)];
        match self.write_record(chunk) {
            Ok(()) => Ok(chunk.len()),
            Err(TlsError::BufferFull { .. }) => {
                self.flush_tls()?;
                match self.write_record(chunk) {
                    Ok(()) => Ok(chunk.len()),
                    Err(TlsError::BufferFull { .. }) => Err(io::ErrorKind::WouldBlock.into()),
                    Err(error) => Err(error.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Sends all pending ciphertext, or fails with `WouldBlock` if the socket cannot take it
    /// yet (what was taken stays sent; call again when writable).
    fn flush(&mut self) -> io::Result<()> {
        if self.flush_tls()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("tcp", &self.tcp)
            .field("handshaking", &self.is_handshaking())
            .field("established", &self.is_established())
            .field("protocol_version", &self.protocol_version())
            .field("incoming_bytes", &self.incoming.len())
            .field("outgoing_bytes", &self.outgoing.len())
            .field("plaintext_bytes", &self.plaintext.len())
            .field("peer_closed", &self.peer_closed)
            .field("closed", &self.we_closed)
            .field("failure", &self.failure)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::client_config;

    /// A nonblocking socket connected to a listener that never answers.
    fn silent_peer() -> (std::net::TcpListener, TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let tcp = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        (listener, tcp)
    }

    fn new_stream(server_name: &str) -> Result<(std::net::TcpListener, TlsStream), TlsError> {
        let (listener, tcp) = silent_peer();
        let config = client_config(None).expect("config");
        TlsStream::new(config, server_name, tcp).map(|stream| (listener, stream))
    }

    #[test]
    fn is_send_so_it_can_move_to_the_engine_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<TlsStream>();
    }

    #[test]
    fn queues_the_client_hello_at_construction() {
        let (_listener, stream) = new_stream("example.com").expect("stream");
        assert!(stream.is_handshaking());
        assert!(stream.wants_write());
        // A TLS handshake record.
        assert_eq!(stream.outgoing.filled()[0], 0x16);
        assert!(!stream.peer_closed());
        assert!(!stream.has_plaintext());
    }

    #[test]
    fn accepts_dns_names_and_ip_addresses() {
        for name in ["localhost", "ws.bitget.com", "127.0.0.1", "::1", "[::1]"] {
            assert!(new_stream(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_an_invalid_server_name() {
        for name in ["", "not a name", "bad_under$core.example", "[::1"] {
            match new_stream(name) {
                Err(TlsError::InvalidServerName(given)) => assert_eq!(given, name),
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_application_data_before_the_handshake_completes() {
        let (_listener, mut stream) = new_stream("localhost").expect("stream");
        assert!(matches!(
            stream.write_record(b"too early"),
            Err(TlsError::HandshakeIncomplete)
        ));
        let error = stream.write(b"too early").expect_err("handshake pending");
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn reads_would_block_while_the_server_is_silent() {
        let (_listener, mut stream) = new_stream("localhost").expect("stream");
        let error = stream.read(&mut [0u8; 64]).expect_err("no data");
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert!(stream.is_handshaking());
    }

    #[test]
    fn close_during_the_handshake_queues_nothing_and_refuses_writes() {
        let (_listener, mut stream) = new_stream("localhost").expect("stream");
        let queued = stream.outgoing.len();
        stream.close().expect("close");
        assert!(stream.is_closed());
        assert_eq!(stream.outgoing.len(), queued);
        assert!(matches!(stream.write_record(b"x"), Err(TlsError::Closed)));
    }

    #[test]
    fn debug_output_describes_the_connection_state() {
        let (_listener, stream) = new_stream("localhost").expect("stream");
        let debug = format!("{stream:?}");
        assert!(debug.contains("handshaking: true"), "{debug}");
        assert!(debug.contains("outgoing_bytes"), "{debug}");
    }
}
