"""The floors of issue 15 (``benchmarks/bench_floor.py`` and ``bench_sqlite.py --floor``)
do the work they stand for: they refuse what the stores refuse (a bad id, data that is
not JSON, a bad ttl), hand back the session a store would (version, data, expiry), keep
their indexes exact, and, for SQLite, run exactly raw's statements. A floor that skipped
part of that work would look faster than any store could be. Nothing here is timed."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_sqlite
from benchmarks.bench_floor import Floor, Indexed
from benchmarks.bench_memory_revs import run_coroutine
from benchmarks.harness.workload import bump, payload
from sessionstore import InvalidSession, Session
from sessionstore.backends.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]

HOUR = 3600
#: Literals as sqlite3's trace shows them (bound values expanded), as in test_bench_harness.
LITERAL = re.compile(r"x'[0-9a-fA-F]*'|'(?:[^']|'')*'|\b\d+\b")


def _view(session: Session | None) -> tuple[Any, ...] | None:
    """What a caller sees of a session, but the times (each subject reads its own clock)."""
    if session is None:
        return None
    return (session.id, session.data, session.version, session.expires_at is None)


@pytest.mark.parametrize("kind", [Floor, Indexed])
def test_the_memory_floor_answers_as_the_store_does(kind: Callable[[], Floor]) -> None:
    floor, store = kind(), MemoryStore()
    data = payload(200)
    steps: list[Callable[[Any], Any]] = [
        lambda s: s.create(data, id="a", ttl=HOUR),
        lambda s: s.get("a"),
        lambda s: s.replace("a", {**data, "n": 7}),
        lambda s: s.update("a", bump),
        lambda s: s.touch("a", 2 * HOUR),
        lambda s: s.get("a"),
        lambda s: s.delete("a"),
        lambda s: s.get("a"),
    ]
    for step in steps:
        ours, theirs = run_coroutine(step(store)), run_coroutine(step(floor))
        if isinstance(ours, Session) or ours is None:
            assert _view(theirs) == _view(ours)
        else:
            assert theirs == ours
    touched = run_coroutine(floor.create(data, id="b", ttl=HOUR))
    later = run_coroutine(floor.touch("b", 2 * HOUR))
    assert later.expires_at is not None and touched.expires_at is not None
    assert later.expires_at > touched.expires_at


@pytest.mark.parametrize("kind", [Floor, Indexed])
@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.create({"cart": (1, 2)}, id="a", ttl=HOUR),  # a tuple (VAL-2)
        lambda f: f.create({"x": float("nan")}, id="a", ttl=HOUR),  # not a JSON number
        lambda f: f.create({}, id="not an id!", ttl=HOUR),  # VAL-1
        lambda f: f.create({}, id="a", ttl=-1),  # VAL-6
        lambda f: f.replace("s", {"x": 2**60}),  # beyond +-(2**53-1) (VAL-3)
        lambda f: f.touch("s", 0),
    ],
    ids=["tuple", "nan", "bad-id", "negative-ttl", "unsafe-integer", "zero-ttl"],
)
def test_the_memory_floor_refuses_what_the_stores_refuse(
    kind: Callable[[], Floor], call: Callable[[Floor], Any]
) -> None:
    floor = kind()
    run_coroutine(floor.create({"x": 1}, id="s", ttl=HOUR))
    before = dict(floor.records)
    with pytest.raises(InvalidSession):
        run_coroutine(call(floor))
    assert floor.records == before  # refused before any change, as a store must (ERR-2)


def test_the_indexed_floor_keeps_its_indexes_exact() -> None:
    floor = Indexed()
    for i in range(30):
        run_coroutine(floor.create({"i": i}, id=f"s{i:02d}", ttl=HOUR + i))
    for i in range(0, 30, 3):
        run_coroutine(floor.touch(f"s{i:02d}", 2 * HOUR))
    for i in range(0, 30, 4):
        run_coroutine(floor.delete(f"s{i:02d}"))
    assert list(floor.ids) == sorted(floor.records)
    assert list(floor.expiry) == sorted((kept[4], sid) for sid, kept in floor.records.items())


def test_the_sqlite_floor_runs_raws_statements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traced on both connections, each operation of the floor is raw's sequence of
    statements (and raw's is the store's: test_bench_harness)."""
    traces: dict[str, list[str]] = {}
    connect = bench_sqlite.raw_connect

    def traced(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
        conn = connect(path, timeout)
        trace = traces.setdefault(path.stem, [])
        conn.set_trace_callback(lambda sql: trace.append(" ".join(LITERAL.sub("?", sql).split())))
        return conn

    monkeypatch.setattr(bench_sqlite, "raw_connect", traced)

    async def each_op(make: Any, name: str) -> dict[str, list[str]]:
        (tmp_path / name).mkdir()
        ops, close, _ = await make(tmp_path / name, payload(200))
        seen: dict[str, list[str]] = {}
        try:
            for op in bench_sqlite.OPERATIONS:
                trace = traces[name]
                trace.clear()
                await ops[op]("s1")
                seen[op] = list(trace)
        finally:
            await close()
        return seen

    raw = asyncio.run(each_op(bench_sqlite.make_raw, "raw"))
    floor = asyncio.run(each_op(bench_sqlite.make_floor, "floor"))
    assert all(raw.values())
    assert floor == raw


def test_the_sqlite_floor_refuses_data_that_is_not_json(tmp_path: Path) -> None:
    async def create() -> None:
        ops, close, _ = await bench_sqlite.make_floor(tmp_path, {"x": float("inf")})
        try:
            await ops["create"]("s1")
        finally:
            await close()

    with pytest.raises(InvalidSession):
        asyncio.run(create())


def test_bench_floor_prints_every_operation_at_every_size() -> None:
    command = [sys.executable, "-m", "benchmarks.bench_floor", "--sizes", "200,1024"]
    command += ["--rounds", "1", "--calls", "50", "--store", "20"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| ")]
    cells = {(row[0].strip("| "), row[1]) for row in rows[2:]}  # after the header rows
    ops = ("get", "replace", "update", "touch", "create", "delete")
    assert cells == {(op, size) for op in ops for size in ("200 B", "1024 B")}
