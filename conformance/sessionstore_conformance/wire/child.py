"""One server process of the driver protocol, seen from the kit (spec/driver-protocol.md).

Theory of operation. The child runs with three pipes, each served by a thread of its
own, so that nothing the child does — stop reading, stop answering, die, flood stderr —
can block the event loop: a writer thread feeds requests to its stdin from a queue, a
reader thread matches the lines of its stdout to the waiting requests by ``id`` (answers
may come in any order, 2.3) and resolves each request's future on its own loop, and a
third thread keeps the last :data:`STDERR_KEEP` bytes of its stderr for the reports.

Every call waits at most ``call_timeout`` seconds. A call that outlives it, a child that
exits, or a line that is not a response ends the child: every call still waiting gets
``StoreUnavailable`` (ERR-4: the store cannot be reached) carrying what happened and the
stderr kept, and the child is never used again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import queue
import shlex
import subprocess
import threading
from typing import IO, Any

from sessionstore import StoreUnavailable

from .values import encode

#: Bytes of the child's stderr kept for the report.
STDERR_KEEP = 64 * 1024
#: Seconds a call may wait for its answer unless the target says otherwise (10).
DEFAULT_CALL_TIMEOUT = 30.0
PROTOCOL = 1


class Child:
    """A running server: :meth:`call` sends one request and awaits its answer."""

    def __init__(self, argv: list[str], call_timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        self.argv = argv
        self.call_timeout = call_timeout
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._ids = itertools.count()
        self._lock = threading.RLock()  # _unavailable reads stderr under it too
        self._waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._stderr = bytearray()
        self._ended: str | None = None  # why the child is unusable, once it is
        self.hello: dict[str, Any] = {}
        pipes = self._process.stdin, self._process.stdout, self._process.stderr
        assert pipes[0] and pipes[1] and pipes[2]  # all three were asked for
        threads = [
            threading.Thread(target=work, args=(pipe,), daemon=True, name="exec-store")
            for work, pipe in zip((self._write, self._read, self._keep), pipes, strict=True)
        ]
        self._stderr_reader = threads[2]
        for thread in threads:
            thread.start()

    @property
    def alive(self) -> bool:
        return self._ended is None

    @property
    def idle(self) -> bool:
        return self.alive and not self._waiting

    @property
    def stderr(self) -> str:
        with self._lock:
            return self._stderr.decode(errors="replace")

    async def start(self) -> dict[str, Any]:
        """The hello exchange (4.1): what the server and its store declare."""
        hello = await self.call(
            "hello", {"protocol": [PROTOCOL], "client": "sessionstore-conformance"}
        )
        if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL:
            self.end(f"the server answered hello with {hello!r}, not protocol {PROTOCOL}")
            raise StoreUnavailable(self._ended or "")
        self.hello = hello
        return hello

    async def call(self, op: str, args: dict[str, Any]) -> Any:
        """The ``ok`` of the answer; an ``error`` answer is returned as the raw dict under
        the key ``error`` by :meth:`exchange`."""
        answer = await self.exchange(op, args)
        if "error" in answer:
            from .values import error

            raise error(answer["error"], self.stderr)
        return answer.get("ok")

    async def exchange(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Send one request and await its whole answer, within the call time limit."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, Any]] = loop.create_future()
        with self._lock:
            if self._ended is not None:
                raise self._unavailable()
            request_id = next(self._ids)
            self._waiting[request_id] = (loop, answer)
        self._outbox.put(encode({"id": request_id, "op": op, "args": args}))
        deadline = loop.time() + self.call_timeout
        try:
            return await self._answer(answer, deadline, op)
        except asyncio.CancelledError:
            # A request sent cannot be recalled: the caller's cancellation waits for the
            # answer (and drops it), so that the call takes effect, if at all, before its
            # caller moves on, as a cancelled call in process does (CONC-1 histories; no
            # request outlives its batch and the clock moves after it, 2.3).
            with contextlib.suppress(Exception):
                await self._answer(answer, deadline, op)
            raise
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)

    async def _answer(
        self, answer: asyncio.Future[dict[str, Any]], deadline: float, op: str
    ) -> dict[str, Any]:
        """The answer, awaited until ``deadline`` (loop time) at most; cancelling the
        caller leaves ``answer`` waiting."""
        left = deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(asyncio.shield(answer), max(0.0, left))
        except asyncio.TimeoutError:  # TimeoutError itself only from Python 3.11
            self.end(f"no answer to {op!r} within the call time limit of {self.call_timeout:g} s")
            raise self._unavailable() from None

    def end(self, why: str) -> None:
        """Make the child unusable: kill it and fail every call still waiting."""
        with self._lock:
            if self._ended is None:
                self._ended = why
            waiting, self._waiting = self._waiting, {}
        self._outbox.put(None)
        if self._process.poll() is None:
            self._process.kill()
        for loop, future in waiting.values():
            loop.call_soon_threadsafe(_fail, future, self._unavailable())

    def _unavailable(self) -> StoreUnavailable:
        tail = self.stderr
        shown = f"\n--- the store process's stderr (last {STDERR_KEEP // 1024} KiB) ---\n{tail}"
        return StoreUnavailable(
            f"{self._ended} [exec: {shlex.join(self.argv)}]{shown if tail.strip() else ''}"
        )

    def _write(self, pipe: IO[bytes]) -> None:
        while (line := self._outbox.get()) is not None:
            try:
                pipe.write(line)
                pipe.flush()
            except OSError:  # the child is gone: the reader reports it
                return
        with contextlib.suppress(OSError):
            pipe.close()  # end of file: the server exits (1.4)

    def _read(self, pipe: IO[bytes]) -> None:
        for line in pipe:
            try:
                message = json.loads(line)
                request_id = message["id"]
            except (ValueError, KeyError, TypeError):
                self.end(f"the server wrote a line that is not a response (1.3): {line[:200]!r}")
                return
            with self._lock:
                target = self._waiting.pop(request_id, None)
            if target is not None:
                loop, future = target
                loop.call_soon_threadsafe(_resolve, future, message)
        status = self._process.wait()
        self._stderr_reader.join(timeout=1.0)  # its last words belong in the report
        self.end(f"the store process exited with status {status}")

    def _keep(self, pipe: IO[bytes]) -> None:
        while chunk := pipe.read1(4096):  # type: ignore[attr-defined]  # a BufferedReader
            with self._lock:
                self._stderr += chunk
                del self._stderr[:-STDERR_KEEP]


def _resolve(future: asyncio.Future[Any], message: Any) -> None:
    if not future.done():
        future.set_result(message)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
