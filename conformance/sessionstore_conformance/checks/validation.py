"""Bad input: every public call refuses it with the typed error and changes nothing."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from enum import Enum, IntEnum
from functools import partial
from typing import Any
from uuid import UUID

import orjson

from sessionstore import (
    ImportRejected,
    InvalidSession,
    Session,
    SessionStore,
    SessionTooLarge,
    VersionConflict,
)

from ..errors import ClauseViolation, expect, expect_raises
from ..schemas import export_errors
from ..wire.transforms import identity, raising, returning
from .helpers import expect_unchanged, integer_typed, nested, refuses, snapshot
from .imports import document, record
from .registry import Ctx, check

#: Bad ids; an id one character over the store's own max_id_length is added per store.
BAD_IDS: list[Any] = ["", "a b", "semi;colon", "é", "a/b", "a.b", 5, None, b"bytes"]


class _Level(IntEnum):
    """Equal to the int 1, and encoded as 1 by JSON libraries: still not an int."""

    LOW = 1


class _Colour(str, Enum):
    RED = "red"


class _Text(str):
    pass


class _Count(int):
    pass


class _Ratio(float):
    pass


BAD_DATA: list[Any] = [
    [1],
    "text",
    7,
    {1: "int key"},
    {"a": {1, 2}},
    {"a": (1, 2)},
    {"a": b"bytes"},
    {"a": object()},
    {"a": {"b": [timedelta(1)]}},
    # subclasses compare equal to what a JSON round trip gives back, so only a check of
    # the exact type sees them (VAL-2)
    {"a": _Level.LOW},
    {"a": [{"b": _Colour.RED}]},
    {"a": _Text("t")},
    {"a": _Count(1)},
    {"a": _Ratio(0.5)},
    {"a": OrderedDict(b=1)},
    {_Text("k"): 1},
    {"a": UUID(int=1)},
    {"a": Decimal("1.5")},
]
BAD_NUMBERS: list[Any] = [
    {"a": float("nan")},
    {"a": float("inf")},
    {"a": [float("-inf")]},
    {"a": 2**53},
    {"a": -(2**53)},
    {"a": 10**30},
    {"a": "\ud800"},
    {"\udfff": 1},
]
BAD_TTLS: list[Any] = [
    0,
    -1,
    0.0,
    -0.5,
    0.0004,
    True,
    "5",
    float("nan"),
    float("inf"),
    timedelta(0),
    timedelta(seconds=-1),
    10**12,
    1e308,  # seconds that overflow a float once scaled to microseconds
    None,
]


_same = identity()


class _Called(Exception):
    """An update's fn ran although the update's arguments were bad."""


async def _refused(
    store: SessionStore,
    error: type[Exception],
    clause: str,
    calls: dict[str, Callable[[], Awaitable[Any]]],
) -> None:
    ids = ["v"]
    before = await snapshot(store, ids)
    for what, call in calls.items():
        if not await refuses(error, clause, what, call):
            continue
        await expect_unchanged(store, ids, before, (clause, "ERR-2"), what)
    expect(await store.count() == 1, ("ERR-2", clause), "a refused call created a session")


@check("VAL-1", "ERR-1", "ERR-2")
async def check_bad_ids(ctx: Ctx) -> None:
    """Ids outside 1..128 of A-Z a-z 0-9 _ - raise InvalidSession (a ValueError); a store
    built with another max_id_length applies its own (Validation limits)."""
    store = ctx.store
    longest = store.limits.max_id_length
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for bad in [*BAD_IDS, "x" * (longest + 1)]:
        if bad is not None:
            calls[f"create(id={bad!r})"] = partial(store.create, {}, id=bad)
        calls[f"get({bad!r})"] = partial(store.get, bad)
        calls[f"replace({bad!r})"] = partial(store.replace, bad, {})
        calls[f"update({bad!r})"] = partial(store.update, bad, _same)
        calls[f"touch({bad!r})"] = partial(store.touch, bad, 5)
        calls[f"delete({bad!r})"] = partial(store.delete, bad)
    await _refused(store, InvalidSession, "VAL-1", calls)
    await _refused(store, ValueError, "ERR-1", {"get('a b')": lambda: store.get("a b")})
    ok = await store.create({}, id=("A-z_09" + "x" * longest)[:longest])
    expect(len(ok.id) == longest, "VAL-1", f"a {longest}-character id was refused")


async def _created_at_depth_limit(store: SessionStore, data: Any, what: str) -> Session:
    """``create(data)`` for data exactly at the depth limit: refusing it breaks VAL-4."""
    try:
        return await store.create(data)
    except InvalidSession as exc:
        raise ClauseViolation(("VAL-4",), f"{what} was refused: {exc}") from exc


@check("VAL-2", "ERR-2")
async def check_bad_data(ctx: Ctx) -> None:
    """Data must be a dict of exact JSON types with str keys."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for bad in BAD_DATA:
        calls[f"create({bad!r})"] = partial(store.create, bad)
        calls[f"replace('v', {bad!r})"] = partial(store.replace, "v", bad)
    await _refused(store, InvalidSession, "VAL-2", calls)


