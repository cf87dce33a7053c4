"""Example-based checks, one behaviour each, with exact clause attribution.

The checks that let sessions expire run in both time modes, written once through the
Ctx's time calls (``timed``, ``pass_until``, ``last_live_ms``, ``first_gone_ms``):
exact at the boundary with the injected clock, within the tolerance in real time
(see :mod:`.realtime` for how a real-time read is decided, or not).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

from sessionstore import (
    Capabilities,
    Limits,
    Page,
    Session,
    SessionExists,
    SessionNotFound,
    StoreUnavailable,
    VersionConflict,
)
from sessionstore.semantics import to_ms

from ..errors import ClauseViolation, NotVerified, expect, expect_raises
from ..wire.transforms import identity, incrementing, raising, returning, setting
from .helpers import expect_same, expect_unchanged, sendable, snapshot, valid_id
from .realtime import ATTEMPTS, Span, due
from .registry import Ctx, check

CLOCK = ("injectable_clock",)
S = timedelta(seconds=1)
MS = timedelta(milliseconds=1)


def expect_at(
    ctx: Ctx, stamp: datetime | None, span: Span, clauses: str | tuple[str, ...], what: str
) -> None:
    """A timestamp the store took from its now during ``span``: exact with the injected
    clock, within the span widened by the tolerance in real time."""
    expect(stamp is not None, clauses, f"{what} is None")
    assert stamp is not None
    ms, skew = to_ms(stamp), ctx.skew_ms
    if ctx.has_clock:
        expect(
            ms == span.start,
            clauses,
            f"{what} {stamp} is not the clock's now (+{ms - span.start} ms)",
        )
        return
    expect(
        span.start - skew <= ms <= span.end + skew,
        clauses,
        f"{what} {stamp} lies {_outside(ms, span)} the call's wall-clock window, "
        f"beyond the {skew} ms tolerance",
    )


def _outside(ms: int, span: Span) -> str:
    return f"{span.start - ms} ms before" if ms < span.start else f"{ms - span.end} ms after"


async def read_and_judge(
    ctx: Ctx, made: Session, written: Span, ttl_ms: int, clauses: tuple[str, ...], what: str
) -> bool | None:
    """get the session written (during ``written``, with ``ttl_ms``) and hold the answer to
    LIVE-1: while it must be live, it must come back unchanged (else ``clauses`` are
    broken); once it must be gone, it must be None. Returns whether it had to be gone;
    None when this read decided nothing."""
    got, read = await ctx.timed(ctx.store.get(made.id))
    gone = due(written.after(ttl_ms), read, ctx.skew_ms)
    if gone is False:
        if got is None:
            raise ClauseViolation(
                ("LIVE-1",), f"{what}: get returned None {_early(ctx, read, written, ttl_ms)}"
            )
        expect_same(made, got, clauses, what)
    elif gone is True:
        expect(
            got is None,
            "LIVE-1",
            f"{what}: get returned the session {_late(ctx, read, written, ttl_ms)}",
        )
    return gone


def _early(ctx: Ctx, read: Span, written: Span, ttl_ms: int) -> str:
    if ctx.has_clock:
        return f"{written.start + ttl_ms - read.start} ms before its expires_at"
    return (
        f"{read.end - written.start} ms after a create with ttl {ttl_ms} ms: it must stay "
        f"live for at least {ttl_ms - ctx.skew_ms} ms (the ttl less the {ctx.skew_ms} ms tolerance)"
    )


def _late(ctx: Ctx, read: Span, written: Span, ttl_ms: int) -> str:
    if ctx.has_clock:
        late = read.start - written.start - ttl_ms
        return "at now == expires_at" if late == 0 else f"{late} ms after its expires_at"
    return (
        f"{read.start - written.end} ms after a create with ttl {ttl_ms} ms: it must be "
        f"expired from {ttl_ms + ctx.skew_ms} ms on (the ttl plus the {ctx.skew_ms} ms tolerance)"
    )


async def expire(ctx: Ctx, expiry: Span) -> None:
    """Let time pass until a session expiring within ``expiry`` must be gone, 1 ms beyond:
    the boundary itself is check_expiry_boundary's alone."""
    await ctx.pass_until(ctx.first_gone_ms(expiry) + 1)


def undecided(clauses: tuple[str, ...], what: str) -> NotVerified:
    return NotVerified(
        clauses,
        f"results depend on real time: {what} decided nothing in {ATTEMPTS} tries "
        "(each read returned too late to be judged; the machine may be too slow)",
    )


