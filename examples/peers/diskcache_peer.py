"""diskcache: ``diskcache.Cache``, with and without its own expiry.

What the library gives: a synchronous key-value cache in SQLite files, values kept as
bytes exactly, ``transact()`` (one SQLite transaction, safe across threads and
processes), and an optional ``expire=`` per ``set`` that it keeps on the wall clock
(``time.time()``).

What the wrapper adds (on ``RecordStore``): no eviction (the default drops entries past
1 GiB, live sessions included; no kit run stores that much, so only this line keeps it
right); compare-and-set as read-compare-set inside
``transact()``; imports as one ``transact()`` (``write_many``: IMPORT-2 and isolated,
CONC-1); the record's fields beside its data (``_rows.row_bytes``); an ordered id index
for ``scan``, because the cache has no range query on keys (``iterkeys`` starts from the
first key every time); and the library's errors as ``StoreUnavailable`` (ERR-4). The
calls do not suspend, so each primitive is atomic for the tasks of the store's loop.

Two ways to use it, one factory each:

* ``factory``: no library expiry. Rows stay until ``purge_expired``; liveness comes from
  the store's clock, so the store takes the kit's: ``injectable_clock``.
* ``expiring_factory``: each row is set with ``expire=`` what is left of its life, so the
  library drops it on its own, never before the store's clock says it expired. The
  library keeps time itself: no ``injectable_clock``; the kit checks expiry in real time.

Neither claims ``durable`` or ``multi_process``, though the files would allow them: the
kit reopens a store only through a URL scheme registered by an installed package (CAP-2),
and the id index lives in one process.
Hooks: ``corrupt_for_testing`` (from ``RecordStore``), ``disconnect_for_testing``.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from diskcache import Cache  # type: ignore[import-untyped]  # diskcache ships no types

from sessionstore import Capabilities, Clock
from sessionstore.toolkit import Record, RecordStore, Write

from ._rows import IdIndex, row_bytes, row_from_bytes, seconds_left, unavailable_on


class DiskCacheStore(RecordStore):
    """Sessions in a ``diskcache.Cache`` in a temporary directory, removed on close."""

    capabilities = Capabilities(injectable_clock=True)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._directory = tempfile.mkdtemp(prefix="peer-diskcache-")
        # never evict: the default policy drops the least recently stored entries once the
        # cache passes size_limit (1 GiB), live sessions or not (LIVE-1)
        self._cache = Cache(self._directory, eviction_policy="none")
        self._ids = IdIndex()

    def expire_after(self, record: Record) -> float | None:
        """The ``expire=`` of a row: none, rows stay until purged."""
        return None

    async def read(self, id: str) -> Record | None:
        with self._engine() as cache:
            raw = cache.get(id)
        return None if raw is None else row_from_bytes(id, raw)

    async def write(self, record: Record, expected: Record | None) -> bool:
        return await self.write_many([(record, expected)])

    async def write_many(self, writes: Sequence[Write]) -> bool:
        with self._engine() as cache, cache.transact():
            if any(self._row_in(cache, new.id) != old for new, old in writes):
                return False
            for new, _ in writes:
                cache.set(new.id, row_bytes(new), expire=self.expire_after(new))
                self._ids.add(new.id)
            return True

    async def remove(self, expected: Record) -> bool:
        with self._engine() as cache, cache.transact():
            if self._row_in(cache, expected.id) != expected:
                return False
            cache.delete(expected.id)
            self._ids.discard(expected.id)
            return True

    async def scan(self, after: str | None, limit: int) -> list[Record]:
        rows: list[Record] = []
        with self._engine() as cache, cache.transact():
            while len(rows) < limit:
                ids = self._ids.after(after, limit - len(rows))
                if not ids:
                    break
                for id in ids:
                    row = self._row_in(cache, id)
                    if row is None:  # the library expired it: forget the id
                        self._ids.discard(id)
                    else:
                        rows.append(row)
                after = ids[-1]
        return rows

    async def close_storage(self) -> None:
        self._cache.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    async def disconnect_for_testing(self) -> None:
        """ERR-4's hook: the cache's files disappear under the store."""
        self._cache.close()
        shutil.rmtree(self._directory)

    @staticmethod
    def _row_in(cache: Cache, id: str) -> Record | None:
        raw = cache.get(id)
        return None if raw is None else row_from_bytes(id, raw)

    @contextmanager
    def _engine(self) -> Iterator[Cache]:
        with unavailable_on((sqlite3.Error, OSError), f"the diskcache at {self._directory}"):
            yield self._cache


class ExpiringDiskCacheStore(DiskCacheStore):
    """``DiskCacheStore`` whose rows the library expires on the wall clock."""

    capabilities = Capabilities()

    def expire_after(self, record: Record) -> float | None:
        return seconds_left(record, self._now())


def factory(*, clock: Clock) -> DiskCacheStore:
    """The kit's factory: rows kept until purged, on the kit's clock."""
    return DiskCacheStore(clock=clock)


def expiring_factory(*, clock: Clock) -> ExpiringDiskCacheStore:
    """The kit's factory: the library expires rows; the kit's clock is not taken."""
    return ExpiringDiskCacheStore()
