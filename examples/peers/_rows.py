"""What every wrapper here adds to its library, written once: a row format, an id index,
and the library's failures as ``StoreUnavailable`` (ERR-4).

None of the libraries stores a session's fields beside its value, and none lists its keys
in order from a cursor (LIST-1): py-key-value's ``keys()`` stops at 10,000 keys in no
order, diskcache and cachetools iterate the whole key space, Redis scans in hash order.
So each wrapper stores a :class:`~sessionstore.toolkit.Record` as one value (``row_bytes``:
a JSON header line, then the data bytes exactly, REC-2, ERR-3) and keeps the ids in an
:class:`IdIndex` (a Redis sorted set instead, on Redis).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import orjson
from sortedcontainers import SortedSet

from sessionstore import CorruptSession, StoreUnavailable
from sessionstore.toolkit import Record


def row_bytes(record: Record) -> bytes:
    """One stored value: ``[version, created, updated, expires, owner]`` as JSON, a newline,
    then the data as the toolkit encoded it, byte for byte."""
    header = [record.version, record.created_ms, record.updated_ms, record.expires_ms]
    return orjson.dumps([*header, record.owner]) + b"\n" + record.data


def row_from_bytes(id: str, raw: bytes) -> Record:
    """The record stored as ``raw``; a header that does not parse is ERR-3's corrupt row."""
    header, _, data = raw.partition(b"\n")
    try:
        version, created, updated, expires, owner = orjson.loads(header)
    except (orjson.JSONDecodeError, ValueError):
        raise CorruptSession(f"the stored row of session {id!r} is corrupt") from None
    return Record(id, data, version, created, updated, expires, owner)


def row_text(record: Record) -> str:
    """``row_bytes`` as a string, for a library whose values are JSON: latin-1 maps each
    byte to one character, so bytes that are not UTF-8 (a corrupt row) survive too."""
    return row_bytes(record).decode("latin-1")


def row_from_text(id: str, text: str) -> Record:
    return row_from_bytes(id, text.encode("latin-1"))


def seconds_left(record: Record, now_ms: int) -> float | None:
    """The library ttl of a row written at ``now_ms``: what is left of its life, never less
    (a library that keeps time itself must not expire a row before the store's clock does:
    LIVE-1), or None for a row that never expires. A row already expired gets the
    smallest ttl the libraries accept."""
    if record.expires_ms is None:
        return None
    return max(record.expires_ms - now_ms, 1) / 1000


class IdIndex:
    """The stored ids in order, for ``scan``. Not thread-safe: the wrapper's lock guards it."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: SortedSet[str] = SortedSet(ids)

    def add(self, id: str) -> None:
        self._ids.add(id)

    def discard(self, id: str) -> None:
        self._ids.discard(id)

    def after(self, after: str | None, limit: int) -> list[str]:
        """Up to ``limit`` ids greater than ``after`` (from the first when None)."""
        start = 0 if after is None else self._ids.bisect_right(after)
        return list(self._ids[start : start + limit])


@contextmanager
def unavailable_on(failures: tuple[type[BaseException], ...], backend: str) -> Iterator[None]:
    """The library's ``failures`` (a lost file, a dropped connection) as StoreUnavailable,
    never the driver's own exception (ERR-4)."""
    try:
        yield
    except failures as exc:
        raise StoreUnavailable(f"{backend} fails: {exc}") from None
