"""Type stubs of the extension module ``bitget_cancel._native`` (re-exported by
``bitget_cancel``)."""

from __future__ import annotations

import asyncio
import os
from types import TracebackType
from typing import Any, Literal, Optional, TypedDict, Union


__version__: str

DEFAULT_OUTCOME_SPIN: float
"""How long a wait spins before it parks unless ``outcome_spin`` says otherwise (seconds)."""

Status = Literal["acked", "rejected", "unknown", "not_sent"]
FinalState = Literal["cancelled", "filled", "live", "unconfirmed"]
UnconfirmedReason = Literal["timeout", "not_found", "table_full", "shutdown"]
State = Literal["connecting", "logging_in", "live", "backoff", "login_rejected", "stopped"]
InstType = Literal["SPOT", "USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES"]
Idle = Literal["busy_spin", "yield", "backoff"]
Account = Literal["classic", "unified", "auto"]
"""Which kind of Bitget account the key belongs to: the classic account speaks V2, the unified
trading account V3; ``"auto"`` (the default) asks the venue at start over REST."""
BatchBudget = Literal["per_entry", "per_message"]
"""How a V3 ``batch-cancel`` counts against ``cancels_per_second``: each entry (default) or the
whole message once."""
SimAccount = Literal["classic", "unified"]

def monotonic_ns() -> int:
    """Nanoseconds on the engine's monotonic clock, the clock of ``Outcome.accepted_ns`` and
    ``Outcome.settled_ns``."""

def _after_fork_in_child() -> None: ...

class Reconnect(TypedDict, total=False):
    initial: float
    max: float
    reset_after: float

class Rest(TypedDict, total=False):
    """The REST rung's settings (``RestConfig``'s fields); those left out keep their defaults.
    Applied before every other setting: ``rest_url`` and ``no_rest`` beside it win."""

    base_url: str
    """``https://host[:port]``. Default the live REST host."""
    demo_trading: bool
    """Sends ``paptrading: 1`` (demo trading; set by itself with the demo ``url``)."""
    request_timeout: float
    """Seconds a request may wait for its complete reply. Default 5."""
    connect_timeout: float
    """Seconds for the TCP connect and the TLS handshake together. Default 5."""
    keep_warm_every: float
    """Seconds after its last request an idle connection sends a keep-warm request. Default
    20."""
    reconnect: Reconnect
    max_body: int
    """The largest reply body accepted, bytes. Default 65536."""

class Confirm(TypedDict, total=False):
    """The final word's settings (``Confirm``'s fields); those left out keep their defaults."""

    inst_types: list[InstType]
    """The product lines whose order channel each connection subscribes to. Default: all four."""
    after: float
    """Seconds after its outcome before a cancel with no final push is asked after over REST.
    Default 1."""
    timeout: float
    """Seconds after its outcome before a cancel's final word is ``"live"`` or
    ``"unconfirmed"``. Default 5."""
    subscribe_grace: float
    """Seconds a connection waits for its subscription's acknowledgement. Default 1."""
    capacity: int
    """Cancels that may wait for their final word at once. Default 1024."""
    early_pushes: int
    """Cancels waiting for their reply that may keep a push that came first. Default 64."""

class ConnectionStats(TypedDict):
    state: State
    sessions: int
    sent: int
    replies: int
    rtt_p50_ns: int
    rtt_p99_ns: int

class RestStats(TypedDict):
    enabled: bool
    connected: bool
    sent: int
    replies: int
    failures: int
    clock_offset_ms: int
    clock_synced: bool

class FinalStats(TypedDict):
    enabled: bool
    subscriptions_acked: int
    subscriptions_refused: int
    subscriptions_unanswered: int
    pushes_received: int
    pushes_matched: int
    pushes_before_reply: int
    pushes_dropped: int
    pushes_unmatched: int
    cancelled: int
    filled: int
    live: int
    unconfirmed: int
    table_full: int
    by_push: int
    by_rest: int
    undelivered: int
    queries_sent: int
    queries_answered: int
    queries_failed: int
    reply_to_final_p50_ns: int
    reply_to_final_p90_ns: int
    reply_to_final_p99_ns: int
    reply_to_final_max_ns: int

