//! Shared fixtures for the TLS tests: a private CA and a server certificate generated with
//! rcgen, one-connection TLS servers on loopback (blocking rustls), and a mio-driven client.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bitget_cancel::tls::{RECORD_HEADER_LEN, TlsError, TlsStream, client_config};
use mio::{Events, Interest, Poll, Token};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{
    ContentType, ProtocolVersion, ServerConfig, ServerConnection, StreamOwned,
    SupportedCipherSuite, SupportedProtocolVersion,
};

#[path = "rustls_records.rs"]
pub mod rustls_records;

use rustls_records::{RustlsOpener, RustlsSealer, split_records};

/// Safety net for every wait in these tests: reaching it fails the test with a message.
pub const SAFETY_NET: Duration = Duration::from_secs(20);

/// A private CA and a server certificate for `localhost` and `127.0.0.1` signed by it.
pub struct TestPki {
    /// The CA certificate, PEM: what the client adds as an extra root.
    pub ca_pem: String,
    /// Server certificate followed by the CA certificate.
    pub chain: Vec<CertificateDer<'static>>,
    /// The server's private key.
    pub key: PrivateKeyDer<'static>,
}

impl TestPki {
    pub fn generate() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "bitget-cancel test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params
            .signed_by(&server_key, &ca)
            .expect("server certificate");

        Self {
            ca_pem: ca.pem(),
            chain: vec![server_cert.der().clone(), ca.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        }
    }

    /// A server configuration for this certificate, limited to `versions`.
    pub fn server_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<ServerConfig> {
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .expect("server protocol versions")
                .with_no_client_auth()
                .with_single_cert(self.chain.clone(), self.key.clone_key())
                .expect("server certificate");
        Arc::new(config)
    }

    /// A server configuration that offers only `suite` (and its protocol version).
    pub fn server_config_for_suite(&self, suite: SupportedCipherSuite) -> Arc<ServerConfig> {
        let provider = CryptoProvider {
            cipher_suites: vec![suite],
            ..rustls::crypto::ring::default_provider()
        };
        let config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[suite.version()])
            .expect("server protocol version")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .expect("server certificate");
        Arc::new(config)
    }

    /// A server configuration limited to `version` whose traffic keys can be extracted, for
    /// [`RawServer`].
    pub fn extractable_server_config(
        &self,
        version: &'static SupportedProtocolVersion,
    ) -> Arc<ServerConfig> {
        let mut config = ServerConfig::clone(&self.server_config(&[version]));
        config.enable_secret_extraction = true;
        Arc::new(config)
    }

    /// TLS 1.3 and 1.2, like a typical public endpoint.
    pub fn default_server_config(&self) -> Arc<ServerConfig> {
        self.server_config(rustls::DEFAULT_VERSIONS)
    }

    /// A client configuration trusting this CA (and the public roots).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        client_config(Some(self.ca_pem.as_bytes())).expect("client config")
    }
}

/// Accepts one TCP connection on a loopback port and runs `serve` on it in a thread. The
/// socket is blocking, with read and write timeouts as a safety net.
pub fn spawn_server<T, F>(serve: F) -> (SocketAddr, JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> T + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(SAFETY_NET))
            .expect("read timeout");
        tcp.set_write_timeout(Some(SAFETY_NET))
            .expect("write timeout");
        tcp.set_nodelay(true).expect("nodelay");
        serve(tcp)
    });
    (addr, handle)
}

/// Completes the server side of the handshake over a blocking transport.
pub fn accept_tls<S: Read + Write>(
    transport: S,
    config: Arc<ServerConfig>,
) -> Result<StreamOwned<ServerConnection, S>, io::Error> {
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, transport);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    // Send the resumption tickets (TLS 1.3) and anything else pending right away.
    tls.flush()?;
    Ok(tls)
}

/// Echoes every byte back until the client closes; returns how many bytes were echoed and
/// whether the client sent close_notify.
pub fn echo<S: Read + Write>(
    tls: &mut StreamOwned<ServerConnection, S>,
) -> io::Result<(usize, bool)> {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return Ok((total, true)),
            Ok(n) => {
                tls.write_all(&buf[..n])?;
                tls.flush()?;
                total += n;
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok((total, false)),
            Err(e) => return Err(e),
        }
    }
}

