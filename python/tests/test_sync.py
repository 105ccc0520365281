"""Cancels from Python threads, outcomes waited for with the GIL released."""

from __future__ import annotations

import threading
import time

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, cancel_order, settings_for


def test_every_cancel_gets_its_outcome_with_the_command_lines_words(venue, engine):
    ids = [cancel_order(engine, order, tag=n) for n, order in enumerate(venue.orders)]
    assert len(set(ids)) == len(ids)
    outcomes = [engine.outcome(timeout=PATIENCE) for _ in ids]
    assert sorted(o.id for o in outcomes) == sorted(ids)
    by_id = {o.id: o for o in outcomes}
    for n, (order, id_) in enumerate(zip(venue.orders, ids)):
        o = by_id[id_]
        assert (o.status, o.code, o.msg, o.reason) == ("acked", 0, "acknowledged", None)
        assert o.tag == n
        assert o.attempts == 1
        assert o.via in (0, 1)
        assert (o.inst_type, o.inst_id, o.order_id) == (
            order["instType"],
            order["instId"],
            order["orderId"],
        )
        assert o.client_oid is None
        assert 0 < o.tick_to_wire_ns <= o.round_trip_ns
        assert o.accepted_ns < o.settled_ns <= bc.monotonic_ns()
    assert engine.try_outcome() is None
    assert engine.stats()["acked"] == len(ids)


def test_a_venue_rejection_is_an_outcome_not_an_exception(engine):
    id_ = engine.cancel("SPOT", "BTCUSDT", order_id="12345")
    o = engine.outcome(timeout=PATIENCE)
    assert o.id == id_
    assert (o.status, o.code, o.msg) == ("rejected", 43001, "The order does not exist")
    assert o.reason is None
    futures = engine.cancel("USDT-FUTURES", "ETHUSDT", client_oid="nobody-1")
    o = engine.outcome(timeout=PATIENCE)
    assert (o.id, o.status, o.client_oid) == (futures, "rejected", "nobody-1")
    assert o.code != 0 and o.msg


def test_a_cancel_by_client_oid_is_acked(venue, engine):
    order = venue.orders[0]
    engine.cancel(order["instType"], order["instId"], client_oid=order["clientOid"])
    o = engine.outcome(timeout=PATIENCE)
    assert (o.status, o.client_oid, o.order_id) == ("acked", order["clientOid"], None)


def test_outcome_gives_none_when_the_time_is_up(engine):
    started = time.monotonic()
    assert engine.outcome(timeout=0.05) is None
    assert time.monotonic() - started >= 0.05
    assert engine.outcome(timeout=0) is None
    assert engine.try_outcome() is None


def test_outcome_without_a_timeout_ends_once_the_engine_stopped_and_all_was_read(venue):
    engine = bc.Engine(*SIM_CREDENTIALS, **settings_for(venue))
    assert engine.wait_live(PATIENCE)
    id_ = cancel_order(engine, venue.orders[0])
    engine.__exit__(None, None, None)
    first = engine.outcome()  # no timeout: the outcome shutdown left, then the end
    assert first is not None and first.id == id_
    assert engine.outcome() is None
    assert engine.state == "stopped"


def test_outcomes_are_read_from_several_threads_each_once(venue, engine):
    ids = [cancel_order(engine, order) for order in venue.orders]
    seen: list[str] = []
    lock = threading.Lock()

    def reader():
        while True:
            o = engine.outcome(timeout=0.5)
            if o is None:
                return
            with lock:
                seen.append(o.id)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(PATIENCE)
    assert sorted(seen) == sorted(ids)


def test_the_context_manager_stops_the_engine_and_keeps_what_was_not_read(venue):
    with bc.Engine(*SIM_CREDENTIALS, **settings_for(venue)) as engine:
        assert engine.wait_live(PATIENCE)
        id_ = cancel_order(engine, venue.orders[0])
        deadline = time.monotonic() + PATIENCE
        while engine.stats()["acked"] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert engine.state == "stopped"
    with pytest.raises(bc.EngineStoppedError):
        cancel_order(engine, venue.orders[1])
    o = engine.try_outcome()
    assert o is not None and o.id == id_
    assert engine.try_outcome() is None
    assert engine.shutdown() == []


def test_state_stats_and_last_error(venue, engine):
    assert engine.state == "live"
    stats = engine.stats()
    assert stats["sessions"] >= 1 and stats["pool_size"] == 2
    # Live once one connection of the pool is; the other may still be logging in.
    assert len(stats["connections"]) >= 2
    assert any(c["state"] == "live" for c in stats["connections"])
    assert stats["rest"]["enabled"] is True
    assert repr(engine) == "Engine(state='live')"


def test_refused_credentials_end_wait_live_with_false_and_say_why(venue):
    engine = bc.Engine("sim-key", "wrong-secret", "sim-passphrase", **settings_for(venue))
    try:
        assert engine.wait_live(PATIENCE) is False
        assert engine.state == "login_rejected"
        assert "login" in engine.last_error
    finally:
        engine.shutdown()


def test_wait_live_gives_up_at_its_timeout():
    from conftest import unreachable_engine

    engine = unreachable_engine()
    try:
        started = time.monotonic()
        assert engine.wait_live(0.05) is False
        assert time.monotonic() - started >= 0.05
    finally:
        engine.shutdown()
