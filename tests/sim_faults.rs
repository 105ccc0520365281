//! Every fault the simulated venue can commit, observed on the wire: with tungstenite's client
//! where it tolerates the fault, and with a raw client (rustls, a hand-written upgrade, the
//! venue's bytes read record by record) where the exact bytes matter or a conforming WebSocket
//! client would refuse them. After each fault the venue must serve new connections normally.

#[path = "support/sim_client.rs"]
mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bitget_cancel::InstType;
use bitget_cancel::clock::monotonic_ns;
use bitget_cancel::sim::{
    CancelFate, Coalesce, Faults, Injection, LoginFault, OnCancel, Opcode, RestingOrder, SimConfig,
    SimVenue,
};
use common::*;
use rustls::ClientConnection;
use serde_json::json;
use tungstenite::Message;

/// `pong` in an unmasked text frame, as the venue sends it.
const PONG_FRAME: [u8; 6] = [0x81, 0x04, b'p', b'o', b'n', b'g'];

/// How a raw connection ended.
#[derive(Debug)]
enum Ended {
    /// TLS close_notify.
    CloseNotify,
    /// The TCP stream ended without close_notify.
    Eof,
    /// A socket error, e.g. a reset.
    Io(io::ErrorKind),
    /// A TLS error, e.g. an alert from the venue.
    Tls(rustls::Error),
}

/// A WebSocket client written by hand over rustls. It reads the venue's TLS records one at a
/// time, so a test can see what each record carried.
struct RawClient {
    tls: ClientConnection,
    tcp: TcpStream,
    /// Bytes read from TCP and not yet handed to rustls (less than one record).
    raw: Vec<u8>,
    /// Plaintext received and not yet taken.
    plain: Vec<u8>,
}

/// The sample key of RFC 6455 and the accept value the server must derive from it.
const UPGRADE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const UPGRADE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const CLIENT_MASK: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&CLIENT_MASK);
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ CLIENT_MASK[i % 4]),
    );
    frame
}

impl RawClient {
    /// TLS handshake, then the upgrade request written by hand; checks the 101 answer.
    fn connect(venue: &SimVenue) -> RawClient {
        let tcp = TcpStream::connect(venue.addr()).expect("connects");
        tcp.set_read_timeout(Some(SAFETY)).expect("read timeout");
        let mut client = RawClient {
            tls: client_tls(venue),
            tcp,
            raw: Vec::new(),
            plain: Vec::new(),
        };
        while client.tls.is_handshaking() {
            client
                .tls
                .complete_io(&mut client.tcp)
                .expect("TLS handshake");
        }
        let request = format!(
            "GET /v2/ws/private HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {UPGRADE_KEY}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            venue.addr().port()
        );
        client.write_plain(request.as_bytes());
        let end = loop {
            if let Some(at) = find(&client.plain, b"\r\n\r\n") {
                break at + 4;
            }
            if let Err(ended) = client.next_record() {
                panic!("no upgrade response: {ended:?}");
            }
        };
        let head: Vec<u8> = client.plain.drain(..end).collect();
        let head = String::from_utf8(head).expect("an ASCII response head");
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let accept = format!("sec-websocket-accept: {}", UPGRADE_ACCEPT.to_lowercase());
        assert!(head.to_lowercase().contains(&accept), "{head}");
        client
    }

    fn write_plain(&mut self, bytes: &[u8]) {
        self.tls.writer().write_all(bytes).expect("rustls buffers");
        while self.tls.wants_write() {
            self.tls
                .write_tls(&mut self.tcp)
                .expect("write to the venue");
        }
    }

    fn send_text(&mut self, text: &str) {
        self.write_plain(&client_frame(0x1, text.as_bytes()));
    }

