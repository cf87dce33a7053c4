"""``SessionService``: what a server runs around a store — a scheduled purge of expired
sessions and an optional JSON backup (restored on start, written atomically on a
schedule and at shutdown).

    async with SessionService(store, backup_path="sessions.backup.json") as service:
        ...  # serve; service.store is the store

The backup is an export document (spec/schema/export.schema.json). It is written to a
temporary file in the same folder, fsynced, renamed over the old one and the folder
fsynced, so a crash at any moment leaves either the previous backup or the new one,
never a mix; the file is created with mode 0600 (it holds session data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from .contract import SessionStore
from .errors import ImportRejected, SessionStoreError
from .transfer import AtomicFile, import_file, remove_stale_temp_files, write_export

log = logging.getLogger("sessionstore.service")


class BackupError(SessionStoreError):
    """The backup file cannot be read or validated; it is left untouched."""


class SessionService:
    """Runs the purge schedule and the JSON backup around ``store``."""

    def __init__(
        self,
        store: SessionStore,
        *,
        purge_interval: float = 300,
        backup_path: str | os.PathLike[str] | None = None,
        backup_interval: float = 60,
        retry_interval: float = 5,
    ) -> None:
        if purge_interval <= 0 or backup_interval <= 0 or retry_interval <= 0:
            raise ValueError("intervals must be positive numbers of seconds")
        self.store = store
        self.purge_interval = purge_interval
        self.backup_path = None if backup_path is None else Path(backup_path)
        self.backup_interval = backup_interval
        self.retry_interval = retry_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._write_lock = threading.Lock()
        self._generation = 0  # backups started
        self._committed = 0  # the newest backup that replaced the file

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore the backup (into an empty store), then start the schedules."""
        if self.backup_path is not None:
            await self.restore()
            if self.backup_path.parent.is_dir():
                remove_stale_temp_files(self.backup_path)
        self._tasks.append(asyncio.create_task(self._purge_loop()))
        if self.backup_path is not None:
            self._tasks.append(asyncio.create_task(self._backup_loop()))

    async def stop(self) -> None:
        """Stop the schedules and write a last backup."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.backup_path is not None:
            await self.backup()

    async def __aenter__(self) -> SessionService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(self.purge_interval)
            await self.purge()

    async def _backup_loop(self) -> None:
        delay = self.backup_interval
        while True:
            await asyncio.sleep(delay)
            delay = self.backup_interval if await self.backup() else self.retry_interval

    # --- the jobs -------------------------------------------------------------------------

    async def purge(self) -> int:
        """Purge expired sessions now; errors are logged, never raised into the schedule."""
        started = time.perf_counter()
        try:
            removed = await self.store.purge_expired()
        except SessionStoreError as exc:
            log.warning("purge failed: %s", exc, extra={"event": "purge_failed", "error": str(exc)})
            return 0
        log.info(
            "purged %d expired sessions",
            removed,
            extra={
                "event": "purge",
                "removed": removed,
                "seconds": round(time.perf_counter() - started, 6),
            },
        )
        return removed

    async def backup(self) -> bool:
        """Write the backup now; False (and a log record) when it failed. Never raises: the
        schedule retries after ``retry_interval``."""
        assert self.backup_path is not None
        started = time.perf_counter()
        self._generation += 1
        generation = self._generation
        try:
            target = AtomicFile(self.backup_path)
            try:
                size = await write_export(self.store, target.file)  # streamed (EXPORT-2)
            except BaseException:
                target.abort()
                raise
            await asyncio.to_thread(self._commit, target, generation)
        except Exception as exc:  # the schedule must survive any failure, a bug included
            expected = isinstance(exc, (OSError, SessionStoreError))
            log.error(
                "backup to %s failed: %s; retrying in %g s",
                self.backup_path,
                exc,
                self.retry_interval,
                exc_info=not expected,  # a bug's traceback, once per try, not a dead task
                extra={"event": "backup_failed", "path": str(self.backup_path), "error": str(exc)},
            )
            return False
        log.info(
            "backed up %d bytes to %s",
            size,
            self.backup_path,
            extra={
                "event": "backup",
                "path": str(self.backup_path),
                "bytes": size,
                "seconds": round(time.perf_counter() - started, 6),
            },
        )
        return True

    def _commit(self, target: AtomicFile, generation: int) -> None:
        # A commit cancelled at shutdown still runs in its thread: it must never land
        # after (and over) a newer backup, such as the final one.
        with self._write_lock:
            if generation < self._committed:
                target.abort()
                return
            target.commit()
            self._committed = generation

    async def restore(self) -> int:
        """Import the backup file into the store, if the file exists and the store is empty.

        A backup that cannot be read or validated raises :class:`BackupError` naming the
        file and every problem; the file is left as it is, so nothing overwrites it.
        """
        assert self.backup_path is not None
        path = self.backup_path
        if not path.exists():
            log.info(
                "no backup at %s; starting empty",
                path,
                extra={"event": "restore_skipped", "path": str(path)},
            )
            return 0
        if await self.store.count() > 0:
            log.info(
                "the store already holds sessions; backup %s not restored",
                path,
                extra={"event": "restore_skipped", "path": str(path)},
            )
            return 0
        try:
            report = await import_file(self.store, path, on_conflict="skip")  # streamed
        except ImportRejected as exc:
            problems = "; ".join(str(p) for p in exc.problems[:20])
            raise BackupError(f"backup {path} is not a valid export document: {problems}") from exc
        except OSError as exc:
            raise BackupError(f"backup {path} cannot be read: {exc}") from exc
        log.info(
            "restored %d sessions from %s (%d already expired)",
            report.imported,
            path,
            report.skipped_expired,
            extra={
                "event": "restore",
                "path": str(path),
                "imported": report.imported,
                "skipped_expired": report.skipped_expired,
            },
        )
        return report.imported
