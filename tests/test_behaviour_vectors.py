"""spec/vectors/behaviour/sequences.json is what the kit's model predicts (issue 14, item 4)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sessionstore_conformance import clauses
from sessionstore_conformance.behaviour_vectors import generate, render

FILE = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "behaviour" / "sequences.json"


def test_the_vectors_are_up_to_date() -> None:
    """Regenerate with: python -m sessionstore_conformance.behaviour_vectors"""
    assert FILE.read_text(encoding="utf-8") == render(generate())


def test_the_vectors_reach_every_outcome_they_claim() -> None:
    groups = json.loads(FILE.read_text(encoding="utf-8"))
    outcomes = Counter(
        (step["op"], "ok" if "ok" in step else step["error"]["type"])
        for group in groups
        for step in group["steps"]
    )
    expected = {
        ("create", "SessionExists"),
        ("replace", "VersionConflict"),
        ("delete", "VersionConflict"),
        ("update", "SessionNotFound"),
        ("touch", "SessionNotFound"),
    } | {(op, "ok") for op in ("create", "get", "replace", "update", "touch", "delete")}
    assert expected <= set(outcomes), outcomes
    expired_reads = [
        step
        for group in groups
        for step in group["steps"]
        if step["op"] == "get" and step["ok"] is None
    ]
    assert expired_reads, "no get found a session missing"
    assert {c for g in groups for c in g["clauses"]} <= set(clauses())
