//! `TlsStream` against real rustls servers on loopback: handshake and verification, echo,
//! close, hostile and broken peers, fragmentation, back-pressure.

#[path = "support/tls_fixtures.rs"]
mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use bitget_cancel::tls::{TlsError, client_config};
use common::rustls_records::RustlsSealer;
use common::{
    Client, SAFETY_NET, TestPki, accept_tls, against_raw_server, echo, record_header,
    spawn_echo_server, spawn_server, tls_error,
};
use rustls::crypto::ring::cipher_suite;
use rustls::{
    AlertDescription, CertificateError, ContentType, InvalidMessage, PeerMisbehaved,
    ProtocolVersion,
};

#[test]
fn completes_the_handshake_and_echoes_records() {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server(pki.default_server_config());
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    assert!(client.tls.is_handshaking());
    assert!(
        client.tls.wants_write(),
        "the ClientHello is queued at construction"
    );

    client.handshake().expect("handshake");
    assert!(!client.tls.is_handshaking());
    assert_eq!(
        client.tls.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );

    for message in [&b"first"[..], b"second message", &[0x5a; 3000]] {
        client.send(message);
        assert_eq!(client.read_exact(message.len()), message);
    }
    assert!(
        client.tls.is_established(),
        "records are protected by the crate's record layer"
    );

    client.tls.close().expect("close");
    client.flush_all();
    let (echoed, clean_close) = server.join().expect("server thread").expect("server");
    assert_eq!(echoed, 5 + 14 + 3000);
    assert!(clean_close, "the server saw our close_notify");
}

#[test]
fn verifies_a_certificate_for_an_ip_address() {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server(pki.default_server_config());
    let mut client = Client::connect(addr, pki.client_config(), "127.0.0.1");
    client
        .handshake()
        .expect("handshake with an IP address server name");
    client.send(b"ping");
    assert_eq!(client.read_exact(4), b"ping");
    client.tls.close().expect("close");
    client.flush_all();
    server.join().expect("server thread").expect("server");
}

#[test]
fn echoes_over_tls12() {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server(pki.server_config(&[&rustls::version::TLS12]));
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    assert_eq!(
        client.tls.protocol_version(),
        Some(ProtocolVersion::TLSv1_2)
    );
    client.send(b"over tls 1.2");
    assert_eq!(client.read_exact(12), b"over tls 1.2");
    client.tls.close().expect("close");
    client.flush_all();
    let (_, clean_close) = server.join().expect("server thread").expect("server");
    assert!(clean_close);
}

