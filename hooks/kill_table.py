"""The broken-store gallery's kill table: each mutant, its one bug, the clause the kit
reports for it, and the test that holds the kit to it.

Derived from the gallery's declared expectations (``tests/broken``: each ``Mutant``
names the clause ids the kit must fail), not from running the kit at build time, which
takes minutes; the tests named in the last column run the kit on every mutant and fail
when it does not report what the row says. A mutant's bug is its class docstring.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _bug(store_type: type) -> str:
    return " ".join((store_type.__doc__ or "").split()).replace("|", "\\|")


def _any(expected: tuple[str, ...]) -> str:
    return "fail: " + " or ".join(expected)


def _all(expected: tuple[str, ...]) -> str:
    return "fail: " + " and ".join(expected)


def _concurrent(expected: tuple[str, ...]) -> str:
    return _all(expected) + ", by the linearizability checks alone (every sequential check passes)"


def _budget(expected: tuple[str, ...]) -> str:
    return f"non-strict: {', '.join(expected)} (fail under `--enforce-budgets`)"


def _gallery() -> list[tuple[str, list[Any], Callable[[tuple[str, ...]], str], str]]:
    """(list name, mutants, how the kit's verdict reads, the test that verifies it)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from broken import CONCURRENT, GALLERY, LATENCY
    from broken.slow import SLOW

    return [
        ("GALLERY", GALLERY, _any, "tests/test_broken_stores.py::test_kit_rejects_broken_store"),
        (
            "CONCURRENT",
            CONCURRENT,
            _concurrent,
            "tests/test_broken_stores.py::test_only_linearizability_rejects_racy_store",
        ),
        (
            "SLOW",
            SLOW,
            _all,
            "tests/test_races.py::test_kit_catches_each_slow_connection_race_in_one_ci_run",
        ),
        (
            "LATENCY",
            LATENCY,
            _budget,
            "tests/test_latency_budgets.py::test_a_delayed_get_is_over_budget_advisory_unless_enforced",
        ),
    ]


def markdown() -> str:
    lines = [
        "| broken store | its one bug | the kit reports | held to it by |",
        "| --- | --- | --- | --- |",
    ]
    count = 0
    for name, mutants, verdict, test in _gallery():
        for mutant in mutants:
            count += 1
            module = mutant.store_type.__module__.replace(".", "/")
            lines.append(
                f"| `{mutant.name}` (`tests/{module}.py`, `{name}`) | {_bug(mutant.store_type)} | "
                f"{verdict(mutant.expected)} | `{test}` |"
            )
    return f"{count} broken stores.\n\n" + "\n".join(lines) + "\n"
