"""Ctrl-C during a wait: the wait releases the GIL in slices and runs Python's signal handlers
between them, so KeyboardInterrupt comes promptly."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

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