class UnifiedStats(TypedDict):
    """The unified trading account and the dead man's switch (``Stats["unified"]``)."""

    unified: bool
    """The account speaks the unified account's V3 API now (else the classic V2)."""
    switches: int
    """Times the venue's answer (40085 on V2, 40084 on V3) switched the API at run time."""
    dead_man_enabled: bool
    """The dead man's switch is on (configured, and the account is unified)."""
    dead_man_armed_unix_ms: int
    """When the venue last acknowledged arming it, Unix milliseconds; 0 never."""
    dead_man_arms: int
    """Arms (and re-arms) the venue acknowledged."""
    dead_man_failures: int
    """Arms the venue refused or did not answer (counted and logged)."""
    dead_man_off: bool
    """The clean shutdown turned it off."""

class BatchStats(TypedDict):
    """The backlog's REST batches and the cancel-alls (``Stats["batches"]``)."""

    sent: int
    """Batch requests sent (each numbered from 1: an outcome's ``batch``)."""
    carried: int
    """Cancels they carried."""
    largest: int
    sizes: list[int]
    """``sizes[n]``: batch requests of ``n`` cancels (21 entries, 1 to 20 used)."""
    failed: int
    """Batch requests that got no per-entry answer: refused as a whole, or no reply."""
    settled: int
    """Cancels settled by a batch reply's entry."""
    unlisted: int
    """Cancels a batch reply listed in neither list: left to another attempt."""
    cancel_alls: int
    cancel_alls_acked: int

class Stats(TypedDict):
    connect_attempts: int
    sessions: int
    reconnects: int
    login_rejections: int
    intents: int
    sent: int
    acked: int
    rejected: int
    unknown: int
    not_sent: int
    pacing_waits: int
    venue_errors: int
    unmatched_replies: int
    pings: int
    pongs: int
    hedges_sent: int
    hedges_won: int
    hedges_capped: int
    failovers: int
    stalls: int
    """Connections found stalled: they took no new cancels until they answered again."""
    transient_answers: int
    """Transient answers (a rate limit, overload, a timeout) that settled nothing."""
    retries: int
    """Cancels sent again after a transient answer."""
    rotations: int
    late_replies: int
    unreadable_messages: int
    hedge_after_ns: int
    pool_size: int
    connections: list[ConnectionStats]
    rest: RestStats
    finals: FinalStats
    unified: UnifiedStats
    batches: BatchStats

class Order(TypedDict, total=False):
    """An order in ``bitget-cancel run``'s input format."""

    instType: str
    instId: str
    orderId: str
    clientOid: str

