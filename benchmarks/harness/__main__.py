"""``python -m benchmarks.harness``: parse the options, run every cell, report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __doc__ as USAGE
from .ours import OursMemory, OursRedis, OursSQLite
from .peers import DiskCachePeer, KeyValueDiskPeer, KeyValueMemoryPeer, TTLCachePeer
from .raw_memory import RawMemory
from .raw_redis import RawRedis
from .raw_sqlite import RawSQLite
from .report import plots, ratio_rows, result_rows, scaling_rows, tables
from .runner import ROUNDS, WARMUP, Cell, run_cell
from .subject import Subject

ROOT = Path(__file__).resolve().parents[2]
#: Every subject, by name: a factory given the Redis URL (None without a server).
SUBJECTS: dict[str, Callable[[str], Subject]] = {
    "ours:memory": lambda url: OursMemory(),
    "raw:memory": lambda url: RawMemory(),
    "peer:cachetools": lambda url: TTLCachePeer(),
    "peer:kv-memory": lambda url: KeyValueMemoryPeer(),
    "ours:sqlite": lambda url: OursSQLite(),
    "raw:sqlite": lambda url: RawSQLite(),
    "peer:diskcache": lambda url: DiskCachePeer(),
    "peer:kv-disk": lambda url: KeyValueDiskPeer(),
    "ours:redis": lambda url: OursRedis(f"{url}/0"),
    "raw:redis": lambda url: RawRedis(f"{url}/1"),
}
DISTRIBUTIONS = ("sessionstore", "orjson", "redis", "cachetools", "diskcache", "py-key-value-aio")


def _ints(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.harness",
        description=USAGE.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: small sizes and payloads, few samples"
    )
    parser.add_argument(
        "--sizes", type=_ints, help="store sizes, e.g. 1e3,1e4,1e5,1e6 (default 1e3,1e4,1e5)"
    )
    parser.add_argument(
        "--payloads", type=_ints, help="payload bytes (default 200,1024,4096,65536)"
    )
    parser.add_argument("--subjects", help=f"comma-separated, of: {', '.join(SUBJECTS)}")
    parser.add_argument("--samples", type=int, help="timed calls per op and subject (default 200)")
    parser.add_argument(
        "--max-bytes", type=int, default=64 << 20, help="skip cells above sessions x payload bytes"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--plot-from", type=Path, metavar="BENCH_JSON", help="only draw the plots of a saved run"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = args.sizes or ([1000, 5000] if quick else [1000, 10_000, 100_000])
    args.payloads = args.payloads or ([200, 1024] if quick else [200, 1024, 4096, 65536])
    args.samples = args.samples or (60 if quick else 200)
    names = args.subjects.split(",") if args.subjects else list(SUBJECTS)
    unknown = set(names) - set(SUBJECTS)
    if unknown:
        parser.error(f"unknown subjects {sorted(unknown)}; known: {', '.join(SUBJECTS)}")
    args.subjects = [n for n in SUBJECTS if n in names]
    return args


@contextlib.contextmanager
def redis_server(needed: bool) -> Iterator[str]:
    """A throwaway redis-server's URL without the database number (tests/redis_server.py)."""
    if not needed:
        yield ""
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from redis_server import running  # type: ignore[import-not-found]  # tests/, put on sys.path above

    with running() as server:
        yield server.url.rsplit("/", 1)[0]


def versions(redis_url: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {"sqlite": sqlite3.sqlite_version}
    for name in DISTRIBUTIONS:
        try:
            found["redis-py" if name == "redis" else name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found["redis-py" if name == "redis" else name] = None
    binary = shutil.which("redis-server")
    found["redis-server"] = (
        subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
        if binary and redis_url
        else None
    )
    return found


async def run(args: argparse.Namespace, redis_url: str) -> tuple[list[Cell], list[dict[str, Any]]]:
    cells: list[Cell] = []
    skipped: list[dict[str, Any]] = []
    factories = [lambda name=name: SUBJECTS[name](redis_url) for name in args.subjects]
    for size in sorted(args.sizes):
        for payload in sorted(args.payloads):
            if size * payload > args.max_bytes:
                why = f"over --max-bytes {args.max_bytes}"
                print(f"... skipped: {size:,} sessions of {payload} B, {why}", file=sys.stderr)
                skipped.append({"size": size, "payload": payload, "reason": why})
                continue
            print(f"... {size:,} sessions of {payload} B", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
                cells.append(
                    await run_cell(factories, size, payload, args.samples, Path(tmp) / "cell")
                )
    return cells, skipped


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.plot_from:
        saved = json.loads(args.plot_from.read_text())
        for path in plots(saved["results"], list(saved["subjects"]), args.out):
            print(f"wrote {path}")
        return 0
    started, load_before, clock = datetime.now(timezone.utc), os.getloadavg(), time.monotonic()
    with redis_server(any("redis" in name for name in args.subjects)) as url:
        cells, skipped = asyncio.run(run(args, url))
        found = versions(url)
    info = {
        name: {"kind": s.kind, "engine": s.engine, "unsupported": dict(s.unsupported)}
        for name in args.subjects
        for s in [SUBJECTS[name]("redis://unused")]
    }
    rows = result_rows(cells)
    ratios = ratio_rows(rows, info)
    scaling = scaling_rows(rows)
    doc = {
        "schema": 1,
        "command": " ".join(["python -m benchmarks.harness", *argv]),
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": round(time.monotonic() - clock, 1),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "python": platform.python_version(),
        "versions": found,
        "plan": {
            "sizes": sorted(args.sizes),
            "payloads": sorted(args.payloads),
            "samples": args.samples,
            "warmup": WARMUP,
            "rounds": ROUNDS,
            "max_bytes": args.max_bytes,
        },
        "subjects": info,
        "results": rows,
        "ratios": ratios,
        "scaling": scaling,
        "skipped": skipped,
    }
    print(tables(rows, ratios, scaling, info))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(doc, indent=1) + "\n")
    written = [] if args.no_plots else plots(rows, args.subjects, args.out)
    print(f"\nwrote {args.out / 'bench.json'}" + "".join(f", {p.name}" for p in written))
    print(f"load average {[round(x, 2) for x in load_before]} before; {doc['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
