"""The backend comparison's speed tables, rendered from the benchmark harness's JSON.

``benchmarks/results/bench.json`` is what ``nox -s bench`` (benchmarks/harness) wrote:
its command, start and machine are in it and shown under the tables. The build only
reads it, so the figures are those of one recorded run, never re-measured on the build
machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "bench.json"
#: The cell shown: sessions of this many bytes, the largest store size measured.
PAYLOAD = 1024
OURS = {"ours:memory": "memory", "ours:sqlite": "SQLite", "ours:redis": "Redis"}


def _us(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.0f} ms"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _cell(run: dict[str, Any]) -> tuple[int, list[str]]:
    size = max(r["size"] for r in run["results"] if r["payload"] == PAYLOAD)
    ops = list(dict.fromkeys(r["op"] for r in run["results"]))
    return size, ops


def markdown() -> str:
    run = json.loads(RESULTS.read_text(encoding="utf-8"))
    size, ops = _cell(run)
    at = {
        (r["subject"], r["op"]): r
        for r in run["results"]
        if r["payload"] == PAYLOAD and r["size"] == size
    }
    ratio = {
        (r["ours"], r["op"]): r["p50_ratio"]
        for r in run["ratios"]
        if r["against"] == "raw" and r["payload"] == PAYLOAD and r["size"] == size
    }
    lines = [
        "| operation | " + " | ".join(f"{name} p50 / p99 (µs)" for name in OURS.values())
        + " | " + " | ".join(f"{name} / its raw engine (p50)" for name in OURS.values()) + " |",
        "| --- |" + " ---: |" * (2 * len(OURS)),
    ]  # fmt: skip
    for op in ops:
        times = [
            f"{_us(at[s, op]['p50_us'])} / {_us(at[s, op]['p99_us'])}" if (s, op) in at else "—"
            for s in OURS
        ]
        ratios = [f"{ratio[s, op]:.2f}x" if (s, op) in ratio else "—" for s in OURS]
        lines.append(f"| `{op}` | " + " | ".join(times + ratios) + " |")
    machine = run["machine"]
    lines += [
        "",
        f"{size:,} sessions of {PAYLOAD:,} bytes in the store. Measured {run['started']} "
        f"with `{run['command']}` ({machine['cpus']} CPUs, load "
        f"{machine['load_before'][0]:.1f}, Python {run['python']}, SQLite "
        f"{run['versions']['sqlite']}); every cell, the peers and the scaling are in "
        "`benchmarks/results/bench.json` and `bench.txt`.",
    ]
    return "\n".join(lines) + "\n"


#: The reference stores, by the name the benchmark and the URLs use.
STORES = {
    "memory": "sessionstore.backends.memory:MemoryStore",
    "sqlite": "sessionstore.backends.sqlite:SQLiteStore",
    "redis": "sessionstore.backends.redis:RedisStore",
}


def capabilities() -> str:
    """What each reference store declares (CAP-1), read from its class."""
    from dataclasses import fields
    from importlib import import_module

    from sessionstore import Capabilities

    names = [f.name for f in fields(Capabilities)]
    lines = [
        "| store | " + " | ".join(f"`{n}`" for n in names) + " |",
        "| --- |" + " :---: |" * len(names),
    ]
    for backend, where in STORES.items():
        module, _, cls = where.partition(":")
        declared = getattr(import_module(module), cls).capabilities
        marks = ["yes" if getattr(declared, n) else "—" for n in names]
        lines.append(f"| {backend} (`{cls}`) | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"
