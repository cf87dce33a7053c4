"""Rendering a :class:`~sessionstore_conformance.runner.Report`: terminal, JSON, Markdown.

Each distinct failure (a failed check's message and counterexample) is printed once,
numbered, with every clause it touches; the clause table refers to it ("see failure 1").
When the latency check ran, a table of each operation's percentiles against the
budgets follows the clause table (PERF-1). The last line is the verdict, and it names
the MUST clauses the run did not verify.

Each clause id links to the clause on the documentation site (:func:`clause_url`): in
the Markdown report a column of links, on a terminal the id itself (a hyperlink where
the terminal shows them).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .checks import REGISTRY
from .latency import HEADER as LATENCY_HEADER
from .latency import REFERENCE, option_text
from .runner import ClauseResult, Report

STYLE = {
    "pass": "green",
    "fail": "bold red",
    "non-strict": "yellow",
    "not claimed": "dim",
    "unknown": "magenta",
    "known failure": "cyan",
    "unexpected pass": "bold red",
}
REPORT_FORMAT_VERSION = 4  # 2: known failures; 3: latency budgets; 4: each clause's text, url
#: The width of output that goes to a file or a pipe: wide enough never to fold a line.
UNFOLDED = 10_000
#: The clause table's widest: beyond it, a long reason folds inside its cell rather than
#: padding every row of a piped report to the longest message.
TABLE_WIDTH = 160
#: The spec page of the documentation site, where every clause has its anchor
#: (``…/spec/#TOUCH-2``): mkdocs.yml's site_url + "spec/" (tests/test_docs_site.py keeps
#: the two equal). SESSIONSTORE_SPEC_URL names another (a mirror, a pinned version).
SPEC_URL = "https://sessionstore.readthedocs.io/en/latest/spec/"


def spec_url() -> str:
    return os.environ.get("SESSIONSTORE_SPEC_URL") or SPEC_URL


def clause_url(clause_id: str) -> str:
    """Where the clause is on the documentation site."""
    return f"{spec_url()}#{clause_id}"


def _md_clauses(ids: list[str]) -> str:
    return ", ".join(f"[{cid}]({clause_url(cid)})" for cid in ids)


def console(
    file: IO[str] | None = None, *, terminal: bool | None = None, width: int | None = None
) -> Console:
    """A Console that folds lines only on a terminal: piped or redirected output (CI logs,
    ``| less``, files) keeps its long lines whole instead of rich's 80 columns.
    ``terminal``/``width``: what the caller knows better (pytest's own terminal writer)."""
    probe = Console(file=file)
    on_terminal = probe.is_terminal if terminal is None else terminal
    return Console(
        file=file,
        width=(width or probe.width) if on_terminal else UNFOLDED,
        soft_wrap=not on_terminal,
        highlight=False,
    )


@dataclass
class Failure:
    """One distinct failure: what the kit saw, once, and every clause it touches."""

    number: int
    checks: list[str]
    clauses: list[str]
    message: str
    counterexample: str
    #: only SHOULD/MAY clauses: reported, not failing (unless strict)
    non_strict: bool
    #: every clause it touches is a known failure (see :mod:`.known`)
    known: bool = False


def failures(report: Report) -> list[Failure]:
    found: dict[tuple[str, str], Failure] = {}
    for result in report.checks:
        if result.status != "failed":
            continue
        key = (result.message, result.counterexample)
        if key not in found:
            found[key] = Failure(
                len(found) + 1, [], [], result.message, result.counterexample, True
            )
        failure = found[key]
        failure.checks.append(result.check.name)
        failure.clauses += [c for c in result.blamed if c not in failure.clauses]
        failure.non_strict = failure.non_strict and result.non_strict
    known = report.options.known_failures
    for failure in found.values():
        failure.known = all(c in known for c in failure.clauses)
    return list(found.values())


def _see(report: Report, numbered: list[Failure]) -> dict[str, str]:
    """Per blamed clause: "see failure 1, 3"."""
    refs: dict[str, list[str]] = {}
    for failure in numbered:
        for clause in failure.clauses:
            refs.setdefault(clause, []).append(str(failure.number))
    return {
        clause: f"see failure{'s' if len(nums) > 1 else ''} {', '.join(nums)}"
        for clause, nums in refs.items()
    }


def _reason(result: ClauseResult, see: dict[str, str]) -> str:
    """The table's last column: the failure to see, what kept the clause unknown, or the
    checks that decided it."""
    if result.outcome in ("fail", "non-strict"):
        return see.get(result.clause.id, ", ".join(result.checks))
    if result.outcome == "known failure":
        return f"known: {result.known_reason} ({see.get(result.clause.id, 'failed')})"
    if result.outcome == "unexpected pass":
        return (
            f"marked a known failure ({result.known_reason}) but passes "
            f"({', '.join(result.checks)}): remove it from the known failures"
        )
    if result.outcome == "not claimed":
        return f"the store does not declare {result.clause.capability}"
    if result.messages:
        return "; ".join(result.messages)
    if result.outcome != "unknown" or result.checks:
        return ", ".join(result.checks)
    if result.skipped:
        return "could not run: " + "; ".join(result.skipped)
    if any(result.clause.id in check.clauses for check in REGISTRY):
        return "not run (not selected)"
    return "no check in this kit"


def replay_command(report: Report, checks: list[str]) -> str:
    parts = ["sessionstore-conformance", "run", report.target, "--profile", report.profile]
    if report.seed is not None:
        parts += ["--seed", str(report.seed)]
    if report.options.tolerance_ms is not None:
        parts += ["--tolerance-ms", str(report.options.tolerance_ms)]
    budgets = report.options.budgets
    if budgets.tier is not None:
        parts += ["--latency-tier", budgets.tier]
    for percentile, seconds in budgets.overrides.items():
        parts += ["--budget", option_text(percentile, seconds)]
    if report.options.enforce_budgets:
        parts.append("--enforce-budgets")
    if len(checks) == 1:
        parts += ["-k", checks[0]]
    return shlex.join(parts)


def summary_line(report: Report) -> str:
    tally = report.tally()
    parts = ", ".join(f"{n} {outcome}" for outcome, n in tally.items() if n)
    return (
        f"{len(report.clauses)} clauses: {parts} ({report.seconds:.1f} s, profile {report.profile})"
    )


def verdict_line(report: Report) -> str:
    """The last line: the verdict, and what it leaves unverified."""
    verdict = "FAIL" if report.failed else "PASS"
    fixed = [c.clause.id for c in report.clauses if c.outcome == "unexpected pass"]
    if fixed:
        verdict += (
            f" — known failure{'s' if len(fixed) > 1 else ''} now passing: {', '.join(fixed)} "
            "(remove from the known failures)"
        )
    unverified = report.unverified_must
    if unverified:
        clauses = f"{len(unverified)} MUST clause{'s' if len(unverified) > 1 else ''}"
        failing = [c for c in report.clauses if report.fails_run(c) and c.outcome != "unknown"]
        if not report.options.require_verified:
            how, why = ("and" if report.failed else "but"), " (--require-verified fails such a run)"
        elif failing:
            how, why = "and", ""
        else:  # nothing failed but what no check decided: say which option made it a failure
            how, why = "because --require-verified:", ""
        verdict += f" — {how} {clauses} not verified: {', '.join(unverified)}{why}"
    table = report.latency
    if table is not None and table.breaches() and not report.options.enforce_budgets:
        verdict += " — latency over budget, advisory (--enforce-budgets fails such a run)"
    return f"{verdict} — {summary_line(report)}"


def latency_heading(report: Report) -> str:
    """The line above the latency table: the budgets, and whether they fail the run."""
    table = report.latency
    assert table is not None
    how = "enforced" if report.options.enforce_budgets else "advisory"
    subtracted = "" if table.machine_time_subtracted else "; waits for a CPU not subtracted"
    return (
        f"Latency (PERF-1), {table.describe_budgets()}, {how}; median of {table.rounds} "
        f"rounds, reference: {REFERENCE}{subtracted}"
    )


def render_terminal(report: Report, out: Console) -> None:
    claimed = [name for name, on in asdict(report.capabilities).items() if on]
    header = (
        f"\n[bold]sessionstore conformance[/] — {escape(report.target)} ({report.store_type}); "
        f"capabilities: {', '.join(claimed) or 'none'}"
    )
    if report.seed is not None:
        header += f"; seed {report.seed}"
    if report.tolerance_ms is not None:
        header += f"; no injectable clock: real time, tolerance {report.tolerance_ms} ms"
    out.print(header)
    numbered = failures(report)
    see = _see(report, numbered)
    table = Table(show_lines=False, header_style="bold")
    table.add_column("clause")
    table.add_column("level")
    table.add_column("outcome")
    table.add_column("checks / reason", overflow="fold")
    for result in report.clauses:
        why = _reason(result, see)
        table.add_row(
            f"[link={clause_url(result.clause.id)}]{result.clause.id}[/link]",
            result.clause.level,
            f"[{STYLE[result.outcome]}]{result.outcome}[/]",
            escape(why),
        )
    out.print(table, width=min(out.width, TABLE_WIDTH))
    if report.latency is not None:
        render_latency(report, out)
    for failure in numbered:
        kind = "[bold red]FAIL[/]"
        if failure.known:
            kind = "[cyan]known failure[/]"
        elif failure.non_strict:
            kind = "[yellow]non-strict[/]"
        out.print(
            f"\n{kind} [bold]failure {failure.number}[/] — check {', '.join(failure.checks)}; "
            f"clauses {', '.join(failure.clauses)}\n{escape(failure.message)}"
        )
        if failure.counterexample:
            out.print(f"[bold]Counterexample:[/]\n{escape(failure.counterexample)}")
        out.print(f"replay: {escape(replay_command(report, failure.checks))}")
    style = "bold red" if report.failed else "bold green"
    out.print(f"\n[{style}]{escape(verdict_line(report))}[/]")


def render_latency(report: Report, out: Console) -> None:
    measured = report.latency
    assert measured is not None
    out.print(f"\n[bold]{escape(latency_heading(report))}[/]")
    table = Table(header_style="bold")
    for column in LATENCY_HEADER:
        table.add_column(column, justify="left" if column in ("operation", "budget") else "right")
    for row in measured.rows():
        style = "yellow" if row[-1] != "within" else ""
        table.add_row(*map(escape, row), style=style)
    out.print(table, width=min(out.width, TABLE_WIDTH))


def to_json(report: Report) -> dict[str, Any]:
    numbered = failures(report)
    return {
        "report_format_version": REPORT_FORMAT_VERSION,
        "target": report.target,
        "store_type": report.store_type,
        "capabilities": asdict(report.capabilities),
        "profile": report.profile,
        "seed": report.seed,
        "tolerance_ms": report.tolerance_ms,
        "strict": report.options.strict,
        "require_verified": report.options.require_verified,
        "known_failures": dict(report.options.known_failures),
        "enforce_budgets": report.options.enforce_budgets,
        "latency": None
        if report.latency is None
        else report.latency.to_json(report.options.enforce_budgets),
        "seconds": round(report.seconds, 3),
        "passed": not report.failed,
        "unverified_must": report.unverified_must,
        "tally": report.tally(),
        "clauses": [
            {
                "id": c.clause.id,
                "level": c.clause.level,
                "text": c.clause.text,
                "url": clause_url(c.clause.id),
                "outcome": c.outcome,
                "checks": c.checks,
                "messages": c.messages,
                "skipped": c.skipped,
                "failures": [f.number for f in numbered if c.clause.id in f.clauses],
                "known_reason": c.known_reason or None,
            }
            for c in report.clauses
        ],
        "failures": [
            {
                "number": f.number,
                "checks": f.checks,
                "clauses": f.clauses,
                "non_strict": f.non_strict,
                "known": f.known,
                "message": f.message,
                "counterexample": f.counterexample,
                "replay": replay_command(report, f.checks),
            }
            for f in numbered
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


def _kind_suffix(failure: Failure) -> str:
    if failure.known:
        return " (known failure)"
    return " (non-strict)" if failure.non_strict else ""


def to_markdown(report: Report) -> str:
    numbered = failures(report)
    see = _see(report, numbered)
    lines = [
        f"# sessionstore conformance: {report.target}",
        "",
        verdict_line(report),
        "",
        "| clause | level | outcome | checks / reason | text |",
        "|---|---|---|---|---|",
    ]
    for c in report.clauses:
        why = _reason(c, see)
        why = why.replace("|", "\\|")
        lines.append(
            f"| {c.clause.id} | {c.clause.level} | {c.outcome} | {why} | "
            f"[spec]({clause_url(c.clause.id)}) |"
        )
    if report.latency is not None:
        lines += ["", "## Latency", "", latency_heading(report), ""]
        lines += [f"| {' | '.join(LATENCY_HEADER)} |", "|---" * len(LATENCY_HEADER) + "|"]
        lines += [f"| {' | '.join(row)} |" for row in report.latency.rows()]
    for f in numbered:
        lines += [
            "",
            f"## Failure {f.number}{_kind_suffix(f)}",
            "",
            f"Check {', '.join(f.checks)}; clauses {_md_clauses(f.clauses)}.",
            "",
            f.message,
        ]
        if f.counterexample:
            lines += ["", "```", f.counterexample, "```"]
        lines += ["", f"Replay: `{replay_command(report, f.checks)}`"]
    return "\n".join(lines) + "\n"


def write_json(report: Report, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(to_json(report), out, indent=2)
        out.write("\n")
