"""How tests/data/sqlite_schema_v1.db was made: this script, run once with the store as
it was at commit 6973ab8 (schema version 1, the WITHOUT ROWID table), before version 2
existed. Run today, it would make a version-2 file; the committed file is the fixture.

    PYTHONPATH=reference python tests/data/make_sqlite_schema_v1.py tests/data/sqlite_schema_v1.db
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

from sessionstore.backends.sqlite import SQLiteStore

BASE_MS = 1_893_456_000_000  # 2030-01-01, the fixture's clock at its first write


class Clock:
    def __init__(self) -> None:
        self.ms = BASE_MS

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.ms / 1000, timezone.utc)


async def main(path: Path) -> None:
    clock = Clock()
    async with await SQLiteStore(path, clock=clock).open() as store:
        await store.create({"user": "ada", "n": 1}, id="forever")
        await store.create({"user": "bob", "n": 2}, id="hour", ttl=3600)
        await store.create({"big": "x" * 1500}, id="overflowing", ttl=86400)
        await store.create({"o": True}, id="owned", ttl=7200, owner="alice")
        await store.create({"soon": 1}, id="expires-at-10s", ttl=10)
        await store.create({"gone": 1}, id="expired-unpurged", ttl=1)
        clock.ms += 1500
        await store.replace("hour", {"user": "bob", "n": 3})  # version 2, updated later
        await store.create({"a": [1, 2.5, None, "é"]}, id="unicode")
    async with await SQLiteStore(path, clock=clock, namespace="other").open() as other:
        await other.create({"ns": "other"}, id="forever")
        await other.create({"ns": "other"}, id="t", ttl=60)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    conn.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
