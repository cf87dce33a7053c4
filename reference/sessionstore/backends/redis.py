"""The Redis store: sessions shared by many processes on many hosts (capabilities
``injectable_clock``, ``multi_process``, ``multi_host``), on ``redis.asyncio``.

**Keys.** Everything of a namespace lives under ``sessionstore:{NS}:``, where ``NS`` is
the namespace percent-encoded (``urllib.parse.quote`` with nothing kept but
``A-Za-z0-9_.-~``): an encoded namespace holds no ``:``, ``{`` or ``}``, so no key of
one namespace is a key of another (``app`` and ``app:x`` or ``app_2`` included), and
nothing outside ``sessionstore:`` is ever read or written. The braces make the
namespace a Redis Cluster hash tag: all its keys share one slot.

* ``…s:ID`` — a session: one string, a header line then owner and data (layout in
  :mod:`._redis_lua`), so that ``get`` is one ``GET``;
* ``…ids`` — a sorted set of every stored id, all scores 0, so ``ZRANGEBYLEX`` pages by
  id in byte order (LIST-1, LIST-2: a cursor is a position, stable under writes);
* ``…exp`` — a sorted set of the ids that expire, scored by expiry: ``count`` is
  ``ZCARD ids - ZCOUNT exp -inf now`` (exact by LIVE-1, no scan) and ``purge_expired``
  takes the expired ids from its front (O(expired), PURGE-2);
* ``…gen`` — a counter that tells apart successive sessions with one id (update's CAS);
* ``…import:TOKEN`` — an import's staging list, gone when the import ends;
* ``…export:TOKEN`` — an ``export_chunks`` snapshot list, gone when the export ends.

**Time.** Liveness is LIVE-1 at the store's clock, read by the client and passed to
every script (LIVE-4). Redis's own expiry (``PEXPIREAT``, milliseconds) only reclaims
memory: it is set to the session's expiry plus ``expiry_grace`` (default 60 s, the
clock skew tolerated between the hosts and the server), and only when the store runs
on the real clock. An injected clock may stand still or lag real time, so under one
nothing expires physically and ``purge_expired`` reclaims memory.

**Atomicity.** ``create``, ``replace``, ``touch``, ``delete``, ``count`` and the
conditional write of ``update`` are each one Lua script (EVALSHA; loaded on first use
and again after NOSCRIPT), one round trip, atomic on the server. ``get`` is one
``GET``. ``update(fn)`` reads (one ``GET``), runs ``fn`` in Python, then writes with a
script that checks the session's generation and version are still those read, and
re-reads and retries when they are not, up to ``UPDATE_ATTEMPTS`` times. ``touch``
checks in the script that the data is framed as a JSON object, then decodes it in
Python; if it still does not decode, a second script puts the old expiry back (ERR-2).
An import is validated whole with the shared reader first (IMPORT-1), staged in a list
a batch at a time (IMPORT-7), then applied by one script: all or nothing (IMPORT-2),
with no WATCH retries for a busy namespace to starve. ``export_chunks`` has one script
copy the live sessions into a snapshot list (one instant, EXPORT-1) and reads it a
chunk at a time (EXPORT-2).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import (
    AuthenticationError,
    NoPermissionError,
    NoScriptError,
    RedisError,
    ResponseError,
)

from ..contract import Updater
from ..errors import (
    ConfigurationError,
    CorruptSession,
    ImportRejected,
    Problem,
    SessionExists,
    SessionNotFound,
    StoreUnavailable,
    VersionConflict,
)
from ..export import (
    ExportDocument,
    RecordFields,
    check_on_conflict,
    chunked_document,
    clash_problems,
    counted_report,
    export_document,
)
from ..importing import Chunks, document_records, read_export, text_chunks
from ..options import positive_seconds
from ..redaction import short_id
from ..semantics import (
    Record,
    check_id,
    check_limit,
    check_owner,
    check_version,
    decode_data,
    encode_data,
    kept,
    new_id,
    now_ms_function,
    sessions_of,
    ttl_to_ms,
    visible,
)
from ..urls import redact
from ..values import (
    DEFAULT_LIMITS,
    TTL,
    Capabilities,
    Clock,
    ImportReport,
    JSONObject,
    Limits,
    OnConflict,
    Page,
    Session,
)
from ._lifecycle import ClosesOnExit
from ._redis_lua import SCRIPTS

#: Conditional writes ``update`` tries before it gives up under contention.
UPDATE_ATTEMPTS = 100
#: Sessions a purge script removes at a time (other clients run between batches).
PURGE_BATCH = 1000
#: Index entries one ``list`` call looks at beyond ``limit`` (expired, unpurged ones).
LIST_SCAN_EXTRA = 1000
#: Records an import sends to its staging list per command.
IMPORT_BATCH = 1000
#: Sessions read from an export's snapshot per command: the client parses the reply and
#: makes a Record of each in one piece (1,000 held the event loop 22-24 ms on a busy
#: machine).
EXPORT_READ = 250
#: Seconds a staging list survives a client that died in the middle of an import.
STAGING_TTL_S = 3600
DEFAULT_TIMEOUT_S = 5.0
#: Seconds to wait for a script over a whole namespace (export, import) to answer.
BULK_TIMEOUT_S = 600.0
DEFAULT_NAMESPACE = "sessions"
_DRIVER_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
_STORE_OPTIONS = ("namespace", "timeout")
#: redis-py's own URL options for ``rediss://`` that a store URL may carry.
TLS_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")


#: A flat array reply.
Flat = list[Any]
Records = list[Record]


def _command(client: aioredis.Redis, *args: Any) -> Awaitable[Any]:
    """One command, straight to the client (redis-py leaves execute_command untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def pack_session(record: Record, generation: int) -> bytes:
    """A session as the store keeps it (the layout in :mod:`._redis_lua`)."""
    owner = (record.owner or "").encode()
    expires = b"" if record.expires_ms is None else b"%d" % record.expires_ms
    head = b"%d %d %d %s %d %d\n" % (
        record.version,
        record.created_ms,
        record.updated_ms,
        expires,
        generation,
        len(owner),
    )
    return head + owner + record.data


def parse_session(session_id: str, raw: bytes) -> tuple[Record, bytes]:
    """A stored session and its generation; a value that does not parse is corruption
    (ERR-3), like data that does not decode."""
    end = raw.find(b"\n")
    try:
        if end < 0:
            raise ValueError("no header")
        version, created, updated, expires, generation, owner_bytes = raw[:end].split(b" ")
        start = end + 1 + int(owner_bytes)
        owner = raw[end + 1 : start].decode()
        record = Record(
            session_id,
            raw[start:],
            int(version),
            int(created),
            int(updated),
            int(expires) if expires else None,
            owner or None,
        )
    except (ValueError, UnicodeDecodeError):
        raise CorruptSession(
            f"session {short_id(session_id)} is corrupt: its stored value does not parse"
        ) from None
    return record, generation


def _records(flat: Flat) -> Records:
    """Records from a flat reply of (id, stored value) pairs."""
    return [parse_session(flat[i].decode(), flat[i + 1])[0] for i in range(0, len(flat), 2)]


async def _rejection(result: Flat) -> ImportRejected:
    """IMPORT-4's rejection for the clashes after the first two items of an import
    script's ``result``, read IMPORT_BATCH at a time."""
    problems: list[Problem] = []
    for start in range(2, len(result), 2 * IMPORT_BATCH):
        part = result[start : start + 2 * IMPORT_BATCH]
        problems += clash_problems(
            (int(part[i]), part[i + 1].decode()) for i in range(0, len(part), 2)
        )
        await asyncio.sleep(0)
    return ImportRejected(problems)


def _ms(field: bytes | None) -> int | None:
    return None if not field else int(field)


class _Script:
    """One Lua script: EVALSHA by its digest, loaded once per server (and again when
    the server answers NOSCRIPT, e.g. after a restart)."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()  # its name

    async def __call__(self, client: aioredis.Redis, keys: tuple[str, ...], *args: Any) -> Any:
        try:
            return await _command(client, "EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await _command(client, "SCRIPT", "LOAD", self.source)
            return await _command(client, "EVALSHA", self.sha, len(keys), *keys, *args)


_RUN = {name: _Script(name, source) for name, source in SCRIPTS.items()}


class _Staging:
    """An import's validated records in a list of their own (a RecordSink for
    :func:`~sessionstore.importing.read_export`): the client holds one batch at a time."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.key = f"{store._prefix}import:{secrets.token_hex(8)}"

    async def add(self, records: Sequence[RecordFields]) -> None:
        for start in range(0, len(records), IMPORT_BATCH):
            flat: list[Any] = []
            for r in map(Record._make, records[start : start + IMPORT_BATCH]):
                flat += (r.id, pack_session(r, 0))
            await self.store._guarded(self._push(flat))

    async def _push(self, flat: list[Any]) -> None:
        client = self.store._client
        async with client.pipeline(transaction=False) as pipe:
            pipe.rpush(self.key, *flat)
            pipe.expire(self.key, STAGING_TTL_S)
            await pipe.execute()

    async def clear(self) -> None:
        await self.store._guarded(self.store._client.delete(self.key))


