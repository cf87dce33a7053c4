"""COPY-1 on every path data travels: what a call hands out and what it was handed.

For each operation that returns data (create, get, replace, update, touch, list, export)
the kit mutates, in place and deep inside, the data it got back and the data it passed
in, then reads the session again: nothing it did may show. ``update``'s callback gets a
private copy (UPDATE-1): mutating it in place and then failing changes nothing, and the
object the callback returns is the caller's once ``update`` returns. Data inside a
document passed to ``import_`` is the caller's too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sessionstore import Session

from ..errors import expect, expect_raises
from ..wire.transforms import merging, raising, returning
from .registry import Ctx, check


def _fresh() -> dict[str, Any]:
    return {"list": [1, {"deep": [2]}], "obj": {"k": "v", "inner": {"n": 1}}}


def _scribble(data: Any) -> None:
    """Change ``data`` in place at every level a store might share."""
    if not isinstance(data, dict):
        return
    lst = data.get("list")
    if isinstance(lst, list):
        lst.append("x")
        if len(lst) > 1 and isinstance(lst[1], dict):
            lst[1]["deep"].append("x")
    obj = data.get("obj")
    if isinstance(obj, dict):
        obj["k"] = "scribbled"
        if isinstance(obj.get("inner"), dict):
            obj["inner"]["n"] = -1
    data["added"] = True


#: What :func:`_scribble` does to the maps, as update steps a store in another process
#: runs on the argument its own update passes (spec/driver-protocol.md, 5.14).
SCRIBBLE = merging({"obj": {"k": "scribbled", "inner": {"n": -1}}, "added": True})


async def _expect_intact(ctx: Ctx, session_id: str, want: dict[str, Any], what: str) -> None:
    got = await ctx.store.get(session_id)
    expect(
        got is not None and got.data == want,
        "COPY-1",
        f"after mutating what {what} handed out or was handed, the store holds "
        f"{None if got is None else got.data!r}, not {want!r}",
    )


@check("COPY-1", "REC-2")
async def check_copies_every_path(ctx: Ctx) -> None:
    """No read path hands out, and no write path keeps, data the caller can still change."""
    store = ctx.store
    want = _fresh()
    passed = _fresh()
    made = await store.create(passed, id="c")
    _scribble(passed)
    _scribble(made.data)
    await _expect_intact(ctx, "c", want, "create")
    reads: dict[str, Callable[[], Awaitable[Any]]] = {
        "get": lambda: store.get("c"),
        "touch": lambda: store.touch("c", 3600),
        "list": lambda: _first(store.list()),
        "export": lambda: _exported(store),
    }
    for what, read in reads.items():
        session = await read()
        expect(session is not None, "COPY-1", f"{what} did not return session 'c'")
        _scribble(session.data)
        await _expect_intact(ctx, "c", want, what)
    passed = _fresh()
    replaced = await store.replace("c", passed)
    _scribble(passed)
    _scribble(replaced.data)
    await _expect_intact(ctx, "c", want, "replace")
    returned = _fresh()
    updated = await store.update("c", returning(returned))
    _scribble(returned)
    _scribble(updated.data)
    await _expect_intact(ctx, "c", want, "update")
    two = [await store.get("c"), await store.get("c")]
    assert two[0] is not None and two[1] is not None
    _scribble(two[0].data)
    expect(two[1].data == want, "COPY-1", "mutating one get's data changed another get's data")


async def _first(page: Awaitable[Any]) -> Session | None:
    sessions = (await page).sessions
    return sessions[0] if sessions else None


async def _exported(store: Any) -> Any:
    doc = await store.export()
    return doc.sessions[0] if doc.sessions else None


class _Refused(Exception):
    """The callback's own failure, after it scribbled on its argument."""


@check("UPDATE-1", "UPDATE-2", "COPY-1", "ERR-2")
async def check_update_gets_a_private_copy(ctx: Ctx) -> None:
    """update's callback may scribble on its argument; only what it returns is written."""
    store = ctx.store
    await store.create(_fresh(), id="u")

    scribble_then_fail = SCRIBBLE.observed(_scribble).then(raising(_Refused()))
    with expect_raises(_Refused, "UPDATE-2", "update whose callback raises"):
        await store.update("u", scribble_then_fail)
    await _expect_intact(ctx, "u", _fresh(), "a failing update's callback")
    seen: list[dict[str, Any]] = []

    def scribble(data: dict[str, Any]) -> None:
        seen.append(data)
        _scribble(data)

    scribble_then_return_other = SCRIBBLE.observed(scribble).then(returning({"other": 1}))
    done = await store.update("u", scribble_then_return_other)
    expect(done.data == {"other": 1}, "UPDATE-1", f"update wrote {done.data!r}, not the result")
    await _expect_intact(ctx, "u", {"other": 1}, "update's callback")
    if not seen:  # the callback ran in another process: its argument is not ours to scribble on
        return
    _scribble(seen[-1])
    await _expect_intact(ctx, "u", {"other": 1}, "update's callback, after update returned,")


@check("COPY-1", "IMPORT-5")
async def check_import_copies(ctx: Ctx) -> None:
    """Data inside an imported document stays the caller's."""
    store = ctx.store
    data = _fresh()
    doc: dict[str, Any] = {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": "2030-01-01T00:00:00.000Z",
        "sessions": [
            {
                "id": "i",
                "data": data,
                "version": 4,
                "created_at": "2030-01-01T00:00:00.000Z",
                "updated_at": "2030-01-01T00:00:00.000Z",
                "expires_at": None,
                "owner": None,
            }
        ],
    }
    await store.import_(doc)
    _scribble(data)
    await _expect_intact(ctx, "i", _fresh(), "import_")
    (await store.export()).sessions[0].data["list"].append("x")
    await _expect_intact(ctx, "i", _fresh(), "export after import_")
