"""The three reference stores side by side, per operation, in one run: the figures of the
backend comparison in the documentation (docs/backends.md renders the JSON this writes).

    python tests/redis_server.py -- python benchmarks/bench_backends.py \\
        --redis '{REDIS_URL}' --out docs/benchmarks/backends.json

One client, one call at a time (latency, not throughput): memory, SQLite on a temporary
file (the store's defaults: WAL, synchronous=NORMAL) and Redis over loopback. Each round
opens the three stores afresh and runs every operation on all three, the backends taking
turns in blocks of --chunk calls with a rotating first one, so that load from other
processes on a shared machine lands on all of them alike; samples of all rounds are
pooled. Sessions are the ~1 KiB JSON dict of bench_memory.py. ``list`` reads pages of
100 of the --n sessions; ``count`` counts all of them (fewer calls: it costs more).

The JSON holds the command, the date, the machine (CPU count, Python, SQLite and Redis
versions), and per backend and operation the number of samples and p50/p99 in
microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_memory import SESSION

from sessionstore import SessionStore, open_store

BACKENDS = ("memory", "sqlite", "redis")
#: Operation -> (calls per round as a fraction of --n, how one call is made on session i)
Op = Callable[[SessionStore, list[str], int], Awaitable[Any]]


def _bump(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "n": data["n"] + 1}


OPERATIONS: dict[str, tuple[float, Op]] = {
    "create": (1.0, lambda s, ids, i: s.create(SESSION, id=ids[i], ttl=3600)),
    "get": (1.0, lambda s, ids, i: s.get(ids[i])),
    "replace": (1.0, lambda s, ids, i: s.replace(ids[i], SESSION)),
    "update": (1.0, lambda s, ids, i: s.update(ids[i], _bump)),
    "touch": (1.0, lambda s, ids, i: s.touch(ids[i], 3600)),
    "list": (0.1, lambda s, ids, i: s.list(limit=100)),
    "count": (0.02, lambda s, ids, i: s.count()),
    "delete": (1.0, lambda s, ids, i: s.delete(ids[i])),
}


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def one_round(
    stores: dict[str, SessionStore], n: int, chunk: int, samples: dict[str, dict[str, list[int]]]
) -> None:
    ids = [f"bench-{i:06d}" for i in range(n)]
    turn = 0
    for op, (share, call) in OPERATIONS.items():
        calls = max(1, int(n * share))
        for start in range(0, calls, chunk):
            order = BACKENDS[turn % 3 :] + BACKENDS[: turn % 3]
            turn += 1
            for backend in order:
                store, into = stores[backend], samples[backend].setdefault(op, [])
                for i in range(start, min(calls, start + chunk)):
                    began = time.perf_counter_ns()
                    await call(store, ids, i)
                    into.append(time.perf_counter_ns() - began)


async def measure(n: int, rounds: int, chunk: int, redis_url: str) -> dict[str, Any]:
    samples: dict[str, dict[str, list[int]]] = {b: {} for b in BACKENDS}
    redis_version = ""
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            urls = {
                "memory": "memory://",
                "sqlite": f"sqlite:///{folder}/bench.db",
                "redis": f"{redis_url}?namespace=bench{os.getpid()}r{r}",
            }
            async with AsyncExitStack() as opened:
                stores = {
                    b: await opened.enter_async_context(open_store(urls[b])) for b in BACKENDS
                }
                redis_version = redis_version or await _redis_version(redis_url)
                await one_round(stores, n, chunk, samples)
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "redis": redis_version,
        },
        "results": {
            backend: {
                op: {
                    "samples": len(times),
                    "p50_us": round(percentile(times, 0.50), 1),
                    "p99_us": round(percentile(times, 0.99), 1),
                }
                for op, times in ops.items()
            }
            for backend, ops in samples.items()
        },
    }


async def _redis_version(url: str) -> str:
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        info = await client.info("server")
        return str(info["redis_version"])
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="sessions per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"), help="Redis URL")
    parser.add_argument("--out", help="write the JSON here (default: stdout)")
    args = parser.parse_args()
    if not args.redis:
        parser.error("--redis URL (or REDIS_URL) is required: run under tests/redis_server.py")
    result = {
        # as run: under the throwaway server, its URL written as the wrapper takes it
        "command": " ".join(
            ["python tests/redis_server.py -- python benchmarks/bench_backends.py"]
            + [arg.replace(args.redis, "'{REDIS_URL}'") for arg in sys.argv[1:]]
        ),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "n": args.n,
        "rounds": args.rounds,
        **asyncio.run(measure(args.n, args.rounds, args.chunk, args.redis)),
    }
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
