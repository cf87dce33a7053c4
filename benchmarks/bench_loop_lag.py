"""How long each store, service and transfer call holds the event loop (issue 12, item 3).

    python benchmarks/bench_loop_lag.py [--n 100000] [--backend memory sqlite redis] [--freeze]

A probe task sleeps 1 ms at a time and records the largest gap between its wake-ups
while one operation runs on the same loop: the longest stretch in which no other task
(say, a server's request handler) could run. For each backend, on N sessions of about
700 bytes (all live, half without expiry), it prints that gap and the operation's
duration for:

* ``import_file``, ``import_file(replace)`` (into a store that holds every id already),
  ``import_(bytes)`` and ``SessionService.restore`` (start on an empty store);
* ``export()`` (the whole document), ``write_export`` (streamed, EXPORT-2) and
  ``SessionService.backup``;
* ``purge_expired`` of N expired sessions (the injected clock moved past them);
* ``count``, ``list(limit=1000)`` and ``stats``.

It also prints the longest pause of CPython's garbage collector during the operation,
and the largest gap less the collections in it: a full collection walks every tracked
object in the process at once, so an operation that makes millions of them
(``export()`` returns 100,000 decoded sessions) triggers pauses no store can cut into
pieces. The table is Markdown, for docs/event-loop.md.

Redis runs on a throwaway redis-server (tests/redis_server.py). The goal is a gap under
20 ms everywhere; the gap includes the probe's own 1 ms sleep and any pause of the
machine, so a loaded machine reads higher.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from redis_server import running

from sessionstore import open_store
from sessionstore.contract import SessionStore
from sessionstore.export import format_ms
from sessionstore.service import SessionService
from sessionstore.transfer import import_file, write_export

BASE_MS = 1_893_456_000_000  # 2030-01-01
#: About 700 bytes of JSON.
SESSION: dict[str, Any] = {
    "user": {"id": 12345, "name": "Ada Lovelace", "roles": ["admin", "editor"]},
    "cart": [{"sku": f"SKU-{i:04d}", "qty": i % 3 + 1, "price": 9.99 + i} for i in range(8)],
    "flags": {"beta": True, "theme": "dark", "locale": "en-GB"},
    "history": [f"/page/{i}" for i in range(6)],
}


class Clock:
    """An injected clock the benchmark moves (purge needs sessions to expire)."""

    def __init__(self) -> None:
        self.ms = BASE_MS

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.ms / 1000, timezone.utc)


def export_text(n: int, expires_ms: int | None = None) -> bytes:
    """An export document of ``n`` sessions, a record per line (the canonical layout)."""
    data = orjson.dumps(SESSION).decode()
    lines = []
    for i in range(n):
        expires = expires_ms if expires_ms is not None else None if i % 2 else BASE_MS + 10**12
        stamp = "null" if expires is None else f'"{format_ms(expires)}"'
        lines.append(
            f'{{"id":"s{i:07d}","data":{data},"version":{1 + i % 7},'
            f'"created_at":"{format_ms(BASE_MS - 1000)}","updated_at":"{format_ms(BASE_MS - 500)}",'
            f'"expires_at":{stamp},"owner":null}}'
        )
    head = f'{{"format":"sessionstore-export","format_version":1,"exported_at":"{format_ms(BASE_MS)}","sessions":[\n'
    return (head + ",\n".join(lines) + "\n]}").encode()


class Collections:
    """The longest pause of CPython's cyclic garbage collector (gc.callbacks): a full
    collection walks every tracked object of the process in one piece. Also the CPU time
    of the collections run on the loop's thread, so the probe can tell the code's own
    stretches from the collector's."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.loop_cpu = 0.0
        self._start = self._start_cpu = 0.0
        self._loop = threading.get_ident()
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        now, now_cpu = time.perf_counter(), time.thread_time()
        if phase == "start":
            self._start, self._start_cpu = now, now_cpu
            return
        self.longest = max(self.longest, now - self._start)
        if threading.get_ident() == self._loop:
            self.loop_cpu += now_cpu - self._start_cpu


COLLECTIONS = Collections()


