//! `RestClient` against the simulated venue over real TLS (the venue's CA added as a root),
//! driven by a small mio loop as the engine drives it: warm-up, verdicts, keep-alive (two
//! connections, so that a keep-warm request never holds a cancel up), timeouts, reconnection
//! and the clock offset.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitget_cancel::clock::monotonic_ns;
use bitget_cancel::engine::{Credentials, ReconnectBackoff};
use bitget_cancel::rest::{RestClient, RestConfig, RestError, RestEvent, SendError, Verdict};
use bitget_cancel::sim::{RestFaults, SimConfig, SimVenue};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
use mio::{Events, Poll, Token};

/// A safety net only: a test that waits this long has failed.
const SAFETY: Duration = Duration::from_secs(10);
const TOKEN: Token = Token(3);

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

fn venue() -> SimVenue {
    SimVenue::start(SimConfig::default()).expect("the venue starts")
}

fn credentials(venue: &SimVenue) -> Credentials {
    let config = venue.config();
    Credentials::new(&config.api_key, &config.secret, &config.passphrase).expect("valid")
}

fn config_for(venue: &SimVenue) -> RestConfig {
    RestConfig {
        base_url: venue.rest_url(),
        extra_ca_pem: Some(venue.ca_pem().to_owned()),
        ..RestConfig::default()
    }
}

/// The client and the loop that drives it, with every event it reported.
struct Driver {
    poll: Poll,
    events: Events,
    client: RestClient,
    out: Vec<RestEvent>,
    seen: Vec<RestEvent>,
    /// Added to the wall clock given to the client (a skewed local clock).
    skew_ms: i64,
}

impl Driver {
    fn start(config: RestConfig, credentials: &Credentials) -> Driver {
        let mut client = RestClient::new(config, credentials, TOKEN).expect("valid config");
        client.start(monotonic_ns()).expect("localhost resolves");
        Driver {
            poll: Poll::new().expect("poll"),
            events: Events::with_capacity(16),
            client,
            out: Vec::with_capacity(16),
            seen: Vec::new(),
            skew_ms: 0,
        }
    }

    fn for_venue(venue: &SimVenue) -> Driver {
        Driver::start(config_for(venue), &credentials(venue))
    }

    fn unix_ms(&self) -> u64 {
        unix_ms().saturating_add_signed(self.skew_ms)
    }

    /// One loop turn: wait for an event or the client's deadline (at most 50 ms), then advance.
    fn turn(&mut self) {
        let now = monotonic_ns();
        let wait = self
            .client
            .next_deadline()
            .map_or(Duration::from_millis(50), |d| {
                Duration::from_nanos(d.saturating_sub(now)).min(Duration::from_millis(50))
            });
        self.poll.poll(&mut self.events, Some(wait)).expect("poll");
        for event in self.events.iter() {
            if event.token() == TOKEN {
                self.client
                    .on_event(event.is_readable(), event.is_writable());
            }
        }
        let unix_ms = self.unix_ms();
        self.client
            .advance(self.poll.registry(), monotonic_ns(), unix_ms, &mut self.out);
        self.seen.append(&mut self.out);
    }

    fn until(&mut self, what: &str, mut done: impl FnMut(&Driver) -> bool) {
        let deadline = Instant::now() + SAFETY;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {SAFETY:?}; events {:?}; client {:?}",
                self.seen,
                self.client
            );
            self.turn();
        }
    }

    /// Turns the loop for `span`.
    fn run_for(&mut self, span: Duration) {
        let end = Instant::now() + span;
        while Instant::now() < end {
            self.turn();
        }
    }

    fn ready(&mut self) {
        self.until("ready", |d| d.client.is_ready());
    }

    fn send(&mut self, tag: u64, cancel: &Cancel) {
        self.ready();
        let unix_ms = self.unix_ms();
        self.client
            .send_cancel(tag, cancel, monotonic_ns(), unix_ms)
            .expect("ready, so accepted");
    }

    /// The events that carry `tag`.
    fn for_tag(&self, tag: u64) -> Vec<RestEvent> {
        self.seen
            .iter()
            .filter(|e| {
                matches!(e, RestEvent::Reply { tag: t, .. } | RestEvent::Failed { tag: t, .. } if *t == tag)
            })
            .cloned()
            .collect()
    }

    /// Waits for the one event of `tag`.
    fn outcome(&mut self, tag: u64) -> RestEvent {
        self.until("the cancel's outcome", |d| !d.for_tag(tag).is_empty());
        self.for_tag(tag).remove(0)
    }

    fn verdict(&mut self, tag: u64, cancel: &Cancel) -> Verdict {
        self.send(tag, cancel);
        match self.outcome(tag) {
            RestEvent::Reply { verdict, .. } => verdict,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    fn lost(&self) -> Vec<RestError> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                RestEvent::Lost(error) => Some(error.clone()),
                _ => None,
            })
            .collect()
    }
}

