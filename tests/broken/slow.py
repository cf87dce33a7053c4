"""Racy stores behind slow connections: the shape of a client library over a network
backend (redis-py with GET-then-SET, say), which the kit once passed.

Every call of a :class:`PooledStore` goes through a connection from its pool: an idle
(warm) connection answers at once, but a caller that finds none idle opens a new one,
which takes :data:`OPEN_DELAY` seconds. Each command on a connection is one round trip
(an ``await``). The pooled store itself is correct: each operation is one command.

Two mutants split an operation into two commands, as a client library without
transactions does:

* :class:`CreateGetThenSet` — ``create(id=x)`` reads x, then writes it if it was absent
  (CREATE-3 race: concurrent creates of one id can all win).
* :class:`ReplaceGetCompareSet` — ``replace(..., expected_version=v)`` reads the session,
  compares its version, then writes (REPLACE-2 race: concurrent compare-and-sets of one
  version can all win).

A race on them shows only if the racers' connections are all open before the first one
reads: with one warm connection (left by a ``count()``, say) its caller finishes before
the others have connected, and the race looks won by exactly one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sessionstore import TTL, JSONObject, Session, SessionExists, VersionConflict
from sessionstore.backends.memory import MemoryStore
from sessionstore.contract import Updater

from .stores import Mutant, held

#: Seconds a new connection takes to open.
OPEN_DELAY = 0.005


class Pool:
    """Connections: an idle one is taken at once, else a new one opens slowly."""

    def __init__(self) -> None:
        self.idle = 0
        self.opened = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        if self.idle:
            self.idle -= 1
        else:
            await asyncio.sleep(OPEN_DELAY)
            self.opened += 1
        try:
            yield
        finally:
            self.idle += 1


async def round_trip() -> None:
    """One command on a connection: the caller waits for the answer."""
    await asyncio.sleep(0)


class PooledStore(MemoryStore):
    """The memory store behind a pool of slow-to-open connections, one command per call:
    correct, only slower to reach."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.pool = Pool()

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        async with self.pool.connection():
            await round_trip()
            return await super().create(data, ttl=ttl, id=id, owner=owner)

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        async with self.pool.connection():
            await round_trip()
            return await super().get(id, owner=owner)

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        async with self.pool.connection():
            await round_trip()
            return await super().replace(
                id, data, expected_version=expected_version, ttl=ttl, owner=owner
            )

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        async with self.pool.connection():
            await round_trip()
            return await super().update(id, fn, ttl=ttl, owner=owner)

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        async with self.pool.connection():
            await round_trip()
            return await super().delete(id, expected_version=expected_version, owner=owner)

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        async with self.pool.connection():
            await round_trip()
            return await super().touch(id, ttl, owner=owner)


class CreateGetThenSet(PooledStore):
    """create(id=x) is GET x, then SET x if it was absent: two round trips, and every
    create that read before the first write wins (breaks CREATE-3 under CONC-1)."""

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        if id is None:
            return await super().create(data, ttl=ttl, owner=owner)
        async with self.pool.connection():
            await round_trip()  # GET x
            if await MemoryStore.get(self, id) is not None:
                raise SessionExists(f"a live session with id {id!r} exists")
            await round_trip()  # SET x: overwrites whatever was written meanwhile
            with self._lock:
                written = held(self, id)
                if written is not None:
                    self._remove(written)
            return await MemoryStore.create(self, data, ttl=ttl, id=id, owner=owner)


class ReplaceGetCompareSet(PooledStore):
    """replace(..., expected_version=v) is GET, compare the version, then SET: every
    replace that read before the first write wins (breaks REPLACE-2 under CONC-1)."""

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        if expected_version is None:
            return await super().replace(id, data, ttl=ttl, owner=owner)
        async with self.pool.connection():
            await round_trip()  # GET
            current = await MemoryStore.get(self, id, owner=owner)
            if current is not None and current.version != expected_version:
                raise VersionConflict(
                    f"session {id!r} is at version {current.version}, not {expected_version}",
                    expected=expected_version,
                    actual=current.version,
                )
            await round_trip()  # SET, unconditionally
            return await MemoryStore.replace(self, id, data, ttl=ttl, owner=owner)


#: Caught only when the racers' connections are all warm before they race.
SLOW: list[Mutant] = [
    Mutant(CreateGetThenSet, ("CREATE-3", "CONC-1")),
    Mutant(ReplaceGetCompareSet, ("REPLACE-2", "CONC-1")),
]
