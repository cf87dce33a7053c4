"""The clause report as printed: each failure once, referred to from the table; long lines
kept whole when the output is not a terminal; the verdict's last line."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from sessionstore import Capabilities
from sessionstore_conformance.checks import REGISTRY
from sessionstore_conformance.report import console, render_terminal, to_markdown
from sessionstore_conformance.runner import CheckResult, Options, Report, decide

COUNTEREXAMPLE = "\n".join(
    ["state = SessionStoreMachine()", "state.create(id='s1')", "state.get(id='s1')"]
)


def failing_report() -> Report:
    """The stateful suite failed under every clause it exercises (a machinery failure),
    and a second check failed with the same message and counterexample."""
    stateful = next(c for c in REGISTRY if c.name == "stateful")
    other = next(c for c in REGISTRY if "GET-1" in c.clauses and c.name != "stateful")
    message = "results depend on real time: the same steps passed and failed"
    results = [
        CheckResult(stateful, "failed", 1.0, message, stateful.clauses, COUNTEREXAMPLE),
        CheckResult(other, "failed", 1.0, message, ("GET-1",), COUNTEREXAMPLE),
    ]
    caps = Capabilities(injectable_clock=True)
    return Report("memory://", "MemoryStore", caps, "ci", 2.0, results, decide(results, caps))


def rendered(report: Report) -> str:
    out = io.StringIO()
    render_terminal(report, console(out))
    return out.getvalue()


def test_each_failure_is_printed_once_with_its_clauses() -> None:
    report = failing_report()
    text = rendered(report)
    assert len(report.checks[0].blamed) > 20  # the case of the issue: one failure, 30+ clauses
    assert text.count("results depend on real time") == 1
    assert text.count("state.get(id='s1')") == 1
    assert "failure 1" in text and "failure 2" not in text  # the same failure, merged
    rows = [line for line in text.splitlines() if " fail " in line and "MUST" in line]
    assert len(rows) == len(report.checks[0].blamed)
    assert all("see failure 1" in row for row in rows)
    assert text.count("\n") < 120  # was 745 lines for one counterexample


def test_the_markdown_report_prints_each_failure_once() -> None:
    text = to_markdown(failing_report())
    assert text.count("state.get(id='s1')") == 1
    assert "| GET-1 | MUST | fail | see failure 1 |" in text


def test_piped_output_is_not_folded_at_80_columns() -> None:
    report = failing_report()
    lines = rendered(report).splitlines()
    header = next(line for line in lines if line.startswith("FAIL failure 1"))
    assert all(clause in header for clause in report.checks[0].blamed)  # one line, > 200 wide
    assert len(header) > 200


def test_the_cli_keeps_long_lines_when_piped() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    out = subprocess.run(
        [sys.executable, "-m", "sessionstore_conformance.cli", "run", "memory://"]
        + ["--profile", "ci", "-k", "declarations", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.rstrip().splitlines()[-1]
    assert last.startswith("PASS — but ") and last.endswith("profile ci)"), last
    assert len(last) > 200  # the whole list of unverified MUST clauses, on one line


def test_the_last_line_names_unverified_must_clauses() -> None:
    report = failing_report()
    text = rendered(report).rstrip().splitlines()[-1]
    assert text.startswith("FAIL — and ") and "MUST clauses not verified" in text
    assert "ERR-4" in text  # no check of it ran
    lax = Report(**{**report.__dict__, "checks": [], "clauses": decide([], report.capabilities)})
    assert rendered(lax).rstrip().splitlines()[-1].startswith("PASS — but ")
    strict = Report(**{**lax.__dict__, "options": Options("ci", require_verified=True)})
    last = rendered(strict).rstrip().splitlines()[-1]
    # nothing failed but the unverified clauses: the line says that the option failed it
    # (it read "FAIL — and 60 MUST clauses not verified", as if something else had failed)
    assert last.startswith("FAIL — because --require-verified: ") and "clauses not verified" in last
    both = Report(**{**report.__dict__, "options": Options("ci", require_verified=True)})
    last = rendered(both).rstrip().splitlines()[-1]
    assert last.startswith("FAIL — and ") and "--require-verified" not in last
