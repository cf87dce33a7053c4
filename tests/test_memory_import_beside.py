"""The memory store's large import, prepared beside its indexes (backends/_beside.py),
ends exactly where the one-step apply ends: the same records, expiry index, report or
rejection — also when other calls write, and the clock moves, while it is prepared.

Each case builds the same store twice: one imports through the beside path (with tiny
steps, so that sorts, merges and the commit's replay all run), the other receives the
same concurrent calls first, then the import in one step at the commit's instant — the
instant the beside path's import takes effect (CONC-1)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import pytest

from sessionstore.backends import _beside, memory
from sessionstore.backends._stored import Stored, stored
from sessionstore.backends.memory import MemoryStore
from sessionstore.errors import ImportRejected, SessionExists, SessionNotFound
from sessionstore.semantics import Record
from sessionstore.values import ImportReport, OnConflict
from sessionstore_conformance import FakeClock

pytestmark = pytest.mark.anyio

MODES: tuple[OnConflict, ...] = ("error", "skip", "replace")
Writer = Callable[[MemoryStore, FakeClock], Awaitable[None]]


@pytest.fixture(autouse=True)
def tiny_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "APPLY_STEP", 0)  # every import goes beside
    monkeypatch.setattr(_beside, "STEP", 7)  # many runs to sort and merge


def records(rng: random.Random, now: int, n: int, prefix: str = "") -> list[Record]:
    """``n`` records with ids from a small pool (so stores and imports share some), in
    random order; some never expire, some are expired, some expire within 50 ms."""
    ids = rng.sample(range(4 * n), n)
    made = []
    for i in ids:
        expires = rng.choice([None, now - 5, now + rng.randrange(1, 50), now + 10**6])
        made.append(Record(f"{prefix}i{i:04d}", b'{"n":%d}' % i, 1 + i % 3, now, now, expires))
    return made


def state(store: MemoryStore) -> tuple[list[tuple[str, Stored]], list[tuple[int, str]]]:
    store._records._check()  # type: ignore[attr-defined]  # sortedcontainers' invariants
    store._expiry._check()  # type: ignore[attr-defined]
    return list(store._records.items()), list(store._expiry)


async def outcome(
    store: MemoryStore, clock: FakeClock, incoming: list[Record], mode: OnConflict, beside: bool
) -> ImportReport | list[str]:
    kept = list(map(stored, incoming))  # as the store's import hands them over
    try:
        if beside:
            return await store._apply_import(kept, mode)
        return store._apply_at_once(kept, mode)
    except ImportRejected as exc:
        return [str(p) for p in exc.problems]


async def compare(seed: int, mode: OnConflict, writer: Writer | None = None) -> None:
    rng = random.Random(seed)
    clock_a, clock_b, clock_c = FakeClock(), FakeClock(), FakeClock()
    a, b, c = MemoryStore(clock=clock_a), MemoryStore(clock=clock_b), MemoryStore(clock=clock_c)
    stored = records(rng, clock_a.ms, rng.randrange(0, 120))
    incoming = records(rng, clock_a.ms, rng.randrange(1, 120))
    for store in (a, b, c):
        store._put_many(stored)
    # A clash the preparation finds under "error" is the verdict at the snapshot's
    # instant, before any call made meanwhile (a rejection changes nothing).
    at_snapshot = await outcome(c, clock_c, incoming, mode, beside=False)
    if writer is None:
        got = await outcome(a, clock_a, incoming, mode, beside=True)
    else:
        done = asyncio.Event()

        async def write() -> None:
            await writer(a, clock_a)
            done.set()

        task = asyncio.create_task(write())
        got = await outcome(a, clock_a, incoming, mode, beside=True)
        await task
        # The writer must have finished while the import was prepared, for the model
        # below (its calls, then the import) to be the order the store saw.
        assert done.is_set()
        await writer(b, clock_b)
    if mode == "error" and isinstance(at_snapshot, list):
        assert got == at_snapshot
    else:
        assert got == await outcome(b, clock_b, incoming, mode, beside=False)
    assert state(a) == state(b)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(40))
async def test_same_as_one_step(seed: int, mode: OnConflict) -> None:
    await compare(seed, mode)


def writer_of(seed: int, calls: int, tick_ms: int) -> Writer:
    """Calls on the store between the preparation's steps: creates, replaces, deletes,
    touches and purges on ids of the pool, and the clock moving ``tick_ms`` each time."""

    async def write(store: MemoryStore, clock: FakeClock) -> None:
        rng = random.Random(seed)
        for _ in range(calls):
            await asyncio.sleep(0)
            clock.advance(tick_ms)
            sid = f"i{rng.randrange(480):04d}"
            action = rng.choice(["create", "replace", "delete", "touch", "purge"])
            # A call refused (no such session, say) is refused on both stores alike.
            with contextlib.suppress(SessionExists, SessionNotFound):
                if action == "create":
                    await store.create({"w": 1}, id=sid, ttl=rng.choice([None, 0.02, 60]))
                elif action == "replace":
                    await store.replace(sid, {"w": 2})
                elif action == "delete":
                    await store.delete(sid)
                elif action == "touch":
                    await store.touch(sid, rng.choice([0.01, 60]))
                else:
                    await store.purge_expired()

    return write


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(40))
async def test_same_as_one_step_at_the_commit_with_writes_meanwhile(
    seed: int, mode: OnConflict
) -> None:
    await compare(seed, mode, writer_of(seed, calls=6, tick_ms=3))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(10))
async def test_prepared_again_when_too_much_was_written(
    seed: int, mode: OnConflict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_beside, "REPLAY_LIMIT", 2)  # 6 calls: some tries exceed it
    await compare(seed, mode, writer_of(seed, calls=6, tick_ms=3))


async def test_a_commit_replaces_the_indexes_another_import_prepared_from() -> None:
    """Two imports prepared at once: the first to commit swaps in new indexes, so the
    other one prepares again from them and keeps the first one's records."""
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    first = [Record(f"a{i:03d}", b"{}", 1, clock.ms, clock.ms, None) for i in range(50)]
    second = [Record(f"b{i:03d}", b"{}", 1, clock.ms, clock.ms, None) for i in range(300)]
    reports = await asyncio.gather(
        store._apply_import(list(map(stored, first)), "error"),
        store._apply_import(list(map(stored, second)), "error"),
    )
    assert [r.imported for r in reports] == [50, 300]
    assert await store.count() == 350
    state(store)


async def test_a_small_import_beside_two_prepared_imports_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small import applied in one step while two large ones are prepared is journaled
    for both: _put_many handed _journal an iterator that the first journal used up, and
    the second import's commit then dropped the small import's record."""
    monkeypatch.setattr(memory, "APPLY_STEP", 100)  # the two below go beside, one record not
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    # the second, smaller, commits first: its journal is the one the iterator missed
    large = [
        [Record(f"{p}{i:03d}", b"{}", 1, clock.ms, clock.ms, None) for i in range(n)]
        for p, n in (("a", 450), ("b", 150))
    ]

    async def small() -> None:
        await asyncio.sleep(0)  # both large imports have taken their snapshots
        await store._apply_import(
            [stored(Record("s", b"{}", 1, clock.ms, clock.ms, None))], "error"
        )

    await asyncio.gather(
        *(store._apply_import(list(map(stored, r)), "error") for r in large), small()
    )
    assert await store.get("s") is not None
    assert await store.count() == 601