@contextlib.asynccontextmanager
async def probed() -> AsyncIterator[dict[str, float]]:
    """The largest gap (ms) between wake-ups of a task sleeping 1 ms — in wall-clock time,
    in CPU time of the loop's thread, and in that CPU time less the garbage collector's —
    the longest GC pause, and the seconds the body took, in the dict yielded (filled in on
    exit). The CPU gap leaves out the time the process waited for a core: on a shared
    machine it is the one that says how long the loop was held; the last gap is how long
    the code itself held it."""
    result: dict[str, float] = {}
    running_ = True
    wall = cpu = own = 0.0

    async def probe() -> None:
        nonlocal wall, cpu, own
        last, last_cpu, last_gc = time.perf_counter(), time.thread_time(), COLLECTIONS.loop_cpu
        while running_:
            await asyncio.sleep(0.001)
            now, now_cpu, now_gc = time.perf_counter(), time.thread_time(), COLLECTIONS.loop_cpu
            wall, cpu = max(wall, now - last), max(cpu, now_cpu - last_cpu)
            own = max(own, now_cpu - last_cpu - (now_gc - last_gc))
            last, last_cpu, last_gc = now, now_cpu, now_gc

    gc.collect()  # the garbage of earlier operations is not this one's pause
    task = asyncio.create_task(probe())
    await asyncio.sleep(0.005)  # the probe is running
    COLLECTIONS.longest = 0.0
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start
        running_ = False
        await task
        result["gap_ms"], result["cpu_ms"], result["own_ms"] = wall * 1000, cpu * 1000, own * 1000
        result["gc_ms"] = COLLECTIONS.longest * 1000


class Backend:
    """Fresh stores of one kind, all on the benchmark's clock."""

    def __init__(self, name: str, tmp: Path, redis_url: str | None) -> None:
        self.name, self.tmp, self.redis_url = name, tmp, redis_url
        self.clock = Clock()
        self._made = 0

    def store(self) -> contextlib.AbstractAsyncContextManager[SessionStore]:
        self._made += 1
        self.clock.ms = BASE_MS
        if self.name == "memory":
            url = "memory://"
        elif self.name == "sqlite":
            url = f"sqlite:///{self.tmp}/lag-{self._made}.db"
        else:
            url = f"{self.redis_url}?namespace=lag{self._made}"
        return open_store(url, clock=self.clock)


async def measure(backend: Backend, text: bytes, source: Path, expiring: Path) -> None:
    """Print the largest gap and the seconds of each operation on this backend."""

    async def run(label: str, store: SessionStore, work: Callable[[], Awaitable[Any]]) -> None:
        async with probed() as result:
            kept = await work()  # freed after the probe: freeing export()'s 100,000
        del kept  # decoded sessions takes 0.3 s, which is the caller's, not the store's
        cells = (result[k] for k in ("gap_ms", "cpu_ms", "own_ms", "gc_ms", "seconds"))
        print(f"| {backend.name} | {label} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")

    async with backend.store() as store:
        await run("import_file", store, lambda: import_file(store, source))
        await run(
            "import_file(replace)", store, lambda: import_file(store, source, on_conflict="replace")
        )
        await run("export()", store, store.export)
        with (backend.tmp / "out.json").open("wb") as out:
            await run("write_export", store, lambda: write_export(store, out))
        service = SessionService(store, backup_path=backend.tmp / f"{backend.name}.backup.json")
        await run("service.backup", store, service.backup)
        await run("count", store, store.count)
        await run("list(limit=1000)", store, lambda: store.list(limit=1000))
        await run("stats", store, store.stats)  # type: ignore[attr-defined]
    async with backend.store() as store:
        await run("import_(bytes)", store, lambda: store.import_(text))
    async with backend.store() as store:
        service = SessionService(store, backup_path=backend.tmp / f"{backend.name}.backup.json")
        await run("service.restore", store, service.restore)
    async with backend.store() as store:
        await import_file(store, expiring)
        backend.clock.ms = BASE_MS + 10_000
        await run("purge_expired", store, store.purge_expired)


async def main(n: int, backends: list[str], freeze: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp_name, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        source, expiring = tmp / "export.json", tmp / "expiring.json"
        text = export_text(n)
        source.write_bytes(text)
        expiring.write_bytes(export_text(n, expires_ms=BASE_MS + 5_000))
        redis_url = stack.enter_context(running()).url if "redis" in backends else None
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{n:,} sessions, {len(text) / 1e6:.0f} MB of JSON; load average {load}")
        if freeze:  # what a server can do once started: its heap is then never walked
            gc.collect()
            gc.freeze()
            print(f"gc.freeze(): {gc.get_freeze_count():,} objects frozen")
        print(
            "| backend | operation | gap, wall (ms) | gap, loop CPU (ms) "
            "| gap, loop CPU outside GC (ms) | GC pause (ms) | s |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
        for name in backends:
            await measure(Backend(name, tmp, redis_url), text, source, expiring)


print = functools.partial(print, flush=True)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--backend", nargs="+", default=["memory", "sqlite", "redis"])
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="gc.freeze() the process's objects before measuring, as a server may after "
        "start-up: full collections then walk only what was made since",
    )
    args = parser.parse_args()
    asyncio.run(main(args.n, args.backend, args.freeze))
