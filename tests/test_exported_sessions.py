"""What export() returns behaves as the document it stands for (EXPORT-1, REC-2).

A store's export keeps the stored records and makes each SessionRecord when it is first
read (sessionstore.export.ExportedSessions, issue 12): these tests hold it to the
list of SessionRecord it replaces, on every reference backend.
"""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from sessionstore import open_store
from sessionstore.backends.memory import MemoryStore
from sessionstore.contract import SessionStore
from sessionstore.errors import CorruptSession, ImportRejected
from sessionstore.export import ExportDocument, ExportedSessions, SessionRecord
from sessionstore.values import Limits

pytestmark = pytest.mark.anyio

DATA: list[dict[str, Any]] = [
    {"n": 1, "tags": ["a", "b"]},
    {"text": "é\u2028", "deep": {"x": [1.5, None, True]}},
    {},
]


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/s.db"
    async with open_store(url) as opened:
        for i, data in enumerate(DATA):
            await opened.create(
                data, id=f"s{i}", ttl=None if i % 2 else 60, owner="o" if i else None
            )
        yield opened


async def test_it_reads_as_the_list_of_records_it_stands_for(store: SessionStore) -> None:
    doc = await store.export()
    assert isinstance(doc.sessions, ExportedSessions)
    as_list = ExportDocument.model_validate_json(doc.to_json())
    assert isinstance(as_list.sessions, list)
    assert doc == as_list and as_list == doc
    assert doc.sessions == as_list.sessions and as_list.sessions == doc.sessions
    assert doc.sessions != as_list.sessions[:2]
    assert sorted(s.id for s in doc.sessions) == ["s0", "s1", "s2"]
    by_id = {s.id: s for s in doc.sessions}
    assert [by_id[f"s{i}"].data for i in range(3)] == DATA  # REC-2
    assert doc.sessions[-1] is doc.sessions[2] and doc.sessions[1:] == list(doc.sessions)[1:]
    with pytest.raises(IndexError):
        doc.sessions[3]
    assert doc.model_dump() == as_list.model_dump()
    assert orjson.loads(doc.model_dump_json()) == orjson.loads(doc.to_json())
    assert pickle.loads(pickle.dumps(doc)) == doc


async def test_a_change_to_a_session_read_from_it_is_kept(store: SessionStore) -> None:
    """A SessionRecord read from the document is made once: a caller who edits its data
    before importing the document elsewhere sees the edit carried, not dropped."""
    doc = await store.export()
    first = doc.sessions[0]
    first.data["migrated"] = True
    assert doc.sessions[0] is first
    assert orjson.loads(doc.to_json())["sessions"][0]["data"]["migrated"] is True
    async with open_store("memory://") as target:
        await target.import_(doc)
        copied = await target.get(first.id, owner=first.owner)
        assert copied is not None and copied.data["migrated"] is True


async def test_its_own_records_are_revalidated_against_the_importing_store() -> None:
    """Stored records of one store are imported into another under that store's limits."""
    async with open_store("memory://") as source:
        await source.create({"big": "x" * 5000}, id="big")
        doc = await source.export()
    async with MemoryStore(limits=Limits(max_data_bytes=1024)) as small:
        with pytest.raises(ImportRejected) as caught:
            await small.import_(doc)
        assert [p.pointer for p in caught.value.problems] == ["/sessions/0/data"]
        assert await small.count() == 0


def test_a_plain_document_still_takes_a_list() -> None:
    record = SessionRecord.model_validate(
        {
            "id": "a",
            "data": {},
            "version": 1,
            "created_at": "2030-01-01T00:00:00.000Z",
            "updated_at": "2030-01-01T00:00:00.000Z",
            "expires_at": None,
        }
    )
    doc = ExportDocument(
        format="sessionstore-export",
        format_version=1,
        exported_at=record.created_at,
        sessions=[record],
    )
    assert doc.sessions == [record]
    assert b'"id":"a"' in doc.to_json()


async def test_a_corrupt_row_fails_the_export_call(store: SessionStore) -> None:
    """ERR-3: the check happens at export(), not when the session is read later."""
    await store.corrupt_for_testing("s1")  # type: ignore[attr-defined]
    with pytest.raises(CorruptSession, match="corrupt"):
        await store.export()
