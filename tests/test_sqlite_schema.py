"""The SQLite store's schema version 2 (issue 15): the migration of files made by
version 1 (a committed fixture made by the version-1 code: tests/data/), the size a
session takes in the file, and the row counter behind an O(1) ``count`` staying exact
under expiry, purge, delete, import, reused ids, operators' own SQL and writers in
several processes."""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from sessionstore import SessionExists, SessionNotFound, StoreUnavailable
from sessionstore.backends import _sqlite_schema, sqlite
from sessionstore.backends._sqlite_schema import SCHEMA_VERSION
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore_conformance import FakeClock

pytestmark = pytest.mark.anyio

FIXTURE = Path(__file__).parent / "data" / "sqlite_schema_v1.db"
FIXTURE_MS = 1_893_456_000_000  # tests/data/make_sqlite_schema_v1.py: its clock
ROW = "id, data, version, created_ms, updated_ms, expires_ms, owner"


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with raw(path) as conn:
        return conn.execute(f'SELECT {ROW} FROM "{table}" ORDER BY id').fetchall()


def versions(path: Path) -> dict[str, int]:
    with raw(path) as conn:
        return dict(conn.execute("SELECT namespace, schema_version FROM sessionstore_meta"))


def counter(path: Path, namespace: str) -> int:
    with raw(path) as conn:
        (stored,) = conn.execute(
            "SELECT stored FROM sessionstore_counts WHERE namespace = ?", (namespace,)
        ).fetchone()
        return int(stored)


def table_sql(path: Path, table: str) -> str:
    with raw(path) as conn:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return str(sql)


def clock_at(ms: int) -> FakeClock:
    clock = FakeClock()
    clock.set_ms(ms)
    return clock


@pytest.fixture
def v1_file(tmp_path: Path) -> Path:
    path = tmp_path / "v1.db"
    shutil.copyfile(FIXTURE, path)
    return path


# --- the migration ------------------------------------------------------------------------


def test_the_fixture_is_a_version_1_file() -> None:
    """The fixture is what the version-1 code wrote, so the tests below migrate it."""
    assert versions(FIXTURE) == {"sessions": 1, "other": 1}
    assert table_sql(FIXTURE, "sessions").rstrip().endswith("WITHOUT ROWID")
    assert len(rows(FIXTURE, "sessions")) == 7 and len(rows(FIXTURE, "other")) == 2


