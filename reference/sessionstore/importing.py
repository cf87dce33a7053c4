"""Reading an export document from chunks of JSON text into validated records (IMPORT-7).

:func:`read_export` hands the records to a :class:`RecordSink` in batches while it reads,
holding a few records at a time (plus the set of ids, for duplicates), and reaches exactly
the verdict :func:`~sessionstore.export.parse_export` reaches on the whole text: the
same records, or ``ImportRejected`` with the same problems (IMPORT-1). A JSON syntax
error is the one exception in wording: its single problem (pointer ``""``) carries the
parser's own message.

Two readers share the validation:

* **Lines** (the fast path): the canonical layout that ``export_chunks`` writes (header
  line, one record per line, ``]}``). A raw newline never occurs inside a JSON string, so
  a comma before a newline always separates two values: the text between such commas is
  parsed a dozen records per orjson call, as the inside of an array, and the last lines
  one at a time.
* **Values** (any other layout): a small scanner walks the top-level object and the
  ``sessions`` array; each value is parsed by orjson, which reports where a value ends
  ("unexpected content after document" at the next delimiter). The same parser as the
  whole-text path, hence the same verdicts; ijson was measured and left out: its C
  backend reads a lone surrogate escape as ``?`` and refuses integers beyond 64 bits.

The lines reader hands over to the values reader at the first line it does not
recognise, in the scanner state that line starts in, so nothing is read twice.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from .errors import ImportRejected, InvalidSession, Problem
from .export import (
    PIECE,
    ExportDocument,
    ExportedSessions,
    RecordFields,
    SessionRecord,
    _pointer,
    _refuse_constant,
    format_ms,
    has_long_number,
)
from .plain import Fields, forget_timestamps, plain_fields
from .redaction import short_id
from .semantics import Record, encode_data, encode_parsed, to_ms
from .values import DEFAULT_LIMITS, Limits

#: What ``import_chunks`` takes: pieces of one JSON text, from a sync or async source.
Chunks = AsyncIterable[bytes] | Iterable[bytes]

#: Records handed to the sink at a time; the reader yields to the event loop between.
BATCH_SIZE = 1000


class RecordSink(Protocol):
    """Where :func:`read_export` puts validated records until the verdict is known."""

    async def add(self, records: list[RecordFields]) -> None:
        """Records validated, as plain tuples in Record's order: a batch waits through
        many turns of the loop, and a Record (a named tuple) stays tracked by the garbage
        collector, so 100,000 of them triggered its full collections (issue 12)."""

    async def clear(self) -> None:
        """Forget every record added: a later ``sessions`` member replaces an earlier
        one, as in every JSON parser (the last duplicate key wins)."""


# --- records ---------------------------------------------------------------------------


def _model_fields(item: SessionRecord) -> Fields:
    expires = None if item.expires_at is None else to_ms(item.expires_at)
    created, updated = to_ms(item.created_at), to_ms(item.updated_at)
    return item.id, item.data, item.version, created, updated, expires, item.owner


class _Sessions:
    """The records of one ``sessions`` array, validated one at a time in document order,
    with parse_export's rules: schema problems first (if any, they are the verdict), then
    duplicate ids, the store's id length and the data limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.count = 0
        self.schema: list[Problem] = []
        self.problems: list[Problem] = []
        self.seen: set[str] = set()
        self.batch: list[RecordFields] = []

    def take(self, value: Any, parsed: bool = True) -> None:
        """Validate the next record. ``parsed``: it came out of JSON text, so its data
        holds JSON values only (else, Python objects: :func:`encode_data` checks them)."""
        index = self.count
        self.count += 1
        fields = plain_fields(value) or self._judged(index, value)
        if fields is None:
            return
        sid, data, version, created, updated, expires, owner = fields
        if sid in self.seen:
            self.problems.append(Problem(f"/sessions/{index}/id", f"duplicate id {short_id(sid)}"))
        self.seen.add(sid)
        if len(sid) > self.limits.max_id_length:
            self.problems.append(
                Problem(f"/sessions/{index}/id", "id is longer than this store allows")
            )
        try:
            encoded = (encode_parsed if parsed else encode_data)(data, self.limits)
        except InvalidSession as exc:
            self.problems.append(Problem(f"/sessions/{index}/data", str(exc)))
            return
        if not (self.schema or self.problems):  # else the import is rejected: keep nothing
            self.batch.append((sid, encoded, version, created, updated, expires, owner))

    def _judged(self, index: int, value: Any) -> Fields | None:
        try:
            return _model_fields(SessionRecord.model_validate(value))
        except ValidationError as exc:
            where = f"/sessions/{index}"
            self.schema += [Problem(where + _pointer(e["loc"]), e["msg"]) for e in exc.errors()]
            return None


