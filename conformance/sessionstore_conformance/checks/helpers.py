"""Small tools the checks share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sessionstore import Session, SessionStore
from sessionstore.semantics import ID_PATTERN

from ..errors import Inexpressible, expect, expect_raises
from ..wire.values import expressible

FIELDS = ("id", "data", "version", "created_at", "updated_at", "expires_at", "owner")


def differences(expected: Session | None, actual: Any) -> list[str]:
    """The fields in which ``actual`` differs from ``expected`` (presence counts too)."""
    if expected is None or actual is None:
        return [] if expected is None and actual is None else ["presence"]
    if not isinstance(actual, Session):
        return [f"type ({type(actual).__name__}, not Session)"]
    return [f for f in FIELDS if getattr(expected, f) != getattr(actual, f)]


def expect_same(
    expected: Session | None, actual: Any, clauses: str | tuple[str, ...], what: str
) -> None:
    diff = differences(expected, actual)
    expect(
        not diff,
        clauses,
        f"{what}: differs in {', '.join(diff)}: expected {expected!r}, got {actual!r}",
    )


async def snapshot(store: SessionStore, ids: list[str]) -> list[Session | None]:
    """What ``get`` sees of these ids: the probe for "nothing changed" (ERR-2)."""
    return [await store.get(i) for i in ids]


async def expect_unchanged(
    store: SessionStore,
    ids: list[str],
    before: list[Session | None],
    clauses: tuple[str, ...],
    what: str,
) -> None:
    after = await snapshot(store, ids)
    for session_id, old, new in zip(ids, before, after, strict=True):
        diff = differences(old, new)
        expect(not diff, clauses, f"{what} changed session {session_id!r} ({', '.join(diff)})")


async def refuses(
    error: type[Exception],
    clauses: str | tuple[str, ...],
    what: str,
    call: Callable[[], Awaitable[Any]],
) -> bool:
    """``call()`` must raise ``error``; False when it cannot be made at all: a Python-only
    value for a store in another process (spec/driver-protocol.md, 9), a case left out."""
    try:
        with expect_raises(error, clauses, what):
            await call()
    except Inexpressible:
        return False
    return True


def sendable(store: Any, value: Any) -> bool:
    """Whether ``value`` can reach ``store``: always in this process; for a store in
    another process (``json_only``), only a JSON value (spec/driver-protocol.md, 9)."""
    return not getattr(store, "json_only", False) or expressible(value)


def integer_typed(store: Any, value: Any) -> bool:
    """Whether ``store`` can tell ``value`` from an integer: an integral float (``2.0``)
    is a bad count in Python, but JSON has one number type and a store in another process
    reads it as 2 (spec/driver-protocol.md, 9)."""
    integral = type(value) is float and value.is_integer()
    return not (integral and getattr(store, "json_only", False))


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` containers deep (the top object counts as one)."""
    data: dict[str, Any] = {}
    for _ in range(depth - 1):
        data = {"d": data}
    return data


def valid_id(session_id: object, max_length: int = 128) -> bool:
    """An id the store accepts (VAL-1): ``max_length`` is the store's own limit."""
    return (
        isinstance(session_id, str)
        and 1 <= len(session_id) <= max_length
        and bool(ID_PATTERN.fullmatch(session_id))
    )
