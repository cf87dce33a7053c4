"""sessionstore: a session store contract, its reference stores and their factory.

The normative contract is spec/SPEC.md (shipped as ``sessionstore/_spec``); names here
cite its clause ids.

``import sessionstore`` stays cheap (tests/test_import_cost.py): the names whose modules
import pydantic, pydantic-settings or asyncio are imported on first use (``__getattr__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .contract import SessionStore, Updater
from .errors import (
    ConfigurationError,
    CorruptSession,
    ImportRejected,
    InvalidSession,
    Problem,
    SessionExists,
    SessionNotFound,
    SessionStoreError,
    SessionTooLarge,
    StoreUnavailable,
    VersionConflict,
)
from .factory import available_backends, open_store
from .values import (
    DEFAULT_LIMITS,
    TTL,
    Capabilities,
    Clock,
    ImportReport,
    JSONObject,
    Limits,
    OnConflict,
    Page,
    Session,
)

if TYPE_CHECKING:
    from .config import StoreConfig
    from .export import ExportDocument, ExportedSessions, SessionRecord
    from .service import BackupError, SessionService

#: Names imported on first use, and their modules.
_LAZY = {
    "StoreConfig": ".config",  # pydantic-settings: 200 ms
    "ExportDocument": ".export",  # pydantic: 60 ms
    "SessionRecord": ".export",
    "ExportedSessions": ".export",
    "SessionService": ".service",  # asyncio: 50 ms
    "BackupError": ".service",
}

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "TTL",
    "BackupError",
    "Capabilities",
    "Clock",
    "ConfigurationError",
    "CorruptSession",
    "ExportDocument",
    "ExportedSessions",
    "ImportRejected",
    "ImportReport",
    "InvalidSession",
    "JSONObject",
    "Limits",
    "OnConflict",
    "Page",
    "Problem",
    "Session",
    "SessionExists",
    "SessionNotFound",
    "SessionRecord",
    "SessionService",
    "SessionStore",
    "SessionStoreError",
    "SessionTooLarge",
    "StoreConfig",
    "StoreUnavailable",
    "Updater",
    "VersionConflict",
    "__version__",
    "available_backends",
    "open_store",
]


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # found by the module's own lookup from now on
    return value