async def test_a_version_1_file_migrates_with_every_row_as_it_was(v1_file: Path) -> None:
    before, other_before = rows(v1_file, "sessions"), rows(v1_file, "other")
    clock = clock_at(FIXTURE_MS + 2000)  # "expired-unpurged" expired at +1 s
    async with await SQLiteStore(v1_file, clock=clock).open() as store:
        assert versions(v1_file) == {"sessions": SCHEMA_VERSION, "other": 1}
        assert rows(v1_file, "sessions") == before  # every column of every row, unpurged too
        assert "WITHOUT ROWID" not in table_sql(v1_file, "sessions")
        assert counter(v1_file, "sessions") == 7
        assert await store.count() == 6  # LIVE-2: the expired row is not counted
        hour = await store.get("hour")
        assert hour is not None and hour.data == {"user": "bob", "n": 3} and hour.version == 2
        assert await store.get("owned", owner="alice") is not None
        assert await store.get("expired-unpurged") is None
        # the migrated table takes every write, and the counter follows
        await store.create({"new": 1}, id="expired-unpurged", ttl=60)  # reuses the id
        assert await store.count() == 7 and counter(v1_file, "sessions") == 7
        assert await store.delete("forever")
        assert await store.count() == 6 and counter(v1_file, "sessions") == 6
        await store.touch("overflowing", 10)
        clock.set_ms(FIXTURE_MS + 30_000)
        assert await store.purge_expired() == 2  # expires-at-10s, overflowing
        assert await store.count() == 4 == counter(v1_file, "sessions")
    assert rows(v1_file, "other") == other_before  # another namespace migrates when opened
    async with await SQLiteStore(v1_file, clock=clock, namespace="other").open() as other:
        assert versions(v1_file) == {"sessions": SCHEMA_VERSION, "other": SCHEMA_VERSION}
        assert rows(v1_file, "other") == other_before
        assert await other.count() == 2 == counter(v1_file, "other")
    with raw(v1_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


async def test_a_migration_that_fails_leaves_the_file_as_it_was(
    v1_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = rows(v1_file, "sessions")
    failing = [*_sqlite_schema.MIGRATIONS[2][:-1], "SELECT no_such_function()"]
    monkeypatch.setitem(_sqlite_schema.MIGRATIONS, 2, failing)
    with pytest.raises(StoreUnavailable):
        await SQLiteStore(v1_file).open()
    assert versions(v1_file) == {"sessions": 1, "other": 1}
    assert table_sql(v1_file, "sessions").rstrip().endswith("WITHOUT ROWID")
    assert rows(v1_file, "sessions") == before
    with raw(v1_file) as conn:
        names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "sessions__v2" not in names and "sessionstore_counts" not in names


def test_processes_opening_a_version_1_file_at_once_migrate_it_once(v1_file: Path) -> None:
    before = rows(v1_file, "sessions")
    code = (
        "import asyncio, sys\n"
        "from sessionstore.backends.sqlite import SQLiteStore\n"
        "async def go():\n"
        "    async with await SQLiteStore(sys.argv[1]).open() as s:\n"
        "        print(await s.count())\n"
        "asyncio.run(go())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(v1_file)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4
    assert all(out.strip().isdigit() for out in outputs), outputs
    assert versions(v1_file)["sessions"] == SCHEMA_VERSION
    assert rows(v1_file, "sessions") == before
    assert counter(v1_file, "sessions") == len(before)


# --- size ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 2000, 2600, 3000])
async def test_a_session_of_1_to_4_kb_takes_less_than_1_5_times_its_size_in_the_file(
    tmp_path: Path, size: int
) -> None:
    """Version 1 took 4.7 KB of file per 1 KiB session (each row spilled into an overflow
    page of its own); on 4 KiB pages a 2 KB session takes a page to itself. Counted in
    pages, after a checkpoint: no timing."""
    path, n = tmp_path / "size.db", 1000
    data = {"blob": "x" * (size - 11)}
    payload = len(orjson.dumps(data))
    async with await SQLiteStore(path).open() as store:
        before = 0
        with raw(path) as conn:
            before = conn.execute("PRAGMA page_count").fetchone()[0]
        for _ in range(n):
            await store.create(data, ttl=3600)
    with raw(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0] - before
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    per_session = pages * page_size / n
    assert per_session <= 1.5 * payload, f"{per_session:.0f} B per {payload}-byte session"


# --- the counter ----------------------------------------------------------------------------


def live_rows(path: Path, namespace: str, now: int) -> int:
    with raw(path) as conn:
        (live,) = conn.execute(
            f'SELECT count(*) FROM "{namespace}" WHERE expires_ms IS NULL OR expires_ms > ?',
            (now,),
        ).fetchone()
        return int(live)


def stored_rows(path: Path, namespace: str) -> int:
    with raw(path) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{namespace}"').fetchone()[0])


async def test_count_follows_every_kind_of_write_against_a_full_scan(tmp_path: Path) -> None:
    """Random creates (some reusing expired ids), replaces, touches, deletes, imports
    (both conflict modes), purges, clock moves and an operator's own DELETE, through two
    stores on one file: after each, count() is the live rows a full scan finds, and the
    counter is the rows stored."""
    path = tmp_path / "c.db"
    clock = FakeClock()
    rng = random.Random(15)
    first = await SQLiteStore(path, clock=clock).open()
    second = await SQLiteStore(path, clock=clock).open()
    ids = [f"id{i}" for i in range(40)]
    try:
        for step in range(400):
            store = rng.choice((first, second))
            sid = rng.choice(ids)
            kind = rng.choice(
                ("create", "create", "replace", "touch", "delete", "import", "purge", "tick")
            )
            try:
                if kind == "create":
                    await store.create({"s": step}, id=sid, ttl=rng.choice((None, 1, 5, 60)))
                elif kind == "replace":
                    await store.replace(sid, {"r": step}, ttl=rng.choice((None, 2)))
                elif kind == "touch":
                    await store.touch(sid, rng.choice((1, 30)))
                elif kind == "delete":
                    await store.delete(sid)
                elif kind == "import":
                    doc = await first.export()
                    await store.import_(doc, on_conflict=rng.choice(("skip", "replace")))
                elif kind == "purge":
                    await store.purge_expired()
                else:
                    clock.advance(rng.choice((500, 1000, 3000)))
            except (SessionExists, SessionNotFound):  # nothing changed
                pass
            if step % 97 == 0:
                with raw(path) as conn:  # an operator's own SQL goes through the triggers
                    conn.execute("DELETE FROM sessions WHERE id = ?", (rng.choice(ids),))
            now = clock.ms
            assert await store.count() == live_rows(path, "sessions", now), (step, kind)
            assert counter(path, "sessions") == stored_rows(path, "sessions"), (step, kind)
    finally:
        await first.close()
        await second.close()


WRITER = """
import asyncio, random, sys
from sessionstore import SessionExists, SessionNotFound
from sessionstore.backends.sqlite import SQLiteStore

async def go(path, seed):
    rng = random.Random(seed)
    async with await SQLiteStore(path).open() as store:
        for step in range(300):
            sid = f"id{rng.randrange(60)}"
            try:
                match rng.randrange(5):
                    case 0 | 1:
                        await store.create({"s": step}, id=sid, ttl=rng.choice((None, 0.05, 60)))
                    case 2:
                        await store.delete(sid)
                    case 3:
                        await store.replace(sid, {"r": step})
                    case _:
                        await store.purge_expired()
            except (SessionExists, SessionNotFound):
                pass

asyncio.run(go(sys.argv[1], int(sys.argv[2])))
"""


async def test_count_stays_exact_with_writers_in_several_processes(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    async with await SQLiteStore(path).open():
        pass
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(path), str(seed))
        for seed in range(4)
    ]
    assert [await proc.wait() for proc in procs] == [0] * 4
    assert counter(path, "sessions") == stored_rows(path, "sessions")
    clock = FakeClock()
    clock.set_ms(FIXTURE_MS)  # later than every expiry the writers set
    async with await SQLiteStore(path, clock=clock).open() as store:
        assert await store.count() == live_rows(path, "sessions", clock.ms)


async def test_count_reads_the_counter_not_the_rows(tmp_path: Path) -> None:
    """What makes count O(1) in the rows stored (version 1 scanned every row: 510 ms at
    1,000,000): it believes the counter, which a scan would contradict, and counts only
    the expired rows, over a range of the expiry index."""
    path = tmp_path / "counter.db"
    clock = FakeClock()
    async with await SQLiteStore(path, namespace="app", clock=clock).open() as store:
        for i in range(10):
            await store.create({"i": i}, ttl=1 if i < 3 else None)
        clock.advance(2000)  # three expired, not purged
        with raw(path) as conn:
            conn.execute("UPDATE sessionstore_counts SET stored = stored + 1000")
        assert await store.count() == 1007
    with raw(path) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN " + _sqlite_schema.stored_and_expired_sql("app"), ("app", 0)
        ).fetchall()
    details = [str(row[-1]) for row in plan]
    assert "SEARCH app USING COVERING INDEX app__expires (expires_ms<?)" in details, details
    with raw(path) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN " + _sqlite_schema.bounded_counts_sql("app"), ("app", 0, 10)
        ).fetchall()
    details = [str(row[-1]) for row in plan]
    assert "SEARCH app USING COVERING INDEX app__expires (expires_ms<?)" in details, details


