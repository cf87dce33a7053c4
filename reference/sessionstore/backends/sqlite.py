"""The SQLite store: durable, shared by many processes on one host (capabilities
``injectable_clock``, ``durable``, ``multi_process``).

Built on the standard library's ``sqlite3``:

* **WAL** journal, so readers never wait for the writer.
* **synchronous=NORMAL** by default: a committed write survives a crash of the process
  (or of every process); after a power loss or OS crash the last transactions before
  the most recent checkpoint may be rolled back, never half-applied. ``synchronous=full``
  (URL ``?synchronous=full``) makes every commit survive power loss too, at several
  times the cost of a write.
* Every read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction (CONC-1).
* The connection never waits inside SQLite (busy timeout 0): when another process holds
  the write lock, the store sleeps with ``asyncio.sleep`` and retries, so the event
  loop keeps running; after ``lock_timeout`` seconds it raises StoreUnavailable.
* An index on ``expires_ms`` makes ``purge_expired`` cost O(expired) (PURGE-2).
* Tables are per namespace (default ``sessions``), so applications can share a file;
  ``sessionstore_meta`` records each namespace's schema version for migrations.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from ..contract import Updater
from ..errors import (
    InvalidSession,
    SessionExists,
    SessionNotFound,
    StoreUnavailable,
)
from ..export import (
    FORMAT,
    FORMAT_VERSION,
    ExportDocument,
    check_on_conflict,
    chunked_document,
    parse_export,
    plan_import,
    record_to_export,
)
from ..semantics import (
    Record,
    check_id,
    check_limit,
    check_owner,
    check_version,
    decode_data,
    encode_checked,
    from_ms,
    new_id,
    now_ms_function,
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
from ._lifecycle import ClosesOnExit

T = TypeVar("T")

SCHEMA_VERSION = 1
PURGE_BATCH = 1000
#: Lower case (SQLite table names ignore case) and no "__" (index names use it).
NAMESPACE_PATTERN = re.compile(r"[a-z](?:_?[a-z0-9])*")
SYNCHRONOUS_LEVELS = ("normal", "full")
_COLUMNS = "id, data, version, created_ms, updated_ms, expires_ms, owner"
_LIVE = "(expires_ms IS NULL OR expires_ms > ?)"
#: One list of statements per schema version; opening a file applies what it lacks.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE "{table}" (
            id TEXT PRIMARY KEY NOT NULL,
            data BLOB NOT NULL,
            version INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            expires_ms INTEGER,
            owner TEXT
        ) WITHOUT ROWID""",
        'CREATE INDEX "{table}__expires" ON "{table}" (expires_ms) WHERE expires_ms IS NOT NULL',
    ],
}


_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return code in _BUSY_CODES or "database is locked" in str(exc) or "busy" in str(exc)


class _Busy(Exception):
    """Another connection holds the lock; the caller waits without blocking the loop."""


