"""Turning a TARGET (a store URL, ``package.module:factory`` or ``exec:COMMAND ARGS``)
into fresh stores, and a store's ``url`` (CAP-2) into another instance on its data."""

from __future__ import annotations

import importlib
import inspect
import itertools
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit

from sessionstore import SessionStore, open_store

from .clock import FakeClock
from .errors import UsageError

#: Given the kit's clock, returns a store, an awaitable of one, or an async context manager.
StoreFactory = Callable[..., Any]


def resolve(target: str | StoreFactory, call_timeout: float | None = None) -> StoreFactory:
    """A URL opens through :func:`sessionstore.open_store`; ``module:attr`` is imported;
    ``exec:COMMAND ARGS`` runs a driver-protocol server (spec/driver-protocol.md), whose
    calls each wait at most ``call_timeout`` seconds."""
    if callable(target):
        return target
    if target.startswith("exec:"):
        from .wire.client import ExecTarget

        return ExecTarget(target, call_timeout)
    if "://" in target:
        return _fresh_namespaces(target)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(
            f"target {target!r} is neither a store URL (memory://), package.module:factory "
            "nor exec:COMMAND"
        )
    try:
        module = _import_from_here(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UsageError(f"{module_name}.{attr} is not a callable store factory")
    return cast(StoreFactory, factory)


def _import_from_here(module_name: str) -> Any:
    """Import the factory's module; if it is not on the path, from the current directory,
    where ``python -m`` would find it: the console script's path starts at its own bin/,
    so a factory module lying beside the user (not installed) is not found otherwise."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        here = os.getcwd()
        if exc.name != module_name.partition(".")[0] or here in sys.path or "" in sys.path:
            raise
        sys.path.insert(0, here)
        return importlib.import_module(module_name)


def _fresh_namespaces(url: str) -> StoreFactory:
    """Every store opened from a URL gets a namespace of its own, so it starts empty
    and the kit never sees (or touches) anyone else's sessions in a shared backend."""
    run = secrets.token_hex(3)
    counter = itertools.count(1)
    joiner = "&" if urlsplit(url).query else "?"

    def factory(*, clock: FakeClock) -> Any:
        return open_store(f"{url}{joiner}namespace=kit{run}_{next(counter)}", clock=clock)

    return factory


@asynccontextmanager
async def opened(factory: StoreFactory, clock: FakeClock) -> AsyncIterator[SessionStore]:
    """Open one fresh store from the factory and close it afterwards."""
    made = factory(clock=clock)
    if inspect.isawaitable(made):
        made = await made
    if not hasattr(made, "__aenter__"):
        raise UsageError(f"the factory returned {type(made).__name__}, not a session store")
    store = await made.__aenter__()
    try:
        if await store.count() != 0:
            raise UsageError("the factory must return an empty store for every call")
        yield store
    finally:
        await made.__aexit__(None, None, None)


def attaches(factory: StoreFactory) -> bool:
    """Whether the factory's stores live in other processes, whose urls only another
    such process can open (an ``exec:`` target: spec/driver-protocol.md, 4.3)."""
    return callable(getattr(factory, "attach", None))


@asynccontextmanager
async def reopen(
    factory: StoreFactory | None, url: str, clock: FakeClock | None
) -> AsyncIterator[SessionStore]:
    """Another instance on the backing data a store of ``factory`` calls ``url`` (CAP-2),
    closed afterwards: :func:`sessionstore.open_store` in this process, or for an
    ``exec:`` target a server of its own that attaches to it (``attach``). ``clock`` is the
    instance's clock (None: the real clock, or for a server that takes a clock, one of
    its own that stands still)."""
    attach = getattr(factory, "attach", None)
    if callable(attach):
        manager: Any = await attach(url, clock=clock)
    else:
        manager = open_store(url, clock=clock)
    async with manager as store:
        yield store
