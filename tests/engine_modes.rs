//! The same scenarios against the threaded engine and the inline engine: logging in, acks and
//! rejections, timestamps, duplicate ids, failover and hedging in a pool of two, shutdown with
//! cancels in flight. Each intent gets exactly one outcome in either mode (`Ledger`). Then what
//! only the inline engine promises: a cancel is on the wire when `cancel` returns, a full table
//! hands the intent back, nothing is lost when the caller reads outcomes late.

#[path = "support/engine.rs"]
mod support;

#[path = "support/modes.rs"]
mod modes;

use std::time::Duration;

use bitget_cancel::clock::monotonic_ns;
use bitget_cancel::engine::SubmitError;
use bitget_cancel::engine::{Engine, HedgeAfter, SessionState};
use bitget_cancel::outcome::{NotSentReason, Status, UnknownReason, VenueMsg, Via};
use bitget_cancel::sim::{
    CancelFate, DisconnectCause, Faults, Injection, OnCancel, Opcode, SimConfig,
};
use bitget_cancel::{InstType, RequestId};
use modes::*;
use support::*;

fn not_found() -> Status {
    Status::Rejected {
        code: 43001,
        msg: VenueMsg::new("The order does not exist"),
    }
}

#[test]
fn both_modes_log_in_ack_a_resting_order_and_pass_on_the_venues_rejection() {
    for mode in Mode::BOTH {
        for direct_reads in [true, false] {
            let venue = venue();
            let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
            let mut engine = start_in(mode, config_for(&venue).direct_reads(direct_reads));
            wait_connections_live(&mut *engine, 1);
            assert_eq!(engine.state(), SessionState::Live, "{mode:?}");

            let mut ledger = Ledger::default();
            let acked = ledger.submit(&mut *engine, by_order_id(&orders[0]).with_tag(1));
            let missing = ledger.submit(&mut *engine, spot("12345").with_tag(2));
            let by_oid = ledger.submit(&mut *engine, by_client_oid(&orders[1]).with_tag(3));
            ledger.settle(&mut *engine);
            let what = format!("{mode:?}, direct reads {direct_reads}");
            assert_eq!(ledger.outcome(acked).status, Status::Acked, "{what}");
            assert_eq!(ledger.outcome(acked).tag(), 1, "{what}");
            assert_eq!(ledger.outcome(missing).status, not_found(), "{what}");
            assert_eq!(ledger.outcome(by_oid).status, Status::Acked, "{what}");
            assert_eq!(
                ledger.outcome(acked).via,
                Some(Via::Connection(0)),
                "{what}"
            );
            assert!(!venue.order_is_resting(InstType::Spot, "BTCUSDT", &orders[0].order_id));

            let (stats, left) = engine.shutdown();
            assert!(left.is_empty(), "{what}: {left:?}");
            assert_eq!(
                (stats.acked, stats.rejected, stats.sent),
                (2, 1, 3),
                "{what}"
            );
            assert_eq!(stats.intents, 3, "{what}");
        }
    }
}

#[test]
fn the_engine_share_ends_before_the_write_returns_and_every_time_is_in_order() {
    for mode in Mode::BOTH {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 5);
        let mut engine = start_in(mode, config_for(&venue));
        wait_connections_live(&mut *engine, 1);
        for order in &orders {
            let mut ledger = Ledger::default();
            ledger.submit(&mut *engine, by_order_id(order));
            ledger.settle(&mut *engine);
            let outcome = ledger.outcomes()[0];
            let t = outcome.times;
            assert_eq!(outcome.status, Status::Acked);
            assert!(
                0 < t.accepted_ns
                    && t.accepted_ns <= t.handed_ns
                    && t.handed_ns <= t.written_ns
                    && t.written_ns <= t.settled_ns,
                "{mode:?}: {t:?}"
            );
            let share = t.engine_share_ns().expect("handed to the kernel");
            let wire = t.tick_to_wire_ns().expect("written");
            assert!(share <= wire, "{mode:?}: {t:?}");
        }
        engine.shutdown();
    }
}

