"""SQLite store vs raw sqlite3, diskcache and py-key-value's DiskStore, in one run.

    python benchmarks/bench_sqlite.py [--n 10000] [--rounds 3] [--chunk 50]

Every implementation gets a fresh temporary directory per round, the same ids (visited in
the same shuffled order) and the same ~1 KiB JSON session (the SESSION dict of
bench_memory.py; 807 bytes as orjson). Within a round all implementations are open at once
and each operation runs on them interleaved, in blocks of --chunk ids with a rotating
first implementation, so that load from other processes on this shared machine lands on
all of them alike; each operation gets a warm-up of 500 ids not used in the measurement,
and the samples of all rounds are pooled. Prints p50/p99 per operation in microseconds and the
ratio of our store's p50 to the raw engine doing the same work.

Implementations ("engine" = what actually touches the file):

* raw+orjson  -- sqlite3 on a file like ours (WAL, synchronous=NORMAL, the store's cache and
                 mmap sizes, its table shape WITHOUT ROWID with the partial index on
                 expires_ms), data as orjson bytes, running the store's own statements (the
                 same columns and expiry predicate). The "same work" baseline: the store
                 itself uses orjson.
* raw-min+orjson -- the same file, but reading and writing only the data column, with no
                 expiry check: less work than a session store must do (for reference).
* raw+json    -- the same, with the standard library's json (for reference only).
* ours        -- SQLiteStore: await create/get/replace/update.
* diskcache   -- diskcache.Cache (its defaults: WAL, synchronous=NORMAL, 32 MiB cache,
                 64 MiB mmap), values stored
                 as orjson bytes (so it stores them as BLOBs, no pickling) and decoded on
                 get. Its update is get+set: NOT atomic.
* pykv-disk   -- py-key-value-aio's DiskStore (which wraps diskcache), async put/get; its
                 update is get+put: NOT atomic.

Operations: "create" = write a new id (raw/diskcache/pykv: INSERT OR REPLACE / set / put;
ours: create, which also checks no live session has that id); "get" = point read +
decode; "update" = read-modify-write incrementing data["n"] (raw: BEGIN IMMEDIATE,
SELECT, decode, modify, encode, UPDATE, COMMIT); "replace" = overwrite an existing id
(ours: replace, a read-modify-write that bumps the version; the others: the same put).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from sessionstore.backends.sqlite import SQLiteStore

SESSION: dict[str, Any] = {
    "user": {"id": 12345, "name": "Ada Lovelace", "roles": ["admin", "editor"]},
    "cart": [{"sku": f"SKU-{i:04d}", "qty": i % 3 + 1, "price": 9.99 + i} for i in range(12)],
    "flags": {"beta": True, "theme": "dark", "locale": "en-GB"},
    "history": [f"/page/{i}" for i in range(10)],
    "n": 0,
}
OPERATIONS = ("create", "get", "update", "replace")
WARMUP = 500
TTL_S = 3600

# The store's own schema (reference/sessionstore/backends/sqlite.py, MIGRATIONS[1]).
RAW_SCHEMA = [
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY NOT NULL,
        data BLOB NOT NULL,
        version INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        expires_ms INTEGER,
        owner TEXT
    ) WITHOUT ROWID""",
    "CREATE INDEX sessions__expires ON sessions (expires_ms) WHERE expires_ms IS NOT NULL",
]

Op = Callable[[str], Awaitable[Any]]
Samples = dict[str, dict[str, list[int]]]  # implementation -> operation -> ns samples


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def bump(data: dict[str, Any]) -> dict[str, Any]:
    data["n"] += 1
    return data


