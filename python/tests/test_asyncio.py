"""``await engine.cancel_async(...)``: futures resolved on the loop's thread, through the
engine's outcome-ready descriptor; each exactly once; a cancelled future is harmless."""

from __future__ import annotations

import asyncio
import threading

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, cancel_order, unreachable_engine


def cancel_async(engine, order, tag=0):
    return engine.cancel_async(
        order["instType"], order["instId"], order_id=order["orderId"], tag=tag
    )


def test_an_awaited_cancel_gets_its_outcome_on_the_loops_thread(venue, engine):
    async def main():
        loop_thread = threading.get_ident()
        future = cancel_async(engine, venue.orders[0], tag=9)
        assert isinstance(future, asyncio.Future)
        resolved_on = []
        future.add_done_callback(lambda _: resolved_on.append(threading.get_ident()))
        outcome = await asyncio.wait_for(future, PATIENCE)
        await asyncio.sleep(0)
        return loop_thread, resolved_on, outcome

    loop_thread, resolved_on, outcome = asyncio.run(main())
    assert resolved_on == [loop_thread]
    assert (outcome.status, outcome.tag, outcome.order_id) == (
        "acked",
        9,
        venue.orders[0]["orderId"],
    )
    assert engine.try_outcome() is None, "an awaited outcome is not handed out twice"


def test_many_awaited_cancels_each_resolve_once(venue, engine):
    async def main():
        futures = [cancel_async(engine, order, tag=n) for n, order in enumerate(venue.orders)]
        return await asyncio.wait_for(asyncio.gather(*futures), PATIENCE)

    outcomes = asyncio.run(main())
    assert [o.tag for o in outcomes] == list(range(len(venue.orders)))
    assert len({o.id for o in outcomes}) == len(outcomes)
    assert all(o.status == "acked" for o in outcomes)
    assert engine.try_outcome() is None


def test_a_rejection_resolves_the_future_it_does_not_raise(engine):
    async def main():
        return await asyncio.wait_for(
            engine.cancel_async("SPOT", "BTCUSDT", order_id="999"), PATIENCE
        )

    outcome = asyncio.run(main())
    assert (outcome.status, outcome.code) == ("rejected", 43001)


def test_bad_input_raises_at_the_call_before_anything_is_queued(engine):
    async def main():
        with pytest.raises(bc.InvalidFieldError) as raised:
            engine.cancel_async("SPOT", "btcusdt", order_id="1")
        return raised.value.field

    assert asyncio.run(main()) == "instId"
    assert engine.stats()["intents"] == 0


def test_cancel_async_needs_a_running_event_loop(engine):
    with pytest.raises(RuntimeError):
        engine.cancel_async("SPOT", "BTCUSDT", order_id="1")
    assert engine.stats()["intents"] == 0


def test_a_cancelled_future_is_harmless_and_its_outcome_is_kept(venue, engine):
    errors = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: errors.append(ctx))
        abandoned = cancel_async(engine, venue.orders[0], tag=1)
        abandoned.cancel()
        # The cancel itself goes on; later cancels still resolve.
        kept = await asyncio.wait_for(cancel_async(engine, venue.orders[1], tag=2), PATIENCE)
        return kept

    kept = asyncio.run(main())
    assert kept.tag == 2
    abandoned = engine.outcome(timeout=PATIENCE)
    assert abandoned is not None and abandoned.tag == 1 and abandoned.status == "acked"
    assert engine.try_outcome() is None
    assert errors == []


def test_a_wait_for_that_times_out_leaves_the_outcome_to_outcome():
    engine = unreachable_engine(max_queue_time=0.2)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                engine.cancel_async("SPOT", "BTCUSDT", order_id="1"), 0.01
            )
        # The loop keeps running while the engine decides.
        await asyncio.sleep(0.3)

    try:
        asyncio.run(main())
        o = engine.outcome(timeout=PATIENCE)
        assert (o.status, o.reason) == ("not_sent", "no_connection")
    finally:
        engine.shutdown()


def test_one_engine_serves_one_event_loop_after_another(venue, engine):
    for n, order in enumerate(venue.orders[:3]):

        async def main():
            return await asyncio.wait_for(cancel_async(engine, order, tag=n), PATIENCE)

        assert asyncio.run(main()).tag == n


def test_loops_on_two_threads_at_once(venue, engine):
    results: dict[int, list] = {}

    def run(part: int, orders):
        async def main():
            futures = [cancel_async(engine, o, tag=part) for o in orders]
            return await asyncio.wait_for(asyncio.gather(*futures), PATIENCE)

        results[part] = asyncio.run(main())

    halves = [venue.orders[:10], venue.orders[10:]]
    threads = [threading.Thread(target=run, args=(n, h)) for n, h in enumerate(halves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PATIENCE)
    assert sorted(o.order_id for o in results[0]) == sorted(o["orderId"] for o in halves[0])
    assert sorted(o.order_id for o in results[1]) == sorted(o["orderId"] for o in halves[1])
    assert all(o.tag == part for part in (0, 1) for o in results[part])


def test_shutdown_in_the_loop_resolves_every_pending_future():
    engine = unreachable_engine()

    async def main():
        futures = [
            engine.cancel_async("SPOT", "BTCUSDT", order_id=str(n + 1), tag=n) for n in range(5)
        ]
        left = engine.shutdown()
        assert left == []
        assert all(f.done() for f in futures)
        return [f.result() for f in futures]

    outcomes = asyncio.run(main())
    assert [o.tag for o in outcomes] == list(range(5))
    assert {(o.status, o.reason) for o in outcomes} == {("not_sent", "shutdown")}


def test_shutdown_from_another_thread_resolves_futures_on_their_loop():
    engine = unreachable_engine()

    async def main():
        futures = [
            engine.cancel_async("SPOT", "BTCUSDT", order_id=str(n + 1), tag=n) for n in range(3)
        ]
        stopper = threading.Thread(target=engine.shutdown)
        stopper.start()
        outcomes = await asyncio.wait_for(asyncio.gather(*futures), PATIENCE)
        stopper.join()
        return outcomes

    outcomes = asyncio.run(main())
    assert {(o.status, o.reason) for o in outcomes} == {("not_sent", "shutdown")}


def test_sync_cancels_outcomes_taken_by_the_loop_wait_for_outcome(venue, engine):
    async def main():
        sync_id = cancel_order(engine, venue.orders[0])
        awaited = await asyncio.wait_for(cancel_async(engine, venue.orders[1]), PATIENCE)
        await asyncio.sleep(0.05)
        return sync_id, awaited

    sync_id, awaited = asyncio.run(main())
    assert awaited.order_id == venue.orders[1]["orderId"]
    o = engine.outcome(timeout=PATIENCE)
    assert o is not None and o.id == sync_id
    assert engine.try_outcome() is None
