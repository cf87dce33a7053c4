"""The pytest plugin, run in a fresh pytest process as a store author would run it."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow  # the whole kit through the plugin: nox -s slow (the CLI's is nox -s conformance)
def test_plugin_runs_the_kit_on_the_memory_store(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--sessionstore=memory://", "--sessionstore-profile=ci", "-p", "no:cacheprovider"
    )
    from sessionstore import Capabilities
    from sessionstore_conformance import REGISTRY

    declared = Capabilities(injectable_clock=True)
    hooks = {"corrupt_for_testing"}  # what the memory store offers

    def runs(requirement: str) -> bool:
        known = hasattr(declared, requirement)
        return bool(getattr(declared, requirement)) if known else requirement in hooks

    skipped = sum(1 for check in REGISTRY if not all(runs(r) for r in check.requires))
    assert skipped >= 4  # backend_down, reopen, crash, processes
    result.assert_outcomes(failed=0, skipped=skipped, passed=len(REGISTRY) - skipped)
    result.stdout.fnmatch_lines(["*LIVE-1*MUST*pass*", "*PASS*clauses*"])


def test_plugin_reports_the_violated_clause(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        sloppy="""
        from sessionstore.backends.memory import MemoryStore

        class Sloppy(MemoryStore):
            async def touch(self, id, ttl, *, owner=None):
                with self._lock:
                    record = self._records.get(id)
                    if record is not None:  # revives expired sessions: breaks TOUCH-2
                        self._put((*record[:5], self._now() + 60_000, record[6]))
                return await super().touch(id, ttl, owner=owner)

        def factory(*, clock):
            return Sloppy(clock=clock)
        """
    )
    # expired_invisible touches an expired session and blames TOUCH-2 at once; the rest of
    # the kit (the stateful expiry suite finds it too, then shrinks for up to 15 s) would
    # add time and nothing to what this test shows: the plugin's report of the clause.
    result = pytester.runpytest_subprocess(
        "--sessionstore=sloppy:factory",
        "--sessionstore-profile=ci",
        "-p",
        "no:cacheprovider",
        "-k",
        "expired_invisible",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*violates*TOUCH-2*", "*TOUCH-2*MUST*fail*", "*FAIL*clauses*"])


IGNORES_VERSIONS = """
from sessionstore.backends.memory import MemoryStore

class IgnoresVersions(MemoryStore):
    async def replace(self, id, data, *, expected_version=None, ttl=None, owner=None):
        return await super().replace(id, data, ttl=ttl, owner=owner)  # breaks REPLACE-2

def factory(*, clock):
    return IgnoresVersions(clock=clock)
