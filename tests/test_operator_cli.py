"""The operator CLI `sessionstore` on a real SQLite file, as an operator runs it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sessionstore import open_store
from sessionstore.cli import main


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/ops.db"

    async def fill() -> None:
        async with open_store(url) as store:
            for i in range(5):
                await store.create({"i": i}, id=f"u{i}", owner="ada" if i == 0 else None)
            await store.create({"gone": True}, id="old", ttl=0.001)
        await asyncio.sleep(0.01)

    asyncio.run(fill())
    return url


def cli(*args: str) -> tuple[int, str]:
    """Exit status, and what the command printed: stdout, then stderr (the messages)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def cli_json(*args: str) -> tuple[int, Any]:
    """Exit status and the JSON printed on stdout alone (progress goes to stderr)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_stats_and_purge(db: str) -> None:
    code, stats = cli_json("stats", "--store", db, "--json")
    assert code == 0
    assert (stats["live"], stats["stored"], stats["expired_unpurged"]) == (5, 6, 1)
    assert stats["file_bytes"] > 0
    assert cli("purge", "--store", db, "--json") == (0, '{\n  "removed": 1\n}\n')
    assert cli_json("stats", "--store", db, "--json")[1]["expired_unpurged"] == 0


def test_inspect(db: str) -> None:
    code, out = cli("inspect", "u0", "--store", db)
    assert code == 0
    shown = json.loads(out)
    assert shown["data"] == {"i": 0} and shown["owner"] == "ada" and shown["version"] == 1
    code, out = cli("inspect", "old", "--store", db)  # expired: as good as absent
    assert code == 1 and "no live session" in out


def test_export_import_migrate(db: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    assert cli("export", "--store", db, "-o", str(dump))[0] == 0
    doc = json.loads(dump.read_text())
    assert sorted(s["id"] for s in doc["sessions"]) == [f"u{i}" for i in range(5)]
    other = f"sqlite:///{tmp_path}/other.db"
    code, report = cli_json("import", str(dump), "--store", other, "--json")
    assert code == 0 and report["imported"] == 5
    code, out = cli("import", str(dump), "--store", other)  # all conflict: rejected whole
    assert code == 1 and "/sessions/0/id" in out
    code, report = cli_json(
        "migrate", "--from", db, "--to", f"sqlite:///{tmp_path}/third.db", "--json"
    )
    assert code == 0 and report["imported"] == 5


def test_bad_input(tmp_path: Path, db: str) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "nope"}')
    code, out = cli("import", str(junk), "--store", db)
    assert code == 1 and "import rejected" in out
    code, out = cli("stats", "--store", "nosuch://x")  # bad usage, as any bad URL
    assert code == 2 and "available" in out
    code, out = cli("import", str(tmp_path / "missing.json"), "--store", db)
    assert code == 2
    assert cli("frobnicate")[0] == 2
