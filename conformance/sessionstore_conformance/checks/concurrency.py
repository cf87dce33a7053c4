"""Blunt races (CONC-1): many clients make the same call at the same instant, and the
kit counts the winners exactly. Run for every store; no clock needed.

A race shows only if the racers really overlap. Three things the kit does so that they
do, whatever the machine's load and the store's connection state:

* **Warm clients.** A store that opens a connection per concurrent caller answers the
  caller holding a warm connection at once, while the others are still connecting: the
  first racer would finish before the second starts. So every client first makes a
  harmless call (``get`` of a missing id) *concurrently with the others*, which leaves a
  connection (or whatever the store keeps per caller) ready for each.
* **A start barrier.** Then every client waits on one event; once all are warm, the kit
  sets it and the clients make their racing call together.
* **Repeated bursts, several instances.** Each check plays :func:`bursts` bursts (by the
  run's profile), each on a fresh session id, and reports the first one that breaks a
  clause. Where the store declares ``multi_process`` or ``multi_host`` (and exposes
  ``url``, CAP-2), :data:`INSTANCES` store instances opened on the same backing data take
  turns among the clients (CONC-1 across instances, CONC-2).

The races: ``create`` of one id (CREATE-3: exactly one wins), ``replace`` with one
``expected_version`` (REPLACE-2: exactly one wins), ``delete`` and ``replace`` with one
``expected_version`` (DELETE-2, REPLACE-2: exactly one of them wins), and ``update``
increments raced by ``touch`` (UPDATE-1: none lost). Messages give exact counts.

One more race is of a different shape: an ``import_`` of many sessions is *one*
operation, so readers running beside it must see none of it or all of it (CONC-1), never
a part. A store that applies an import a row at a time (the toolkit's default
``write_many`` over primitives that yield) shows intermediate counts to them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel

from sessionstore import (
    Session,
    SessionExists,
    SessionNotFound,
    SessionStore,
    VersionConflict,
)

from ..errors import expect
from ..target import reopen
from ..wire.transforms import incrementing
from .durability import store_url
from .registry import Ctx, check
from .scale import as_text, export_item

#: Clients racing in one burst.
TASKS = 50
#: Bursts per check, by profile (a race missed by one burst is caught by the next).
BURSTS = {"ci": 5, "dev": 10, "thorough": 40}
#: Store instances on the same backing data, where the store allows several.
INSTANCES = 3
#: A touch ttl far longer than any burst: nothing expires while the kit races.
LONG_TTL = timedelta(hours=1)
#: Sessions in each import that readers watch: few enough for one listing to hold the
#: whole store, then more than a store may apply in one step (the memory store prepares
#: an import of over 2,000 beside its indexes); and the readers watching each.
IMPORT_SIZES = (200, 2_500)
READERS = 4


def max_list_limit(store: SessionStore) -> int:
    return int(getattr(getattr(store, "limits", None), "max_list_limit", 1000))


def bursts(ctx: Ctx) -> int:
    return BURSTS.get(ctx.profile, BURSTS["dev"])


@asynccontextmanager
async def instances(ctx: Ctx) -> AsyncIterator[list[SessionStore]]:
    """The check's store, plus instances opened from its ``url`` where it shares data (for
    an ``exec:`` target, servers of their own attached to it: other processes)."""
    caps = ctx.store.capabilities
    stores = [ctx.store]
    async with AsyncExitStack() as stack:
        if (caps.multi_process or caps.multi_host) and hasattr(ctx.store, "url"):
            url = store_url(ctx.store)
            clock = ctx.clock if caps.injectable_clock else None
            for _ in range(INSTANCES - 1):
                stores.append(await stack.enter_async_context(reopen(ctx.factory, url, clock)))
        yield stores


@dataclass
class Tally:
    """The outcomes of one burst: each call's result, or the error it raised."""

    results: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def count(self, kind: type[BaseException]) -> int:
        return sum(isinstance(e, kind) for e in self.errors)

    def odd(self, *expected: type[BaseException]) -> list[BaseException]:
        return [e for e in self.errors if not isinstance(e, expected)]


Racer = Callable[[int, SessionStore], Awaitable[Any]]


