"""What a run produces: the JSON document (schema in the package docstring), the
printed tables (p50, p99, ratios, scaling) and the PNG plots.

Ratios are p50 over p50 within one cell (the subjects ran interleaved: paired). The
scaling exponent of a subject's op is the slope of log(p50) against log(store size)
over the sizes it was measured at: about 0 is flat (O(1)), about 1 linear (O(n)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .runner import Cell, Stat
from .workload import OPS

Row = dict[str, Any]
#: Line styles in the scaling plots: ours solid, raw engines dashed, peers dotted.
LINES = {"ours": "-", "raw": "--", "peer": ":"}


def result_rows(cells: Iterable[Cell]) -> list[Row]:
    """One row per subject, op, payload and size: timings, or null ones and the reason."""
    rows: list[Row] = []
    for cell in cells:
        for subject, stats in cell.stats.items():
            for op in OPS:
                stat = stats.get(op, "not measured")
                row: Row = {
                    "subject": subject,
                    "op": op,
                    "payload": cell.payload,
                    "size": cell.size,
                }
                if isinstance(stat, Stat):
                    row.update(
                        p50_us=stat.p50_us, p99_us=stat.p99_us, ops_per_s=stat.ops_per_s, n=stat.n
                    )
                else:
                    row.update(p50_us=None, p99_us=None, ops_per_s=None, n=0, reason=stat)
                rows.append(row)
    return rows


def ratio_rows(rows: Sequence[Row], subjects: dict[str, Row]) -> list[Row]:
    """Each of our subjects against the raw engine of its kind ("raw") and every peer
    ("peer"), op by op, in each cell where both were timed."""
    timed = {
        (r["subject"], r["op"], r["payload"], r["size"]): r["p50_us"] for r in rows if r["p50_us"]
    }
    out: list[Row] = []
    for (subject, op, payload, size), ours in timed.items():
        if subjects[subject]["kind"] != "ours":
            continue
        engine = subjects[subject]["engine"]
        for other, info in subjects.items():
            against = info["kind"]
            if against == "ours" or (against == "raw" and info["engine"] != engine):
                continue
            base = timed.get((other, op, payload, size))
            if base:
                out.append({"ours": subject, "other": other, "against": against, "op": op,
                            "payload": payload, "size": size, "p50_ratio": ours / base})  # fmt: skip
    return out


def scaling_rows(rows: Sequence[Row]) -> list[Row]:
    """Per subject, op and payload measured at two sizes or more: the exponent k of
    p50 ~ size^k (least squares on log-log), and p50 at each size."""
    series: dict[tuple[str, str, int], list[tuple[int, float]]] = {}
    for r in rows:
        if r["p50_us"]:
            series.setdefault((r["subject"], r["op"], r["payload"]), []).append(
                (r["size"], r["p50_us"])
            )
    out: list[Row] = []
    for (subject, op, payload), points in sorted(series.items()):
        points.sort()
        if len({s for s, _ in points}) < 2:
            continue
        xs = [math.log(s) for s, _ in points]
        ys = [math.log(p) for _, p in points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        out.append({"subject": subject, "op": op, "payload": payload, "exponent": round(slope, 3),
                    "p50_us_by_size": {str(s): p for s, p in points}})  # fmt: skip
    return out


def growth(exponent: float) -> str:
    return "O(1)" if exponent < 0.2 else "O(n)" if exponent > 0.7 else "sub-linear"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.0f}ms"
    if value >= 1000:
        return f"{value / 1000:.1f}ms"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _table(title: str, header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells))

    return "\n".join([title, line(header), *map(line, body)])


def tables(
    rows: Sequence[Row], ratios: Sequence[Row], scaling: Sequence[Row], info: dict[str, Row]
) -> str:
    """The printed report: per cell a table of p50 (p99) in µs by op and subject, and the
    ratios of ours to the raw engine and to the peers on the same kind of engine (the
    JSON has every peer); then the scaling exponents."""
    out: list[str] = []
    subjects = list(info)
    cells = sorted({(r["payload"], r["size"]) for r in rows})
    by_key = {(r["subject"], r["op"], r["payload"], r["size"]): r for r in rows}
    short = [
        s.split(":", 1)[1] + ("*" if s.startswith("raw") else "" if s.startswith("ours") else "°")
        for s in subjects
    ]
    for payload, size in cells:
        body = []
        for op in OPS:
            cols = []
            for subject in subjects:
                r = by_key.get((subject, op, payload, size))
                cols.append(
                    "-"
                    if r is None or r["p50_us"] is None
                    else f"{_fmt(r['p50_us'])} ({_fmt(r['p99_us'])})"
                )
            body.append([op, *cols])
        out.append(
            _table(
                f"\n{payload} B sessions, {size:,} in the store: p50 (p99) µs  [*raw °peer]",
                ["op", *short],
                body,
            )
        )
        mine = [
            r for r in ratios
            if r["payload"] == payload and r["size"] == size and info[r["ours"]]["engine"] == info[r["other"]]["engine"]
        ]  # fmt: skip
        pairs = sorted(
            {(r["ours"], r["other"]) for r in mine},
            key=lambda p: (subjects.index(p[0]), subjects.index(p[1])),
        )
        if pairs:
            lookup = {(r["ours"], r["other"], r["op"]): r["p50_ratio"] for r in mine}
            header = ["op", *[f"{a.split(':')[1]}/{b}" for a, b in pairs]]
            body = [
                [
                    op,
                    *[
                        f"{lookup[(a, b, op)]:.2f}x" if (a, b, op) in lookup else "-"
                        for a, b in pairs
                    ],
                ]
                for op in OPS
            ]
            out.append(_table("ratio of p50s (ours / other)", header, body))
    if scaling:
        payloads = sorted({r["payload"] for r in scaling})
        exps = {(r["subject"], r["op"], r["payload"]): r["exponent"] for r in scaling}
        for payload in payloads:
            body = [
                [
                    op,
                    *[
                        f"{exps[(s, op, payload)]:+.2f}" if (s, op, payload) in exps else "-"
                        for s in subjects
                    ],
                ]
                for op in OPS
            ]
            out.append(
                _table(
                    f"\nscaling, {payload} B sessions: k in p50 ~ size^k (0: O(1), 1: O(n))",
                    ["op", *short],
                    body,
                )
            )
    return "\n".join(out)


def plots(rows: Sequence[Row], subjects: Sequence[str], outdir: Path) -> list[Path]:
    """latency_by_op_<payload>.png: p50 bars (p99 whiskers) per op and subject at the
    largest store size measured; scaling_<payload>.png: p50 against store size, one
    panel per op. Log scales: the subjects differ by orders of magnitude. A subject keeps
    its colour in every panel (C0, C1, ... by its place in ``subjects``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    by_key = {(r["subject"], r["op"], r["payload"], r["size"]): r for r in rows if r["p50_us"]}
    for payload in sorted({r["payload"] for r in rows}):
        sizes = sorted({r["size"] for r in rows if r["payload"] == payload})
        biggest = sizes[-1]
        fig, ax = plt.subplots(figsize=(14, 5.5))
        width = 0.8 / len(subjects)
        for i, subject in enumerate(subjects):
            xs, p50, p99 = [], [], []
            for j, op in enumerate(OPS):
                r = by_key.get((subject, op, payload, biggest))
                if r:
                    xs.append(j + (i - (len(subjects) - 1) / 2) * width)
                    p50.append(r["p50_us"])
                    p99.append(r["p99_us"] - r["p50_us"])
            whiskers = [[0] * len(p99), p99]
            ax.bar(xs, p50, width, yerr=whiskers, color=f"C{i}", label=subject, capsize=2)
        ax.set_xticks(range(len(OPS)), OPS)
        ax.set_yscale("log")
        ax.set_ylabel("µs per call (bar p50, whisker p99)")
        ax.set_title(f"latency by operation: {payload} B sessions, {biggest:,} in the store")
        ax.legend(ncol=5, fontsize=8)
        fig.tight_layout()
        written.append(outdir / f"latency_by_op_{payload}.png")
        fig.savefig(written[-1], dpi=90)
        plt.close(fig)

        if len(sizes) < 2:
            continue
        fig, axes = plt.subplots(3, 4, figsize=(16, 10), sharex=True)
        for ax, op in zip(axes.flat, OPS, strict=False):
            for number, subject in enumerate(subjects):
                points = [
                    (s, by_key[(subject, op, payload, s)]["p50_us"])
                    for s in sizes
                    if (subject, op, payload, s) in by_key
                ]
                if points:
                    style = LINES[subject.split(":", 1)[0]]
                    ax.plot(
                        *zip(*points, strict=True),
                        style,
                        color=f"C{number}",
                        marker="o",
                        label=subject,
                    )
            ax.set(xscale="log", yscale="log", title=op)
        for ax in axes.flat[len(OPS) :]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower right", fontsize=9)
        fig.supxlabel("sessions in the store")
        fig.supylabel("p50 µs per call")
        fig.suptitle(f"cost against store size: {payload} B sessions")
        fig.tight_layout()
        written.append(outdir / f"scaling_{payload}.png")
        fig.savefig(written[-1], dpi=90)
        plt.close(fig)
    return written
