"""Latency budgets (PERF-1): tiers and budget options, the statistics, and the verdicts —
the reference memory store within its in-process budget, the store whose get waits 5 ms
(tests/broken/delayed.py) over it: advisory without ``--enforce-budgets``, failing the run
with it, through the CLI (JSON report validated by its schema, JUnit) and the plugin."""

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

from sessionstore import Capabilities
from sessionstore_conformance.checks.latency import CALLS, EFFORT, FEWEST, Side
from sessionstore_conformance.errors import UsageError
from sessionstore_conformance.latency import (
    Budgets,
    OperationLatency,
    parse_budget,
    percentile,
    tier_of,
)
from sessionstore_conformance.runner import Options, run

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
SCHEMA = json.loads((ROOT / "spec" / "schema" / "report.schema.json").read_text())
DELAYED = "broken.delayed:DelayedGet"


def only_latency(check: Any) -> bool:
    return bool(check.name == "latency_budgets")


# --- tiers and budgets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capabilities", "tier"),
    [
        (Capabilities(injectable_clock=True), "in-process"),
        (Capabilities(durable=True), "local-disk"),
        (Capabilities(multi_process=True), "local-disk"),
        (Capabilities(durable=True, multi_process=True, multi_host=True), "network"),
    ],
)
def test_the_tier_follows_from_the_capabilities(capabilities: Capabilities, tier: str) -> None:
    assert tier_of(capabilities) == tier


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("p99=2ms", ("p99", 0.002)),
        ("p50=250us", ("p50", 0.00025)),
        (" p99.9 = 1.5 s ", ("p99.9", 1.5)),
        ("p99=0.5ms", ("p99", 0.0005)),
    ],
)
def test_budget_options_parse(text: str, parsed: tuple[str, float]) -> None:
    name, seconds = parse_budget(text)
    assert name == parsed[0] and seconds == pytest.approx(parsed[1])


@pytest.mark.parametrize("text", ["p99=2", "p98=2ms", "p99<2ms", "p99=0ms", "2ms", "p99=-1ms"])
def test_a_malformed_budget_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_budget(text)


def test_a_chosen_tier_and_overrides_replace_the_capabilities_budgets() -> None:
    memory = Capabilities(injectable_clock=True)
    assert Budgets().resolve(memory) == ("in-process", "capabilities", {"p99": 0.001})
    tier, source, ceilings = Budgets("network", {"p50": 0.002}).resolve(memory)
    assert (tier, source) == ("network", "--latency-tier")
    assert ceilings["p50"] == 0.002 and ceilings["p99"] > 0.001
    assert Budgets(None, {"p99": 0.003}).resolve(memory)[2] == {"p99": 0.003}
    with pytest.raises(UsageError):
        Budgets("cloud")


# --- statistics -----------------------------------------------------------------------------


def test_percentiles_are_nearest_rank_and_rounds_give_their_median() -> None:
    ordered = list(range(1, 101))
    assert [percentile(ordered, q) for q in (0.5, 0.99, 0.999)] == [50, 99, 100]
    quiet = list(range(1000, 1100))
    noisy = [*range(1000, 1090), *([10**9] * 10)]  # one round disturbed: 10 % outliers
    found = OperationLatency.of("get", [quiet, noisy, quiet], [[500] * 100] * 3)
    assert found.samples == 300
    assert found.store["p99"] == 1098 / 1e9  # the disturbed round moves nothing
    assert found.ratio["p50"] == pytest.approx(1049 / 500)


def test_a_wait_for_a_cpu_is_subtracted_and_one_outside_the_call_drops_the_sample() -> None:
    side = Side(target=None, ids=[])
    samples: list[int] = []
    side.keep("get", wall=5_000, waited=0, samples=samples)
    side.keep("get", wall=9_000_000, waited=8_990_000, samples=samples)  # preempted inside
    side.keep("get", wall=5_000, waited=20_000, samples=samples)  # began before the call
    assert samples == [5_000, 10_000]
    assert (side.corrected["get"], side.discarded["get"]) == (1, 1)


# --- verdicts -------------------------------------------------------------------------------


