//! The WebSocket upgrade (RFC 6455 4.1), run by tungstenite's client handshake over any
//! nonblocking `Read + Write` stream, which is then handed back for raw framing.
//!
//! tungstenite writes the request (with the `Host` header taken from the URL and a fresh
//! `Sec-WebSocket-Key`), parses the reply and checks `Sec-WebSocket-Accept`, `Upgrade` and
//! `Connection`. When the stream reports `WouldBlock` the upgrade pauses as
//! [`UpgradeProgress::Pending`]; call [`Upgrade::resume`] when the stream is ready again.
//!
//! # Bytes after the reply head
//! A server may send its first frames in the same packet as the `101` reply. tungstenite would
//! keep such bytes inside its own `WebSocket`, which is dropped here. To lose nothing, the stream
//! is read through a gate that buffers the reply head (up to [`MAX_REPLY_HEAD`] bytes) and lets
//! tungstenite see exactly the bytes up to the blank line that ends it, all at once. Whatever
//! followed comes back as [`UpgradeProgress::Done::leftover`]; feed it to the
//! [`FrameDecoder`](super::FrameDecoder) before reading the stream again. Handing the head over
//! in one piece also keeps tungstenite's flood check (it refuses replies that trickle in as many
//! tiny reads) from tripping on a server that writes byte by byte.

use std::fmt;
use std::io::{self, Read, Write};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError as TungHandshakeError;
use tungstenite::handshake::MidHandshake;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::protocol::WebSocketConfig;

use super::WsError;

/// The largest HTTP reply head accepted, in bytes. A `101` reply is a few hundred bytes; 16 KiB
/// leaves room for proxies that add headers.
pub const MAX_REPLY_HEAD: usize = 16 * 1024;

/// An upgrade in progress over the stream `S`.
///
/// ```no_run
/// use std::net::TcpStream;
/// use bitget_cancel::ws::{Upgrade, UpgradeProgress};
///
/// let tcp = TcpStream::connect("127.0.0.1:9000")?;
/// tcp.set_nonblocking(true)?;
/// let mut progress = Upgrade::start("ws://127.0.0.1:9000/v2/ws/private", tcp)?;
/// let (stream, leftover) = loop {
///     progress = match progress {
///         UpgradeProgress::Done { stream, leftover, .. } => break (stream, leftover),
///         // A real caller waits for readiness (mio) instead of spinning.
///         UpgradeProgress::Pending(upgrade) => upgrade.resume()?,
///     };
/// };
/// # let _ = (stream, leftover);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Upgrade<S: Read + Write> {
    mid: MidHandshake<ClientHandshake<ReplyGate<S>>>,
}

/// Where an upgrade stands after [`Upgrade::start`] or [`Upgrade::resume`].
pub enum UpgradeProgress<S: Read + Write> {
    /// The server accepted: the stream now speaks WebSocket frames.
    Done {
        /// The stream, ready for [`encode_client_frame`](super::encode_client_frame) and the
        /// [`FrameDecoder`](super::FrameDecoder).
        stream: S,
        /// Bytes the server sent after its reply head (usually none, at most
        /// [`MAX_REPLY_HEAD`]): the start of its first frames. Push them into the decoder
        /// before reading the stream (with the default limits they always fit in one push).
        leftover: Vec<u8>,
        /// The reply's `Date` header, in Unix seconds, if it had a well-formed one: the
        /// server's clock, to the second.
        server_date: Option<u64>,
    },
    /// The stream would block: call [`Upgrade::resume`] when it is readable or writable.
    Pending(Upgrade<S>),
}

impl<S: Read + Write> Upgrade<S> {
    /// Sends the upgrade request for `url` (`wss://host[:port]/path`; `ws://` works the same,
    /// the scheme does not change what is written on `stream`) and goes as far as the stream
    /// allows.
    ///
    /// `stream` is already connected (and, for `wss`, already runs TLS).
    ///
    /// # Errors
    /// [`WsError::BadUrl`] for a URL tungstenite cannot turn into a request, and every error of
    /// [`resume`](Self::resume).
    pub fn start(url: &str, stream: S) -> Result<UpgradeProgress<S>, WsError> {
        let request = url
            .into_client_request()
            .map_err(|e| WsError::BadUrl(format!("{url:?}: {e}")))?;
        // tungstenite's own frame buffers are never used (the WebSocket is unwrapped at once):
        // keep them empty rather than allocate the 128 KiB defaults.
        let config = WebSocketConfig::default()
            .read_buffer_size(0)
            .write_buffer_size(0);
        let mid = ClientHandshake::start(ReplyGate::new(stream), request, Some(config))
            .map_err(map_error)?;
        Upgrade { mid }.resume()
    }

