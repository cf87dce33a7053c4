"""The export document (spec/schema/export.schema.json) and its Python twin.

``ExportDocument`` is what ``export()`` returns and ``import_()`` accepts; ``parse_export``
validates a whole document before any store is touched (IMPORT-1) and turns it into
:class:`~sessionstore.semantics.Record` rows.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, Final, Literal, cast, overload

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_serializer,
)

from .errors import ImportRejected, InvalidSession, Problem
from .redaction import short_id
from .semantics import (
    MAX_SAFE_INTEGER,
    Record,
    decode_data,
    encode_data,
    encode_parsed,
    from_ms,
    to_ms,
)
from .times import format_ms as format_ms  # re-exported: the export format's timestamps
from .values import DEFAULT_LIMITS, ImportReport, JSONObject, Limits, OnConflict

FORMAT: Final = "sessionstore-export"
FORMAT_VERSION: Final = 1

#: RFC 3339, UTC, exactly millisecond precision: what ``export`` writes (REC-5).
TIMESTAMP_PATTERN = re.compile(
    r"([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z"
)


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(timezone.utc)
    if not isinstance(value, str) or not TIMESTAMP_PATTERN.fullmatch(value):
        raise ValueError("must be an RFC 3339 UTC timestamp like 2026-01-31T12:00:00.000Z")
    return datetime.fromisoformat(value[:-1] + "+00:00")  # ValueError for e.g. Feb 30


def format_timestamp(moment: datetime) -> str:
    return format_ms(to_ms(moment))


def _integral(value: Any) -> Any:
    # JSON Schema counts 1.0 as an integer; so do we, and nothing else (no bools, no strings).
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _not_bool(value: Any) -> Any:
    # Literal[1] alone accepts True (True == 1); JSON Schema's const 1 does not.
    if isinstance(value, bool):
        raise ValueError("must be the integer 1, not a boolean")
    return value


Timestamp = Annotated[
    datetime, PlainValidator(_parse_timestamp), PlainSerializer(format_timestamp, return_type=str)
]
Version = Annotated[int, BeforeValidator(_integral), Field(ge=1, le=MAX_SAFE_INTEGER)]

_MODEL = ConfigDict(extra="forbid", strict=True, frozen=True)


class SessionRecord(BaseModel):
    """One session in an export document (spec/schema/session.schema.json)."""

    model_config = _MODEL

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
    data: JSONObject
    version: Version
    created_at: Timestamp
    updated_at: Timestamp
    expires_at: Timestamp | None
    owner: Annotated[str, Field(min_length=1, max_length=256)] | None = None


class ExportDocument(BaseModel):
    """A point-in-time snapshot of a store's live sessions (EXPORT-1).

    ``sessions`` is any sequence of SessionRecord. A store's ``export()`` gives an
    :class:`ExportedSessions`, which holds the stored records and makes each
    SessionRecord when it is first read.
    """

    model_config = _MODEL

    format: Literal["sessionstore-export"]
    format_version: Annotated[Literal[1], BeforeValidator(_not_bool)]
    exported_at: Timestamp
    sessions: Sequence[SessionRecord]

    @field_serializer("sessions")
    def _sessions_as_list(self, sessions: Sequence[SessionRecord]) -> list[SessionRecord]:
        return list(sessions)  # an ExportedSessions dumps as the array it stands for

    def to_json(self) -> bytes:
        """The document as UTF-8 JSON bytes, as the schema describes it."""
        if isinstance(self.sessions, ExportedSessions):  # the stored data spliced in
            return b"".join(document_lines(to_ms(self.exported_at), self.sessions.fields()))
        return self.model_dump_json().encode()  # pydantic-core's encoder: 4x faster here


#: Records per piece of a streamed export: a few ms of work between two turns of the loop.
PIECE = 250


def _stamp(ms: int) -> bytes:
    return f'"{format_ms(ms)}"'.encode()


#: A record's fields in Record's order: a Record, or the plain tuple the memory store
#: keeps (backends/_stored.py), which the export reads without making a Record of it.
RecordFields = tuple[str, bytes, int, int, int, "int | None", "str | None"]


def exportable_data(session_id: str, data: bytes) -> bytes:
    """A record's stored data, once it is known to be a JSON object: a corrupt row
    raises CorruptSession naming it and never reaches a document (ERR-3, EXPORT-3).
    The check is orjson's parse of the bytes, the cheapest full validation there is;
    the decoded copy is dropped and the stored bytes are spliced in as they are."""
    decode_data(data, session_id)
    if type(data) is not bytes:  # a TEXT value in an SQLite file written by hand
        return str(data).encode()
    return data


def record_json(record: RecordFields) -> bytes:
    """One session of an export document as JSON text, splicing in the stored data bytes
    once they are known to decode (EXPORT-2, EXPORT-3)."""
    sid, data, version, created_ms, updated_ms, expires_ms, owner = record
    expires = b"null" if expires_ms is None else _stamp(expires_ms)
    return b"".join((
        b'{"id":', orjson.dumps(sid), b',"data":', exportable_data(sid, data),
        b',"version":', str(version).encode(),
        b',"created_at":', _stamp(created_ms), b',"updated_at":', _stamp(updated_ms),
        b',"expires_at":', expires, b',"owner":', orjson.dumps(owner), b"}",
    ))  # fmt: skip


def document_head(exported_ms: int) -> bytes:
    """The export document's text up to its first record: the canonical first line."""
    return (
        b'{"format":"sessionstore-export","format_version":1,"exported_at":'
        + _stamp(exported_ms)
        + b',"sessions":['
    )


