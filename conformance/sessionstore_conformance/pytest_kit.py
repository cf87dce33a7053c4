"""The kit as pytest items: what ``pytest --sessionstore=TARGET`` runs (the options are
:mod:`.plugin`'s, which loads this module, and with it the kit, only when given a target).

The plugin and the CLI reach the same verdict on every store: an item fails only for a
failure the CLI counts (one that blames a MUST clause; with ``--sessionstore-strict``
any). A check that finds only SHOULD/MAY clauses unmet, or only clauses listed as known
failures (``--sessionstore-known-failures``), is an xfail; one that cannot
decide is a skip (a failure with ``--sessionstore-require-verified``). At the end, the
session's exit status is the report's verdict, so MUST clauses that no item decided
fail the run under ``--sessionstore-require-verified`` as they fail the CLI's.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any

import pytest

from .checks import REGISTRY, Check
from .driver import Driver
from .errors import UsageError
from .known import load_known_failures
from .latency import Budgets, parse_budgets
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


def start(config: pytest.Config, target: str) -> None:
    """Run the kit against ``target`` in this pytest session: its items, its report."""
    profile = config.getoption("--sessionstore-profile") or (
        "ci" if os.environ.get("CI") else "dev"
    )
    known_path = config.getoption("--sessionstore-known-failures") or config.getini(
        "sessionstore_known_failures"
    )
    try:
        known = load_known_failures(str(known_path)) if known_path else {}
        overrides = parse_budgets(config.getoption("--sessionstore-budget"))
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = Options(
        profile=profile,
        seed=config.getoption("--sessionstore-seed"),
        check_timeout=config.getoption("--sessionstore-check-timeout"),
        tolerance_ms=config.getoption("--sessionstore-tolerance-ms"),
        strict=config.getoption("--sessionstore-strict"),
        require_verified=config.getoption("--sessionstore-require-verified"),
        known_failures=known,
        budgets=Budgets(config.getoption("--sessionstore-latency-tier"), overrides),
        enforce_budgets=config.getoption("--sessionstore-enforce-budgets"),
        call_timeout=config.getoption("--sessionstore-call-timeout"),
    )
    config.stash[_STATE] = _KitState(target, options)
    config.pluginmanager.register(sys.modules[__name__], "sessionstore-kit")


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
        known = state.options.known_failures
        if result.status == "failed" and all(c in known for c in result.blamed):
            reasons = "; ".join(f"{c}: {known[c]}" for c in result.blamed)
            pytest.xfail(f"known failure ({reasons}): {result.message}")
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
