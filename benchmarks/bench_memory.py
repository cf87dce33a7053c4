"""Memory store vs its raw engine (a dict holding orjson bytes), in the same run.

    python benchmarks/bench_memory.py [--n 20000]

Prints p50/p99 per operation in microseconds and the ratio to the raw engine doing the
same work (validate nothing, copy through orjson). ~1 KiB JSON sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from sessionstore.backends.memory import MemoryStore

SESSION: dict[str, Any] = {
    "user": {"id": 12345, "name": "Ada Lovelace", "roles": ["admin", "editor"]},
    "cart": [{"sku": f"SKU-{i:04d}", "qty": i % 3 + 1, "price": 9.99 + i} for i in range(12)],
    "flags": {"beta": True, "theme": "dark", "locale": "en-GB"},
    "history": [f"/page/{i}" for i in range(10)],
    "n": 0,
}


def percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


async def timed(n: int, op: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    for i in range(n, n + 1000):  # warm-up, on ids the measured run does not use
        await op(i)
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        await op(i)
        samples.append(time.perf_counter_ns() - start)
    return percentiles(samples)


async def main(n: int) -> None:
    store = MemoryStore()
    raw: dict[str, bytes] = {}
    ids = [f"s{i}" for i in range(n + 1000)]
    size = len(orjson.dumps(SESSION))

    async def raw_put(i: int) -> None:
        raw[ids[i]] = orjson.dumps(SESSION)

    async def raw_get(i: int) -> Any:
        return orjson.loads(raw[ids[i]])

    async def raw_update(i: int) -> None:
        data = orjson.loads(raw[ids[i]])
        data["n"] += 1
        raw[ids[i]] = orjson.dumps(data)

    def bump(data: dict[str, Any]) -> dict[str, Any]:
        data["n"] += 1
        return data

    async def ours_create(i: int) -> Any:
        return await store.create(SESSION, id=ids[i], ttl=3600)

    async def ours_get(i: int) -> Any:
        return await store.get(ids[i])

    async def ours_update(i: int) -> Any:
        return await store.update(ids[i], bump)

    async def ours_replace(i: int) -> Any:
        return await store.replace(ids[i], SESSION)

    async def ours_touch(i: int) -> Any:
        return await store.touch(ids[i], 3600)

    rows = [
        ("create / put", await timed(n, raw_put), await timed(n, ours_create)),
        ("get", await timed(n, raw_get), await timed(n, ours_get)),
        ("update", await timed(n, raw_update), await timed(n, ours_update)),
        ("replace", await timed(n, raw_put), await timed(n, ours_replace)),
        ("touch", None, await timed(n, ours_touch)),
    ]
    print(f"memory store vs dict+orjson, {n} ops each, {size}-byte sessions (microseconds)")
    print(
        f"{'operation':<14}{'raw p50':>9}{'raw p99':>9}{'ours p50':>10}{'ours p99':>10}{'p50 ratio':>11}"
    )
    for name, base, ours in rows:
        b50, b99 = base if base else (float("nan"), float("nan"))
        ratio = ours[0] / b50 if base else float("nan")
        print(f"{name:<14}{b50:>9.2f}{b99:>9.2f}{ours[0]:>10.2f}{ours[1]:>10.2f}{ratio:>10.1f}x")
    purge = MemoryStore()
    for i in range(100_000):
        await purge.create(id=f"p{i}", ttl=3600 if i % 100 else 0.001)
    await asyncio.sleep(0.002)
    start = time.perf_counter()
    removed = await purge.purge_expired()
    print(
        f"purge_expired: {removed} expired of 100,000 in {(time.perf_counter() - start) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="operations per measurement")
    asyncio.run(main(parser.parse_args().n))