    /// Continues the upgrade after the stream reported `WouldBlock`.
    ///
    /// # Errors
    /// [`WsError::UpgradeRejected`] when the server answers with another status than 101 (404
    /// for a wrong path), [`WsError::Handshake`] for an invalid reply or a connection closed
    /// midway, [`WsError::Io`] when the stream fails.
    pub fn resume(self) -> Result<UpgradeProgress<S>, WsError> {
        match self.mid.handshake() {
            Ok((websocket, response)) => {
                let server_date = response
                    .headers()
                    .get("date")
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::clock::parse_http_date);
                let (stream, leftover) = websocket.into_inner().into_parts();
                Ok(UpgradeProgress::Done {
                    stream,
                    leftover,
                    server_date,
                })
            }
            Err(TungHandshakeError::Interrupted(mid)) => {
                Ok(UpgradeProgress::Pending(Upgrade { mid }))
            }
            Err(TungHandshakeError::Failure(e)) => Err(map_error(e)),
        }
    }

    /// The stream, e.g. to flush TLS or re-register it with the poller while the upgrade waits.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.mid.get_mut().get_mut().inner
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.mid.get_ref().get_ref().inner
    }
}

impl<S: Read + Write> fmt::Debug for Upgrade<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gate = self.mid.get_ref().get_ref();
        f.debug_struct("Upgrade")
            .field("reply_bytes_buffered", &gate.filled)
            .field("reply_head_complete", &gate.head_end.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Read + Write> fmt::Debug for UpgradeProgress<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeProgress::Done { leftover, .. } => f
                .debug_struct("Done")
                .field("leftover_len", &leftover.len())
                .finish_non_exhaustive(),
            UpgradeProgress::Pending(upgrade) => f.debug_tuple("Pending").field(upgrade).finish(),
        }
    }
}

/// Errors of the gate itself, carried through tungstenite inside an `io::Error`.
#[derive(Debug, thiserror::Error)]
enum GateError {
    #[error("the HTTP reply head is larger than {MAX_REPLY_HEAD} bytes")]
    HeadTooLarge,
    #[error("the HTTP reply head is malformed (the parser wants more after its blank line)")]
    HeadMismatch,
}

fn map_error(e: tungstenite::Error) -> WsError {
    use tungstenite::Error as E;
    use tungstenite::error::ProtocolError;
    match e {
        E::Http(response) => WsError::UpgradeRejected {
            status: response.status().as_u16(),
        },
        E::Url(e) => WsError::BadUrl(e.to_string()),
        E::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<GateError>())
        {
            Some(gate) => WsError::Handshake(gate.to_string()),
            None => WsError::from(io),
        },
        E::Protocol(ProtocolError::HandshakeIncomplete) => {
            WsError::Handshake("the connection closed before the reply was complete".into())
        }
        other => WsError::Handshake(other.to_string()),
    }
}

/// Reads the reply head into its own buffer and hands tungstenite exactly the head, so nothing
/// after it is swallowed; writes go straight through.
struct ReplyGate<S> {
    inner: S,
    buf: Vec<u8>,
    filled: usize,
    /// One past the blank line ending the head, once seen.
    head_end: Option<usize>,
    /// How much of the head tungstenite has read.
    delivered: usize,
}

impl<S> ReplyGate<S> {
    fn new(inner: S) -> Self {
        ReplyGate {
            inner,
            buf: Vec::new(),
            filled: 0,
            head_end: None,
            delivered: 0,
        }
    }

    fn into_parts(self) -> (S, Vec<u8>) {
        let leftover = match self.head_end {
            Some(end) => self.buf[end..self.filled].to_vec(),
            None => Vec::new(),
        };
        (self.inner, leftover)
    }
}

impl<S: Read> Read for ReplyGate<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(end) = self.head_end {
                if self.delivered < end {
                    let n = out.len().min(end - self.delivered);
                    out[..n].copy_from_slice(&self.buf[self.delivered..self.delivered + n]);
                    self.delivered += n;
                    return Ok(n);
                }
                // tungstenite stops reading once the head parses; reading on means its parser
                // and the blank-line scan disagree about where the head ends.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    GateError::HeadMismatch,
                ));
            }
            if self.filled == MAX_REPLY_HEAD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    GateError::HeadTooLarge,
                ));
            }
            if self.buf.is_empty() {
                self.buf = vec![0; MAX_REPLY_HEAD];
            }
            let n = self.inner.read(&mut self.buf[self.filled..])?;
            if n == 0 {
                return Ok(0);
            }
            // A terminator split across reads starts at most 2 bytes before the new data.
            let scan_from = self.filled.saturating_sub(2);
            self.filled += n;
            self.head_end = find_head_end(&self.buf[..self.filled], scan_from);
        }
    }
}

