"""Making and recording the calls of concurrent histories; the client process of the
``linearizable_processes`` check (CONC-1, CONC-2, PROC-1).

The kit runs this file as a script (``python -c`` running it by path, see
:data:`COMMAND`), so that a client process imports only :mod:`sessionstore` and the
standard library, not the kit: this module imports nothing of the kit. The kit's own
modules import :func:`perform`, :func:`observe` and friends from here.

A client process serves one job after another (so one process serves every history of
a check): for each it reads one line on stdin, ``{"url": URL, "calls": [inputs]}`` (call
inputs ``{"op": ..., "id": ..., ...}`` as the kit's scenarios make them), opens the store
at ``URL`` through :func:`sessionstore.open_store` (CAP-2) on the real clock, makes one
harmless call (``get`` of an unused id, so that its connection exists), prints
``ready``, waits for a line on stdin (the kit's start barrier: a start instant on
CLOCK_MONOTONIC, in nanoseconds, which it awaits, see :func:`wait_until`) and makes the
calls in order. After each it prints one JSON line, :func:`call`'s record: the input, the
invocation and return times from :func:`time.monotonic_ns` (CLOCK_MONOTONIC, shared by
every process of the host, so intervals compare across processes) and the outcome,
``["ok", observed value]``, ``["error", class name]`` or ``null`` (unknown). Then it
closes the store and prints ``done``. It exits at the end of stdin. Times in returned
sessions come from this process's real clock: the kit compares outcomes without them (a
timeless check).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sessionstore import Session, SessionStore, SessionStoreError, StoreUnavailable, open_store
from sessionstore.semantics import to_ms


def _transforms() -> Any:
    """The driver protocol's transforms (wire/transforms.py, standard library only): as
    a module of the kit when the kit imports this one; loaded alone, by path, in a
    client process, which must not import the kit (see COMMAND)."""
    if __package__:
        from .wire import transforms

        return transforms
    path = Path(__file__).with_name("wire") / "transforms.py"
    spec = importlib.util.spec_from_file_location("_sessionstore_transforms", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


#: ``update``'s callback as a protocol transform, so that a store in another process
#: (an exec: target) runs the increment itself.
incrementing = _transforms().incrementing

READY = "ready"
DONE = "done"
#: Nanoseconds a client spins (rather than sleeps) before its start instant.
SPIN_NS = 3_000_000
#: Seconds a call may take before its outcome is recorded as unknown.
CALL_TIMEOUT = 10.0
#: How the kit starts a client process: this file run as ``__main__``, by path, so that
#: neither the kit's package nor its directory is imported or put on ``sys.path``.
COMMAND = (
    sys.executable,
    "-c",
    "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')",
    __file__,
)


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def observe_session(session: Session) -> tuple[str, int, int, int, int | None, str | None]:
    """What the checker compares of a session the store returned."""
    return (
        canonical(session.data),
        session.version,
        to_ms(session.created_at),
        to_ms(session.updated_at),
        None if session.expires_at is None else to_ms(session.expires_at),
        session.owner,
    )


def observe(name: str, value: Any) -> Any:
    """A store's return value, frozen into something hashable and comparable."""
    if name == "list":
        return tuple((s.id, observe_session(s)) for s in value)
    if isinstance(value, Session):
        return observe_session(value)
    return value


def bump(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The updater of ``update`` operations: increments ``data[key]`` (0 when absent)."""
    return incrementing(key)(data)  # type: ignore[no-any-return]


def _ttl(ms: int | None) -> timedelta | None:
    return None if ms is None else timedelta(milliseconds=ms)


async def perform(store: SessionStore, inp: dict[str, Any]) -> Any:
    """Call the store as ``inp`` says; list returns its sessions (one page holds them all)."""
    name = inp["op"]
    if name == "create":
        return await store.create(
            inp["data"], ttl=_ttl(inp["ttl_ms"]), id=inp["id"], owner=inp["owner"]
        )
    if name == "get":
        return await store.get(inp["id"], owner=inp["owner"])
    if name == "replace":
        return await store.replace(
            inp["id"],
            inp["data"],
            expected_version=inp["expected_version"],
            ttl=_ttl(inp["ttl_ms"]),
        )
    if name == "update":
        key = inp["key"]
        return await store.update(inp["id"], incrementing(key), ttl=_ttl(inp["ttl_ms"]))
    if name == "touch":
        return await store.touch(
            inp["id"], timedelta(milliseconds=inp["ttl_ms"]), owner=inp["owner"]
        )
    if name == "delete":
        return await store.delete(
            inp["id"], expected_version=inp["expected_version"], owner=inp["owner"]
        )
    if name == "list":
        return (await store.list(limit=100)).sessions
    if name == "count":
        return await store.count()
    if name == "purge":
        return await store.purge_expired()
    raise ValueError(f"unknown operation {name!r}")


async def call(store: SessionStore, inp: dict[str, Any]) -> dict[str, Any]:
    """Make one call on the real clock, timed on CLOCK_MONOTONIC: its record (above).
    ``now`` is 0: timeless histories have no model time. A timeout or a lost connection
    is an unknown outcome."""
    inp = {**inp, "now": 0}
    start = time.monotonic_ns()
    output: list[Any] | None
    try:
        value = await asyncio.wait_for(perform(store, inp), CALL_TIMEOUT)
        output = ["ok", observe(inp["op"], value)]
    except (asyncio.TimeoutError, StoreUnavailable):
        output = None  # may or may not have taken effect
    except SessionStoreError as exc:
        output = ["error", type(exc).__name__]
    except Exception as exc:  # not an error of the contract: the model never expects it
        output = ["error", f"{type(exc).__name__}: {exc}"]
    return {"input": inp, "call": start, "ret": time.monotonic_ns(), "output": output}


def wait_until(deadline_ns: int) -> None:
    """Sleep until shortly before ``deadline_ns`` (CLOCK_MONOTONIC), then spin to it: every
    client starts at that instant, not whenever the scheduler got round to waking it
    (on a loaded machine, pipe wake-ups spread the clients' starts over ~10-30 ms)."""
    early = deadline_ns - time.monotonic_ns() - SPIN_NS
    if early > 0:
        time.sleep(early / 1e9)
    while time.monotonic_ns() < deadline_ns:
        pass


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _main() -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        job: dict[str, Any] = json.loads(line)
        async with open_store(job["url"]) as store:
            with contextlib.suppress(SessionStoreError):  # its connection now exists
                await store.get("warm")
            _say(READY)
            start = await loop.run_in_executor(None, sys.stdin.readline)
            wait_until(int(start))
            for inp in job["calls"]:
                _say(json.dumps(await call(store, inp), separators=(",", ":")))
        _say(DONE)


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
