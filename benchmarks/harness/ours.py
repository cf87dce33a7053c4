"""Our stores (memory, sqlite, redis) as subjects: each op is the store's own method,
doing the contract's full work.

The point operations hand back the store's own coroutine, unawaited, as a user's call
would be: awaiting it inside a coroutine of this adapter put a second coroutine around
every call (~0.3 us), which the raw engines, whose methods do their work themselves,
did not pay."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from sessionstore.backends.memory import MemoryStore
from sessionstore.backends.redis import RedisStore
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore.contract import SessionStore
from sessionstore.transfer import export_pieces
from sessionstore.values import Session

from .subject import Data, Ids, Subject
from .workload import PAGE, TTL_S, bump

#: The ttl that makes a session expired for ``purge`` (the contract's minimum, 1 ms).
EXPIRED_TTL_S = 0.001


class Ours(Subject):
    kind = "ours"
    store: SessionStore

    async def close(self) -> None:
        await self.store.close()

    async def load(self, document: bytes) -> None:
        await self.store.import_(document)

    def create(self, id: str, data: Data) -> Awaitable[Session]:
        return self.store.create(data, id=id, ttl=TTL_S)

    def get(self, id: str) -> Awaitable[Session | None]:
        return self.store.get(id)

    def replace(self, id: str, data: Data) -> Awaitable[Session]:
        return self.store.replace(id, data)

    def update(self, id: str) -> Awaitable[Session]:
        return self.store.update(id, bump)

    def touch(self, id: str) -> Awaitable[Session]:
        return self.store.touch(id, TTL_S)

    def delete(self, id: str) -> Awaitable[bool]:
        return self.store.delete(id)

    async def list(self, cursor: str) -> Any:
        return await self.store.list(cursor=cursor, limit=PAGE)

    def count(self) -> Awaitable[int]:
        return self.store.count()

    async def expire(self, ids: Ids) -> None:
        for id in ids:
            await self.store.touch(id, EXPIRED_TTL_S)

    async def purge(self) -> None:
        await self.store.purge_expired()

    async def export(self) -> bytes:
        # What a backup writes: the document's JSON text, streamed as the service does.
        return b"".join([piece async for piece in export_pieces(self.store)])


class OursMemory(Ours):
    name = "ours:memory"
    engine = "memory"

    async def open(self, workdir: Path) -> None:
        self.store = MemoryStore()


class OursSQLite(Ours):
    name = "ours:sqlite"
    engine = "sqlite"

    async def open(self, workdir: Path) -> None:
        self.store = await SQLiteStore(workdir / "ours.db").open()


class OursRedis(Ours):
    name = "ours:redis"
    engine = "redis"

    def __init__(self, url: str) -> None:
        self.url = url  # a database of a throwaway server: emptied here

    async def open(self, workdir: Path) -> None:
        async with aioredis.Redis.from_url(self.url) as client:
            await client.flushdb()
        self.store = await RedisStore(self.url).open()