#[test]
fn a_callers_id_is_a_label_two_intents_may_share_and_never_goes_on_the_wire() {
    for mode in Mode::BOTH {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
        let mut engine = start_in(mode, config_for(&venue));
        wait_connections_live(&mut *engine, 1);
        venue.set_faults(Faults {
            reply_delay: Duration::from_millis(300),
            ..Faults::default()
        });
        let id = RequestId::new("mine-1").unwrap();
        let first = engine
            .cancel(by_order_id(&orders[0]).with_id(id).with_tag(1))
            .unwrap();
        let second = engine
            .cancel(by_order_id(&orders[1]).with_id(id).with_tag(2))
            .unwrap();
        assert_eq!((first, second), (id, id));
        let mut got = [next_outcome_of(&mut *engine), next_outcome_of(&mut *engine)];
        got.sort_by_key(|o| o.tag());
        for (o, tag) in got.iter().zip([1, 2]) {
            assert_eq!(
                (o.tag(), o.id, o.status),
                (tag, id, Status::Acked),
                "{mode:?}"
            );
        }
        // Each went out under a wire id of the engine's own, never the label.
        let wire: Vec<String> = venue
            .received()
            .iter()
            .filter_map(|f| serde_json::from_str::<serde_json::Value>(&f.text).ok())
            .filter(|v| v["op"] == "trade")
            .map(|v| v["args"][0]["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(wire.len(), 2, "{mode:?}");
        assert!(
            wire[0] != wire[1] && !wire.contains(&"mine-1".to_owned()),
            "{wire:?}"
        );
        let (_, left) = engine.shutdown();
        assert!(left.is_empty(), "{mode:?}");
    }
}

/// Two connections, the fault suite's quick reconnects, a long ack timeout (the alternative
/// every pool scenario must beat).
fn pool_config(
    venue: &bitget_cancel::sim::SimVenue,
    hedge: HedgeAfter,
) -> bitget_cancel::engine::ConfigBuilder {
    config_for(venue)
        .connections(2)
        .hedge_after(hedge)
        .ack_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
}

#[test]
fn cancels_on_a_lost_connection_go_out_again_on_the_other_in_both_modes() {
    for mode in Mode::BOTH {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
        let mut engine = start_in(mode, pool_config(&venue, HedgeAfter::Off));
        wait_connections_live(&mut *engine, 2);
        // The first three are processed and their replies held back; the venue drops that
        // connection when the fourth arrives.
        venue.set_faults(Faults {
            reply_delay: Duration::from_millis(200),
            drop_on_cancel: Some(4),
            ..Faults::default()
        });
        let mut ledger = Ledger::default();
        for order in &orders {
            ledger.submit(&mut *engine, by_order_id(order));
        }
        ledger.settle(&mut *engine);
        // Taken in one turn, the four go out in one batch on one connection; taken one by one
        // (the inline engine always, the threaded one when the submitter is slower than its
        // turns), routing may spread them. Either way, what the lost connection held went out
        // again on the other at once.
        let outcomes = ledger.outcomes();
        for (i, outcome) in outcomes.iter().enumerate() {
            assert!(
                outcome.status == Status::Acked || outcome.status == not_found(),
                "{mode:?} #{i}: answered, not unknown: {outcome:?}"
            );
            let round_trip = outcome.times.round_trip_ns().expect("answered");
            assert!(
                Duration::from_nanos(round_trip) < Duration::from_millis(2_500),
                "{mode:?} #{i}: sent again at once, not after the 5 s ack timeout: {outcome:?}"
            );
        }
        let sent_again = outcomes.iter().filter(|o| o.attempts == 2).count();
        assert!(sent_again >= 1, "{mode:?}: {outcomes:?}");
        let (stats, left) = engine.shutdown();
        assert!(left.is_empty());
        assert_eq!(stats.failovers as usize, sent_again, "{mode:?}: {stats:?}");
        assert_eq!(stats.unknown, 0, "{mode:?}");
    }
}

#[test]
fn a_cancel_on_a_connection_gone_silent_is_hedged_on_the_other_in_both_modes() {
    for mode in Mode::BOTH {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 1);
        let mut engine = start_in(
            mode,
            pool_config(&venue, HedgeAfter::Fixed(Duration::from_millis(50))),
        );
        wait_connections_live(&mut *engine, 2);
        venue.set_faults(Faults {
            on_cancel: Some(OnCancel {
                nth: 1,
                injection: Injection::Silence,
                cancel: CancelFate::Unanswered,
            }),
            ..Faults::default()
        });
        let mut ledger = Ledger::default();
        let id = ledger.submit(&mut *engine, by_order_id(&orders[0]));
        ledger.settle(&mut *engine);
        let outcome = *ledger.outcome(id);
        assert_eq!(
            outcome.status,
            not_found(),
            "{mode:?}: the silent attempt cancelled it, the hedge learns so: {outcome:?}"
        );
        assert_eq!(outcome.attempts, 2, "{mode:?}");
        let round_trip = Duration::from_nanos(outcome.times.round_trip_ns().expect("answered"));
        assert!(
            round_trip < Duration::from_millis(2_500),
            "{mode:?}: hedged long before the 5 s ack timeout, settled after {round_trip:?}"
        );
        let (stats, left) = engine.shutdown();
        assert!(left.is_empty());
        assert_eq!((stats.hedges_sent, stats.hedges_won), (1, 1), "{mode:?}");
    }
}

#[test]
fn shutdown_with_cancels_everywhere_gives_each_exactly_one_outcome_in_both_modes() {
    for mode in Mode::BOTH {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 40);
        let mut engine = start_in(
            mode,
            config_for(&venue)
                .shutdown_grace(Duration::from_millis(300))
                .max_queue_time(Duration::from_secs(30)),
        );
        wait_connections_live(&mut *engine, 1);
        // Slow replies and the default pacing (10 per second) leave intents acked, in flight
        // and waiting for pacing.
        venue.set_faults(Faults {
            reply_delay: Duration::from_millis(100),
            ..Faults::default()
        });
        let mut ledger = Ledger::default();
        for order in &orders {
            ledger.submit(&mut *engine, by_order_id(order));
        }
        let some_acked = engine.run_until(PATIENCE, &mut |s| s.acked >= 1);
        assert!(some_acked, "{mode:?}");
        let (stats, left) = engine.shutdown();
        ledger.settle_at_shutdown(left);
        let outcomes = ledger.outcomes();
        let count =
            |wanted: fn(&Status) -> bool| outcomes.iter().filter(|o| wanted(&o.status)).count();
        assert!(count(|s| *s == Status::Acked) >= 1, "{mode:?}");
        assert!(
            count(|s| *s == Status::NotSent(NotSentReason::Shutdown)) >= 1,
            "{mode:?}"
        );
        assert_eq!(
            count(|s| !matches!(
                s,
                Status::Acked
                    | Status::NotSent(NotSentReason::Shutdown)
                    | Status::Unknown(UnknownReason::Shutdown)
            )),
            0,
            "{mode:?}: {outcomes:?}"
        );
        assert_eq!(stats.acked as usize, count(|s| *s == Status::Acked));
        assert_eq!(
            (stats.acked + stats.unknown + stats.not_sent) as usize,
            orders.len(),
            "{mode:?}"
        );
        venue
            .wait_for_stats(PATIENCE, |s| s.connections_open == 0)
            .expect("the connection is closed");
    }
}