#: The export document's text after its last record.
DOCUMENT_TAIL: Final = b"\n]}"


def item_json(item: RecordFields | SessionRecord) -> bytes:
    """One session of a document as JSON text: a stored record's, or a SessionRecord's
    (read from an :class:`ExportedSessions`, whose data the caller may have changed)."""
    if isinstance(item, SessionRecord):
        return item.model_dump_json().encode()
    return record_json(item)


def document_lines(
    exported_ms: int, items: Iterable[RecordFields | SessionRecord]
) -> Iterator[bytes]:
    """The whole document's text in the canonical layout, a line at a time."""
    yield document_head(exported_ms)
    separator = b"\n"
    for item in items:
        yield separator + item_json(item)
        separator = b",\n"
    yield DOCUMENT_TAIL


async def chunked_document(
    exported_ms: int, batches: AsyncIterator[Sequence[RecordFields]]
) -> AsyncIterator[bytes]:
    """The export document as pieces of JSON text, a piece per PIECE records of each
    batch, the event loop running between pieces.

    The layout is canonical: the header on the first line, each record on a line of its
    own, ``]}`` on the last. It is plain JSON; importers read it a line at a time
    (:mod:`sessionstore.importing`), since a raw newline never occurs inside a JSON string.
    """
    yield document_head(exported_ms)
    first = True
    async for batch in batches:
        for start in range(0, len(batch), PIECE):
            if start:
                await asyncio.sleep(0)  # a piece at a time: the event loop runs between
            part = batch[start : start + PIECE]
            yield (b"\n" if first else b",\n") + b",\n".join(record_json(r) for r in part)
            first = False
        await asyncio.sleep(0)  # and between batches, even empty ones
    yield DOCUMENT_TAIL


#: Every field is set in an exported record: one set shared by all of them, as
#: ``model_construct(_fields_set=...)`` allows (pydantic copies it before any change).
_ALL_FIELDS = set(SessionRecord.model_fields)
_bare = SessionRecord.__new__
_assign = object.__setattr__
# What model_construct does for this model, without its per-field search for aliases
# and defaults, which SessionRecord has none of (checked here, where a change to the
# model would make this copy wrong): half the CPU of a record.
assert not any(f.alias or f.validation_alias for f in SessionRecord.model_fields.values())
assert not SessionRecord.__private_attributes__ and not SessionRecord.__pydantic_post_init__


