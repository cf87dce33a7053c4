"""Streamed export and import of many sessions, against orjson and the stores' own writes.

    python benchmarks/bench_transfer.py [--n 100000] [--repeat 3] [--backend memory]

For each reference backend, on N ~800-byte sessions (distinct timestamps, half expiring),
each operation in a fresh process, --repeat times (the best time counts, and the largest
peak):

* **import**: ``transfer.import_file`` (``import_chunks``, IMPORT-7) of an export file
  into an empty store. The target (issue #5) is orjson encoding the same data plus the
  store's own writes of it: ``orjson.dumps`` of the document + N ``create`` calls;
* **export**: ``transfer.write_export`` (``export_chunks``, EXPORT-2) into a file, against
  ``orjson.dumps`` of the document + the store's own reads of it (``list`` pages of 1,000).

For reference, a stricter floor too: the raw engine alone (orjson decoding each record plus
the memory: dict inserts / SQLite: one ``executemany`` INSERT transaction into the store's
table shape, WAL, synchronous=NORMAL; export: orjson.dumps plus a raw SELECT of every row),
which does no validation at all.

Each line also gives the peak resident memory the operation added: Linux's high-water mark
(VmHWM, reset through /proc/self/clear_refs before the operation) minus the resident
memory at its start. It counts every allocation, orjson's and SQLite's included.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from bench_memory import SESSION

from sessionstore import open_store
from sessionstore.backends._sqlite_schema import COLUMNS, MIGRATIONS, PAGE_SIZE
from sessionstore.export import format_ms
from sessionstore.transfer import import_file, write_export

BASE_MS = 1_893_456_000_000  # 2030-01-01


def memory_kib() -> dict[str, int]:
    with open("/proc/self/status") as status:
        fields = (line.split(":", 1) for line in status)
        return {k: int(v.split()[0]) for k, v in fields if k in ("VmRSS", "VmHWM")}


def measure(work: Callable[[], Any]) -> tuple[float, float]:
    """Seconds, and MB of peak resident memory added, of ``work()``."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the high-water mark to the current resident size
    start_rss = memory_kib()["VmRSS"]
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    return seconds, (memory_kib()["VmHWM"] - start_rss) / 1024


def rows(n: int) -> list[tuple[Any, ...]]:
    data = orjson.dumps(SESSION)
    return [
        (f"s{i:07d}", data, 1 + i % 7, BASE_MS + i, BASE_MS + i + 500, None if i % 2 else BASE_MS + 10**12, None)
        for i in range(n)
    ]  # fmt: skip


def document(table: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": format_ms(BASE_MS),
        "sessions": [
            {"id": i, "data": SESSION, "version": v, "created_at": format_ms(c),
             "updated_at": format_ms(u), "expires_at": None if e is None else format_ms(e), "owner": o}
            for i, _, v, c, u, e, o in table
        ],
    }  # fmt: skip