@pytest.mark.parametrize("expired", [3, sqlite.COUNT_INLINE_EXPIRED, 1500])
async def test_count_is_exact_on_either_side_of_the_inline_bound(
    tmp_path: Path, expired: int
) -> None:
    """count() counts a short range of expired rows on the event loop and a long one in a
    thread (COUNT_INLINE_EXPIRED): both give the live rows a full scan finds."""
    path = tmp_path / "bound.db"
    clock = FakeClock()
    async with await SQLiteStore(path, clock=clock).open() as store:
        for i in range(expired):
            await store.create({"i": i}, ttl=0.001)
        for i in range(7):
            await store.create({"i": i}, ttl=3600)
        clock.advance(2000)  # the imported sessions expired, not purged
        assert await store.count() == 7 == live_rows(path, "sessions", clock.ms)


async def test_count_is_right_without_the_counter_row(tmp_path: Path) -> None:
    """An operator who deletes the counter's row by hand gets a slow count, not a wrong
    one or an error."""
    path = tmp_path / "nocounter.db"
    async with await SQLiteStore(path).open() as store:
        for i in range(5):
            await store.create({"i": i}, ttl=None if i % 2 else 60)
        with raw(path) as conn:
            conn.execute("DELETE FROM sessionstore_counts")
        assert await store.count() == 5
        await store.delete((await store.list()).sessions[0].id)
        assert await store.count() == 4