#[test]
fn rejects_a_server_certificate_from_an_untrusted_ca() {
    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (addr, server) = spawn_server(move |tcp| accept_tls(tcp, config).err());
    // Public roots only: the test CA is not among them.
    let mut client = Client::connect(addr, client_config(None).expect("config"), "localhost");
    let error = client
        .handshake()
        .expect_err("an untrusted certificate must fail");
    assert!(
        matches!(
            error,
            TlsError::Handshake(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{error:?}"
    );
    // The failure is sticky and the fatal alert reaches the server.
    assert!(matches!(
        client.tls.drive_handshake(),
        Err(TlsError::Handshake(_))
    ));
    assert!(matches!(
        client.tls.write_record(b"x"),
        Err(TlsError::Handshake(_))
    ));
    let _ = client.tls.flush_tls();
    drop(client);
    let server_error = server
        .join()
        .expect("server thread")
        .expect("server must fail");
    assert!(
        server_error.to_string().contains("received fatal alert"),
        "{server_error}"
    );
}

#[test]
fn rejects_a_certificate_for_another_name() {
    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (addr, _server) = spawn_server(move |tcp| accept_tls(tcp, config).err());
    let mut client = Client::connect(addr, pki.client_config(), "example.com");
    let error = client
        .handshake()
        .expect_err("a certificate for another name must fail");
    assert!(
        matches!(
            error,
            TlsError::Handshake(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{error:?}"
    );
}

/// Runs a client handshake against a server that answers the ClientHello with `reply` and
/// then closes; returns the client's error.
fn handshake_error_against(reply: &'static [u8]) -> TlsError {
    let (addr, server) = spawn_server(move |mut tcp| {
        let mut hello = [0u8; 1024];
        let _ = tcp.read(&mut hello);
        let _ = tcp.write_all(reply);
        let _ = tcp.shutdown(Shutdown::Write);
        // Keep the socket open until the client is done, so the close is a clean FIN.
        let _ = tcp.read(&mut hello);
    });
    let pki = TestPki::generate();
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    let error = client.handshake().expect_err("the handshake must fail");
    drop(client);
    server.join().expect("server thread");
    error
}

#[test]
fn fails_cleanly_when_the_server_answers_with_garbage() {
    let replies: [&'static [u8]; 4] = [
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        &[0xff; 300],
        // A handshake record header announcing 65535 bytes: more than a record may carry.
        &[0x16, 0x03, 0x03, 0xff, 0xff, 0x00, 0x00],
        // A well-formed record holding a nonsense handshake message.
        &[0x16, 0x03, 0x03, 0x00, 0x04, 0x63, 0x00, 0x00, 0x00],
    ];
    for reply in replies {
        let error = handshake_error_against(reply);
        assert!(
            matches!(error, TlsError::Handshake(_)),
            "{reply:x?}: {error:?}"
        );
    }
}

#[test]
fn reports_a_fatal_alert_received_during_the_handshake() {
    // Plaintext fatal handshake_failure alert.
    let error = handshake_error_against(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    assert!(
        matches!(
            error,
            TlsError::Handshake(rustls::Error::AlertReceived(
                AlertDescription::HandshakeFailure
            ))
        ),
        "{error:?}"
    );
}

#[test]
fn fails_cleanly_when_the_server_hangs_up_mid_handshake() {
    // The first three bytes of a record header, then EOF.
    let error = handshake_error_against(&[0x16, 0x03, 0x03]);
    assert!(matches!(error, TlsError::UnexpectedEof), "{error:?}");
    let error = handshake_error_against(b"");
    assert!(matches!(error, TlsError::UnexpectedEof), "{error:?}");
}

#[test]
fn reports_a_fatal_alert_received_after_the_handshake() {
    // A server demanding a client certificate: in TLS 1.3 the client finishes its handshake
    // first and only then learns, by alert, that its (empty) certificate was refused.
    let pki = TestPki::generate();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.chain[1].clone()).expect("CA root");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .expect("server config");
    let (addr, server) = spawn_server(move |tcp| accept_tls(tcp, config.into()).err());

    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client
        .handshake()
        .expect("the client side of the handshake completes");
    let (plaintext, ending) = client.read_to_end(1024);
    assert!(plaintext.is_empty());
    let error = ending.expect_err("the alert must surface as an error");
    assert!(
        matches!(
            tls_error(&error),
            TlsError::Protocol(rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired
            ))
        ),
        "{error:?}"
    );
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(matches!(
        client.tls.write_record(b"x"),
        Err(TlsError::Protocol(_))
    ));
    server
        .join()
        .expect("server thread")
        .expect("server refuses");
}

/// The server says goodbye with close_notify; the client reads to the end and then tries one more
/// write, whose result is returned.
fn close_notify_then_late_write(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(), TlsError> {
    let pki = TestPki::generate();
    let config = pki.server_config(versions);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<()> {
        let mut tls = accept_tls(tcp, config)?;
        tls.write_all(b"goodbye")?;
        tls.conn.send_close_notify();
        tls.flush()?;
        // Wait for the client to hang up.
        let mut buf = [0u8; 64];
        while tls.sock.read(&mut buf)? > 0 {}
        Ok(())
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    let (plaintext, ending) = client.read_to_end(1024);
    assert_eq!(plaintext, b"goodbye");
    ending.expect("close_notify is a clean end of stream");
    assert!(client.tls.peer_closed());
    assert_eq!(
        client
            .tls
            .read(&mut [0u8; 16])
            .expect("still end of stream"),
        0
    );
    let late = client.tls.write_record(b"late");
    drop(client);
    server.join().expect("server thread").expect("server");
    late
}

#[test]
fn reports_the_servers_close_notify_as_end_of_stream_and_allows_half_close_under_tls13() {
    // TLS 1.3 (RFC 8446 6.1): each side closes its write side on its own, so a last message
    // (e.g. the answer to a WebSocket close frame) can still go out.
    close_notify_then_late_write(&[&rustls::version::TLS13])
        .expect("TLS 1.3 allows writing after the peer's close_notify");
}

#[test]
fn refuses_writes_after_the_servers_close_notify_under_tls12() {
    assert!(matches!(
        close_notify_then_late_write(&[&rustls::version::TLS12]),
        Err(TlsError::PeerClosed)
    ));
}

#[test]
fn a_tcp_close_without_close_notify_is_an_unexpected_eof() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let pki = TestPki::generate();
        let config = pki.server_config(versions);
        let (addr, server) = spawn_server(move |tcp| -> io::Result<()> {
            let mut tls = accept_tls(tcp, config)?;
            tls.write_all(b"last words")?;
            tls.flush()?;
            // Between two records, but no close_notify: a truncation the client must see.
            tls.sock.shutdown(Shutdown::Both)
        });
        let mut client = Client::connect(addr, pki.client_config(), "localhost");
        client.handshake().expect("handshake");
        let (plaintext, ending) = client.read_to_end(1024);
        assert_eq!(
            plaintext, b"last words",
            "what came before the close is delivered"
        );
        let error = ending.expect_err("a bare TCP close is not a clean end of stream");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            matches!(tls_error(&error), TlsError::UnexpectedEof),
            "{error:?}"
        );
        assert!(!client.tls.peer_closed(), "no close_notify was received");
        assert!(matches!(
            client.tls.write_record(b"more"),
            Err(TlsError::UnexpectedEof)
        ));
        server.join().expect("server thread").expect("server");
    }
}

#[test]
fn fails_cleanly_on_eof_in_the_middle_of_a_record() {
    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (addr, server) = spawn_server(move |tcp| -> io::Result<()> {
        let mut tls = accept_tls(tcp, config)?;
        tls.conn.writer().write_all(b"this record is cut in half")?;
        let mut record = Vec::new();
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut record)?;
        }
        tls.sock.write_all(&record[..record.len() / 2])?;
        tls.sock.shutdown(Shutdown::Both)
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    let (plaintext, ending) = client.read_to_end(1024);
    assert!(plaintext.is_empty());
    let error = ending.expect_err("a truncated record is an error");
    assert!(
        matches!(tls_error(&error), TlsError::UnexpectedEof),
        "{error:?}"
    );
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    server.join().expect("server thread").expect("server");
}

/// A blocking transport that writes at most one byte per `write` call.
struct OneByteWrites(TcpStream);

impl Read for OneByteWrites {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for OneByteWrites {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match buf.first() {
            Some(byte) => self.0.write(std::slice::from_ref(byte)),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn works_with_a_server_that_writes_one_byte_at_a_time() {
    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (addr, server) = spawn_server(move |tcp| {
        let mut tls = accept_tls(OneByteWrites(tcp), config)?;
        echo(&mut tls)
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    for message in [&b"dribbled"[..], &[7u8; 600]] {
        client.send(message);
        assert_eq!(client.read_exact(message.len()), message);
    }
    client.tls.close().expect("close");
    client.flush_all();
    let (echoed, _) = server.join().expect("server thread").expect("server");
    assert_eq!(echoed, 608);
}

/// A server that, on request, queues `count` small records and writes them in one burst.
fn burst_of_small_records(count: usize, read_buf_len: usize) {
    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (addr, server) = spawn_server(move |tcp| -> io::Result<()> {
        let mut tls = accept_tls(tcp, config)?;
        let mut go = [0u8; 2];
        tls.read_exact(&mut go)?;
        // Queue every record before writing any.
        tls.conn.set_buffer_limit(None);
        for i in 0..count {
            // One `write` on the rustls writer is one record.
            tls.conn
                .writer()
                .write_all(format!("record {i};").as_bytes())?;
        }
        tls.flush()?;
        tls.conn.send_close_notify();
        tls.flush()
    });
    let expected: Vec<u8> = (0..count)
        .flat_map(|i| format!("record {i};").into_bytes())
        .collect();

    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    client.send(b"go");
    let (plaintext, ending) = client.read_to_end(read_buf_len);
    ending.expect("clean end of stream");
    assert_eq!(plaintext.len(), expected.len());
    assert!(plaintext == expected, "records out of order or corrupted");
    server.join().expect("server thread").expect("server");
}

#[test]
fn delivers_many_small_records_in_order() {
    burst_of_small_records(2000, 64 * 1024);
}

#[test]
fn delivers_records_through_a_tiny_read_buffer() {
    burst_of_small_records(300, 5);
}

#[test]
fn answers_a_key_update_from_the_server() {
    let pki = TestPki::generate();
    let config = pki.server_config(&[&rustls::version::TLS13]);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<(usize, bool)> {
        let mut tls = accept_tls(tcp, config)?;
        let mut first = [0u8; 6];
        tls.read_exact(&mut first)?;
        // Rotate our keys and ask the client to rotate its own, then echo.
        tls.conn.refresh_traffic_keys().map_err(io::Error::other)?;
        tls.write_all(&first)?;
        tls.flush()?;
        let (rest, clean) = echo(&mut tls)?;
        Ok((first.len() + rest, clean))
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    client.send(b"before");
    assert_eq!(client.read_exact(6), b"before");
    for _ in 0..3 {
        client.send(b"after the key update");
        assert_eq!(client.read_exact(20), b"after the key update");
    }
    client.tls.close().expect("close");
    client.flush_all();
    let (echoed, clean) = server.join().expect("server thread").expect("server");
    assert_eq!(echoed, 6 + 60);
    assert!(clean);
}

/// The byte at `position` of the large transfer: a pattern that exposes loss, duplication
/// and reordering.
fn pattern(position: usize) -> u8 {
    (position as u64).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ (position >> 16) as u8
}

#[test]
fn keeps_every_byte_while_the_socket_is_full() {
    const MIN_TOTAL: usize = 1 << 20;
    const MAX_TOTAL: usize = 64 << 20;
    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (start_reading, reading_allowed) = mpsc::channel::<()>();
    let (addr, server) = spawn_server(move |tcp| {
        let mut tls = accept_tls(tcp, config)?;
        // Do not read until the client has seen its socket fill up.
        reading_allowed
            .recv_timeout(SAFETY_NET)
            .map_err(io::Error::other)?;
        echo(&mut tls)
    });

    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");

    let mut chunk = [0u8; 8 * 1024];
    let mut sent = 0usize;
    let mut saw_backpressure = false;
    // Phase 1: write until the socket pushes back.
    while !saw_backpressure {
        assert!(
            sent < MAX_TOTAL,
            "the socket never pushed back after {sent} bytes"
        );
        for (i, byte) in chunk.iter_mut().enumerate() {
            *byte = pattern(sent + i);
        }
        match client.tls.write_record(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(TlsError::BufferFull { .. }) => {}
            Err(e) => panic!("write_record: {e}"),
        }
        if !client.tls.flush_tls().expect("flush_tls") {
            saw_backpressure = true;
            assert!(client.tls.wants_write());
        }
    }
    start_reading.send(()).expect("server waiting");

    // Phase 2: keep writing up to the total while reading the echo; then drain.
    let total = sent.max(MIN_TOTAL);
    let mut received = 0usize;
    let mut buf = [0u8; 16 * 1024];
    let mut flushed_everything = false;
    let deadline = Instant::now() + SAFETY_NET;
    while received < total {
        assert!(
            Instant::now() < deadline,
            "echoed {received} of {total} bytes"
        );
        if sent < total {
            let len = chunk.len().min(total - sent);
            for (i, byte) in chunk[..len].iter_mut().enumerate() {
                *byte = pattern(sent + i);
            }
            match client.tls.write_record(&chunk[..len]) {
                Ok(()) => sent += len,
                Err(TlsError::BufferFull { .. }) => {}
                Err(e) => panic!("write_record: {e}"),
            }
        }
        flushed_everything = client.tls.flush_tls().expect("flush_tls");
        match client.tls.read(&mut buf) {
            Ok(0) => panic!("server closed after {received} bytes"),
            Ok(n) => {
                for (i, byte) in buf[..n].iter().enumerate() {
                    assert_eq!(*byte, pattern(received + i), "byte {}", received + i);
                }
                received += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => client.wait(),
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(sent, total);
    assert!(flushed_everything, "everything sent was flushed");
    assert!(!client.tls.wants_write());

    client.tls.close().expect("close");
    client.flush_all();
    let (echoed, clean) = server.join().expect("server thread").expect("server");
    assert_eq!(echoed, total);
    assert!(clean);
}

#[test]
fn runs_a_websocket_upgrade_and_messages_through_read_and_write() {
    use tungstenite::client::IntoClientRequest;
    use tungstenite::handshake::HandshakeError;
    use tungstenite::{Message, WebSocket};

    let pki = TestPki::generate();
    let config = pki.default_server_config();
    let (addr, server) = spawn_server(move |tcp| -> Result<(), String> {
        let tls = accept_tls(tcp, config).map_err(|e| e.to_string())?;
        let mut ws = tungstenite::accept(tls).map_err(|e| e.to_string())?;
        let message = ws.read().map_err(|e| e.to_string())?;
        ws.send(message).map_err(|e| e.to_string())?;
        Ok(())
    });

    let client = Client::connect(addr, pki.client_config(), "localhost");
    let request = "wss://localhost/v2/ws/private"
        .into_client_request()
        .expect("request");
    let deadline = Instant::now() + SAFETY_NET;
    let pause = || std::thread::sleep(std::time::Duration::from_millis(1));
    // The TLS handshake itself is driven by the upgrade's reads and writes.
    let mut attempt = tungstenite::client::client(request, client.tls);
    let (mut ws, response): (WebSocket<_>, _) = loop {
        match attempt {
            Ok(done) => break done,
            Err(HandshakeError::Interrupted(mid)) => {
                assert!(Instant::now() < deadline, "upgrade did not finish");
                pause();
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => panic!("upgrade failed: {e}"),
        }
    };
    assert_eq!(response.status(), 101);

    let would_block = |e: &tungstenite::Error| matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock);
    let mut result = ws.send(Message::text("cancel-order"));
    while let Err(e) = &result {
        assert!(would_block(e), "send failed: {e}");
        assert!(Instant::now() < deadline, "send did not finish");
        pause();
        result = ws.flush();
    }
    let echoed = loop {
        match ws.read() {
            Ok(message) => break message,
            Err(e) if would_block(&e) => {
                assert!(Instant::now() < deadline, "no echo");
                pause();
            }
            Err(e) => panic!("read failed: {e}"),
        }
    };
    assert_eq!(echoed, Message::text("cancel-order"));
    server.join().expect("server thread").expect("server");
}

#[test]
fn cuts_off_a_handshake_message_that_never_ends() {
    // A ServerHello announcing 65535 bytes, delivered one byte per record: 6 bytes on the
    // wire per byte of message, far more than the incoming buffer holds.
    let (addr, server) = spawn_server(|mut tcp| {
        let mut hello = [0u8; 1024];
        let _ = tcp.read(&mut hello);
        let message_len = 0xffffusize;
        let mut wire = Vec::with_capacity((message_len + 4) * 6);
        for byte in [0x02, 0x00, 0xff, 0xff]
            .into_iter()
            .chain(std::iter::repeat_n(0u8, message_len))
        {
            wire.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x01, byte]);
        }
        // The client gives up part way: a failed write is expected.
        let _ = tcp.write_all(&wire);
        let _ = tcp.shutdown(Shutdown::Write);
    });
    let pki = TestPki::generate();
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    let error = client.handshake().expect_err("the handshake must fail");
    assert!(matches!(error, TlsError::IncomingFull), "{error:?}");
    drop(client);
    server.join().expect("server thread");
}

#[test]
fn echoes_under_every_cipher_suite_the_server_may_pick() {
    // The test certificate has an ECDSA key, so the TLS 1.2 suites are the ECDSA ones.
    let suites = [
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let pki = TestPki::generate();
    // Several records per message, an empty record is never sent, a full-size one is.
    let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    for suite in suites {
        let (addr, server) = spawn_echo_server(pki.server_config_for_suite(suite));
        let mut client = Client::connect(addr, pki.client_config(), "localhost");
        client.handshake().expect("handshake");
        for message in [&b"cancel"[..], &[0xa5; 16 * 1024], &big] {
            client.send(message);
            assert!(
                client.read_exact(message.len()) == message,
                "{:?}: echo differs",
                suite.suite()
            );
        }
        assert!(client.tls.is_established());
        assert_eq!(
            client.tls.cipher_suite().map(|s| s.suite()),
            Some(suite.suite())
        );
        assert_eq!(client.tls.protocol_version(), Some(suite.version().version));
        client.tls.close().expect("close");
        client.flush_all();
        let (echoed, clean_close) = server.join().expect("server thread").expect("server");
        assert_eq!(echoed, 6 + 16 * 1024 + big.len(), "{:?}", suite.suite());
        assert!(
            clean_close,
            "{:?}: rustls did not accept our close_notify",
            suite.suite()
        );
    }
}

#[test]
fn follows_many_key_updates_from_the_server() {
    const UPDATES: usize = 40;
    let pki = TestPki::generate();
    let config = pki.server_config(&[&rustls::version::TLS13]);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<(usize, bool)> {
        let mut tls = accept_tls(tcp, config)?;
        let mut go = [0u8; 2];
        tls.read_exact(&mut go)?;
        for i in 0..UPDATES {
            // Each asks the client to update its own keys too.
            tls.conn.refresh_traffic_keys().map_err(io::Error::other)?;
            tls.write_all(format!("epoch {i:02};").as_bytes())?;
            tls.flush()?;
        }
        echo(&mut tls)
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    client.send(b"go");
    let expected: Vec<u8> = (0..UPDATES)
        .flat_map(|i| format!("epoch {i:02};").into_bytes())
        .collect();
    assert!(client.read_exact(expected.len()) == expected);
    // The server reads our records under the keys our answers switched to.
    for _ in 0..3 {
        client.send(b"after the updates");
        assert_eq!(client.read_exact(17), b"after the updates");
    }
    client.tls.close().expect("close");
    client.flush_all();
    let (echoed, clean) = server.join().expect("server thread").expect("server");
    assert_eq!(echoed, 3 * 17);
    assert!(clean);
}

#[test]
fn updates_its_own_keys_on_request_and_the_server_follows() {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server(pki.server_config(&[&rustls::version::TLS13]));
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    for round in 0..5u8 {
        // Our KeyUpdate asks the server to update too: its answer switches our reading keys.
        assert!(client.tls.refresh_traffic_keys().expect("key update"));
        let message = [b'k', round];
        client.send(&message);
        assert_eq!(client.read_exact(2), message);
    }
    client.tls.close().expect("close");
    client.flush_all();
    let (echoed, clean) = server.join().expect("server thread").expect("server");
    assert_eq!(echoed, 10);
    assert!(clean);
}

#[test]
fn has_no_key_update_on_tls12() {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server(pki.server_config(&[&rustls::version::TLS12]));
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    assert!(!client.tls.refresh_traffic_keys().expect("refused quietly"));
    assert!(!client.tls.wants_write(), "nothing was queued");
    client.send(b"still fine");
    assert_eq!(client.read_exact(10), b"still fine");
    client.tls.close().expect("close");
    client.flush_all();
    server.join().expect("server thread").expect("server");
}

const BOTH_VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

/// Alert descriptions as sent on the wire (RFC 8446 section 6).
const FATAL: u8 = 2;
const WARNING: u8 = 1;
const UNEXPECTED_MESSAGE: u8 = 10;
const BAD_RECORD_MAC: u8 = 20;
const RECORD_OVERFLOW: u8 = 22;
const ILLEGAL_PARAMETER: u8 = 47;
const DECODE_ERROR: u8 = 50;
const NO_RENEGOTIATION: u8 = 100;

#[test]
fn refuses_a_tampered_record_and_delivers_none_of_it() {
    // Where to flip a bit, given the record's length.
    type Position = fn(usize) -> usize;
    let targets: [(&str, Position); 3] = [
        ("the last ciphertext byte", |len| len - 17),
        ("the tag", |len| len - 1),
        ("the header's version", |_| 2),
    ];
    for version in BOTH_VERSIONS {
        for (target, position) in targets {
            let exchange = against_raw_server(version, move |raw| {
                raw.send(ContentType::ApplicationData, b"intact")?;
                let mut record = raw.seal(ContentType::ApplicationData, b"tampered payload");
                let at = position(record.len());
                record[at] ^= 0x40;
                raw.sock.write_all(&record)?;
                raw.send(ContentType::ApplicationData, b"never read")
            });
            assert_eq!(exchange.plaintext, b"intact", "{version:?} {target}");
            assert!(
                matches!(
                    exchange.error(),
                    TlsError::Protocol(rustls::Error::DecryptError)
                ),
                "{version:?} {target}: {:?}",
                exchange.error()
            );
            assert_eq!(
                exchange.alerts_back(),
                [[FATAL, BAD_RECORD_MAC]],
                "{version:?} {target}"
            );
        }
    }
}

#[test]
fn keeps_failing_after_a_bad_record() {
    let pki = TestPki::generate();
    let config = pki.extractable_server_config(&rustls::version::TLS13);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<()> {
        let mut raw = common::RawServer::accept(tcp, config)?;
        let mut record = raw.seal(ContentType::ApplicationData, b"bad");
        record[6] ^= 1;
        raw.sock.write_all(&record)?;
        raw.read_records();
        Ok(())
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    let (_, ending) = client.read_to_end(64);
    assert!(ending.is_err());
    assert!(matches!(
        client.tls.write_record(b"x"),
        Err(TlsError::Protocol(rustls::Error::DecryptError))
    ));
    let again = client.tls.read(&mut [0u8; 8]).expect_err("sticky");
    assert!(matches!(
        tls_error(&again),
        TlsError::Protocol(rustls::Error::DecryptError)
    ));
    client.hang_up();
    server.join().expect("server thread").expect("server");
}

#[test]
fn ends_cleanly_at_close_notify_and_ignores_what_follows() {
    for version in BOTH_VERSIONS {
        let exchange = against_raw_server(version, |raw| {
            raw.send(ContentType::ApplicationData, b"last ack")?;
            raw.send(ContentType::Alert, &[WARNING, 0])?;
            raw.send(ContentType::ApplicationData, b"after close_notify")?;
            raw.sock.write_all(b"and garbage")
        });
        assert_eq!(exchange.plaintext, b"last ack", "{version:?}");
        assert!(exchange.alerts_back().is_empty());
        exchange.ending.expect("close_notify is a clean end");
    }
}

#[test]
fn reports_any_other_alert_as_an_error() {
    for version in BOTH_VERSIONS {
        let exchange = against_raw_server(version, |raw| {
            raw.send(ContentType::Alert, &[WARNING, 90]) // user_canceled
        });
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::AlertReceived(AlertDescription::UserCanceled))
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert!(
            exchange.alerts_back().is_empty(),
            "no alert answers an alert"
        );

        let exchange = against_raw_server(version, |raw| {
            raw.send(ContentType::Alert, &[FATAL, 40, 0]) // three bytes
        });
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::InvalidMessage(_))
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);
    }
}

#[test]
fn refuses_records_the_protocol_forbids_after_the_handshake() {
    for version in BOTH_VERSIONS {
        // An unprotected change_cipher_spec.
        let exchange = against_raw_server(version, |raw| raw.sock.write_all(&[20, 3, 3, 0, 1, 1]));
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::InvalidMessage(_))
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);

        // A record longer than any the protocol allows: refused from its header alone.
        let exchange = against_raw_server(version, |raw| {
            raw.sock.write_all(&record_header(23, 18_433))
        });
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::PeerSentOversizedRecord)
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert_eq!(exchange.alerts_back(), [[FATAL, RECORD_OVERFLOW]]);

        // An unknown content type, protected (TLS 1.3) or on the outside (TLS 1.2).
        let exchange = against_raw_server(version, |raw| {
            raw.send(ContentType::from(0x42u8), b"what is this")
        });
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::InvalidMessage(_))
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);

        // A zero-length handshake record.
        let exchange = against_raw_server(version, |raw| raw.send(ContentType::Handshake, &[]));
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::InvalidMessage(
                    InvalidMessage::InvalidEmptyPayload
                ))
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert_eq!(exchange.alerts_back(), [[FATAL, DECODE_ERROR]]);

        // A handshake message that has no business after the handshake (a Finished).
        let exchange = against_raw_server(version, |raw| {
            raw.send(ContentType::Handshake, &[20, 0, 0, 1, 0])
        });
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::InvalidMessage(_))
            ),
            "{version:?}: {:?}",
            exchange.error()
        );
        assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);
    }
}

