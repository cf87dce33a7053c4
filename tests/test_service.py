"""SessionService: scheduled purge, atomic JSON backup, restore, failures, crashes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sessionstore import BackupError, SessionService
from sessionstore.backends.memory import MemoryStore
from sessionstore.export import parse_export
from sessionstore.transfer import remove_stale_temp_files
from sessionstore_conformance import FakeClock

pytestmark = pytest.mark.anyio


async def test_purges_on_schedule() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for i in range(5):
        await store.create(id=f"old{i}", ttl=1)
    await store.create(id="keep")
    clock.advance(2000)
    async with SessionService(store, purge_interval=0.02):
        await asyncio.sleep(0.15)
        # purged: a manual purge now finds nothing left to remove
        assert await store.purge_expired() == 0
    assert await store.get("keep") is not None


async def test_backup_restore_round_trip(tmp_path: Path) -> None:
    backup = tmp_path / "state" / "sessions.backup.json"
    first = MemoryStore()
    async with SessionService(first, backup_path=backup, backup_interval=3600):
        made = await first.create({"step": 3}, owner="ada", ttl=600)
    # the last backup was written at shutdown, private to the owner
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert json.loads(backup.read_text())["sessions"][0]["id"] == made.id
    assert not [p for p in backup.parent.iterdir() if p.name.endswith(".tmp")]
    second = MemoryStore()
    async with SessionService(second, backup_path=backup):
        assert await second.get(made.id) == made


async def test_backup_on_schedule(tmp_path: Path) -> None:
    backup = tmp_path / "b.json"
    store = MemoryStore()
    async with SessionService(store, backup_path=backup, backup_interval=0.02):
        await store.create(id="a")
        await asyncio.sleep(0.15)
        assert [s["id"] for s in json.loads(backup.read_bytes())["sessions"]] == ["a"]


async def test_restore_skips_a_store_that_is_not_empty(tmp_path: Path) -> None:
    backup = tmp_path / "b.json"
    source = MemoryStore()
    await source.create(id="from_backup")
    backup.write_bytes((await source.export()).to_json())
    store = MemoryStore()
    await store.create(id="already_here")
    async with SessionService(store, backup_path=backup, backup_interval=3600):
        assert await store.get("from_backup") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"format": "sessionstore-export", "format_version": 1, "sessions": []}', "exported_at"),
        (
            b'{"format": "other", "format_version": 1, "exported_at": "2030-01-01T00:00:00.000Z", "sessions": []}',
            "format",
        ),
    ],
)
async def test_a_bad_backup_stops_the_start_and_is_kept(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    backup = tmp_path / "b.json"
    backup.write_bytes(content)
    service = SessionService(MemoryStore(), backup_path=backup)
    with pytest.raises(BackupError, match=problem) as raised:
        await service.start()
    assert str(backup) in str(raised.value)
    assert backup.read_bytes() == content  # never overwritten
    await asyncio.sleep(0)  # nothing was scheduled
    assert service._tasks == []


async def test_a_failing_backup_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the backup folder should be")
    store = MemoryStore()
    caplog.set_level(logging.INFO, logger="sessionstore.service")
    service = SessionService(
        store, backup_path=blocker / "b.json", backup_interval=0.01, retry_interval=0.01
    )
    await service.start()  # no backup to restore: the path's folder cannot even exist
    await asyncio.sleep(0.2)
    assert all(not task.done() for task in service._tasks)  # the schedules survive
    await service.stop()  # the last backup fails too, and is logged, not raised
    failures = [r for r in caplog.records if getattr(r, "event", "") == "backup_failed"]
    assert len(failures) >= 4  # retried on schedule, plus the one at shutdown
    assert failures[0].path == str(blocker / "b.json")


SERVICE = """
import asyncio, sys
sys.path.insert(0, {src!r})
from sessionstore import SessionService, open_store

async def main(path):
    async with open_store("memory://") as store:
        for i in range(2000):
            await store.create({{"i": i, "pad": "x" * 400}}, id=f"s{{i}}")
        await store.create({{"n": 0}}, id="counter")
        async with SessionService(store, backup_path=path, backup_interval=3600) as service:
            n = 0
            while True:  # a backup after each change of the counter, acknowledged once written
                n += 1
                await store.replace("counter", {{"n": n}})
                assert await service.backup()
                print(n, flush=True)

asyncio.run(main(sys.argv[1]))
"""


def test_a_crash_during_a_backup_never_damages_the_previous_backup(tmp_path: Path) -> None:
    """A service writing backups back to back (1 MB each, streamed) is killed at random
    instants: the file left is always a whole, valid export, at least as new as the last
    backup acknowledged, and a service starting on it removes the temp files left."""
    path = tmp_path / "backup.json"
    script = tmp_path / "service.py"
    script.write_text(SERVICE.format(src=str(Path(__file__).resolve().parents[1] / "reference")))
    rng = random.Random(1234)
    trials, acked_total, orphans_seen = 25, 0, 0
    for _ in range(trials):
        child = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        acked = int(child.stdout.readline())  # one backup written, then more, back to back
        time.sleep(rng.uniform(0, 0.1))  # die at a random point of a later one
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read().split()
        child.wait(timeout=10)
        acked = int(rest[-1]) if rest else acked
        acked_total += acked
        records = {r.id: r for r in parse_export(path.read_bytes())}  # whole and valid
        assert len(records) == 2001
        assert json.loads(records["counter"].data)["n"] >= acked
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        orphans_seen += len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")])
    print(
        f"{trials} SIGKILL trials after {acked_total} acknowledged backups: the backup was "
        f"whole and current after each; {orphans_seen} temp files left by killed writers"
    )
    # A service starting on that backup removes what the killed writers left behind.
    remove_stale_temp_files(path)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
