//! The venue's clock: a venue two minutes ahead of ours (beyond its 30 s window) must never cost
//! a refused login. With REST the server time is measured before the first login (the median
//! of three samples, one absurd one not believed); without it the upgrade reply's `Date`
//! header serves; a login refused for its timestamp measures the clock again and tries again,
//! and never counts as refused credentials.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Duration;

use bitget_cancel::engine::SessionState;
use bitget_cancel::rest::RestConfig;
use bitget_cancel::sim::{Faults, LoginFault, Opcode, RestFaults, SimConfig, SimVenue};
use chaos::*;
use support::*;

/// Two minutes ahead of ours.
const SKEW_MS: i64 = 120_000;

fn skewed_venue() -> SimVenue {
    venue_with(SimConfig {
        clock_skew_ms: SKEW_MS,
        ..SimConfig::default()
    })
}

fn rest_for(venue: &SimVenue) -> RestConfig {
    RestConfig {
        base_url: venue.rest_url(),
        extra_ca_pem: Some(venue.ca_pem().to_owned()),
        ..RestConfig::default()
    }
}

/// When the venue received its first login, on the monotonic clock.
fn first_login_at(venue: &SimVenue) -> u64 {
    venue
        .received()
        .iter()
        .find(|f| f.opcode == Opcode::Text && f.text.contains(r#""op":"login""#))
        .map(|f| f.at_ns)
        .expect("a login was received")
}

fn assert_one_cancel_acked(handle: &bitget_cancel::Handle, venue: &SimVenue) {
    let mut tally = Tally::new(handle);
    assert_recovers(&mut tally, venue);
}

#[test]
fn without_rest_the_upgrades_date_header_corrects_the_first_login() {
    let venue = skewed_venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    assert_eq!(
        venue.stats().logins_failed,
        0,
        "the first login was accepted"
    );
    assert_eq!(engine.stats().sessions, 1);
    let offset = engine.stats().rest.clock_offset_ms;
    assert!(
        (SKEW_MS - 3_000..=SKEW_MS + 3_000).contains(&offset),
        "offset {offset} ms"
    );
    assert_one_cancel_acked(&handle, &venue);
}

#[test]
fn with_rest_the_server_time_is_measured_before_the_first_login() {
    let venue = skewed_venue();
    // The server time takes a while to come: the first login waits for it.
    let answer_after = Duration::from_millis(300);
    venue.set_rest_faults(RestFaults {
        server_time_delay: Some(answer_after),
        ..RestFaults::default()
    });
    let (engine, handle) = start(chaos_config(&venue).rest(rest_for(&venue)));
    wait_live(&handle);
    assert_eq!(
        venue.stats().logins_failed,
        0,
        "the first login was accepted"
    );
    let stats = engine.stats();
    assert!(stats.rest.clock_synced);
    assert!(
        (SKEW_MS - 1_000..=SKEW_MS + 1_000).contains(&stats.rest.clock_offset_ms),
        "offset {} ms",
        stats.rest.clock_offset_ms
    );
    let first_time = venue
        .rest_requests()
        .iter()
        .find(|r| r.path == "/api/v2/public/time")
        .map(|r| r.at_ns)
        .expect("the server time was asked");
    let login = first_login_at(&venue);
    assert!(
        login >= first_time + answer_after.as_nanos() as u64,
        "logged in {} ms after asking the time, before its answer",
        login.saturating_sub(first_time) / 1_000_000
    );
    assert_one_cancel_acked(&handle, &venue);
}

#[test]
fn one_absurd_server_time_is_not_believed() {
    let venue = skewed_venue();
    // The first server time served is ten years off.
    venue.set_rest_faults(RestFaults {
        absurd_server_times: 1,
        ..RestFaults::default()
    });
    let (engine, handle) = start(chaos_config(&venue).rest(rest_for(&venue)));
    wait_live(&handle);
    wait_until("three samples taken", || {
        venue.rest_stats().server_time_requests >= 3
    });
    assert_eq!(venue.stats().logins_failed, 0);
    let offset = engine.stats().rest.clock_offset_ms;
    assert!(
        (SKEW_MS - 1_000..=SKEW_MS + 1_000).contains(&offset),
        "offset {offset} ms"
    );
    assert_one_cancel_acked(&handle, &venue);
}

#[test]
fn a_login_refused_for_its_timestamp_measures_the_clock_again_and_logs_in() {
    let venue = skewed_venue();
    let (engine, handle) = start(chaos_config(&venue).rest(rest_for(&venue)));
    wait_live(&handle);
    let measured = venue.rest_stats().server_time_requests;
    // The session ends and the venue refuses the next login for its timestamp, once.
    venue.set_faults(Faults {
        login: LoginFault::Reject {
            code: 30014,
            msg: "Request timestamp expired".into(),
        },
        ..Faults::default()
    });
    venue.drop_connections();
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_failed >= 1)
        .expect("the login is refused");
    venue.set_faults(Faults::none());
    wait_until("logged in again", || {
        engine.stats().sessions == 2 && handle.state() == SessionState::Live
    });
    assert!(
        venue.rest_stats().server_time_requests > measured,
        "the clock was measured again"
    );
    let stats = engine.stats();
    assert_eq!(stats.login_rejections, 0, "never refused credentials");
    assert_ne!(handle.state(), SessionState::LoginRejected);
    assert_one_cancel_acked(&handle, &venue);
}

#[test]
fn a_missing_rest_host_delays_the_first_login_briefly() {
    let venue = venue();
    // REST down: the first login waits for the server time a moment, then goes anyway.
    venue.set_rest_faults(RestFaults {
        down: true,
        ..RestFaults::default()
    });
    let started = std::time::Instant::now();
    let (_engine, handle) = start(chaos_config(&venue).rest(rest_for(&venue)));
    wait_live(&handle);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_one_cancel_acked(&handle, &venue);
}
