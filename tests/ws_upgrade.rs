//! The upgrade handshake against tungstenite's own server over loopback TCP, with the client
//! side nonblocking, and then raw frames both ways through the crate's codec.

// tungstenite's server callback signature fixes its (large) error type.
#![allow(clippy::result_large_err)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bitget_cancel::ws::{
    FrameDecoder, Limits, MaskGen, Message, OpCode, Upgrade, UpgradeProgress, WsError,
    encode_client_frame,
};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::StatusCode;

/// Generous safety net: a hung test fails with a message instead of hanging CI.
const SAFETY_NET: Duration = Duration::from_secs(20);

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, format!("{addr}"))
}

fn connect_nonblocking(addr: &str) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect loopback");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.set_nonblocking(true).expect("nonblocking");
    tcp
}

/// Drives the upgrade to its end, polling like a (slow) event loop; counts the pauses.
fn upgrade(url: &str, tcp: TcpStream) -> Result<(TcpStream, Vec<u8>, usize), WsError> {
    let deadline = Instant::now() + SAFETY_NET;
    let mut progress = Upgrade::start(url, tcp)?;
    let mut pauses = 0;
    loop {
        progress = match progress {
            UpgradeProgress::Done {
                stream, leftover, ..
            } => return Ok((stream, leftover, pauses)),
            UpgradeProgress::Pending(pending) => {
                assert!(
                    Instant::now() < deadline,
                    "the upgrade did not finish in {SAFETY_NET:?}"
                );
                pauses += 1;
                thread::sleep(Duration::from_micros(200));
                pending.resume()?
            }
        };
    }
}

