"""Bad input gets a clear error and nothing else happens; a full ring and a stopped engine are
errors of their own."""

from __future__ import annotations

import pickle
import time

import pytest

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, settings_for, unreachable_engine


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("FUTURES", "BTCUSDT"), {"order_id": "1"}, "instType"),
        (("spot", "BTCUSDT"), {"order_id": "1"}, "instType"),
        (("SPOT", "btc-usdt"), {"order_id": "1"}, "instId"),
        (("SPOT", ""), {"order_id": "1"}, "instId"),
        (("SPOT", "BTCUSDT"), {}, "orderId"),
        (("SPOT", "BTCUSDT"), {"order_id": "12a"}, "orderId"),
        (("SPOT", "BTCUSDT"), {"client_oid": 'x"y'}, "clientOid"),
        (("SPOT", "BTCUSDT"), {"client_oid": "x" * 65}, "clientOid"),
    ],
)
def test_a_field_the_venue_would_refuse_is_an_invalid_field_error_and_nothing_is_queued(
    engine, args, kwargs, field
):
    with pytest.raises(bc.InvalidFieldError) as raised:
        engine.cancel(*args, **kwargs)
    error = raised.value
    assert error.field == field
    assert error.rule and str(error) == f"invalid {field}: {error.rule}"
    assert isinstance(error, ValueError) and isinstance(error, bc.BitgetCancelError)
    assert engine.stats()["intents"] == 0
    assert engine.outcome(timeout=0.05) is None


def test_invalid_field_errors_survive_pickling():
    error = bc.InvalidFieldError("instId", "a rule")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.field, again.rule, str(again)) == (
        bc.InvalidFieldError,
        "instId",
        "a rule",
        "invalid instId: a rule",
    )


def test_arguments_of_the_wrong_type_are_type_errors(engine):
    with pytest.raises(TypeError):
        engine.cancel("SPOT", "BTCUSDT", order_id=123)
    with pytest.raises(TypeError):
        engine.cancel("SPOT", "BTCUSDT", "123")  # the order is a keyword
    with pytest.raises(OverflowError):
        engine.cancel("SPOT", "BTCUSDT", order_id="1", tag=-1)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"connections": 0}, "connections"),
        ({"connections": 9}, "connections"),
        ({"idle": "fast"}, "idle"),
        ({"ack_timeout": -1.0}, "ack_timeout"),
        ({"ack_timeout": 0}, "ack_timeout"),
        ({"ping_interval": float("nan")}, "ping_interval"),
        ({"url": "ws://insecure"}, "url"),
        ({"rest_url": "http://insecure"}, "rest_url"),
        ({"ca_pem": "sim-ca.pem"}, "ca_pem"),
        ({"ca_file": "/no/such/ca.pem"}, "ca_file"),
        ({"outcome_spin": 2.0}, "outcome_spin"),
        ({"reconnect": {"initial": 0}}, "reconnect"),
        ({"reconnect": {"initial": -1}}, "reconnect"),
        ({"confirm": {"after": -1}}, "confirm"),
        ({"max_pending": -1}, "max_pending"),
        ({"rest": {"base_url": "http://insecure"}}, "rest"),
        ({"rest": {"request_timeout": -1}}, "rest"),
        ({"rest": {"reconnect": {"max": float("inf")}}}, "rest"),
        ({"rest": {"max_body": -1}}, "rest"),
    ],
)
def test_a_setting_that_cannot_work_is_a_config_error_naming_it(settings, field):
    with pytest.raises(bc.ConfigError) as raised:
        bc.Engine(*SIM_CREDENTIALS, **settings)
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)
    with pytest.raises(bc.ConfigError):
        bc.InlineEngine(*SIM_CREDENTIALS, **settings)


def test_a_core_the_machine_cannot_give_stops_the_engine_unless_it_is_optional(venue):
    with pytest.raises(bc.ConfigError) as raised:
        bc.Engine(*SIM_CREDENTIALS, url=venue.ws_url, ca_pem=venue.ca_pem, core=100_000)
    assert raised.value.field == "core"
    with bc.Engine(
        *SIM_CREDENTIALS, url=venue.ws_url, ca_pem=venue.ca_pem, core_optional=100_000
    ) as engine:
        assert engine.wait_live(10.0)


def test_credentials_that_cannot_be_sent_are_refused_without_repeating_them():
    with pytest.raises(bc.ConfigError) as raised:
        bc.Engine("key", "secret", 'pass"word')
    assert raised.value.field == "passphrase"
    assert "pass" not in str(raised.value).replace("passphrase", "")
    with pytest.raises(bc.ConfigError) as raised:
        bc.Engine("", "secret", "passphrase")
    assert raised.value.field == "api_key"


