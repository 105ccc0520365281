"""Unified trading accounts from Python: V3 cancels with ``account="unified"`` and ``"auto"``, the
venue's 40085 switching a classic engine to V3, the dead man's switch (armed, off at shutdown,
refused for a classic account), V3 batches, the unified settings' errors and their counters in
``stats()``."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, cancel_order, settings_for, unreachable_engine


def cancel_frames(venue: bc.SimVenue) -> list[tuple[bool, str]]:
    """The cancel messages the venue received: (in V3's envelope?, text)."""
    return [
        ('"topic":"cancel-order"' in f["text"], f["text"])
        for f in venue.received()
        if "cancel-order" in f["text"]
    ]


def wait_until(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_a_unified_key_cancels_in_v3s_envelope_with_account_unified(
    engine_for: Callable[..., bc.Engine],
) -> None:
    with bc.SimVenue(generate=2, max_messages_per_second=0, account="unified") as venue:
        engine = engine_for(venue, account="unified", uta_url=venue.uta_url)
        futures = next(o for o in venue.orders if o["instType"] == "USDT-FUTURES")
        cancel_order(engine, futures)
        acked = engine.outcome(PATIENCE)
        assert acked is not None and acked.status == "acked", acked
        assert acked.attempts == 1
        engine.cancel("SPOT", "BTCUSDT", order_id="123456")
        rejected = engine.outcome(PATIENCE)
        assert rejected is not None and rejected.status == "rejected", rejected
        assert (rejected.code, rejected.msg) == (25204, "Order does not exist")
        unified = engine.stats()["unified"]
        assert unified["unified"] is True
        assert unified["switches"] == 0
        frames = cancel_frames(venue)
        assert len(frames) == 2, frames
        assert all(v3 for v3, _ in frames), frames
        assert '"category":"usdt-futures"' in frames[0][1]
        assert '"category":"spot"' in frames[1][1]
        assert venue.activity()["mode_refusals"] == 0


def test_auto_finds_a_unified_account_before_it_dials_and_cancels_over_v3(
    engine_for: Callable[..., bc.Engine],
) -> None:
    with bc.SimVenue(generate=1, max_messages_per_second=0, account="unified") as venue:
        engine = engine_for(venue, account="auto", uta_url=venue.uta_url)
        cancel_order(engine, venue.orders[0])
        outcome = engine.outcome(PATIENCE)
        assert outcome is not None and outcome.status == "acked", outcome
        assert outcome.attempts == 1, "nothing was refused on the way"
        assert engine.stats()["unified"]["unified"] is True
        assert venue.activity()["mode_refusals"] == 0, "nothing went to V2 first"
        frames = cancel_frames(venue)
        assert len(frames) == 1 and frames[0][0], frames


def test_auto_finds_a_classic_account_and_cancels_over_v2(
    venue: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    engine = engine_for(venue, uta_url=venue.uta_url)  # auto is the default
    cancel_order(engine, venue.orders[0])
    outcome = engine.outcome(PATIENCE)
    assert outcome is not None and outcome.status == "acked", outcome
    assert engine.stats()["unified"]["unified"] is False
    frames = cancel_frames(venue)
    assert len(frames) == 1 and not frames[0][0], frames


def test_a_key_the_venue_makes_unified_mid_run_switches_a_classic_engine_to_v3(
    venue: bc.SimVenue, engine_for: Callable[..., bc.Engine]
) -> None:
    engine = engine_for(
        venue, account="classic", uta_url=venue.uta_url, no_rest=True, hedge_after="off"
    )
    cancel_order(engine, venue.orders[0])
    first = engine.outcome(PATIENCE)
    assert first is not None and first.status == "acked", first
    assert venue.account("sim-key") == "classic"
    assert venue.set_account("sim-key", "unified") is True
    assert venue.account("sim-key") == "unified"
    cancel_order(engine, venue.orders[1])
    second = engine.outcome(PATIENCE)
    assert second is not None and second.status == "acked", second
    assert second.attempts >= 2, "refused on V2 (40085), sent again on V3"
    unified = engine.stats()["unified"]
    assert unified["unified"] is True
    assert unified["switches"] == 1, "one switch, however many refusals"
    assert venue.activity()["mode_refusals"] >= 1
    v3 = [v3 for v3, _ in cancel_frames(venue)]
    assert v3[0] is False and v3[-1] is True, v3
    assert v3 == sorted(v3), f"V2 until the switch, V3 after: {v3}"


def test_the_venues_keys_each_have_an_account_kind() -> None:
    extra = {"api_key": "uta-key", "secret": "uta-secret", "passphrase": "uta-pass"}
    with bc.SimVenue(keys=[dict(extra, account="unified")]) as venue:
        assert venue.account("sim-key") == "classic"
        assert venue.account("uta-key") == "unified"
        assert venue.account("no-such-key") is None
        assert venue.set_account("no-such-key", "unified") is False
        assert venue.uta_url.endswith("/v3/ws/private")
        assert venue.uta_url.split("/v3/")[0] == venue.ws_url.split("/v2/")[0]
        with pytest.raises(ValueError, match="account"):
            venue.set_account("sim-key", "uta")
    with pytest.raises(ValueError, match="account"):
        bc.SimVenue(account="UTA")
    with pytest.raises(ValueError, match="passphrase"):
        bc.SimVenue(keys=[{"api_key": "k", "secret": "s"}])
    with pytest.raises(ValueError, match="colour"):
        bc.SimVenue(keys=[dict(extra, colour="red")])


def test_a_second_key_that_is_unified_cancels_over_v3_beside_the_classic_main_key(
    engine_for: Callable[..., bc.Engine],
) -> None:
    extra = {"api_key": "uta-key", "secret": "uta-secret", "passphrase": "uta-pass"}
    with bc.SimVenue(
        generate=1, max_messages_per_second=0, keys=[dict(extra, account="unified")]
    ) as venue:
        settings = settings_for(venue, uta_url=venue.uta_url)
        with bc.Engine("uta-key", "uta-secret", "uta-pass", **settings) as engine:
            assert engine.wait_live(PATIENCE), engine.last_error
            cancel_order(engine, venue.orders[0])
            outcome = engine.outcome(PATIENCE)
            assert outcome is not None and outcome.status == "acked", outcome
            assert outcome.attempts == 1
            assert engine.stats()["unified"]["unified"] is True
        frames = cancel_frames(venue)
        assert len(frames) == 1 and frames[0][0], frames


def test_the_dead_mans_switch_is_armed_for_a_unified_account_and_off_after_shutdown(
    engine_for: Callable[..., bc.Engine],
) -> None:
    with bc.SimVenue(generate=1, max_messages_per_second=0, account="unified") as venue:
        engine = engine_for(venue, account="unified", uta_url=venue.uta_url, dead_man_switch=10)
        wait_until("armed", lambda: engine.stats()["unified"]["dead_man_arms"] >= 1)
        unified = engine.stats()["unified"]
        assert unified["dead_man_enabled"] is True
        assert unified["dead_man_armed_unix_ms"] > 0
        assert unified["dead_man_failures"] == 0
        assert unified["dead_man_off"] is False
        left = venue.countdown_left()
        assert left is not None and 0 < left <= 10, left
        assert venue.activity()["countdown_arms"][0] == {"uid": 1, "seconds": 10}
        engine.shutdown()
        assert engine.stats()["unified"]["dead_man_off"] is True
        assert venue.activity()["countdown_arms"][-1]["seconds"] == 0
        assert venue.countdown_left() is None


def test_without_the_dead_mans_switch_nothing_is_armed(
    engine_for: Callable[..., bc.Engine],
) -> None:
    with bc.SimVenue(max_messages_per_second=0, account="unified") as venue:
        engine = engine_for(venue, account="unified", uta_url=venue.uta_url)
        unified = engine.stats()["unified"]
        assert unified["dead_man_enabled"] is False
        assert unified["dead_man_arms"] == 0
        engine.shutdown()
        assert venue.activity()["countdown_arms"] == []
        assert venue.countdown_left() is None


@pytest.mark.parametrize(
    "settings, why",
    [
        (dict(account="classic", dead_man_switch=10), "unified"),
        (dict(account="unified", dead_man_switch=4), "5 to 60"),
        (dict(account="unified", dead_man_switch=61), "5 to 60"),
        (dict(account="unified", dead_man_switch=10.5), "whole seconds"),
        (dict(account="unified", dead_man_switch=10, no_rest=True), "REST"),
    ],
)
def test_a_dead_mans_switch_that_cannot_work_is_refused_naming_it(
    settings: dict[str, Any], why: str
) -> None:
    with pytest.raises(bc.ConfigError, match=why) as raised:
        bc.Engine(*SIM_CREDENTIALS, **settings)
    assert raised.value.field == "dead_man_switch"


def test_a_dead_mans_switch_with_auto_is_accepted(venue: bc.SimVenue) -> None:
    settings = settings_for(venue, uta_url=venue.uta_url, dead_man_switch=5)
    with bc.Engine(*SIM_CREDENTIALS, **settings) as engine:
        assert engine.wait_live(PATIENCE), engine.last_error
        # The venue's key is classic: the switch is left off (and logged).
        assert engine.stats()["unified"]["dead_man_enabled"] is False
    assert venue.activity()["countdown_arms"] == []


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("account", "UTA", bc.ConfigError),
        ("account", 1, TypeError),
        ("uta_url", "ws://localhost:1/v3/ws/private", bc.ConfigError),
        ("dead_man_switch", -1, bc.ConfigError),
        ("dead_man_switch", "10", TypeError),
        ("batch_cancels", "yes", TypeError),
        ("batch_budget", "per_order", bc.ConfigError),
        ("write_timeout", 0, bc.ConfigError),
        ("write_timeout", float("nan"), bc.ConfigError),
        ("send_buffer", 0, bc.ConfigError),
        ("send_buffer", -1, bc.ConfigError),
        ("send_buffer", 1.5, TypeError),
    ],
)
def test_a_bad_unified_or_connection_setting_is_refused_naming_its_keyword(
    field: str, value: Any, error: type
) -> None:
    with pytest.raises(error) as raised:
        bc.Engine(*SIM_CREDENTIALS, no_rest=True, **{field: value})
    if error is bc.ConfigError:
        assert raised.value.field == field
    else:
        assert field in str(raised.value)


@pytest.mark.parametrize(
    "settings",
    [
        dict(account="classic"),
        dict(account="unified", uta_url="wss://localhost:1/v3/ws/private"),
        dict(account="auto", batch_cancels=False, batch_budget="per_message"),
        dict(batch_budget="per_entry", write_timeout=0.5, send_buffer=65536),
    ],
)
def test_the_unified_and_connection_settings_are_accepted(settings: dict[str, Any]) -> None:
    engine = unreachable_engine(**settings)
    engine.shutdown()


def start_with_cancels_waiting(
    venue: bc.SimVenue, orders: list[dict[str, str]], **overrides: Any
) -> tuple[bc.Engine, list[bc.Outcome]]:
    """Cancels accepted before the one connection is live, so they are due at once."""
    settings = settings_for(
        venue, account="unified", uta_url=venue.uta_url, connections=1, no_rest=True
    )
    del settings["rest_url"]
    settings.update(overrides)
    engine = bc.Engine(*SIM_CREDENTIALS, **settings)
    for order in orders:
        cancel_order(engine, order)
    outcomes = []
    for _ in orders:
        outcome = engine.outcome(PATIENCE)
        assert outcome is not None
        outcomes.append(outcome)
    return engine, outcomes


def trade_topics(venue: bc.SimVenue) -> list[str]:
    texts = [json.loads(f["text"]) for f in venue.received() if f["text"].startswith("{")]
    return [t["topic"] for t in texts if t.get("op") == "trade"]


def test_cancels_due_at_once_go_in_one_v3_batch() -> None:
    with bc.SimVenue(generate=6, max_messages_per_second=0, account="unified") as venue:
        futures = [o for o in venue.orders if o["instType"] == "USDT-FUTURES"]
        engine, outcomes = start_with_cancels_waiting(venue, futures)
        try:
            assert [o.status for o in outcomes] == ["acked"] * 3, outcomes
            assert trade_topics(venue) == ["batch-cancel"]
            (batch,) = venue.activity()["batches"]
            assert (batch["size"], batch["cancelled"], batch["by_order_id"]) == (3, 3, True)
        finally:
            engine.shutdown()


def test_with_batch_cancels_off_each_goes_as_its_own_cancel_order() -> None:
    with bc.SimVenue(generate=6, max_messages_per_second=0, account="unified") as venue:
        futures = [o for o in venue.orders if o["instType"] == "USDT-FUTURES"]
        engine, outcomes = start_with_cancels_waiting(venue, futures, batch_cancels=False)
        try:
            assert [o.status for o in outcomes] == ["acked"] * 3, outcomes
            assert trade_topics(venue) == ["cancel-order"] * 3
            assert venue.activity()["batches"] == []
        finally:
            engine.shutdown()


def test_stats_show_the_unified_accounts_and_the_stress_counters(engine: bc.Engine) -> None:
    stats = engine.stats()
    for name in ("stalls", "transient_answers", "retries"):
        assert stats[name] == 0, name
    assert stats["unified"] == {
        "unified": False,
        "switches": 0,
        "dead_man_enabled": False,
        "dead_man_armed_unix_ms": 0,
        "dead_man_arms": 0,
        "dead_man_failures": 0,
        "dead_man_off": False,
    }
