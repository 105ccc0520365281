//! The venue's REST side: HTTPS on a listener of its own, with the same CA and certificate as the
//! WebSocket side and the same book (a cancel over REST removes the order for WebSocket too).
//!
//! It serves `POST /api/v2/spot/trade/cancel-order`, `POST /api/v2/mix/order/cancel-order` and
//! `GET /api/v2/public/time` over HTTP/1.1 keep-alive, one thread per connection. Signed
//! requests are checked with the venue's rule,
//! `base64(HMAC-SHA256(secret, timestamp + method + requestPath + body))` (written here apart
//! from the client's, so each checks the other), in this order, each refused with HTTP 400 and the
//! venue's JSON reply: key (40006), passphrase (40012), timestamp digits (40005), timestamp
//! within [`SimConfig::login_window`](super::SimConfig::login_window) of the venue's clock
//! (40008), signature (40009). An unknown path is 404 with 40404; an order that does not rest is
//! 43001 on spot and 40768 on futures; a missing or bad parameter 40019 / 40020.
//!
//! [`RestFaults`] make it misbehave: refuse connections, answer late, answer 5xx, close the
//! keep-alive after each reply, send chunked replies.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Shared, SimError, SimVenue, lock, push_bounded};
use crate::clock::monotonic_ns;
use crate::intent::InstType;

/// How the REST side misbehaves, from the next connection or request on. The default is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestFaults {
    /// Down: connections are closed as soon as they are accepted, and open ones are closed
    /// (without a reply to a request they carry).
    pub down: bool,
    /// Every reply waits this long before it is written.
    pub delay: Option<Duration>,
    /// Every request is answered with this 5xx status and an HTML body instead.
    pub server_error: Option<u16>,
    /// Every reply carries `Connection: close`, and the connection is closed after it.
    pub close_after_reply: bool,
    /// Replies use `Transfer-Encoding: chunked` (two chunks) instead of `Content-Length`.
    pub chunked: bool,
}

/// One REST request the venue received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRest {
    /// The REST connection it came on: 1 for the first one accepted, then 2, ...
    pub conn: u64,
    /// When the venue had read it whole, on [`crate::clock::monotonic_ns`].
    pub at_ns: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target, query included.
    pub path: String,
    /// The headers, names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body (lossy UTF-8).
    pub body: String,
}

/// Counters of the REST side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestStats {
    /// TCP connections accepted (including the ones closed at once while down).
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Requests read whole (every method and path).
    pub requests: u64,
    /// Cancel requests that passed the signature check and reached the book.
    pub cancels: u64,
    /// Of those, the ones that found their order.
    pub cancels_acked: u64,
    /// `GET /api/v2/public/time` requests.
    pub server_time_requests: u64,
}

/// The REST side's state, in the venue's shared state.
#[derive(Debug, Default)]
pub(super) struct RestState {
    faults: Mutex<RestFaults>,
    record: Mutex<VecDeque<ReceivedRest>>,
    stats: Mutex<RestStats>,
    conns: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_conn: AtomicU64,
}

impl RestState {
    fn faults(&self) -> RestFaults {
        lock(&self.faults).clone()
    }

    fn count(&self, update: impl FnOnce(&mut RestStats)) {
        update(&mut lock(&self.stats));
    }
}

