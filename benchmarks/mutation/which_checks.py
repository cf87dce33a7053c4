"""Which kit checks see a given mutant: the kit's items run under each mutant in turn.

    python benchmarks/mutation/which_checks.py [-k EXPR] [--survivors] [NAME ...]

Run it after ``run.sh``: it takes the mutated ``sessionstore`` that mutmut generated in
build/mutation/mutants/src and the *current* kit from conformance/ (so new checks can
be tried on old survivors without a whole mutmut run), selects a mutant the way mutmut
does (the ``MUTANT_UNDER_TEST`` environment variable read by its trampolines), runs the
kit's items (``kit_items.py``, optionally only those matching ``-k``) without stopping
at the first failure, and prints one line per mutant: its name and the checks that
failed, or ``survived``. ``--survivors`` takes the mutants mutmut recorded as survived.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "mutation"
TREE = STAGE / "which"
FAILED = re.compile(r"^FAILED \S*test_check\[([a-z_]+)\]", re.M)


def survivors() -> list[str]:
    names = []
    for meta in sorted((STAGE / "mutants" / "src").rglob("*.py.meta")):
        results = json.loads(meta.read_text())["exit_code_by_key"]
        names += [name for name, code in results.items() if code == 0]
    return names


def stage() -> None:
    """The mutated store beside the current kit, in a tree of its own."""
    shutil.rmtree(TREE, ignore_errors=True)
    (TREE / "src").mkdir(parents=True)
    shutil.copytree(STAGE / "mutants" / "src" / "sessionstore", TREE / "src" / "sessionstore")
    shutil.copytree(
        ROOT / "conformance" / "sessionstore_conformance", TREE / "src" / "sessionstore_conformance"
    )
    shutil.copytree(ROOT / "benchmarks" / "mutation", TREE / "benchmarks" / "mutation")


def failing_checks(mutant: str, select: str | None, timeout: float) -> str:
    env = dict(os.environ, MUTANT_UNDER_TEST=mutant, PYTHONPATH=str(TREE / "src"))
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf"]
    args += ["benchmarks/mutation/kit_items.py"] + (["-k", select] if select else [])
    try:
        out = subprocess.run(
            args, cwd=TREE, env=env, capture_output=True, text=True, timeout=timeout
        ).stdout
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout:.0f} s"
    return " ".join(FAILED.findall(out)) or "survived"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("-k", dest="select", help="only the kit items matching EXPR")
    parser.add_argument("--survivors", action="store_true", help="every mutant that survived")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    opts = parser.parse_args()
    names = opts.names + (survivors() if opts.survivors else [])
    stage()
    started = time.perf_counter()
    for name in names:
        print(f"{name}: {failing_checks(name, opts.select, opts.timeout)}", flush=True)
    print(f"# {len(names)} mutants in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
