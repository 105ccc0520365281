"""fork(): an engine made before it refuses to work in the child (its threads stayed in the
parent), and dropping it there does not hang; the parent's engine is unaffected."""

from __future__ import annotations

import os

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, cancel_order


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_an_engine_made_before_fork_refuses_to_work_in_the_child(venue, engine):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        code = 1
        try:
            try:
                engine.cancel("SPOT", "BTCUSDT", order_id="1")
            except bc.EngineStoppedError as e:
                if "fork" in str(e):
                    code = 0
            with bc.SimVenue() as fresh:  # one made after the fork works
                code += 2 * (not fresh.ws_url.startswith("wss://"))
            engine.__exit__(None, None, None)  # must not try to join the parent's thread
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    verdict = os.read(read, 1)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert verdict == bytes([0])
    cancel_order(engine, venue.orders[0])
    assert engine.outcome(timeout=PATIENCE).status == "acked"
