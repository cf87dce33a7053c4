"""Rendering a :class:`~sessionstore_conformance.runner.Report`: terminal, JSON, Markdown."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .runner import Report

STYLE = {
    "pass": "green",
    "fail": "bold red",
    "non-strict": "yellow",
    "not claimed": "dim",
    "unknown": "magenta",
}
REPORT_FORMAT_VERSION = 1


def summary_line(report: Report) -> str:
    tally = report.tally()
    parts = ", ".join(f"{n} {outcome}" for outcome, n in tally.items() if n)
    return (
        f"{len(report.clauses)} clauses: {parts} ({report.seconds:.1f} s, profile {report.profile})"
    )


def render_terminal(report: Report, console: Console) -> None:
    claimed = [name for name, on in asdict(report.capabilities).items() if on]
    console.print(
        f"\n[bold]sessionstore conformance[/] — {report.target} ({report.store_type}); "
        f"capabilities: {', '.join(claimed) or 'none'}"
    )
    table = Table(show_lines=False, header_style="bold")
    table.add_column("clause")
    table.add_column("level")
    table.add_column("outcome")
    table.add_column("checks / reason", overflow="fold")
    for result in report.clauses:
        why = "; ".join(result.messages) if result.messages else ", ".join(result.checks)
        if result.outcome == "unknown" and not result.messages:
            why = (
                "could not run: " + "; ".join(result.skipped)
                if result.skipped
                else "no check in this kit"
            )
        table.add_row(
            result.clause.id,
            result.clause.level,
            f"[{STYLE[result.outcome]}]{result.outcome}[/]",
            why,
        )
    console.print(table)
    for check in report.checks:
        if check.counterexample:
            console.print(
                f"\n[bold red]Counterexample[/] of check {check.check.name} "
                f"({', '.join(check.blamed)}):\n{escape(check.counterexample)}",
                highlight=False,
            )
    verdict = "[bold red]FAIL[/]" if report.failed else "[bold green]PASS[/]"
    console.print(f"\n{verdict} {summary_line(report)}")


def to_json(report: Report) -> dict[str, Any]:
    return {
        "report_format_version": REPORT_FORMAT_VERSION,
        "target": report.target,
        "store_type": report.store_type,
        "capabilities": asdict(report.capabilities),
        "profile": report.profile,
        "seconds": round(report.seconds, 3),
        "passed": not report.failed,
        "tally": report.tally(),
        "clauses": [
            {
                "id": c.clause.id,
                "level": c.clause.level,
                "outcome": c.outcome,
                "checks": c.checks,
                "messages": c.messages,
                "skipped": c.skipped,
            }
            for c in report.clauses
        ],
        "checks": [
            {
                "name": r.check.name,
                "clauses": list(r.check.clauses),
                "status": r.status,
                "seconds": round(r.seconds, 4),
                "message": r.message,
                "blamed": list(r.blamed),
                "counterexample": r.counterexample,
            }
            for r in report.checks
        ],
    }


def to_markdown(report: Report) -> str:
    lines = [
        f"# sessionstore conformance: {report.target}",
        "",
        f"{'FAIL' if report.failed else 'PASS'} — {summary_line(report)}",
        "",
        "| clause | level | outcome | checks / reason |",
        "|---|---|---|---|",
    ]
    for c in report.clauses:
        why = ("; ".join(c.messages) if c.messages else ", ".join(c.checks)).replace("|", "\\|")
        lines.append(f"| {c.clause.id} | {c.clause.level} | {c.outcome} | {why} |")
    return "\n".join(lines) + "\n"


def write_json(report: Report, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(to_json(report), out, indent=2)
        out.write("\n")
