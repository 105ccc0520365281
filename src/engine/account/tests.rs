//! The conductor's policy, driven as plain code: fake links that only record what they were
//! given and report what the test says, a clock moved by hand, no socket. Each test names the
//! link every attempt went out on, how many attempts an intent took and what settled it.

use super::testkit::{ACKED, Bench, MS, ms, rejected};
use crate::clock::Clock;
use crate::engine::config::HedgeAfter;
use crate::outcome::{
    ConnectFailure, ErrorText, NotSentReason, Status, UnknownReason, VenueMsg, Via,
};

/// No hedges: routing and failover alone.
fn unhedged(connections: usize) -> Bench {
    Bench::new(connections, |c| c.hedge_after(HedgeAfter::Off))
}

#[test]
fn routing_ties_go_to_the_lowest_slot() {
    let mut bench = unhedged(3);
    bench.log_in(&[0, 1, 2]);
    let id = bench.cancel(1);
    assert_eq!(bench.link(0).sent_ids(), [id.as_str()]);
    assert!(bench.link(1).sent.is_empty() && bench.link(2).sent.is_empty());
}

#[test]
fn a_frozen_link_stops_attracting_cancels() {
    let mut bench = unhedged(2);
    bench.log_in(&[0, 1]);
    // Slot 0 takes the first cancel (a tie) and freezes: it never answers.
    let first = bench.cancel(1);
    bench.clock.advance(MS);
    // Silent for 1 ms while slot 1 has no score yet: slot 1 takes the next.
    let second = bench.cancel(2);
    bench.clock.advance(3 * MS);
    bench.link(1).reply(second.as_str(), ACKED);
    bench.turn();
    // Slot 1 answers in 3 ms; slot 0 has been silent for 4 ms: slot 1 again, and again.
    let third = bench.cancel(3);
    bench.clock.advance(100 * MS);
    let fourth = bench.cancel(4);
    assert_eq!(bench.link(0).sent_ids(), [first.as_str()]);
    assert_eq!(
        bench.link(1).sent_ids(),
        [second.as_str(), third.as_str(), fourth.as_str()]
    );
    // What waited on the frozen link ends at its ack timeout, with no other path tried
    // (hedging is off).
    bench.after(5_000 * MS);
    let outcomes = bench.outcomes();
    let frozen = outcomes.iter().find(|o| o.id == first).unwrap();
    assert_eq!(frozen.status, Status::Unknown(UnknownReason::AckTimeout));
    assert_eq!(frozen.attempts, 1);
}

#[test]
fn the_hedge_cap_holds_hedges_to_a_fifth_of_the_budget() {
    // 10 cancels a second for the account: 2 hedges a second.
    let mut bench = Bench::new(2, |c| c.hedge_after(HedgeAfter::Fixed(ms(10))));
    bench.log_in(&[0, 1]);
    // Five cancels at the same instant: a tie each time, all on slot 0, which freezes.
    let ids: Vec<_> = (1..=5).map(|n| bench.cancel(n)).collect();
    assert_eq!(bench.link(0).sent.len(), 5);
    bench.after(11 * MS);
    assert_eq!(
        bench.link(1).sent_ids(),
        ["r1", "r2"],
        "the first two are hedged on slot 1"
    );
    let stats = bench.stats();
    assert_eq!((stats.hedges_sent, stats.hedges_capped), (2, 3));
    bench.link(1).reply("r1", ACKED);
    bench.link(1).reply("r2", ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 2);
    for (outcome, id) in outcomes.iter().zip(&ids) {
        assert_eq!(outcome.id, *id);
        assert_eq!(outcome.status, Status::Acked);
        assert_eq!(
            (outcome.via, outcome.attempts),
            (Some(Via::Connection(1)), 2)
        );
    }
    assert_eq!(bench.stats().hedges_won, 2);
    // A second later the share is back, but the capped ones were given up for good: they
    // wait for their own replies.
    bench.after(1_000 * MS);
    assert_eq!(bench.link(1).sent.len(), 2);
}