#[test]
fn strips_tls13_padding_and_refuses_a_record_of_padding_only() {
    let exchange = against_raw_server(&rustls::version::TLS13, |raw| {
        // Sealing with content type 0 leaves the real type and padding to the payload.
        raw.send(ContentType::from(0u8), b"padded\x17\0\0\0\0")?;
        raw.send(ContentType::from(0u8), &[0, 0, 0])
    });
    assert_eq!(exchange.plaintext, b"padded");
    assert!(
        matches!(
            exchange.error(),
            TlsError::Protocol(rustls::Error::PeerMisbehaved(
                PeerMisbehaved::IllegalTlsInnerPlaintext
            ))
        ),
        "{:?}",
        exchange.error()
    );
    assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);
}

#[test]
fn refuses_tls12_renegotiation() {
    let exchange = against_raw_server(&rustls::version::TLS12, |raw| {
        raw.send(ContentType::ApplicationData, b"before")?;
        // HelloRequest.
        raw.send(ContentType::Handshake, &[0, 0, 0, 0])
    });
    assert_eq!(exchange.plaintext, b"before");
    assert!(
        matches!(
            exchange.error(),
            TlsError::Protocol(rustls::Error::General(_))
        ),
        "{:?}",
        exchange.error()
    );
    assert_eq!(exchange.alerts_back(), [[WARNING, NO_RENEGOTIATION]]);
}

