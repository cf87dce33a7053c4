"""cachetools: ``TTLCache`` behind a lock.

What the library gives: an in-memory mapping with one ttl for every entry (counted from
its last write, on a ``timer`` the caller may pass), least-recently-used eviction at
``maxsize``, and no thread safety ("the cache must be locked" when shared).

What the wrapper adds (on ``RecordStore``): a session store needs a ttl per session, no
ttl at all for some, and never loses a session to eviction; one cache-wide ttl fits none
of that. So the cache gets ``ttl`` and ``maxsize`` infinite, and expiry lives in the rows,
decided by the store's clock (the base class); ``purge_expired`` removes expired rows. A
``threading.Lock`` makes each primitive atomic; an ordered id index serves ``scan``
(the cache iterates in insertion order).

Capabilities: ``injectable_clock`` (the kit's clock also drives the cache's ``timer``).
Nothing outlives the process: no ``durable``, no ``multi_process``. Hooks:
``corrupt_for_testing`` from ``RecordStore``; no backend to lose, so no
``disconnect_for_testing`` (ERR-4 stays unknown, as for the reference memory store).
"""

from __future__ import annotations

import math
import threading
from typing import Any

from cachetools import TTLCache

from sessionstore import Capabilities, Clock
from sessionstore.toolkit import Record, RecordStore

from ._rows import IdIndex


class TTLCacheStore(RecordStore):
    """Sessions as records in a ``TTLCache``, every access under one lock."""

    capabilities = Capabilities(injectable_clock=True)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._cache: TTLCache[str, Record] = TTLCache(
            maxsize=math.inf, ttl=math.inf, timer=lambda: self._now() / 1000
        )
        self._ids = IdIndex()
        self._lock = threading.Lock()

    async def read(self, id: str) -> Record | None:
        with self._lock:
            return self._cache.get(id)

    async def write(self, record: Record, expected: Record | None) -> bool:
        with self._lock:
            if self._cache.get(record.id) != expected:
                return False
            self._cache[record.id] = record
            self._ids.add(record.id)
            return True

    async def remove(self, expected: Record) -> bool:
        with self._lock:
            if self._cache.get(expected.id) != expected:
                return False
            del self._cache[expected.id]
            self._ids.discard(expected.id)
            return True

    async def scan(self, after: str | None, limit: int) -> list[Record]:
        with self._lock:
            return [self._cache[id] for id in self._ids.after(after, limit)]


def factory(*, clock: Clock) -> TTLCacheStore:
    """The kit's factory: a fresh cache on the kit's clock."""
    return TTLCacheStore(clock=clock)
