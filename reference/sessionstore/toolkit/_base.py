"""RecordStore: the whole contract over four storage primitives.

Theory of operation. A subclass keeps :class:`~sessionstore.semantics.Record` rows and
offers four coroutines: ``read`` one row, ``write`` one row *if the row stored under its
id is still the one read* (compare-and-set), ``remove`` one row likewise, and ``scan``
rows in id order. Everything the contract decides — validation (VAL-*), ttls (TTL-*),
versions and timestamps (REC-3, REC-4), liveness by the injected clock (LIVE-1, LIVE-4),
owners (OWN-2), copies (COPY-1), export and import — is decided here, with the shared
helpers of :mod:`sessionstore.semantics`, :mod:`sessionstore.export` and
:mod:`sessionstore.importing`, the very functions the reference stores use.

Every write is *read, decide, write if unchanged*: a write whose condition fails means
another call wrote in between, and the operation starts again from a fresh read. So each
operation takes effect at the instant of its successful conditional write (or, for a
read, of its read): linearizable (CONC-1) whenever the primitives are atomic. The
condition is the whole stored row, not its version alone: ``touch`` keeps the version,
and a session created again after its predecessor expired starts at version 1 again, so
a version alone would let a stale write through (an ABA race).

What spans many rows — ``count``, ``purge_expired``, ``export`` and import — has default
implementations over ``scan`` and ``write`` that a subclass may replace with its engine's
own (an index on ``expires_at``, one read transaction, one write transaction); their
docstrings say what the defaults guarantee. Each runs alone through a gate that the
point operations' primitive calls pass shared (:mod:`sessionstore.toolkit._gate`), so
within one process it takes effect at one instant, as CONC-1 asks of every operation.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar

from ..backends._lifecycle import ClosesOnExit
from ..contract import Updater
from ..errors import SessionExists, SessionNotFound, StoreUnavailable
from ..export import (
    ExportDocument,
    check_on_conflict,
    chunked_document,
    export_document,
    plan_import,
)
from ..importing import Chunks, collect_records, document_records
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
    new_id,
    now_ms_function,
    sessions_of,
    ttl_to_ms,
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
from ._gate import Gate

#: One write of :meth:`RecordStore.write_many`: the new row and the row it replaces
#: (None: no row is stored under that id).
Write = tuple[Record, Record | None]
#: Rows in id order (an alias: inside RecordStore, ``list`` is the contract's method).
Rows = list[Record]
#: What :meth:`RecordStore.corrupt_for_testing` stores as a session's data (ERR-3).
CORRUPT_DATA = b"\xff{not json"


class RecordStore(ClosesOnExit, ABC):
    """A complete session store (the ``SessionStore`` protocol) over storage primitives.

    Subclasses implement :meth:`read`, :meth:`write`, :meth:`remove` and :meth:`scan`,
    and may override :meth:`close_storage`, :meth:`write_many`, :meth:`count_live`,
    :meth:`purge` and :meth:`snapshot`. They set ``capabilities`` to what they
    guarantee (CAP-1); the default declares ``injectable_clock`` only, which the base
    class keeps by itself: every time decision uses ``clock`` (LIVE-4).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(injectable_clock=True)
    #: Rows asked of :meth:`scan` at a time by the default count, purge and snapshot.
    scan_batch: ClassVar[int] = 1000

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        default_ttl: TTL | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.limits = limits
        self.default_ttl = default_ttl  # TTL-3, CAP-1
        self._default_ttl_ms = None if default_ttl is None else ttl_to_ms(default_ttl, limits)
        self._now: Callable[[], int] = now_ms_function(clock)  # epoch ms (REC-5, LIVE-4)
        self._closed = False
        self._gate = Gate()  # many-row operations atomic in this process (CONC-1)

    # --- the primitives: a subclass writes these ------------------------------------------

    @abstractmethod
    async def read(self, id: str) -> Record | None:
        """The row stored under ``id``, live or expired (the base class judges liveness by
        its clock, LIVE-1, LIVE-2), or None. Atomic."""

    @abstractmethod
    async def write(self, record: Record, expected: Record | None) -> bool:
        """Store ``record`` under ``record.id`` if and only if the row stored there now
        equals ``expected`` (None: no row is stored), atomically; return whether it
        was stored (every write of the contract rests on it: CONC-1, UPDATE-1). Every
        field is kept exactly, ``data`` byte for byte (REC-2, IMPORT-5, ERR-3)."""

    @abstractmethod
    async def remove(self, expected: Record) -> bool:
        """Delete the row stored under ``expected.id`` if and only if it equals
        ``expected``, atomically; return whether it was deleted (DELETE-1, PURGE-1)."""

    @abstractmethod
    async def scan(self, after: str | None, limit: int) -> Sequence[Record]:
        """Up to ``limit`` stored rows (live or expired) whose ids are greater than
        ``after`` (all when None), in ascending order of id (LIST-1), read atomically."""

    async def close_storage(self) -> None:
        """Release the engine (files, connections, temporary files); called once, by the
        first ``close`` (CLOSE-1)."""

    # --- overridable: defaults built on the primitives -------------------------------------

    async def write_many(self, writes: Sequence[Write]) -> bool:
        """Apply every ``(record, expected)`` write as :meth:`write` does, all or
        nothing: True when all were stored, False (nothing stored) when a condition
        failed. Import goes through here (IMPORT-2).

        The default writes one row at a time and, when a condition fails or a write
        raises, puts back what it wrote, in reverse order, each row conditionally. So it
        is all or nothing when the engine keeps working. The base class calls it alone
        (:mod:`~sessionstore.toolkit._gate`): no other call of this store instance runs a
        primitive meanwhile, so the import is seen whole in this process (CONC-1). Other
        processes would see it row by row: a store that claims ``multi_process`` or
        ``multi_host`` overrides it with one transaction."""
        done: list[Write] = []
        try:
            for record, expected in writes:
                if not await self.write(record, expected):
                    await self._undo(done)
                    return False
                done.append((record, expected))
        except BaseException:
            await self._undo(done)
            raise
        return True

    async def count_live(self, now_ms: int) -> int:
        """The number of rows live at ``now_ms`` (COUNT-1). The default scans every row;
        the base class calls it alone, so no write of this store instance comes between
        its scans (other processes' writes may: see :meth:`write_many`). Override it with
        the engine's own count of ``expires_ms`` null or greater than ``now_ms``."""
        live = 0
        async for batch in self._stored():
            live += sum(1 for record in batch if record.is_live(now_ms))
        return live

    async def purge(self, now_ms: int) -> int:
        """Remove rows expired at ``now_ms`` and return how many were removed (PURGE-1,
        LIVE-3). The default scans every row and removes each expired one with
        :meth:`remove`, so a row written again meanwhile is kept; it costs time
        proportional to the rows stored, not to the expired ones: override it with an
        index on ``expires_ms`` to meet PURGE-2 (SHOULD)."""
        removed = 0
        async for batch in self._stored():
            for record in batch:
                if not record.is_live(now_ms) and await self.remove(record):
                    removed += 1
        return removed

    async def snapshot(self) -> Rows:
        """Every stored row, in id order, as at one instant: what ``export`` and
        ``export_chunks`` write (EXPORT-1). The default reads them all through
        :meth:`scan`, called alone as :meth:`count_live` is; a store shared between
        processes overrides it with one read transaction."""
        return [record async for batch in self._stored() for record in batch]

    # --- the contract ---------------------------------------------------------------------

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        """CREATE-1..4, TTL-2, TTL-3, OWN-1; validation VAL-1..VAL-7 before any read."""
        encoded = kept(encode_data({} if data is None else data, self.limits))
        session_id = new_id(self.limits) if id is None else check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = self._default_ttl_ms if ttl is None else ttl_to_ms(ttl, self.limits)
        while True:
            self._open_check()
            now = self._now()
            stored = await self._gate.shared(self.read, session_id)
            if stored is not None and stored.is_live(now):  # CREATE-3, whatever the owner
                if id is None:  # CREATE-2: a generated id never names a live session
                    session_id = new_id(self.limits)
                    continue
                raise SessionExists(f"a live session with id {short_id(session_id)} exists")
            expires = None if ttl_ms is None else now + ttl_ms
            record = Record(session_id, encoded, 1, now, now, expires, owner)
            if await self._gate.shared(self.write, record, stored):  # over expired: CREATE-4
                return record.to_written_session()

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        """GET-1, GET-2, LIVE-2, OWN-2; stored data that does not decode raises
        CorruptSession (ERR-3)."""
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        self._open_check()
        record = await self._visible(id, self._now(), owner)
        return None if record is None else record.to_session()

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        """REPLACE-1..3, REC-3, REC-4, TTL-2, TTL-3. Needs no old data: it overwrites a
        corrupt row (ERR-3)."""
        check_id(id, self.limits)
        encoded = kept(encode_data(data, self.limits))
        check_version(expected_version)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        while True:
            now, current = await self._require(id, owner)
            current.check_version(expected_version)  # REPLACE-2
            record = _written(current, encoded, now, ttl_ms)
            if await self._gate.shared(self.write, record, current):
                return record.to_written_session()

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        """UPDATE-1..3 as a compare-and-set loop: read, call ``fn`` on a fresh copy of the
        data, write if the row is unchanged, else start again (``fn`` may then run more
        than once; only its last result is written, as UPDATE-1's note allows)."""
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        while True:
            now, current = await self._require(id, owner)  # UPDATE-3: fn not called
            encoded = kept(encode_data(fn(decode_data(current.data, id)), self.limits))
            record = _written(current, encoded, now, ttl_ms)
            if await self._gate.shared(self.write, record, current):
                return record.to_written_session()

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        """TOUCH-1, TOUCH-2: a new expiry; data, version and updated_at kept."""
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = ttl_to_ms(ttl, self.limits)
        while True:
            now, current = await self._require(id, owner)
            decode_data(current.data, id)  # ERR-3 before any change (ERR-2)
            record = current._replace(expires_ms=now + ttl_ms)
            if await self._gate.shared(self.write, record, current):
                return record.to_session()

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        """DELETE-1, DELETE-2, LIVE-2, OWN-2."""
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        while True:
            self._open_check()
            current = await self._visible(id, self._now(), owner)
            if current is None:
                return False
            current.check_version(expected_version)
            if await self._gate.shared(self.remove, current):
                return True

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        """LIST-1..3 from one :meth:`scan` of ``limit + 1`` rows: the cursor is the last
        id of the page, None when no row follows it. A page may hold fewer than
        ``limit`` sessions (expired rows not yet purged) while its cursor is not None."""
        check_limit(limit, self.limits)
        if cursor is not None:
            check_id(cursor, self.limits)  # LIST-3
        self._open_check()
        now = self._now()
        rows = await self._gate.shared(self.scan, cursor, limit + 1)
        page = rows[:limit]
        live = [record for record in page if record.is_live(now)]
        return Page(await sessions_of(live), page[-1].id if len(rows) > limit else None)

    async def count(self) -> int:
        """COUNT-1, through :meth:`count_live` at the store's now."""
        self._open_check()
        return await self._gate.alone(lambda: self.count_live(self._now()))

    async def purge_expired(self) -> int:
        """PURGE-1, LIVE-3, through :meth:`purge` at the store's now."""
        self._open_check()
        return await self._gate.alone(lambda: self.purge(self._now()))

    async def export(self) -> ExportDocument:
        """EXPORT-1, EXPORT-3: the live rows of :meth:`snapshot`, at the instant taken
        just before it; a row that does not decode raises CorruptSession."""
        now, live = await self._live_snapshot()
        return await export_document(now, _batches(live))

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        """EXPORT-2, EXPORT-3: the document of :meth:`export` as bytes, stored data
        spliced in after one parse each; a corrupt row raises before its chunk. The
        snapshot is held in memory, so the default meets EXPORT-2's memory bound only
        for stores that keep their rows in memory anyway."""
        now, live = await self._live_snapshot()
        async for piece in chunked_document(now, _batches(live, chunk_size)):
            yield piece

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        """IMPORT-1..6: the whole document validated first, then planned against the rows
        stored now and applied by :meth:`write_many` (all or nothing, IMPORT-2)."""
        check_on_conflict(on_conflict)
        return await self._apply_import(await document_records(doc, self.limits), on_conflict)

    async def import_chunks(
        self, chunks: Chunks, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        """IMPORT-7: ``import_`` of the text the chunks join into, read as it comes. The
        validated records are held in memory until the verdict (as the memory store
        does); a store that stages them in its engine meets IMPORT-7's memory bound
        with :func:`sessionstore.toolkit.read_export` and a sink of its own."""
        check_on_conflict(on_conflict)
        return await self._apply_import(await collect_records(chunks, self.limits), on_conflict)

    async def close(self) -> None:
        """CLOSE-1 (idempotent; ``async with`` closes), CLOSE-2 (then every operation
        raises StoreUnavailable)."""
        if not self._closed:
            self._closed = True
            await self.close_storage()

    # --- the test hook of ERR-3 and EXPORT-3 ----------------------------------------------

    async def corrupt_for_testing(self, id: str) -> None:
        """Store bytes that are not JSON as the data of session ``id`` (ERR-3,
        EXPORT-3), through :meth:`write`, which keeps data byte for byte."""
        while True:
            stored = await self.read(id)
            if stored is None:
                raise SessionNotFound(f"no stored session with id {short_id(id)}")
            if await self.write(stored._replace(data=CORRUPT_DATA), stored):
                return

    # --- internals ------------------------------------------------------------------------

    def _open_check(self) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")  # CLOSE-2

    async def _visible(self, id: str, now: int, owner: str | None) -> Record | None:
        """The row of ``id`` if it is live (LIVE-1) and visible to ``owner`` (OWN-2)."""
        record = await self._gate.shared(self.read, id)
        if record is None or not record.is_live(now) or not record.visible_to(owner):
            return None
        return record

    async def _require(self, id: str, owner: str | None) -> tuple[int, Record]:
        """The store's now and the live row a write starts from, or SessionNotFound."""
        self._open_check()
        now = self._now()
        record = await self._visible(id, now, owner)
        if record is None:
            raise SessionNotFound(f"no live session with id {short_id(id)}")
        return now, record

    async def _stored(self) -> AsyncIterator[Rows]:
        """Every stored row, ``scan_batch`` at a time, in id order."""
        after: str | None = None
        while True:
            batch = list(await self.scan(after, self.scan_batch))
            if batch:
                yield batch
            if len(batch) < self.scan_batch:
                return
            after = batch[-1].id

    async def _live_snapshot(self) -> tuple[int, Rows]:
        self._open_check()
        now = self._now()
        rows = await self._gate.alone(self.snapshot)
        return now, [record for record in rows if record.is_live(now)]

    async def _undo(self, done: Sequence[Write]) -> None:
        """Put back what :meth:`write_many` wrote, newest first, each row only if it is
        still the one written."""
        for record, expected in reversed(done):
            if expected is None:
                await self.remove(record)
            else:
                await self.write(expected, record)

    async def _apply_import(
        self, records: Sequence[Record], on_conflict: OnConflict
    ) -> ImportReport:
        """Plan against the rows stored now (IMPORT-3, IMPORT-4), then write them all
        at once, each conditional on the row read; a failed condition means another
        call wrote meanwhile: plan again."""
        while True:
            self._open_check()
            now = self._now()
            stored = {
                record.id: await self._gate.shared(self.read, record.id) for record in records
            }
            clashes = {sid for sid, row in stored.items() if row is not None and row.is_live(now)}
            writes, report = plan_import(records, now, clashes, on_conflict)
            planned = [(record, stored[record.id]) for record in writes]
            if await self._gate.alone(self.write_many, planned):  # seen whole (CONC-1)
                return report
            await asyncio.sleep(0)  # let the writer that won finish


def _written(current: Record, encoded: bytes, now: int, ttl_ms: int | None) -> Record:
    """A data write (REC-3, REC-4): version + 1, updated_at now, the expiry now + ttl or
    kept when no ttl is given (TTL-3)."""
    expires = current.expires_ms if ttl_ms is None else now + ttl_ms
    return current._replace(
        data=encoded, version=current.version + 1, updated_ms=now, expires_ms=expires
    )


async def _batches(records: Rows, size: int = 1000) -> AsyncIterator[Rows]:
    for start in range(0, len(records), size):
        yield records[start : start + size]