def raw_sqlite_writes(path: Path, table: list[tuple[Any, ...]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for version in sorted(MIGRATIONS):  # the store's own schema, built as it builds it
        for statement in MIGRATIONS[version]:
            conn.execute(statement.format(table="s"))
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO s ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", table)
    conn.execute("COMMIT")
    conn.close()


def raw_sqlite_reads(path: Path) -> None:
    conn = sqlite3.connect(path)
    cursor = conn.execute("SELECT * FROM s ORDER BY id")
    while cursor.fetchmany(1000):
        pass
    conn.close()


def main(n: int, repeat: int, backends: list[str]) -> None:
    table = rows(n)
    doc: Any = document(table)
    dumps = measure(lambda: orjson.dumps(doc))[0]
    text = orjson.dumps(doc)
    doc = None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "export.json"
        asyncio.run(_write_canonical(text, source))
        records = [line.rstrip(b",") for line in source.read_bytes().split(b"\n")[1:-1]]
        loads = measure(lambda: _each(orjson.loads, records))[0]
        print(f"{n:,} sessions, {source.stat().st_size / 1e6:.0f} MB of JSON")
        print(f"orjson.dumps of the document {dumps:.2f} s, orjson.loads per record {loads:.2f} s")
        raw = {
            ("memory", "import"): loads + measure(lambda: _each(_dict_insert({}), table))[0],
            ("sqlite", "import"): loads + measure(lambda: raw_sqlite_writes(Path(tmp) / "raw.db", table))[0],
            ("memory", "export"): dumps,
            ("sqlite", "export"): dumps + measure(lambda: raw_sqlite_reads(Path(tmp) / "raw.db"))[0],
        }  # fmt: skip
        print(
            f"{'':<15}{'seconds':>8}{'peak MB':>8}  {'target: orjson + the store':>27}"
            f"  {'floor: orjson + raw engine':>27}"
        )
        for name in backends:
            for operation, own in (("import", "creates"), ("export", "reads")):
                runs = [_measured(name, operation, Path(tmp), source, n) for _ in range(repeat)]
                seconds, peak = min(s for s, _ in runs), max(p for _, p in runs)
                target = dumps + min(
                    _measured(name, own, Path(tmp), source, n)[0] for _ in range(repeat)
                )
                floor = raw[name, operation]
                print(
                    f"{name + ' ' + operation:<15}{seconds:>8.2f}{peak:>8.0f}  "
                    f"{target:>8.2f} s ({own:<7}) {seconds / target:>5.2f}x  "
                    f"{floor:>12.2f} s {seconds / floor:>9.2f}x"
                )


def _each(fn: Callable[[Any], Any], items: Any) -> None:
    for item in items:
        fn(item)


def _dict_insert(index: dict[str, Any]) -> Callable[[tuple[Any, ...]], None]:
    return lambda row: index.__setitem__(row[0], row)


async def _write_canonical(text: bytes, path: Path) -> None:
    """The export file as export_chunks writes it (a record per line)."""
    async with open_store("memory://") as store:
        await store.import_(text)
        with path.open("wb") as out:
            await write_export(store, out)


_RUNS = itertools.count()  # a fresh SQLite file for every run
SQLITE_QUERY = ""  # URL options of the SQLite store, e.g. "?cache_mb=8"


def _measured(name: str, operation: str, tmp: Path, source: Path, n: int) -> tuple[float, float]:
    url = (
        "memory://"
        if name == "memory"
        else f"sqlite:///{tmp}/{operation}-{next(_RUNS)}.db{SQLITE_QUERY}"
    )
    return _in_child(operation, url, source, tmp / f"{name}.json", n)


def _in_child(operation: str, url: str, source: Path, target: Path, n: int) -> tuple[float, float]:
    """Run one measured operation in a fresh process: memory freed by the setup here
    would otherwise be reused, and hide the operation's peak."""
    args = [sys.executable, __file__, "--child", operation, url, str(source), str(target), str(n)]
    found = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    seconds, peak = json.loads(found)
    return seconds, peak


async def _child(operation: str, url: str, source: Path, target: Path, n: int) -> None:
    """In the child: one measured operation on a store ("export" and "reads" import the
    file first, unmeasured)."""
    async with open_store(url) as store:
        loop = asyncio.get_running_loop()

        def run(work: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
            return lambda: asyncio.run_coroutine_threadsafe(work(), loop).result()

        async def export() -> None:
            with target.open("wb") as out:
                await write_export(store, out)

        async def creates() -> None:  # the same sessions, written one call at a time
            for i in range(n):
                await store.create(SESSION, id=f"s{i:07d}", ttl=None if i % 2 else 10**8)

        async def reads() -> None:  # every session, read page by page
            cursor = None
            while True:
                page = await store.list(cursor=cursor, limit=1000)
                if (cursor := page.cursor) is None:
                    return

        if operation in ("export", "reads"):
            await import_file(store, source)
        work = {"import": lambda: import_file(store, source), "export": export,
                "creates": creates, "reads": reads}[operation]  # fmt: skip
        print(json.dumps(await loop.run_in_executor(None, measure, run(work))))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="fresh processes per cell; the best time counts"
    )
    parser.add_argument(
        "--backend", action="append", choices=["memory", "sqlite"], help="default: both"
    )
    parser.add_argument(
        "--sqlite-options", default="", help='the SQLite URL\'s query, e.g. "cache_mb=8&mmap_mb=0"'
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    options = parser.parse_args()
    SQLITE_QUERY = f"?{options.sqlite_options}" if options.sqlite_options else ""
    if options.child:
        operation, url, source, target, count = options.child
        asyncio.run(_child(operation, url, Path(source), Path(target), int(count)))
    else:
        main(options.n, options.repeat, options.backend or ["memory", "sqlite"])