class SQLiteStore(ClosesOnExit):
    """Sessions in one SQLite file, in the table named by ``namespace``."""

    capabilities = Capabilities(injectable_clock=True, durable=True, multi_process=True)

    def __init__(
        self,
        path: str | Path,
        *,
        namespace: str = "sessions",
        clock: Clock | None = None,
        default_ttl: TTL | None = None,
        limits: Limits = DEFAULT_LIMITS,
        synchronous: str = "normal",
        lock_timeout: float = 30.0,
    ) -> None:
        if (
            not NAMESPACE_PATTERN.fullmatch(namespace)
            or len(namespace) > 63
            or namespace.startswith("sessionstore")
        ):
            raise InvalidSession(
                "namespace must be 1-63 characters of a-z, 0-9 and single underscores, "
                f"starting with a letter, got {namespace!r}"
            )
        if synchronous.lower() not in SYNCHRONOUS_LEVELS:
            raise InvalidSession(
                f"synchronous must be one of {SYNCHRONOUS_LEVELS}, got {synchronous!r}"
            )
        self.path = Path(path).absolute()
        self.namespace = namespace
        self.limits = limits
        self.default_ttl = default_ttl
        self.synchronous = synchronous.lower()
        self.lock_timeout = lock_timeout
        self.url = f"sqlite:///{quote(str(self.path))}?namespace={namespace}"
        if self.synchronous != "normal":
            self.url += f"&synchronous={self.synchronous}"
        self._default_ttl_ms = None if default_ttl is None else ttl_to_ms(default_ttl, limits)
        self._now = now_ms_function(clock)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._table = f'"{namespace}"'
        self._sql_fetch = f"SELECT {_COLUMNS} FROM {self._table} WHERE id = ? AND {_LIVE}"

    # --- opening, migrations, errors ------------------------------------------------------

    async def open(self) -> SQLiteStore:
        """Connect, set up WAL and the schema (waiting asynchronously for locks)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._conn = conn
        try:
            await self._retry(self._setup)
        except BaseException:
            conn.close()
            self._conn = None
            raise
        return self

    def _setup(self, conn: sqlite3.Connection) -> None:
        # Refuse a file we must not touch before changing anything in it (even WAL mode).
        # Tables first, then the version: a migration commits both at once, so a table
        # seen without a version row afterwards is really someone else's.
        ours_or_foreign = self._foreign_table(conn)
        version = self._schema_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path}: namespace {self.namespace!r} has schema version {version}, newer "
                f"than this sessionstore understands ({SCHEMA_VERSION}); upgrade sessionstore"
            )
        if version == 0 and ours_or_foreign:
            self._refuse(ours_or_foreign)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal" and not self._read_only(conn):
            raise StoreUnavailable(f"{self.path}: cannot switch to WAL (journal_mode={mode})")
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._schema_version(conn)  # another process may have migrated meanwhile
            found = self._foreign_table(conn)
            if version == 0 and found:
                self._refuse(found)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS sessionstore_meta "
                "(namespace TEXT PRIMARY KEY NOT NULL, schema_version INTEGER NOT NULL)"
            )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement.format(table=self.namespace))
            conn.execute(
                "INSERT OR REPLACE INTO sessionstore_meta VALUES (?, ?)",
                (self.namespace, SCHEMA_VERSION),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _foreign_table(self, conn: sqlite3.Connection) -> str | None:
        """The name of an object that a new namespace would collide with, if any."""
        for name in (self.namespace, f"{self.namespace}__expires"):
            if self._table_exists(conn, name):
                return name
        return None

    def _refuse(self, name: str) -> None:
        raise StoreUnavailable(
            f"{self.path}: {name!r} exists but is not a sessionstore table; "
            "choose another namespace"
        )

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        if not self._table_exists(conn, "sessionstore_meta"):
            return 0
        row = conn.execute(
            "SELECT schema_version FROM sessionstore_meta WHERE namespace = ?", (self.namespace,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE", (name,)
        ).fetchone()
        return found is not None

    @staticmethod
    def _read_only(conn: sqlite3.Connection) -> bool:
        try:
            conn.execute("PRAGMA user_version = 0")  # a no-op write; fails when read-only
        except sqlite3.OperationalError:
            return True
        return False

    def _translate(self, exc: sqlite3.Error) -> StoreUnavailable:
        text = str(exc)
        if "not a database" in text:
            why = "the file is not an SQLite database"
        elif "readonly" in text or "read-only" in text:
            why = "the database is read-only"
        elif "full" in text:
            why = "the disk (or the database's page limit) is full"
        else:
            why = text
        return StoreUnavailable(f"SQLite store {self.path}: {why} ({type(exc).__name__}: {text})")

    async def _retry(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection; on a busy lock, wait (asynchronously) and retry."""
        deadline = None
        delay = 0.0005
        while True:
            try:
                return self._attempt(work)
            except _Busy:
                now = time.monotonic()
                deadline = deadline or now + self.lock_timeout
                if now >= deadline:
                    raise StoreUnavailable(
                        f"SQLite store {self.path}: the database stayed locked for "
                        f"{self.lock_timeout:g} s"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.02)

    def _attempt(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreUnavailable("the store is closed")
            try:
                return work(conn)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if _is_busy(exc):
                    raise _Busy from exc
                raise self._translate(exc) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    async def _write(self, work: Callable[[sqlite3.Connection, int], T]) -> T:
        """Run ``work(conn, now_ms)`` inside one BEGIN IMMEDIATE transaction."""

        def transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            result = work(conn, self._now())
            conn.execute("COMMIT")
            return result

        return await self._retry(transaction)

    async def _read(self, work: Callable[[sqlite3.Connection, int], T]) -> T:
        return await self._retry(lambda conn: work(conn, self._now()))

    # --- rows -------------------------------------------------------------------------------

    def _fetch(
        self, conn: sqlite3.Connection, session_id: str, now: int, owner: str | None = None
    ) -> Record | None:
        row = conn.execute(self._sql_fetch, (session_id, now)).fetchone()
        if row is None:
            return None
        record = Record(*row)
        return record if record.visible_to(owner) else None

    def _require(
        self, conn: sqlite3.Connection, session_id: str, now: int, owner: str | None
    ) -> Record:
        record = self._fetch(conn, session_id, now, owner)
        if record is None:
            raise SessionNotFound(f"no live session with id {session_id!r}")
        return record

    def _store(self, conn: sqlite3.Connection, record: Record) -> None:
        conn.execute(
            f"INSERT OR REPLACE INTO {self._table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.data,
                record.version,
                record.created_ms,
                record.updated_ms,
                record.expires_ms,
                record.owner,
            ),
        )

    def _rewrite(
        self,
        conn: sqlite3.Connection,
        current: Record,
        encoded: bytes,
        now: int,
        ttl_ms: int | None,
    ) -> Record:
        """REC-4: every data write bumps the version and updated_at; ttl=None keeps expiry.
        An UPDATE in place: INSERT OR REPLACE would delete and re-insert row and index entry."""
        expires = current.expires_ms if ttl_ms is None else now + ttl_ms
        conn.execute(
            f"UPDATE {self._table} SET data = ?, version = ?, updated_ms = ?, expires_ms = ? "
            "WHERE id = ?",
            (encoded, current.version + 1, now, expires, current.id),
        )
        return Record(
            current.id,
            encoded,
            current.version + 1,
            current.created_ms,
            now,
            expires,
            current.owner,
        )

    # --- the contract -------------------------------------------------------------------------

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        encoded, copy = encode_checked({} if data is None else data, self.limits)
        session_id = new_id() if id is None else check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = self._default_ttl_ms if ttl is None else ttl_to_ms(ttl, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> Record:
            if self._fetch(conn, session_id, now) is not None:
                raise SessionExists(f"a live session with id {session_id!r} exists")
            record = Record(
                session_id, encoded, 1, now, now, None if ttl_ms is None else now + ttl_ms, owner
            )
            self._store(conn, record)
            return record

        return (await self._write(work)).to_session(copy)

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        record = await self._read(lambda conn, now: self._fetch(conn, id, now, owner))
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
        check_id(id, self.limits)
        encoded, copy = encode_checked(data, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> Record:
            current = self._require(conn, id, now, owner)
            current.check_version(expected_version)
            return self._rewrite(conn, current, encoded, now, ttl_ms)

        return (await self._write(work)).to_session(copy)

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> tuple[Record, JSONObject]:
            current = self._require(conn, id, now, owner)
            encoded, copy = encode_checked(fn(decode_data(current.data, id)), self.limits)
            return self._rewrite(conn, current, encoded, now, ttl_ms), copy

        record, copy = await self._write(work)
        return record.to_session(copy)

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = ttl_to_ms(ttl, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> Record:
            current = self._require(conn, id, now, owner)
            decode_data(current.data, id)  # ERR-3 before any change (ERR-2): raise, roll back
            conn.execute(
                f"UPDATE {self._table} SET expires_ms = ? WHERE id = ?", (now + ttl_ms, id)
            )
            return Record(
                id,
                current.data,
                current.version,
                current.created_ms,
                current.updated_ms,
                now + ttl_ms,
                current.owner,
            )

        return (await self._write(work)).to_session()

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> bool:
            current = self._fetch(conn, id, now, owner)
            if current is None:
                return False
            current.check_version(expected_version)
            conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (id,))
            return True

        return await self._write(work)

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        check_limit(limit, self.limits)
        if cursor is not None:
            check_id(cursor, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> list[Record]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {self._table} WHERE id > ? AND {_LIVE} "
                "ORDER BY id LIMIT ?",
                ("" if cursor is None else cursor, now, limit + 1),
            ).fetchall()
            return [Record(*row) for row in rows]

        records = await self._read(work)
        more = len(records) > limit
        page = records[:limit]
        return Page([r.to_session() for r in page], page[-1].id if more else None)

    async def count(self) -> int:
        def work(conn: sqlite3.Connection, now: int) -> int:
            total = conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0]
            expired = conn.execute(
                f"SELECT count(*) FROM {self._table} WHERE expires_ms <= ?", (now,)
            ).fetchone()[0]
            return int(total - expired)

        # Both counts in one read transaction, so they see the same snapshot.
        def snapshot(conn: sqlite3.Connection, now: int) -> int:
            conn.execute("BEGIN")
            try:
                return work(conn, now)
            finally:
                conn.execute("COMMIT")

        return await self._read(snapshot)

    async def purge_expired(self) -> int:
        """Delete expired rows in short transactions of PURGE_BATCH rows, yielding to the
        event loop (and to other writers) between them: a purge of 100,000 rows would
        otherwise hold the loop and the write lock for seconds."""

        def batch(conn: sqlite3.Connection, now: int) -> int:
            return conn.execute(
                f"DELETE FROM {self._table} WHERE id IN (SELECT id FROM {self._table} "
                "WHERE expires_ms <= ? LIMIT ?)",
                (now, PURGE_BATCH),
            ).rowcount

        removed = 0
        while True:
            done = await self._write(batch)
            removed += done
            if done < PURGE_BATCH:
                return removed
            await asyncio.sleep(0)

    async def export(self) -> ExportDocument:
        def work(conn: sqlite3.Connection, now: int) -> tuple[int, list[Record]]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {self._table} WHERE {_LIVE} ORDER BY id", (now,)
            ).fetchall()
            return now, [Record(*row) for row in rows]

        now, records = await self._read(work)
        return ExportDocument(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            exported_at=from_ms(now),
            sessions=[record_to_export(r) for r in records],
        )

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        """EXPORT-2: the export document in pieces, read in one snapshot (a read
        transaction on a connection of its own, so the store's other calls go on)."""
        if self._conn is None:
            raise StoreUnavailable("the store is closed")
        reader = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=0
        )
        try:
            reader.execute("BEGIN")
            now = self._now()
            cursor = reader.execute(
                f"SELECT {_COLUMNS} FROM {self._table} WHERE {_LIVE} ORDER BY id", (now,)
            )

            async def batches() -> AsyncIterator[list[Record]]:
                while rows := cursor.fetchmany(chunk_size):
                    yield [Record(*row) for row in rows]
                    await asyncio.sleep(0)  # let the loop serve others between chunks

            async for piece in chunked_document(now, batches()):
                yield piece
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        finally:
            reader.close()

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        check_on_conflict(on_conflict)
        records = parse_export(doc, self.limits)

        def work(conn: sqlite3.Connection, now: int) -> ImportReport:
            clashes = {r.id for r in records if self._fetch(conn, r.id, now) is not None}
            writes, report = plan_import(records, now, clashes, on_conflict)
            for record in writes:
                self._store(conn, record)
            return report

        return await self._write(work)

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def stats(self) -> dict[str, Any]:
        """For operators: rows held (live or not yet purged), and the file's size."""

        def work(conn: sqlite3.Connection, now: int) -> tuple[int, int]:
            stored = conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0]
            expired = conn.execute(
                f"SELECT count(*) FROM {self._table} WHERE expires_ms <= ?", (now,)
            ).fetchone()[0]
            return int(stored), int(expired)

        stored, expired = await self._read(work)
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        size = sum(f.stat().st_size for f in files if f.exists())
        return {
            "stored": stored,
            "expired_unpurged": expired,
            "file_bytes": size,
            "path": str(self.path),
            "namespace": self.namespace,
        }

    # --- fault injection for the conformance kit (check ERR-3) ------------------------------

    async def corrupt_for_testing(self, id: str) -> None:
        """Overwrite a session's stored bytes with something that is not JSON."""

        def work(conn: sqlite3.Connection, now: int) -> None:
            conn.execute(f"UPDATE {self._table} SET data = x'ff7b' WHERE id = ?", (id,))

        await self._write(work)
