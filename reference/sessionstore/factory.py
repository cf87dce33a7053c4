"""``open_store``: one entry point from a URL, a config or the environment to a store.

Built-in backends are listed in ``BUILTIN_BACKENDS``; others register an opener under
the entry-point group ``sessionstore.backends`` and are found by scheme name.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from .contract import SessionStore
from .errors import ConfigurationError, InvalidSession
from .options import positive_seconds, whole_mib
from .values import Clock

if TYPE_CHECKING:  # imported when a store is opened: pydantic-settings costs 200 ms
    from .config import StoreConfig

#: An opener takes the parsed config and the clock and returns an open store.
Opener = Callable[["StoreConfig", "Clock | None"], "SessionStore | Awaitable[SessionStore]"]


def url_options(config: StoreConfig, allowed: set[str]) -> dict[str, str]:
    """The query parameters of the config's URL (``?namespace=x``), checked against
    what the backend understands; ``namespace`` falls back to the config's."""
    query = parse_qs(split_url(config.url).query, keep_blank_values=True) if config.url else {}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ConfigurationError(
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
    store = SQLiteStore(
        sqlite_path(config),
        namespace=options.get("namespace", "sessions"),
        clock=clock,
        default_ttl=config.default_ttl,
        limits=config.limits(),
        synchronous=options.get("synchronous", "normal"),
        lock_timeout=positive_seconds("lock_timeout", options.get("lock_timeout", 30)),
        cache_mb=whole_mib("cache_mb", options.get("cache_mb", DEFAULT_CACHE_MB)),
        mmap_mb=whole_mib("mmap_mb", options.get("mmap_mb", DEFAULT_MMAP_MB)),
    )
    return store.open()


def _open_redis(config: StoreConfig, clock: Clock | None) -> Awaitable[SessionStore]:
    """``redis://[user:password@]host:port/db?namespace=…`` (``rediss://`` for TLS); with
    ``SESSION_STORE_TYPE=redis`` and no URL, a server on localhost."""
    try:
        from .backends.redis import DEFAULT_NAMESPACE, DEFAULT_TIMEOUT_S, TLS_OPTIONS, open_redis
    except ImportError as exc:  # the optional extra is not installed
        raise ConfigurationError(
            f"the Redis store needs the redis package: pip install 'sessionstore[redis]' ({exc})"
        ) from None
    options = url_options(config, {"namespace", "timeout", *TLS_OPTIONS})
    url = config.url or DEFAULT_REDIS_URL
    database = unquote(split_url(url).path).strip("/")
    if database and not database.isdigit():  # redis-py would quietly use database 0
        raise ConfigurationError(
            f"the Redis database in {_shown(url)} must be a number (redis://host:6379/0), "
            f"not {database!r}"
        )
    if options.get("ssl_cert_reqs", "none") not in ("none", "optional", "required"):
        raise ConfigurationError(
            f"ssl_cert_reqs must be none, optional or required, not {options['ssl_cert_reqs']!r}"
        )
    return open_redis(
        url,
        namespace=options.get("namespace", DEFAULT_NAMESPACE),
        clock=clock,
        default_ttl=config.default_ttl,
        limits=config.limits(),
        timeout=positive_seconds("timeout", options.get("timeout", DEFAULT_TIMEOUT_S)),
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
    from importlib.metadata import entry_points  # here: it costs 20 ms at import

    found = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group="sessionstore.backends"):
        found.setdefault(ep.name, ep.load())
    return found


def _opener(name: str) -> Opener:
    """The opener of one backend: a built-in one at once (they take precedence), else
    the entry point of that name alone. Scanning and loading every installed plugin, as
    available_backends does, took 9-16 ms per open_store (a conformance run opens
    hundreds of stores), and one broken plugin broke every scheme."""
    builtin = BUILTIN_BACKENDS.get(name)
    if builtin is not None:
        return builtin
    from importlib.metadata import entry_points

    for ep in entry_points(group="sessionstore.backends", name=name):
        opener: Opener = ep.load()
        return opener
    names = {*BUILTIN_BACKENDS, *(ep.name for ep in entry_points(group="sessionstore.backends"))}
    raise ConfigurationError(
        f"unknown session store type {name!r}; available: {', '.join(sorted(names))}"
    )


#: The prefix of every variable :class:`StoreConfig` reads.
ENV_PREFIX = "SESSION_STORE_"


def _shown(url: str) -> str:
    """A URL for a message: whatever precedes an "@" may be a password, never repeated."""
    return repr("...@" + url.rpartition("@")[2] if "@" in url else url)


def split_url(url: str) -> SplitResult:
    """The parts of a store URL; every way it can be malformed is one ConfigurationError."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed on access: "host:99999" is refused here
    except ValueError as exc:  # e.g. "http://[::1" (unclosed IPv6 address)
        raise ConfigurationError(f"malformed store URL {_shown(url)}: {exc}") from None
    if not parts.scheme or "://" not in url:
        raise ConfigurationError(
            f"malformed store URL {_shown(url)}: expected scheme://..., e.g. memory://"
        )
    if "#" in url:  # urlsplit would cut the path at "#" and open another file
        raise ConfigurationError(
            f"store URL {_shown(url)} has a '#': write it as %23 in a file name or option"
        )
    if "\0" in unquote(url):
        raise ConfigurationError(f"store URL {_shown(url)} holds a NUL character (%00)")
    return parts


def sqlite_path(config: StoreConfig) -> str:
    """The SQLite file a config names: the URL's path (as SQLAlchemy:
    sqlite:///relative/file.db, sqlite:////absolute/file.db), else ``path``, else
    DEFAULT_SQLITE_PATH when ``path`` is unset (never when it is set but empty)."""
    if config.url:
        parts = split_url(config.url)
        path = unquote(parts.path)[1:]
        if not path or parts.netloc:  # sqlite://host/x.db would ignore the host
            raise ConfigurationError(
                f"an SQLite store needs a file, and no host: sqlite:///relative.db or "
                f"sqlite:////absolute/path.db, not {_shown(config.url)}"
            )
    elif config.path is None:
        path = DEFAULT_SQLITE_PATH
    else:
        path = config.path
        if not path.strip():
            raise ConfigurationError(
                f"the SQLite path ({ENV_PREFIX}PATH) is empty: name a file, or unset it "
                f"for the default {DEFAULT_SQLITE_PATH}"
            )
        if "\0" in path:
            raise ConfigurationError(f"the SQLite path {path!r} holds a NUL character")
    return path


def backend_name(config: StoreConfig) -> str:
    """The backend a config opens: its URL's scheme, else its ``type``."""
    return config.type if config.url is None else split_url(config.url).scheme


def _check_variables() -> None:
    """An unknown SESSION_STORE_* variable is a typo that would silently change which
    store opens (SESSION_STORE_TPYE=sqlite gives the memory store): refused."""
    from .config import StoreConfig

    known = [ENV_PREFIX + name.upper() for name in StoreConfig.model_fields]
    for name in sorted(os.environ):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), known, n=1)
            hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(known)
            raise ConfigurationError(f"unknown environment variable {name}: {hint}")