#[test]
fn a_late_reply_after_a_hedge_won_makes_no_second_outcome() {
    let mut bench = Bench::new(2, |c| c.hedge_after(HedgeAfter::Fixed(ms(10))));
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    bench.after(11 * MS);
    assert_eq!(bench.link(1).sent_ids(), ["r1"]);
    bench.link(1).reply("r1", ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        (outcomes[0].status, outcomes[0].via, outcomes[0].attempts),
        (Status::Acked, Some(Via::Connection(1)), 2)
    );
    // The first attempt's reply comes after all, a rejection even: counted, nothing more.
    bench.link(0).reply(id.as_str(), rejected(43001));
    bench.turn();
    assert!(bench.outcomes().is_empty());
    let stats = bench.stats();
    assert_eq!((stats.late_replies, stats.unmatched_replies), (1, 0));
    assert_eq!((stats.hedges_won, stats.acked, stats.rejected), (1, 1, 0));
    // Another reply to the same request is no longer late: it matches nothing.
    bench.link(0).reply(id.as_str(), ACKED);
    bench.turn();
    assert_eq!(bench.stats().unmatched_replies, 1);
    assert!(bench.outcomes().is_empty());
}

#[test]
fn a_lost_links_cancel_goes_out_again_at_once_on_the_other() {
    let mut bench = unhedged(2);
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    bench.link(0).drop_on_read = true;
    bench.turn();
    assert_eq!(
        bench.link(1).sent_ids(),
        ["r1"],
        "no wait for the ack timeout"
    );
    bench.link(1).reply("r1", ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        (outcomes[0].status, outcomes[0].via, outcomes[0].attempts),
        (Status::Acked, Some(Via::Connection(1)), 2)
    );
    assert_eq!(bench.stats().failovers, 1);
}

#[test]
fn a_failover_with_no_other_link_settles_unknown_at_once() {
    let mut bench = unhedged(2);
    // Slot 1 never logs in; there is no REST rung.
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    let lost_at = bench.clock.now();
    bench.link(0).drop_on_read = true;
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        outcomes[0].status,
        Status::Unknown(UnknownReason::ConnectionLost)
    );
    assert_eq!(outcomes[0].attempts, 1);
    assert_eq!(
        outcomes[0].times.settled_ns, lost_at,
        "settled in the turn that saw the loss, not at the ack timeout"
    );
    assert!(bench.link(1).sent.is_empty());
}

#[test]
fn a_rotation_whose_replacement_dies_gives_the_old_link_back() {
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off)
            .max_connection_age(ms(100))
            .ack_timeout(ms(5_000))
    });
    bench.log_in(&[0]);
    let first = bench.cancel(1);
    // Slot 0 ages out: its replacement connects in the spare slot while it serves.
    bench.after(100 * MS);
    assert!(bench.link(1).sent.is_empty());
    bench.log_in(&[1]);
    assert_eq!(bench.stats().rotations, 1);
    // Slot 0 drains (a reply is still due there): the next cancel goes to the replacement.
    let second = bench.cancel(2);
    assert_eq!(bench.link(1).sent_ids(), [second.as_str()]);
    // The replacement dies: slot 0 takes cancels again, the cancel it carried among them.
    bench.link(1).drop_on_read = true;
    bench.turn();
    let third = bench.cancel(3);
    assert_eq!(
        bench.link(0).sent_ids(),
        [first.as_str(), "r1", third.as_str()]
    );
    // The replacement is back: slot 0 drains again, closes once answered, and the rotation
    // ends with the replacement serving alone.
    bench.log_in(&[1]);
    assert_eq!(bench.stats().rotations, 2);
    for id in [first.as_str(), "r1", third.as_str()] {
        bench.link(0).reply(id, ACKED);
    }
    bench.turn();
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(|o| o.status == Status::Acked));
    assert!(outcomes.iter().all(|o| o.via == Some(Via::Connection(0))));
    assert_eq!(
        outcomes.iter().find(|o| o.id == second).map(|o| o.attempts),
        Some(2)
    );
    let fourth = bench.cancel(4);
    assert_eq!(bench.link(1).sent_ids(), [second.as_str(), fourth.as_str()]);
    let stats = bench.stats();
    assert_eq!(
        (stats.connections[0].state, stats.connections[1].state),
        (
            crate::engine::SessionState::Stopped,
            crate::engine::SessionState::Live
        )
    );
}

