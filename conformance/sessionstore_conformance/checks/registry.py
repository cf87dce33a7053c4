"""The check registry: every check names the clause ids it verifies."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from hypothesis import settings as Settings

from sessionstore import SessionStore

from ..clock import FakeClock
from ..driver import Driver
from ..target import StoreFactory, opened


@dataclass
class Ctx:
    """What an async check gets: a fresh, empty store and the clock it was given."""

    store: SessionStore
    clock: FakeClock
    factory: StoreFactory
    #: the profile's name (ci, dev, thorough): checks scale their effort by it
    profile: str = "dev"
    #: the seed of this run (``--seed``), None for a fresh random one
    seed: int | None = None
    #: how far a store without an injectable clock may be off in real time (``--tolerance-ms``)
    tolerance_ms: int = 250

    @property
    def has_clock(self) -> bool:
        return self.store.capabilities.injectable_clock

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
    #: how far a store without an injectable clock may be off in real time (``--tolerance-ms``)
    tolerance_ms: int = 250


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
