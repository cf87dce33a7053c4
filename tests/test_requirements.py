"""The capability and hook table (``clauses --requirements``) says what the runner does:
checked against :func:`decide` on simulated runs and against a real one."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from sessionstore import Capabilities
from sessionstore_conformance.checks import REGISTRY
from sessionstore_conformance.checks.registry import HOOKS
from sessionstore_conformance.requirements import markdown_table, requirements
from sessionstore_conformance.runner import CheckResult, Options, decide, run

NAMES = [r.name for r in requirements()]


def test_every_requirement_of_every_check_is_in_the_table() -> None:
    assert {name for check in REGISTRY for name in check.requires} <= set(NAMES)
    assert [f.name for f in fields(Capabilities)] + list(HOOKS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_table_row_is_what_decide_reports_without_it(name: str) -> None:
    """Every check passes but those that need ``name`` (skipped); every capability is
    declared but ``name``: the clauses not claimed and unknown are the row's."""
    (row,) = [r for r in requirements() if r.name == name]
    results = [
        CheckResult(check, "skipped" if name in check.requires else "passed") for check in REGISTRY
    ]
    caps = Capabilities(**{f.name: f.name != name for f in fields(Capabilities)})
    outcomes = {c.clause.id: c.outcome for c in decide(results, caps)}
    assert {cid for cid, o in outcomes.items() if o == "not claimed"} == set(
        row.not_claimed_without
    )
    assert {cid for cid, o in outcomes.items() if o == "unknown"} == set(row.unknown_without)
    assert set(row.checks) == {c.name for c in REGISTRY if name in c.requires}


def test_a_hook_the_store_lacks_leaves_its_row_unknown() -> None:
    """The memory store has no disconnect_for_testing: a real run leaves the clauses of its
    row unknown, and reports the check as needing it."""
    (row,) = [r for r in requirements() if r.name == "disconnect_for_testing"]
    assert row.unknown_without == ("ERR-4",)
    report = run("memory://", select=lambda c: c.name in row.checks, options=Options("ci"))
    (err4,) = [c for c in report.clauses if c.clause.id == "ERR-4"]
    assert err4.outcome == "unknown"
    assert err4.skipped == ["backend_down (needs disconnect_for_testing)"]


def test_the_cli_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sessionstore_conformance.cli", "clauses", "--requirements"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == markdown_table(requirements())
    assert "| `corrupt_for_testing` | hook | — | EXPORT-3, ERR-3 |" in out.stdout
