"""Bursts from Python: cancel-all (a futures product line, one futures symbol, a spot symbol; spot
without a symbol refused before anything is queued), priorities (accepted 0 to 255, refused
outside, the highest answered first under a backlog), the backlog's REST batches and
``no_batch``, and their counters in ``stats()``."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest

import bitget_cancel as bc
from conftest import (
    PATIENCE,
    UNREACHABLE_URL,
    cancel_order,
    settings_for,
    unreachable_engine,
)


def wait_until(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def burst_engine(engine_for: Callable[..., bc.Engine], venue: bc.SimVenue, **overrides: Any):
    """One connection and the REST rung at the venue's own limits, the REST connection open
    (cancel-alls and batches go over it)."""
    settings: dict[str, Any] = dict(
        connections=1, messages_per_second=10, cancels_per_second=10, max_queue_time=30.0
    )
    settings.update(overrides)
    engine = engine_for(venue, **settings)
    wait_until("the REST connection is open", lambda: engine.stats()["rest"]["connected"])
    return engine


def statuses(venue: bc.SimVenue, orders: list[dict[str, str]]) -> list[str]:
    return [venue.order(o["instType"], o["instId"], o["orderId"])["status"] for o in orders]


@pytest.fixture
def limited() -> bc.SimVenue:
    with bc.SimVenue(max_messages_per_second=10, limits=True) as venue:
        yield venue


def test_a_futures_cancel_all_covers_one_symbol_then_the_whole_product_line(
    limited: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    btc = limited.seed_orders("USDT-FUTURES", "BTCUSDT", 6)
    eth = limited.seed_orders("USDT-FUTURES", "ETHUSDT", 4)
    spot = limited.seed_orders("SPOT", "BTCUSDT", 3)
    engine = burst_engine(engine_for, limited)

    id_ = engine.cancel_all("USDT-FUTURES", "ETHUSDT", tag=7)
    o = engine.outcome(PATIENCE)
    assert o is not None
    assert (o.id, o.status, o.via, o.tag) == (id_, "acked", "rest", 7)
    assert o.cancel_all is True
    assert (o.succeeded, o.failed, o.asynchronous) == (4, 0, False)
    assert (o.inst_type, o.inst_id, o.order_id, o.client_oid) == (
        "USDT-FUTURES",
        "ETHUSDT",
        None,
        None,
    )
    assert statuses(limited, eth) == ["cancelled"] * 4
    assert statuses(limited, btc) == ["live"] * 6

    engine.cancel_all("USDT-FUTURES")
    o = engine.outcome(PATIENCE)
    assert o is not None and o.status == "acked", o
    assert (o.succeeded, o.failed, o.inst_id) == (6, 0, None)
    assert statuses(limited, btc) == ["cancelled"] * 6
    assert statuses(limited, spot) == ["live"] * 3, "spot untouched"
    records = limited.activity()["cancel_alls"]
    assert [(r["instType"], r["instId"], r["cancelled"]) for r in records] == [
        ("USDT-FUTURES", "ETHUSDT", 4),
        ("USDT-FUTURES", None, 6),
    ]
    batches = engine.stats()["batches"]
    assert (batches["cancel_alls"], batches["cancel_alls_acked"]) == (2, 2)
    d = o.as_dict()
    assert (d["cancel_all"], d["succeeded"], d["failed"], d["asynchronous"]) == (
        True,
        6,
        0,
        False,
    )


def test_a_spot_cancel_all_needs_a_symbol_and_is_accepted_then_carried_out(
    limited: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    btc = limited.seed_orders("SPOT", "BTCUSDT", 5)
    eth = limited.seed_orders("SPOT", "ETHUSDT", 2)
    engine = burst_engine(engine_for, limited)
    with pytest.raises(bc.InvalidFieldError, match="required on SPOT") as raised:
        engine.cancel_all("SPOT")
    assert raised.value.field == "instId"
    assert engine.stats()["intents"] == 0, "nothing was queued"

    engine.cancel_all("SPOT", "BTCUSDT")
    o = engine.outcome(PATIENCE)
    assert o is not None and o.status == "acked", o
    assert o.cancel_all is True
    assert o.asynchronous is True, "spot's cancel-all is accepted, then carried out"
    assert (o.succeeded, o.failed) == (None, None)
    wait_until("the venue carried it out", lambda: limited.resting_orders() == 2)
    assert statuses(limited, btc) == ["cancelled"] * 5
    assert statuses(limited, eth) == ["live"] * 2


@pytest.mark.parametrize(
    "inst_type, inst_id, field",
    [("SPOT", None, "instId"), ("SWAP", None, "instType"), ("USDT-FUTURES", "btc/usdt", "instId")],
)
def test_a_cancel_all_that_cannot_work_is_refused_before_anything_is_queued(
    inst_type: str, inst_id: Any, field: str
) -> None:
    engine = unreachable_engine()
    inline = bc.InlineEngine("key", "secret", "passphrase", url=UNREACHABLE_URL, no_rest=True)
    try:
        for e in (engine, inline):
            with pytest.raises(bc.InvalidFieldError) as raised:
                e.cancel_all(inst_type, inst_id)
            assert raised.value.field == field
        assert engine.stats()["intents"] == 0
    finally:
        engine.shutdown()
        inline.shutdown()


def test_a_cancel_all_is_awaited_like_a_cancel(
    limited: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    eth = limited.seed_orders("USDT-FUTURES", "ETHUSDT", 3)
    engine = burst_engine(engine_for, limited)

    async def main() -> bc.Outcome:
        with pytest.raises(bc.InvalidFieldError):
            engine.cancel_all_async("SPOT")
        return await asyncio.wait_for(
            engine.cancel_all_async("USDT-FUTURES", "ETHUSDT", tag=3), PATIENCE
        )

    o = asyncio.run(main())
    assert (o.status, o.cancel_all, o.succeeded, o.tag) == ("acked", True, 3, 3)
    assert statuses(limited, eth) == ["cancelled"] * 3
    assert engine.try_outcome() is None, "the future had it, once"


def test_without_the_rest_rung_a_cancel_all_is_not_sent(
    venue: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    engine = engine_for(venue, no_rest=True)
    engine.cancel_all("USDT-FUTURES")
    o = engine.outcome(PATIENCE)
    assert o is not None and (o.status, o.reason, o.cancel_all) == (
        "not_sent",
        "no_connection",
        True,
    )


def test_the_inline_engine_cancels_all(
    limited: bc.SimVenue,
) -> None:
    eth = limited.seed_orders("USDT-FUTURES", "ETHUSDT", 2)
    settings = settings_for(limited, connections=1)
    with bc.InlineEngine("sim-key", "sim-secret", "sim-passphrase", **settings) as engine:
        assert engine.wait_live(PATIENCE), engine.last_error
        deadline = time.monotonic() + PATIENCE
        while not engine.stats()["rest"]["connected"]:
            assert time.monotonic() < deadline
            engine.poll()
        engine.cancel_all("USDT-FUTURES", "ETHUSDT")
        o = engine.outcome(PATIENCE)
        assert o is not None and (o.status, o.succeeded) == ("acked", 2), o
    assert statuses(limited, eth) == ["cancelled"] * 2


@pytest.mark.parametrize("priority", [0, 1, 200, 255])
def test_a_priority_from_0_to_255_is_accepted(
    priority: int, venue: bc.SimVenue, engine: bc.Engine
) -> None:
    order = venue.orders[0]
    engine.cancel(order["instType"], order["instId"], order_id=order["orderId"], priority=priority)
    o = engine.outcome(PATIENCE)
    assert o is not None and o.status == "acked", o


@pytest.mark.parametrize("priority, error", [(256, bc.InvalidFieldError), (-1, bc.InvalidFieldError), (1 << 70, bc.InvalidFieldError), (1 << 130, OverflowError), ("9", TypeError), (2.0, TypeError)])
def test_a_priority_outside_0_to_255_is_refused_before_anything_is_queued(
    priority: Any, error: type
) -> None:
    engine = unreachable_engine()
    inline = bc.InlineEngine("key", "secret", "passphrase", url=UNREACHABLE_URL, no_rest=True)
    try:
        for e in (engine, inline):
            with pytest.raises(error) as raised:
                e.cancel("SPOT", "BTCUSDT", order_id="1", priority=priority)
            if error is bc.InvalidFieldError:
                assert raised.value.field == "priority"
                assert "0 to 255" in str(raised.value)

        async def refused() -> None:
            with pytest.raises(error):
                engine.cancel_async("SPOT", "BTCUSDT", order_id="1", priority=priority)

        asyncio.run(refused())
        assert engine.stats()["intents"] == 0
    finally:
        engine.shutdown()
        inline.shutdown()


def test_under_a_backlog_the_highest_priority_is_answered_before_the_waiting_ones(
    limited: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    orders = limited.seed_orders("SPOT", "BTCUSDT", 35)
    engine = burst_engine(engine_for, limited, no_batch=True)
    low = [cancel_order(engine, o) for o in orders[:30]]
    urgent = [
        engine.cancel(o["instType"], o["instId"], order_id=o["orderId"], priority=200)
        for o in orders[30:]
    ]
    by_id = {}
    for _ in orders:
        o = engine.outcome(PATIENCE)
        assert o is not None
        assert o.id not in by_id, "one outcome per cancel"
        by_id[o.id] = o
    assert set(by_id) == set(low + urgent)
    assert all(o.status == "acked" for o in by_id.values())
    last_urgent = max(by_id[i].settled_ns for i in urgent)
    # The ten the budget let out at once left before the urgent ones came; of the twenty that
    # waited with them, none is answered before the last urgent one.
    overtaken = [i for i in low[10:] if by_id[i].settled_ns < last_urgent]
    assert overtaken == []
    assert engine.stats()["batches"]["sent"] == 0


def test_a_backlog_goes_out_in_rest_batches_each_outcome_naming_its_batch(
    limited: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    orders = limited.seed_orders("SPOT", "BTCUSDT", 40)
    engine = burst_engine(engine_for, limited)
    ids = [cancel_order(engine, o) for o in orders]
    outcomes = [engine.outcome(PATIENCE) for _ in orders]
    assert all(o is not None and o.status == "acked" for o in outcomes), outcomes
    assert sorted(o.id for o in outcomes) == sorted(ids)
    batched = [o for o in outcomes if o.batch is not None]
    assert batched, "a backlog of 40 at 10 a second goes out in batches"
    assert all(o.via == "rest" and 1 <= o.batch_size <= 20 for o in batched)
    sizes: dict[int, int] = {}
    for o in batched:
        sizes[o.batch] = o.batch_size
    assert all(sum(1 for o in batched if o.batch == n) == size for n, size in sizes.items())
    stats = engine.stats()["batches"]
    assert stats["sent"] == len(sizes)
    assert stats["carried"] == len(batched)
    assert stats["largest"] == max(sizes.values())
    assert sum(stats["sizes"]) == stats["sent"] and len(stats["sizes"]) == 21
    assert limited.resting_orders() == 0
    assert limited.activity()["rate_limited"] == 0, "no limit exceeded at the venue"


def test_no_batch_sends_every_cancel_alone(
    limited: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    orders = limited.seed_orders("SPOT", "BTCUSDT", 25)
    engine = burst_engine(engine_for, limited, no_batch=True)
    for o in orders:
        cancel_order(engine, o)
    outcomes = [engine.outcome(PATIENCE) for _ in orders]
    assert all(o is not None and o.status == "acked" for o in outcomes)
    assert all(o.batch is None and o.via == 0 for o in outcomes)
    assert limited.activity()["batches"] == []
    assert engine.stats()["batches"]["sent"] == 0
    assert limited.activity()["rate_limited"] == 0


@pytest.mark.parametrize(
    "field, value, error",
    [("batch_after", -0.1, bc.ConfigError), ("batch_after", "soon", TypeError), ("no_batch", 1, TypeError)],
)
def test_a_bad_batch_setting_is_refused_naming_it(field: str, value: Any, error: type) -> None:
    with pytest.raises(error) as raised:
        bc.Engine("key", "secret", "passphrase", **{field: value})
    if error is bc.ConfigError:
        assert raised.value.field == field
    else:
        assert field in str(raised.value)


def test_a_unified_accounts_cancel_all_goes_to_v3_and_lists_what_it_cancelled(
    engine_for: Callable[..., bc.Engine],
) -> None:
    with bc.SimVenue(max_messages_per_second=0, account="unified") as venue:
        futures = venue.seed_orders("USDT-FUTURES", "BTCUSDT", 2)
        spot = venue.seed_orders("SPOT", "BTCUSDT", 1)
        engine = engine_for(venue, account="unified", uta_url=venue.uta_url)
        wait_until("the REST connection is open", lambda: engine.stats()["rest"]["connected"])
        engine.cancel_all("USDT-FUTURES")
        o = engine.outcome(PATIENCE)
        assert o is not None
        assert (o.status, o.via, o.cancel_all, o.attempts) == ("acked", "rest", True, 1)
        assert (o.succeeded, o.failed, o.asynchronous) == (2, 0, False)
        assert statuses(venue, futures) == ["cancelled"] * 2
        assert statuses(venue, spot) == ["live"]
        assert [c["endpoint"] for c in venue.activity()["cancel_alls"]] == [
            "v3 cancel-symbol-order"
        ]
