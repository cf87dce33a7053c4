"""The conformance kit rejects every deliberately broken store, blaming the right clause.

Each mutant in ``tests/broken`` has one bug, shown without the kit by
``test_broken_defects.py``. Here the kit's checks of the clauses the mutant names run on
it with the ``ci`` profile and must fail one of them with a violation they observed: a failure made by the test
machinery (an exception the check did not expect, such as a TypeError raised by the
broken store itself, or a check that never answered) does not count. The example checks
catch most mutants; the stateful suite (its shrinking bounded to 15 s per mutant) and the
large-store check (70,000 sessions) run only for the mutants flagged ``stateful`` or
``large``. The reference memory store itself gets the full kit.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable
from typing import Any

import pytest
from broken import CONCURRENT, GALLERY, Mutant
from broken.stores import ListingStopsAtPageLimit

from sessionstore.backends.memory import MemoryStore
from sessionstore_conformance.checks import Check, scale
from sessionstore_conformance.clock import FakeClock
from sessionstore_conformance.runner import CheckResult, Report, run


def failing(report: Report) -> set[str]:
    return {c.clause.id for c in report.clauses if c.outcome == "fail"}


#: How runner.run_check words failures of the test machinery rather than of the contract:
#: an exception the check did not expect (a crash of the store or of the kit), no answer.
MACHINERY = ("unexpected ", "no answer in ")


def observed(result: CheckResult) -> bool:
    """A failure the check observed: a clause violation, not a crash or a time-out."""
    return result.status == "failed" and not result.message.startswith(MACHINERY)


def checks_for(mutant: Mutant) -> Callable[[Check], bool]:
    """The checks that name one of the clauses the mutant breaks: a check of other clauses
    cannot be the one that must catch it, and running them all cost ~4 s a mutant."""

    def select(check: Check) -> bool:
        if not set(check.clauses) & set(mutant.expected):
            return False
        # The linearizability checks are left to the concurrency-only mutants below: every
        # bug shows in concurrent histories too, and shrinking those costs 10-50 s a mutant.
        if check.name.startswith("linearizable"):
            return False
        if check.name == "latency_budgets":  # tests/test_latency_budgets.py: the slow store
            return False
        if check.name == "large_store":
            return mutant.large
        return mutant.stateful or not check.name.startswith("stateful")

    return select


@functools.cache
def kit_report(mutant: Mutant) -> Report:
    """The kit's ci run on ``mutant`` (once: the large-store tests read it too)."""
    return run(mutant.factory, profile="ci", select=checks_for(mutant))


@pytest.mark.parametrize("mutant", GALLERY, ids=lambda m: m.name)
def test_kit_rejects_broken_store(mutant: Mutant) -> None:
    report = kit_report(mutant)
    caught = failing(report)
    print(f"{mutant.name}: expected {' or '.join(mutant.expected)}; kit failed {sorted(caught)}")
    failed = [r for r in report.checks if r.status == "failed"]
    for result in failed:
        print(f"  {result.check.name} blamed {list(result.blamed)}: {result.message[:200]}")
    assert report.failed, f"the kit passed {mutant.name}: {mutant.store_type.__doc__}"
    named = set(mutant.expected)
    crashes = [r for r in failed if not observed(r) and named & set(r.blamed)]
    assert not crashes, (
        f"{mutant.name} was blamed on {named & set(crashes[0].blamed)} by the machinery, "
        f"not by a violation: {crashes[0].check.name}: {crashes[0].message}"
    )
    seen = {clause for r in failed if observed(r) for clause in r.blamed}
    assert caught & seen & named, (
        f"{mutant.name} was rejected, but not for {mutant.expected}: failing {sorted(caught)}"
    )


def test_kit_passes_the_reference_memory_store(memory_kit_report: Report) -> None:
    report = memory_kit_report  # the same kit and profile as the gallery's runs
    assert failing(report) == set()
    assert not report.failed
    assert any(r.check.name == "stateful" and r.status == "passed" for r in report.checks)


# --- the large-store check (checks/scale.py) ----------------------------------------------


def _large_store(check: Check) -> bool:
    return check.name == "large_store"


def test_large_store_check_blames_a_scan_that_stops_at_10000() -> None:
    (mutant,) = [m for m in GALLERY if m.store_type is ListingStopsAtPageLimit]
    (result,) = [r for r in kit_report(mutant).checks if _large_store(r.check)]
    print(result.message)
    assert observed(result), result.message
    # count and list are cut short, export is not: each reading is blamed on its own clause
    assert set(result.blamed) == {"COUNT-1", "LIST-2"}
    assert "count() is 10,000 for 11,000 live sessions" in result.message  # the first stage


