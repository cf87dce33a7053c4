"""The Redis store on a real redis-server (tests/redis_server.py; never a mock): the
whole kit, then what the kit cannot do to a server — stopping and restarting it, wrong
credentials, foreign keys beside the store's, physical expiry."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis as sync_redis
from redis_server import RedisServer

from sessionstore import (
    CorruptSession,
    StoreConfig,
    StoreUnavailable,
    open_store,
)
from sessionstore.backends.redis import RedisStore, open_redis, parse_session
from sessionstore.urls import redact
from sessionstore_conformance import run

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


# --- the kit ------------------------------------------------------------------------------


# The whole kit runs on the Redis store in the conformance matrix (noxfile.py: --strict
# --require-verified, on CI); its declared capabilities are checked in test_kit_backends.


# --- URLs and the factory ---------------------------------------------------------------


async def test_url_forms_and_the_environment(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_store(f"{redis_url}?namespace=t_url") as store:
        assert isinstance(store, RedisStore)
        made = await store.create({"a": 1})
        url = store.url
    assert "namespace=t_url" in url
    async with open_store(url) as again:  # CAP-2: the url opens the same sessions
        assert (await again.get(made.id)) == made
        await again.delete(made.id)
    monkeypatch.setenv("SESSION_STORE_TYPE", "redis")
    monkeypatch.setenv("SESSION_STORE_URL", redis_url)
    monkeypatch.setenv("SESSION_STORE_NAMESPACE", "t_env")
    async with open_store() as store:
        assert isinstance(store, RedisStore) and store.namespace == "t_env"
    with pytest.raises(ValueError, match="unknown store URL option"):
        async with open_store(StoreConfig(url=f"{redis_url}?nope=1")):
            pass


# --- namespaces ---------------------------------------------------------------------------


async def test_namespaces_are_apart_and_foreign_keys_untouched(redis_url: str) -> None:
    foreign = sync_redis.Redis.from_url(redis_url)
    run = secrets.token_hex(3)  # a server given by REDIS_URL may hold an earlier run's keys
    names = [run + n for n in ("app", "app_2", "app:x", "ap", "sessions}:s:z", "{app}")]
    planted = {
        f"{run}app".encode(): b"1",
        b"sessionstore": b"2",
        f"sessionstore:{run}app:ids".encode(): b"3",
        f"sessionstore:{{{run}app}}".encode(): b"4",
        f"sessionstore:{{{run}app}}x:ids".encode(): b"5",
    }
    for key, value in planted.items():
        foreign.set(key, value)
    stores = [await open_redis(redis_url, namespace=name, clock=Clock(_T0)) for name in names]
    try:
        for i, store in enumerate(stores):
            await store.create({"i": i}, id="same", ttl=1)
            await store.create({"i": i}, id=f"only{i}")
        for i, store in enumerate(stores):
            assert (await store.get("same")).data == {"i": i}  # type: ignore[union-attr]
            assert [s.id for s in (await store.list()).sessions] == [f"only{i}", "same"]
            assert await store.count() == 2
        stores[0]._now = lambda: _ms(_T0) + 2000  # the first store's clock passes the expiry
        assert await stores[0].purge_expired() == 1
        await stores[0].import_(await stores[1].export(), on_conflict="replace")
        assert await stores[1].count() == 2 and (await stores[1].get("same")) is not None
        for store in stores:
            await store.delete("same")
            for session in (await store.list()).sessions:
                await store.delete(session.id)
            assert await store.count() == 0
        assert {k: foreign.get(k) for k in planted} == planted
    finally:
        for store in stores:
            await store.close()
        foreign.delete(*planted)
        foreign.close()


_T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- time: liveness by the store's clock, physical expiry only reclaims --------------------


async def test_physical_expiry_follows_the_session_plus_grace(redis_url: str) -> None:
    store = await open_redis(redis_url, namespace="t_pxat")
    store._grace_ms = 300
    raw = sync_redis.Redis.from_url(redis_url)
    try:
        made = await store.create({}, ttl=0.2)
        key = store._key(made.id)
        assert raw.pexpiretime(key) == _ms(made.expires_at) + 300  # type: ignore[arg-type]
        await store.touch(made.id, 0.4)
        touched = await store.get(made.id)
        assert touched is not None
        assert raw.pexpiretime(key) == _ms(touched.expires_at) + 300  # type: ignore[arg-type]
        forever = await store.create({})
        assert raw.pexpiretime(store._key(forever.id)) == -1
        deadline = time.monotonic() + 10
        while raw.exists(key) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls the server
            await asyncio.sleep(0.05)
        assert not raw.exists(key)
        assert time.time() * 1000 >= _ms(touched.expires_at) + 300  # type: ignore[arg-type]
        assert await store.count() == 1  # the index entry is still there, but expired
        assert await store.purge_expired() == 1
    finally:
        await store.close()
        raw.close()


async def test_an_injected_clock_sets_no_physical_expiry(redis_url: str) -> None:
    """A clock far from real time (in the past here) must not have Redis delete a
    session the store still holds live: under an injected clock nothing expires
    physically, and liveness is LIVE-1 at the store's clock alone."""
    clock = Clock(datetime(2001, 1, 1, tzinfo=timezone.utc))
    store = await open_redis(redis_url, namespace="t_clock", clock=clock)
    raw = sync_redis.Redis.from_url(redis_url)
    try:
        made = await store.create({"a": 1}, ttl=60)
        assert raw.pexpiretime(store._key(made.id)) == -1
        assert await store.get(made.id) == made
        clock.now += timedelta(seconds=60)  # exactly at expires_at: expired (LIVE-1)
        assert await store.get(made.id) is None
        assert raw.exists(store._key(made.id))  # still stored until purged
        assert await store.purge_expired() == 1
    finally:
        await store.close()
        raw.close()


