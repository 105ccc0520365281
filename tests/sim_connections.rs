//! The venue seen by a client that keeps several connections: connections named by number,
//! faults aimed at one of them while the others stay healthy, and a record of which connection
//! received each cancel. Real TLS, tungstenite's client.

#[path = "support/sim_client.rs"]
mod common;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::sim::{CancelFate, Faults, Injection, OnCancel, SimConfig, SimVenue};
use common::*;
use serde_json::{Value, json};
use tungstenite::Message;

/// Connects and logs in `n` clients one after the other, so client `i` is connection `i + 1`,
/// and waits until the venue counts them all logged in.
fn logged_in_clients(venue: &SimVenue, n: usize) -> Vec<Client> {
    let clients: Vec<Client> = (0..n)
        .map(|_| {
            let mut ws = connect(venue);
            login(venue, &mut ws);
            ws
        })
        .collect();
    let conns = venue
        .wait_for_logged_in(n, SAFETY)
        .expect("every client logged in");
    assert_eq!(conns, (1..=n as u64).collect::<Vec<_>>());
    clients
}

/// A spot cancel of `order_id` under request id `id`.
fn cancel(id: &str, order_id: &str) -> String {
    cancel_request(id, "SPOT", json!({ "orderId": order_id }))
}

fn assert_acked(reply: &Value, id: &str) {
    assert_eq!(reply["event"], "trade", "{reply}");
    assert_eq!(reply["code"], 0, "{reply}");
    assert_eq!(reply["arg"][0]["id"], id, "{reply}");
}

/// The next text must be `pong`: whatever was asked before the `ping` was not answered.
fn expect_pong_next(ws: &mut Client) {
    send(ws, "ping");
    assert_eq!(next_text(ws), "pong");
}

/// A WebSocket ping frame gets its pong frame.
fn expect_pong_frame(ws: &mut Client, payload: &'static [u8]) {
    ws.send(Message::Ping(payload.into())).expect("send ping");
    loop {
        match next(ws) {
            Message::Pong(got) => {
                assert_eq!(got.as_ref(), payload);
                return;
            }
            Message::Ping(_) => {}
            other => panic!("expected a pong frame, got {other:?}"),
        }
    }
}

#[test]
fn logged_in_connections_are_named_by_number_in_accept_order() {
    let venue = start(SimConfig::default());
    assert_eq!(venue.wait_for_logged_in(1, Duration::from_millis(50)), None);
    // The first connection never logs in: open, but not logged in.
    let handshaken = connect(&venue);
    let mut second = connect(&venue);
    let mut third = connect(&venue);
    assert_eq!(venue.open_connections(), vec![1, 2, 3]);
    assert!(venue.logged_in_connections().is_empty());
    login(&venue, &mut third);
    login(&venue, &mut second);
    assert_eq!(venue.wait_for_logged_in(2, SAFETY), Some(vec![2, 3]));
    assert_eq!(venue.open_connections(), vec![1, 2, 3]);
    assert_eq!(venue.logged_in_connections(), vec![2, 3]);
    assert_eq!(venue.stats().connections_logged_in, 2);
    drop(handshaken);
    wait(&venue, "connection 1 ends", |s| s.connections_open == 2);
    assert_eq!(venue.open_connections(), vec![2, 3]);
}

#[test]
fn the_login_reply_has_the_live_shape_with_a_fresh_conn_id_per_connection() {
    let venue = start(SimConfig::default());
    let mut first = connect(&venue);
    let mut second = connect(&venue);
    // `login` checks the shape: event, code 0, a 32-hex-digit connId and no msg.
    let first_id = login(&venue, &mut first);
    let second_id = login(&venue, &mut second);
    assert_ne!(first_id, second_id);
    assert_eq!(venue.conn_id(1), Some(first_id));
    assert_eq!(venue.conn_id(2), Some(second_id));
    assert_eq!(venue.conn_id(3), None);
}

#[test]
fn a_frozen_connection_answers_pings_but_not_cancels_while_the_other_is_answered() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 2);
    let frozen_order = spot_order(&venue);
    let healthy_order = spot_order(&venue);

    assert!(venue.inject_on(1, Injection::Freeze));
    send(&mut clients[0], &cancel("frozen-1", &frozen_order.order_id));
    // Replies keep their order, so a pong first means the cancel got none.
    expect_pong_next(&mut clients[0]);
    expect_pong_frame(&mut clients[0], b"still here");
    let stats = wait(&venue, "the withheld reply is counted", |s| {
        s.replies_lost == 1
    });
    assert_eq!(stats.cancels_acked, 1, "the cancel still took effect");
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &frozen_order.order_id));

    send(
        &mut clients[1],
        &cancel("healthy-1", &healthy_order.order_id),
    );
    assert_acked(&next_json(&mut clients[1]), "healthy-1");
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &healthy_order.order_id));

    // Rejections are withheld too: an unknown order gets no 43001.
    send(&mut clients[0], &cancel("frozen-2", "1"));
    expect_pong_next(&mut clients[0]);
    assert_eq!(venue.stats().replies_lost, 2);
    assert_eq!(venue.stats().disconnects.total(), 0, "nobody was dropped");

    assert_eq!(
        venue.cancels_received(),
        vec![
            (1, "frozen-1".to_owned()),
            (2, "healthy-1".to_owned()),
            (1, "frozen-2".to_owned()),
        ]
    );
}

#[test]
fn a_thawed_connection_answers_cancels_again() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 1);
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    assert!(venue.inject_on(1, Injection::Freeze));
    send(&mut clients[0], &cancel("1", &orders[0].order_id));
    expect_pong_next(&mut clients[0]);
    assert!(venue.inject_on(1, Injection::Thaw));
    send(&mut clients[0], &cancel("2", &orders[1].order_id));
    // The reply withheld while frozen stays lost; the new one arrives.
    assert_acked(&next_json(&mut clients[0]), "2");
    assert_eq!(venue.stats().replies_lost, 1);
}