/// The most of `times` (nanoseconds, sorted) any one-second window holds.
fn busiest_second(times: &[u64]) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|&&t| t < times[i] + 1_000_000_000)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_burst_is_paced_to_the_venues_limit_in_both_modes() {
    const LIMIT: u32 = 50;
    for mode in Mode::BOTH {
        let venue = venue_with(SimConfig {
            max_messages_per_second: LIMIT,
            ..SimConfig::default()
        });
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 80);
        let mut engine = start_in(
            mode,
            config_for(&venue)
                .messages_per_second(LIMIT)
                .cancels_per_second(LIMIT)
                // The venue counts by receive time, which a loaded machine may bunch up.
                .rate_margin(Duration::from_millis(100)),
        );
        wait_connections_live(&mut *engine, 1);
        let mut ledger = Ledger::default();
        for order in &orders {
            ledger.submit(&mut *engine, by_order_id(order));
        }
        ledger.settle(&mut *engine);
        for outcome in ledger.outcomes() {
            assert_eq!(outcome.status, Status::Acked, "{mode:?}: {outcome:?}");
        }
        let mut times: Vec<u64> = venue
            .received()
            .iter()
            .filter(|f| f.opcode == Opcode::Text)
            .map(|f| f.at_ns)
            .collect();
        times.sort_unstable();
        let busiest = busiest_second(&times);
        assert!(
            busiest <= LIMIT as usize,
            "{mode:?}: {busiest} messages in one second, limit {LIMIT}"
        );
        // The burst did fill the window: pacing, not slowness, kept it under the limit.
        assert!(busiest >= LIMIT as usize - 1, "{mode:?}: {busiest}");
        let (stats, _) = engine.shutdown();
        assert!(stats.pacing_waits >= 20, "{mode:?}: {stats:?}");
        assert_eq!(
            venue.stats().disconnects.get(DisconnectCause::RateLimited),
            0,
            "{mode:?}"
        );
    }
}

