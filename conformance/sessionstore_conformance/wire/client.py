"""A session store in another process, driven over the driver protocol.

Theory of operation. ``exec:COMMAND ARGS`` names a server (spec/driver-protocol.md);
:class:`ExecTarget` is the kit's store factory for it. Every store the kit asks for is a
:class:`WireStore` on a server of its own: an idle server left by an earlier store is
reused after a ``reset`` to a fresh empty store (4.2), else a new one is started, so the
hundreds of stores a run opens cost a request each, not a process each. A server goes
back to the pool only when its store was closed cleanly with nothing in flight; one that
died, hung or broke the protocol is never reused (:class:`.child.Child`).

:class:`WireStore` implements the ``SessionStore`` protocol by sending each call as a
request and turning the answer back into the contract's types and errors. Its clock is
the kit's: before a call, a clock that moved since the server last heard is set there
(6.1). ``update`` sends the steps of a :class:`.transforms.Transform`, so the remote
store's own ``update`` runs them; any other callback is :class:`Inexpressible`.

Shared stores (4.3). A server whose ``hello`` says ``shared`` and offers ``attach``
answers ``reset`` with its store's url; the :class:`WireStore` keeps it as ``url``
(CAP-2, in the remote store's own binding). The kit never opens that url in Python:
:meth:`ExecTarget.attach` hands it to another server (``attach``), whose store is then a
second instance on the same backing data in another process (CONC-2, PROC-1, DUR-1).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import shlex
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

from sessionstore import (
    TTL,
    ExportDocument,
    ImportReport,
    JSONObject,
    OnConflict,
    Page,
    Session,
    StoreUnavailable,
)

from ..clock import FakeClock
from ..errors import Inexpressible, UsageError
from . import values
from .child import DEFAULT_CALL_TIMEOUT, Child
from .transforms import Transform, TransformRaised

#: The target scheme: ``exec:COMMAND ARGS``.
PREFIX = "exec:"


class ExecTarget:
    """The store factory of an ``exec:`` target: ``await target(clock=clock)``."""

    def __init__(self, command: str, call_timeout: float | None = None) -> None:
        self.argv = shlex.split(command.removeprefix(PREFIX))
        if not self.argv:
            raise UsageError("exec: needs a command, e.g. exec:node server.js")
        self.call_timeout = call_timeout or DEFAULT_CALL_TIMEOUT
        self._idle: list[Child] = []
        atexit.register(self.stop_servers)  # the plugin's runs end with the interpreter

    def __repr__(self) -> str:
        return f"{PREFIX}{shlex.join(self.argv)}"

    async def __call__(self, *, clock: FakeClock) -> WireStore:
        """A fresh, empty store (4.2)."""
        return await self._store("reset", {}, clock)

    async def attach(self, url: str, *, clock: FakeClock | None = None) -> WireStore:
        """Another instance, in a server of its own, on the backing data of the store
        whose ``url`` this is (4.3). Without ``clock``, a store that takes one gets a
        clock of its own, standing still."""
        return await self._store("attach", {"url": url}, clock or FakeClock())

    async def _store(self, op: str, args: dict[str, Any], clock: FakeClock) -> WireStore:
        child = await self._child()
        takes_clock = bool(child.hello.get("clock"))
        try:
            answer = await child.call(op, {**args, "clock_ms": clock.ms if takes_clock else None})
        except BaseException:
            self.release(child)  # a refused reset or attach leaves the server usable
            raise
        return WireStore(child, clock if takes_clock else None, self, answer)

    async def _child(self) -> Child:
        while True:
            try:
                child = self._idle.pop()  # checks in threads share the pool: no check-then-pop
            except IndexError:
                break
            if child.idle:
                return child
        try:
            child = Child(self.argv, self.call_timeout)
        except OSError as exc:
            raise UsageError(f"cannot start {self!r}: {exc}") from exc
        await child.start()
        return child

    def release(self, child: Child) -> None:
        """A server whose store was closed cleanly waits for the next store."""
        if child.idle:
            self._idle.append(child)

    def stop_servers(self) -> None:
        """Stop every idle server (their stdin closes: they exit, 1.4)."""
        while self._idle:
            self._idle.pop().end("the run is over")


def _steps(fn: Any) -> list[dict[str, Any]]:
    if not isinstance(fn, Transform):
        raise Inexpressible(
            f"update's callback {fn!r} is not a protocol transform (driver protocol, 5.14)"
        )
    return [{name: values.argument(arg, "a transform's value")} for step in fn.steps
            for name, arg in step.items()]  # fmt: skip


class WireStore:
    """A ``SessionStore`` whose calls are requests to a server process."""

    #: the kit sends such a store only JSON values (driver protocol, section 9)
    json_only = True

    def __init__(
        self, child: Child, clock: FakeClock | None, target: ExecTarget, reset: Any
    ) -> None:
        self._child: Child | None = child
        self._clock = clock
        self._clock_sent = clock.ms if clock is not None else None
        self._clock_sync = asyncio.Lock()
        self._target = target
        hello = child.hello
        self.server = str(hello.get("server", ""))
        self.capabilities = values.capabilities(hello)
        self.limits = values.limits(hello)
        ms = hello.get("default_ttl_ms")
        self.default_ttl: TTL | None = None if ms is None else ms / 1000
        url = reset.get("url") if isinstance(reset, dict) else None
        if hello.get("shared") and "attach" in hello.get("optional", ()) and isinstance(url, str):
            self.url = url  # opened again only through ExecTarget.attach (4.3), never here
        for hook in hello.get("hooks", ()):  # the kit looks test hooks up by name
            if hook in ("corrupt_for_testing", "disconnect_for_testing"):
                setattr(self, hook, getattr(self, f"_{hook}"))
        for optional in hello.get("optional", ()):
            if optional in ("export_chunks", "import_chunks"):
                setattr(self, optional, getattr(self, f"_{optional}"))

    async def _exchange(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one call; its whole answer, ``ok`` or ``error``."""
        child = self._child
        if child is None:
            raise StoreUnavailable("the store was closed and its server handed back")
        sent = {name: values.argument(value, f"{op}'s {name}") for name, value in args.items()}
        if self._clock is not None and self._clock.ms != self._clock_sent:
            # One clock.set, sent while nothing is in flight (2.3: the kit moves its clock
            # only then); callers that saw the same move wait for it rather than send theirs.
            async with self._clock_sync:
                if self._clock.ms != self._clock_sent:
                    ms = self._clock.ms
                    await child.call("clock.set", {"ms": ms})
                    self._clock_sent = ms
        return await child.exchange(op, sent)

    async def _call(self, op: str, **args: Any) -> Any:
        """Send one call; its result, or the store's error raised."""
        answer = await self._exchange(op, **args)
        if "error" in answer:
            raise values.error(answer["error"], self._stderr())
        return answer.get("ok")

    def _stderr(self) -> str:
        return self._child.stderr if self._child is not None else ""

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        return values.session(await self._call("create", data=data, ttl=ttl, id=id, owner=owner))

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        return values.maybe_session(await self._call("get", id=id, owner=owner))

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        answer = await self._call(
            "replace", id=id, data=data, expected_version=expected_version, ttl=ttl, owner=owner
        )
        return values.session(answer)

    async def update(
        self, id: str, fn: Any, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        steps = _steps(fn)
        answer = await self._exchange("update", id=id, transforms=steps, ttl=ttl, owner=owner)
        failed = answer.get("error")
        if failed is None:
            return values.session(answer.get("ok"))
        if failed.get("type") != "CallbackRaised":
            raise values.error(failed, self._stderr())
        # the store propagated the callback's own error (5.13): the caller gets its own
        # exception object, as from an update in this process (UPDATE-2)
        message = failed.get("message")
        ours = fn.error is not None and steps[-1].get("raise") == message
        raise (fn.error if ours else TransformRaised(message)) from None

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        return values.session(await self._call("touch", id=id, ttl=ttl, owner=owner))

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        answer = await self._call("delete", id=id, expected_version=expected_version, owner=owner)
        # Here and in count and purge_expired: the remote store's answer exactly as it
        # came, never coerced, so that the kit's checks judge its type (a "3" stays wrong).
        return answer  # type: ignore[no-any-return]

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        return values.page(await self._call("list", cursor=cursor, limit=limit))

    async def count(self) -> int:
        return await self._call("count")  # type: ignore[no-any-return]

    async def purge_expired(self) -> int:
        return await self._call("purge_expired")  # type: ignore[no-any-return]

    async def export(self) -> ExportDocument:
        return ExportDocument.model_validate(await self._call("export"))

    async def import_(self, doc: Any, *, on_conflict: OnConflict = "error") -> ImportReport:
        if isinstance(doc, ExportDocument):
            doc = doc.to_json()
        if isinstance(doc, bytes | bytearray):
            try:
                doc = bytes(doc).decode()
            except UnicodeDecodeError:
                raise Inexpressible("import_ of bytes that are not UTF-8 text") from None
        if isinstance(doc, str):
            answer = await self._call("import", text=doc, on_conflict=on_conflict)
        else:
            plain = dict(doc) if isinstance(doc, Mapping) and type(doc) is not dict else doc
            answer = await self._call("import", doc=plain, on_conflict=on_conflict)
        return values.import_report(answer)

    async def _export_chunks(self) -> AsyncIterator[bytes]:
        answer = await self._exchange("export_chunks")
        failed = answer.get("error")
        given = failed.get("chunks", []) if failed else answer["ok"]["chunks"]
        for chunk in given:  # EXPORT-3: what the stream yielded before it raised, then the error
            yield base64.b64decode(chunk)
        if failed:
            raise values.error(failed, self._stderr())

    async def _import_chunks(
        self,
        chunks: Iterable[bytes] | AsyncIterable[bytes],
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        if isinstance(chunks, AsyncIterable):
            pieces = [chunk async for chunk in chunks]
        else:
            pieces = list(chunks)
        encoded = [base64.b64encode(bytes(p)).decode() for p in pieces]
        answer = await self._call("import_chunks", chunks=encoded, on_conflict=on_conflict)
        return values.import_report(answer)

    async def _corrupt_for_testing(self, id: str) -> None:
        await self._call("corrupt_for_testing", id=id)

    async def _disconnect_for_testing(self) -> None:
        await self._call("disconnect_for_testing")

    def kill(self) -> None:
        """SIGKILL the server, wherever it is (DUR-2): calls in flight and later ones raise
        ``StoreUnavailable``."""
        if self._child is not None:
            self._child.end("killed by the kit (SIGKILL)")

    async def close(self) -> None:
        if self._child is not None and self._child.alive:  # a dead server has nothing to close
            await self._call("close")

    async def __aenter__(self) -> WireStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        child, closed = self._child, False
        try:
            await self.close()
            closed = True
        finally:
            self._child = None
            if child is not None and closed and child.alive:
                self._target.release(child)
            elif child is not None:
                child.end("its store did not close cleanly")

    def __repr__(self) -> str:
        return f"WireStore({self.server or self._target!r})"
