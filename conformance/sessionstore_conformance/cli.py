"""``sessionstore-conformance``: run the kit against a store and print the clause report.

Exit status: 0 no claimed MUST clause fails; 1 a MUST clause fails (with ``--strict``,
a SHOULD/MAY clause too; with ``--enforce-budgets``, an operation over its latency
budget, PERF-1; with ``--require-verified``, a MUST clause left unknown too; a clause
listed as a known failure that passes, always); 2 bad usage, including a selection of
no check, an unreadable known-failures file, a malformed ``--budget``, and a kit that cannot run
because the ``conformance`` extra is not installed (one line that names it).

The options and ``--help`` need nothing of the kit; each command imports it when run.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING, TextIO

import click

from .extra import MissingExtra, load_kit
from .time_limits import CHECK_TIMEOUT, PROFILE_NAMES, TIER_NAMES

if TYPE_CHECKING:
    from .runner import CheckResult

MARK = {
    "passed": "[green]ok[/]",
    "failed": "[bold red]FAIL[/]",
    "skipped": "[dim]skipped[/]",
    "unknown": "[yellow]not verified[/]",
}


def _require_kit() -> None:
    """Exit 2 with one line when the kit cannot run: the ``conformance`` extra is missing."""
    try:
        load_kit()
    except MissingExtra as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sessionstore")
def main() -> None:
    """The sessionstore conformance kit: checks a session store, clause by clause."""


@main.command(name="run")
@click.argument("target")
@click.option(
    "--profile",
    type=click.Choice(PROFILE_NAMES),
    default="dev",
    show_default=True,
    help="Hypothesis effort: ci (derandomized), dev, thorough.",
)
@click.option(
    "-k",
    "--only",
    "only",
    metavar="TEXT",
    help="Run only the checks whose name or clause ids contain TEXT.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the report as JSON to this file.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the report as Markdown to this file.",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the report as JUnit XML to this file: one test case per clause.",
)
@click.option(
    "--known-failures",
    "known_path",
    type=click.Path(dir_okay=False),
    envvar="SESSIONSTORE_KNOWN_FAILURES",
    help="A TOML file of clauses the store is known to fail, with reasons ([known-failures] "
    "or pyproject.toml's [tool.sessionstore-conformance.known-failures]): reported as "
    "known failures; one that passes fails the run.",
)
@click.option(
    "--save-histories",
    "histories_dir",
    type=click.Path(file_okay=False),
    envvar="SESSIONSTORE_SAVE_HISTORIES",
    help="Save concurrent histories of failing or unverified checks here (Porcupine JSON).",
)
@click.option(
    "--seed",
    type=int,
    help="Seed the checks' random choices, to replay a failing run (the report prints it).",
)
@click.option(
    "--call-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="exec: targets: time limit per call; a server that does not answer in time is "
    "stopped and the call raises StoreUnavailable with its stderr. Default 30 s.",
)
@click.option(
    "--check-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Time limit per check; a store that does not answer in time fails that check's "
    "clauses. Default per profile: "
    + ", ".join(f"{name} {limit:g} s" for name, limit in CHECK_TIMEOUT.items())
    + ".",
)
@click.option(
    "--tolerance-ms",
    type=click.IntRange(min=0),
    metavar="MS",
    help="How far a store without an injectable clock may be off in real time.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="A SHOULD/MAY clause that is not met fails the run too (latency budgets only with "
    "--enforce-budgets).",
)
@click.option(
    "--require-verified",
    is_flag=True,
    help="A MUST clause left unknown (not verified) fails the run too: for CI.",
)
@click.option(
    "--latency-tier",
    type=click.Choice(list(TIER_NAMES)),
    help="The latency tier whose budgets apply (PERF-1). Default from the store's "
    "capabilities: multi_host network, durable or multi_process local-disk, else in-process.",
)
@click.option(
    "--budget",
    "budget_texts",
    multiple=True,
    metavar="PCT=DURATION",
    help="A latency budget in place of the tier's, e.g. p99=2ms (p50, p99 or p99.9; us, ms "
    "or s); repeatable.",
)
@click.option(
    "--enforce-budgets",
    is_flag=True,
    help="An operation over its latency budget fails the run (default: advisory).",
)
@click.option("-q", "--quiet", is_flag=True, help="No per-check progress lines.")
def run_command(
    target: str,
    profile: str,
    only: str | None,
    json_path: str | None,
    markdown_path: str | None,
    junit_path: str | None,
    known_path: str | None,
    histories_dir: str | None,
    seed: int | None,
    call_timeout: float | None,
    check_timeout: float | None,
    tolerance_ms: int | None,
    strict: bool,
    require_verified: bool,
    latency_tier: str | None,
    budget_texts: tuple[str, ...],
    enforce_budgets: bool,
    quiet: bool,
) -> None:
    """Check the store TARGET: a store URL (memory://) or package.module:factory, a
    callable taking the keyword `clock` and returning a store, an awaitable of one,
    or an async context manager yielding one. Each call must give a fresh, empty store.
    'exec:COMMAND ARGS' runs a store in any language behind the driver protocol
    (spec/driver-protocol.md)."""
    _require_kit()
    from rich.markup import escape

    from .errors import EmptySelection, UsageError
    from .junit import write_junit
    from .known import load_known_failures
    from .latency import Budgets, parse_budgets
    from .linearizability import save_histories_to
    from .report import console as make_console
    from .report import render_terminal, to_markdown, write_json
    from .runner import Options, run

    console = make_console()
    if histories_dir:
        save_histories_to(histories_dir)

    def progress(index: int, total: int, result: CheckResult) -> None:
        if not quiet:
            mark = "[yellow]non-strict[/]" if result.non_strict else MARK[result.status]
            # a glimpse only: the report prints each failure once, in full
            brief = result.message if len(result.message) <= 100 else result.message[:99] + "…"
            note = f" — {escape(brief)}" if result.status != "passed" else ""
            console.print(
                f"\\[{index:>2}/{total}] {result.check.name:<32} {mark} "
                f"({result.seconds:.2f} s){note}",
                soft_wrap=True,
            )

    def chosen(check: object) -> bool:
        name = getattr(check, "name", "")
        ids = getattr(check, "clauses", ())
        return only is None or only in name or any(only in c for c in ids)

    try:
        known = load_known_failures(known_path) if known_path else {}
        options = Options(
            profile,
            seed,
            check_timeout,
            tolerance_ms,
            strict,
            require_verified,
            known,
            budgets=Budgets(latency_tier, parse_budgets(budget_texts)),
            enforce_budgets=enforce_budgets,
            call_timeout=call_timeout,
        )
        with warnings.catch_warnings():
            shown = warnings.showwarning

            def show(
                message: Warning | str,
                category: type[Warning],
                filename: str,
                lineno: int,
                file: TextIO | None = None,
                line: str | None = None,
            ) -> None:
                """The kit's own warnings (LargeStoreWarning) as one line among the
                progress lines, not Python's default: its file, line and source line."""
                if f"{os.sep}sessionstore_conformance{os.sep}" not in filename:
                    shown(message, category, filename, lineno, file, line)
                else:
                    console.print(
                        f"warning ({category.__name__}): {escape(str(message))}", soft_wrap=True
                    )

            warnings.showwarning = show
            report = run(target, select=chosen, progress=progress, options=options)
    except EmptySelection:
        console.print(
            f"[bold red]error:[/] -k {escape(repr(only))} matches no check name or clause id"
        )
        sys.exit(2)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")  # e.g. 'sessionstore[redis]'
        sys.exit(2)
    render_terminal(report, console)
    if json_path:
        write_json(report, json_path)
    if markdown_path:
        with open(markdown_path, "w", encoding="utf-8") as out:
            out.write(to_markdown(report))
    if junit_path:
        write_junit(report, junit_path)
    sys.exit(1 if report.failed else 0)


@main.command(name="clauses")
@click.option(
    "--requirements",
    "by_requirement",
    is_flag=True,
    help="Instead, a Markdown table of each capability and test hook: the clauses not "
    "claimed and those left unknown without it, and the checks that need it.",
)
def clauses_command(by_requirement: bool) -> None:
    """List the spec's clauses and the checks that verify each."""
    _require_kit()
    from .checks import REGISTRY
    from .spec import clauses

    if by_requirement:
        from .requirements import markdown_table, requirements

        click.echo(markdown_table(requirements()))
        return

    for clause in clauses().values():
        names = [c.name for c in REGISTRY if clause.id in c.clauses]
        click.echo(f"{clause.id:<10} {clause.level:<6} {', '.join(names) or '(no check)'}")


if __name__ == "__main__":
    main()
