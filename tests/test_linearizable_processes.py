"""The ``linearizable_processes`` check (CONC-1, CONC-2, PROC-1): histories recorded by
client processes pass the reference SQLite store and reject a store whose ``update``
loses writes across processes; and the checker's timeless mode compares no time fields.

The racy store is the one of tests/test_kit_durability.py, registered for child
processes through a ``*.dist-info`` entry point on ``PYTHONPATH`` (its fixture).
"""

from __future__ import annotations

from pathlib import Path

from test_kit_durability import broken_backends as broken_backends  # the fixture
from test_kit_durability import failing, only, show

from sessionstore_conformance import linearizability as lin
from sessionstore_conformance.linearizability import Operation
from sessionstore_conformance.runner import run

CHECK = "linearizable_processes"


def test_timeless_check_ignores_time_fields() -> None:
    def session(data: str, version: int, created: int, expires: int | None) -> lin.Outcome:
        return ("ok", (data, version, created, created, expires, None))

    base = {"id": "a", "ttl_ms": None, "now": 0}
    ops = [
        Operation(
            1, {"op": "create", "data": {}, "owner": None, **base}, 0, session("{}", 1, 5, None), 1
        ),
        Operation(
            2,
            {"op": "touch", "id": "a", "ttl_ms": 1, "owner": None, "now": 0},
            2,
            session("{}", 1, 9, 10),
            3,
        ),
        Operation(
            1, {"op": "get", "id": "a", "owner": None, "now": 0}, 4, session("{}", 1, 7, 99), 5
        ),
    ]
    assert lin.check(ops).status == "not linearizable"  # times differ from the model's
    assert lin.check(ops, timeless=True).status == "linearizable"
    # ... but data and versions are still compared.
    lost = [*ops[:2], Operation(1, ops[2].input, 4, session('{"n":0}', 1, 7, None), 5)]
    assert lin.check(lost, timeless=True).status == "not linearizable"


def test_sqlite_store_passes(tmp_path: Path) -> None:
    report = run(f"sqlite:///{tmp_path}/k.db", profile="ci", select=only(CHECK))
    show(report)
    assert [r.status for r in report.checks] == ["passed"]
    outcomes = {c.clause.id: c.outcome for c in report.clauses}
    assert {k: outcomes[k] for k in ("CONC-1", "CONC-2", "PROC-1")} == dict.fromkeys(
        ("CONC-1", "CONC-2", "PROC-1"), "pass"
    )


def test_racy_update_is_caught_across_processes(broken_backends: Path, tmp_path: Path) -> None:
    report = run(f"racysqlite:///{tmp_path}/racy.db", profile="ci", select=only(CHECK))
    show(report)
    assert report.store_type == "RacyUpdate"
    (result,) = report.checks
    assert result.status == "failed"
    assert "CONC-1" in result.blamed
    assert "CONC-1" in failing(report)
    assert "not linearizable" in result.message
