//! Shared fixtures for the TLS tests: a private CA and a server certificate generated with
//! rcgen, one-connection TLS servers on loopback (blocking rustls), and a mio-driven client.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bitget_cancel::tls::{TlsError, TlsStream, client_config};
use mio::{Events, Interest, Poll, Token};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned, SupportedProtocolVersion};

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