"""


def test_plugin_known_failures_xfail_and_a_fixed_one_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ignores=IGNORES_VERSIONS)
    args = ["--sessionstore=ignores:factory", "--sessionstore-profile=ci", "-p", "no:cacheprovider"]
    args += ["-k", "replace_expected_version or bad_ids"]
    plain = pytester.runpytest_subprocess(*args)
    assert plain.ret == pytest.ExitCode.TESTS_FAILED
    blamed = set()
    for line in plain.outlines:
        if "violates " in line:
            blamed |= set(line.split("violates ", 1)[1].split(":", 1)[0].split(", "))
    assert "REPLACE-2" in blamed

    known = pytester.makefile(
        ".toml",
        known="[known-failures]\n" + "".join(f'"{c}" = "ignores versions"\n' for c in blamed),
    )
    marked = pytester.runpytest_subprocess(*args, f"--sessionstore-known-failures={known}")
    assert marked.ret == pytest.ExitCode.OK
    assert marked.parseoutcomes().get("xfailed", 0) >= 1
    marked.stdout.fnmatch_lines(["*REPLACE-2*MUST*known failure*"])

    stale = "[known-failures]\n" + "".join(f'"{c}" = "ignores versions"\n' for c in blamed)
    known = pytester.makefile(".toml", known=stale + '"VAL-1" = "was broken once"\n')
    fixed = pytester.runpytest_subprocess(*args, f"--sessionstore-known-failures={known}")
    assert fixed.ret == pytest.ExitCode.TESTS_FAILED
    fixed.stdout.fnmatch_lines(["*VAL-1*MUST*unexpected pass*", "*now passing: VAL-1*"])


def test_without_the_option_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


STORES = {
    # its only fault is a SHOULD (EXPORT-2): both pass it
    "nostream": (
        "from sessionstore.backends.memory import MemoryStore\n"
        "class NoStreaming(MemoryStore):\n"
        "    export_chunks = None\n"
        "def factory(*, clock):\n"
        "    return NoStreaming(clock=clock)\n",
        "export_chunks",
        0,
    ),
    # a MUST (TOUCH-1): both fail it
    "notouch": (
        "from sessionstore.backends.memory import MemoryStore\n"
        "class NoTouch(MemoryStore):\n"
        "    async def touch(self, id, ttl, *, owner=None):\n"
        "        return await self.get(id, owner=owner)  # extends nothing\n"
        "def factory(*, clock):\n"
        "    return NoTouch(clock=clock)\n",
        "touch",
        1,
    ),
}


@pytest.mark.parametrize("store", sorted(STORES))
@pytest.mark.parametrize("strict", [False, True])
def test_plugin_and_cli_agree(pytester: pytest.Pytester, store: str, strict: bool) -> None:
    code, only, verdict = STORES[store]
    pytester.makepyfile(**{store: code})
    target = f"--sessionstore={store}:factory"
    plugin = pytester.runpytest_subprocess(
        target, "--sessionstore-profile=ci", "-p", "no:cacheprovider", "-k", only,
        *(["--sessionstore-strict"] if strict else []),
    )  # fmt: skip
    cli = subprocess.run(
        [sys.executable, "-m", "sessionstore_conformance.cli", "run", f"{store}:factory"]
        + ["--profile", "ci", "-k", only, "-q"] + (["--strict"] if strict else []),
        capture_output=True, text=True, timeout=600, cwd=pytester.path,
    )  # fmt: skip
    expected = 1 if strict else verdict
    assert cli.returncode == expected, cli.stdout
    assert int(plugin.ret) == expected, plugin.stdout.str()
    if store == "nostream" and not strict:
        plugin.assert_outcomes(xfailed=1)  # reported, not a failed test


def test_plugin_require_verified_fails_unknown_must_clauses(pytester: pytest.Pytester) -> None:
    args = ["--sessionstore=memory://", "--sessionstore-profile=ci", "-p", "no:cacheprovider"]
    lax = pytester.runpytest_subprocess(*args, "-k", "declarations")
    assert lax.ret == pytest.ExitCode.OK
    lines = lax.stdout.lines
    verdict = next(line for line in lines if line.startswith("PASS — but "))
    assert "MUST clauses not verified: REC-1" in verdict and verdict.endswith("profile ci)")
    required = pytester.runpytest_subprocess(
        *args, "-k", "declarations", "--sessionstore-require-verified"
    )
    assert required.ret == pytest.ExitCode.TESTS_FAILED
    required.assert_outcomes(passed=1)  # the item passed; the run did not verify enough


def test_plugin_prints_a_counterexample_once(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from sessionstore_conformance.checks.registry import check
        from sessionstore_conformance.errors import ClauseViolation

        @check("GET-1", "LIVE-1")
        async def check_probe(ctx):
            violation = ClauseViolation(("GET-1", "LIVE-1"), "an expired session was read")
            violation.counterexample = "state.get(id='UNIQUE-STEP')"
            raise violation
        """
    )
    result = pytester.runpytest_subprocess(
        "--sessionstore=memory://", "--sessionstore-profile=ci", "-p", "no:cacheprovider",
        "-k", "probe",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*violates GET-1, LIVE-1: an expired session was read*", "*failure 1 of the*report*"]
    )
    assert text.count("UNIQUE-STEP") == 1, text  # in the report, not again in the item
    # the item's line and failure 1 (pytest's one-line summary, shown when $CI is set, aside)
    shown = [line for line in text.splitlines() if not line.startswith("FAILED ")]
    assert sum(line.count("an expired session was read") for line in shown) == 2, text
