"""The shared semantics, written once for every backend: validation (VAL-*), encoding,
time in milliseconds (REC-5), the liveness rule (LIVE-1) and owner visibility (OWN-2).

Backends keep :class:`Record` rows — data already encoded as compact UTF-8 JSON — and
turn them into :class:`~sessionstore.Session` objects only on the way out, so every
caller gets a fresh copy (COPY-1).
"""

from __future__ import annotations

import asyncio
import gc
import math
import re
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta
from itertools import compress, repeat
from operator import is_
from typing import Any, NamedTuple

import orjson

from .errors import CorruptSession, InvalidSession, SessionTooLarge, VersionConflict
from .redaction import short_id
from .times import EPOCH as EPOCH  # re-exported: callers import the time helpers from here
from .times import from_ms as from_ms
from .times import to_ms as to_ms
from .values import DEFAULT_LIMITS, TTL, Clock, JSONObject, Limits, Session

_ONE_US = timedelta(microseconds=1)
#: I-JSON (RFC 7493) safe integers: exact in every JSON implementation (VAL-3).
MAX_SAFE_INTEGER = 2**53 - 1
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


# --- time ------------------------------------------------------------------------------


def system_now_ms() -> int:
    return time.time_ns() // 1_000_000


def now_ms_function(clock: Clock | None) -> Any:
    """The store's clock as a function returning epoch milliseconds (LIVE-4)."""
    if clock is None:
        return system_now_ms
    return lambda: to_ms(clock())


