"""Stores larger than the backends' own scan and page limits (COUNT-1, LIST-1, LIST-2,
EXPORT-1).

Theory of operation. Backends read big key spaces in pieces: a key-value library whose
scan stops at 10,000 entries, server-side pages of a few thousand keys, 16-bit counters
that wrap at 65,536. A store built on one is right on the few sessions of the other
checks and silently wrong beyond the limit (``count()`` answering 10,000 for 10,050
live sessions). This check fills one store past both limits and reads it all back:

1. Fill, as fast as the store allows: generated sessions (random ids, so that id order
   is not insertion order; no expiry, so that no clock matters) imported in batches of
   about two seconds each with ``import_``, as JSON text, else as a mapping; if
   ``import_`` fails both ways, the rest by concurrent ``create(id=...)``.
2. Read back: ``count()`` is exact (COUNT-1); a cursor walk with the store's maximum
   ``limit`` and one with a small limit each yield every id exactly once, in ascending
   order, with its data, no page over its limit (LIST-1, LIST-2); ``export()`` holds
   every id exactly once (EXPORT-1).

In two stages, because a store may read far slower than it imports (py-key-value's
memory store reads a session in 0.13 ms): first just past the first limit
(``FIRST_STAGE``), filled and read back; then on towards the profile's target, filled
only as far as the first reading's pace says the second can be read back within the
budget. A store that cannot be filled past 10,000 sessions, or read back at that size,
within the budget leaves the check unknown (NotVerified), saying how far it got. One
decided past 10,000 but not past 65,536 is checked at the size it reached, and a
:class:`LargeStoreWarning` says so.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from sessionstore import SessionExists, SessionStore

from ..errors import ClauseViolation, NotVerified, expect
from .registry import Ctx, check

CLAUSES = ("COUNT-1", "LIST-1", "LIST-2", "EXPORT-1")
#: Common limits of backends' key scans and pages: the store must hold more than these.
SCAN_LIMITS = (10_000, 65_536)
#: Sessions to store, per profile; stores that fill slower stop at the time budget.
TARGET = {"ci": 70_000, "dev": 70_000, "thorough": 140_000}
#: Seconds the whole check may take, per profile; the fill gets FILL_SHARE of it.
BUDGET_S = {"ci": 40.0, "dev": 60.0, "thorough": 300.0}
FILL_SHARE = 0.5
#: Sessions of the first stage: past the first scan limit, few enough to read back soon.
FIRST_STAGE = 11_000
#: The small page size of the second walk: a prime, so no page ends on a round number.
SMALL_LIMIT = 37
#: Concurrent creates in flight when the store cannot import.
CREATES_IN_FLIGHT = 64
#: Timestamps of the generated sessions: in the past of the kit's clock (clock.START).
STAMP = "2029-12-31T00:00:00.000Z"


class LargeStoreWarning(UserWarning):
    """The large-store check passed on a store smaller than it aims for."""


class OutOfTime(Exception):
    """The check's time budget ran out before it could decide."""


class Budget:
    """The profile's time for this check, and the fill's share of it."""

    def __init__(self, profile: str) -> None:
        self.seconds = BUDGET_S.get(profile, BUDGET_S["dev"])
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def fill_left(self) -> float:
        return self.seconds * FILL_SHARE - self.elapsed()

    def require(self, doing: str) -> None:
        if self.elapsed() > self.seconds:
            raise OutOfTime(f"the {self.seconds:g} s budget ran out while {doing}")


