"""The value types of the public API: sessions, pages, reports, capabilities, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

#: A JSON object as the store keeps it (spec REC-2).
JSONObject = dict[str, Any]
#: The store's clock: returns the current time as an aware UTC datetime (LIVE-4).
Clock = Callable[[], datetime]
#: A time-to-live: seconds, or a timedelta (TTL-1).
TTL = float | int | timedelta
#: How ``import_`` treats an id that is already live in the store (IMPORT-4).
OnConflict = Literal["error", "skip", "replace"]


@dataclass(frozen=True, slots=True)
class Session:
    """One session as a caller sees it (REC-1). ``data`` is the caller's own copy (COPY-1)."""

    id: str
    data: JSONObject
    version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ``list`` (LIST-1); pass ``cursor`` back to get the next, None at the end."""

    sessions: list[Session]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``import_`` did (IMPORT-6)."""

    imported: int = 0
    skipped_expired: int = 0
    skipped_conflict: int = 0
    replaced: int = 0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store claims (CAP-1); the conformance kit verifies exactly what is claimed."""

    #: The store takes ``clock=`` and uses it for every liveness decision (LIVE-4).
    injectable_clock: bool = False
    #: Acknowledged writes survive close/reopen and a crash of the process.
    durable: bool = False
    #: Several processes on one host may share the backing data safely.
    multi_process: bool = False
    #: Several hosts may share the backing data safely.
    multi_host: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """Validation limits (VAL-*); the defaults are the spec's."""

    max_id_length: int = 128
    max_owner_length: int = 256
    max_depth: int = 32
    max_data_bytes: int = 1_048_576
    min_ttl: timedelta = field(default=timedelta(milliseconds=1))
    max_ttl: timedelta = field(default=timedelta(days=3650))
    max_list_limit: int = 1000


DEFAULT_LIMITS = Limits()
