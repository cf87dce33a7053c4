"""py-key-value (package ``py-key-value-aio``): ``MemoryStore`` and ``DiskStore``.

What the library gives: async ``get``/``put``/``delete`` of JSON-like dicts, with a ttl
per ``put`` that the library keeps on the wall clock (``datetime.now``); ``DiskStore``
keeps them in a diskcache directory.

What the wrapper adds (on ``RecordStore``): compare-and-set, which the library lacks: an
``asyncio.Lock`` around read-compare-put, which is atomic because every store here lives
in one event loop; the record's fields beside its data (``_rows.row_text``); and an
ordered id index for ``scan``, because ``keys()`` returns at most 10,000 keys, in no order
(LIST-1, COUNT-1 beyond that). Each row is put with a ttl of what is left of its life
(``seconds_left``), so the library reclaims expired rows, never before the store's clock
says they expired (LIVE-3).

Capabilities: none. The library keeps time itself, so the store cannot take the kit's
clock (no ``injectable_clock``; the kit checks expiry in real time). ``DiskStore`` keeps
its files, but reopening them needs a URL scheme registered by an installed package
(CAP-2), and the index lives in one process: no ``durable``, no ``multi_process``.
Hooks: ``corrupt_for_testing`` from ``RecordStore``; no ``disconnect_for_testing``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

from key_value.aio.stores.disk import DiskStore
from key_value.aio.stores.memory import MemoryStore

from sessionstore import Capabilities, Clock
from sessionstore.toolkit import Record, RecordStore

from ._rows import IdIndex, row_from_text, row_text, seconds_left

COLLECTION = "sessions"


class KeyValueStore(RecordStore):
    """Sessions in a py-key-value store, one dict ``{"row": row_text}`` per session."""

    capabilities = Capabilities()

    def __init__(self, kv: Any, **options: Any) -> None:
        super().__init__(**options)  # no clock: the library's ttl runs on the wall clock
        self._kv = kv
        self._ids = IdIndex()
        self._lock = asyncio.Lock()  # makes read-compare-put one step (CONC-1)

    async def read(self, id: str) -> Record | None:
        value = await self._kv.get(id, collection=COLLECTION)
        return None if value is None else row_from_text(id, value["row"])

    async def write(self, record: Record, expected: Record | None) -> bool:
        async with self._lock:
            if await self.read(record.id) != expected:
                return False
            ttl = seconds_left(record, self._now())
            await self._kv.put(record.id, {"row": row_text(record)}, collection=COLLECTION, ttl=ttl)
            self._ids.add(record.id)
            return True

    async def remove(self, expected: Record) -> bool:
        async with self._lock:
            if await self.read(expected.id) != expected:
                return False
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
                    if row is None:  # the library expired it: forget the id
                        self._ids.discard(id)
                    else:
                        rows.append(row)
                after = ids[-1]
            return rows


class DiskKeyValueStore(KeyValueStore):
    """``KeyValueStore`` on a ``DiskStore`` in a temporary directory, removed on close."""

    def __init__(self, **options: Any) -> None:
        self._directory = tempfile.mkdtemp(prefix="peer-kv-disk-")
        super().__init__(DiskStore(directory=self._directory), **options)

    async def close_storage(self) -> None:
        await self._kv.close()
        shutil.rmtree(self._directory, ignore_errors=True)


def memory_factory(*, clock: Clock) -> KeyValueStore:
    """The kit's factory: a ``MemoryStore``; the kit's clock is not taken (see above)."""
    return KeyValueStore(MemoryStore())


def disk_factory(*, clock: Clock) -> DiskKeyValueStore:
    """The kit's factory: a ``DiskStore`` in a fresh directory."""
    return DiskKeyValueStore()
