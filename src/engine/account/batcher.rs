//! The backlog's REST batches: which waiting cancels leave together in one batch request, and
//! when.
//!
//! The account's cancel budget (10 a second, WebSocket and REST `cancel-order` together) is the
//! binding limit in a burst. The batch endpoints have counters of their own (V2, the classic
//! account: 10 requests a second each, spot and futures; V3, the unified account: 5 a second
//! on its one `cancel-batch` for every category; up to 20 cancels per request), so when the
//! waiting cancels would wait longer than the threshold to go out one by one, the ones the
//! budget cannot take within it go in batches instead, alongside the singles:
//!
//! - the waiting cancels are looked at in the order they leave (priority, then arrival); the
//!   first `k` whose projected departure on the account's budget ([`RateLimiter::ready_at_nth`])
//!   is within the threshold stay for the WebSocket, which carries them with the lowest latency;
//! - of the rest, the first one whose batch endpoint has budget now names the batch: its
//!   product line, its symbol and how it is named ([`BatchKey`]: orderId, or clientOid; never
//!   both in one request), and up to [`MAX_BATCH`] waiting cancels of that group join it, in
//!   leave order. V3's entries each carry their category and symbol, but a V3 batch is grouped
//!   the same way: whether the venue takes categories mixed in one request is not known.
//!
//! Plain policy: the caller hands in the waiting cancels and the account's limiter, and sends
//! what the plan says.

use super::super::pacing::RateLimiter;
use crate::intent::{Cancel, InstId, InstType};
use crate::outcome::BatchRef;
use crate::venue::Dialect;
use crate::venue::v2::rest::{BatchKey, MAX_BATCH};

/// One batch to send: its group and the slots of its cancels, in leave order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchPlan {
    pub inst_type: InstType,
    pub inst_id: InstId,
    pub key: BatchKey,
    pub slots: [u32; MAX_BATCH],
    pub len: usize,
}

impl BatchPlan {
    /// The slots of its cancels.
    pub(crate) fn slots(&self) -> &[u32] {
        &self.slots[..self.len]
    }
}

/// When the backlog goes in batches, and each batch endpoint's budget.
#[derive(Debug)]
pub(crate) struct Batcher {
    /// The projected wait beyond which a waiting cancel goes in a batch; `None`: batches off.
    after: Option<u64>,
    /// Each endpoint's budget, by [`Dialect::batch_endpoint`]: V2 spot, V2 futures, V3.
    endpoints: [RateLimiter; 3],
    /// Batches sent so far: the last one's number.
    number: u64,
}

impl Batcher {
    /// Batches after a projected wait of `after` ns (`None`: off), each endpoint paced over
    /// `window` ns.
    pub(crate) fn new(after: Option<u64>, window: u64) -> Self {
        let v2 = Dialect::V2.batches_per_second();
        Batcher {
            after,
            endpoints: [
                RateLimiter::new(v2, window),
                RateLimiter::new(v2, window),
                RateLimiter::new(Dialect::V3.batches_per_second(), window),
            ],
            number: 0,
        }
    }

