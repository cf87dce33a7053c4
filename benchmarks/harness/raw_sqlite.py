"""The SQLite store's raw engine: ``sqlite3`` running the store's statements on the
store's schema with the store's pragmas, and nothing else.

The schema and the pragmas are read at run time, not copied: :func:`open_like_store`
has our SQLiteStore create the database file (table, indexes, meta table, WAL), reads
the pragmas from the store's connection, closes the store and connects plainly to the
same file. The statements are the store's, written out in :data:`SQL` — the one place
to update when sqlite.py changes what it runs. Each write is one ``BEGIN IMMEDIATE``
transaction that reads the current row first, as the store's do; reads decode the data
(a private copy); writes encode and size-check it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

from sessionstore.backends._sqlite_schema import (
    COLUMNS,
    ON_ID_CONFLICT_REPLACE,
    stored_and_expired_sql,
)
from sessionstore.backends.sqlite import SQLiteStore

from .raw_memory import _encode, _ms
from .subject import Data, Ids, Subject
from .workload import PAGE, TTL_S, bump

#: Pragmas set per connection (journal_mode=WAL lives in the file itself).
PRAGMAS = ("synchronous", "cache_size", "mmap_size", "temp_store")
#: Rows removed per purge transaction, as the store does.
PURGE_BATCH = 1000
LIVE = "(expires_ms IS NULL OR expires_ms > ?)"
#: The store's statements ({t}: its table), as sqlite.py runs them.
SQL = {
    "fetch": "SELECT data, version, created_ms, updated_ms, expires_ms, owner "
    f"FROM {{t}} WHERE id = ? AND {LIVE}",
    "insert": f"INSERT INTO {{t}} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    + ON_ID_CONFLICT_REPLACE,
    "rewrite": "UPDATE {t} SET data = ?, version = ?, updated_ms = ? WHERE id = ?",
    "touch": "UPDATE {t} SET expires_ms = ? WHERE id = ?",
    "delete": "DELETE FROM {t} WHERE id = ?",
    "list": f"SELECT {COLUMNS} FROM {{t}} WHERE id > ? AND {LIVE} ORDER BY id LIMIT ?",
    "count": "",  # stored_and_expired_sql(table): the counter and the expired range
    "purge": "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_ms <= ? LIMIT ?)",
    "export": f"SELECT {COLUMNS} FROM {{t}} WHERE {LIVE} ORDER BY id",
}


def _now() -> int:
    return time.time_ns() // 1_000_000


async def open_like_store(path: Path) -> tuple[sqlite3.Connection, str]:
    """A plain connection to a database file our store created, with the store's pragmas,
    and the (quoted) name of its table."""
    store = await SQLiteStore(path).open()
    try:
        conn = getattr(store, "_conn", None)  # the store's settings, read, not copied
        pragmas = {p: conn.execute(f"PRAGMA {p}").fetchone()[0] for p in PRAGMAS} if conn else {}
        table = f'"{store.namespace}"'
    finally:
        await store.close()
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma, value in pragmas.items():
        raw.execute(f"PRAGMA {pragma}={value}")
    return raw, table


class RawSQLite(Subject):
    name = "raw:sqlite"
    kind = "raw"
    engine = "sqlite"

    async def open(self, workdir: Path) -> None:
        self.conn, table = await open_like_store(workdir / "raw.db")
        self.db = self.conn.cursor()
        self.sql = {name: text.format(t=table) for name, text in SQL.items()}
        self.table = table.strip('"')
        self.sql["count"] = stored_and_expired_sql(self.table)

    async def close(self) -> None:
        self.conn.close()

    def _write(self, id: str) -> tuple[Any, ...]:
        """BEGIN IMMEDIATE and the live row of ``id`` (the caller commits)."""
        self.db.execute("BEGIN IMMEDIATE")
        row = self.db.execute(self.sql["fetch"], (id, _now())).fetchone()
        if row is None:
            self.db.execute("ROLLBACK")
            raise KeyError(id)
        return tuple(row)

    async def load(self, document: bytes) -> None:
        rows = [
            (s["id"], _encode(s["data"]), s["version"], _ms(s["created_at"]),
             _ms(s["updated_at"]), _ms(s["expires_at"]), s["owner"])
            for s in orjson.loads(document)["sessions"]
        ]  # fmt: skip
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(self.sql["insert"], rows)
        self.db.execute("COMMIT")

    async def create(self, id: str, data: Data) -> None:
        encoded = _encode(data)
        self.db.execute("BEGIN IMMEDIATE")
        now = _now()
        if self.db.execute(self.sql["fetch"], (id, now)).fetchone() is not None:
            self.db.execute("ROLLBACK")
            raise KeyError(f"{id} exists")
        self.db.execute(self.sql["insert"], (id, encoded, 1, now, now, now + TTL_S * 1000, None))
        self.db.execute("COMMIT")

    async def get(self, id: str) -> Any:
        row = self.db.execute(self.sql["fetch"], (id, _now())).fetchone()
        return None if row is None else orjson.loads(row[0])

    async def replace(self, id: str, data: Data) -> None:
        encoded = _encode(data)
        version = self._write(id)[1]
        self.db.execute(self.sql["rewrite"], (encoded, version + 1, _now(), id))
        self.db.execute("COMMIT")

    async def update(self, id: str) -> None:
        data, version = self._write(id)[:2]
        encoded = _encode(bump(orjson.loads(data)))
        self.db.execute(self.sql["rewrite"], (encoded, version + 1, _now(), id))
        self.db.execute("COMMIT")

    async def touch(self, id: str) -> Any:
        data = orjson.loads(self._write(id)[0])  # touch returns the session, data included
        self.db.execute(self.sql["touch"], (_now() + TTL_S * 1000, id))
        self.db.execute("COMMIT")
        return data

    async def delete(self, id: str) -> None:
        self._write(id)
        self.db.execute(self.sql["delete"], (id,))
        self.db.execute("COMMIT")

    async def list(self, cursor: str) -> Any:
        rows = self.db.execute(self.sql["list"], (cursor, _now(), PAGE + 1)).fetchall()
        return [(row[0], orjson.loads(row[1])) for row in rows[:PAGE]]

    async def count(self) -> int:
        total, expired = self.db.execute(self.sql["count"], (self.table, _now())).fetchone()
        return int(total - expired)

    async def expire(self, ids: Ids) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(self.sql["touch"], [(0, id) for id in ids])
        self.db.execute("COMMIT")

    async def purge(self) -> None:
        while True:
            self.db.execute("BEGIN IMMEDIATE")
            done = self.db.execute(self.sql["purge"], (_now(), PURGE_BATCH)).rowcount
            self.db.execute("COMMIT")
            if done < PURGE_BATCH:
                return

    async def export(self) -> bytes:
        rows = self.db.execute(self.sql["export"], (_now(),)).fetchall()
        sessions = [
            {"id": r[0], "data": orjson.Fragment(r[1]), "version": r[2], "created_ms": r[3],
             "updated_ms": r[4], "expires_ms": r[5], "owner": r[6]}
            for r in rows
        ]  # fmt: skip
        return orjson.dumps({"sessions": sessions})