    /// Reads the next TLS record and returns the plaintext it carried (also kept for
    /// [`RawClient::take`]); an error says how the connection ended.
    fn next_record(&mut self) -> Result<Vec<u8>, Ended> {
        let len = loop {
            if self.raw.len() >= 5 {
                let len = 5 + usize::from(u16::from_be_bytes([self.raw[3], self.raw[4]]));
                if self.raw.len() >= len {
                    break len;
                }
            }
            let mut chunk = [0u8; 4096];
            match self.tcp.read(&mut chunk) {
                Ok(0) => return Err(Ended::Eof),
                Ok(n) => self.raw.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("the venue sent nothing within {SAFETY:?}")
                }
                Err(e) => return Err(Ended::Io(e.kind())),
            }
        };
        let record: Vec<u8> = self.raw.drain(..len).collect();
        let mut rest = &record[..];
        while !rest.is_empty() {
            self.tls
                .read_tls(&mut rest)
                .expect("rustls takes the record");
        }
        let state = self.tls.process_new_packets().map_err(Ended::Tls)?;
        let closed = state.peer_has_closed();
        let mut plain = vec![0u8; state.plaintext_bytes_to_read()];
        self.tls
            .reader()
            .read_exact(&mut plain)
            .expect("the announced plaintext");
        if plain.is_empty() && closed {
            return Err(Ended::CloseNotify);
        }
        self.plain.extend_from_slice(&plain);
        Ok(plain)
    }

    /// The next `n` plaintext bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.plain.len() < n {
            if let Err(ended) = self.next_record() {
                panic!("ended ({ended:?}) with {:02x?} received", self.plain);
            }
        }
        self.plain.drain(..n).collect()
    }

    /// The next whole unmasked frame: its first byte and its payload.
    fn next_frame(&mut self) -> (u8, Vec<u8>) {
        let head = self.take(2);
        assert_eq!(head[1] & 0x80, 0, "a masked frame");
        let len = match head[1] & 0x7F {
            126 => usize::from(u16::from_be_bytes(self.take(2).try_into().unwrap())),
            127 => usize::try_from(u64::from_be_bytes(self.take(8).try_into().unwrap()))
                .expect("a frame that fits in memory"),
            n => usize::from(n),
        };
        (head[0], self.take(len))
    }

    fn next_text(&mut self) -> String {
        let (first, payload) = self.next_frame();
        assert_eq!(first, 0x81, "an unfragmented text frame");
        String::from_utf8(payload).expect("UTF-8 text")
    }

    fn login(&mut self, venue: &SimVenue) {
        self.send_text(&good_login(venue.config()));
        assert_login_ok(&self.next_text());
    }

    /// Reads until the connection ends; the plaintext read on the way stays in `plain`.
    fn until_end(&mut self) -> Ended {
        loop {
            if let Err(ended) = self.next_record() {
                return ended;
            }
        }
    }
}

/// A new connection logs in, pings and cancels normally once the faults are cleared.
fn assert_serves_normally(venue: &SimVenue) {
    venue.set_faults(Faults::none());
    let order = spot_order(venue);
    let mut ws = connect(venue);
    login(venue, &mut ws);
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    send(
        &mut ws,
        &cancel_request("after", "SPOT", json!({"orderId": order.order_id})),
    );
    let ack = next_json(&mut ws);
    assert_eq!(
        (ack["event"].as_str(), ack["code"].as_u64()),
        (Some("trade"), Some(0)),
        "{ack}"
    );
    assert_eq!(ack["arg"][0]["id"], "after");
}

fn spot_cancel(id: &str, order: &RestingOrder) -> String {
    cancel_request(id, "SPOT", json!({"orderId": order.order_id}))
}

fn is_resting(venue: &SimVenue, order: &RestingOrder) -> bool {
    venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id)
}

fn on_cancel(nth: u64, injection: Injection, cancel: CancelFate) -> Faults {
    Faults {
        on_cancel: Some(OnCancel {
            nth,
            injection,
            cancel,
        }),
        ..Faults::default()
    }
}

// ---- Replies split, re-recorded and batched -------------------------------------------------

#[test]
fn fragments_are_interleaved_with_ping_frames_on_the_wire() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    venue.set_faults(Faults {
        fragments: 3,
        ping_between_fragments: true,
        ..Faults::default()
    });
    raw.send_text("ping");
    let ping = [0x89, 0x03, b's', b'i', b'm'];
    let mut expected = vec![0x01, 0x02, b'p', b'o'];
    expected.extend_from_slice(&ping);
    expected.extend_from_slice(&[0x00, 0x01, b'n']);
    expected.extend_from_slice(&ping);
    expected.extend_from_slice(&[0x80, 0x01, b'g']);
    assert_eq!(raw.take(expected.len()), expected);
    assert_serves_normally(&venue);
}

