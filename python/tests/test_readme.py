"""The README's Python blocks, run as written."""

from __future__ import annotations

import asyncio
import pathlib

import bitget_cancel as bc
from conftest import PATIENCE, SIM_CREDENTIALS, settings_for

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def block(name: str) -> str:
    """The fenced block that follows ``<!-- readme: NAME -->`` in README.md."""
    lines = README.read_text().splitlines()
    start = lines.index(f"<!-- readme: {name} -->") + 1
    assert lines[start] == "```python", f"{name}: a python block follows the marker"
    end = lines.index("```", start + 1)
    return "\n".join(lines[start + 1 : end]) + "\n"


def test_the_ten_lines_cancel_four_orders_at_the_simulated_venue(capsys):
    code = block("python-ten-lines")
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4
    assert all(line.startswith("Outcome(id=") and "status='acked'" in line for line in printed)


def test_the_asyncio_lines_await_a_cancel(venue):
    namespace: dict = {}
    exec(compile(block("python-asyncio"), "README.md", "exec"), namespace)
    with bc.Engine(*SIM_CREDENTIALS, **settings_for(venue)) as engine:
        assert engine.wait_live(PATIENCE)
        status, round_trip = asyncio.run(
            asyncio.wait_for(namespace["cancel_one"](engine, venue.orders[0]), PATIENCE)
        )
    assert status == "acked" and round_trip > 0


def test_the_final_word_lines_await_a_cancel_and_its_final_word(venue):
    namespace: dict = {}
    exec(compile(block("python-final"), "README.md", "exec"), namespace)
    with bc.Engine(*SIM_CREDENTIALS, **settings_for(venue, confirm=True)) as engine:
        assert engine.wait_live(PATIENCE)
        got = asyncio.run(
            asyncio.wait_for(namespace["cancel_and_confirm"](engine, venue.orders[0]), PATIENCE)
        )
    assert got == ("acked", "cancelled", "0", "push")


def test_the_unified_lines_cancel_over_v3_with_the_dead_mans_switch(capsys):
    code = block("python-unified")
    exec(compile(code, "README.md", "exec"), {"bc": bc})
    assert capsys.readouterr().out.splitlines() == ["acked True"]