/// A TLS 1.3 NewSessionTicket message with a `ticket_len`-byte ticket.
fn new_session_ticket(ticket_len: usize) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&3600u32.to_be_bytes()); // ticket_lifetime
    body.extend_from_slice(&0x0102_0304u32.to_be_bytes()); // ticket_age_add
    body.extend_from_slice(&[1, 7]); // ticket_nonce
    body.extend_from_slice(&(ticket_len as u16).to_be_bytes());
    body.extend((0..ticket_len).map(|i| i as u8));
    body.extend_from_slice(&[0, 0]); // no extensions
    let mut message = vec![4];
    message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    message.extend_from_slice(&body);
    message
}

#[test]
fn takes_session_tickets_split_over_records_and_skips_huge_ones() {
    let exchange = against_raw_server(&rustls::version::TLS13, |raw| {
        let ticket = new_session_ticket(300);
        for piece in ticket.chunks(120) {
            raw.send(ContentType::Handshake, piece)?;
        }
        raw.send(ContentType::ApplicationData, b"one")?;
        // Larger than the reassembly buffer: dropped, not fatal.
        let huge = new_session_ticket(40_000);
        for piece in huge.chunks(16 * 1024) {
            raw.send(ContentType::Handshake, piece)?;
        }
        // Two tickets in one record.
        let mut two = new_session_ticket(10);
        two.extend_from_slice(&new_session_ticket(20));
        raw.send(ContentType::Handshake, &two)?;
        raw.send(ContentType::ApplicationData, b"two")?;
        raw.send(ContentType::Alert, &[WARNING, 0])
    });
    assert_eq!(exchange.plaintext, b"onetwo");
    exchange.ending.expect("clean end");
    assert!(exchange.server_got.is_empty());
}