/// A TLS echo server for one connection.
pub fn spawn_echo_server(
    config: Arc<ServerConfig>,
) -> (SocketAddr, JoinHandle<io::Result<(usize, bool)>>) {
    spawn_server(move |tcp| {
        let mut tls = accept_tls(tcp, config)?;
        echo(&mut tls)
    })
}

/// The client under test, with a mio poll to wait on.
pub struct Client {
    pub tls: TlsStream,
    poll: Poll,
    events: Events,
}

impl Client {
    /// Connects to `addr` (nonblocking) and starts TLS for `server_name`.
    pub fn connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>, server_name: &str) -> Self {
        let tcp = mio::net::TcpStream::connect(addr).expect("connect");
        let mut tls = TlsStream::new(config, server_name, tcp).expect("TlsStream::new");
        let poll = Poll::new().expect("poll");
        poll.registry()
            .register(
                tls.tcp_mut(),
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register");
        let mut client = Self {
            tls,
            poll,
            events: Events::with_capacity(16),
        };
        client.wait_connected();
        client
    }

    /// Waits until the nonblocking connect completed.
    fn wait_connected(&mut self) {
        let deadline = Instant::now() + SAFETY_NET;
        while self.tls.tcp().peer_addr().is_err() {
            assert!(Instant::now() < deadline, "TCP connect did not complete");
            self.wait();
        }
    }

    /// Waits for a readiness event, at most a few milliseconds (mio is edge-triggered, so
    /// callers always retry their operation after this returns).
    pub fn wait(&mut self) {
        self.poll
            .poll(&mut self.events, Some(Duration::from_millis(5)))
            .expect("poll");
    }

    /// Drives the handshake to its end.
    pub fn handshake(&mut self) -> Result<(), TlsError> {
        let deadline = Instant::now() + SAFETY_NET;
        while !self.tls.drive_handshake()? {
            assert!(Instant::now() < deadline, "handshake did not finish");
            self.wait();
        }
        Ok(())
    }

    /// Flushes until everything pending is on the socket.
    pub fn flush_all(&mut self) {
        let deadline = Instant::now() + SAFETY_NET;
        while !self.tls.flush_tls().expect("flush_tls") {
            assert!(Instant::now() < deadline, "flush did not finish");
            self.wait();
        }
    }

    /// Encrypts and sends `data`.
    pub fn send(&mut self, data: &[u8]) {
        for chunk in data.chunks(bitget_cancel::tls::MAX_WRITE) {
            self.tls.write_record(chunk).expect("write_record");
        }
        self.flush_all();
    }

    /// Reads exactly `len` bytes of plaintext.
    pub fn read_exact(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        let mut filled = 0;
        let deadline = Instant::now() + SAFETY_NET;
        while filled < len {
            match self.tls.read(&mut out[filled..]) {
                Ok(0) => panic!("peer closed after {filled} of {len} bytes"),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "read {filled} of {len} bytes");
                    self.tls.flush_tls().expect("flush_tls");
                    self.wait();
                }
                Err(e) => panic!("read failed after {filled} of {len} bytes: {e}"),
            }
        }
        out
    }

    /// Ends the connection without losing what either side sent: flushes what is pending (an
    /// alert after a failure), half-closes, and drains the socket until the peer closes too,
    /// so closing cannot reset the connection and discard data the peer has not read.
    pub fn hang_up(&mut self) {
        let deadline = Instant::now() + SAFETY_NET;
        while let Ok(false) = self.tls.flush_tls() {
            assert!(Instant::now() < deadline, "flush did not finish");
            self.wait();
        }
        let _ = self.tls.tcp().shutdown(std::net::Shutdown::Write);
        let mut sink = [0u8; 4096];
        loop {
            match self.tls.tcp_mut().read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the peer never closed");
                    self.wait();
                }
                Err(_) => break,
            }
        }
    }

    /// Reads until the read fails or reports end of stream; returns the plaintext and the
    /// ending (`Ok(())` for end of stream).
    pub fn read_to_end(&mut self, buf_len: usize) -> (Vec<u8>, Result<(), io::Error>) {
        let mut out = Vec::new();
        let mut buf = vec![0u8; buf_len];
        let deadline = Instant::now() + SAFETY_NET;
        loop {
            match self.tls.read(&mut buf) {
                Ok(0) => return (out, Ok(())),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(
                        Instant::now() < deadline,
                        "no end of stream after {} bytes",
                        out.len()
                    );
                    let _ = self.tls.flush_tls();
                    self.wait();
                }
                Err(e) => return (out, Err(e)),
            }
        }
    }
}