class Outcome:
    """What became of one accepted cancel: exactly one per cancel. Frozen; compares equal to
    another outcome with the same fields."""

    @property
    def id(self) -> str:
        """The request id the cancel was sent under (what ``cancel()`` returned)."""
    @property
    def tag(self) -> int:
        """The caller's tag."""
    @property
    def status(self) -> Status:
        """``"acked"`` (the venue received it), ``"rejected"`` (see ``code``, ``msg``),
        ``"unknown"`` (sent, no reply: the order may or may not be cancelled) or
        ``"not_sent"``."""
    @property
    def code(self) -> Optional[int]:
        """The venue's code: 0 for acked, the error code of a rejection or refused login."""
    @property
    def msg(self) -> str:
        """The venue's message for a rejection, ``"acknowledged"`` for an ack, else the reason
        in words."""
    @property
    def reason(self) -> Optional[str]:
        """For unknown and not_sent: ``"ack_timeout"``, ``"connection_lost"``, ``"shutdown"``,
        ``"queue_timeout"``, ``"no_connection"``, ``"login_rejected"``, ...: the library's
        ``as_str`` words."""
    @property
    def attempts(self) -> int:
        """How many times the cancel was sent (0 if never)."""
    @property
    def via(self) -> Union[int, Literal["rest"], None]:
        """The 0-based connection whose reply settled it, ``"rest"``, or None."""
    @property
    def round_trip_ns(self) -> Optional[int]:
        """From the cancel accepted to the parsed reply."""
    @property
    def tick_to_wire_ns(self) -> Optional[int]:
        """From the cancel accepted to its frame handed to the kernel."""
    @property
    def batch(self) -> Optional[int]:
        """The REST batch request that carried it (numbered from 1), when a backlog went out
        in batches; None for a cancel sent alone."""
    @property
    def batch_size(self) -> Optional[int]:
        """How many cancels that batch carried (1 to 20)."""
    @property
    def cancel_all(self) -> bool:
        """True for a cancel-all's outcome."""
    @property
    def succeeded(self) -> Optional[int]:
        """A cancel-all's count of orders the venue listed as cancelled (futures); else None."""
    @property
    def failed(self) -> Optional[int]:
        """A cancel-all's count of orders the venue listed as failed (futures); else None."""
    @property
    def asynchronous(self) -> Optional[bool]:
        """For a cancel-all: True when the venue carries it out after accepting it (SPOT), so
        acked means accepted. None for a cancel."""
    @property
    def inst_type(self) -> InstType: ...
    @property
    def inst_id(self) -> Optional[str]:
        """The symbol; None for a cancel-all of a whole product line."""
    @property
    def order_id(self) -> Optional[str]: ...
    @property
    def client_oid(self) -> Optional[str]: ...
    @property
    def accepted_ns(self) -> int:
        """When the engine accepted the cancel (``monotonic_ns()``'s clock)."""
    @property
    def settled_ns(self) -> int:
        """When the outcome was decided (``monotonic_ns()``'s clock)."""
    def as_dict(self) -> dict[str, Any]:
        """Every field: those of a ``bitget-cancel run`` output line (without ``line``), the
        batch and cancel-all fields, the cancel's own, and the two timestamps."""
    def __eq__(self, other: object) -> bool: ...
    def __repr__(self) -> str: ...

class OrderState(TypedDict):
    """An order as the simulated venue has it (``SimVenue.fill``)."""

    instType: str
    instId: str
    orderId: str
    clientOid: Optional[str]
    status: Literal["live", "partially_filled", "filled", "cancelled"]
    size: str
    filled: str
    priceAvg: Optional[str]

class FinalWord:
    """The final word on one cancel: is the order gone, and how much of it filled. With
    ``confirm``, every cancel that was sent gets exactly one, after its outcome. Frozen;
    compares equal to another with the same fields."""

    @property
    def id(self) -> str:
        """The cancel's request id (its outcome's ``id``)."""
    @property
    def tag(self) -> int:
        """The caller's tag."""
    @property
    def state(self) -> FinalState:
        """``"cancelled"``, ``"filled"`` (the cancel came too late), ``"live"`` (still open
        when the time was up) or ``"unconfirmed"`` (nothing said; see ``reason``)."""
    @property
    def reason(self) -> Optional[UnconfirmedReason]:
        """Why an ``"unconfirmed"`` word is; None otherwise."""
    @property
    def filled(self) -> Optional[str]:
        """How much filled, in the base coin, the venue's decimal string (never a float); None
        when no word said."""
    @property
    def price_avg(self) -> Optional[str]:
        """The average fill price, the venue's decimal string, when it said."""
    @property
    def cancel_reason(self) -> Optional[str]:
        """Why the venue cancelled it (``"normal_cancel"``, ...), when it said."""
    @property
    def source(self) -> Optional[Literal["push", "rest"]]:
        """A push on the order channel or the REST order query; None for unconfirmed."""
    @property
    def venue_time_ms(self) -> Optional[int]:
        """The venue's time of the word (``uTime``), Unix milliseconds, when it said."""
    @property
    def final_ns(self) -> int:
        """When the final word was known (``monotonic_ns()``'s clock)."""
    @property
    def accepted_ns(self) -> int:
        """When the engine accepted the cancel (``monotonic_ns()``'s clock)."""
    @property
    def settled_ns(self) -> int:
        """When the cancel's outcome was decided (``monotonic_ns()``'s clock)."""
    @property
    def since_accepted_ns(self) -> int:
        """From the cancel accepted to its final word (``run --confirm``'s ``final_ns``)."""
    @property
    def since_settled_ns(self) -> int:
        """From the cancel's outcome to its final word."""
    @property
    def inst_type(self) -> InstType: ...
    @property
    def inst_id(self) -> str: ...
    @property
    def order_id(self) -> Optional[str]: ...
    @property
    def client_oid(self) -> Optional[str]: ...
    def as_dict(self) -> dict[str, Any]:
        """Every field in a dict."""
    def __eq__(self, other: object) -> bool: ...
    def __repr__(self) -> str: ...

