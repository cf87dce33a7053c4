"""Between Python values and the driver protocol's JSON (spec/driver-protocol.md, 3, 8, 9).

Arguments go out as the caller gave them, so that the remote store's own validation is
what the kit checks; only a ``timedelta`` ttl becomes its number of seconds (3.2). Values
no JSON text can carry (section 9) raise :class:`~..errors.Inexpressible`: the check that
made them cannot decide on this target. Answers come back as the contract's Python types.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from sessionstore import (
    Capabilities,
    CorruptSession,
    ImportRejected,
    ImportReport,
    InvalidSession,
    Limits,
    Page,
    Problem,
    Session,
    SessionExists,
    SessionNotFound,
    SessionStoreError,
    SessionTooLarge,
    StoreUnavailable,
    VersionConflict,
)
from sessionstore.times import to_ms

from ..errors import Inexpressible

_JSON_SCALARS = (str, int, float, bool, type(None))
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: The contract's errors by their wire name (ERR-1; 8.1).
ERRORS: dict[str, type[SessionStoreError]] = {
    cls.__name__: cls
    for cls in (
        SessionNotFound,
        SessionExists,
        InvalidSession,
        SessionTooLarge,
        CorruptSession,
        StoreUnavailable,
    )
}


class DriverError(Exception):
    """The server broke the protocol, or refused a request the kit made (ProtocolError,
    Unsupported): neither is the store's answer."""


class RemoteError(Exception):
    """The store threw something that is not one of the contract's errors (8.2,
    UnexpectedError): to the kit, as if a Python store had crashed with it."""


def expressible(value: Any) -> bool:
    """Whether JSON carries ``value`` exactly: the exact JSON types, string keys, finite
    floats (section 9)."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and expressible(v) for k, v in value.items())
    if kind is list:
        return all(expressible(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return kind in _JSON_SCALARS


def argument(value: Any, what: str) -> Any:
    """One argument as it goes on the wire, or :class:`Inexpressible`."""
    if type(value) is timedelta:
        return value / timedelta(seconds=1)  # a ttl, as seconds (3.2)
    if not expressible(value):
        raise Inexpressible(f"{what} {value!r} has no JSON form (driver protocol, section 9)")
    return value


def encode(message: dict[str, Any]) -> bytes:
    """One message: compact JSON, ASCII (lone surrogates escaped, 1.5), one line."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _time(text: Any, what: str) -> int:
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise DriverError(f"the server sent {what} {text!r}, not a timestamp (REC-5, 3.1)")
    return to_ms(datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc))


def session(raw: Any) -> Session:
    """A session from its wire form (3.1)."""
    if not isinstance(raw, dict):
        raise DriverError(f"the server sent {raw!r} where a session belongs")
    try:
        expires = raw["expires_at"]
        return Session.from_ms(
            raw["id"],
            raw["data"],
            raw["version"],
            _time(raw["created_at"], "created_at"),
            _time(raw["updated_at"], "updated_at"),
            None if expires is None else _time(expires, "expires_at"),
            raw.get("owner"),
        )
    except KeyError as exc:
        raise DriverError(f"the server sent a session without {exc}: {raw!r}") from None


def maybe_session(raw: Any) -> Session | None:
    return None if raw is None else session(raw)


def page(raw: Any) -> Page:
    return Page([session(s) for s in raw["sessions"]], raw["cursor"])


def import_report(raw: Any) -> ImportReport:
    fields = ("imported", "skipped_expired", "skipped_conflict", "replaced")
    return ImportReport(**{name: raw[name] for name in fields})


def capabilities(hello: dict[str, Any]) -> Capabilities:
    return Capabilities(**hello["capabilities"])


def limits(hello: dict[str, Any]) -> Limits:
    given = dict(hello["limits"])
    return Limits(
        min_ttl=timedelta(milliseconds=given.pop("min_ttl_ms")),
        max_ttl=timedelta(milliseconds=given.pop("max_ttl_ms")),
        **given,
    )


def error(raw: dict[str, Any], stderr: str = "") -> Exception:
    """The exception a store error stands for (8.1); the protocol's own (8.2) as
    :class:`DriverError` or :class:`RemoteError`. ``CallbackRaised`` is the caller's."""
    kind, message = raw.get("type"), str(raw.get("message", ""))
    if kind in ERRORS:
        return ERRORS[kind](message)
    if kind == "VersionConflict":
        return VersionConflict(message, expected=raw["expected"], actual=raw["actual"])
    if kind == "ImportRejected":
        return ImportRejected([Problem(p["pointer"], p["message"]) for p in raw["problems"]])
    if kind == "UnexpectedError":
        stack = f"\n{raw['stack']}" if raw.get("stack") else ""
        return RemoteError(f"{raw.get('name', 'Error')}: {message}{stack}")
    tail = f"\n--- the server's stderr ---\n{stderr}" if stderr else ""
    return DriverError(f"{kind}: {message}{tail}")
