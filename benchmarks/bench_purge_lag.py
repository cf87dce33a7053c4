"""How long a purge of 1% of a large store holds the event loop (issue 15, item 3).

    python benchmarks/bench_purge_lag.py [--n 1000000] [--backend memory sqlite]

Fills a store with N small sessions by one import (1% of them expiring 5 s after the
benchmark's clock, the rest a day later), moves the injected clock past the first, and
runs ``purge_expired`` beside the probe of bench_loop_lag.py: the largest gap between
wake-ups of a task sleeping 1 ms, in wall-clock time and in the loop thread's CPU time
(the column to read on a shared machine), and the purge's duration. Then ``count``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench_loop_lag import BASE_MS, Clock, probed

from sessionstore import open_store
from sessionstore.export import format_ms


def document(n: int) -> bytes:
    """N sessions of a few bytes; every hundredth expires at BASE_MS + 5 s."""
    stamp = format_ms(BASE_MS - 1000)
    soon, later = format_ms(BASE_MS + 5_000), format_ms(BASE_MS + 86_400_000)
    lines = (
        f'{{"id":"s{i:07d}","data":{{"n":{i}}},"version":1,"created_at":"{stamp}",'
        f'"updated_at":"{stamp}","expires_at":"{soon if i % 100 == 0 else later}","owner":null}}'
        for i in range(n)
    )
    head = f'{{"format":"sessionstore-export","format_version":1,"exported_at":"{stamp}","sessions":[\n'
    return (head + ",\n".join(lines) + "\n]}").encode()


async def measure(backend: str, n: int, text: bytes, tmp: Path) -> None:
    clock = Clock()
    url = "memory://" if backend == "memory" else f"sqlite:///{tmp}/purge.db"
    async with open_store(url, clock=clock) as store:
        started = time.perf_counter()
        await store.import_(text)
        filled = time.perf_counter() - started
        clock.ms = BASE_MS + 10_000
        async with probed() as purge:
            removed = await store.purge_expired()
        async with probed() as count:
            left = await store.count()
    print(
        f"| {backend} | {n:,} | {filled:.1f} | {removed:,} | {purge['gap_ms']:.1f} "
        f"| {purge['cpu_ms']:.1f} | {purge['seconds'] * 1000:.0f} | {left:,} "
        f"| {count['cpu_ms']:.2f} |",
        flush=True,
    )


async def main(n: int, backends: list[str]) -> None:
    text = document(n)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{n:,} sessions, 1% expired; load average {load}")
    print(
        "| backend | sessions | fill (s) | purged | gap, wall (ms) | gap, loop CPU (ms) "
        "| purge (ms) | count | count, loop CPU (ms) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            await measure(backend, n, text, Path(tmp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--backend", nargs="+", default=["memory", "sqlite"])
    args = parser.parse_args()
    asyncio.run(main(args.n, args.backend))
