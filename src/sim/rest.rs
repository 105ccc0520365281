//! The venue's REST side: HTTPS on a listener of its own, with the same CA and certificate as the
//! WebSocket side and the same book (a cancel over REST removes the order for WebSocket too).
//!
//! It serves `POST /api/v2/spot/trade/cancel-order`, `POST /api/v2/mix/order/cancel-order` and
//! `GET /api/v2/public/time` over HTTP/1.1 keep-alive, one thread per connection, and the order
//! queries, batch cancels and cancel-alls of V2 ([`super::rest_orders`]) and V3
//! ([`super::rest_v3`]). Signed requests are checked with the venue's rule,
//! `base64(HMAC-SHA256(secret, timestamp + method + requestPath [+ "?" + query] + body))`
//! (written here apart from the client's, so each checks the other), in this order, each refused
//! with HTTP 400 and the venue's JSON reply: key (40006), passphrase (40012), timestamp digits
//! (40005), timestamp within [`SimConfig::login_window`](super::SimConfig::login_window) of the
//! venue's clock (40008), signature (40009); then the account's mode (40085 for a unified key on
//! V2, 40084 for a classic key on V3), then the endpoint's rate limit (HTTP 429, code `429`, when
//! [`SimConfig::limits`](super::SimConfig::limits) are on). An unknown path is 404 with 40404; an
//! order that does not rest is 43001 on spot and 40768 on futures; a missing or bad parameter
//! 40019 / 40020.
//!
//! [`RestFaults`] make it misbehave: refuse connections, answer late, answer 5xx, close the
//! keep-alive after each reply or after it sat idle, send chunked replies, fail cancels, order
//! queries or batch requests a number of times, serve absurd or late server times.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};
use sha2::Sha256;

use super::accounts::AccountMode;
use super::accounts::cancel_endpoint;
use super::book::OrderRef;
use super::rest_wire::{
    Caller, HttpRequest, Reply, admit, not_found, refused, server_error, success, too_many,
    venue_reply,
};
use super::{Shared, SimError, SimVenue, lock, push_bounded, rest_orders, rest_v3};
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
    /// The next order queries (V2 spot `orderInfo`, futures `order/detail`, V3 `order-info`)
    /// fail this way, then they are answered again. Checked before the signature.
    pub fail_queries: Option<RestFailure>,
    /// The next batch requests (V2 `batch-cancel-order`, `batch-cancel-orders`, V3
    /// `cancel-batch`) fail as a whole this way, before any entry reaches the book; then they are
    /// answered again. Checked before the signature.
    pub fail_batches: Option<RestFailure>,
    /// The next this many `GET /api/v2/public/time` replies carry a server time ten years
    /// ahead of the venue's clock (a broken time source behind the gateway). Default 0.
    pub absurd_server_times: u32,
    /// The next cancel requests (V2 spot and futures `cancel-order`) fail this way, before the
    /// book: then they are answered again. Checked before the signature. Default `None`.
    pub fail_cancels: Option<RestFailure>,
    /// The next cancel-alls (V2 spot `cancel-symbol-order`, futures `cancel-all-orders`) fail
    /// this way, before the book; then they are answered again. Default `None`.
    pub fail_cancel_alls: Option<RestFailure>,
    /// Every `GET /api/v2/public/time` reply waits this long before it is written (other
    /// replies do not). Default `None`.
    pub server_time_delay: Option<Duration>,
    /// A keep-alive connection that stays idle (no request) this long is ended by the venue:
    /// TLS close_notify and a TCP close, with no `Connection: close` before (as servers end
    /// idle keep-alives). Default `None`: idle connections stay open.
    pub idle_close_after: Option<Duration>,
}

/// How far [`RestFaults::absurd_server_times`] puts the server time ahead: ten years.
const ABSURD_MS: u64 = 10 * 365 * 24 * 3600 * 1000;

/// Requests that fail a number of times ([`RestFaults::fail_queries`],
/// [`RestFaults::fail_batches`]), counted from [`SimVenue::set_rest_faults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestFailure {
    /// How many requests fail.
    pub times: u32,
    /// How.
    pub with: RestFailWith,
}

/// How a request fails ([`RestFailure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestFailWith {
    /// This 5xx status with an HTML body.
    ServerError(u16),
    /// The connection is closed without a reply.
    Drop,
    /// HTTP 429 with the venue's rate-limit reply (code `429`), as if over the limit.
    RateLimited,
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
    /// Failures left of [`RestFaults::fail_queries`], [`RestFaults::fail_batches`],
    /// [`RestFaults::absurd_server_times`], [`RestFaults::fail_cancels`] and
    /// [`RestFaults::fail_cancel_alls`].
    failures_left: Mutex<(u32, u32, u32, u32, u32)>,
}