def store_config(target: str | StoreConfig | None = None) -> StoreConfig:
    """The checked config for ``target``: a URL (other settings from the environment),
    a StoreConfig (as given) or None (all from the environment)."""
    from .config import StoreConfig

    if isinstance(target, StoreConfig):
        config = target
    elif target is None or isinstance(target, str):
        from pydantic import ValidationError  # here: importing pydantic costs time

        _check_variables()
        try:
            config = StoreConfig() if target is None else StoreConfig(url=target)
        except ValidationError as exc:
            problem = exc.errors()[0]
            name = ENV_PREFIX + "_".join(str(part) for part in problem["loc"]).upper()
            raise ConfigurationError(f"{name}={problem['input']!r}: {problem['msg']}") from None
    else:
        raise ConfigurationError(f"target must be a URL, a StoreConfig or None, not {target!r}")
    limits = config.limits()
    if config.default_ttl is not None:
        from .semantics import ttl_to_ms  # here: orjson is not needed before a store opens

        try:
            ttl_to_ms(config.default_ttl, limits)
        except InvalidSession as exc:
            raise ConfigurationError(f"default_ttl ({ENV_PREFIX}DEFAULT_TTL): {exc}") from None
    if config.url is None and config.path is not None and config.type == "memory":
        raise ConfigurationError(
            f"a path ({ENV_PREFIX}PATH) is set, but the store type is memory, which keeps "
            f"no file: set {ENV_PREFIX}TYPE=sqlite"
        )
    backend_name(config)  # a malformed URL is refused before anything opens
    return config


@asynccontextmanager
async def open_store(
    target: str | StoreConfig | None = None, *, clock: Clock | None = None
) -> AsyncIterator[SessionStore]:
    """Open a store, yield it, close it.

    ``target`` is a store URL (``memory://``), a :class:`StoreConfig`, or None to read
    the ``SESSION_STORE_*`` environment (default: the memory store). ``clock`` injects
    the store's clock (stores that declare ``injectable_clock``). A configuration that
    cannot open a store raises :class:`ConfigurationError`.
    """
    config = store_config(target)
    opened = _opener(backend_name(config))(config, clock)
    store = await opened if inspect.isawaitable(opened) else opened
    try:
        yield store
    finally:
        await store.close()
