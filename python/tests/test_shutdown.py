"""Shutdown with cancels in flight and waiting: every accepted cancel still gets exactly one
outcome, read before, returned by shutdown() or left for try_outcome()."""

from __future__ import annotations

import collections

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, cancel_order, settings_for


def test_shutdown_with_cancels_in_flight_and_waiting_accounts_for_each_once(venue):
    # Two cancels a second and no REST batches for the backlog: most of the twenty are still
    # waiting for pacing at shutdown.
    engine = bc.Engine(
        *SIM_CREDENTIALS, **settings_for(venue, cancels_per_second=2, no_batch=True)
    )
    assert engine.wait_live(PATIENCE)
    ids = [cancel_order(engine, order) for order in venue.orders]
    read = [engine.outcome(timeout=PATIENCE)]
    left = engine.shutdown()
    outcomes = read + left
    assert sorted(o.id for o in outcomes) == sorted(ids)
    statuses = collections.Counter((o.status, o.reason) for o in outcomes)
    assert statuses[("acked", None)] >= 1
    assert statuses[("not_sent", "shutdown")] >= 1
    assert set(statuses) <= {("acked", None), ("not_sent", "shutdown"), ("unknown", "shutdown")}
    stats = engine.stats()
    assert stats["acked"] + stats["not_sent"] + stats["unknown"] == len(ids)
    assert engine.shutdown() == [], "a second shutdown finds nothing more"
    assert engine.outcome(timeout=0.01) is None


def test_the_inline_engine_reports_what_was_waiting_at_shutdown(venue):
    engine = bc.InlineEngine(
        *SIM_CREDENTIALS, **settings_for(venue, cancels_per_second=2, no_batch=True)
    )
    assert engine.wait_live(PATIENCE)
    ids = [cancel_order(engine, order) for order in venue.orders[:6]]
    left = engine.shutdown()
    assert sorted(o.id for o in left) == sorted(ids)
    assert {o.status for o in left} <= {"acked", "not_sent", "unknown"}
    assert any(o.reason == "shutdown" for o in left)
