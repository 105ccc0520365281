"""What Python adds to the engine's own round trip, side by side in one run.

For each way of waiting, a few hundred cancels one after another against the simulated venue in
this process, each timed from the moment the engine decided its outcome (``Outcome.settled_ns``,
the reply parsed) to the moment Python has the ``Outcome`` in hand (``monotonic_ns()``, the same
clock): the hand-over, which is all the binding and the interpreter add. The engine's own round
trip (cancel accepted -> reply parsed) is printed beside it. The venue answers each cancel with
"the order does not exist" (a rejection is a reply like an ack).

    python python/tests/bench_overhead.py [--cancels 300] [--trials 3] [--idle backoff]

The rows run one after another, and the whole sequence ``--trials`` times (each trial a fresh
venue): a machine that changes state between rows shows up as trials that disagree, not as one
row that looks better than another. Each row's p50 is printed per trial, then the median of
them; p90 and p99 pool every trial.

The ways of waiting:

- ``sync park``: ``outcome()`` with ``outcome_spin=0``: parked at once, woken by the engine;
- ``sync``: ``outcome()`` as shipped, spinning ``outcome_spin`` (1 ms) with the GIL released
  before it parks;
- ``try_outcome loop``: ``try_outcome()`` in a Python loop (the GIL held, never sleeping);
- ``asyncio``: ``await cancel_async(...)``, the loop woken by the engine's outcome-ready
  descriptor (``add_reader``);
- ``asyncio thread``: for comparison, what the descriptor replaces: ``outcome()`` on an executor
  thread (``run_in_executor``), its result handed to the loop (two wake-ups);
- ``inline``: ``InlineEngine.outcome()``, the engine turned on this thread (GIL released).

Two more rows time the final word (``confirm=True``) the same way, from the engine knowing it
(``FinalWord.final_ns``, the order channel's push parsed) to Python holding the ``FinalWord``; the
last column is then the engine's reply-to-final time (``since_settled_ns``). These cancel real
resting orders (a venue of their own per trial), so that each gets a ``cancelled`` push:

- ``final sync``: ``outcome()`` then ``final()``, spinning before parking like ``outcome()``;
- ``final asyncio``: ``await final_async(await cancel_async(...))``, the loop woken by the
  engine's final-ready descriptor.

The simulated venue writes the push right behind the reply, so the engine usually knows the final
word within a microsecond of the outcome, while the outcome is still being handed over: these two
rows then include the outcome's hand-over as well.

Figures on a shared 2-core machine are noisy: compare rows of one run, not runs. With fewer
free cores than busy threads (this process's, the venue's, other programs'), every way of
waiting that does not hold a core pays a scheduler wake-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from typing import Callable, Iterable

import bitget_cancel as bc

CREDENTIALS = ("sim-key", "sim-secret", "sim-passphrase")
PATIENCE = 30.0


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def settings(venue: bc.SimVenue, idle: str, **extra) -> dict:
    s = dict(
        url=venue.ws_url,
        ca_pem=venue.ca_pem,
        no_rest=True,
        connections=1,
        idle=idle,
        messages_per_second=100_000,
        cancels_per_second=100_000,
    )
    s.update(extra)
    return s


def order_ids(start: int) -> Iterable[str]:
    n = start
    while True:
        yield str(10**18 + n)
        n += 1


class Row:
    """One way of waiting: its samples, one list per trial."""

    def __init__(self, name: str):
        self.name = name
        self.added: list[list[int]] = []
        self.round_trip: list[list[int]] = []

    def trial(self) -> "Row":
        self.added.append([])
        self.round_trip.append([])
        return self

    def record(self, outcome: bc.Outcome, in_hand_ns: int) -> None:
        if outcome.round_trip_ns is None:
            raise RuntimeError(f"{self.name}: no reply: {outcome!r}")
        self.added[-1].append(in_hand_ns - outcome.settled_ns)
        self.round_trip[-1].append(outcome.round_trip_ns)

    def line(self) -> str:
        per_trial = [percentile(a, 0.5) for a in self.added]
        pooled = [x for a in self.added for x in a]
        round_trips = [percentile(r, 0.5) for r in self.round_trip]
        return (
            f"| {self.name} | {' / '.join(f'{p:.1f}' for p in per_trial)} | "
            f"{statistics.median(per_trial):.1f} | {percentile(pooled, 0.9):.1f} | "
            f"{percentile(pooled, 0.99):.1f} | {statistics.median(round_trips):.1f} |"
        )


class FinalRow(Row):
    """A final-word row: added is final word known -> in hand; the round trip column is the
    engine's reply -> final word."""

    def record_final(self, word: bc.FinalWord, in_hand_ns: int) -> None:
        if word.state != "cancelled":
            raise RuntimeError(f"{self.name}: {word!r}")
        self.added[-1].append(in_hand_ns - word.final_ns)
        self.round_trip[-1].append(word.since_settled_ns)


