"""Each broken store differs from the reference in its one defect, shown without the kit.

A broken store in ``tests/broken`` counts only once a direct test shows its bug: for each
mutant, ``DEFECTS`` holds a scenario (a few calls on a fresh store and its FakeClock,
returning what a caller can observe), what the reference memory store gives and what the
mutant gives instead, as its docstring says. The same scenario runs on both. The kit's
verdict on each mutant is tested in ``test_broken_stores.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from broken import GALLERY, LATENCY
from broken.delayed import DELAY, DelayedGet
from broken.stores import (
    SCAN_LIMIT,
    AliasingGet,
    CountsExpired,
    CreateOverwrites,
    DeleteExpiredTrue,
    EagerChunkImport,
    ExpiredAtBoundary,
    LeaksDriverErrors,
    ListingStopsAtPageLimit,
    ListSkipsAfterCursor,
    LostUpdates,
    NanAsNull,
    OwnerIgnored,
    PartialImport,
    ReplaceIgnoresVersion,
    SlidingGet,
    SplicesCorruptData,
    TouchRevives,
    TtlFloorSeconds,
    VersionNotBumped,
    WallClockExpiry,
)

from sessionstore.backends.memory import MemoryStore
from sessionstore_conformance import FakeClock

Scenario = Callable[[MemoryStore, FakeClock], Awaitable[object]]


async def outcome(call: Awaitable[Any]) -> str:
    """The outcome of a call: "ok", or the name of the exception it raised."""
    try:
        await call
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def doc(*sessions: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": "2030-01-01T00:00:00.000Z",
        "sessions": list(sessions),
    }


def item(session_id: str, version: int = 1) -> dict[str, Any]:
    return {
        "id": session_id,
        "data": {"id": session_id},
        "version": version,
        "created_at": "2030-01-01T00:00:00.000Z",
        "updated_at": "2030-01-01T00:00:00.000Z",
        "expires_at": None,
        "owner": None,
    }


# --- one scenario per defect -------------------------------------------------------------


async def read_at_expiry(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s", ttl=1)
    clock.advance(1000)  # now == expires_at: expired (LIVE-1)
    return await store.get("s") is not None


async def touch_expired(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s", ttl=1)
    clock.advance(1001)
    return await outcome(store.touch("s", 60)), await store.get("s") is not None


async def mutate_what_get_returned(store: MemoryStore, clock: FakeClock) -> object:
    await store.create({"n": 1}, id="s")
    got = await store.get("s")
    assert got is not None
    got.data["n"] = 2
    again = await store.get("s")
    assert again is not None
    return again.data


async def replace_with_stale_version(store: MemoryStore, clock: FakeClock) -> object:
    await store.create({"n": 1}, id="s")
    await store.replace("s", {"n": 2}, expected_version=1)
    stale = await outcome(store.replace("s", {"n": 3}, expected_version=1))
    final = await store.get("s")
    assert final is not None
    return stale, final.version


async def versions_of_writes(store: MemoryStore, clock: FakeClock) -> object:
    made = await store.create({"n": 1}, id="s")
    replaced = await store.replace("s", {"n": 2})
    updated = await store.update("s", lambda d: {"n": 3})
    return [made.version, replaced.version, updated.version]


async def delete_expired(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s", ttl=1)
    clock.advance(1001)
    return await store.delete("s")


async def expiry_seen_by_gets(store: MemoryStore, clock: FakeClock) -> object:
    made = await store.create(id="s", ttl=10)
    assert made.expires_at is not None
    shifts = []
    for _ in range(3):
        got = await store.get("s")
        assert got is not None and got.expires_at is not None
        shifts.append((got.expires_at - made.expires_at).total_seconds())
    return shifts


async def count_with_one_expired(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="gone", ttl=1)
    await store.create(id="kept")
    clock.advance(1001)
    return await store.count()


async def import_with_a_bad_second_record(store: MemoryStore, clock: FakeClock) -> object:
    rejected = await outcome(store.import_(doc(item("good"), item("bad", version=0))))
    return rejected, await store.count()


async def chunked_import_with_a_bad_last_record(store: MemoryStore, clock: FakeClock) -> object:
    text = orjson.dumps(doc(item("a"), item("b"), item("bad", version=0)))
    rejected = await outcome(store.import_chunks([text[:40], text[40:]]))
    return rejected, await store.count()


async def create_over_a_live_id(store: MemoryStore, clock: FakeClock) -> object:
    await store.create({"v": 1}, id="s")
    again = await outcome(store.create({"v": 2}, id="s"))
    got = await store.get("s")
    assert got is not None
    return again, got.data


async def two_concurrent_increments(store: MemoryStore, clock: FakeClock) -> object:
    await store.create({"n": 0}, id="s")
    increment = lambda d: {"n": d["n"] + 1}  # noqa: E731
    await asyncio.gather(store.update("s", increment), store.update("s", increment))
    got = await store.get("s")
    assert got is not None
    return got.data["n"]


async def read_another_owners_session(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s", owner="ada")
    return await store.get("s", owner="bob") is not None, await store.delete("s", owner="bob")


async def walk_pages_of_two(store: MemoryStore, clock: FakeClock) -> object:
    for i in "abcde":
        await store.create(id=i)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.list(cursor=cursor, limit=2)
        seen += [s.id for s in page.sessions]
        if (cursor := page.cursor) is None:
            return seen


async def ttl_of_one_and_a_half_seconds(store: MemoryStore, clock: FakeClock) -> object:
    made = await store.create(ttl=1.5)
    assert made.expires_at is not None
    return (made.expires_at - made.created_at).total_seconds()


async def create_with_nan(store: MemoryStore, clock: FakeClock) -> object:
    return await outcome(store.create({"x": float("nan")})), await store.count()


async def get_with_the_backend_gone(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s")
    # The reference memory store has no backend apart from itself: being closed is its
    # way of being unreachable, and it answers with StoreUnavailable, as ERR-4 asks.
    lose_backend = getattr(store, "disconnect_for_testing", store.close)
    await lose_backend()
    errors = [await outcome(store.get("s")), await outcome(store.create({}))]
    errors += [await outcome(store.count()), await outcome(store.delete("s"))]
    return errors


async def beyond_the_scan_limit(store: MemoryStore, clock: FakeClock) -> object:
    total = SCAN_LIMIT + 50
    await store.import_(doc(*(item(f"s{i:06d}") for i in range(total))))
    seen = 0
    cursor: str | None = None
    while True:
        page = await store.list(cursor=cursor, limit=1000)
        seen += len(page.sessions)
        if (cursor := page.cursor) is None:
            break
    exported = len((await store.export()).sessions)
    return await store.count(), seen, exported


async def wait_out_the_ttl_in_real_time(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s", ttl=0.05)
    # The injected clock stands still: by it the session is live for good. 0.1 s of real
    # time is twice the ttl, so a backend timer on the real clock has surely fired.
    await asyncio.sleep(0.1)
    return await store.get("s") is not None, await store.count()


async def stream_a_corrupt_session(store: MemoryStore, clock: FakeClock) -> object:
    made = await store.create({"a": 1})
    await store.create({"b": 2})
    await store.corrupt_for_testing(made.id)

    async def stream() -> bool:
        text = b"".join([piece async for piece in store.export_chunks()])
        return orjson.loads(text) is not None  # raises if the text is not JSON

    return await outcome(stream())


async def the_fastest_of_five_gets(store: MemoryStore, clock: FakeClock) -> object:
    await store.create(id="s")
    took = []
    for _ in range(5):
        start = time.perf_counter()
        await store.get("s")
        took.append(time.perf_counter() - start)
    # a lower bound: a wait of DELAY is never shorter, and the fastest of five memory gets
    # is far below half of it even on a loaded machine
    return min(took) >= DELAY / 2


@dataclass(frozen=True)
class Defect:
    mutant: type[MemoryStore]
    scenario: Scenario
    #: what the reference memory store gives
    correct: object
    #: what the mutant gives instead: its one defect
    broken: object


DEFECTS = [
    Defect(ExpiredAtBoundary, read_at_expiry, False, True),
    Defect(TouchRevives, touch_expired, ("SessionNotFound", False), ("ok", True)),
    Defect(AliasingGet, mutate_what_get_returned, {"n": 1}, {"n": 2}),
    Defect(ReplaceIgnoresVersion, replace_with_stale_version, ("VersionConflict", 2), ("ok", 3)),
    Defect(VersionNotBumped, versions_of_writes, [1, 2, 3], [1, 1, 1]),
    Defect(DeleteExpiredTrue, delete_expired, False, True),
    Defect(SlidingGet, expiry_seen_by_gets, [0.0, 0.0, 0.0], [0.0, 1.0, 2.0]),
    Defect(CountsExpired, count_with_one_expired, 1, 2),
    Defect(
        PartialImport, import_with_a_bad_second_record, ("ImportRejected", 0), ("ImportRejected", 1)
    ),
    Defect(
        EagerChunkImport,
        chunked_import_with_a_bad_last_record,
        ("ImportRejected", 0),
        ("ImportRejected", 2),
    ),
    Defect(CreateOverwrites, create_over_a_live_id, ("SessionExists", {"v": 1}), ("ok", {"v": 2})),
    Defect(LostUpdates, two_concurrent_increments, 2, 1),
    Defect(OwnerIgnored, read_another_owners_session, (False, False), (True, True)),
    Defect(ListSkipsAfterCursor, walk_pages_of_two, list("abcde"), list("abde")),
    Defect(TtlFloorSeconds, ttl_of_one_and_a_half_seconds, 1.5, 1.0),
    Defect(NanAsNull, create_with_nan, ("InvalidSession", 0), ("ok", 1)),
    Defect(
        LeaksDriverErrors,
        get_with_the_backend_gone,
        ["StoreUnavailable"] * 4,
        ["ConnectionRefusedError"] * 4,
    ),
    Defect(
        ListingStopsAtPageLimit,
        beyond_the_scan_limit,
        (SCAN_LIMIT + 50,) * 3,
        (SCAN_LIMIT, SCAN_LIMIT, SCAN_LIMIT + 50),
    ),
    Defect(SplicesCorruptData, stream_a_corrupt_session, "CorruptSession", "JSONDecodeError"),
    Defect(WallClockExpiry, wait_out_the_ttl_in_real_time, (True, 1), (False, 0)),
    Defect(DelayedGet, the_fastest_of_five_gets, False, True),
]


async def observe(store: MemoryStore, clock: FakeClock, scenario: Scenario) -> object:
    async with store:
        return await scenario(store, clock)


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.mutant.__name__)
def test_broken_store_differs_from_the_reference_in_its_defect(defect: Defect) -> None:
    reference_clock, mutant_clock = FakeClock(), FakeClock()
    reference = asyncio.run(
        observe(MemoryStore(clock=reference_clock), reference_clock, defect.scenario)
    )
    broken = asyncio.run(observe(defect.mutant(clock=mutant_clock), mutant_clock, defect.scenario))
    assert defect.correct != defect.broken, "the table must name a difference"
    assert reference == defect.correct, f"the reference gave {reference!r}"
    assert broken == defect.broken, f"{defect.mutant.__name__} gave {broken!r}"


def test_every_gallery_store_has_a_direct_test_of_its_defect() -> None:
    tested = [d.mutant for d in DEFECTS]
    assert len(set(tested)) == len(tested), "one scenario per mutant"
    assert set(tested) == {m.store_type for m in GALLERY + LATENCY}