fn spot(order_id: &str) -> Cancel {
    Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT").unwrap(),
        OrderRef::order_id(order_id).unwrap(),
    )
}

fn rejected(code: i64, msg: &str) -> Verdict {
    Verdict::Rejected {
        code,
        msg: bitget_cancel::outcome::VenueMsg::new(msg),
    }
}

#[test]
fn the_connection_is_open_and_warm_before_the_first_cancel() {
    let venue = venue();
    let mut driver = Driver::for_venue(&venue);
    driver.ready();
    assert_eq!(driver.seen.first(), Some(&RestEvent::Connected));
    assert!(
        driver.client.clock_offset_ms().is_some(),
        "ready: the clock is measured"
    );
    // The measurement's three samples, on one connection.
    driver.until("the clock measured from three samples", |d| {
        d.client.clock_samples() == 3
    });
    let stats = venue.rest_stats();
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.cancels, 0, "warming sends no cancel");
    let record = venue.rest_requests();
    assert_eq!(record.len(), 3);
    assert!(record.iter().all(|r| r.path == "/api/v2/public/time"));
    assert!(record.iter().all(|r| r.conn == record[0].conn));

    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    assert_eq!(driver.verdict(1, &spot(&order.order_id)), Verdict::Acked);
    assert_eq!(
        venue.rest_stats().connections_accepted,
        2,
        "the cancel used a warm connection"
    );
}

#[test]
fn a_spot_cancel_is_acked_and_the_order_leaves_the_book() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let mut driver = Driver::for_venue(&venue);
    driver.send(7, &spot(&order.order_id));
    let RestEvent::Reply {
        tag,
        verdict,
        round_trip_ns,
    } = driver.outcome(7)
    else {
        panic!("{:?}", driver.seen);
    };
    assert_eq!((tag, verdict), (7, Verdict::Acked));
    assert!(round_trip_ns > 0);
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    let cancel = venue
        .rest_requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("the cancel reached the venue");
    assert_eq!(cancel.path, "/api/v2/spot/trade/cancel-order");
    assert_eq!(
        cancel.body,
        format!(r#"{{"symbol":"BTCUSDT","orderId":"{}"}}"#, order.order_id)
    );
}

#[test]
fn every_cancel_carries_the_signed_headers_and_demo_trading_its_header() {
    let venue = venue();
    let config = RestConfig {
        demo_trading: true,
        ..config_for(&venue)
    };
    let mut driver = Driver::start(config, &credentials(&venue));
    driver.verdict(1, &spot("1"));
    let record = venue.rest_requests();
    let cancel = record.iter().find(|r| r.method == "POST").expect("sent");
    let port = venue.rest_addr().port();
    assert_eq!(
        cancel.header("host"),
        Some(format!("localhost:{port}").as_str())
    );
    assert_eq!(cancel.header("ACCESS-KEY"), Some("sim-key"));
    assert_eq!(cancel.header("ACCESS-PASSPHRASE"), Some("sim-passphrase"));
    assert_eq!(cancel.header("ACCESS-SIGN").map(str::len), Some(44));
    assert_eq!(cancel.header("Content-Type"), Some("application/json"));
    let timestamp: u64 = cancel.header("ACCESS-TIMESTAMP").unwrap().parse().unwrap();
    assert!(
        timestamp.abs_diff(unix_ms()) < 10_000,
        "Unix milliseconds: {timestamp}"
    );
    assert!(record.iter().all(|r| r.header("paptrading") == Some("1")));

    let mut live = Driver::for_venue(&venue);
    live.verdict(2, &spot("2"));
    let last = venue.rest_requests().pop().unwrap();
    assert_eq!(last.header("paptrading"), None);
}

