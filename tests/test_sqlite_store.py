"""The SQLite store beyond the conformance kit (issue #3): URLs and the environment,
namespaces, the schema and its version, hostile files, read-only files, a full disk,
corrupt rows, lock waits that never block the event loop, two connections in one
process, the purge index, and close."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sessionstore import (
    ConfigurationError,
    CorruptSession,
    InvalidSession,
    StoreUnavailable,
    open_store,
)
from sessionstore.backends._sqlite_schema import SCHEMA_VERSION
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore_conformance import FakeClock

pytestmark = pytest.mark.anyio

ENV = ("TYPE", "PATH", "URL", "NAMESPACE", "DEFAULT_TTL")


def url_of(path: Path, query: str = "") -> str:
    """A SQLAlchemy-style URL of an absolute path: sqlite:////abs/file.db."""
    assert path.is_absolute()
    return f"sqlite:///{path}" + (f"?{query}" if query else "")


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A separate connection to the file, outside the store, closed afterwards."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def sqlite_store(store: object) -> SQLiteStore:
    assert isinstance(store, SQLiteStore)
    return store


def connection(store: object) -> sqlite3.Connection:
    conn = sqlite_store(store)._conn
    assert conn is not None
    return conn


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV:
        monkeypatch.delenv(f"SESSION_STORE_{name}", raising=False)
    return monkeypatch


# --- 1. URLs, the environment, namespaces, options ----------------------------------------


async def test_absolute_url_opens_a_durable_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    url = url_of(path)
    assert url.startswith("sqlite:////")
    async with open_store(url) as store:
        assert sqlite_store(store).path == path
        made = await store.create({"a": 1}, id="kept")
    assert path.is_file()
    async with open_store(url) as store:
        assert await store.get("kept") == made


async def test_environment_path_creates_parent_folders(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sub" / "dir" / "s.db"
    clean_env.setenv("SESSION_STORE_TYPE", "sqlite")
    clean_env.setenv("SESSION_STORE_PATH", str(path))
    async with open_store() as store:
        assert sqlite_store(store).path == path
        await store.create({"a": 1})
    assert path.is_file()
    async with open_store(url_of(path)) as store:
        assert await store.count() == 1


async def test_default_path_is_data_sessions_db_in_the_cwd(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("SESSION_STORE_TYPE", "sqlite")
    async with open_store() as store:
        expected = (tmp_path / "data" / "sessions.db").resolve()
        assert sqlite_store(store).path.resolve() == expected
        await store.create({"a": 1})
    assert expected.is_file()


async def test_namespaces_keep_applications_apart_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with (
        open_store(url_of(path, "namespace=app_a")) as a,
        open_store(url_of(path, "namespace=app_b")) as b,
    ):
        await a.create({"who": "a"}, id="same")
        await b.create({"who": "b"}, id="same")
        await a.create({"who": "a2"}, id="only_a")

        await a.update("same", lambda d: {**d, "n": 1})
        assert (await a.get("same")).data == {"who": "a", "n": 1}  # type: ignore[union-attr]
        got_b = await b.get("same")
        assert got_b is not None and got_b.data == {"who": "b"} and got_b.version == 1
        assert await b.get("only_a") is None
        assert await a.count() == 2
        assert await b.count() == 1

        assert await b.delete("same")
        assert await a.get("same") is not None
        assert await a.count() == 2
        assert await b.count() == 0
        assert [s.id for s in (await a.list()).sessions] == ["only_a", "same"]

    async with open_store(url_of(path)) as default:
        assert await default.count() == 0  # the default namespace is a third one
    with raw(path) as conn:
        meta = dict(conn.execute("SELECT namespace, schema_version FROM sessionstore_meta"))
    assert meta == {"app_a": SCHEMA_VERSION, "app_b": SCHEMA_VERSION, "sessions": SCHEMA_VERSION}


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("namespace=1abc", "namespace"),
        ("namespace=a-b", "namespace"),
        ("namespace=a%22b", "namespace"),
        ("namespace=", "namespace"),
        ("namespace=" + "x" * 64, "namespace"),
        ("namespace=sessionstore_meta", "namespace"),
        ("journal=delete", "unknown store URL option"),
        ("synchronous=off", "synchronous"),
        ("lock_timeout=soon", "lock_timeout"),
        ("lock_timeout=nan", "lock_timeout"),  # a wait behind a held lock that never ends
        ("lock_timeout=inf", "lock_timeout"),
        ("lock_timeout=-5", "lock_timeout"),
        ("lock_timeout=1e999", "lock_timeout"),
        ("cache_mb=lots", "cache_mb"),
        ("mmap_mb=-1", "mmap_mb"),
    ],
)
async def test_bad_url_options_are_refused(tmp_path: Path, query: str, needle: str) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(ConfigurationError) as caught:
        async with open_store(url_of(path, query)):
            pass
    assert needle in str(caught.value)
    assert not path.exists()  # refused before anything was created


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/x.db"])
async def test_sqlite_url_without_a_path_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="needs a file"):
        async with open_store(url):
            pass


