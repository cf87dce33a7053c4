"""Races behind slow connections (tests/broken/slow.py) and the kit's concurrency checks.

First, without the kit, each slow-connection mutant is shown to let two concurrent
creates (or compare-and-sets) both win, while the correct pooled store lets one; and a
race started with one warm connection is shown to look won by one (why the kit warms
every client). Then the kit must fail each mutant on CONC-1 and its clause in one ``ci``
run, and pass the reference stores, the pooled store and a store without a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from broken.concurrent import UpdateReadAwaitWrite
from broken.slow import SLOW, CreateGetThenSet, PooledStore, ReplaceGetCompareSet
from clockless import ClocklessMemoryStore, clockless_factory

from sessionstore import SessionStore
from sessionstore_conformance.checks import Check
from sessionstore_conformance.checks.concurrency import TASKS
from sessionstore_conformance.clock import FakeClock
from sessionstore_conformance.runner import Report, run


def concurrency(check: Check) -> bool:
    return check.run.__module__.endswith(".concurrency")


def failing(report: Report) -> set[str]:
    return {c.clause.id for c in report.clauses if c.outcome == "fail"}


def show(report: Report) -> None:
    for r in report.checks:
        print(f"{r.check.name}: {r.status} in {r.seconds:.2f} s {r.message}")


async def winners(calls: list[Callable[[], Awaitable[Any]]]) -> int:
    results = await asyncio.gather(*(call() for call in calls), return_exceptions=True)
    return sum(not isinstance(r, Exception) for r in results)


async def warm(store: SessionStore, n: int) -> None:
    """n concurrent harmless calls: n connections open, as the kit makes them."""
    await asyncio.gather(*(store.get(f"warm-{i}") for i in range(n)))


async def creates(store: SessionStore, n: int) -> int:
    await warm(store, n)
    return await winners([lambda: store.create({}, id="x")] * n)


async def compare_and_sets(store: SessionStore, n: int) -> int:
    made = await store.create({})
    await warm(store, n)
    return await winners(
        [lambda: store.replace(made.id, {"n": 1}, expected_version=made.version)] * n
    )


# --- the defects, shown without the kit -------------------------------------------------


@pytest.mark.parametrize(
    ("store_type", "race", "won"),
    [
        (PooledStore, creates, 1),
        (CreateGetThenSet, creates, 2),
        (PooledStore, compare_and_sets, 1),
        (ReplaceGetCompareSet, compare_and_sets, 2),
    ],
)
def test_two_racers_both_win_only_on_the_mutant(
    store_type: type[PooledStore],
    race: Callable[[SessionStore, int], Awaitable[int]],
    won: int,
) -> None:
    async def go() -> int:
        async with store_type() as store:
            return await race(store, 2)

    assert asyncio.run(go()) == won


def test_one_warm_connection_hides_the_race() -> None:
    """The issue's miss: after one call (count), its caller has a warm connection and
    finishes before the other 49 have connected; they then all see the id taken."""

    async def go() -> tuple[int, int]:
        async with CreateGetThenSet() as store:
            await store.get("warm")  # as count() left a redis-py connection
            return await winners([lambda: store.create({}, id="x")] * 50), store.pool.opened

    won, connections = asyncio.run(go())
    assert won == 1
    assert connections == 50  # the first connection, then 49 for the late racers


# --- the kit ---------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", SLOW, ids=lambda m: m.name)
def test_kit_catches_each_slow_connection_race_in_one_ci_run(mutant: Any) -> None:
    report = run(mutant.factory, profile="ci", select=concurrency)
    show(report)
    assert {"CONC-1", mutant.expected[0]} <= failing(report)
    (result,) = [r for r in report.checks if r.status == "failed"]
    assert f"{TASKS} of {TASKS}" in result.message  # exact counts: every racer won


def test_the_pooled_store_itself_passes() -> None:
    def factory(*, clock: FakeClock) -> PooledStore:
        return PooledStore(clock=clock)

    report = run(factory, profile="ci", select=concurrency)
    show(report)
    assert [r.status for r in report.checks] == ["passed"] * len(report.checks)


@pytest.mark.parametrize("target", ["memory://", "sqlite"])
def test_reference_stores_pass_the_concurrency_checks(target: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/k.db" if target == "sqlite" else target
    report = run(url, profile="ci", select=concurrency)
    show(report)
    assert len(report.checks) >= 4
    assert [r.status for r in report.checks] == ["passed"] * len(report.checks)
    assert not failing(report)


# --- linearizability without a clock ---------------------------------------------------


def linearizable_tasks(check: Check) -> bool:
    return check.name == "linearizable_tasks"


def test_a_store_without_a_clock_is_checked_for_linearizability() -> None:
    report = run(clockless_factory, profile="ci", select=linearizable_tasks)
    show(report)
    assert [r.status for r in report.checks] == ["passed"]
    conc = next(c for c in report.clauses if c.clause.id == "CONC-1")
    assert conc.outcome == "pass"


class ClocklessLostUpdates(UpdateReadAwaitWrite, ClocklessMemoryStore):
    """UpdateReadAwaitWrite's lost updates, on the wall clock."""


def test_a_racy_store_without_a_clock_fails_linearizability() -> None:
    def factory(*, clock: FakeClock) -> ClocklessLostUpdates:
        return ClocklessLostUpdates(clock=clock)

    report = run(factory, profile="ci", select=linearizable_tasks)
    show(report)
    assert not report.capabilities.injectable_clock
    assert "CONC-1" in failing(report)
    (result,) = report.checks
    assert "not linearizable" in result.message
