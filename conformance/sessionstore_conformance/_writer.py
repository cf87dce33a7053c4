"""The writer process of the durability checks (DUR-2, PROC-1).

``python -m sessionstore_conformance._writer MODE URL ...`` opens the store at ``URL``
through :func:`sessionstore.open_store` (CAP-2), on the real clock, prints ``ready`` and
then, by ``MODE``:

* ``crash URL PREFIX [--limit N]`` writes until it is killed (or after N writes): write
  ``j`` is :func:`crash_write` ``(PREFIX, j)`` — creates with explicit ids and ``update``
  increments of one counter, never with a ttl. After each call *returns* it prints one
  JSON line, the session the call returned, and flushes: each complete line is an
  acknowledged write.
* ``increment URL IDS COUNT`` waits for a line on stdin (the kit's start barrier), then
  increments ``data["n"]`` of each of the comma-separated ``IDS`` ``COUNT`` times through
  ``update``, round robin, and prints ``done``. Any error propagates: a traceback on
  stderr and exit status 1.

Nothing here touches the kit's clock: the parent and this process agree on liveness only
because no session written here expires.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from sessionstore import JSONObject, Session, SessionStore, open_store
from sessionstore.semantics import from_ms, to_ms

READY = "ready"
DONE = "done"


def counter_id(prefix: str) -> str:
    return f"{prefix}-n"


def crash_write(prefix: str, j: int) -> tuple[str, str, JSONObject]:
    """Write ``j`` of the crash loop: (``create`` or ``update``, id, the data written).

    Write 0 creates the counter at 0; odd writes create a session of their own; even
    writes ``j >= 2`` increment the counter to ``j // 2``.
    """
    if j == 0:
        return "create", counter_id(prefix), {"n": 0}
    if j % 2:
        return "create", f"{prefix}-s{j}", {"j": j}
    return "update", counter_id(prefix), {"n": j // 2}


def _increment(data: JSONObject) -> JSONObject:
    return {**data, "n": data["n"] + 1}


def ack_line(j: int, session: Session) -> str:
    """The line printed once write ``j`` has returned ``session``."""
    return json.dumps(
        {
            "j": j,
            "id": session.id,
            "data": session.data,
            "version": session.version,
            "created_ms": to_ms(session.created_at),
            "updated_ms": to_ms(session.updated_at),
            "expires_ms": None if session.expires_at is None else to_ms(session.expires_at),
            "owner": session.owner,
        },
        separators=(",", ":"),
    )


def parse_ack(line: str) -> tuple[int, Session]:
    """The write index and the returned session of an :func:`ack_line`."""
    raw: dict[str, Any] = json.loads(line)
    expires = raw["expires_ms"]
    return int(raw["j"]), Session(
        id=raw["id"],
        data=raw["data"],
        version=raw["version"],
        created_at=from_ms(raw["created_ms"]),
        updated_at=from_ms(raw["updated_ms"]),
        expires_at=None if expires is None else from_ms(expires),
        owner=raw["owner"],
    )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _crash(store: SessionStore, prefix: str, limit: int) -> None:
    for j in range(limit):
        op, session_id, data = crash_write(prefix, j)
        if op == "create":
            session = await store.create(data, id=session_id)
        else:
            session = await store.update(session_id, _increment)
        _say(ack_line(j, session))  # only now is write j acknowledged


async def _increments(store: SessionStore, ids: list[str], count: int) -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for _ in range(count):
        for session_id in ids:
            await store.update(session_id, _increment)
    _say(DONE)


async def _main(args: argparse.Namespace) -> None:
    async with open_store(args.url) as store:
        _say(READY)
        if args.mode == "crash":
            await _crash(store, args.prefix, args.limit)
        else:
            await _increments(store, args.ids.split(","), args.count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sessionstore_conformance._writer")
    modes = parser.add_subparsers(dest="mode", required=True)
    crash = modes.add_parser("crash", help="write until killed, acknowledging each write")
    crash.add_argument("url")
    crash.add_argument("prefix")
    crash.add_argument("--limit", type=int, default=100_000)
    increment = modes.add_parser("increment", help="increment counters through update")
    increment.add_argument("url")
    increment.add_argument("ids")
    increment.add_argument("count", type=int)
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
