"""The in-memory store: the embedded default (spec: every clause; capability
``injectable_clock``).

Sessions live in a :class:`~sortedcontainers.SortedDict` keyed by id (so ``list`` pages
by cursor in O(log n + limit)) with data kept as encoded JSON bytes (so nothing a caller
holds can alias stored state, COPY-1), each record a plain tuple that CPython's garbage
collector does not walk (:mod:`._stored`). An expiry index ordered by ``(expires_ms, id)``
makes ``purge_expired`` cost O(expired · log n) (PURGE-2). Every operation runs to
completion without awaiting, under one lock, so each one is atomic for tasks and threads
alike (CONC-1).

Work proportional to the whole store never holds the event loop in one piece (issue
12): ``export`` and ``export_chunks`` copy references to the stored records under the
lock (C-speed copies; records are immutable, so the copy is the store at one instant,
EXPORT-1) and convert them a batch at a time, yielding to the loop between batches;
``purge_expired`` removes PURGE_BATCH sessions per step, each step atomic, as the
SQLite and Redis stores do (a purge running beside writes removes what is expired
when each step runs). An import of more than APPLY_STEP records is prepared beside the
indexes a step at a time and swapped in by one short atomic step (:mod:`._beside`); the
records it replaces are let go of a step at a time too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, cast

from sortedcontainers import SortedDict, SortedList

from ..contract import Updater
from ..errors import (
    SessionExists,
    SessionNotFound,
    StoreUnavailable,
)
from ..export import (
    ExportDocument,
    check_on_conflict,
    chunked_document,
    export_document,
    plan_import,
)
from ..importing import Chunks, document_records, read_export, text_chunks
from ..redaction import short_id
from ..semantics import (
    Record,
    check_id,
    check_limit,
    check_owner,
    check_version,
    decode_data,
    encode_data,
    kept,
    live_at,
    new_id,
    now_ms_function,
    sessions_of,
    ttl_to_ms,
    visible,
)
from ..values import (
    DEFAULT_LIMITS,
    TTL,
    Capabilities,
    Clock,
    ImportReport,
    JSONObject,
    Limits,
    OnConflict,
    Page,
    Session,
)
from ._beside import Journal, Prepared, release
from ._lifecycle import ClosesOnExit
from ._stored import (
    CREATED,
    DATA,
    EXPIRES,
    ID,
    OWNER,
    VERSION,
    Stored,
    as_record,
    as_records,
    session_of,
    stored,
    stored_data,
    stored_expiry,
    written_session_of,
)

_ID = attrgetter("id")
#: dict's own setitem, for a key the SortedDict holds already (its order unchanged).
_set_in_place = cast("Callable[[SortedDict[str, Stored], str, Stored], None]", dict.__setitem__)
#: A snapshot: the ids in order, and the ids and records in the dict's own order.
_Snapshot = tuple[list[str], list[str], list[Stored]]
_Kept = list[Stored]  # (inside MemoryStore, ``list`` is the method)


class _KeptSink:
    """Where an import's records wait for the verdict (importing.RecordSink), kept as
    the store keeps them (_stored): 100,000 named tuples held while the document is read
    lengthened every full collection meanwhile by ~100 ms."""

    def __init__(self) -> None:
        self.records: _Kept = []

    async def add(self, records: list[Stored]) -> None:
        self.records += records

    async def clear(self) -> None:
        self.records = []


#: Sessions removed per step of purge_expired: each removal from the sorted indexes
#: costs more as the store grows (1,000 a step held the loop 26 ms at 1,000,000).
PURGE_BATCH = 250
#: Sessions converted per step of export.
EXPORT_BATCH = 1000
#: Imports of up to this many records are applied in one step (a few ms); larger ones
#: beside the indexes (_beside), which is tried this many times before the one step.
APPLY_STEP = 2000
PREPARE_TRIES = 3


async def _live_batches(now: int, snapshot: _Snapshot, size: int) -> AsyncIterator[list[Stored]]:
    """The live records of a snapshot (MemoryStore._snapshot), in id order, ``size`` at a
    time; the records are first indexed by id a slice at a time."""
    ids, keys, values = snapshot
    records: dict[str, Stored] = {}
    step = 4 * max(size, 1000)  # dict.update: C speed
    for start in range(0, len(keys), step):
        part = slice(start, start + step)
        records.update(zip(keys[part], values[part], strict=True))
        await asyncio.sleep(0)
    for start in range(0, len(ids), size):  # as plain tuples: no object for the GC to walk
        batch = map(records.__getitem__, ids[start : start + size])
        yield [r for r in batch if (expires := stored_expiry(r)) is None or now < expires]


class MemoryStore(ClosesOnExit):
    """Sessions in this process's memory; gone when the process ends."""

    capabilities = Capabilities(injectable_clock=True)

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        default_ttl: TTL | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.limits = limits
        self.default_ttl = default_ttl
        self._default_ttl_ms = None if default_ttl is None else ttl_to_ms(default_ttl, limits)
        self._now = now_ms_function(clock)
        self._records: SortedDict[str, Stored] = (
            SortedDict()
        )  # id -> record (_stored: as a plain tuple), live or not yet purged
        self._expiry: SortedList[tuple[int, str]] = (
            SortedList()
        )  # (expires_ms, id) of records that expire
        self._lock = threading.Lock()
        self._closed = False
        self._journals: list[Journal] = []  # of the imports being prepared (_beside)

    # --- internals: the only places that touch the two indexes -------------------------

    def _live(self, session_id: str, now: int, owner: str | None = None) -> Stored | None:
        """The record of a live session visible to ``owner`` (LIVE-1, OWN-2), as kept."""
        kept: Stored | None = self._records.get(session_id)
        if kept is None or not (live_at(kept[EXPIRES], now) and visible(kept[OWNER], owner)):
            return None
        return kept

    def _encode(self, data: object) -> bytes:
        """encode_data, keeping an exact-size copy of the bytes: this store holds them."""
        return kept(encode_data(data, self.limits))

    def _journal(self, ids: Iterable[str]) -> None:
        """Note ids written or removed for the imports being prepared (_beside)."""
        for journal in self._journals:
            journal.ids.update(ids)

    def _put(self, record: Stored) -> None:
        """Keep a record (a Record or its plain tuple), in place of any held for its id."""
        session_id = record[ID]
        if self._journals:
            self._journal((session_id,))
        old: Stored | None = self._records.get(session_id)
        old_expiry = None if old is None else old[EXPIRES]
        expiry = record[EXPIRES]
        if old_expiry != expiry:  # a write that keeps the expiry keeps its entry
            if old_expiry is not None:
                self._expiry.discard((old_expiry, session_id))
            if expiry is not None:
                self._expiry.add((expiry, session_id))
        if old is None:
            self._records[session_id] = stored(record)  # a new key: SortedDict orders it
        else:  # the same key: its place in the order stands; dict's own C setitem
            _set_in_place(self._records, session_id, stored(record))

    def _put_many(self, records: list[Record]) -> None:
        """_put for many records at once: sortedcontainers rebuilds its lists in one pass
        for a large update, 4x faster than as many inserts."""
        if self._journals:
            self._journal(list(map(_ID, records)))  # one list for every journal
        for record in records if self._records else ():  # expiry entries of replaced rows
            old = self._records.get(record.id)
            if old is not None and stored_expiry(old) is not None:
                self._expiry.discard((stored_expiry(old), record.id))
        self._records.update(zip(map(_ID, records), map(stored, records), strict=True))
        self._expiry.update([(r.expires_ms, r.id) for r in records if r.expires_ms is not None])

    def _remove(self, record: Stored) -> None:
        session_id = record[ID]
        if self._journals:
            self._journal((session_id,))
        del self._records[session_id]
        if record[EXPIRES] is not None:
            self._expiry.discard((record[EXPIRES], session_id))

    def _plain(self) -> dict[str, Stored]:
        """The records as the dict they are (SortedDict subclasses dict), for dict's own
        C-speed copy and iteration: SortedDict's are Python loops (or a re-sort)."""
        return cast("dict[str, Stored]", self._records)

    def _open_check(self) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")

    # --- the contract ---------------------------------------------------------------------

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        encoded = self._encode({} if data is None else data)
        session_id = new_id(self.limits) if id is None else check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = self._default_ttl_ms if ttl is None else ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            now = self._now()
            held: Stored | None = self._records.get(session_id)  # live, or not yet purged
            if held is not None and live_at(held[EXPIRES], now):
                raise SessionExists(f"a live session with id {short_id(session_id)} exists")
            expires = None if ttl_ms is None else now + ttl_ms
            record = (session_id, encoded, 1, now, now, expires, owner)
            self._put(record)
        return written_session_of(record)

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        with self._lock:
            self._open_check()
            record = self._live(id, self._now(), owner)
        return None if record is None else session_of(record)

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        check_id(id, self.limits)
        encoded = self._encode(data)
        check_version(expected_version)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            now = self._now()
            current = self._require(id, now, owner)
            if expected_version is not None:
                as_record(current).check_version(expected_version)
            record = self._written(current, encoded, now, ttl_ms)
        return written_session_of(record)

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            now = self._now()
            current = self._require(id, now, owner)
            encoded = self._encode(fn(decode_data(current[DATA], id)))
            record = self._written(current, encoded, now, ttl_ms)
        return written_session_of(record)

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            now = self._now()
            current = self._require(id, now, owner)
            data = decode_data(current[DATA], id)  # ERR-3 before any change (ERR-2)
            record = (*current[:EXPIRES], now + ttl_ms, current[OWNER])
            self._put(record)
        return session_of(record, data)  # the copy decoded for ERR-3 is the caller's

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        with self._lock:
            self._open_check()
            current = self._live(id, self._now(), owner)
            if current is None:
                return False
            if expected_version is not None:
                as_record(current).check_version(expected_version)
            self._remove(current)
        return True

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        check_limit(limit, self.limits)
        if cursor is not None:
            check_id(cursor, self.limits)
        with self._lock:
            self._open_check()
            now = self._now()
            keys = self._records.irange(minimum=cursor, inclusive=(False, False))
            found: list[Record] = []
            last: str | None = None
            for key in keys:
                last = key
                record = as_record(self._records[key])
                if record.is_live(now):
                    found.append(record)
                    if len(found) == limit:
                        break
            more = (
                last is not None
                and len(found) == limit
                and self._records.bisect_right(last) < len(self._records)
            )
        return Page(await sessions_of(found), last if more else None)

    async def count(self) -> int:
        with self._lock:
            self._open_check()
            now = self._now()
            # Expired-but-unpurged records sit at the front of the expiry index.
            expired = self._expiry.bisect_left((now + 1, ""))
            return len(self._records) - expired

    async def purge_expired(self) -> int:
        """PURGE-1 in steps of PURGE_BATCH sessions, each atomic, yielding to the event
        loop between them: 100,000 removals in one step held it for 0.2 s."""
        removed = 0
        while True:
            with self._lock:
                self._open_check()
                now = self._now()
                cut = min(self._expiry.bisect_left((now + 1, "")), PURGE_BATCH)
                if self._journals:
                    self._journal([sid for _, sid in self._expiry[:cut]])
                for _expires, session_id in self._expiry[:cut]:
                    del self._records[session_id]
                del self._expiry[:cut]
            removed += cut
            if cut < PURGE_BATCH:
                return removed
            await asyncio.sleep(0)

    def _snapshot(self) -> tuple[int, _Snapshot]:
        """The store at one instant (EXPORT-1)."""
        with self._lock:
            self._open_check()
            return self._now(), self._contents()

    def _contents(self) -> _Snapshot:
        """References to the records, copied by C loops over the SortedDict's key list
        and its dict (a few ms for 100,000 sessions; dict.copy of a dict subclass takes
        100 ms). Records are immutable, so nothing written later shows in the copy."""
        plain = self._plain()
        return [*self._records], [*dict.keys(plain)], [*dict.values(plain)]

    async def export(self) -> ExportDocument:
        now, snapshot = self._snapshot()
        return await export_document(now, _live_batches(now, snapshot, EXPORT_BATCH))

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        """EXPORT-2: the export document in pieces, from a snapshot of references to the
        stored records (their JSON is spliced in, never decoded)."""
        now, snapshot = self._snapshot()
        async for piece in chunked_document(now, _live_batches(now, snapshot, chunk_size)):
            yield piece

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        check_on_conflict(on_conflict)
        if isinstance(doc, (str, bytes)):  # one path for JSON text: the streamed one
            return await self.import_chunks(text_chunks(doc), on_conflict=on_conflict)
        kept = list(map(stored, await document_records(doc, self.limits)))
        return await self._apply_releasing(kept, on_conflict)

    async def import_chunks(
        self, chunks: Chunks, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        """IMPORT-7: import_ of the JSON text that ``chunks`` join into, read as it comes."""
        check_on_conflict(on_conflict)
        sink = _KeptSink()
        await read_export(chunks, sink, self.limits)
        return await self._apply_releasing(sink.records, on_conflict)

    async def _apply_releasing(self, records: _Kept, on_conflict: OnConflict) -> ImportReport:
        """_apply_import, then the records let go of a step at a time (_beside.release):
        this list is the last to hold them."""
        try:
            return await self._apply_import(records, on_conflict)
        finally:
            await release(records)

    async def _apply_import(
        self, records: Sequence[Stored], on_conflict: OnConflict
    ) -> ImportReport:
        """IMPORT-2, CONC-1: all or nothing, at one instant; a large import is prepared
        beside the indexes, the event loop running (0.1-0.55 s in one step for 100,000)."""
        if len(records) > APPLY_STEP:
            for _ in range(PREPARE_TRIES):
                report = await self._apply_beside(records, on_conflict)
                if report is not None:
                    return report
        return self._apply_at_once(records, on_conflict)  # writes kept invalidating it

    async def _apply_beside(
        self, records: Sequence[Stored], on_conflict: OnConflict
    ) -> ImportReport | None:
        """Snapshot, prepare, commit (_beside); None when the commit found too much
        written meanwhile to replay."""
        journal = Journal()
        with self._lock:
            self._open_check()
            prepared = Prepared(records, self._now(), on_conflict)
            contents, expiry = self._contents(), [*self._expiry]
            self._journals.append(journal)
        try:
            await prepared.prepare(*contents, expiry)
            with self._lock:
                self._open_check()
                report = prepared.commit(self._plain(), self._now(), journal)
                if report is None:
                    return None
                old = self._records, self._expiry
                self._records, self._expiry = prepared.records_after, prepared.expiry_after
                for other in self._journals:
                    other.replaced = True  # their snapshots are of the old indexes
            # The records replaced go with the last reference to them: empty the old
            # indexes (the snapshot's lists still hold nearly all of them), then let go of
            # the lists a step at a time.
            for index in old:
                index.clear()
            await release(*contents, expiry)
            return report
        finally:
            with self._lock:
                self._journals.remove(journal)

    def _apply_at_once(self, kept: Sequence[Stored], on_conflict: OnConflict) -> ImportReport:
        records = as_records(kept)
        with self._lock:
            self._open_check()
            now = self._now()
            clashes = {r.id for r in records if self._live(r.id, now)} if self._records else set()
            writes, report = plan_import(records, now, clashes, on_conflict)
            self._put_many(writes)
        return report

    async def close(self) -> None:
        self._closed = True

    async def stats(self) -> dict[str, int]:
        """For operators: records held (live or not yet purged) and their data bytes."""
        with self._lock:
            self._open_check()
            now = self._now()
            stored = len(self._records)
            expired = self._expiry.bisect_left((now + 1, ""))
            size = sum(map(len, map(stored_data, dict.values(self._plain()))))  # at C speed
        return {"stored": stored, "expired_unpurged": expired, "data_bytes": size}

    # --- fault injection for the conformance kit (check ERR-3) ------------------------------

    async def corrupt_for_testing(self, id: str) -> None:
        """Overwrite a session's stored bytes with something that is not JSON."""
        with self._lock:
            current: Stored = self._records[id]
            self._put((id, b"\xff{not json", *current[VERSION:]))

    # --- helpers of the write paths -------------------------------------------------------

    def _require(self, session_id: str, now: int, owner: str | None) -> Stored:
        record = self._live(session_id, now, owner)
        if record is None:
            raise SessionNotFound(f"no live session with id {short_id(session_id)}")
        return record

    def _written(self, current: Stored, encoded: bytes, now: int, ttl_ms: int | None) -> Stored:
        """REC-4: every data write bumps the version and updated_at; ttl=None keeps expiry."""
        expires = current[EXPIRES] if ttl_ms is None else now + ttl_ms
        record = (current[ID], encoded, current[VERSION] + 1, current[CREATED], now, expires,
                  current[OWNER])  # fmt: skip
        self._put(record)
        return record
