"""The pytest plugin (auto-loaded through the ``pytest11`` entry point).

``pytest --sessionstore=TARGET`` (or ``sessionstore = TARGET`` in the ini file) adds one
test item per kit check, named after the check and its clause ids, and prints the
clause-by-clause report at the end of the run.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import pytest
from rich.console import Console

from .checks import REGISTRY, Check
from .checks.registry import Harness
from .driver import Driver
from .errors import UsageError
from .profiles import PROFILES
from .report import render_terminal
from .runner import CheckResult, Report, _has, _probe, decide, run_check
from .target import resolve

_STATE = pytest.StashKey["_KitState"]()


class _KitState:
    """One driver and one probe of the store for the whole pytest session."""

    def __init__(self, target: str, profile: str) -> None:
        self.target = target
        self.profile = profile
        self.results: list[CheckResult] = []
        self._stack = ExitStack()
        self._harness: Harness | None = None
        self.caps: Any = None
        self.store_type = ""
        self.hooks: set[str] = set()

    def harness(self) -> Harness:
        if self._harness is None:
            factory = resolve(self.target)
            driver = self._stack.enter_context(Driver())
            self.caps, self.store_type, self.hooks = driver.call(_probe, factory)
            self._harness = Harness(driver, factory, PROFILES[self.profile], self.profile)
        return self._harness

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
    parser.addini("sessionstore", "conformance kit TARGET (as --sessionstore)", default=None)


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--sessionstore") or config.getini("sessionstore")
    if target:
        profile = config.getoption("--sessionstore-profile") or (
            "ci" if os.environ.get("CI") else "dev"
        )
        config.stash[_STATE] = _KitState(str(target), profile)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


class ConformanceFailure(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class ConformanceItem(pytest.Item):
    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        try:
            harness = state.harness()
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from exc
        missing = [r for r in self.check.requires if not _has(r, state.caps, state.hooks)]
        if missing:
            state.results.append(
                CheckResult(self.check, "skipped", message=f"needs {', '.join(missing)}")
            )
            pytest.skip(f"the store does not declare {', '.join(missing)}")
        result = run_check(self.check, harness)
        state.results.append(result)
        if result.status == "failed":
            raise ConformanceFailure(result)
        if result.status == "unknown":
            pytest.skip(f"not verified: {result.message}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            result = excinfo.value.result
            text = f"violates {', '.join(result.blamed)}: {result.message}"
            if result.counterexample:
                text += f"\n\ncounterexample:\n{result.counterexample}"
            return text
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


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.results:
        return
    report = Report(
        state.target,
        state.store_type,
        state.caps,
        state.profile,
        sum(r.seconds for r in state.results),
        state.results,
        decide(state.results, state.caps),
    )
    console = Console(file=terminalreporter._tw, force_terminal=False, width=120, highlight=False)
    render_terminal(report, console)
