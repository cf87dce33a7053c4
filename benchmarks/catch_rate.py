"""How often the kit catches each broken store of the gallery, under CPU load.

    python benchmarks/catch_rate.py [--runs 20] [--burners 2] [--store NAME ...]
    python benchmarks/catch_rate.py --gallery [--runs 20] [--burners 2] [--store NAME ...]

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

``--gallery`` does the same for the one-bug stores that are wrong one call at a time
(tests/broken/stores.py and the stores without a clock of tests/broken/clockless.py),
running the checks that name the clauses the store breaks; a run catches it only when
it reports one of *those* clauses failed.
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
from broken.clockless import ExpiresEarly, ExpiresLate, RoundsFloats  # noqa: E402
from test_kit_durability import BROKEN_MODULE, ENTRY_POINTS  # noqa: E402

from sessionstore_conformance.checks import Check  # noqa: E402
from sessionstore_conformance.runner import run  # noqa: E402


def concurrency_checks(check: Check) -> bool:
    return check.run.__module__.endswith(".concurrency") or check.name.startswith("linearizable")


#: The stores without a clock and the clauses each breaks (tests/test_kit_clockless.py).
CLOCKLESS = {ExpiresEarly: ("LIVE-1",), ExpiresLate: ("LIVE-1", "LIVE-2"), RoundsFloats: ("REC-2",)}


def gallery_targets() -> dict[str, tuple[Any, Callable[[Check], bool], tuple[str, ...]]]:
    """Store name -> (factory, its checks, the clauses whose failure counts as catching it).
    Its checks are those naming one of its clauses, as in tests/test_broken_stores.py: the
    stateful suite and the large-store check only for the stores flagged for them."""
    found = {}
    for m in GALLERY:
        if m.name != "LostUpdates":  # a race: the racy stores' table has it
            found[m.name] = (m.factory, naming(m.expected, m.stateful, m.large), m.expected)
    for store_type, expected in CLOCKLESS.items():
        # the store type is its own factory: it takes the keyword clock
        found[store_type.__name__] = (store_type, naming(expected, False, False), expected)
    return found


def naming(expected: tuple[str, ...], stateful: bool, large: bool) -> Callable[[Check], bool]:
    def select(check: Check) -> bool:
        if check.name.startswith("linearizable"):  # the racy stores' business
            return False
        if check.name.startswith("stateful") and not stateful:
            return False
        if check.name == "large_store" and not large:
            return False
        return bool(set(check.clauses) & set(expected))

    return select


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
    parser.add_argument(
        "--gallery", action="store_true", help="the one-bug sequential stores, not the racy ones"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        register_racy_sqlite(Path(scratch))
        plans: dict[str, tuple[Callable[[int], Any], Callable[[Check], bool], tuple[str, ...]]]
        if args.gallery:
            plans = {
                name: (lambda n, f=factory: f, select, expected)
                for name, (factory, select, expected) in gallery_targets().items()
            }
        else:
            plans = {
                name: (target, concurrency_checks, ())
                for name, target in targets(Path(scratch)).items()
            }
        chosen = {
            name: plan for name, plan in plans.items() if not args.store or name in args.store
        }
        burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
        for p in burners:
            p.start()
        rows = []
        try:
            for name, (target, select, expected) in chosen.items():
                caught = 0
                clauses: Counter[str] = Counter()
                checks: Counter[str] = Counter()
                seconds = []
                for n in range(args.runs):
                    started = time.perf_counter()
                    report = run(target(n), profile="ci", select=select)
                    seconds.append(time.perf_counter() - started)
                    failed = [c.clause.id for c in report.clauses if c.outcome == "fail"]
                    caught += bool(set(failed) & set(expected)) if expected else bool(failed)
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
            f"\n{args.runs} runs per store, ci profile, "
            f"{'the checks naming its clauses' if args.gallery else 'concurrency checks'}, "
            f"{args.burners} CPU burners, {os.cpu_count()} CPUs, load average now {load:.1f}\n"
        )
        print("| store | caught | clauses reported failed (runs) | checks failed (runs) | s/run |")
        print("|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
