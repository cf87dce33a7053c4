"""Running every check against a target and deciding each clause's outcome.

Theory of operation. Each selected check runs once, on fresh stores, within its time
limit (:meth:`Driver.deadline`), and ends in one :class:`CheckResult`: passed, failed
(with the clauses it blames, what the kit saw and, where a search found one, a
counterexample), skipped (a capability or test hook it needs is missing) or unknown
(it ran but could not decide). A failure is blamed as precisely as the kit can:

- a :class:`ClauseViolation` blames the clauses it names;
- Hypothesis's ``Flaky`` (the same steps passed and failed when replayed) blames the
  clauses of the violations it wraps, else every clause the check exercises, and says
  that the store's results depend on real time;
- past the time limit, a violation already seen (a search cut while shrinking) is
  blamed on its clauses; a store that did not answer fails every clause the check
  exercises; a check that merely outran its limit, the store answering, is unknown;
- an unexpected exception blames every clause the check exercises, with its traceback.

:func:`decide` then turns check results into one outcome per clause, and
:class:`Report` into the run's verdict: a failed MUST clause fails the run; a failed
SHOULD/MAY clause (non-strict) only under ``strict`` — the latency budgets (PERF-1) only
under ``enforce_budgets``; a MUST clause left unknown only under ``require_verified``;
a known failure that passes always. "not claimed" never does.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis.errors import Flaky

from sessionstore import Capabilities, SessionStoreError
from sessionstore.urls import redact, redact_text

from . import profiles
from .checks import REGISTRY, Check
from .checks.registry import HOOKS, Harness
from .clock import FakeClock
from .driver import Driver, NoAnswer
from .errors import (
    ClauseViolation,
    EmptySelection,
    Inexpressible,
    NotVerified,
    UsageError,
    witnessing,
)
from .latency import CLAUSE as BUDGET_CLAUSE
from .latency import Budgets, LatencyTable
from .spec import Clause, clauses
from .target import StoreFactory, opened, resolve

OUTCOMES = (
    "pass",
    "fail",
    "non-strict",
    "not claimed",
    "unknown",
    "known failure",
    "unexpected pass",
)


@dataclass(frozen=True)
class Options:
    """How a run is made and judged (the CLI's and the plugin's options)."""

    profile: str = "dev"
    #: the seed checks replay (``--seed``); None: a fresh one per run (none for ``ci``)
    seed: int | None = None
    #: seconds per check; None: the profile's (:data:`profiles.CHECK_TIMEOUT`)
    check_timeout: float | None = None
    #: the real-time tolerance of stores without a clock; None: the kit's default
    tolerance_ms: int | None = None
    #: a SHOULD/MAY clause that is not met fails the run too
    strict: bool = False
    #: a MUST clause left unknown fails the run too (for CI)
    require_verified: bool = False
    #: clause id -> reason: reported as "known failure"; one that passes fails the run
    known_failures: Mapping[str, str] = field(default_factory=dict)
    #: the latency budgets: tier and overrides (PERF-1)
    budgets: Budgets = field(default_factory=Budgets)
    #: an operation over its latency budget fails the run (else advisory)
    enforce_budgets: bool = False
    #: seconds each call to an ``exec:`` target may take; None: the driver's default
    call_timeout: float | None = None

    @property
    def time_limit(self) -> float:
        return self.check_timeout or profiles.CHECK_TIMEOUT[self.profile]

    def strict_about(self, clause_ids: tuple[str, ...] | list[str]) -> bool:
        """Whether SHOULD/MAY clauses not met among these fail the run: the latency
        budgets (PERF-1) with ``enforce_budgets`` (they measure the machine as well as the
        store, so ``strict`` alone leaves them advisory), any other with ``strict``."""
        return any(
            self.enforce_budgets if clause == BUDGET_CLAUSE else self.strict
            for clause in clause_ids
        )


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
    #: what the check measured, for the report (e.g. "latency": a LatencyTable)
    findings: dict[str, Any] = field(default_factory=dict)

    @property
    def non_strict(self) -> bool:
        """A failure that blames only SHOULD/MAY clauses: reported, not failing (unless
        strict)."""
        levels = clauses()
        return self.status == "failed" and all(
            c in levels and levels[c].level != "MUST" for c in self.blamed
        )


@dataclass
class ClauseResult:
    clause: Clause
    outcome: str
    checks: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: checks of this clause that could not run, with the reason
    skipped: list[str] = field(default_factory=list)
    #: why the implementer marked the clause a known failure ("": not marked)
    known_reason: str = ""


@dataclass
class Report:
    target: str
    store_type: str
    capabilities: Capabilities
    profile: str
    seconds: float
    checks: list[CheckResult]
    clauses: list[ClauseResult]
    options: Options = field(default_factory=Options)
    #: the seed the run's checks were given (to replay: ``--seed``)
    seed: int | None = None
    tolerance_ms: int | None = None

    @property
    def failed(self) -> bool:
        return any(self.fails_run(c) for c in self.clauses)

    def fails_run(self, result: ClauseResult) -> bool:
        """Whether this clause's outcome fails the run (see the module's docstring)."""
        if result.outcome in ("fail", "unexpected pass"):
            return True
        if result.outcome == "non-strict":
            return self.options.strict_about([result.clause.id])
        return (
            result.outcome == "unknown"
            and result.clause.level == "MUST"
            and self.options.require_verified
        )

    @property
    def latency(self) -> LatencyTable | None:
        """What the latency check measured (PERF-1), if it ran."""
        for result in self.checks:
            table = result.findings.get("latency")
            if isinstance(table, LatencyTable):
                return table
        return None

    @property
    def unverified_must(self) -> list[str]:
        """MUST clauses no check decided ("not claimed" ones are not among them)."""
        return [
            c.clause.id for c in self.clauses if c.outcome == "unknown" and c.clause.level == "MUST"
        ]

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
    hooks = {name for name in HOOKS if hasattr(store, name)}
    return caps, type(store).__name__, hooks


@dataclass
class Session:
    """One probed target and the harness its checks share (the CLI's run, the plugin's
    pytest session)."""

    harness: Harness
    capabilities: Capabilities
    store_type: str
    hooks: set[str]

    @classmethod
    def open(cls, driver: Driver, target: str | StoreFactory, options: Options) -> Session:
        if options.profile not in profiles.PROFILES:
            raise UsageError(
                f"unknown profile {options.profile!r}; choose from {', '.join(profiles.PROFILES)}"
            )
        factory = resolve(target, options.call_timeout)
        caps, store_type, hooks = driver.call(_probe, factory)
        settings = profiles.PROFILES[options.profile]
        seed = options.seed
        if seed is None and not settings.derandomize:
            seed = random.SystemRandom().randrange(2**32)  # chosen here, so it can be replayed
        harness = Harness(driver, factory, settings, options.profile, seed, budgets=options.budgets)
        if options.tolerance_ms is not None:
            harness.tolerance_ms = options.tolerance_ms
        return cls(harness, caps, store_type, hooks)

    def close(self) -> None:
        """Stop what the target keeps between stores (an ``exec:`` target's servers)."""
        stop = getattr(self.harness.factory, "stop_servers", None)
        if callable(stop):
            stop()

    def run(self, check: Check, time_limit: float) -> CheckResult:
        missing = [r for r in check.requires if not _has(r, self.capabilities, self.hooks)]
        if missing:
            return CheckResult(check, "skipped", message=f"needs {', '.join(missing)}")
        return run_check(check, self.harness, time_limit)


async def _run_async(check: Check, harness: Harness, findings: dict[str, Any]) -> None:
    clock = FakeClock()
    async with opened(harness.factory, clock) as store:
        await check.run(harness.context(store, clock, findings))


TIMING_DEPENDENT = (
    "results depend on real time: the same steps passed and failed (or took other "
    "branches) when Hypothesis replayed them, so no stable counterexample exists. A store "
    "that keeps its own time (expiry on the wall clock), or races, behaves so"
)


def run_check(check: Check, harness: Harness, time_limit: float | None = None) -> CheckResult:
    """Run one check within ``time_limit`` seconds and say what it found."""
    start = time.perf_counter()
    findings: dict[str, Any] = {}

    def result(
        status: str, message: str = "", blamed: tuple[str, ...] = (), counterexample: str = ""
    ) -> CheckResult:
        seconds = time.perf_counter() - start
        # a store URL's password never reaches a report (messages quote store.url)
        return CheckResult(
            check,
            status,
            seconds,
            redact_text(message),
            blamed,
            redact_text(counterexample),
            findings,
        )

    with witnessing() as seen:
        try:
            with harness.driver.deadline(time_limit):
                if check.is_async:
                    harness.driver.call(_run_async, check, harness, findings)
                else:
                    check.run(harness)
        except ClauseViolation as violation:
            found = violation.counterexample or _hypothesis_notes(violation)
            return result("failed", violation.message, violation.clauses, found)
        except NotVerified as unsure:
            return result("unknown", unsure.message)
        except Inexpressible as untold:  # a store in another process (spec/driver-protocol.md 9)
            return result("unknown", f"cannot be checked through the driver protocol: {untold}")
        except UsageError:
            raise
        except NoAnswer as late:  # a hung store: this check's clauses fail, the run goes on
            return _late(result, check, late, seen)
        except Flaky as flaky:
            return _flaky(result, check, flaky, seen)
        except Exception as exc:  # an unexpected error fails every clause the check exercises
            saw = "".join(traceback.format_exception(exc, limit=-6)).strip()
            notes = _hypothesis_notes(exc)
            return result(
                "failed",
                f"unexpected {_first_line(exc)}",
                check.clauses,
                f"{notes}\n\n{saw}" if notes else saw,
            )
    return result("passed")


def _late(
    result: Callable[..., CheckResult], check: Check, late: NoAnswer, seen: list[ClauseViolation]
) -> CheckResult:
    """Past the time limit. A violation seen before it (a search cut short while
    shrinking) is the news; else a store that did not answer fails every clause the check
    exercises; a check that merely outran its limit, the store answering every call, could
    not decide (unknown: a loaded machine is no fault of the store)."""
    if seen:
        last = seen[-1]
        return result(
            "failed",
            f"{last.message} ({late}; the last of {len(seen)} violations seen, maybe not minimal)",
            last.clauses,
            last.counterexample or _hypothesis_notes(last),
        )
    if late.waiting:
        return result("failed", str(late), check.clauses)
    return result("unknown", f"{late}, the store answering every call (see --check-timeout)")


def _flaky(
    result: Callable[..., CheckResult], check: Check, flaky: Flaky, seen: list[ClauseViolation]
) -> CheckResult:
    """The same steps passed and failed on a replay: blame the violations the kit saw
    (those Hypothesis wraps first, else any raised during the check), never the whole
    check, unless it saw none."""
    wrapped = [e for e in getattr(flaky, "exceptions", ()) if isinstance(e, ClauseViolation)]
    witnessed = wrapped or seen
    if not witnessed:
        return result(
            "failed",
            f"{TIMING_DEPENDENT}. Hypothesis: {_first_line(flaky)}",
            check.clauses,
            _hypothesis_notes(flaky),
        )
    shown = witnessed[0] if wrapped else witnessed[-1]  # the one Hypothesis kept, or the last
    blamed = tuple(dict.fromkeys(c for v in witnessed for c in v.clauses))
    found = shown.counterexample or _hypothesis_notes(shown) or _hypothesis_notes(flaky)
    seen_as = f"{len(witnessed)} violations seen; the last" if not wrapped else "First seen"
    return result("failed", f"{TIMING_DEPENDENT}. {seen_as}: {shown.message}", blamed, found)


def _first_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hypothesis_notes(exc: BaseException) -> str:
    """The falsifying example Hypothesis attaches to what it re-raises (PEP 678 notes)."""
    return "\n".join(getattr(exc, "__notes__", []))


def decide(
    results: list[CheckResult], caps: Capabilities, known: Mapping[str, str] | None = None
) -> list[ClauseResult]:
    """pass / fail (MUST) / non-strict (SHOULD, MAY) / not claimed / unknown, per clause;
    a clause in ``known`` (the known failures) that fails is a "known failure", and one
    that passes an "unexpected pass"."""
    known = known or {}
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
        if clause.id in known:
            verdict.known_reason = known[clause.id]
            if verdict.outcome in ("fail", "non-strict"):
                verdict.outcome = "known failure"
            elif verdict.outcome == "pass":
                verdict.outcome = "unexpected pass"
        decided.append(verdict)
    return decided


def make_report(
    target: str | StoreFactory,
    session: Session,
    results: list[CheckResult],
    options: Options,
    seconds: float,
) -> Report:
    return Report(
        target=redact(target)
        if isinstance(target, str)
        else getattr(target, "__qualname__", repr(target)),
        store_type=session.store_type,
        capabilities=session.capabilities,
        profile=options.profile,
        seconds=seconds,
        checks=results,
        clauses=decide(results, session.capabilities, options.known_failures),
        options=options,
        seed=session.harness.seed,
        tolerance_ms=None
        if session.capabilities.injectable_clock
        else session.harness.tolerance_ms,
    )


def run(
    target: str | StoreFactory,
    *,
    profile: str = "dev",
    select: Callable[[Check], bool] = lambda check: True,
    progress: Callable[[int, int, CheckResult], Any] | None = None,
    options: Options | None = None,
) -> Report:
    """Run every selected check against ``target``; raise UsageError for a bad target or a
    selection of no check. ``options`` (if given) overrides ``profile``."""
    options = options or Options(profile=profile)
    chosen = [c for c in REGISTRY if select(c)]
    if not chosen:
        raise EmptySelection("the selection matches no check: nothing would be verified")
    started = time.perf_counter()
    results: list[CheckResult] = []
    with Driver() as driver:
        session = Session.open(driver, target, options)
        try:
            for index, check in enumerate(chosen, 1):
                results.append(session.run(check, options.time_limit))
                if progress:
                    progress(index, len(chosen), results[-1])
        finally:
            session.close()
    return make_report(target, session, results, options, time.perf_counter() - started)