# --- faults -------------------------------------------------------------------------------


async def test_server_stopped_then_back_on_the_same_store(own_redis: RedisServer) -> None:
    store = await open_redis(own_redis.url, namespace="t_down", timeout=2)
    try:
        made = await store.create({"n": 1})
        own_redis.stop()
        for call in (
            lambda: store.get(made.id),
            lambda: store.create({}),
            lambda: store.update(made.id, lambda d: d),
            lambda: store.count(),
        ):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match=r"Redis store redis://127\.0\.0\.1"):
                await call()
            assert time.monotonic() - started < 4  # refused at once, bounded by timeout
        own_redis.start()  # an empty server: no persistence
        again = await store.create({"n": 2}, id=made.id)
        assert (await store.get(made.id)) == again
    finally:
        await store.close()


async def test_a_hung_server_times_out(own_redis: RedisServer) -> None:
    store = await open_redis(own_redis.url, namespace="t_hang", timeout=0.5)
    assert own_redis.process is not None
    try:
        await store.create({}, id="x")
        own_redis.process.send_signal(19)  # SIGSTOP: connected, never answers
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"no answer within 0\.5 s"):
            await store.get("x")
        assert time.monotonic() - started < 3
    finally:
        own_redis.process.send_signal(18)  # SIGCONT
        await store.close()


async def test_corrupt_values(redis_url: str) -> None:
    store = await open_redis(redis_url, namespace="t_corrupt")
    raw = sync_redis.Redis.from_url(redis_url)
    try:
        made = await store.create({"a": 1}, ttl=60)
        key = store._key(made.id)
        await store.corrupt_for_testing(made.id)
        for call in (store.get, lambda i: store.touch(i, 5), lambda i: store.update(i, dict)):
            with pytest.raises(CorruptSession):
                await call(made.id)
        # Framed like an object, but not JSON: touch finds out after its script, and
        # puts the expiry back (ERR-2).
        header, _, _ = raw.get(key).partition(b"\n")  # type: ignore[union-attr]
        raw.set(key, header + b"\n{oops}")
        with pytest.raises(CorruptSession):
            await store.touch(made.id, 3600)
        kept = parse_session(made.id, raw.get(key))[0]  # type: ignore[arg-type]
        assert (kept.data, kept.expires_ms) == (b"{oops}", _ms(made.expires_at))  # type: ignore[arg-type]
        assert raw.zscore(store._exp, made.id) == _ms(made.expires_at)  # type: ignore[arg-type]
        raw.set(key, b"1 x 2  3 0\n{}")  # a header that does not parse
        with pytest.raises(CorruptSession):
            await store.get(made.id)
        with pytest.raises(CorruptSession):
            await store.replace(made.id, {})
        raw.set(key, b"no header at all")
        with pytest.raises(CorruptSession):
            await store.delete(made.id)
    finally:
        await store.close()
        raw.close()


