"""Driving an async store from synchronous code (the runner, Hypothesis).

One private asyncio event loop per run, run in the caller's own thread. A blocking
portal (an event loop in a second thread) was the first design; measured here it costs
~310 us per call against ~14 us for ``run_until_complete``, and the stateful suite
makes hundreds of thousands of calls while shrinking.

Time limits: while a :meth:`Driver.deadline` is set, every :meth:`Driver.call` gets
only the time left, and none starts after it. A call still running at the deadline
gets a short grace: if it answers, the check merely outran its limit; if not, it is
cancelled and the store did not answer. Either way :class:`NoAnswer` is raised — for an
async check (one call) and for a sync check that makes thousands of calls alike. A store that blocks the event loop synchronously
(``time.sleep``, a blocking socket read) cannot be interrupted this way: the loop
never regains control until the store returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds a call under way at the deadline may still take to answer (then the check
#: outran its limit) before it counts as no answer (then the store hung).
ANSWER_GRACE = 5.0
#: Seconds a cancelled call may take to unwind (close its store) before it is abandoned.
CANCEL_GRACE = 2.0


class NoAnswer(BaseException):
    """The check's deadline passed: the store did not answer a call in time (``waiting``),
    or the check as a whole (e.g. a long shrink) outran its limit.

    A BaseException, so that neither Hypothesis nor a check's ``except Exception``
    mistakes it for a failing example and replays it: it ends the check at once."""

    def __init__(self, limit: float, *, waiting: bool) -> None:
        self.limit = limit
        self.waiting = waiting
        super().__init__(
            f"no answer in {limit:g} s"
            if waiting
            else f"the check did not finish within its time limit of {limit:g} s"
        )


async def _finished(task: asyncio.Future[Any], seconds: float) -> bool:
    """Whether ``task`` ends within ``seconds``; its outcome, if an error, is retrieved
    (after a timeout, the timeout is the news)."""
    await asyncio.wait({task}, timeout=max(0.0, seconds))
    if task.done() and not task.cancelled():
        task.exception()
    return task.done()


class Driver:
    """Runs coroutines to completion on one event loop that outlives every call."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._deadline: float | None = None  # time.monotonic() value
        self._limit = 0.0
        self._expired = False  # past the deadline: calls that clean up get a grace each

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if self._deadline is None:
            return self._loop.run_until_complete(fn(*args, **kwargs))
        left = CANCEL_GRACE if self._expired else self._deadline - time.monotonic()
        if left <= 0:  # a quick store never waits, so the deadline is checked before calls too
            self._expired = True
            raise NoAnswer(self._limit, waiting=False)
        task = asyncio.ensure_future(fn(*args, **kwargs), loop=self._loop)
        if not self._settles(task, left):
            self._loop.run_until_complete(self._overdue(task))  # raises NoAnswer
        return task.result()

    def _settles(self, task: asyncio.Future[Any], seconds: float) -> bool:
        """Run the loop until ``task`` is done or ``seconds`` have passed; whether it is done.

        One future and one timer, not a waiting task: the stateful suite makes tens of
        thousands of calls per run, and ``asyncio.wait`` tripled each call's overhead
        (~50 us against ~15 us unbounded)."""
        woken = self._loop.create_future()

        def wake(_: object = None) -> None:
            if not woken.done():
                woken.set_result(None)

        task.add_done_callback(wake)
        timer = self._loop.call_later(seconds, wake)
        try:
            self._loop.run_until_complete(woken)
        finally:
            timer.cancel()
            task.remove_done_callback(wake)
        return task.done()

    async def _overdue(self, task: asyncio.Future[Any]) -> None:
        """``task`` is still running at the deadline: raise :class:`NoAnswer`, after a
        grace that tells a slow answer on a loaded machine from a hang."""
        self._expired = True
        if await _finished(task, min(ANSWER_GRACE, self._limit)):
            raise NoAnswer(self._limit, waiting=False)
        task.cancel()  # a store awaiting forever is cancelled; its cleanup gets a grace
        await _finished(task, CANCEL_GRACE)
        raise NoAnswer(self._limit, waiting=True)

    @contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        """Within the block, calls end by ``seconds`` from now (None: no limit)."""
        if seconds is None:
            yield
            return
        saved = self._deadline, self._limit, self._expired
        self._deadline, self._limit, self._expired = time.monotonic() + seconds, seconds, False
        try:
            yield
        finally:
            self._deadline, self._limit, self._expired = saved

    def enter(self, manager: AbstractAsyncContextManager[T]) -> T:
        return self.call(manager.__aenter__)

    def exit(self, manager: AbstractAsyncContextManager[Any]) -> None:
        self.call(manager.__aexit__, None, None, None)

    def close(self) -> None:
        try:
            for task in asyncio.all_tasks(self._loop):  # calls abandoned after a timeout
                task.cancel()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
