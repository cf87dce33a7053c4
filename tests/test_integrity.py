"""Issue 12, items 2 and 7: no export, backup or CLI output is ever invalid, a failed
backup leaves nothing behind, stored files are private, and full session ids stay out of
messages and logs.

Every store here is a real one: the memory store, a SQLite file and a throwaway Redis
server (tests/conftest.py). A corrupt row is made with the stores' ``corrupt_for_testing``
hook (ERR-3)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sessionstore import (
    CorruptSession,
    ImportRejected,
    Limits,
    SessionExists,
    SessionNotFound,
    SessionService,
    SessionStore,
    VersionConflict,
    open_store,
)
from sessionstore.backends.memory import MemoryStore
from sessionstore.cli import main as cli
from sessionstore.export import parse_export
from sessionstore.transfer import write_export

pytestmark = pytest.mark.anyio

BACKENDS = ["memory", "sqlite", "redis"]


def secret_id() -> str:
    """An id as long and random as the stores' own, so that a leak is unmistakable."""
    return secrets.token_urlsafe(24)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sessions.db'}"
    else:
        redis_url = request.getfixturevalue("redis_url")
        url = f"{redis_url}?namespace=integrity_{secrets.token_hex(4)}"
    async with open_store(url) as opened:
        yield opened


async def corrupt_one(store: SessionStore) -> str:
    """A store holding two good sessions and, between them, one corrupt: its id."""
    await store.create({"good": 1}, id="a" + secret_id())
    bad = "m" + secret_id()
    await store.create({"soon": "corrupt"}, id=bad)
    await store.create({"good": 2}, id="z" + secret_id())
    await store.corrupt_for_testing(bad)  # type: ignore[attr-defined]
    return bad


def named_briefly(message: str, session_id: str) -> bool:
    """The message names the session by a short prefix, never by its whole id."""
    return session_id[:6] in message and session_id not in message


# --- item 2: exports refuse corrupt rows (ERR-3, EXPORT-3) ----------------------------------


async def test_export_raises_corrupt_session_naming_the_row(store: SessionStore) -> None:
    bad = await corrupt_one(store)
    with pytest.raises(CorruptSession) as raised:
        await store.export()
    assert named_briefly(str(raised.value), bad)


async def test_a_streamed_export_never_completes_a_document_with_a_corrupt_row(
    store: SessionStore, tmp_path: Path
) -> None:
    bad = await corrupt_one(store)
    with (tmp_path / "out.json").open("wb") as out, pytest.raises(CorruptSession) as raised:
        await write_export(store, out)
    assert named_briefly(str(raised.value), bad)


async def test_data_that_decodes_to_no_object_is_corrupt_in_an_export(tmp_path: Path) -> None:
    """Valid JSON that is not an object is no session's data (ERR-3): a row holding
    ``[1]`` must not reach a document whose schema wants an object there."""
    import sqlite3

    path = tmp_path / "s.db"
    async with open_store(f"sqlite:///{path}") as store:
        made = await store.create({"a": 1})
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute('UPDATE "sessions" SET data = ? WHERE id = ?', (b"[1]", made.id))
        conn.close()
        with pytest.raises(CorruptSession):
            await write_export(store, (tmp_path / "o.json").open("wb"))


async def test_data_kept_as_sqlite_text_exports_like_a_blob(tmp_path: Path) -> None:
    """A row whose data is TEXT (a file written by hand or by another tool) reads fine
    with get; the streamed export must not fail on it with a TypeError either."""
    import sqlite3

    path = tmp_path / "s.db"
    async with open_store(f"sqlite:///{path}") as store:
        made = await store.create({"a": 1})
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute('UPDATE "sessions" SET data = ? WHERE id = ?', ('{"a": 2}', made.id))
        conn.close()
        with (tmp_path / "o.json").open("wb") as out:
            await write_export(store, out)
    (record,) = parse_export((tmp_path / "o.json").read_bytes())
    assert record.data == b'{"a":2}'