#[test]
fn a_websocket_client_reassembles_fragments_around_pings_and_answers_each_ping() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        fragments: 5,
        ping_between_fragments: true,
        ..Faults::default()
    });
    send(&mut ws, &spot_cancel("1", &order));
    let ack = next_json(&mut ws);
    assert_eq!(
        (ack["code"].as_u64(), ack["arg"][0]["id"].as_str()),
        (Some(0), Some("1"))
    );
    ws.flush().expect("flush the pongs");
    venue.set_faults(Faults::none());
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    let pongs = venue
        .received()
        .iter()
        .filter(|f| f.opcode == Opcode::Pong)
        .count();
    assert_eq!(pongs, 4, "one pong per ping between five fragments");
}

#[test]
fn byte_per_record_sends_every_reply_byte_in_a_tls_record_of_its_own() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    venue.set_faults(Faults {
        byte_per_record: true,
        ..Faults::default()
    });
    raw.send_text("ping");
    for byte in PONG_FRAME {
        assert_eq!(raw.next_record().expect("a record"), vec![byte]);
    }
    assert_serves_normally(&venue);
}

#[test]
fn a_websocket_client_reads_replies_written_one_byte_per_record() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    venue.set_faults(Faults {
        byte_per_record: true,
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    send(&mut ws, &spot_cancel("1", &order));
    assert_eq!(next_json(&mut ws)["code"], 0);
}

#[test]
fn coalesced_replies_arrive_together_in_one_tls_record() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    venue.set_faults(Faults {
        coalesce: Some(Coalesce {
            replies: 3,
            wait: SAFETY,
        }),
        ..Faults::default()
    });
    for _ in 0..3 {
        raw.send_text("ping");
    }
    assert_eq!(raw.next_record().expect("a record"), PONG_FRAME.repeat(3));
    assert_serves_normally(&venue);
}

#[test]
fn a_partial_batch_goes_out_in_one_record_once_the_wait_is_over() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    let wait = Duration::from_millis(300);
    venue.set_faults(Faults {
        coalesce: Some(Coalesce { replies: 100, wait }),
        ..Faults::default()
    });
    // Both pings in one write, so the venue reads them together.
    let mut two = client_frame(0x1, b"ping");
    two.extend_from_slice(&client_frame(0x1, b"ping"));
    let sent = Instant::now();
    raw.write_plain(&two);
    assert_eq!(raw.next_record().expect("a record"), PONG_FRAME.repeat(2));
    assert!(sent.elapsed() >= wait, "the batch went out before its wait");
    assert_serves_normally(&venue);
}

// ---- Extra, missing and foreign replies -----------------------------------------------------

#[test]
fn a_stray_reply_for_an_id_nobody_sent_precedes_the_real_one() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        stray_reply_id: Some("nobody-sent-this".into()),
        ..Faults::default()
    });
    send(&mut ws, &spot_cancel("7", &order));
    let stray = next_text(&mut ws);
    let real = next_text(&mut ws);
    assert_eq!(
        stray,
        real.replace(r#""id":"7""#, r#""id":"nobody-sent-this""#)
    );
    let real: serde_json::Value = serde_json::from_str(&real).expect("JSON");
    assert_eq!(
        (real["arg"][0]["id"].as_str(), real["code"].as_u64()),
        (Some("7"), Some(0))
    );
    assert_serves_normally(&venue);
}

#[test]
fn duplicate_replies_arrive_twice_byte_for_byte() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        duplicate_replies: true,
        ..Faults::default()
    });
    send(&mut ws, &spot_cancel("1", &order));
    let first = next_text(&mut ws);
    assert_eq!(next_text(&mut ws), first);
    send(&mut ws, "ping");
    assert_eq!(
        next_text(&mut ws),
        "pong",
        "only cancel replies are doubled"
    );
    assert_eq!(venue.stats().cancels_acked, 1);
    assert_serves_normally(&venue);
}

