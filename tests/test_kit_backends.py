"""The whole conformance kit against every reference backend.

A new backend joins by one line in ``BACKENDS``: how to build its target URL from a
temporary folder, the capabilities the store declares, and the clauses it gives the kit
no way to exercise (reported "unknown").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import pytest

from sessionstore_conformance import run


class Backend(NamedTuple):
    name: str
    target: Callable[[Path], str]
    capabilities: frozenset[str]
    unknown: frozenset[str] = frozenset()


BACKENDS = [
    # No backend that can go away, so no disconnect_for_testing hook: ERR-4 stays unknown.
    Backend(
        "memory", lambda tmp: "memory://", frozenset({"injectable_clock"}), frozenset({"ERR-4"})
    ),
    Backend(
        "sqlite",
        lambda tmp: f"sqlite:///{tmp.absolute()}/kit.db",  # absolute: sqlite:////...
        frozenset({"injectable_clock", "durable", "multi_process"}),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
def test_kit_passes_on_backend(backend: Backend, tmp_path: Path) -> None:
    target = backend.target(tmp_path)
    if backend.name == "sqlite":
        assert target.startswith("sqlite:////")
    report = run(target, profile="ci")

    bad = {
        c.clause.id: (c.outcome, c.messages)
        for c in report.clauses
        if c.outcome in ("fail", "non-strict")
    }
    assert bad == {}, f"{backend.name}: clauses failing or non-strict: {bad}"
    assert not report.failed

    claimed = {name for name, on in asdict(report.capabilities).items() if on}
    assert claimed == backend.capabilities
    unknown = {c.clause.id for c in report.clauses if c.outcome == "unknown"}
    assert unknown == backend.unknown, f"{backend.name}: clauses not verified: {unknown}"
