"""py-key-value (package ``py-key-value-aio``): ``MemoryStore`` and ``DiskStore``.

What the library gives: async ``get``/``put``/``delete`` of JSON-like dicts, with a ttl
per ``put`` that the library keeps on the wall clock (``datetime.now``); ``DiskStore``
keeps them in a diskcache directory.

What the wrapper adds (on ``RecordStore``): compare-and-set, which the library lacks: an
``asyncio.Lock`` around read-compare-put, which is atomic because every store here lives
in one event loop; the record's fields beside its data (``_rows.row_text``); and an
ordered id index for ``scan``, because ``keys()`` returns at most 10,000 keys, in no order
(LIST-1, COUNT-1 beyond that). Each row is put with a ttl of what is left of its life
(``seconds_left``), so the library hides it once expired, never before the store's clock
says so (LIVE-1). ``MemoryStore`` never frees an expired entry (its cache compares
expiry instants in epoch seconds with a ``time.monotonic`` timer), so ``scan`` deletes
the expired entries it meets, and ``purge_expired``, which scans every row, frees them
all (LIVE-3, PURGE-1).

The library passes the SQLite and file errors of ``DiskStore`` through; the wrapper makes
them ``StoreUnavailable`` (ERR-4). (Handing ``DiskStore`` a ``diskcache.Cache`` of one's
own, ``disk_cache=``, does not work while the cache is empty: the library tests it for
truth, an empty cache is false, and the store is left without one.)

Capabilities: none. The library keeps time itself, so the store cannot take the kit's
clock (no ``injectable_clock``; the kit checks expiry in real time). ``DiskStore`` keeps
its files, but reopening them needs a URL scheme registered by an installed package
(CAP-2), and the index lives in one process: no ``durable``, no ``multi_process``.
Hooks: ``corrupt_for_testing`` from ``RecordStore``; ``disconnect_for_testing`` on
``DiskStore`` (its files disappear); none on ``MemoryStore``, which has no backend to lose.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from typing import Any

from key_value.aio.stores.disk import DiskStore
from key_value.aio.stores.memory import MemoryStore

from sessionstore import Capabilities, Clock
from sessionstore.toolkit import Record, RecordStore

from ._rows import IdIndex, row_from_text, row_text, seconds_left, unavailable_on

COLLECTION = "sessions"


class KeyValueStore(RecordStore):
    """Sessions in a py-key-value store, one dict ``{"row": row_text}`` per session."""

    capabilities = Capabilities()
    #: the library's exceptions that mean its backend is gone (ERR-4)
    failures: tuple[type[BaseException], ...] = ()

    def __init__(self, kv: Any, **options: Any) -> None:
        super().__init__(**options)  # no clock: the library's ttl runs on the wall clock
        self._kv = kv
        self._ids = IdIndex()
        self._lock = asyncio.Lock()  # makes read-compare-put one step (CONC-1)

    async def read(self, id: str) -> Record | None:
        with unavailable_on(self.failures, type(self._kv).__name__):
            value = await self._kv.get(id, collection=COLLECTION)
        return None if value is None else row_from_text(id, value["row"])

    async def write(self, record: Record, expected: Record | None) -> bool:
        async with self._lock:
            if await self.read(record.id) != expected:
                return False
            ttl = seconds_left(record, self._now())
            with unavailable_on(self.failures, type(self._kv).__name__):
                await self._kv.put(
                    record.id, {"row": row_text(record)}, collection=COLLECTION, ttl=ttl
                )
            self._ids.add(record.id)
            return True

    async def remove(self, expected: Record) -> bool:
        async with self._lock:
            if await self.read(expected.id) != expected:
                return False
            with unavailable_on(self.failures, type(self._kv).__name__):
                await self._kv.delete(expected.id, collection=COLLECTION)
            self._ids.discard(expected.id)
            return True

    async def scan(self, after: str | None, limit: int) -> Sequence[Record]:
        async with self._lock:  # one instant: no write between the reads
            rows: list[Record] = []
            while len(rows) < limit:
                ids = self._ids.after(after, limit - len(rows))
                if not ids:
                    return rows
                for id in ids:
                    row = await self.read(id)
                    if row is None:  # the library expired it: forget the id, drop the entry
                        self._ids.discard(id)
                        await self._kv.delete(id, collection=COLLECTION)
                    else:
                        rows.append(row)
                after = ids[-1]
            return rows


class DiskKeyValueStore(KeyValueStore):
    """``KeyValueStore`` on a ``DiskStore`` in a temporary directory, removed on close."""

    failures = (sqlite3.Error, OSError)

    def __init__(self, **options: Any) -> None:
        self._directory = tempfile.mkdtemp(prefix="peer-kv-disk-")
        super().__init__(DiskStore(directory=self._directory), **options)

    async def close_storage(self) -> None:
        await self._kv.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    async def disconnect_for_testing(self) -> None:
        """ERR-4's hook: the files disappear under the store."""
        await self._kv.close()
        shutil.rmtree(self._directory)


def memory_factory(*, clock: Clock) -> KeyValueStore:
    """The kit's factory: a ``MemoryStore``; the kit's clock is not taken (see above)."""
    return KeyValueStore(MemoryStore())


def disk_factory(*, clock: Clock) -> DiskKeyValueStore:
    """The kit's factory: a ``DiskStore`` in a fresh directory."""
    return DiskKeyValueStore()