#[test]
fn non_json_text_can_come_right_before_a_chosen_cancel_reply() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(on_cancel(
        2,
        Injection::Text("not json".into()),
        CancelFate::Answered,
    ));
    send(&mut ws, &spot_cancel("1", &orders[0]));
    assert_eq!(next_json(&mut ws)["arg"][0]["id"], "1");
    send(&mut ws, &spot_cancel("2", &orders[1]));
    assert_eq!(next_text(&mut ws), "not json");
    assert_eq!(next_json(&mut ws)["arg"][0]["id"], "2");
    assert_serves_normally(&venue);
}

#[test]
fn injected_text_and_binary_frames_reach_every_open_connection_now() {
    let venue = start(SimConfig::default());
    let mut first = connect(&venue);
    let mut second = connect(&venue);
    assert_eq!(venue.inject(Injection::Text("not json".into())), 2);
    assert_eq!(venue.inject(Injection::Binary(vec![0, 159, 146, 150])), 2);
    for ws in [&mut first, &mut second] {
        assert_eq!(next_text(ws), "not json");
        match next(ws) {
            Message::Binary(bytes) => assert_eq!(&bytes[..], &[0, 159, 146, 150]),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
    assert_serves_normally(&venue);
}

#[test]
fn inject_counts_only_connections_past_their_handshakes() {
    let venue = start(SimConfig::default());
    assert_eq!(venue.inject(Injection::Text("x".into())), 0);
    let mut ws = connect(&venue);
    let _bare_tcp = TcpStream::connect(venue.addr()).expect("connects");
    wait(&venue, "two accepted", |s| s.connections_accepted == 2);
    assert_eq!(venue.inject(Injection::Text("hello".into())), 1);
    assert_eq!(next_text(&mut ws), "hello");
}

#[test]
fn an_error_without_arg_can_stand_in_for_a_reply_and_the_cancel_is_not_processed() {
    let venue = start(SimConfig::default());
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(on_cancel(
        1,
        Injection::too_many_requests(),
        CancelFate::Refused,
    ));
    send(&mut ws, &spot_cancel("1", &orders[0]));
    assert_eq!(
        next_text(&mut ws),
        r#"{"event":"error","code":30006,"msg":"request too many"}"#
    );
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong", "the cancel got no other reply");
    assert!(is_resting(&venue, &orders[0]));
    // It fires once.
    send(&mut ws, &spot_cancel("2", &orders[1]));
    assert_eq!(next_json(&mut ws)["code"], 0);
    assert_eq!(venue.stats().requests_refused, 1);
    assert_serves_normally(&venue);
}

#[test]
fn an_error_without_arg_can_come_before_a_reply() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(on_cancel(
        1,
        Injection::too_many_requests(),
        CancelFate::Answered,
    ));
    send(&mut ws, &spot_cancel("1", &order));
    assert_eq!(next_json(&mut ws)["code"], 30006);
    let ack = next_json(&mut ws);
    assert_eq!(
        (ack["code"].as_u64(), ack["arg"][0]["id"].as_str()),
        (Some(0), Some("1"))
    );
    assert!(!is_resting(&venue, &order));
    assert_serves_normally(&venue);
}

#[test]
fn over_limit_sends_30007_then_closes() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_eq!(venue.inject(Injection::OverLimit), 1);
    assert_eq!(
        next_text(&mut ws),
        r#"{"event":"error","code":30007,"msg":"request over limit, connection close"}"#
    );
    assert_eq!(expect_close(&mut ws), 1000);
    wait(&venue, "rate-limit disconnect", |s| {
        s.disconnects.rate_limited == 1
    });
    assert_serves_normally(&venue);
}

#[test]
fn over_limit_can_refuse_a_chosen_cancel() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(on_cancel(1, Injection::OverLimit, CancelFate::Refused));
    send(&mut ws, &spot_cancel("1", &order));
    assert_eq!(next_json(&mut ws)["code"], 30007);
    assert_eq!(expect_close(&mut ws), 1000);
    assert!(is_resting(&venue, &order));
    assert_serves_normally(&venue);
}