def test_unknown_settings_and_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument 'conections'"):
        bc.Engine(*SIM_CREDENTIALS, conections=2)
    with pytest.raises(TypeError, match="connections must be an int"):
        bc.Engine(*SIM_CREDENTIALS, connections="2")
    with pytest.raises(TypeError, match="ack_timeout must be a number of seconds"):
        bc.Engine(*SIM_CREDENTIALS, ack_timeout="5")
    with pytest.raises(TypeError, match="no_rest must be a bool"):
        bc.Engine(*SIM_CREDENTIALS, no_rest=1)
    with pytest.raises(TypeError, match="reconnect has no 'start'"):
        bc.Engine(*SIM_CREDENTIALS, reconnect={"start": 1})
    with pytest.raises(TypeError, match="rest has no 'timeout'"):
        bc.Engine(*SIM_CREDENTIALS, rest={"timeout": 1})
    with pytest.raises(TypeError, match="rest must be a dict"):
        bc.Engine(*SIM_CREDENTIALS, rest="https://localhost")


def test_every_setting_is_accepted_with_its_python_type(venue):
    engine = bc.Engine(
        *SIM_CREDENTIALS,
        url=venue.ws_url,
        endpoints=[venue.ws_url],
        connections=1,
        rest_url=venue.rest_url,
        no_rest=False,
        rest_only=False,
        hedge_after=0.5,
        max_connection_age=3600,
        ca_pem=venue.ca_pem.encode(),
        core=None,
        core_optional=None,
        idle="yield",
        direct_reads=True,
        intent_capacity=64,
        outcome_capacity=64,
        max_pending=64,
        ack_timeout=2.5,
        ping_interval=20.0,
        pong_deadline=5.0,
        messages_per_second=0 + 50,
        cancels_per_second=50,
        rate_margin=0.05,
        max_queue_time=3.0,
        connect_timeout=5.0,
        reconnect={"initial": 0.05, "max": 1.0, "reset_after": 30.0},
        login_retry_after="never",
        shutdown_grace=1.0,
        outcome_spin=0.0005,
        write_timeout=1.5,
        send_buffer=1 << 20,
        account="classic",
        uta_url=venue.uta_url,
        batch_cancels=True,
        batch_budget="per_message",
    )
    try:
        assert engine.wait_live(PATIENCE), engine.last_error
        assert engine.stats()["pool_size"] == 1
    finally:
        engine.shutdown()
    for hedge in ("adaptive", "off"):
        bc.Engine(*SIM_CREDENTIALS, hedge_after=hedge, url=venue.ws_url).shutdown()


def test_a_ca_file_is_read(venue, tmp_path):
    ca = tmp_path / "sim-ca.pem"
    ca.write_text(venue.ca_pem)
    engine = bc.Engine(*SIM_CREDENTIALS, **settings_for(venue, ca_pem=None, ca_file=ca))
    try:
        assert engine.wait_live(PATIENCE), engine.last_error
    finally:
        engine.shutdown()


def test_a_full_ring_is_its_own_error_and_the_refused_cancel_gets_no_outcome():
    # One intent in the engine, one in the ring: the third has nowhere to go.
    engine = unreachable_engine(intent_capacity=1, max_pending=1)
    accepted = []
    refused = 0
    try:
        for n in range(3):
            try:
                accepted.append(engine.cancel("SPOT", "BTCUSDT", order_id=str(n + 1)))
            except bc.RingFullError as e:
                assert "full" in str(e)
                assert not isinstance(e, bc.EngineStoppedError)
                refused += 1
        assert refused >= 1 and 1 <= len(accepted) <= 2
    finally:
        left = engine.shutdown()
    assert sorted(o.id for o in left) == sorted(accepted)
    assert {(o.status, o.reason) for o in left} == {("not_sent", "shutdown")}


def test_a_stopped_engine_is_its_own_error():
    engine = unreachable_engine()
    engine.shutdown()
    with pytest.raises(bc.EngineStoppedError):
        engine.cancel("SPOT", "BTCUSDT", order_id="1")
    assert not issubclass(bc.EngineStoppedError, bc.RingFullError)
    assert engine.shutdown() == []
    assert engine.state == "stopped"


def test_the_rest_settings_reach_the_rest_rung_and_rest_url_beside_them_wins(venue):
    rest = {
        "base_url": venue.rest_url,
        "request_timeout": 2.0,
        "connect_timeout": 2,
        "keep_warm_every": 5.0,
        "reconnect": {"initial": 0.05, "max": 0.5},
        "max_body": 1 << 20,
        "demo_trading": False,
    }
    for settings in (
        dict(rest=rest),
        dict(rest=dict(rest, base_url="https://127.0.0.1:1"), rest_url=venue.rest_url),
    ):
        engine = bc.Engine(
            *SIM_CREDENTIALS, url=venue.ws_url, ca_pem=venue.ca_pem, connections=1, **settings
        )
        try:
            assert engine.wait_live(PATIENCE), engine.last_error
            deadline = time.monotonic() + PATIENCE
            while not engine.stats()["rest"]["connected"]:
                assert time.monotonic() < deadline, f"no REST connection with {settings}"
                time.sleep(0.01)
        finally:
            engine.shutdown()
    # The default base URL is the live host: given beside rest, no_rest wins.
    engine = bc.Engine(*SIM_CREDENTIALS, url=venue.ws_url, rest=rest, no_rest=True)
    try:
        assert engine.stats()["rest"]["enabled"] is False
    finally:
        engine.shutdown()
