"""The streamed import reader (sessionstore.importing, IMPORT-7) reaches parse_export's
verdict on the whole text — the same records, or the same problems — whatever the layout
and however the text is cut; and the fast paths agree with the slow ones they skip."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_spec_schema import EXPORT_VECTORS, IMPORT_VECTORS, documents, mutated

from sessionstore import ImportRejected, open_store
from sessionstore.export import SessionRecord, format_ms, parse_export
from sessionstore.importing import _model_fields, _Reader, collect_records
from sessionstore.plain import _plain_ms, plain_fields, timestamp_ms
from sessionstore.semantics import EPOCH, Record, from_ms

AGREEMENT = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def outcome(run: Any) -> Any:
    """Records, or the problems (a JSON syntax error's wording is the parser's own)."""
    try:
        return run()
    except ImportRejected as exc:
        return [
            (p.pointer, "not valid JSON" if p.message.startswith("not valid JSON") else p.message)
            for p in exc.problems
        ]


def streamed(text: bytes, seed: int) -> Any:
    rng = random.Random(seed)
    pieces, start = [], 0
    while start < len(text):
        size = rng.choice([1, 2, 3, 7, 64, 1000, 1 << 20])
        pieces.append(text[start : start + size])
        start += size
    return outcome(lambda: asyncio.run(collect_records(pieces)))


def lines(doc: Any) -> bytes:
    """The canonical layout export_chunks writes: a record per line (when the document
    has the canonical header; otherwise the same layout that the reader must fall back on)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("sessions"), list):
        return json.dumps(doc).encode()
    head = {k: v for k, v in doc.items() if k != "sessions"}
    header = json.dumps({**head, "sessions": []}, separators=(",", ":"))[:-2]
    records = ",\n".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in doc["sessions"]
    )
    return f"{header}\n{records}\n]}}".encode("utf-8", "surrogatepass")


def texts(doc: Any) -> list[bytes]:
    return [
        json.dumps(doc).encode(),  # stdlib: exact big integers, \\u escapes
        json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        lines(doc),
    ]


def assert_agrees(doc: Any, seed: int) -> None:
    for text in texts(doc):
        whole = outcome(lambda text=text: parse_export(text))
        assert streamed(text, seed) == whole, text[:300]


@AGREEMENT
@given(documents, st.integers(0, 1000))
def test_generated_documents(doc: dict[str, Any], seed: int) -> None:
    assert_agrees(doc, seed)


@AGREEMENT
@given(mutated(), st.integers(0, 1000))
def test_mutated_documents(doc: dict[str, Any], seed: int) -> None:
    assert_agrees(doc, seed)


@pytest.mark.parametrize("vector", [v for _, _, v in EXPORT_VECTORS + IMPORT_VECTORS])
def test_vectors(vector: dict[str, Any]) -> None:
    assert_agrees(vector["document"], 0)


STAMP = "2030-01-01T00:00:00.000Z"


def record(i: int, **fields: Any) -> dict[str, Any]:
    base = {"id": f"s{i}", "data": {"n": i, "s": "ü😀"}, "version": 1, "created_at": STAMP}
    return {**base, "updated_at": STAMP, "expires_at": None, **fields}


def header(**extra: Any) -> dict[str, Any]:
    return {"format": "sessionstore-export", "format_version": 1, "exported_at": STAMP, **extra}


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"  ",
        b"[1, 2]",
        b"[1, 2",
        b'"x"',
        b"12",
        b"{}",
        orjson.dumps(header()),
        orjson.dumps(header(sessions={})),
        orjson.dumps(header(sessions=[record(1), record(1)])),  # duplicate ids
        orjson.dumps(header(sessions=[record(1), 5, {"a": 1}], extra=1, format="x")),
        orjson.dumps(header(sessions=[record(1, created_at="2030-02-30T00:00:00.000Z")])),
        orjson.dumps(header(sessions=[record(1, version=2.0, owner="ada")])),
        json.dumps(header(sessions=[record(1, data={"n": 10**30})])).encode(),
        json.dumps(header(sessions=[record(1, data={"n": -(2**63) - 1})])).encode(),
        lines(header(sessions=[record(1, data={"n": 10**30}), record(2)])),
        lines(header(sessions=[record(1), record(2, version=2**64), record(3)])),
        # a later "sessions" member replaces an earlier one, as in every JSON parser
        orjson.dumps(header(sessions=[{"bad": 1}]))[:-1] + b',"sessions":[]}',
        orjson.dumps(header(sessions=[]))[:-1] + b',"sessions":' + orjson.dumps([record(2)]) + b"}",
        lines(header(sessions=[record(1), record(2)])).replace(b"\n]}", b",\n]}"),  # trailing comma
        lines(header(sessions=[record(1), record(2)])) + b" x",
        lines(header(sessions=[record(i) for i in range(5)])).replace(b"},\n{", b"},{", 1),
        lines(header(sessions=[record(i) for i in range(5)])).replace(b"},\n{", b"}\n,{"),
        # the fast run stops mid-way, at a piece that is not one value: two records, a
        # blank, a lone comma, a value that is not a record
        lines(header(sessions=[record(i) for i in range(6)])).replace(
            b'},\n{"id":"s3"', b'},{"id":"s3"'
        ),
        lines(header(sessions=[record(i) for i in range(6)])).replace(b"},\n{", b"},\n \n{", 3),
        lines(header(sessions=[record(i) for i in range(6)])).replace(b"},\n{", b"},\n,\n{", 3),
        b"},\n,\n{".join(lines(header(sessions=[record(i) for i in range(6)])).rsplit(b"},\n{", 1)),
        # a trailing comma, then members after the array: invalid JSON, not an extra member
        lines(header(sessions=[record(1)]))[:-3] + b',\n],"x":[1,\n2]}',
        lines(header(sessions=[record(i) for i in range(6)])).replace(b"},\n{", b"},\n7,\n{", 3),
        lines(header(sessions=[record(i) for i in range(3)])).replace("ü".encode(), b"\xc3", 1),
        lines(header(sessions=[record(1, data={"x": "\\ud800"})])).replace(b"\\\\", b"\\"),
        orjson.dumps(header(sessions=[record(1, data={"x": "é" * 40_000})])),
    ],
)
def test_edge_cases(text: bytes) -> None:
    whole = outcome(lambda: parse_export(text))
    for seed in range(8):
        assert streamed(text, seed) == whole