@check("VAL-3", "ERR-2")
async def check_bad_numbers(ctx: Ctx) -> None:
    """No NaN or Infinity, integers within +-(2**53-1), no lone surrogates."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for bad in BAD_NUMBERS:
        calls[f"create({bad!r})"] = partial(store.create, bad)
        calls[f"replace('v', {bad!r})"] = partial(store.replace, "v", bad)
        calls[f"update -> {bad!r}"] = partial(store.update, "v", returning(bad))
    await _refused(store, InvalidSession, "VAL-3", calls)
    edge = await store.create({"max": 2**53 - 1, "min": -(2**53 - 1), "f": 1e308, "z": -0.0})
    expect(edge.data["max"] == 2**53 - 1, "VAL-3", "the largest safe integer did not round-trip")


@check("VAL-4", "ERR-2")
async def check_depth(ctx: Ctx) -> None:
    """Nesting up to 32 containers is accepted, 33 is refused."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    deep = store.limits.max_depth
    made = await store.create(nested(deep))
    expect(made.data == nested(deep), "VAL-4", f"data {deep} deep did not round-trip")
    await store.delete(made.id)
    too_deep = nested(deep + 1)
    in_list: dict[str, Any] = {"l": []}
    inner: list[Any] = in_list["l"]
    for _ in range(deep - 1):
        inner.append([])
        inner = inner[0]
    await _refused(
        store,
        InvalidSession,
        "VAL-4",
        {
            f"create({deep + 1} deep)": lambda: store.create(too_deep),
            f"replace({deep + 1} deep)": lambda: store.replace("v", too_deep),
            f"create(lists {deep + 1} deep)": lambda: store.create(in_list),
        },
    )


#: Strings that look like JSON structure once escaped: brackets, quotes and backslashes.
TRICKY_STRINGS = ["[", "]]", "{", "}", '"', '\\"', "\\", '"]', '\\["', "a\\\\", '"{[', ""]


def _wide_and_deep(depth: int) -> dict[str, Any]:
    """A session ``depth`` containers deep along one path, with many more containers
    beside it and strings full of brackets, quotes and backslashes at every level: a
    depth count that trusts brackets in the text, or loses track of escapes, gets it
    wrong."""
    top: dict[str, Any] = {"wide": [[] for _ in range(depth)], "tricky": list(TRICKY_STRINGS)}
    level = top
    for i in range(depth - 1):
        child: dict[str, Any] = {"s": TRICKY_STRINGS[i % len(TRICKY_STRINGS)], "e": {}}
        level["next" if i % 2 else "n\\]"] = child
        level = child
    return top


@check("VAL-4", "REC-2", "ERR-2")
async def check_depth_beside_tricky_strings(ctx: Ctx) -> None:
    """Depth is counted in containers, not in brackets that strings happen to hold: data
    exactly at the limit with more containers beside it and bracket-, quote- and
    backslash-filled strings is accepted whole; one level more is refused."""
    store = ctx.store
    deep = store.limits.max_depth
    # every level but the last holds an empty object too: the deepest path is `deep`
    at_limit = _wide_and_deep(deep - 1)
    made = await _created_at_depth_limit(
        store, at_limit, f"data {deep} containers deep (with tricky strings)"
    )
    expect(made.data == at_limit, ("REC-2",), "data with tricky strings did not round-trip")
    got = await store.get(made.id)
    expect(got is not None and got.data == at_limit, ("REC-2",), "get changed tricky data")
    over = _wide_and_deep(deep)
    await _refused(
        store,
        InvalidSession,
        "VAL-4",
        {f"create({deep + 1} deep, tricky)": lambda: store.create(over)},
    )