async def test_a_fragment_in_the_url_is_refused_not_cut_off(tmp_path: Path) -> None:
    """sqlite:////dir/h#x.db opened /dir/h: urlsplit reads "#x.db" as a fragment."""
    with pytest.raises(ConfigurationError, match="%23"):
        async with open_store(f"sqlite:///{tmp_path}/h#x.db"):
            pass
    assert os.listdir(tmp_path) == []
    async with open_store(f"sqlite:///{tmp_path}/h%23x.db") as store:
        await store.create({})
    assert "h#x.db" in os.listdir(tmp_path)


async def test_an_empty_path_in_the_environment_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    """An empty SESSION_STORE_PATH is a mistake, not a request for ./data/sessions.db."""
    clean_env.setenv("SESSION_STORE_TYPE", "sqlite")
    clean_env.setenv("SESSION_STORE_PATH", "")
    with pytest.raises(ConfigurationError, match="SESSION_STORE_PATH"):
        async with open_store():
            pass


async def test_synchronous_and_journal_mode(tmp_path: Path) -> None:
    async with open_store(url_of(tmp_path / "n.db")) as store:
        conn = connection(store)
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    async with open_store(url_of(tmp_path / "f.db", "synchronous=full")) as store:
        conn = connection(store)
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "synchronous=full" in sqlite_store(store).url
    with raw(tmp_path / "f.db") as conn:  # WAL is persistent in the file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_page_cache_and_mmap_sizes(tmp_path: Path) -> None:
    async with open_store(url_of(tmp_path / "d.db")) as store:
        conn = connection(store)
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -64 * 1024  # KiB
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] == 256 * 1024 * 1024
        assert "cache_mb" not in sqlite_store(store).url
    async with open_store(url_of(tmp_path / "s.db", "cache_mb=8&mmap_mb=0")) as store:
        conn = connection(store)
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -8 * 1024
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] == 0
        assert sqlite_store(store).url.endswith("&cache_mb=8&mmap_mb=0")  # reopens alike


# --- 2. Schema, versions, files that are not ours ------------------------------------------


async def test_meta_records_schema_version_and_the_index_exists(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with open_store(url_of(path, "namespace=app")):
        pass
    with raw(path) as conn:
        meta = conn.execute("SELECT namespace, schema_version FROM sessionstore_meta").fetchall()
        indexes = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'app'"
            )
        }
    assert meta == [("app", SCHEMA_VERSION)]
    assert "app__expires" in indexes


async def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with open_store(url_of(path)) as store:
        await store.create({"a": 1}, id="kept")
    with raw(path) as conn:
        conn.execute("UPDATE sessionstore_meta SET schema_version = 99")
    with pytest.raises(StoreUnavailable, match="newer"):
        async with open_store(url_of(path)):
            pass
    with raw(path) as conn:
        assert conn.execute("SELECT schema_version FROM sessionstore_meta").fetchall() == [(99,)]
        assert conn.execute('SELECT id FROM "sessions"').fetchall() == [("kept",)]


