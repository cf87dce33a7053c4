"""Mutants of the reference memory store, one bug each, and the clause each one breaks.

Every mutant is a tiny subclass of :class:`~sessionstore.backends.memory.MemoryStore`
overriding one thing. ``GALLERY`` pairs each with a kit factory (``factory(*, clock)``)
and the clause ids whose failure proves the kit caught it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sortedcontainers import SortedList

from sessionstore import (
    TTL,
    ExportDocument,
    ImportReport,
    JSONObject,
    OnConflict,
    Page,
    Session,
    SessionNotFound,
)
from sessionstore.backends._stored import Stored, as_record, as_records
from sessionstore.backends.memory import MemoryStore
from sessionstore.contract import Updater
from sessionstore.export import (
    FORMAT,
    FORMAT_VERSION,
    check_on_conflict,
    format_ms,
    record_to_export,
)
from sessionstore.semantics import Record, check_id, check_owner, check_version, ttl_to_ms
from sessionstore_conformance.clock import FakeClock


def held(store: MemoryStore, session_id: str) -> Record | None:
    """The record a memory store holds for an id, live or not yet purged, as a Record."""
    kept: Stored | None = store._records.get(session_id)
    return None if kept is None else as_record(kept)


class ExpiredAtBoundary(MemoryStore):
    """Point operations (get, replace, update, touch, delete, create's clash test) judge
    liveness by ``now <= expires``: a session is readable at its expiry instant (breaks
    LIVE-1)."""

    def _live(self, session_id: str, now: int, owner: str | None = None) -> Stored | None:
        return super()._live(session_id, now - 1, owner)


class TouchRevives(MemoryStore):
    """touch finds expired, unpurged sessions and brings them back (breaks TOUCH-2)."""

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_to_ms(ttl, self.limits)  # a refused touch revives nothing
        with self._lock:
            self._open_check()
            old = held(self, id)
            if old is not None and not old.is_live(self._now()) and old.visible_to(owner):
                self._put(old._replace(expires_ms=None))  # live again; super() sets the ttl
        return await super().touch(id, ttl, owner=owner)


class AliasingGet(MemoryStore):
    """get caches the data dict it decoded from each stored value and hands out that same
    object until the data is written again: mutating what get returned changes what the
    next get returns (breaks COPY-1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cache: dict[str, tuple[bytes, JSONObject]] = {}  # id -> (stored bytes, dict)

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        got = await super().get(id, owner=owner)
        if got is None:
            return None
        record = held(self, id)  # no await since super().get: the same record
        assert record is not None
        stored = record.data
        cached = self._cache.get(id)
        if cached is None or cached[0] is not stored:
            cached = self._cache[id] = (stored, got.data)
        return Session(
            got.id,
            cached[1],
            got.version,
            got.created_at,
            got.updated_at,
            got.expires_at,
            got.owner,
        )


class ReplaceIgnoresVersion(MemoryStore):
    """replace never compares expected_version (breaks REPLACE-2)."""

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        check_version(expected_version)
        return await super().replace(id, data, ttl=ttl, owner=owner)


class VersionNotBumped(MemoryStore):
    """Data writes keep the old version (breaks REC-3)."""

    def _written(self, current: Stored, encoded: bytes, now: int, ttl_ms: int | None) -> Stored:
        written = as_record(super()._written(current, encoded, now, ttl_ms))
        record = written._replace(version=as_record(current).version)
        self._put(record)
        return record


class DeleteExpiredTrue(MemoryStore):
    """delete of an expired, unpurged session removes it and returns True (breaks DELETE-1)."""

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        with self._lock:
            self._open_check()
            record = held(self, id)
            if record is not None and not record.is_live(self._now()) and record.visible_to(owner):
                self._remove(record)
                return True
        return await super().delete(id, expected_version=expected_version, owner=owner)


class SlidingGet(MemoryStore):
    """Every get pushes the expiry one second further (breaks GET-2)."""

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        got = await super().get(id, owner=owner)
        if got is not None and got.expires_at is not None:
            with self._lock:
                record = held(self, id)
                assert record is not None
                assert record.expires_ms is not None
                self._put(record._replace(expires_ms=record.expires_ms + 1000))
        return got


class CountsExpired(MemoryStore):
    """count includes expired-but-unpurged sessions (breaks COUNT-1)."""

    async def count(self) -> int:
        with self._lock:
            self._open_check()
            return len(self._records)


class PartialImport(MemoryStore):
    """import validates and applies one record at a time, stopping at the first bad one
    (breaks IMPORT-2, IMPORT-1)."""

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        items = doc.get("sessions") if isinstance(doc, Mapping) else None
        if not isinstance(doc, Mapping) or not isinstance(items, list) or not items:
            return await super().import_(doc, on_conflict=on_conflict)
        total = ImportReport()
        for item in items:
            got = await super().import_({**doc, "sessions": [item]}, on_conflict=on_conflict)
            pairs = zip(dataclasses.astuple(total), dataclasses.astuple(got), strict=True)
            total = ImportReport(*(a + b for a, b in pairs))
        return total


class EagerChunkImport(MemoryStore):
    """import_chunks writes each record as soon as it has read it, so a bad record late in
    the document leaves the earlier ones imported (breaks IMPORT-7, and so IMPORT-2)."""

    async def import_chunks(
        self, chunks: Any, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        pieces = [piece async for piece in chunks] if hasattr(chunks, "__aiter__") else list(chunks)
        try:
            doc = orjson.loads(b"".join(pieces))
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("sessions"), list):
            # not a document to split: the reference reader finds and reports the problem
            return await super().import_chunks(pieces, on_conflict=on_conflict)
        check_on_conflict(on_conflict)
        total = ImportReport()
        for item in doc["sessions"]:
            got = await self.import_({**doc, "sessions": [item]}, on_conflict=on_conflict)
            pairs = zip(dataclasses.astuple(total), dataclasses.astuple(got), strict=True)
            total = ImportReport(*(a + b for a, b in pairs))
        return total


class CreateOverwrites(MemoryStore):
    """create with the id of a live session overwrites it (breaks CREATE-3)."""

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        self._encode({} if data is None else data)  # a refused create removes nothing
        if id is not None:
            check_id(id, self.limits)
        check_owner(owner, self.limits)
        if ttl is not None:
            ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            old = None if id is None else held(self, id)
            if old is not None:
                self._remove(old)
        return await super().create(data, ttl=ttl, id=id, owner=owner)


class LostUpdates(MemoryStore):
    """update reads, awaits, then writes: concurrent updates overwrite each other (breaks CONC-1)."""

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        if ttl is not None:
            ttl_to_ms(ttl, self.limits)  # refused before fn runs, as the reference does
        current = await self.get(id, owner=owner)
        if current is None:
            raise SessionNotFound(f"no live session with id {id!r}")
        new = fn(current.data)
        await asyncio.sleep(0)
        return await self.replace(id, new, ttl=ttl, owner=owner)


class OwnerIgnored(MemoryStore):
    """Calls on behalf of one owner see every other owner's sessions (breaks OWN-2)."""

    def _live(self, session_id: str, now: int, owner: str | None = None) -> Stored | None:
        return super()._live(session_id, now, None)


class ListSkipsAfterCursor(MemoryStore):
    """list resumes one id past its cursor, skipping each later page's first item (breaks LIST-2)."""

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        if cursor is not None:
            check_id(cursor, self.limits)
            with self._lock:
                after = self._records.bisect_right(cursor)
                if after < len(self._records):
                    cursor = self._records.keys()[after]
        return await super().list(cursor=cursor, limit=limit)


class TtlFloorSeconds(MemoryStore):
    """create rounds its ttl down to whole seconds (at least 1 s) (breaks TTL-1, TTL-2)."""

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        if ttl is not None:
            ttl = max(1, ttl_to_ms(ttl, self.limits) // 1000)
        return await super().create(data, ttl=ttl, id=id, owner=owner)


def _nan_to_null(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if type(value) is dict:  # exact types: subclasses stay as they are, refused by create
        return {k: _nan_to_null(v) for k, v in value.items()}
    if type(value) is list:
        return [_nan_to_null(v) for v in value]
    return value


class NanAsNull(MemoryStore):
    """create accepts NaN and Infinity and stores them as null (breaks VAL-3)."""

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        return await super().create(_nan_to_null(data), ttl=ttl, id=id, owner=owner)


class LeaksDriverErrors(MemoryStore):
    """Its backend can go away, and then every operation lets the driver's own error
    reach the caller (ConnectionRefusedError) instead of StoreUnavailable (breaks ERR-4)."""

    down = False

    async def disconnect_for_testing(self) -> None:
        self.down = True

    def _open_check(self) -> None:  # every operation passes here before it acts
        if self.down:
            raise ConnectionRefusedError("backend unreachable")
        super()._open_check()


class SplicesCorruptData(MemoryStore):
    """export_chunks() copies each session's stored bytes into the document unchecked, as
    the reference stores once did: a corrupt session makes a "document" that is not JSON,
    and a backup written from it replaces the good one (breaks EXPORT-3)."""

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        with self._lock:
            self._open_check()
            now = self._now()
            live = [r for r in as_records(self._records.values()) if r.is_live(now)]
        empty = {"format": FORMAT, "format_version": FORMAT_VERSION, "exported_at": format_ms(now)}
        yield orjson.dumps({**empty, "sessions": []})[: -len(b"]}")]  # ends in "sessions":[
        for index, record in enumerate(live):
            fields = record_to_export(record._replace(data=b"{}")).model_dump_json().encode()
            spliced = fields.replace(b'"data":{}', b'"data":' + record.data, 1)
            yield (b"," if index else b"") + spliced
        yield b"]}"


#: Where ListingStopsAtPageLimit's key scan stops, as some key-value libraries' do.
SCAN_LIMIT = 10_000


class ListingStopsAtPageLimit(MemoryStore):
    """Like a library whose key scan stops at 10,000 entries: list and count see only the
    first 10,000 stored sessions (in id order) and say nothing of the rest, while get and
    export see them all (breaks COUNT-1, LIST-2)."""

    def _scan_end(self) -> str | None:
        """The last id the scan reaches; None when it reaches every stored one."""
        return self._records.keys()[SCAN_LIMIT - 1] if len(self._records) > SCAN_LIMIT else None

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        page = await super().list(cursor=cursor, limit=limit)
        end = self._scan_end()  # no await since super().list: the same records
        if end is None:
            return page
        more = page.cursor is not None and page.cursor < end
        return Page([s for s in page.sessions if s.id <= end], page.cursor if more else None)

    async def count(self) -> int:
        with self._lock:
            self._open_check()
            now = self._now()
            return sum(1 for r in as_records(self._records.values()[:SCAN_LIMIT]) if r.is_live(now))


class WallClockExpiry(MemoryStore):
    """Declares injectable_clock and obeys the injected clock, but its backend also drops
    each entry once the ttl left at its last write has passed in *real* time (the
    monotonic clock), as a server-side TTL does: sessions vanish while the injected clock
    says they are live (breaks LIVE-4, seen as LIVE-1/GET-1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._deadlines: dict[str, float] = {}  # id -> monotonic instant it is dropped
        self._queue: SortedList[tuple[float, str]] = SortedList()  # (that instant, id)

    def _arm(self, record: Record) -> None:
        """At a write: the backend's own timer for this entry, in real seconds."""
        old = self._deadlines.pop(record.id, None)
        if old is not None:
            self._queue.discard((old, record.id))
        if record.expires_ms is not None:
            deadline = time.monotonic() + (record.expires_ms - self._now()) / 1000
            self._deadlines[record.id] = deadline
            self._queue.add((deadline, record.id))

    def _put(self, record: Stored) -> None:
        self._arm(as_record(record))
        super()._put(record)

    def _put_many(self, records: list[Record]) -> None:
        for record in records:
            self._arm(record)
        super()._put_many(records)

    def _open_check(self) -> None:  # every operation passes here, under the lock
        super()._open_check()
        cut = self._queue.bisect_left((time.monotonic(), "\uffff"))
        for _deadline, session_id in self._queue[:cut]:
            del self._deadlines[session_id]
            record = held(self, session_id)
            if record is not None:  # not purged meanwhile
                self._remove(record)
        del self._queue[:cut]


# --- the gallery ---------------------------------------------------------------------------

StoreFactory = Callable[..., MemoryStore]


def factory_of(store_type: type[MemoryStore]) -> StoreFactory:
    """``factory(*, clock)`` returning a fresh ``store_type``, as the kit wants."""

    def factory(*, clock: FakeClock) -> MemoryStore:
        return store_type(clock=clock)

    factory.__qualname__ = f"{store_type.__name__}.factory"
    return factory


@dataclass(frozen=True)
class Mutant:
    store_type: type[MemoryStore]
    #: The kit must report ``fail`` for at least one of these clauses (the first is the
    #: clause the bug breaks most directly; the others are equally valid attributions).
    expected: tuple[str, ...]
    #: Only the stateful suite catches this bug; the fast run must include it.
    stateful: bool = False
    #: Only the large-store check catches this bug (it fills 70,000 sessions, so the fast
    #: run includes it for these mutants only).
    large: bool = False

    @property
    def name(self) -> str:
        return self.store_type.__name__

    @property
    def factory(self) -> StoreFactory:
        return factory_of(self.store_type)


GALLERY: list[Mutant] = [
    Mutant(ExpiredAtBoundary, ("LIVE-1",)),
    Mutant(TouchRevives, ("TOUCH-2", "LIVE-2")),
    Mutant(AliasingGet, ("COPY-1",), stateful=True),
    Mutant(ReplaceIgnoresVersion, ("REPLACE-2",)),
    Mutant(VersionNotBumped, ("REC-3",)),
    Mutant(DeleteExpiredTrue, ("DELETE-1", "LIVE-2")),
    Mutant(SlidingGet, ("GET-2",)),
    Mutant(CountsExpired, ("COUNT-1",)),
    Mutant(PartialImport, ("IMPORT-2", "IMPORT-1")),
    Mutant(EagerChunkImport, ("IMPORT-2", "IMPORT-7")),  # IMPORT-7 is a SHOULD: non-strict
    Mutant(CreateOverwrites, ("CREATE-3",)),
    Mutant(LostUpdates, ("CONC-1",)),
    Mutant(OwnerIgnored, ("OWN-2",)),
    Mutant(ListSkipsAfterCursor, ("LIST-2",)),
    Mutant(TtlFloorSeconds, ("TTL-1", "TTL-2")),
    Mutant(NanAsNull, ("VAL-3",)),
    Mutant(LeaksDriverErrors, ("ERR-4",)),
    Mutant(SplicesCorruptData, ("EXPORT-3",)),
    Mutant(ListingStopsAtPageLimit, ("COUNT-1", "LIST-2"), large=True),
    Mutant(WallClockExpiry, ("LIVE-4", "LIVE-1", "GET-1")),
]
