"""SimVenue's surface, and the Outcome object."""

from __future__ import annotations


import pytest

import bitget_cancel as bc
from conftest import PATIENCE, cancel_order


def test_the_venue_lists_its_orders_in_the_run_input_format():
    with bc.SimVenue(generate=5) as venue:
        orders = venue.orders
        assert [list(o) for o in orders] == [["instType", "instId", "orderId", "clientOid"]] * 5
        assert [o["instType"] for o in orders] == ["SPOT"] * 3 + ["USDT-FUTURES"] * 2
        assert {o["instId"] for o in orders} == {"BTCUSDT"}
        assert all(o["orderId"].isdigit() for o in orders)
        assert len({o["clientOid"] for o in orders}) == 5
        assert venue.orders is not orders, "a new list each time"
        assert venue.ws_url.startswith("wss://localhost:") and venue.ws_url.endswith(
            "/v2/ws/private"
        )
        assert venue.rest_url.startswith("https://localhost:")
        assert venue.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
        assert "orders=5" in repr(venue)
    venue.close()  # idempotent
    assert bc.SimVenue().orders == []


def test_the_venues_message_limit_is_enforced_per_connection(engine_for):
    with bc.SimVenue(generate=30, max_messages_per_second=10) as venue:
        # The engine at the venue's limit: nothing is refused, the cancels are paced.
        engine = engine_for(venue, messages_per_second=10, cancels_per_second=10)
        for order in venue.orders[:12]:
            cancel_order(engine, order)
        outcomes = [engine.outcome(timeout=PATIENCE) for _ in range(12)]
        assert all(o is not None and o.status == "acked" for o in outcomes)


def test_an_outcome_is_frozen_comparable_and_printable(venue, engine):
    cancel_order(engine, venue.orders[0], tag=5)
    o = engine.outcome(timeout=PATIENCE)
    with pytest.raises(AttributeError):
        o.status = "rejected"
    with pytest.raises(AttributeError):
        o.anything = 1
    assert o == o and o != engine
    text = repr(o)
    assert text.startswith(f"Outcome(id='{o.id}', tag=5, status='acked', code=0, ")
    assert "msg='acknowledged'" in text and "reason=None" in text
    d = o.as_dict()
    assert list(d) == [
        "id",
        "tag",
        "status",
        "code",
        "msg",
        "reason",
        "attempts",
        "via",
        "round_trip_ns",
        "tick_to_wire_ns",
        "batch",
        "batch_size",
        "cancel_all",
        "succeeded",
        "failed",
        "asynchronous",
        "inst_type",
        "inst_id",
        "order_id",
        "client_oid",
        "accepted_ns",
        "settled_ns",
    ]
    assert all(d[k] == getattr(o, k) for k in d)
    assert (o.batch, o.batch_size, o.cancel_all, o.succeeded, o.failed, o.asynchronous) == (
        None,
        None,
        False,
        None,
        None,
        None,
    )
    with pytest.raises(TypeError):
        bc.Outcome()


def test_the_venue_seeds_more_orders_and_tells_where_an_order_stands(engine_for):
    with bc.SimVenue(max_messages_per_second=0) as venue:
        seeded = venue.seed_orders("COIN-FUTURES", "ETHUSD", 2)
        assert [(o["instType"], o["instId"]) for o in seeded] == [("COIN-FUTURES", "ETHUSD")] * 2
        assert venue.orders == [], "orders lists the generated ones only"
        first = seeded[0]
        resting = venue.order(first["instType"], first["instId"], first["orderId"])
        assert resting is not None and resting["status"] == "live", resting
        assert resting["clientOid"] == first["clientOid"]
        assert venue.order("SPOT", "ETHUSD", first["orderId"]) is None
        engine = engine_for(venue)
        cancel_order(engine, first)
        assert engine.outcome(timeout=PATIENCE).status == "acked"
        assert venue.order(first["instType"], first["instId"], first["orderId"])["status"] == (
            "cancelled"
        )
        second = seeded[1]
        assert venue.order(second["instType"], second["instId"], second["orderId"])["status"] == (
            "live"
        )
        with pytest.raises(ValueError, match="instType"):
            venue.seed_orders("FUTURES", "BTCUSDT")
        with pytest.raises(ValueError, match="instId"):
            venue.seed_orders("SPOT", "btc usdt")


def test_the_venues_documented_limits_refuse_what_goes_over_them(engine_for):
    with bc.SimVenue(generate=24, max_messages_per_second=0, limits=True) as venue:
        assert venue.resting_orders() == 24
        # Far over the account's 10 cancels a second, on one connection, without REST.
        engine = engine_for(venue, connections=1, no_rest=True)
        for order in venue.orders:
            cancel_order(engine, order)
        outcomes = [engine.outcome(timeout=PATIENCE) for _ in venue.orders]
        assert all(o is not None for o in outcomes)
        assert venue.activity()["rate_limited"] > 0
    with bc.SimVenue(generate=24, max_messages_per_second=0) as venue:
        engine = engine_for(venue, connections=1, no_rest=True)
        for order in venue.orders:
            cancel_order(engine, order)
        outcomes = [engine.outcome(timeout=PATIENCE) for _ in venue.orders]
        assert [o.status for o in outcomes] == ["acked"] * 24
        assert venue.activity()["rate_limited"] == 0
        assert venue.resting_orders() == 0
