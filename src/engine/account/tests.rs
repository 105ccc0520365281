//! The conductor's policy, driven as plain code: fake links that only record what they were
//! given and report what the test says, a clock moved by hand, no socket. Each test names the
//! link every attempt went out on, how many attempts an intent took and what settled it.

use super::testkit::{ACKED, Bench, MS, ms, rejected};
use crate::clock::Clock;
use crate::engine::config::HedgeAfter;
use crate::engine::link::LinkSeam;
use crate::outcome::{
    ConnectFailure, ErrorText, NotSentReason, Outcome, Status, UnknownReason, VenueMsg, Via,
};

const SECOND: u64 = 1_000 * MS;

/// No hedges: routing and failover alone.
fn unhedged(connections: usize) -> Bench {
    Bench::new(connections, |c| c.hedge_after(HedgeAfter::Off))
}

/// The most of `times` that fall in any window of `window` ns.
fn busiest(times: &[u64], window: u64) -> usize {
    times
        .iter()
        .map(|&start| {
            times
                .iter()
                .filter(|&&t| t >= start && t < start + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn find(outcomes: &[Outcome], id: crate::intent::RequestId) -> Outcome {
    *outcomes
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no outcome for {id}: {outcomes:?}"))
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
fn a_burst_is_spread_over_the_serving_links() {
    let mut bench = unhedged(2);
    // Six cancels wait while nothing is logged in, then go out in one turn.
    let ids: Vec<_> = (1..=6).map(|n| bench.cancel(n)).collect();
    assert!(bench.link(0).sent.is_empty());
    bench.log_in(&[0, 1]);
    let (zero, one) = (bench.link(0).sent_ids(), bench.link(1).sent_ids());
    assert_eq!((zero.len(), one.len()), (3, 3), "{zero:?} {one:?}");
    // Each link keeps arrival order.
    let order = |sent: &[String]| {
        sent.iter()
            .map(|s| ids.iter().position(|id| id.as_str() == s).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(order(&zero).is_sorted() && order(&one).is_sorted());
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
    let frozen = find(&outcomes, first);
    assert_eq!(frozen.status, Status::Unknown(UnknownReason::AckTimeout));
    assert_eq!(frozen.attempts, 1);
}

#[test]
fn a_stalled_link_takes_no_new_cancels_and_what_waits_on_it_fails_over() {
    // Two connections, the first answers nothing; 12 cancels at once; 5 s ack timeout,
    // adaptive hedging (1 s at first), 10 cancels a second for the account.
    let mut bench = Bench::new(2, |c| c.ack_timeout(ms(5_000)));
    bench.log_in(&[0, 1]);
    let start = bench.clock.now();
    let ids: Vec<_> = (1..=12).map(|n| bench.cancel(n)).collect();
    assert_eq!(
        (bench.link(0).sent.len(), bench.link(1).sent.len()),
        (5, 5),
        "spread; two wait for the account's budget"
    );
    let mut outcomes = Vec::new();
    while bench.clock.now() < start + 6 * SECOND && outcomes.len() < 12 {
        bench.link(1).answer_all(ACKED);
        bench.after(10 * MS);
        outcomes.extend(bench.outcomes());
    }
    assert_eq!(outcomes.len(), 12, "{outcomes:?}");
    for id in &ids {
        let o = find(&outcomes, *id);
        assert_eq!(o.status, Status::Acked, "{o:?}");
        assert_eq!(o.via, Some(Via::Connection(1)));
        let took = o.times.settled_ns - o.times.accepted_ns;
        assert!(took <= 4 * SECOND, "{id} took {} ms", took / MS);
    }
    let stats = bench.stats();
    assert_eq!(stats.stalls, 1, "{stats:?}");
    assert_eq!(
        stats.failovers, 5,
        "what waited on the stalled link went out again"
    );
    assert_eq!(
        bench.link(0).sent.len(),
        5,
        "the stalled link took nothing new"
    );
    // No limit was exceeded: the account's 10 a second, each link's 10 messages a second.
    let window = SECOND + 50 * MS;
    let mut all = bench.link(0).sent_at.clone();
    all.extend(&bench.link(1).sent_at);
    assert!(busiest(&all, window) <= 10, "{all:?}");
    assert!(busiest(&bench.link(1).sent_at, window) <= 10);
}

#[test]
fn a_hedge_held_back_by_the_cap_waits_for_it_and_is_never_dropped() {
    // 10 cancels a second for the account: 2 hedges a second. Timed hedges out of the way.
    let mut bench = Bench::new(2, |c| {
        c.hedge_after(HedgeAfter::Fixed(ms(5_000)))
            .ack_timeout(ms(10_000))
    });
    bench.log_in(&[0, 1]);
    let ids: Vec<_> = (1..=5).map(|n| bench.cancel(n)).collect();
    assert_eq!(bench.link(0).sent.len(), 3);
    bench.link(1).answer_all(ACKED);
    // Trouble on slot 0 (an error naming no request): its three cancels are to be hedged.
    bench.link(0).venue_error(false, false);
    bench.after(MS);
    let hedged = |bench: &Bench| {
        let stats = bench.stats();
        (stats.hedges_sent, stats.hedges_capped)
    };
    assert_eq!(
        hedged(&bench),
        (2, 1),
        "two hedges; the third waits (counted once)"
    );
    for _ in 0..50 {
        bench.link(1).answer_all(ACKED);
        bench.after(10 * MS);
    }
    assert_eq!(
        hedged(&bench),
        (2, 1),
        "still waiting for the share, not dropped"
    );
    while bench.outcomes_len() < 5 {
        assert!(hedged(&bench).0 <= 3);
        assert!(bench.clock.now() < 3 * SECOND + 1_000 * MS, "never sent");
        bench.link(1).answer_all(ACKED);
        bench.after(10 * MS);
    }
    assert_eq!(
        hedged(&bench),
        (3, 1),
        "the share came back: the last one went"
    );
    let outcomes = bench.outcomes();
    for id in ids {
        assert_eq!(find(&outcomes, id).status, Status::Acked);
    }
}

#[test]
fn a_late_reply_after_a_hedge_won_makes_no_second_outcome() {
    let mut bench = Bench::new(2, |c| c.hedge_after(HedgeAfter::Fixed(ms(10))));
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    bench.after(11 * MS);
    let hedge = bench.wire(2);
    assert_eq!(bench.link(1).sent_ids(), std::slice::from_ref(&hedge));
    bench.link(1).reply(&hedge, ACKED);
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
fn a_reply_is_matched_by_its_wire_id_never_by_the_callers_label() {
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    let wire = bench.wire(1);
    assert_eq!(
        id.as_str(),
        wire,
        "no label: the outcome carries the wire id"
    );
    // An echo of anything else (a stranger's id, the digits alone) settles nothing.
    bench.link(0).reply("1", ACKED);
    bench.link(0).reply(&wire[..wire.len() - 1], ACKED);
    bench.turn();
    assert!(bench.outcomes().is_empty());
    assert_eq!(bench.stats().unmatched_replies, 2);
    bench.link(0).reply(&wire, ACKED);
    bench.turn();
    assert_eq!(bench.outcomes()[0].status, Status::Acked);
}

#[test]
fn a_reply_that_matches_no_request_is_counted_and_logged() {
    let capture = crate::relay::tests::capture();
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    bench.link(0).reply("stranger-42", ACKED);
    bench.turn();
    assert_eq!(bench.stats().unmatched_replies, 1);
    assert!(capture.wait_for("stranger-42 matches no request"));
}

#[test]
fn a_late_reply_to_an_old_send_never_settles_a_new_intent_with_the_same_label() {
    let mut bench = Bench::new(2, |c| c.hedge_after(HedgeAfter::Fixed(ms(10))));
    bench.log_in(&[0, 1]);
    let label = crate::intent::RequestId::new("mine").unwrap();
    let first = bench.cancel_labelled(1, label);
    // Slot 0 is slow; the hedge on slot 1 settles the intent.
    bench.after(11 * MS);
    bench.link(1).answer_all(ACKED);
    bench.turn();
    assert_eq!(bench.outcomes()[0].id, first);
    // The label again, for another order, on slot 1 this time...
    let second = bench.cancel_labelled(2, label);
    assert_eq!(second, label);
    // ... and slot 0 finally answers the first send, with the verdict on the first order.
    let old = bench.link(0).sent_ids()[0].clone();
    bench.link(0).reply(&old, rejected(43001));
    bench.turn();
    assert!(
        bench.outcomes().is_empty(),
        "the new intent is not settled by it"
    );
    bench.link(1).answer_all(ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!((outcomes[0].id, outcomes[0].status), (label, Status::Acked));
}

#[test]
fn a_transient_answer_to_a_hedge_settles_nothing_while_the_first_attempt_is_live() {
    let mut bench = Bench::new(2, |c| c.hedge_after(HedgeAfter::Fixed(ms(10))));
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    bench.after(11 * MS);
    let hedge = bench.wire(2);
    assert_eq!(bench.link(1).sent_ids(), std::slice::from_ref(&hedge));
    // The hedge is answered "request too many"; the first attempt is acked 100 ms later.
    bench.link(1).reply(&hedge, rejected(30006));
    bench.turn();
    assert!(
        bench.outcomes().is_empty(),
        "a transient answer settles nothing"
    );
    bench.after(100 * MS);
    assert_eq!(
        bench.link(0).sent.len() + bench.link(1).sent.len(),
        2,
        "no retry"
    );
    bench.link(0).reply(id.as_str(), ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        (outcomes[0].status, outcomes[0].via, outcomes[0].attempts),
        (Status::Acked, Some(Via::Connection(0)), 2)
    );
    let stats = bench.stats();
    assert_eq!((stats.transient_answers, stats.rejected), (1, 0));
}

#[test]
fn a_transient_answer_is_retried_after_a_pause_on_another_path() {
    let mut bench = unhedged(2);
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    assert_eq!(bench.link(0).sent.len(), 1);
    // "Request timed out": not processed.
    bench.link(0).reply(id.as_str(), rejected(40010));
    bench.turn();
    assert!(bench.outcomes().is_empty());
    assert!(
        bench.link(1).sent.is_empty(),
        "not at once: after a short pause"
    );
    bench.after(60 * MS);
    assert_eq!(
        bench.link(1).sent_ids(),
        [bench.wire(2)],
        "on the other link"
    );
    bench.link(1).answer_all(ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(
        (outcomes[0].status, outcomes[0].via, outcomes[0].attempts),
        (Status::Acked, Some(Via::Connection(1)), 2)
    );
    assert_eq!(bench.stats().retries, 1);
}

#[test]
fn a_rate_limit_answer_holds_the_accounts_cancels_back_for_a_window() {
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    let start = bench.clock.now();
    let id = bench.cancel(1);
    bench.link(0).reply(id.as_str(), rejected(30006));
    bench.turn();
    // Another cancel arrives: it waits too, the venue said the account is over its limit.
    let other = bench.cancel(2);
    for _ in 0..90 {
        bench.after(10 * MS);
    }
    assert_eq!(bench.link(0).sent.len(), 1, "nothing for most of a second");
    while bench.link(0).sent.len() < 3 {
        assert!(bench.clock.now() < start + 2 * SECOND, "never let out");
        bench.after(10 * MS);
    }
    assert!(bench.link(0).sent_at[1] >= start + SECOND);
    bench.link(0).answer_all(ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(find(&outcomes, id).attempts, 2);
    assert_eq!(find(&outcomes, id).status, Status::Acked);
    assert_eq!(find(&outcomes, other).status, Status::Acked);
}

#[test]
fn a_transient_answer_is_the_outcome_only_when_no_send_is_left() {
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    let mut answered = 0;
    while bench.outcomes_len() == 0 {
        assert!(answered < 10, "it never ended");
        bench.link(0).answer_all(rejected(40010));
        answered += 1;
        bench.after(60 * MS);
    }
    let outcomes = bench.outcomes();
    assert_eq!(outcomes[0].id, id);
    assert_eq!(outcomes[0].attempts, 4, "every send was tried");
    assert!(
        matches!(outcomes[0].status, Status::Rejected { code: 40010, .. }),
        "{:?}",
        outcomes[0].status
    );
    assert_eq!(outcomes[0].via, Some(Via::Connection(0)));
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
        [bench.wire(2)],
        "no wait for the ack timeout"
    );
    bench.link(1).answer_all(ACKED);
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
fn a_cancel_whose_only_connection_is_lost_goes_out_again_once_it_is_back() {
    let mut bench = unhedged(1);
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    bench.link(0).drop_on_read = true;
    bench.turn();
    assert!(bench.outcomes().is_empty(), "no other path now: it waits");
    bench.clock.advance(300 * MS);
    bench.log_in(&[0]);
    assert_eq!(
        bench.link(0).sent_ids(),
        [id.as_str().to_owned(), bench.wire(2)]
    );
    bench.link(0).answer_all(ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(
        (outcomes[0].status, outcomes[0].attempts),
        (Status::Acked, 2)
    );
}

#[test]
fn everything_lost_at_once_waits_for_the_first_connection_back() {
    let mut bench = unhedged(2);
    bench.log_in(&[0, 1]);
    let ids: Vec<_> = (1..=4).map(|n| bench.cancel(n)).collect();
    bench.link(0).drop_on_read = true;
    bench.link(1).drop_on_read = true;
    bench.turn();
    assert!(bench.outcomes().is_empty());
    bench.clock.advance(2_000 * MS);
    bench.log_in(&[1]);
    assert_eq!(
        bench.link(1).sent.len(),
        2 + 4,
        "all four again, on the one back"
    );
    bench.link(1).answer_all(ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    for id in ids {
        let o = find(&outcomes, id);
        assert_eq!((o.status, o.attempts), (Status::Acked, 2));
    }
}

#[test]
fn a_lost_cancel_is_unknown_only_when_its_ack_timeout_runs_out_first() {
    let mut bench = unhedged(2);
    // Slot 1 never logs in; there is no REST rung.
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    let sent_at = bench.clock.now();
    bench.link(0).drop_on_read = true;
    bench.turn();
    bench.after(4_900 * MS);
    assert!(bench.outcomes().is_empty(), "still within the ack timeout");
    bench.after(200 * MS);
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(
        (outcomes[0].status, outcomes[0].attempts),
        (Status::Unknown(UnknownReason::ConnectionLost), 1)
    );
    assert!(outcomes[0].times.settled_ns >= sent_at + 5_000 * MS);
    assert!(bench.link(1).sent.is_empty());
}

#[test]
fn a_cancel_unanswered_past_the_hedge_delay_makes_its_link_probe() {
    // One connection: nowhere to hedge, but a dead peer must be found soon.
    let mut bench = Bench::new(1, |c| c.hedge_after(HedgeAfter::Fixed(ms(50))));
    bench.log_in(&[0]);
    bench.cancel(1);
    bench.after(40 * MS);
    assert_eq!(bench.link(0).probes, 0);
    bench.after(20 * MS);
    assert_eq!(
        bench.link(0).probes,
        1,
        "probed once the hedge delay passed"
    );
    // With hedging off, a fifth of the ack timeout.
    let mut bench = Bench::new(1, |c| c.hedge_after(HedgeAfter::Off).ack_timeout(ms(1_000)));
    bench.log_in(&[0]);
    bench.cancel(1);
    bench.after(190 * MS);
    assert_eq!(bench.link(0).probes, 0);
    bench.after(20 * MS);
    assert!(bench.link(0).probes >= 1);
}

#[test]
fn hedges_after_a_venue_error_do_not_go_ahead_of_first_sends() {
    // 3 cancels a second for the account (1 hedge a second).
    let mut bench = Bench::new(2, |c| {
        c.cancels_per_second(3)
            .hedge_after(HedgeAfter::Fixed(ms(5_000)))
            .ack_timeout(ms(10_000))
    });
    bench.log_in(&[0, 1]);
    let start = bench.clock.now();
    for n in 1..=3 {
        bench.cancel(n);
    }
    assert_eq!(bench.link(0).sent.len(), 2, "two of them wait on slot 0");
    // The budget is spent: three more wait to be sent.
    bench.clock.advance(MS);
    let waiting: Vec<String> = (4..=6)
        .map(|n| bench.cancel(n).as_str().to_owned())
        .collect();
    // Trouble on slot 0: what waits there is to be hedged.
    bench.link(0).venue_error(false, false);
    bench.turn();
    while bench.stats().hedges_sent == 0 {
        assert!(bench.clock.now() < start + 4 * SECOND, "never hedged");
        bench.after(10 * MS);
    }
    // When the budget came back, the three first sends took it; the hedge went after them.
    let sent_at = |bench: &mut Bench, id: &str| -> u64 {
        (0..2)
            .find_map(|l| {
                let link = bench.link(l);
                link.sent_ids()
                    .iter()
                    .position(|s| s == id)
                    .map(|at| link.sent_at[at])
            })
            .unwrap_or(u64::MAX)
    };
    let last_first_send = waiting
        .iter()
        .map(|id| sent_at(&mut bench, id))
        .max()
        .unwrap();
    let first_hedge = bench.wire(7);
    let hedged_at = sent_at(&mut bench, &first_hedge);
    assert!(last_first_send < u64::MAX, "every first send went out");
    assert!(
        last_first_send <= hedged_at,
        "a first send waited behind a hedge: {} ms after it",
        (last_first_send - hedged_at) / MS
    );
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
        [
            first.as_str().to_owned(),
            bench.wire(3),
            third.as_str().to_owned()
        ]
    );
    // The replacement is back: slot 0 drains again, closes once answered (and once the
    // replacement has stayed up a moment), and the rotation ends with the replacement serving
    // alone.
    bench.log_in(&[1]);
    assert_eq!(bench.stats().rotations, 2);
    bench.link(0).answer_all(ACKED);
    bench.turn();
    bench.after(1_100 * MS);
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(|o| o.status == Status::Acked));
    assert!(outcomes.iter().all(|o| o.via == Some(Via::Connection(0))));
    assert_eq!(find(&outcomes, second).attempts, 2);
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
fn a_replacement_that_dies_right_after_logging_in_leaves_the_old_link_serving() {
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off)
            .max_connection_age(ms(100))
            .ack_timeout(ms(5_000))
    });
    bench.log_in(&[0]);
    bench.after(100 * MS);
    // The replacement logs in (nothing waits on slot 0), and the venue closes it at once.
    bench.log_in(&[1]);
    bench.after(MS);
    bench.link(1).drop_on_read = true;
    bench.after(MS);
    let id = bench.cancel(1);
    assert_eq!(
        bench.link(0).sent_ids(),
        [id.as_str()],
        "slot 0 still serves"
    );
    bench.link(0).answer_all(ACKED);
    bench.after(2 * SECOND);
    assert_eq!(bench.outcomes()[0].status, Status::Acked);
    assert_eq!(
        bench.stats().connections[0].state,
        crate::engine::SessionState::Live,
        "never closed"
    );
}

#[test]
fn a_replacement_takes_the_endpoint_of_the_link_it_replaces() {
    let mut bench = Bench::new(2, |c| c.max_connection_age(ms(1_000)));
    // Slot 1 logs in first, so it ages out first.
    bench.log_in(&[1]);
    bench.after(500 * MS);
    bench.log_in(&[0]);
    let url = |bench: &mut Bench, i: usize| bench.link(i).url().to_owned();
    assert_ne!(url(&mut bench, 2), url(&mut bench, 1));
    bench.after(600 * MS);
    assert_eq!(url(&mut bench, 2), url(&mut bench, 1), "slot 1's endpoint");
}

#[test]
fn the_longest_chain_of_sends_ends_within_the_configured_bound() {
    // Each send answered "request timed out" shortly before its ack timeout runs out: four
    // sends, each after the pause a transient answer asks for.
    let config_ack = 1_000 * MS;
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off)
            .ack_timeout(ms(1_000))
            .max_queue_time(ms(1_000))
    });
    let bound = {
        let config =
            crate::engine::Config::builder(crate::engine::Credentials::new("k", "s", "p").unwrap())
                .ack_timeout(ms(1_000))
                .max_queue_time(ms(1_000))
                .build()
                .unwrap();
        crate::clock::ns(config.longest_outcome_wait())
    };
    bench.log_in(&[0]);
    let accepted = bench.clock.now();
    let id = bench.cancel(1);
    let mut answered = 0;
    while bench.outcomes_len() == 0 {
        let sent = *bench.link(0).sent_at.last().unwrap();
        if bench.link(0).sent.len() > answered && bench.clock.now() >= sent + config_ack - 100 * MS
        {
            bench.link(0).answer_all(rejected(40010));
            answered = bench.link(0).sent.len();
        }
        bench.after(10 * MS);
        assert!(bench.clock.now() < accepted + 2 * bound, "never settled");
    }
    let o = bench.outcomes()[0];
    assert_eq!((o.id, o.attempts), (id, 4));
    let took = o.times.settled_ns - accepted;
    assert!(
        took > 3 * config_ack,
        "the chain was about as long as it gets: {took}"
    );
    assert!(took <= bound, "{took} ns, beyond the bound of {bound} ns");
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