SECRET = "s3cr3t-Pa55word"


async def test_wrong_password_and_refused_acl_never_show_the_password(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = sync_redis.Redis(port=own_redis.port)
    admin.config_set("requirepass", SECRET)
    admin = sync_redis.Redis(port=own_redis.port, password=SECRET)
    # A user who may read but not run scripts: the store's writes are refused.
    admin.acl_setuser(
        "reader", enabled=True, passwords=[f"+{SECRET}"], keys=["*"], commands=["+@read", "+ping"]
    )
    host = f"127.0.0.1:{own_redis.port}"
    messages: list[str] = []
    try:
        for url in (f"redis://:wrong-{SECRET}@{host}/0", f"redis://nobody:{SECRET}@{host}/0"):
            with pytest.raises(StoreUnavailable, match="authentication refused") as refused:
                async with open_store(url):
                    pass
            messages.append(str(refused.value))
            assert redact(url) in str(refused.value)
        async with open_store(f"redis://reader:{SECRET}@{host}/0?namespace=t_acl") as store:
            assert SECRET not in repr(store) and "***" in repr(store)
            assert SECRET in store.url  # CAP-2: the url must open the store again
            with pytest.raises(StoreUnavailable, match="ACL refuses") as denied:
                await store.create({})
            messages.append(str(denied.value))
            assert (await store.get("absent")) is None  # reads are allowed
        async with open_store(f"redis://:{SECRET}@{host}/0?namespace=t_acl") as store:
            made = await store.create({})
            assert (await store.get(made.id)) == made
            messages.append(repr(store))
    finally:
        admin.close()
    shown = messages + [r.getMessage() for r in caplog.records]
    assert [m for m in shown if SECRET in m] == []


def test_the_kit_report_never_shows_the_password(own_redis: RedisServer) -> None:
    """The kit given a factory (a URL target would print its password as the target):
    its checks that use ``store.url`` pass, and nothing in the report has the password."""
    with sync_redis.Redis(port=own_redis.port) as admin:
        admin.config_set("requirepass", SECRET)
    report = run(
        _factory(f"redis://:{SECRET}@127.0.0.1:{own_redis.port}/0"), profile="ci", select=_few
    )
    assert not report.failed
    ran = {r.check.name for r in report.checks if r.status == "passed"}
    assert ran == {"url_reopens", "backend_down", "corrupt_data", "close"}
    assert SECRET not in _report_text(report)


def _factory(url: str) -> Any:
    count = iter(range(1000))

    def factory(*, clock: Any) -> Any:
        return open_store(f"{url}?namespace=t_kit{next(count)}", clock=clock)

    return factory


def _few(check: Any) -> bool:
    return check.name in ("url_reopens", "backend_down", "corrupt_data", "close")


def _report_text(report: Any) -> str:
    from sessionstore_conformance.report import to_json, to_markdown

    return json.dumps(to_json(report)) + to_markdown(report)


#: The commands docs/redis.md lists for an ACL user of the store.
DOCUMENTED_ACL = [
    "PING",
    "EVALSHA",
    "SCRIPT|LOAD",
    "GET",
    "SET",
    "DEL",
    "INCR",
    "ZADD",
    "ZREM",
    "ZRANGE",
    "ZRANGEBYLEX",
    "ZRANGEBYSCORE",
    "ZCARD",
    "ZCOUNT",
    "PEXPIREAT",
    "PEXPIRE",
    "EXPIRE",
    "RPUSH",
    "LRANGE",
    "LLEN",
    "MULTI",
    "EXEC",
]


async def test_the_documented_acl_is_enough(own_redis: RedisServer) -> None:
    with sync_redis.Redis(port=own_redis.port) as admin:
        admin.acl_setuser(
            "store",
            enabled=True,
            passwords=[f"+{SECRET}"],
            keys=["sessionstore:*"],
            commands=[f"+{c.lower()}" for c in DOCUMENTED_ACL],
        )
    url = f"redis://store:{SECRET}@127.0.0.1:{own_redis.port}/0?namespace=t_acl"
    async with open_store(url) as store:
        assert isinstance(store, RedisStore)
        made = await store.create({"n": 1}, ttl=60)
        await store.replace(made.id, {"n": 2}, ttl=120)
        await store.update(made.id, lambda d: {"n": d["n"] + 1})
        await store.touch(made.id, 30)
        doc = await store.export()
        text = b"".join([piece async for piece in store.export_chunks()])
        assert await store.delete(made.id)
        await store.import_(doc)
        await store.import_(text, on_conflict="replace")
        assert (await store.list()).sessions[0].data == {"n": 3}
        assert await store.count() == 1 and await store.purge_expired() == 0
        assert (await store.stats())["stored"] == 1
        await store.corrupt_for_testing(made.id)


def many_sessions(n: int, pad: int) -> dict[str, Any]:
    """An export document (as objects) of ``n`` sessions with ``pad`` bytes of data."""
    stamp = "2030-01-01T00:00:00.000Z"
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": stamp,
        "sessions": [
            {"id": f"s{i:06d}", "data": {"i": i, "pad": "x" * pad}, "version": 1,
             "created_at": stamp, "updated_at": stamp, "expires_at": None}
            for i in range(n)
        ],
    }  # fmt: skip