#[test]
fn rejections_carry_the_venues_code_and_message_on_one_keep_alive_connection() {
    let venue = venue();
    let mut driver = Driver::for_venue(&venue);
    assert_eq!(
        driver.verdict(1, &spot("1")),
        rejected(43001, "The order does not exist")
    );
    let futures = Cancel::new(
        InstType::UsdtFutures,
        InstId::new("BTCUSDT").unwrap(),
        OrderRef::client_oid("nope-1").unwrap(),
    );
    assert_eq!(
        driver.verdict(2, &futures),
        rejected(40768, "Order does not exist")
    );
    let order = venue
        .seed_orders(InstType::UsdcFutures, "ETHPERP", 1)
        .remove(0);
    let by_both = Cancel::new(
        InstType::UsdcFutures,
        InstId::new("ETHPERP").unwrap(),
        OrderRef::from_parts(Some(&order.order_id), order.client_oid.as_deref()).unwrap(),
    );
    assert_eq!(driver.verdict(3, &by_both), Verdict::Acked);
    assert_eq!(venue.rest_stats().connections_accepted, 2);
    assert!(driver.lost().is_empty(), "{:?}", driver.lost());
}

#[test]
fn a_bad_signature_is_rejected_with_40009() {
    let venue = venue();
    let config = venue.config();
    let wrong_secret =
        Credentials::new(&config.api_key, "not-the-secret", &config.passphrase).unwrap();
    let mut driver = Driver::start(config_for(&venue), &wrong_secret);
    assert_eq!(
        driver.verdict(1, &spot("1")),
        rejected(40009, "sign signature error")
    );
    assert_eq!(venue.rest_stats().cancels, 0, "refused before the book");
}

#[test]
fn chunked_and_content_length_replies_give_the_same_verdicts() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut driver = Driver::for_venue(&venue);
    assert_eq!(
        driver.verdict(1, &spot(&orders[0].order_id)),
        Verdict::Acked
    );
    venue.set_rest_faults(RestFaults {
        chunked: true,
        ..RestFaults::default()
    });
    assert_eq!(
        driver.verdict(2, &spot(&orders[1].order_id)),
        Verdict::Acked
    );
    assert_eq!(
        driver.verdict(3, &spot(&orders[1].order_id)),
        rejected(43001, "The order does not exist")
    );
    assert_eq!(venue.rest_stats().connections_accepted, 2);
}

#[test]
fn a_server_that_closes_the_keep_alive_is_replaced_and_the_next_cancel_succeeds() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    venue.set_rest_faults(RestFaults {
        close_after_reply: true,
        ..RestFaults::default()
    });
    let mut driver = Driver::for_venue(&venue);
    assert_eq!(
        driver.verdict(1, &spot(&orders[0].order_id)),
        Verdict::Acked
    );
    assert_eq!(
        driver.verdict(2, &spot(&orders[1].order_id)),
        Verdict::Acked
    );
    assert!(
        driver
            .lost()
            .iter()
            .all(|e| *e == RestError::ClosedByServer),
        "{:?}",
        driver.lost()
    );
    assert!(venue.rest_stats().connections_accepted >= 3);
    // A routine close is replaced at once, and a fresh clock measurement is not repeated on
    // every new connection: two connections, each replaced after the reply it carried.
    driver.run_for(Duration::from_millis(300));
    assert!(
        venue.rest_stats().connections_accepted <= 6,
        "{:?}",
        venue.rest_stats()
    );
    assert_eq!(driver.for_tag(1).len() + driver.for_tag(2).len(), 2);
}

