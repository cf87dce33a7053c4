"""redis-py (``redis.asyncio``) with WATCH/MULTI: a correct store on a Redis server.

What the library gives: a client for a server that keeps each value under a key, expires
keys on its own clock (``SET … PXAT``), keeps sorted sets (ids in lexical order), and
runs optimistic transactions: ``WATCH`` keys, read them, queue writes after ``MULTI``;
``EXEC`` applies them only if no watched key changed meanwhile (else ``WatchError``).

What the wrapper adds (on ``RecordStore``): compare-and-set as WATCH, GET, compare,
MULTI, SET, EXEC (``write``, ``remove``), for all the rows of an import at once
(``write_many``: all or nothing, and isolated); the record's fields beside its data
(``_rows.row_bytes``); the ids in a sorted set for ``scan``; a generation counter that
every write increments in its transaction, which a page, a count or an export watches
while it reads, so that each sees one instant (LIST-1, COUNT-1, EXPORT-1); ids whose
key the server expired are dropped from the set in that transaction. Each key expires at its row's expiry
(``PXAT``), so the server reclaims it, never before the store's clock says it expired
(LIVE-3). Connection failures become ``StoreUnavailable`` (ERR-4). Every store gets a key
prefix of its own, deleted on close.

Capabilities: none. The server keeps time itself, so the store cannot take the kit's
clock (the kit checks expiry in real time). Several processes could share a prefix, but
the kit reaches other processes only through a URL scheme registered by an installed
package (CAP-2), and ``redis://`` is the reference store's: no ``multi_process``, no
``multi_host``, no ``durable`` (a server without persistence, as the tests run it).
Hooks: ``corrupt_for_testing`` from ``RecordStore``, ``disconnect_for_testing``.
The factories read the server's URL from ``REDIS_URL``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import redis.asyncio as redis
from redis.exceptions import ConnectionError, TimeoutError, WatchError

from sessionstore import Capabilities, Clock, StoreUnavailable
from sessionstore.toolkit import Record, RecordStore, Write

from ._rows import row_bytes, row_from_bytes

#: Ids and rows read per round trip by scans, counts and exports.
PAGE = 1000


class RedisWatchStore(RecordStore):
    """Sessions under ``{prefix}s:{id}``, their ids in the sorted set ``{prefix}ids``."""

    capabilities = Capabilities()

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(**options)  # no clock: the server expires keys on its own
        self._redis = redis.Redis.from_url(url)
        self._prefix = f"peer:{uuid.uuid4().hex}:"
        self._ids = f"{self._prefix}ids"
        self._generation = f"{self._prefix}generation"  # counts every write (INCR in each)

    def key(self, id: str) -> str:
        return f"{self._prefix}s:{id}"

    async def read(self, id: str) -> Record | None:
        async with self._engine():
            return _row(id, await self._redis.get(self.key(id)))

    async def write(self, record: Record, expected: Record | None) -> bool:
        """One row: WATCH its key, GET, compare, then MULTI … EXEC."""
        key = self.key(record.id)
        async with self._engine(), self._redis.pipeline() as tx:
            try:
                await tx.watch(key)
                if _row(record.id, await tx.get(key)) != expected:
                    return False
                tx.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                self._queue_writes(tx, [record])
                await tx.execute()
                return True
            except WatchError:  # another client wrote the key after our GET
                return False

    async def write_many(self, writes: Sequence[Write]) -> bool:
        """Every write of an import in one transaction, all or nothing and seen whole
        (IMPORT-2, CONC-1; the toolkit's default writes a row at a time). It watches the
        generation, not every key: WATCH costs time quadratic in the keys it is given at
        once (Redis 7.0: 23 s for 40,000 keys)."""
        if not writes:
            return True
        keys = [self.key(record.id) for record, _ in writes]
        async with self._engine(), self._redis.pipeline() as tx:
            try:
                await tx.watch(self._generation)
                stored = await tx.mget(keys)
                for (record, expected), raw in zip(writes, stored, strict=True):
                    if _row(record.id, raw) != expected:
                        return False
                tx.multi()  # type: ignore[no-untyped-call]
                self._queue_writes(tx, [record for record, _ in writes])
                await tx.execute()
                return True
            except WatchError:  # another client wrote meanwhile
                return False

    async def remove(self, expected: Record) -> bool:
        key = self.key(expected.id)
        async with self._engine(), self._redis.pipeline() as tx:
            try:
                await tx.watch(key)
                if _row(expected.id, await tx.get(key)) != expected:
                    return False
                tx.multi()  # type: ignore[no-untyped-call]
                tx.delete(key)
                tx.zrem(self._ids, expected.id)
                tx.incr(self._generation)
                await tx.execute()
                return True
            except WatchError:
                return False

    def _queue_writes(self, tx: Any, records: Sequence[Record]) -> None:
        """After MULTI: the rows, each key expiring with its row (LIVE-3), their ids in the
        index, and a new generation, which tells readers that something changed."""
        for record in records:
            tx.set(self.key(record.id), row_bytes(record), pxat=record.expires_ms)
        tx.zadd(self._ids, {record.id: 0 for record in records})
        tx.incr(self._generation)

    async def scan(self, after: str | None, limit: int) -> Sequence[Record]:
        return await self._rows(after, limit)

    async def count_live(self, now_ms: int) -> int:  # COUNT-1: one instant, not one per page
        return sum(1 for row in await self._rows(None, None) if row.is_live(now_ms))

    async def snapshot(self) -> list[Record]:  # EXPORT-1: likewise
        return await self._rows(None, None)

    async def close_storage(self) -> None:
        try:
            async with self._engine():
                keys = [k async for k in self._redis.scan_iter(match=f"{self._prefix}*")]
                if keys:
                    await self._redis.delete(*keys)
        finally:
            await self._redis.aclose()

    async def disconnect_for_testing(self) -> None:
        """ERR-4's hook: the server is lost; new connections go to a port where nothing
        listens."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        pool = self._redis.connection_pool
        pool.connection_kwargs.update(host="127.0.0.1", port=port)
        await pool.disconnect()
        pool.reset()  # type: ignore[no-untyped-call]

    async def _rows(self, after: str | None, limit: int | None) -> list[Record]:
        """Up to ``limit`` rows (all when None) with ids after ``after``, as at one
        instant: read in pages with the generation watched, so that an EXEC that fails
        (something was written meanwhile) reads again. Ids whose key the server expired
        are dropped from the index in that EXEC, and the rows read again."""
        async with self._engine(), self._redis.pipeline() as tx:
            while True:
                try:
                    await tx.watch(self._generation)
                    ids, raws = await self._read_ids_and_rows(tx, after, limit)
                    gone = [id for id, raw in zip(ids, raws, strict=True) if raw is None]
                    tx.multi()  # type: ignore[no-untyped-call]
                    if gone:
                        tx.zrem(self._ids, *gone)
                    await tx.execute()
                    if not gone:
                        rows = zip(ids, raws, strict=True)
                        return [row_from_bytes(id, raw or b"") for id, raw in rows]
                except WatchError:
                    pass
                await tx.reset()  # type: ignore[no-untyped-call]

    async def _read_ids_and_rows(
        self, tx: Any, after: str | None, limit: int | None
    ) -> tuple[list[str], list[bytes | None]]:
        """The ids after ``after`` and their stored rows (None: gone), a page at a time."""
        ids: list[str] = []
        raws: list[bytes | None] = []
        while limit is None or len(ids) < limit:
            start = "-" if after is None else f"({after}"
            page = PAGE if limit is None else min(PAGE, limit - len(ids))
            found = cast(
                "list[bytes]",
                await tx.zrange(self._ids, start, "+", bylex=True, offset=0, num=page),
            )
            if not found:
                break
            batch = [i.decode() for i in found]
            ids += batch
            raws += cast("list[bytes | None]", await tx.mget(list(map(self.key, batch))))
            after = batch[-1]
        return ids, raws

    @asynccontextmanager
    async def _engine(self) -> AsyncIterator[None]:
        try:
            yield
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"the Redis server is unreachable: {exc}") from None


def _row(id: str, raw: Any) -> Record | None:
    """The record of a GET's reply (bytes, or None when the key is gone)."""
    return None if raw is None else row_from_bytes(id, raw)


def factory(*, clock: Clock) -> RedisWatchStore:
    """The kit's factory: a store with a prefix of its own on ``REDIS_URL``."""
    return RedisWatchStore(os.environ["REDIS_URL"])
