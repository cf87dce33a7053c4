"""A transfer that stops early closes the store's export iterator itself, while the loop
runs: left to the loop's shutdown, the iterators of a streamed export (and the SQLite
store's snapshot inside them) were closed in no set order, and `sessionstore export`
printed "generator didn't stop after athrow()" on a full disk or a closed pipe."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from sessionstore.backends.memory import MemoryStore
from sessionstore.terminal import Meter
from sessionstore.transfer import copy_store, export_pieces, write_export

pytestmark = pytest.mark.anyio


class Watched(MemoryStore):
    """A memory store whose export iterator says when it was closed."""

    closed = False

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        try:
            async for piece in super().export_chunks(chunk_size):
                yield piece
                await asyncio.sleep(0)
        finally:
            self.closed = True


class FullDisk(io.RawIOBase):
    def write(self, piece: object) -> int:
        raise OSError(28, "No space left on device")


async def filled() -> Watched:
    store = Watched()
    for n in range(50):
        await store.create({"n": n})
    return store


async def test_write_export_closes_the_store_iterator_when_writing_fails() -> None:
    store = await filled()
    with pytest.raises(OSError, match="No space"):
        await write_export(store, FullDisk())
    assert store.closed  # before the loop ends, not at its shutdown


async def test_export_pieces_and_the_meter_close_what_they_read() -> None:
    store = await filled()
    meter = Meter("export", "sessions", None, False)
    async with aclosing(meter.sessions(export_pieces(store))) as pieces:
        async for _ in pieces:
            break  # a reader that stops early: `export | head`
    assert store.closed


async def test_copy_store_closes_the_origin_iterator_when_the_import_fails() -> None:
    origin, target = await filled(), MemoryStore()
    await target.create({"x": 1}, id=(await origin.list(limit=1)).sessions[0].id)
    with pytest.raises(Exception, match="exist"):
        await copy_store(origin, target)  # on_conflict="error": refused
    assert origin.closed
