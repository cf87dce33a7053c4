"""The value types of the public API: sessions, pages, reports, capabilities, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from .times import from_ms, to_ms

#: A JSON object as the store keeps it (spec REC-2).
JSONObject = dict[str, Any]
#: The store's clock: returns the current time as an aware UTC datetime (LIVE-4).
Clock = Callable[[], datetime]
#: A time-to-live: seconds, or a timedelta (TTL-1).
TTL = float | int | timedelta
#: How ``import_`` treats an id that is already live in the store (IMPORT-4).
OnConflict = Literal["error", "skip", "replace"]


class _Undecoded(list[Any]):
    """A Session's data before it is first read: [its JSON text], then [its JSON text,
    the decoded data]. A list, because ``append`` is atomic (see ``Session.data``)."""

    __slots__ = ()


class Session:
    """One session as a caller sees it (REC-1). ``data`` is the caller's own copy (COPY-1).

    Immutable. The times are kept as epoch milliseconds (REC-5) and become datetimes when
    read: stores build a Session on every call, and making three datetimes that most
    callers never look at was a third of the cost of a ``get``. For the same reason the
    session a write returns may hold its data as the JSON just written, decoded when
    ``data`` is first read (:meth:`from_json_ms`): 64 KiB took 0.2-0.3 ms to decode, more
    than the rest of a ``create``, for callers that mostly ignore it.
    """

    __slots__ = ("_created_ms", "_data", "_expires_ms", "_updated_ms", "id", "owner", "version")
    __match_args__ = ("id", "data", "version", "created_at", "updated_at", "expires_at", "owner")

    id: str
    _data: JSONObject | _Undecoded
    version: int
    owner: str | None
    _created_ms: int
    _updated_ms: int
    _expires_ms: int | None

    def __init__(
        self,
        id: str,
        data: JSONObject,
        version: int,
        created_at: datetime,
        updated_at: datetime,
        expires_at: datetime | None,
        owner: str | None = None,
    ) -> None:
        expires_ms = None if expires_at is None else to_ms(expires_at)
        values = (id, data, version, to_ms(created_at), to_ms(updated_at), expires_ms, owner)
        for setter, value in zip(_SETTERS, values, strict=True):
            setter(self, value)

    @classmethod
    def from_ms(
        cls,
        id: str,
        data: JSONObject,
        version: int,
        created_ms: int,
        updated_ms: int,
        expires_ms: int | None,
        owner: str | None = None,
    ) -> Session:
        """A session from epoch milliseconds, as stores keep them."""
        session = _new(cls)  # the setters inline, not through _fill: this is on every call
        _SET_ID(session, id)
        _SET_DATA(session, data)
        _SET_VERSION(session, version)
        _SET_CREATED(session, created_ms)
        _SET_UPDATED(session, updated_ms)
        _SET_EXPIRES(session, expires_ms)
        _SET_OWNER(session, owner)
        return session

    @classmethod
    def from_json_ms(
        cls,
        id: str,
        encoded: bytes,
        version: int,
        created_ms: int,
        updated_ms: int,
        expires_ms: int | None,
        owner: str | None = None,
    ) -> Session:
        """A session whose data is ``encoded``, JSON text of an object that the store has
        just validated and written: it is decoded when ``data`` is first read. The bytes
        are immutable, so the decoded data is still the caller's own (COPY-1). Pass an
        exact-size copy (``kept``): the session holds the bytes as long as it lives."""
        data = cast(JSONObject, _Undecoded((encoded,)))  # stands in for the data until read
        return cls.from_ms(id, data, version, created_ms, updated_ms, expires_ms, owner)

    @property
    def data(self) -> JSONObject:
        """The session's data: the caller's own copy (COPY-1)."""
        data = self._data
        if type(data) is not _Undecoded:
            return data  # type: ignore[return-value]
        # The first read appends the decoded data. Readers racing here each append a
        # copy, and all of them return the first one: one dict per Session.
        if len(data) == 1:
            # Imported here: only a store (which has imported orjson already) makes such
            # sessions, and ``import sessionstore`` stays cheap (tests/test_import_cost.py).
            import orjson

            data.append(orjson.loads(data[0]))
        return data[1]  # type: ignore[no-any-return]

    @property
    def created_at(self) -> datetime:
        return from_ms(self._created_ms)

    @property
    def updated_at(self) -> datetime:
        return from_ms(self._updated_ms)

    @property
    def expires_at(self) -> datetime | None:
        """None: the session never expires (TTL-3)."""
        return None if self._expires_ms is None else from_ms(self._expires_ms)

    def _key(self) -> tuple[Any, ...]:
        return (self.id, self.data, self.version, self._created_ms, self._updated_ms,
                self._expires_ms, self.owner)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if type(other) is not Session:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # data is a dict: not hashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"Session({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a Session is immutable")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}: a Session is immutable")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return Session.from_ms, self._key()


_new = object.__new__
# The slots' own setters: __setattr__ refuses every assignment, to keep Sessions frozen.
_SETTERS = tuple(
    getattr(Session, name).__set__
    for name in ("id", "_data", "version", "_created_ms", "_updated_ms", "_expires_ms", "owner")
)
_SET_ID, _SET_DATA, _SET_VERSION, _SET_CREATED, _SET_UPDATED, _SET_EXPIRES, _SET_OWNER = _SETTERS


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ``list`` (LIST-1); pass ``cursor`` back to get the next, None at the end."""

    sessions: list[Session]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``import_`` did (IMPORT-6)."""

    imported: int = 0
    skipped_expired: int = 0
    skipped_conflict: int = 0
    replaced: int = 0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store claims (CAP-1); the conformance kit verifies exactly what is claimed."""

    #: The store takes ``clock=`` and uses it for every liveness decision (LIVE-4).
    injectable_clock: bool = False
    #: Acknowledged writes survive close/reopen and a crash of the process.
    durable: bool = False
    #: Several processes on one host may share the backing data safely.
    multi_process: bool = False
    #: Several hosts may share the backing data safely.
    multi_host: bool = False


