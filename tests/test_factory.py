"""open_store: URLs, StoreConfig, the environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionstore import (
    ConfigurationError,
    SessionStore,
    StoreConfig,
    available_backends,
    open_store,
)
from sessionstore.backends.memory import MemoryStore

pytestmark = pytest.mark.anyio


async def test_memory_url_opens_the_memory_store() -> None:
    async with open_store("memory://") as store:
        assert isinstance(store, MemoryStore)
        assert isinstance(store, SessionStore)
        made = await store.create({"a": 1})
        assert (await store.get(made.id)) == made


async def test_default_is_memory_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TYPE", "PATH", "URL", "DEFAULT_TTL"):
        monkeypatch.delenv(f"SESSION_STORE_{name}", raising=False)
    async with open_store() as store:
        assert isinstance(store, MemoryStore)
        assert store.default_ttl is None


async def test_environment_sets_type_and_default_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_STORE_TYPE", "memory")
    monkeypatch.setenv("SESSION_STORE_DEFAULT_TTL", "90")
    async with open_store() as store:
        made = await store.create()
        assert made.expires_at is not None
        assert (made.expires_at - made.created_at).total_seconds() == 90


async def test_store_config_object() -> None:
    async with open_store(StoreConfig(type="memory", default_ttl=5)) as store:
        assert store.default_ttl == 5


async def test_the_store_is_closed_on_exit() -> None:
    async with open_store("memory://") as store:
        pass
    with pytest.raises(Exception, match="closed"):
        await store.count()


@pytest.mark.parametrize("target", ["postgres://x", "nosuch://"])
async def test_unknown_type_lists_what_is_available(target: str) -> None:
    with pytest.raises(ConfigurationError, match=r"available: .*memory"):
        async with open_store(target):
            pass


async def test_unknown_type_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_STORE_TYPE", "cassandra")
    monkeypatch.delenv("SESSION_STORE_URL", raising=False)
    with pytest.raises(ConfigurationError, match=r"'cassandra'.*available"):
        async with open_store():
            pass


@pytest.mark.parametrize("target", ["memory", "not a url", ":memory:"])
async def test_malformed_url(target: str) -> None:
    with pytest.raises(ConfigurationError, match="malformed store URL"):
        async with open_store(target):
            pass


def test_builtin_backends_are_listed() -> None:
    assert "memory" in available_backends()


async def test_max_data_bytes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from sessionstore import SessionTooLarge

    monkeypatch.setenv("SESSION_STORE_MAX_DATA_BYTES", "100")
    async with open_store("memory://") as store:
        assert store.limits.max_data_bytes == 100
        with pytest.raises(SessionTooLarge):
            await store.create({"k": "x" * 100})


def install_plugin(
    monkeypatch: pytest.MonkeyPatch, where: Path, dist: str, entry_point: str
) -> None:
    """A distribution declaring one ``sessionstore.backends`` entry point, as pip would
    install it: a real dist-info on sys.path."""
    info = where / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sessionstore.backends]\n{entry_point}\n")
    monkeypatch.syspath_prepend(str(where))


async def test_third_party_backends_register_by_entry_point(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An installed distribution that declares a `sessionstore.backends` entry point is
    found by its name, exactly as pip would install it (a real dist-info on sys.path)."""
    (tmp_path / "fake_backend.py").write_text(
        "from sessionstore.backends.memory import MemoryStore\n"
        "OPENED = []\n"
        "def open_custom(config, clock):\n"
        "    OPENED.append(config.url)\n"
        "    return MemoryStore(clock=clock)\n"
    )
    install_plugin(monkeypatch, tmp_path, "fake-backend", "custom = fake_backend:open_custom")
    assert "custom" in available_backends()
    async with open_store("custom://anything") as store:
        assert isinstance(store, MemoryStore)
    import fake_backend  # type: ignore[import-not-found]

    assert fake_backend.OPENED == ["custom://anything"]