#[test]
fn refuses_records_interleaved_with_a_split_handshake_message() {
    let exchange = against_raw_server(&rustls::version::TLS13, |raw| {
        let ticket = new_session_ticket(100);
        raw.send(ContentType::Handshake, &ticket[..50])?;
        raw.send(ContentType::ApplicationData, b"in the middle")
    });
    assert!(exchange.plaintext.is_empty());
    assert!(
        matches!(
            exchange.error(),
            TlsError::Protocol(rustls::Error::PeerMisbehaved(
                PeerMisbehaved::MessageInterleavedWithHandshakeMessage
            ))
        ),
        "{:?}",
        exchange.error()
    );
    assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);
}

#[test]
fn refuses_malformed_key_updates() {
    // A KeyUpdate followed by more handshake data in its record: the key change would split it.
    let exchange = against_raw_server(&rustls::version::TLS13, |raw| {
        let mut record = vec![24, 0, 0, 1, 0];
        record.extend_from_slice(&new_session_ticket(10));
        raw.send(ContentType::Handshake, &record)
    });
    assert!(
        matches!(
            exchange.error(),
            TlsError::Protocol(rustls::Error::PeerMisbehaved(
                PeerMisbehaved::KeyEpochWithPendingFragment
            ))
        ),
        "{:?}",
        exchange.error()
    );
    assert_eq!(exchange.alerts_back(), [[FATAL, UNEXPECTED_MESSAGE]]);

    // request_update must be 0 or 1.
    let exchange = against_raw_server(&rustls::version::TLS13, |raw| {
        raw.send(ContentType::Handshake, &[24, 0, 0, 1, 2])
    });
    assert!(
        matches!(
            exchange.error(),
            TlsError::Protocol(rustls::Error::InvalidMessage(
                InvalidMessage::InvalidKeyUpdate
            ))
        ),
        "{:?}",
        exchange.error()
    );
    assert_eq!(exchange.alerts_back(), [[FATAL, ILLEGAL_PARAMETER]]);
}

