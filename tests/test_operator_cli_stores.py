"""Which store the operator CLI works on (issue 12, item 1): never one that vanishes when
the command exits, never the implicit default as if it were the user's, never a store
created by a command that only reads."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from sessionstore import open_store
from sessionstore.cli import main


@pytest.fixture(autouse=True)
def no_store_in_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """CI may name a store in SESSION_STORE_URL (the Redis jobs): none here."""
    for name in list(os.environ):
        if name.upper().startswith("SESSION_STORE_"):
            monkeypatch.delenv(name)
    return monkeypatch


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    """An export document holding three sessions."""
    path = tmp_path / "dump.json"

    async def fill() -> None:
        async with open_store("memory://") as store:
            for i in range(3):
                await store.create({"i": i})
            path.write_bytes((await store.export()).to_json())

    asyncio.run(fill())
    return path


def assert_one_line_usage_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_import_refuses_a_memory_target(dump: Path) -> None:
    """It printed "imported: 3" and exit status 0, and the sessions were gone."""
    code, out, err = run("import", str(dump), "--store", "memory://")
    assert_one_line_usage_error(code, out, err, "refusing to import into memory://", "sqlite:///")


def test_migrate_refuses_a_memory_target(tmp_path: Path, dump: Path) -> None:
    source = f"sqlite:///{tmp_path}/source.db"
    assert run("import", str(dump), "--store", source)[0] == 0
    code, out, err = run("migrate", "--from", source, "--to", "memory://")
    assert_one_line_usage_error(code, out, err, "refusing to migrate into memory://")


@pytest.mark.parametrize(
    "command",
    [["stats"], ["export"], ["purge"], ["inspect", "some-id"], ["import", "DUMP"]],
)
def test_no_store_named_is_a_usage_error_that_says_how_to_name_one(
    command: list[str], dump: Path
) -> None:
    """Without --store or SESSION_STORE_*, stats reported on an empty memory store and
    import imported into one."""
    args = [str(dump) if arg == "DUMP" else arg for arg in command]
    code, out, err = run(*args)
    assert_one_line_usage_error(code, out, err, "no store named", "--store", "SESSION_STORE_URL")


def test_the_environment_names_a_store(tmp_path: Path, dump: Path) -> None:
    path = tmp_path / "env.db"
    env = {"SESSION_STORE_TYPE": "sqlite", "SESSION_STORE_PATH": str(path)}
    result = CliRunner(env=env).invoke(main, ["import", str(dump)], catch_exceptions=False)
    assert result.exit_code == 0 and "imported: 3" in result.stdout
    result = CliRunner(env={"SESSION_STORE_URL": f"sqlite:///{path}"}).invoke(
        main, ["stats", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0 and '"live": 3' in result.stdout


def test_a_misspelled_variable_is_an_error_naming_the_close_match(
    no_store_in_environment: pytest.MonkeyPatch, dump: Path
) -> None:
    """SESSION_STORE_TPYE=sqlite fell back to the memory store, silently."""
    no_store_in_environment.setenv("SESSION_STORE_TPYE", "sqlite")
    code, out, err = run("import", str(dump))
    assert_one_line_usage_error(code, out, err, "SESSION_STORE_TPYE", "SESSION_STORE_TYPE?")


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "--store", "URL"],
        ["export", "--store", "URL"],
        ["inspect", "x", "--store", "URL"],
        ["migrate", "--from", "URL", "--to", "sqlite:///OTHER"],
    ],
)
def test_read_only_commands_never_create_files_or_folders(
    tmp_path: Path, command: list[str]
) -> None:
    """`stats --store sqlite:///nodir/x.db` created the folder and a database."""
    missing = tmp_path / "nodir" / "x.db"
    args = [
        arg.replace("URL", f"sqlite:///{missing}").replace("OTHER", str(tmp_path / "o.db"))
        for arg in command
    ]
    code, out, err = run(*args)
    assert code == 1, (code, out, err)
    assert err == f"error: no SQLite database at {missing} (this command creates none)\n"
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_leave_another_database_alone(tmp_path: Path) -> None:
    """`stats` on someone else's SQLite file added the store's tables to it."""
    path = tmp_path / "app.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
    before = path.read_bytes()
    for args in (["stats"], ["export"], ["inspect", "x"]):
        code, _, err = run(*args, "--store", f"sqlite:///{path}")
        assert (
            code == 1
            and err
            == f"error: {path} is not a sessionstore database (this command changes nothing in it)\n"
        )
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["app.db"]
