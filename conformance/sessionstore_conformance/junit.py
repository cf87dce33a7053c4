"""The report as JUnit XML, for CI dashboards: one test case per clause.

A clause that fails the run (a failed MUST clause, a SHOULD/MAY clause under
``--strict``, the latency budgets (PERF-1) under ``--enforce-budgets``, a MUST clause left unknown under ``--require-verified``, an unexpected
pass of a known failure) is a ``<failure>`` holding what the kit saw, the counterexample
and the command that replays it. Clauses that do not fail the run but did not pass
(not claimed, unknown, non-strict, known failure) are ``<skipped>`` with the reason; a
passing clause is a bare test case. A failure or a skip begins with what the clause
says and where it is on the documentation site, so a dashboard shows what was asked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .report import _reason, _see, clause_url, failures, replay_command
from .runner import Report

SUITE = "sessionstore-conformance"


def to_junit(report: Report) -> str:
    numbered = failures(report)
    see = _see(report, numbered)
    seconds = {r.check.name: r.seconds for r in report.checks}
    suite = ET.Element(
        "testsuite",
        name=SUITE,
        tests=str(len(report.clauses)),
        time=f"{report.seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", report.target),
        ("store_type", report.store_type),
        ("profile", report.profile),
        ("seed", "" if report.seed is None else str(report.seed)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    failed = skipped = 0
    for result in report.clauses:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{SUITE}.{report.store_type}",
            name=f"{result.clause.id} ({result.clause.level})",
            time=f"{sum(seconds.get(name, 0.0) for name in result.checks):.3f}",
        )
        reason = _reason(result, see)
        clause = f"{result.clause.id} ({result.clause.level}): {result.clause.text}"
        asked = f"{clause}\n{clause_url(result.clause.id)}"
        if report.fails_run(result):
            failed += 1
            mine = [f for f in numbered if result.clause.id in f.clauses]
            body = [asked, reason, *(f"{f.message}\n{f.counterexample}".strip() for f in mine)]
            body += [f"replay: {replay_command(report, f.checks)}" for f in mine]
            element = ET.SubElement(case, "failure", message=f"{result.outcome}: {reason}")
            element.text = "\n\n".join(body)
        elif result.outcome != "pass":
            skipped += 1
            element = ET.SubElement(case, "skipped", message=f"{result.outcome}: {reason}")
            element.text = asked
    suite.set("failures", str(failed))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(report: Report, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(to_junit(report))
