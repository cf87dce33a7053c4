"""Exact numbers where the spec makes them exact.

With the clock injected nothing is left to chance, so the kit asks for exact answers:
how many sessions ``purge_expired`` removed and ``count`` sees after sessions moved
their expiry (PURGE-1, COUNT-1); the expiry that a ttl which binary floating point
cannot hold exactly produces (0.1, 0.3, 1e-3 plus a hair, microseconds of a timedelta:
TTL-1 rounds to whole microseconds first, then up to whole milliseconds); and data
floats that are not exact in binary, which must come back bit for bit (REC-2).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from sessionstore import InvalidSession, JSONObject, Session, SessionStore

from ..errors import expect, expect_raises
from ..wire.transforms import identity, returning
from .registry import Ctx, check

CLOCK = ("injectable_clock",)
MS = timedelta(milliseconds=1)


@check("PURGE-1", "COUNT-1", "LIVE-1", "LIVE-3", requires=CLOCK)
async def check_purge_count_exact(ctx: Ctx) -> None:
    """purge_expired returns exactly how many it removed, after expiries were moved."""
    store, clock = ctx.store, ctx.clock
    for i in range(3):
        await store.create({"i": i}, id=f"old{i}", ttl=1)  # expire at +1000 ms
    await store.create(id="edge", ttl=2)  # expires at +2000 ms: at that instant it is expired
    await store.create(id="after", ttl=2.001)  # still live at +2000 ms
    await store.create(id="forever")
    await store.create(id="moved", ttl=1)
    await store.touch("moved", 3600)  # moved away from +1000 ms
    await store.create(id="rewritten", ttl=1)
    await store.replace("rewritten", {"r": 1}, ttl=3600)
    await store.create(id="shortened", ttl=3600)
    await store.update("shortened", returning({"s": 1}), ttl=1)  # moved to +1000 ms
    await store.create(id="dropped", ttl=1)
    await store.delete("dropped")
    count = await store.count()
    expect(count == 9, "COUNT-1", f"count is {count} with 9 live sessions, not 9")
    clock.advance(2000)
    expired = {"old0", "old1", "old2", "edge", "shortened"}
    count = await store.count()
    expect(count == 4, ("COUNT-1", "LIVE-1"), f"count is {count} with 5 of 9 expired, not 4")
    removed = await store.purge_expired()
    expect(
        removed == len(expired),
        "PURGE-1",
        f"purge_expired returned {removed!r} with {len(expired)} sessions expired "
        f"({', '.join(sorted(expired))}); the clock is injected, so the count is exact",
    )
    for session_id in ("after", "forever", "moved", "rewritten"):
        expect(
            await store.get(session_id) is not None,
            ("PURGE-1", "LIVE-3"),
            f"purge removed {session_id}",
        )
    count = await store.count()
    expect(count == 4, ("COUNT-1", "LIVE-3"), f"count is {count} after the purge, not 4")
    again = await store.purge_expired()
    expect(again == 0, "PURGE-1", f"a second purge at the same instant returned {again!r}")
    clock.advance(1)  # "after" expires at +2001 ms
    last = await store.purge_expired()
    expect(last == 1, "PURGE-1", f"purge returned {last!r} one ms later with 1 expired")
    await store.create(id="old0", ttl=1)  # CREATE-4 reuses a purged id
    clock.advance(1000)
    last = await store.purge_expired()
    expect(last == 1, "PURGE-1", f"purge returned {last!r} for a re-created, expired id")
    expect(await store.count() == 3, "COUNT-1", f"count is {await store.count()}, not 3")


#: More expired sessions than a store's purge step or page (commonly 100, 500 or 1,000),
#: and no multiple of them: a purge that counts only its last step, or stops after a full
#: one, miscounts or leaves some behind.
MANY_EXPIRED = 2_500


@check("PURGE-1", "COUNT-1", "LIVE-3", requires=CLOCK)
async def check_purge_many_exact(ctx: Ctx) -> None:
    """One purge removes every expired session and counts them all, however many steps
    the store takes; the live ones stay."""
    store, clock = ctx.store, ctx.clock
    for i in range(MANY_EXPIRED):
        await store.create(id=f"e{i:05d}", ttl=1)
    for i in range(3):
        await store.create(id=f"live{i}", ttl=3600)
    clock.advance(1000)
    removed = await store.purge_expired()
    expect(
        removed == MANY_EXPIRED,
        "PURGE-1",
        f"purge_expired returned {removed!r} with {MANY_EXPIRED} sessions expired",
    )
    count = await store.count()
    expect(count == 3, ("COUNT-1", "PURGE-1"), f"count is {count} after the purge, not 3")
    again = await store.purge_expired()
    expect(again == 0, "PURGE-1", f"a second purge found {again!r} more expired sessions")
    for i in range(3):
        expect(await store.get(f"live{i}") is not None, "LIVE-3", f"purge removed live{i}")


#: Ids from every part of the id alphabet's order ("-" < digits < A-Z < "_" < a-z).
SPREAD_IDS = ["-", "0", "9", "A", "Z", "_", "a", "z"]


@check("PURGE-1", "COUNT-1", "LIVE-1", requires=CLOCK)
async def check_purge_spares_the_next_ms(ctx: Ctx) -> None:
    """Sessions that expire one millisecond from now are live (LIVE-1): purge_expired
    removes none of them and count counts them all, whatever their ids; a millisecond
    later they are all expired. (An expiry index cut at (now + 1, some id) instead of
    before every entry of now + 1 drops the live ones whose ids sort first.)"""
    store, clock = ctx.store, ctx.clock
    for session_id in SPREAD_IDS:
        await store.create(id=session_id, ttl=0.001)
    removed = await store.purge_expired()
    expect(removed == 0, "PURGE-1", f"purge removed {removed!r} sessions that expire in 1 ms")
    count = await store.count()
    expect(count == len(SPREAD_IDS), ("COUNT-1", "LIVE-1"), f"count is {count}, not 8")
    gone = [i for i in SPREAD_IDS if await store.get(i) is None]
    expect(not gone, ("PURGE-1", "LIVE-1"), f"live sessions {gone} vanished after a purge")
    clock.advance(1)
    removed = await store.purge_expired()
    expect(removed == len(SPREAD_IDS), "PURGE-1", f"purge removed {removed!r} of 8 expired")


#: (ttl, the expiry in ms it must give): TTL-1 rounds to whole microseconds, then up to ms.
TTL_CASES: list[tuple[Any, int]] = [
    (0.1, 100),  # 0.1 s is 100000.00000000001 us in binary
    (0.3, 300),  # 299999.99999999994 us in binary: rounding, not truncation
    (1e-3 + 1e-12, 1),  # a hair above 1 ms rounds to 1000 us, so 1 ms, not 2
    (0.0010004, 1),  # 1000.4 us rounds to 1000 us: 1 ms (ceil of the raw seconds gives 2)
    (0.0009999996, 1),  # 999.9996 us rounds up to 1000 us: valid, 1 ms
    (0.0010006, 2),  # 1000.6 us rounds to 1001 us: 2 ms
    (1.0000005, 1001),  # 1000000.5000000001 us in binary: 1000001 us, so 1001 ms
    (timedelta(microseconds=1001), 2),
    (timedelta(seconds=1, microseconds=1), 1001),
    (timedelta(milliseconds=2, microseconds=999), 3),
    (7, 7000),
]
#: ttls just outside TTL-1's range once rounded to microseconds.
BAD_TTLS: list[Any] = [
    0.0009994,  # 999.4 us rounds to 999 us: under 1 ms
    timedelta(microseconds=999),
]


def _top_ttls(store: SessionStore) -> tuple[list[tuple[Any, int]], list[Any]]:
    """The store's largest ttl (3650 days by default; a store built with other limits
    applies its own, VAL-6) in seconds and as a timedelta, and one microsecond more."""
    top = store.limits.max_ttl
    return (
        [(top.total_seconds(), top // MS), (top, top // MS)],
        [top + timedelta(microseconds=1), top.total_seconds() + 1e-6],
    )


@check("TTL-1", "TTL-2", "VAL-6", requires=CLOCK)
async def check_inexact_ttls(ctx: Ctx) -> None:
    """ttls that binary floating point cannot hold give the expiry TTL-1 defines."""
    store, clock = ctx.store, ctx.clock
    await store.create(id="t")
    top, over = _top_ttls(store)
    for ttl, ms in TTL_CASES + top:
        want = clock() + ms * MS
        results: dict[str, Session] = {
            "create": await store.create(ttl=ttl),
            "replace": await store.replace("t", {}, ttl=ttl),
            "update": await store.update("t", identity(), ttl=ttl),
            "touch": await store.touch("t", ttl),
        }
        for op, made in results.items():
            expect(
                made.expires_at == want,
                ("TTL-1", "TTL-2"),
                f"{op}(ttl={ttl!r}) gave expires_at {made.expires_at}, expected now + {ms} ms",
            )
    for bad in BAD_TTLS + over:
        with expect_raises(InvalidSession, ("VAL-6", "TTL-1"), f"create(ttl={bad!r})"):
            await store.create(ttl=bad)
        with expect_raises(InvalidSession, ("VAL-6", "TTL-1"), f"touch('t', {bad!r})"):
            await store.touch("t", bad)


#: Floats that binary cannot hold exactly, and extremes: each must come back bit for bit.
FLOATS: dict[str, Any] = {
    "tenth": 0.1,
    "sum": 0.1 + 0.2,
    "third": 1 / 3,
    "small": 1e-7,
    "tiny": 5e-324,
    "min_normal": 2.2250738585072014e-308,
    "max": 1.7976931348623157e308,
    "neg": -123456789.123456789,
    "half_ulp": 4503599627370495.5,  # 2**52 - 0.5: the last float with a fraction
    "nested": [0.7, {"x": 2.675, "y": [1e-300, -0.0]}],
}


def _same_json(a: Any, b: Any) -> bool:
    """JSON-equal, with floats compared bit for bit (integral floats may come back as ints)."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same_json, a, b))
    if type(a) is float:
        if type(b) is int and a.is_integer():
            return a == b
        return type(b) is float and math.copysign(1, a) == math.copysign(1, b) and a == b
    return type(a) is type(b) and a == b


