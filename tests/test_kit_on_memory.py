"""The kit against the reference memory store, and the kit's coverage of the spec."""

from __future__ import annotations

import pytest

from sessionstore_conformance import REGISTRY, clauses
from sessionstore_conformance.runner import Report


@pytest.fixture
def report(memory_kit_report: Report) -> Report:
    return memory_kit_report  # conftest.py: one run of the kit shared with the gallery


def test_memory_store_passes_every_claimed_clause(report: Report) -> None:
    failing = {
        c.clause.id: c.messages for c in report.clauses if c.outcome in ("fail", "non-strict")
    }
    assert failing == {}
    assert not report.failed


def test_memory_store_outcomes(report: Report) -> None:
    outcome = {c.clause.id: c.outcome for c in report.clauses}
    # The memory store has no backend that can go away: ERR-4 cannot be exercised on it.
    assert outcome["ERR-4"] == "unknown"
    # It does not claim durability or sharing between processes: not claimed, never passed.
    not_claimed = {cid for cid, o in outcome.items() if o == "not claimed"}
    assert not_claimed == {"DUR-1", "DUR-2", "PROC-1", "CONC-2"}
    passed = {cid for cid, o in outcome.items() if o == "pass"}
    assert passed == set(outcome) - not_claimed - {"ERR-4"}, outcome
    assert report.capabilities.injectable_clock


def test_every_must_clause_has_a_check() -> None:
    checked = {cid for check in REGISTRY for cid in check.clauses}
    unchecked = [
        c.id for c in clauses().values() if c.level in ("MUST", "SHOULD") and c.id not in checked
    ]
    assert unchecked == []


def test_every_check_cites_existing_clauses() -> None:
    known = set(clauses())
    unknown = {check.name: [c for c in check.clauses if c not in known] for check in REGISTRY}
    assert {name: ids for name, ids in unknown.items() if ids} == {}


def test_check_names_are_unique() -> None:
    names = [check.name for check in REGISTRY]
    assert len(names) == len(set(names))