async def burst(stores: list[SessionStore], racer: Racer, tasks: int = TASKS) -> Tally:
    """``tasks`` clients (client i on ``stores[i % len(stores)]``) warm up together, wait
    at one barrier, then each awaits ``racer(i, store)``: what they got, and raised."""
    tally = Tally()
    warm = 0
    all_warm = anyio.Event()
    go = anyio.Event()

    async def client(i: int) -> None:
        nonlocal warm
        store = stores[i % len(stores)]
        await store.get(f"warm-{i}")  # its connection now exists
        warm += 1
        if warm == tasks:
            all_warm.set()
        await go.wait()
        try:
            tally.results.append(await racer(i, store))
        except Exception as exc:
            tally.errors.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(tasks):
            tg.start_soon(client, i)
        await all_warm.wait()
        go.set()
    return tally


def _odd(tally: Tally, what: str, *expected: type[BaseException]) -> None:
    odd = tally.odd(*expected)
    expect(not odd, "CONC-1", f"{what}: {len(odd)} calls raised errors, e.g. {odd[:2]!r}")


def _where(stores: list[SessionStore], n: int, total: int) -> str:
    on = f" through {len(stores)} instances" if len(stores) > 1 else ""
    return f"burst {n} of {total}{on}"


# --- the racers: client i's call on its store ------------------------------------------


async def _create(sid: str, i: int, store: SessionStore) -> Session:
    return await store.create({"client": i}, id=sid)


async def _replace(made: Session, i: int, store: SessionStore) -> Session:
    return await store.replace(made.id, {"client": i}, expected_version=made.version)


async def _delete_or_replace(made: Session, i: int, store: SessionStore) -> Session | bool:
    if i % 2:
        return await _replace(made, i, store)
    return await store.delete(made.id, expected_version=made.version)


_increment = incrementing("n")


async def _update_or_touch(sid: str, i: int, store: SessionStore) -> Session:
    if i % 5 == 0:  # a touch rewrites the record too: it must not lose updates (first, so
        return await store.touch(sid, LONG_TTL)  # a stale touch lands after later updates)
    return await store.update(sid, _increment)


# --- the checks ---------------------------------------------------------------------------


@check("CONC-1", "CREATE-3")
async def check_concurrent_creates(ctx: Ctx) -> None:
    """Concurrent creates of one id: exactly one succeeds, the others raise SessionExists."""
    total = bursts(ctx)
    async with instances(ctx) as stores:
        for n in range(1, total + 1):
            sid = f"race-create-{n}"
            tally = await burst(stores, partial(_create, sid))
            where = _where(stores, n, total)
            _odd(tally, f"{where}: concurrent creates of one id", SessionExists)
            wins = len(tally.results)
            expect(
                wins == 1,
                ("CONC-1", "CREATE-3"),
                f"{where}: {wins} of {TASKS} concurrent creates of id {sid!r} succeeded "
                f"({tally.count(SessionExists)} raised SessionExists); exactly 1 may",
            )


@check("CONC-1", "REPLACE-2")
async def check_concurrent_compare_and_set(ctx: Ctx) -> None:
    """Concurrent replaces with the same expected_version: exactly one succeeds, the others
    raise VersionConflict."""
    total = bursts(ctx)
    async with instances(ctx) as stores:
        for n in range(1, total + 1):
            made = await ctx.store.create({"n": 0})
            tally = await burst(stores, partial(_replace, made))
            where = _where(stores, n, total)
            _odd(tally, f"{where}: concurrent replaces", VersionConflict)
            wins = len(tally.results)
            final = await ctx.store.get(made.id)
            expect(
                wins == 1,
                ("CONC-1", "REPLACE-2"),
                f"{where}: {wins} of {TASKS} replaces of {made.id!r} with expected_version="
                f"{made.version} succeeded ({tally.count(VersionConflict)} raised "
                f"VersionConflict); exactly 1 may. The session ended at version "
                f"{final.version if final else None}",
            )


@check("CONC-1", "DELETE-2", "REPLACE-2")
async def check_concurrent_delete_and_replace(ctx: Ctx) -> None:
    """Concurrent deletes and replaces, all with the same expected_version: exactly one call
    wins (a delete returning True or a replace); no two deletes both return True."""
    total = bursts(ctx)
    async with instances(ctx) as stores:
        for n in range(1, total + 1):
            made = await ctx.store.create({"n": 0})
            tally = await burst(stores, partial(_delete_or_replace, made))
            where = _where(stores, n, total)
            _odd(
                tally,
                f"{where}: concurrent deletes and replaces",
                VersionConflict,
                SessionNotFound,
            )
            deleted = sum(r is True for r in tally.results)
            replaced = sum(not isinstance(r, bool) for r in tally.results)
            expect(
                deleted + replaced == 1,
                ("CONC-1", "DELETE-2", "REPLACE-2"),
                f"{where}: of {TASKS} calls on {made.id!r} with expected_version="
                f"{made.version} ({TASKS // 2} deletes, {TASKS - TASKS // 2} replaces), "
                f"{deleted} deletes returned True and {replaced} replaces succeeded; "
                "exactly 1 may win",
            )


