"""Redis through redis.asyncio directly: the Redis store's raw engine, and the peer a
user who skips a session library would write.

A session is one string key holding its JSON with a server-side TTL (``SET … PX``):
create is ``SET NX``, replace ``SET XX KEEPTTL``, update a ``GET`` and a ``SET`` (no
optimistic lock), touch ``GET`` + ``PEXPIRE`` in one round trip. Plain Redis has no
order by id, so ``list`` is one ``SCAN`` step and ``MGET``; ``count`` is ``DBSIZE`` (the
database holds nothing else); ``purge`` is the server's own expiry, not a call.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

import orjson
import redis.asyncio as aioredis

from .raw_memory import _encode
from .subject import Data, Subject
from .workload import PAGE, TTL_S, bump

TTL_MS = TTL_S * 1000
BATCH = 1000  # commands per pipeline when loading and exporting


def _key(id: str) -> str:
    return f"s:{id}"


class RawRedis(Subject):
    name = "raw:redis"
    kind = "raw"
    engine = "redis"
    unsupported: ClassVar[dict[str, str]] = {
        "purge": "the server expires keys itself",
        "expire": "server-side TTL",
    }

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self, workdir: Any) -> None:
        self.client = aioredis.Redis.from_url(self.url)
        await self.client.flushdb()  # a database of a throwaway server

    async def close(self) -> None:
        await self.client.aclose()

    async def load(self, document: bytes) -> None:
        sessions = orjson.loads(document)["sessions"]
        now = datetime.now(timezone.utc)
        for start in range(0, len(sessions), BATCH):
            async with self.client.pipeline(transaction=False) as pipe:
                for s in sessions[start : start + BATCH]:
                    expires = datetime.fromisoformat(s["expires_at"][:-1] + "+00:00")
                    ttl_ms = int((expires - now).total_seconds() * 1000)
                    pipe.set(_key(s["id"]), _encode(s["data"]), px=ttl_ms)
                await pipe.execute()

    async def create(self, id: str, data: Data) -> None:
        if not await self.client.set(_key(id), _encode(data), nx=True, px=TTL_MS):
            raise KeyError(f"{id} exists")

    async def get(self, id: str) -> Any:
        data = await self.client.get(_key(id))
        return None if data is None else orjson.loads(data)

    async def replace(self, id: str, data: Data) -> None:
        if not await self.client.set(_key(id), _encode(data), xx=True, keepttl=True):
            raise KeyError(id)

    async def update(self, id: str) -> None:
        data = await self.client.get(_key(id))
        if data is None:
            raise KeyError(id)
        await self.client.set(_key(id), _encode(bump(orjson.loads(data))), xx=True, keepttl=True)

    async def touch(self, id: str) -> Any:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(_key(id))
            pipe.pexpire(_key(id), TTL_MS)
            data, found = await pipe.execute()
        if not found:
            raise KeyError(id)
        return orjson.loads(data)

    async def delete(self, id: str) -> None:
        if not await self.client.delete(_key(id)):
            raise KeyError(id)

    async def list(self, cursor: str) -> Any:
        _, keys = await self.client.scan(0, match="s:*", count=PAGE)
        values = await self.client.mget(keys) if keys else []
        return [(k, orjson.loads(v)) for k, v in zip(keys, values, strict=True) if v is not None]

    async def count(self) -> int:
        return int(await self.client.dbsize())

    async def export(self) -> bytes:
        sessions = []
        keys: list[bytes] = []
        async for key in self.client.scan_iter(match="s:*", count=BATCH):
            keys.append(key)
        for start in range(0, len(keys), BATCH):
            part = keys[start : start + BATCH]
            for key, data in zip(part, await self.client.mget(part), strict=True):
                if data is not None:
                    sessions.append({"id": key[2:].decode(), "data": orjson.Fragment(data)})
        return orjson.dumps({"sessions": sessions})
