"""Driving an async store from synchronous code (the runner, Hypothesis).

One private asyncio event loop per run, run in the caller's own thread. A blocking
portal (an event loop in a second thread) was the first design; measured here it costs
~310 us per call against ~14 us for ``run_until_complete``, and the stateful suite
makes hundreds of thousands of calls while shrinking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

T = TypeVar("T")


class Driver:
    """Runs coroutines to completion on one event loop that outlives every call."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._loop.run_until_complete(fn(*args, **kwargs))

    def enter(self, manager: AbstractAsyncContextManager[T]) -> T:
        return self.call(manager.__aenter__)

    def exit(self, manager: AbstractAsyncContextManager[Any]) -> None:
        self.call(manager.__aexit__, None, None, None)

    def close(self) -> None:
        try:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
