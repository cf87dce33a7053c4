"""Export from every backend, import into every backend (itself included): the sessions
arrive unchanged. A backend joins by its line in test_kit_backends.BACKENDS."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import pytest
from test_kit_backends import BACKENDS, Backend

from sessionstore import ImportRejected, ImportReport, open_store
from sessionstore.transfer import import_file, write_export
from sessionstore_conformance import FakeClock

PAIRS = list(itertools.product(BACKENDS, repeat=2))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("source", "target"), PAIRS, ids=[f"{a.name}-to-{b.name}" for a, b in PAIRS]
)
async def test_round_trip(source: Backend, target: Backend, tmp_path: Path) -> None:
    clock = FakeClock()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with open_store(source.target(tmp_path / "a"), clock=clock) as origin:
        made = [
            await origin.create({"n": 1, "nested": {"l": [1, "ü", None, 2.5]}}, id="plain"),
            await origin.create({}, ttl=60, owner="ada"),
            await origin.create({"big": "x" * 10_000}, ttl=1),
        ]
        made[0] = await origin.update("plain", lambda d: {**d, "n": 2})
        await origin.create({"gone": True}, id="expired", ttl=0.5)
        clock.advance(500)  # "expired" is out; the 1 s one is still live
        doc = await origin.export()
    assert sorted(s.id for s in doc.sessions) == sorted(s.id for s in made)
    async with open_store(target.target(tmp_path / "b"), clock=clock) as destination:
        report = await destination.import_(doc.to_json())
        assert report == ImportReport(imported=3)
        for session in made:
            assert await destination.get(session.id) == session
        clock.advance(500)  # expiry travelled as an absolute instant
        assert await destination.get(made[2].id) is None


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["str", "Path", "open file"])
async def test_a_file_round_trip(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    async with open_store("memory://") as origin:
        made = [await origin.create({"i": i}, id=f"s{i}") for i in range(3)]
        with path.open("wb") as out:
            await write_export(origin, out)
    async with open_store("memory://") as destination:
        if kind == "open file":
            with path.open("rb") as file:
                report = await import_file(destination, file)
        else:
            report = await import_file(destination, str(path) if kind == "str" else path)
        assert report == ImportReport(imported=3)
        assert [await destination.get(s.id) for s in made] == made


@pytest.mark.anyio
async def test_an_import_from_a_pipe_stops_at_its_verdict_without_waiting_for_input() -> None:
    """A read ahead on a pipe would wait for input that may never come (a terminal, a
    writer that stalls): only regular files are read ahead."""
    read_end, write_end = os.pipe()
    header = b'{"format":"sessionstore-export","format_version":1,'
    header += b'"exported_at":"2030-01-01T00:00:00.000Z","sessions":[\n'
    os.write(write_end, header + b"{x\n")  # not JSON: the verdict needs nothing more
    closer = threading.Timer(3.0, os.close, [write_end])  # ends the wait if there is one
    closer.start()
    try:
        with os.fdopen(read_end, "rb") as source:
            async with open_store("memory://") as store:
                started = time.monotonic()
                with pytest.raises(ImportRejected, match="not valid JSON"):
                    await import_file(store, source)
                assert time.monotonic() - started < 1.0
    finally:
        closer.cancel()
        if closer.finished.is_set() is False:
            os.close(write_end)
