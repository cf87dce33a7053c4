"""What the conformance kit does not see: the sessions outlive close and reopen (the
kit checks that only for stores that declare ``durable``), and a temporary database
leaves no file behind. The kit itself runs on ``dbm://`` from pyproject.toml's
``sessionstore`` setting: ``pytest`` runs both."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from sessionstore_dbm import DbmStore

from sessionstore import available_backends, open_store


async def _write_then_reopen(url: str) -> None:
    async with open_store(url) as store:
        kept = await store.create({"cart": [1, 2]}, id="kept", owner="u1")
        gone = await store.create({}, id="gone")
        await store.update("kept", lambda data: {**data, "paid": True})
        await store.delete(gone.id)
    async with open_store(url) as store:
        again = await store.get("kept")
        assert again is not None
        assert (again.data, again.version, again.owner) == ({"cart": [1, 2], "paid": True}, 2, "u1")
        assert again.created_at == kept.created_at
        assert await store.get("gone") is None
        assert await store.count() == 1
        assert [s.id for s in (await store.list()).sessions] == ["kept"]


def test_sessions_outlive_close_and_reopen(tmp_path: Path) -> None:
    asyncio.run(_write_then_reopen(f"dbm:///{tmp_path}/sessions"))  # absolute: dbm:////...
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["sessions.bak", "sessions.dat"]


def test_namespaces_are_apart(tmp_path: Path) -> None:
    async def main() -> None:
        async with open_store(f"dbm:///{tmp_path}/s?namespace=a") as a:
            await a.create({}, id="x")
        async with open_store(f"dbm:///{tmp_path}/s?namespace=b") as b:
            assert await b.count() == 0

    asyncio.run(main())


def test_a_temporary_database_leaves_no_file() -> None:
    before = set(Path(tempfile.gettempdir()).glob("sessionstore-dbm-*"))

    async def main() -> Path:
        async with open_store("dbm://") as store:
            assert isinstance(store, DbmStore)
            await store.create({"a": 1})
            return Path(store.path).parent

    folder = asyncio.run(main())
    assert not folder.exists()
    assert set(Path(tempfile.gettempdir()).glob("sessionstore-dbm-*")) == before


def test_the_backend_is_registered() -> None:
    assert "dbm" in available_backends()