class Engine:
    """The engine on a thread of its own. Cancels from any thread or asyncio task; outcomes
    waited for with the GIL released. Settings are ``ConfigBuilder``'s, durations in float
    seconds; None means the library's default (``idle`` defaults to ``"backoff"`` here). A
    setting that cannot work raises ``ConfigError`` whose ``field`` is its keyword.

    The unified trading account: ``account`` (``"auto"`` by default: asked over REST at start;
    a 40085 or 40084 at run time switches the API whatever the setting), ``uta_url`` (the V3
    WebSocket URL; default the live V3 host, or the demo one with the demo ``url``),
    ``dead_man_switch`` (seconds, whole, 5 to 60: the venue cancels every resting order of the
    account if the engine stops re-arming it; unified accounts only, refused for
    ``account="classic"``, needs the REST rung; off by default), ``batch_cancels`` (V3 cancels
    due at once go in one ``batch-cancel``; default True) and ``batch_budget``. ``write_timeout``
    (seconds a connection may be unable to write before it is replaced; default 2) and
    ``send_buffer`` (the socket's ``SO_SNDBUF`` in bytes; default the OS's).

    Bursts: a backlog the budget cannot send within ``batch_after`` seconds (default 0.1) goes
    out in REST batches of up to 20 (``no_batch=True``: never; needs the REST rung)."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        passphrase: str,
        *,
        url: Optional[str] = None,
        endpoints: Optional[list[str]] = None,
        connections: Optional[int] = None,
        rest_url: Optional[str] = None,
        rest: Optional[Rest] = None,
        no_rest: Optional[bool] = None,
        rest_only: Optional[bool] = None,
        no_batch: Optional[bool] = None,
        batch_after: Optional[float] = None,
        hedge_after: Union[float, Literal["adaptive", "off"], None] = None,
        max_connection_age: Optional[float] = None,
        ca_pem: Union[str, bytes, None] = None,
        ca_file: Union[str, os.PathLike[str], None] = None,
        core: Optional[int] = None,
        core_optional: Optional[int] = None,
        idle: Optional[Idle] = None,
        direct_reads: Optional[bool] = None,
        intent_capacity: Optional[int] = None,
        outcome_capacity: Optional[int] = None,
        max_pending: Optional[int] = None,
        ack_timeout: Optional[float] = None,
        ping_interval: Optional[float] = None,
        pong_deadline: Optional[float] = None,
        write_timeout: Optional[float] = None,
        messages_per_second: Optional[int] = None,
        cancels_per_second: Optional[int] = None,
        rate_margin: Optional[float] = None,
        max_queue_time: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        reconnect: Optional[Reconnect] = None,
        login_retry_after: Union[float, Literal["never"], None] = None,
        shutdown_grace: Optional[float] = None,
        send_buffer: Optional[int] = None,
        outcome_spin: Optional[float] = None,
        confirm: Union[bool, Confirm, None] = None,
        account: Optional[Account] = None,
        uta_url: Optional[str] = None,
        dead_man_switch: Optional[float] = None,
        batch_cancels: Optional[bool] = None,
        batch_budget: Optional[BatchBudget] = None,
    ) -> None: ...
    def cancel(
        self,
        inst_type: InstType,
        inst_id: str,
        *,
        order_id: Optional[str] = None,
        client_oid: Optional[str] = None,
        tag: int = 0,
        priority: int = 0,
    ) -> str:
        """Queues a cancel; returns its request id. Never blocks. Raises InvalidFieldError,
        RingFullError, EngineStoppedError. ``priority`` (0 to 255; InvalidFieldError outside):
        when cancels wait for the venue's budget, the highest leaves first, then the oldest."""
    def cancel_async(
        self,
        inst_type: InstType,
        inst_id: str,
        *,
        order_id: Optional[str] = None,
        client_oid: Optional[str] = None,
        tag: int = 0,
        priority: int = 0,
    ) -> asyncio.Future[Outcome]:
        """Queues a cancel now; the future resolves with its outcome on the running loop."""
    def cancel_all(self, inst_type: InstType, inst_id: Optional[str] = None, *, tag: int = 0) -> str:
        """Queues a cancel-all of every open order on the product line, or on its symbol
        ``inst_id`` (required on SPOT: InvalidFieldError without one, nothing queued); returns
        its request id. It goes over REST ahead of every waiting cancel (V2 ``cancel-all-orders``
        or ``cancel-symbol-order`` for a classic account, V3 ``cancel-symbol-order`` for a
        unified one). Its Outcome has ``cancel_all`` True, ``succeeded`` and ``failed`` where
        the venue counts them (classic futures, every unified one), ``asynchronous`` True on a
        classic account's SPOT (accepted, carried out afterwards). Cancels of that scope that
        wait or come later are still sent. Not sent without the REST rung
        (``"no_connection"``)."""
    def cancel_all_async(
        self, inst_type: InstType, inst_id: Optional[str] = None, *, tag: int = 0
    ) -> asyncio.Future[Outcome]:
        """Queues a cancel-all now; the future resolves with its outcome on the running loop."""
    def outcome(self, timeout: Optional[float] = None) -> Optional[Outcome]:
        """The next outcome not awaited by a future; None when the time is up or the engine
        stopped and every outcome was read. Ctrl-C interrupts it."""
    def try_outcome(self) -> Optional[Outcome]:
        """The next outcome not awaited by a future, if one is ready."""
    def final(self, timeout: Optional[float] = None) -> Optional[FinalWord]:
        """The next final word not awaited by a future (in the order they are known), waiting
        with the GIL released, spinning ``outcome_spin`` before parking; None when the time is
        up or the engine stopped and every final word was read. Ctrl-C interrupts it. Raises
        FinalWordOffError without ``confirm``."""
    def try_final(self) -> Optional[FinalWord]:
        """The next final word not awaited by a future, if one is ready. Raises
        FinalWordOffError without ``confirm``."""
    def final_async(self, request: Union[Outcome, str]) -> asyncio.Future[FinalWord]:
        """A future the final word on this cancel (its outcome, or its request id) resolves on
        the running loop. ValueError for a cancel that was not sent, or one a future already
        waits for; EngineStoppedError (set on the future at shutdown) for an id that got no
        final word. Raises FinalWordOffError without ``confirm``."""
    @property
    def confirms(self) -> bool:
        """Made with ``confirm``: each cancel that is sent gets a final word."""
    def wait_live(self, timeout: float) -> bool:
        """True once a connection is logged in; False on timeout, refused credentials or a
        stopped engine."""
    def shutdown(self) -> list[Outcome]:
        """Stops; resolves every pending future (a ``final_async`` future whose cancel got no
        final word fails with EngineStoppedError); returns every other outcome nobody read.
        Final words nobody read stay readable with ``try_final()``."""
    @property
    def state(self) -> State: ...
    @property
    def last_error(self) -> Optional[str]: ...
    def stats(self) -> Stats: ...
    def __enter__(self) -> Engine: ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool:
        """Stops; outcomes not read stay readable with ``try_outcome()``."""

