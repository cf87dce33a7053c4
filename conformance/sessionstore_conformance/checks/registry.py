"""The check registry: every check names the clause ids it verifies."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import settings as Settings

from sessionstore import SessionStore

from ..clock import FakeClock
from ..driver import Driver
from ..latency import Budgets
from ..target import StoreFactory, opened
from .realtime import DEFAULT_TOLERANCE_MS, READ_MARGIN_MS, Span, short_ttl_ms, wall_ms

T = TypeVar("T")


@dataclass
class Ctx:
    """What an async check gets: a fresh, empty store and the clock it was given.

    Checks read and pass time through it, the same calls in both modes (see
    :mod:`.realtime`): the injected clock's exact instants, or the wall clock's with
    the tolerance."""

    store: SessionStore
    clock: FakeClock
    factory: StoreFactory
    #: the profile's name (ci, dev, thorough): checks scale their effort by it
    profile: str = "dev"
    #: the seed of this run (``--seed``), None for a fresh random one
    seed: int | None = None
    #: how far (ms) the store's clock may be from the wall clock in real-time mode
    tolerance_ms: int = DEFAULT_TOLERANCE_MS
    #: the latency budgets the run chose (PERF-1)
    budgets: Budgets = field(default_factory=Budgets)
    #: what the check measured, for the report (e.g. "latency": a LatencyTable)
    findings: dict[str, Any] = field(default_factory=dict)

    @property
    def has_clock(self) -> bool:
        return self.store.capabilities.injectable_clock

    @property
    def skew_ms(self) -> int:
        """The tolerance in force: 0 with the injected clock, ``tolerance_ms`` without."""
        return 0 if self.has_clock else self.tolerance_ms

    @property
    def short_ttl_ms(self) -> int:
        """The ttl of sessions that a check lets expire."""
        return short_ttl_ms(self.skew_ms)

    def now_ms(self) -> int:
        """The kit's now: the injected clock, else the wall clock (epoch ms)."""
        return self.clock.ms if self.has_clock else wall_ms()

    async def pass_time(self, ms: int) -> None:
        """Let ``ms`` pass: advance the injected clock, or sleep for real."""
        if self.has_clock:
            self.clock.advance(ms)
            return
        deadline = wall_ms() + ms
        await asyncio.sleep(ms / 1000)
        # asyncio's timers run on the monotonic clock and may fire a hair early by the wall's
        if (left := deadline - wall_ms()) > 0:
            await asyncio.sleep(left / 1000 + 0.001)

    async def pass_until(self, instant_ms: int) -> None:
        """Let time pass up to ``instant_ms`` (nothing if it is already past)."""
        await self.pass_time(max(0, instant_ms - self.now_ms()))

    async def timed(self, call: Awaitable[T]) -> tuple[T, Span]:
        """Await ``call``, noting when it was invoked and when it returned."""
        start = self.now_ms()
        result = await call
        return result, Span(start, self.now_ms())

    def last_live_ms(self, expiry: Span) -> int:
        """When to invoke a read that must still see the session: 1 ms before the
        expiry, or in real time :data:`READ_MARGIN_MS` before the earliest instant
        the tolerance allows."""
        if self.has_clock:
            return expiry.start - 1
        return expiry.start - self.skew_ms - READ_MARGIN_MS

    def first_gone_ms(self, expiry: Span) -> int:
        """When to invoke a read that must no longer see the session: at the expiry,
        or in real time once the latest expiry plus the tolerance has passed."""
        return expiry.end + self.skew_ms

    def another(self) -> AbstractAsyncContextManager[SessionStore]:
        """A second fresh store on the same clock (for import and close checks)."""
        return opened(self.factory, self.clock)


@dataclass
class Harness:
    """What sync checks (the stateful suite) drive the store through."""

    driver: Driver
    factory: StoreFactory
    settings: Settings
    #: the profile's name (ci, dev, thorough): checks scale their effort by it
    profile: str = "dev"
    #: the seed of this run (``--seed``), None for a fresh random one
    seed: int | None = None
    #: how far (ms) the store's clock may be from the wall clock in real-time mode
    tolerance_ms: int = DEFAULT_TOLERANCE_MS
    #: the latency budgets the run chose (PERF-1)
    budgets: Budgets = field(default_factory=Budgets)

    def context(
        self, store: SessionStore, clock: FakeClock, findings: dict[str, Any] | None = None
    ) -> Ctx:
        """The Ctx of one async check, carrying this run's settings; what it measures goes
        into ``findings``."""
        return Ctx(
            store,
            clock,
            self.factory,
            self.profile,
            self.seed,
            tolerance_ms=self.tolerance_ms,
            budgets=self.budgets,
            findings={} if findings is None else findings,
        )


@dataclass(frozen=True)
class Check:
    name: str
    clauses: tuple[str, ...]
    run: Callable[..., Any]
    #: Capabilities the check needs; without them it cannot run (its clauses stay unknown).
    requires: tuple[str, ...]
    #: Sync checks get the runner's harness (the stateful suite); async ones get a Ctx.
    is_async: bool
    doc: str


REGISTRY: list[Check] = []

#: What a check may require besides a capability: attributes the kit looks up on the
#: store. Test hooks (``corrupt_for_testing(id)``, ``disconnect_for_testing()``, both
#: async) cause faults the contract cannot; ``url`` reopens the store elsewhere (CAP-2).
HOOKS = ("corrupt_for_testing", "disconnect_for_testing", "url")


def check(
    *clauses: str, requires: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.append(
            Check(
                name=fn.__name__.removeprefix("check_"),
                clauses=clauses,
                run=fn,
                requires=requires,
                is_async=inspect.iscoroutinefunction(fn),
                doc=inspect.getdoc(fn) or "",
            )
        )
        return fn

    return register
