"""The runner: every subject on the same data, one (store size, payload) cell at a time.

For each cell the runner builds one export document (:mod:`.workload`) and opens every
subject side by side in a fresh directory, so they share the machine's state of the
moment. Each subject is filled by ``load`` (timed: ``import``; a fresh subject per
repeat). Then, for each point operation, the same ids are drawn once for every subject
(random over the whole store, so a large store is read where it is cold as well as
warm), the first WARMUP calls run untimed, and the timed calls are split into ROUNDS
slices run subject after subject in a rotating order: a burst of load on the machine
falls on every subject alike, and a ratio of two subjects in the cell is paired. A
subject slower than OP_BUDGET_S for an op gets fewer samples of it (``n`` in the
results): an O(n) ``list`` of 1e6 sessions would otherwise take the run's hour.

``create`` makes new sessions and ``delete`` removes the ones each subject made, so the
store keeps its size. ``purge`` is timed after the sessions of a fresh 1% of the store were made
expired (untimed); ``export`` is a whole document. Bulk operations (import, purge,
export) are repeated fewer times the larger the store (:func:`bulk_repeats`).

Each sample is one awaited call timed with ``perf_counter_ns``; a cell yields, per
subject and op, p50, p99 and throughput (calls / total time).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .subject import Subject, Unsupported
from .workload import document, payload, session_id

#: Untimed calls before each operation's timed ones.
WARMUP = 20
#: Slices of the timed calls, interleaved across subjects.
ROUNDS = 5
#: Seconds a subject may spend on one op in a cell: a slow op (an O(n) list of a large
#: store) stops a slice early, after at least MIN_PER_ROUND calls; ``n`` says how many.
OP_BUDGET_S = 1.0
MIN_PER_ROUND = 4
#: A bulk operation is repeated until this many sessions went through it (1 to 3 times).
BULK_SESSIONS = 3000
#: Sessions made expired before each purge: this fraction of the store.
EXPIRED_FRACTION = 0.01


def bulk_repeats(size: int) -> int:
    return max(1, min(3, BULK_SESSIONS // max(size, 1)))


@dataclass(frozen=True)
class Stat:
    """One subject's timings of one op in one cell, in microseconds."""

    p50_us: float
    p99_us: float
    ops_per_s: float
    n: int

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stat:
        ordered = sorted(samples_ns)
        n = len(ordered)
        return cls(
            p50_us=ordered[n // 2] / 1000,
            p99_us=ordered[min(n - 1, int(n * 0.99))] / 1000,
            ops_per_s=n * 1e9 / max(sum(ordered), 1),
            n=n,
        )


@dataclass
class Cell:
    """The outcome of one (size, payload) cell: per subject, per op, a Stat or why not."""

    size: int
    payload: int
    stats: dict[str, dict[str, Stat | str]] = field(default_factory=dict)


Factory = Callable[[], Subject]
Call = tuple[Any, ...]  # the arguments of one call


async def _timed(call: Callable[..., Awaitable[Any]], *args: Any) -> int:
    start = time.perf_counter_ns()
    await call(*args)
    return time.perf_counter_ns() - start


class CellRun:
    """One cell's subjects and the samples gathered for them."""

    def __init__(self, factories: Sequence[Factory], size: int, size_bytes: int, workdir: Path):
        self.factories = factories
        self.size = size
        self.data = payload(size_bytes)
        self.document = document(size, size_bytes)
        self.workdir = workdir
        self.subjects: list[Subject] = []
        self.samples: dict[str, dict[str, list[int]]] = {}
        self.failed: dict[str, dict[str, str]] = {}
        #: The calls each subject made of each op (a budget may stop it early).
        self.done: dict[tuple[str, str], list[Call]] = {}

    def _skip(self, subject: Subject, op: str) -> bool:
        reason = subject.unsupported.get(op)
        if reason is not None:
            self.failed.setdefault(subject.name, {})[op] = f"unsupported: {reason}"
        return reason is not None or op in self.failed.get(subject.name, {})

    def _record(self, subject: Subject, op: str, sample: int) -> None:
        self.samples.setdefault(subject.name, {}).setdefault(op, []).append(sample)

    def _fail(self, subject: Subject, op: str, exc: Exception) -> None:
        why = "unsupported" if isinstance(exc, Unsupported) else f"error: {exc!r}"
        self.failed.setdefault(subject.name, {})[op] = why

    async def open_and_load(self) -> None:
        for number, factory in enumerate(self.factories):
            subject = None
            for repeat in range(bulk_repeats(self.size)):
                if subject is not None:
                    await subject.close()
                subject = factory()
                where = self.workdir / f"{number}-{repeat}"
                where.mkdir(parents=True)
                await subject.open(where)
                try:
                    self._record(subject, "import", await _timed(subject.load, self.document))
                    await self._check_loaded(subject)
                except Exception as exc:
                    self._fail(subject, "import", exc)
            assert subject is not None
            self.subjects.append(subject)

    async def _check_loaded(self, subject: Subject) -> None:
        """A subject that did not store the document would be timed doing nothing: its
        first and last session must read back, and its count (if it has one) match."""
        for i in (0, self.size - 1):
            if self.size and await subject.get(session_id(i)) is None:
                raise AssertionError(f"{session_id(i)} not found after the import")
        if "count" not in subject.unsupported and await subject.count() != self.size:
            raise AssertionError(f"count is not {self.size} after the import")

    async def point(
        self, op: str, args: Sequence[Call] | Callable[[Subject], Sequence[Call]]
    ) -> None:
        """``op(*call)`` on every subject for each call (the same calls, or a subject's own
        when ``args`` is a function of it): WARMUP untimed, then ROUNDS slices."""
        given = {s.name: args(s) if callable(args) else args for s in self.subjects}
        for number in range(ROUNDS + 1):
            turn = number % len(self.subjects)
            for subject in self.subjects[turn:] + self.subjects[:turn]:
                if self._skip(subject, op):
                    continue
                calls = given[subject.name]
                part = calls[:WARMUP] if number == 0 else calls[WARMUP:][number - 1 :: ROUNDS]
                method = getattr(subject, op)
                done = self.done.setdefault((subject.name, op), [])
                spent, budget = 0, OP_BUDGET_S * 1e9 / ROUNDS
                try:
                    for count, call in enumerate(part):
                        if spent > budget and count >= MIN_PER_ROUND:
                            break
                        sample = await _timed(method, *call)
                        done.append(call)
                        spent += sample
                        if number:
                            self._record(subject, op, sample)
                except Exception as exc:
                    self._fail(subject, op, exc)

    async def bulk(
        self, op: str, prepare: Callable[[Subject, int], Awaitable[None]] | None = None
    ) -> None:
        """A whole-store op, once per subject per repeat (after ``prepare``, untimed)."""
        for repeat in range(bulk_repeats(self.size)):
            for subject in self.subjects:
                if self._skip(subject, op):
                    continue
                try:
                    if prepare is not None:
                        await prepare(subject, repeat)
                    self._record(subject, op, await _timed(getattr(subject, op)))
                except Exception as exc:
                    self._fail(subject, op, exc)

    async def close(self) -> None:
        for subject in self.subjects:
            await subject.close()


async def run_cell(
    factories: Sequence[Factory],
    size: int,
    size_bytes: int,
    samples: int,
    workdir: Path,
    seed: int = 1,
) -> Cell:
    """Every subject on one cell: import, the point ops, purge, export."""
    rng = random.Random(seed)
    run = CellRun(factories, size, size_bytes, workdir)
    try:
        await run.open_and_load()
        calls = WARMUP + samples
        fresh = [f"n{i:08d}" for i in range(calls)]

        def existing() -> list[tuple[str]]:
            return [(session_id(rng.randrange(size)),) for _ in range(calls)]

        await run.point("create", [(id, run.data) for id in fresh])
        await run.point("get", existing())
        await run.point("replace", [(id, run.data) for (id,) in existing()])
        await run.point("update", existing())
        await run.point("touch", existing())
        await run.point("list", existing())
        await run.point("count", [()] * calls)
        # What each subject created, it deletes: the store keeps its size.
        await run.point(
            "delete", lambda s: [call[:1] for call in run.done.get((s.name, "create"), [])]
        )

        victims = [session_id(i) for i in rng.sample(range(size), size)]
        step = max(1, int(size * EXPIRED_FRACTION))

        async def expire(subject: Subject, repeat: int) -> None:
            await subject.expire(victims[repeat * step : (repeat + 1) * step])
            await asyncio.sleep(0.005)  # past the 1 ms ttl of those sessions

        await run.bulk("purge", expire)
        await run.bulk("export")
    finally:
        await run.close()
        shutil.rmtree(workdir, ignore_errors=True)
    cell = Cell(size, size_bytes)
    for subject in run.subjects or [f() for f in factories]:
        cell.stats[subject.name] = {
            op: Stat.of(s) for op, s in run.samples.get(subject.name, {}).items()
        }
        cell.stats[subject.name].update(run.failed.get(subject.name, {}))
    return cell