#[test]
fn a_drop_after_the_cancel_took_effect_loses_its_reply() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(on_cancel(1, Injection::Drop, CancelFate::Unanswered));
    send(&mut ws, &spot_cancel("1", &order));
    expect_dropped(&mut ws);
    assert!(!is_resting(&venue, &order));
    let stats = wait(&venue, "fault disconnect", |s| s.disconnects.fault == 1);
    assert_eq!(stats.cancels_unanswered, 1);
    assert_serves_normally(&venue);
}

// ---- Closes, resets and TLS ---------------------------------------------------------------------

#[test]
fn a_close_from_the_venue_is_answered_by_a_websocket_client_and_the_answer_recorded() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_eq!(venue.inject(Injection::Close { code: 1001 }), 1);
    assert_eq!(expect_close(&mut ws), 1001);
    let stats = wait(&venue, "close answered", |s| {
        s.close_replies == 1 && s.disconnects.fault == 1
    });
    assert_eq!(stats.closes_sent, 1);
    let last = venue.received().pop().expect("frames were recorded");
    assert_eq!(last.opcode, Opcode::Close);
    assert_serves_normally(&venue);
}

#[test]
fn a_close_the_client_never_answers_is_recorded_as_unanswered() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    assert_eq!(venue.inject(Injection::Close { code: 1000 }), 1);
    assert_eq!(raw.take(4), [0x88, 0x02, 0x03, 0xE8]);
    assert!(matches!(raw.until_end(), Ended::CloseNotify));
    let stats = wait(&venue, "the venue gave up waiting", |s| {
        s.disconnects.fault == 1
    });
    assert_eq!((stats.closes_sent, stats.close_replies), (1, 0));
    assert_serves_normally(&venue);
}

#[test]
fn a_reset_mid_reply_delivers_half_the_frame_then_rst() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut raw = RawClient::connect(&venue);
    raw.login(&venue);
    venue.set_faults(on_cancel(1, Injection::ResetMidFrame, CancelFate::Answered));
    raw.send_text(&spot_cancel("1", &order));
    let ended = raw.until_end();
    assert!(
        matches!(ended, Ended::Io(io::ErrorKind::ConnectionReset)),
        "{ended:?}"
    );
    let half = &raw.plain;
    assert_eq!(
        &half[..2],
        &[0x81, 126],
        "a text frame with a 16-bit length"
    );
    let frame_len = 4 + usize::from(u16::from_be_bytes([half[2], half[3]]));
    assert_eq!(half.len(), frame_len / 2);
    assert!(
        half[4..].starts_with(br#"{"event":"trade","arg":[{"id":"1","#),
        "{:?}",
        String::from_utf8_lossy(&half[4..])
    );
    assert!(!is_resting(&venue, &order), "the cancel took effect");
    let stats = wait(&venue, "reset counted", |s| s.disconnects.fault == 1);
    assert_eq!(stats.replies_lost, 1);
    assert_serves_normally(&venue);
}

#[test]
fn a_reset_with_no_reply_waiting_cuts_a_pong_frame() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    assert_eq!(venue.inject(Injection::ResetMidFrame), 1);
    let ended = raw.until_end();
    assert!(
        matches!(ended, Ended::Io(io::ErrorKind::ConnectionReset)),
        "{ended:?}"
    );
    assert_eq!(raw.plain, [0x81, 0x04, b'p']);
    assert_serves_normally(&venue);
}

#[test]
fn a_reset_cuts_a_reply_still_waiting_out_its_delay() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut raw = RawClient::connect(&venue);
    raw.login(&venue);
    venue.set_faults(Faults {
        reply_delay: Duration::from_secs(60),
        ..Faults::default()
    });
    raw.send_text(&spot_cancel("1", &order));
    wait(&venue, "cancel processed", |s| s.cancels_acked == 1);
    assert_eq!(venue.inject(Injection::ResetMidFrame), 1);
    assert!(matches!(
        raw.until_end(),
        Ended::Io(io::ErrorKind::ConnectionReset)
    ));
    assert!(raw.plain[4..].starts_with(br#"{"event":"trade""#));
    assert_serves_normally(&venue);
}

#[test]
fn a_fatal_tls_alert_reaches_the_client_as_bad_record_mac() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    raw.login(&venue);
    assert_eq!(venue.inject(Injection::TlsFatalAlert), 1);
    match raw.until_end() {
        Ended::Tls(rustls::Error::AlertReceived(alert)) => {
            assert_eq!(alert, rustls::AlertDescription::BadRecordMac);
        }
        other => panic!("expected a fatal alert, got {other:?}"),
    }
    assert!(raw.plain.is_empty(), "nothing came before the alert");
    wait(&venue, "fault disconnect", |s| s.disconnects.fault == 1);
    assert_serves_normally(&venue);
}