#[test]
fn a_refused_login_settles_what_waits_with_the_venues_code_and_later_cancels_wait_for_the_other_links_answer()
 {
    let refused = Status::NotSent(NotSentReason::LoginRejected {
        code: 30015,
        msg: VenueMsg::new("Invalid sign"),
    });
    let mut bench = unhedged(2);
    let first = bench.cancel(1);
    bench.link(0).refuse(30015, "Invalid sign");
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, first);
    assert_eq!(
        (outcomes[0].status, outcomes[0].attempts, outcomes[0].via),
        (refused, 0, None)
    );
    // Connection 1 has its answer to come: the next cancel waits for it.
    let second = bench.cancel(2);
    bench.turn();
    assert!(bench.outcomes().is_empty());
    bench.link(1).refuse(30015, "Invalid sign");
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(
        outcomes
            .iter()
            .map(|o| (o.id, o.status))
            .collect::<Vec<_>>(),
        [(second, refused)]
    );
    // Every connection refused: a cancel is settled as it comes in, with the same words.
    let third = bench.cancel(3);
    let outcomes = bench.outcomes();
    assert_eq!(
        outcomes
            .iter()
            .map(|o| (o.id, o.status))
            .collect::<Vec<_>>(),
        [(third, refused)]
    );
    assert!(bench.link(0).sent.is_empty() && bench.link(1).sent.is_empty());
}

#[test]
fn a_cancel_that_waits_out_its_queue_time_after_a_refusal_is_settled_with_the_refusal() {
    let mut bench = Bench::new(2, |c| {
        c.hedge_after(HedgeAfter::Off).max_queue_time(ms(1_000))
    });
    bench.link(0).refuse(30012, "Invalid ACCESS_PASSPHRASE");
    bench.turn();
    // Connection 1 never answers its login: the cancel waits its whole queue time.
    let id = bench.cancel(1);
    bench.after(1_000 * MS);
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        outcomes[0].status,
        Status::NotSent(NotSentReason::LoginRejected {
            code: 30012,
            msg: VenueMsg::new("Invalid ACCESS_PASSPHRASE"),
        }),
        "the refusal, not a bare queue timeout"
    );
}

#[test]
fn a_cancel_no_connection_came_up_for_carries_the_last_connection_error() {
    let mut bench = Bench::new(1, |c| c.max_queue_time(ms(1_000)));
    // The first attempt fails: the link backs off and never comes up.
    bench.link(0).drop_on_read = true;
    bench.turn();
    let id = bench.cancel(1);
    bench.after(1_000 * MS);
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        outcomes[0].status,
        Status::NotSent(NotSentReason::NoConnection {
            failure: ConnectFailure::Connect,
            error: ErrorText::new("connection failed: dropped by the test"),
        })
    );
    assert_eq!(
        outcomes[0].status.to_string(),
        "not_sent (no_connection): no connection to the venue came up: connection failed: \
         dropped by the test"
    );
}

#[test]
fn a_cancel_that_times_out_before_any_attempt_ended_says_the_connection_was_still_coming_up() {
    let mut bench = Bench::new(1, |c| c.max_queue_time(ms(1_000)));
    let id = bench.cancel(1);
    bench.after(1_000 * MS);
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        outcomes[0].status,
        Status::NotSent(NotSentReason::NoConnection {
            failure: ConnectFailure::Pending,
            error: ErrorText::new("no connection attempt had ended yet (still connecting)"),
        })
    );
}

#[test]
fn a_cancel_held_by_pacing_with_a_live_link_is_a_queue_timeout() {
    let mut bench = Bench::new(1, |c| {
        c.max_queue_time(ms(500))
            .cancels_per_second(1)
            .hedge_after(HedgeAfter::Off)
    });
    // A failure on the way up, then a session: the failure is not why the second cancel waits.
    bench.link(0).drop_on_read = true;
    bench.turn();
    bench.log_in(&[0]);
    let first = bench.cancel(1);
    let second = bench.cancel(2);
    assert_eq!(bench.link(0).sent_ids(), [first.as_str()]);
    bench.after(500 * MS);
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, second);
    assert_eq!(
        outcomes[0].status,
        Status::NotSent(NotSentReason::QueueTimeout)
    );
}