def ttl_to_ms(ttl: TTL, limits: Limits = DEFAULT_LIMITS) -> int:
    """Validate a ttl (VAL-6) and return it in whole milliseconds, rounded up (TTL-1)."""
    micros: int
    if type(ttl) is int:  # whole seconds, the common case, first
        micros = ttl * 1_000_000
    elif isinstance(ttl, timedelta):
        micros = ttl // _ONE_US
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        if isinstance(ttl, float) and not math.isfinite(ttl):
            raise InvalidSession(f"ttl must be a finite number of seconds, got {ttl!r}")
        # Clamped first: 1e308 s would overflow once scaled, and is out of range anyway.
        micros = round(max(-1e18, min(ttl, 1e18)) * 1_000_000)
    else:
        raise InvalidSession(f"ttl must be seconds or a timedelta, got {type(ttl).__name__}")
    if not limits.min_ttl_us <= micros <= limits.max_ttl_us:
        raise InvalidSession(
            f"ttl must be between {limits.min_ttl.total_seconds()} s and "
            f"{limits.max_ttl.total_seconds():.0f} s, got {ttl!r}"
        )
    return -(-micros // 1000)


# --- ids, owners, arguments ---------------------------------------------------------------


def new_id(limits: Limits = DEFAULT_LIMITS) -> str:
    """A fresh id from the OS CSPRNG, URL-safe (CREATE-2): 32 characters (192 bits), or
    as many as ``limits`` allow (at least 22: 132 bits, Limits.MIN_ID_LENGTH)."""
    return secrets.token_urlsafe(24)[: limits.max_id_length]


def check_id(session_id: object, limits: Limits = DEFAULT_LIMITS) -> str:
    if type(session_id) is not str:
        raise InvalidSession(f"session id must be a str, got {type(session_id).__name__}")
    if len(session_id) > limits.max_id_length or not ID_PATTERN.fullmatch(session_id):
        raise InvalidSession(
            f"session id must be 1-{limits.max_id_length} characters of A-Z a-z 0-9 _ -, "
            f"got {short_id(session_id)}"
        )
    return session_id


def check_owner(owner: object, limits: Limits = DEFAULT_LIMITS) -> str | None:
    if owner is None:
        return None
    if type(owner) is not str or not 1 <= len(owner) <= limits.max_owner_length:
        raise InvalidSession(
            f"owner must be None or a str of 1-{limits.max_owner_length} characters"
        )
    if not owner.isascii():  # the common case costs nothing; a lone surrogate cannot be kept
        try:
            owner.encode()
        except UnicodeEncodeError:
            raise InvalidSession(
                "owner must be valid Unicode text (it has a lone surrogate)"
            ) from None
    return owner


def check_version(version: object, name: str = "expected_version") -> int | None:
    if version is None:
        return None
    if type(version) is not int or not 1 <= version <= MAX_SAFE_INTEGER:
        raise InvalidSession(f"{name} must be None or a positive int, got {version!r}")
    return version


def check_limit(limit: object, limits: Limits = DEFAULT_LIMITS) -> int:
    if type(limit) is not int or not 1 <= limit <= limits.max_list_limit:
        raise InvalidSession(f"limit must be an int from 1 to {limits.max_list_limit}")
    return limit


# --- data -------------------------------------------------------------------------------


class _BadValue(Exception):
    """Raised inside the walk; carries the JSON pointer of the offending value."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[str] = []


def _check_number(value: Any) -> None:
    """Accept an int in the safe range or a finite float; refuse every other type."""
    kind = type(value)
    if kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _BadValue(f"integer {value} is outside +-(2**53-1)")
    elif kind is float:
        if not math.isfinite(value):
            raise _BadValue(f"{value} is not a JSON number")
    else:
        raise _BadValue(f"{kind.__name__} is not a JSON value")


def _walk(container: dict[str, Any] | list[Any], depth: int, max_depth: int) -> None:
    """Validate a container's contents. This is the hot path of every write: strings,
    booleans and nulls are accepted inline, and only containers recurse."""
    if depth >= max_depth:
        raise _BadValue(f"nesting is deeper than {max_depth} levels")
    is_object = type(container) is dict
    pairs = container.items() if is_object else enumerate(container)  # type: ignore[union-attr]
    for key, item in pairs:
        try:
            if is_object and type(key) is not str:
                raise _BadValue(f"object key {key!r} is not a str")
            kind = type(item)
            if kind is dict or kind is list:
                _walk(item, depth + 1, max_depth)
            elif not (kind is str or kind is bool or item is None):
                _check_number(item)
        except _BadValue as bad:
            bad.path.append(str(key).replace("~", "~0").replace("/", "~1"))
            raise


#: orjson refuses subclasses, dataclasses, datetimes, non-str keys, unsafe integers and
#: lone surrogates; what it still accepts but would not give back unchanged (tuples, NaN
#: and the infinities as null, enum members, UUIDs, Fragments) is caught by
#: :func:`_round_trips`.
_STRICT = (
    orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
#: The exact types of VAL-2.
_JSON_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})


def _round_trips(data: JSONObject, max_depth: int) -> bool:
    """Whether data that orjson has encoded with ``_STRICT`` would decode back equal, of
    the same exact types (REC-2, VAL-2, VAL-3), and nests at most ``max_depth`` deep
    (VAL-4). False may be a false alarm; True never is.

    What orjson encodes but does not give back is a value of a type that is not exactly
    a JSON one (a tuple, an enum member, a UUID, a Fragment) or a float that is not
    finite (NaN and the infinities become null). Both are found level by level in C,
    without decoding: ``gc.get_referents`` of the containers of one level is the next
    level (a list's items; a dict's values, and its keys on Python 3.10 or when they
    are not all exact strings), and atoms have no referents. A level is expanded only
    once its types are all JSON's. One pass of ``type`` over each level gives its types;
    the count of levels is the depth. On the benchmark's 64 KiB session (1,626 values)
    this took 47 us, beside 28 us for orjson.dumps; decoding, comparing and an exact-type
    test with marshal had taken 270 us. The floats of a level are summed only if it has
    any: searching the text for the ``null`` that NaN becomes instead cost 0.9 us at
    1 KiB and 38 us at 64 KiB, a scan of every byte."""
    level = gc.get_referents(data)  # the values at depth 1
    for _depth in range(max_depth):  # level: the values inside containers at _depth + 1
        kinds = set(map(type, level))
        if not kinds <= _JSON_TYPES or (float in kinds and not _all_finite(level)):
            return False
        if dict not in kinds and list not in kinds:
            return True
        level = gc.get_referents(*level)
    return False  # a container at depth max_depth + 1


def _all_finite(values: list[Any]) -> bool:
    """Whether the floats among ``values`` are all finite, summed in C: NaN or an
    infinity makes any sum non-finite. A sum that overflows (1e308 + 1e308) is a false
    alarm, which costs only the walk."""
    floats = compress(values, map(is_, map(type, values), repeat(float)))
    return math.isfinite(sum(floats, 0.0))


#: translate() to quotes and brackets only, with "{" and "}" made "[" and "]": in valid
#: JSON the kind of bracket does not change the depth.
_UNIFY = bytes.maketrans(b"{}", b"[]")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'"[]{}')


def _at_most(encoded: bytes, containers: int) -> bool:
    """Whether the text opens at most ``containers`` objects and arrays. find() is a
    memchr and stops at the limit: 3 us on 64 KiB where two count() calls took 87 us."""
    seen = 0
    for opening in (b"{", b"["):
        at = encoded.find(opening)
        while at != -1:
            seen += 1
            if seen > containers:
                return False
            at = encoded.find(opening, at + 1)
    return True


def too_deep(encoded: bytes, max_depth: int) -> bool:
    """Whether compact JSON text (orjson's) nests containers deeper than ``max_depth``.

    Counting brackets settles it when there are few, as in most sessions. Past that, the
    depth is read in C-speed steps (a walk over the data cost ten times as much for a
    session holding 40 small objects): drop escaped backslashes and quotes, so that every
    quote left delimits a string; keep only quotes and brackets; drop adjacent quote
    pairs (strings holding no bracket; parity is kept); cut out the strings still there;
    then remove innermost bracket pairs, one level per round."""
    if _at_most(encoded, max_depth):
        return False
    text = encoded
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = text.translate(_UNIFY, _NOT_MARKS).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    for _ in range(max_depth):
        if not marks:
            return False
        marks = marks.replace(b"[]", b"")  # one pass: the innermost level, not more
    return bool(marks)


def encode_data(data: object, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Validate session data (VAL-2..VAL-5) and encode it as compact UTF-8 JSON.

    Fast path, in C: orjson encodes, and :func:`_round_trips` proves the text would
    decode back to the same data (nothing is decoded). Otherwise the Python walk finds
    the offending value and names it; if it finds none, the fast path's alarm was false
    (an overflowing sum of floats) unless orjson refused the data, which can then only
    be for a string that is not valid Unicode.
    """
    if type(data) is not dict:
        raise InvalidSession(
            f"session data must be a dict (a JSON object), not {type(data).__name__}"
        )
    try:
        encoded: bytes | None = orjson.dumps(data, option=_STRICT)
    except TypeError:  # orjson.JSONEncodeError
        encoded = None
    if encoded is None or not _round_trips(data, limits.max_depth):
        try:
            _walk(data, 0, limits.max_depth)
        except _BadValue as bad:
            pointer = "".join("/" + part for part in reversed(bad.path))
            raise InvalidSession(f"session data at '{pointer or '/'}': {bad.message}") from None
        if encoded is None:  # every value has a JSON type, so the text itself is bad
            raise InvalidSession("session data holds a string that is not valid Unicode text")
    if len(encoded) > limits.max_data_bytes:
        raise SessionTooLarge(
            f"session data is {len(encoded)} bytes encoded; the limit is {limits.max_data_bytes}"
        )
    return encoded  # a store that keeps the bytes keeps kept(encoded)


def encode_checked(data: object, limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, JSONObject]:
    """:func:`encode_data`, and a decoded copy of the data to hand back to the caller.
    A store that returns :meth:`Record.to_written_session` needs no copy: its session
    decodes the bytes when the caller first reads the data."""
    encoded = encode_data(data, limits)
    return encoded, orjson.loads(encoded)


def encode_parsed(data: JSONObject, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Encode data that came out of parsing JSON text (an import): its values can only
    be JSON values, so what is left to check is integer range, depth and size. Anything
    unusual takes the full path of :func:`encode_data`, for its precise message."""
    try:
        encoded = orjson.dumps(data, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:  # an integer beyond 2**53 - 1 (orjson.JSONEncodeError)
        return encode_data(data, limits)
    if type(data) is not dict or too_deep(encoded, limits.max_depth):
        return encode_data(data, limits)
    if len(encoded) > limits.max_data_bytes:
        raise SessionTooLarge(
            f"session data is {len(encoded)} bytes encoded; the limit is {limits.max_data_bytes}"
        )
    return kept(encoded)  # imported records are kept, by the memory store


def kept(encoded: bytes) -> bytes:
    """Encoded data as a store should keep it: an exact-size copy. orjson hands out its
    output buffer as it is (8 KB for 800 bytes of JSON, measured with tracemalloc), and a
    store that kept that, as the memory store did, held five times the memory its
    sessions need. A store that only passes the bytes on (SQLite copies them into its
    pages) saves the copy."""
    return memoryview(encoded).tobytes()


def decode_data(raw: bytes | str, session_id: str) -> JSONObject:
    """Decode stored data; anything but a JSON object is corruption (ERR-3)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptSession(
            f"session {short_id(session_id)} is corrupt: its stored data does not decode ({exc})"
        ) from None
    if type(data) is not dict:
        raise CorruptSession(
            f"session {short_id(session_id)} is corrupt: its stored data is not a JSON object"
        )
    return data


def live_at(expires_ms: int | None, now_ms: int) -> bool:
    """LIVE-1: live iff it never expires or now is strictly before its expiry."""
    return expires_ms is None or now_ms < expires_ms


def visible(stored_owner: str | None, owner: str | None) -> bool:
    """OWN-2: a call on behalf of ``owner`` sees unowned sessions and its own."""
    return owner is None or stored_owner is None or stored_owner == owner


# --- records ----------------------------------------------------------------------------


class Record(NamedTuple):
    """A stored session: what every backend keeps, data as encoded JSON. A named tuple,
    not a frozen dataclass: it is built on every read, and this is 3x cheaper."""

    id: str
    data: bytes
    version: int
    created_ms: int
    updated_ms: int
    expires_ms: int | None
    owner: str | None = None

    def is_live(self, now_ms: int) -> bool:
        """LIVE-1 (:func:`live_at`)."""
        return live_at(self.expires_ms, now_ms)

    def visible_to(self, owner: str | None) -> bool:
        """OWN-2: a call on behalf of ``owner`` sees unowned sessions and its own."""
        return visible(self.owner, owner)

    def check_version(self, expected: int | None) -> None:
        """REPLACE-2, DELETE-2: a stale ``expected_version`` is a VersionConflict."""
        if expected is not None and expected != self.version:
            raise VersionConflict(
                f"session {short_id(self.id)} is at version {self.version}, not {expected}",
                expected=expected,
                actual=self.version,
            )

    def to_written_session(self) -> Session:
        """The caller's view of a record this store has just written from validated data:
        its bytes are decoded only if the caller reads the data (COPY-1 all the same)."""
        return Session.from_json_ms(
            self.id,
            self.data,
            self.version,
            self.created_ms,
            self.updated_ms,
            self.expires_ms,
            self.owner,
        )

    def to_session(self, data: JSONObject | None = None) -> Session:
        """The caller's view; ``data`` is a fresh decoded copy when the caller has one."""
        return Session.from_ms(
            self.id,
            decode_data(self.data, self.id) if data is None else data,
            self.version,
            self.created_ms,
            self.updated_ms,
            self.expires_ms,
            self.owner,
        )


#: Sessions decoded per step of :func:`sessions_of`.
DECODE_STEP = 250


async def sessions_of(records: Sequence[Record]) -> list[Session]:
    """The caller's view of many records (a ``list`` page), decoded DECODE_STEP at a
    time with the event loop running between steps: a page of 1,000 takes ~10 ms."""
    sessions: list[Session] = []
    for start in range(0, len(records), DECODE_STEP):
        if start:
            await asyncio.sleep(0)
        sessions += [r.to_session() for r in records[start : start + DECODE_STEP]]
    return sessions
