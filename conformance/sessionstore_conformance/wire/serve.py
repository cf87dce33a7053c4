"""The driver protocol's server side for any Python store: ``python -m
sessionstore_conformance.wire.serve STORE_URL`` (spec/driver-protocol.md).

It proves the protocol end to end against the kit, and measures what a call costs
through it. Theory of operation: requests are read from stdin a line at a time, and
each one runs as a task of its own (2.3), so concurrent requests reach the store
concurrently; each task writes its response as one line on stdout. The store is opened
from the URL as the kit opens it, a fresh namespace each time (4.2); its clock is a
:class:`~sessionstore_conformance.clock.FakeClock` that only clock requests move (6).
Arguments reach the store as JSON gave them (2.5): the store's own validation answers.
A store that declares ``multi_process`` or ``multi_host`` and has a ``url`` is served as
``shared``: ``reset`` answers its url, and ``attach`` opens such a url — through the
factory's own ``attach(url, clock=...)`` where a ``module:factory`` target has one (so a
store class of its own stays that class), else :func:`sessionstore.open_store` (4.3).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from sessionstore import (
    ExportDocument,
    ImportRejected,
    Session,
    SessionStore,
    SessionStoreError,
    VersionConflict,
)
from sessionstore.export import format_timestamp
from sessionstore.semantics import ttl_to_ms
from sessionstore.times import from_ms

from ..clock import FakeClock
from ..target import reopen, resolve
from .transforms import TransformError, TransformRaised, apply, check_steps

PROTOCOL = 1
HOOKS = ("corrupt_for_testing", "disconnect_for_testing")
OPTIONAL = ("export_chunks", "import_chunks")
#: The contract's error names, most specific first where one is a kind of another (8.1).
CONTRACT_ERRORS = (
    "SessionTooLarge", "ImportRejected", "InvalidSession", "SessionNotFound", "SessionExists",
    "VersionConflict", "CorruptSession", "StoreUnavailable",
)  # fmt: skip
#: Each operation's argument names (section 5); a request with others is refused.
ARGUMENTS: dict[str, tuple[str, ...]] = {
    "create": ("data", "ttl", "id", "owner"),
    "get": ("id", "owner"),
    "replace": ("id", "data", "expected_version", "ttl", "owner"),
    "update": ("id", "transforms", "ttl", "owner"),
    "touch": ("id", "ttl", "owner"),
    "delete": ("id", "expected_version", "owner"),
    "list": ("cursor", "limit"),
    "count": (),
    "purge_expired": (),
    "export": (),
    "import": ("doc", "text", "on_conflict"),
    "export_chunks": (),
    "import_chunks": ("chunks", "on_conflict"),
    "hello": ("protocol", "client"),
    "reset": ("clock_ms",),
    "attach": ("url", "clock_ms"),
    "close": (),
    "shutdown": (),
    "clock.set": ("ms",),
    "clock.advance": ("ms",),
    "corrupt_for_testing": ("id",),
    "disconnect_for_testing": (),
}


_MS = timedelta(milliseconds=1)


class Refused(Exception):
    """A request the protocol refuses: ProtocolError or Unsupported (2.4)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def wire_session(session: Session | None) -> dict[str, Any] | None:
    """A session as the wire carries it (3.1), field by field as the store returned it."""
    if session is None:
        return None
    expires = session.expires_at
    return {
        "id": session.id,
        "data": session.data,
        "version": session.version,
        "created_at": format_timestamp(session.created_at),
        "updated_at": format_timestamp(session.updated_at),
        "expires_at": None if expires is None else format_timestamp(expires),
        "owner": session.owner,
    }


def wire_error(exc: BaseException) -> dict[str, Any]:
    """The error object of an exception (8)."""
    if isinstance(exc, Refused):
        return {"type": exc.kind, "message": str(exc)}
    names = {cls.__name__ for cls in type(exc).__mro__}
    kind = next((n for n in CONTRACT_ERRORS if n in names), None)
    if kind is None or not isinstance(exc, SessionStoreError):
        return {
            "type": "UnexpectedError",
            "name": type(exc).__name__,
            "message": str(exc),
            "stack": "".join(traceback.format_exception(exc)),
        }
    error: dict[str, Any] = {"type": kind, "message": str(exc)}
    if isinstance(exc, VersionConflict):
        error |= {"expected": exc.expected, "actual": exc.actual}
    if isinstance(exc, ImportRejected):
        error["problems"] = [{"pointer": p.pointer, "message": p.message} for p in exc.problems]
    return error


