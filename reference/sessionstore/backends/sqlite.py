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
* Work proportional to the store (import, export, purge, count, stats) runs on a
  connection of its own in a worker thread (sqlite3 lets other threads run while SQLite
  works), so it never holds the event loop (issue 12); the store keeps such connections
  for reuse. Transactions make it atomic across connections, as across processes.
* Tables are per namespace (default ``sessions``), so applications can share a file;
  ``sessionstore_meta`` records each namespace's schema version for migrations, and
  ``sessionstore_counts`` its number of rows, so ``count`` reads no row but the expired
  ones not yet purged (the schema and why: _sqlite_schema.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from ..contract import Updater
from ..errors import (
    ConfigurationError,
    SessionExists,
    SessionNotFound,
    StoreUnavailable,
)
from ..export import (
    ExportDocument,
    RecordFields,
    check_on_conflict,
    chunked_document,
    export_document,
    import_report,
)
from ..importing import Chunks, document_records, read_export, text_chunks
from ..options import positive_seconds, whole_mib
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
from ._lifecycle import ClosesOnExit
from ._sqlite_schema import COLUMNS as _COLUMNS
from ._sqlite_schema import (
    MIGRATIONS,
    ON_ID_CONFLICT_REPLACE,
    OWN_OBJECTS,
    PAGE_SIZE,
    SCHEMA_VERSION,
    bounded_counts_sql,
    stored_and_expired_sql,
)
from ._stored import as_record

T = TypeVar("T")

PURGE_BATCH = 1000
#: count() counts on the event loop up to this many expired rows not yet purged (a
#: range of the expiry index: ~0.1 ms); beyond, it counts them all in a thread.
COUNT_INLINE_EXPIRED = 1000
#: Lower case (SQLite table names ignore case) and no "__" (index names use it).
NAMESPACE_PATTERN = re.compile(r"[a-z](?:_?[a-z0-9])*")
SYNCHRONOUS_LEVELS = ("normal", "full")
#: SQLite's page cache per connection, and how much of the file is read through mmap (MiB).
DEFAULT_CACHE_MB, DEFAULT_MMAP_MB = 64, 256
_LIVE = "(expires_ms IS NULL OR expires_ms > ?)"


_WRITE = "BEGIN IMMEDIATE"  # every read-modify-write takes the write lock up front (CONC-1)
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return code in _BUSY_CODES or "database is locked" in str(exc) or "busy" in str(exc)


_STAGINGS = itertools.count()


class _Staging:
    """An import's validated records in a table of their own database, attached to the
    store's connection for the import (IMPORT-7): the store holds one batch in memory at a
    time, and filling the table takes no lock on the store's file."""

    def __init__(self, run: _Runner, table: str) -> None:
        self._run = run  # the import's own connection (SQLiteStore._aside)
        self._table = table
        # A private temporary database ('' in ATTACH): SQLite deletes its file on DETACH,
        # whole. A TEMP table had to be dropped page by page: 0.9 s of a 200,000-session
        # import, the pages read back from disk to be freed.
        self._schema = f"sessionstore_import_{next(_STAGINGS)}"
        self._name = f"{self._schema}.staged"
        self._attached = False
        self._count = 0  # records added: the next one's index in the document

    def create(self, db: sqlite3.Cursor, now: int) -> None:
        try:
            db.execute(f"ATTACH DATABASE '' AS {self._schema}")
        except sqlite3.OperationalError as exc:
            if "too many attached" not in str(exc):
                raise
            self._name = f"temp.{self._schema}"  # ten imports at once on one store: a TEMP table
        else:
            self._attached = True
            # No journal: a failed import discards the whole database, so nothing in it
            # is ever rolled back.
            db.execute(f"PRAGMA {self._schema}.journal_mode = OFF")
        # Keyed by the document index, so rows are appended: keyed by id (the reader has
        # already refused duplicate ids), 200,000 rows took twice as long per row as 100,000.
        db.execute(
            f"CREATE TABLE {self._name} (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, "
            "data BLOB NOT NULL, version INTEGER NOT NULL, created_ms INTEGER NOT NULL, "
            "updated_ms INTEGER NOT NULL, expires_ms INTEGER, owner TEXT)"
        )

    def drop(self, db: sqlite3.Cursor, now: int) -> None:
        if self._attached:
            db.execute(f"DETACH DATABASE {self._schema}")
            self._attached = False
        else:
            db.execute(f"DROP TABLE IF EXISTS {self._name}")

    async def add(self, records: Sequence[RecordFields]) -> None:
        rows = [(self._count + i, *record) for i, record in enumerate(records)]
        self._count += len(rows)
        sql = f"INSERT INTO {self._name} VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        # One transaction per batch, not one per row. A deferred BEGIN that touches only
        # the temporary database takes no lock on the store's file.
        await self._run("BEGIN", lambda db, now: db.executemany(sql, rows))

    async def clear(self) -> None:
        self._count = 0
        await self._run(None, lambda db, now: db.execute(f"DELETE FROM {self._name}"))

    def apply(self, db: sqlite3.Cursor, now: int, on_conflict: OnConflict) -> ImportReport:
        """Inside the store's write transaction: report (IMPORT-3, IMPORT-4, IMPORT-6) and
        copy the live records, as plan_import would, in SQL."""
        live = "(s.expires_ms IS NULL OR s.expires_ms > :now)"
        stored = (
            f"(SELECT 1 FROM {self._table} m WHERE m.id = s.id "
            "AND (m.expires_ms IS NULL OR m.expires_ms > :now))"
        )
        total, expired = db.execute(
            f"SELECT count(*), count(*) - total({live}) FROM {self._name} s", {"now": now}
        ).fetchone()
        clashing = db.execute(
            f"SELECT idx, id FROM {self._name} s WHERE {live} AND EXISTS {stored} ORDER BY idx",
            {"now": now},
        ).fetchall()
        report = import_report(total, int(expired), clashing, on_conflict)
        keep = "" if on_conflict == "replace" else f"AND NOT EXISTS {stored}"
        db.execute(
            f"INSERT INTO {self._table} ({_COLUMNS}) "
            f"SELECT {_COLUMNS} FROM {self._name} s WHERE {live} {keep} {ON_ID_CONFLICT_REPLACE}",
            {"now": now},
        )
        return report


def _roll_back(conn: sqlite3.Connection) -> None:
    """Undo an open transaction, if the connection still works (ERR-2); a connection
    that is gone (ERR-4) has nothing left to undo, and its own error is the one to tell."""
    with contextlib.suppress(sqlite3.ProgrammingError):
        if conn.in_transaction:
            conn.execute("ROLLBACK")


class _Busy(Exception):
    """Another connection holds the lock; the caller waits without blocking the loop."""


def create_private(path: Path) -> None:
    """Create the database file with mode 0600 when it does not exist yet, whatever the
    umask: it holds sessions, like the backup. SQLite gives the -wal and -shm files the
    database file's mode, so all three are private. An existing file keeps the mode its
    owner gave it: that is how to share the database with a group (chmod 0660)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


_Batch = list[RecordFields]  # (inside SQLiteStore, ``list`` is the method)
#: ``run(begin, work, *args)``: work(db, now_ms, *args) on one connection (_aside).
_Runner = Callable[..., Awaitable[Any]]


class _Patience:
    """Waiting out another connection's lock: sleeps (asynchronously) of 0.5 ms doubling
    up to 20 ms, then StoreUnavailable once ``lock_timeout`` has passed."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._deadline: float | None = None
        self._delay = 0.0005

    async def wait(self) -> None:
        now = time.monotonic()
        self._deadline = self._deadline or now + self._store.lock_timeout
        if now >= self._deadline:
            raise StoreUnavailable(
                f"SQLite store {self._store.path}: the database stayed locked for "
                f"{self._store.lock_timeout:g} s"
            ) from None
        await asyncio.sleep(self._delay)
        self._delay = min(self._delay * 2, 0.02)


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
        cache_mb: int = DEFAULT_CACHE_MB,
        mmap_mb: int = DEFAULT_MMAP_MB,
    ) -> None:
        if (
            not NAMESPACE_PATTERN.fullmatch(namespace)
            or len(namespace) > 63
            or namespace.startswith("sessionstore")
        ):
            raise ConfigurationError(
                "namespace must be 1-63 characters of a-z, 0-9 and single underscores, "
                f"starting with a letter, got {namespace!r}"
            )
        if synchronous.lower() not in SYNCHRONOUS_LEVELS:
            raise ConfigurationError(
                f"synchronous must be one of {SYNCHRONOUS_LEVELS}, got {synchronous!r}"
            )
        self.cache_mb = whole_mib("cache_mb", cache_mb)
        self.mmap_mb = whole_mib("mmap_mb", mmap_mb)
        self.path = Path(path).absolute()
        self.namespace = namespace
        self.limits = limits
        self.default_ttl = default_ttl
        self.synchronous = synchronous.lower()
        self.lock_timeout = positive_seconds("lock_timeout", lock_timeout)
        self.url = f"sqlite:///{quote(str(self.path))}?namespace={namespace}"
        for option, value, default in (
            ("synchronous", self.synchronous, "normal"),
            ("cache_mb", cache_mb, DEFAULT_CACHE_MB),
            ("mmap_mb", mmap_mb, DEFAULT_MMAP_MB),
        ):
            if value != default:
                self.url += f"&{option}={value}"
        self._default_ttl_ms = None if default_ttl is None else ttl_to_ms(default_ttl, limits)
        self._now = now_ms_function(clock)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        #: Every statement goes through this one cursor: conn.execute makes a new cursor
        #: per call, a measurable part of a point read.
        self._db: sqlite3.Cursor | None = None
        self._spares: list[sqlite3.Connection] = []  # idle side connections (_side)
        self._table = f'"{namespace}"'
        # Reads of one session: the id is known, so one column less to convert.
        self._sql_fetch = (
            "SELECT data, version, created_ms, updated_ms, expires_ms, owner "
            f"FROM {self._table} WHERE id = ? AND {_LIVE}"
        )
        rewrite = f"UPDATE {self._table} SET data = ?, version = ?, updated_ms = ?"
        self._sql_rewrite = f"{rewrite} WHERE id = ?"
        self._sql_rewrite_expiry = f"{rewrite}, expires_ms = ? WHERE id = ?"
        # A create may reuse an expired session's id (CREATE-4): its row is overwritten.
        self._sql_insert = (
            f"INSERT INTO {self._table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            + ON_ID_CONFLICT_REPLACE
        )
        self._sql_counts = stored_and_expired_sql(namespace)
        self._sql_counts_bounded = bounded_counts_sql(namespace)
        self._sql_delete = f"DELETE FROM {self._table} WHERE id = ?"
        self._sql_touch = f"UPDATE {self._table} SET expires_ms = ? WHERE id = ?"

    # --- opening, migrations, errors ------------------------------------------------------

    async def open(self) -> SQLiteStore:
        """Connect, set up WAL and the schema (waiting asynchronously for locks, and
        migrating an older file in a worker thread)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            create_private(self.path)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._conn, self._db = conn, conn.cursor()
        try:
            # In a worker thread: a migration copies every row (_sqlite_schema.py).
            await self._aside(conn, None, self._setup)
        except BaseException:
            conn.close()
            self._conn = self._db = None
            raise
        return self

    def _setup(self, db: sqlite3.Cursor, now: int) -> None:
        # Refuse a file we must not touch before changing anything in it (even WAL mode).
        # Tables first, then the version: a migration commits both at once, so a table
        # seen without a version row afterwards is really someone else's.
        ours_or_foreign = self._foreign_table(db)
        version = self._schema_version(db)
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path}: namespace {self.namespace!r} has schema version {version}, newer "
                f"than this sessionstore understands ({SCHEMA_VERSION}); upgrade sessionstore"
            )
        if version == 0 and ours_or_foreign:
            self._refuse(ours_or_foreign)
        # Before the first write, which fixes a file's page size (ignored afterwards).
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal" and not self._read_only(db):
            raise StoreUnavailable(f"{self.path}: cannot switch to WAL (journal_mode={mode})")
        db.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        # SQLite's default page cache is 2 MB: beyond that every read of a cold page is a
        # read() system call. A larger cache plus memory-mapped reads (shared with the OS
        # page cache, not private memory) made a point read 1.7x faster at 15 MB of data.
        db.execute(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
        db.execute(f"PRAGMA mmap_size={self.mmap_mb * 1024 * 1024}")
        if version == SCHEMA_VERSION:
            return
        db.execute("BEGIN IMMEDIATE")  # _attempt rolls it back if anything below raises
        version = self._schema_version(db)  # another process may have migrated meanwhile
        found = self._foreign_table(db)
        if version == 0 and found:
            self._refuse(found)
        db.execute(
            "CREATE TABLE IF NOT EXISTS sessionstore_meta "
            "(namespace TEXT PRIMARY KEY NOT NULL, schema_version INTEGER NOT NULL)"
        )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                db.execute(statement.format(table=self.namespace))
        db.execute(
            "INSERT OR REPLACE INTO sessionstore_meta VALUES (?, ?)",
            (self.namespace, SCHEMA_VERSION),
        )
        db.execute("COMMIT")

    def _foreign_table(self, db: sqlite3.Cursor) -> str | None:
        """The name of an object that a new namespace would collide with, if any."""
        for name in (self.namespace, *(own.format(table=self.namespace) for own in OWN_OBJECTS)):
            if self._table_exists(db, name):
                return name
        return None

    def _refuse(self, name: str) -> None:
        raise StoreUnavailable(
            f"{self.path}: {name!r} exists but is not a sessionstore table; "
            "choose another namespace"
        )

    def _schema_version(self, db: sqlite3.Cursor) -> int:
        if not self._table_exists(db, "sessionstore_meta"):
            return 0
        row = db.execute(
            "SELECT schema_version FROM sessionstore_meta WHERE namespace = ?", (self.namespace,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _table_exists(db: sqlite3.Cursor, name: str) -> bool:
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE", (name,)
        ).fetchone()
        return found is not None

    @staticmethod
    def _read_only(db: sqlite3.Cursor) -> bool:
        try:
            db.execute("PRAGMA user_version = 0")  # a no-op write; fails when read-only
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
        elif "closed database" in text:
            why = "the connection to the database is gone"
        else:
            why = text
        return StoreUnavailable(f"SQLite store {self.path}: {why} ({type(exc).__name__}: {text})")

    async def _retry(self, begin: str | None, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(db, now_ms, *args)`` (in a transaction opened by the statement
        ``begin``, if any); on a busy lock, wait (asynchronously) and retry."""
        patience = _Patience(self)
        while True:
            try:
                return self._attempt(begin, work, *args)
            except _Busy:
                await patience.wait()

    def _attempt(self, begin: str | None, work: Callable[..., T], *args: Any) -> T:
        # This runs on every operation, so it is one frame: the work and its arguments are
        # passed down rather than wrapped in closures, and get and the single-session
        # writes call it directly, awaiting the retrying coroutine only after _Busy (a
        # coroutine per call was ~5% of a get). The clock is read once the connection
        # (and, in a transaction, the write lock) is ours.
        with self._lock:
            conn, db = self._conn, self._db
            if conn is None or db is None:
                raise StoreUnavailable("the store is closed")
            return self._transact(conn, db, begin, work, *args)

    def _transact(
        self,
        conn: sqlite3.Connection,
        db: sqlite3.Cursor,
        begin: str | None,
        work: Callable[..., T],
        *args: Any,
    ) -> T:
        """``work(db, now_ms, *args)``, inside ``begin`` … COMMIT when given; rolled back
        and translated when it fails. Shared by the store's connection and side ones."""
        try:
            if begin is None:
                return work(db, self._now(), *args)
            db.execute(begin)
            result = work(db, self._now(), *args)
            db.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise self._failed(conn, exc) from exc
        except BaseException:
            _roll_back(conn)
            raise

    def _failed(self, conn: sqlite3.Connection, exc: sqlite3.Error) -> Exception:
        """What a failed attempt raises, once its transaction is rolled back."""
        _roll_back(conn)
        return _Busy() if _is_busy(exc) else self._translate(exc)

    def _write(self, work: Callable[..., T], *args: Any) -> Coroutine[Any, Any, T]:
        """``work(db, now_ms, *args)`` inside one BEGIN IMMEDIATE transaction."""
        return self._retry(_WRITE, work, *args)

    def _read(self, work: Callable[..., T], *args: Any) -> Coroutine[Any, Any, T]:
        """``work(db, now_ms, *args)``, outside a transaction (each statement is atomic)."""
        return self._retry(None, work, *args)

    # --- work in a thread, on a connection of its own ---------------------------------------

    @contextlib.asynccontextmanager
    async def _side(self) -> AsyncIterator[sqlite3.Connection]:
        """A connection of its own for work proportional to the store, kept for reuse
        when the work ends well (closed otherwise: it may be mid-transaction)."""
        with self._lock:
            if self._conn is None:
                raise StoreUnavailable("the store is closed")
            try:
                self._conn.in_transaction  # noqa: B018 (raises once the connection is gone)
            except sqlite3.ProgrammingError as exc:
                raise self._translate(exc) from exc
            conn = self._spares.pop() if self._spares else None
        patience = _Patience(self)
        while conn is None:
            try:
                conn = await asyncio.to_thread(self._connect_side)
            except _Busy:
                await patience.wait()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if self._conn is None:
                conn.close()
            else:
                self._spares.append(conn)

    def _connect_side(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        try:
            # The first statement reads the schema: busy while another connection
            # recovers the WAL index (e.g. the file's last connection just closed).
            conn.execute(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
            conn.execute(f"PRAGMA mmap_size={self.mmap_mb * 1024 * 1024}")
        except sqlite3.Error as exc:
            conn.close()
            raise _Busy() if _is_busy(exc) else self._translate(exc) from exc
        return conn

    async def _aside(
        self, conn: sqlite3.Connection, begin: str | None, work: Callable[..., T], *args: Any
    ) -> T:
        """_retry for a side connection (_side): each attempt in a worker thread. A
        cancelled caller still waits for the attempt in flight: the thread cannot be
        stopped, and the connection must be idle before it is closed."""
        patience = _Patience(self)
        while True:
            attempt = asyncio.ensure_future(
                asyncio.to_thread(self._attempt_on, conn, begin, work, *args)
            )
            try:
                return await asyncio.shield(attempt)
            except _Busy:
                await patience.wait()
            except asyncio.CancelledError:
                await asyncio.wait([attempt])
                raise

    def _attempt_on(
        self, conn: sqlite3.Connection, begin: str | None, work: Callable[..., T], *args: Any
    ) -> T:
        if self._conn is None:  # closed meanwhile (CLOSE-2)
            raise StoreUnavailable("the store is closed")
        return self._transact(conn, conn.cursor(), begin, work, *args)

    # --- rows -------------------------------------------------------------------------------

    def _fetch(
        self, db: sqlite3.Cursor, now: int, session_id: str, owner: str | None = None
    ) -> Record | None:
        row = db.execute(self._sql_fetch, (session_id, now)).fetchone()
        if row is None or not visible(row[5], owner):
            return None
        return as_record((session_id, *row))  # C speed: Record(...) is a Python __new__

    def _require(self, db: sqlite3.Cursor, now: int, session_id: str, owner: str | None) -> Record:
        record = self._fetch(db, now, session_id, owner)
        if record is None:
            raise SessionNotFound(f"no live session with id {short_id(session_id)}")
        return record

    def _rewrite(
        self,
        db: sqlite3.Cursor,
        now: int,
        current: Record,
        encoded: bytes,
        ttl_ms: int | None,
    ) -> Session:
        """REC-4: every data write bumps the version and updated_at; ttl=None keeps expiry.
        An UPDATE in place (INSERT OR REPLACE would delete and re-insert row and index
        entry), and expires_ms only when it changes: assigning an indexed column rewrites
        its index entry even to the same value, which more than doubles the cost."""
        version = current.version + 1
        if ttl_ms is None:
            expires = current.expires_ms
            db.execute(self._sql_rewrite, (encoded, version, now, current.id))
        else:
            expires = now + ttl_ms
            db.execute(self._sql_rewrite_expiry, (encoded, version, now, expires, current.id))
        return Session.from_json_ms(
            current.id, encoded, version, current.created_ms, now, expires, current.owner
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
        encoded = kept(encode_data({} if data is None else data, self.limits))
        session_id = new_id(self.limits) if id is None else check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = self._default_ttl_ms if ttl is None else ttl_to_ms(ttl, self.limits)

        try:  # first attempt inline: see _attempt
            return self._attempt(_WRITE, self._create, session_id, encoded, ttl_ms, owner)
        except _Busy:
            return await self._write(self._create, session_id, encoded, ttl_ms, owner)

    def _create(
        self,
        db: sqlite3.Cursor,
        now: int,
        id: str,
        encoded: bytes,
        ttl_ms: int | None,
        owner: str | None,
    ) -> Session:
        # Any live row, whoever owns it (CREATE-3); no Record: its fields go straight into
        # the INSERT and the Session.
        if db.execute(self._sql_fetch, (id, now)).fetchone() is not None:
            raise SessionExists(f"a live session with id {short_id(id)} exists")
        expires = None if ttl_ms is None else now + ttl_ms
        db.execute(self._sql_insert, (id, encoded, 1, now, now, expires, owner))
        return Session.from_json_ms(id, encoded, 1, now, now, expires, owner)

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        db = self._db
        if db is None:
            raise StoreUnavailable("the store is closed")
        # The hottest call, so its common case is written out here rather than through
        # _attempt (two frames less, ~4% of a get); any error (busy, closed meanwhile,
        # I/O) sends it down the general path, which retries or explains.
        try:
            with self._lock:
                row = db.execute(self._sql_fetch, (id, self._now())).fetchone()
        except sqlite3.Error:
            row = await self._read(self._get_row, id)
        if row is None or not visible(row[5], owner):
            return None
        data, version, created_ms, updated_ms, expires_ms, stored_owner = row
        return Session.from_ms(
            id, decode_data(data, id), version, created_ms, updated_ms, expires_ms, stored_owner
        )

    def _get_row(self, db: sqlite3.Cursor, now: int, id: str) -> Any:
        return db.execute(self._sql_fetch, (id, now)).fetchone()

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
        encoded = kept(encode_data(data, self.limits))
        check_version(expected_version)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)

        try:  # first attempt inline: see _attempt
            return self._attempt(
                _WRITE, self._replace, id, encoded, expected_version, ttl_ms, owner
            )
        except _Busy:
            return await self._write(self._replace, id, encoded, expected_version, ttl_ms, owner)

    def _replace(
        self,
        db: sqlite3.Cursor,
        now: int,
        id: str,
        encoded: bytes,
        expected_version: int | None,
        ttl_ms: int | None,
        owner: str | None,
    ) -> Session:
        current = self._require(db, now, id, owner)
        current.check_version(expected_version)
        return self._rewrite(db, now, current, encoded, ttl_ms)

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        try:  # first attempt inline: see _attempt
            return self._attempt(_WRITE, self._update, id, fn, ttl_ms, owner)
        except _Busy:
            return await self._write(self._update, id, fn, ttl_ms, owner)

    def _update(
        self,
        db: sqlite3.Cursor,
        now: int,
        id: str,
        fn: Updater,
        ttl_ms: int | None,
        owner: str | None,
    ) -> Session:
        current = self._require(db, now, id, owner)
        encoded = kept(encode_data(fn(decode_data(current.data, id)), self.limits))
        return self._rewrite(db, now, current, encoded, ttl_ms)

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = ttl_to_ms(ttl, self.limits)

        try:  # first attempt inline: see _attempt
            return self._attempt(_WRITE, self._touch, id, ttl_ms, owner)
        except _Busy:
            return await self._write(self._touch, id, ttl_ms, owner)

    def _touch(
        self, db: sqlite3.Cursor, now: int, id: str, ttl_ms: int, owner: str | None
    ) -> Session:
        # The row itself, not _require's Record: three frames less on the call a server
        # makes on every request to slide a session's expiry (docs/sqlite.md, "Speed").
        row = db.execute(self._sql_fetch, (id, now)).fetchone()
        if row is None or not visible(row[5], owner):
            raise SessionNotFound(f"no live session with id {short_id(id)}")
        data = decode_data(row[0], id)  # ERR-3 before any change (ERR-2): raise, roll back
        expires = now + ttl_ms
        db.execute(self._sql_touch, (expires, id))
        _, version, created_ms, updated_ms, _, stored_owner = row
        return Session.from_ms(id, data, version, created_ms, updated_ms, expires, stored_owner)

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        try:  # first attempt inline: see _attempt
            return self._attempt(_WRITE, self._delete, id, expected_version, owner)
        except _Busy:
            return await self._write(self._delete, id, expected_version, owner)

    def _delete(
        self, db: sqlite3.Cursor, now: int, id: str, expected_version: int | None, owner: str | None
    ) -> bool:
        current = self._fetch(db, now, id, owner)
        if current is None:
            return False
        current.check_version(expected_version)
        db.execute(self._sql_delete, (id,))
        return True

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        check_limit(limit, self.limits)
        if cursor is not None:
            check_id(cursor, self.limits)

        def work(db: sqlite3.Cursor, now: int) -> list[Record]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM {self._table} WHERE id > ? AND {_LIVE} "
                "ORDER BY id LIMIT ?",
                ("" if cursor is None else cursor, now, limit + 1),
            ).fetchall()
            return list(map(as_record, rows))

        records = await self._read(work)
        more = len(records) > limit
        page = records[:limit]
        return Page(await sessions_of(page), page[-1].id if more else None)

    async def count(self) -> int:
        """COUNT-1: the rows stored (a counter the schema's triggers keep) less the
        expired ones not yet purged (a range of the expiry index), in one statement, so
        one snapshot. On the event loop while that range is short, as it is when expired
        rows are purged; in a thread otherwise, as its cost follows the range's length
        (the thread's hop alone took 0.15-0.3 ms, 20x the statement)."""
        stored, expired = await self._read(self._bounded_counts)
        if stored is None or expired >= COUNT_INLINE_EXPIRED:
            stored, expired = await self._stored_and_expired()
        return int(stored) - int(expired)

    def _bounded_counts(self, db: sqlite3.Cursor, now: int) -> tuple[int | None, int]:
        counts: tuple[int | None, int] = db.execute(
            self._sql_counts_bounded, (self.namespace, now, COUNT_INLINE_EXPIRED)
        ).fetchone()
        return counts

    async def _stored_and_expired(self) -> tuple[int, int]:
        def work(db: sqlite3.Cursor, now: int) -> tuple[int, int]:
            stored, expired = db.execute(self._sql_counts, (self.namespace, now)).fetchone()
            return int(stored), int(expired)

        async with self._side() as conn:
            result: tuple[int, int] = await self._aside(conn, None, work)
            return result

    async def purge_expired(self) -> int:
        """Delete expired rows in short transactions of PURGE_BATCH rows, letting other
        writers in between them: a purge of 100,000 rows would otherwise hold the write
        lock for seconds. In a thread, with the checkpoints its commits trigger."""

        def batch(db: sqlite3.Cursor, now: int) -> int:
            return db.execute(
                f"DELETE FROM {self._table} WHERE id IN (SELECT id FROM {self._table} "
                "WHERE expires_ms <= ? LIMIT ?)",
                (now, PURGE_BATCH),
            ).rowcount

        removed = 0
        async with self._side() as conn:
            while True:
                done = await self._aside(conn, _WRITE, batch)
                removed += done
                if done < PURGE_BATCH:
                    return removed

    async def export(self) -> ExportDocument:
        async with self._snapshot(1000) as (now, batches):
            return await export_document(now, batches)

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        """EXPORT-2: the export document in pieces, read in one snapshot (a read
        transaction on a connection of its own, so the store's other calls go on)."""
        async with self._snapshot(chunk_size) as (now, batches):
            async for piece in chunked_document(now, batches):
                yield piece

    @contextlib.asynccontextmanager
    async def _snapshot(self, chunk_size: int) -> AsyncIterator[tuple[int, AsyncIterator[_Batch]]]:
        """The live sessions at one instant (EXPORT-1): a read transaction on a side
        connection, read ``chunk_size`` rows at a time in a worker thread."""
        async with self._side() as conn:

            def start(db: sqlite3.Cursor, now: int) -> tuple[int, sqlite3.Cursor]:
                db.execute("BEGIN")
                sql = f"SELECT {_COLUMNS} FROM {self._table} WHERE {_LIVE} ORDER BY id"
                return now, db.execute(sql, (now,))

            async def batches() -> AsyncIterator[_Batch]:
                try:
                    # Rows are plain tuples in Record's order (_COLUMNS), read as they
                    # are: no object for the garbage collector to walk.
                    while rows := await asyncio.to_thread(cursor.fetchmany, chunk_size):
                        yield rows
                except sqlite3.Error as exc:
                    raise self._translate(exc) from exc

            now, cursor = await self._aside(conn, None, start)
            try:
                yield now, batches()
            finally:
                _roll_back(conn)  # the end of the read transaction

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        check_on_conflict(on_conflict)
        if isinstance(doc, (str, bytes)):  # one path for JSON text: the streamed one
            return await self.import_chunks(text_chunks(doc), on_conflict=on_conflict)
        records = await document_records(doc, self.limits)
        return await self._import(on_conflict, lambda staging: staging.add(records))

    async def import_chunks(
        self, chunks: Chunks, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        """IMPORT-7: import_ of the JSON text that ``chunks`` join into, read as it comes;
        the validated records wait in a temporary table, not in memory."""
        check_on_conflict(on_conflict)
        return await self._import(
            on_conflict, lambda staging: read_export(chunks, staging, self.limits)
        )

    async def _import(
        self, on_conflict: OnConflict, fill: Callable[[_Staging], Awaitable[None]]
    ) -> ImportReport:
        """Stage the records with ``fill``, then apply them in one transaction: the write
        lock is held only for that, not while the document is read."""
        async with self._side() as conn:
            run = functools.partial(self._aside, conn)
            staging = _Staging(run, self._table)
            await run(None, staging.create)
            try:
                await fill(staging)
                report: ImportReport = await run(_WRITE, staging.apply, on_conflict)
                return report
            finally:
                with contextlib.suppress(StoreUnavailable):
                    await run(None, staging.drop)

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = self._db = None
            for spare in self._spares:
                spare.close()
            self._spares.clear()

    async def stats(self) -> dict[str, Any]:
        """For operators: rows held (live or not yet purged), and the file's size."""

        stored, expired = await self._stored_and_expired()
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

    async def disconnect_for_testing(self) -> None:
        """Lose the connection under the store, as when its file system goes away: every
        call after this must raise StoreUnavailable, not sqlite3's own error (ERR-4)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()  # the store keeps its handle: it finds out on use

    async def corrupt_for_testing(self, id: str) -> None:
        """Overwrite a session's stored bytes with something that is not JSON."""

        def work(db: sqlite3.Cursor, now: int) -> None:
            db.execute(f"UPDATE {self._table} SET data = x'ff7b' WHERE id = ?", (id,))

        await self._write(work)
