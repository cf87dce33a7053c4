"""What a call costs through the driver protocol, against the same store in-process.

    PYTHONPATH=reference:conformance python benchmarks/bench_driver.py [memory://] [N]

The same memory store is called directly and through ``exec:python -m
sessionstore_conformance.wire.serve URL`` (a server process; JSON lines over pipes),
one call at a time: ``get``, ``create`` and ``update`` (an ``incrementing`` transform)
on small sessions, N calls each (default 5,000) after a warm-up of 500. Prints the median
and 99th percentile per call, and the overhead (median through the protocol less median
in-process). Sequential calls measure latency; the kit's concurrency checks overlap them.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sessionstore import open_store
from sessionstore_conformance.clock import FakeClock
from sessionstore_conformance.wire.client import ExecTarget
from sessionstore_conformance.wire.transforms import incrementing

DATA = {"user": "ada", "cart": [1, 2, 3], "n": 0}
WARM = 500


async def timed(n: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    for i in range(WARM):
        await call(i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await call(WARM + i)
        samples.append(time.perf_counter() - start)
    return samples


async def measure(store: Any, n: int) -> dict[str, list[float]]:
    made = await store.create(DATA, id="hot")
    bump = incrementing("n")
    return {
        "get": await timed(n, lambda i: store.get(made.id)),
        "create": await timed(n, lambda i: store.create(DATA, id=f"s{i}")),
        "update": await timed(n, lambda i: store.update(made.id, bump)),
    }


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} us"


async def main(url: str, n: int) -> None:
    async with open_store(url, clock=FakeClock()) as store:
        local = await measure(store, n)
    target = ExecTarget(f"exec:{sys.executable} -m sessionstore_conformance.wire.serve {url}")
    remote_store = await target(clock=FakeClock())
    async with remote_store:
        remote = await measure(remote_store, n)
    target.stop_servers()
    print(f"{url}, {n} sequential calls each (after {WARM} warm-up calls)")
    print(f"{'op':8} {'in-process p50':>14} {'p99':>11} {'protocol p50':>13} {'p99':>11} "
          f"{'overhead p50':>13}")  # fmt: skip
    for op in local:
        lp50, rp50 = statistics.median(local[op]), statistics.median(remote[op])
        lp99 = statistics.quantiles(local[op], n=100)[98]
        rp99 = statistics.quantiles(remote[op], n=100)[98]
        print(f"{op:8} {us(lp50):>14} {us(lp99):>11} {us(rp50):>13} {us(rp99):>11} "
              f"{us(rp50 - lp50):>13}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1] if len(sys.argv) > 1 else "memory://",
             int(sys.argv[2]) if len(sys.argv) > 2 else 5000)
    )  # fmt: skip