impl RestState {
    fn faults(&self) -> RestFaults {
        lock(&self.faults).clone()
    }

    pub(super) fn count(&self, update: impl FnOnce(&mut RestStats)) {
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

impl ReceivedRest {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
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
        let time_request = request.path.split('?').next() == Some(SERVER_TIME);
        let delay = match faults.server_time_delay {
            Some(d) if time_request => Some(d),
            _ => faults.delay,
        };
        if let Some(delay) = delay {
            let until = std::time::Instant::now() + delay;
            while std::time::Instant::now() < until {
                if shared.stopping.load(Ordering::Acquire) {
                    return Ok(());
                }
                thread::sleep(TICK.min(until - std::time::Instant::now()));
            }
        }
        let reply = match faults.server_error {
            Some(status) => server_error(status),
            None => match answer(shared, &request) {
                Some(reply) => reply,
                None => return Ok(()),
            },
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
    let idle_since = std::time::Instant::now();
    loop {
        if let Some(request) = parse_request(buffer)? {
            return Ok(Some(request));
        }
        if shared.stopping.load(Ordering::Acquire) {
            return Ok(None);
        }
        if buffer.is_empty()
            && shared
                .rest
                .faults()
                .idle_close_after
                .is_some_and(|after| idle_since.elapsed() >= after)
        {
            tls.conn.send_close_notify();
            tls.flush()?;
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

/// Which requests a failure fault is for.
#[derive(Clone, Copy)]
enum Failing {
    Queries,
    Batches,
    Cancels,
    CancelAlls,
}

/// What a request's failure fault says: `Some` answer (or `None`: drop) while failures are left.
fn injected_failure(shared: &Shared, which: Failing) -> Option<Option<Reply>> {
    let faults = shared.rest.faults();
    let failure = match which {
        Failing::Queries => faults.fail_queries,
        Failing::Batches => faults.fail_batches,
        Failing::Cancels => faults.fail_cancels,
        Failing::CancelAlls => faults.fail_cancel_alls,
    }?;
    let mut left = lock(&shared.rest.failures_left);
    let slot = match which {
        Failing::Queries => &mut left.0,
        Failing::Batches => &mut left.1,
        Failing::Cancels => &mut left.3,
        Failing::CancelAlls => &mut left.4,
    };
    if *slot == 0 {
        return None;
    }
    *slot -= 1;
    Some(match failure.with {
        RestFailWith::ServerError(status) => Some(server_error(status)),
        RestFailWith::Drop => None,
        RestFailWith::RateLimited => Some(too_many()),
    })
}

/// A signed request of a key in `mode`: the caller, or the refusal (signature, then mode).
fn signed(shared: &Shared, request: &HttpRequest, mode: AccountMode) -> Result<Caller, Reply> {
    let key = authenticate(shared, request)?;
    let Some(key) = shared.accounts.get(key) else {
        return Err(refused("40006", "Invalid ACCESS_KEY"));
    };
    if key.mode() != mode {
        shared.note(|a| a.mode_refusals += 1);
        return Err(match mode {
            AccountMode::Classic => refused(
                "40085",
                "The account is in Unified Account mode: use the V3 API",
            ),
            AccountMode::Unified => refused(
                "40084",
                "The account is in Classic Account mode: use the V2 API",
            ),
        });
    }
    Ok(Caller { uid: key.key.uid })
}

/// The venue's answer to a request; `None` to close the connection without one.
fn answer(shared: &Shared, request: &HttpRequest) -> Option<Reply> {
    let route = request.path.split('?').next().unwrap_or("");
    let method = request.method.as_str();
    if route == SERVER_TIME && method == "GET" {
        shared.rest.count(|s| s.server_time_requests += 1);
        let mut time = shared.venue_unix_ms();
        {
            let mut left = lock(&shared.rest.failures_left);
            if left.2 > 0 {
                left.2 -= 1;
                time = time.saturating_add(ABSURD_MS);
            }
        }
        return Some(success(json!({"serverTime": time.to_string()})));
    }
    let v2 = |serve: fn(&Shared, Caller, &HttpRequest, &str) -> Reply| {
        Some(match signed(shared, request, AccountMode::Classic) {
            Ok(caller) => serve(shared, caller, request, route),
            Err(reply) => reply,
        })
    };
    let v3 = |serve: fn(&Shared, Caller, &HttpRequest, &str) -> Reply| {
        Some(match signed(shared, request, AccountMode::Unified) {
            Ok(caller) => serve(shared, caller, request, route),
            Err(reply) => reply,
        })
    };
    match (method, route) {
        ("POST", SPOT_CANCEL | FUTURES_CANCEL) => {
            injected_failure(shared, Failing::Cancels).unwrap_or_else(|| v2(cancel))
        }
        ("GET", rest_orders::SPOT_ORDER_INFO | rest_orders::FUTURES_ORDER_DETAIL) => {
            injected_failure(shared, Failing::Queries).unwrap_or_else(|| v2(rest_orders::query))
        }
        ("POST", rest_orders::SPOT_BATCH | rest_orders::FUTURES_BATCH) => {
            injected_failure(shared, Failing::Batches).unwrap_or_else(|| v2(rest_orders::batch))
        }
        ("POST", rest_orders::SPOT_CANCEL_SYMBOL) => injected_failure(shared, Failing::CancelAlls)
            .unwrap_or_else(|| v2(rest_orders::cancel_symbol)),
        ("POST", rest_orders::FUTURES_CANCEL_ALL) => injected_failure(shared, Failing::CancelAlls)
            .unwrap_or_else(|| v2(rest_orders::cancel_all)),
        ("GET", rest_v3::ORDER_INFO) => {
            injected_failure(shared, Failing::Queries).unwrap_or_else(|| v3(rest_v3::order_info))
        }
        ("POST", rest_v3::CANCEL_BATCH) => {
            injected_failure(shared, Failing::Batches).unwrap_or_else(|| v3(rest_v3::cancel_batch))
        }
        ("POST", rest_v3::CANCEL_ORDER) => v3(rest_v3::cancel_order),
        ("POST", rest_v3::CANCEL_SYMBOL) => injected_failure(shared, Failing::CancelAlls)
            .unwrap_or_else(|| v3(rest_v3::cancel_symbol)),
        ("GET", rest_v3::SETTINGS) => v3(rest_v3::settings),
        ("POST", rest_v3::COUNTDOWN) => v3(rest_v3::countdown),
        _ => Some(venue_reply(
            404,
            "40404",
            "Request URL NOT FOUND",
            Value::Null,
        )),
    }
}

/// The venue's signature check, in its order: key, passphrase, timestamp, window, signature.
/// The index of the key that signed.
fn authenticate(shared: &Shared, request: &HttpRequest) -> Result<usize, Reply> {
    let window_ms = shared.config.login_window.as_millis() as u64;
    let Some((index, key)) = request
        .header("ACCESS-KEY")
        .and_then(|name| shared.accounts.find(name))
    else {
        return Err(refused("40006", "Invalid ACCESS_KEY"));
    };
    let config = &key.key;
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
    if ts_ms.abs_diff(shared.venue_unix_ms()) > window_ms {
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
    Ok(index)
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed V2 cancel: find the order on the shared book (`orderId` prevails) and cancel it.
/// The reply names the order's own ids (`clientOid` `null` only for an order without one).
fn cancel(shared: &Shared, caller: Caller, request: &HttpRequest, route: &str) -> Reply {
    let futures = route == FUTURES_CANCEL;
    let Some(Value::Object(params)) = request.json() else {
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
    let by = match (text("orderId"), text("clientOid")) {
        (Some(id), _) => OrderRef::OrderId(id),
        (None, Some(oid)) => OrderRef::ClientOid(oid),
        (None, None) => return refused("40019", "Parameter orderId cannot be empty"),
    };
    if let Err(reply) = admit(shared, caller.uid, cancel_endpoint(inst_type)) {
        return reply;
    }
    shared.rest.count(|s| s.cancels += 1);
    let cancelled = shared.cancel_one(caller.uid, |book| book.locate(inst_type, symbol, by));
    match cancelled {
        Some(order) => {
            shared.rest.count(|s| s.cancels_acked += 1);
            success(json!({"orderId": order.order_id, "clientOid": order.client_oid}))
        }
        None => not_found(inst_type),
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
        *lock(&self.shared.rest.failures_left) = (
            faults.fail_queries.map_or(0, |f| f.times),
            faults.fail_batches.map_or(0, |f| f.times),
            faults.absurd_server_times,
            faults.fail_cancels.map_or(0, |f| f.times),
            faults.fail_cancel_alls.map_or(0, |f| f.times),
        );
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
