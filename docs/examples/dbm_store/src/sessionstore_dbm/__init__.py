"""A session store on the standard library's ``dbm``, built on ``sessionstore.toolkit``.

Open it as ``dbm:///relative/path`` or ``dbm:////absolute/path`` (the files are the path
plus the suffixes ``dbm`` gives them; ``?namespace=x`` adds ``-x``), or ``dbm://`` for a
temporary database that is deleted on close. Each row is a small JSON header and the
session's data bytes. ``dbm`` keeps no order, so the ids are also kept in a sorted list
for ``scan``. ``dbm.dumb`` rewrites its whole index on a delete, so a removed row is
overwritten with an empty value (a tombstone) instead. One lock makes every primitive
atomic for tasks and threads; none of them awaits.

Capabilities: ``injectable_clock`` only. The sessions outlive close and reopen, but
``dbm.dumb`` keeps part of its index in memory until close, so a crash can lose writes,
and one process at a time may open the files: no ``durable``, no ``multi_process``.
"""

from __future__ import annotations

import dbm.dumb
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson
from sortedcontainers import SortedList

from sessionstore import DEFAULT_LIMITS, TTL, Clock, CorruptSession, Limits, StoreUnavailable
from sessionstore.toolkit import Record, RecordStore, split_url, url_options

if TYPE_CHECKING:
    from sessionstore import StoreConfig

TOMBSTONE = b""


class DbmStore(RecordStore):
    def __init__(
        self,
        path: str | None = None,
        *,
        clock: Clock | None = None,
        default_ttl: TTL | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(clock=clock, default_ttl=default_ttl, limits=limits)
        self._temporary = tempfile.mkdtemp(prefix="sessionstore-dbm-") if path is None else None
        self.path = str(Path(self._temporary or "", "sessions")) if path is None else path
        self._db = dbm.dumb.open(self.path, "c")  # noqa: SIM115 - closed by close_storage
        self._ids: SortedList[str] = SortedList()  # the stored ids, for scan
        self._expiry: SortedList[tuple[int, str]] = SortedList()  # for count and purge
        for key, raw in self._db.items():
            self._index(None, _decode(os.fsdecode(key), raw))
        self._lock = threading.Lock()

    async def read(self, id: str) -> Record | None:
        with self._engine() as db:
            return _decode(id, db.get(id, TOMBSTONE))

    async def write(self, record: Record, expected: Record | None) -> bool:
        with self._engine() as db:
            if db.get(record.id, TOMBSTONE) != _encode(expected):
                return False
            db[record.id] = _encode(record)
            self._index(expected, record)
            return True

    async def remove(self, expected: Record) -> bool:
        with self._engine() as db:
            if db.get(expected.id, TOMBSTONE) != _encode(expected):
                return False
            db[expected.id] = TOMBSTONE
            self._index(expected, None)
            return True

    async def scan(self, after: str | None, limit: int) -> list[Record]:
        with self._engine() as db:
            ids = islice(self._ids.irange(minimum=after, inclusive=(False, False)), limit)
            return [row for i in ids if (row := _decode(i, db[i]))]  # no tombstone in _ids

    async def count_live(self, now_ms: int) -> int:  # COUNT-1 from the indexes
        with self._lock:
            return len(self._ids) - self._expiry.bisect_left((now_ms + 1, ""))

    async def purge(self, now_ms: int) -> int:  # PURGE-2: only the expired rows are read
        with self._lock:
            due = self._expiry[: self._expiry.bisect_left((now_ms + 1, ""))]
        rows = [await self.read(i) for _, i in due]
        return sum([await self.remove(r) for r in rows if r and not r.is_live(now_ms)])

    async def close_storage(self) -> None:
        with self._lock:
            self._db.close()
            if self._temporary is not None:
                shutil.rmtree(self._temporary, ignore_errors=True)

    async def disconnect_for_testing(self) -> None:
        """The kit's hook for ERR-4: the data file disappears under the store."""
        os.remove(self.path + ".dat")

    def _index(self, old: Record | None, new: Record | None) -> None:
        for row, change in ((old, SortedList.remove), (new, SortedList.add)):
            if row is not None:
                change(self._ids, row.id)
                if row.expires_ms is not None:
                    change(self._expiry, (row.expires_ms, row.id))

    @contextmanager
    def _engine(self) -> Iterator[MutableMapping[Any, bytes]]:
        """The database under the lock; its I/O errors as StoreUnavailable (ERR-4)."""
        with self._lock:
            try:
                yield self._db
            except OSError as exc:
                raise StoreUnavailable(f"the dbm files at {self.path} fail: {exc}") from None


def _encode(record: Record | None) -> bytes:
    if record is None:
        return TOMBSTONE
    header = [record.version, record.created_ms, record.updated_ms, record.expires_ms]
    return orjson.dumps([*header, record.owner]) + b"\n" + record.data


def _decode(id: str, raw: bytes) -> Record | None:
    if raw == TOMBSTONE:
        return None
    header, _, data = raw.partition(b"\n")
    try:
        version, created, updated, expires, owner = orjson.loads(header)
    except (orjson.JSONDecodeError, ValueError):  # ERR-3: never read as missing
        raise CorruptSession(f"the stored row of session {id} is corrupt") from None
    return Record(id, data, version, created, updated, expires, owner)


def open_dbm(config: StoreConfig, clock: Clock | None) -> DbmStore:
    """The ``sessionstore.backends`` entry point: ``dbm://`` URLs to stores."""
    namespace = url_options(config, {"namespace"}).get("namespace")
    path = unquote(split_url(config.url or "dbm://").path)[1:]
    if path and namespace:
        path = f"{path}-{namespace}"
    return DbmStore(
        path or None, clock=clock, default_ttl=config.default_ttl, limits=config.limits()
    )
