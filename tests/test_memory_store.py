"""What the memory store promises beyond the kit: threads, the expiry index, limits."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest

from sessionstore import CorruptSession, Limits, SessionTooLarge
from sessionstore.backends.memory import MemoryStore
from sessionstore_conformance import FakeClock, run

pytestmark = pytest.mark.anyio


def _increment(data: dict[str, Any]) -> dict[str, Any]:
    return {"n": data["n"] + 1}


def test_updates_from_many_threads_and_loops_are_not_lost() -> None:
    store = MemoryStore()
    made = asyncio.run(store.create({"n": 0}))
    threads, per_thread = 8, 250

    def worker() -> None:
        async def work() -> None:
            for _ in range(per_thread):
                await store.update(made.id, _increment)

        asyncio.run(work())

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    final = asyncio.run(store.get(made.id))
    assert final is not None
    assert final.data["n"] == threads * per_thread
    assert final.version == threads * per_thread + 1


async def test_purge_walks_only_the_expired_end_of_the_index() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for i in range(1000):
        await store.create(id=f"live{i}")
    for i in range(10):
        await store.create(id=f"old{i}", ttl=1)
    await store.create(id="later", ttl=5)
    clock.advance(1000)
    assert await store.count() == 1001
    assert await store.purge_expired() == 10
    # Only records that expire sit in the expiry index: never the 1,000 that do not.
    assert len(store._expiry) == 1
    assert await store.count() == 1001


async def test_touch_and_replace_keep_the_expiry_index_exact() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    made = await store.create(ttl=1)
    await store.touch(made.id, 10)
    await store.replace(made.id, {"a": 1}, ttl=20)
    await store.delete(made.id)
    assert len(store._expiry) == 0
    assert await store.purge_expired() == 0


async def test_configured_limits_apply() -> None:
    store = MemoryStore(limits=Limits(max_data_bytes=64, max_ttl=timedelta(hours=1)))
    with pytest.raises(SessionTooLarge):
        await store.create({"k": "x" * 64})
    with pytest.raises(ValueError, match="ttl"):
        await store.create(ttl=7200)


async def test_generated_ids_fit_a_short_id_limit() -> None:
    """Ids a store generates pass its own VAL-1 (CREATE-2): 32 characters used to break
    every store whose max_id_length was below 32."""
    store = MemoryStore(limits=Limits(max_id_length=22))
    made = [await store.create({"n": n}) for n in range(50)]
    assert {len(s.id) for s in made} == {22}  # 132 random bits, the least CREATE-2 allows
    assert [(await store.get(s.id)) for s in made] == made
    with pytest.raises(ValueError, match="max_id_length must be an int of at least 22"):
        Limits(max_id_length=21)  # too short for 128 random bits


def test_the_kit_passes_generated_ids_under_a_short_id_limit() -> None:
    def factory(*, clock: FakeClock) -> MemoryStore:
        return MemoryStore(clock=clock, limits=Limits(max_id_length=24))

    report = run(factory, profile="ci", select=lambda check: check.name == "generated_ids")
    assert {c.clause.id: c.outcome for c in report.clauses}["CREATE-2"] == "pass"


async def test_corrupt_bytes_raise_and_are_not_hidden() -> None:
    store = MemoryStore()
    made = await store.create({"a": 1})
    await store.corrupt_for_testing(made.id)
    with pytest.raises(CorruptSession, match=made.id[:6]):  # a prefix, never the whole id
        await store.get(made.id)
    assert await store.count() == 1


async def test_list_pages_by_cursor_over_many_sessions() -> None:
    store = MemoryStore()
    ids = sorted(f"id{i:04d}" for i in range(2500))
    for i in ids:
        await store.create(id=i)
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list(cursor=cursor, limit=1000)
        seen += [s.id for s in page.sessions]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == ids


def test_fast_timestamps_are_exact() -> None:
    """from_ms's float fast path gives exactly EPOCH + ms, up to its limit and past it."""
    from datetime import timedelta as td

    from hypothesis import given
    from hypothesis import strategies as st

    from sessionstore.semantics import EPOCH, from_ms, to_ms

    @given(st.integers(0, 10_000_000_000_000))
    def exact(ms: int) -> None:
        assert from_ms(ms) == EPOCH + td(milliseconds=ms)
        assert to_ms(from_ms(ms)) == ms

    exact()


async def test_a_stored_session_costs_about_its_size_in_memory() -> None:
    # orjson hands out an oversized output buffer (8 KB for 800 bytes of JSON); the
    # store keeps an exact copy. Measured with tracemalloc: 1,000 sessions of ~800 bytes.
    import tracemalloc

    data = {"text": "x" * 780}
    async with MemoryStore() as store:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1000):
            await store.create(data, id=f"s{n}")
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    per_session = grown / 1000
    print(f"\n{per_session:.0f} bytes held per 800-byte session")
    assert per_session < 1600, per_session
