//! Reconnects that resume (TLS 1.3 PSK from a session ticket, TLS 1.2 abbreviated handshake)
//! hand over to the record layer like full handshakes, and a TLS 1.3 server's first
//! application data may arrive in the same read as its Finished.

#[path = "support/tls_fixtures.rs"]
mod common;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};

use common::rustls_records::split_records;
use common::{Client, SAFETY_NET, TestPki, accept_tls, echo};
use rustls::{HandshakeKind, ProtocolVersion, ServerConfig, SupportedProtocolVersion};

/// The server thread: per connection, its kind of handshake and the bytes it echoed.
type Server = JoinHandle<io::Result<Vec<(HandshakeKind, usize)>>>;

/// A TLS echo server for `connections` connections in turn, all with one configuration (and
/// so one session cache); reports how each handshake went and what each echoed.
fn spawn_echo_server_for(config: Arc<ServerConfig>, connections: usize) -> (SocketAddr, Server) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let handle = thread::spawn(move || {
        let mut kinds = Vec::new();
        for _ in 0..connections {
            let (tcp, _) = listener.accept()?;
            tcp.set_read_timeout(Some(SAFETY_NET))?;
            tcp.set_write_timeout(Some(SAFETY_NET))?;
            let mut tls = accept_tls(tcp, config.clone())?;
            let kind = tls.conn.handshake_kind().expect("handshake kind");
            let (echoed, _) = echo(&mut tls)?;
            kinds.push((kind, echoed));
        }
        Ok(kinds)
    });
    (addr, handle)
}

/// One connection: handshake, two round trips, close_notify.
fn round_trip(addr: SocketAddr, config: Arc<rustls::ClientConfig>, message: &[u8]) {
    let mut client = Client::connect(addr, config, "localhost");
    client.handshake().expect("handshake");
    assert!(client.tls.is_established(), "the record layer took over");
    client.send(message);
    assert_eq!(client.read_exact(message.len()), message);
    // A second round trip, so tickets that followed the handshake are surely processed.
    client.send(b"again");
    assert_eq!(client.read_exact(5), b"again");
    client.tls.close().expect("close");
    client.hang_up();
}

fn resumes(version: &'static SupportedProtocolVersion) {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server_for(pki.server_config(&[version]), 3);
    // One client configuration across reconnects, as the engine keeps it.
    let config = pki.client_config();
    for message in [&b"first connection"[..], b"second", b"third"] {
        round_trip(addr, config.clone(), message);
    }
    let kinds = server.join().expect("server thread").expect("server");
    assert_eq!(
        kinds,
        [
            (HandshakeKind::Full, 16 + 5),
            (HandshakeKind::Resumed, 6 + 5),
            (HandshakeKind::Resumed, 5 + 5),
        ],
        "{version:?}"
    );
}

#[test]
fn a_tls13_reconnect_resumes_with_a_ticket_and_data_flows_both_ways() {
    resumes(&rustls::version::TLS13);
}

#[test]
fn a_tls12_reconnect_resumes_with_an_abbreviated_handshake_and_data_flows_both_ways() {
    resumes(&rustls::version::TLS12);
}

#[test]
fn takes_tls13_application_data_that_arrives_in_the_same_read_as_the_finished() {
    let pki = TestPki::generate();
    let mut config = ServerConfig::clone(&pki.server_config(&[&rustls::version::TLS13]));
    // The server may send application data right after its Finished, before the client's.
    config.send_half_rtt_data = true;
    let config = Arc::new(config);
    let (flight_sent, flight_written) = mpsc::channel();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server = thread::spawn(move || -> io::Result<(usize, bool)> {
        let (mut tcp, _): (TcpStream, _) = listener.accept()?;
        tcp.set_read_timeout(Some(SAFETY_NET))?;
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        // Read the ClientHello, then queue the whole flight and the first data behind it.
        while !conn.wants_write() {
            conn.read_tls(&mut tcp)?;
            conn.process_new_packets().map_err(io::Error::other)?;
        }
        conn.writer().write_all(b"half-rtt hello")?;
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight)?;
        }
        // One write, so the client finds Finished and data together.
        tcp.write_all(&flight)?;
        let last_record_len = split_records(&flight)
            .last()
            .map_or(0, |record| record.len());
        flight_sent.send(last_record_len).expect("client waits");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        echo(&mut tls)
    });
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.flush_all();
    // Everything the server sends before the client's Finished is in the socket already.
    let last_record_len = flight_written
        .recv_timeout(SAFETY_NET)
        .expect("server flight");
    // The flight ends with the data: header, 14 bytes, inner content type, tag.
    assert_eq!(
        last_record_len,
        5 + 14 + 1 + 16,
        "the data left with the flight"
    );
    client.handshake().expect("handshake");
    assert_eq!(
        client.tls.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );
    assert_eq!(client.read_exact(14), b"half-rtt hello");
    client.send(b"and back");
    assert_eq!(client.read_exact(8), b"and back");
    client.tls.close().expect("close");
    client.hang_up();
    let (echoed, clean) = server.join().expect("server thread").expect("server");
    assert_eq!((echoed, clean), (8, true));
}
