"""The SQLite store's tables, and the migrations that bring a file up to date.

``sessionstore_meta`` records each namespace's schema version; opening a file applies,
in one ``BEGIN IMMEDIATE`` transaction, the steps of :data:`MIGRATIONS` it lacks. A new
namespace runs every step from 1 (step 1 on an empty table costs nothing), so the
version-1 DDL stays here exactly as version 1 wrote it: it is what a migration finds in
files made before version 2.

Version 1: a ``WITHOUT ROWID`` table keyed by id, and a partial index on ``expires_ms``
(PURGE-2). Its leaf cells hold at most ~1,000 bytes on 4 KiB pages, so a session of
1 KiB spilled into an overflow page of its own: 4.7 KB of file per 1 KiB session.

Version 2 (issue 15):

* **A rowid table**, whose cells hold up to ~4,060 bytes: a 1 KiB session fits in its
  leaf page. The id's uniqueness comes from an index (``id TEXT PRIMARY KEY`` on a rowid
  table), which a point operation reads before the row.
* **data is the last column**, so when a large session spills into overflow pages the
  small columns stay in the leaf: checking expiry or changing ``expires_ms`` (touch)
  does not read or rewrite the overflow chain.
* **A row counter**: ``sessionstore_counts`` holds each namespace's number of stored
  rows, kept by triggers on insert and delete, so it changes in the same transaction as
  the rows, whoever writes them (any connection, any process, import, purge). ``count``
  is then that number less the expired rows not yet purged, counted over the expiry
  index: O(expired and unpurged), not O(stored) (COUNT-1 at the store's now, LIVE-2).
  The store's writes never use ``INSERT OR REPLACE``: the rows its REPLACE deletes fire
  delete triggers only when ``recursive_triggers`` is on, so an upsert keeps the
  counter exact on every SQLite build.

**Pages of 1 KiB** for a new file (SQLite's default is 4 KiB; a file keeps the page size
it was made with). A leaf page holds whole cells, and a row stays in its leaf up to the
page size less 35 bytes: on 4 KiB pages a 2 KiB session took a page to itself (2.0x its
size in the file, and 1.6x at 2.5 KiB). On 1 KiB pages every session over ~1 KiB spills
into overflow pages that it fills, so a session of 1 to 64 KiB takes at most ~1.4x its
size (benchmarks/bench_sqlite.py, part size). The price: a session of 64 KiB is written
to 65 pages instead of 17, and creating one took about twice as long.

The version-2 step rebuilds the table (copy, drop, rename): it takes time in proportion
to the sessions stored, once, and leaves the old table's pages free inside the file for
new rows to reuse; ``VACUUM`` returns them to the file system.
"""

from __future__ import annotations

SCHEMA_VERSION = 2
#: For new files only: see above. An existing file keeps its pages until an operator
#: rebuilds it (journal_mode=DELETE, page_size, VACUUM, journal_mode=WAL).
PAGE_SIZE = 1024

#: The columns, in the order rows are read (Record's order).
COLUMNS = "id, data, version, created_ms, updated_ms, expires_ms, owner"

#: One list of statements per schema version, formatted with ``table=`` the namespace
#: (a validated name of a-z, 0-9 and underscores, safe in quotes).
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
    2: [
        """CREATE TABLE "{table}__v2" (
            id TEXT PRIMARY KEY NOT NULL,
            version INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            expires_ms INTEGER,
            owner TEXT,
            data BLOB NOT NULL
        )""",
        # In id order: the id index is then appended to, not split page by page.
        f'INSERT INTO "{{table}}__v2" ({COLUMNS}) SELECT {COLUMNS} FROM "{{table}}" ORDER BY id',
        'DROP TABLE "{table}"',  # and its expiry index
        'ALTER TABLE "{table}__v2" RENAME TO "{table}"',
        'CREATE INDEX "{table}__expires" ON "{table}" (expires_ms) WHERE expires_ms IS NOT NULL',
        "CREATE TABLE IF NOT EXISTS sessionstore_counts "
        "(namespace TEXT PRIMARY KEY NOT NULL, stored INTEGER NOT NULL)",
        "INSERT OR REPLACE INTO sessionstore_counts "
        """VALUES ('{table}', (SELECT count(*) FROM "{table}"))""",
        """CREATE TRIGGER "{table}__inserted" AFTER INSERT ON "{table}" BEGIN
            UPDATE sessionstore_counts SET stored = stored + 1 WHERE namespace = '{table}';
        END""",
        """CREATE TRIGGER "{table}__deleted" AFTER DELETE ON "{table}" BEGIN
            UPDATE sessionstore_counts SET stored = stored - 1 WHERE namespace = '{table}';
        END""",
    ],
}

#: Objects a namespace creates beside its table: a file holding one of them under a
#: namespace that sessionstore_meta does not know is someone else's.
OWN_OBJECTS = ("{table}__expires", "{table}__v2", "{table}__inserted", "{table}__deleted")


def stored_and_expired_sql(table: str) -> str:
    """One statement, so one snapshot: the rows stored and the expired ones not yet
    purged (the expiry index's range up to now). Parameters: namespace, now. Should the
    counter's row be gone (removed by hand), the rows are counted instead: slowly, but
    right (coalesce evaluates its second argument only when the first is NULL)."""
    return (
        "SELECT coalesce((SELECT stored FROM sessionstore_counts WHERE namespace = ?), "
        f'(SELECT count(*) FROM "{table}")), '
        f'(SELECT count(*) FROM "{table}" WHERE expires_ms <= ?)'
    )


def bounded_counts_sql(table: str) -> str:
    """:func:`stored_and_expired_sql` for the common case, cheap enough to run on the event
    loop: the counter's row as it is (NULL when gone) and the expired rows counted up to a
    bound. Parameters: namespace, now, bound."""
    return (
        "SELECT (SELECT stored FROM sessionstore_counts WHERE namespace = ?), "
        f'(SELECT count(*) FROM (SELECT 1 FROM "{table}" WHERE expires_ms <= ? LIMIT ?))'
    )


#: Appended to an INSERT of COLUMNS: a row with the same id (expired, or replaced by an
#: import) is overwritten in place. Unlike INSERT OR REPLACE, it deletes no row, so the
#: counter's triggers see what happened on every build (see above).
ON_ID_CONFLICT_REPLACE = "ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in COLUMNS.split(", ")[1:]
)