def test_large_store_check_is_unknown_when_the_store_fills_too_slowly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(scale.BUDGET_S, "ci", 0.0)  # no time to fill: nothing stored
    report = run("memory://", profile="ci", select=_large_store)
    (result,) = report.checks
    assert result.status == "unknown"
    assert result.message.startswith("only 0 sessions stored"), result.message
    assert {c.clause.id: c.outcome for c in report.clauses}["COUNT-1"] == "unknown"


def test_large_store_check_says_how_far_it_got_below_65536(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(scale.TARGET, "ci", 11_000)  # as if the fill had run out of time there
    with pytest.warns(scale.LargeStoreWarning, match="hold for 11,000 sessions"):
        report = run("memory://", profile="ci", select=_large_store)
    assert [r.status for r in report.checks] == ["passed"]


class SlowPages(MemoryStore):
    """A correct store whose every page takes 10 ms, as over a slow network, while its
    import is as fast as the memory store's: it reads back far slower than it fills."""

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Any:
        await asyncio.sleep(0.01)
        return await super().list(cursor=cursor, limit=limit)


def test_large_store_check_decides_a_store_that_reads_slower_than_it_fills(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fill must leave time to read back: filled to 70,000 in a few seconds, this store
    takes 19 s to walk with limit=37, so a check that fills first and reads after runs out
    of a 12 s budget and decides nothing (the old kit: unknown). In two stages it is
    decided past 10,000 at least."""
    monkeypatch.setitem(scale.BUDGET_S, "ci", 12.0)
    with pytest.warns(scale.LargeStoreWarning, match="hold for"):
        report = run(SlowPages, profile="ci", select=_large_store)
    (result,) = report.checks
    assert result.status == "passed", result.message


class ImportRefused(MemoryStore):
    """A store whose import_ always fails: the fill must go on by create."""

    async def import_(self, doc: Any, *, on_conflict: Any = "error") -> Any:
        raise NotImplementedError("no import here")


def test_large_store_fill_falls_back_to_concurrent_create() -> None:
    async def fill() -> tuple[int, str, int]:
        async with ImportRefused(clock=FakeClock()) as store:
            ids = scale.generated_ids(3000, random.Random(1))
            await store.create(id=ids[0])  # as if a failed import had written it after all
            stored, how = await scale.fill(store, ids, scale.Budget("ci"))
            return stored, how, await store.count()

    stored, how, count = asyncio.run(fill())
    assert (stored, count) == (3000, 3000)
    assert how == "import_ of JSON text, then import_ of a mapping, then concurrent create"


# --- concurrency-only mutants: the linearizability check is what rejects them -------------


def _linearizability(check: Check) -> bool:
    return check.name.startswith("linearizable")


def _sequential(check: Check) -> bool:
    return not _linearizability(check) and not check.run.__module__.endswith(".concurrency")


@pytest.mark.parametrize("mutant", CONCURRENT, ids=lambda m: m.name)
def test_linearizability_rejects_racy_store(mutant: Mutant) -> None:
    # One derandomized run must catch it, whatever the load: the kit warms its clients,
    # releases them at a barrier and plays fixed duels before the generated scenarios.
    caught = run(mutant.factory, profile="ci", select=_linearizability)
    for result in caught.checks:
        if result.status == "failed":
            print(f"{mutant.name}: {result.check.name} blamed {list(result.blamed)}")
            print(result.counterexample)
    assert "CONC-1" in failing(caught), f"the linearizability checks passed {mutant.name}"


@pytest.mark.slow  # the whole sequential kit, four times: about a minute of the fast suite
@pytest.mark.parametrize("mutant", CONCURRENT, ids=lambda m: m.name)
def test_only_linearizability_rejects_racy_store(mutant: Mutant) -> None:
    """The "only": every sequential check passes the racy store, so the catch above is the
    linearizability checks' alone (the mutant's one bug is not atomic, not wrong)."""
    sequential = run(mutant.factory, profile="ci", select=_sequential)
    assert failing(sequential) == set(), f"{mutant.name} should pass every sequential check"
    assert any(r.check.name == "stateful" and r.status == "passed" for r in sequential.checks)
