"""The pytest plugin (auto-loaded through the ``pytest11`` entry point).

``pytest --sessionstore=TARGET`` (or ``sessionstore = TARGET`` in the ini file) adds one
test item per kit check, named after the check and its clause ids, and prints the
clause-by-clause report at the end of the run.

The plugin and the CLI reach the same verdict on every store: an item fails only for a
failure the CLI counts (one that blames a MUST clause; with ``--sessionstore-strict``
any). A check that finds only SHOULD/MAY clauses unmet is an xfail; one that cannot
decide is a skip (a failure with ``--sessionstore-require-verified``). At the end, the
session's exit status is the report's verdict, so MUST clauses that no item decided
fail the run under ``--sessionstore-require-verified`` as they fail the CLI's.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import pytest

from .checks import REGISTRY, Check
from .driver import Driver
from .errors import UsageError
from .latency import TIERS, Budgets, parse_budgets
from .profiles import CHECK_TIMEOUT, PROFILES
from .report import console, failures, render_terminal
from .runner import CheckResult, Options, Report, Session, make_report

_STATE = pytest.StashKey["_KitState"]()


class _KitState:
    """One driver and one probe of the store for the whole pytest session."""

    def __init__(self, target: str, options: Options) -> None:
        self.target = target
        self.options = options
        self.results: list[CheckResult] = []
        self._stack = ExitStack()
        self._session: Session | None = None

    def session(self) -> Session:
        if self._session is None:
            driver = self._stack.enter_context(Driver())
            self._session = Session.open(driver, self.target, self.options)
        return self._session

    def report(self) -> Report | None:
        if self._session is None or not self.results:
            return None
        seconds = sum(r.seconds for r in self.results)
        return make_report(self.target, self._session, self.results, self.options, seconds)

    def close(self) -> None:
        self._stack.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sessionstore", "sessionstore conformance kit")
    group.addoption(
        "--sessionstore",
        metavar="TARGET",
        default=None,
        help="Run the conformance kit against TARGET: a store URL or module:factory.",
    )
    group.addoption(
        "--sessionstore-profile",
        choices=sorted(PROFILES),
        default=None,
        help="Hypothesis effort for the kit (default: ci when $CI is set, else dev).",
    )
    group.addoption(
        "--sessionstore-seed",
        type=int,
        default=None,
        help="Seed the kit's random choices, to replay a failing run.",
    )
    group.addoption(
        "--sessionstore-check-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Time limit per kit check (default per profile: "
        + ", ".join(f"{name} {limit:g} s" for name, limit in CHECK_TIMEOUT.items())
        + ").",
    )
    group.addoption(
        "--sessionstore-tolerance-ms",
        type=int,
        default=None,
        metavar="MS",
        help="How far a store without an injectable clock may be off in real time.",
    )
    group.addoption(
        "--sessionstore-strict",
        action="store_true",
        help="A SHOULD/MAY clause that is not met fails its item (default: xfail).",
    )
    group.addoption(
        "--sessionstore-require-verified",
        action="store_true",
        help="A MUST clause left unknown (not verified) fails the run: for CI.",
    )
    group.addoption(
        "--sessionstore-latency-tier",
        choices=list(TIERS),
        default=None,
        help="The latency tier whose budgets apply (default: from the store's capabilities).",
    )
    group.addoption(
        "--sessionstore-budget",
        action="append",
        default=[],
        metavar="PCT=DURATION",
        help="A latency budget in place of the tier's, e.g. p99=2ms; repeatable.",
    )
    group.addoption(
        "--sessionstore-enforce-budgets",
        action="store_true",
        help="An operation over its latency budget fails its item and the run (default: xfail).",
    )
    parser.addini("sessionstore", "conformance kit TARGET (as --sessionstore)", default=None)


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--sessionstore") or config.getini("sessionstore")
    if target:
        profile = config.getoption("--sessionstore-profile") or (
            "ci" if os.environ.get("CI") else "dev"
        )
        options = Options(
            profile=profile,
            seed=config.getoption("--sessionstore-seed"),
            check_timeout=config.getoption("--sessionstore-check-timeout"),
            tolerance_ms=config.getoption("--sessionstore-tolerance-ms"),
            strict=config.getoption("--sessionstore-strict"),
            require_verified=config.getoption("--sessionstore-require-verified"),
            budgets=_budgets(config),
            enforce_budgets=config.getoption("--sessionstore-enforce-budgets"),
        )
        config.stash[_STATE] = _KitState(str(target), options)


def _budgets(config: pytest.Config) -> Budgets:
    try:
        overrides = parse_budgets(config.getoption("--sessionstore-budget"))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from exc
    return Budgets(config.getoption("--sessionstore-latency-tier"), overrides)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


class ConformanceFailure(Exception):
    def __init__(self, result: CheckResult, number: int) -> None:
        super().__init__(result.message)
        self.result = result
        #: its number among the report's failures, where its counterexample is printed
        self.number = number


class ConformanceItem(pytest.Item):
    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        try:
            session = state.session()
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from exc
        result = session.run(self.check, state.options.time_limit)
        state.results.append(result)
        if result.status == "skipped":
            pytest.skip(f"the store does not declare {result.message.removeprefix('needs ')}")
        if result.status == "unknown":
            if state.options.require_verified:
                raise ConformanceFailure(result, 0)
            pytest.skip(f"not verified: {result.message}")
        if result.non_strict and not state.options.strict_about(result.blamed):
            pytest.xfail(f"SHOULD/MAY not met ({', '.join(result.blamed)}): {result.message}")
        if result.status == "failed":
            report = state.report()
            assert report is not None
            number = next(f.number for f in failures(report) if self.check.name in f.checks)
            raise ConformanceFailure(result, number)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            result = excinfo.value.result
            if result.status == "unknown":
                return f"not verified (--sessionstore-require-verified): {result.message}"
            # the counterexample is printed once, in the report at the end of the run
            return (
                f"violates {', '.join(result.blamed)}: {result.message}\n"
                f"(failure {excinfo.value.number} of the sessionstore report below: "
                "counterexample and replay)"
            )
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "sessionstore-conformance", None, f"{self.name} [{', '.join(self.check.clauses)}]"


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if _STATE not in config.stash:
        return
    for check in REGISTRY:
        items.append(
            ConformanceItem.from_parent(session, name=f"sessionstore::{check.name}", check=check)
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run's exit status is the kit's verdict too (as the CLI's exit status is)."""
    state = session.config.stash.get(_STATE, None)
    report = state.report() if state is not None else None
    if report is not None and report.failed and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    report = state.report() if state is not None else None
    if report is None:
        return
    writer = terminalreporter._tw
    render_terminal(report, console(writer, terminal=writer.hasmarkup, width=writer.fullwidth))