@check("CAP-1")
async def check_declarations(ctx: Ctx) -> None:
    """The store declares capabilities, limits and default_ttl."""
    store = ctx.store
    expect(
        isinstance(getattr(store, "capabilities", None), Capabilities),
        "CAP-1",
        "store.capabilities is not a sessionstore.Capabilities",
    )
    expect(
        isinstance(getattr(store, "limits", None), Limits),
        "CAP-1",
        "store.limits is not a sessionstore.Limits",
    )
    expect(hasattr(store, "default_ttl"), "CAP-1", "store.default_ttl is missing")


@check("LIVE-4", "REC-4", "REC-5", requires=CLOCK)
async def check_clock_is_used(ctx: Ctx) -> None:
    """Timestamps come from the injected clock, in whole milliseconds."""
    ctx.clock.advance(1234)
    made = await ctx.store.create({"a": 1}, ttl=2.5)
    now = ctx.clock()
    expect(
        made.created_at == now and made.updated_at == now,
        ("LIVE-4", "REC-4"),
        f"created_at/updated_at {made.created_at}/{made.updated_at} are not the injected clock's {now}",
    )
    expect(
        made.expires_at == now + 2500 * MS,
        "LIVE-4",
        f"expires_at {made.expires_at} is not clock + ttl ({now + 2500 * MS})",
    )
    for stamp in (made.created_at, made.updated_at):
        expect(
            stamp.utcoffset() == timedelta(0) and stamp.microsecond % 1000 == 0,
            "REC-5",
            f"timestamp {stamp!r} is not UTC with millisecond precision",
        )


#: Real seconds the kit waits with the injected clock standing still: past a 50 ms ttl even
#: for a backend that keeps expiry in whole seconds.
STILL_CLOCK_WAIT_S = 1.1


@check("LIVE-4", "GET-1", "COUNT-1", "LIST-1", requires=CLOCK)
async def check_real_time_ignored(ctx: Ctx) -> None:
    """With the injected clock standing still, real time passing changes nothing: a store
    whose backend also expires entries on the wall clock loses them here (LIVE-4)."""
    store = ctx.store
    made = await store.create({"a": 1}, ttl=0.05, id="short")
    await asyncio.sleep(STILL_CLOCK_WAIT_S)
    what = f"{STILL_CLOCK_WAIT_S} s of real time after create(ttl=0.05), the injected clock still"
    expect_same(made, await store.get("short"), ("LIVE-4", "GET-1"), f"get {what}")
    expect(await store.count() == 1, ("LIVE-4", "COUNT-1"), f"count() is not 1 {what}")
    listed = [s.id for s in (await store.list()).sessions]
    expect(listed == ["short"], ("LIVE-4", "LIST-1"), f"list() shows {listed} {what}")


@check("CREATE-1", "REC-1", "REC-4", "REC-5", "GET-1", "OWN-1", "TTL-2", "TTL-3")
async def check_create_and_get(ctx: Ctx) -> None:
    """create returns version 1 with all fields, stamped now; get returns the same session."""
    store = ctx.store
    made, span = await ctx.timed(
        store.create({"user": "ada", "n": [1, 2.5, None, True]}, ttl=60, owner="ada")
    )
    expect(isinstance(made, Session), ("CREATE-1", "REC-1"), f"create returned {made!r}")
    expect_at(ctx, made.created_at, span, ("CREATE-1", "REC-4"), "created_at")
    for stamp in (made.created_at, made.updated_at, made.expires_at):
        expect(
            stamp is not None
            and stamp.utcoffset() == timedelta(0)
            and stamp.microsecond % 1000 == 0,
            "REC-5",
            f"timestamp {stamp!r} is not UTC with millisecond precision",
        )
    expect(made.version == 1, "CREATE-1", f"a new session has version {made.version}, not 1")
    expect(
        made.data == {"user": "ada", "n": [1, 2.5, None, True]},
        "CREATE-1",
        f"create returned data {made.data!r}",
    )
    expect(made.created_at == made.updated_at, "CREATE-1", "created_at != updated_at after create")
    expect(
        made.expires_at == made.created_at + 60 * S,
        "TTL-2",
        f"expires_at {made.expires_at} is not created_at + 60 s",
    )
    expect(made.owner == "ada", "OWN-1", f"owner {made.owner!r} was not recorded")
    expect_same(made, await store.get(made.id), ("GET-1", "REC-1"), "get after create")
    empty = await store.create()
    expect(empty.data == {}, "CREATE-1", f"create() without data stored {empty.data!r}, not {{}}")
    if store.default_ttl is None:
        expect(
            empty.expires_at is None,
            "TTL-3",
            f"no ttl and no default_ttl, yet expires_at is {empty.expires_at}",
        )