def test_the_reference_memory_store_meets_its_budget_when_enforced() -> None:
    report = run("memory://", select=only_latency, options=Options("ci", enforce_budgets=True))
    table = report.latency
    assert table is not None and table.tier == "in-process"
    assert [m.operation for m in table.operations] == list(CALLS)
    # dropped samples aside, every round samples every operation FEWEST times or more
    assert all(m.samples + m.discarded >= EFFORT["ci"].rounds * FEWEST for m in table.operations)
    assert table.breaches() == [], table.text()
    assert not report.failed
    assert {c.clause.id: c.outcome for c in report.clauses}["PERF-1"] == "pass"


def kit(tmp_path: Path, target: str, *args: str) -> tuple[int, str, dict[str, Any], ET.Element]:
    """The CLI's latency check on ``target``: exit code, output, JSON, JUnit."""
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "sessionstore_conformance.cli", "run", target, "--profile", "ci"]
        + ["-k", "latency_budgets", "-q", "--json", str(report), "--junit", str(junit), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    document = json.loads(report.read_text())
    Draft202012Validator(SCHEMA).validate(document)
    return done.returncode, done.stdout, document, ET.parse(junit).getroot()


def perf_case(junit: ET.Element) -> ET.Element:
    return next(c for c in junit.iter("testcase") if c.get("name", "").startswith("PERF-1 "))


def test_a_delayed_get_is_over_budget_advisory_unless_enforced(tmp_path: Path) -> None:
    code, out, advisory, junit = kit(tmp_path, DELAYED)
    assert code == 0, out
    perf = next(c for c in advisory["clauses"] if c["id"] == "PERF-1")
    assert perf["outcome"] == "non-strict"
    latency = advisory["latency"]
    assert latency["tier"] == "in-process" and not latency["enforced"]
    over = {op["operation"]: op["over"] for op in latency["operations"]}
    assert over["get"] == ["p99"] and not any(v for op, v in over.items() if op != "get")
    assert next(o for o in latency["operations"] if o["operation"] == "get")["ms"]["p50"] >= 4.9
    assert "advisory (--enforce-budgets fails such a run)" in out.strip().splitlines()[-1]
    assert perf_case(junit).find("skipped") is not None

    code, out, enforced, junit = kit(tmp_path, DELAYED, "--enforce-budgets")
    assert code == 1, out
    assert enforced["enforce_budgets"] and not enforced["passed"]
    failure = perf_case(junit).find("failure")
    assert failure is not None and "--enforce-budgets" in (failure.text or "")
    assert "get p99" in out and "FAIL" in out.strip().splitlines()[-1]


def test_budget_options_reach_the_verdict(tmp_path: Path) -> None:
    # no call of any store answers within a microsecond: the reference store fails
    code, out, document, _ = kit(tmp_path, "memory://", "--enforce-budgets", "--budget", "p99=1us")
    assert code == 1, out
    assert document["latency"]["budgets_ms"] == {"p99": 0.001}
    assert all(op["over"] == ["p99"] for op in document["latency"]["operations"])
    assert "--budget p99=0.001ms --enforce-budgets" in out  # the replay command keeps them
    code, out, document, _ = kit(tmp_path, "memory://", "--latency-tier", "network")
    assert code == 0, out
    assert document["latency"]["tier"] == "network"
    assert document["latency"]["tier_source"] == "--latency-tier"


def test_the_plugin_fails_the_delayed_store_only_when_enforcing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), *sys.path]))
    common = [f"--sessionstore={DELAYED}", "--sessionstore-profile=ci", "-k", "latency"]
    advisory = pytester.runpytest_subprocess(*common, "-p", "no:cacheprovider")
    advisory.assert_outcomes(xfailed=1)
    enforced = pytester.runpytest_subprocess(
        *common, "--sessionstore-enforce-budgets", "-p", "no:cacheprovider"
    )
    enforced.assert_outcomes(failed=1)
    enforced.stdout.fnmatch_lines(["*violates PERF-1*get p99*"])


def test_the_options_offer_exactly_the_tiers_of_the_kit() -> None:
    from sessionstore_conformance.latency import TIERS
    from sessionstore_conformance.time_limits import TIER_NAMES

    assert tuple(TIERS) == TIER_NAMES
