"""The peers a user would pick instead of our stores, each used as its documentation
shows: what a session needs is written with the library's public API, and nothing is
added that the library does not do (no versions, no copy on read where it hands out the
stored object). An op with no public way to do it is declared ``unsupported``.

* cachetools ``TTLCache`` — a dict with one ttl for the whole cache, holding the
  caller's objects (no copy: ``get`` returns the stored dict).
* ``diskcache.Cache`` — SQLite files with pickled values; synchronous.
* py-key-value's ``MemoryStore`` and ``DiskStore`` (package py-key-value-aio) —
  async key-value stores of JSON-like dicts; put always restates the ttl.
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path
from typing import Any, ClassVar

import orjson

from .subject import Data, Ids, Subject
from .workload import PAGE, TTL_S, bump

BATCH = 1000  # sessions per put_many when loading


def _sessions(document: bytes) -> list[tuple[str, Data]]:
    return [(s["id"], s["data"]) for s in orjson.loads(document)["sessions"]]


class TTLCachePeer(Subject):
    name = "peer:cachetools"
    kind = "peer"
    engine = "memory"
    unsupported: ClassVar[dict[str, str]] = {
        "expire": "one ttl for the whole cache: no session can be made expired alone",
        "purge": "no session can be made expired alone (expire() is the purge)",
    }

    async def open(self, workdir: Path) -> None:
        from cachetools import TTLCache

        self.cache: TTLCache[str, Data] = TTLCache(maxsize=math.inf, ttl=TTL_S)

    async def load(self, document: bytes) -> None:
        self.cache.update(_sessions(document))

    async def create(self, id: str, data: Data) -> None:
        if id in self.cache:
            raise KeyError(f"{id} exists")
        self.cache[id] = data

    async def get(self, id: str) -> Any:
        return self.cache.get(id)

    async def replace(self, id: str, data: Data) -> None:
        if id not in self.cache:
            raise KeyError(id)
        self.cache[id] = data

    async def update(self, id: str) -> None:
        self.cache[id] = bump(self.cache[id])

    async def touch(self, id: str) -> None:
        self.cache[id] = self.cache[id]  # setting again restarts the item's ttl

    async def delete(self, id: str) -> None:
        del self.cache[id]

    async def list(self, cursor: str) -> Any:
        after = heapq.nsmallest(PAGE, (k for k in self.cache if k > cursor))
        return [(k, self.cache[k]) for k in after]

    async def count(self) -> int:
        return len(self.cache)

    async def export(self) -> bytes:
        return orjson.dumps(dict(self.cache.items()))


class DiskCachePeer(Subject):
    name = "peer:diskcache"
    kind = "peer"
    engine = "sqlite"
    unsupported: ClassVar[dict[str, str]] = {"list": "no paging by key"}

    async def open(self, workdir: Path) -> None:
        from diskcache import Cache  # type: ignore[import-untyped]  # diskcache ships no types

        self.cache = Cache(str(workdir / "diskcache"))

    async def close(self) -> None:
        self.cache.close()

    async def load(self, document: bytes) -> None:
        with self.cache.transact():
            for id, data in _sessions(document):
                self.cache.set(id, data, expire=TTL_S)

    async def create(self, id: str, data: Data) -> None:
        if not self.cache.add(id, data, expire=TTL_S):
            raise KeyError(f"{id} exists")

    async def get(self, id: str) -> Any:
        return self.cache.get(id)

    async def replace(self, id: str, data: Data) -> None:
        with self.cache.transact():
            if id not in self.cache:
                raise KeyError(id)
            self.cache.set(id, data, expire=TTL_S)

    async def update(self, id: str) -> None:
        with self.cache.transact():
            self.cache.set(id, bump(self.cache[id]), expire=TTL_S)

    async def touch(self, id: str) -> None:
        if not self.cache.touch(id, expire=TTL_S):
            raise KeyError(id)

    async def delete(self, id: str) -> None:
        if not self.cache.delete(id):
            raise KeyError(id)

    async def count(self) -> int:
        return len(self.cache)

    async def expire(self, ids: Ids) -> None:
        with self.cache.transact():
            for id in ids:
                self.cache.touch(id, expire=0.001)

    async def purge(self) -> None:
        self.cache.expire()

    async def export(self) -> bytes:
        return orjson.dumps({k: self.cache.get(k) for k in self.cache.iterkeys()})


class KeyValuePeer(Subject):
    """py-key-value's stores share one API; ``store`` is made by ``open``."""

    kind = "peer"
    store: Any

    async def load(self, document: bytes) -> None:
        sessions = _sessions(document)
        for start in range(0, len(sessions), BATCH):
            ids, values = zip(*sessions[start : start + BATCH], strict=True)
            await self.store.put_many(list(ids), list(values), ttl=TTL_S)

    async def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            await close()

    async def create(self, id: str, data: Data) -> None:
        if await self.store.get(id) is not None:  # no put-if-absent: read, then write
            raise KeyError(f"{id} exists")
        await self.store.put(id, data, ttl=TTL_S)

    async def get(self, id: str) -> Any:
        return await self.store.get(id)

    async def replace(self, id: str, data: Data) -> None:
        if await self.store.get(id) is None:
            raise KeyError(id)
        await self.store.put(id, data, ttl=TTL_S)

    async def update(self, id: str) -> None:
        await self.store.put(id, bump(await self.store.get(id)), ttl=TTL_S)

    async def touch(self, id: str) -> None:
        await self.store.put(id, await self.store.get(id), ttl=TTL_S)  # no touch: rewrite

    async def delete(self, id: str) -> None:
        if not await self.store.delete(id):
            raise KeyError(id)


class KeyValueMemoryPeer(KeyValuePeer):
    name = "peer:kv-memory"
    engine = "memory"
    unsupported: ClassVar[dict[str, str]] = {
        "count": "keys() stops at its page limit: no count of a large store",
        "export": "keys() stops at its page limit: no way to read every session",
        "expire": "no way to expire a session but its ttl",
        "purge": "expired entries go when read",
    }

    async def open(self, workdir: Path) -> None:
        from key_value.aio.stores.memory import MemoryStore

        self.store = MemoryStore()

    async def list(self, cursor: str) -> Any:
        keys = await self.store.keys(limit=PAGE)  # no cursor: the first page only
        return list(zip(keys, await self.store.get_many(keys), strict=True))


class KeyValueDiskPeer(KeyValuePeer):
    name = "peer:kv-disk"
    engine = "sqlite"
    unsupported: ClassVar[dict[str, str]] = {
        "list": "DiskStore does not enumerate keys",
        "count": "DiskStore does not enumerate keys",
        "expire": "no way to expire a session but its ttl",
        "purge": "expired entries go when read",
        "export": "DiskStore does not enumerate keys",
    }

    async def open(self, workdir: Path) -> None:
        from key_value.aio.stores.disk import DiskStore

        self.store = DiskStore(directory=workdir / "kv-disk")
