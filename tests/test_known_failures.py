"""Known failures (a clause the implementer marks, with a reason, as failing), the JUnit
XML report and the JSON report's published schema, through the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from sessionstore_conformance.errors import UsageError
from sessionstore_conformance.known import load_known_failures
from sessionstore_conformance.spec import clauses

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "spec" / "schema" / "report.schema.json").read_text())
#: A store whose replace ignores expected_version (tests/broken), and the checks whose
#: names hold "replace": they fail REPLACE-2 and pass REPLACE-1, REC-3, … in about a
#: second (the clause id would also select the stateful suite, 20 s a run).
BROKEN = "broken.stores:ReplaceIgnoresVersion"
SELECTION = "replace"


def kit(tmp_path: Path, *args: str) -> tuple[int, str, dict[str, Any], ET.Element]:
    """Run the kit's CLI on the broken store; its exit code, output, JSON and JUnit."""
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "sessionstore_conformance.cli", "run", BROKEN, "--profile", "ci"]
        + ["-k", SELECTION, "-q", "--json", str(report), "--junit", str(junit), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    document = json.loads(report.read_text())
    Draft202012Validator(SCHEMA).validate(document)  # the published schema holds
    return done.returncode, done.stdout, document, ET.parse(junit).getroot()


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in document["clauses"]}


def write_known(path: Path, known: dict[str, str]) -> Path:
    lines = ["[known-failures]"] + [f'"{clause}" = "{why}"' for clause, why in known.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_failures_marked_known_pass_the_run_and_a_fixed_one_fails_it(tmp_path: Path) -> None:
    code, _, plain, junit = kit(tmp_path)
    failing = sorted(c for c, outcome in outcomes(plain).items() if outcome == "fail")
    passing = sorted(c for c, outcome in outcomes(plain).items() if outcome == "pass")
    assert code == 1 and "REPLACE-2" in failing and passing

    # JUnit: one case per clause; the failing ones carry the counterexample's replay line
    cases = {case.get("name", "").split()[0]: case for case in junit.iter("testcase")}
    assert set(cases) == set(clauses())
    assert junit.get("failures") == str(len(failing))
    for clause in failing:
        failure = cases[clause].find("failure")
        assert failure is not None and "replay: sessionstore-conformance run" in (
            failure.text or ""
        )
    assert all(cases[c].find("failure") is None for c in passing)

    known = write_known(tmp_path / "known.toml", {c: "replace ignores versions" for c in failing})
    code, out, marked, junit = kit(tmp_path, "--known-failures", str(known))
    assert code == 0, out
    assert all(outcomes(marked)[c] == "known failure" for c in failing)
    assert marked["known_failures"] == {c: "replace ignores versions" for c in failing}
    assert junit.get("failures") == "0"
    assert "known failure" in out

    fixed = passing[0]  # marked as failing, but the store meets it: the list is stale
    known = write_known(known, {**dict.fromkeys(failing, "versions"), fixed: "was broken once"})
    code, out, stale, junit = kit(tmp_path, "--known-failures", str(known))
    assert code == 1
    assert outcomes(stale)[fixed] == "unexpected pass" and not stale["passed"]
    assert f"now passing: {fixed}" in out.strip().splitlines()[-1]
    case = next(c for c in junit.iter("testcase") if c.get("name", "").startswith(fixed + " "))
    assert case.find("failure") is not None


def test_known_failures_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n\n[tool.sessionstore-conformance.known-failures]\n'
        '"TTL-2" = "rounds to seconds"\n'
    )
    assert load_known_failures(pyproject) == {"TTL-2": "rounds to seconds"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[known-failures]\n"TTL-99" = "x"\n', "not a clause of the spec"),
        ('[known-failures]\n"TTL-2" = ""\n', "needs a reason"),
        ('[known-failures]\n"TTL-2" = 3\n', "needs a reason"),
        ('[other]\n"TTL-2" = "x"\n', "has no [known-failures] table"),
        ("[known-failures\n", "is not TOML"),
    ],
)
def test_a_bad_known_failures_file_is_a_usage_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "known.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=problem.replace("[", r"\[")):
        load_known_failures(path)


def test_the_cli_exits_2_on_a_bad_known_failures_file(tmp_path: Path) -> None:
    path = write_known(tmp_path / "known.toml", {"NOPE-1": "x"})
    done = subprocess.run(
        [sys.executable, "-m", "sessionstore_conformance.cli", "run", "memory://"]
        + ["-k", "VAL-1", "--known-failures", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "'NOPE-1'" in done.stdout and "not a clause of the spec" in done.stdout


def test_a_clause_not_claimed_says_which_capability_is_not_declared(tmp_path: Path) -> None:
    """JUnit and the table give a not-claimed clause its reason (it used to be empty)."""
    _, _, document, junit = kit(tmp_path)
    assert outcomes(document)["DUR-1"] == "not claimed"
    case = next(c for c in junit.iter("testcase") if c.get("name", "").startswith("DUR-1 "))
    skipped = case.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "not claimed: the store does not declare durable"


def test_each_clause_in_the_reports_says_what_it_asks_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON report gives every clause's text and link; a JUnit failure or skip begins
    with them, so a CI dashboard shows what was asked. SESSIONSTORE_SPEC_URL moves the
    links (a mirror, a pinned version)."""
    mirror = "https://mirror.example/sessionstore/1.0/spec/"
    monkeypatch.setenv("SESSIONSTORE_SPEC_URL", mirror)
    _, _, document, junit = kit(tmp_path)
    spec = clauses()
    assert [c["id"] for c in document["clauses"]] == list(spec)
    for clause in document["clauses"]:
        assert clause["text"] == spec[clause["id"]].text
        assert clause["url"] == f"{mirror}#{clause['id']}"
    cases = {case.get("name", "").split()[0]: case for case in junit.iter("testcase")}
    failure = cases["REPLACE-2"].find("failure")
    assert failure is not None
    first, link = (failure.text or "").split("\n")[:2]
    assert first == f"REPLACE-2 (MUST): {spec['REPLACE-2'].text}"
    assert link == f"{mirror}#REPLACE-2"
    skipped = [case.find("skipped") for case in cases.values()]
    assert any(s is not None for s in skipped)  # -k replace leaves most clauses unknown
    for element in filter(None, skipped):
        assert (element.text or "").split("\n")[1].startswith(mirror)
