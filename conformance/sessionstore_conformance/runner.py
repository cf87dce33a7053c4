"""Running every check against a target and deciding each clause's outcome."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sessionstore import Capabilities, SessionStoreError

from . import profiles
from .checks import REGISTRY, Check, Ctx
from .checks.registry import Harness
from .clock import FakeClock
from .driver import Driver
from .errors import ClauseViolation, NotVerified, UsageError
from .spec import Clause, clauses
from .target import StoreFactory, opened, resolve

OUTCOMES = ("pass", "fail", "non-strict", "not claimed", "unknown")


@dataclass
class CheckResult:
    check: Check
    #: passed / failed / skipped (a capability or test hook it needs is missing) /
    #: unknown (it ran but could not decide, e.g. a time bound: never counted as a pass)
    status: str
    seconds: float = 0.0
    message: str = ""
    #: the clauses a failure blames (a subset of, or beyond, the check's own)
    blamed: tuple[str, ...] = ()
    counterexample: str = ""


@dataclass
class ClauseResult:
    clause: Clause
    outcome: str
    checks: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: checks of this clause that could not run, with the reason
    skipped: list[str] = field(default_factory=list)


@dataclass
class Report:
    target: str
    store_type: str
    capabilities: Capabilities
    profile: str
    seconds: float
    checks: list[CheckResult]
    clauses: list[ClauseResult]

    @property
    def failed(self) -> bool:
        return any(c.outcome == "fail" for c in self.clauses)

    def tally(self) -> dict[str, int]:
        return {o: sum(1 for c in self.clauses if c.outcome == o) for o in OUTCOMES}


def _has(requirement: str, caps: Capabilities, hooks: set[str]) -> bool:
    return bool(getattr(caps, requirement)) if hasattr(caps, requirement) else requirement in hooks


async def _probe(factory: StoreFactory) -> tuple[Capabilities, str, set[str]]:
    """Open one store to learn what it declares; a target that cannot open is bad usage."""
    try:
        async with opened(factory, FakeClock()) as store:
            return _declared(store)
    except SessionStoreError as exc:
        raise UsageError(f"cannot open the store: {exc}") from exc


def _declared(store: Any) -> tuple[Capabilities, str, set[str]]:
    caps = getattr(store, "capabilities", None)
    if not isinstance(caps, Capabilities):
        caps = Capabilities()  # declaring nothing claims nothing
    hooks = {
        name
        for name in ("corrupt_for_testing", "disconnect_for_testing", "url")
        if hasattr(store, name)
    }
    return caps, type(store).__name__, hooks


async def _run_async(check: Check, harness: Harness) -> None:
    clock = FakeClock()
    async with opened(harness.factory, clock) as store:
        await check.run(Ctx(store, clock, harness.factory, harness.profile, harness.seed))


def run_check(check: Check, harness: Harness) -> CheckResult:
    start = time.perf_counter()
    try:
        if check.is_async:
            harness.driver.call(_run_async, check, harness)
        else:
            check.run(harness)
    except ClauseViolation as violation:
        return CheckResult(
            check,
            "failed",
            time.perf_counter() - start,
            violation.message,
            violation.clauses,
            violation.counterexample,
        )
    except NotVerified as unsure:
        return CheckResult(check, "unknown", time.perf_counter() - start, unsure.message)
    except UsageError:
        raise
    except Exception as exc:  # an unexpected error fails every clause the check names
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return CheckResult(
            check, "failed", time.perf_counter() - start, f"unexpected {detail}", check.clauses
        )
    return CheckResult(check, "passed", time.perf_counter() - start)


def decide(results: list[CheckResult], caps: Capabilities) -> list[ClauseResult]:
    """pass / fail (MUST) / non-strict (SHOULD, MAY) / not claimed / unknown, per clause."""
    decided = []
    for clause in clauses().values():
        verdict = ClauseResult(clause, "unknown")
        ran = [r for r in results if clause.id in r.check.clauses and r.status != "skipped"]
        blamed = [r for r in results if r.status == "failed" and clause.id in r.blamed]
        verdict.checks = sorted({r.check.name for r in ran + blamed})
        verdict.skipped = [
            f"{r.check.name} ({r.message})"
            for r in results
            if clause.id in r.check.clauses and r.status == "skipped"
        ]
        verdict.messages = [f"{r.check.name}: {r.message}" for r in blamed]
        unsure = [r for r in ran if r.status == "unknown"]
        if clause.capability and not getattr(caps, clause.capability):
            verdict.outcome = "not claimed"
        elif blamed:
            verdict.outcome = "fail" if clause.level == "MUST" else "non-strict"
        elif unsure:  # one undecided check leaves the clause unverified, whatever else passed
            verdict.messages = [f"{r.check.name}: {r.message}" for r in unsure]
        elif any(r.status == "passed" for r in ran):
            verdict.outcome = "pass"
        decided.append(verdict)
    return decided


def run(
    target: str | StoreFactory,
    *,
    profile: str = "dev",
    select: Callable[[Check], bool] = lambda check: True,
    progress: Callable[[int, int, CheckResult], Any] | None = None,
) -> Report:
    """Run every selected check against ``target``; raise UsageError for a bad target."""
    if profile not in profiles.PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose from {', '.join(profiles.PROFILES)}")
    factory = resolve(target)
    chosen = [c for c in REGISTRY if select(c)]
    started = time.perf_counter()
    results: list[CheckResult] = []
    with Driver() as driver:
        caps, store_type, hooks = driver.call(_probe, factory)
        harness = Harness(driver, factory, profiles.PROFILES[profile], profile)
        for index, check in enumerate(chosen, 1):
            missing = [r for r in check.requires if not _has(r, caps, hooks)]
            if missing:
                result = CheckResult(check, "skipped", message=f"needs {', '.join(missing)}")
            else:
                result = run_check(check, harness)
            results.append(result)
            if progress:
                progress(index, len(chosen), result)
    return Report(
        target=target if isinstance(target, str) else getattr(target, "__qualname__", repr(target)),
        store_type=store_type,
        capabilities=caps,
        profile=profile,
        seconds=time.perf_counter() - started,
        checks=results,
        clauses=decide(results, caps),
    )
