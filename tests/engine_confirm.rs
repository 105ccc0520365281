//! The final word on every cancel, against the simulated venue over real TLS: the order
//! channel's subscription (off: nothing on the wire), pushes tied to their intents whichever
//! comes first, fills that win the race, lost pushes and failing queries answered by REST,
//! reconnects, refused or unanswered subscriptions, both spellings of cancelled, and exactly
//! one final word per sent intent, threaded and inline.
//!
//! Times are loose: `confirm_after` is short so REST answers quickly, and where the time is
//! the behaviour (REST asked at once after a reconnect, not `confirm_after` later) the bound
//! sits far from the alternative.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use bitget_cancel::engine::{ConfigBuilder, Confirm, Engine, Handle, HedgeAfter};
use bitget_cancel::final_word::{FinalSource, FinalState, FinalWord, UnconfirmedReason};
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{
    Faults, FillBeforeCancel, MAIN_UID, PushLoss, RestFailWith, RestFailure, RestFaults,
    RestingOrder, SimVenue, SubscribeFault,
};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, Outcome};
use support::*;

/// Quick REST answers for the tests: asked after 200 ms, given up after 5 s.
fn quick() -> Confirm {
    Confirm {
        after: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        ..Confirm::default()
    }
}

/// One connection, the REST rung on the venue's REST side, the final word on.
fn confirming(venue: &SimVenue, confirm: Confirm) -> ConfigBuilder {
    config_for(venue)
        .rest_url(venue.rest_url())
        .hedge_after(HedgeAfter::Off)
        .confirm(confirm)
}

fn next_final(handle: &Handle) -> FinalWord {
    handle
        .final_timeout(PATIENCE)
        .expect("a final word arrives in time")
}

/// The outcome, then the final word, of one cancel.
fn cancel_and_confirm(handle: &Handle, cancel: Cancel) -> (Outcome, FinalWord) {
    let id = handle.cancel(cancel).expect("accepted");
    let outcome = next_outcome(handle);
    assert_eq!(outcome.id, id);
    let word = next_final(handle);
    assert_eq!(word.id, id, "the final word of this intent");
    (outcome, word)
}

fn filled(word: &FinalWord) -> Option<String> {
    word.filled.map(|d| d.to_string())
}

/// A spot order of size 1 at 100 (so partial fills have round numbers).
fn spot_order(venue: &SimVenue, order_id: &str) -> RestingOrder {
    let order = RestingOrder {
        inst_type: InstType::Spot,
        inst_id: "BTCUSDT".into(),
        order_id: order_id.into(),
        client_oid: Some(format!("c-{order_id}")),
    };
    venue
        .add_order_with(order.clone(), MAIN_UID, "1", "100")
        .expect("a valid order");
    order
}

fn order_queries(venue: &SimVenue) -> usize {
    venue
        .rest_requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("order"))
        .count()
}

#[test]
fn off_by_default_nothing_changes_on_the_wire_and_no_final_word_comes() {
    let venue = venue();
    let (engine, handle) = start(config_for(&venue).rest_url(venue.rest_url()));
    wait_live(&handle);
    let order = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    handle.cancel(by_order_id(&order)).unwrap();
    assert_eq!(next_outcome(&handle).status, Status::Acked);
    assert!(handle.final_timeout(Duration::from_millis(300)).is_none());
    let stats = engine.shutdown();
    assert!(!stats.finals.enabled);
    assert!(venue.activity().subscriptions.is_empty(), "no subscription");
    assert_eq!(order_queries(&venue), 0, "no order query");
    assert!(
        venue
            .received()
            .iter()
            .all(|f| !f.text.contains("subscribe")),
        "nothing of it on the wire"
    );
}

