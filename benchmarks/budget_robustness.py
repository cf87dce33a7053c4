"""Whether the latency budgets (PERF-1) hold on a loaded machine: each target's verdict
over many runs, with CPU burners beside the kit.

    python benchmarks/budget_robustness.py [--runs 20] [--burners 2] [--profile ci] TARGET...
    python tests/redis_server.py -- python benchmarks/budget_robustness.py \\
        memory:// sqlite:///tmp/budgets.db '{REDIS_URL}' broken.delayed:DelayedGet

(with ``reference`` and ``conformance`` importable: run it from the repository root with
``PYTHONPATH=reference:conformance``; the script adds ``tests`` itself, for the broken
stores). For each TARGET the script runs the kit's latency check ``--runs`` times, each on
a fresh store, with the budgets enforced (``--enforce-budgets``: the strict verdict) and
the tier the store's capabilities give, while ``--burners`` processes spin on the CPU.
It prints per target how many runs met the budget, and per operation the median and the
largest p99 over the runs, the largest p99.9, and the median time of a run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sessionstore_conformance.latency import LatencyTable, ms  # noqa: E402
from sessionstore_conformance.runner import Options, Report, run  # noqa: E402


def spin() -> None:
    while True:
        pass


def measured(target: str, profile: str) -> Report:
    options = Options(profile=profile, enforce_budgets=True)
    return run(target, select=lambda check: check.name == "latency_budgets", options=options)


def summary(target: str, reports: list[Report]) -> list[str]:
    """The target's lines: its verdicts, then per operation the p99s over the runs."""
    tables = [r.latency for r in reports if r.latency is not None]
    met = sum(not r.failed for r in reports)
    undecided = sum(r.checks[0].status not in ("passed", "failed") for r in reports)
    seconds = statistics.median(r.seconds for r in reports)
    first: LatencyTable | None = tables[0] if tables else None
    budget = first.describe_budgets() if first else "no measurement"
    lines = [
        f"{target}: within budget {met}/{len(reports)}, over {len(reports) - met - undecided}, "
        f"undecided {undecided}; {budget}; {seconds:.1f} s a run (median)"
    ]
    p99: dict[str, list[float]] = defaultdict(list)
    p999: dict[str, list[float]] = defaultdict(list)
    for table in tables:
        for op in table.operations:
            p99[op.operation].append(op.store["p99"])
            p999[op.operation].append(op.store["p99.9"])
    lines.append(f"  {'operation':<10} {'p99 median':>12} {'p99 max':>12} {'p99.9 max':>12}")
    for operation, values in p99.items():
        lines.append(
            f"  {operation:<10} {ms(statistics.median(values)):>12} {ms(max(values)):>12} "
            f"{ms(max(p999[operation])):>12}"
        )
    for report in reports:
        if report.checks[0].status not in ("passed", "failed"):
            lines.append(f"  undecided: {report.checks[0].message}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", metavar="TARGET")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--profile", default="ci")
    args = parser.parse_args()

    burners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.burners)]
    for burner in burners:
        burner.start()
    try:
        found: dict[str, list[Report]] = {}
        for target in args.targets:
            found[target] = []
            for n in range(args.runs):
                report = measured(target, args.profile)
                found[target].append(report)
                verdict = "over" if report.failed else "within"
                print(f"{target} run {n + 1}: {verdict} ({report.seconds:.1f} s)", flush=True)
    finally:
        for burner in burners:
            burner.kill()
    print(f"\n{args.runs} runs per target, profile {args.profile}, {args.burners} CPU burners")
    for target, reports in found.items():
        print("\n".join(summary(target, reports)))


if __name__ == "__main__":
    main()