#[test]
fn with_the_final_word_on_a_push_after_the_reply_follows_the_outcome_and_silence_times_out() {
    use crate::engine::config::Confirm;
    use crate::final_word::{FinalSource, FinalState, OrderStatus, UnconfirmedReason};
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off).confirm(Confirm {
            timeout: ms(2_000),
            ..Confirm::default()
        })
    });
    bench.log_in(&[0]);
    let pushed = bench.cancel(1);
    let silent = bench.cancel(2);
    // The first order's push comes before its reply, on the same read.
    bench.link(0).push(1, OrderStatus::Cancelled, "0.5");
    bench.link(0).reply(pushed.as_str(), ACKED);
    bench.link(0).reply(silent.as_str(), ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 2);
    let finals = bench.finals();
    assert_eq!(finals.len(), 1, "the other waits for its word");
    assert_eq!(finals[0].id, pushed);
    assert_eq!(
        (finals[0].state, finals[0].source),
        (FinalState::Cancelled, Some(FinalSource::Push))
    );
    assert_eq!(
        finals[0].times.settled_ns,
        outcomes
            .iter()
            .find(|o| o.id == pushed)
            .unwrap()
            .times
            .settled_ns,
        "the final word follows its outcome"
    );
    assert_eq!(bench.stats().finals.pushes_before_reply, 1);
    // No REST rung, no push: the other is unconfirmed when its time is up, not before.
    bench.after(1_999 * MS);
    assert!(bench.finals().is_empty());
    bench.after(MS);
    let finals = bench.finals();
    assert_eq!(finals.len(), 1);
    assert_eq!(
        (finals[0].id, finals[0].state),
        (silent, FinalState::Unconfirmed(UnconfirmedReason::Timeout))
    );
    assert_eq!(bench.stats().finals.unconfirmed, 1);
}

#[test]
fn with_the_final_word_off_pushes_are_not_even_counted_and_no_final_word_comes() {
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    bench
        .link(0)
        .push(1, crate::final_word::OrderStatus::Cancelled, "0");
    bench.link(0).reply(id.as_str(), ACKED);
    bench.turn();
    assert_eq!(bench.outcomes().len(), 1);
    assert!(bench.finals().is_empty());
    let stats = bench.stats();
    assert!(!stats.finals.enabled);
    assert_eq!(stats.finals.pushes_received, 0);
}

#[test]
fn under_a_backlog_the_highest_priority_leaves_first_then_arrival_order() {
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    // Ten cancels use the second's budget (10 a second for the account and the link).
    let first: Vec<_> = (1..=10).map(|n| bench.cancel(n)).collect();
    assert_eq!(bench.link(0).sent.len(), 10);
    // Seven wait: priorities 0, 0, 7, 3, 7, 0, 3 in arrival order.
    let waiting: Vec<_> = [0u8, 0, 7, 3, 7, 0, 3]
        .into_iter()
        .enumerate()
        .map(|(i, p)| (bench.cancel_with_priority(11 + i as u64, p), p))
        .collect();
    assert_eq!(bench.link(0).sent.len(), 10, "nothing more this second");
    bench.after(1_100 * MS);
    let sent = bench.link(0).sent_ids();
    assert_eq!(
        &sent[..10],
        first.iter().map(|id| id.as_str()).collect::<Vec<_>>()
    );
    let by_id = |p: u8| {
        waiting
            .iter()
            .filter(|(_, q)| *q == p)
            .map(|(id, _)| id.as_str().to_string())
            .collect::<Vec<_>>()
    };
    let expected: Vec<String> = [by_id(7), by_id(3), by_id(0)].concat();
    assert_eq!(&sent[10..], expected);
}

#[test]
fn a_low_priority_cancel_behind_urgent_ones_is_settled_at_its_queue_timeout() {
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off).max_queue_time(ms(1_500))
    });
    bench.log_in(&[0]);
    for n in 1..=10 {
        bench.cancel(n);
    }
    let patient = bench.cancel_with_priority(100, 0);
    // Urgent cancels keep arriving, more than the budget lets out: the patient one never
    // reaches the front.
    let mut n = 200;
    for _ in 0..16 {
        for _ in 0..2 {
            n += 1;
            bench.cancel_with_priority(n, 9);
        }
        bench.after(100 * MS);
    }
    assert!(
        !bench
            .link(0)
            .sent_ids()
            .contains(&patient.as_str().to_string())
    );
    let outcomes = bench.outcomes();
    let settled = outcomes.iter().find(|o| o.id == patient).expect("settled");
    assert_eq!(settled.status, Status::NotSent(NotSentReason::QueueTimeout));
    let waited = settled.times.settled_ns - settled.times.accepted_ns;
    assert!(
        (1_500 * MS..1_700 * MS).contains(&waited),
        "settled at its queue timeout, not later: {waited}"
    );
    assert!(
        bench.link(0).sent.len() > 10,
        "urgent cancels went out meanwhile"
    );
}