async def _read(store: SessionStore, path: str) -> JSONObject:
    """The data of the live session "f"; its absence is a GET-1 violation, not a crash."""
    got = await store.get("f")
    expect(got is not None, "GET-1", f"{path}: get('f') returned None for a live session")
    assert got is not None
    return got.data


@check("REC-2", "IMPORT-5")
async def check_inexact_floats(ctx: Ctx) -> None:
    """Data floats not exact in binary come back unchanged from every read path."""
    store = ctx.store
    made = await store.create(dict(FLOATS), id="f")
    views: dict[str, Any] = {"create": made.data}
    views["get"] = await _read(store, "get")
    views["replace"] = (await store.replace("f", dict(FLOATS))).data
    views["update"] = (await store.update("f", identity())).data
    views["touch"] = (await store.touch("f", 3600)).data
    views["list"] = (await store.list()).sessions[0].data
    exported = await store.export()
    views["export"] = exported.sessions[0].data
    async with ctx.another() as other:
        await other.import_(exported.to_json())
        views["import, then get"] = await _read(other, "import, then get")
    views["get after all"] = await _read(store, "get after all")
    for path, data in views.items():
        bad = [k for k in FLOATS if not _same_json(FLOATS[k], data.get(k))]
        expect(
            not bad,
            "REC-2",
            f"{path} changed floats: "
            + ", ".join(f"{k}: {FLOATS[k]!r} -> {data.get(k)!r}" for k in bad),
        )
