"""The final word (``confirm``): every cancel that was sent gets exactly one ``FinalWord``, after
its outcome: cancelled, or filled when a fill won the race, with the filled size as the venue
wrote it; sync, asyncio and inline; none at all, and a clear error, with ``confirm`` off."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, cancel_order, settings_for, unreachable_engine

# REST is asked 0.2 s after an outcome with no final push (the library's default is 1 s).
QUICK = {"after": 0.2, "timeout": 10.0}


@pytest.fixture
def confirming(venue, engine_for):
    return engine_for(venue, confirm=QUICK)


def test_a_cancelled_order_is_cancelled_with_nothing_filled(venue, confirming):
    order = venue.orders[0]
    id_ = cancel_order(confirming, order, tag=5)
    outcome = confirming.outcome(timeout=PATIENCE)
    assert (outcome.id, outcome.status) == (id_, "acked")
    word = confirming.final(timeout=PATIENCE)
    assert word is not None, "no final word in time"
    assert isinstance(word, bc.FinalWord)
    assert (word.id, word.tag, word.state, word.reason) == (id_, 5, "cancelled", None)
    assert (word.filled, word.source) == ("0", "push")
    assert (word.inst_type, word.inst_id, word.order_id) == (
        order["instType"],
        order["instId"],
        order["orderId"],
    )
    assert word.accepted_ns == outcome.accepted_ns
    assert word.settled_ns == outcome.settled_ns <= word.final_ns <= bc.monotonic_ns()
    assert word.since_accepted_ns == word.final_ns - word.accepted_ns
    assert word.as_dict()["state"] == "cancelled" and word.as_dict()["filled"] == "0"
    assert repr(word).startswith(f"FinalWord(id='{id_}', tag=5, state='cancelled'")
    assert confirming.try_final() is None, "one final word per cancel"
    finals = confirming.stats()["finals"]
    assert (finals["enabled"], finals["cancelled"], finals["by_push"]) == (True, 1, 1)


def test_an_order_filled_just_before_the_cancel_is_filled_with_its_size(venue, confirming):
    venue.fill_before_cancel()
    order = venue.orders[0]
    id_ = cancel_order(confirming, order)
    outcome = confirming.outcome(timeout=PATIENCE)
    assert (outcome.id, outcome.status, outcome.code) == (id_, "rejected", 43001)
    word = confirming.final(timeout=PATIENCE)
    assert word is not None
    assert (word.id, word.state, word.filled, word.source) == (id_, "filled", "1", "push")
    assert word.price_avg is not None


def test_an_order_filled_long_before_the_cancel_is_filled_by_the_rest_query(venue, engine_for):
    # One connection: every copy of the fill's push is the one waited for below.
    confirming = engine_for(venue, confirm=QUICK, connections=1)
    order = venue.orders[1]
    state = venue.fill(order["instType"], order["instId"], order["orderId"])
    assert (state["status"], state["filled"]) == ("filled", "1")
    # The fill's push reaches the engine before the cancel exists: nothing to tie it to.
    deadline = time.monotonic() + PATIENCE
    while confirming.stats()["finals"]["pushes_unmatched"] < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    id_ = cancel_order(confirming, order)
    assert confirming.outcome(timeout=PATIENCE).status == "rejected"
    word = confirming.final(timeout=PATIENCE)
    assert word is not None
    assert (word.id, word.state, word.filled, word.source) == (id_, "filled", "1", "rest")


def test_a_partly_filled_order_is_cancelled_with_the_filled_size(venue, confirming):
    order = venue.orders[2]
    state = venue.fill(order["instType"], order["instId"], order["orderId"], "0.25")
    assert (state["status"], state["filled"]) == ("partially_filled", "0.25")
    id_ = cancel_order(confirming, order)
    assert confirming.outcome(timeout=PATIENCE).status == "acked"
    word = confirming.final(timeout=PATIENCE)
    assert word is not None
    assert (word.id, word.state, word.filled) == (id_, "cancelled", "0.25")


def test_every_sent_cancel_gets_one_final_word(venue, confirming):
    ids = {cancel_order(confirming, order) for order in venue.orders}
    outcomes = [confirming.outcome(timeout=PATIENCE) for _ in ids]
    assert {o.id for o in outcomes} == ids
    words = [confirming.final(timeout=PATIENCE) for _ in ids]
    assert None not in words
    assert sorted(w.id for w in words) == sorted(ids)
    assert {w.state for w in words} == {"cancelled"}
    assert confirming.final(timeout=0.05) is None


def test_with_confirm_off_asking_for_a_final_word_is_an_error(venue, engine):
    assert engine.confirms is False
    cancel_order(engine, venue.orders[0])
    assert engine.outcome(timeout=PATIENCE).status == "acked"
    for ask in (engine.final, engine.try_final, lambda: engine.final_async("1")):
        with pytest.raises(bc.FinalWordOffError) as raised:
            ask()
        assert isinstance(raised.value, RuntimeError)
        assert "confirm=True" in str(raised.value)
    assert engine.stats()["finals"]["enabled"] is False


def test_an_awaited_final_word_resolves_on_the_loops_thread(venue, confirming):
    async def main():
        loop_thread = threading.get_ident()
        outcome = await asyncio.wait_for(
            confirming.cancel_async(
                "SPOT", venue.orders[0]["instId"], order_id=venue.orders[0]["orderId"], tag=4
            ),
            PATIENCE,
        )
        future = confirming.final_async(outcome)
        assert isinstance(future, asyncio.Future)
        resolved_on = []
        future.add_done_callback(lambda _: resolved_on.append(threading.get_ident()))
        word = await asyncio.wait_for(future, PATIENCE)
        await asyncio.sleep(0)
        return loop_thread, resolved_on, outcome, word

    assert venue.orders[0]["instType"] == "SPOT"
    loop_thread, resolved_on, outcome, word = asyncio.run(main())
    assert resolved_on == [loop_thread]
    assert (word.id, word.tag, word.state, word.filled) == (outcome.id, 4, "cancelled", "0")
    assert confirming.try_final() is None, "an awaited final word is not handed out twice"


def test_many_awaited_final_words_each_resolve_once(venue, confirming):
    async def main():
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(
                    confirming.cancel_async(o["instType"], o["instId"], order_id=o["orderId"])
                    for o in venue.orders
                )
            ),
            PATIENCE,
        )
        words = await asyncio.wait_for(
            asyncio.gather(*(confirming.final_async(o) for o in outcomes)), PATIENCE
        )
        return outcomes, words

    outcomes, words = asyncio.run(main())
    assert [w.id for w in words] == [o.id for o in outcomes]
    assert {w.state for w in words} == {"cancelled"}
    assert confirming.try_final() is None


def test_a_final_word_known_before_it_is_awaited_still_resolves_the_future(venue, confirming):
    id_ = cancel_order(confirming, venue.orders[0])
    assert confirming.outcome(timeout=PATIENCE).status == "acked"
    deadline = time.monotonic() + PATIENCE
    while confirming.stats()["finals"]["cancelled"] < 1 and time.monotonic() < deadline:
        time.sleep(0.005)

    async def main():
        return await asyncio.wait_for(confirming.final_async(id_), PATIENCE)

    word = asyncio.run(main())
    assert (word.id, word.state) == (id_, "cancelled")
    assert confirming.try_final() is None


def test_sync_and_awaited_final_words_mixed_each_reach_one_consumer(venue, confirming):
    orders = venue.orders
    ids = [cancel_order(confirming, order) for order in orders]
    for _ in ids:
        assert confirming.outcome(timeout=PATIENCE) is not None
    awaited_ids, sync_ids = ids[::2], set(ids[1::2])
    sync_seen: list[str] = []

    def sync_side():
        deadline = time.monotonic() + PATIENCE
        while len(sync_seen) < len(sync_ids) and time.monotonic() < deadline:
            word = confirming.final(timeout=0.2)
            if word is not None:
                sync_seen.append(word.id)

    async def async_side():
        return await asyncio.wait_for(
            asyncio.gather(*(confirming.final_async(i) for i in awaited_ids)), PATIENCE
        )

    # The futures are registered before the sync reader starts, so every awaited word has a
    # future waiting when it is routed.
    async def both():
        futures = async_side()
        task = asyncio.ensure_future(futures)
        await asyncio.sleep(0)
        thread.start()
        return await task

    thread = threading.Thread(target=sync_side)
    awaited = asyncio.run(both())
    thread.join(PATIENCE)
    assert [w.id for w in awaited] == awaited_ids
    assert set(sync_seen) == sync_ids and len(sync_seen) == len(sync_ids)
    assert confirming.try_final() is None


def test_a_cancel_not_sent_gets_no_final_word_and_awaiting_one_is_refused():
    engine = unreachable_engine(confirm=True, max_queue_time=0.02)
    try:
        engine.cancel("SPOT", "BTCUSDT", order_id="1")
        outcome = engine.outcome(timeout=PATIENCE)
        assert outcome.status == "not_sent"

        async def main():
            with pytest.raises(ValueError, match="not sent"):
                engine.final_async(outcome)

        asyncio.run(main())
        assert engine.final(timeout=0.05) is None
    finally:
        engine.shutdown()


def test_a_future_for_an_id_that_gets_no_final_word_fails_at_shutdown():
    engine = unreachable_engine(confirm=True)

    async def main():
        future = engine.final_async("never-sent")
        with pytest.raises(ValueError, match="already waits"):
            engine.final_async("never-sent")
        engine.shutdown()
        with pytest.raises(bc.EngineStoppedError):
            await asyncio.wait_for(future, PATIENCE)
        with pytest.raises(bc.EngineStoppedError):
            engine.final_async("never-sent")

    asyncio.run(main())


def test_final_words_not_read_stay_readable_after_shutdown(venue, confirming):
    id_ = cancel_order(confirming, venue.orders[0])
    assert confirming.outcome(timeout=PATIENCE).status == "acked"
    deadline = time.monotonic() + PATIENCE
    while confirming.stats()["finals"]["cancelled"] < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert confirming.shutdown() == []
    word = confirming.try_final()
    assert word is not None and (word.id, word.state) == (id_, "cancelled")
    assert confirming.try_final() is None
    assert confirming.final(timeout=PATIENCE) is None, "stopped, nothing left: no wait"


@pytest.mark.usefixtures("python_handles_sigint")
def test_interrupting_a_blocked_final_raises_keyboard_interrupt():
    engine = unreachable_engine(confirm=True)
    try:
        timer = threading.Timer(0.2, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            # Nothing will come: only the interrupt ends it. Bounded, so a lost interrupt
            # fails the test instead of hanging the suite.
            engine.final(timeout=PATIENCE)
        timer.join()
    finally:
        engine.shutdown()


def test_the_inline_engine_gives_final_words(venue):
    engine = bc.InlineEngine(
        *SIM_CREDENTIALS, **settings_for(venue, connections=1, confirm=QUICK)
    )
    try:
        assert engine.confirms
        assert engine.wait_live(PATIENCE), engine.last_error
        id_ = cancel_order(engine, venue.orders[0], tag=2)
        assert engine.outcome(timeout=PATIENCE).status == "acked"
        word = engine.final(timeout=PATIENCE)
        assert word is not None
        assert (word.id, word.tag, word.state, word.filled) == (id_, 2, "cancelled", "0")
        assert engine.ready_finals() == 0 and engine.try_final() is None
    finally:
        engine.shutdown()


def test_the_inline_engine_without_confirm_refuses_final_words(venue):
    engine = bc.InlineEngine(*SIM_CREDENTIALS, **settings_for(venue, connections=1))
    try:
        assert not engine.confirms
        with pytest.raises(bc.FinalWordOffError):
            engine.try_final()
        with pytest.raises(bc.FinalWordOffError):
            engine.final(timeout=0.01)
    finally:
        engine.shutdown()


@pytest.mark.parametrize(
    "confirm, error, field",
    [
        ("yes", TypeError, None),
        ({"wait": 1.0}, TypeError, None),
        ({"after": "1"}, TypeError, None),
        ({"inst_types": "SPOT"}, TypeError, None),
        ({"inst_types": ["spot"]}, bc.ConfigError, "confirm"),
        ({"inst_types": []}, bc.ConfigError, "confirm"),
        ({"after": 0.0}, bc.ConfigError, "confirm"),
        ({"after": 6.0, "timeout": 5.0}, bc.ConfigError, "confirm"),
        ({"capacity": 0}, bc.ConfigError, "confirm"),
    ],
)
def test_confirm_settings_that_cannot_work_are_refused(confirm, error, field):
    with pytest.raises(error) as raised:
        bc.Engine("key", "secret", "passphrase", confirm=confirm)
    if field is not None:
        assert raised.value.field == field


def test_confirm_takes_true_false_or_its_fields():
    for confirm, on in [(True, True), (False, False), ({"inst_types": ["SPOT"]}, True)]:
        engine = unreachable_engine(confirm=confirm)
        try:
            assert engine.confirms is on
        finally:
            engine.shutdown()
