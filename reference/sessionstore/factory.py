"""``open_store``: one entry point from a URL, a config or the environment to a store.

Built-in backends are listed in ``BUILTIN_BACKENDS``; others register an opener under
the entry-point group ``sessionstore.backends`` and are found by scheme name.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from .contract import SessionStore
from .errors import InvalidSession
from .values import Clock

if TYPE_CHECKING:  # imported when a store is opened: pydantic-settings costs 200 ms
    from .config import StoreConfig

#: An opener takes the parsed config and the clock and returns an open store.
Opener = Callable[["StoreConfig", "Clock | None"], "SessionStore | Awaitable[SessionStore]"]


def url_options(config: StoreConfig, allowed: set[str]) -> dict[str, str]:
    """The query parameters of the config's URL (``?namespace=x``), checked against
    what the backend understands; ``namespace`` falls back to the config's."""
    query = parse_qs(urlsplit(config.url).query, keep_blank_values=True) if config.url else {}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise InvalidSession(
            f"unknown store URL option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    options = {key: values[-1] for key, values in query.items()}
    if "namespace" in allowed and "namespace" not in options and config.namespace:
        options["namespace"] = config.namespace
    return options


def _open_memory(config: StoreConfig, clock: Clock | None) -> SessionStore:
    from .backends.memory import MemoryStore

    url_options(config, {"namespace"})  # accepted for symmetry; each memory store is its own
    return MemoryStore(clock=clock, default_ttl=config.default_ttl, limits=config.limits())


def _open_sqlite(config: StoreConfig, clock: Clock | None) -> Awaitable[SessionStore]:
    from .backends.sqlite import DEFAULT_CACHE_MB, DEFAULT_MMAP_MB, SQLiteStore

    options = url_options(
        config, {"namespace", "synchronous", "lock_timeout", "cache_mb", "mmap_mb"}
    )
    if config.url:
        # As SQLAlchemy: sqlite:///relative/file.db and sqlite:////absolute/file.db
        path = unquote(urlsplit(config.url).path)[1:]
    else:
        path = config.path or DEFAULT_SQLITE_PATH
    if not path:
        raise InvalidSession(
            "an SQLite store needs a file: sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    try:
        lock_timeout = float(options.get("lock_timeout", 30))
    except ValueError:
        raise InvalidSession("lock_timeout must be a number of seconds") from None
    try:
        cache_mb = int(options.get("cache_mb", DEFAULT_CACHE_MB))
        mmap_mb = int(options.get("mmap_mb", DEFAULT_MMAP_MB))
    except ValueError:
        raise InvalidSession("cache_mb and mmap_mb must be whole numbers of MiB") from None
    store = SQLiteStore(
        path,
        namespace=options.get("namespace", "sessions"),
        clock=clock,
        default_ttl=config.default_ttl,
        limits=config.limits(),
        synchronous=options.get("synchronous", "normal"),
        lock_timeout=lock_timeout,
        cache_mb=cache_mb,
        mmap_mb=mmap_mb,
    )
    return store.open()


def _open_redis(config: StoreConfig, clock: Clock | None) -> Awaitable[SessionStore]:
    """``redis://[user:password@]host:port/db?namespace=…`` (``rediss://`` for TLS); with
    ``SESSION_STORE_TYPE=redis`` and no URL, a server on localhost."""
    try:
        from .backends.redis import DEFAULT_NAMESPACE, DEFAULT_TIMEOUT_S, TLS_OPTIONS, open_redis
    except ImportError as exc:  # the optional extra is not installed
        raise InvalidSession(
            f"the Redis store needs the redis package: pip install 'sessionstore[redis]' ({exc})"
        ) from None
    options = url_options(config, {"namespace", "timeout", *TLS_OPTIONS})
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT_S))
    except ValueError:
        raise InvalidSession("timeout must be a number of seconds") from None
    return open_redis(
        config.url or DEFAULT_REDIS_URL,
        namespace=options.get("namespace", DEFAULT_NAMESPACE),
        clock=clock,
        default_ttl=config.default_ttl,
        limits=config.limits(),
        timeout=timeout,
    )


DEFAULT_SQLITE_PATH = "./data/sessions.db"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
BUILTIN_BACKENDS: dict[str, Opener] = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
    "redis": _open_redis,
    "rediss": _open_redis,
}


def available_backends() -> dict[str, Opener]:
    from importlib.metadata import entry_points  # 50 ms to import: only when looked up

    found = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group="sessionstore.backends"):
        found.setdefault(ep.name, ep.load())
    return found


def _backend_name(config: StoreConfig) -> str:
    if config.url is None:
        return config.type
    scheme = urlsplit(config.url).scheme
    if not scheme or "://" not in config.url:
        # Whatever precedes an "@" may be a password: never repeated in a message.
        shown = "...@" + config.url.rpartition("@")[2] if "@" in config.url else config.url
        raise InvalidSession(
            f"malformed store URL {shown!r}: expected scheme://..., e.g. memory://"
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
    from .config import StoreConfig

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
    opened = backends[name](config, clock)
    store = await opened if inspect.isawaitable(opened) else opened
    try:
        yield store
    finally:
        await store.close()