#[test]
fn takes_over_at_the_record_that_completes_a_tls12_handshake() {
    // The server's Finished and two records after it leave in one write, so they arrive
    // together. The records must be opened by the crate's record layer, not by rustls: the
    // warning alert proves it, since rustls would ignore a TLS 1.2 warning (and deliver the
    // data after it) where this crate reports it.
    let pki = TestPki::generate();
    let config = pki.extractable_server_config(&rustls::version::TLS12);
    let (addr, server) = spawn_server(move |mut tcp| -> io::Result<()> {
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        while conn.is_handshaking() {
            if conn.wants_write() {
                conn.write_tls(&mut tcp)?;
            } else {
                conn.read_tls(&mut tcp)?;
                conn.process_new_packets().map_err(io::Error::other)?;
            }
        }
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight)?;
        }
        let suite = conn.negotiated_cipher_suite().expect("suite");
        let secrets = conn.dangerous_extract_secrets().map_err(io::Error::other)?;
        let (seq, keys) = secrets.tx;
        let mut tx = RustlsSealer::new(suite, keys, seq);
        for (content_type, payload) in [
            (ContentType::Alert, &[1, 90][..]), // warning user_canceled
            (ContentType::ApplicationData, &b"after the alert"[..]),
        ] {
            flight.extend_from_slice(&tx.seal(content_type, payload));
        }
        tcp.write_all(&flight)?;
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
        Ok(())
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    let (plaintext, ending) = client.read_to_end(1024);
    assert!(client.tls.is_established());
    assert!(plaintext.is_empty(), "{plaintext:?}");
    let error = ending.expect_err("the warning alert ends the connection");
    assert!(
        matches!(
            tls_error(&error),
            TlsError::Protocol(rustls::Error::AlertReceived(AlertDescription::UserCanceled))
        ),
        "{error:?}"
    );
    client.hang_up();
    server.join().expect("server thread").expect("server");
}