def record_to_export(record: RecordFields) -> SessionRecord:
    """The record as an export's SessionRecord (trusted: no validation). A full
    collection of CPython's GC walks every tracked object at once, and an export()
    builds millions: a record costs its data's containers plus the model and its
    ``__dict__``; the shared fields set saves one object per record."""
    sid, data, version, created_ms, updated_ms, expires_ms, owner = record
    session = _bare(SessionRecord)
    _assign(session, "__dict__", {
        "id": sid,
        "data": decode_data(data, sid),  # ERR-3, EXPORT-3
        "version": version,
        "created_at": from_ms(created_ms),
        "updated_at": from_ms(updated_ms),
        "expires_at": None if expires_ms is None else from_ms(expires_ms),
        "owner": owner,
    })  # fmt: skip
    _assign(session, "__pydantic_fields_set__", _ALL_FIELDS)
    _assign(session, "__pydantic_extra__", None)
    _assign(session, "__pydantic_private__", None)
    return session


class ExportedSessions(Sequence[SessionRecord]):
    """The sessions of a store's export: the stored records, each made a SessionRecord
    (its data decoded) when it is first read, and kept from then on, so a change to its
    data shows in the document (and in an import of it).

    Why not a list of SessionRecord: decoded, 100,000 sessions of 700 bytes are about
    700,000 objects that CPython's garbage collector tracks, and the full collections that
    building them set off held the event loop 0.3-0.5 s at a time (issue 12). The stored
    records are plain tuples of strings, bytes and numbers, which it does not track.
    """

    __slots__ = ("_made", "_records")

    def __init__(self, records: list[RecordFields]) -> None:
        self._records = records
        self._made: dict[int, SessionRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> SessionRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[SessionRecord]: ...
    def __getitem__(self, index: int | slice) -> SessionRecord | list[SessionRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._records)))]
        position = range(len(self._records))[index]  # negative indices; IndexError
        made = self._made.get(position)
        if made is None:
            made = self._made[position] = record_to_export(self._records[position])
        return made

    def __iter__(self) -> Iterator[SessionRecord]:
        return map(self.__getitem__, range(len(self._records)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # like a list: equal to lists, not hashable

    def __repr__(self) -> str:
        return repr(list(self))

    def fields(self) -> Iterator[RecordFields | SessionRecord]:
        """Each session as it is now: its stored record, or its SessionRecord once read
        (without making SessionRecords of the others)."""
        made = self._made
        for position, record in enumerate(self._records):
            yield made.get(position, record)


_plain_tuple = cast("Callable[[RecordFields], RecordFields]", tuple)


async def export_document(
    exported_ms: int, batches: AsyncIterator[Sequence[RecordFields]]
) -> ExportDocument:
    """The export document (EXPORT-1) of the records in ``batches``. Each record's data
    is checked to decode, PIECE records at a time, the event loop running between: a
    corrupt row raises CorruptSession naming it here, at the call (ERR-3, EXPORT-3)."""
    records: list[RecordFields] = []
    async for batch in batches:
        for start in range(0, len(batch), PIECE):
            part = batch[start : start + PIECE]
            for record in part:
                decode_data(record[1], record[0])
            # As plain tuples, which the collector stops tracking (tuple() of one is
            # itself); a named tuple such as a Record it tracks for good.
            records += map(_plain_tuple, part)
            await asyncio.sleep(0)
    return ExportDocument.model_construct(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        exported_at=from_ms(exported_ms),
        sessions=ExportedSessions(records),
    )


def check_on_conflict(on_conflict: object) -> OnConflict:
    if on_conflict not in ("error", "skip", "replace"):
        raise InvalidSession(f"on_conflict must be error, skip or replace, not {on_conflict!r}")
    return on_conflict


def plan_import(
    records: Sequence[Record], now_ms: int, clashes: set[str], on_conflict: OnConflict
) -> tuple[list[Record], ImportReport]:
    """What an import writes and reports (IMPORT-3, IMPORT-4, IMPORT-6), given the ids
    of ``records`` that are live in the store now. Raises ImportRejected for a clash
    under ``on_conflict="error"``, before anything is written."""
    fresh = [r for r in records if r.is_live(now_ms)]
    if not clashes:  # an import into an empty store, say: everything live is written
        return fresh, import_report(len(records), len(records) - len(fresh), [], on_conflict)
    clashing = [(i, r.id) for i, r in enumerate(records) if r.id in clashes and r.is_live(now_ms)]
    report = import_report(len(records), len(records) - len(fresh), clashing, on_conflict)
    writes = [r for r in fresh if r.id not in clashes or on_conflict == "replace"]
    return writes, report


def import_report(
    total: int, expired: int, clashing: list[tuple[int, str]], on_conflict: OnConflict
) -> ImportReport:
    """The report of an import of ``total`` records, ``expired`` of them already expired,
    whose live records at ``clashing`` (document index, id) are live in the store too.
    Raises ImportRejected for a clash under ``on_conflict="error"`` (IMPORT-4)."""
    if clashing and on_conflict == "error":
        raise ImportRejected(clash_problems(clashing))
    return counted_report(total, expired, len(clashing), on_conflict)


def clash_problems(clashing: Iterable[tuple[int, str]]) -> list[Problem]:
    """IMPORT-4's problems for the live records at ``clashing`` (document index, id)."""
    return [
        Problem(f"/sessions/{i}/id", f"a live session with id {short_id(sid)} exists")
        for i, sid in clashing
    ]


def counted_report(total: int, expired: int, clashes: int, on_conflict: OnConflict) -> ImportReport:
    """The report of an import of ``total`` records, ``expired`` of them already expired
    and ``clashes`` of the live ones live in the store too, which it did not reject."""
    kept = clashes if on_conflict != "replace" else 0
    return ImportReport(
        imported=total - expired - clashes,
        skipped_expired=expired,
        skipped_conflict=kept,
        replaced=clashes - kept,
    )


#: Digits to "0", every other byte to " ": a run of 19 zeros is a number this long.
_DIGIT_RUNS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))


