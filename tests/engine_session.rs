//! The session lifecycle against the simulated venue over TLS on loopback: login, refused
//! credentials, keepalive, a silent venue, a venue that closes.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::{ConfigError, Credentials, Pinning, SessionError, SessionState};
use bitget_cancel::outcome::{ConnectFailure, NotSentReason, Status};
use bitget_cancel::sim::{DisconnectCause, Faults};
use support::*;

#[test]
fn logs_in_and_goes_live() {
    let venue = venue();
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    let stats = venue.stats();
    assert_eq!(stats.logins_ok, 1);
    assert_eq!(stats.logins_failed, 0);
    assert_eq!(engine.stats().sessions, 1);
    assert_eq!(engine.stats().connect_attempts, 1);
    assert_eq!(handle.last_error(), None);
    engine.shutdown();
    assert_eq!(handle.state(), SessionState::Stopped);
}

#[test]
fn intents_submitted_before_login_go_out_once_live() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    // Nothing can be live yet: the engine thread has only just been spawned.
    let (engine, handle) = start(config_for(&venue));
    for order in &orders {
        handle.cancel(by_order_id(order)).expect("accepted");
    }
    for outcome in outcomes(&handle, 3) {
        assert_eq!(outcome.status, Status::Acked, "{outcome:?}");
    }
    assert_eq!(venue.resting_orders(), 0);
    assert_eq!(engine.stats().sessions, 1);
}

#[test]
fn wrong_credentials_report_every_intent_not_sent_with_the_venue_code_and_do_not_reconnect() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let wrong = Credentials::new("sim-key", "not-the-secret", "sim-passphrase").unwrap();
    let (engine, handle) = start(config_for(&venue).credentials(wrong));
    // Queued before the venue answered the login, or refused at once after: either way the
    // venue's own code comes back.
    handle.cancel(by_order_id(&orders[0])).unwrap();
    let first = next_outcome(&handle);
    wait_until("the refusal is visible", || {
        handle.state() == SessionState::LoginRejected
    });
    handle.cancel(by_order_id(&orders[1])).unwrap();
    let second = next_outcome(&handle);
    for outcome in [first, second] {
        match outcome.status {
            Status::NotSent(NotSentReason::LoginRejected { code, msg }) => {
                assert_eq!(code, 30015);
                assert!(!msg.as_str().is_empty());
            }
            other => panic!("expected a login rejection, got {other:?}"),
        }
        assert_eq!(outcome.times.written_ns, 0);
    }
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::LoginRejected { code: 30015, .. })
    ));
    // Give a reconnect storm every chance to show: the default retry waits a minute.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(venue.stats().connections_accepted, 1);
    assert_eq!(engine.stats().connect_attempts, 1);
    assert_eq!(engine.stats().login_rejections, 1);
    assert_eq!(venue.resting_orders(), 2, "nothing was cancelled");
}

#[test]
fn refused_credentials_are_tried_again_after_the_configured_wait() {
    let venue = venue();
    let wrong = Credentials::new("sim-key", "sim-secret", "wrong-passphrase").unwrap();
    let (engine, handle) = start(
        config_for(&venue)
            .credentials(wrong)
            .login_retry_after(Some(Duration::from_millis(100))),
    );
    venue
        .wait_for_stats(PATIENCE, |s| s.logins_failed >= 2)
        .expect("a second attempt after the wait");
    wait_until("the engine saw both refusals", || {
        engine.stats().login_rejections >= 2
    });
    assert!(matches!(
        handle.last_error(),
        Some(SessionError::LoginRejected { code: 30012, .. })
    ));
}

#[test]
fn keepalive_pings_are_sent_on_schedule_and_answered() {
    let venue = venue();
    let (engine, handle) = start(config_for(&venue).ping_interval(Duration::from_millis(50)));
    wait_live(&handle);
    venue
        .wait_for_stats(PATIENCE, |s| s.pings >= 3)
        .expect("pings reach the venue");
    wait_until("pongs come back", || engine.stats().pongs >= 3);
    assert_eq!(engine.stats().sessions, 1, "the session stays up");
    assert_eq!(handle.state(), SessionState::Live);
}