/// The listener and its accepting thread.
#[derive(Debug)]
pub(super) struct RestServer {
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

/// How long a read waits before the thread checks whether to stop.
const TICK: Duration = Duration::from_millis(20);
/// A client that does not read for this long while a reply is written is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

const SPOT_CANCEL: &str = "/api/v2/spot/trade/cancel-order";
const FUTURES_CANCEL: &str = "/api/v2/mix/order/cancel-order";
const SERVER_TIME: &str = "/api/v2/public/time";

impl RestServer {
    /// Binds a free port on the WebSocket side's IP and starts accepting.
    pub(super) fn start(shared: &Arc<Shared>) -> Result<RestServer, SimError> {
        let listen = SocketAddr::new(shared.config.listen.ip(), 0);
        let listener = TcpListener::bind(listen).map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| SimError::Os {
            what: "REST listener",
            source,
        })?;
        let acceptor = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("sim-rest-acceptor".to_owned())
                .spawn(move || accept_loop(&shared, &listener))
                .map_err(|source| SimError::Os {
                    what: "REST acceptor thread",
                    source,
                })?
        };
        Ok(RestServer {
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// Stops accepting, closes every connection and joins every thread. `shared.stopping` must
    /// be set first.
    pub(super) fn stop(&mut self, shared: &Shared) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        // Wakes the blocking accept; the loop then sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = acceptor.join();
        for tcp in lock(&shared.rest.conns).values() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&shared.rest.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        let tcp = match accepted {
            Ok((tcp, _peer)) => tcp,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("sim: REST accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let rest = &shared.rest;
        rest.count(|s| s.connections_accepted += 1);
        if rest.faults().down {
            drop(tcp);
            continue;
        }
        let conn = rest.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(handle) = tcp.try_clone() else {
            continue;
        };
        lock(&rest.conns).insert(conn, handle);
        rest.count(|s| s.connections_open += 1);
        let thread_shared = shared.clone();
        let spawned = thread::Builder::new()
            .name(format!("sim-rest-{conn}"))
            .spawn(move || {
                if let Err(e) = serve(&thread_shared, conn, tcp) {
                    log::debug!("sim: REST connection {conn} ended: {e}");
                }
                let rest = &thread_shared.rest;
                if let Some(tcp) = lock(&rest.conns).remove(&conn) {
                    let _ = tcp.shutdown(Shutdown::Both);
                }
                rest.count(|s| s.connections_open = s.connections_open.saturating_sub(1));
            });
        match spawned {
            Ok(thread) => {
                let mut threads = lock(&rest.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(thread);
            }
            Err(e) => {
                log::warn!("sim: cannot start a REST connection thread: {e}");
                lock(&rest.conns).remove(&conn);
                rest.count(|s| s.connections_open = s.connections_open.saturating_sub(1));
            }
        }
    }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

/// A request read whole.
struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ReceivedRest {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A reply: status, reason phrase, body.
struct Reply {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn venue_reply(status: u16, code: &str, msg: &str, data: Value) -> Reply {
    let body = json!({"code": code, "msg": msg, "requestTime": unix_ms(), "data": data});
    Reply {
        status,
        reason: match status {
            200 => "OK",
            404 => "Not Found",
            _ => "Bad Request",
        },
        content_type: "application/json",
        body: body.to_string(),
    }
}

fn refused(code: &str, msg: &str) -> Reply {
    venue_reply(400, code, msg, Value::Null)
}

/// Serves one connection: requests in turn until the client closes, a fault or shutdown.
fn serve(shared: &Shared, conn: u64, tcp: TcpStream) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(TICK))?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let server = ServerConnection::new(shared.tls.clone()).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(server, tcp);
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let Some(request) = read_request(shared, &mut tls, &mut buffer)? else {
            return Ok(());
        };
        let rest = &shared.rest;
        push_bounded(
            &mut lock(&rest.record),
            ReceivedRest {
                conn,
                at_ns: monotonic_ns(),
                method: request.method.clone(),
                path: request.path.clone(),
                headers: request.headers.clone(),
                body: String::from_utf8_lossy(&request.body).into_owned(),
            },
            shared.config.record_limit,
        );
        rest.count(|s| s.requests += 1);
        let faults = rest.faults();
        if faults.down {
            return Ok(());
        }
        if let Some(delay) = faults.delay {
            let until = std::time::Instant::now() + delay;
            while std::time::Instant::now() < until {
                if shared.stopping.load(Ordering::Acquire) {
                    return Ok(());
                }
                thread::sleep(TICK.min(until - std::time::Instant::now()));
            }
        }
        let reply = match faults.server_error {
            Some(status) => Reply {
                status,
                reason: "Service Unavailable",
                content_type: "text/html",
                body: format!("<html><body><h1>{status}</h1></body></html>"),
            },
            None => answer(shared, &request),
        };
        write_reply(&mut tls, &reply, &faults)?;
        if faults.close_after_reply {
            tls.conn.send_close_notify();
            tls.flush()?;
            return Ok(());
        }
    }
}

/// Reads the next request whole; `None` when the client closed or the venue stops.
fn read_request(
    shared: &Shared,
    tls: &mut Tls,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<HttpRequest>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(request) = parse_request(buffer)? {
            return Ok(Some(request));
        }
        if shared.stopping.load(Ordering::Acquire) {
            return Ok(None);
        }
        match tls.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// A whole request from the front of `buffer` (removed from it), `None` when more is needed.
fn parse_request(buffer: &mut Vec<u8>) -> io::Result<Option<HttpRequest>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buffer.len() > MAX_HEAD => {
            return Err(invalid("request head too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(&format!("bad request: {e}"))),
    };
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some() {
        return Err(invalid("chunked requests are not served"));
    }
    let body_len = match header("content-length") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| invalid("bad Content-Length"))?,
        None => 0,
    };
    if body_len > MAX_BODY {
        return Err(invalid("request body too large"));
    }
    if buffer.len() < head_len + body_len {
        return Ok(None);
    }
    let request = HttpRequest {
        method: parsed.method.unwrap_or("").to_owned(),
        path: parsed.path.unwrap_or("").to_owned(),
        body: buffer[head_len..head_len + body_len].to_vec(),
        headers,
    };
    buffer.drain(..head_len + body_len);
    Ok(Some(request))
}

fn write_reply(tls: &mut Tls, reply: &Reply, faults: &RestFaults) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n",
        reply.status, reply.reason, reply.content_type
    );
    if faults.close_after_reply {
        out.push_str("Connection: close\r\n");
    }
    if faults.chunked {
        out.push_str("Transfer-Encoding: chunked\r\n\r\n");
        let body = reply.body.as_bytes();
        let (first, second) = body.split_at(body.len() / 2);
        for part in [first, second] {
            if !part.is_empty() {
                out.push_str(&format!("{:x}\r\n", part.len()));
                out.push_str(std::str::from_utf8(part).unwrap_or(""));
                out.push_str("\r\n");
            }
        }
        out.push_str("0\r\n\r\n");
    } else {
        out.push_str(&format!(
            "Content-Length: {}\r\n\r\n{}",
            reply.body.len(),
            reply.body
        ));
    }
    tls.write_all(out.as_bytes())?;
    tls.flush()
}

/// The venue's answer to a request.
fn answer(shared: &Shared, request: &HttpRequest) -> Reply {
    let route = request.path.split('?').next().unwrap_or("");
    match (request.method.as_str(), route) {
        ("GET", SERVER_TIME) => {
            shared.rest.count(|s| s.server_time_requests += 1);
            let now = unix_ms();
            venue_reply(
                200,
                "00000",
                "success",
                json!({"serverTime": now.to_string()}),
            )
        }
        ("POST", SPOT_CANCEL) | ("POST", FUTURES_CANCEL) => match authenticate(shared, request) {
            Ok(()) => cancel(shared, route == FUTURES_CANCEL, &request.body),
            Err(reply) => reply,
        },
        _ => venue_reply(404, "40404", "Request URL NOT FOUND", Value::Null),
    }
}

/// The venue's signature check, in its order: key, passphrase, timestamp, window, signature.
fn authenticate(shared: &Shared, request: &HttpRequest) -> Result<(), Reply> {
    let config = &shared.config;
    if request.header("ACCESS-KEY") != Some(config.api_key.as_str()) {
        return Err(refused("40006", "Invalid ACCESS_KEY"));
    }
    let passphrase = request.header("ACCESS-PASSPHRASE").unwrap_or("");
    if !same_bytes(passphrase.as_bytes(), config.passphrase.as_bytes()) {
        return Err(refused("40012", "apikey/password is incorrect"));
    }
    let timestamp = request.header("ACCESS-TIMESTAMP").unwrap_or("");
    let Some(ts_ms) = (!timestamp.is_empty() && timestamp.len() <= 16)
        .then(|| timestamp.parse::<u64>().ok())
        .flatten()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Err(refused("40005", "Invalid ACCESS_TIMESTAMP"));
    };
    let window_ms = config.login_window.as_millis() as u64;
    if ts_ms.abs_diff(unix_ms()) > window_ms {
        return Err(refused("40008", "Request timestamp expired"));
    }
    let sign = request.header("ACCESS-SIGN").unwrap_or("");
    let valid = STANDARD.decode(sign).ok().is_some_and(|sign| {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(config.secret.as_bytes())
        else {
            return false;
        };
        mac.update(timestamp.as_bytes());
        mac.update(request.method.as_bytes());
        mac.update(request.path.as_bytes());
        mac.update(&request.body);
        mac.verify_slice(&sign).is_ok()
    });
    if !valid {
        return Err(refused("40009", "sign signature error"));
    }
    Ok(())
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed cancel: find the order on the shared book (`orderId` prevails) and remove it.
fn cancel(shared: &Shared, futures: bool, body: &[u8]) -> Reply {
    let Ok(Value::Object(params)) = serde_json::from_slice::<Value>(body) else {
        return refused("40020", "Parameter error");
    };
    let text = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(symbol) = text("symbol") else {
        return refused("40019", "Parameter symbol cannot be empty");
    };
    let inst_type = if futures {
        let Some(product) = text("productType") else {
            return refused("40019", "Parameter productType cannot be empty");
        };
        match product.to_ascii_uppercase().parse::<InstType>() {
            Ok(t) if t.is_futures() => t,
            _ => return refused("40020", "Parameter productType error"),
        }
    } else {
        InstType::Spot
    };
    let (order_id, client_oid) = (text("orderId"), text("clientOid"));
    if order_id.is_none() && client_oid.is_none() {
        return refused("40019", "Parameter orderId cannot be empty");
    }
    shared.rest.count(|s| s.cancels += 1);
    let found = {
        let mut book = lock(&shared.book);
        match (order_id, client_oid) {
            (Some(id), _) => book.cancel_by_order_id(inst_type, symbol, id),
            (None, Some(oid)) => book.cancel_by_client_oid(inst_type, symbol, oid),
            (None, None) => false,
        }
    };
    if found {
        shared.rest.count(|s| s.cancels_acked += 1);
        venue_reply(
            200,
            "00000",
            "success",
            json!({"orderId": order_id, "clientOid": client_oid}),
        )
    } else if futures {
        refused("40768", "Order does not exist")
    } else {
        refused("43001", "The order does not exist")
    }
}

impl SimVenue {
    /// `https://localhost:PORT`: the REST side's base URL (same CA and certificate as
    /// [`url`](Self::url)).
    pub fn rest_url(&self) -> String {
        format!("https://localhost:{}", self.rest.addr.port())
    }

    /// The address the REST side listens on.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest.addr
    }

    /// Sets the REST side's faults (from the next connection or request on). Going
    /// [`down`](RestFaults::down) also closes every open REST connection now.
    pub fn set_rest_faults(&self, faults: RestFaults) {
        let down = faults.down;
        *lock(&self.shared.rest.faults) = faults;
        if down {
            for tcp in lock(&self.shared.rest.conns).values() {
                let _ = tcp.shutdown(Shutdown::Both);
            }
        }
    }

    /// Every REST request received so far (up to
    /// [`SimConfig::record_limit`](super::SimConfig::record_limit)), oldest first.
    pub fn rest_requests(&self) -> Vec<ReceivedRest> {
        lock(&self.shared.rest.record).iter().cloned().collect()
    }

    /// A snapshot of the REST side's counters; `rest_stats().cancels == 0` means no cancel
    /// reached the venue over REST.
    pub fn rest_stats(&self) -> RestStats {
        *lock(&self.shared.rest.stats)
    }
}