#[test]
fn a_push_after_the_ack_is_the_final_word_and_each_connection_subscribes_every_product_line() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()).connections(2));
    wait_until("both connections serve", || {
        handle.stats().finals.subscriptions_acked == 2
    });
    let subscriptions = venue.activity().subscriptions;
    assert_eq!(
        subscriptions.len(),
        8,
        "4 product lines on each of 2 connections"
    );
    assert!(subscriptions.iter().all(|s| s.refused.is_none()));
    let order = spot_order(&venue, "1000000000000000001");
    let (outcome, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(
        (word.state, word.source, filled(&word).as_deref()),
        (FinalState::Cancelled, Some(FinalSource::Push), Some("0"))
    );
    assert!(word.times.final_ns >= outcome.times.settled_ns);
    assert_eq!(word.times.settled_ns, outcome.times.settled_ns);
    assert_eq!(
        word.cancel_reason.map(|r| r.to_string()).as_deref(),
        Some("normal_cancel")
    );
    assert!(word.venue_time_ms.is_some());
    // The reply-to-final percentiles, published a moment later, over this one final word.
    wait_until("the percentiles are published", || {
        handle.stats().finals.reply_to_final_max_ns != 0
    });
    let stats = engine.shutdown();
    let f = stats.finals;
    let since_reply = word.times.since_settled_ns();
    assert_eq!(
        (
            f.reply_to_final_p50_ns,
            f.reply_to_final_p90_ns,
            f.reply_to_final_p99_ns,
            f.reply_to_final_max_ns
        ),
        (since_reply, since_reply, since_reply, since_reply)
    );
    assert_eq!((f.cancelled, f.by_push, f.by_rest), (1, 1, 0));
    assert_eq!(f.queries_sent, 0, "no REST when the push came");
    // The push came on both connections: one copy found the intent.
    assert!(f.pushes_received >= 1 && f.pushes_matched == 1, "{f:?}");
}

#[test]
fn a_push_before_the_ack_is_kept_until_the_reply_and_the_final_word_follows_the_outcome() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    venue.set_faults(Faults {
        push_before_reply: true,
        ..Faults::default()
    });
    let order = spot_order(&venue, "1000000000000000002");
    let (outcome, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(
        (word.state, word.source),
        (FinalState::Cancelled, Some(FinalSource::Push))
    );
    let stats = engine.shutdown();
    assert_eq!(stats.finals.pushes_before_reply, 1);
    assert_eq!(stats.finals.queries_sent, 0);
}

#[test]
fn a_fill_racing_the_cancel_is_filled_with_its_size_from_the_push() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    venue.set_faults(Faults {
        fill_before_cancel: Some(FillBeforeCancel { nth: 1, size: None }),
        ..Faults::default()
    });
    let order = spot_order(&venue, "1000000000000000003");
    let (outcome, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert!(
        matches!(outcome.status, Status::Rejected { code: 43001, .. }),
        "{:?}",
        outcome.status
    );
    assert_eq!(
        (word.state, word.source, filled(&word).as_deref()),
        (FinalState::Filled, Some(FinalSource::Push), Some("1"))
    );
    assert_eq!(
        word.price_avg.map(|d| d.to_string()).as_deref(),
        Some("100")
    );
    engine.shutdown();
}

#[test]
fn filled_before_the_cancel_with_no_push_rest_says_filled() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    venue.set_faults(Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    });
    let order = spot_order(&venue, "1000000000000000004");
    venue
        .fill(InstType::Spot, "BTCUSDT", &order.order_id, None)
        .unwrap();
    let (outcome, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert!(matches!(
        outcome.status,
        Status::Rejected { code: 43001, .. }
    ));
    assert_eq!(
        (word.state, word.source, filled(&word).as_deref()),
        (FinalState::Filled, Some(FinalSource::Rest), Some("1"))
    );
    let stats = engine.shutdown();
    assert!(stats.finals.queries_sent >= 1 && stats.finals.by_rest == 1);
    assert!(venue.activity().pushes_lost >= 1);
}

#[test]
fn a_lost_push_is_answered_by_rest() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    venue.set_faults(Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    });
    let order = spot_order(&venue, "1000000000000000005");
    let (outcome, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(
        (word.state, word.source, filled(&word).as_deref()),
        (FinalState::Cancelled, Some(FinalSource::Rest), Some("0"))
    );
    // Asked after confirm_after, not at once: the push had its chance.
    assert!(word.times.since_settled_ns() >= 200_000_000);
    engine.shutdown();
    assert_eq!(order_queries(&venue), 1);
}

