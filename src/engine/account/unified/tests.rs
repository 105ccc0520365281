//! The account's kind as plain policy: fake links, a clock moved by hand, no socket. A refusal
//! for the wrong kind of account holds the cancel (it did not land), switches the dialect,
//! lets each link finish what is due on it before it reconnects, and sends the held cancels
//! again in the new dialect.

use crate::engine::account::testkit::{ACKED, Bench, MS, rejected};
use crate::engine::config::{Account, HedgeAfter};
use crate::outcome::Status;
use crate::venue::Dialect;

fn bench(connections: usize, account: Account) -> Bench {
    Bench::new(connections, |c| {
        c.hedge_after(HedgeAfter::Off).account(account)
    })
}

fn dialect(bench: &Bench) -> Dialect {
    bench.account.settings.dialect
}

#[test]
fn a_unified_account_encodes_its_cancels_in_v3_from_the_start() {
    let mut bench = bench(1, Account::Unified);
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    assert_eq!(bench.link(0).encoded, [(id, Dialect::V3)]);
    assert!(bench.stats().unified.unified);
}

#[test]
fn a_40085_holds_the_cancel_switches_to_v3_and_sends_it_again_once_a_v3_link_serves() {
    let mut bench = bench(2, Account::Classic);
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    assert_eq!(bench.link(0).encoded, [(id, Dialect::V2)]);
    bench.clock.advance(MS);
    bench.link(0).reply(id.as_str(), rejected(40085));
    bench.turn();
    assert_eq!(dialect(&bench), Dialect::V3);
    // Not settled: the refusal is no verdict on the order, and no path of V3 serves yet.
    assert!(bench.outcomes().is_empty());
    // Neither link waits for anything: both reconnect at once (to the V3 endpoint).
    assert!(!bench.link(0).is_live_for_test() && !bench.link(1).is_live_for_test());
    bench.after(10 * MS);
    assert!(bench.outcomes().is_empty(), "held while nothing serves");
    bench.log_in(&[1]);
    let resent = bench.link(1).encoded.clone();
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].1, Dialect::V3);
    bench.link(1).reply(resent[0].0.as_str(), ACKED);
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, id);
    assert_eq!(outcomes[0].status, Status::Acked);
    assert_eq!(outcomes[0].attempts, 2);
    assert_eq!(bench.stats().unified.switches, 1);
}

#[test]
fn a_link_with_replies_due_finishes_them_before_it_reconnects_and_one_switch_covers_all() {
    let mut bench = bench(1, Account::Classic);
    bench.log_in(&[0]);
    let first = bench.cancel(1);
    let second = bench.cancel(2);
    bench.clock.advance(MS);
    bench.link(0).reply(first.as_str(), rejected(40085));
    bench.turn();
    // The second cancel's reply is still due on link 0: it drains instead of dropping it.
    assert!(bench.link(0).is_live_for_test());
    assert_eq!(dialect(&bench), Dialect::V3);
    bench.link(0).reply(second.as_str(), rejected(40085));
    bench.turn();
    bench.turn();
    assert!(
        !bench.link(0).is_live_for_test(),
        "reconnects once nothing is due"
    );
    assert!(bench.outcomes().is_empty());
    bench.log_in(&[0]);
    let v3: Vec<_> = bench
        .link(0)
        .encoded
        .iter()
        .filter(|(_, d)| *d == Dialect::V3)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(v3.len(), 2, "both sent again, in V3");
    for id in &v3 {
        bench.link(0).reply(id.as_str(), ACKED);
    }
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == Status::Acked && o.attempts == 2)
    );
    assert_eq!(bench.stats().unified.switches, 1);
}

#[test]
fn a_stale_link_whose_replies_never_come_reconnects_at_the_ack_timeout() {
    let mut bench = bench(1, Account::Classic);
    bench.log_in(&[0]);
    let first = bench.cancel(1);
    let silent = bench.cancel(2);
    bench.link(0).reply(first.as_str(), rejected(40085));
    bench.turn();
    assert!(bench.link(0).is_live_for_test());
    bench.after(4_000 * MS);
    assert!(
        bench.link(0).is_live_for_test(),
        "still waiting within the ack timeout"
    );
    bench.after(1_100 * MS);
    assert!(!bench.link(0).is_live_for_test());
    // The silent cancel may have landed: with no path left it is unknown, never re-sent blind.
    let outcomes = bench.outcomes();
    let silent = outcomes.iter().find(|o| o.id == silent).expect("settled");
    assert!(matches!(silent.status, Status::Unknown(_)), "{silent:?}");
}

#[test]
fn a_40084_on_a_unified_account_switches_back_to_v2() {
    let mut bench = bench(1, Account::Unified);
    bench.log_in(&[0]);
    let id = bench.cancel(1);
    bench.link(0).reply(id.as_str(), rejected(40084));
    bench.turn();
    assert_eq!(dialect(&bench), Dialect::V2);
    bench.log_in(&[0]);
    let (resent, d) = *bench.link(0).encoded.last().unwrap();
    assert_eq!(d, Dialect::V2);
    bench.link(0).reply(resent.as_str(), ACKED);
    bench.turn();
    assert_eq!(bench.outcomes()[0].status, Status::Acked);
}

