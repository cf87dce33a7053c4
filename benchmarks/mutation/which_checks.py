"""Which kit checks see a given mutant: the kit's checks run under each mutant in turn.

    python benchmarks/mutation/which_checks.py [-k WORD ...] [--skip WORD ...] [--target T ...]
                                               [--survivors] [NAME ...]

Run it after ``run.sh``. It imports the mutated ``sessionstore`` that mutmut generated in
build/mutation/mutants/src together with the *current* kit from conformance/ (so new
checks can be tried on old survivors without a whole mutmut run), selects each mutant
the way mutmut does (mutmut's trampolines read ``MUTANT_UNDER_TEST`` on every call, so
one process can switch between mutants), runs the selected checks through the runner's
``run_check`` on each target of ``kit_items.py`` (``memory://`` and the configured memory
store, configured.py), with its profile, and prints one line per mutant: its name and
the checks that failed (``name@configured`` when only there), or ``survived``.
``--survivors`` takes the mutants that mutmut recorded as survived; ``-k`` keeps the
checks whose name contains one of the words, ``--skip`` drops those (``--skip stateful``
leaves out a search); ``--target`` replaces kit_items' targets. A check that runs longer than
``--timeout`` seconds under a mutant counts as failed (a hang is seen).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "build" / "mutation" / "mutants" / "src"


class _Hung(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Hung


def survivors() -> list[str]:
    names = []
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        results = json.loads(meta.read_text())["exit_code_by_key"]
        names += [name for name, code in results.items() if code == 0]
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("-k", dest="words", action="append", default=[])
    parser.add_argument("--skip", dest="skipped", action="append", default=[])
    parser.add_argument("--survivors", action="store_true", help="every mutant that survived")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per check")
    parser.add_argument("--target", dest="targets", action="append", default=[])
    opts = parser.parse_args()
    names = opts.names + (survivors() if opts.survivors else [])
    # The current kit (mutants/src holds mutmut's copy of the old one), then the mutated
    # store: both ahead of any installed copy.
    sys.path[:0] = [str(ROOT / "conformance"), str(MUTANTS), str(Path(__file__).parent)]
    os.environ["MUTANT_UNDER_TEST"] = ""
    from hypothesis import settings as Settings
    from kit_items import CHECKS, EXAMPLES, TARGETS, target_name

    from sessionstore_conformance.checks.registry import Check, Harness
    from sessionstore_conformance.driver import Driver
    from sessionstore_conformance.profiles import PROFILES
    from sessionstore_conformance.runner import _has, _probe, run_check
    from sessionstore_conformance.target import resolve

    signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    settings = Settings(PROFILES["ci"], max_examples=EXAMPLES)
    with Driver() as driver:
        runs: list[tuple[str, Harness, Check]] = []
        for target in opts.targets or TARGETS:
            factory = resolve(target)
            caps, _type, hooks = driver.call(_probe, factory)
            kit = Harness(driver, factory, settings, "ci")
            runs += [
                (target_name(target), kit, c)
                for c in CHECKS
                if all(_has(r, caps, hooks) for r in c.requires)
                and (not opts.words or any(w in c.name for w in opts.words))
                and not any(w in c.name for w in opts.skipped)
            ]
        for name in names:
            os.environ["MUTANT_UNDER_TEST"] = name
            failed: dict[str, list[str]] = {}
            for where, kit, check in runs:
                signal.alarm(opts.timeout)
                try:
                    if run_check(check, kit).status == "failed":
                        failed.setdefault(check.name, []).append(where)
                except _Hung:
                    failed.setdefault(f"{check.name} (no answer in {opts.timeout} s)", []).append(
                        where
                    )
                finally:
                    signal.alarm(0)
            shown = [c if len(w) > 1 else f"{c}@{w[0]}" for c, w in failed.items()]
            print(f"{name}: {' '.join(shown) or 'survived'}", flush=True)
    print(f"# {len(names)} mutants x {len(runs)} checks in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
