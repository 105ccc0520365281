//! Heap allocations on the driving thread for warm REST cancels: `send_cancel`, then `advance`
//! until the verdict, against the simulated venue over TLS. The venue's threads are not counted
//! (the counting allocator counts per thread). Set `ALLOC_BACKTRACE=1` to see where the first
//! counted allocations come from.
//!
//! Once the connection is open, the request is encoded and signed into reused buffers, sealed by
//! the crate's TLS record layer, and the reply is read into a preallocated reader and decoded
//! with serde_json borrowing from it: the figure must be exactly zero.
//!
//! The client dials its two keep-alive connections at once, and cancels go on the first one
//! ready; the second one's handshake (and the session tickets the server sends after it) may
//! finish at any time on a loaded machine, and a handshake allocates. The measurement starts
//! once both are open and what followed their opening was read: it measures warm cancels, not
//! the second connection's start.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitget_cancel::clock::monotonic_ns;
use bitget_cancel::engine::Credentials;
use bitget_cancel::rest::{RestClient, RestConfig, RestEvent, Verdict};
use bitget_cancel::sim::{SimConfig, SimVenue};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
use mio::{Events, Poll, Token};

const SAFETY: Duration = Duration::from_secs(10);
const TOKEN: Token = Token(0);

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

struct Loop {
    poll: Poll,
    events: Events,
    client: RestClient,
    out: Vec<RestEvent>,
    /// Connections the client reported open.
    connected: usize,
}

impl Loop {
    fn turn(&mut self) {
        self.poll
            .poll(&mut self.events, Some(Duration::from_millis(50)))
            .expect("poll");
        for event in self.events.iter() {
            self.client
                .on_event(event.is_readable(), event.is_writable());
        }
        let before = self.out.len();
        self.client.advance(
            self.poll.registry(),
            monotonic_ns(),
            unix_ms(),
            &mut self.out,
        );
        self.connected += self.out[before..]
            .iter()
            .filter(|e| matches!(e, RestEvent::Connected))
            .count();
    }

    /// Turns until both keep-alive connections were reported open, then until nothing more
    /// comes for a while (the second one's session tickets read).
    fn until_both_open_and_quiet(&mut self) {
        let deadline = Instant::now() + SAFETY;
        while self.connected < 2 {
            assert!(
                Instant::now() < deadline,
                "one connection only: {:?}",
                self.out
            );
            self.turn();
            self.out.retain(|e| !matches!(e, RestEvent::Connected));
            assert!(self.out.is_empty(), "unexpected: {:?}", self.out);
        }
        let quiet_from = Instant::now();
        while quiet_from.elapsed() < Duration::from_millis(200) {
            self.turn();
            assert!(self.out.is_empty(), "unexpected: {:?}", self.out);
        }
    }

    fn until_ready(&mut self) {
        let deadline = Instant::now() + SAFETY;
        while !self.client.is_ready() {
            assert!(Instant::now() < deadline, "not ready: {:?}", self.out);
            self.turn();
        }
        self.out.clear();
    }

    /// One cancel, sent and answered; returns its verdict.
    fn cancel(&mut self, tag: u64, cancel: &Cancel) -> Verdict {
        self.until_ready();
        self.client
            .send_cancel(tag, cancel, monotonic_ns(), unix_ms())
            .expect("ready");
        let deadline = Instant::now() + SAFETY;
        loop {
            assert!(Instant::now() < deadline, "no verdict: {:?}", self.out);
            self.turn();
            // The second keep-alive connection may come up meanwhile.
            self.out.retain(|e| !matches!(e, RestEvent::Connected));
            if let Some(RestEvent::Reply { verdict, .. }) = self.out.first() {
                let verdict = *verdict;
                self.out.clear();
                return verdict;
            }
            assert!(self.out.is_empty(), "unexpected: {:?}", self.out);
        }
    }
}

#[test]
fn a_warm_rest_cancel_allocates_nothing_on_the_driving_thread() {
    let venue = SimVenue::start(SimConfig::default()).expect("venue");
    let config = venue.config();
    let credentials =
        Credentials::new(&config.api_key, &config.secret, &config.passphrase).unwrap();
    let rest_config = RestConfig {
        base_url: venue.rest_url(),
        extra_ca_pem: Some(venue.ca_pem().to_owned()),
        keep_warm_every: Duration::from_secs(3600),
        ..RestConfig::default()
    };
    let mut driver = Loop {
        poll: Poll::new().expect("poll"),
        events: Events::with_capacity(16),
        client: RestClient::new(rest_config, &credentials, TOKEN).expect("client"),
        out: Vec::with_capacity(16),
        connected: 0,
    };
    driver.client.start(monotonic_ns()).expect("resolves");

    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 50);
    let cancels: Vec<Cancel> = orders
        .iter()
        .map(|o| {
            Cancel::new(
                InstType::Spot,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id(&o.order_id).unwrap(),
            )
        })
        .collect();
    // Warm up: the connection, the reader, rustls's session ticket, the venue's thread; then
    // both connections open and quiet, and a few more cancels.
    for (tag, cancel) in cancels[..10].iter().enumerate() {
        assert_eq!(driver.cancel(tag as u64, cancel), Verdict::Acked);
    }
    driver.until_both_open_and_quiet();
    for (tag, cancel) in cancels[10..20].iter().enumerate() {
        assert_eq!(driver.cancel(50 + tag as u64, cancel), Verdict::Acked);
    }
    let (allocations, ()) = counting_alloc::count(|| {
        for (tag, cancel) in cancels[20..].iter().enumerate() {
            assert_eq!(driver.cancel(100 + tag as u64, cancel), Verdict::Acked);
        }
    });
    assert_eq!(allocations, 0, "allocations over 30 warm REST cancels");
    assert_eq!(
        driver.connected, 2,
        "no connection opened during the measurement"
    );
    // A rejection is read without allocating too (its message is borrowed from the reply).
    let (allocations, verdict) = counting_alloc::count(|| driver.cancel(999, &cancels[0]));
    assert!(matches!(verdict, Verdict::Rejected { code: 43001, .. }));
    assert_eq!(allocations, 0);
    // Its two keep-alive connections, no more.
    assert_eq!(venue.rest_stats().connections_accepted, 2);
}
