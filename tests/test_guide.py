"""docs/guide.md stays true where that is cheap to check: its capability table is the
kit's, the hooks it names are those the kit looks up (with the reference stores'
signatures), its commands and config snippets parse, and its factories run."""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from sessionstore.backends.memory import MemoryStore
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore_conformance.checks.registry import HOOKS
from sessionstore_conformance.cli import main
from sessionstore_conformance.known import load_known_failures
from sessionstore_conformance.requirements import markdown_table, requirements

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
KIT = ROOT / "conformance" / "sessionstore_conformance"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(GUIDE) if lang == language]


def block_starting(language: str, first_line: str) -> str:
    (found,) = [b for b in blocks(language) if b.startswith(first_line)]
    return found


def test_the_capability_table_is_what_the_kit_prints() -> None:
    assert markdown_table(requirements()) in GUIDE


# --- hooks ---------------------------------------------------------------------------------

MEMBERS = "# the optional members the kit looks up on a store"


def guide_members() -> dict[str, ast.AST]:
    (cls,) = [n for n in ast.parse(block_starting("python", MEMBERS)).body]
    assert isinstance(cls, ast.ClassDef)
    found: dict[str, ast.AST] = {}
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def kit_lookups() -> set[str]:
    """Every name the kit's checks read off a store with getattr(…, "name"), and HOOKS."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (KIT / "checks").glob("*.py"))
    return set(HOOKS) | set(re.findall(r'getattr\(\s*[\w.]+,\s*"(\w+)"', source))


def test_every_member_the_guide_names_is_one_the_kit_looks_up() -> None:
    members = guide_members()
    assert set(HOOKS) <= set(members)
    assert set(members) <= kit_lookups()
    assert {"export_chunks", "import_chunks"} <= set(members)
    assert set(re.findall(r"\b\w+_for_testing\b", GUIDE)) <= set(HOOKS)


def shape(fn: Any) -> tuple[str, list[str], list[str]]:
    """async generator / coroutine, required positional parameters, keyword-only ones."""
    if isinstance(fn, ast.AST):
        assert isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        returns = ast.unparse(fn.returns) if fn.returns else ""
        kind = "generator" if "AsyncIterator" in returns else "coroutine"
        assert kind == "generator" or isinstance(fn, ast.AsyncFunctionDef)
        positional = fn.args.args[1 : len(fn.args.args) - len(fn.args.defaults)]
        return kind, [a.arg for a in positional], [a.arg for a in fn.args.kwonlyargs]
    kind = "generator" if inspect.isasyncgenfunction(fn) else "coroutine"
    assert kind == "generator" or inspect.iscoroutinefunction(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]
    required = [
        p.name
        for p in params
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is inspect.Parameter.empty
    ]
    return kind, required, [p.name for p in params if p.kind is p.KEYWORD_ONLY]


@pytest.mark.parametrize(
    ("name", "store_type"),
    [
        ("corrupt_for_testing", MemoryStore),
        ("disconnect_for_testing", SQLiteStore),
        ("export_chunks", MemoryStore),
        ("import_chunks", MemoryStore),
        ("import_chunks", SQLiteStore),
    ],
)
def test_the_guides_signatures_are_the_reference_stores(name: str, store_type: type) -> None:
    assert shape(guide_members()[name]) == shape(getattr(store_type, name))


# --- commands and snippets -----------------------------------------------------------------


def parse_run(args: list[str]) -> None:
    """Parse a kit command line as the CLI would (without running it)."""
    command = main.commands[args[0]]
    command.make_context(args[0], args[1:])


def test_every_command_in_the_guide_parses() -> None:
    lines = [
        line.removeprefix("$ ").split("sessionstore-conformance ", 1)[1]
        for body in blocks("")
        for line in body.splitlines()
        if line.startswith("$ ") and "sessionstore-conformance " in line
    ]
    assert len(lines) >= 5
    for line in lines:
        parse_run(shlex.split(line))


def test_the_workflow_runs_the_kit_with_junit_and_known_failures_over_pythons() -> None:
    workflow = yaml.safe_load(block_starting("yaml", "# .github/workflows/conformance.yml"))
    job = workflow["jobs"]["kit"]
    pythons = job["strategy"]["matrix"]["python"]
    (kit,) = [s["run"] for s in job["steps"] if "sessionstore-conformance" in s.get("run", "")]
    args = shlex.split(kit.replace("${{ matrix.python }}", pythons[0]))
    assert args[0] == "sessionstore-conformance" and "--junit" in args
    assert "--known-failures" in args
    parse_run(args[1:])
    noxfile = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    (supported,) = [
        ast.literal_eval(n.value)
        for n in noxfile.body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "SUPPORTED_PYTHONS"
    ]
    assert pythons == supported


def test_the_nox_session_passes_options_the_kit_has() -> None:
    tree = ast.parse(block_starting("python", "# noxfile.py"))
    options = {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("--")
    }
    known = {o for p in main.commands["run"].params for o in getattr(p, "opts", [])}
    assert {"--junit", "--known-failures", "--profile"} <= options <= known


def test_the_known_failures_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "known-failures.toml"
    path.write_text(block_starting("toml", "# known-failures.toml"), encoding="utf-8")
    assert set(load_known_failures(path)) == {"TTL-1", "TTL-2"}


# --- the factories, run as a user runs them --------------------------------------------------


def run_console_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The kit's CLI as its console script runs it: the script's own directory first on
    sys.path, not the working directory (where the user's factory module lies)."""
    script = cwd.parent / "bin" / "sessionstore-conformance"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        "import sys\nfrom sessionstore_conformance.cli import main\nsys.exit(main())\n"
    )
    path = os.pathsep.join(p for p in sys.path if p and Path(p).resolve() != cwd.resolve())
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=600,
    )


def user_project(tmp_path: Path, first_line: str) -> Path:
    work = tmp_path / "project"
    (work / "mystore").mkdir(parents=True)
    (work / "mystore" / "__init__.py").write_text("")
    (work / "mystore" / "kit.py").write_text(block_starting("python", first_line))
    return work


def test_the_first_factory_runs_from_the_current_directory(tmp_path: Path) -> None:
    work = user_project(tmp_path, "# mystore/kit.py  (and an empty")
    out = run_console_script(
        work, "run", "mystore.kit:factory", "--profile", "ci", "-q", "-k", "declarations"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mystore.kit:factory (MemoryStore); capabilities: injectable_clock" in out.stdout


def test_the_temporary_directory_factory_leaves_nothing_behind(tmp_path: Path) -> None:
    work = user_project(tmp_path, "# mystore/kit.py: each store in a temporary directory")
    before = set(Path(tempfile.gettempdir()).glob("kit-*"))
    out = run_console_script(
        work, "run", "mystore.kit:factory", "--profile", "ci", "-q", "-k", "reopen"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"│ DUR-1 +│ MUST +│ pass", out.stdout)
    assert set(Path(tempfile.gettempdir()).glob("kit-*")) == before