impl<S: Write> Write for ReplyGate<S> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.inner.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One past the first empty line (`\r\n` or bare `\n`, as httparse accepts both) at or after
/// `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| {
        if buf[i] != b'\n' {
            return None;
        }
        match &buf[i + 1..] {
            [b'\n', ..] => Some(i + 2),
            [b'\r', b'\n', ..] => Some(i + 3),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn head_end_is_found_after_the_blank_line_in_either_line_ending() {
        assert_eq!(
            find_head_end(b"HTTP/1.1 101 X\r\nA: b\r\n\r\nrest", 0),
            Some(24)
        );
        assert_eq!(find_head_end(b"HTTP/1.1 101 X\nA: b\n\nrest", 0), Some(21));
        assert_eq!(find_head_end(b"HTTP/1.1 101 X\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"HTTP/1.1 101 X\r\nA: b\r\n\r", 0), None);
    }

    /// A scripted peer: records what the client writes and answers each read with the next
    /// chunk of a reply built from the request (so `Sec-WebSocket-Accept` is right);
    /// `None` chunks are `WouldBlock`.
    #[derive(Debug)]
    struct ScriptedServer {
        written: Vec<u8>,
        request: Vec<u8>,
        chunks: VecDeque<Option<Vec<u8>>>,
        after_head: Vec<u8>,
        chunk_len: usize,
        status_line: &'static str,
    }

    impl ScriptedServer {
        fn new(status_line: &'static str, after_head: &[u8], chunk_len: usize) -> Self {
            ScriptedServer {
                written: Vec::new(),
                request: Vec::new(),
                chunks: VecDeque::new(),
                after_head: after_head.to_vec(),
                chunk_len,
                status_line,
            }
        }

        fn script_reply(&mut self) {
            self.request = self.written.clone();
            let request = String::from_utf8_lossy(&self.written).into_owned();
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .expect("the request carries a key");
            let accept = tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
            let mut reply = format!(
                "{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
                self.status_line
            )
            .into_bytes();
            reply.extend_from_slice(&self.after_head);
            for piece in reply.chunks(self.chunk_len) {
                self.chunks.push_back(None);
                self.chunks.push_back(Some(piece.to_vec()));
            }
        }
    }

    impl Read for ScriptedServer {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.chunks.is_empty() && self.written.ends_with(b"\r\n\r\n") {
                self.script_reply();
                self.written.clear();
            }
            match self.chunks.pop_front() {
                Some(Some(piece)) => {
                    assert!(piece.len() <= out.len());
                    out[..piece.len()].copy_from_slice(&piece);
                    Ok(piece.len())
                }
                _ => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    impl Write for ScriptedServer {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn drive(server: ScriptedServer) -> Result<(ScriptedServer, Vec<u8>, usize), WsError> {
        drive_url("wss://example.com/v2/ws/private", server)
    }

    fn drive_url(
        url: &str,
        server: ScriptedServer,
    ) -> Result<(ScriptedServer, Vec<u8>, usize), WsError> {
        let mut progress = Upgrade::start(url, server)?;
        let mut pauses = 0;
        loop {
            progress = match progress {
                UpgradeProgress::Done {
                    stream, leftover, ..
                } => {
                    return Ok((stream, leftover, pauses));
                }
                UpgradeProgress::Pending(upgrade) => {
                    pauses += 1;
                    assert!(pauses < 10_000, "the upgrade never finished");
                    upgrade.resume()?
                }
            };
        }
    }

    #[test]
    fn bytes_after_the_reply_head_come_back_as_leftover() {
        let frame = [0x81, 2, b'h', b'i', 0x89, 0];
        let (_, leftover, _) = drive(ScriptedServer::new(
            "HTTP/1.1 101 Switching Protocols",
            &frame,
            4096,
        ))
        .expect("upgrade");
        assert_eq!(leftover, frame);
    }

    #[test]
    fn a_reply_trickling_in_one_byte_per_read_completes_with_nothing_lost() {
        let frame = [0x8A, 1, b'x'];
        let (mut stream, leftover, pauses) = drive(ScriptedServer::new(
            "HTTP/1.1 101 Switching Protocols",
            &frame,
            1,
        ))
        .expect("upgrade");
        assert!(
            pauses > 100,
            "every byte arrived on its own ({pauses} pauses)"
        );
        // The upgrade ends as soon as the head is complete: the frame is partly in `leftover`,
        // the rest still in the stream, in order.
        let mut received = leftover;
        let mut byte = [0u8; 1];
        while !stream.chunks.is_empty() {
            if let Ok(1) = stream.read(&mut byte) {
                received.push(byte[0]);
            }
        }
        assert_eq!(received, frame);
    }

    #[test]
    fn the_request_targets_the_url_path_with_its_host() {
        let reply = "HTTP/1.1 101 Switching Protocols";
        let (server, _, _) = drive_url(
            "wss://ws.example.com:8443/v2/ws/private",
            ScriptedServer::new(reply, b"", 4096),
        )
        .expect("upgrade");
        let request = String::from_utf8(server.request).expect("ascii request");
        assert!(
            request.starts_with("GET /v2/ws/private HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains("\r\nHost: ws.example.com:8443\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nUpgrade: websocket\r\n"), "{request}");

        let (server, _, _) = drive_url(
            "wss://ws.example.com",
            ScriptedServer::new(reply, b"", 4096),
        )
        .expect("upgrade");
        let request = String::from_utf8(server.request).expect("ascii request");
        assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("\r\nHost: ws.example.com\r\n"),
            "{request}"
        );
    }

    #[test]
    fn a_non_101_status_is_an_upgrade_rejection() {
        let err =
            drive(ScriptedServer::new("HTTP/1.1 403 Forbidden", b"", 4096)).expect_err("refused");
        assert!(
            matches!(err, WsError::UpgradeRejected { status: 403 }),
            "{err:?}"
        );
    }

    #[test]
    fn a_wrong_accept_key_fails_the_handshake() {
        struct BadAccept(ScriptedServer);
        impl Read for BadAccept {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.read(out)?;
                // Corrupt the first character of the accept key.
                if let Some(pos) = out[..n]
                    .windows(22)
                    .position(|w| w == b"Sec-WebSocket-Accept: ")
                {
                    out[pos + 22] ^= 1;
                }
                Ok(n)
            }
        }
        impl Write for BadAccept {
            fn write(&mut self, data: &[u8]) -> io::Result<usize> {
                self.0.write(data)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let server = BadAccept(ScriptedServer::new(
            "HTTP/1.1 101 Switching Protocols",
            b"",
            4096,
        ));
        let mut progress = Upgrade::start("wss://example.com/", server).expect("request written");
        let err = loop {
            match progress {
                UpgradeProgress::Pending(u) => match u.resume() {
                    Ok(p) => progress = p,
                    Err(e) => break e,
                },
                UpgradeProgress::Done { .. } => panic!("a bad accept key was accepted"),
            }
        };
        assert!(matches!(err, WsError::Handshake(_)), "{err:?}");
    }

    #[test]
    fn an_oversized_reply_head_is_refused() {
        let server = ScriptedServer::new("HTTP/1.1 101 Switching Protocols", b"", 4096);
        struct Endless(ScriptedServer);
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if !self.0.written.is_empty() {
                    self.0.written.clear();
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = out.len().min(1000);
                out[..n].fill(b'a');
                Ok(n)
            }
        }
        impl Write for Endless {
            fn write(&mut self, data: &[u8]) -> io::Result<usize> {
                self.0.write(data)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut progress =
            Upgrade::start("wss://example.com/", Endless(server)).expect("request written");
        let err = loop {
            match progress {
                UpgradeProgress::Pending(u) => match u.resume() {
                    Ok(p) => progress = p,
                    Err(e) => break e,
                },
                UpgradeProgress::Done { .. } => panic!("an endless head was accepted"),
            }
        };
        assert!(
            matches!(&err, WsError::Handshake(m) if m.contains("larger than")),
            "{err:?}"
        );
    }

    #[test]
    fn a_url_with_another_scheme_is_a_bad_url() {
        let server = ScriptedServer::new("HTTP/1.1 101 Switching Protocols", b"", 4096);
        let err = Upgrade::start("https://example.com/", server).expect_err("not a ws url");
        assert!(matches!(err, WsError::BadUrl(_)), "{err:?}");
    }
}
