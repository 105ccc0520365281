"""Fixtures for the bitget_cancel tests: a simulated venue in this process and engines for it.

The suite tests the installed package: run it from outside ``python/`` (``.ci/run`` does), so that
``import bitget_cancel`` finds the wheel, not the source tree.
"""

from __future__ import annotations

import pathlib
import signal
from typing import Any, Callable, Iterator

import pytest

import bitget_cancel as bc

SOURCE_TREE = pathlib.Path(__file__).resolve().parents[1]

# The longest a test waits for something that should take milliseconds: a safety net that fails
# with a message on a loaded machine, never a performance bound.
PATIENCE = 30.0

SIM_CREDENTIALS = ("sim-key", "sim-secret", "sim-passphrase")

# Nothing listens there: an engine pointed at it never connects.
UNREACHABLE_URL = "wss://127.0.0.1:1/v2/ws/private"


def pytest_configure(config: pytest.Config) -> None:
    installed = pathlib.Path(bc.__file__).resolve()
    if SOURCE_TREE in installed.parents:
        raise pytest.UsageError(
            f"bitget_cancel was imported from the source tree ({installed}): install the wheel "
            "and run pytest from another directory"
        )


@pytest.fixture
def venue() -> Iterator[bc.SimVenue]:
    """A venue with 20 resting orders and no message limit (the tests send fast)."""
    with bc.SimVenue(generate=20, max_messages_per_second=0) as v:
        yield v


def settings_for(venue: bc.SimVenue, **overrides: Any) -> dict[str, Any]:
    """The venue's URLs and CA, limits raised to match the venue's, quick reconnects."""
    settings: dict[str, Any] = dict(
        url=venue.ws_url,
        rest_url=venue.rest_url,
        ca_pem=venue.ca_pem,
        messages_per_second=10_000,
        cancels_per_second=10_000,
        reconnect={"initial": 0.02, "max": 0.2},
    )
    settings.update(overrides)
    return settings


@pytest.fixture
def engine_for() -> Iterator[Callable[..., bc.Engine]]:
    """Makes live engines for a venue; shuts each down at the end of the test."""
    made: list[bc.Engine] = []

    def make(venue: bc.SimVenue, **overrides: Any) -> bc.Engine:
        engine = bc.Engine(*SIM_CREDENTIALS, **settings_for(venue, **overrides))
        made.append(engine)
        assert engine.wait_live(PATIENCE), engine.last_error
        return engine

    yield make
    for engine in made:
        engine.shutdown()


@pytest.fixture
def engine(venue: bc.SimVenue, engine_for: Callable[..., bc.Engine]) -> bc.Engine:
    return engine_for(venue)


@pytest.fixture
def python_handles_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test, as a program started from a terminal has it.

    A process that inherits SIGINT ignored (started with ``&`` by a shell without job control,
    as scripts start background jobs) keeps it ignored: Python installs no handler of its own,
    Ctrl-C never reaches it and ``_thread.interrupt_main()`` does nothing, so a test of Ctrl-C
    would wait out its bound whatever the engine does. Its child processes inherit the handler's
    default, not the ignoring."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def unreachable_engine(**overrides: Any) -> bc.Engine:
    """An engine whose cancels wait for a connection that never comes."""
    settings: dict[str, Any] = dict(url=UNREACHABLE_URL, no_rest=True)
    settings.update(overrides)
    return bc.Engine("key", "secret", "passphrase", **settings)


def cancel_order(engine: Any, order: dict[str, str], tag: int = 0) -> str:
    return engine.cancel(order["instType"], order["instId"], order_id=order["orderId"], tag=tag)