@pytest.mark.parametrize("namespace", ["sessions", "app"])
async def test_foreign_table_with_the_namespace_name_is_refused(
    tmp_path: Path, namespace: str
) -> None:
    path = tmp_path / "other.db"
    with raw(path) as conn:
        conn.execute(f'CREATE TABLE "{namespace}" (name TEXT, price REAL)')
        conn.execute(f'INSERT INTO "{namespace}" VALUES (?, ?)', ("tea", 2.5))
    with pytest.raises(StoreUnavailable) as caught:
        async with open_store(url_of(path, f"namespace={namespace}")):
            pass
    assert namespace in str(caught.value) and "not a sessionstore table" in str(caught.value)
    with raw(path) as conn:
        assert conn.execute(f'SELECT * FROM "{namespace}"').fetchall() == [("tea", 2.5)]
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == {namespace}  # nothing of ours was left behind
    assert mode == "delete"  # not even switched to WAL


@pytest.mark.parametrize("kind", ["random", "text"])
async def test_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "notes.db"
    content = (
        os.urandom(4096)
        if kind == "random"
        else (b"these are my notes, not a database\n" * 200)[:4096]
    )
    path.write_bytes(content)
    with pytest.raises(StoreUnavailable) as caught:
        async with open_store(url_of(path)):
            pass
    assert str(path) in str(caught.value)
    assert "not an SQLite database" in str(caught.value)
    assert path.read_bytes() == content


# --- 3. Read-only files ---------------------------------------------------------------------

# Root ignores file permissions through CAP_DAC_OVERRIDE (and CAP_DAC_READ_SEARCH). The child
# below stays uid 0 but runs without those capabilities (dropped from the bounding set before
# exec), so a 0o444 file really is read-only for it, exactly as for an ordinary user.
READ_ONLY_CHILD = r"""
import asyncio, json, os, sys
from sessionstore.backends._sqlite_schema import SCHEMA_VERSION
from sessionstore.backends.sqlite import SQLiteStore

def outcome(exc):
    return f"{type(exc).__name__}: {exc}"

async def main(path):
    out = {"writable": os.access(path, os.W_OK)}
    try:
        store = await SQLiteStore(path).open()
    except Exception as exc:
        out["open"] = outcome(exc)
        print(json.dumps(out))
        return
    try:
        out["get"] = (await store.get("kept")).data
        out["count"] = await store.count()
        out["list"] = [s.id for s in (await store.list()).sessions]
        writes = {
            "create": lambda: store.create({"b": 2}),
            "update": lambda: store.update("kept", lambda d: {**d, "n": 1}),
            "replace": lambda: store.replace("kept", {"c": 3}),
            "touch": lambda: store.touch("kept", 60),
            "delete": lambda: store.delete("kept"),
        }
        out["writes"] = {}
        for name, call in writes.items():
            try:
                await call()
            except Exception as exc:
                out["writes"][name] = outcome(exc)
            else:
                out["writes"][name] = "succeeded"
        out["get_after"] = (await store.get("kept")).data
    finally:
        await store.close()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"""

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_capabilities() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


async def run_without_dac_override(path: Path) -> dict[str, Any]:
    preexec = _drop_file_capabilities if os.geteuid() == 0 else None
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            READ_ONLY_CHILD,
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=preexec,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot drop file capabilities here: {exc}")
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    if result["writable"]:
        pytest.skip("cannot make a file read-only for this process here")
    return result


async def _make_store_file(path: Path) -> None:
    async with open_store(url_of(path)) as store:
        await store.create({"a": 1}, id="kept")