#[test]
fn a_closing_notice_on_v3_lets_the_link_finish_its_replies_then_reconnect_ahead_of_the_cut() {
    use crate::engine::link::LinkEvent;
    let mut bench = bench(2, Account::Unified);
    bench.log_in(&[0, 1]);
    let id = bench.cancel(1);
    assert_eq!(bench.link(0).sent_ids(), [id.as_str()]);
    bench.link(0).inbox.push(LinkEvent::VenueError {
        closing: true,
        rate_limited: false,
    });
    bench.turn();
    // Draining: the reply due on it is still awaited; new cancels go to the other link.
    assert!(bench.link(0).is_live_for_test());
    let next = bench.cancel(2);
    assert_eq!(bench.link(1).sent_ids(), [next.as_str()]);
    bench.link(0).reply(id.as_str(), ACKED);
    bench.turn();
    bench.turn();
    assert!(
        !bench.link(0).is_live_for_test(),
        "reconnects once its reply came"
    );
    assert_eq!(bench.outcomes()[0].status, Status::Acked);
}

/// A batch entry naming order `n`.
fn entry(n: u64, verdict: crate::venue::Verdict) -> crate::venue::BatchEntry {
    crate::venue::BatchEntry {
        order_id: crate::intent::OrderId::new(&n.to_string()).ok(),
        client_oid: None,
        verdict,
    }
}

#[test]
fn cancels_due_at_once_on_v3_go_in_one_batch_and_each_entry_settles_its_own() {
    use crate::engine::link::LinkEvent;
    let mut bench = bench(1, Account::Unified);
    // Due before any link is live: they go together once one is.
    let ids: Vec<_> = (1..=3).map(|n| bench.cancel(n)).collect();
    bench.log_in(&[0]);
    let batches = bench.link(0).batches.clone();
    assert_eq!(batches.len(), 1, "one message: {batches:?}");
    assert_eq!(batches[0].1, 3);
    let batch = batches[0].0;
    assert!(!ids.contains(&batch), "the batch has an id of its own");
    // The venue answers in another order than the request's: entries are told by their order.
    for (n, verdict) in [(3, ACKED), (1, ACKED), (2, rejected(25204))] {
        bench.link(0).inbox.push(LinkEvent::BatchEntry {
            batch: Some(batch),
            entry: entry(n, verdict),
        });
    }
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 3);
    for o in &outcomes {
        let expected = if o.id == ids[1] {
            Status::Rejected {
                code: 25204,
                msg: crate::outcome::VenueMsg::new("refused"),
            }
        } else {
            Status::Acked
        };
        assert_eq!(o.status, expected, "{o:?}");
        assert_eq!(o.attempts, 1);
    }
    let stats = bench.stats();
    assert_eq!(
        stats.connections[0].replies, 3,
        "one reply per entry answered"
    );
}

#[test]
fn a_batch_refused_as_a_whole_settles_each_entry_and_classic_accounts_never_batch() {
    let mut bench = bench(1, Account::Unified);
    let ids: Vec<_> = (1..=2).map(|n| bench.cancel(n)).collect();
    bench.log_in(&[0]);
    let batch = bench.link(0).batches[0].0;
    bench.link(0).reply(batch.as_str(), rejected(40020));
    bench.turn();
    let outcomes = bench.outcomes();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(
            |o| ids.contains(&o.id) && matches!(o.status, Status::Rejected { code: 40020, .. })
        )
    );
    assert_eq!(
        bench.stats().connections[0].replies,
        2,
        "a refusal of the whole batch is each entry's reply, not one more"
    );

    let mut classic = self::bench(1, Account::Classic);
    for n in 1..=3 {
        classic.cancel(n);
    }
    classic.log_in(&[0]);
    assert!(classic.link(0).batches.is_empty());
    assert_eq!(classic.link(0).sent.len(), 3);
}

#[test]
fn a_v3_batch_is_one_message_for_the_links_budget_and_each_entry_one_cancel_for_the_accounts() {
    // The link allows 2 messages a second, the account 4 cancels: 6 due at once go as one
    // batch of 4 (the account's budget), not 2 single cancels (the link's).
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off)
            .account(Account::Unified)
            .messages_per_second(2)
            .cancels_per_second(4)
    });
    for n in 1..=6 {
        bench.cancel(n);
    }
    bench.log_in(&[0]);
    assert_eq!(bench.link(0).batches.len(), 1);
    assert_eq!(bench.link(0).batches[0].1, 4);
    assert_eq!(bench.link(0).sent.len(), 1, "one message on the wire");
}

#[test]
fn counted_per_message_a_batch_takes_one_cancel_of_the_accounts_budget() {
    let mut bench = Bench::new(1, |c| {
        c.hedge_after(HedgeAfter::Off)
            .account(Account::Unified)
            .cancels_per_second(2)
            .batch_budget(crate::engine::config::BatchBudget::PerMessage)
    });
    for n in 1..=6 {
        bench.cancel(n);
    }
    bench.log_in(&[0]);
    assert_eq!(bench.link(0).batches.len(), 1);
    assert_eq!(bench.link(0).batches[0].1, 6, "all six in the one message");
}
