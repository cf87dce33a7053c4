"""The example third-party store package (docs/examples/dbm_store) as its users get it:
sessionstore built from this tree and the example installed into a fresh virtualenv,
then the example's own tests — the whole conformance kit through the pytest plugin, and
its direct tests — run there, and the ``dbm`` backend is found through its entry point.

Slow (a wheel build, a virtualenv, an install from the package index, the kit's ci
profile: about two minutes on a loaded 2-core machine), hence marked ``slow``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "dbm_store"


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH: a checkout on it would hide what was installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True, text=True, timeout=900, cwd=cwd, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The python of a fresh virtualenv holding sessionstore and the example, and a copy
    of the example's folder (its tests and pytest settings) to run them from."""
    root = tmp_path_factory.mktemp("example")
    example = root / "dbm_store"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", ROOT, cwd=root
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("sessionstore-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root / "venv"], check=True)
    python = root / "venv" / "bin" / "python"
    # The example asks for sessionstore[conformance]: the wheel named here satisfies it.
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q", wheel, example, cwd=root
    )
    assert installed.returncode == 0, installed.stderr
    return python, example


def test_the_examples_tests_pass_in_a_fresh_venv(installed: tuple[Path, Path]) -> None:
    python, example = installed
    result = _run(
        python, "-m", "pytest", "-p", "no:cacheprovider", "--sessionstore-profile=ci", "-rs",
        cwd=example,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # The kit's verdict: every clause passes but those of the capabilities the store
    # does not declare (durable, multi_process: DUR-1, DUR-2, PROC-1, CONC-2).
    verdict = re.search(r"PASS — (\d+) clauses: (\d+) pass, 4 not claimed \(", result.stdout)
    assert verdict is not None, result.stdout[-4000:]
    assert int(verdict[2]) == int(verdict[1]) - 4
    # One item per check: each passed, or was skipped for a capability not declared; and
    # the example's own four tests passed.
    checks = _run(
        python, "-c", "import sessionstore_conformance as k; print(len(k.REGISTRY))", cwd=example
    )
    skipped = re.findall(r"SKIPPED \[(\d+)\] .*: the store does not declare", result.stdout)
    summary = result.stdout.strip().splitlines()[-1]
    expected = int(checks.stdout) - sum(map(int, skipped)) + 4
    assert re.search(rf"\b{expected} passed, {sum(map(int, skipped))} skipped in", summary), summary


def test_the_backend_is_found_through_its_entry_point(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    python, _ = installed
    code = (
        "import asyncio, sys, sessionstore\n"
        "assert 'dbm' in sessionstore.available_backends()\n"
        "async def main():\n"
        "    async with sessionstore.open_store(sys.argv[1]) as store:\n"
        "        await store.create({'a': 1}, id='x')\n"
        "    async with sessionstore.open_store(sys.argv[1]) as store:\n"
        "        print(type(store).__module__, (await store.get('x')).data)\n"
        "asyncio.run(main())\n"
    )
    result = _run(python, "-c", code, f"dbm:///{tmp_path}/sessions", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sessionstore_dbm", "{'a':", "1}"]
