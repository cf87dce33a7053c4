"""The one error hierarchy of the contract (spec clauses ERR-1 .. ERR-4).

Every error a store raises on purpose is a :class:`SessionStoreError`; a failed call
changes nothing (ERR-2).
"""

from __future__ import annotations

from dataclasses import dataclass


class SessionStoreError(Exception):
    """Base class of every error raised by a session store."""


class SessionNotFound(SessionStoreError):
    """No live session has this id (or it belongs to another owner)."""


class SessionExists(SessionStoreError):
    """``create`` was given the id of a live session."""


class VersionConflict(SessionStoreError):
    """``expected_version`` did not match the session's current version."""

    def __init__(self, message: str, *, expected: int, actual: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class InvalidSession(SessionStoreError, ValueError):
    """A bad id, data, ttl, owner or argument: the call was refused before any change."""


class ConfigurationError(SessionStoreError, ValueError):
    """A store cannot be opened as configured: a bad store URL, URL option, constructor
    argument or ``SESSION_STORE_*`` variable. Raised when a store is opened, never by its
    operations; the message is one line that names the setting."""


class SessionTooLarge(InvalidSession):
    """The encoded data is larger than the store's limit."""


class CorruptSession(SessionStoreError):
    """Stored bytes that do not decode to a valid session: raised, never returned."""


class StoreUnavailable(SessionStoreError):
    """The backend cannot be reached, or the store is closed."""


@dataclass(frozen=True)
class Problem:
    """One reason an import document was rejected, located by a JSON pointer (RFC 6901)."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class ImportRejected(InvalidSession):
    """The import document was rejected whole; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"import rejected, {len(problems)} problem(s): {shown}{more}")
        self.problems = problems