#[test]
fn a_venue_that_falls_silent_is_replaced() {
    let venue = venue();
    let (engine, handle) = start(
        config_for(&venue)
            .ping_interval(Duration::from_millis(50))
            .pong_deadline(Duration::from_millis(100))
            .connect_timeout(Duration::from_millis(500)),
    );
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_secs(30),
        ..Faults::default()
    });
    wait_until("the silence is noticed", || {
        handle.last_error() == Some(SessionError::PeerSilent)
    });
    assert!(engine.stats().reconnects >= 1);
    venue.set_faults(Faults::default());
    wait_until("a new session", || engine.stats().sessions >= 2);
}

#[test]
fn a_close_frame_from_the_venue_restarts_the_session() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    venue.set_faults(Faults {
        close_after_login: true,
        ..Faults::default()
    });
    let (engine, handle) = start(config_for(&venue));
    wait_until("the venue's close is noticed", || {
        matches!(
            handle.last_error(),
            Some(SessionError::Closed { code: Some(_), .. })
        )
    });
    wait_until("the session restarts", || engine.stats().sessions >= 2);
    venue.set_faults(Faults::default());
    // A cancel sent in the moment between a login and the venue's close comes back unknown;
    // once the venue behaves, one goes through (or finds its order already gone).
    loop {
        handle.cancel(by_order_id(&order)).unwrap();
        match next_outcome(&handle).status {
            Status::Acked | Status::Rejected { code: 43001, .. } => break,
            Status::Unknown(_) | Status::NotSent(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    assert_eq!(
        venue
            .stats()
            .disconnects
            .get(DisconnectCause::ProtocolError),
        0,
        "the engine's answers are well-formed"
    );
}

#[test]
fn server_ping_frames_are_answered() {
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let (_engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        ping_before_reply: true,
        ..Faults::default()
    });
    handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    wait_until("the pong frame reaches the venue", || {
        venue
            .received()
            .iter()
            .any(|f| f.opcode == bitget_cancel::sim::Opcode::Pong)
    });
}

#[test]
fn an_unreachable_venue_is_reported_and_intents_time_out() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = bitget_cancel::engine::Config::builder(sim_credentials())
        .url(format!("wss://127.0.0.1:{port}/v2/ws/private"))
        .idle(bitget_cancel::engine::IdleStrategy::Backoff)
        .no_rest()
        .max_queue_time(Duration::from_millis(1_000));
    let (engine, handle) = start(config);
    handle.cancel(spot("1")).unwrap();
    let status = next_outcome(&handle).status;
    assert!(
        matches!(
            status,
            Status::NotSent(NotSentReason::NoConnection {
                failure: ConnectFailure::Connect,
                ..
            })
        ),
        "{status:?}"
    );
    assert!(matches!(handle.last_error(), Some(SessionError::Io(_))));
    assert!(engine.stats().connect_attempts >= 1);
    assert_eq!(engine.stats().sessions, 0);
}

#[test]
fn the_engine_pins_to_its_core_even_when_the_starting_thread_is_pinned_elsewhere() {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if cores.len() < 2 {
        eprintln!(
            "skipped: needs two cores this process may use, found {}",
            cores.len()
        );
        return;
    }
    let (strategy_core, engine_core) = (cores[0].id, cores[1].id);
    let venue = venue();
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    // A strategy thread that pins itself before starting the engine, as a strategy would.
    let pinning = std::thread::spawn(move || {
        assert!(core_affinity::set_for_current(core_affinity::CoreId {
            id: strategy_core
        }));
        let (engine, handle) = start(config_for(&venue).core(engine_core));
        handle.cancel(by_order_id(&order)).unwrap();
        assert_eq!(next_outcome(&handle).status, Status::Acked);
        engine.pinning()
    })
    .join()
    .unwrap();
    assert_eq!(pinning, Pinning::Pinned(engine_core));
}

#[test]
fn an_extra_root_ca_that_is_not_pem_is_refused_when_the_config_is_built() {
    let refused = bitget_cancel::engine::Config::builder(sim_credentials())
        .extra_root_ca_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(
        matches!(refused, ConfigError::InvalidCa { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("no certificate"), "{refused}");
}

#[test]
fn a_venue_certificate_signed_by_an_unknown_ca_is_never_trusted() {
    let venue = venue();
    let (engine, handle) = start(
        bitget_cancel::engine::Config::builder(sim_credentials())
            .url(venue.url())
            .idle(bitget_cancel::engine::IdleStrategy::Backoff),
    );
    wait_until("the handshake fails", || handle.last_error().is_some());
    assert!(matches!(handle.last_error(), Some(SessionError::Tls(_))));
    assert_eq!(engine.stats().sessions, 0);
    assert_eq!(venue.stats().logins_ok, 0);
}