#[test]
fn a_slow_reply_times_out_with_exactly_one_failed_event() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let timeout = Duration::from_millis(300);
    let config = RestConfig {
        request_timeout: timeout,
        ..config_for(&venue)
    };
    let mut driver = Driver::start(config, &credentials(&venue));
    driver.ready();
    let delay = Duration::from_millis(1500);
    venue.set_rest_faults(RestFaults {
        delay: Some(delay),
        ..RestFaults::default()
    });
    let sent = Instant::now();
    driver.send(1, &spot(&order.order_id));
    // One request at a time on a connection: a second cancel goes on the other connection if
    // it is open and idle, and a third finds both busy.
    let second = driver
        .client
        .send_cancel(2, &spot("2"), monotonic_ns(), unix_ms());
    assert!(
        matches!(second, Ok(()) | Err(SendError::NotReady)),
        "{second:?}"
    );
    assert_eq!(
        driver
            .client
            .send_cancel(3, &spot("3"), monotonic_ns(), unix_ms()),
        Err(SendError::NotReady)
    );
    let outcome = driver.outcome(1);
    assert!(sent.elapsed() >= timeout);
    assert_eq!(
        outcome,
        RestEvent::Failed {
            tag: 1,
            error: RestError::Timeout("waiting for the reply")
        }
    );
    // The late reply is never read as an answer: the connection it would come on is gone.
    driver.run_for(delay + Duration::from_millis(300));
    assert_eq!(driver.for_tag(1).len(), 1, "{:?}", driver.seen);
    assert!(
        driver
            .lost()
            .contains(&RestError::Timeout("waiting for the reply"))
    );
    venue.set_rest_faults(RestFaults::default());
    driver.ready();
}

#[test]
fn a_server_error_fails_the_cancel_without_a_verdict() {
    let venue = venue();
    let mut driver = Driver::for_venue(&venue);
    driver.ready();
    venue.set_rest_faults(RestFaults {
        server_error: Some(503),
        ..RestFaults::default()
    });
    driver.send(1, &spot("1"));
    assert_eq!(
        driver.outcome(1),
        RestEvent::Failed {
            tag: 1,
            error: RestError::ServerError { status: 503 }
        }
    );
    driver.ready();
    assert_eq!(
        venue.rest_stats().connections_accepted,
        2,
        "5xx keeps the connection"
    );
}

#[test]
fn a_connection_lost_mid_request_fails_the_cancel_and_reconnects() {
    let venue = venue();
    let mut driver = Driver::for_venue(&venue);
    driver.ready();
    venue.set_rest_faults(RestFaults {
        delay: Some(Duration::from_secs(5)),
        ..RestFaults::default()
    });
    driver.send(1, &spot("1"));
    driver.until("the request reached the venue", |_| {
        venue.rest_requests().iter().any(|r| r.method == "POST")
    });
    venue.set_rest_faults(RestFaults {
        down: true,
        ..RestFaults::default()
    });
    let RestEvent::Failed { tag: 1, error } = driver.outcome(1) else {
        panic!("{:?}", driver.seen);
    };
    assert!(matches!(error, RestError::ConnectionLost(_)), "{error}");
    venue.set_rest_faults(RestFaults::default());
    driver.ready();
    assert_eq!(driver.for_tag(1).len(), 1);
}

#[test]
fn a_venue_that_is_down_is_retried_with_backoff_until_it_is_back() {
    let venue = venue();
    venue.set_rest_faults(RestFaults {
        down: true,
        ..RestFaults::default()
    });
    let config = RestConfig {
        reconnect: ReconnectBackoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            reset_after: Duration::from_secs(30),
        },
        ..config_for(&venue)
    };
    let mut driver = Driver::start(config, &credentials(&venue));
    driver.run_for(Duration::from_millis(1500));
    assert!(!driver.client.is_ready());
    assert_eq!(
        driver
            .client
            .send_cancel(1, &spot("1"), monotonic_ns(), unix_ms()),
        Err(SendError::NotReady)
    );
    let attempts = venue.rest_stats().connections_accepted;
    // Delays of 25-50, 50-100, 100-200, then 200-400 ms: a handful in 1.5 s, not a tight loop.
    assert!((3..=30).contains(&attempts), "{attempts} attempts");
    assert!(driver.lost().len() as u64 >= attempts - 1);
    venue.set_rest_faults(RestFaults::default());
    driver.ready();
    assert!(driver.for_tag(1).is_empty(), "a refused send has no event");
}

#[test]
fn the_keep_warm_request_goes_out_while_idle() {
    let venue = venue();
    let config = RestConfig {
        keep_warm_every: Duration::from_millis(100),
        ..config_for(&venue)
    };
    let mut driver = Driver::start(config, &credentials(&venue));
    driver.ready();
    // Three to measure the clock, then keep-warm requests on both connections in turn.
    driver.until("three keep-warm requests", |_| {
        venue.rest_stats().server_time_requests >= 6
    });
    assert_eq!(venue.rest_stats().connections_accepted, 2);
    let conns: std::collections::BTreeSet<u64> =
        venue.rest_requests().iter().map(|r| r.conn).collect();
    assert_eq!(conns.len(), 2, "each connection kept warm");
    assert_eq!(venue.rest_stats().cancels, 0);
}