class InlineEngine:
    """The engine on the caller's thread: ``cancel`` writes the frame before it returns,
    ``poll`` runs one turn. One thread drives it. Settings as ``Engine``'s (``idle`` and
    ``core`` do not apply)."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        passphrase: str,
        *,
        url: Optional[str] = None,
        endpoints: Optional[list[str]] = None,
        connections: Optional[int] = None,
        rest_url: Optional[str] = None,
        rest: Optional[Rest] = None,
        no_rest: Optional[bool] = None,
        rest_only: Optional[bool] = None,
        no_batch: Optional[bool] = None,
        batch_after: Optional[float] = None,
        hedge_after: Union[float, Literal["adaptive", "off"], None] = None,
        max_connection_age: Optional[float] = None,
        ca_pem: Union[str, bytes, None] = None,
        ca_file: Union[str, os.PathLike[str], None] = None,
        core: Optional[int] = None,
        core_optional: Optional[int] = None,
        idle: Optional[Idle] = None,
        direct_reads: Optional[bool] = None,
        intent_capacity: Optional[int] = None,
        outcome_capacity: Optional[int] = None,
        max_pending: Optional[int] = None,
        ack_timeout: Optional[float] = None,
        ping_interval: Optional[float] = None,
        pong_deadline: Optional[float] = None,
        write_timeout: Optional[float] = None,
        messages_per_second: Optional[int] = None,
        cancels_per_second: Optional[int] = None,
        rate_margin: Optional[float] = None,
        max_queue_time: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        reconnect: Optional[Reconnect] = None,
        login_retry_after: Union[float, Literal["never"], None] = None,
        shutdown_grace: Optional[float] = None,
        send_buffer: Optional[int] = None,
        outcome_spin: Optional[float] = None,
        confirm: Union[bool, Confirm, None] = None,
        account: Optional[Account] = None,
        uta_url: Optional[str] = None,
        dead_man_switch: Optional[float] = None,
        batch_cancels: Optional[bool] = None,
        batch_budget: Optional[BatchBudget] = None,
    ) -> None: ...
    def poll(self) -> bool:
        """One turn of the event loop; True if anything happened. Never blocks."""
    def cancel(
        self,
        inst_type: InstType,
        inst_id: str,
        *,
        order_id: Optional[str] = None,
        client_oid: Optional[str] = None,
        tag: int = 0,
        priority: int = 0,
    ) -> str:
        """Takes a cancel, on the wire before this returns when a connection is live."""
    def cancel_all(self, inst_type: InstType, inst_id: Optional[str] = None, *, tag: int = 0) -> str:
        """Takes a cancel-all (see ``Engine.cancel_all``)."""
    def try_outcome(self) -> Optional[Outcome]:
        """The next outcome, if one is ready. Does not poll."""
    def outcome(self, timeout: Optional[float] = None) -> Optional[Outcome]:
        """Turns the loop until an outcome is ready or the time is up (GIL released)."""
    def try_final(self) -> Optional[FinalWord]:
        """The next final word, if one is ready. Does not poll. Raises FinalWordOffError
        without ``confirm``."""
    def final(self, timeout: Optional[float] = None) -> Optional[FinalWord]:
        """Turns the loop until a final word is ready or the time is up (GIL released). Raises
        FinalWordOffError without ``confirm``."""
    def ready_finals(self) -> int:
        """How many final words wait to be read."""
    @property
    def confirms(self) -> bool:
        """Made with ``confirm``."""
    def wait_live(self, timeout: float) -> bool: ...
    def shutdown(self) -> list[Outcome]:
        """Stops; returns every outcome not read. Final words not read stay readable with
        ``try_final()``."""
    @property
    def state(self) -> State: ...
    @property
    def last_error(self) -> Optional[str]: ...
    def stats(self) -> Stats: ...
    def __enter__(self) -> InlineEngine: ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

class SimKey(TypedDict, total=False):
    """One more key the simulated venue accepts (``SimVenue(keys=...)``)."""

    api_key: str
    secret: str
    passphrase: str
    account: SimAccount
    """Default ``"classic"``."""
    uid: int
    """The account it trades for. Default 1, the main key's (it sees the same orders)."""

