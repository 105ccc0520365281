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
        "inst_type",
        "inst_id",
        "order_id",
        "client_oid",
        "accepted_ns",
        "settled_ns",
    ]
    assert all(d[k] == getattr(o, k) for k in d)
    with pytest.raises(TypeError):
        bc.Outcome()