async def measure(ids: list[str], op: Op, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for session_id in ids:
        start = clock()
        await op(session_id)
        out.append(clock() - start)


# --- implementations: each returns (ops by name, close) -----------------------------------


async def make_raw(
    directory: Path, codec: str, statements: str = "store"
) -> tuple[dict[str, Op], Callable[[], Any]]:
    """sqlite3 with no store around it. ``statements="store"`` runs the store's own SQL
    (the same columns, the expiry predicate, the same UPDATE): the engine doing the same
    work. ``"minimal"`` reads and writes only the data column, with no expiry check."""
    dumps: Callable[[Any], Any]
    loads: Callable[[Any], Any]
    if codec == "orjson":
        dumps, loads = orjson.dumps, orjson.loads
    else:  # stdlib json, compact like orjson, stored as UTF-8 bytes
        encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
        dumps, loads = (lambda d: encoder.encode(d).encode()), json.loads
    conn = sqlite3.connect(directory / "raw.db", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")  # the store's defaults: 64 MiB cache, 256 MiB mmap
    conn.execute("PRAGMA mmap_size=268435456")
    for statement in RAW_SCHEMA:
        conn.execute(statement)
    execute = conn.execute
    store_sql = statements == "store"
    select = (
        "SELECT id, data, version, created_ms, updated_ms, expires_ms, owner FROM sessions "
        "WHERE id = ? AND (expires_ms IS NULL OR expires_ms > ?)"
        if store_sql
        else "SELECT data FROM sessions WHERE id = ?"
    )
    data_column = 1 if store_sql else 0

    def read(session_id: str, now: int) -> Any:
        return execute(select, (session_id, now) if store_sql else (session_id,)).fetchone()

    async def put(session_id: str) -> None:
        now = now_ms()
        execute(
            "INSERT OR REPLACE INTO sessions (id, data, version, created_ms, updated_ms, "
            "expires_ms, owner) VALUES (?, ?, 1, ?, ?, ?, NULL)",
            (session_id, dumps(SESSION), now, now, now + TTL_S * 1000),
        )

    async def get(session_id: str) -> Any:
        return loads(read(session_id, now_ms())[data_column])

    async def update(session_id: str) -> None:
        execute("BEGIN IMMEDIATE")
        now = now_ms()
        data = loads(read(session_id, now)[data_column])
        data["n"] += 1
        execute(
            "UPDATE sessions SET data = ?, version = version + 1, updated_ms = ? WHERE id = ?",
            (dumps(data), now, session_id),
        )
        execute("COMMIT")

    return {"create": put, "get": get, "update": update, "replace": put}, conn.close


async def make_ours(directory: Path) -> tuple[dict[str, Op], Callable[[], Any]]:
    store = await SQLiteStore(directory / "ours.db").open()

    async def create(session_id: str) -> Any:
        return await store.create(SESSION, id=session_id, ttl=TTL_S)

    async def get(session_id: str) -> Any:
        return await store.get(session_id)

    async def update(session_id: str) -> Any:
        return await store.update(session_id, bump)

    async def replace(session_id: str) -> Any:
        return await store.replace(session_id, SESSION)

    ops: dict[str, Op] = {"create": create, "get": get, "update": update, "replace": replace}
    return ops, store.close


async def make_diskcache(directory: Path) -> tuple[dict[str, Op], Callable[[], Any]]:
    import diskcache  # type: ignore[import-untyped]

    cache = diskcache.Cache(str(directory / "diskcache"))

    async def put(session_id: str) -> None:
        cache.set(session_id, orjson.dumps(SESSION), expire=TTL_S)

    async def get(session_id: str) -> Any:
        return orjson.loads(cache.get(session_id))

    async def update(session_id: str) -> None:  # get + set: not atomic
        data = orjson.loads(cache.get(session_id))
        data["n"] += 1
        cache.set(session_id, orjson.dumps(data), expire=TTL_S)

    return {"create": put, "get": get, "update": update, "replace": put}, cache.close


async def make_pykv(directory: Path) -> tuple[dict[str, Op], Callable[[], Any]]:
    from key_value.aio.stores.disk import DiskStore

    store = DiskStore(directory=directory / "pykv")
    await store.__aenter__()

    async def put(session_id: str) -> None:
        await store.put(session_id, SESSION, ttl=TTL_S)

    async def get(session_id: str) -> Any:
        return await store.get(session_id)

    async def update(session_id: str) -> None:  # get + put: not atomic
        data = await store.get(session_id)
        assert data is not None
        data["n"] += 1
        await store.put(session_id, data, ttl=TTL_S)

    async def close() -> None:
        await store.__aexit__(None, None, None)

    return {"create": put, "get": get, "update": update, "replace": put}, close


def available() -> dict[str, Callable[[Path], Awaitable[tuple[dict[str, Op], Any]]]]:
    impls: dict[str, Callable[[Path], Awaitable[tuple[dict[str, Op], Any]]]] = {
        "raw+orjson": lambda d: make_raw(d, "orjson"),
        "raw-min+orjson": lambda d: make_raw(d, "orjson", "minimal"),
        "raw+json": lambda d: make_raw(d, "json"),
        "ours": make_ours,
    }
    try:
        import diskcache  # noqa: F401

        impls["diskcache"] = make_diskcache
    except ImportError:
        print("diskcache not installed: skipped")
    try:
        from key_value.aio.stores.disk import DiskStore  # noqa: F401

        impls["pykv-disk"] = make_pykv
    except ImportError as exc:
        print(f"py-key-value-aio[disk] not importable ({exc}): skipped")
    return impls


async def run_round(
    impls: dict[str, Any], ids: list[str], order: list[str], samples: Samples, chunk: int
) -> None:
    """Open every implementation in its own fresh directory, then run each operation on all
    of them interleaved in chunks of ``chunk`` ids, rotating who goes first, so that load
    from other processes lands on every implementation alike."""
    names = list(impls)
    warm = [f"w{i}" for i in range(WARMUP)]
    clock = time.perf_counter_ns
    dirs = {name: tempfile.TemporaryDirectory(prefix=f"bench-{name}-") for name in names}
    opened = {name: await impls[name](Path(dirs[name].name)) for name in names}
    try:
        for operation in OPERATIONS:
            for name in names:  # warm-up, on ids the measured run does not use
                await measure(warm, opened[name][0][operation], [])
            gc.collect()
            targets = ids if operation == "create" else order
            for c, first in enumerate(range(0, len(targets), chunk)):
                block = targets[first : first + chunk]
                for name in names[c % len(names) :] + names[: c % len(names)]:
                    op, out = opened[name][0][operation], samples[name][operation]
                    for session_id in block:
                        start = clock()
                        await op(session_id)
                        out.append(clock() - start)
    finally:
        for name in names:
            result = opened[name][1]()
            if asyncio.iscoroutine(result):
                await result
            dirs[name].cleanup()


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000


async def main(n: int, rounds: int, chunk: int = 50) -> None:
    impls = available()
    ids = [f"s{i:07d}" for i in range(n)]
    order = ids[:]
    random.Random(42).shuffle(order)  # reads and writes of existing ids: random order
    samples: Samples = {name: {op: [] for op in OPERATIONS} for name in impls}
    names = list(impls)
    load_before = os.getloadavg()
    started = time.perf_counter()
    for _ in range(rounds):
        await run_round(impls, ids, order, samples, chunk)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()

    print()
    print(
        f"python {platform.python_version()} ({sys.implementation.name}), "
        f"sqlite {sqlite3.sqlite_version}, orjson {orjson.__version__}, "
        f"diskcache {pkg_version('diskcache')}, py-key-value-aio {pkg_version('py-key-value-aio')}"
    )
    print(
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / "
        f"{load_after[0]:.2f} after; {elapsed:.1f} s total"
    )
    size = len(orjson.dumps(SESSION))
    print(
        f"{n} ops x {rounds} rounds per cell ({n * rounds} samples), {size}-byte sessions, "
        f"microseconds; ratio = p50 / p50 of raw+orjson"
    )
    header = f"{'operation':<10}{'implementation':<16}{'p50':>9}{'p99':>9}{'p50 ratio':>11}"
    print(header)
    print("-" * len(header))
    for operation in OPERATIONS:
        base = pct(samples["raw+orjson"][operation], 0.5)
        for name in names:
            data = samples[name][operation]
            p50, p99 = pct(data, 0.5), pct(data, 0.99)
            print(f"{operation:<10}{name:<16}{p50:>9.1f}{p99:>9.1f}{p50 / base:>10.2f}x")
        print()


def pkg_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="operations per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="fresh-directory rounds")
    parser.add_argument("--chunk", type=int, default=50, help="ids per interleaved block")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds, args.chunk))
