"""An import rejection names the real problem (issue 12, item 5), in the canonical
layout (a record per line) and in any other, where the streamed reader scans values.

The rejections that misled: a lone surrogate escape and an integer beyond a double were
"unexpected end of data", deep nesting "failed to allocate memory", and the reader's
verdict on a huge integer differed from the canonical layout's."""

from __future__ import annotations

import pytest

from sessionstore import ImportRejected, open_store

pytestmark = pytest.mark.anyio

HEADER = (
    '{"format":"sessionstore-export","format_version":1,'
    '"exported_at":"2026-01-01T00:00:00.000Z","sessions":['
)
RECORD = (
    '{"id":"a","data":DATA,"version":1,"created_at":"2026-01-01T00:00:00.000Z",'
    '"updated_at":"2026-01-01T00:00:00.000Z","expires_at":null,"owner":null}'
)


def documents(data: str) -> dict[str, str]:
    record = RECORD.replace("DATA", data)
    return {
        "canonical": HEADER + "\n" + record + "\n]}",
        "spaced": HEADER.replace("[", "[ ") + " " + record + " ]}",
    }


async def problems(doc: str) -> list[str]:
    async with open_store("memory://") as store:
        with pytest.raises(ImportRejected) as rejected:
            await store.import_(doc.encode())
        assert await store.count() == 0
    return [str(p) for p in rejected.value.problems]


@pytest.mark.parametrize("layout", ["canonical", "spaced"])
@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ('{"k":"\\ud800"}', "surrogate"),
        ('{"k":"\\udc00x"}', "surrogate"),
        ('{"k":"\\ud800\\u0041"}', "surrogate"),
        ('{"k":' * 2000 + "1" + "}" * 2000, "nested more than 1024 levels deep"),
        ('{"k":' + "[" * 100000 + "]" * 100000 + "}", "nested more than 1024 levels deep"),
    ],
)
async def test_the_rejection_names_the_real_problem(layout: str, data: str, needle: str) -> None:
    doc = documents(data)[layout]
    (found,) = await problems(doc)
    assert needle in found, found
    assert "unexpected end of data" not in found and "allocate" not in found


@pytest.mark.parametrize("padding", [0, 100_000])
async def test_a_huge_integer_gets_one_verdict_in_every_layout(padding: int) -> None:
    """An integer beyond a double: orjson stops at it, the standard library reads it, and
    the verdict is about the integer (VAL-2), whatever the layout."""
    data = '{"k":1' + "0" * 400 + ',"pad":"' + "x" * padding + '"}'
    verdicts = [await problems(doc) for doc in documents(data).values()]
    assert verdicts[0] == verdicts[1]
    (found,) = verdicts[0]
    assert found.startswith("/sessions/0/data: ") and "integer" in found


async def test_bytes_that_are_not_utf8_are_not_called_a_surrogate_escape() -> None:
    doc = documents('{"k":"x"}')["spaced"].encode().replace(b'"x"', b'"\xff"')
    async with open_store("memory://") as store:
        with pytest.raises(ImportRejected) as rejected:
            await store.import_(doc)
    (found,) = [str(p) for p in rejected.value.problems]
    assert "not UTF-8" in found and "escape" not in found, found