# --- bytes in -----------------------------------------------------------------------------


#: orjson's words for what a parser refuses, put as what is wrong with the document.
_PLAINER = (
    ("surrogate in string", "a \\u escape of half a UTF-16 surrogate pair is not Unicode text"),
    ("not valid utf-8", "the text is not UTF-8"),
    ("depth limit exceeded", "nested more than 1024 levels deep"),
    ("recursion", "nested too deep"),
)


def _not_json(reason: object, at: int | None = None) -> ImportRejected:
    """The rejection of text that does not parse. ``at``: the byte in the document where
    the parser stopped (its own position counts from the value it was shown)."""
    text = reason.msg if at is not None and isinstance(reason, json.JSONDecodeError) else reason
    said = str(text)
    plainer = next((f"{new} ({said})" for old, new in _PLAINER if old in said.lower()), said)
    where = "" if at is None else f" at byte {at}"
    return ImportRejected([Problem("", f"not valid JSON{where}: {plainer}")])


def _loads(raw: bytes | memoryview) -> Any:
    """export._load_json for one value: orjson, or the standard library (exact integers,
    NaN refused) when a very long number could be an integer beyond 64 bits."""
    try:
        if not has_long_number(raw):
            return orjson.loads(raw)
        return json.loads(bytes(raw), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise _not_json(exc) from None


def _elements(text: bytes) -> list[Any] | None:
    """The values of ``text`` read as the inside of a JSON array; None when it is not
    that, holds none, or may hold an integer that only _loads reads exactly."""
    if has_long_number(text):
        return None
    try:
        values: list[Any] = orjson.loads(b"[" + text + b"]")
    except orjson.JSONDecodeError:
        return None
    return values or None


_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


def _byte_offset(text: memoryview, chars: int) -> int:
    """The byte offset in UTF-8 ``text`` of character ``chars`` (orjson's error position
    counts characters), at most ``len(text)``: the least offset with ``chars`` characters
    before it, past any continuation bytes of the last one. Each pass counts the
    continuation bytes of the part not yet counted, so the whole costs one pass."""
    offset, counted, extra = chars, 0, 0
    while offset < len(text):
        piece = text[counted:offset].tobytes()
        extra += len(piece) - len(piece.translate(None, _CONTINUATION_BYTES))
        counted, width = offset, chars + extra
        if width == offset:
            break
        offset = width
    while offset < len(text) and 0x80 <= text[offset] < 0xC0:
        offset += 1
    return min(offset, len(text))


def _utf8_cut(data: bytes | memoryview) -> int:
    """The length of ``data`` without a UTF-8 sequence cut off at its end (orjson refuses
    a buffer ending mid-character; the rest comes with the next chunk)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # the lead byte of the last sequence
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if length > back else len(data)
    return len(data)


async def _pieces(chunks: Chunks) -> AsyncGenerator[bytes, None]:
    if isinstance(chunks, (bytes, bytearray, str)):
        raise InvalidSession("import_chunks takes an iterable of bytes chunks, not one text")
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


class _Buffer:
    """The unread text: ``data[pos:]``, refilled from the source.

    A refill at least doubles the unread text (or reaches the end of it): a reader that
    looks at all of it again after each refill (a value longer than a chunk, a line
    without its newline yet) then reads every byte a bounded number of times, and the
    buffer is rebuilt once per doubling, not once per chunk (IMPORT-7: linear in the
    size of the text, a single huge value included)."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self.data = b""
        self.pos = 0
        self.eof = False
        self._held = b""
        self._source = source

    async def fill(self) -> bool:
        """Read on; False when the text has ended."""
        if self.eof:
            return False
        unread = len(self.data) - self.pos
        pieces = [self._held] if self._held else []  # a lone piece is then not copied
        size = 0  # bytes read now
        while size == 0 or size < unread:
            chunk = await anext(self._source, None)
            if chunk is None:
                self.eof = True
                break
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise InvalidSession(f"import chunks must be bytes, not {type(chunk).__name__}")
            pieces.append(bytes(chunk))
            size += len(chunk)
        joined = b"".join(pieces)
        cut = len(joined) if self.eof else _utf8_cut(joined)
        self._held = joined[cut:]
        self.data = self.data[self.pos :] + joined[:cut]
        self.pos = 0
        return True

    async def line(self, limit: int) -> int:
        """The length of the line at ``pos`` (up to its newline or the end of the text),
        or -1 when it is longer than ``limit``."""
        searched = 0
        while True:
            newline = self.data.find(b"\n", self.pos + searched)
            if newline >= 0:
                return newline - self.pos
            searched = len(self.data) - self.pos
            if searched > limit:
                return -1
            if not await self.fill():
                return searched


# --- the document -------------------------------------------------------------------------

_WHITESPACE = re.compile(rb"[ \t\n\r]*")
_COMMA, _COLON, _QUOTE = ord(","), ord(":"), ord('"')
_OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY, _CLOSE_ARRAY = ord("{"), ord("}"), ord("["), ord("]")
_HEADER = re.compile(
    rb'[ \t\r]*\{"format":"sessionstore-export","format_version":1,'
    rb'"exported_at":"[0-9T:.Z-]{24}","sessions":\[[ \t\r]*'
)
_HEADER_LIMIT = 4096
#: Bytes orjson is first shown when looking for the end of a value: it checks all it is
#: shown for valid UTF-8, so showing it the whole buffer for each value would cost more.
_WINDOW = 16384
#: Bytes of records read per run on the fast path, between which the event loop runs:
#: about 90 sessions of 700 bytes, a few ms of work.
_RUN = 1 << 16
#: Bytes of records parsed by one orjson call: two or three sessions. What is parsed
#: stays alive until its records are taken, and whatever is alive when a young collection
#: runs moves to the old generation, whose growth sets off full collections: a dozen
#: sessions a call (16 KiB) promoted 1,737 objects per 20,000 records and a full
#: collection per 100,000, two or three promote 151 and none, at the same speed. One
#: parse per run held a thousand parsed at once, and was slower (they no longer fit the
#: CPU's caches).
_GROUP = 2048
_TOP_FIELDS = ("format", "format_version", "exported_at")


def _member_of(problem: Problem) -> str:
    return problem.pointer.split("/")[1] if problem.pointer else ""


class _Reader:
    """One document: the top-level members and the ``sessions`` records, with the
    scanner's states named as in JSON: "first" (after an opening bracket), "value" (after
    a comma) and "delimiter" (after a value)."""

    def __init__(self, source: AsyncIterator[bytes], sink: RecordSink, limits: Limits) -> None:
        self.buf = _Buffer(source)
        self.sink = sink
        self.limits = limits
        self.top: dict[str, Any] = {}  # members; "sessions" is [] when it is an array
        self.sessions: _Sessions | None = None
        self._added = False

    async def read(self) -> None:
        state = await self._lines()
        if state == "document":
            await self._document()
        elif state is not None:
            await self._elements(state)
            await self._members("delimiter")
            await self._end()
        await self._verdict()

    # --- the fast path: the canonical layout, a record per line

    async def _lines(self) -> str | None:
        """Read the canonical layout; None when it held the whole document, else the
        scanner state at ``buf.pos``, where the values reader takes over."""
        length = await self.buf.line(_HEADER_LIMIT)
        header = self.buf.data[self.buf.pos : self.buf.pos + max(length, 0)]
        if length < 0 or _HEADER.fullmatch(header) is None:
            return "document"
        self.buf.pos += length + 1
        self.top = orjson.loads(header.strip() + b"]}")
        await self._begin_sessions(array=True)
        limit = 16 * self.limits.max_data_bytes + 65536
        state = "first"
        buf = self.buf
        while True:
            # Every whole line buffered is read in one synchronous pass (no coroutine per
            # record); the loop only awaits to refill, or to hand a full batch over.
            end = buf.data.rfind(b"\n", buf.pos)
            if end < 0 and buf.eof:
                end = len(buf.data)  # the last line has no newline after it
            if end < buf.pos:
                if len(buf.data) - buf.pos > limit:
                    return state  # a line too long to be a record: the scanner decides
                if not await buf.fill() and buf.pos >= len(buf.data):
                    return state
                continue
            if state != "delimiter":
                ran = buf.pos
                state = self._run(end, state)
                if buf.pos != ran:
                    await self._flush_full()
                    await asyncio.sleep(0)  # a run at a time: the event loop runs between
                    continue
            lines = buf.data[buf.pos : end]
            # A number never spans lines, so when no 19-digit run is in all these lines,
            # none is in any of them: one scan here instead of one per record.
            exact = has_long_number(lines)
            for line in lines.split(b"\n"):
                after = self._line(line, state, exact)
                if after is None:
                    return state
                buf.pos += len(line) + 1
                state = after
                if state == "end":
                    buf.pos = min(buf.pos, len(buf.data))
                    await self._end()
                    return None
            buf.pos = min(buf.pos, len(buf.data))
            await self._flush_full()

    def _run(self, end: int, state: str) -> str:
        """Read the records ahead of ``buf.pos`` (up to ``end``, at most _RUN bytes) that
        are each followed by a comma and a newline: the body of the canonical layout, read
        without looking at lines, a group of records per parse. Returns the state after
        what it read; it stops at the start of the first piece that is not one JSON value
        (the lines reader decides what it is)."""
        buf = self.buf
        limit = min(end, buf.pos + _RUN) + 1
        assert self.sessions is not None  # the lines are the sessions array's
        take = self.sessions.take
        while True:
            stop = buf.data.rfind(b",\n", buf.pos, min(limit, buf.pos + _GROUP))
            if stop < 0:  # a record longer than a group, or none
                stop = buf.data.find(b",\n", buf.pos, limit)
                if stop < 0:
                    return state
            group = buf.data[buf.pos : stop]
            values = _elements(group)
            if values is None:
                return self._pieces(group, state)
            for value in values:
                take(value)
            buf.pos = stop + 2
            state = "value"

    def _pieces(self, group: bytes, state: str) -> str:
        """_run for a group that is not plainly a sequence of values: a piece at a time."""
        exact = has_long_number(group)
        assert self.sessions is not None  # the lines are the sessions array's
        take = self.sessions.take
        for piece in group.split(b",\n"):
            try:
                value = _loads(piece) if exact else orjson.loads(piece)
            except (ImportRejected, orjson.JSONDecodeError):
                break  # e.g. two records on a line
            take(value)
            self.buf.pos += len(piece) + 2
            state = "value"
        return state

    def _line(self, line: bytes, state: str, exact: bool) -> str | None:
        """One line of the canonical layout: the state after it ("end" after the closing
        ``]}``), or None when it is not in that layout (the scanner takes over there).
        ``exact``: the line may hold an integer orjson cannot read exactly (_loads)."""
        line = line.strip(b" \t\r")
        if not line:
            return None
        if line == b"]}" and state != "value":
            return "end"
        comma = line.endswith(b",")
        body = line[:-1].rstrip(b" \t\r") if comma else line
        if state == "delimiter" or not (body.startswith(b"{") and body.endswith(b"}")):
            return None
        try:
            value = _loads(body) if exact else orjson.loads(body)
        except (ImportRejected, orjson.JSONDecodeError):  # maybe not one record (two on a
            return None  # line, say): the scanner decides
        assert self.sessions is not None
        self.sessions.take(value)
        return "value" if comma else "delimiter"

    # --- the values reader: any layout

    async def _document(self) -> None:
        first = await self._peek()
        if first == _OPEN_OBJECT:
            self.buf.pos += 1
            await self._members("first")
            await self._end()
            return
        if first == _OPEN_ARRAY:  # read on, unkept: invalid JSON takes precedence
            self.buf.pos += 1
            await self._elements("first", keep=False)
        else:
            await self._value()
        await self._end()
        raise ImportRejected([Problem("", "the document must be a JSON object")])

    async def _closed(self, state: str, close: int) -> bool:
        """Whether the container being scanned closes here (``close`` is its closing
        byte); else an item begins at ``pos``, past the comma after the one before."""
        next_byte = await self._peek()
        if state == "delimiter":
            if next_byte not in (_COMMA, close):
                raise _not_json(f"expected ',' or '{chr(close)}' at byte {self.buf.pos}")
            self.buf.pos += 1
            return next_byte == close
        if state == "first" and next_byte == close:
            self.buf.pos += 1
            return True
        return False

    async def _members(self, state: str) -> None:
        while not await self._closed(state, _CLOSE_OBJECT):
            if await self._peek() != _QUOTE:
                raise _not_json(f"expected a member name at byte {self.buf.pos}")
            key = await self._value()
            if await self._peek() != _COLON:
                raise _not_json(f"expected ':' at byte {self.buf.pos}")
            self.buf.pos += 1
            await self._member(key)
            state = "delimiter"

    async def _member(self, key: str) -> None:
        if key != "sessions":
            self.top[key] = await self._value()
            return
        array = await self._peek() == _OPEN_ARRAY
        await self._begin_sessions(array)
        if array:
            self.buf.pos += 1
            await self._elements("first")
        else:
            self.top["sessions"] = await self._value()

    async def _elements(self, state: str, keep: bool = True) -> None:
        while not await self._closed(state, _CLOSE_ARRAY):
            value = await self._value()
            if keep:
                await self._take(value)
            state = "delimiter"

    async def _peek(self) -> int | None:
        """The next byte that is not whitespace (consuming the whitespace); None at the end."""
        buf = self.buf
        while True:
            match = _WHITESPACE.match(buf.data, buf.pos)
            assert match is not None  # the pattern matches the empty string
            buf.pos = match.end()
            if buf.pos < len(buf.data):
                return buf.data[buf.pos]
            if not await buf.fill():
                return None

    async def _value(self) -> Any:
        """Parse the JSON value at ``pos``. orjson parses a window of the text and stops
        at the first byte after the value ("unexpected content"), which is where it ends;
        running out of window or of text means the value goes on: widen, or read on."""
        if await self._peek() is None:
            raise _not_json("the text ends where a value should begin")
        buf = self.buf
        window = _WINDOW
        while True:
            rest = memoryview(buf.data)[buf.pos :]
            view = rest[: _utf8_cut(rest[:window])] if window < len(rest) else rest
            try:
                orjson.loads(view)
                end = len(view)  # a whole value, but a number may go on: read on
            except orjson.JSONDecodeError as exc:
                end = _byte_offset(view, exc.pos)
                if 0 < end < len(view):
                    return await self._value_before(view, end, exc)
                if end == 0:  # e.g. bytes that are not UTF-8: no extension helps
                    raise _not_json(exc) from None
            window = 2 * len(view)  # show it twice as much next time: linear in all
            if len(view) == len(rest) and not await buf.fill():
                value = _loads(view)  # the end of the text: a value, or the parser's error
                buf.pos += len(view)
                return value

    async def _value_before(self, view: memoryview, end: int, stop: orjson.JSONDecodeError) -> Any:
        """The value that ends at ``end``, where orjson stopped reading ``view``. If the
        text before is no value, orjson stopped inside it, and its error names the real
        problem (a lone surrogate escape, nesting too deep), or it stopped at a number
        beyond a double, which only the standard library reads (:meth:`_exact_value`)."""
        try:
            value = _loads(view[:end])
        except ImportRejected:
            if "number" in str(stop) and has_long_number(view):
                return await self._exact_value()
            raise _not_json(stop, self.buf.pos + _byte_offset(view, stop.pos)) from None
        self.buf.pos += end
        return value

    async def _exact_value(self) -> Any:
        """The value at ``pos``, read by the standard library (exact integers) from a
        window widened until the value ends inside it; a number cut off at the window's
        end is no end. The document holds an integer beyond 2**53 and will be rejected,
        with the problems parse_export finds."""
        buf = self.buf
        decoder = json.JSONDecoder(parse_constant=_refuse_constant)
        window = _WINDOW
        while True:
            rest = buf.data[buf.pos :]
            view = rest[: _utf8_cut(rest[:window])] if window < len(rest) else rest
            try:
                text = view.decode("utf-8", "surrogatepass")
                value, chars = decoder.raw_decode(text)
                if chars < len(text) or (buf.eof and len(view) == len(rest)):
                    buf.pos += len(text[:chars].encode("utf-8", "surrogatepass"))
                    return value
            except (ValueError, RecursionError) as exc:
                if buf.eof and len(view) == len(rest):
                    raise _not_json(exc) from None
            if len(view) < len(rest):
                window *= 2
            else:
                await buf.fill()

    async def _end(self) -> None:
        if await self._peek() is not None:
            raise _not_json(f"unexpected content after the document at byte {self.buf.pos}")

    # --- records and the verdict

    async def _begin_sessions(self, array: bool) -> None:
        if self._added:
            await self.sink.clear()
            self._added = False
        self.sessions = _Sessions(self.limits) if array else None
        self.top["sessions"] = []

    async def _take(self, value: Any) -> None:
        assert self.sessions is not None
        self.sessions.take(value)
        await self._flush_full()

    async def _flush_full(self) -> None:
        assert self.sessions is not None
        if len(self.sessions.batch) >= BATCH_SIZE:
            await self._flush()
            await asyncio.sleep(0)  # a sync source never yields to the loop otherwise

    async def _flush(self) -> None:
        assert self.sessions is not None
        if self.sessions.batch:
            await self.sink.add(self.sessions.batch)
            self._added = True
            self.sessions.batch = []

    async def _verdict(self) -> None:
        verdict(self.top, self.sessions)
        await self._flush()


def verdict(top: dict[str, Any], sessions: _Sessions | None) -> None:
    """Raise ImportRejected as parse_export would, given the document's top-level members
    (``"sessions"`` is [] when it is an array, whose records ``sessions`` took): the schema
    problems in pydantic's order (top-level fields, sessions, extra members), else the
    record problems."""
    try:
        ExportDocument.model_validate(top)
        errors = []
    except ValidationError as exc:
        errors = [Problem(_pointer(e["loc"]), e["msg"]) for e in exc.errors()]
    fields = [p for p in errors if _member_of(p) in _TOP_FIELDS]
    in_sessions = [p for p in errors if _member_of(p) == "sessions"]
    extra = [p for p in errors if _member_of(p) not in (*_TOP_FIELDS, "sessions")]
    if sessions is not None:
        in_sessions += sessions.schema
    schema = fields + in_sessions + extra
    if schema:
        raise ImportRejected(schema)
    assert sessions is not None  # else the schema check failed
    if sessions.problems:
        raise ImportRejected(sessions.problems)


async def read_export(chunks: Chunks, sink: RecordSink, limits: Limits = DEFAULT_LIMITS) -> None:
    """Validate the export document whose text is the concatenation of ``chunks``,
    handing its records to ``sink`` in batches; raise :class:`ImportRejected` with every
    problem (IMPORT-1) once the text has been read. Until this returns, the sink holds
    records of a document that may still be rejected: apply them only afterwards."""
    source = _pieces(chunks)
    try:
        await _Reader(source, sink, limits).read()
    finally:
        await source.aclose()
        forget_timestamps()


class _ListSink:
    def __init__(self) -> None:
        self.records: list[Record] = []

    async def add(self, records: list[RecordFields]) -> None:
        self.records += map(Record._make, records)

    async def clear(self) -> None:
        self.records = []


async def collect_records(chunks: Chunks, limits: Limits = DEFAULT_LIMITS) -> list[Record]:
    """Every record of the document, validated (:func:`read_export`), in a list."""
    sink = _ListSink()
    await read_export(chunks, sink, limits)
    return sink.records


def text_chunks(text: str | bytes) -> list[bytes]:
    """A whole JSON text as chunks (a str is encoded as export._load_json does)."""
    return [text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text]


async def document_records(doc: Any, limits: Limits = DEFAULT_LIMITS) -> list[Record]:
    """The records of what ``import_`` takes: JSON text through the reader (one path for
    text), an ExportDocument or a mapping through :func:`object_records`. Public through
    :mod:`sessionstore.toolkit`."""
    if isinstance(doc, (str, bytes)):
        return await collect_records(text_chunks(doc), limits)
    return await object_records(doc, limits)


def _stored_as_json(record: RecordFields) -> dict[str, Any]:
    """A stored record (from an ExportedSessions) as the JSON text of it would parse."""
    sid, data, version, created_ms, updated_ms, expires_ms, owner = record
    return {
        "id": sid,
        "data": orjson.loads(data),
        "version": version,
        "created_at": format_ms(created_ms),
        "updated_at": format_ms(updated_ms),
        "expires_at": None if expires_ms is None else format_ms(expires_ms),
        "owner": owner,
    }


async def object_records(doc: Any, limits: Limits = DEFAULT_LIMITS) -> list[Record]:
    """:func:`parse_export`'s verdict on a document given as Python objects (an
    ExportDocument, or a mapping), reached a record at a time with the event loop running
    every PIECE records: validated in one piece, 100,000 sessions held it for seconds.
    The records of a store's own export (ExportedSessions) are read as stored, without
    making SessionRecords of them."""
    if isinstance(doc, ExportDocument):
        top = doc.model_dump(exclude={"sessions"})  # re-validated: model_construct trusts
        items: Any = doc.sessions
    elif isinstance(doc, Mapping):
        top = dict(doc)
        items = top.get("sessions")
    else:
        raise ImportRejected([Problem("", "the document must be a JSON object")])
    sessions = None
    if isinstance(items, (list, tuple, ExportedSessions)):
        sessions, top["sessions"] = _Sessions(limits), []
        stored = isinstance(items, ExportedSessions)
        for count, item in enumerate(items.fields() if stored else items, 1):  # type: ignore[union-attr]
            if isinstance(item, SessionRecord):
                sessions.take(item.model_dump(), parsed=False)
            elif stored:  # a record as the exporting store keeps it: its data is JSON
                sessions.take(_stored_as_json(item))
            else:
                sessions.take(item, parsed=False)
            if count % PIECE == 0:
                await asyncio.sleep(0)
    elif isinstance(doc, ExportDocument):
        top["sessions"] = items
    verdict(top, sessions)
    assert sessions is not None  # else the verdict was a rejection
    return list(map(Record._make, sessions.batch))
