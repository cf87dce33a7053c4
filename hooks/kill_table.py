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
    """Per list of mutants: what they are, the mutants, how the kit's verdict on each
    reads, and the test that runs the kit on each."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from broken import CONCURRENT, GALLERY, LATENCY
    from broken.slow import SLOW

    return [
        (
            "One bug each, one call at a time (`tests/broken/stores.py`, `GALLERY`)",
            GALLERY,
            _any,
            "tests/test_broken_stores.py::test_kit_rejects_broken_store",
        ),
        (
            "Correct one call at a time, not atomic (`tests/broken/concurrent.py`, `CONCURRENT`)",
            CONCURRENT,
            _concurrent,
            "tests/test_broken_stores.py::test_only_linearizability_rejects_racy_store",
        ),
        (
            "Racy behind slow connections (`tests/broken/slow.py`, `SLOW`)",
            SLOW,
            _all,
            "tests/test_races.py::test_kit_catches_each_slow_connection_race_in_one_ci_run",
        ),
        (
            "Right but slow (`tests/broken/delayed.py`, `LATENCY`)",
            LATENCY,
            _budget,
            "tests/test_latency_budgets.py::test_a_delayed_get_is_over_budget_advisory_unless_enforced",
        ),
    ]


def markdown() -> str:
    sections, count = [], 0
    for title, mutants, verdict, test in _gallery():
        count += len(mutants)
        lines = [
            f"## {title}",
            "",
            f"Held to the table by `{test}`.",
            "",
            "| broken store | its one bug | the kit reports |",
            "| --- | --- | --- |",
        ]
        for mutant in mutants:
            lines.append(
                f"| `{mutant.name}` | {_bug(mutant.store_type)} | {verdict(mutant.expected)} |"
            )
        sections.append("\n".join(lines))
    return f"{count} broken stores.\n\n" + "\n\n".join(sections) + "\n"
