"""The SQLite store against raw sqlite3 doing the same statements, in one run (issue 15).

    python benchmarks/bench_sqlite.py [--part ops size scale procs] [--before REV] [--peers]
        [--unchecked] [--floor]
        [--sizes 200 1024 4096 65536] [--n 3000] [--rounds 3]
        [--size-sweep ...] [--scale 100000 1000000] [--migrate-max 100000]
        [--procs 1 4] [--seconds 3]

``--before REV`` adds the store as it was at git revision REV (its sqlite.py loaded beside
today's, on its own schema) as one more implementation, so before and after come from the
same run on the same machine. The machine is shared, so read ratios and medians, not
absolute times.

**ops** -- every point operation, at each payload size (bytes of JSON, the session padded
to size), on N sessions, ROUNDS fresh files:

* ``raw``  -- sqlite3 alone on a file with today's schema (its triggers too) and the
  store's pragmas (1 KiB pages, WAL, synchronous=NORMAL, 64 MiB cache, 256 MiB mmap),
  running exactly the statements the store runs, orjson to encode and decode: create =
  BEGIN IMMEDIATE,
  the live-row SELECT, INSERT … ON CONFLICT, COMMIT; get = the SELECT, decode; replace =
  BEGIN IMMEDIATE, SELECT, UPDATE (data, version, updated_ms), COMMIT; update = the same
  with decode, modify and encode in between; touch = BEGIN IMMEDIATE, SELECT, decode,
  UPDATE expires_ms, COMMIT; delete = BEGIN IMMEDIATE, SELECT, DELETE, COMMIT.
* ``ours`` -- SQLiteStore; ``before`` -- the store at REV; with ``--peers``, diskcache and
  py-key-value's DiskStore (create/get/update/replace only; their update is not atomic).
* with ``--unchecked`` (ops and procs), ``unchecked`` -- today's store with the contract's
  write validation (encode_data) replaced by a bare orjson.dumps: not a correct store, a
  measure of what the validation costs beside the store's own work.
* with ``--floor`` (ops and procs), ``floor`` -- raw's statements plus the work the contract asks
  of every store and nothing of the store's own design (``make_floor``): where
  floor / raw exceeds a target of issue 15, no store doing that work can meet it.

Each operation runs on every implementation interleaved in blocks of 50 ids with a
rotating first one, after a warm-up on other ids, so load from other processes lands on
all alike. Printed: p50/p99 in µs and ours/raw of the p50s. After the creates, the file's
size per session (pages after a checkpoint, less the empty file's) against the payload,
and per B-tree (dbstat): the table, the id index, the expiry index.

**scale** -- count and purge at each store size (1 KiB sessions, bulk-inserted through
raw sqlite3 into the implementation's own table, so triggers count them; half expire in a
day, 1% of them in an hour, half never): count's median of 7 calls with nothing expired,
then, the clock an hour on, with 1% expired and unpurged; raw ``SELECT count(*) WHERE
live`` beside it; then purge_expired beside a probe task sleeping 1 ms (loop_gaps): the
longest gap between its wake-ups, the longest the loop's thread ran, and the longest it
was blocked (neither running nor waiting for a core), then the same probe over an idle
loop for as long, which is the machine's own share of the gaps. With ``--before``, the
old store's file (up to --migrate-max sessions) is then opened by today's store: the
migration's time and gaps, and the file's size before, after and after VACUUM.

**size** -- the file's bytes per session over the payload, sizes from 1 KiB to 64 KiB,
through each store's create.

**procs** -- P processes updating one file at once (1 KiB sessions, 1,000 ids, random),
each for SECONDS: the total updates per second, raw sqlite3 (BEGIN IMMEDIATE, SELECT,
decode, modify, encode, UPDATE, COMMIT, with sqlite3's default 5 s busy timeout) against
the store's update (busy timeout 0, waiting in asyncio), rounds alternating who runs first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from sessionstore.backends._sqlite_schema import (
    MIGRATIONS,
    ON_ID_CONFLICT_REPLACE,
    PAGE_SIZE,
    SCHEMA_VERSION,
)
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore.semantics import check_id, decode_data, encode_data, ttl_to_ms
from sessionstore.values import Session
from sessionstore_conformance import FakeClock

HERE = Path(__file__).resolve().parent
TTL_S = 3600
HOUR_MS = 3_600_000
WARMUP = 300
CHUNK = 50
OPERATIONS = ("create", "get", "replace", "update", "touch", "delete")
COLUMNS = "id, data, version, created_ms, updated_ms, expires_ms, owner"
LIVE = "(expires_ms IS NULL OR expires_ms > ?)"

#: The statements the store runs, as raw runs them.
SELECT_LIVE = (
    "SELECT data, version, created_ms, updated_ms, expires_ms, owner FROM sessions "
    f"WHERE id = ? AND {LIVE}"
)
INSERT = f"INSERT INTO sessions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) {ON_ID_CONFLICT_REPLACE}"
REWRITE = "UPDATE sessions SET data = ?, version = ?, updated_ms = ? WHERE id = ?"
TOUCH = "UPDATE sessions SET expires_ms = ? WHERE id = ?"
DELETE = "DELETE FROM sessions WHERE id = ?"

Op = Callable[[str], Awaitable[Any]]
Impl = tuple[dict[str, Op], Callable[[], Awaitable[None]], Path]  # ops, close, file


def payload(size: int) -> dict[str, Any]:
    """A session whose JSON is exactly ``size`` bytes: a user, a cart, flags, then
    padding in a notes string (at 200 B, just the user and the padding)."""
    data: dict[str, Any] = {"user": {"id": 12345, "name": "Ada Lovelace"}, "n": 0}
    if size >= 1024:
        data["cart"] = [{"sku": f"SKU-{i:04d}", "qty": i % 3 + 1} for i in range(8)]
        data["flags"] = {"beta": True, "theme": "dark", "locale": "en-GB"}
    data["notes"] = ""
    data["notes"] = "x" * (size - len(orjson.dumps(data)))
    assert len(orjson.dumps(data)) == size
    return data


def bump(data: dict[str, Any]) -> dict[str, Any]:
    data["n"] += 1
    return data


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def load_before(rev: str) -> type[SQLiteStore]:
    """SQLiteStore as it was at ``rev``: its sqlite.py, loaded as a module of today's
    package (its relative imports find today's modules, unchanged by issue 15)."""
    source = subprocess.run(
        ["git", "show", f"{rev}:reference/sessionstore/backends/sqlite.py"],
        cwd=HERE,
        check=True,
        capture_output=True,
    ).stdout
    store: type[SQLiteStore] = load_store(source, "before").SQLiteStore
    return store


def load_unchecked() -> type[SQLiteStore]:
    """Today's SQLiteStore with the contract's write validation (encode_data: exact
    types, finite floats, depth; VAL-2..VAL-4) replaced by a bare orjson.dumps and the
    size check: not a correct store, the measure of what that validation costs."""
    source = Path(sys.modules[SQLiteStore.__module__].__file__ or "").read_bytes()
    module = load_store(source, "unchecked")

    def encode(data: Any, limits: Any) -> bytes:
        encoded = orjson.dumps(data)
        assert len(encoded) <= limits.max_data_bytes
        return encoded

    vars(module)["encode_data"] = encode  # the name sqlite.py calls, in this copy only
    store: type[SQLiteStore] = module.SQLiteStore
    return store


def load_store(source: bytes, label: str) -> ModuleType:
    """A copy of sqlite.py from ``source``, as a module of today's package."""
    path = Path(tempfile.mkdtemp(prefix=f"bench-{label}-")) / f"sqlite_{label}.py"
    path.write_bytes(source)
    name = f"sessionstore.backends._sqlite_{label}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def store_class(kind: str, before: str | None) -> type[SQLiteStore]:
    """The store class an implementation's name stands for (procs' workers)."""
    if kind == "before" and before:
        return load_before(before)
    return load_unchecked() if kind == "unchecked" else SQLiteStore


def raw_connect(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection configured as the store configures its own."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    return conn


def raw_schema(conn: sqlite3.Connection) -> None:
    """Today's schema, built by the store's own migration steps."""
    conn.execute("BEGIN IMMEDIATE")
    for step in range(1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[step]:
            conn.execute(statement.format(table="sessions"))
    conn.execute("COMMIT")


# --- implementations ------------------------------------------------------------------------


async def make_raw(directory: Path, data: dict[str, Any]) -> Impl:
    path = directory / "raw.db"
    conn = raw_connect(path)
    raw_schema(conn)
    db = conn.cursor()
    execute, dumps, loads = db.execute, orjson.dumps, orjson.loads
    select, insert, rewrite = SELECT_LIVE, INSERT, REWRITE

    async def create(sid: str) -> None:
        encoded = dumps(data)
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        assert execute(select, (sid, now)).fetchone() is None
        execute(insert, (sid, encoded, 1, now, now, now + TTL_S * 1000, None))
        execute("COMMIT")

    async def get(sid: str) -> Any:
        return loads(execute(select, (sid, now_ms())).fetchone()[0])

    async def replace(sid: str) -> None:
        encoded = dumps(data)
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        row = execute(select, (sid, now)).fetchone()
        execute(rewrite, (encoded, row[1] + 1, now, sid))
        execute("COMMIT")

    async def update(sid: str) -> None:
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        row = execute(select, (sid, now)).fetchone()
        execute(rewrite, (dumps(bump(loads(row[0]))), row[1] + 1, now, sid))
        execute("COMMIT")

    async def touch(sid: str) -> None:
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        loads(execute(select, (sid, now)).fetchone()[0])
        execute(TOUCH, (now + TTL_S * 1000, sid))
        execute("COMMIT")

    async def delete(sid: str) -> None:
        execute("BEGIN IMMEDIATE")
        assert execute(select, (sid, now_ms())).fetchone() is not None
        execute(DELETE, (sid,))
        execute("COMMIT")

    async def close() -> None:
        conn.close()

    ops = {"create": create, "get": get, "replace": replace, "update": update}
    return {**ops, "touch": touch, "delete": delete}, close, path


def floor_update(execute: Callable[..., sqlite3.Cursor], sid: str) -> Session:
    """The floor's update (make_floor), also run by the floor's worker processes."""
    check_id(sid)
    execute("BEGIN IMMEDIATE")
    now = now_ms()
    old, version, created, _, expires, owner = execute(SELECT_LIVE, (sid, now)).fetchone()
    encoded = encode_data(bump(decode_data(old, sid)))
    execute(REWRITE, (encoded, version + 1, now, sid))
    execute("COMMIT")
    return Session.from_json_ms(sid, encoded, version + 1, created, now, expires, owner)


async def make_floor(directory: Path, data: dict[str, Any]) -> Impl:
    """Raw's statements plus the work the contract asks of every store, each piece the
    cheapest this project has and nothing of the store's own design (no lock, no retry,
    no closed check; as ``floor`` in ``bench_floor.py``): the id checked (VAL-1), the
    ttl checked and converted (VAL-6), the data validated by ``encode_data`` (VAL-2..5),
    stored data decoded by ``decode_data`` (ERR-3), and a ``Session`` returned (REC-1).
    Where floor / raw exceeds a target, no store doing that work this way can meet it.
    Each operation is written out, as raw's are, so that the two differ only by that
    work (update is floor_update, which the floor's worker processes run too)."""
    path = directory / "floor.db"
    conn = raw_connect(path)
    raw_schema(conn)
    execute = conn.cursor().execute
    written = Session.from_json_ms
    select, insert, rewrite = SELECT_LIVE, INSERT, REWRITE  # locals, as raw's

    async def create(sid: str) -> Session:
        encoded = encode_data(data)
        check_id(sid)
        ttl_ms = ttl_to_ms(TTL_S)
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        assert execute(select, (sid, now)).fetchone() is None
        execute(insert, (sid, encoded, 1, now, now, now + ttl_ms, None))
        execute("COMMIT")
        return written(sid, encoded, 1, now, now, now + ttl_ms, None)

    async def get(sid: str) -> Session:
        check_id(sid)
        row = execute(select, (sid, now_ms())).fetchone()
        return Session.from_ms(sid, decode_data(row[0], sid), *row[1:])

    async def replace(sid: str) -> Session:
        check_id(sid)
        encoded = encode_data(data)
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        _, version, created, _, expires, owner = execute(select, (sid, now)).fetchone()
        execute(rewrite, (encoded, version + 1, now, sid))
        execute("COMMIT")
        return written(sid, encoded, version + 1, created, now, expires, owner)

    async def update(sid: str) -> Session:
        return floor_update(execute, sid)

    async def touch(sid: str) -> Session:
        check_id(sid)
        ttl_ms = ttl_to_ms(TTL_S)
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        old, version, created, updated, _, owner = execute(select, (sid, now)).fetchone()
        session = Session.from_ms(sid, decode_data(old, sid), version, created, updated,
                                  now + ttl_ms, owner)  # fmt: skip
        execute(TOUCH, (now + ttl_ms, sid))
        execute("COMMIT")
        return session

    async def delete(sid: str) -> bool:
        check_id(sid)
        execute("BEGIN IMMEDIATE")
        assert execute(select, (sid, now_ms())).fetchone() is not None
        execute(DELETE, (sid,))
        execute("COMMIT")
        return True

    async def close() -> None:
        conn.close()

    ops = {"create": create, "get": get, "replace": replace, "update": update}
    return {**ops, "touch": touch, "delete": delete}, close, path


def store_maker(kind: type[SQLiteStore], filename: str) -> Callable[..., Awaitable[Impl]]:
    async def make(directory: Path, data: dict[str, Any]) -> Impl:
        path = directory / filename
        store = await kind(path).open()

        # Each operation hands back the store's own coroutine: awaited inside one more,
        # ours would pay a coroutine (~0.3 µs a call) that raw does not.
        ops: dict[str, Op] = {
            "create": lambda sid: store.create(data, id=sid, ttl=TTL_S),
            "get": store.get,
            "replace": lambda sid: store.replace(sid, data),
            "update": lambda sid: store.update(sid, bump),
            "touch": lambda sid: store.touch(sid, TTL_S),
            "delete": store.delete,
        }
        return ops, store.close, path

    return make


async def make_diskcache(directory: Path, data: dict[str, Any]) -> Impl:
    import diskcache  # type: ignore[import-untyped]

    cache = diskcache.Cache(str(directory / "diskcache"))

    async def put(sid: str) -> None:
        cache.set(sid, orjson.dumps(data), expire=TTL_S)

    async def get(sid: str) -> Any:
        return orjson.loads(cache.get(sid))

    async def update(sid: str) -> None:  # get + set: not atomic
        cache.set(sid, orjson.dumps(bump(orjson.loads(cache.get(sid)))), expire=TTL_S)

    async def close() -> None:
        cache.close()

    ops: dict[str, Op] = {"create": put, "get": get, "update": update, "replace": put}
    return ops, close, directory / "diskcache" / "cache.db"


async def make_pykv(directory: Path, data: dict[str, Any]) -> Impl:
    from key_value.aio.stores.disk import DiskStore

    store = DiskStore(directory=directory / "pykv")
    await store.__aenter__()

    async def put(sid: str) -> None:
        await store.put(sid, data, ttl=TTL_S)

    async def get(sid: str) -> Any:
        return await store.get(sid)

    async def update(sid: str) -> None:  # get + put: not atomic
        found = await store.get(sid)
        assert found is not None
        await store.put(sid, bump(found), ttl=TTL_S)

    async def close() -> None:
        await store.__aexit__(None, None, None)

    ops: dict[str, Op] = {"create": put, "get": get, "update": update, "replace": put}
    return ops, close, directory / "pykv" / "cache.db"


# --- ops: point operations and size ---------------------------------------------------------


def file_size(path: Path) -> tuple[int, dict[str, int]]:
    """Bytes of the file after a checkpoint, and bytes per B-tree (dbstat)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, page_size = (
            conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size")
        )
        trees = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        return pages * page_size, trees
    finally:
        conn.close()


async def ops_round(
    impls: dict[str, Callable[..., Awaitable[Impl]]],
    data: dict[str, Any],
    ids: list[str],
    samples: dict[str, dict[str, list[int]]],
    sizes: dict[str, list[tuple[int, dict[str, int]]]],
) -> None:
    names = list(impls)
    order = ids[:]
    random.Random(len(ids)).shuffle(order)
    warm = [f"w{i}" for i in range(WARMUP)]
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        opened = {}
        empty = {}
        for name in names:
            (Path(tmp) / name).mkdir()
            opened[name] = await impls[name](Path(tmp) / name, data)
            empty[name] = file_size(opened[name][2])[0] if opened[name][2].exists() else 0
        try:
            for operation in OPERATIONS:
                runners = [n for n in names if operation in opened[n][0]]
                for name in runners:  # warm-up, on ids the measurement does not use
                    for sid in warm:
                        await opened[name][0][operation](sid)
                gc.collect()
                targets = ids if operation == "create" else order
                for c, first in enumerate(range(0, len(targets), CHUNK)):
                    block = targets[first : first + CHUNK]
                    for name in runners[c % len(runners) :] + runners[: c % len(runners)]:
                        op, out = opened[name][0][operation], samples[name][operation]
                        for sid in block:
                            start = clock()
                            await op(sid)
                            out.append(clock() - start)
                if operation == "get":  # every id read was created first
                    for name in runners:
                        assert await opened[name][0]["get"](ids[0]) is not None
                if operation == "create":
                    for name in names:
                        total, trees = file_size(opened[name][2])
                        sizes[name].append((total - empty[name], trees))
        finally:
            for name in names:
                await opened[name][1]()


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000


async def part_ops(
    impls: dict[str, Callable[..., Awaitable[Impl]]], sizes: list[int], n: int, rounds: int
) -> None:
    for size in sizes:
        count = n if size < 16384 else max(300, n // 4)
        data = payload(size)
        ids = [f"s{i:07d}x{size}" for i in range(count)]
        samples: dict[str, dict[str, list[int]]] = {k: {op: [] for op in OPERATIONS} for k in impls}
        stored: dict[str, list[tuple[int, dict[str, int]]]] = {k: [] for k in impls}
        started = time.perf_counter()
        for _ in range(rounds):
            await ops_round(impls, data, ids, samples, stored)
        took = time.perf_counter() - started
        print(f"\n### {size:,}-byte sessions: {count:,} per op x {rounds} rounds ({took:.0f} s)\n")
        print("| operation | implementation | p50 µs | p99 µs | p50 / raw |")
        print("| --- | --- | --- | --- | --- |")
        for operation in OPERATIONS:
            base = pct(samples["raw"][operation], 0.5)
            for name in impls:
                got = samples[name][operation]
                if got:
                    p50, p99 = pct(got, 0.5), pct(got, 0.99)
                    print(f"| {operation} | {name} | {p50:.1f} | {p99:.1f} | {p50 / base:.2f}x |")
        print(
            "\n| implementation | file bytes per session | / payload | per B-tree (bytes per session) |"
        )
        print("| --- | --- | --- | --- |")
        for name in impls:
            total, trees = stored[name][-1]
            rows = count + WARMUP  # the warm-up's sessions are in the file too
            per = total / rows
            parts = ", ".join(
                f"{tree} {b / rows:.0f}"
                for tree, b in sorted(trees.items(), key=lambda t: -t[1])
                if b / rows >= 1
            )
            print(f"| {name} | {per:,.0f} | {per / size:.2f}x | {parts} |")


async def part_size(kinds: dict[str, type[SQLiteStore]], sizes: list[int]) -> None:
    """File bytes per session across the range, through the stores' own create."""
    print("\n### file bytes per session / JSON payload, by payload size\n")
    print("| payload bytes | " + " | ".join(kinds) + " |")
    print("| --- |" + " --- |" * len(kinds))
    for size in sizes:
        data, n = payload(size), max(100, min(1000, 4_000_000 // size))
        cells = []
        for kind in kinds.values():
            with tempfile.TemporaryDirectory(prefix="bench-size-") as tmp:
                path = Path(tmp) / "size.db"
                async with await kind(path).open() as store:
                    empty = file_size(path)[0]
                    for i in range(n):
                        await store.create(data, id=f"s{i:07d}", ttl=TTL_S)
                cells.append(f"{(file_size(path)[0] - empty) / n / size:.2f}x")
        print(f"| {size:,} | " + " | ".join(cells) + " |", flush=True)


# --- scale: count and purge ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def loop_gaps() -> AsyncIterator[dict[str, float]]:
    """The longest gap (ms) between wake-ups of a task sleeping 1 ms on this loop, and
    the longest in which the loop's thread was *blocked*: the gap less the time it ran
    and the time it waited for a free core (Linux schedstat: run_delay). On a loaded
    machine the wall-clock gap is mostly waiting for a core, which no code can help; a
    long blocked stretch means a lock (the GIL, say) or I/O on the loop's thread.
    Also the longest CPU time the loop's thread ran between wake-ups, and the seconds."""
    stat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")

    def sample() -> tuple[float, float, float]:
        ran, waited, _ = stat.read_text().split()
        return time.perf_counter() * 1e3, int(ran) / 1e6, int(waited) / 1e6

    result = {"gap_ms": 0.0, "cpu_ms": 0.0, "blocked_ms": 0.0}
    running = True

    async def probe() -> None:
        last = sample()
        while running:
            await asyncio.sleep(0.001)
            now = sample()
            wall, ran, waited = (a - b for a, b in zip(now, last, strict=True))
            result["gap_ms"] = max(result["gap_ms"], wall)
            result["cpu_ms"] = max(result["cpu_ms"], ran)
            result["blocked_ms"] = max(result["blocked_ms"], wall - ran - waited)
            last = now

    gc.collect()
    task = asyncio.create_task(probe())
    await asyncio.sleep(0.005)
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start
        running = False
        await task


def bulk_fill(path: Path, n: int, t0: int, data: bytes) -> None:
    """n rows straight into the store's table (its triggers count them), one transaction:
    half never expire, half in a day, 1% of all in an hour (random ids)."""
    rng = random.Random(n)
    expiry = (
        [None] * (n // 2)
        + [t0 + 24 * HOUR_MS] * (n - n // 2 - n // 100)
        + [t0 + HOUR_MS] * (n // 100)
    )
    rng.shuffle(expiry)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f"INSERT INTO sessions ({COLUMNS}) VALUES (?, ?, 1, ?, ?, ?, NULL)",
        ((f"s{i:08d}", data, t0, t0, expiry[i]) for i in range(n)),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def part_scale(
    kinds: dict[str, type[SQLiteStore]], scales: list[int], migrate_max: int
) -> None:
    data = orjson.dumps(payload(1024))
    print("\n### count and purge at scale (1,024-byte sessions)\n")
    print(
        "| stored | implementation | count p50 ms (0 expired) | count p50 ms (1% expired) "
        "| raw count(*) live ms | purge 1%: s | loop gap, wall ms | loop ran, ms | loop blocked, ms "
        "| idle loop gap, wall ms | counts right |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    migrations: list[str] = []
    for n in scales:
        for name, kind in kinds.items():
            with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
                path = Path(tmp) / "scale.db"
                clock = FakeClock()
                t0 = clock.ms
                store = await kind(path, clock=clock).open()
                try:
                    bulk_fill(path, n, t0, data)
                    counts = []
                    for _ in range(7):
                        start = time.perf_counter()
                        got = await store.count()
                        counts.append((time.perf_counter() - start) * 1e3)
                    right = got == n
                    clock.set_ms(t0 + HOUR_MS)
                    unpurged = []
                    for _ in range(7):
                        start = time.perf_counter()
                        got = await store.count()
                        unpurged.append((time.perf_counter() - start) * 1e3)
                    right = right and got == n - n // 100
                    conn = raw_connect(path)
                    start = time.perf_counter()
                    conn.execute(
                        f"SELECT count(*) FROM sessions WHERE {LIVE}", (clock.ms,)
                    ).fetchone()
                    raw_ms = (time.perf_counter() - start) * 1e3
                    conn.close()
                    async with loop_gaps() as lag:
                        removed = await store.purge_expired()
                    async with loop_gaps() as idle:  # the machine's own gaps, as long again
                        await asyncio.sleep(lag["seconds"])
                    right = right and removed == n // 100 and await store.count() == n - n // 100
                finally:
                    await store.close()
                if name == "before" and n <= migrate_max:  # the old store's file: migrate it
                    migrations.append(await migrate(path, clock, n - n // 100))
            print(
                f"| {n:,} | {name} | {statistics.median(counts):.2f} | "
                f"{statistics.median(unpurged):.2f} | {raw_ms:.1f} | {lag['seconds']:.2f} | "
                f"{lag['gap_ms']:.1f} | {lag['cpu_ms']:.1f} | {lag['blocked_ms']:.1f} | "
                f"{idle['gap_ms']:.1f} | {right} |",
                flush=True,
            )
    if migrations:
        print("\n### opening the old store's file with today's: the migration\n")
        print(
            "| sessions | open s | loop gap, wall ms | loop ran, ms | loop blocked, ms "
            "| file MB before | after | after VACUUM | count right |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in migrations:
            print(row)


async def migrate(path: Path, clock: FakeClock, live: int) -> str:
    """Open a version-1 file with today's store; its table row (Markdown)."""
    before = file_size(path)[0] / 1e6
    async with loop_gaps() as lag:
        store = await SQLiteStore(path, clock=clock).open()
    try:
        right = await store.count() == live
    finally:
        await store.close()
    after = file_size(path)[0] / 1e6
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("VACUUM")
    conn.close()
    vacuumed = file_size(path)[0] / 1e6
    return (
        f"| {live:,} | {lag['seconds']:.1f} | {lag['gap_ms']:.1f} | {lag['cpu_ms']:.1f} | "
        f"{lag['blocked_ms']:.1f} | {before:,.0f} | {after:,.0f} | {vacuumed:,.0f} | {right} |"
    )


# --- procs: several processes updating one file ---------------------------------------------


IDS = [f"p{i:05d}" for i in range(1000)]


def ready_then_start() -> float:
    """Say ready (connected, imports done), then read the common start instant."""
    print("ready", flush=True)
    return float(sys.stdin.readline())


def worker(kind: str, path: str, seconds: float, before: str | None) -> int:
    """One process: updates for ``seconds`` from the common start; the number done."""
    rng = random.Random(os.getpid())
    done = 0
    if kind in ("raw", "floor"):
        conn = raw_connect(Path(path))
        execute = conn.cursor().execute
        select, rewrite = SELECT_LIVE, REWRITE
        start_at = ready_then_start()
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < start_at + seconds:
            sid = rng.choice(IDS)
            if kind == "raw":
                execute("BEGIN IMMEDIATE")
                now = now_ms()
                row = execute(select, (sid, now)).fetchone()
                execute(rewrite, (orjson.dumps(bump(orjson.loads(row[0]))), row[1] + 1, now, sid))
                execute("COMMIT")
            else:
                floor_update(execute, sid)
            done += 1
        conn.close()
        return done

    kind_cls = store_class(kind, before)

    async def run() -> int:
        count = 0
        async with await kind_cls(path).open() as store:
            start_at = ready_then_start()
            await asyncio.sleep(max(0.0, start_at - time.time()))
            while time.time() < start_at + seconds:
                await store.update(rng.choice(IDS), bump)
                count += 1
        return count

    return asyncio.run(run())


async def part_procs(
    kinds: list[str], procs: list[int], seconds: float, rounds: int, before: str | None
) -> None:
    data = payload(1024)
    results: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-procs-") as tmp:
        for p in procs:
            for r in range(rounds):
                for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
                    path = Path(tmp) / f"{kind}-{p}-{r}.db"
                    if kind in ("raw", "floor"):
                        conn = raw_connect(path)
                        raw_schema(conn)
                        now = now_ms()
                        conn.executemany(
                            f"INSERT INTO sessions ({COLUMNS}) VALUES (?, ?, 1, ?, ?, NULL, NULL)",
                            ((sid, orjson.dumps(data), now, now) for sid in IDS),
                        )
                        conn.close()
                    else:
                        async with await store_class(kind, before)(path).open() as store:
                            for sid in IDS:
                                await store.create(data, id=sid)
                    args = [kind, str(path), repr(seconds), before or ""]
                    children = [
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            __file__,
                            "--worker",
                            *args,
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                        )
                        for _ in range(p)
                    ]
                    for child in children:  # every one imported and connected
                        assert child.stdout is not None
                        assert await child.stdout.readline() == b"ready\n"
                    start_at = f"{time.time() + 0.05!r}\n".encode()
                    outs = [(await child.communicate(start_at))[0] for child in children]
                    total = sum(int(out) for out in outs)
                    results.setdefault((kind, p), []).append(total / seconds)
    print(
        f"\n### {'/'.join(map(str, procs))} processes updating one file ({seconds:g} s x {rounds} rounds)\n"
    )
    print("| processes | implementation | updates/s (median) | rounds | / raw |")
    print("| --- | --- | --- | --- | --- |")
    for p in procs:
        base = statistics.median(results[("raw", p)])
        for kind in kinds:
            got = results[(kind, p)]
            rate = statistics.median(got)
            listed = ", ".join(f"{x:,.0f}" for x in got)
            print(f"| {p} | {kind} | {rate:,.0f} | {listed} | {rate / base:.2f}x |")


# --- main -------------------------------------------------------------------------------------


def pkg_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


async def main(args: argparse.Namespace) -> None:
    before = load_before(args.before) if args.before else None
    kinds: dict[str, type[SQLiteStore]] = {"ours": SQLiteStore}
    impls: dict[str, Callable[..., Awaitable[Impl]]] = {
        "raw": make_raw,
        "ours": store_maker(SQLiteStore, "ours.db"),
    }
    if before is not None:
        kinds["before"] = before
        impls["before"] = store_maker(before, "before.db")
    procs = ["raw", *kinds]
    if args.unchecked:  # ops and procs only: size and scale do not depend on it
        impls["unchecked"] = store_maker(load_unchecked(), "unchecked.db")
        procs.append("unchecked")
    if args.floor:  # ops and procs only
        impls["floor"] = make_floor
        procs.append("floor")
    if args.peers:
        impls["diskcache"], impls["pykv-disk"] = make_diskcache, make_pykv
    load = os.getloadavg()
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, orjson "
        f"{orjson.__version__}; {os.cpu_count()} CPUs, load average {load[0]:.2f}; "
        f"before = {args.before or '-'}"
    )
    started = time.perf_counter()
    if "ops" in args.part:
        await part_ops(impls, args.sizes, args.n, args.rounds)
    if "size" in args.part:
        await part_size(kinds, args.size_sweep)
    if "scale" in args.part:
        await part_scale(kinds, args.scale, args.migrate_max)
    if "procs" in args.part:
        await part_procs(procs, args.procs, args.seconds, args.rounds, args.before)
    load = os.getloadavg()
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average {load[0]:.2f} at the end")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        kind, path, seconds, rev = sys.argv[2:6]
        print(worker(kind, path, float(seconds), rev or None))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", default=["ops", "size", "scale", "procs"])
    parser.add_argument("--before", help="git revision of the store to compare with")
    parser.add_argument("--peers", action="store_true", help="diskcache, py-key-value too")
    parser.add_argument(
        "--unchecked", action="store_true", help="ours without the write validation too"
    )
    parser.add_argument(
        "--floor", action="store_true", help="raw plus the contract's own work per call too"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1024, 4096, 65536])
    parser.add_argument(
        "--size-sweep",
        type=int,
        nargs="+",
        default=[1024, 1536, 2048, 2560, 3072, 3584, 4096, 6144, 8192, 16384, 32768, 65536],
    )
    parser.add_argument("--n", type=int, default=3000, help="sessions per op (a quarter at 64 KiB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--migrate-max", type=int, default=100_000, help="largest old file to migrate"
    )
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=3.0)
    asyncio.run(main(parser.parse_args()))