#: The shortest id limit: 22 characters of the id alphabet (6 bits each) carry the 128
#: random bits of a generated id (CREATE-2), so a generated id always passes VAL-1.
MIN_ID_LENGTH = 22
#: The most an export document holds (spec/schema/session.schema.json; four-digit years).
EXPORT_MAX_ID_LENGTH = 128
EXPORT_MAX_OWNER_LENGTH = 256
EXPORT_MAX_TTL = timedelta(days=365_000)
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Limits:
    """Validation limits (VAL-*); the defaults are the spec's."""

    max_id_length: int = 128
    max_owner_length: int = 256
    max_depth: int = 32
    max_data_bytes: int = 1_048_576
    min_ttl: timedelta = field(default=timedelta(milliseconds=1))
    max_ttl: timedelta = field(default=timedelta(days=3650))
    max_list_limit: int = 1000
    #: min_ttl and max_ttl in whole microseconds, derived once: ttl_to_ms runs on every
    #: write, and dividing the timedeltas there was half its cost.
    min_ttl_us: int = field(init=False, repr=False, compare=False)
    max_ttl_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Limits that let a store accept a session no export document can hold (an id
        or owner longer than the schema allows, an expiry past the year 9999) or nothing
        at all are refused here, once, instead of at some later export."""
        bounds = {
            "max_id_length": (self.max_id_length, MIN_ID_LENGTH, EXPORT_MAX_ID_LENGTH),
            "max_owner_length": (self.max_owner_length, 1, EXPORT_MAX_OWNER_LENGTH),
            "max_depth": (self.max_depth, 1, None),
            "max_data_bytes": (self.max_data_bytes, 2, None),  # {} is 2 bytes
            "max_list_limit": (self.max_list_limit, 1, None),
        }
        for name, (value, low, high) in bounds.items():
            if type(value) is not int or value < low or (high is not None and value > high):
                most = "" if high is None else f" and at most {high}"
                raise ValueError(f"Limits.{name} must be an int of at least {low}{most}")
        if not timedelta(0) < self.min_ttl <= self.max_ttl <= EXPORT_MAX_TTL:
            raise ValueError(
                "Limits need 0 < min_ttl <= max_ttl <= 365000 days (an expiry an export "
                "document can hold)"
            )
        object.__setattr__(self, "min_ttl_us", self.min_ttl // _ONE_US)  # frozen
        object.__setattr__(self, "max_ttl_us", self.max_ttl // _ONE_US)


DEFAULT_LIMITS = Limits()