class CountdownArm(TypedDict):
    uid: int
    seconds: int
    """Seconds asked for; 0 turned it off."""

class SimBatch(TypedDict):
    endpoint: str
    size: int
    cancelled: int
    by_order_id: bool

class SimCancelAll(TypedDict):
    endpoint: str
    instType: Optional[str]
    instId: Optional[str]
    cancelled: int

class SimActivity(TypedDict):
    """What the simulated venue saw beyond single cancels."""

    mode_refusals: int
    """Requests refused for the account's kind (40084 on V3, 40085 on V2)."""
    countdown_arms: list[CountdownArm]
    batches: list[SimBatch]
    cancel_alls: list[SimCancelAll]
    rate_limited: int
    """Requests refused for a rate limit."""

class ReceivedMessage(TypedDict):
    conn: int
    """1 for the first connection the venue accepted, then 2, ..."""
    text: str

class SimVenue:
    """A stand-in for Bitget on loopback, in this process, until ``close()``. Credentials:
    ``"sim-key"``, ``"sim-secret"``, ``"sim-passphrase"``, for a classic account unless
    ``account="unified"`` (V3 serves a unified key and V2 refuses it with 40085; V3 refuses a
    classic key with 40084). ``keys`` adds more."""

    def __init__(
        self,
        generate: int = 0,
        max_messages_per_second: int = 10,
        account: SimAccount = "classic",
        keys: Optional[list[SimKey]] = None,
        limits: bool = False,
    ) -> None:
        """``limits=True`` enforces the live venue's documented per-account limits of every
        endpoint, answering over them with its rate-limit errors."""
    @property
    def ws_url(self) -> str:
        """The V2 private WebSocket URL: ``Engine(url=...)``."""
    @property
    def uta_url(self) -> str:
        """The V3 private WebSocket URL (unified accounts), same port and CA:
        ``Engine(uta_url=...)``."""
    @property
    def rest_url(self) -> str: ...
    @property
    def ca_pem(self) -> str: ...
    @property
    def orders(self) -> list[Order]:
        """The generated orders in ``bitget-cancel run``'s input format."""
    def fill(
        self, inst_type: InstType, inst_id: str, order_id: str, size: Optional[str] = None
    ) -> OrderState:
        """A scripted taker fills ``size`` (None: all that is left) of a resting order and
        pushes the change. ValueError for an order that is not resting or a size too large."""
    def fill_before_cancel(self, nth: int = 1, size: Optional[str] = None) -> None:
        """From now on, the order the ``nth`` cancel names fills (``size``; None: wholly) just
        before the cancel reaches it. Fires once; replaces any fault set before."""
    def seed_orders(self, inst_type: InstType, inst_id: str, n: int = 1) -> list[Order]:
        """Puts ``n`` more resting orders on the main key's book and returns them (``orders``
        lists the generated ones only). ValueError for a product line or symbol the venue would
        not take."""
    def resting_orders(self) -> int:
        """How many orders rest on the book now."""
    def order(self, inst_type: InstType, inst_id: str, order_id: str) -> Optional[OrderState]:
        """The order as the venue has it now (resting or final); None if it never had it."""
    def set_account(self, api_key: str, account: SimAccount) -> bool:
        """Switches the account behind ``api_key`` from now on; False for an unknown key."""
    def account(self, api_key: str) -> Optional[SimAccount]:
        """The account kind behind ``api_key``; None for an unknown key."""
    def countdown_left(self, uid: int = 1) -> Optional[float]:
        """Seconds left on the account's dead man's switch; None when it is not armed."""
    def activity(self) -> SimActivity:
        """What the venue saw beyond single cancels."""
    def received(self) -> list[ReceivedMessage]:
        """The messages the venue received, oldest first."""
    def close(self) -> None: ...
    def __enter__(self) -> SimVenue: ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...
