//! Shared fixtures for the engine tests: a simulated venue and an engine configured for it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bitget_cancel::engine::{Config, ConfigBuilder, Credentials, Engine, Handle, IdleStrategy};
use bitget_cancel::sim::{RestingOrder, SimConfig, SimVenue};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, Outcome};

/// The longest any test waits for something that should happen in milliseconds: a safety net
/// that fails the test with a message, never a performance bound.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A venue with the live venue's rules and no idle timeout surprises.
pub fn venue() -> SimVenue {
    venue_with(SimConfig::default())
}

pub fn venue_with(config: SimConfig) -> SimVenue {
    SimVenue::start(config).expect("the simulated venue starts")
}

/// The venue's credentials.
pub fn sim_credentials() -> Credentials {
    let c = SimConfig::default();
    Credentials::new(c.api_key, c.secret, c.passphrase).expect("valid credentials")
}

/// An engine configuration for `venue`: its URLs (V2, and V3 for unified accounts) and CA, one connection and no REST rung (the
/// pool's and the REST rung's own tests ask for them), the park idle strategy (the tests share
/// two cores), quick reconnects.
pub fn config_for(venue: &SimVenue) -> ConfigBuilder {
    Config::builder(sim_credentials())
        .connections(1)
        .no_rest()
        .url(venue.url())
        .uta_url(venue.v3_url())
        .extra_root_ca_pem(venue.ca_pem().as_bytes())
        .idle(IdleStrategy::Backoff)
        .reconnect(bitget_cancel::engine::ReconnectBackoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(30),
        })
}

pub fn start(builder: ConfigBuilder) -> (Engine, Handle) {
    Engine::start(builder.build().expect("valid config")).expect("the engine starts")
}

/// Waits until `done` holds, checking every millisecond; fails the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn wait_live(handle: &Handle) {
    wait_until("the session goes live", || {
        handle.state() == bitget_cancel::engine::SessionState::Live
    });
}

/// The next outcome; fails the test if none comes within [`PATIENCE`].
pub fn next_outcome(handle: &Handle) -> Outcome {
    handle
        .outcome_timeout(PATIENCE)
        .expect("an outcome arrives in time")
}

/// `n` outcomes.
pub fn outcomes(handle: &Handle, n: usize) -> Vec<Outcome> {
    (0..n).map(|_| next_outcome(handle)).collect()
}

pub fn by_order_id(order: &RestingOrder) -> Cancel {
    Cancel::new(
        order.inst_type,
        InstId::new(&order.inst_id).expect("valid symbol"),
        OrderRef::order_id(&order.order_id).expect("valid order id"),
    )
}

pub fn by_client_oid(order: &RestingOrder) -> Cancel {
    Cancel::new(
        order.inst_type,
        InstId::new(&order.inst_id).expect("valid symbol"),
        OrderRef::client_oid(
            order
                .client_oid
                .as_deref()
                .expect("seeded with a client oid"),
        )
        .expect("valid client oid"),
    )
}

pub fn spot(order_id: &str) -> Cancel {
    Cancel::new(
        InstType::Spot,
        InstId::new("BTCUSDT").expect("valid symbol"),
        OrderRef::order_id(order_id).expect("valid order id"),
    )
}

/// Resident memory of this process, in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}
