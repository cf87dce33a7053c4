"""How often the kit's concurrency checks catch each racy broken store, under CPU load.

    python benchmarks/catch_rate.py [--runs 20] [--burners 2] [--store NAME ...]

(with ``reference``, ``conformance`` and ``tests`` importable: run it from the repository
root with ``PYTHONPATH=reference:conformance``; the script adds ``tests`` itself).

For each racy store — the slow-connection races of tests/broken/slow.py, the racy tasks
of tests/broken/concurrent.py, ``LostUpdates`` of tests/broken/stores.py and the
``RacyUpdate`` SQLite store of tests/test_kit_durability.py (lost updates across
processes, registered as the ``racysqlite`` backend in a temporary directory) — the
script runs the kit ``--runs`` times with the ``ci`` profile, selecting the concurrency
checks (checks/concurrency.py and every ``linearizable*`` check), while ``--burners``
processes spin on the CPU beside it. A run *catches* the store when it reports a MUST
clause failed. It prints, per store, the catch rate, the clauses reported failed (with
how many runs reported each), the checks that failed, and the median run time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from broken import CONCURRENT, GALLERY, SLOW  # noqa: E402
from test_kit_durability import BROKEN_MODULE, ENTRY_POINTS  # noqa: E402

from sessionstore_conformance.checks import Check  # noqa: E402
from sessionstore_conformance.runner import run  # noqa: E402


def concurrency_checks(check: Check) -> bool:
    return check.run.__module__.endswith(".concurrency") or check.name.startswith("linearizable")


def burn() -> None:
    while True:
        pass


def register_racy_sqlite(root: Path) -> None:
    """The ``racysqlite`` backend, importable here and in the kit's client processes."""
    (root / "kit_broken_stores.py").write_text(textwrap.dedent(BROKEN_MODULE))
    dist = root / "kit_broken_stores-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-broken-stores\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(root))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])
    )


def targets(scratch: Path) -> dict[str, Callable[[int], Any]]:
    """Store name -> the target of run number n (a fresh file for the SQLite store)."""
    mutants = [*SLOW, *CONCURRENT, *(m for m in GALLERY if m.name == "LostUpdates")]
    found: dict[str, Callable[[int], Any]] = {
        m.name: (lambda n, factory=m.factory: factory) for m in mutants
    }
    found["RacyUpdate (sqlite)"] = lambda n: f"racysqlite:///{scratch}/racy{n}.db"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--store", action="append", help="only these stores (repeatable)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        register_racy_sqlite(Path(scratch))
        chosen = {
            name: target
            for name, target in targets(Path(scratch)).items()
            if not args.store or name in args.store
        }
        burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
        for p in burners:
            p.start()
        rows = []
        try:
            for name, target in chosen.items():
                caught = 0
                clauses: Counter[str] = Counter()
                checks: Counter[str] = Counter()
                seconds = []
                for n in range(args.runs):
                    started = time.perf_counter()
                    report = run(target(n), profile="ci", select=concurrency_checks)
                    seconds.append(time.perf_counter() - started)
                    failed = [c.clause.id for c in report.clauses if c.outcome == "fail"]
                    caught += bool(failed)
                    clauses.update(failed)
                    checks.update(r.check.name for r in report.checks if r.status == "failed")
                row = (
                    name,
                    f"{caught}/{args.runs}",
                    ", ".join(f"{c} ({k})" for c, k in clauses.most_common()),
                    ", ".join(f"{c} ({k})" for c, k in checks.most_common()),
                    f"{statistics.median(seconds):.1f}",
                )
                rows.append(row)
                print(" | ".join(row), flush=True)
        finally:
            for p in burners:
                p.terminate()
                p.join()
        load = os.getloadavg()[0]
        print(
            f"\n{args.runs} runs per store, ci profile, concurrency checks, "
            f"{args.burners} CPU burners, {os.cpu_count()} CPUs, load average now {load:.1f}\n"
        )
        print("| store | caught | clauses reported failed (runs) | checks failed (runs) | s/run |")
        print("|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
