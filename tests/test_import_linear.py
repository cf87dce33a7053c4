"""The streamed import reader is linear in the size of its input, a single huge value
included (issue 12, item 4): counted in bytes, not seconds. Each test counts the bytes
the reader shows orjson and the bytes it copies into its buffer while reading one
document with one large value, cut in small chunks; linear reading keeps both within a
fixed multiple of the document's size, whatever that size. (Before: each chunk of a
value that spans chunks made the reader copy and parse the whole value read so far
again — 10/20/40 MB strings took 0.6/1.9/7.3 s.)"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import orjson
import pytest

from sessionstore import importing
from sessionstore.importing import collect_records
from sessionstore.values import Limits

CHUNK = 32 * 1024
#: Bytes the reader may touch per byte of input (parses and buffer copies together): about
#: 10 when linear (each doubling of a partial value reparses it), 66-134 before at 4 MiB.
PER_BYTE = 16
STAMP = '"2030-01-01T00:00:00.000Z"'
FIELDS = f'"version":1,"created_at":{STAMP},"updated_at":{STAMP},"expires_at":null'


def canonical(blob: int) -> bytes:
    """The layout export_chunks writes, one record holding a string of ``blob`` bytes."""
    head = (
        f'{{"format":"sessionstore-export","format_version":1,"exported_at":{STAMP},"sessions":[\n'
    )
    record = f'{{"id":"big","data":{{"blob":"{"x" * blob}"}},{FIELDS}}}'
    return (head + record + ",\n" + f'{{"id":"small","data":{{}},{FIELDS}}}' + "\n]}").encode()


def any_layout(blob: int) -> bytes:
    """The same records in a layout the line reader does not know (sessions first, no
    newlines): the value scanner reads it."""
    record = f'{{"id":"big","data":{{"blob":"{"x" * blob}"}},{FIELDS}}}'
    return (
        f'{{"sessions":[{record},{{"id":"small","data":{{}},{FIELDS}}}],'
        f'"format":"sessionstore-export","format_version":1,"exported_at":{STAMP}}}'
    ).encode()


def bytes_touched(text: bytes, blob: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Bytes shown to orjson plus bytes copied into the reader's buffer, reading ``text``
    in CHUNK-byte pieces; checks the records came out whole."""
    touched = 0

    def loads(data: Any) -> Any:
        nonlocal touched
        touched += len(data)
        return orjson.loads(data)

    fill = importing._Buffer.fill

    async def counted_fill(self: importing._Buffer) -> bool:
        nonlocal touched
        more = await fill(self)
        touched += len(self.data)
        return more

    counting = types.SimpleNamespace(loads=loads, JSONDecodeError=orjson.JSONDecodeError)
    monkeypatch.setattr(importing, "orjson", counting)
    monkeypatch.setattr(importing._Buffer, "fill", counted_fill)
    pieces = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    limits = Limits(max_data_bytes=len(text))
    records = asyncio.run(collect_records(pieces, limits))
    assert [r.id for r in records] == ["big", "small"]
    assert records[0].data == b'{"blob":"' + b"x" * blob + b'"}'
    return touched


@pytest.mark.parametrize("layout", [canonical, any_layout])
@pytest.mark.parametrize("blob", [1 << 20, 4 << 20])
def test_a_large_value_is_read_in_linear_work(
    layout: Any, blob: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = layout(blob)
    touched = bytes_touched(text, blob, monkeypatch)
    assert touched <= PER_BYTE * len(text), (
        f"{touched / len(text):.1f} bytes touched per byte of a {len(text) >> 20} MiB document"
    )
