"""``pip install sessionstore`` with no extras, as a user's project gets it: the wheel built
from this tree, installed into a fresh virtualenv with its dependencies (and pytest, the
user's own), nothing else.

The pytest plugin is loaded into every pytest run of that project (``pytest11`` entry
point), so it must load without the ``conformance`` extra; what needs an extra says
which one, in one line. Slow (a wheel build, a virtualenv and an install from the
package index: about 40 s on a loaded 2-core machine), hence marked ``slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXTRA = "pip install 'sessionstore[conformance]'"


def _run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH: a checkout on it would hide what the wheel installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True, text=True, timeout=600, cwd=cwd, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtualenv holding sessionstore without extras."""
    root = tmp_path_factory.mktemp("bare")
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", ROOT)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("sessionstore-*.whl")
    # No pip inside: the running pip installs into it (--python), which saves ensurepip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root / "venv"], check=True)
    python = root / "venv" / "bin" / "python"
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", wheel, "pytest"
    )
    assert installed.returncode == 0, installed.stderr
    # Else this file would prove nothing: the extra must really be missing.
    assert _run(python, "-c", "import hypothesis").returncode != 0
    return python.parent


def _one_line_naming(text: str, extra: str) -> None:
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if extra in line]
    assert len(lines) == 1, text


def test_pytest_runs_the_users_tests_without_the_extra(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text("def test_sum():\n    assert 1 + 1 == 2\n")
    result = _run(venv / "python", "-m", "pytest", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    # the plugin was loaded all the same: its options are offered
    options = _run(venv / "python", "-m", "pytest", "--help", cwd=tmp_path)
    assert "--sessionstore=TARGET" in options.stdout


def test_the_kit_option_names_the_extra(venv: Path, tmp_path: Path) -> None:
    result = _run(venv / "python", "-m", "pytest", "--sessionstore=memory://", cwd=tmp_path)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    _one_line_naming(result.stdout + result.stderr, EXTRA)


def test_the_conformance_cli_helps_and_names_the_extra(venv: Path, tmp_path: Path) -> None:
    helped = _run(venv / "sessionstore-conformance", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "run" in helped.stdout and "clauses" in helped.stdout
    for command in (("run", "memory://", "--help"), ("run", "memory://"), ("clauses",)):
        result = _run(venv / "sessionstore-conformance", *command, cwd=tmp_path)
        if "--help" in command:
            assert result.returncode == 0 and "--profile" in result.stdout, result.stderr
        else:
            assert result.returncode == 2, result.stdout + result.stderr
            _one_line_naming(result.stderr, EXTRA)
            assert result.stdout == ""


def test_the_kit_api_names_the_extra(venv: Path, tmp_path: Path) -> None:
    code = "import sessionstore_conformance as kit\ntry:\n    kit.run\nexcept ImportError as e:\n    print(e)"
    result = _run(venv / "python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hypothesis" in result.stdout
    _one_line_naming(result.stdout, EXTRA)


def test_a_redis_url_names_the_redis_extra(venv: Path, tmp_path: Path) -> None:
    code = (
        "import asyncio, sessionstore\n"
        "async def main():\n"
        "    async with sessionstore.open_store('redis://127.0.0.1:1/0'):\n"
        "        pass\n"
        "try:\n"
        "    asyncio.run(main())\n"
        "except sessionstore.SessionStoreError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    result = _run(venv / "python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _one_line_naming(result.stdout, "pip install 'sessionstore[redis]'")
