"""``open_store``: one entry point from a URL, a config or the environment to a store.

Built-in backends are listed in ``BUILTIN_BACKENDS``; others register an opener under
the entry-point group ``sessionstore.backends`` and are found by scheme name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from urllib.parse import urlsplit

from .config import StoreConfig
from .contract import SessionStore
from .errors import InvalidSession
from .values import Clock

#: An opener takes the parsed config and the clock and returns an open store.
Opener = Callable[[StoreConfig, "Clock | None"], SessionStore]


def _open_memory(config: StoreConfig, clock: Clock | None) -> SessionStore:
    from .backends.memory import MemoryStore

    return MemoryStore(clock=clock, default_ttl=config.default_ttl)


BUILTIN_BACKENDS: dict[str, Opener] = {"memory": _open_memory}


def available_backends() -> dict[str, Opener]:
    found = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group="sessionstore.backends"):
        found.setdefault(ep.name, ep.load())
    return found


def _backend_name(config: StoreConfig) -> str:
    if config.url is None:
        return config.type
    scheme = urlsplit(config.url).scheme
    if not scheme or "://" not in config.url:
        raise InvalidSession(
            f"malformed store URL {config.url!r}: expected scheme://..., e.g. memory://"
        )
    return scheme


@asynccontextmanager
async def open_store(
    target: str | StoreConfig | None = None, *, clock: Clock | None = None
) -> AsyncIterator[SessionStore]:
    """Open a store, yield it, close it.

    ``target`` is a store URL (``memory://``), a :class:`StoreConfig`, or None to read
    the ``SESSION_STORE_*`` environment (default: the memory store). ``clock`` injects
    the store's clock (stores that declare ``injectable_clock``).
    """
    if target is None:
        config = StoreConfig()
    elif isinstance(target, StoreConfig):
        config = target
    elif isinstance(target, str):
        config = StoreConfig(url=target)
    else:
        raise InvalidSession(f"target must be a URL, a StoreConfig or None, not {target!r}")
    name = _backend_name(config)
    backends = available_backends()
    if name not in backends:
        raise InvalidSession(
            f"unknown session store type {name!r}; available: {', '.join(sorted(backends))}"
        )
    store = backends[name](config, clock)
    try:
        yield store
    finally:
        await store.close()
