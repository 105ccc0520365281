"""InlineEngine: the engine on the caller's thread."""

from __future__ import annotations

import threading
import time

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, cancel_order, settings_for


@pytest.fixture
def inline(venue):
    engine = bc.InlineEngine(*SIM_CREDENTIALS, **settings_for(venue, connections=1))
    assert engine.wait_live(PATIENCE), engine.last_error
    yield engine
    engine.shutdown()


def test_a_cancel_is_answered_while_the_caller_polls(venue, inline):
    id_ = cancel_order(inline, venue.orders[0], tag=3)
    deadline = time.monotonic() + PATIENCE
    outcome = None
    while outcome is None and time.monotonic() < deadline:
        inline.poll()
        outcome = inline.try_outcome()
    assert outcome is not None
    assert (outcome.id, outcome.tag, outcome.status) == (id_, 3, "acked")


def test_outcome_turns_the_loop_until_the_outcome_comes(venue, inline):
    ids = [cancel_order(inline, order) for order in venue.orders[:5]]
    got = [inline.outcome(timeout=PATIENCE) for _ in ids]
    assert [o.id for o in got] == ids
    assert all(o.status == "acked" for o in got)
    assert inline.outcome(timeout=0.02) is None


def test_a_rejection_is_an_outcome(inline):
    inline.cancel("SPOT", "BTCUSDT", order_id="4242")
    o = inline.outcome(timeout=PATIENCE)
    assert (o.status, o.code) == ("rejected", 43001)


def test_bad_input_and_state(inline):
    with pytest.raises(bc.InvalidFieldError):
        inline.cancel("SPOT", "BTCUSDT")
    assert inline.state == "live"
    assert inline.stats()["intents"] == 0
    assert inline.last_error is None


def test_another_thread_gets_an_error_not_a_wait(inline):
    errors = []
    started = threading.Event()

    def other():
        started.wait()
        time.sleep(0.05)
        try:
            inline.poll()
        except RuntimeError as e:
            errors.append(str(e))

    thread = threading.Thread(target=other)
    thread.start()
    started.set()
    inline.outcome(timeout=0.3)  # holds the engine, GIL released
    thread.join(PATIENCE)
    assert errors and "another thread" in errors[0]


def test_after_shutdown_cancels_are_refused_and_leftovers_readable(venue):
    with bc.InlineEngine(*SIM_CREDENTIALS, **settings_for(venue, connections=1)) as engine:
        assert engine.wait_live(PATIENCE)
        id_ = cancel_order(engine, venue.orders[0])
    assert engine.state == "stopped"
    o = engine.try_outcome()
    assert o is not None and o.id == id_
    with pytest.raises(bc.EngineStoppedError):
        cancel_order(engine, venue.orders[1])
    with pytest.raises(bc.EngineStoppedError):
        engine.poll()
    assert engine.shutdown() == []