/// Reads from the nonblocking socket into the decoder until a text message arrives; returns
/// the payloads of the pings seen before it, and the text.
fn read_text(tcp: &mut TcpStream, decoder: &mut FrameDecoder) -> (Vec<Vec<u8>>, Vec<u8>) {
    let deadline = Instant::now() + SAFETY_NET;
    let mut pings = Vec::new();
    loop {
        while let Some(message) = decoder.next_message().expect("valid frames") {
            match message {
                Message::Text(text) => return (pings, text.to_vec()),
                Message::Ping(payload) => pings.push(payload.to_vec()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            Instant::now() < deadline,
            "no message within {SAFETY_NET:?}"
        );
        match tcp.read(decoder.spare_mut()) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => decoder.commit(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

fn write_all_nonblocking(tcp: &mut TcpStream, mut bytes: &[u8]) {
    let deadline = Instant::now() + SAFETY_NET;
    while !bytes.is_empty() {
        assert!(
            Instant::now() < deadline,
            "could not write within {SAFETY_NET:?}"
        );
        match tcp.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(1))
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

#[test]
fn upgrades_against_tungstenite_and_exchanges_frames_both_ways() {
    let (listener, addr) = listener();
    let (seen_tx, seen_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let callback = |request: &Request, response: Response| {
            let host = request.headers().get("Host").map(|h| h.as_bytes().to_vec());
            let _ = seen_tx.send((request.uri().path().to_owned(), host));
            Ok(response)
        };
        let mut ws = tungstenite::accept_hdr(tcp, callback).expect("server handshake");
        // tungstenite's server insists on masked client frames.
        let got = ws.read().expect("client frame");
        ws.send(tungstenite::Message::Ping(b"hb".to_vec().into()))
            .expect("ping");
        ws.send(tungstenite::Message::text(format!(
            "echo:{}",
            got.to_text().expect("text")
        )))
        .expect("reply");
        // Keep the socket open until the client has read the reply.
        let _ = ws.read();
    });

    let url = format!("wss://{addr}/v2/ws/private");
    let (mut tcp, leftover, _) = upgrade(&url, connect_nonblocking(&addr)).expect("upgrade");
    let (path, host) = seen_rx
        .recv_timeout(SAFETY_NET)
        .expect("server saw the request");
    assert_eq!(path, "/v2/ws/private");
    assert_eq!(
        host.as_deref(),
        Some(addr.as_bytes()),
        "Host header from the URL"
    );

    let mut decoder = FrameDecoder::new(Limits::default());
    decoder.push(&leftover).expect("leftover fits");
    let mut out = Vec::with_capacity(256);
    let mut masks = MaskGen::new();
    encode_client_frame(
        &mut out,
        OpCode::Text,
        b"{\"op\":\"login\"}",
        masks.next_mask(),
    );
    write_all_nonblocking(&mut tcp, &out);
    let (pings, text) = read_text(&mut tcp, &mut decoder);
    assert_eq!(pings, [b"hb"]);
    assert_eq!(text, b"echo:{\"op\":\"login\"}");

    drop(tcp);
    server.join().expect("server thread");
}

/// A server stream whose writes go out one byte per call, each in its own TCP segment.
struct OneByteWrites(TcpStream);

impl Read for OneByteWrites {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for OneByteWrites {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(first) = buf.first() else {
            return Ok(0);
        };
        self.0.write_all(std::slice::from_ref(first))?;
        // Give the client time to read this byte alone (a pacing pause, not an assertion).
        thread::sleep(Duration::from_millis(1));
        Ok(1)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn completes_when_the_server_writes_its_reply_one_byte_at_a_time() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let mut ws = tungstenite::accept(OneByteWrites(tcp)).expect("server handshake");
        ws.send(tungstenite::Message::text("after a slow reply"))
            .expect("send");
        let _ = ws.read();
    });

    let (mut tcp, leftover, pauses) =
        upgrade(&format!("wss://{addr}/"), connect_nonblocking(&addr)).expect("upgrade");
    // The reply took well over a hundred separate writes, a millisecond apart: the client had to
    // wait for it more than once (typically about a hundred times).
    assert!(
        pauses >= 2,
        "the reply did not trickle in ({pauses} pauses)"
    );
    let mut decoder = FrameDecoder::new(Limits::default());
    decoder.push(&leftover).expect("leftover fits");
    assert_eq!(read_text(&mut tcp, &mut decoder).1, b"after a slow reply");

    drop(tcp);
    server.join().expect("server thread");
}

#[test]
fn a_404_reply_is_an_upgrade_rejection() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let callback = |_: &Request, _: Response| -> Result<Response, ErrorResponse> {
            let mut refusal = ErrorResponse::new(Some("no such path".to_owned()));
            *refusal.status_mut() = StatusCode::NOT_FOUND;
            Err(refusal)
        };
        assert!(tungstenite::accept_hdr(tcp, callback).is_err());
    });

    let err = upgrade(
        &format!("wss://{addr}/wrong/path"),
        connect_nonblocking(&addr),
    )
    .expect_err("refused");
    assert!(
        matches!(err, WsError::UpgradeRejected { status: 404 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("404"), "{err}");
    server.join().expect("server thread");
}

#[test]
fn frames_sent_together_with_the_reply_are_not_lost() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).expect("request");
            request.push(byte[0]);
        }
        let request = String::from_utf8(request).expect("ascii request");
        let key = request
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("key");
        let accept = tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
        let mut reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        // Two frames in the same write as the reply head.
        reply.extend_from_slice(&[0x89, 2, b'h', b'b']);
        reply.extend_from_slice(&[0x81, 5, b'e', b'a', b'r', b'l', b'y']);
        tcp.write_all(&reply).expect("reply");
        let mut rest = [0u8; 16];
        let _ = tcp.read(&mut rest);
    });

    let (mut tcp, leftover, _) =
        upgrade(&format!("wss://{addr}/"), connect_nonblocking(&addr)).expect("upgrade");
    let mut decoder = FrameDecoder::new(Limits::default());
    decoder.push(&leftover).expect("leftover fits");
    // Whether the frames came with the head (`leftover`) or in a later read, both arrive, in
    // order.
    let (pings, text) = read_text(&mut tcp, &mut decoder);
    assert_eq!(pings, [b"hb"]);
    assert_eq!(text, b"early");

    drop(tcp);
    server.join().expect("server thread");
}

#[test]
fn a_connection_closed_before_the_reply_is_a_handshake_error() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        drop(tcp);
    });
    let err = upgrade(&format!("wss://{addr}/"), connect_nonblocking(&addr)).expect_err("closed");
    assert!(
        matches!(err, WsError::Handshake(_) | WsError::Io(_)),
        "{err:?}"
    );
    server.join().expect("server thread");
}
