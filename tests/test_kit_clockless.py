"""The kit's real-time mode: stores without an injectable clock get every MUST clause
decided, except those that need a test hook the store lacks; broken ones are failed on
the clause they break, and a slow machine makes a clause unknown, never failed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from broken.clockless import ExpiresEarly, ExpiresLate, expires_early, expires_late, rounds_floats
from clockless import ClocklessMemoryStore, clockless_factory

from sessionstore import Session
from sessionstore.semantics import to_ms
from sessionstore_conformance import REGISTRY, clauses
from sessionstore_conformance.checks.realtime import Span, due, mode_line, wall_ms
from sessionstore_conformance.runner import Report, run

#: The checks that let sessions expire (they sleep in real-time mode).
EXPIRY_CHECKS = {
    "create_over_expired",
    "get_never_extends",
    "expiry_boundary",
    "expired_invisible",
    "purge",
    "purge_cost",
    "import_expired",
}


def outcomes(report: Report) -> dict[str, str]:
    return {c.clause.id: c.outcome for c in report.clauses}


def messages(report: Report, clause: str) -> str:
    return "\n".join(next(c.messages for c in report.clauses if c.clause.id == clause))


def naming(*clause_ids: str) -> Any:
    return lambda check: any(c in check.clauses for c in clause_ids)


@pytest.fixture(scope="module")
def report() -> Report:
    return run(clockless_factory, profile="ci")


def test_the_store_declares_no_clock() -> None:
    assert not ClocklessMemoryStore().capabilities.injectable_clock


def test_every_must_clause_is_decided_but_those_needing_a_missing_hook(report: Report) -> None:
    store = ClocklessMemoryStore()
    lacking = {
        need
        for check in REGISTRY
        for need in check.requires
        if not getattr(store.capabilities, need, False) and not hasattr(store, need)
    }
    # A MUST clause may stay unknown only if every check of it needs a hook the store
    # lacks; needing the injected clock is no excuse (LIVE-4 aside: not claimed).
    excused = {
        c.id
        for c in clauses().values()
        if c.level == "MUST"
        and c.capability is None
        and all(
            set(check.requires) & (lacking - {"injectable_clock"})
            for check in REGISTRY
            if c.id in check.clauses
        )
    }
    assert excused == {"ERR-4"}  # needs disconnect_for_testing: a memory store has no backend
    unknown = {
        c.clause.id for c in report.clauses if c.outcome == "unknown" and c.clause.level == "MUST"
    }
    assert unknown == excused, {cid: messages(report, cid) for cid in unknown}
    assert not report.failed, [
        (c.clause.id, c.messages) for c in report.clauses if c.outcome == "fail"
    ]
    decided = outcomes(report)
    for clause in (
        "REC-2",
        "REC-4",
        "LIVE-1",
        "LIVE-2",
        "LIVE-3",
        "CREATE-4",
        "GET-2",
        "TTL-1",
        "TTL-2",
        "PURGE-1",
        "PURGE-2",
        "IMPORT-3",
    ):
        assert decided[clause] == "pass", clause
    assert decided["LIVE-4"] == "not claimed"


def test_real_time_mode_sleeps_little(report: Report) -> None:
    # purge_cost's 20,000 creates are work, not sleep: the rest is ~6.5 s of sleeping
    taken = sum(r.seconds for r in report.checks if r.check.name in EXPIRY_CHECKS - {"purge_cost"})
    assert taken < 15, taken


def test_reads_are_decided_by_intervals() -> None:
    created = Span(1000, 1010)
    expiry = created.after(1000)  # the store's now was in [1000, 1010]: expiry in [2000, 2010]
    assert due(expiry, Span(1700, 1749), 250) is False  # returned before 2000 - 250: live
    assert due(expiry, Span(1700, 1750), 250) is None  # in between: decides nothing
    assert due(expiry, Span(2259, 2300), 250) is None
    assert due(expiry, Span(2260, 2300), 250) is True  # invoked at 2010 + 250: gone
    exact = Span(5000, 5000).after(1000)  # the injected clock: exact, tolerance 0
    assert due(exact, Span(5999, 5999), 0) is False
    assert due(exact, Span(6000, 6000), 0) is True


def test_the_mode_line_states_the_tolerance() -> None:
    assert "250 ms" in mode_line(False)
    assert "real-time" in mode_line(False, 250)
    assert "injected clock" in mode_line(True)


# --- a correct store on a slow machine: unknown, never failed ---------------------------


class SlowReads(ClocklessMemoryStore):
    """Correct, but every get takes 400 ms: no read just before an expiry can be judged."""

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        found = await super().get(id, owner=owner)
        await asyncio.sleep(0.4)
        return found


def test_a_slow_store_is_not_verified_rather_than_failed() -> None:
    report = run(
        lambda *, clock: SlowReads(), profile="ci", select=lambda c: c.name == "expiry_boundary"
    )
    assert outcomes(report)["LIVE-1"] == "unknown"
    assert "results depend on real time" in messages(report, "LIVE-1")


# --- broken stores: first shown to differ directly, then failed by the kit -------------


async def first_read(store: ClocklessMemoryStore, ttl: float) -> Session | None:
    """get right after create, from a read that returned before the expiry."""
    for _ in range(5):
        made = await store.create({"a": 1}, ttl=ttl)
        got = await store.get(made.id)
        assert made.expires_at is not None
        if wall_ms() < to_ms(made.expires_at):
            return got
    pytest.fail(f"no read returned within {ttl} s of its create")


@pytest.mark.anyio
async def test_expires_early_hides_a_session_before_its_expiry() -> None:
    assert await first_read(ExpiresEarly(), ttl=0.5) is None  # 600 ms ahead: already gone
    assert await first_read(ClocklessMemoryStore(), ttl=0.5) is not None


@pytest.mark.anyio
async def test_expires_late_shows_a_session_after_its_expiry() -> None:
    for store in (ExpiresLate(), ClocklessMemoryStore()):
        made = await store.create({"a": 1}, ttl=0.001)
        await asyncio.sleep(0.05)
        assert made.expires_at is not None and wall_ms() > to_ms(made.expires_at)
        got = await store.get(made.id)
        assert (got is not None) == isinstance(store, ExpiresLate)


def test_kit_fails_a_store_that_expires_early() -> None:
    report = run(expires_early, profile="ci", select=naming("LIVE-1"))
    assert outcomes(report)["LIVE-1"] == "fail"
    said = messages(report, "LIVE-1")
    assert "get returned None" in said and "must stay live" in said and "unexpected" not in said


def test_kit_fails_a_store_that_expires_late() -> None:
    report = run(expires_late, profile="ci", select=naming("LIVE-1", "LIVE-2"))
    assert outcomes(report)["LIVE-1"] == "fail"
    assert outcomes(report)["LIVE-2"] == "fail"
    said = messages(report, "LIVE-1")
    assert "must be expired from" in said and "unexpected" not in said


class SlightlyEarly(ExpiresEarly):
    off_ms = 150  # within the 250 ms tolerance: not a fault the kit may report


class SlightlyLate(ExpiresLate):
    off_ms = 150


@pytest.mark.parametrize("store", [SlightlyEarly, SlightlyLate], ids=lambda s: s.__name__)
def test_a_clock_off_within_the_tolerance_is_not_failed(store: type[ClocklessMemoryStore]) -> None:
    report = run(lambda *, clock: store(), profile="ci", select=naming("LIVE-1", "LIVE-2"))
    assert not report.failed, [(c.clause.id, c.messages) for c in report.clauses if c.messages]
    assert outcomes(report)["LIVE-2"] == "pass"  # read after the tolerance: always decided


@pytest.mark.anyio
async def test_rounds_floats_changes_data() -> None:
    from broken.clockless import RoundsFloats

    for store in (RoundsFloats(), ClocklessMemoryStore()):
        made = await store.create({"third": 1 / 3})
        got = await store.get(made.id)
        assert got is not None
        assert (got.data == {"third": 1 / 3}) == (not isinstance(store, RoundsFloats))


def test_kit_fails_a_store_that_rounds_floats_on_rec_2() -> None:
    started = time.monotonic()
    report = run(rounds_floats, profile="ci", select=lambda c: c.name == "data_round_trips")
    assert outcomes(report)["REC-2"] == "fail"
    (result,) = report.checks
    assert "gave" in result.message and "unexpected" not in result.message
    assert result.counterexample.startswith("data = ")
    assert time.monotonic() - started < 60  # shrinking is bounded
