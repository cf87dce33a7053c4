"""Every write keeps the fields it does not own, on an owned session with an expiry.

The basic checks write unowned sessions, so a write that rebuilt the record and lost
its ``owner`` (or its ``created_at``, or an expiry it was not asked to move) would pass
them. Here each write — touch, replace, update, with and without a ttl — is made on
behalf of the owner of a session that expires, and every field the spec says the write
leaves alone is compared with what it was: TOUCH-1 (data, version, updated_at), REC-4
(created_at), TTL-3 (expires_at without a ttl) and OWN-1 (owner, in every read).
"""

from __future__ import annotations

from datetime import timedelta

from sessionstore import Session

from ..errors import expect
from ..wire.transforms import returning
from .registry import Ctx, check

S = timedelta(seconds=1)


def _kept(
    before: Session, after: Session, fields: tuple[str, ...], clauses: tuple[str, ...], what: str
) -> None:
    changed = [f for f in fields if getattr(before, f) != getattr(after, f)]
    expect(
        not changed,
        clauses,
        f"{what} changed {', '.join(changed)}: "
        + ", ".join(f"{f} {getattr(before, f)!r} -> {getattr(after, f)!r}" for f in changed),
    )


@check("TOUCH-1", "OWN-1", "REC-4", "TTL-3", "REPLACE-1", "UPDATE-1")
async def check_writes_keep_other_fields(ctx: Ctx) -> None:
    """touch, replace and update leave owner, created_at and (without a ttl) the expiry."""
    store = ctx.store
    made = await store.create({"n": 0}, id="o", owner="alice", ttl=600)
    ctx.clock.advance(5)
    touched = await store.touch("o", 900, owner="alice")
    _kept(
        made,
        touched,
        ("id", "data", "version", "created_at", "updated_at", "owner"),
        ("TOUCH-1", "OWN-1"),
        "touch",
    )
    ctx.clock.advance(5)
    replaced = await store.replace("o", {"n": 1}, owner="alice")
    _kept(
        touched,
        replaced,
        ("id", "created_at", "expires_at", "owner"),
        ("REPLACE-1", "REC-4", "TTL-3", "OWN-1"),
        "replace without a ttl",
    )
    ctx.clock.advance(5)
    updated = await store.update("o", returning({"n": 2}), owner="alice")
    _kept(
        replaced,
        updated,
        ("id", "created_at", "expires_at", "owner"),
        ("UPDATE-1", "REC-4", "TTL-3", "OWN-1"),
        "update without a ttl",
    )
    again = await store.update("o", returning({"n": 3}), ttl=60)
    _kept(updated, again, ("id", "created_at", "owner"), ("UPDATE-1", "OWN-1"), "update with a ttl")
    last = await store.replace("o", {"n": 4}, ttl=60)
    _kept(again, last, ("id", "created_at", "owner"), ("REPLACE-1", "OWN-1"), "replace with a ttl")
    for what, read in (("get", await store.get("o")), ("list", (await store.list()).sessions[0])):
        expect(
            read is not None and read.owner == "alice", "OWN-1", f"{what} lost the owner: {read!r}"
        )
    exported = (await store.export()).sessions[0]
    expect(exported.owner == "alice", "OWN-1", f"export lost the owner: {exported!r}")