#: Escape-heavy text: backslashes and lone quotes next to brackets, for keys and values
#: (a lone quote leaves an odd number of quotes in the text unless its escape is read).
ESCAPED = ["\\", '\\"', '"\\', "a\\\\", "\\]", "[\\", '\\["', '"]', "}{", "x\\"]
ESCAPED += ['"', '"[', ']"', '"{', '}"']


def _varied_chain(depth: int, seed: int) -> dict[str, Any]:
    """Data exactly ``depth`` containers deep along one path that alternates objects and
    lists at random (seeded), with escape-heavy keys and strings and shallow containers
    beside it at every level."""
    pick = random.Random(seed).choice
    inner: Any = pick(ESCAPED)
    for below in range(depth - 1):  # ``inner`` is ``below`` containers deep
        beside: list[Any] = [pick(ESCAPED), [], {}] if below else [pick(ESCAPED)]
        if pick((True, False)):
            inner = {pick(ESCAPED) + str(below): inner, **dict(zip("wxy", beside, strict=False))}
        else:
            inner = [pick(ESCAPED), inner, *beside]
    return {pick(ESCAPED): inner, "s": pick(ESCAPED)}


def _bare_lists(depth: int) -> dict[str, Any]:
    """An object holding lists nested straight inside each other, ``depth`` deep in all
    (brackets side by side in the text)."""
    inner: list[Any] = []
    for _ in range(depth - 2):
        inner = [inner]
    return {"l": inner}


@check("VAL-4", "REC-2", "ERR-2", "IMPORT-1")
async def check_depth_in_escaped_text(ctx: Ctx) -> None:
    """Depth is decided on the data, however its strings look once escaped: for many
    seeded shapes mixing objects and lists, with backslashes next to quotes and brackets
    in keys and values, data at the depth limit round-trips and one level more is
    refused, whether written or imported as JSON text (and lists nested bare too)."""
    store = ctx.store
    deep = store.limits.max_depth
    await store.create({"n": 1}, id="v")
    over: dict[str, Callable[[], Awaitable[Any]]] = {}
    for seed in range(48):  # a few seeds in 48 catch each miscount at depth 32
        fits = _varied_chain(deep, seed)
        made = await _created_at_depth_limit(store, fits, f"data {deep} deep (seed {seed})")
        expect(made.data == fits, "REC-2", f"escape-heavy data (seed {seed}) changed")
        await store.delete(made.id)
        over[f"create({deep + 1} deep, seed {seed})"] = partial(
            store.create, _varied_chain(deep + 1, seed)
        )
    await _refused(store, InvalidSession, "VAL-4", over)
    shapes = [*(_varied_chain(deep, seed) for seed in range(48)), _bare_lists(deep)]
    text = orjson.dumps(document(*(record(f"i{n}", data=d) for n, d in enumerate(shapes))))
    report = await store.import_(text)
    expect(report.imported == len(shapes), ("IMPORT-1", "VAL-4"), f"imported {report!r}")
    for n, fits in enumerate(shapes):
        got = await store.get(f"i{n}")
        expect(got is not None and got.data == fits, "REC-2", f"imported shape {n} changed")
    overs = [*(_varied_chain(deep + 1, seed) for seed in range(48)), _bare_lists(deep + 1)]
    for n, deeper in enumerate(overs):
        with expect_raises(ImportRejected, ("IMPORT-1", "VAL-4"), f"import {deep + 1} deep"):
            await store.import_(orjson.dumps(document(record(f"o{n}", data=deeper))))


#: The largest float: finite, but two of them sum to infinity.
HUGE = 1.7976931348623157e308


def _doubtful(depth: int) -> dict[str, Any]:
    """Valid data exactly ``depth`` containers deep (objects and lists by turns) holding
    every JSON type, the extreme safe integers and, at every level, two of the largest
    floats beside a null: a validator that proves "no NaN or Infinity" by summing the
    floats doubts it, and whatever it then does must still accept it."""
    atoms = [HUGE, -HUGE, None, True, False, "s", 2**53 - 1, -(2**53 - 1), 0, 0.5]
    inner: Any = [HUGE, *atoms]
    for level in range(depth - 2):
        inner = {"a/~b": inner, "x": HUGE, "n": None} if level % 2 else [inner, *atoms]
    return {"deep": inner, "big": HUGE, "bigger": HUGE, "none": None, "all": atoms}


