"""Bad input: every public call refuses it with the typed error and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sessionstore import InvalidSession, SessionStore, SessionTooLarge

from ..errors import expect, expect_raises
from .helpers import expect_unchanged, returns, snapshot
from .registry import Ctx, check

BAD_IDS: list[Any] = ["", "a b", "semi;colon", "é", "x" * 129, "a/b", "a.b", 5, None, b"bytes"]
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
    timedelta(days=3650, seconds=1),
    10**12,
    None,
]


def _same(data: dict[str, Any]) -> dict[str, Any]:
    return data


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` containers deep (the top object counts as one)."""
    data: dict[str, Any] = {}
    for _ in range(depth - 1):
        data = {"d": data}
    return data


async def _refused(
    store: SessionStore,
    error: type[Exception],
    clause: str,
    calls: dict[str, Callable[[], Awaitable[Any]]],
) -> None:
    ids = ["v"]
    before = await snapshot(store, ids)
    for what, call in calls.items():
        with expect_raises(error, clause, what):
            await call()
        await expect_unchanged(store, ids, before, (clause, "ERR-2"), what)
    expect(await store.count() == 1, ("ERR-2", clause), "a refused call created a session")


@check("VAL-1", "ERR-1", "ERR-2")
async def check_bad_ids(ctx: Ctx) -> None:
    """Ids outside 1..128 of A-Z a-z 0-9 _ - raise InvalidSession (a ValueError)."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for bad in BAD_IDS:
        if bad is not None:
            calls[f"create(id={bad!r})"] = partial(store.create, {}, id=bad)
        calls[f"get({bad!r})"] = partial(store.get, bad)
        calls[f"replace({bad!r})"] = partial(store.replace, bad, {})
        calls[f"update({bad!r})"] = partial(store.update, bad, _same)
        calls[f"touch({bad!r})"] = partial(store.touch, bad, 5)
        calls[f"delete({bad!r})"] = partial(store.delete, bad)
    await _refused(store, InvalidSession, "VAL-1", calls)
    await _refused(store, ValueError, "ERR-1", {"get('a b')": lambda: store.get("a b")})
    ok = await store.create({}, id="A-z_09" + "x" * 122)
    expect(len(ok.id) == 128, "VAL-1", "a 128-character id was refused")


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
        calls[f"update -> {bad!r}"] = partial(store.update, "v", partial(returns, bad))
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
            "update -> limit + 1 bytes": lambda: store.update("v", lambda d: big),
            "create(limit + 1 UTF-8 bytes)": lambda: store.create(wide),
        },
    )


@check("VAL-6", "TTL-1", "ERR-2")
async def check_bad_ttls(ctx: Ctx) -> None:
    """ttl must be 1 ms .. 3650 days, as seconds or a timedelta."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for bad in BAD_TTLS:
        if bad is not None:
            calls[f"create(ttl={bad!r})"] = partial(store.create, {}, ttl=bad)
            calls[f"replace(ttl={bad!r})"] = partial(store.replace, "v", {}, ttl=bad)
            calls[f"update(ttl={bad!r})"] = partial(store.update, "v", _same, ttl=bad)
        calls[f"touch(ttl={bad!r})"] = partial(store.touch, "v", bad)
    await _refused(store, InvalidSession, "VAL-6", calls)


@check("VAL-7", "LIST-3", "ERR-2")
async def check_bad_arguments(ctx: Ctx) -> None:
    """owner, expected_version, limit, cursor and on_conflict are checked too."""
    store = ctx.store
    await store.create({"n": 1}, id="v")
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    bad_owners: list[Any] = ["", 5, "x" * 257, b"me"]
    for owner in bad_owners:
        calls[f"create(owner={owner!r})"] = partial(store.create, {}, owner=owner)
        calls[f"get(owner={owner!r})"] = partial(store.get, "v", owner=owner)
    bad_versions: list[Any] = [0, -1, "1", True, 1.5]
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
    bad_limits: list[Any] = [0, -1, 1001, "3", True, 2.0]
    list_calls: dict[str, Callable[[], Awaitable[Any]]] = {
        f"list(limit={limit!r})": partial(store.list, limit=limit) for limit in bad_limits
    }
    list_calls["list(cursor='not a cursor!')"] = lambda: store.list(cursor="not a cursor!")
    await _refused(store, InvalidSession, "LIST-3", list_calls)