def test_the_canonical_layout_is_read_a_line_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(self: _Reader) -> Any:
        raise AssertionError("the fast path fell back to the values reader")

    async def exported() -> bytes:
        async with open_store("memory://") as store:
            for i in range(2500):
                await store.create({"i": i, "s": "ü" * (i % 3)}, id=f"x{i:04d}", owner="o")
            return b"".join([piece async for piece in store.export_chunks()])  # type: ignore[attr-defined]

    text = asyncio.run(exported())
    monkeypatch.setattr(_Reader, "_value", never)
    assert (
        len(asyncio.run(collect_records([text[i : i + 4096] for i in range(0, len(text), 4096)])))
        == 2500
    )


# --- the fast validator and the fast timestamps agree with the slow paths ---------------------

_timestamps = st.integers(-62135596800000, 253402300799999).map(format_ms)
_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**60), 2**60), st.floats(allow_nan=False),
    st.text(max_size=3), _timestamps, st.just("2026-02-30T00:00:00.000Z"),
)  # fmt: skip
_records = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[A-Za-z0-9_-]{1,130}", fullmatch=True) | _values,
        "data": st.dictionaries(st.text(max_size=3), _values, max_size=3) | _values,
        "version": st.integers(-1, 2**53 + 1) | st.floats(0, 2**54) | _values,
        "created_at": _timestamps | _values,
        "updated_at": _timestamps | _values,
        "expires_at": _timestamps | _values,
    },
    optional={"owner": st.text(max_size=260) | _values, "other": _values},
)


@AGREEMENT
@given(_records)
def test_plain_fields_accepts_only_what_pydantic_accepts_alike(value: dict[str, Any]) -> None:
    fast = plain_fields(value)
    try:
        slow = _model_fields(SessionRecord.model_validate(value))
    except ValueError:
        slow = None
    if fast is not None:
        assert slow is not None and fast == slow
        assert [type(f) for f in fast] == [type(f) for f in slow]


def _strftime(ms: int) -> str:  # export.format_timestamp before format_ms
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@settings(max_examples=2000)
@given(
    st.integers(-62135596800000, 253402300799999)
    | st.sampled_from([-62135596800000, 253402300799999, 0, -1])
)
def test_format_ms_is_the_strftime_format(ms: int) -> None:
    text = format_ms(ms)
    moment = EPOCH + timedelta(milliseconds=ms)
    if moment.year >= 1000:
        assert text == _strftime(ms)
    else:  # strftime writes year 1 as "1" on glibc: not a timestamp the schema accepts
        assert text == f"{moment.year:04d}" + _strftime(ms)[len(str(moment.year)) :]
    back = datetime.fromisoformat(text[:-1] + "+00:00")
    assert back == moment.replace(tzinfo=timezone.utc)
    assert parse_export({**header(), "sessions": [record(1, created_at=text, updated_at=text)]})[
        0
    ] == Record("s1", b'{"n":1,"s":"\xc3\xbc\xf0\x9f\x98\x80"}', 1, ms, ms, None, None)


@settings(max_examples=2000)
@given(
    st.integers(-62135596800000, 253402300799999)
    | st.sampled_from([-62135596800000, 253402300799999, 0, -1, 951782400000])  # 2000-02-29
)
def test_timestamp_ms_reads_back_what_format_ms_writes(ms: int) -> None:
    assert timestamp_ms(format_ms(ms)) == ms
    assert timestamp_ms(format_ms(ms)) == ms  # twice: the second time from the minute cache


@pytest.mark.parametrize("text", ["2026-02-29T00:00:00.000Z", "2023-04-31T12:00:00.000Z"])
def test_timestamp_ms_refuses_days_that_do_not_exist(text: str) -> None:
    assert timestamp_ms(text) is None


@pytest.mark.parametrize(
    "tail",
    [
        ":60.000Z",
        ":5a.000Z",
        ":00.0000Z",
        ":00.000z",
        ":00.000Z ",
        ":0.000Z",
        "",
        ":00,000Z",
        ":\u0660\u0660.000Z",  # Arabic-Indic digits
    ],
)
def test_a_cached_minute_still_checks_the_seconds(tail: str) -> None:
    assert _plain_ms("2030-01-01T00:00:00.000Z") == 1893456000000  # caches the minute
    assert _plain_ms("2030-01-01T00:00:59.999Z") == 1893456059999
    assert _plain_ms("2030-01-01T00:00" + tail) is None