#[test]
fn tls_close_notify_mid_stream_ends_tls_without_a_websocket_close() {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    raw.login(&venue);
    assert_eq!(venue.inject(Injection::TlsCloseNotify), 1);
    assert!(matches!(raw.until_end(), Ended::CloseNotify));
    assert!(raw.plain.is_empty(), "no close frame came first");
    wait(&venue, "fault disconnect", |s| s.disconnects.fault == 1);
    assert_serves_normally(&venue);
}

// ---- Stalls and silence ---------------------------------------------------------------------

#[test]
fn a_read_stall_backs_up_the_client_writes_until_reads_resume() {
    let venue = start(SimConfig {
        receive_buffer: Some(4096),
        ..SimConfig::default()
    });
    let mut raw = RawClient::connect(&venue);
    socket2::SockRef::from(&raw.tcp)
        .set_send_buffer_size(4096)
        .expect("SO_SNDBUF");
    assert_eq!(
        venue.inject(Injection::StallReads(Duration::from_secs(60))),
        1
    );
    let text = format!(r#"{{"op":"pad","pad":"{}"}}"#, "x".repeat(60_000));
    let frame = client_frame(0x1, text.as_bytes());
    raw.tcp.set_nonblocking(true).expect("nonblocking");
    let mut taken = 0;
    let backed_up = loop {
        if taken < frame.len() {
            taken += raw.tls.writer().write(&frame[taken..]).expect("rustls");
        }
        match raw.tls.write_tls(&mut raw.tcp) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
            Err(e) => panic!("write failed: {e}"),
        }
        if taken == frame.len() && !raw.tls.wants_write() {
            break false;
        }
    };
    assert!(
        backed_up,
        "{} bytes went out although the venue was not reading",
        frame.len()
    );
    assert!(
        venue.received().is_empty(),
        "the venue read during its stall"
    );

    assert_eq!(venue.inject(Injection::ResumeReads), 1);
    raw.tcp.set_nonblocking(false).expect("blocking");
    while taken < frame.len() || raw.tls.wants_write() {
        if taken < frame.len() {
            taken += raw.tls.writer().write(&frame[taken..]).expect("rustls");
        }
        raw.tls.write_tls(&mut raw.tcp).expect("write resumes");
    }
    assert_eq!(
        raw.next_text(),
        r#"{"event":"error","code":30003,"msg":"Invalid op"}"#
    );
    assert_eq!(venue.received()[0].text, text);
    assert_serves_normally(&venue);
}

#[test]
fn a_read_stall_ends_by_itself_after_its_duration() {
    let venue = start(SimConfig::default());
    let mut ws = connect(&venue);
    let stall = Duration::from_millis(300);
    let before = Instant::now();
    assert_eq!(venue.inject(Injection::StallReads(stall)), 1);
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong");
    assert!(before.elapsed() >= stall, "answered during the stall");
    assert_eq!(venue.stats().disconnects.total(), 0);
}

#[test]
fn a_silent_venue_reads_and_processes_but_sends_nothing() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_eq!(venue.inject(Injection::Silence), 1);
    send(&mut ws, "ping");
    send(&mut ws, &spot_cancel("1", &order));
    ws.send(Message::Ping(b"hello".to_vec().into()))
        .expect("ping frame");
    wait(&venue, "both replies withheld", |s| {
        s.pings == 1 && s.cancels_acked == 1 && s.replies_lost == 2
    });
    wait_for_record(&venue, Opcode::Ping);
    assert!(!is_resting(&venue, &order), "the cancel took effect");
    // Injections still go out: this marker is the first thing after the login reply.
    assert_eq!(venue.inject(Injection::Text("marker".into())), 1);
    match next(&mut ws) {
        Message::Text(text) => assert_eq!(text.as_str(), "marker"),
        other => panic!("the silent venue sent {other:?}"),
    }
    assert_serves_normally(&venue);
}