async def test_a_broken_plugin_breaks_only_its_own_scheme(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """open_store loads the one backend it is asked for: built-in schemes never load a
    plugin, so an installed plugin that fails to import leaves them working, and an
    unknown scheme is refused with the plugin's name listed, not its import error."""
    install_plugin(monkeypatch, tmp_path, "broken-backend", "broken = missing_module:open_it")
    async with open_store("memory://") as store:
        assert isinstance(store, MemoryStore)
    with pytest.raises(ConfigurationError, match=r"unknown session store type 'nope'.*broken"):
        async with open_store("nope://"):
            pass
    with pytest.raises(ModuleNotFoundError):  # asked for by name: its own error
        async with open_store("broken://"):
            pass


# --- the Redis store's URLs (a server is needed only to open one: tests/test_redis_store.py)


def test_redis_schemes_are_builtin() -> None:
    backends = available_backends()
    assert backends["redis"] is backends["rediss"]


@pytest.mark.parametrize(
    ("url", "reopen", "server"),
    [
        (
            "redis://h:6380/2",
            "redis://h:6380/2?namespace=sessions",
            "redis://h:6380/2",
        ),
        (
            "rediss://app:pw@h:6380/0?namespace=a%3Ab&timeout=1.5&ssl_cert_reqs=none",
            "rediss://app:pw@h:6380/0?namespace=a%3Ab&timeout=1.5&ssl_cert_reqs=none",
            "rediss://app:pw@h:6380/0?ssl_cert_reqs=none",
        ),
    ],
)
async def test_redis_urls(url: str, reopen: str, server: str) -> None:
    """The store's url opens it again (CAP-2): namespace and timeout kept, the server's
    own options passed to redis-py, nothing else; the namespace is escaped in keys."""
    from sessionstore.backends.redis import RedisStore

    namespace = "a:b" if "a%3Ab" in url else "sessions"
    store = RedisStore(url, namespace=namespace, timeout=1.5 if "timeout" in url else 5)
    try:
        assert store.url == reopen
        assert store._prefix == f"sessionstore:{{{'a%3Ab' if namespace == 'a:b' else namespace}}}:"
        assert "pw" not in repr(store) and "pw" not in store._where
        kwargs = store._pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"]) == ("h", 6380)
        assert kwargs.get("password") == ("pw" if "pw" in server else None)
        tls = url.startswith("rediss://")
        assert (store._pool.connection_class.__name__ == "SSLConnection") == tls
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("redis://localhost/0?color=red", "unknown store URL option"),
        ("redis://localhost/0?timeout=soon", "timeout must be a positive number"),
        ("redis://localhost/0?timeout=nan", "timeout must be a positive number"),
        ("redis://localhost/0?timeout=inf", "timeout must be a positive number"),
        ("redis://localhost/0?timeout=-1", "timeout must be a positive number"),
        ("redis://localhost:99999/0", "malformed store URL .*Port out of range"),
        ("http://[::1", "malformed store URL .*IPv6"),
        ("sqlite:///a%00b.db", "NUL"),
        ("memory://#x", "%23"),
        ("redis://localhost/abc", "Redis database .* must be a number"),  # was database 0
        ("rediss://localhost/0?ssl_cert_reqs=bogus", "ssl_cert_reqs must be"),
    ],
)
async def test_bad_redis_urls(target: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        async with open_store(target):
            pass


async def test_redis_type_without_url_means_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """SESSION_STORE_TYPE=redis alone opens redis://localhost:6379/0; nothing listens on
    that port here, so the error names the URL, unreachable."""
    from sessionstore import StoreUnavailable
    from sessionstore.factory import DEFAULT_REDIS_URL

    assert DEFAULT_REDIS_URL == "redis://localhost:6379/0"
    monkeypatch.setenv("SESSION_STORE_TYPE", "redis")
    monkeypatch.delenv("SESSION_STORE_URL", raising=False)
    monkeypatch.setattr("sessionstore.factory.DEFAULT_REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable, match=r"redis://127\.0\.0\.1:1/0\?namespace=sessions"):
        async with open_store():
            pass


async def test_a_malformed_url_never_repeats_a_password() -> None:
    with pytest.raises(ConfigurationError, match="malformed store URL") as refused:
        async with open_store("redis:/app:hunter2@host/0"):
            pass
    assert "hunter2" not in str(refused.value) and "host/0" in str(refused.value)


# --- configuration errors: one line, their own type, naming the setting (issue 12)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TYPE", "PATH", "URL", "NAMESPACE", "DEFAULT_TTL", "MAX_DATA_BYTES"):
        monkeypatch.delenv(f"SESSION_STORE_{name}", raising=False)
    return monkeypatch


async def test_a_misspelled_variable_names_the_close_match(clean_env: pytest.MonkeyPatch) -> None:
    """SESSION_STORE_TPYE=sqlite silently gave the memory store."""
    clean_env.setenv("SESSION_STORE_TPYE", "sqlite")
    with pytest.raises(
        ConfigurationError, match=r"SESSION_STORE_TPYE: did you mean SESSION_STORE_TYPE\?"
    ):
        async with open_store():
            pass


async def test_a_path_without_a_type_is_not_a_memory_store(clean_env: pytest.MonkeyPatch) -> None:
    """SESSION_STORE_PATH alone opened the memory store, which ignored the path."""
    clean_env.setenv("SESSION_STORE_PATH", "sessions.db")
    with pytest.raises(ConfigurationError, match="SESSION_STORE_TYPE=sqlite"):
        async with open_store():
            pass


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", r"SESSION_STORE_DEFAULT_TTL='abc': .*number"),
        ("1e308", r"SESSION_STORE_DEFAULT_TTL\): ttl must be between"),
        ("nan", r"SESSION_STORE_DEFAULT_TTL\): ttl must be a finite number"),
    ],
)
async def test_a_bad_variable_is_one_line_naming_it(
    clean_env: pytest.MonkeyPatch, value: str, message: str
) -> None:
    clean_env.setenv("SESSION_STORE_DEFAULT_TTL", value)
    with pytest.raises(ConfigurationError, match=message) as refused:
        async with open_store("memory://"):
            pass
    assert "\n" not in str(refused.value)


def test_a_configuration_error_is_not_an_error_about_session_data() -> None:
    from sessionstore import InvalidSession, SessionStoreError

    assert issubclass(ConfigurationError, (SessionStoreError))
    assert issubclass(ConfigurationError, ValueError)
    assert not issubclass(ConfigurationError, InvalidSession)
