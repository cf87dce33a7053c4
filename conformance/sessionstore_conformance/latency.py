"""Latency budgets (PERF-1): tiers, budgets, and what a measurement found.

Theory of operation. Where a store keeps its data bounds the latency it can promise, so
budgets go by *tier*: ``in-process`` (the data in the caller's memory), ``local-disk``
(files on the caller's host) or ``network`` (a server elsewhere). The tier follows from
the store's capabilities (:func:`tier_of`: ``multi_host`` is network, ``durable`` or
``multi_process`` local disk, nothing in-process; a store in another process, reached
through the driver protocol, is network) unless the user names one
(``--latency-tier``). A tier's budgets are ceilings on percentiles of each operation's
latency (:data:`TIERS`); ``--budget p99=2ms`` overrides or adds one percentile's ceiling
(:func:`parse_budget`). :class:`Budgets` carries that choice to the check.

The check (:mod:`.checks.latency`) measures each operation in rounds, interleaved call by
call with an in-run reference (a dict of orjson bytes), and hands over a
:class:`LatencyTable`: per operation, each percentile as the median of the rounds'
percentiles, for the store and the reference, and the median of their per-round ratios.
The table says which budgets are exceeded. Exceeding one is a SHOULD not met (PERF-1,
"non-strict"): advisory, unless the run enforces the budgets (``--enforce-budgets``,
:meth:`.runner.Options.strict_about`) — latency measures the machine as well as the
store, so plain ``--strict`` leaves it advisory.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessionstore import Capabilities

from .errors import UsageError

#: The clause the budgets stand for.
CLAUSE = "PERF-1"
#: What the in-run reference is (checks/latency.py's Baseline).
REFERENCE = "a dict of orjson bytes"
#: The percentiles measured, by the names budgets and reports use.
PERCENTILES = {"p50": 0.50, "p99": 0.99, "p99.9": 0.999}
#: Each tier's default ceilings, in seconds (PERF-1).
TIERS: dict[str, dict[str, float]] = {
    "in-process": {"p99": 0.001},
    "local-disk": {"p99": 0.010},
    "network": {"p99": 0.050},
}
UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_BUDGET = re.compile(r"^\s*(p[0-9.]+)\s*=\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s)\s*$")


def tier_of(capabilities: Capabilities, elsewhere: bool = False) -> str:
    """The tier a store's capabilities imply (PERF-1); a store the kit reaches in another
    process (``elsewhere``: an ``exec:`` target) answers over a pipe, a network hop's
    cost (0.2-0.5 ms a call), whatever it claims."""
    if capabilities.multi_host or elsewhere:
        return "network"
    if capabilities.durable or capabilities.multi_process:
        return "local-disk"
    return "in-process"


def parse_budget(text: str) -> tuple[str, float]:
    """``"p99=2ms"`` -> ``("p99", 0.002)``; UsageError for anything else."""
    match = _BUDGET.match(text)
    if not match or match[1] not in PERCENTILES:
        raise UsageError(
            f"budget {text!r}: expected PERCENTILE=DURATION with PERCENTILE one of "
            f"{', '.join(PERCENTILES)} and a unit of {', '.join(UNITS)} (e.g. p99=2ms)"
        )
    seconds = float(match[2]) * UNITS[match[3]]
    if seconds <= 0:
        raise UsageError(f"budget {text!r}: a budget must be more than zero")
    return match[1], seconds


def parse_budgets(texts: Sequence[str]) -> dict[str, float]:
    """Several ``--budget`` options; a later one for the same percentile wins."""
    return dict(parse_budget(text) for text in texts)


@dataclass(frozen=True)
class Budgets:
    """The run's choice of budgets: a tier (None: the store's, from its capabilities) and
    ceilings (seconds) overriding or adding to the tier's, by percentile."""

    tier: str | None = None
    overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tier is not None and self.tier not in TIERS:
            raise UsageError(f"latency tier {self.tier!r}: choose from {', '.join(TIERS)}")

    def resolve(
        self, capabilities: Capabilities, elsewhere: bool = False
    ) -> tuple[str, str, dict[str, float]]:
        """The tier, where it came from, and the ceilings in force."""
        tier = self.tier or tier_of(capabilities, elsewhere)
        source = "--latency-tier" if self.tier else "capabilities"
        if not self.tier and elsewhere:
            source = "another process"
        ceilings = {**TIERS[tier], **self.overrides}
        return tier, source, {p: ceilings[p] for p in PERCENTILES if p in ceilings}


def percentile(ordered: Sequence[int], q: float) -> int:
    """The nearest-rank percentile of sorted samples."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def per_round(rounds: Sequence[Sequence[int]]) -> list[dict[str, int]]:
    """Each round's percentiles (nanoseconds)."""
    found = []
    for samples in rounds:
        ordered = sorted(samples)
        found.append({name: percentile(ordered, q) for name, q in PERCENTILES.items()})
    return found


