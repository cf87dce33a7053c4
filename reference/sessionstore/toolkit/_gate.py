"""The gate that makes a RecordStore's many-row operations atomic in one process (CONC-1).

A point operation is a few primitive calls, each atomic, and takes effect at one of them
(its successful conditional write, or its read). An operation over many rows — an
import's ``write_many``, a count or a snapshot made of several scans, a purge — is many
primitive calls: interleaved with other calls' primitives, a reader would see part of an
import, and a count would mix two states. So every primitive call of a point operation
passes the gate *shared* (many at once, free while no many-row operation waits), and a
many-row operation passes it *alone*: it waits until the primitive calls in flight have
returned, holds new ones back while it runs, and so takes effect at one instant for
every other caller of this store instance. Other processes or hosts are not held back:
a store that claims ``multi_process`` or ``multi_host`` overrides the many-row methods
with its engine's transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class Gate:
    """Shared passage for primitive calls, sole passage for many-row operations."""

    __slots__ = ("_alone", "_idle", "_in_flight", "_turns")

    def __init__(self) -> None:
        self._in_flight = 0  # shared calls running
        self._alone: asyncio.Event | None = None  # set when the sole passage ends
        self._idle: asyncio.Event | None = None  # set when the last shared call returns
        self._turns: asyncio.Lock | None = None  # many-row operations, one at a time

    async def shared(self, call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await call(*args, **kwargs)``, once no many-row operation is running or
        waiting to run."""
        while self._alone is not None:
            await self._alone.wait()
        self._in_flight += 1
        try:
            return await call(*args, **kwargs)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._idle is not None:
                self._idle.set()

    async def alone(self, call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await call(*args, **kwargs)`` with no shared call running beside it."""
        if self._turns is None:
            self._turns = asyncio.Lock()
        async with self._turns:
            ended = self._alone = asyncio.Event()  # from now on, shared calls wait
            try:
                while self._in_flight:
                    self._idle = asyncio.Event()
                    await self._idle.wait()
                self._idle = None
                return await call(*args, **kwargs)
            finally:
                self._alone = self._idle = None
                ended.set()