async def test_a_corrupt_row_keeps_the_previous_backup(
    store: SessionStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backup = tmp_path / "backups" / "backup.json"
    service = SessionService(store, backup_path=backup)
    await store.create({"kept": True}, id="k" + secret_id())
    assert await service.backup()
    good = backup.read_bytes()
    bad = await corrupt_one(store)
    caplog.set_level(logging.INFO, logger="sessionstore.service")
    assert await service.backup() is False
    assert backup.read_bytes() == good
    json.loads(good)  # still the valid document it was
    assert [p.name for p in backup.parent.iterdir()] == ["backup.json"]  # no temp file left
    failed = [r for r in caplog.records if getattr(r, "event", "") == "backup_failed"]
    assert len(failed) == 1 and named_briefly(failed[0].getMessage(), bad)


async def test_a_backup_that_hits_a_bug_is_logged_and_the_schedule_lives_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only store errors: an export that raises anything (here TypeError, as a lone
    surrogate once did) is a failed backup, logged with its traceback and retried; the
    backup task does not die silently and stop() does not raise."""

    class Buggy(MemoryStore):
        async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
            yield b"{"
            raise TypeError("a bug in the export")

    caplog.set_level(logging.INFO, logger="sessionstore.service")
    service = SessionService(
        Buggy(), backup_path=tmp_path / "b.json", backup_interval=0.01, retry_interval=0.01
    )
    await service.start()
    await asyncio.sleep(0.1)
    assert all(not task.done() for task in service._tasks)
    await service.stop()
    failed = [r for r in caplog.records if getattr(r, "event", "") == "backup_failed"]
    assert len(failed) >= 3 and failed[0].exc_info is not None
    assert os.listdir(tmp_path) == []


def test_the_cli_export_refuses_a_corrupt_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    url = f"sqlite:///{path}"

    async def fill() -> str:
        async with open_store(url) as store:
            return await corrupt_one(store)

    bad = asyncio.run(fill())
    out = tmp_path / "export.json"
    out.write_bytes(b'{"an":"earlier export"}')
    result = CliRunner().invoke(cli, ["export", "--store", url, "-o", str(out)])
    assert result.exit_code == 1
    assert "is corrupt" in result.output
    assert named_briefly(result.output, bad)
    assert out.read_bytes() == b'{"an":"earlier export"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "s.db"]
    # on stdout, what was written cannot be taken back: the exit status says it failed
    streamed = CliRunner().invoke(cli, ["export", "--store", url])
    assert streamed.exit_code == 1
    assert named_briefly(streamed.stderr, bad)


@pytest.mark.parametrize(
    "beyond",
    [
        {"max_id_length": 129},
        {"max_owner_length": 257},
        {"max_ttl": timedelta(days=365_001)},
        {"max_depth": 0},
        {"min_ttl": timedelta(0)},
    ],
    ids=str,
)
def test_limits_that_would_accept_what_no_export_holds_are_refused(beyond: dict[str, Any]) -> None:
    """A store with these limits would accept a session whose export is invalid (an id
    or owner longer than the schema allows, an expiry in a five-digit year) or nothing."""
    with pytest.raises(ValueError, match=next(iter(beyond)).split("_", 1)[0]):
        Limits(**beyond)


async def test_the_longest_ttl_a_store_may_allow_still_exports() -> None:
    async with MemoryStore(limits=Limits(max_ttl=timedelta(days=365_000))) as store:
        await store.create({}, ttl=timedelta(days=365_000))
        assert parse_export((await store.export()).to_json())[0].expires_ms is not None


# --- item 2: a backup that fails on a full disk leaves nothing behind -------------------------

FULL_DISK = """
import asyncio, os, resource, signal, sys
from sessionstore import SessionService, open_store

async def main(folder, sessions):
    async with open_store("memory://") as store:
        for i in range(sessions):
            await store.create({"pad": "x" * 500})
        service = SessionService(store, backup_path=os.path.join(folder, "b.json"))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))  # disk full
        print(await service.backup(), await service.backup())

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.parametrize("sessions", [3, 300], ids=["buffered", "streamed"])
def test_a_backup_failing_on_a_full_disk_leaves_no_file(tmp_path: Path, sessions: int) -> None:
    """Every write is refused by the kernel (RLIMIT_FSIZE 0: no byte fits, as on a full
    disk). A small document fails at the flush of the commit, a large one mid-export; a
    temp file left by either would pile up, one per try."""
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path), str(sessions)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
    assert list(tmp_path.iterdir()) == []


