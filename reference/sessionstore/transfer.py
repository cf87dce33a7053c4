"""Export documents in files: atomic writes (temp file, fsync, rename, fsync of the
folder; mode 0600), streamed exports (EXPORT-2) and streamed imports (IMPORT-7)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import IO

from .contract import SessionStore
from .values import ImportReport, OnConflict

#: Bytes read from a file at a time by an import.
READ_SIZE = 1 << 20


class AtomicFile:
    """A temp file beside ``path`` (mode 0600: it holds sessions) that replaces ``path``
    only on :meth:`commit` — flush, fsync, rename, fsync of the folder — so a crash at any
    moment leaves the old file or the new one, whole. :meth:`abort` deletes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o600)
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def abort(self) -> None:
        """Delete the temp file, whatever happens: closing it flushes what is buffered,
        which fails again on a full disk, and the file must go all the same."""
        try:
            with contextlib.suppress(OSError):
                self.file.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)


def remove_stale_temp_files(path: Path) -> int:
    """Delete temp files that a writer killed mid-write left beside ``path``."""
    removed = 0
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            removed += 1
    return removed


async def export_pieces(store: SessionStore) -> AsyncGenerator[bytes, None]:
    """The store's export document as JSON text in pieces: streamed when the store offers
    ``export_chunks()`` (EXPORT-2), else the whole document at once. Close it
    (``contextlib.aclosing``) when stopping early: it closes the store's iterator in
    turn, while the loop runs, rather than leaving both to the loop's shutdown, which
    closes them in no set order (a snapshot's context then fails to close)."""
    chunks = getattr(store, "export_chunks", None)
    if chunks is None:
        yield (await store.export()).to_json()
        return
    async with contextlib.aclosing(chunks()) as pieces:
        async for piece in pieces:
            yield piece


async def write_export(store: SessionStore, out: IO[bytes]) -> int:
    """Write the store's export document to ``out``; returns the bytes written."""
    written = 0
    async with contextlib.aclosing(export_pieces(store)) as pieces:
        async for piece in pieces:
            out.write(piece)
            written += len(piece)
    return written


async def file_pieces(file: IO[bytes], size: int = READ_SIZE) -> AsyncGenerator[bytes, None]:
    """The contents of a binary file in pieces, each read in a thread (the loop runs on).
    A regular file is read ahead, the next piece while the caller works on the one before
    (reading overlaps parsing); close this (``contextlib.aclosing``) before the file, as
    it waits for the read in flight. A pipe or a terminal is read only when asked: a read
    ahead there could wait for input that never comes. (``read1``: what is there, up to
    ``size`` bytes; ``read`` waits for all ``size`` of them.)"""
    read = getattr(file, "read1", file.read)
    if not file.seekable():
        while piece := await asyncio.to_thread(read, size):
            yield piece
        return
    ahead = asyncio.ensure_future(asyncio.to_thread(read, size))
    try:
        while piece := await ahead:
            ahead = asyncio.ensure_future(asyncio.to_thread(read, size))
            yield piece
    finally:
        await asyncio.wait([ahead])  # the thread cannot be stopped: let it finish
        if not ahead.cancelled():
            ahead.exception()  # a read that failed after the caller stopped: not logged


async def import_pieces(
    store: SessionStore, pieces: AsyncIterator[bytes], on_conflict: OnConflict = "error"
) -> ImportReport:
    """Import the document whose JSON text ``pieces`` join into: streamed when the store
    offers ``import_chunks()`` (IMPORT-7), else joined and passed to ``import_``."""
    chunks = getattr(store, "import_chunks", None)
    if chunks is None:
        whole = b"".join([piece async for piece in pieces])
        return await store.import_(whole, on_conflict=on_conflict)
    report: ImportReport = await chunks(pieces, on_conflict=on_conflict)
    return report


async def import_file(
    store: SessionStore,
    source: str | os.PathLike[str] | IO[bytes],
    on_conflict: OnConflict = "error",
) -> ImportReport:
    """Import the export document in a file (a path, or a binary file left open)."""
    if not isinstance(source, (str, os.PathLike)):
        async with contextlib.aclosing(file_pieces(source)) as pieces:
            return await import_pieces(store, pieces, on_conflict)
    with await asyncio.to_thread(open, source, "rb") as file:
        async with contextlib.aclosing(file_pieces(file)) as pieces:
            return await import_pieces(store, pieces, on_conflict)


async def copy_store(
    origin: SessionStore, target: SessionStore, on_conflict: OnConflict = "error"
) -> ImportReport:
    """Import ``origin``'s export into ``target``, piped from export_chunks to
    import_chunks when both stores stream."""
    async with contextlib.aclosing(export_pieces(origin)) as pieces:
        return await import_pieces(target, pieces, on_conflict)
