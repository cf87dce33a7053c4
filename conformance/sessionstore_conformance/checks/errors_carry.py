"""Errors carry what the spec says they carry, as raised by the store.

A check that only asks "did it raise VersionConflict?" passes a store that reports the
wrong versions, or an error of the right name outside the hierarchy callers catch. Here
each error is provoked by a real call and then inspected: its class and every base
ERR-1 names, ``VersionConflict.expected`` and ``.actual`` exactly (REPLACE-2, DELETE-2),
and each ``ImportRejected.problem`` by its RFC 6901 pointer (IMPORT-1).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from sessionstore import (
    ImportRejected,
    InvalidSession,
    SessionExists,
    SessionNotFound,
    SessionStoreError,
    SessionTooLarge,
    VersionConflict,
)

from ..errors import expect
from ..wire.transforms import returning
from .registry import Ctx, check

#: ERR-1: each error and the classes it must also be.
BASES: dict[type[BaseException], tuple[type[BaseException], ...]] = {
    SessionNotFound: (SessionStoreError,),
    SessionExists: (SessionStoreError,),
    VersionConflict: (SessionStoreError,),
    InvalidSession: (SessionStoreError, ValueError),
    SessionTooLarge: (InvalidSession, SessionStoreError, ValueError),
    ImportRejected: (InvalidSession, SessionStoreError, ValueError),
}


async def _raised(call: Callable[[], Awaitable[Any]]) -> BaseException | None:
    try:
        await call()
    except Exception as exc:
        return exc
    return None


def _expect_error(
    exc: BaseException | None, error: type[BaseException], clauses: tuple[str, ...], what: str
) -> None:
    expect(
        exc is not None, clauses, f"{what}: returned normally instead of raising {error.__name__}"
    )
    missing = [c.__name__ for c in (error, *BASES[error]) if not isinstance(exc, c)]
    expect(
        not missing,
        clauses,
        f"{what}: raised {type(exc).__name__}({exc}), which is not a {', '.join(missing)}",
    )


@check("ERR-1", "VAL-1", "VAL-5", "REPLACE-3", "CREATE-3")
async def check_error_classes(ctx: Ctx) -> None:
    """Every error a store raises on purpose is the named class and each of its bases."""
    store = ctx.store
    await store.create({}, id="e")
    cases: list[tuple[type[BaseException], tuple[str, ...], str, Callable[[], Awaitable[Any]]]] = [
        (SessionNotFound, ("REPLACE-3",), "replace('gone')", lambda: store.replace("gone", {})),
        (SessionExists, ("CREATE-3",), "create(id='e') twice", lambda: store.create(id="e")),
        (
            VersionConflict,
            ("REPLACE-2",),
            "replace(expected_version=9)",
            lambda: store.replace("e", {}, expected_version=9),
        ),
        (InvalidSession, ("VAL-1",), "get('no spaces')", lambda: store.get("no spaces")),
        (
            SessionTooLarge,
            ("VAL-5",),
            "create(too large)",
            lambda: store.create({"k": "x" * store.limits.max_data_bytes}),
        ),
        (ImportRejected, ("IMPORT-1",), "import_('[]')", lambda: store.import_("[]")),
    ]
    for error, clauses, what, call in cases:
        _expect_error(await _raised(call), error, ("ERR-1", *clauses), what)


@check("REPLACE-2", "DELETE-2", "ERR-1")
async def check_conflict_carries_versions(ctx: Ctx) -> None:
    """VersionConflict.expected is the version asked for and .actual the current one."""
    store = ctx.store
    await store.create({"n": 0}, id="v")
    await store.replace("v", {"n": 1})
    await store.update("v", returning({"n": 2}))  # now at version 3
    calls: list[tuple[str, int, Callable[[], Awaitable[Any]]]] = [
        ("replace", 2, lambda: store.replace("v", {}, expected_version=2)),
        ("replace", 4, lambda: store.replace("v", {}, expected_version=4)),
        ("delete", 1, lambda: store.delete("v", expected_version=1)),
        ("delete", 2**40, lambda: store.delete("v", expected_version=2**40)),
    ]
    for op, stale, call in calls:
        clause = "REPLACE-2" if op == "replace" else "DELETE-2"
        exc = await _raised(call)
        _expect_error(exc, VersionConflict, (clause, "ERR-1"), f"{op}(expected_version={stale})")
        assert isinstance(exc, VersionConflict)
        got = (getattr(exc, "expected", None), getattr(exc, "actual", None))
        expect(
            got == (stale, 3) and all(type(v) is int for v in got),
            clause,
            f"{op}(expected_version={stale}) at version 3 raised VersionConflict with "
            f"expected={got[0]!r}, actual={got[1]!r}; expected expected={stale}, actual=3",
        )


def _record(session_id: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": session_id,
        "data": {},
        "version": 1,
        "created_at": "2030-01-01T00:00:00.000Z",
        "updated_at": "2030-01-01T00:00:00.000Z",
        "expires_at": None,
        "owner": None,
    }
    record.update(fields)
    return record


def _document(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": "2030-01-01T00:00:00.000Z",
        "sessions": list(records),
    }


def _nested(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(depth - 1):
        data = {"d": data}
    return data


async def _problems(ctx: Ctx, doc: dict[str, Any] | str, what: str) -> list[str]:
    exc = await _raised(lambda: ctx.store.import_(doc))
    _expect_error(exc, ImportRejected, ("IMPORT-1", "ERR-1"), what)
    problems = getattr(exc, "problems", None)
    expect(
        isinstance(problems, list) and problems,
        "IMPORT-1",
        f"{what}: ImportRejected.problems is {problems!r}, not a list of problems",
    )
    assert isinstance(problems, list)
    return [str(getattr(p, "pointer", None)) for p in problems]


def _covers(pointer: str, exact: str, floor: str) -> bool:
    """``pointer`` names the offending value ``exact``, or an ancestor no higher than
    ``floor`` (the reference stores point a data problem at its record's ``data``)."""
    return (exact + "/").startswith(pointer + "/") and (pointer + "/").startswith(floor + "/")


@check("IMPORT-1", "IMPORT-2", "ERR-1")
async def check_import_problem_pointers(ctx: Ctx) -> None:
    """ImportRejected lists every problem, each at the JSON pointer of its value."""
    store = ctx.store
    await store.create({"keep": True}, id="keep")
    schema_doc = _document(
        _record("ok"),
        _record("v0", version=0),
        _record("bad id"),
        _record("feb", created_at="2030-02-30T00:00:00.000Z"),
        _record("own", owner=""),
    )
    wanted = {
        "/sessions/1/version",
        "/sessions/2/id",
        "/sessions/3/created_at",
        "/sessions/4/owner",
    }
    got = await _problems(ctx, schema_doc, "import of 4 records that break the schema")
    expect(
        set(got) == wanted,
        "IMPORT-1",
        f"problems point at {sorted(got)}; the offending values are at {sorted(wanted)}",
    )
    limit = store.limits.max_data_bytes
    value_doc = _document(
        _record("a"),
        _record("a"),
        _record("big", data={"x/y": {"~z": 2**53}}),
        _record("deep", data=_nested(store.limits.max_depth + 1)),
        _record("wide", data={"k": "x" * limit}),
        _record("fine", data={"x/y": {"~z": 2**53 - 1}}),
        _record("fits", data={"k": "x" * (limit - len('{"k":""}'))}),  # exactly the limit
        _record("as_deep", data=_nested(store.limits.max_depth)),
    )
    expected = [  # (exact pointer of the offending value, the highest pointer accepted)
        ("/sessions/1/id", "/sessions/1/id"),
        ("/sessions/2/data/x~1y/~0z", "/sessions/2/data"),
        ("/sessions/3/data" + "/d" * store.limits.max_depth, "/sessions/3/data"),
        ("/sessions/4/data", "/sessions/4/data"),
    ]
    # A document arrives as a mapping or as JSON text; the two take different paths.
    for form, doc in (("mapping", value_doc), ("JSON text", json.dumps(value_doc))):
        what = f"import of 4 records with bad values, as {form}"
        got = await _problems(ctx, doc, what)
        for exact, floor in expected:
            expect(
                any(_covers(p, exact, floor) for p in got),
                "IMPORT-1",
                f"{what}: no problem points at {exact} (or its record's data); problems: {got}",
            )
        expect(
            len(got) == len(expected),
            "IMPORT-1",
            f"{what}: {len(got)} problems for {len(expected)} offending values: {got}",
        )
    expect(
        await store.count() == 1 and await store.get("a") is None,
        "IMPORT-2",
        "a rejected import changed the store",
    )