# --- item 7: private files -------------------------------------------------------------------


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


async def test_sqlite_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """The database and its -wal and -shm files are 0600 under umask 022, as the backup
    is; a file whose owner chose another mode keeps it."""
    old = os.umask(0o022)
    try:
        async with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
            await store.create({"a": 1})
            assert modes(tmp_path) == {"s.db": 0o600, "s.db-wal": 0o600, "s.db-shm": 0o600}
        shared = tmp_path / "shared"
        shared.mkdir()
        (shared / "s.db").touch(mode=0o640)
        async with open_store(f"sqlite:///{shared / 's.db'}") as store:
            await store.create({"a": 1})
            assert set(modes(shared).values()) == {0o640}
    finally:
        os.umask(old)


# --- item 7: short ids in messages ------------------------------------------------------------


async def test_error_messages_name_sessions_by_a_short_prefix(store: SessionStore) -> None:
    made = await store.create({"a": 1}, id=secret_id())
    missing = secret_id()
    calls: list[tuple[type[Exception], Any]] = [
        (SessionExists, lambda: store.create({}, id=made.id)),
        (SessionNotFound, lambda: store.touch(missing, 10)),
        (SessionNotFound, lambda: store.replace(missing, {})),
        (SessionNotFound, lambda: store.update(missing, lambda d: d)),
        (VersionConflict, lambda: store.replace(made.id, {}, expected_version=7)),
        (VersionConflict, lambda: store.delete(made.id, expected_version=7)),
    ]
    for kind, call in calls:
        with pytest.raises(kind) as raised:
            await call()
        text = str(raised.value)
        assert made.id not in text and missing not in text, text
        assert made.id[:6] in text or missing[:6] in text, text
    with pytest.raises(VersionConflict) as conflict:  # the fields are kept whole
        await store.replace(made.id, {}, expected_version=7)
    assert (conflict.value.expected, conflict.value.actual) == (7, 1)
    await store.corrupt_for_testing(made.id)  # type: ignore[attr-defined]
    for call in (lambda: store.get(made.id), lambda: store.touch(made.id, 10)):
        with pytest.raises(CorruptSession) as corrupt:
            await call()
        assert named_briefly(str(corrupt.value), made.id)


async def test_an_import_conflict_report_shows_no_live_id(store: SessionStore) -> None:
    live = [await store.create({"n": i}, id=secret_id()) for i in range(3)]
    doc = (await store.export()).to_json()
    with pytest.raises(ImportRejected) as raised:
        await store.import_(doc)
    text = str(raised.value) + " ".join(p.message for p in raised.value.problems)
    assert len(raised.value.problems) == 3
    for session in live:
        assert named_briefly(text, session.id)


def test_the_cli_conflict_report_shows_no_live_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    ids = [secret_id() for _ in range(3)]
    doc = tmp_path / "doc.json"

    async def fill() -> None:
        async with open_store(url) as store:
            for sid in ids:
                await store.create({}, id=sid)

    asyncio.run(fill())
    assert CliRunner().invoke(cli, ["export", "--store", url, "-o", str(doc)]).exit_code == 0
    result = CliRunner().invoke(cli, ["import", str(doc), "--store", url])
    assert result.exit_code == 1
    for sid in ids:
        assert named_briefly(result.output, sid), result.output