#[test]
fn a_partial_fill_then_the_cancel_is_cancelled_with_the_filled_size() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    let order = spot_order(&venue, "1000000000000000006");
    venue
        .fill(InstType::Spot, "BTCUSDT", &order.order_id, Some("0.3"))
        .unwrap();
    wait_until("the fill's push reached the engine", || {
        handle.stats().finals.pushes_received >= 1
    });
    let (outcome, word) = cancel_and_confirm(&handle, by_client_oid(&order));
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(
        (word.state, word.source, filled(&word).as_deref()),
        (FinalState::Cancelled, Some(FinalSource::Push), Some("0.3"))
    );
    let stats = engine.shutdown();
    assert!(
        stats.finals.pushes_unmatched >= 1,
        "the fill's push came before the cancel: no intent asked about it"
    );
}

#[test]
fn both_spellings_of_cancelled_read_alike() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    let spot = venue.seed_orders(InstType::Spot, "BTCUSDT", 1).remove(0);
    let futures = venue
        .seed_orders(InstType::UsdtFutures, "BTCUSDT", 1)
        .remove(0);
    // The venue pushes `cancelled` for the spot order and `canceled` for the futures one.
    for order in [&spot, &futures] {
        let (outcome, word) = cancel_and_confirm(&handle, by_order_id(order));
        assert_eq!(outcome.status, Status::Acked);
        assert_eq!(
            (word.state, word.source),
            (FinalState::Cancelled, Some(FinalSource::Push)),
            "{:?}",
            order.inst_type
        );
    }
    let stats = engine.shutdown();
    assert_eq!((stats.finals.cancelled, stats.finals.by_push), (2, 2));
    assert_eq!(stats.unreadable_messages, 0);
}

#[test]
fn after_a_reconnect_each_connection_subscribes_again_and_what_was_pending_is_asked_at_once() {
    let venue = venue();
    // Asked after 4 s if nothing else happens: far from what a reconnect takes.
    let confirm = Confirm {
        after: Duration::from_secs(4),
        timeout: Duration::from_secs(8),
        ..Confirm::default()
    };
    let (engine, handle) = start(confirming(&venue, confirm));
    wait_live(&handle);
    assert_eq!(venue.activity().subscriptions.len(), 4);
    // The push waits at the venue; the connection drops before it is written: lost.
    venue.set_faults(Faults {
        push_delay: Duration::from_secs(30),
        ..Faults::default()
    });
    let order = spot_order(&venue, "1000000000000000007");
    handle.cancel(by_order_id(&order)).unwrap();
    let outcome = next_outcome(&handle);
    assert_eq!(outcome.status, Status::Acked);
    let sessions = handle.stats().sessions;
    venue.set_faults(Faults::none());
    venue.drop_connections();
    let word = next_final(&handle);
    assert_eq!(
        (word.state, word.source),
        (FinalState::Cancelled, Some(FinalSource::Rest))
    );
    assert!(
        word.times.since_settled_ns() < 3_500_000_000,
        "asked after the reconnect, not confirm_after later: {} ns",
        word.times.since_settled_ns()
    );
    let stats = engine.shutdown();
    assert!(stats.sessions > sessions, "reconnected");
    assert!(
        venue.activity().subscriptions.len() >= 8,
        "subscribed again after the reconnect"
    );
    assert!(stats.finals.subscriptions_acked >= 2);
}

#[test]
fn a_rest_query_that_fails_is_asked_again_and_its_answer_is_the_final_word() {
    let venue = venue();
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    venue.set_faults(Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    });
    venue.set_rest_faults(RestFaults {
        fail_queries: Some(RestFailure {
            times: 1,
            with: RestFailWith::ServerError(503),
        }),
        ..RestFaults::default()
    });
    let order = spot_order(&venue, "1000000000000000008");
    let (_, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(
        (word.state, word.source),
        (FinalState::Cancelled, Some(FinalSource::Rest))
    );
    let stats = engine.shutdown();
    assert_eq!(
        (stats.finals.queries_sent, stats.finals.queries_failed),
        (2, 1)
    );
    assert_eq!(order_queries(&venue), 2);
}

