"""A correct store that cannot take an injected clock: the reference memory store on the
real clock, declaring no ``injectable_clock``. It stands for every store whose backend
keeps time itself (a server TTL, a database's ``now()``): the kit must decide its expiry
clauses in real time, within the tolerance it states."""

from __future__ import annotations

from typing import Any

from sessionstore import Capabilities
from sessionstore.backends.memory import MemoryStore


class ClocklessMemoryStore(MemoryStore):
    """The memory store on the wall clock; ``clock=`` is accepted and ignored."""

    capabilities = Capabilities()

    def __init__(self, *, clock: Any = None, **options: Any) -> None:
        super().__init__(clock=None, **options)


def clockless_factory(*, clock: Any) -> ClocklessMemoryStore:
    """A kit factory (``factory(*, clock)``) that ignores the kit's clock."""
    return ClocklessMemoryStore(clock=clock)
