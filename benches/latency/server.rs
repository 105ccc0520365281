//! The one server every contender talks to: TLS (rustls, ring) and WebSocket on loopback, one
//! blocking thread per connection, replying to each cancel at once with the venue's documented
//! success ack; on a connection that subscribed to the private `orders` channel, the order's
//! `cancelled` push follows the ack in the same write, as on the live venue.
//!
//! It checks nothing (any login is accepted) and parses as little as it can: it finds `"id":"`
//! and `"orderId":"` by scanning and echoes them. Every request's receive time is recorded on
//! the crate's monotonic clock, indexed by its numeric request id, for the contenders that
//! cannot say when their bytes reached the kernel.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use bitget_cancel::clock::monotonic_ns;
use rustls::{ServerConfig, ServerConnection};

use super::alloc;

/// The path the server answers on (any path is accepted).
pub const PATH: &str = "/v2/ws/private";

/// Receive times by request id (`id & MASK`); far more slots than requests ever in flight.
const RECV_SLOTS: usize = 1 << 16;
const MASK: u64 = RECV_SLOTS as u64 - 1;

/// The CA the clients trust and the server's TLS configuration: the simulated venue's.
pub use bitget_cancel::sim::LoopbackCerts as Certs;

/// Every connection's socket (to shut it) and thread (to join it).
type Conns = Arc<Mutex<Vec<(TcpStream, JoinHandle<()>)>>>;

/// The loopback server.
pub struct Server {
    addr: SocketAddr,
    certs: Arc<Certs>,
    recv_ns: Arc<[AtomicU64]>,
    stop: Arc<AtomicBool>,
    conns: Conns,
    conn_core: Arc<AtomicUsize>,
    /// How many of the next connections are frozen: logged in and answering pings, but never
    /// answering a cancel.
    freeze_next: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

/// No pinning for the next connections.
const UNPINNED: usize = usize::MAX;

impl Server {
    /// Listens on a free loopback port and accepts connections on a thread of its own (unpinned).
    pub fn start() -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
        let certs = Arc::new(Certs::generate()?);
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let recv_ns: Arc<[AtomicU64]> = (0..RECV_SLOTS).map(|_| AtomicU64::new(0)).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let conn_core = Arc::new(AtomicUsize::new(UNPINNED));
        let freeze_next = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let shared = Accepting {
                certs: certs.clone(),
                recv_ns: recv_ns.clone(),
                stop: stop.clone(),
                conns: conns.clone(),
                conn_core: conn_core.clone(),
                freeze_next: freeze_next.clone(),
            };
            thread::Builder::new()
                .name("bench-server".into())
                .spawn(move || accept_loop(listener, shared))?
        };
        Ok(Server {
            addr,
            certs,
            recv_ns,
            stop,
            conns,
            conn_core,
            freeze_next,
            acceptor: Some(acceptor),
        })
    }

    /// Freezes the next `n` connections accepted: they log in and answer pings, but never answer
    /// a cancel (a gateway that hangs with the connection open).
    pub fn freeze_next_connections(&self, n: usize) {
        self.freeze_next.store(n, Ordering::SeqCst);
    }

    /// Pins the threads of connections accepted from now on to `core` (`None`: unpinned).
    pub fn pin_next_connections(&self, core: Option<usize>) {
        self.conn_core
            .store(core.unwrap_or(UNPINNED), Ordering::SeqCst);
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `wss://localhost:PORT/v2/ws/private`.
    pub fn url(&self) -> String {
        format!("wss://localhost:{}{PATH}", self.addr.port())
    }

    /// The certificates (the CA for the clients).
    pub fn certs(&self) -> &Certs {
        &self.certs
    }

    /// When the request with this numeric id was last received (0: never).
    #[inline]
    pub fn received_ns(&self, id: u64) -> u64 {
        self.recv_ns[(id & MASK) as usize].load(Ordering::Acquire)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap_or_else(PoisonError::into_inner));
        for (tcp, thread) in conns {
            let _ = tcp.shutdown(Shutdown::Both);
            let _ = thread.join();
        }
    }
}