#[test]
fn a_freeze_withholds_replies_already_waiting_out_the_reply_delay() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 1);
    let order = spot_order(&venue);
    // Far longer than the venue takes to read the cancel and act on the freeze.
    venue.set_faults(Faults {
        reply_delay: Duration::from_secs(2),
        ..Faults::default()
    });
    send(&mut clients[0], &cancel("late", &order.order_id));
    assert!(venue.inject_on(1, Injection::Freeze));
    expect_pong_next(&mut clients[0]);
    assert_eq!(venue.stats().replies_lost, 1);
    assert_eq!(venue.cancels_received(), vec![(1, "late".to_owned())]);
}

#[test]
fn freeze_conn_freezes_that_connection_from_its_first_cancel_without_a_race() {
    let venue = start(SimConfig::default());
    venue.set_faults(Faults {
        freeze_conn: Some(1),
        ..Faults::default()
    });
    let mut clients = logged_in_clients(&venue, 2);
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    send(&mut clients[0], &cancel("a", &orders[0].order_id));
    expect_pong_next(&mut clients[0]);
    send(&mut clients[1], &cancel("b", &orders[1].order_id));
    assert_acked(&next_json(&mut clients[1]), "b");
    assert_eq!(venue.resting_orders(), 0, "both cancels took effect");
    assert_eq!(venue.stats().replies_lost, 1);
}

#[test]
fn a_freeze_on_the_nth_cancel_freezes_the_connection_that_carried_it() {
    let venue = start(SimConfig::default());
    venue.set_faults(Faults {
        on_cancel: Some(OnCancel {
            nth: 2,
            injection: Injection::Freeze,
            cancel: CancelFate::Unanswered,
        }),
        ..Faults::default()
    });
    let mut clients = logged_in_clients(&venue, 2);
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    send(&mut clients[0], &cancel("1", &orders[0].order_id));
    assert_acked(&next_json(&mut clients[0]), "1");
    send(&mut clients[1], &cancel("2", &orders[1].order_id));
    send(&mut clients[1], &cancel("3", &orders[2].order_id));
    expect_pong_next(&mut clients[1]);
    send(&mut clients[0], &cancel("4", &orders[3].order_id));
    assert_acked(&next_json(&mut clients[0]), "4");
    assert_eq!(venue.resting_orders(), 0);
    let stats = venue.stats();
    assert_eq!(
        (stats.cancels_unanswered, stats.replies_lost),
        (1, 1),
        "the 2nd cancel unanswered, the 3rd withheld by the freeze"
    );
}

#[test]
fn inject_on_drop_ends_only_that_connection() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 2);
    assert!(venue.inject_on(2, Injection::Drop));
    expect_dropped(&mut clients[1]);
    let stats = wait(&venue, "connection 2 ends", |s| s.connections_open == 1);
    assert_eq!(stats.disconnects.fault, 1);
    assert_eq!(stats.disconnects.total(), 1);
    assert_eq!(stats.connections_logged_in, 1);
    assert_eq!(venue.open_connections(), vec![1]);
    assert_eq!(venue.logged_in_connections(), vec![1]);

    let order = spot_order(&venue);
    expect_pong_next(&mut clients[0]);
    send(&mut clients[0], &cancel("after-drop", &order.order_id));
    assert_acked(&next_json(&mut clients[0]), "after-drop");
    assert!(!venue.inject_on(2, Injection::Drop), "connection 2 is gone");
}

#[test]
fn inject_on_close_and_over_limit_reach_only_their_connection() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 3);
    assert!(venue.inject_on(1, Injection::Close { code: 1001 }));
    assert!(venue.inject_on(3, Injection::OverLimit));
    assert_eq!(expect_close(&mut clients[0]), 1001);
    let over = next_json(&mut clients[2]);
    assert_eq!(over["code"], 30007, "{over}");
    assert_eq!(expect_close(&mut clients[2]), 1000);
    let stats = wait(&venue, "connections 1 and 3 end", |s| {
        s.connections_open == 1
    });
    assert_eq!(stats.disconnects.fault, 1);
    assert_eq!(stats.disconnects.rate_limited, 1);
    assert_eq!(venue.open_connections(), vec![2]);
    expect_pong_next(&mut clients[1]);
}

#[test]
fn inject_on_an_unknown_connection_touches_nobody() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 1);
    assert!(!venue.inject_on(7, Injection::Drop));
    assert!(!venue.inject_on(0, Injection::Freeze));
    let order = spot_order(&venue);
    send(&mut clients[0], &cancel("ok", &order.order_id));
    assert_acked(&next_json(&mut clients[0]), "ok");
    assert_eq!(venue.stats().disconnects.total(), 0);
}

#[test]
fn cancels_received_skips_logins_pings_and_other_requests() {
    let venue = start(SimConfig::default());
    let mut clients = logged_in_clients(&venue, 2);
    send(&mut clients[1], "not json");
    assert_eq!(next_json(&mut clients[1])["code"], 30002);
    expect_pong_next(&mut clients[1]);
    send(&mut clients[1], &cancel("x", "1"));
    assert_eq!(next_json(&mut clients[1])["code"], 43001);
    send(&mut clients[0], &cancel("y", "2"));
    assert_eq!(next_json(&mut clients[0])["code"], 43001);
    assert_eq!(
        venue.cancels_received(),
        vec![(2, "x".to_owned()), (1, "y".to_owned())]
    );
}
