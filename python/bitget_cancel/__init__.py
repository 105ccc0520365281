"""Cancels Bitget orders over the private WebSocket trading API in microseconds.

``Engine`` runs the engine on a thread of its own: ``cancel()`` queues a cancel and never
blocks; ``outcome()`` waits for the next outcome with the GIL released; ``await
cancel_async(...)`` serves asyncio. ``InlineEngine`` runs it on the caller's thread.
``SimVenue`` is a stand-in for Bitget in this process, for tests. Every accepted cancel gets
exactly one ``Outcome``; with ``confirm=True`` every cancel that was sent then gets exactly one
``FinalWord`` (is the order gone, and how much filled): ``final()``, ``try_final()``, ``await
final_async(outcome)``.

Create engines after ``fork()``, in the process that uses them: one created before refuses to
work in the child (``EngineStoppedError``).
"""

from __future__ import annotations

import os as _os

from . import _native
from ._errors import (
    BitgetCancelError,
    ConfigError,
    EngineStoppedError,
    FinalWordOffError,
    InvalidFieldError,
    RingFullError,
)
from ._native import (
    DEFAULT_OUTCOME_SPIN,
    Engine,
    FinalWord,
    InlineEngine,
    Outcome,
    SimVenue,
    monotonic_ns,
)

__version__: str = _native.__version__

__all__ = [
    "Engine",
    "InlineEngine",
    "Outcome",
    "FinalWord",
    "SimVenue",
    "BitgetCancelError",
    "InvalidFieldError",
    "ConfigError",
    "RingFullError",
    "EngineStoppedError",
    "FinalWordOffError",
    "DEFAULT_OUTCOME_SPIN",
    "monotonic_ns",
]

if hasattr(_os, "register_at_fork"):
    # An engine's threads do not survive fork(): objects made before it refuse to work in the
    # child, and are never joined there.
    _os.register_at_fork(after_in_child=_native._after_fork_in_child)