/// What the acceptor shares with the server.
struct Accepting {
    certs: Arc<Certs>,
    recv_ns: Arc<[AtomicU64]>,
    stop: Arc<AtomicBool>,
    conns: Conns,
    conn_core: Arc<AtomicUsize>,
    freeze_next: Arc<AtomicUsize>,
}

fn accept_loop(listener: TcpListener, shared: Accepting) {
    alloc::exclude_this_thread();
    let Accepting {
        certs,
        recv_ns,
        stop,
        conns,
        conn_core,
        freeze_next,
    } = shared;
    for tcp in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(tcp) = tcp else { continue };
        let Ok(handle) = tcp.try_clone() else {
            continue;
        };
        let config = certs.server_config.clone();
        let recv_ns = recv_ns.clone();
        let core = Some(conn_core.load(Ordering::SeqCst)).filter(|&c| c != UNPINNED);
        let frozen = freeze_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let spawned = thread::Builder::new()
            .name("bench-server-conn".into())
            .spawn(move || {
                alloc::exclude_this_thread();
                pin(core);
                if let Err(e) = serve(tcp, config, &recv_ns, frozen)
                    && !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::BrokenPipe
                            | io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::NotConnected
                    )
                {
                    eprintln!("bench server: connection ended: {e}");
                }
            });
        if let Ok(thread) = spawned {
            conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((handle, thread));
        }
    }
}

fn pin(core: Option<usize>) {
    if let Some(id) = core
        && !core_affinity::set_for_current(core_affinity::CoreId { id })
    {
        eprintln!("bench server: cannot pin to core {id}");
    }
}

/// Finds `needle` in `hay`.
#[inline]
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(off) = hay[from..].iter().position(|&b| b == first) {
        let at = from + off;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The string value after `key` (which ends with the opening quote).
#[inline]
fn value_after<'a>(hay: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = find(hay, key)? + key.len();
    let len = hay[start..].iter().position(|&b| b == b'"')?;
    Some(&hay[start..start + len])
}