@check("CONC-1", "UPDATE-1")
async def check_concurrent_updates(ctx: Ctx) -> None:
    """Concurrent increments through update, raced by touches, leave exactly one increment
    (and one version) per update."""
    total = bursts(ctx)
    async with instances(ctx) as stores:
        for n in range(1, total + 1):
            made = await ctx.store.create({"n": 0})
            tally = await burst(stores, partial(_update_or_touch, made.id))
            where = _where(stores, n, total)
            _odd(tally, f"{where}: concurrent updates")
            updates = TASKS - TASKS // 5
            final = await ctx.store.get(made.id)
            got = final.data.get("n") if final else None
            expect(
                got == updates,
                ("CONC-1", "UPDATE-1"),
                f"{where}: {updates} concurrent increments through update (with "
                f"{TASKS // 5} touches racing) left n={got}: "
                f"{updates - got if isinstance(got, int) else 'all'} updates lost",
            )
            expect(
                final is not None and final.version == made.version + updates,
                ("CONC-1", "REC-3"),
                f"{where}: {updates} concurrent updates took version {made.version} to "
                f"{final.version if final else None}, not {made.version + updates}",
            )


@dataclass
class ImportWatch:
    """One import and the readers beside it, as the clients of one :func:`burst`: client
    0 imports, the others read until it is done. What the readers saw: the count()
    values, and for each listing that held the whole store, how many of the import's
    sessions it held."""

    document: bytes
    imported: set[str]
    limit: int
    counts: set[int] = field(default_factory=set)
    listed: set[int] = field(default_factory=set)
    importing: bool = True

    async def client(self, i: int, store: SessionStore) -> None:
        if i == 0:
            try:
                await store.import_(self.document)
            finally:
                self.importing = False
            return
        while self.importing:
            self.counts.add(await store.count())
            page = await store.list(limit=self.limit)
            if page.cursor is None:  # the whole store in one listing
                self.listed.add(sum(s.id in self.imported for s in page.sessions))
            await anyio.lowlevel.checkpoint()  # a store that never yields must not starve it


@check("CONC-1", "IMPORT-6")
async def check_import_seen_whole(ctx: Ctx) -> None:
    """While an import of many sessions runs, concurrent readers see none of it or all of
    it: every count() is the count before or after, every listing holds none or all."""
    rounds = IMPORT_SIZES * max(1, bursts(ctx) // 5)
    total = len(rounds)
    async with instances(ctx) as stores:
        for n, size in enumerate(rounds, 1):
            ids = [f"whole-{n}-{i:04d}" for i in range(size)]
            document = as_text([export_item(sid, i) for i, sid in enumerate(ids)])
            before = await ctx.store.count()
            limit = min(size + before + 1, max_list_limit(ctx.store))
            watch = ImportWatch(document, set(ids), limit)
            tally = await burst(stores, watch.client, tasks=1 + READERS)
            where = _where(stores, n, total)
            _odd(tally, f"{where}: an import with readers beside it")
            after = before + size
            seen = await ctx.store.count()
            expect(
                seen == after,
                "IMPORT-6",
                f"{where}: count() is {seen} after importing {size} new sessions into {before}",
            )
            between = sorted(c for c in watch.counts if c not in (before, after))
            expect(
                not between,
                "CONC-1",
                f"{where}: readers beside an import of {size} sessions (into "
                f"{before}) saw count() at {len(between)} values between, e.g. "
                f"{between[:5]}: the import is one operation, seen whole or not at all",
            )
            partial_lists = sorted(k for k in watch.listed if k not in (0, size))
            expect(
                not partial_lists,
                "CONC-1",
                f"{where}: listings beside an import of {size} sessions held "
                f"{partial_lists[:5]} of them: the import is one operation, seen whole or not at all",
            )
