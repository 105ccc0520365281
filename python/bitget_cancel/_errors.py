"""The errors bitget_cancel raises. A venue's rejection is not among them: it is an ``Outcome``
with ``status == "rejected"``."""

from __future__ import annotations

__all__ = [
    "BitgetCancelError",
    "InvalidFieldError",
    "ConfigError",
    "RingFullError",
    "EngineStoppedError",
    "FinalWordOffError",
]


class BitgetCancelError(Exception):
    """The base of every error bitget_cancel raises."""


class InvalidFieldError(BitgetCancelError, ValueError):
    """A cancel's field breaks the venue's rules; nothing was queued or sent.

    ``field`` is the venue's name for it (``instType``, ``instId``, ``orderId``,
    ``clientOid``), ``rule`` the rule it broke.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"invalid {field}: {rule}")
        self.field = field
        self.rule = rule

    def __reduce__(self):  # type: ignore[override]
        return (type(self), (self.field, self.rule))


class ConfigError(BitgetCancelError, ValueError):
    """A setting that cannot work; ``field`` is the keyword (``connections``, ``url``, ...)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self):  # type: ignore[override]
        return (type(self), (self.args[0], self.field))


class RingFullError(BitgetCancelError):
    """The engine did not take the cancel: it is behind (paced, or not connected). Retry later,
    or give up on this cancel; it was not queued."""


class EngineStoppedError(BitgetCancelError):
    """The engine is shut down (or was created in the parent of a ``fork()``): it takes no new
    cancels."""


class FinalWordOffError(BitgetCancelError, RuntimeError):
    """A final word was asked of an engine made without ``confirm``: none would ever come.
    Make the engine with ``confirm=True`` (or a dict of its settings)."""
