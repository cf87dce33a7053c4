"""One interface for everything measured: our stores, their raw engines, and the
peers a user would pick instead.

A subject is opened on an empty working directory, filled by ``load`` (the document
of :mod:`.workload`, timed as ``import``), then driven one call at a time by the
runner. Each method does, for its subject, the work the operation's name promises:

* **ours** — the session store's own method (the contract's full work);
* **raw** — the engine underneath doing the same work the contract requires and no
  more: encode and size-check on write, a decoded private copy on read, the same SQL
  for SQLite (:mod:`.raw_sqlite`);
* **peer** — what a user of that library would write for the operation with its
  public API (which may do less: no version, no copy; see each adapter).

The point operations (create … delete, count) only return an awaitable, so an adapter
may hand back its library's own coroutine rather than wrap it in one more; the runner
awaits it inside the timing. An operation a subject cannot do says so in ``unsupported`` (op → why); the runner
records it as ``null`` with that reason rather than timing a stand-in.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any, ClassVar, Literal

Kind = Literal["ours", "raw", "peer"]
Data = dict[str, Any]
Ids = list[str]  # (inside a subject, ``list`` is the method)


class Unsupported(Exception):
    """The subject has no way to do this operation."""


async def _unsupported() -> Any:
    raise Unsupported


class Subject:
    """The base of every adapter: each op raises Unsupported unless overridden."""

    #: Unique name in the report, e.g. "ours:sqlite", "raw:memory", "peer:diskcache".
    name: ClassVar[str]
    kind: ClassVar[Kind]
    #: The engine underneath: ours and raw of one engine are paired for ratios.
    engine: ClassVar[str]
    #: Why an op is not measured for this subject (op name → reason).
    unsupported: ClassVar[dict[str, str]] = {}

    async def open(self, workdir: Path) -> None:
        """Start empty in ``workdir`` (a fresh directory for each subject and cell)."""

    async def close(self) -> None:
        """Release everything (files are removed by the runner)."""

    async def load(self, document: bytes) -> None:
        """Fill the empty store from an export document (timed as ``import``)."""
        raise Unsupported

    def create(self, id: str, data: Data) -> Awaitable[Any]:
        return _unsupported()

    def get(self, id: str) -> Awaitable[Any]:
        return _unsupported()

    def replace(self, id: str, data: Data) -> Awaitable[Any]:
        return _unsupported()

    def update(self, id: str) -> Awaitable[Any]:
        """Read, apply workload.bump to a private copy, write back."""
        return _unsupported()

    def touch(self, id: str) -> Awaitable[Any]:
        """Set the session's expiry to TTL_S from now, its data unchanged."""
        return _unsupported()

    def delete(self, id: str) -> Awaitable[Any]:
        return _unsupported()

    async def list(self, cursor: str) -> Any:
        """One page of PAGE sessions after ``cursor`` (ids and data)."""
        raise Unsupported

    def count(self) -> Awaitable[Any]:
        """The number of live sessions."""
        return _unsupported()

    async def expire(self, ids: Ids) -> None:
        """Untimed: make these sessions expired, for the ``purge`` that follows."""
        raise Unsupported

    async def purge(self) -> None:
        """Remove every expired session."""
        raise Unsupported

    async def export(self) -> bytes:
        """Every live session as one JSON document."""
        raise Unsupported
