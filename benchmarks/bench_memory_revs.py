"""The memory store at two git revisions, and its raw engine, in one run (issue 15).

    python benchmarks/bench_memory_revs.py --before REV [--sizes 200,1024,4096,65536]
                                           [--rounds 3] [--calls 20000] [--store 10000]

The store's code at REV is exported (``git archive``) beside the working tree, and the
two are measured in alternating worker processes, ``--rounds`` times each: a process
imports one ``sessionstore`` only, and alternating spreads the machine's load over both.
Each worker fills a MemoryStore and the raw engine of the benchmark harness
(``benchmarks/harness/raw_memory.py``: a dict of orjson bytes doing the work the contract
requires) with ``--store`` sessions of each payload size, then times each point operation
and ``encode_data`` (the write validation every store shares; raw: ``orjson.dumps`` and
a size check) over ``--calls`` calls, in five blocks; a cell is the fastest block of the fastest round,
in microseconds per call. The coroutines are driven without an event loop (``send``):
the memory store never suspends in a point operation, so what is timed is the
operation itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OPS = ("get", "replace", "update", "touch", "create", "delete", "encode_data")
BLOCKS = 5


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("a memory store operation suspended")


async def _coroutine(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


def per_call(calls: int, op: Callable[[int], Coroutine[Any, Any, Any]]) -> float:
    """The fastest block's microseconds per call."""
    best = float("inf")
    block = calls // BLOCKS
    for start in range(0, block * BLOCKS, block):
        began = time.perf_counter_ns()
        for i in range(start, start + block):
            run_coroutine(op(i))
        best = min(best, (time.perf_counter_ns() - began) / block / 1000)
    return best


def worker(size: int, calls: int, store_size: int) -> dict[str, dict[str, float]]:
    from benchmarks.harness.raw_memory import RawMemory, _encode
    from benchmarks.harness.workload import bump, payload
    from sessionstore.backends import memory
    from sessionstore.backends.memory import MemoryStore
    from sessionstore.semantics import encode_data

    tree = Path(os.environ["PYTHONPATH"].split(os.pathsep)[0])
    if not Path(memory.__file__).is_relative_to(tree):  # not an installed copy
        raise SystemExit(f"{memory.__file__} is not in {tree}")
    data = payload(size)
    ours, raw = MemoryStore(), RawMemory()
    held = [f"s{i:08d}" for i in range(store_size)]
    for sid in held:
        run_coroutine(ours.create(data, id=sid, ttl=3600))
        run_coroutine(raw.create(sid, data))
    fresh = [f"n{i:08d}" for i in range(calls)]  # created, then deleted
    n = len(held)
    pairs: dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]] = {
        "get": (lambda i: ours.get(held[i % n]), lambda i: raw.get(held[i % n])),
        "replace": (
            lambda i: ours.replace(held[i % n], data),
            lambda i: raw.replace(held[i % n], data),
        ),
        "update": (lambda i: ours.update(held[i % n], bump), lambda i: raw.update(held[i % n])),
        "touch": (lambda i: ours.touch(held[i % n], 3600), lambda i: raw.touch(held[i % n])),
        "create": (
            lambda i: ours.create(data, id=fresh[i], ttl=3600),
            lambda i: raw.create(fresh[i], data),
        ),
        "delete": (lambda i: ours.delete(fresh[i]), lambda i: raw.delete(fresh[i])),
        # The write validation every store shares, against orjson.dumps and a size check.
        "encode_data": (
            lambda i: _coroutine(encode_data, data),
            lambda i: _coroutine(_encode, data),
        ),
    }
    return {
        op: {"ours": per_call(calls, pairs[op][0]), "raw": per_call(calls, pairs[op][1])}
        for op in OPS
    }


def measure(tree: Path, size: int, calls: int, store_size: int) -> dict[str, dict[str, float]]:
    """One worker process on the sessionstore of ``tree`` (the harness from this one)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "reference"), str(ROOT)])}
    args = [sys.executable, __file__, "--worker", str(size), str(calls), str(store_size)]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    cells: dict[str, dict[str, float]] = json.loads(out)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="git revision to compare with (required)")
    parser.add_argument("--sizes", default="200,1024,4096,65536")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--store", type=int, default=10000)
    parser.add_argument("--worker", nargs=3, type=int, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        print(json.dumps(worker(*opts.worker)))
        return
    if not opts.before:
        parser.error("--before REV is required")
    sha = subprocess.run(
        ["git", "rev-parse", "--short", opts.before], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    print(f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}; "
          f"before = {sha}; {opts.rounds} rounds, {opts.calls:,} calls, "
          f"{opts.store:,} sessions in the store")  # fmt: skip
    print("\n| op | payload | before µs | now µs | now / before | before / raw | now / raw |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        for size in map(int, opts.sizes.split(",")):
            best: dict[tuple[str, str, str], float] = {}  # (tree, op, ours|raw) -> fastest
            for _ in range(opts.rounds):
                for name, tree in (("before", old), ("now", ROOT)):
                    for op, cell in measure(tree, size, opts.calls, opts.store).items():
                        for kind, value in cell.items():
                            key = (name, op, kind)
                            best[key] = min(best.get(key, value), value)
            for op in OPS:
                b, n = best["before", op, "ours"], best["now", op, "ours"]
                raw = min(best["before", op, "raw"], best["now", op, "raw"])
                print(f"| {op} | {size} B | {b:.2f} | {n:.2f} | {n / b:.2f}x | "
                      f"{b / raw:.2f}x | {n / raw:.2f}x |")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
