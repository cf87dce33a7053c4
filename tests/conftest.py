"""Shared fixtures and settings of our own test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from redis_server import RedisServer

    from sessionstore_conformance.runner import Report

pytest_plugins = ["pytester"]

# Our own property tests: derandomized on CI (HYPOTHESIS_PROFILE=ci, set by noxfile.py).
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def memory_kit_report() -> Report:
    """The whole kit (ci profile) on the reference memory store, run once for every test
    that reads its verdict: the gallery's control and the memory store's outcomes."""
    from sessionstore_conformance import run

    return run("memory://", profile="ci")


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, the loop servers use."""
    return "asyncio"


# --- Redis: a throwaway server for the Redis store's tests (tests/redis_server.py) ----------


def _redis_url_given() -> str | None:
    for name in ("SESSION_STORE_URL", "REDIS_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("redis://", "rediss://")):
            return url
    return None


def need_redis_server() -> None:
    """Skip when redis-server is missing, except on CI, where that fails the test."""
    from redis_server import server_binary

    if server_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing on CI: .ci/run installs the Debian package")
        pytest.skip("redis-server is not installed (Debian package redis-server)")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server for the whole session: SESSION_STORE_URL or REDIS_URL when given,
    else a throwaway redis-server on a free loopback port, stopped at the end."""
    given = _redis_url_given()
    if given:
        yield given
        return
    need_redis_server()
    from redis_server import running

    with running() as server:
        yield server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop, restart or configure."""
    need_redis_server()
    from redis_server import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
