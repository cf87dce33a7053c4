"""The conformance CLI as a user runs it: exit codes, report files, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "sessionstore_conformance.cli"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def test_memory_store_passes_with_reports(tmp_path: Path) -> None:
    out = run_cli(
        "run",
        "memory://",
        "--profile",
        "ci",
        "--json",
        str(tmp_path / "r.json"),
        "--markdown",
        str(tmp_path / "r.md"),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS" in out.stdout and "LIVE-1" in out.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is True
    assert {c["id"]: c["outcome"] for c in report["clauses"]}["LIVE-1"] == "pass"
    assert "| LIVE-1 | MUST | pass |" in (tmp_path / "r.md").read_text()


def test_broken_store_fails_with_counterexample(tmp_path: Path) -> None:
    (tmp_path / "leaky.py").write_text(
        "from sessionstore.backends.memory import MemoryStore\n"
        "from sessionstore.semantics import Record\n"
        "Record.is_live = lambda self, now: self.expires_ms is None or now <= self.expires_ms\n"
        "def factory(*, clock):\n"
        "    return MemoryStore(clock=clock)\n"
    )
    out = run_cli("run", "leaky:factory", "--profile", "ci", "-q", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "LIVE-1" in out.stdout and "FAIL" in out.stdout
    assert "Counterexample" in out.stdout and "state." in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nonsense"], "neither a store URL"),
        (["run", "no_such_module_xyz:factory"], "cannot import"),
        (["run", "bogus://"], "unknown session store type"),
        (["run", "memory://", "--profile", "warp"], "Invalid value"),
    ],
)
def test_bad_usage_exits_2(args: list[str], message: str) -> None:
    out = run_cli(*args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stdout + out.stderr


def test_help_lists_commands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0 and "run" in out.stdout and "clauses" in out.stdout
