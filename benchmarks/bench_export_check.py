"""CPU cost of the streamed export, to weigh EXPORT-3's parse of every stored session.

    PYTHONPATH=reference python benchmarks/bench_export_check.py memory:// sqlite:///x.db

Fills each store with 100,000 sessions of bench_memory.SESSION (807 bytes, ~70 values)
and writes its export to /dev/null five times; prints the best CPU time (process time:
steadier than the wall clock on a shared machine). Run it on two trees to compare.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from bench_memory import SESSION

from sessionstore import SessionStore, open_store
from sessionstore.transfer import write_export

N = 100_000
STAMP = "2030-01-01T00:00:00.000Z"


def batch(start: int, size: int) -> dict[str, Any]:
    sessions = [
        {"id": f"s{i:07d}", "data": SESSION, "version": 1, "created_at": STAMP,
         "updated_at": STAMP, "expires_at": None, "owner": None}
        for i in range(start, start + size)
    ]  # fmt: skip
    return {"format": "sessionstore-export", "format_version": 1, "exported_at": STAMP,
            "sessions": sessions}  # fmt: skip


async def best_export(store: SessionStore) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(5):
        with open(os.devnull, "wb") as out:  # noqa: ASYNC230 - /dev/null never blocks
            started = time.process_time()
            size = await write_export(store, out)
            times.append(time.process_time() - started)
    return min(times), size


async def main(urls: list[str]) -> None:
    for url in urls:
        async with open_store(url) as store:
            for start in range(0, N, 10_000):
                await store.import_(batch(start, 10_000))
            seconds, size = await best_export(store)
            print(
                f"{url}: {size / 1e6:.1f} MB in {seconds * 1000:.0f} ms CPU (best of 5), "
                f"{N / seconds:,.0f} sessions/s, {seconds / N * 1e6:.1f} us a session"
            )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["memory://"]))
