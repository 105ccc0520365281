"""Ctrl-C during a wait: the wait releases the GIL in slices and runs Python's signal handlers
between them, so KeyboardInterrupt comes promptly, and no Python code the wait runs (resolving
another loop's future) swallows it."""

from __future__ import annotations

import _thread
import asyncio
import collections
import functools
import operator
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, unreachable_engine

# Every test here is about Ctrl-C reaching Python: Python's handler is in place whatever the
# process inherited.
pytestmark = pytest.mark.usefixtures("python_handles_sigint")


def interrupt_soon(delay: float = 0.2) -> threading.Timer:
    timer = threading.Timer(delay, _thread.interrupt_main)
    timer.start()
    return timer


def test_interrupting_a_blocked_outcome_raises_keyboard_interrupt():
    engine = unreachable_engine()
    try:
        timer = interrupt_soon()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            # Nothing will come: only the interrupt ends it (bounded, so a lost interrupt
            # fails the test instead of hanging the suite).
            engine.outcome(timeout=PATIENCE)
        assert time.monotonic() - started < PATIENCE
        timer.join()
        # The engine is untouched by the interrupt.
        engine.cancel("SPOT", "BTCUSDT", order_id="1")
    finally:
        left = engine.shutdown()
    assert [o.reason for o in left] == ["shutdown"]


def test_interrupting_wait_live_raises_keyboard_interrupt():
    engine = unreachable_engine()
    try:
        timer = interrupt_soon()
        with pytest.raises(KeyboardInterrupt):
            engine.wait_live(PATIENCE)
        timer.join()
    finally:
        engine.shutdown()


def test_interrupting_the_inline_engines_wait_raises_keyboard_interrupt():
    engine = bc.InlineEngine("key", "secret", "passphrase", url="wss://127.0.0.1:1/x", no_rest=True)
    try:
        timer = interrupt_soon()
        with pytest.raises(KeyboardInterrupt):
            engine.outcome(timeout=PATIENCE)
        timer.join()
        assert engine.poll() in (True, False), "still usable after the interrupt"
    finally:
        engine.shutdown()


SCRIPT = textwrap.dedent(
    """
    import sys
    import bitget_cancel as bc
    engine = bc.Engine("key", "secret", "passphrase", url="wss://127.0.0.1:1/x", no_rest=True)
    print("waiting", flush=True)
    engine.outcome()
    print("never reached", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_sigint_from_outside_ends_a_program_blocked_in_outcome(tmp_path):
    script = tmp_path / "blocked.py"
    script.write_text(SCRIPT)
    child = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=PATIENCE)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "never reached" not in out


def interrupt_then(wait: Callable[[], Any]) -> None:
    """Makes Ctrl-C pending, then calls ``wait``, both from C with no Python code in between
    (Python code would raise KeyboardInterrupt there): ``wait`` begins with it pending, as a
    wait does when Ctrl-C comes during a slice."""
    calls = [_thread.interrupt_main, wait]
    collections.deque(map(operator.methodcaller("__call__"), calls), maxlen=0)


@pytest.mark.parametrize("wait", ["outcome", "final"])
def test_ctrl_c_pending_while_a_blocked_wait_resolves_a_future_raises_and_the_future_resolves(
    venue, engine_for, wait
):
    # A loop on another thread awaits the item, but is busy (blocked), so the thread blocked in
    # outcome() / final() takes the item off the ring and resolves the future through the
    # loop's call_soon_threadsafe: Python code, run while Ctrl-C is pending.
    confirm = {"confirm": {"after": 0.2, "timeout": 10.0}} if wait == "final" else {}
    engine = engine_for(venue, **confirm)
    order = venue.orders[0]
    armed, release = threading.Event(), threading.Event()
    awaited: dict[str, Any] = {}

    async def await_on_a_busy_loop() -> None:
        future = engine.cancel_async(
            order["instType"], order["instId"], order_id=order["orderId"], tag=7
        )
        if wait == "final":
            outcome = await asyncio.wait_for(future, PATIENCE)
            awaited["outcome"] = outcome
            future = engine.final_async(outcome)
        armed.set()
        release.wait(PATIENCE)  # the loop is busy: its reader cannot take the item
        awaited["item"] = await asyncio.wait_for(future, PATIENCE)

    loop_thread = threading.Thread(target=lambda: asyncio.run(await_on_a_busy_loop()))
    loop_thread.start()
    try:
        assert armed.wait(PATIENCE)
        counted = {
            "outcome": lambda: engine.stats()["acked"],
            "final": lambda: engine.stats()["finals"]["cancelled"],
        }[wait]
        deadline = time.monotonic() + PATIENCE
        while counted() < 1 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert counted() == 1, "the item is on its way to the ring"
        with pytest.raises(KeyboardInterrupt):
            interrupt_then(functools.partial(getattr(engine, wait), timeout=PATIENCE))
    finally:
        release.set()
        loop_thread.join(PATIENCE)
    item = awaited.get("item")
    assert item is not None, "the future got its item despite the interrupt"
    if wait == "final":
        assert (item.id, item.tag, item.state) == (awaited["outcome"].id, 7, "cancelled")
    else:
        assert (item.tag, item.status, item.order_id) == (7, "acked", order["orderId"])
    assert getattr(engine, f"try_{wait}")() is None, "the future's item, not the caller's too"


@pytest.mark.parametrize("wait", ["outcome", "final"])
def test_ctrl_c_pending_when_a_wait_takes_its_item_raises_and_the_item_stays_readable(
    venue, engine_for, wait
):
    confirm = {"confirm": {"after": 0.2, "timeout": 10.0}} if wait == "final" else {}
    engine = engine_for(venue, **confirm)
    order = venue.orders[0]
    id_ = engine.cancel(order["instType"], order["instId"], order_id=order["orderId"], tag=3)
    if wait == "final":
        assert engine.outcome(timeout=PATIENCE).id == id_
    counted = {
        "outcome": lambda: engine.stats()["acked"],
        "final": lambda: engine.stats()["finals"]["cancelled"],
    }[wait]
    deadline = time.monotonic() + PATIENCE
    while counted() < 1 and time.monotonic() < deadline:
        time.sleep(0.002)
    assert counted() == 1, "the item is on its way to the ring"
    with pytest.raises(KeyboardInterrupt):
        interrupt_then(functools.partial(getattr(engine, wait), timeout=PATIENCE))
    # Not lost with the interrupt: the next read gives it.
    item = getattr(engine, f"try_{wait}")()
    assert item is not None and (item.id, item.tag) == (id_, 3)
    assert getattr(engine, f"try_{wait}")() is None
