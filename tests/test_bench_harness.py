"""The benchmark harness (benchmarks/harness) in its smallest mode: memory and SQLite,
ours and raw, and one peer (cachetools), on stores of 100 and 200 sessions. Nothing here
is timed: the run must produce a row for every op of every subject in every cell, time
every op ours and the raw engines can do, declare why a peer cannot do one, compute
ratios and scaling that agree with its own rows, and skip the cells over --max-bytes."""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness.ours import OursSQLite
from benchmarks.harness.raw_sqlite import RawSQLite
from benchmarks.harness.report import scaling_rows
from benchmarks.harness.runner import bulk_repeats
from benchmarks.harness.workload import OPS, document, payload, session_id

ROOT = Path(__file__).resolve().parents[1]

#: The smallest run: ~7 s on an idle 2-core machine (five subjects, three cells, in a
#: subprocess), 27 s on a busy one.
slow = pytest.mark.slow

SUBJECTS = ["ours:memory", "raw:memory", "peer:cachetools", "ours:sqlite", "raw:sqlite"]
SAMPLES = 10
#: 200 sessions of 1 KiB (204,800 B) are over the limit: three cells of four run.
ARGS = ["--sizes", "100,200", "--payloads", "200,1024", "--max-bytes", "150000"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    pytest.importorskip("cachetools", reason="the bench extra's peer: pip install -e .[bench]")
    out = tmp_path_factory.mktemp("bench")
    plots = [] if _has("matplotlib") else ["--no-plots"]
    command = [sys.executable, "-m", "benchmarks.harness", *ARGS, *plots]
    command += ["--samples", str(SAMPLES), "--subjects", ",".join(SUBJECTS), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ratio of p50s" in done.stdout
    return json.loads((out / "bench.json").read_text()), out


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@slow
def test_every_op_of_every_subject_in_every_cell(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    cells = {(200, 100), (1024, 100), (200, 200)}
    assert {(s["payload"], s["size"]) for s in doc["skipped"]} == {(1024, 200)}
    rows = {(r["subject"], r["op"], r["payload"], r["size"]): r for r in doc["results"]}
    assert set(rows) == {(s, op, p, n) for s in SUBJECTS for op in OPS for p, n in cells}
    for (subject, op, _, size), row in rows.items():
        declared = doc["subjects"][subject]["unsupported"]
        if op in declared:  # only a peer declares one (cachetools: purge)
            assert subject.startswith("peer:") and row["p50_us"] is None
            assert row["reason"] == f"unsupported: {declared[op]}"
            continue
        assert "reason" not in row, row
        expected = bulk_repeats(size) if op in ("import", "purge", "export") else SAMPLES
        assert row["n"] == expected
        assert 0 < row["p50_us"] <= row["p99_us"]
    assert set(doc["subjects"]["peer:cachetools"]["unsupported"]) == {"expire", "purge"}


@slow
def test_ratios_pair_ours_with_raw_and_peers(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    p50 = {(r["subject"], r["op"], r["payload"], r["size"]): r["p50_us"] for r in doc["results"]}
    pairs = {(r["ours"], r["other"]) for r in doc["ratios"]}
    assert pairs == {
        ("ours:memory", "raw:memory"),
        ("ours:memory", "peer:cachetools"),
        ("ours:sqlite", "raw:sqlite"),
        ("ours:sqlite", "peer:cachetools"),
    }
    for r in doc["ratios"]:
        mine, theirs = (
            p50[(r["ours"], r["op"], r["payload"], r["size"])],
            p50[(r["other"], r["op"], r["payload"], r["size"])],
        )
        assert math.isclose(r["p50_ratio"], mine / theirs)
        assert r["against"] == r["other"].split(":")[0]
    against_raw = {(r["ours"], r["op"]) for r in doc["ratios"] if r["against"] == "raw"}
    assert against_raw == {(s, op) for s in ("ours:memory", "ours:sqlite") for op in OPS}


@slow
def test_scaling_is_fitted_where_two_sizes_ran(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    fitted = {(r["subject"], r["op"], r["payload"]) for r in doc["scaling"]}
    timed = {(s, op) for s in SUBJECTS for op in OPS if op not in doc["subjects"][s]["unsupported"]}
    assert fitted == {(s, op, 200) for s, op in timed}  # 1 KiB ran at one size only
    assert all(math.isfinite(r["exponent"]) for r in doc["scaling"])


def test_scaling_exponent_of_known_growth() -> None:
    rows = [
        {"subject": "s", "op": op, "payload": 1, "size": n, "p50_us": cost(n)}
        for n in (1000, 10_000, 100_000)
        for op, cost in (
            ("flat", lambda n: 5.0),
            ("linear", lambda n: n / 100),
            ("root", math.sqrt),
        )
    ]
    exponents = {r["op"]: r["exponent"] for r in scaling_rows(rows)}
    assert exponents == {"flat": 0.0, "linear": 1.0, "root": 0.5}


@slow
def test_plots_are_png(run: tuple[dict[str, Any], Path]) -> None:
    pytest.importorskip("matplotlib")
    _, out = run
    names = {"latency_by_op_200.png", "latency_by_op_1024.png", "scaling_200.png"}
    assert {p.name for p in out.glob("*.png")} == names
    assert all((out / name).read_bytes().startswith(b"\x89PNG") for name in names)


#: Literals as sqlite3's trace shows them (bound values expanded): numbers, strings, blobs.
LITERAL = re.compile(r"x'[0-9a-fA-F]*'|'(?:[^']|'')*'|\b\d+\b")
#: The point ops on the store's own connection, each with its arguments.
TRACED = (
    ("create", ("new", payload(200))),
    ("get", (session_id(1),)),
    ("replace", (session_id(2), payload(200))),
    ("update", (session_id(3),)),
    ("touch", (session_id(4),)),
    ("delete", ("new",)),
    ("list", (session_id(5),)),
)


async def statements(subject: Any, where: Path) -> dict[str, list[str]]:
    """The SQL each traced op runs on the subject's connection, its values taken out."""
    await subject.open(where)
    try:
        await subject.load(document(10, 200))
        conn = subject.store._conn if isinstance(subject, OursSQLite) else subject.conn
        log: list[str] = []
        conn.set_trace_callback(lambda sql: log.append(" ".join(LITERAL.sub("?", sql).split())))
        seen = {}
        for op, args in TRACED:
            await getattr(subject, op)(*args)
            seen[op], log[:] = list(log), []
        return seen
    finally:
        await subject.close()


def test_raw_sqlite_runs_the_statements_the_store_runs(tmp_path: Path) -> None:
    """The raw engine's SQL (raw_sqlite.SQL) is the store's: each point op, traced on both
    connections, is the same sequence of statements. When sqlite.py changes what it
    runs, this names the op whose statements to update."""
    (tmp_path / "ours").mkdir()
    (tmp_path / "raw").mkdir()
    store = asyncio.run(statements(OursSQLite(), tmp_path / "ours"))
    raw = asyncio.run(statements(RawSQLite(), tmp_path / "raw"))
    assert all(store.values())  # the trace saw the store's statements
    for op, _ in TRACED:
        assert raw[op] == store[op], op