async def test_a_long_import_outlasts_the_call_timeout(redis_url: str) -> None:
    """The import's apply script takes longer than the store's timeout here: the store
    waits for it (bulk connections) instead of raising while the script writes on."""
    store = await open_redis(redis_url, namespace=f"t_bulk{secrets.token_hex(3)}", timeout=0.05)
    doc = many_sessions(30_000, pad=200)
    try:
        started = time.monotonic()
        report = await store.import_(doc)
        assert time.monotonic() - started > 0.05
        assert report.imported == 30_000 and await store.count() == 30_000
        text = b"".join([piece async for piece in store.export_chunks()])
        assert len(json.loads(text)["sessions"]) == 30_000
    finally:
        await store.close()
        with sync_redis.Redis.from_url(redis_url) as raw:
            keys = list(raw.scan_iter(match=store._prefix + "*", count=1000))
            for start in range(0, len(keys), 1000):
                raw.delete(*keys[start : start + 1000])


async def test_export_reads_the_snapshot_a_chunk_at_a_time(redis_url: str) -> None:
    """export() took every live session in one reply (100,000 sessions: the client held
    the event loop 87 ms parsing it). With the server refusing any reply over 1 MB to
    this client class, an export of 2.6 MB only works a chunk at a time."""
    store = await open_redis(redis_url, namespace=f"t_chunks{secrets.token_hex(3)}")
    doc = many_sessions(12_000, pad=100)
    with sync_redis.Redis.from_url(redis_url) as admin:
        old = admin.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        try:
            await store.import_(doc)
            admin.config_set("client-output-buffer-limit", "normal 1mb 1mb 0")
            exported = await store.export()
            assert len(exported.sessions) == 12_000
            assert exported.sessions[11_999].data["i"] == 11_999
        finally:
            admin.config_set("client-output-buffer-limit", old)
            await store.close()
            keys = list(admin.scan_iter(match=store._prefix + "*", count=1000))
            for start in range(0, len(keys), 1000):
                admin.delete(*keys[start : start + 1000])
