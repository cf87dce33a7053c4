"""sessionstore: a session store contract, its reference stores and their factory.

The normative contract is spec/SPEC.md (shipped as ``sessionstore/_spec``); names here
cite its clause ids.
"""

from __future__ import annotations

from .config import StoreConfig
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
from .export import ExportDocument, SessionRecord
from .factory import available_backends, open_store
from .service import BackupError, SessionService
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