    /// Whether batches are on.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.after.is_some()
    }

    fn limiter(&self, dialect: Dialect, inst_type: InstType) -> &RateLimiter {
        &self.endpoints[dialect.batch_endpoint(inst_type)]
    }

    /// When a batch endpoint of `dialect` next has budget, if a batch waits for it.
    pub(crate) fn ready_at(&self, dialect: Dialect) -> u64 {
        InstType::ALL
            .iter()
            .map(|&t| self.limiter(dialect, t).ready_at())
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The next batch to send at `now` in `dialect`, from the waiting cancels in the order
    /// they leave (`waiting`: slot and cancel), given the account's cancel budget (`cancels`)
    /// and when the earliest serving WebSocket link has budget for a message (`ws`; `None`: no
    /// link serves, and every waiting cancel may go in a batch). `None`: nothing waits beyond
    /// the threshold, or no endpoint has budget.
    pub(crate) fn plan<'a>(
        &self,
        dialect: Dialect,
        waiting: impl Iterator<Item = (u32, &'a Cancel)> + Clone,
        cancels: &RateLimiter,
        ws: Option<u64>,
        now: u64,
    ) -> Option<BatchPlan> {
        let after = self.after?;
        let horizon = now.saturating_add(after);
        // The first `keep` leave on the budgets within the threshold: they stay singles.
        let keep = match ws {
            Some(link_ready) => waiting
                .clone()
                .enumerate()
                .take_while(|(k, _)| cancels.ready_at_nth(*k).max(link_ready) <= horizon)
                .count(),
            None => 0,
        };
        let (inst_type, inst_id, key) = waiting
            .clone()
            .skip(keep)
            .map(|(_, c)| (c.inst_type, c.inst_id, BatchKey::of(&c.order)))
            .find(|(t, _, _)| self.limiter(dialect, *t).is_ready(now))?;
        let mut plan = BatchPlan {
            inst_type,
            inst_id,
            key,
            slots: [0; MAX_BATCH],
            len: 0,
        };
        for (slot, c) in waiting.skip(keep) {
            if c.inst_type == inst_type && c.inst_id == inst_id && BatchKey::of(&c.order) == key {
                plan.slots[plan.len] = slot;
                plan.len += 1;
                if plan.len == MAX_BATCH {
                    break;
                }
            }
        }
        Some(plan)
    }

    /// The number the next batch gets.
    pub(crate) fn next_number(&self) -> u64 {
        self.number + 1
    }

    /// A batch of `size` cancels on `inst_type` went out in `dialect` at `now`: its
    /// endpoint's budget is spent, and it gets the next number.
    pub(crate) fn sent(
        &mut self,
        dialect: Dialect,
        inst_type: InstType,
        size: usize,
        now: u64,
    ) -> BatchRef {
        self.endpoints[dialect.batch_endpoint(inst_type)].record(now);
        self.number += 1;
        BatchRef {
            number: self.number,
            size: size as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::OrderRef;
    use crate::venue::Dialect::{V2, V3};

    const SECOND: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn cancel(inst_type: InstType, symbol: &str, order: OrderRef) -> Cancel {
        Cancel::new(inst_type, InstId::new(symbol).unwrap(), order)
    }

    fn by_id(n: u64) -> OrderRef {
        OrderRef::order_id(&n.to_string()).unwrap()
    }

    fn waiting(cancels: &[Cancel]) -> impl Iterator<Item = (u32, &Cancel)> + Clone {
        cancels.iter().enumerate().map(|(i, c)| (i as u32, c))
    }

    /// An account limiter of 10 a second that just spent its second at `at`.
    fn spent(at: u64) -> RateLimiter {
        let mut limiter = RateLimiter::new(10, SECOND);
        for _ in 0..10 {
            limiter.record(at);
        }
        limiter
    }

    #[test]
    fn what_the_budget_takes_within_the_threshold_stays_single() {
        let batcher = Batcher::new(Some(100 * MS), SECOND);
        let fresh = RateLimiter::new(10, SECOND);
        let few: Vec<Cancel> = (1..=10)
            .map(|n| cancel(InstType::Spot, "BTCUSDT", by_id(n)))
            .collect();
        assert_eq!(batcher.plan(V2, waiting(&few), &fresh, Some(0), 0), None);
        let many: Vec<Cancel> = (1..=14)
            .map(|n| cancel(InstType::Spot, "BTCUSDT", by_id(n)))
            .collect();
        let plan = batcher
            .plan(V2, waiting(&many), &fresh, Some(0), 0)
            .unwrap();
        assert_eq!(
            plan.slots(),
            [10, 11, 12, 13],
            "the first ten leave on the budget now"
        );
        // A spent budget: the front would wait a second, so everything goes in batches.
        let plan = batcher
            .plan(V2, waiting(&few), &spent(5), Some(0), 10)
            .unwrap();
        assert_eq!(plan.len, 10);
        // The link's own budget is spent (the account's is not): it decides.
        let plan = batcher
            .plan(V2, waiting(&many), &fresh, Some(SECOND), 0)
            .unwrap();
        assert_eq!(plan.len, 14);
        // No WebSocket: everything may go in batches.
        assert_eq!(
            batcher
                .plan(V2, waiting(&few), &fresh, None, 0)
                .unwrap()
                .len,
            10
        );
        assert_eq!(
            Batcher::new(None, SECOND).plan(V2, waiting(&many), &fresh, Some(0), 0),
            None
        );
    }

    #[test]
    fn a_batch_holds_one_symbol_one_kind_of_id_and_at_most_twenty() {
        let batcher = Batcher::new(Some(100 * MS), SECOND);
        let mut cancels = Vec::new();
        for n in 0..30 {
            cancels.push(cancel(InstType::UsdtFutures, "BTCUSDT", by_id(n)));
            cancels.push(cancel(InstType::Spot, "BTCUSDT", by_id(n)));
            cancels.push(cancel(
                InstType::UsdtFutures,
                "BTCUSDT",
                OrderRef::client_oid(&format!("c-{n}")).unwrap(),
            ));
        }
        let plan = batcher
            .plan(V2, waiting(&cancels), &spent(0), Some(0), 1)
            .unwrap();
        assert_eq!(plan.len, MAX_BATCH);
        assert_eq!(
            (plan.inst_type, plan.key),
            (InstType::UsdtFutures, BatchKey::OrderId)
        );
        for &slot in plan.slots() {
            let c = &cancels[slot as usize];
            assert_eq!(
                (c.inst_type, BatchKey::of(&c.order)),
                (plan.inst_type, plan.key)
            );
        }
        assert_eq!(plan.slots()[..3], [0, 3, 6], "in leave order");
    }

    #[test]
    fn each_batch_endpoint_keeps_its_own_budget() {
        let mut batcher = Batcher::new(Some(100 * MS), SECOND);
        let cancels = [
            cancel(InstType::Spot, "ETHUSDT", by_id(1)),
            cancel(InstType::CoinFutures, "BTCUSD", by_id(2)),
        ];
        let budget = spent(0);
        for k in 0..10 {
            let r = batcher.sent(V2, InstType::Spot, 3, 1 + k);
            assert_eq!(
                r,
                BatchRef {
                    number: k + 1,
                    size: 3
                }
            );
        }
        // Spot's endpoint is spent: the futures cancel names the next batch.
        let plan = batcher
            .plan(V2, waiting(&cancels), &budget, Some(0), 20)
            .unwrap();
        assert_eq!(
            (plan.inst_type, plan.slots()),
            (InstType::CoinFutures, &[1][..])
        );
        for k in 0..10 {
            batcher.sent(V2, InstType::CoinFutures, 1, 21 + k);
        }
        assert_eq!(
            batcher.plan(V2, waiting(&cancels), &budget, Some(0), 40),
            None
        );
        assert_eq!(batcher.ready_at(V2), 1 + SECOND);
        // A second on, spot's endpoint has budget again (the account's is spent anew).
        let plan = batcher.plan(V2, waiting(&cancels), &spent(SECOND), Some(0), 1 + SECOND);
        assert_eq!(plan.map(|p| p.inst_type), Some(InstType::Spot));
    }

    #[test]
    fn v3_batches_share_one_endpoint_of_five_a_second_across_categories() {
        let mut batcher = Batcher::new(Some(100 * MS), SECOND);
        let cancels = [
            cancel(InstType::Spot, "ETHUSDT", by_id(1)),
            cancel(InstType::UsdtFutures, "BTCUSDT", by_id(2)),
            cancel(InstType::Spot, "ETHUSDT", by_id(3)),
        ];
        let budget = spent(0);
        let plan = batcher
            .plan(V3, waiting(&cancels), &budget, Some(0), 1)
            .unwrap();
        assert_eq!(
            (plan.inst_type, plan.slots()),
            (InstType::Spot, &[0, 2][..]),
            "one category and symbol per batch, as V2"
        );
        for k in 0..5 {
            batcher.sent(V3, InstType::Spot, 2, 2 + k);
        }
        // V3's one endpoint is spent for every category; V2's endpoints are untouched.
        assert_eq!(
            batcher.plan(V3, waiting(&cancels), &budget, Some(0), 10),
            None
        );
        assert_eq!(batcher.ready_at(V3), 2 + SECOND);
        assert!(
            batcher
                .plan(V2, waiting(&cancels), &budget, Some(0), 10)
                .is_some()
        );
        let plan = batcher.plan(V3, waiting(&cancels), &spent(SECOND), Some(0), 2 + SECOND);
        assert_eq!(plan.map(|p| p.len), Some(2));
        // V2's spent spot endpoint leaves V3's budget alone.
        for k in 0..10 {
            batcher.sent(V2, InstType::Spot, 1, 3 * SECOND + k);
        }
        assert!(
            batcher
                .plan(
                    V3,
                    waiting(&cancels),
                    &spent(3 * SECOND),
                    Some(0),
                    3 * SECOND + 20
                )
                .is_some()
        );
    }
}
