"""A shared store whose ``update`` is atomic within one process only (breaks CONC-2,
PROC-1 and, across processes, UPDATE-1).

:class:`ProcessLocalUpdates` is the SQLite store with one defect: ``update`` reads the
session, calls ``fn``, waits :data:`WINDOW` seconds, then writes the result with a plain
``replace`` — no transaction around the read and the write. Within one process a lock
held around every write makes that harmless: no other write of the process can land in
the window, so tasks and instances of one process see atomic updates. Another process
does not take that lock: its write in the window is overwritten, and an update is lost.

The window is wide (50 ms) so that two processes asked to update at once meet in it
whatever the machine's load; the in-process suite's races are deterministic the same
way (an ``await`` between read and write).

:data:`factory` opens fresh stores (a namespace each) in the file named by the
environment variable :data:`PATH_VARIABLE`, and ``factory.attach(url)`` opens another
instance on a store's data: the driver protocol's reference server attaches through it
(``python -m sessionstore_conformance.wire.serve broken.shared:factory``), so every
server process runs this broken class, never the sound one ``open_store(url)`` would give.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import tempfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sessionstore import TTL, JSONObject, Session, SessionNotFound
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore.factory import sqlite_path, store_config
from sessionstore.semantics import ttl_to_ms

#: Seconds between update's read and its write.
WINDOW = 0.05
#: The environment variable naming the SQLite file of fresh stores.
PATH_VARIABLE = "SESSIONSTORE_LOCAL_LOCK_DB"

#: One lock for every write of this process, whichever instance makes it.
_WRITES = asyncio.Lock()


class ProcessLocalUpdates(SQLiteStore):
    """update = read, fn, wait, replace: atomic within this process only."""

    async def update(
        self, id: str, fn: Any, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        if ttl is not None:
            ttl_to_ms(ttl, self.limits)  # refused before fn runs, as the reference does
        async with _WRITES:
            current = await self.get(id, owner=owner)
            if current is None:
                raise SessionNotFound(f"no live session with id {id!r}")
            new = fn(current.data)
            await asyncio.sleep(WINDOW)  # the defect: another process may write meanwhile
            return await super().replace(id, new, ttl=ttl, owner=owner)

    async def create(self, data: JSONObject | None = None, **kw: Any) -> Session:
        async with _WRITES:
            return await super().create(data, **kw)

    async def replace(self, id: str, data: JSONObject, **kw: Any) -> Session:
        async with _WRITES:
            return await super().replace(id, data, **kw)

    async def touch(self, id: str, ttl: TTL, **kw: Any) -> Session:
        async with _WRITES:
            return await super().touch(id, ttl, **kw)

    async def delete(self, id: str, **kw: Any) -> bool:
        async with _WRITES:
            return await super().delete(id, **kw)

    async def purge_expired(self) -> int:
        async with _WRITES:
            return await super().purge_expired()

    async def import_(self, doc: Any, **kw: Any) -> Any:
        async with _WRITES:
            return await super().import_(doc, **kw)


class Factory:
    """Fresh stores in one file, a namespace each; ``attach`` opens a store's url."""

    def __init__(self) -> None:
        self.run = secrets.token_hex(3)
        self.numbers = itertools.count(1)

    def path(self) -> str:
        default = os.path.join(tempfile.gettempdir(), f"local-lock-{os.getpid()}.db")
        return os.environ.get(PATH_VARIABLE, default)

    async def __call__(self, *, clock: Any) -> ProcessLocalUpdates:
        namespace = f"local{self.run}_{next(self.numbers)}"
        return await ProcessLocalUpdates(self.path(), namespace=namespace, clock=clock).open()

    async def attach(self, url: str, *, clock: Any) -> ProcessLocalUpdates:
        (namespace,) = parse_qs(urlsplit(url).query)["namespace"]
        path = sqlite_path(store_config(url))
        return await ProcessLocalUpdates(path, namespace=namespace, clock=clock).open()


factory = Factory()
