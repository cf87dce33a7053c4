"""A store that is right but slow: the latency budgets (PERF-1) must catch it.

:class:`DelayedGet` is the memory store with a 5 ms wait in ``get`` — a remote cache
behind a slow link, say. Every answer is correct, so only the latency check can tell;
its in-process budget (p99 under 1 ms) is exceeded on every run, while the reference
memory store stays within it.
"""

from __future__ import annotations

import asyncio

from sessionstore import Session
from sessionstore.backends.memory import MemoryStore

from .stores import Mutant

#: Seconds every get waits before it answers.
DELAY = 0.005


class DelayedGet(MemoryStore):
    """get waits 5 ms (without blocking the event loop), then answers as the memory store
    does (breaks PERF-1's in-process budget)."""

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        await asyncio.sleep(DELAY)
        return await super().get(id, owner=owner)


#: Caught by the latency check alone, and only as a SHOULD (advisory unless enforced).
LATENCY: list[Mutant] = [Mutant(DelayedGet, ("PERF-1",))]