class Server:
    """One store at a time, reset on request, behind the protocol's operations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.factory = resolve(url)
        self.clock = FakeClock()
        self.stack = AsyncExitStack()
        self.store: Any = None

    async def open(self, clock_ms: int | None, url: str | None = None) -> SessionStore:
        await self.stack.aclose()
        if clock_ms is not None:  # a fresh store's clock may start anywhere (4.2)
            self.clock = FakeClock(from_ms(clock_ms))
        # attach (4.3) opens the url as the kit would (the factory's own attach, else
        # open_store): a factory of a store class of its own keeps that class
        opened = reopen(self.factory, url, self.clock) if url else self.factory(clock=self.clock)
        if asyncio.iscoroutine(opened):
            opened = await opened
        self.store = await self.stack.enter_async_context(opened)
        return self.store  # type: ignore[no-any-return]

    def hello(self, protocol: Any = None, client: Any = None) -> dict[str, Any]:
        if not isinstance(protocol, list) or PROTOCOL not in protocol:
            raise Refused("ProtocolError", f"this server speaks protocol {PROTOCOL} only")
        store = self.store
        caps, limits = store.capabilities, store.limits
        default = store.default_ttl
        shared = (caps.multi_process or caps.multi_host) and hasattr(store, "url")
        return {
            "protocol": PROTOCOL,
            "server": f"sessionstore_conformance.wire.serve {type(store).__name__}",
            "capabilities": {
                name: getattr(caps, name)
                for name in ("injectable_clock", "durable", "multi_process", "multi_host")
            },
            "limits": {
                "max_id_length": limits.max_id_length,
                "max_owner_length": limits.max_owner_length,
                "max_depth": limits.max_depth,
                "max_data_bytes": limits.max_data_bytes,
                "min_ttl_ms": limits.min_ttl // _MS,
                "max_ttl_ms": limits.max_ttl // _MS,
                "max_list_limit": limits.max_list_limit,
            },
            "default_ttl_ms": None if default is None else ttl_to_ms(default),
            "hooks": [h for h in HOOKS if hasattr(store, h)],
            "clock": caps.injectable_clock,
            "optional": [o for o in OPTIONAL if hasattr(store, o)] + (["attach"] if shared else []),
            "shared": shared,
        }

    async def reset(self, clock_ms: Any = None) -> dict[str, Any]:
        store = await self.open(clock_ms)
        return {"url": getattr(store, "url", None) if self.hello([1])["shared"] else None}

    async def attach(self, url: Any = None, clock_ms: Any = None) -> dict[str, Any]:
        await self.open(clock_ms, url)
        return {"url": url}

    def shutdown(self) -> None:
        """Answered first; :func:`serve` then exits (4.5)."""

    def clock_set(self, ms: Any = None) -> None:
        self._clock_needed()
        self.clock.set_ms(ms)

    def clock_advance(self, ms: Any = None) -> None:
        self._clock_needed()
        self.clock.advance(ms)

    def _clock_needed(self) -> None:
        if not self.store.capabilities.injectable_clock:
            raise Refused("Unsupported", "this store takes no clock")

    async def update(
        self, id: Any = None, transforms: Any = None, ttl: Any = None, owner: Any = None
    ) -> Any:
        try:
            steps = check_steps(transforms)
        except TransformError as exc:
            raise Refused("ProtocolError", str(exc)) from None
        thrown: list[TransformRaised] = []

        def fn(data: Any) -> Any:
            return apply(steps, data, lambda message: _noted(thrown, TransformRaised(message)))

        try:
            return wire_session(await self.store.update(id, fn, ttl=ttl, owner=owner))
        except BaseException as exc:
            if any(exc is error for error in thrown):  # the very error fn threw (5.13)
                raise Refused("CallbackRaised", str(exc)) from None
            raise

    async def import_(self, doc: Any = None, text: Any = None, on_conflict: Any = None) -> Any:
        given = text if text is not None else doc
        report = await self.store.import_(given, on_conflict=on_conflict or "error")
        return _report(report)

    async def export_chunks(self) -> Any:
        self._offered("export_chunks")
        chunks: list[str] = []
        try:
            async for chunk in self.store.export_chunks():
                chunks.append(base64.b64encode(chunk).decode())
        except Exception as exc:
            raise _WithChunks(exc, chunks) from exc
        return {"chunks": chunks}

    async def import_chunks(self, chunks: Any = None, on_conflict: Any = None) -> Any:
        self._offered("import_chunks")
        pieces = [base64.b64decode(c) for c in chunks or []]
        return _report(await self.store.import_chunks(pieces, on_conflict=on_conflict or "error"))

    def _offered(self, name: str) -> None:
        if not hasattr(self.store, name):
            raise Refused("Unsupported", f"the store offers no {name}")

    def operation(self, op: str) -> Callable[..., Any]:
        """The handler of ``op``: the Server's own, or the store's call of that name."""
        own = getattr(self, {"import": "import_"}.get(op, op.replace(".", "_")), None)
        if own is not None:
            return own  # type: ignore[no-any-return]
        store = self.store
        if op in HOOKS and not hasattr(store, op):
            raise Refused("Unsupported", f"the store offers no {op}")
        calls: dict[str, Callable[..., Any]] = {
            **{name: _session_call(store, name) for name in ("create", "get", "replace", "touch")},
            "delete": lambda id=None, **kw: store.delete(id, **kw),
            "list": lambda cursor=None, limit=None: _page(store, cursor, limit),
            "count": store.count,
            "purge_expired": store.purge_expired,
            "export": lambda: _export(store),
            "close": store.close,
            "corrupt_for_testing": lambda id=None: store.corrupt_for_testing(id),
            "disconnect_for_testing": lambda: store.disconnect_for_testing(),
        }
        return calls[op]


def _noted(thrown: list[TransformRaised], error: TransformRaised) -> TransformRaised:
    thrown.append(error)
    return error


class _WithChunks(Exception):
    """A streamed export that raised after yielding ``chunks`` (5.12)."""

    def __init__(self, error: Exception, chunks: list[str]) -> None:
        super().__init__(str(error))
        self.error, self.chunks = error, chunks


def _session_call(store: Any, name: str) -> Callable[..., Awaitable[Any]]:
    method = getattr(store, name)
    positional = {"create": ("data",), "get": ("id",), "replace": ("id", "data"),
                  "touch": ("id", "ttl")}[name]  # fmt: skip

    async def call(**args: Any) -> Any:
        first = [args.pop(p, None) for p in positional]
        return wire_session(await method(*first, **args))

    return call


async def _page(store: Any, cursor: Any, limit: Any) -> Any:
    page = await store.list(cursor=cursor, limit=100 if limit is None else limit)
    return {"sessions": [wire_session(s) for s in page.sessions], "cursor": page.cursor}


async def _export(store: Any) -> Any:
    doc: ExportDocument = await store.export()
    return json.loads(doc.to_json())


def _report(report: Any) -> dict[str, int]:
    fields = ("imported", "skipped_expired", "skipped_conflict", "replaced")
    return {name: getattr(report, name) for name in fields}


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


async def handle(server: Server, request: Any) -> dict[str, Any]:
    """The response to one parsed request."""
    request_id = request.get("id") if isinstance(request, dict) else None
    try:
        if not isinstance(request, dict) or not isinstance(request.get("args"), dict):
            raise Refused("ProtocolError", "a request is {id, op, args}")
        op, args = request.get("op"), request["args"]
        if op not in ARGUMENTS:
            raise Refused("ProtocolError", f"unknown op {op!r}")
        unknown = set(args) - set(ARGUMENTS[op])
        if unknown:
            raise Refused("ProtocolError", f"{op} takes no {', '.join(sorted(unknown))}")
        result = server.operation(op)(**args)
        if asyncio.iscoroutine(result):
            result = await result
        return {"id": request_id, "ok": result}
    except _WithChunks as failed:
        return {"id": request_id, "error": wire_error(failed.error) | {"chunks": failed.chunks}}
    except Exception as exc:
        return {"id": request_id, "error": wire_error(exc)}


async def serve(url: str) -> None:
    """Answer requests from stdin until it ends or a ``shutdown`` comes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    server = Server(url)
    await server.open(None)
    tasks: set[asyncio.Task[None]] = set()

    async def answer(line: bytes) -> None:
        request: Any = None
        try:
            request = json.loads(line)
        except ValueError:
            response = {"id": None, "error": {"type": "ProtocolError", "message": "not JSON"}}
        else:
            response = await handle(server, request)
        out.write(_line(response))
        out.flush()
        if isinstance(request, dict) and request.get("op") == "shutdown" and "ok" in response:
            await server.stack.aclose()
            os._exit(0)

    while line := await reader.readline():
        if line.strip():
            task = asyncio.create_task(answer(line))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    os._exit(0)  # end of input: exit at once, abandoning work under way (1.4)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sessionstore_conformance.wire.serve STORE_URL", file=sys.stderr)
        raise SystemExit(2)
    asyncio.run(serve(args[0]))


if __name__ == "__main__":
    main()
