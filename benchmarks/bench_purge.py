"""purge_expired on the SQLite store: its cost follows the expired count, not the stored count.

    python benchmarks/bench_purge.py [--n 1000000] [--small-n 100000] [--zero-repeats 50]

For each size (--n, then --small-n) the script opens a fresh SQLiteStore with an injected
FakeClock and fills its table with that many ~1 KiB sessions (the SESSION dict of
bench_memory.py). Filling goes through a raw sqlite3 connection to the store's own file and
table, in ONE transaction (executemany of INSERT), because creating 1M sessions through the
API takes minutes; the rows are what ``create`` would write (version 1, created/updated at
the clock's time, expires_ms set). The WAL is then checkpointed (TRUNCATE), so no purge pays
for the bulk load.

Expiry is assigned to a random 1% of the rows (expires at T+1h), another random 10% (T+2h)
and the rest (T+1 day). Then, timing each ``await store.purge_expired()``:

1. clock at T: 0 expired, repeated --zero-repeats times (p50/p99);
2. clock at T+1h: 1% of the stored rows expired;
3. clock at T+2h: 10% of the originally stored rows expired (then 99% remain stored);
4. again 0 expired (p50/p99), after the deletions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from sessionstore.backends.sqlite import SQLiteStore
from sessionstore_conformance import FakeClock

SESSION: dict[str, Any] = {
    "user": {"id": 12345, "name": "Ada Lovelace", "roles": ["admin", "editor"]},
    "cart": [{"sku": f"SKU-{i:04d}", "qty": i % 3 + 1, "price": 9.99 + i} for i in range(12)],
    "flags": {"beta": True, "theme": "dark", "locale": "en-GB"},
    "history": [f"/page/{i}" for i in range(10)],
    "n": 0,
}
HOUR_MS = 3_600_000


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def bulk_fill(path: Path, table: str, n: int, t0: int) -> float:
    """Insert n rows straight into the store's table in one transaction; seconds taken."""
    rng = random.Random(n)
    order = list(range(n))
    rng.shuffle(order)
    one, ten = n // 100, n // 10
    group = [0] * n  # 0: expires at T+1 day, 1: at T+1h, 2: at T+2h
    for i in order[:one]:
        group[i] = 1
    for i in order[one : one + ten]:
        group[i] = 2
    expiry = {0: t0 + 24 * HOUR_MS, 1: t0 + HOUR_MS, 2: t0 + 2 * HOUR_MS}
    data = orjson.dumps(SESSION)
    start = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f'INSERT INTO "{table}" (id, data, version, created_ms, updated_ms, expires_ms, owner) '
        "VALUES (?, ?, 1, ?, ?, ?, NULL)",
        ((f"s{i:08d}", data, t0, t0, expiry[group[i]]) for i in range(n)),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    took = time.perf_counter() - start
    plan = conn.execute(
        f'EXPLAIN QUERY PLAN DELETE FROM "{table}" WHERE expires_ms <= ?', (t0,)
    ).fetchall()
    print(f"  purge query plan: {'; '.join(row[-1] for row in plan)}")
    conn.close()
    return took


async def timed_purge(store: SQLiteStore) -> tuple[int, float]:
    start = time.perf_counter()
    removed = await store.purge_expired()
    return removed, (time.perf_counter() - start) * 1e3


async def scenario(n: int, zero_repeats: int) -> list[tuple[str, int, int, str]]:
    """Rows of (step, stored before, removed, timing text)."""
    rows: list[tuple[str, int, int, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-purge-") as tmp:
        clock = FakeClock()
        t0 = clock.ms
        path = Path(tmp) / "purge.db"
        store = await SQLiteStore(path, clock=clock).open()
        try:
            built = bulk_fill(path, store.namespace, n, t0)
            size_mb = path.stat().st_size / 1e6
            print(
                f"  {n:,} rows bulk-inserted in {built:.1f} s ({size_mb:.0f} MB file)", flush=True
            )
            stored = n

            async def zeros(label: str) -> None:
                times = []
                for _ in range(zero_repeats):
                    removed, ms = await timed_purge(store)
                    assert removed == 0
                    times.append(ms)
                rows.append(
                    (label, stored, 0, f"p50 {pct(times, 0.5):.3f} / p99 {pct(times, 0.99):.3f}")
                )

            await zeros("0 expired (before)")
            for label, at in (("1% expired", HOUR_MS), ("10% expired", 2 * HOUR_MS)):
                clock.set_ms(t0 + at)
                rows_before = stored
                removed, ms = await timed_purge(store)
                stored -= removed
                rows.append((label, rows_before, removed, f"{ms:.1f}"))
            await zeros("0 expired (after)")
        finally:
            await store.close()
    return rows


async def main(sizes: list[int], zero_repeats: int) -> None:
    load_before = os.getloadavg()
    started = time.perf_counter()
    results = []
    for n in sizes:
        print(f"building {n:,} sessions ...", flush=True)
        results.append((n, await scenario(n, zero_repeats)))
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    print()
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}")
    print(
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / "
        f"{load_after[0]:.2f} after; {elapsed:.1f} s total"
    )
    print(f"purge_expired on SQLiteStore, {len(orjson.dumps(SESSION))}-byte sessions, milliseconds")
    header = f"{'stored':>10}  {'step':<20}{'rows before':>12}{'removed':>9}  time (ms)"
    print(header)
    print("-" * (len(header) + 12))
    for n, rows in results:
        for label, before, removed, text in rows:
            print(f"{n:>10,}  {label:<20}{before:>12,}{removed:>9,}  {text}")
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="sessions stored (large case)")
    parser.add_argument("--small-n", type=int, default=100_000, help="sessions stored (small)")
    parser.add_argument("--zero-repeats", type=int, default=50, help="repeats of 0-expired purge")
    args = parser.parse_args()
    asyncio.run(main([args.n, args.small_n], args.zero_repeats))
