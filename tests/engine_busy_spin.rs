//! The idle strategies that never park: busy-spin (production: the engine spins on the ring and
//! polls the socket with a zero timeout, and the submitting side makes no system call) and yield.
//! Run briefly: they keep a core busy.

#[path = "support/engine.rs"]
mod support;

use bitget_cancel::InstType;
use bitget_cancel::engine::IdleStrategy;
use bitget_cancel::outcome::Status;
use support::*;

#[test]
fn busy_spin_mode_sends_and_settles_cancels() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 5);
    let (engine, handle) = start(config_for(&venue).idle(IdleStrategy::BusySpin));
    wait_live(&handle);
    for order in &orders {
        handle.cancel(by_order_id(order)).unwrap();
        assert_eq!(next_outcome(&handle).status, Status::Acked);
    }
    handle.cancel(spot("42")).unwrap();
    assert!(matches!(
        next_outcome(&handle).status,
        Status::Rejected { code: 43001, .. }
    ));
    assert_eq!(engine.shutdown().acked, 5);
    assert_eq!(venue.resting_orders(), 0);
}

#[test]
fn yield_mode_sends_and_settles_cancels() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::UsdtFutures, "BTCUSDT", 3);
    let (engine, handle) = start(config_for(&venue).idle(IdleStrategy::Yield));
    wait_live(&handle);
    for order in &orders {
        handle.cancel(by_client_oid(order)).unwrap();
    }
    for outcome in outcomes(&handle, 3) {
        assert_eq!(outcome.status, Status::Acked);
    }
    assert_eq!(engine.shutdown().acked, 3);
}
