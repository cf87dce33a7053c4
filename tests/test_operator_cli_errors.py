"""How the operator CLI fails (issue 12, items 2, 5 and 6): one line without a
traceback, exit status 2 for bad usage and 1 for a failed operation, JSON under --json,
no wrapping when piped, a quiet exit on a closed pipe; ``-o`` replaces only a regular
file; progress with counts and rate on a terminal, nothing when piped.

Pipes, terminals and devices are real: these run the CLI in a process of its own."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sessionstore import open_store

SESSIONS = 2000  # about 1 MB of export: more than a pipe holds
CLI = [sys.executable, "-m", "sessionstore.cli"]


def sessionstore(
    *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SESSION_STORE_")}
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [*CLI, *args],
        env={**environment, **(env or {})},
        timeout=120,
        check=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli')}/s.db"

    async def fill() -> None:
        async with open_store(url) as store:
            for i in range(SESSIONS):
                await store.create({"i": i, "pad": "x" * 400})

    asyncio.run(fill())
    return url


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.startswith("error: ") and text.count("\n") == 1, text
    assert "Traceback" not in text
    return text


# --- exit status 2: bad usage, one line ----------------------------------------------------


@pytest.mark.parametrize(
    ("store", "env", "needle"),
    [
        ("http://[::1", {}, "IPv6"),
        ("sqlite:///a%00b.db", {}, "NUL"),
        ("sqlite:///x.db?lock_timeout=nan", {}, "lock_timeout"),
        ("sqlite:///x.db?lock_timeout=-5", {}, "lock_timeout"),
        ("memory", {}, "malformed store URL"),
        ("memory://", {"SESSION_STORE_DEFAULT_TTL": "abc"}, "SESSION_STORE_DEFAULT_TTL"),
        ("memory://", {"SESSION_STORE_DEFAULT_TTL": "1e308"}, "SESSION_STORE_DEFAULT_TTL"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_status_2(
    tmp_path: Path, store: str, env: dict[str, str], needle: str
) -> None:
    """A pydantic traceback of 56 lines (DEFAULT_TTL=abc), ValueError tracebacks (%00,
    [::1), a lock_timeout accepted, and exit status 1 where the docs say 2."""
    done = sessionstore("purge", "--store", store, env=env, cwd=tmp_path)
    assert done.returncode == 2, done
    assert needle in one_line(done.stderr)
    assert os.listdir(tmp_path) == []


def test_json_errors_under_json(tmp_path: Path) -> None:
    done = sessionstore("stats", "--json", "--store", "http://[::1", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == b""
    error = json.loads(done.stdout)
    assert error["exit_status"] == 2 and "IPv6" in error["error"]
    assert error["type"] == "ConfigurationError"


def test_errors_are_never_wrapped_when_piped(tmp_path: Path) -> None:
    """stderr piped to a file wrapped at 80 columns."""
    url = "memory" + "-long" * 30
    done = sessionstore("stats", "--store", url, cwd=tmp_path)
    assert done.returncode == 2
    assert url in one_line(done.stderr)


# --- exit status 1: a failed operation, one line ------------------------------------------


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("PLAIN/x.json", "Not a directory"),  # a folder that is a regular file
        # A folder no one may create files in, even root (who ignores a folder's mode).
        pytest.param(
            "/sys/sessionstore-export.json",
            "Permission denied",
            marks=pytest.mark.skipif(not os.path.isdir("/sys"), reason="no sysfs"),
        ),
    ],
)
def test_an_export_that_cannot_be_written_fails_in_one_line(
    db: str, tmp_path: Path, where: str, reason: str
) -> None:
    (tmp_path / "plain").write_text("")
    output = where.replace("PLAIN", str(tmp_path / "plain"))
    done = sessionstore("export", "--store", db, "-o", output)
    assert done.returncode == 1
    assert one_line(done.stderr) == f"error: cannot write {output}: {reason}\n"


def test_export_to_a_full_disk_on_stdout_fails_in_one_line(db: str) -> None:
    with open("/dev/full", "wb") as full:
        done = sessionstore("export", "--store", db, stdout=full)
    assert done.returncode == 1
    assert "stdout: No space left on device" in one_line(done.stderr)


def test_importing_an_unreadable_file_fails_in_one_line(tmp_path: Path) -> None:
    done = sessionstore("import", "/proc/self/mem", "--store", f"sqlite:///{tmp_path}/i.db")
    assert done.returncode == 1
    assert "cannot read /proc/self/mem: Input/output error" in one_line(done.stderr)


def test_a_rejection_of_many_problems_says_how_many_more(tmp_path: Path) -> None:
    doc = {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": "2026-01-01T00:00:00.000Z",
        "sessions": [{"id": f"s{i}"} for i in range(20)],  # 5 missing fields each
    }
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    done = sessionstore("import", "bad.json", "--store", "sqlite:///i.db", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert lines[0] == "error: import rejected, 100 problem(s):"
    assert len(lines) == 1 + 50 + 1 and lines[-1].startswith("  … and 50 more")
    done = sessionstore("import", "bad.json", "--store", "sqlite:///i.db", "--json", cwd=tmp_path)
    assert len(json.loads(done.stdout)["problems"]) == 100


def test_a_closed_pipe_ends_the_export_quietly(db: str) -> None:
    """`export | head` exited 1, as if it had failed."""
    process = subprocess.Popen(
        [*CLI, "export", "--store", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100).startswith(b'{"format":"sessionstore-export"')
    process.stdout.close()  # as head does, after the lines it wanted
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert process.stderr.read() == b""


# --- -o replaces only a regular file -------------------------------------------------------


def test_o_writes_through_a_symlink_and_keeps_it(db: str, tmp_path: Path) -> None:
    """A symlink at PATH was replaced by a regular file."""
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    assert sessionstore("export", "--store", db, "-o", str(link)).returncode == 0
    assert link.is_symlink() and link.resolve() == target
    assert len(json.loads(target.read_bytes())["sessions"]) == SESSIONS


def test_o_dev_stdout_writes_to_stdout(db: str, tmp_path: Path) -> None:
    """``-o /dev/stdout`` would have replaced the system's symlink. The same link, made
    here (a test run against that bug must not break the machine's /dev/stdout)."""
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    done = sessionstore("export", "--store", db, "-o", str(stdout))
    assert done.returncode == 0
    assert len(json.loads(done.stdout)["sessions"]) == SESSIONS
    assert stdout.is_symlink() and os.readlink(stdout) == "/proc/self/fd/1"


def test_o_writes_into_a_fifo(db: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = sessionstore("export", "--store", db, "-o", str(fifo))
    reader.join(timeout=10)  # at once, unless the FIFO was replaced (then it waits forever)
    assert done.returncode == 0 and received
    assert len(json.loads(received[0])["sessions"]) == SESSIONS
    assert fifo.is_fifo()


def test_o_refuses_a_socket(db: str, tmp_path: Path) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        done = sessionstore("export", "--store", db, "-o", str(path))
        assert path.is_socket()
    assert done.returncode == 2
    assert "is a block device or socket, not a file" in one_line(done.stderr)


def test_o_replaces_a_regular_file_whole(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    assert sessionstore("export", "--store", db, "-o", str(out)).returncode == 0
    assert len(json.loads(out.read_bytes())["sessions"]) == SESSIONS
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


# --- python -m, progress ------------------------------------------------------------------


def test_python_m_sessionstore() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sessionstore", "--help"], capture_output=True, timeout=120
    )
    assert (
        done.returncode == 0 and b"export" in done.stdout and b"Usage: sessionstore" in done.stdout
    )


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; the exit status and what it showed there."""
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SESSION_STORE_")}
    process = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**environment, "TERM": "xterm", "COLUMNS": "160"},
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            piece = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not piece:
            break
        shown += piece
    os.close(leader)
    return process.wait(timeout=120), shown.decode(errors="replace")


def test_progress_with_counts_and_rate_on_a_terminal(db: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    code, shown = on_a_terminal("export", "--store", db, "-o", str(dump))
    assert code == 0
    assert f"of {SESSIONS:,} sessions" in shown and "sessions/s" in shown
    assert f"export: {SESSIONS:,} sessions in" in shown
    code, shown = on_a_terminal("import", str(dump), "--store", f"sqlite:///{tmp_path}/i.db")
    assert code == 0 and "/s" in shown and "import:" in shown and "bytes in" in shown
    code, shown = on_a_terminal(
        "migrate", "--from", db, "--to", f"sqlite:///{tmp_path}/m.db", "--json"
    )
    assert code == 0 and f"migrate: {SESSIONS:,} sessions in" in shown


def test_purge_progress_on_a_terminal(tmp_path: Path) -> None:
    """Sessions that expired in 2020: written through a clock of that year."""
    url = f"sqlite:///{tmp_path}/old.db"
    then = datetime(2020, 1, 1, tzinfo=timezone.utc)
    expired = 20_000
    doc = {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": "2020-01-01T00:00:00.000Z",
        "sessions": [
            {
                "id": f"s{i}",
                "data": {},
                "version": 1,
                "created_at": "2020-01-01T00:00:00.000Z",
                "updated_at": "2020-01-01T00:00:00.000Z",
                "expires_at": "2020-01-02T00:00:00.000Z",
                "owner": None,
            }
            for i in range(expired)
        ],
    }

    async def fill() -> None:
        async with open_store(url, clock=lambda: then) as store:
            assert (await store.import_(json.dumps(doc))).imported == expired

    asyncio.run(fill())
    code, shown = on_a_terminal("purge", "--store", url)
    assert code == 0
    assert f"of {expired:,} sessions" in shown
    assert f"purge: {expired:,} sessions in" in shown and "sessions/s)" in shown


def test_no_progress_when_piped(db: str, tmp_path: Path) -> None:
    done = sessionstore("export", "--store", db, "-o", str(tmp_path / "d.json"))
    assert done.returncode == 0
    assert (
        done.stderr.decode()
        == f"exported {(tmp_path / 'd.json').stat().st_size:,} bytes to {tmp_path / 'd.json'}\n"
    )
    done = sessionstore("import", str(tmp_path / "d.json"), "--store", f"sqlite:///{tmp_path}/i.db")
    assert done.returncode == 0 and done.stderr == b""