@dataclass(frozen=True)
class OperationLatency:
    """One operation's latency: each percentile the median of the rounds' (seconds)."""

    operation: str
    #: samples kept over all rounds, and how many of them had run-queue waits subtracted
    samples: int
    corrected: int
    #: samples dropped: the thread waited for a CPU outside the timed call
    discarded: int
    store: dict[str, float]
    reference: dict[str, float]
    #: per percentile, the median over rounds of store / reference
    ratio: dict[str, float]

    @classmethod
    def of(
        cls,
        operation: str,
        store: Sequence[Sequence[int]],
        reference: Sequence[Sequence[int]],
        corrected: int = 0,
        discarded: int = 0,
    ) -> OperationLatency:
        """From the rounds' samples (nanoseconds) of the store and of the reference."""
        mine, theirs = per_round(store), per_round(reference)

        def median(values: list[float]) -> float:
            return float(statistics.median(values))

        return cls(
            operation,
            sum(len(r) for r in store),
            corrected,
            discarded,
            {p: median([r[p] for r in mine]) / 1e9 for p in PERCENTILES},
            {p: median([r[p] for r in theirs]) / 1e9 for p in PERCENTILES},
            {
                p: median([a[p] / max(b[p], 1) for a, b in zip(mine, theirs, strict=True)])
                for p in PERCENTILES
            },
        )


@dataclass(frozen=True)
class LatencyTable:
    """What the latency check measured, and the budgets it was held to."""

    tier: str
    #: "capabilities", "another process" (an exec: target) or "--latency-tier"
    tier_source: str
    #: percentile -> ceiling (seconds)
    budgets: dict[str, float]
    rounds: int
    #: whether the time the kit's thread waited for a CPU was subtracted (Linux)
    machine_time_subtracted: bool
    operations: list[OperationLatency]

    def over(self, measured: OperationLatency) -> list[str]:
        """The percentiles of one operation that exceed their budget."""
        return [p for p, ceiling in self.budgets.items() if measured.store[p] > ceiling]

    def breaches(self) -> list[str]:
        """``"get p99 5.31 ms > 1 ms"``, one per exceeded budget."""
        return [
            f"{m.operation} {p} {ms(m.store[p])} > {ms(self.budgets[p])}"
            for m in self.operations
            for p in self.over(m)
        ]

    def describe_budgets(self) -> str:
        ceilings = ", ".join(f"{p} ≤ {ms(s)}" for p, s in self.budgets.items())
        return f"tier {self.tier} (from {self.tier_source}): {ceilings or 'no budget'}"

    def rows(self, only_over: bool = False) -> list[list[str]]:
        """The table's cells, below :data:`HEADER` (shared by every rendering); with
        ``only_over``, only the operations over a budget."""
        return [
            [
                m.operation,
                str(m.samples),
                *(ms(m.store[p]) for p in PERCENTILES),
                *(ms(m.reference[p]) for p in ("p50", "p99")),
                *(f"{m.ratio[p]:.1f}" for p in ("p50", "p99")),
                "over: " + ", ".join(self.over(m)) if self.over(m) else "within",
            ]
            for m in self.operations
            if self.over(m) or not only_over
        ]

    def to_json(self, enforced: bool) -> dict[str, Any]:
        """The table as the JSON report holds it (``latency`` in report.schema.json)."""
        return {
            "tier": self.tier,
            "tier_source": self.tier_source,
            "budgets_ms": {p: s * 1e3 for p, s in self.budgets.items()},
            "enforced": enforced,
            "rounds": self.rounds,
            "machine_time_subtracted": self.machine_time_subtracted,
            "reference": REFERENCE,
            "operations": [
                {
                    "operation": m.operation,
                    "samples": m.samples,
                    "corrected": m.corrected,
                    "discarded": m.discarded,
                    "ms": {p: s * 1e3 for p, s in m.store.items()},
                    "reference_ms": {p: s * 1e3 for p, s in m.reference.items()},
                    "ratio": dict(m.ratio),
                    "over": self.over(m),
                }
                for m in self.operations
            ],
        }

    def text(self, only_over: bool = False) -> str:
        """The table (or its rows over budget) as aligned plain text, its budgets first."""
        lines = [HEADER, *self.rows(only_over)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
        body = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in lines
        ]
        return "\n".join([f"latency budgets: {self.describe_budgets()}", *body])


#: The columns of :meth:`LatencyTable.rows`.
HEADER = [
    "operation",
    "samples",
    *PERCENTILES,
    "reference p50",
    "reference p99",
    "ratio p50",
    "ratio p99",
    "budget",
]


def option_text(percentile: str, seconds: float) -> str:
    """A budget as ``--budget`` takes it: ``p99=2ms``."""
    return f"{percentile}={seconds * 1e3:g}ms"


def ms(seconds: float) -> str:
    """A duration in milliseconds, three significant digits (``0.0042 ms``, ``5.31 ms``)."""
    value = seconds * 1e3
    if value == 0:
        return "0 ms"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f} ms"