@check("CREATE-2")
async def check_generated_ids(ctx: Ctx) -> None:
    """Generated ids are valid ids of this store (its own id length, VAL-1), distinct,
    and long enough to carry 128 random bits."""
    ids = [(await ctx.store.create()).id for _ in range(200)]
    bad = [i for i in ids if not valid_id(i, ctx.store.limits.max_id_length)]
    expect(not bad, "CREATE-2", f"generated ids outside the id alphabet: {bad[:3]!r}")
    expect(len(set(ids)) == len(ids), "CREATE-2", "two generated ids are equal")
    short = [i for i in ids if len(i) < 22]
    expect(not short, "CREATE-2", f"ids too short to hold 128 random bits: {short[:3]!r}")


@check("CREATE-3", "ERR-2")
async def check_create_existing(ctx: Ctx) -> None:
    """create with a live id raises SessionExists, whoever asks, and changes nothing."""
    store = ctx.store
    await store.create({"v": 1}, id="taken", owner="ada")
    before = await snapshot(store, ["taken"])
    for owner in (None, "ada", "bob"):
        with expect_raises(SessionExists, "CREATE-3", f"create of a live id (owner={owner})"):
            await store.create({"v": 2}, id="taken", owner=owner)
    await expect_unchanged(store, ["taken"], before, ("CREATE-3", "ERR-2"), "a refused create")


@check("CREATE-4", "LIVE-2")
async def check_create_over_expired(ctx: Ctx) -> None:
    """The id of an expired session can be created again, as a new session."""
    store = ctx.store
    ttl = ctx.short_ttl_ms
    old, span = await ctx.timed(store.create({"old": True}, id="again", ttl=ttl / 1000))
    await expire(ctx, span.after(ttl))
    try:
        made = await store.create({"new": True}, id="again")
    except SessionExists as exc:
        raise ClauseViolation(
            ("CREATE-4", "LIVE-2"), "create refused the id of an expired session"
        ) from exc
    expect(
        made.version == 1 and made.data == {"new": True},
        "CREATE-4",
        f"re-created session is {made!r}, not a fresh version 1",
    )
    expect(
        made.created_at > old.created_at,
        "CREATE-4",
        f"re-created session kept the old created_at {old.created_at}",
    )


@check("GET-1", "GET-2")
async def check_get(ctx: Ctx) -> None:
    """get of an unknown id is None and creates nothing; get changes nothing."""
    store = ctx.store
    expect(await store.get("missing") is None, "GET-1", "get of an unknown id is not None")
    expect(await store.count() == 0, "GET-2", "get of an unknown id created a session")
    made = await store.create({"a": 1}, ttl=10)
    ctx.clock.advance(5000)
    for _ in range(3):
        expect_same(made, await store.get(made.id), "GET-2", "get after get")