def bench_final(row: FinalRow, venue, orders, args, asyncio_form: bool) -> None:
    with bc.Engine(*CREDENTIALS, **settings(venue, args.idle, confirm=True)) as engine:
        if not engine.wait_live(PATIENCE):
            raise RuntimeError(engine.last_error)
        if asyncio_form:

            async def main():
                for n, order in enumerate(orders):
                    outcome = await engine.cancel_async(
                        order["instType"], order["instId"], order_id=order["orderId"]
                    )
                    word = await engine.final_async(outcome)
                    in_hand = bc.monotonic_ns()
                    if n >= args.warmup:
                        row.record_final(word, in_hand)

            asyncio.run(main())
            return
        for n, order in enumerate(orders):
            engine.cancel(order["instType"], order["instId"], order_id=order["orderId"])
            if engine.outcome(timeout=PATIENCE) is None:
                raise RuntimeError(f"{row.name}: no outcome")
            word = engine.final(timeout=PATIENCE)
            in_hand = bc.monotonic_ns()
            if word is None:
                raise RuntimeError(f"{row.name}: no final word")
            if n >= args.warmup:
                row.record_final(word, in_hand)


def run_sync(row: Row, engine: bc.Engine, ids, warmup: int, cancels: int, wait: Callable) -> None:
    for n in range(warmup + cancels):
        engine.cancel("SPOT", "BTCUSDT", order_id=next(ids))
        outcome = wait()
        in_hand = bc.monotonic_ns()
        if outcome is None:
            raise RuntimeError(f"{row.name}: no outcome")
        if n >= warmup:
            row.record(outcome, in_hand)


def bench_threaded(row: Row, venue, args, spin: "float | None", poll_in_python: bool) -> None:
    extra = {} if spin is None else {"outcome_spin": spin}
    with bc.Engine(*CREDENTIALS, **settings(venue, args.idle, **extra)) as engine:
        if not engine.wait_live(PATIENCE):
            raise RuntimeError(engine.last_error)
        if poll_in_python:

            def wait():
                while True:
                    o = engine.try_outcome()
                    if o is not None:
                        return o

        else:

            def wait():
                return engine.outcome(timeout=PATIENCE)

        run_sync(row, engine, order_ids(0), args.warmup, args.cancels, wait)


def bench_asyncio(row: Row, venue, args, executor_thread: bool) -> None:
    with bc.Engine(*CREDENTIALS, **settings(venue, args.idle)) as engine:
        if not engine.wait_live(PATIENCE):
            raise RuntimeError(engine.last_error)
        ids = order_ids(0)

        async def main():
            loop = asyncio.get_running_loop()
            for n in range(args.warmup + args.cancels):
                if executor_thread:
                    engine.cancel("SPOT", "BTCUSDT", order_id=next(ids))
                    outcome = await loop.run_in_executor(None, engine.outcome, PATIENCE)
                else:
                    outcome = await engine.cancel_async("SPOT", "BTCUSDT", order_id=next(ids))
                in_hand = bc.monotonic_ns()
                if n >= args.warmup:
                    row.record(outcome, in_hand)

        asyncio.run(main())


def bench_inline(row: Row, venue, args) -> None:
    with bc.InlineEngine(*CREDENTIALS, **settings(venue, args.idle)) as engine:
        if not engine.wait_live(PATIENCE):
            raise RuntimeError(engine.last_error)
        run_sync(
            row,
            engine,
            order_ids(0),
            args.warmup,
            args.cancels,
            lambda: engine.outcome(timeout=PATIENCE),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cancels", type=int, default=300, help="measured cancels per row")
    parser.add_argument("--warmup", type=int, default=50, help="cancels before measuring")
    parser.add_argument("--trials", type=int, default=3, help="times every row runs")
    parser.add_argument(
        "--idle", default="backoff", choices=["backoff", "yield", "busy_spin"],
        help="the engine thread's idle strategy (the package's default: backoff)",
    )
    args = parser.parse_args()

    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    rows = {
        name: Row(name)
        for name in (
            "sync park",
            "sync",
            "try_outcome loop",
            "asyncio",
            "asyncio thread",
            "inline",
        )
    }
    rows["final sync"] = FinalRow("final sync")
    rows["final asyncio"] = FinalRow("final asyncio")
    for _ in range(args.trials):
        with bc.SimVenue(max_messages_per_second=0) as venue:
            bench_threaded(rows["sync park"].trial(), venue, args, 0.0, False)
            bench_threaded(rows["sync"].trial(), venue, args, None, False)
            bench_threaded(rows["try_outcome loop"].trial(), venue, args, None, True)
            bench_asyncio(rows["asyncio"].trial(), venue, args, executor_thread=False)
            bench_asyncio(rows["asyncio thread"].trial(), venue, args, executor_thread=True)
            bench_inline(rows["inline"].trial(), venue, args)
        per_row = args.warmup + args.cancels
        with bc.SimVenue(generate=2 * per_row, max_messages_per_second=0) as venue:
            orders = venue.orders
            bench_final(rows["final sync"].trial(), venue, orders[:per_row], args, False)
            bench_final(rows["final asyncio"].trial(), venue, orders[per_row:], args, True)
    end_load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []

    print(
        f"bitget_cancel {bc.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"engine idle {args.idle!r}, one connection, {args.cancels} cancels per row and trial "
        f"after {args.warmup} warm-up, {args.trials} trials, load {' '.join(load)} -> "
        f"{' '.join(end_load)}"
    )
    print()
    print("| way of waiting | added p50 per trial | median | p90 | p99 | engine round trip p50 |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows.values():
        print(row.line())
    print()
    print("Microseconds. added: outcome decided by the engine -> the Outcome in Python's hands;")
    print("for the final rows, final word known -> the FinalWord in hand, and the last column is")
    print("the engine's reply -> final word.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
