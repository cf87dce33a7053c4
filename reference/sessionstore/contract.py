"""The session store contract as a Python protocol (spec/SPEC.md is the normative text)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .values import TTL, Capabilities, ImportReport, JSONObject, Limits, OnConflict, Page, Session

if TYPE_CHECKING:  # pydantic, behind it, is imported when a store is used
    from .export import ExportDocument

#: ``update``'s callback: receives a copy of the data, returns the new data (UPDATE-1).
Updater = Callable[[JSONObject], JSONObject]


@runtime_checkable
class SessionStore(Protocol):
    """What every session store offers. Every method is a coroutine."""

    capabilities: Capabilities
    limits: Limits
    #: Applied by ``create`` when it is given no ttl; None means "never expires" (TTL-3).
    default_ttl: TTL | None

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session: ...

    async def get(self, id: str, *, owner: str | None = None) -> Session | None: ...

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session: ...

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session: ...

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session: ...

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool: ...

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page: ...

    async def count(self) -> int: ...

    async def purge_expired(self) -> int: ...

    async def export(self) -> ExportDocument: ...

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> SessionStore: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
