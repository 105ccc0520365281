//! Cancels acked and rejected by the simulated venue, for each product line and order reference.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::outcome::Status;
use bitget_cancel::sim::Faults;
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
use support::*;

fn assert_times_in_order(outcome: &bitget_cancel::Outcome) {
    let t = outcome.times;
    assert!(
        0 < t.accepted_ns && t.accepted_ns <= t.written_ns && t.written_ns <= t.settled_ns,
        "{t:?}"
    );
    assert!(t.tick_to_wire_ns().is_some() && t.round_trip_ns().is_some());
}

#[test]
fn acks_and_rejects_spot_and_futures_cancels_by_order_id_and_client_oid() {
    let venue = venue();
    let spot = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
    let futures = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 2);
    let (engine, handle) = start(config_for(&venue));
    wait_live(&handle);

    let unknown = |inst_type, symbol, order: OrderRef| {
        Cancel::new(inst_type, InstId::new(symbol).unwrap(), order)
    };
    let cases: Vec<(Cancel, Option<i64>)> = vec![
        (by_order_id(&spot[0]), None),
        (by_client_oid(&spot[1]), None),
        (by_order_id(&futures[0]), None),
        (by_client_oid(&futures[1]), None),
        (
            unknown(
                InstType::Spot,
                "BTCUSDT",
                OrderRef::order_id("12345").unwrap(),
            ),
            Some(43001),
        ),
        (
            unknown(
                InstType::UsdtFutures,
                "ETHUSDT",
                OrderRef::order_id("1234").unwrap(),
            ),
            Some(41101),
        ),
        (
            unknown(
                InstType::Spot,
                "BTCUSDT",
                OrderRef::client_oid("nobody").unwrap(),
            ),
            Some(43001),
        ),
        (
            unknown(
                InstType::UsdtFutures,
                "ETHUSDT",
                OrderRef::client_oid("nobody").unwrap(),
            ),
            Some(41101),
        ),
    ];
    for (tag, (cancel, expected)) in cases.iter().enumerate() {
        let id = handle.cancel(cancel.with_tag(tag as u64)).unwrap();
        let outcome = next_outcome(&handle);
        assert_eq!(outcome.id, id);
        assert_eq!(outcome.tag(), tag as u64);
        assert_eq!(outcome.cancel.order, cancel.order);
        match (expected, outcome.status) {
            (None, Status::Acked) => {}
            (Some(code), Status::Rejected { code: got, msg }) => {
                assert_eq!(got, *code, "{cancel:?}");
                assert!(!msg.as_str().is_empty());
            }
            (expected, got) => panic!("{cancel:?}: expected {expected:?}, got {got:?}"),
        }
        assert_times_in_order(&outcome);
    }
    assert_eq!(venue.resting_orders(), 0);
    let stats = engine.stats();
    assert_eq!((stats.acked, stats.rejected, stats.sent), (4, 4, 8));
}

#[test]
fn a_burst_is_answered_in_full_and_correlated_by_id() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 8);
    let (_engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    let mut ids = Vec::new();
    for (tag, order) in orders.iter().enumerate() {
        ids.push((
            handle
                .cancel(by_order_id(order).with_tag(tag as u64))
                .unwrap(),
            tag as u64,
        ));
    }
    let mut got: Vec<_> = outcomes(&handle, 8)
        .into_iter()
        .map(|o| {
            assert_eq!(o.status, Status::Acked);
            (o.id, o.tag())
        })
        .collect();
    got.sort_by_key(|&(_, tag)| tag);
    assert_eq!(got, ids);
}

#[test]
fn a_callers_id_is_a_label_echoed_in_its_outcome_and_never_sent() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let (_engine, handle) = start(config_for(&venue));
    wait_live(&handle);
    // Hold replies so the first stays in flight while the second arrives.
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(200),
        ..Faults::default()
    });
    let mine = RequestId::new("strategy-7 #1").unwrap();
    assert_eq!(
        handle
            .cancel(by_order_id(&orders[0]).with_id(mine))
            .unwrap(),
        mine
    );
    handle
        .cancel(by_order_id(&orders[1]).with_id(mine).with_tag(2))
        .unwrap();
    // Both go out, each under a wire id of the engine's own; both come back labelled.
    let mut got = [next_outcome(&handle), next_outcome(&handle)];
    got.sort_by_key(|o| o.tag());
    assert_eq!((got[0].id, got[0].status), (mine, Status::Acked));
    assert_eq!(
        (got[1].id, got[1].tag(), got[1].status),
        (mine, 2, Status::Acked)
    );
    assert!(
        !venue
            .received()
            .iter()
            .any(|f| f.text.contains("strategy-7")),
        "the caller's id never went on the wire"
    );
    // The label may be used again at any time.
    venue.set_faults(Faults::default());
    handle
        .cancel(by_order_id(&orders[2]).with_id(mine))
        .unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &orders[1].order_id));
}
