"""The backend comparison's speed table, rendered from the committed benchmark JSON.

``docs/benchmarks/backends.json`` is what ``benchmarks/bench_backends.py`` wrote (its
command and date are in it and shown under the table); the build only reads it, so
the figures are those of one recorded run, never re-measured on the build machine.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "backends.json"


def _us(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def markdown() -> str:
    run = json.loads(RESULTS.read_text(encoding="utf-8"))
    backends = list(run["results"])
    operations = list(run["results"][backends[0]])
    lines = [
        "| operation | " + " | ".join(f"{b} p50 / p99 (µs)" for b in backends) + " |",
        "| --- |" + " ---: |" * len(backends),
    ]
    for op in operations:
        cells = [
            f"{_us(run['results'][b][op]['p50_us'])} / {_us(run['results'][b][op]['p99_us'])}"
            for b in backends
        ]
        lines.append(f"| `{op}` | " + " | ".join(cells) + " |")
    machine = run["machine"]
    lines += [
        "",
        f"Measured {run['date']} with `{run['command']}` ({run['rounds']} rounds of "
        f"{run['n']:,} sessions; {machine['cpus']} CPUs, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}, Redis {machine['redis']}); the raw figures: "
        f"[backends.json](benchmarks/backends.json).",
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