#[test]
fn a_refused_subscription_serves_at_once_and_rest_gives_the_final_word() {
    let venue = venue();
    venue.set_faults(Faults {
        subscribe: SubscribeFault::Refuse {
            code: 30001,
            msg: "channel does not exist".into(),
        },
        ..Faults::default()
    });
    let (engine, handle) = start(confirming(&venue, quick()));
    wait_live(&handle);
    assert!(handle.stats().finals.subscriptions_refused >= 1);
    let order = spot_order(&venue, "1000000000000000009");
    let (outcome, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(outcome.status, Status::Acked);
    assert_eq!(
        (word.state, word.source),
        (FinalState::Cancelled, Some(FinalSource::Rest))
    );
    let stats = engine.shutdown();
    assert_eq!(stats.finals.pushes_received, 0);
}

#[test]
fn an_unanswered_subscription_holds_the_connection_back_for_its_grace_only() {
    let venue = venue();
    venue.set_faults(Faults {
        subscribe: SubscribeFault::Ignore,
        ..Faults::default()
    });
    let confirm = Confirm {
        subscribe_grace: Duration::from_secs(2),
        ..quick()
    };
    let (engine, handle) = start(confirming(&venue, confirm));
    wait_until("the venue saw the subscription", || {
        !venue.activity().subscriptions.is_empty()
    });
    // Logged in and subscribed, not yet serving: the grace runs.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!handle.state().is_live(), "{:?}", handle.state());
    assert_eq!(handle.stats().finals.subscriptions_unanswered, 0);
    wait_live(&handle);
    assert_eq!(handle.stats().finals.subscriptions_unanswered, 1);
    let order = spot_order(&venue, "1000000000000000010");
    let (_, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(word.source, Some(FinalSource::Rest), "no push comes");
    engine.shutdown();
}

#[test]
fn an_order_the_cancel_missed_is_live_at_the_timeout_and_an_unknown_one_not_found() {
    let venue = venue();
    let confirm = Confirm {
        after: Duration::from_millis(200),
        timeout: Duration::from_millis(1_500),
        ..Confirm::default()
    };
    let (engine, handle) = start(confirming(&venue, confirm));
    wait_live(&handle);
    // The wrong symbol: the cancel finds nothing, the order rests, the query (by id) finds it.
    let order = spot_order(&venue, "1000000000000000011");
    let wrong = Cancel::new(
        InstType::Spot,
        InstId::new("ETHUSDT").unwrap(),
        OrderRef::order_id(&order.order_id).unwrap(),
    );
    let (outcome, word) = cancel_and_confirm(&handle, wrong);
    assert!(matches!(
        outcome.status,
        Status::Rejected { code: 43001, .. }
    ));
    assert_eq!(
        (word.state, word.source, filled(&word).as_deref()),
        (FinalState::Live, Some(FinalSource::Rest), Some("0"))
    );
    assert!(
        word.times.since_settled_ns() >= 1_500_000_000,
        "kept waiting"
    );
    assert!(venue.order_is_resting(InstType::Spot, "BTCUSDT", &order.order_id));
    // An order the venue never had.
    let (_, word) = cancel_and_confirm(&handle, spot("1999999999999999999"));
    assert_eq!(
        (word.state, word.source, word.filled),
        (
            FinalState::Unconfirmed(UnconfirmedReason::NotFound),
            None,
            None
        )
    );
    let stats = engine.shutdown();
    assert_eq!((stats.finals.live, stats.finals.unconfirmed), (1, 1));
}

#[test]
fn without_rest_a_lost_push_is_unconfirmed_at_the_timeout() {
    let venue = venue();
    let confirm = Confirm {
        after: Duration::from_millis(100),
        timeout: Duration::from_millis(800),
        ..Confirm::default()
    };
    let (engine, handle) = start(config_for(&venue).confirm(confirm));
    wait_live(&handle);
    venue.set_faults(Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    });
    let order = spot_order(&venue, "1000000000000000012");
    let (_, word) = cancel_and_confirm(&handle, by_order_id(&order));
    assert_eq!(
        word.state,
        FinalState::Unconfirmed(UnconfirmedReason::Timeout)
    );
    assert!(word.times.since_settled_ns() >= 800_000_000);
    engine.shutdown();
}

#[test]
fn every_sent_intent_gets_exactly_one_final_word_under_lost_pushes_and_a_dropped_connection() {
    const N: usize = 60;
    let venue = venue_with(bitget_cancel::sim::SimConfig {
        max_messages_per_second: 0,
        ..bitget_cancel::sim::SimConfig::default()
    });
    let (engine, handle) = start(
        confirming(&venue, quick())
            .connections(2)
            .messages_per_second(1_000)
            .cancels_per_second(1_000),
    );
    wait_until("both connections serve", || {
        handle.stats().finals.subscriptions_acked == 2
    });
    venue.set_faults(Faults {
        lose_pushes: PushLoss::OneIn(3),
        ..Faults::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", N);
    for (i, order) in orders.iter().enumerate() {
        if i % 4 == 0 {
            venue
                .fill(InstType::Spot, "BTCUSDT", &order.order_id, Some("0.001"))
                .unwrap();
        }
        handle
            .cancel(by_order_id(order).with_tag(i as u64 + 1))
            .unwrap();
        if i == N / 2 {
            venue.drop_connections();
        }
    }
    let outcomes = outcomes(&handle, N);
    let mut words: Vec<FinalWord> = (0..N).map(|_| next_final(&handle)).collect();
    assert!(
        handle.final_timeout(Duration::from_millis(500)).is_none(),
        "one each"
    );
    words.sort_by_key(FinalWord::tag);
    let tags: Vec<u64> = words.iter().map(FinalWord::tag).collect();
    assert_eq!(tags, (1..=N as u64).collect::<Vec<_>>());
    for word in &words {
        let outcome = outcomes.iter().find(|o| o.id == word.id).unwrap();
        assert!(word.times.final_ns >= outcome.times.settled_ns);
        let order = &orders[word.tag() as usize - 1];
        let book = venue
            .order(InstType::Spot, "BTCUSDT", &order.order_id)
            .unwrap();
        let expected = match book.status {
            bitget_cancel::sim::OrderStatus::Filled => FinalState::Filled,
            _ => FinalState::Cancelled,
        };
        assert_eq!(word.state, expected, "{word:?}");
        assert_eq!(
            filled(word).as_deref(),
            Some(book.filled.as_str()),
            "{word:?}"
        );
    }
    let stats = engine.shutdown();
    assert_eq!(stats.finals.cancelled + stats.finals.filled, N as u64);
}

#[test]
fn the_inline_engine_gives_final_words_too() {
    let venue = venue();
    let config = confirming(&venue, quick()).build().unwrap();
    let mut engine = Engine::inline(config).unwrap();
    assert!(engine.wait_live(PATIENCE), "{:?}", engine.last_error());
    let order = spot_order(&venue, "1000000000000000013");
    let id = engine.cancel(by_order_id(&order)).unwrap();
    let outcome = engine.outcome_timeout(PATIENCE).expect("an outcome");
    assert_eq!((outcome.id, outcome.status), (id, Status::Acked));
    let word = engine.final_timeout(PATIENCE).expect("a final word");
    assert_eq!(
        (word.id, word.state, word.source),
        (id, FinalState::Cancelled, Some(FinalSource::Push))
    );
    // One more waits at shutdown: it is unconfirmed then, and handed over with the rest.
    venue.set_faults(Faults {
        lose_pushes: PushLoss::All,
        ..Faults::default()
    });
    let last = spot_order(&venue, "1000000000000000014");
    engine.cancel(by_order_id(&last)).unwrap();
    let outcome = engine.outcome_timeout(PATIENCE).expect("an outcome");
    assert_eq!(outcome.status, Status::Acked);
    let stopped = engine.shutdown();
    assert_eq!(stopped.finals.len(), 1);
    assert_eq!(
        stopped.finals[0].state,
        FinalState::Unconfirmed(UnconfirmedReason::Shutdown)
    );
}