#[test]
fn odd_framing_then_a_reset_mid_reply_give_one_outcome_each_and_the_session_recovers() {
    for mode in Mode::ALL {
        let venue = venue();
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 10);
        let mut engine = start_in(
            mode,
            config_for(&venue)
                .ack_timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(2)),
        );
        wait_connections_live(&mut *engine, 1);
        // Replies cut into three frames with a ping between each two, every byte its own TLS
        // record: a read brings a byte at a time.
        venue.set_faults(Faults {
            fragments: 3,
            ping_between_fragments: true,
            byte_per_record: true,
            ..Faults::default()
        });
        let mut ledger = Ledger::default();
        for order in &orders[..3] {
            ledger.submit(&mut *engine, by_order_id(order));
        }
        ledger.settle(&mut *engine);
        for outcome in ledger.outcomes() {
            assert_eq!(outcome.status, Status::Acked, "{mode:?}: {outcome:?}");
        }

        // Three cancels processed, their replies held; the connection is reset mid-reply.
        venue.set_faults(Faults {
            reply_delay: Duration::from_millis(300),
            ..Faults::default()
        });
        let mut lost = Ledger::default();
        for order in &orders[3..6] {
            lost.submit(&mut *engine, by_order_id(order));
        }
        venue
            .wait_for_stats(PATIENCE, |s| s.cancels_acked == 6)
            .expect("the venue has processed them");
        venue.inject(Injection::ResetMidFrame);
        lost.settle(&mut *engine);
        for outcome in lost.outcomes() {
            // One connection: they wait for it to be back and go out again; the venue had
            // cancelled the orders, so the second sends find nothing left.
            assert!(
                matches!(outcome.status, Status::Rejected { code: 43001, .. })
                    && outcome.attempts == 2,
                "{mode:?}: {outcome:?}"
            );
        }

        venue.set_faults(Faults::none());
        let mut after = Ledger::default();
        for order in &orders[6..] {
            after.submit(&mut *engine, by_order_id(order));
        }
        after.settle(&mut *engine);
        for outcome in after.outcomes() {
            assert_eq!(
                outcome.status,
                Status::Acked,
                "{mode:?}: after reconnecting: {outcome:?}"
            );
        }
        let (stats, left) = engine.shutdown();
        assert!(left.is_empty(), "{mode:?}: {left:?}");
        assert_eq!(stats.reconnects, 1, "{mode:?}: {stats:?}");
        assert_eq!(
            (stats.acked, stats.rejected, stats.unknown),
            (7, 3, 0),
            "{mode:?}: {stats:?}"
        );
    }
}

#[test]
fn an_inline_cancel_is_handed_to_the_kernel_before_cancel_returns() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let mut engine = Engine::inline(config_for(&venue).build().unwrap()).unwrap();
    assert!(engine.wait_live(PATIENCE), "{:?}", engine.last_error());
    for order in &orders {
        engine.cancel(by_order_id(order)).unwrap();
        let returned = monotonic_ns();
        let outcome = engine.outcome_timeout(PATIENCE).expect("an outcome");
        assert_eq!(outcome.status, Status::Acked);
        assert!(
            outcome.times.written_ns != 0 && outcome.times.written_ns <= returned,
            "written {} after cancel returned at {returned}",
            outcome.times.written_ns
        );
    }
    engine.shutdown();
}

#[test]
fn an_inline_engine_with_a_full_table_hands_the_intent_back() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 3);
    let mut engine = Engine::inline(config_for(&venue).max_pending(2).build().unwrap()).unwrap();
    assert!(engine.wait_live(PATIENCE));
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(200),
        ..Faults::default()
    });
    engine.cancel(by_order_id(&orders[0])).unwrap();
    engine.cancel(by_order_id(&orders[1])).unwrap();
    let third = by_order_id(&orders[2]).with_tag(3);
    assert_eq!(engine.cancel(third), Err(SubmitError::Full(third)));
    let first = engine.outcome_timeout(PATIENCE).expect("an outcome");
    assert_eq!(first.status, Status::Acked);
    // A slot is free again.
    engine.cancel(third).unwrap();
    let stopped = engine.shutdown();
    assert_eq!(stopped.stats.intents, 3);
    assert_eq!(
        stopped.outcomes.len() + 1,
        3,
        "what shutdown left: {:?}",
        stopped.outcomes
    );
}

#[test]
fn an_inline_engine_keeps_every_outcome_the_caller_reads_late() {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 6);
    // Room for two outcomes in the queue; the rest wait inside the engine, in order.
    let mut engine = Engine::inline(
        config_for(&venue)
            .outcome_capacity(2)
            .messages_per_second(100)
            .cancels_per_second(100)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(engine.wait_live(PATIENCE));
    let mut ids = Vec::new();
    for order in &orders {
        ids.push(engine.cancel(by_order_id(order)).unwrap());
    }
    let all_acked = engine.poll_until(PATIENCE, |e| e.stats().acked == 6);
    assert!(all_acked, "{:?}", engine.stats());
    assert_eq!(engine.ready_outcomes(), 2);
    let mut seen = Vec::new();
    while let Some(o) = engine.outcome_timeout(Duration::from_millis(200)) {
        seen.push(o.id);
    }
    assert_eq!(seen, ids, "every outcome, once, in order");
    engine.shutdown();
}