@check("GET-2", "LIVE-1")
async def check_get_never_extends(ctx: Ctx) -> None:
    """Reading a session never pushes its expiry back: read at every quarter of its ttl,
    it is still gone (just) after the expiry it was created with."""
    ttl = ctx.short_ttl_ms
    for _ in range(ATTEMPTS):
        made, span = await ctx.timed(ctx.store.create({"a": 1}, ttl=ttl / 1000))
        seen_live = False
        for quarter in (1, 2, 3):
            await ctx.pass_until(span.start + quarter * ttl // 4)
            gone = await read_and_judge(ctx, made, span, ttl, ("GET-2",), "a read")
            seen_live = seen_live or gone is False
        if not seen_live:
            continue  # no read was surely made while it lived: it proves nothing
        await expire(ctx, span.after(ttl))
        got = await ctx.store.get(made.id)
        if got is not None and got.expires_at != made.expires_at:
            raise ClauseViolation(
                ("GET-2",), f"get moved the expiry from {made.expires_at} to {got.expires_at}"
            )
        late = "" if ctx.has_clock else f" and the {ctx.skew_ms} ms tolerance"
        expect(  # past its own, unchanged expires_at: whatever the cause, LIVE-1 is broken
            got is None,
            "LIVE-1",
            f"after reads, still readable past its expires_at {made.expires_at}"
            f" (its ttl of {ttl} ms{late} has passed)",
        )
        return
    raise undecided(("GET-2", "LIVE-1"), "reading during a session's life")


@check("LIVE-1")
async def check_expiry_boundary(ctx: Ctx) -> None:
    """Live strictly before expires_at; expired at expires_at exactly (in real time:
    live until the ttl less the tolerance, expired from the ttl plus the tolerance)."""
    store = ctx.store
    ttl = ctx.short_ttl_ms
    for _ in range(ATTEMPTS):
        made, span = await ctx.timed(store.create({"a": 1}, ttl=ttl / 1000))
        expiry = span.after(ttl)
        await ctx.pass_until(ctx.last_live_ms(expiry))
        if await read_and_judge(ctx, made, span, ttl, ("LIVE-1",), "just before expiry") is None:
            await store.delete(made.id)
            continue  # the read came back too late to tell
        await ctx.pass_until(ctx.first_gone_ms(expiry))
        await read_and_judge(ctx, made, span, ttl, ("LIVE-1",), "at expiry")
        expect(
            await store.count() == 0,
            ("LIVE-1", "COUNT-1"),
            "count includes a session at its expiry",
        )
        return
    raise undecided(("LIVE-1",), "a read just before expiry")


@check("LIVE-2", "COUNT-1")
async def check_expired_invisible(ctx: Ctx) -> None:
    """An expired, unpurged session is invisible to every operation."""
    store = ctx.store
    ttl = ctx.short_ttl_ms
    gone, span = await ctx.timed(store.create({"a": 1}, ttl=ttl / 1000, id="gone"))
    kept = await store.create({"b": 2}, id="kept")
    await expire(ctx, span.after(ttl))
    expect(await store.get(gone.id) is None, "LIVE-2", "get returned an expired session")
    with expect_raises(SessionNotFound, "LIVE-2", "replace of an expired session"):
        await store.replace(gone.id, {"x": 1})
    with expect_raises(SessionNotFound, "LIVE-2", "update of an expired session"):
        await store.update(gone.id, identity())
    with expect_raises(SessionNotFound, ("LIVE-2", "TOUCH-2"), "touch of an expired session"):
        await store.touch(gone.id, 60)
    expect(
        await store.get(gone.id) is None, ("LIVE-2", "TOUCH-2"), "touch revived an expired session"
    )
    expect(
        await store.delete(gone.id) is False,
        ("LIVE-2", "DELETE-1"),
        "delete of an expired session returned True",
    )
    page = await store.list()
    expect(
        [s.id for s in page.sessions] == [kept.id],
        ("LIVE-2", "LIST-1"),
        f"list shows {[s.id for s in page.sessions]}, not only the live session",
    )
    expect(await store.count() == 1, ("LIVE-2", "COUNT-1"), "count includes an expired session")
    doc = await store.export()
    expect(
        [s.id for s in doc.sessions] == [kept.id],
        ("LIVE-2", "EXPORT-1"),
        "export includes an expired session",
    )


@check("TTL-1", "TTL-2", "REC-4")
async def check_ttl_conversion(ctx: Ctx) -> None:
    """ttl in seconds or timedelta becomes whole milliseconds, rounded up: expires_at is
    exactly created_at + ttl in both modes (one now serves both), created_at is now."""
    store = ctx.store
    cases: list[tuple[Any, int]] = [
        (3, 3000),
        (0.1, 100),
        (0.0015, 2),
        (0.001, 1),
        (timedelta(milliseconds=1), 1),
        (timedelta(microseconds=1500), 2),
        (store.limits.max_ttl, store.limits.max_ttl // MS),  # the store's own top (VAL-6)
    ]
    for ttl, ms in cases:
        made, span = await ctx.timed(store.create(ttl=ttl))
        expect_at(ctx, made.created_at, span, ("CREATE-1", "REC-4"), "created_at")
        expect(
            made.expires_at == made.created_at + ms * MS,
            ("TTL-1", "TTL-2"),
            f"ttl={ttl!r} gave expires_at {made.expires_at}, expected now + {ms} ms "
            f"({made.created_at + ms * MS})",
        )


@check("TTL-3")
async def check_default_ttl(ctx: Ctx) -> None:
    """create without ttl applies default_ttl; replace/update without ttl keep expiry."""
    store = ctx.store
    made = await store.create({"a": 1})
    default = store.default_ttl
    if default is None:
        expect(made.expires_at is None, "TTL-3", "default_ttl is None but the session expires")
    else:
        seconds = default.total_seconds() if isinstance(default, timedelta) else float(default)
        expect(
            made.expires_at is not None,
            "TTL-3",
            f"default_ttl is {default!r} but a session created without a ttl never expires",
        )
        span = (made.expires_at - made.created_at).total_seconds() if made.expires_at else 0
        expect(
            abs(span - seconds) <= 0.001, "TTL-3", f"expiry is {span} s after create, not {seconds}"
        )
    timed = await store.create({"a": 1}, ttl=30)
    replaced = await store.replace(timed.id, {"a": 2})
    expect(replaced.expires_at == timed.expires_at, "TTL-3", "replace without ttl moved the expiry")
    updated = await store.update(timed.id, returning({"a": 3}))
    expect(updated.expires_at == timed.expires_at, "TTL-3", "update without ttl moved the expiry")


@check("REPLACE-1", "REC-3", "REC-4", "TTL-2")
async def check_replace(ctx: Ctx) -> None:
    """replace writes data, bumps version and updated_at, keeps created_at."""
    store = ctx.store
    made = await store.create({"a": 1}, ttl=60)
    await ctx.pass_time(7)
    new, span = await ctx.timed(store.replace(made.id, {"b": [2]}))
    expect(new.data == {"b": [2]}, "REPLACE-1", f"replace stored {new.data!r}")
    expect(new.version == 2, ("REPLACE-1", "REC-3"), f"version after one replace is {new.version}")
    expect(new.created_at == made.created_at, "REC-4", "replace changed created_at")
    expect_at(ctx, new.updated_at, span, ("REPLACE-1", "REC-4"), "updated_at after replace")
    expect_same(new, await store.get(made.id), "REPLACE-1", "get after replace")
    timed = await store.replace(made.id, {"c": 3}, ttl=5)
    expect(
        timed.expires_at == timed.updated_at + 5 * S,
        "TTL-2",
        "replace(ttl=5) did not set now + 5 s",
    )
    expect(timed.version == 3, "REC-3", f"version after two replaces is {timed.version}")


@check("REPLACE-2", "ERR-2")
async def check_replace_expected_version(ctx: Ctx) -> None:
    """A stale expected_version raises VersionConflict and writes nothing."""
    store = ctx.store
    made = await store.create({"a": 1}, id="cas")
    before = await snapshot(store, ["cas"])
    for stale in (2, 7):
        with expect_raises(
            VersionConflict, "REPLACE-2", f"replace with expected_version={stale} at 1"
        ):
            await store.replace("cas", {"a": 2}, expected_version=stale)
    await expect_unchanged(store, ["cas"], before, ("REPLACE-2", "ERR-2"), "a conflicting replace")
    ok = await store.replace("cas", {"a": 3}, expected_version=made.version)
    expect(ok.version == 2, "REPLACE-2", "replace with the right expected_version failed to write")


@check("REPLACE-3", "UPDATE-3", "TOUCH-2", "DELETE-1")
async def check_missing_sessions(ctx: Ctx) -> None:
    """Writes to an unknown id raise SessionNotFound (delete returns False) and create nothing."""
    store = ctx.store
    with expect_raises(SessionNotFound, "REPLACE-3", "replace of an unknown id"):
        await store.replace("nobody", {"a": 1})
    with expect_raises(SessionNotFound, "UPDATE-3", "update of an unknown id"):
        await store.update("nobody", identity())
    with expect_raises(SessionNotFound, "TOUCH-2", "touch of an unknown id"):
        await store.touch("nobody", 10)
    expect(
        await store.delete("nobody") is False, "DELETE-1", "delete of an unknown id returned True"
    )
    expect(
        await store.count() == 0,
        ("REPLACE-3", "UPDATE-3", "TOUCH-2"),
        "a failed write created a session",
    )


@check("UPDATE-1", "REC-3")
async def check_update(ctx: Ctx) -> None:
    """update passes a private copy to fn and writes its result as a new version."""
    store = ctx.store
    made = await store.create({"n": 1, "tags": ["a"]})
    seen: list[object] = []  # fn's arguments, where fn runs in this process
    new = await store.update(made.id, incrementing("n").observed(seen.append))
    expect(new.data == {"n": 2, "tags": ["a"]}, "UPDATE-1", f"update stored {new.data!r}")
    expect(new.version == 2, ("UPDATE-1", "REC-3"), f"version after update is {new.version}")
    expect_same(new, await store.get(made.id), "UPDATE-1", "get after update")
    expect(
        all(arg is not new.data for arg in seen),
        "UPDATE-1",
        "fn's argument is the returned data object",
    )


class _Boom(Exception):
    pass


@check("UPDATE-2", "ERR-2")
async def check_update_failures(ctx: Ctx) -> None:
    """An fn that raises, or returns bad data, leaves the session as it was."""
    store = ctx.store
    await store.create({"n": 1}, id="u")
    before = await snapshot(store, ["u"])
    boom = _Boom("from fn")
    # mutating the copy must not leak into the store
    explode = setting(n=99).then(raising(boom))
    try:
        await store.update("u", explode)
    except _Boom as exc:
        expect(exc is boom, "UPDATE-2", "update did not propagate fn's exception unchanged")
    except Exception as exc:
        raise ClauseViolation(("UPDATE-2",), f"update turned fn's exception into {exc!r}") from exc
    else:
        raise ClauseViolation(("UPDATE-2",), "update swallowed fn's exception")
    await expect_unchanged(store, ["u"], before, ("UPDATE-2", "ERR-2"), "an update whose fn raised")
    from sessionstore import InvalidSession

    for bad in ([1], {"x": float("nan")}, None):
        if not sendable(store, bad):
            continue  # a value no JSON carries, for a store in another process (9)
        with expect_raises(InvalidSession, "UPDATE-2", f"update whose fn returns {bad!r}"):
            await store.update("u", returning(bad))
    await expect_unchanged(
        store, ["u"], before, ("UPDATE-2", "ERR-2"), "an update whose fn returned bad data"
    )


@check("TOUCH-1", "REC-3", "TTL-2")
async def check_touch(ctx: Ctx) -> None:
    """touch moves the expiry only."""
    store = ctx.store
    made = await store.create({"a": 1}, ttl=10)
    ctx.clock.advance(4000)  # in real time no wait: a touch must move the expiry anyway
    touched, span = await ctx.timed(store.touch(made.id, 10))
    expect(
        touched.data == made.data and touched.version == made.version,
        ("TOUCH-1", "REC-3"),
        "touch changed data or version",
    )
    expect(touched.updated_at == made.updated_at, "TOUCH-1", "touch changed updated_at")
    expect_at(
        ctx,
        touched.expires_at,
        span.after(10_000),
        ("TOUCH-1", "TTL-2"),
        "touch's expires_at - 10 s",
    )
    expect_same(touched, await store.get(made.id), "TOUCH-1", "get after touch")


@check("DELETE-1", "DELETE-2", "ERR-2")
async def check_delete(ctx: Ctx) -> None:
    """delete removes a live session once; a stale expected_version deletes nothing."""
    store = ctx.store
    made = await store.create({"a": 1}, id="d")
    before = await snapshot(store, ["d"])
    with expect_raises(VersionConflict, "DELETE-2", "delete with a stale expected_version"):
        await store.delete("d", expected_version=2)
    await expect_unchanged(store, ["d"], before, ("DELETE-2", "ERR-2"), "a conflicting delete")
    expect(
        await store.delete("d", expected_version=made.version) is True,
        "DELETE-1",
        "delete of a live session did not return True",
    )
    expect(await store.get("d") is None, "DELETE-1", "the session is still there after delete")
    expect(await store.delete("d") is False, "DELETE-1", "a second delete returned True")


@check("LIST-1", "LIST-2", "COUNT-1")
async def check_list_pages(ctx: Ctx) -> None:
    """Pages come in id order; following cursors yields every live session once."""
    store = ctx.store
    ids = sorted(["k7", "a1", "Z9", "m_2", "b-3", "a10", "x"])
    for i in ids:
        await store.create({"id": i}, id=i)
    expect(await store.count() == len(ids), "COUNT-1", "count is not the number of sessions")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(len(ids) + 2):
        page = await store.list(cursor=cursor, limit=3)
        expect(isinstance(page, Page), "LIST-1", f"list returned {type(page).__name__}, not Page")
        expect(len(page.sessions) <= 3, "LIST-1", f"a page of limit 3 holds {len(page.sessions)}")
        got = [s.id for s in page.sessions]
        expect(got == sorted(got), "LIST-1", f"a page is not in ascending id order: {got}")
        for s in page.sessions:
            expect_same(await store.get(s.id), s, "LIST-1", "a listed session")
        seen += got
        cursor = page.cursor
        if cursor is None:
            break
    expect(cursor is None, "LIST-2", "the cursor never came back None")
    expect(seen == ids, "LIST-2", f"listing yielded {seen}, expected {ids}")
    # a full page that ends at the last session has nothing after it: its cursor is None
    whole = await store.list(limit=len(ids))
    expect(
        [s.id for s in whole.sessions] == ids and whole.cursor is None,
        "LIST-1",
        f"list(limit={len(ids)}) over {len(ids)} sessions returned "
        f"{[s.id for s in whole.sessions]} with cursor {whole.cursor!r}: nothing is after it",
    )


@check("LIST-1")
async def check_list_default_limit(ctx: Ctx) -> None:
    """list() without a limit pages by the interface's default of 100 (LIST-1: at most
    ``limit`` sessions, a cursor when more follow)."""
    store = ctx.store
    if store.limits.max_list_limit < 100:
        raise undecided(("LIST-1",), "the store's max_list_limit is under the default limit")
    for i in range(101):
        await store.create(id=f"s{i:03}")
    page = await store.list()
    expect(
        len(page.sessions) == 100 and page.cursor is not None,
        "LIST-1",
        f"list() over 101 sessions returned {len(page.sessions)} with cursor {page.cursor!r}, "
        "not the first 100 and a cursor",
    )


@check("PURGE-1", "LIVE-3", "COUNT-1")
async def check_purge(ctx: Ctx) -> None:
    """purge_expired removes only expired sessions and callers see no difference."""
    store = ctx.store
    ttl = ctx.short_ttl_ms
    start = ctx.now_ms()
    for i in range(3):
        await store.create({"i": i}, ttl=ttl / 1000, id=f"old{i}")
    keep = [await store.create({"i": i}, id=f"new{i}", ttl=3600 if i else None) for i in range(2)]
    await expire(ctx, Span(start, ctx.now_ms()).after(ttl))
    before = await snapshot(store, [s.id for s in keep])
    removed = await store.purge_expired()
    expect(
        isinstance(removed, int) and 0 <= removed <= 3,
        "PURGE-1",
        f"purge_expired returned {removed!r} with 3 expired sessions",
    )
    await expect_unchanged(
        store, [s.id for s in keep], before, ("PURGE-1", "LIVE-3"), "purge_expired"
    )
    expect(await store.count() == 2, ("LIVE-3", "COUNT-1"), "count changed across a purge")
    expect(
        all([await store.get(f"old{i}") is None for i in range(3)]),
        "LIVE-3",
        "a purge made an expired session visible",
    )
    expect(await store.purge_expired() == 0, "PURGE-1", "a second purge removed something")


@check("PURGE-2")
async def check_purge_cost(ctx: Ctx) -> None:
    """Purging a few expired sessions does not cost in proportion to all sessions."""
    store = ctx.store

    rounds = itertools.count()

    async def purge_time(expired: int) -> float:
        # fresh ids each round: a store that expires late is LIVE-1's business, not this one's
        batch = next(rounds)
        began = ctx.now_ms()
        for i in range(expired):
            await store.create(ttl=0.001, id=f"e{batch}_{i}")
        await expire(ctx, Span(began, ctx.now_ms()).after(1))
        start = time.perf_counter()
        await store.purge_expired()
        return time.perf_counter() - start

    small = min([await purge_time(20) for _ in range(3)])
    for i in range(20_000):
        await store.create(id=f"live{i}")
    large = min([await purge_time(20) for _ in range(3)])
    expect(
        large <= 20 * small + 0.005,
        "PURGE-2",
        f"purging 20 expired among 20,000 live took {large * 1e3:.2f} ms vs {small * 1e3:.2f} ms among none",
    )


@check("COPY-1")
async def check_copies(ctx: Ctx) -> None:
    """Neither the data passed in nor the data handed out aliases stored state."""
    store = ctx.store
    data: dict[str, Any] = {"list": [1], "obj": {"k": "v"}}
    made = await store.create(data, id="c")
    data["list"].append(2)
    data["new"] = True
    made.data["obj"]["k"] = "changed"
    got = await store.get("c")
    expect(
        got is not None and got.data == {"list": [1], "obj": {"k": "v"}},
        "COPY-1",
        f"mutating data passed to or returned by create changed the store: {got!r}",
    )
    assert got is not None
    got.data["list"].append(3)
    replaced = await store.replace("c", got.data)
    replaced.data["list"].clear()
    updated = await store.update("c", identity())
    updated.data["obj"] = None
    page = await store.list()
    page.sessions[0].data["list"].append(9)
    (await store.export()).sessions[0].data["obj"] = 0
    final = await store.get("c")
    expect(
        final is not None and final.data == {"list": [1, 3], "obj": {"k": "v"}},
        "COPY-1",
        f"mutating returned data changed the store: {final!r}",
    )
    assert final is not None
    final.data["obj"]["k"] = "mutated"
    again = await store.get("c")
    expect(
        again is not None and again.data == {"list": [1, 3], "obj": {"k": "v"}},
        "COPY-1",
        f"mutating what get returned changed what the next get returns: {again!r}",
    )


@check("OWN-1", "OWN-2")
async def check_owners(ctx: Ctx) -> None:
    """Another principal's calls behave as if the session did not exist."""
    store = ctx.store
    mine = await store.create({"a": 1}, owner="alice", id="mine")
    shared = await store.create({"b": 2}, id="shared")
    expect_same(
        mine, await store.get("mine", owner="alice"), ("OWN-1", "OWN-2"), "get by the owner"
    )
    expect_same(mine, await store.get("mine"), "OWN-2", "an unscoped get")
    expect(
        await store.get("mine", owner="bob") is None, "OWN-2", "another owner can read the session"
    )
    with expect_raises(SessionNotFound, "OWN-2", "replace by another owner"):
        await store.replace("mine", {"x": 1}, owner="bob")
    with expect_raises(SessionNotFound, "OWN-2", "update by another owner"):
        await store.update("mine", identity(), owner="bob")
    with expect_raises(SessionNotFound, "OWN-2", "touch by another owner"):
        await store.touch("mine", 5, owner="bob")
    expect(
        await store.delete("mine", owner="bob") is False,
        "OWN-2",
        "another owner deleted the session",
    )
    expect_same(mine, await store.get("mine"), "OWN-2", "the session after another owner's calls")
    expect_same(shared, await store.get("shared", owner="bob"), "OWN-2", "an unowned session")
    updated = await store.update("mine", returning({"a": 2}), owner="alice")
    expect(updated.owner == "alice", "OWN-1", "update lost the owner")


@check("CLOSE-1", "CLOSE-2")
async def check_close(ctx: Ctx) -> None:
    """close is idempotent; afterwards every operation raises StoreUnavailable."""
    async with ctx.another() as store:
        made = await store.create({"a": 1})
        await store.close()
        await store.close()
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "create": lambda: store.create({}),
            "get": lambda: store.get(made.id),
            "replace": lambda: store.replace(made.id, {}),
            "update": lambda: store.update(made.id, identity()),
            "touch": lambda: store.touch(made.id, 5),
            "delete": lambda: store.delete(made.id),
            "list": lambda: store.list(),
            "count": lambda: store.count(),
            "purge_expired": lambda: store.purge_expired(),
            "export": lambda: store.export(),
        }
        for name, call in calls.items():
            with expect_raises(StoreUnavailable, "CLOSE-2", f"{name} after close"):
                await call()


@check("ERR-3", "ERR-2", requires=("corrupt_for_testing",))
async def check_corrupt_data(ctx: Ctx) -> None:
    """Stored bytes that do not decode raise CorruptSession, never look missing, and a
    call that raises changes nothing (not even the expiry)."""
    from sessionstore import CorruptSession

    store = ctx.store
    made = await store.create({"a": 1}, ttl=60)
    corrupt: Any = getattr(store, "corrupt_for_testing")  # noqa: B009 - an optional hook
    await corrupt(made.id)
    with expect_raises(CorruptSession, "ERR-3", "get of a corrupt session"):
        await store.get(made.id)
    with expect_raises(CorruptSession, "ERR-3", "update of a corrupt session"):
        await store.update(made.id, identity())
    with expect_raises(CorruptSession, "ERR-3", "touch of a corrupt session"):
        await store.touch(made.id, 3600)
    expect(await store.count() == 1, "ERR-3", "a corrupt session no longer counts")
    # replace needs no old data: it overwrites the corrupt bytes, and shows what touch did
    repaired = await store.replace(made.id, {"b": 2})
    expect(
        repaired.expires_at == made.expires_at,
        ("ERR-2", "ERR-3"),
        f"a touch that raised CorruptSession moved the expiry to {repaired.expires_at}",
    )


@check("EXPORT-3", "ERR-3", requires=("corrupt_for_testing",))
async def check_export_refuses_corrupt_data(ctx: Ctx) -> None:
    """An export with a corrupt session among good ones raises CorruptSession: export()
    returns no document, and export_chunks() never completes one (so a backup written
    from it is discarded, not put in place of the last good one)."""
    from sessionstore import CorruptSession

    store = ctx.store
    for name in ("a", "m", "z"):
        await store.create({"name": name}, id=f"{name}x")
    corrupt: Any = getattr(store, "corrupt_for_testing")  # noqa: B009 - an optional hook
    await corrupt("mx")
    with expect_raises(CorruptSession, ("EXPORT-3", "ERR-3"), "export() of a corrupt session"):
        await store.export()
    chunks = getattr(store, "export_chunks", None)
    if chunks is None:
        return
    pieces: list[bytes] = []
    with expect_raises(CorruptSession, "EXPORT-3", "export_chunks() of a corrupt session"):
        async for piece in chunks():
            pieces.append(piece)
    try:
        orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return  # a part of a document, as EXPORT-3 allows
    raise ClauseViolation(("EXPORT-3",), "export_chunks() completed a document, then raised")


@check("ERR-4", requires=("disconnect_for_testing",))
async def check_backend_down(ctx: Ctx) -> None:
    """With its backend unreachable, the store raises StoreUnavailable."""
    store = ctx.store
    made = await store.create({"a": 1})
    disconnect: Any = getattr(store, "disconnect_for_testing")  # noqa: B009 - an optional hook
    await disconnect()
    with expect_raises(StoreUnavailable, "ERR-4", "get with the backend down"):
        await store.get(made.id)
    with expect_raises(StoreUnavailable, "ERR-4", "create with the backend down"):
        await store.create({})
    # Closing may need the backend too (a store that deletes its keys on close): ERR-4
    # makes StoreUnavailable its right answer now, never another error; the kit's own
    # close after the check then finds the store closed (CLOSE-1).
    with contextlib.suppress(StoreUnavailable):
        await store.close()