/// The `TlsError` inside an error that came out of `Read`/`Write`.
pub fn tls_error(error: &io::Error) -> &TlsError {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>())
        .unwrap_or_else(|| panic!("not a TlsError: {error:?}"))
}

/// A server that completes the handshake with rustls, then takes the traffic keys and writes
/// whatever records a test wants, well-formed or not. Its records are sealed and opened by
/// rustls's own record protection, never by the crate's record layer under test.
pub struct RawServer {
    pub sock: TcpStream,
    pub version: ProtocolVersion,
    /// Seals what the server sends.
    pub tx: RustlsSealer,
    /// Opens what the client sends.
    pub rx: RustlsOpener,
}

impl RawServer {
    /// Runs the rustls server handshake (and sends its session tickets), then takes the keys.
    /// The client must not send anything before the server writes first.
    pub fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<Self> {
        let StreamOwned { conn, sock } = accept_tls(tcp, config)?;
        let version = conn.protocol_version().expect("version");
        let suite = conn.negotiated_cipher_suite().expect("suite");
        let secrets = conn.dangerous_extract_secrets().map_err(io::Error::other)?;
        let (tx_seq, tx) = secrets.tx;
        let (rx_seq, rx) = secrets.rx;
        Ok(Self {
            sock,
            version,
            tx: RustlsSealer::new(suite, tx, tx_seq),
            rx: RustlsOpener::new(suite, rx, rx_seq),
        })
    }

    /// One sealed record.
    pub fn seal(&mut self, content_type: ContentType, payload: &[u8]) -> Vec<u8> {
        self.tx.seal(content_type, payload)
    }

    /// Seals and sends one record.
    pub fn send(&mut self, content_type: ContentType, payload: &[u8]) -> io::Result<()> {
        let record = self.seal(content_type, payload);
        self.sock.write_all(&record)
    }

    /// Reads the client's records until it closes the connection (or sends something that
    /// does not open): their content types and plaintexts.
    pub fn read_records(&mut self) -> Vec<(ContentType, Vec<u8>)> {
        let mut wire = Vec::new();
        let _ = self.sock.read_to_end(&mut wire);
        let mut records = Vec::new();
        for record in split_records(&wire) {
            match self.rx.open(record) {
                Ok(opened) => records.push(opened),
                Err(_) => break,
            }
        }
        records
    }
}

/// What a client saw against a [`RawServer`], and what the server got back.
pub struct RawExchange {
    /// Application data the client read.
    pub plaintext: Vec<u8>,
    /// How reading ended: `Ok` for a clean end of stream.
    pub ending: Result<(), io::Error>,
    /// Records the client sent after the handshake (alerts, key updates).
    pub server_got: Vec<(ContentType, Vec<u8>)>,
}

impl RawExchange {
    /// The client's error, which must be a `TlsError`.
    pub fn error(&self) -> &TlsError {
        match &self.ending {
            Ok(()) => panic!("the client ended cleanly after {:?}", self.plaintext),
            Err(error) => tls_error(error),
        }
    }

    /// The alert descriptions the server received.
    pub fn alerts_back(&self) -> Vec<[u8; 2]> {
        self.server_got
            .iter()
            .filter(|(content_type, _)| *content_type == ContentType::Alert)
            .map(|(_, payload)| [payload[0], payload[1]])
            .collect()
    }
}

/// Connects a client to a [`RawServer`] of `version` that runs `script`, reads until the end
/// of stream or an error, then hangs up.
pub fn against_raw_server(
    version: &'static SupportedProtocolVersion,
    script: impl FnOnce(&mut RawServer) -> io::Result<()> + Send + 'static,
) -> RawExchange {
    let pki = TestPki::generate();
    let config = pki.extractable_server_config(version);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<Vec<(ContentType, Vec<u8>)>> {
        let mut raw = RawServer::accept(tcp, config)?;
        script(&mut raw)?;
        Ok(raw.read_records())
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    let (plaintext, ending) = client.read_to_end(1024);
    client.hang_up();
    let server_got = server.join().expect("server thread").expect("server");
    RawExchange {
        plaintext,
        ending,
        server_got,
    }
}

/// The bytes of a TLS record header.
pub fn record_header(content_type: u8, len: usize) -> [u8; RECORD_HEADER_LEN] {
    [content_type, 3, 3, (len >> 8) as u8, len as u8]
}