/// The counter of an engine's wire id (`prefix:counter`), or the whole id.
pub fn sequence(id: &[u8]) -> &[u8] {
    match id.iter().rposition(|&b| b == b':') {
        Some(at) => &id[at + 1..],
        None => id,
    }
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Appends an unmasked server frame.
fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

const LOGIN_ACK: &[u8] = br#"{"event":"login","code":0,"msg":""}"#;

/// How many product lines a subscription request names (one acknowledgement each).
fn subscribed_channels(payload: &[u8]) -> usize {
    let mut n = 0;
    let mut from = 0;
    while let Some(at) = find(&payload[from..], br#""channel":"orders""#) {
        n += 1;
        from += at + 1;
    }
    n
}

const SUBSCRIBE_ACK: &[u8] =
    br#"{"event":"subscribe","arg":{"instType":"SPOT","channel":"orders","instId":"default"}}"#;

/// Appends the `cancelled` push of the order a cancel named, as the venue pushes it on the
/// `orders` channel.
fn push_cancelled(out: &mut Vec<u8>, text: &mut Vec<u8>, order_id: &[u8]) {
    text.clear();
    text.extend_from_slice(
        br#"{"action":"snapshot","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"0","cTime":"1763958928300","cancelReason":"normal_cancel","instId":"BTCUSDT","orderId":""#,
    );
    text.extend_from_slice(order_id);
    text.extend_from_slice(
        br#"","price":"100","priceAvg":"0","size":"1","status":"cancelled","uTime":"1763958928351"}],"ts":1763958928352}"#,
    );
    push_frame(out, 0x1, text);
}

/// Appends the documented success ack for a cancel with this id and order id.
fn push_cancel_ack(out: &mut Vec<u8>, text: &mut Vec<u8>, id: &[u8], order_id: &[u8]) {
    text.clear();
    text.extend_from_slice(br#"{"event":"trade","arg":[{"id":""#);
    text.extend_from_slice(id);
    text.extend_from_slice(
        br#"","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":""#,
    );
    text.extend_from_slice(order_id);
    text.extend_from_slice(br#""}}],"code":0,"msg":"Success","ts":1763958928351}"#);
    push_frame(out, 0x1, text);
}

/// Blocking TLS over a std socket: the rustls buffered API, one thread per connection.
struct Tls {
    tcp: TcpStream,
    conn: ServerConnection,
}

impl Tls {
    /// Reads what the socket has (blocking until something comes) and decrypts it; returns when
    /// the bytes came out of the kernel, or `None` at EOF.
    fn fill(&mut self) -> io::Result<Option<u64>> {
        if self.conn.read_tls(&mut self.tcp)? == 0 {
            return Ok(None);
        }
        let received_ns = monotonic_ns();
        self.conn.process_new_packets().map_err(io::Error::other)?;
        Ok(Some(received_ns))
    }

    /// Moves decrypted bytes into `buf` after `len`; returns the new length.
    fn drain_plaintext(&mut self, buf: &mut Vec<u8>, mut len: usize) -> io::Result<usize> {
        loop {
            if buf.len() - len < 4096 {
                buf.resize(buf.len() * 2, 0);
            }
            match self.conn.reader().read(&mut buf[len..]) {
                Ok(0) => return Ok(len),
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(len),
                Err(e) => return Err(e),
            }
        }
    }

    fn send(&mut self, plaintext: &[u8]) -> io::Result<()> {
        if !plaintext.is_empty() {
            self.conn.writer().write_all(plaintext)?;
        }
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.tcp)?;
        }
        Ok(())
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    recv_ns: &[AtomicU64],
    frozen: bool,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = Tls { tcp, conn };
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.tcp)?;
    }

    // The upgrade: read the request head, answer 101 with the accept key.
    let mut plain = vec![0u8; 64 * 1024];
    let mut len = 0;
    let head_end = loop {
        len = tls.drain_plaintext(&mut plain, len)?;
        if let Some(at) = find(&plain[..len], b"\r\n\r\n") {
            break at + 4;
        }
        if tls.fill()?.is_none() {
            return Ok(());
        }
    };
    let head = &plain[..head_end];
    if !head.starts_with(b"GET /v2/ws/private") {
        return serve_rest(tls, plain, len, recv_ns);
    }
    let key = value_after_header(head, b"sec-websocket-key:")
        .ok_or_else(|| io::Error::other("upgrade request without Sec-WebSocket-Key"))?;
    let accept = tungstenite::handshake::derive_accept_key(key);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    tls.send(response.as_bytes())?;
    plain.copy_within(head_end..len, 0);
    len -= head_end;

    let mut out = Vec::with_capacity(64 * 1024);
    let mut text = Vec::with_capacity(1024);
    let mut subscribed = false;
    // Frames already buffered first (the upgrade's read may have carried some), then the socket.
    let mut received_ns = monotonic_ns();
    loop {
        let mut start = 0;
        while let Some((opcode, payload_at, payload_len)) =
            parse_client_frame(&mut plain[start..len])?
        {
            let payload = &plain[start + payload_at..start + payload_at + payload_len];
            match opcode {
                0x1 | 0x2 => {
                    if payload == b"ping" {
                        push_frame(&mut out, 0x1, b"pong");
                    } else if let Some(id) = value_after(payload, br#""id":""#) {
                        if let Some(n) = parse_u64(sequence(id)) {
                            recv_ns[(n & MASK) as usize].store(received_ns, Ordering::Release);
                        }
                        let order_id = value_after(payload, br#""orderId":""#).unwrap_or(b"");
                        if !frozen {
                            push_cancel_ack(&mut out, &mut text, id, order_id);
                            if subscribed {
                                push_cancelled(&mut out, &mut text, order_id);
                            }
                        }
                    } else if find(payload, br#""op":"subscribe""#).is_some() {
                        for _ in 0..subscribed_channels(payload) {
                            push_frame(&mut out, 0x1, SUBSCRIBE_ACK);
                        }
                        subscribed = true;
                    } else if find(payload, b"login").is_some() {
                        push_frame(&mut out, 0x1, LOGIN_ACK);
                    }
                }
                0x8 => {
                    push_frame(&mut out, 0x8, &payload[..payload.len().min(2)]);
                    tls.send(&out)?;
                    return Ok(());
                }
                0x9 => push_frame(&mut out, 0xA, payload),
                _ => {}
            }
            start += payload_at + payload_len;
        }
        plain.copy_within(start..len, 0);
        len -= start;
        if !out.is_empty() {
            tls.send(&out)?;
            out.clear();
        }
        match tls.fill()? {
            Some(at) => received_ns = at,
            None => return Ok(()),
        }
        len = tls.drain_plaintext(&mut plain, len)?;
    }
}

/// The request id under which REST cancels are recorded (REST requests carry none; engine ids
/// start at 1, and round trips are measured one at a time).
pub const REST_ID: u64 = 0;

/// `https://localhost:PORT`: the same listener answers REST requests (any request that is not the
/// WebSocket upgrade).
impl Server {
    pub fn rest_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

/// HTTP/1.1 keep-alive: every `POST` is acked with the venue's documented success reply (no
/// signature check), `GET /api/v2/public/time` gets the server time. The receive time of each
/// `POST` is recorded under [`REST_ID`].
fn serve_rest(
    mut tls: Tls,
    mut plain: Vec<u8>,
    mut len: usize,
    recv_ns: &[AtomicU64],
) -> io::Result<()> {
    let mut received_ns = monotonic_ns();
    let mut out = Vec::with_capacity(1024);
    loop {
        let mut start = 0;
        while let Some(at) = find(&plain[start..len], b"\r\n\r\n") {
            let head_end = start + at + 4;
            let head = &plain[start..head_end];
            let body_len = value_after_header(head, b"content-length:")
                .and_then(parse_u64)
                .unwrap_or(0) as usize;
            if len < head_end + body_len {
                break;
            }
            let body = if head.starts_with(b"POST ") {
                recv_ns[(REST_ID & MASK) as usize].store(received_ns, Ordering::Release);
                &br#"{"code":"00000","msg":"success","requestTime":1695806875837,"data":{"orderId":"1376695893517410304","clientOid":null}}"#[..]
            } else {
                &br#"{"code":"00000","msg":"success","requestTime":1688008631614,"data":{"serverTime":"1688008631614"}}"#[..]
            };
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(body);
            start = head_end + body_len;
        }
        plain.copy_within(start..len, 0);
        len -= start;
        if !out.is_empty() {
            tls.send(&out)?;
            out.clear();
        }
        match tls.fill()? {
            Some(at) => received_ns = at,
            None => return Ok(()),
        }
        len = tls.drain_plaintext(&mut plain, len)?;
    }
}

/// The value of a header (name given lower-case, with its colon), trimmed.
fn value_after_header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (line.len() > name.len() && line[..name.len()].eq_ignore_ascii_case(name))
            .then(|| line[name.len()..].trim_ascii())
    })
}

/// Parses and unmasks one complete client frame at the start of `buf`:
/// `(opcode, payload offset, payload length)`, or `None` if more bytes are needed.
fn parse_client_frame(buf: &mut [u8]) -> io::Result<Option<(u8, usize, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            let n = u64::from_be_bytes(n);
            (usize::try_from(n).map_err(io::Error::other)?, 10)
        }
        126 | 127 => return Ok(None),
        n => (usize::from(n), 2),
    };
    if len > 1 << 20 {
        return Err(io::Error::other("client frame larger than 1 MiB"));
    }
    let mask_at = at;
    if masked {
        at += 4;
    }
    if buf.len() < at + len {
        return Ok(None);
    }
    if masked {
        let mask = [
            buf[mask_at],
            buf[mask_at + 1],
            buf[mask_at + 2],
            buf[mask_at + 3],
        ];
        for (i, b) in buf[at..at + len].iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
    }
    Ok(Some((opcode, at, len)))
}
