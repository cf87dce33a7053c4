"""redis-py with GET-then-SET: what a hurried implementer writes. WRONG ON PURPOSE.

The same store as ``redis_peer`` (read its docstring), except that the conditional write
and remove of one row are a GET, a comparison in Python, then a SET (or DEL) on whatever
connection the pool hands out: nothing stops another client from writing between the two. Two
concurrent ``create(id=x)`` both see no row and both write; two ``replace(…,
expected_version=1)`` both see version 1 and both win; concurrent ``update`` calls lose
increments. The kit must reject it: CREATE-3, REPLACE-2, UPDATE-1, CONC-1
(tests/test_peers.py asserts it). Do not fix it; it is the kit's test.
"""

from __future__ import annotations

import os

from sessionstore import Clock
from sessionstore.toolkit import Record

from ._rows import row_bytes
from .redis_peer import RedisWatchStore, _row


class RedisGetThenSetStore(RedisWatchStore):
    async def write(self, record: Record, expected: Record | None) -> bool:
        async with self._engine():
            if _row(record.id, await self._redis.get(self.key(record.id))) != expected:
                return False
            # the race: another client may write this key right here
            await self._redis.set(self.key(record.id), row_bytes(record), pxat=record.expires_ms)
            await self._redis.zadd(self._ids, {record.id: 0})
            await self._redis.incr(self._generation)
            return True

    async def remove(self, expected: Record) -> bool:
        async with self._engine():
            if _row(expected.id, await self._redis.get(self.key(expected.id))) != expected:
                return False
            await self._redis.delete(self.key(expected.id))
            await self._redis.zrem(self._ids, expected.id)
            await self._redis.incr(self._generation)
            return True


def factory(*, clock: Clock) -> RedisGetThenSetStore:
    """The kit's factory: a store with a prefix of its own on ``REDIS_URL``."""
    return RedisGetThenSetStore(os.environ["REDIS_URL"])