class RedisStore(ClosesOnExit):
    """Sessions in a Redis (or Valkey) server, under one namespace."""

    capabilities = Capabilities(injectable_clock=True, multi_process=True, multi_host=True)

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        default_ttl: TTL | None = None,
        limits: Limits = DEFAULT_LIMITS,
        timeout: float = DEFAULT_TIMEOUT_S,
        expiry_grace: float | timedelta | None = 60.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ConfigurationError(
                f"a Redis store URL starts redis:// or rediss://, not {redact(url)!r}"
            )
        if type(namespace) is not str or not 1 <= len(namespace) <= 200:
            raise ConfigurationError(
                f"namespace must be a str of 1-200 characters, got {namespace!r}"
            )
        timeout = positive_seconds("timeout", timeout)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _STORE_OPTIONS]
        server_url = urlunsplit(parts._replace(query=urlencode(query)))
        options = [("namespace", namespace)] + (
            [("timeout", f"{timeout:g}")] if timeout != DEFAULT_TIMEOUT_S else []
        )
        #: Opens this store again (CAP-2). It holds the password, if the URL has one:
        #: everything this store prints uses ``redact`` instead.
        self.url = urlunsplit(parts._replace(query=urlencode(options + query)))
        self.namespace = namespace
        self.limits = limits
        self.default_ttl = default_ttl
        self.timeout = timeout
        self._where = f"Redis store {redact(self.url)}"
        self._default_ttl_ms = None if default_ttl is None else ttl_to_ms(default_ttl, limits)
        self._now: Callable[[], int] = now_ms_function(clock)
        # Physical expiry only on the real clock, which neither stands still nor lags.
        if expiry_grace is None or clock is not None:
            self._grace_ms: int | None = None
        else:
            seconds = (
                expiry_grace.total_seconds()
                if isinstance(expiry_grace, timedelta)
                else float(expiry_grace)
            )
            self._grace_ms = max(0, round(seconds * 1000))
        self._prefix = f"sessionstore:{{{quote(namespace, safe='')}}}:"
        self._ids = self._prefix + "ids"
        self._exp = self._prefix + "exp"
        self._gen = self._prefix + "gen"
        # retry=None: a script is not idempotent, so never resent behind the caller's back.
        self._pool = aioredis.ConnectionPool.from_url(
            server_url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=None
        )
        self._client = aioredis.Redis(connection_pool=self._pool)
        # The scripts that read or write a whole namespace (export, the export snapshot,
        # an import's apply) run for seconds on a large one: their answer is awaited on
        # connections of their own, up to BULK_TIMEOUT_S. Given up on sooner, an import
        # would raise while its script goes on to write everything (ERR-2).
        self._bulk_pool = aioredis.ConnectionPool.from_url(
            server_url,
            socket_timeout=max(timeout, BULK_TIMEOUT_S),
            socket_connect_timeout=timeout,
            retry=None,
        )
        self._bulk = aioredis.Redis(connection_pool=self._bulk_pool)
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisStore({redact(self.url)!r})"

    async def open(self) -> RedisStore:
        """Check that the server answers (and that the credentials work)."""
        await self._guarded(self._client.ping())
        return self

    # --- plumbing ---------------------------------------------------------------------------

    def _key(self, session_id: str) -> str:
        return self._prefix + "s:" + session_id

    def _pxat(self, expires_ms: int | None) -> int | str:
        if expires_ms is None or self._grace_ms is None:
            return ""
        return expires_ms + self._grace_ms

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        text = str(exc)
        password = urlsplit(self.url).password
        if password:
            text = text.replace(password, "***")
        if isinstance(exc, AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
            why = "authentication refused (wrong user name or password)"
        elif isinstance(exc, NoPermissionError) or "NOPERM" in text:
            why = "the server's ACL refuses this user a command the store needs"
        elif (
            isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or "Timeout" in type(exc).__name__
        ):
            why = f"no answer within {self.timeout:g} s"
        elif isinstance(exc, ResponseError):
            why = "the server refused the command"
        else:
            why = "cannot reach the server"
        return StoreUnavailable(f"{self._where}: {why} ({type(exc).__name__}: {text})")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"{self._where} is closed")

    def _failed(self, exc: BaseException) -> CorruptSession | StoreUnavailable:
        """The store's error for a driver's (ERR-3, ERR-4): a script's CORRUPT reply is
        corruption; anything else means the server cannot serve us."""
        if isinstance(exc, ResponseError) and str(exc).startswith("CORRUPT"):
            return CorruptSession(f"{self._where}: {exc}")
        return self._unavailable(exc)

    async def _guarded(self, call: Awaitable[Any]) -> Any:
        """Await a Redis call, translating the driver's errors."""
        try:
            return await call
        except _DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc

    async def _run(self, script: str, keys: tuple[str, ...], *args: Any) -> Any:
        self._check_open()
        return await self._guarded(_RUN[script](self._client, keys, *args))

    async def _run_bulk(self, script: str, keys: tuple[str, ...], *args: Any) -> Any:
        """_run for a script over a whole namespace, on the patient connections."""
        self._check_open()
        return await self._guarded(_RUN[script](self._bulk, keys, *args))

    def _live(self, session_id: str, raw: bytes | None, now: int) -> Record | None:
        """The stored session, if it is live at ``now`` (LIVE-1)."""
        if raw is None:
            return None
        record = parse_session(session_id, raw)[0]
        return record if record.is_live(now) else None

    # --- the contract -----------------------------------------------------------------------

    async def create(
        self,
        data: JSONObject | None = None,
        *,
        ttl: TTL | None = None,
        id: str | None = None,
        owner: str | None = None,
    ) -> Session:
        encoded = kept(encode_data({} if data is None else data, self.limits))
        session_id = new_id(self.limits) if id is None else check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = self._default_ttl_ms if ttl is None else ttl_to_ms(ttl, self.limits)
        now = self._now()
        expires = None if ttl_ms is None else now + ttl_ms
        keys = (self._key(session_id), self._ids, self._exp, self._gen)
        made = await self._run(
            "create",
            keys,
            session_id,
            encoded,
            now,
            _text(expires),
            owner or "",
            self._pxat(expires),
        )
        if not made:
            raise SessionExists(f"a live session with id {short_id(session_id)} exists")
        return Session.from_json_ms(session_id, encoded, 1, now, now, expires, owner)

    async def get(self, id: str, *, owner: str | None = None) -> Session | None:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        self._check_open()
        # The hottest call: the command is awaited here, not through _guarded.
        try:
            raw = await self._client.execute_command("GET", self._key(id))  # type: ignore[no-untyped-call]
        except _DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc
        record = self._live(id, raw, self._now())
        if record is None or not visible(record.owner, owner):
            return None
        return record.to_session()

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        check_id(id, self.limits)
        encoded = kept(encode_data(data, self.limits))
        check_version(expected_version)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        now = self._now()
        expires = None if ttl_ms is None else now + ttl_ms
        result = await self._run(
            "replace",
            (self._key(id), self._exp),
            id,
            now,
            _text(expected_version),
            encoded,
            _text(expires),
            owner or "",
            self._pxat(expires),
        )
        return self._written(id, encoded, now, result, expected_version)

    def _written(
        self, id: str, encoded: bytes, now: int, result: Flat, expected: int | None
    ) -> Session:
        """The session a write returns, its data decoded only if the caller reads it."""
        status = result[0]
        if status == 0:
            raise SessionNotFound(f"no live session with id {short_id(id)}")
        if status == -1:
            actual = int(result[1])
            raise VersionConflict(
                f"session {short_id(id)} is at version {actual}, not {expected}",
                expected=expected or 0,
                actual=actual,
            )
        _, version, created, expires, stored_owner = result
        return Session.from_json_ms(
            id,
            encoded,
            int(version),
            int(created),
            now,
            _ms(expires),
            stored_owner.decode() if stored_owner else None,
        )

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        key = self._key(id)
        for attempt in range(UPDATE_ATTEMPTS):
            self._check_open()
            raw = await self._guarded(_command(self._client, "GET", key))
            current, generation = (None, b"") if raw is None else parse_session(id, raw)
            if current is None or not current.is_live(self._now()) or not current.visible_to(owner):
                raise SessionNotFound(f"no live session with id {short_id(id)}")
            encoded = kept(encode_data(fn(decode_data(current.data, id)), self.limits))
            now = self._now()  # the write is the linearization point: its own now
            expires = None if ttl_ms is None else now + ttl_ms
            result = await self._run(
                "update",
                (key, self._exp),
                id,
                now,
                generation,
                current.version,
                encoded,
                _text(expires),
                owner or "",
                self._pxat(expires),
            )
            if result[0] != -1:
                return self._written(id, encoded, now, result, None)
            if attempt >= 2:  # contention: back off a little, with jitter
                await asyncio.sleep(random.uniform(0, min(0.02, 0.0005 * 2**attempt)))
        raise StoreUnavailable(
            f"{self._where}: update of {short_id(id)} gave up after {UPDATE_ATTEMPTS} conflicting writes"
        )

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = ttl_to_ms(ttl, self.limits)
        now = self._now()
        expires = now + ttl_ms
        key = self._key(id)
        result = await self._run(
            "touch", (key, self._exp), id, now, expires, owner or "", self._pxat(expires)
        )
        if result[0] == 0:
            raise SessionNotFound(f"no live session with id {short_id(id)}")
        if result[0] == -2:
            raise CorruptSession(
                f"session {short_id(id)} is corrupt: its stored data is not a JSON object"
            )
        _, data, version, created, updated, old_expires, stored_owner, generation = result
        try:
            copy = decode_data(data, id)
        except CorruptSession:  # framed like an object but not JSON: undo the touch (ERR-2)
            old = _ms(old_expires)
            await self._run(
                "untouch", (key, self._exp), id, generation, expires, _text(old), self._pxat(old)
            )
            raise
        return Session.from_ms(
            id,
            copy,
            int(version),
            int(created),
            int(updated),
            expires,
            stored_owner.decode() if stored_owner else None,
        )

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        result = await self._run(
            "delete",
            (self._key(id), self._ids, self._exp),
            id,
            self._now(),
            _text(expected_version),
            owner or "",
        )
        if result[0] == -1:
            actual = int(result[1])
            raise VersionConflict(
                f"session {short_id(id)} is at version {actual}, not {expected_version}",
                expected=expected_version or 0,
                actual=actual,
            )
        return bool(result[0] == 1)

    async def list(self, *, cursor: str | None = None, limit: int = 100) -> Page:
        check_limit(limit, self.limits)
        if cursor is not None:
            check_id(cursor, self.limits)
        flat = await self._run(
            "list",
            (self._ids,),
            self._prefix,
            cursor or "",
            limit,
            self._now(),
            limit + LIST_SCAN_EXTRA,
        )
        sessions = await sessions_of(_records(flat[1:]))
        return Page(sessions, flat[0].decode() or None)

    async def count(self) -> int:
        return int(await self._run("count", (self._ids, self._exp), self._now()))

    async def purge_expired(self) -> int:
        """Remove expired sessions a batch per script, so other clients run between."""
        removed = 0
        while True:
            done = int(
                await self._run(
                    "purge", (self._ids, self._exp), self._prefix, self._now(), PURGE_BATCH
                )
            )
            removed += done
            if done < PURGE_BATCH:
                return removed

    async def export(self) -> ExportDocument:
        async with self._snapshot(EXPORT_READ) as (now, batches):
            return await export_document(now, batches)

    async def export_chunks(self, chunk_size: int = 1000) -> AsyncIterator[bytes]:
        """EXPORT-2: the export document in pieces, read from a snapshot (_snapshot), so
        this client holds one chunk at a time."""
        async with self._snapshot(min(chunk_size, EXPORT_READ)) as (now, batches):
            async for piece in chunked_document(now, batches):
                yield piece

    @contextlib.asynccontextmanager
    async def _snapshot(self, read: int) -> AsyncIterator[tuple[int, AsyncIterator[Records]]]:
        """The live sessions at one instant (EXPORT-1): one script copies them into a list
        on the server, read ``read`` sessions at a time, and the list is deleted.
        (export() used to take them in one reply: 100,000 sessions held the event loop
        87 ms while the client parsed it.)"""
        self._check_open()
        now = self._now()
        snapshot = f"{self._prefix}export:{secrets.token_hex(8)}"
        try:
            total = int(
                await self._run_bulk(
                    "snapshot", (self._ids, snapshot), self._prefix, now, STAGING_TTL_S * 1000
                )
            )

            async def batches() -> AsyncIterator[Records]:
                # On the bulk connections too: a read is up to EXPORT_READ sessions of up
                # to max_data_bytes each, not a point call (1,000 sessions outlasted a
                # 50 ms timeout on a busy machine).
                for first in range(0, total, read):
                    last = min(first + read, total) - 1
                    flat = await self._guarded(self._bulk.lrange(snapshot, 2 * first, 2 * last + 1))
                    yield _records(flat)

            yield now, batches()
        finally:
            if not self._closed:
                with contextlib.suppress(StoreUnavailable):
                    await self._guarded(self._client.unlink(snapshot))  # freed off the main thread

    async def import_(
        self,
        doc: ExportDocument | Mapping[str, Any] | str | bytes,
        *,
        on_conflict: OnConflict = "error",
    ) -> ImportReport:
        check_on_conflict(on_conflict)
        if isinstance(doc, (str, bytes)):  # one path for JSON text: the streamed one
            return await self.import_chunks(text_chunks(doc), on_conflict=on_conflict)
        records = await document_records(doc, self.limits)
        return await self._import(on_conflict, lambda staging: staging.add(records))

    async def import_chunks(
        self, chunks: Chunks, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        """IMPORT-7: import_ of the JSON text that ``chunks`` join into, read as it comes;
        the validated records wait in a staging list on the server, not in memory."""
        check_on_conflict(on_conflict)
        return await self._import(
            on_conflict, lambda staging: read_export(chunks, staging, self.limits)
        )

    async def _import(
        self, on_conflict: OnConflict, fill: Callable[[_Staging], Awaitable[None]]
    ) -> ImportReport:
        self._check_open()
        staging = _Staging(self)
        try:
            await fill(staging)
            keys = (self._ids, self._exp, self._gen, staging.key)
            grace = "" if self._grace_ms is None else self._grace_ms
            result = await self._run_bulk(
                "import", keys, self._prefix, self._now(), on_conflict, grace
            )
        except BaseException:
            if not self._closed:
                with contextlib.suppress(StoreUnavailable):  # else it expires on its own
                    await staging.clear()
            raise
        # result: total, expired, then (document index, id) of each clash. Only a
        # rejection lists the clashes; 100,000 of them, read in one piece, held the loop
        # for ~35 ms (issue 12).
        clashes = (len(result) - 2) // 2
        if clashes and on_conflict == "error":
            raise await _rejection(result)
        return counted_report(int(result[0]), int(result[1]), clashes, on_conflict)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            for client, pool in ((self._client, self._pool), (self._bulk, self._bulk_pool)):
                await client.aclose()
                await pool.aclose()

    async def stats(self) -> dict[str, Any]:
        """For operators: sessions held (live or not yet purged) and the namespace."""
        self._check_open()
        now = self._now()
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zcard(self._ids)
            pipe.zcount(self._exp, "-inf", now)
            stored, expired = await self._guarded(pipe.execute())
        return {
            "stored": int(stored),
            "expired_unpurged": int(expired),
            "namespace": self.namespace,
            "url": redact(self.url),
        }

    # --- fault injection for the conformance kit (checks ERR-3, ERR-4) ----------------------

    async def disconnect_for_testing(self) -> None:
        """Lose the server under the store: drop every connection and point new ones at
        a loopback port where nothing listens, so every call raises StoreUnavailable."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        for pool in (self._pool, self._bulk_pool):
            pool.connection_kwargs.update(host="127.0.0.1", port=port)
            await pool.disconnect()
            pool.reset()  # type: ignore[no-untyped-call]  # old connections would reconnect

    async def corrupt_for_testing(self, id: str) -> None:
        """Overwrite a session's stored data with bytes that are not JSON."""
        key = self._key(id)
        raw = await self._guarded(self._client.get(key))
        header, _, rest = raw.partition(b"\n")
        owner_bytes = int(header.rsplit(b" ", 1)[1])
        corrupt = header + b"\n" + rest[:owner_bytes] + b"\xff{not json"
        await self._guarded(self._client.set(key, corrupt, keepttl=True))


def _text(value: int | None) -> int | str:
    return "" if value is None else value


async def open_redis(
    url: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    clock: Clock | None = None,
    default_ttl: TTL | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> RedisStore:
    """Build a store and check the server answers; close it again if it does not."""
    store = RedisStore(
        url,
        namespace=namespace,
        clock=clock,
        default_ttl=default_ttl,
        limits=limits,
        timeout=timeout,
    )
    try:
        return await store.open()
    except BaseException:
        await store.close()
        raise