#[test]
fn a_skewed_local_clock_is_corrected_by_the_measured_offset() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let mut driver = Driver::for_venue(&venue);
    // 60 s behind: outside the venue's 30 s window unless corrected.
    driver.skew_ms = -60_000;
    driver.ready();
    let offset = driver.client.clock_offset_ms().expect("measured");
    assert!((55_000..=65_000).contains(&offset), "offset {offset} ms");
    assert_eq!(driver.verdict(1, &spot(&order.order_id)), Verdict::Acked);
}

#[test]
fn an_uncorrected_skew_is_refused_as_an_expired_timestamp() {
    let venue = venue();
    let config = RestConfig {
        // The connection warms with the true clock; then the local clock jumps.
        keep_warm_every: Duration::from_secs(3600),
        ..config_for(&venue)
    };
    let mut driver = Driver::start(config, &credentials(&venue));
    driver.ready();
    let offset = driver.client.clock_offset_ms().expect("measured");
    assert!(offset.abs() < 5_000, "offset {offset} ms");
    driver.skew_ms = -60_000;
    assert_eq!(
        driver.verdict(1, &spot("1")),
        rejected(40008, "Request timestamp expired")
    );
}

#[test]
fn shutdown_reports_the_cancel_in_flight() {
    let venue = venue();
    let mut driver = Driver::for_venue(&venue);
    driver.ready();
    venue.set_rest_faults(RestFaults {
        delay: Some(Duration::from_secs(2)),
        ..RestFaults::default()
    });
    driver.send(1, &spot("1"));
    driver
        .client
        .shutdown(driver.poll.registry(), &mut driver.out);
    assert_eq!(
        driver.out,
        vec![RestEvent::Failed {
            tag: 1,
            error: RestError::Shutdown
        }]
    );
    assert!(!driver.client.is_ready());
    assert_eq!(driver.client.next_deadline(), None);
}

#[test]
fn debug_never_shows_the_secret_or_passphrase() {
    let venue = venue();
    let creds = Credentials::new("key-1", "s3cr3t-value", "pa55-value").unwrap();
    let client = RestClient::new(config_for(&venue), &creds, TOKEN).unwrap();
    let shown = format!("{client:?}");
    assert!(shown.contains("key-1"), "{shown}");
    assert!(
        !shown.contains("s3cr3t-value") && !shown.contains("pa55-value"),
        "{shown}"
    );
}

#[test]
fn an_untrusted_venue_is_never_ready() {
    let venue = venue();
    let config = RestConfig {
        extra_ca_pem: None,
        ..config_for(&venue)
    };
    let mut driver = Driver::start(config, &credentials(&venue));
    driver.until("a failed handshake", |d| {
        d.lost().iter().any(|e| matches!(e, RestError::Tls(_)))
    });
    assert!(!driver.client.is_ready());
    assert_eq!(venue.rest_stats().requests, 0);
}

#[test]
fn an_order_query_never_takes_the_last_connection_ready_for_a_cancel() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let mut driver = Driver::for_venue(&venue);
    driver.until("both connections up and measured", |d| {
        d.seen
            .iter()
            .filter(|e| matches!(e, RestEvent::Connected))
            .count()
            == 2
            && d.client.can_query()
    });
    let query = spot(&orders[1].order_id);
    driver.send(1, &spot(&orders[0].order_id));
    // One connection carries the cancel: the other is kept for the next cancel.
    assert!(!driver.client.can_query());
    let unix_ms = driver.unix_ms();
    assert!(matches!(
        driver.client.send_query(2, &query, monotonic_ns(), unix_ms),
        Err(SendError::NotReady)
    ));
    assert!(matches!(
        driver.outcome(1),
        RestEvent::Reply {
            verdict: Verdict::Acked,
            ..
        }
    ));
    driver.until("a connection to spare", |d| d.client.can_query());
    let unix_ms = driver.unix_ms();
    driver
        .client
        .send_query(3, &query, monotonic_ns(), unix_ms)
        .expect("a connection to spare");
    driver.until("the query's answer", |d| {
        d.seen
            .iter()
            .any(|e| matches!(e, RestEvent::Order { tag: 3, .. }))
    });
}
