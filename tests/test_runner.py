"""The runner's verdict: blame for failures of the test machinery, time limits, empty and
unverified runs. Checks are built here, not registered, so each shows one rule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition

from sessionstore.backends.memory import MemoryStore
from sessionstore_conformance.checks import Check
from sessionstore_conformance.checks.registry import Harness
from sessionstore_conformance.driver import Driver
from sessionstore_conformance.errors import ClauseViolation, EmptySelection
from sessionstore_conformance.profiles import PROFILES, seeded
from sessionstore_conformance.runner import Options, run, run_check
from sessionstore_conformance.target import resolve

EXERCISED = ("REC-1", "CREATE-2", "GET-1", "LIVE-1", "IMPORT-4")


@pytest.fixture
def harness() -> Iterator[Harness]:
    with Driver() as driver:
        yield Harness(driver, resolve("memory://"), PROFILES["ci"], "ci")


def sync_check(body: Callable[[Harness], None]) -> Check:
    return Check("probe", EXERCISED, body, requires=(), is_async=False, doc="")


def test_a_flaky_failure_is_blamed_on_the_violation_it_wraps(harness: Harness) -> None:
    calls = [0]

    def body(harness: Harness) -> None:
        @settings(harness.settings)
        @given(st.integers())
        def fails_once(n: int) -> None:  # as a store whose answer depends on real time
            calls[0] += 1
            if calls[0] == 1:
                raise ClauseViolation(("GET-1",), "get returned None for a live session")

        fails_once()

    result = run_check(sync_check(body), harness)
    assert result.status == "failed"
    assert result.blamed == ("GET-1",)  # not every clause the check exercises
    assert "results depend on real time" in result.message
    assert "get returned None for a live session" in result.message
    assert "fails_once(" in result.counterexample  # Hypothesis's failing case, kept


def test_a_flaky_definition_is_blamed_on_the_violations_seen(harness: Harness) -> None:
    def body(harness: Harness) -> None:
        ClauseViolation(("LIVE-1",), "an expired session was returned")  # seen, then hidden
        raise FlakyStrategyDefinition("Inconsistent data generation!")

    result = run_check(sync_check(body), harness)
    assert result.blamed == ("LIVE-1",)
    assert "results depend on real time" in result.message
    assert "an expired session was returned" in result.message


def test_a_flaky_definition_with_nothing_seen_blames_the_check(harness: Harness) -> None:
    def body(harness: Harness) -> None:
        raise FlakyStrategyDefinition("Inconsistent data generation!")

    result = run_check(sync_check(body), harness)
    assert result.blamed == EXERCISED
    assert "results depend on real time" in result.message
    assert "Inconsistent data generation" in result.message


def test_an_unexpected_error_says_where_it_came_from(harness: Harness) -> None:
    def body(harness: Harness) -> None:
        {}["missing"]

    result = run_check(sync_check(body), harness)
    assert result.blamed == EXERCISED
    assert result.message == "unexpected KeyError: 'missing'"
    assert "body" in result.counterexample  # the traceback: what the kit saw


class CoinFlip(MemoryStore):
    """``get`` misses a live session when the real-time clock's microsecond is odd."""

    async def get(self, id: str, *, owner: str | None = None) -> Any:
        found = await super().get(id, owner=owner)
        return None if time.perf_counter_ns() // 1000 % 2 else found


def test_a_store_that_flips_a_coin_on_real_time_is_blamed_on_get() -> None:
    report = run(
        lambda *, clock: CoinFlip(clock=clock),
        select=lambda c: c.name == "stateful",
        options=Options("ci", check_timeout=120),
    )
    (result,) = report.checks
    assert result.status == "failed"
    # a Flaky from Hypothesis used to blame all 33 clauses of the suite
    assert "GET-1" in result.blamed and len(result.blamed) <= 3, result.blamed


class Hangs(MemoryStore):
    """``get`` never answers (a dead connection without a timeout)."""

    async def get(self, id: str, *, owner: str | None = None) -> Any:
        await asyncio.Event().wait()


def test_a_hung_store_fails_its_checks_and_the_run_goes_on() -> None:
    started = time.monotonic()
    report = run(
        lambda *, clock: Hangs(clock=clock),
        select=lambda c: c.name in ("get", "export", "stateful"),
        options=Options("ci", check_timeout=0.5),
    )
    took = time.monotonic() - started
    status = {r.check.name: (r.status, r.message) for r in report.checks}
    assert status["get"] == ("failed", "no answer in 0.5 s")  # an async check
    assert status["export"] == ("passed", "")  # a fresh store for the next check
    assert status["stateful"] == ("failed", "no answer in 0.5 s")  # a sync check
    assert took < 30, took  # 0.5 s each, plus a grace for cleanup, on a loaded machine
    assert report.failed


def test_a_search_cut_at_the_time_limit_reports_what_it_saw(harness: Harness) -> None:
    def body(harness: Harness) -> None:
        @settings(harness.settings)
        @given(st.lists(st.integers(), min_size=3))
        def slow_search(ns: list[int]) -> None:
            harness.driver.call(asyncio.sleep, 0.2)  # a slow store: shrinking takes long
            raise ClauseViolation(("LIVE-1",), f"an expired session was read ({ns})")

        slow_search()

    started = time.monotonic()
    result = run_check(sync_check(body), harness, time_limit=1.0)
    assert time.monotonic() - started < 10
    assert result.blamed == ("LIVE-1",)  # not every clause the check exercises
    assert "an expired session was read" in result.message
    assert " 1 s; the last of " in result.message and "maybe not minimal" in result.message


def test_a_check_that_outruns_its_limit_on_a_live_store_is_unknown(harness: Harness) -> None:
    def body(harness: Harness) -> None:
        for _ in range(100):  # a long search on a store that answers every call
            harness.driver.call(asyncio.sleep, 0.05)

    result = run_check(sync_check(body), harness, time_limit=0.5)
    assert result.status == "unknown"  # a loaded machine is no fault of the store
    assert "did not finish within its time limit of 0.5 s" in result.message


def test_an_empty_selection_is_an_error() -> None:
    with pytest.raises(EmptySelection):
        run("memory://", select=lambda c: False)


def test_unknown_must_clauses_fail_only_when_verification_is_required() -> None:
    def only_declarations(check: Check) -> bool:
        return check.name == "declarations"

    lax = run("memory://", select=only_declarations, options=Options("ci"))
    assert not lax.failed and "REC-1" in lax.unverified_must
    assert "DUR-1" not in lax.unverified_must  # not claimed by the memory store: no failure
    required = run(
        "memory://", select=only_declarations, options=Options("ci", require_verified=True)
    )
    assert required.failed


def test_should_only_failures_are_non_strict_unless_strict() -> None:
    class NoStreaming(MemoryStore):
        export_chunks = None  # EXPORT-2 (SHOULD) not met

    def only(check: Check) -> bool:
        return check.name == "export_chunks"

    lax = run(lambda *, clock: NoStreaming(clock=clock), select=only, options=Options("ci"))
    assert lax.checks[0].non_strict and not lax.failed
    strict = run(
        lambda *, clock: NoStreaming(clock=clock), select=only, options=Options("ci", strict=True)
    )
    assert strict.failed


def test_seeded_replays_the_same_examples() -> None:
    def drawn(seed: int) -> list[int]:
        seen: list[int] = []

        @settings(max_examples=5, database=None)
        @given(st.integers())
        def record(n: int) -> None:
            seen.append(n)

        seeded(record, seed)()
        return seen

    assert drawn(7) == drawn(7)
    assert drawn(7) != drawn(8)
