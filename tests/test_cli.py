"""The conformance CLI as a user runs it: exit codes, report files, usage errors."""

from __future__ import annotations

import json
import re
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
        "-k",
        "expiry_boundary",  # the reports, not the verdict, are under test here: one check
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
    # a loaded machine may shrink for minutes: no time limit may cut the counterexample here
    args = ["run", "leaky:factory", "--profile", "ci", "-q", "--check-timeout", "900"]
    args += ["-k", "stateful_expiry"]  # the suite that prints a counterexample
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "LIVE-1" in out.stdout and "FAIL" in out.stdout
    # the stateful suite's counterexample: numbered calls (which ones depends on the shrink)
    assert "Counterexample" in out.stdout and re.search(r"\n +1\. \w+\(", out.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nonsense"], "neither a store URL"),
        (["run", "no_such_module_xyz:factory"], "cannot import"),
        (["run", "bogus://"], "unknown session store type"),
        (["run", "memory://", "--profile", "warp"], "Invalid value"),
        # brackets are the message's, not markup: 'pip install sessionstore[redis]' keeps them
        (["run", "memory://?opt[x]=1"], "opt[x]"),
        (["run", "memory://", "-k", "[zz]"], "'[zz]' matches no check"),
        (["run", "memory://", "--budget", "p98=1ms"], "expected PERCENTILE=DURATION"),
        (["run", "memory://", "--latency-tier", "cloud"], "Invalid value"),
    ],
)
def test_bad_usage_exits_2(args: list[str], message: str) -> None:
    out = run_cli(*args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stdout + out.stderr


def test_help_lists_commands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0 and "run" in out.stdout and "clauses" in out.stdout


NO_STREAMING = (
    "from sessionstore.backends.memory import MemoryStore\n"
    "class NoStreaming(MemoryStore):\n"
    "    export_chunks = None  # EXPORT-2 is a SHOULD: not met, but not a failure\n"
    "def factory(*, clock):\n"
    "    return NoStreaming(clock=clock)\n"
)


def test_an_empty_selection_exits_2() -> None:
    out = run_cli("run", "memory://", "-k", "nonexistent")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "'nonexistent' matches no check" in out.stdout


def test_require_verified_fails_a_run_that_leaves_must_clauses_unknown() -> None:
    lax = run_cli("run", "memory://", "--profile", "ci", "-k", "declarations", "-q")
    assert lax.returncode == 0, lax.stdout + lax.stderr
    last = lax.stdout.rstrip().splitlines()[-1]
    assert last.startswith("PASS — but ") and "MUST clauses not verified: REC-1" in last
    required = run_cli(
        "run", "memory://", "--profile", "ci", "-k", "declarations", "-q", "--require-verified"
    )
    assert required.returncode == 1, required.stdout + required.stderr
    # nothing failed but the unverified clauses: the line names the option that failed it
    last = required.stdout.rstrip().splitlines()[-1]
    assert last.startswith("FAIL — because --require-verified: "), last


def test_strict_fails_a_should_clause_that_is_not_met(tmp_path: Path) -> None:
    (tmp_path / "nostream.py").write_text(NO_STREAMING)
    args = ["run", "nostream:factory", "--profile", "ci", "-k", "export_chunks", "-q"]
    lax = run_cli(*args, cwd=tmp_path)
    assert lax.returncode == 0, lax.stdout + lax.stderr
    assert "EXPORT-2" in lax.stdout and "non-strict" in lax.stdout
    strict = run_cli(*args, "--strict", cwd=tmp_path)
    assert strict.returncode == 1, strict.stdout + strict.stderr


def test_seed_tolerance_and_timeout_are_taken() -> None:
    out = run_cli(
        "run", "memory://", "--profile", "dev", "-k", "declarations", "-q",
        "--seed", "1234", "--tolerance-ms", "400", "--check-timeout", "30",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "seed 1234" in out.stdout


def test_a_hung_store_fails_with_no_answer(tmp_path: Path) -> None:
    (tmp_path / "hung.py").write_text(
        "import asyncio\n"
        "from sessionstore.backends.memory import MemoryStore\n"
        "class Hung(MemoryStore):\n"
        "    async def get(self, id, *, owner=None):\n"
        "        await asyncio.sleep(3600)\n"
        "def factory(*, clock):\n"
        "    return Hung(clock=clock)\n"
    )
    out = run_cli(
        "run", "hung:factory", "--profile", "ci", "-k", "get", "--check-timeout", "0.5",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "no answer in 0.5 s" in out.stdout


def test_the_kit_s_warnings_are_one_line_among_the_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A LargeStoreWarning read as Python's default display: the kit's file and line, then
    the source line 'warnings.warn(' on a line of its own, in the middle of the progress."""
    import warnings

    from click.testing import CliRunner

    from sessionstore_conformance.checks import scale
    from sessionstore_conformance.cli import main

    monkeypatch.setitem(scale.TARGET, "ci", 11_000)  # decided below 65,536: it warns
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        result = CliRunner().invoke(
            main, ["run", "memory://", "--profile", "ci", "-k", "large_store"]
        )
    out = result.output + capsys.readouterr().err
    assert result.exit_code == 0, out
    assert (
        "warning (LargeStoreWarning): COUNT-1, LIST-1, LIST-2 and EXPORT-1 hold for 11,000" in out
    )
    assert "warnings.warn(" not in out and "scale.py" not in out