async def test_read_only_file_reads_work_and_writes_raise(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    await _make_store_file(path)
    path.chmod(0o444)
    try:
        result = await run_without_dac_override(path)
    finally:
        path.chmod(0o644)
    assert "open" not in result, result.get("open")
    assert result["get"] == {"a": 1}
    assert result["count"] == 1
    assert result["list"] == ["kept"]
    for name, what in result["writes"].items():
        assert what.startswith("StoreUnavailable: "), (name, what)
        assert "read-only" in what, (name, what)
    assert result["get_after"] == {"a": 1}
    with raw(path) as conn:
        assert conn.execute('SELECT id, version FROM "sessions"').fetchall() == [("kept", 1)]


async def test_read_only_file_in_read_only_folder_raises_store_unavailable(
    tmp_path: Path,
) -> None:
    """SQLite cannot read a WAL database whose -shm file neither exists nor can be
    created (SQLITE_READONLY_DIRECTORY); the store must say so with StoreUnavailable."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "ro.db"
    await _make_store_file(path)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        result = await run_without_dac_override(path)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert result["open"].startswith("StoreUnavailable: "), result
    assert "read-only" in result["open"]


# --- 4. A full disk -------------------------------------------------------------------------


async def test_full_disk_raises_store_unavailable_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    blob = "x" * (100 * 1024)
    async with open_store(url_of(tmp_path / "full.db")) as store:
        conn = connection(store)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + (600 * 1024) // page_size}")

        written: list[str] = []
        before = -1
        failure: Exception | None = None
        for i in range(100):
            before = await store.count()
            try:
                await store.create({"i": i, "blob": blob}, id=f"s{i}")
            except Exception as exc:
                failure = exc
                break
            written.append(f"s{i}")
        failed_id = f"s{len(written)}"
        assert type(failure) is StoreUnavailable, repr(failure)
        assert "full" in str(failure)
        assert len(written) >= 2, "the page limit left no room at all"

        assert await store.count() == before == len(written)
        assert await store.get(failed_id) is None
        for i, sid in enumerate(written):
            got = await store.get(sid)
            assert got is not None and got.data == {"i": i, "blob": blob} and got.version == 1
        assert [s.id for s in (await store.list()).sessions] == sorted(written)

        # An update that does not fit fails whole, too.
        with pytest.raises(StoreUnavailable, match="full"):
            await store.update(written[0], lambda d: {**d, "more": blob * 6})
        got = await store.get(written[0])
        assert got is not None and got.version == 1 and "more" not in got.data

        conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: writes work again
        await store.create({"after": True}, id="after")
        assert await store.count() == len(written) + 1


# --- 5. Corrupt rows ------------------------------------------------------------------------


async def test_corrupt_row_raises_and_is_never_hidden(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with open_store(url_of(path)) as store:
        await store.create({"a": 1}, id="bad")
        await store.create({"b": 2}, id="good")
        with raw(path) as conn:
            conn.execute("""UPDATE "sessions" SET data = x'ff' WHERE id = 'bad'""")

        with pytest.raises(CorruptSession):
            await store.get("bad")
        with pytest.raises(CorruptSession):
            await store.update("bad", lambda d: {**d, "n": 1})
        assert await store.count() == 2
        with pytest.raises(CorruptSession):
            await store.list()
        page = await store.list(cursor="bad")  # the damage stays confined to its row
        assert [s.id for s in page.sessions] == ["good"]
        assert (await store.get("good")).data == {"b": 2}  # type: ignore[union-attr]

    with raw(path) as conn:  # the failed update changed nothing
        row = conn.execute("""SELECT data, version FROM "sessions" WHERE id = 'bad'""").fetchone()
    assert row == (b"\xff", 1)


async def test_touch_of_a_corrupt_row_raises_and_changes_nothing(tmp_path: Path) -> None:
    """ERR-3 with ERR-2: touch raises CorruptSession, and a call that raises changes nothing."""
    path = tmp_path / "c.db"
    async with open_store(url_of(path)) as store:
        await store.create({"a": 1}, id="bad")
        with raw(path) as conn:
            conn.execute("""UPDATE "sessions" SET data = x'ff' WHERE id = 'bad'""")
        with pytest.raises(CorruptSession):
            await store.touch("bad", 60)
    with raw(path) as conn:
        row = conn.execute("""SELECT expires_ms FROM "sessions" WHERE id = 'bad'""").fetchone()
    assert row == (None,), "touch raised CorruptSession but committed the new expiry"


# --- 6. Lock waits never block the event loop -------------------------------------------------

HOLDER = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
if len(sys.argv) > 3:
    conn.execute(sys.argv[3])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
conn.close()
"""


async def hold_write_lock(path: Path, seconds: float, sql: str | None = None) -> Any:
    """Start a process holding the file's write lock for ``seconds``; return once held."""
    args = [str(path), str(seconds)] + ([sql] if sql else [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, *args, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"locked"
    return proc


async def measure_loop(call: Callable[[], Awaitable[Any]]) -> tuple[Any, float, list[float]]:
    """Run ``call`` while a ticker sleeps 1 ms in a loop; return (result or exception,
    seconds taken, gaps between ticks)."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    try:
        result: Any = await call()
    except Exception as exc:
        result = exc
    took = time.perf_counter() - started
    done.set()
    await task
    return result, took, gaps


def assert_loop_kept_running(gaps: list[float], took: float) -> None:
    """The wait for the lock did not hold the event loop: a ticker beside it kept ticking,
    and no stretch without a tick lasted a third of the wait. (A wait inside SQLite's
    busy handler holds the loop for all of it; an absolute bound such as 50 ms fails on
    a loaded machine, where a ready task can wait that long for a core.)"""
    assert len(gaps) >= 20, f"the ticker ran {len(gaps)} times in {took:.2f} s"
    assert max(gaps) < took / 3, f"the event loop stalled {max(gaps) * 1000:.0f} ms of {took:.2f} s"


async def test_waiting_for_another_process_lock_never_blocks_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    async with open_store(url_of(path)) as store:
        await store.create({"n": 0}, id="counter")
        proc = await hold_write_lock(
            path,
            1.5,
            """UPDATE "sessions" SET data = '{"n":100}', version = version + 1 """
            """WHERE id = 'counter'""",
        )
        try:
            result, took, gaps = await measure_loop(
                lambda: store.update("counter", lambda d: {"n": d["n"] + 1})
            )
        finally:
            if proc.returncode is None:
                await proc.wait()
        assert proc.returncode == 0
        assert not isinstance(result, Exception), repr(result)
        # It waited for the other process, then read what that process committed.
        assert result.data == {"n": 101} and result.version == 3
        assert took >= 1.0, took

        max_gap = max(gaps)
        p99 = statistics.quantiles(gaps, n=100, method="inclusive")[98]
        print(
            f"\nloop latency while update waited {took:.2f} s for the lock: "
            f"max gap {max_gap * 1000:.2f} ms, p99 gap {p99 * 1000:.2f} ms, "
            f"median {statistics.median(gaps) * 1000:.2f} ms, {len(gaps)} ticks"
        )
        assert_loop_kept_running(gaps, took)


async def test_lock_timeout_raises_store_unavailable_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lock.db"
    async with open_store(url_of(path, "lock_timeout=0.3")) as store:
        assert sqlite_store(store).lock_timeout == 0.3
        made = await store.create({"n": 0}, id="counter")
        proc = await hold_write_lock(path, 2.0)
        try:
            result, took, gaps = await measure_loop(
                lambda: store.update("counter", lambda d: {"n": d["n"] + 1})
            )
            assert type(result) is StoreUnavailable, repr(result)
            assert not isinstance(result, sqlite3.Error)
            assert "locked" in str(result)
            assert 0.25 <= took < 1.5, took
            assert_loop_kept_running(gaps, took)
        finally:
            if proc.returncode is None:
                await proc.wait()
        assert await store.get("counter") == made  # nothing changed
        updated = await store.update("counter", lambda d: {"n": d["n"] + 1})  # and it recovers
        assert updated.data == {"n": 1} and updated.version == 2


def export_text(count: int, prefix: str = "i") -> bytes:
    """An export document (the canonical layout) of ``count`` never-expiring sessions."""
    stamp = '"2030-01-01T00:00:00.000Z"'
    records = ",\n".join(
        f'{{"id":"{prefix}{n}","data":{{"n":{n}}},"version":1,"created_at":{stamp},'
        f'"updated_at":{stamp},"expires_at":null,"owner":null}}'
        for n in range(count)
    )
    header = '{"format":"sessionstore-export","format_version":1,"exported_at":'
    return f'{header}{stamp},"sessions":[\n{records}\n]}}'.encode()


def staging_left(store: object) -> list[str]:
    """Databases attached to the store's connection besides its own (and temp's tables)."""
    conn = connection(store)
    attached = [name for _, name, _ in conn.execute("PRAGMA database_list")]
    temp = conn.execute("SELECT name FROM sqlite_temp_master WHERE type = 'table'")
    return [name for name in attached if name not in ("main", "temp")] + [n for (n,) in temp]


async def test_import_waits_for_another_process_lock_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lock.db"
    async with open_store(url_of(path)) as store:
        text = export_text(3000)
        proc = await hold_write_lock(path, 1.0)
        try:
            pieces = [text[i : i + 4096] for i in range(0, len(text), 4096)]
            result, took, gaps = await measure_loop(
                lambda: sqlite_store(store).import_chunks(pieces)
            )
        finally:
            if proc.returncode is None:
                await proc.wait()
        assert not isinstance(result, Exception), repr(result)
        assert result.imported == 3000 and await store.count() == 3000
        assert took >= 0.7, took  # it waited for the lock to apply
        assert_loop_kept_running(gaps, took)
        assert staging_left(store) == []  # the staging database is gone


async def test_import_past_lock_timeout_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    async with open_store(url_of(path, "lock_timeout=0.3")) as store:
        kept = await store.create({"n": 0}, id="kept")
        proc = await hold_write_lock(path, 2.0)
        try:
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.import_(export_text(500))
        finally:
            if proc.returncode is None:
                await proc.wait()
        assert await store.count() == 1 and await store.get("kept") == kept
        assert staging_left(store) == []
        assert (await store.import_(export_text(500))).imported == 500  # and it recovers


async def test_close_during_an_import_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    store = await SQLiteStore(path).open()
    await store.create({"n": 0}, id="kept")
    text = export_text(5000)

    async def pieces() -> Any:
        for i in range(0, len(text), 8192):
            if i == 8192 * 40:
                await store.close()  # another task closes the store mid-import
            yield text[i : i + 8192]

    with pytest.raises(StoreUnavailable, match="closed"):
        await store.import_chunks(pieces())
    async with open_store(url_of(path)) as reopened:
        assert await reopened.count() == 1
        assert (await reopened.get("kept")) is not None


# --- 7. Two connections in one process ------------------------------------------------------


async def test_two_stores_on_one_file_count_exactly(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    first = await SQLiteStore(path).open()
    second = await SQLiteStore(path).open()
    try:
        assert first._conn is not second._conn
        await first.create({"n": 0}, id="counter")
        rounds = 4

        async def worker(i: int) -> None:
            store = first if i % 2 else second
            for _ in range(rounds):
                await store.update("counter", lambda d: {"n": d["n"] + 1})
                await asyncio.sleep(0)

        await asyncio.gather(*(worker(i) for i in range(50)))
        for store in (first, second):
            got = await store.get("counter")
            assert got is not None
            assert got.data == {"n": 50 * rounds} and got.version == 50 * rounds + 1
    finally:
        await first.close()
        await second.close()


# --- 8. purge_expired uses the index ----------------------------------------------------------


@pytest.mark.parametrize("namespace", ["sessions", "app"])
async def test_purge_query_uses_the_expiry_index(tmp_path: Path, namespace: str) -> None:
    path = tmp_path / "p.db"
    async with open_store(url_of(path, f"namespace={namespace}")) as store:
        conn = connection(store)
        plan = conn.execute(
            f'EXPLAIN QUERY PLAN DELETE FROM "{namespace}" WHERE expires_ms <= ?', (0,)
        ).fetchall()
    details = " | ".join(str(row[-1]) for row in plan)
    assert f"{namespace}__expires" in details, details


async def test_purge_expired_removes_exactly_the_expired(tmp_path: Path) -> None:
    clock = FakeClock()
    async with open_store(url_of(tmp_path / "p.db"), clock=clock) as store:
        for i in range(1000):  # half never expire, half expire long after the purge
            await store.create({"i": i}, ttl=None if i % 2 else 3600)
        for i in range(100):
            await store.create({"short": i}, ttl=60, id=f"short{i}")
        assert await store.count() == 1100
        assert await store.purge_expired() == 0
        clock.advance(61_000)
        assert await store.count() == 1000
        assert await store.purge_expired() == 100
        assert await store.purge_expired() == 0
        assert await store.count() == 1000
        assert await store.get("short0") is None
        conn = connection(store)
        assert conn.execute('SELECT count(*) FROM "sessions"').fetchone()[0] == 1000


async def test_a_ttl_equal_to_a_good_one_is_still_validated(tmp_path: Path) -> None:
    """Each ttl is validated on its own (the store once remembered the last ttl object's
    milliseconds): after a good 1, True (== 1, yet a bool is not a ttl, VAL-6) and the
    other bad ttls are refused every time."""
    clock = FakeClock()
    async with open_store(url_of(tmp_path / "t.db"), clock=clock) as store:
        await store.create({}, id="a")
        one = 1
        assert (await store.touch("a", one)).expires_at == clock() + timedelta(seconds=1)
        for bad in (True, float("nan"), None, -1):
            for _ in range(2):  # the second time too
                with pytest.raises(InvalidSession):
                    await store.touch("a", bad)  # type: ignore[arg-type]  # bad on purpose
        assert (await store.touch("a", one)).expires_at == clock() + timedelta(seconds=1)
        assert (await store.touch("a", 1.5)).expires_at == clock() + timedelta(seconds=1.5)
        hour = timedelta(hours=1)
        for _ in range(2):
            assert (await store.touch("a", hour)).expires_at == clock() + hour
        assert (await store.update("a", dict, ttl=hour)).expires_at == clock() + hour


# --- 9. close -------------------------------------------------------------------------------


async def test_close_then_every_call_raises_and_the_file_reopens(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    store = await SQLiteStore(path).open()
    made = await store.create({"a": 1}, id="kept")
    doc = await store.export()
    await store.close()

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "create": lambda: store.create({"b": 2}),
        "get": lambda: store.get("kept"),
        "replace": lambda: store.replace("kept", {"c": 3}),
        "update": lambda: store.update("kept", lambda d: d),
        "touch": lambda: store.touch("kept", 60),
        "delete": lambda: store.delete("kept"),
        "list": lambda: store.list(),
        "count": lambda: store.count(),
        "purge_expired": lambda: store.purge_expired(),
        "export": lambda: store.export(),
        "import_": lambda: store.import_(doc, on_conflict="skip"),
    }
    escaped: dict[str, str] = {}
    for name, call in calls.items():
        try:
            await call()
        except StoreUnavailable:
            continue
        except Exception as exc:
            escaped[name] = repr(exc)
        else:
            escaped[name] = "succeeded"
    assert escaped == {}
    await store.close()  # closing twice is fine

    async with open_store(url_of(path)) as again:
        assert await again.get("kept") == made
        assert await again.count() == 1


def test_many_threads_opening_one_new_namespace_at_once(tmp_path: Path) -> None:
    """A migration commits table and version together; a racing opener must never take
    the half-seen table for someone else's."""
    import threading

    errors: list[str] = []

    def opener(namespace: str) -> None:
        async def go() -> None:
            async with open_store(f"sqlite:///{tmp_path}/race.db?namespace={namespace}") as s:
                await s.count()

        try:
            asyncio.run(go())
        except Exception as exc:  # collected, then asserted below
            errors.append(repr(exc))

    for round_ in range(20):
        threads = [threading.Thread(target=opener, args=(f"t{round_}",)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


async def test_many_imports_at_once_on_one_store(tmp_path: Path) -> None:
    """Each import stages in a database of its own, and SQLite attaches at most ten to a
    connection: the ones beyond stage in a TEMP table instead."""
    async with open_store(url_of(tmp_path / "many.db")) as store:
        texts = [export_text(2500, prefix=f"p{k}x") for k in range(14)]
        reports = await asyncio.gather(*(store.import_(text) for text in texts))
        assert [r.imported for r in reports] == [2500] * 14
        assert await store.count() == 14 * 2500
        assert staging_left(store) == []