#[test]
fn refuses_a_key_update_body_of_the_wrong_length_with_decode_error() {
    // KeyUpdate { request_update } is one byte: none, or two, does not decode.
    for message in [&[24, 0, 0, 0][..], &[24, 0, 0, 2, 1, 0]] {
        let exchange = against_raw_server(&rustls::version::TLS13, move |raw| {
            raw.send(ContentType::Handshake, message)
        });
        assert!(
            matches!(
                exchange.error(),
                TlsError::Protocol(rustls::Error::InvalidMessage(
                    InvalidMessage::MissingData(_) | InvalidMessage::TrailingData(_)
                ))
            ),
            "{message:?}: {:?}",
            exchange.error()
        );
        assert_eq!(
            exchange.alerts_back(),
            [[FATAL, DECODE_ERROR]],
            "{message:?}"
        );
    }
}

#[test]
fn sends_no_key_update_answer_after_its_own_close_notify() {
    let pki = TestPki::generate();
    let config = pki.server_config(&[&rustls::version::TLS13]);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<Vec<u8>> {
        let mut tls = accept_tls(tcp, config)?;
        // Wait for the client's close_notify, then ask it to update its keys and close.
        let mut buf = [0u8; 64];
        while tls.read(&mut buf)? > 0 {}
        tls.conn.refresh_traffic_keys().map_err(io::Error::other)?;
        tls.conn.send_close_notify();
        tls.flush()?;
        // Whatever the client sends from here on came after its close_notify.
        let mut after = Vec::new();
        tls.sock.read_to_end(&mut after)?;
        Ok(after)
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    client.tls.close().expect("close");
    client.flush_all();
    let (plaintext, ending) = client.read_to_end(64);
    assert!(plaintext.is_empty());
    ending.expect("the server's close_notify ends the stream");
    // Flushes anything queued, a KeyUpdate answer included, before hanging up.
    client.hang_up();
    let after = server.join().expect("server thread").expect("server");
    assert!(
        after.is_empty(),
        "{} bytes sent after close_notify",
        after.len()
    );
}

/// A copy of TLS 1.3 AES-128-GCM whose confidentiality limit is `limit` records.
fn suite_with_limit(limit: u64) -> rustls::SupportedCipherSuite {
    let base = cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .expect("a TLS 1.3 suite");
    let suite = rustls::Tls13CipherSuite {
        common: rustls::CipherSuiteCommon {
            confidentiality_limit: limit,
            ..base.common
        },
        ..*base
    };
    rustls::SupportedCipherSuite::Tls13(Box::leak(Box::new(suite)))
}

#[test]
fn applies_the_confidentiality_limit_to_sealing_only() {
    // The client's suite allows 4 records per key; the server sends 20 under one key, which
    // is the server's limit to keep, not the client's.
    const LIMIT: u64 = 4;
    let pki = TestPki::generate();
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: vec![suite_with_limit(LIMIT)],
        ..rustls::crypto::ring::default_provider()
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.chain[1].clone()).expect("test CA");
    let client_config = rustls::ClientConfig::builder_with_provider(provider.into())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();

    let config = pki.server_config(&[&rustls::version::TLS13]);
    let (addr, server) = spawn_server(move |tcp| -> io::Result<()> {
        let mut tls = accept_tls(tcp, config)?;
        for i in 0..20u8 {
            tls.write_all(&[b'a' + i; 10])?;
            tls.flush()?;
        }
        // The client hangs up without close_notify: its keys are exhausted.
        let _ = tls.read_to_end(&mut Vec::new());
        Ok(())
    });
    let mut client = Client::connect(addr, Arc::new(client_config), "localhost");
    client.handshake().expect("handshake");
    let expected: Vec<u8> = (0..20u8).flat_map(|i| [b'a' + i; 10]).collect();
    assert_eq!(client.read_exact(expected.len()), expected);

    // Sealing stops at the limit: the records the handshake used count too, so only the
    // first few writes go through before the keys are exhausted.
    let mut sent = 0;
    let error = loop {
        match client.tls.write_record(b"x") {
            Ok(()) => sent += 1,
            Err(error) => break error,
        }
        assert!(sent <= LIMIT, "sealed past the limit");
    };
    assert!(matches!(error, TlsError::KeysExhausted), "{error:?}");
    client.hang_up();
    server.join().expect("server thread").expect("server");
}