def generated_ids(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct ids of 16 URL-safe characters (96 random bits), in random order."""
    ids: dict[str, None] = {}
    while len(ids) < count:
        ids[base64.urlsafe_b64encode(rng.getrandbits(96).to_bytes(12, "big")).decode()] = None
    return list(ids)


def data_of(index: int) -> dict[str, Any]:
    return {"n": index}


def export_item(session_id: str, index: int) -> dict[str, Any]:
    return {
        "id": session_id,
        "data": data_of(index),
        "version": 1,
        "created_at": STAMP,
        "updated_at": STAMP,
        "expires_at": None,
        "owner": None,
    }


def export_document(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": STAMP,
        "sessions": items,
    }


def as_text(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(export_document(items))


#: How the fill imports a batch, fastest first: JSON text (the reference stores stream it
#: through a fast reader), then a mapping.
IMPORTS = (("import_ of JSON text", as_text), ("import_ of a mapping", export_document))


async def fill(
    store: SessionStore,
    ids: list[str],
    budget: Budget,
    done: int = 0,
    room: Callable[[int], bool] = lambda stored: True,
) -> tuple[int, str]:
    """Store sessions ``ids[done], ids[done + 1], …`` until all are in, the fill's time is
    up, or ``room(stored)`` says that the next batch could not be read back in time; return how many are
    stored and how they went in. A batch that failed halfway (against IMPORT-2) is
    written again without harm: imports replace, and a create that finds its id taken
    finds it stored."""
    batch, ways = 1000, []

    def more() -> bool:
        return done < len(ids) and budget.fill_left() > 0 and room(done + batch)

    for way, encode in IMPORTS:
        ways.append(way)
        while more():
            chunk = range(done, min(done + batch, len(ids)))
            started = time.perf_counter()
            try:
                items = [export_item(ids[i], i) for i in chunk]
                await store.import_(encode(items), on_conflict="replace")
            except Exception:  # whatever the reason, fill on another way
                break
            done = chunk.stop
            rate = len(chunk) / max(time.perf_counter() - started, 1e-6)
            batch = int(min(20_000, max(500, rate * 2)))  # a batch of about two seconds
        else:
            return done, ", then ".join(ways)
    ways.append("concurrent create")
    while more():
        chunk = range(done, min(done + CREATES_IN_FLIGHT, len(ids)))
        made = [store.create(data_of(i), id=ids[i]) for i in chunk]
        for outcome in await asyncio.gather(*made, return_exceptions=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, SessionExists):
                raise outcome
        done = chunk.stop
    return done, ", then ".join(ways)


async def walk(store: SessionStore, limit: int, budget: Budget) -> list[Any]:
    """Every session a cursor walk with ``limit`` yields, checking each page (LIST-1)."""
    seen: list[Any] = []
    cursor: str | None = None
    while True:
        budget.require(f"listing with limit={limit} ({len(seen)} sessions so far)")
        page = await store.list(cursor=cursor, limit=limit)
        expect(
            len(page.sessions) <= limit,
            "LIST-1",
            f"a page of limit {limit} holds {len(page.sessions)} sessions",
        )
        seen += page.sessions
        if (cursor := page.cursor) is None:
            return seen


def expect_every_id_once(got: list[str], want: list[str], clauses: str, what: str) -> None:
    """``got`` is ``want`` (sorted), else say what is missing, repeated or out of order."""
    if got == want:
        return
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    repeated = len(got) - len(set(got))
    detail = f"{what} yields {len(got):,} ids for {len(want):,} sessions"
    if missing:
        detail += f", {len(missing):,} missing (the first {missing[0]!r})"
    if extra:
        detail += f", {len(extra):,} never stored (the first {extra[0]!r})"
    if repeated:
        detail += f", {repeated:,} repeated"
    if not (missing or extra or repeated):
        at = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
        detail += f", out of id order from position {at:,} ({got[at]!r})"
    expect(False, clauses, detail)


class ReadBack:
    """The readings of one stage on the first ``stored`` of ``ids``."""

    def __init__(self, store: SessionStore, ids: list[str], stored: int, how: str) -> None:
        self.store, self.stored = store, stored
        self.index = {session_id: i for i, session_id in enumerate(ids[:stored])}
        self.want = sorted(self.index)
        self.filled = f"{stored:,} sessions stored by {how}"

    async def count(self, budget: Budget) -> None:
        got = await self.store.count()
        expect(
            got == self.stored, "COUNT-1", f"count() is {got:,} for {self.stored:,} live sessions"
        )

    async def walk_with(self, limit: int, budget: Budget) -> None:
        sessions = await walk(self.store, limit, budget)
        expect_every_id_once(
            [s.id for s in sessions], self.want, "LIST-2", f"a walk with limit={limit}"
        )
        wrong = [s.id for s in sessions if s.data != data_of(self.index[s.id])]
        expect(not wrong, "LIST-1", f"listed sessions with other data: {wrong[:3]}")

    async def export(self, budget: Budget) -> None:
        budget.require("exporting")
        exported = [s.id for s in (await self.store.export()).sessions]
        expect_every_id_once(sorted(exported), self.want, "EXPORT-1", "export()")

    async def run(self, budget: Budget) -> None:
        """Every reading, so that one failure does not hide another (a scan cut short
        shows in count and list alike); ClauseViolation with them all, or OutOfTime."""
        max_limit = getattr(getattr(self.store, "limits", None), "max_list_limit", 1000)
        found: list[ClauseViolation] = []
        readings = (self.count, partial(self.walk_with, max_limit))
        for reading in (*readings, partial(self.walk_with, SMALL_LIMIT), self.export):
            try:
                await reading(budget)
            except ClauseViolation as violation:
                found.append(violation)
        if found:
            blamed = tuple(dict.fromkeys(c for v in found for c in v.clauses))
            message = "; ".join(v.message for v in found)
            raise ClauseViolation(blamed, f"with {self.filled}: {message}")


@check(*CLAUSES)
async def check_large_store(ctx: Ctx) -> None:
    """Past 10,000 and 65,536 sessions: count exact, cursor walks and export complete."""
    store, budget = ctx.store, Budget(ctx.profile)
    rng = random.Random(ctx.seed if ctx.seed is not None else 65_537)
    ids = generated_ids(TARGET.get(ctx.profile, TARGET["dev"]), rng)
    stored, how = await fill(store, ids[:FIRST_STAGE], budget)
    if stored <= SCAN_LIMITS[0]:
        raise NotVerified(
            CLAUSES,
            f"only {stored:,} sessions stored by {how} in {budget.elapsed():.1f} s: a large store needs over {SCAN_LIMITS[0]:,}",
        )
    began = time.perf_counter()
    try:
        await ReadBack(store, ids, stored, how).run(budget)
    except OutOfTime as late:
        raise NotVerified(CLAUSES, f"{stored:,} sessions stored by {how}, then {late}") from None
    per_session = (time.perf_counter() - began) / stored
    decided = stored

    def room(stored: int) -> bool:  # read back at the first stage's pace, with a margin
        return budget.elapsed() + 1.5 * per_session * stored < budget.seconds

    more, how = await fill(store, ids, budget, stored, room)
    if more > stored:
        try:
            await ReadBack(store, ids, more, how).run(budget)
            decided = more
        except OutOfTime:
            pass
    if decided <= SCAN_LIMITS[1]:
        warnings.warn(
            f"COUNT-1, LIST-1, LIST-2 and EXPORT-1 hold for {decided:,} sessions, "
            f"not past {SCAN_LIMITS[1]:,}: the check ran out of time",
            LargeStoreWarning,
            stacklevel=1,
        )