@check("VAL-3", "VAL-4", "REC-2")
async def check_doubtful_valid_data(ctx: Ctx) -> None:
    """Finite floats whose sum overflows, beside a null and every other JSON type, at
    exactly the depth limit: written by create, replace and update, the data is
    accepted and read back unchanged."""
    store = ctx.store
    data = _doubtful(store.limits.max_depth)
    writes: dict[str, Callable[[str], Awaitable[Session]]] = {  # given the last id written
        "create": lambda _: store.create(data),
        "replace": lambda last: store.replace(last, data),
        "update": lambda last: store.update(last, returning(data)),
    }
    last = ""
    for op, write in writes.items():
        try:
            last = (written := await write(last)).id
        except InvalidSession as exc:
            raise ClauseViolation(("VAL-3", "VAL-4"), f"{op} refused valid data: {exc}") from exc
        got = await store.get(last)
        expect(
            written.data == data and got is not None and got.data == data,
            "REC-2",
            f"data holding the largest floats changed after {op}",
        )


@check("VAL-5", "ERR-2")
async def check_size(ctx: Ctx) -> None:
    """Encoded data up to max_data_bytes is accepted; one byte more is SessionTooLarge."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    limit = store.limits.max_data_bytes
    overhead = len('{"k":""}')
    fits = await store.create({"k": "x" * (limit - overhead)})
    expect(len(fits.data["k"]) == limit - overhead, "VAL-5", "data of exactly the limit was cut")
    await store.delete(fits.id)
    big = {"k": "x" * (limit - overhead + 1)}
    wide = {"k": "é" * ((limit - overhead) // 2 + 1)}  # 2 bytes each in UTF-8
    await _refused(
        store,
        SessionTooLarge,
        "VAL-5",
        {
            "create(limit + 1 bytes)": lambda: store.create(big),
            "replace(limit + 1 bytes)": lambda: store.replace("v", big),
            "update -> limit + 1 bytes": lambda: store.update("v", returning(big)),
            "create(limit + 1 UTF-8 bytes)": lambda: store.create(wide),
        },
    )


@check("VAL-6", "TTL-1", "ERR-2")
async def check_bad_ttls(ctx: Ctx) -> None:
    """ttl must be 1 ms .. 3650 days (or the store's own max_ttl), as seconds or a
    timedelta."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for bad in [*BAD_TTLS, store.limits.max_ttl + timedelta(seconds=1)]:
        if bad is not None:
            calls[f"create(ttl={bad!r})"] = partial(store.create, {}, ttl=bad)
            calls[f"replace(ttl={bad!r})"] = partial(store.replace, "v", {}, ttl=bad)
            calls[f"update(ttl={bad!r})"] = partial(store.update, "v", _same, ttl=bad)
        calls[f"touch(ttl={bad!r})"] = partial(store.touch, "v", bad)
    await _refused(store, InvalidSession, "VAL-6", calls)


@check("VAL-7", "LIST-3", "ERR-2")
async def check_bad_arguments(ctx: Ctx) -> None:
    """owner, expected_version, limit, cursor and on_conflict are checked too, against
    the store's own limits (a store built with other limits applies those)."""
    store, limits = ctx.store, ctx.store.limits
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    too_long = "x" * (limits.max_owner_length + 1)
    bad_owners: list[Any] = ["", 5, too_long, b"me", "\ud800", "me\udfff"]
    for owner in bad_owners:
        calls[f"create(owner={owner!r})"] = partial(store.create, {}, owner=owner)
        calls[f"get(owner={owner!r})"] = partial(store.get, "v", owner=owner)
    # every call that takes an owner checks it, the longest one past the limit included
    calls["replace(owner=too long)"] = partial(store.replace, "v", {}, owner=too_long)
    calls["update(owner=too long)"] = partial(store.update, "v", _same, owner=too_long)
    calls["touch(owner=too long)"] = partial(store.touch, "v", 5, owner=too_long)
    calls["delete(owner=too long)"] = partial(store.delete, "v", owner=too_long)
    bad_versions: list[Any] = [0, -1, "1", True, 1.5, 2**53]
    for version in bad_versions:
        calls[f"replace(expected_version={version!r})"] = partial(
            store.replace, "v", {}, expected_version=version
        )
        calls[f"delete(expected_version={version!r})"] = partial(
            store.delete, "v", expected_version=version
        )
    calls["import_(on_conflict='merge')"] = lambda: store.import_(
        {
            "format": "sessionstore-export",
            "format_version": 1,
            "exported_at": "2030-01-01T00:00:00.000Z",
            "sessions": [],
        },
        on_conflict="merge",  # type: ignore[arg-type]  # a bad value on purpose
    )
    await _refused(store, InvalidSession, "VAL-7", calls)
    bad_limits: list[Any] = [0, -1, limits.max_list_limit + 1, "3", True, 2.0]
    bad_limits = [limit for limit in bad_limits if integer_typed(store, limit)]
    list_calls: dict[str, Callable[[], Awaitable[Any]]] = {
        f"list(limit={limit!r})": partial(store.list, limit=limit) for limit in bad_limits
    }
    list_calls["list(cursor='not a cursor!')"] = lambda: store.list(cursor="not a cursor!")
    long_cursor = "c" * (limits.max_id_length + 1)  # no id this store accepts: no cursor
    list_calls["list(cursor=id too long)"] = lambda: store.list(cursor=long_cursor)
    await _refused(store, InvalidSession, "LIST-3", list_calls)


@check("VAL-1", "VAL-3", "VAL-6", "VAL-7", "LIST-3", "ERR-2")
async def check_validated_first(ctx: Ctx) -> None:
    """Arguments are validated before any stored state is read: bad input is
    InvalidSession whether the session is missing, live, owned by another or at another
    version, never SessionNotFound, SessionExists, VersionConflict, None or False."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    await store.create({"n": 2}, id="mine", owner="me")
    called: list[str] = []
    # in another process, a call of fn shows as its error instead of InvalidSession
    fn = raising(_Called("fn was called")).observed(called.append)

    nan = {"a": float("nan")}
    cases: dict[str, tuple[str, Callable[[], Awaitable[Any]]]] = {
        # against a missing session: must not be SessionNotFound / None / False
        "get('gone', owner='')": ("VAL-7", lambda: store.get("gone", owner="")),
        "replace('gone', NaN)": ("VAL-3", lambda: store.replace("gone", nan)),
        "replace('gone', ttl=0)": ("VAL-6", lambda: store.replace("gone", {}, ttl=0)),
        "replace('gone', expected_version=0)": (
            "VAL-7",
            lambda: store.replace("gone", {}, expected_version=0),
        ),
        "replace('gone', owner='')": ("VAL-7", lambda: store.replace("gone", {}, owner="")),
        "update('gone', ttl=0)": ("VAL-6", lambda: store.update("gone", fn, ttl=0)),
        "update('gone', owner=5)": ("VAL-7", lambda: store.update("gone", fn, owner=5)),  # type: ignore[arg-type]
        "touch('gone', 0)": ("VAL-6", lambda: store.touch("gone", 0)),
        "touch('gone', 5, owner='')": ("VAL-7", lambda: store.touch("gone", 5, owner="")),
        "delete('gone', expected_version=0)": (
            "VAL-7",
            lambda: store.delete("gone", expected_version=0),
        ),
        "delete('gone', owner='')": ("VAL-7", lambda: store.delete("gone", owner="")),
        # against a live session: must not be SessionExists / VersionConflict / a write
        "create(id='v', data=NaN)": ("VAL-3", lambda: store.create(nan, id="v")),
        "create(id='v', ttl=0)": ("VAL-6", lambda: store.create({}, id="v", ttl=0)),
        "create(id='v', owner='')": ("VAL-7", lambda: store.create({}, id="v", owner="")),
        "replace('v', expected_version=0)": (
            "VAL-7",
            lambda: store.replace("v", {}, expected_version=0),
        ),
        "replace('v', NaN, expected_version=9)": (
            "VAL-3",
            lambda: store.replace("v", nan, expected_version=9),
        ),
        "replace('v', ttl=0, expected_version=9)": (
            "VAL-6",
            lambda: store.replace("v", {}, ttl=0, expected_version=9),
        ),
        "update('v', ttl=-1)": ("VAL-6", lambda: store.update("v", fn, ttl=-1)),
        "delete('v', expected_version=True)": (
            "VAL-7",
            lambda: store.delete("v", expected_version=True),
        ),
        "touch('v', 10**12)": ("VAL-6", lambda: store.touch("v", 10**12)),
        # against a session another owner holds: must not be "not found"
        "get('mine', owner='x' * 257)": ("VAL-7", lambda: store.get("mine", owner="x" * 257)),
        "replace('mine', ttl=0, owner='other')": (
            "VAL-6",
            lambda: store.replace("mine", {}, ttl=0, owner="other"),
        ),
        "touch('mine', 0, owner='other')": ("VAL-6", lambda: store.touch("mine", 0, owner="other")),
        "delete('mine', expected_version=0, owner='other')": (
            "VAL-7",
            lambda: store.delete("mine", expected_version=0, owner="other"),
        ),
        # with an empty page to read
        "list(cursor='x', limit=0)": ("LIST-3", lambda: store.list(cursor="x", limit=0)),
        "list(cursor='no spaces')": ("LIST-3", lambda: store.list(cursor="no spaces")),
        "get('bad id', owner='me')": ("VAL-1", lambda: store.get("bad id", owner="me")),
    }
    ids = ["v", "mine"]
    before = await snapshot(store, ids)
    for what, (clause, call) in cases.items():
        if not await refuses(InvalidSession, clause, what, call):
            continue
        await expect_unchanged(store, ids, before, (clause, "ERR-2"), what)
    expect(not called, ("VAL-6", "VAL-7"), "update called fn although its arguments were bad")
    expect(await store.count() == 2, "ERR-2", "a refused call created a session")


@check("LIST-3", "VAL-7", "VAL-1")
async def check_bounds_are_inclusive(ctx: Ctx) -> None:
    """The largest list limit, the longest owner and id, and the smallest version are
    accepted: each range in Validation limits includes its ends."""
    store, limits = ctx.store, ctx.store.limits
    longest_owner = "o" * limits.max_owner_length
    made = await store.create({}, id="i" * limits.max_id_length, owner=longest_owner)
    expect(made.owner == longest_owner, "VAL-7", "an owner of the largest length was refused")
    seen = await store.get(made.id, owner=longest_owner)
    expect(seen is not None, "VAL-7", "get with an owner of the largest length found nothing")
    shortest = await store.create({}, id="x", owner="a")  # both ranges start at 1
    expect(shortest.owner == "a", "VAL-7", "an owner of one character was refused")
    expect(await store.get("x", owner="a") is not None, "VAL-7", "get(owner='a') found nothing")
    await store.delete("x", owner="a")
    page = await store.list(limit=limits.max_list_limit)
    expect(
        [s.id for s in page.sessions] == [made.id] and page.cursor is None,
        "LIST-3",
        f"list(limit={limits.max_list_limit}) returned {page!r}",
    )
    single = await store.list(limit=1)
    expect(len(single.sessions) == 1, "LIST-3", f"list(limit=1) returned {single!r}")
    ok = await store.replace(made.id, {"v": 2}, expected_version=1, owner=longest_owner)
    expect(ok.version == 2, "VAL-7", "replace with expected_version=1 at version 1 failed")
    with expect_raises(
        VersionConflict, ("VAL-7", "REPLACE-2"), "replace(expected_version=2**53-1)"
    ):
        await store.replace(made.id, {}, expected_version=2**53 - 1)
    expect(
        await store.delete(made.id, expected_version=2, owner=longest_owner),
        "VAL-7",
        "delete with the current expected_version returned False",
    )


@check("EXPORT-1", "VAL-1", "VAL-7")
async def check_accepted_extremes_export(ctx: Ctx) -> None:
    """A session at the extremes the store accepts — its longest id and owner, its
    longest ttl, an owner of control, non-BMP and line-separator characters, the largest
    and smallest floats — appears in a valid export document, streamed or whole: every
    session a store accepts can be exported (Validation limits, EXPORT-1)."""
    store, limits = ctx.store, ctx.store.limits
    owner = ("\x00\u2028\U0001f600ü" * limits.max_owner_length)[: limits.max_owner_length]
    data = {"max": 1.7976931348623157e308, "tiny": 5e-324, "int": -(2**53 - 1), "s": owner}
    made = await store.create(data, id="i" * limits.max_id_length, owner=owner, ttl=limits.max_ttl)
    chunks = getattr(store, "export_chunks", None)
    texts = {"export()": (await store.export()).to_json()}
    if chunks is not None:
        texts["export_chunks()"] = b"".join([piece async for piece in chunks()])
    for how, text in texts.items():
        document = orjson.loads(text)
        problems = export_errors(document)
        expect(not problems, "EXPORT-1", f"{how} of {made!r} is not valid: {problems[:3]}")
        (session,) = document["sessions"]
        expect(
            (session["id"], session["owner"], session["data"]) == (made.id, owner, data),
            "EXPORT-1",
            f"{how} changed the session: {session!r}",
        )
