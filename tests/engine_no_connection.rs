//! Outcomes that say why: a cancel that was never sent because no connection came up carries
//! the last connection error (a certificate nobody trusts, a name that does not resolve, a
//! refused connect), in its reason and in its sentence, not only "queue timeout". Threaded and
//! inline, against the simulated venue.

#[path = "support/engine.rs"]
mod support;

use std::time::{Duration, Instant};

use bitget_cancel::Outcome;
use bitget_cancel::engine::{Config, ConfigBuilder, Engine, IdleStrategy, Resolver};
use bitget_cancel::outcome::{ConnectFailure, NotSentReason, Status};
use bitget_cancel::sim::{SimConfig, SimVenue};
use support::*;

/// Long enough for the first attempts to fail on a loaded machine, short enough for a test.
const MAX_QUEUE: Duration = Duration::from_secs(2);

/// The venue's URLs with the engine's default roots only: the venue's certificate is signed by
/// a CA nobody added.
fn untrusting(venue: &SimVenue) -> ConfigBuilder {
    Config::builder(sim_credentials())
        .url(venue.url())
        .connections(1)
        .no_rest()
        .idle(IdleStrategy::Backoff)
        .max_queue_time(MAX_QUEUE)
}

/// The failure and the error text of a `NotSent(NoConnection)` outcome.
fn no_connection(outcome: &Outcome) -> (ConnectFailure, String) {
    match outcome.status {
        Status::NotSent(NotSentReason::NoConnection { failure, error }) => {
            (failure, error.as_str().to_string())
        }
        other => panic!("expected no_connection, got {other:?}"),
    }
}

fn assert_untrusted_ca(outcome: &Outcome) {
    let (failure, error) = no_connection(outcome);
    assert_eq!(failure, ConnectFailure::Tls, "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    let sentence = outcome.status.to_string();
    assert!(
        sentence.starts_with("not_sent (no_connection): no connection to the venue came up: tls:"),
        "{sentence}"
    );
    assert!(sentence.contains("UnknownIssuer"), "{sentence}");
    assert_eq!(outcome.status.reason(), Some("no_connection"));
    assert_eq!((outcome.attempts, outcome.via), (0, None));
}

#[test]
fn an_untrusted_certificate_shows_in_the_outcome_of_a_cancel_that_waited() {
    let venue = venue();
    let (engine, handle) = start(untrusting(&venue));
    handle.cancel(spot("1")).expect("accepted");
    assert_untrusted_ca(&next_outcome(&handle));
    assert_eq!(engine.stats().sessions, 0);
}

#[test]
fn an_untrusted_certificate_on_both_paths_shows_in_the_outcome_too() {
    let venue = venue();
    let (engine, handle) = start(untrusting(&venue).rest_url(venue.rest_url()).connections(2));
    handle.cancel(spot("1")).expect("accepted");
    assert_untrusted_ca(&next_outcome(&handle));
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.rest.sent), (0, 0));
}

#[test]
fn the_inline_engine_says_why_too() {
    let venue = venue();
    let config = untrusting(&venue).build().expect("valid config");
    let mut engine = Engine::inline(config).expect("the engine starts");
    engine.cancel(spot("1")).expect("accepted");
    let deadline = Instant::now() + PATIENCE;
    let outcome = loop {
        assert!(Instant::now() < deadline, "no outcome");
        engine.poll();
        if let Some(o) = engine.try_outcome() {
            break o;
        }
    };
    assert_untrusted_ca(&outcome);
}

#[test]
fn a_name_that_does_not_resolve_shows_in_the_outcome() {
    let venue = venue();
    let resolver = Resolver::new(|host: &str, _port: u16| {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no such host {host}"),
        ))
    });
    let url = format!("wss://venue.invalid:{}/v2/ws/private", venue.addr().port());
    let (_engine, handle) = start(untrusting(&venue).url(url).resolver(resolver));
    handle.cancel(spot("1")).expect("accepted");
    let (failure, error) = no_connection(&next_outcome(&handle));
    assert_eq!(failure, ConnectFailure::Dns, "{error}");
    assert!(error.contains("venue.invalid"), "{error}");
}

#[test]
fn a_refused_connect_shows_in_the_outcome() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let venue = SimVenue::start(SimConfig::default()).expect("the venue starts");
    let url = format!("wss://127.0.0.1:{port}/v2/ws/private");
    let (_engine, handle) = start(untrusting(&venue).url(url));
    handle.cancel(spot("1")).expect("accepted");
    let (failure, error) = no_connection(&next_outcome(&handle));
    assert_eq!(failure, ConnectFailure::Connect, "{error}");
    assert!(error.starts_with("connection failed: "), "{error}");
}