def has_long_number(raw: bytes | memoryview) -> bool:
    """Whether the text holds a run of 19+ digits: an integer literal this long may be
    beyond 64 bits, which orjson reads as a float. (translate + find: 20x faster than a
    regular expression, which tries a match at every byte.)"""
    return bytes(raw).translate(_DIGIT_RUNS).find(b"0" * 19) >= 0


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _load_json(text: str | bytes) -> Any:
    """Parse JSON text exactly: orjson (fast) unless a very long number could be an integer
    beyond 64 bits, which it would silently turn into a float; then the standard library,
    whose integers are exact (and which is told to refuse NaN and Infinity)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        if not has_long_number(raw):
            return orjson.loads(raw)
        return json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:  # orjson.JSONDecodeError, json.JSONDecodeError, NaN
        raise ImportRejected([Problem("", f"not valid JSON: {exc}")]) from None


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def parse_export(
    doc: ExportDocument | Mapping[str, Any] | str | bytes, limits: Limits = DEFAULT_LIMITS
) -> list[Record]:
    """Validate a whole export document and return its records, or raise
    :class:`ImportRejected` listing every problem with its JSON pointer (IMPORT-1)."""
    from_text = isinstance(doc, (str, bytes))  # then every value is already a JSON value
    if isinstance(doc, (str, bytes)):
        doc = _load_json(doc)
    if isinstance(doc, ExportDocument):
        doc = doc.model_dump()  # re-validate: a caller may have built it with model_construct
    if not isinstance(doc, Mapping):
        raise ImportRejected([Problem("", "the document must be a JSON object")])
    try:
        parsed = ExportDocument.model_validate(dict(doc))
    except ValidationError as exc:
        raise ImportRejected(
            [Problem(_pointer(err["loc"]), err["msg"]) for err in exc.errors()]
        ) from None
    problems: list[Problem] = []
    records: list[Record] = []
    seen: set[str] = set()
    for index, item in enumerate(parsed.sessions):
        where = f"/sessions/{index}"
        if item.id in seen:
            problems.append(Problem(f"{where}/id", f"duplicate id {short_id(item.id)}"))
        seen.add(item.id)
        if len(item.id) > limits.max_id_length:
            problems.append(Problem(f"{where}/id", "id is longer than this store allows"))
        try:
            encoded = (
                encode_parsed(item.data, limits) if from_text else encode_data(item.data, limits)
            )
        except InvalidSession as exc:
            problems.append(Problem(f"{where}/data", str(exc)))
            continue
        records.append(
            Record(
                id=item.id,
                data=encoded,
                version=item.version,
                created_ms=to_ms(item.created_at),
                updated_ms=to_ms(item.updated_at),
                expires_ms=None if item.expires_at is None else to_ms(item.expires_at),
                owner=item.owner,
            )
        )
    if problems:
        raise ImportRejected(problems)
    return records
