"""Sync and asyncio on one engine at once: every outcome reaches exactly one consumer, the one
that waits for it."""

from __future__ import annotations

import asyncio
import threading
import time

import bitget_cancel as bc
from conftest import PATIENCE, cancel_order


def test_sync_and_async_cancels_mixed_each_outcome_once(engine_for):
    with bc.SimVenue(generate=120, max_messages_per_second=0) as venue:
        engine = engine_for(venue)
        orders = venue.orders
        sync_orders, async_orders = orders[:60], orders[60:]
        sync_ids: list[str] = []
        sync_seen: list[str] = []

        def sync_side():
            for order in sync_orders:
                sync_ids.append(cancel_order(engine, order))
                if len(sync_ids) % 7 == 0:
                    time.sleep(0.001)
            deadline = time.monotonic() + PATIENCE
            while len(sync_seen) < len(sync_orders) and time.monotonic() < deadline:
                o = engine.outcome(timeout=0.2)
                if o is not None:
                    sync_seen.append(o.id)

        async def async_side():
            futures = []
            for n, order in enumerate(async_orders):
                futures.append(
                    engine.cancel_async(
                        order["instType"], order["instId"], order_id=order["orderId"], tag=n
                    )
                )
                if n % 5 == 0:
                    await asyncio.sleep(0)
            return await asyncio.wait_for(asyncio.gather(*futures), PATIENCE)

        thread = threading.Thread(target=sync_side)
        thread.start()
        awaited = asyncio.run(async_side())
        thread.join(PATIENCE)

        assert sorted(sync_seen) == sorted(sync_ids), "every sync outcome once, to outcome()"
        assert [o.tag for o in awaited] == list(range(len(async_orders)))
        awaited_ids = {o.id for o in awaited}
        assert len(awaited_ids) == len(async_orders)
        assert not awaited_ids & set(sync_seen), "no outcome went to both sides"
        assert engine.try_outcome() is None
        assert engine.stats()["acked"] == len(orders)


def test_a_thread_blocked_in_outcome_hands_awaited_outcomes_to_their_futures(venue, engine):
    # The thread waits for a sync outcome that never comes; the loop's futures must still
    # resolve while it holds the ring.
    blocked = threading.Event()
    got: list = []

    def waiter():
        blocked.set()
        got.append(engine.outcome(timeout=2.0))

    thread = threading.Thread(target=waiter)
    thread.start()
    blocked.wait()
    time.sleep(0.05)

    async def main():
        futures = [
            engine.cancel_async(o["instType"], o["instId"], order_id=o["orderId"], tag=n)
            for n, o in enumerate(venue.orders[:10])
        ]
        return await asyncio.wait_for(asyncio.gather(*futures), PATIENCE)

    outcomes = asyncio.run(main())
    thread.join(PATIENCE)
    assert [o.tag for o in outcomes] == list(range(10))
    assert got == [None], "the blocked thread never got an awaited outcome"
    assert engine.try_outcome() is None


def test_after_a_blocked_thread_leaves_the_loop_takes_over_again(venue, engine):
    # A thread blocks briefly while the loop waits; once it has left, the loop's own reader
    # must pick up outcomes again.
    async def main():
        loop = asyncio.get_running_loop()
        block = loop.run_in_executor(None, engine.outcome, 0.1)
        await asyncio.sleep(0.02)
        first = engine.cancel_async("SPOT", "BTCUSDT", order_id=venue.orders[0]["orderId"])
        assert await block is None
        await asyncio.wait_for(first, PATIENCE)
        later = [
            engine.cancel_async(o["instType"], o["instId"], order_id=o["orderId"])
            for o in venue.orders[1:6]
        ]
        return await asyncio.wait_for(asyncio.gather(*later), PATIENCE)

    assert len(asyncio.run(main())) == 5