/// Waits until the venue recorded a frame of this kind.
fn wait_for_record(venue: &SimVenue, opcode: Opcode) {
    let deadline = Instant::now() + SAFETY;
    while !venue.received().iter().any(|f| f.opcode == opcode) {
        assert!(Instant::now() < deadline, "no {opcode:?} recorded");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_silent_connection_ends_without_a_close_frame() {
    let venue = start(SimConfig {
        lifetime: Some(Duration::from_millis(500)),
        ..SimConfig::default()
    });
    let mut raw = RawClient::connect(&venue);
    assert_eq!(venue.inject(Injection::Silence), 1);
    assert!(matches!(raw.until_end(), Ended::Eof));
    assert!(raw.plain.is_empty(), "a close frame was sent");
    let stats = wait(&venue, "lifetime", |s| s.disconnects.lifetime == 1);
    assert_eq!(stats.closes_sent, 0);
}

// ---- Hostile frames -------------------------------------------------------------------------

/// The venue sends exactly `expected` for `injection`, then carries on serving the connection.
fn assert_injects_exactly(injection: Injection, expected: &[u8]) {
    let venue = start(SimConfig::default());
    let mut raw = RawClient::connect(&venue);
    assert_eq!(venue.inject(injection), 1);
    assert_eq!(raw.take(expected.len()), expected);
    raw.send_text("ping");
    assert_eq!(raw.take(PONG_FRAME.len()), PONG_FRAME);
    assert_serves_normally(&venue);
}

#[test]
fn sends_a_frame_header_claiming_2_pow_40_bytes() {
    assert_injects_exactly(
        Injection::HugeFrameHeader,
        &[0x81, 0x7F, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
    );
}

#[test]
fn sends_a_masked_server_frame() {
    assert_injects_exactly(
        Injection::MaskedFrame,
        &[0x81, 0x84, 0x37, 0xFA, 0x21, 0x3D, 0x47, 0x95, 0x4F, 0x5A],
    );
}

#[test]
fn sends_a_frame_with_the_reserved_bits_set() {
    assert_injects_exactly(
        Injection::ReservedBits,
        &[0xF1, 0x04, b'p', b'o', b'n', b'g'],
    );
}

#[test]
fn sends_a_text_frame_that_is_not_utf8() {
    assert_injects_exactly(Injection::InvalidUtf8, &[0x81, 0x02, 0xC3, 0x28]);
}

#[test]
fn sends_a_frame_with_a_reserved_opcode() {
    assert_injects_exactly(Injection::BadOpcode, &[0x83, 0x04, b'p', b'o', b'n', b'g']);
}

#[test]
fn sends_raw_bytes_as_they_are() {
    assert_injects_exactly(Injection::Raw(vec![0x81, 0x01]), &[0x81, 0x01]);
}

#[test]
fn a_conforming_client_refuses_every_hostile_frame() {
    let venue = start(SimConfig::default());
    for injection in [
        Injection::HugeFrameHeader,
        Injection::MaskedFrame,
        Injection::ReservedBits,
        Injection::InvalidUtf8,
        Injection::BadOpcode,
    ] {
        let mut ws = connect(&venue);
        assert_eq!(venue.inject(injection.clone()), 1);
        match ws.read() {
            Err(tungstenite::Error::Io(e)) => panic!("{injection:?}: no refusal, only {e}"),
            Err(_) => {}
            Ok(message) => panic!("{injection:?} was accepted as {message:?}"),
        }
    }
}

// ---- Login ----------------------------------------------------------------------------------

#[test]
fn a_login_that_is_never_answered_leaves_the_connection_open_and_logged_out() {
    let venue = start(SimConfig::default());
    let order = spot_order(&venue);
    venue.set_faults(Faults {
        login: LoginFault::Ignore,
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    send(&mut ws, &good_login(venue.config()));
    send(&mut ws, "ping");
    assert_eq!(next_text(&mut ws), "pong", "the login got no reply");
    send(&mut ws, &spot_cancel("1", &order));
    assert_eq!(next_json(&mut ws)["code"], 30004);
    let stats = venue.stats();
    assert_eq!((stats.logins_ignored, stats.logins_ok), (1, 0));
    assert_serves_normally(&venue);
}

#[test]
fn a_forced_login_rejection_sends_the_chosen_code_then_closes() {
    let venue = start(SimConfig::default());
    venue.set_faults(Faults {
        login: LoginFault::Reject {
            code: 30014,
            msg: "Request timestamp expired".into(),
        },
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    send(&mut ws, &good_login(venue.config()));
    assert_eq!(
        next_text(&mut ws),
        r#"{"event":"error","code":30014,"msg":"Request timestamp expired"}"#
    );
    assert_eq!(expect_close(&mut ws), 1000);
    wait(&venue, "login failure", |s| s.disconnects.login_failed == 1);
    assert_serves_normally(&venue);
}

#[test]
fn a_client_clock_skewed_beyond_the_window_gets_30014() {
    let venue = start(SimConfig::default());
    for offset in [40, -40] {
        venue.set_faults(Faults {
            login_clock_offset_s: offset,
            ..Faults::default()
        });
        let mut ws = connect(&venue);
        send(&mut ws, &good_login(venue.config()));
        assert_eq!(
            next_text(&mut ws),
            r#"{"event":"error","code":30014,"msg":"Request timestamp expired"}"#,
            "venue clock {offset} s off"
        );
        assert_eq!(expect_close(&mut ws), 1000);
    }
    venue.set_faults(Faults {
        login_clock_offset_s: 20,
        ..Faults::default()
    });
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    assert_serves_normally(&venue);
}

#[test]
fn a_close_right_after_login_follows_the_login_reply() {
    let venue = start(SimConfig::default());
    venue.set_faults(Faults {
        close_after_login: true,
        ..Faults::default()
    });
    let mut raw = RawClient::connect(&venue);
    raw.login(&venue);
    assert_eq!(raw.take(4), [0x88, 0x02, 0x03, 0xE8]);
    assert_serves_normally(&venue);
}

// ---- Lifetime and reconnections -------------------------------------------------------------

#[test]
fn the_lifetime_disconnect_loses_replies_not_yet_sent() {
    let venue = start(SimConfig {
        lifetime: Some(Duration::from_millis(1500)),
        ..SimConfig::default()
    });
    let order = spot_order(&venue);
    let mut ws = connect(&venue);
    login(&venue, &mut ws);
    venue.set_faults(Faults {
        reply_delay: Duration::from_secs(60),
        ..Faults::default()
    });
    send(&mut ws, &spot_cancel("1", &order));
    wait(&venue, "cancel processed", |s| s.cancels_acked == 1);
    assert!(!is_resting(&venue, &order));
    // The close comes with no acknowledgement before it.
    assert_eq!(expect_close(&mut ws), 1000);
    let stats = wait(&venue, "lifetime disconnect", |s| {
        s.disconnects.lifetime == 1
    });
    assert_eq!(stats.replies_lost, 1);
    assert_serves_normally(&venue);
}

#[test]
fn accept_times_show_the_spacing_of_reconnection_attempts() {
    let venue = start(SimConfig {
        record_limit: 3,
        ..SimConfig::default()
    });
    let before = monotonic_ns();
    let gap = Duration::from_millis(30);
    for n in 1..=4 {
        drop(TcpStream::connect(venue.addr()).expect("connects"));
        wait(&venue, "accepted", |s| s.connections_accepted == n);
        std::thread::sleep(gap);
    }
    let times = venue.accept_times_ns();
    assert_eq!(times.len(), 3, "the oldest was dropped");
    assert!(times[0] > before);
    let gap_ns = u64::try_from(gap.as_nanos()).expect("small");
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= gap_ns, "{times:?}");
    }
    assert!(times[2] <= monotonic_ns());
}
