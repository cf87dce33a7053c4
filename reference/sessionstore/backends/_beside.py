"""A large import into the memory store, prepared beside its indexes (issue 12, item 3).

Applying 100,000 records to the store's sorted indexes in one atomic step held the event
loop for 0.1 s (into an empty store) to 0.55 s (every id replaced). So the memory store
applies a large import in three phases:

1. **Snapshot**, under the lock: references to the indexes' contents (C-speed copies of
   lists, as for an export), the clock's ``now`` and a :class:`Journal` that from then
   on collects the id of every record the store writes or removes.
2. **Prepare**, a step at a time with the event loop running between steps: the import
   planned against the snapshot at that ``now`` (IMPORT-3, IMPORT-4, IMPORT-6), and the
   indexes the store would have after it — a new id-ordered dict and a new expiry index
   — built from the snapshot's contents without touching the live ones.
3. **Commit**, under the lock, in one short step (:meth:`Prepared.commit`): the ids
   whose answer may differ from the prepared one are planned again against the live
   store at the commit's ``now`` — those the journal holds (written meanwhile) and those
   of a stored or imported record that expired between the two instants — and the new
   indexes patched for them; then the store swaps them in.

Every other id's record is the same in the snapshot as in the live store (the journal
would hold it otherwise), and its liveness is the same at both instants (it would be in
an expiry range otherwise), so its plan is the one the commit instant gives: the import
takes effect at that instant, all or nothing (IMPORT-2, CONC-1). When the journal grew
too long to replay in a short step, or a commit of another import replaced the indexes
(:attr:`Journal.replaced`), :meth:`Prepared.commit` returns None and the caller prepares
again. A rejection for a clash (IMPORT-4) changes nothing, and is the verdict at the
snapshot's instant when the preparation finds it, else at the commit's.
"""

from __future__ import annotations

import asyncio
import heapq
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice, pairwise
from typing import Any, TypeVar, cast

from sortedcontainers import SortedDict, SortedList

from ..errors import ImportRejected, Problem
from ..export import clash_problems, counted_report
from ..semantics import Record
from ..values import ImportReport, OnConflict
from ._stored import Stored, as_record, stored, stored_expiry, stored_id

T = TypeVar("T")
#: Items handled per step of the preparation: a few ms of work each.
STEP = 500
#: Ids the commit plans again at most, in its one step; beyond, the import is prepared
#: again (writes to a thousand ids during one preparation: the store is very busy).
REPLAY_LIMIT = 1000
#: An expiry entry: (expires_ms, id).
Entry = tuple[int, str]


class Journal:
    """The ids the store wrote or removed since an import's snapshot."""

    __slots__ = ("ids", "replaced")

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.replaced = False  # another import swapped in new indexes: prepare again


async def sorted_in_steps(values: list[T]) -> list[T]:
    """``sorted(values)``: STEP values sorted at a time, then merged STEP at a time."""
    runs: list[list[T]] = []
    for part in _steps(len(values)):
        runs.append(sorted(values[part]))  # type: ignore[type-var]
        await asyncio.sleep(0)
    return await merged_in_steps(runs)


async def merged_in_steps(runs: Sequence[list[T]]) -> list[T]:
    """The values of sorted lists ``runs`` in one sorted list, STEP at a time. Runs that
    follow one another (ids of an export, say, which come in order) are joined as they
    are."""
    runs = [run for run in runs if run]
    if all(a[-1] < b[0] for a, b in pairwise(runs)):  # type: ignore[operator]
        return list(chain.from_iterable(runs))
    merged: list[T] = []
    values = heapq.merge(*runs)  # type: ignore[type-var]
    while part := list(islice(values, STEP)):
        merged += part
        await asyncio.sleep(0)
    return merged


async def release(*lists: list[Any]) -> None:
    """Let go of large lists STEP items at a time: freeing 100,000 records and their data
    when the last reference to them went (a list, a replaced index) held the event loop
    for 20-90 ms. Lists that are the last holders of what they hold, emptied from the end."""
    for items in lists:
        while items:
            del items[-STEP:]
            await asyncio.sleep(0)


def fill_sorted(target: SortedList[Any], ordered: list[Any]) -> None:
    """Make the empty ``target`` hold ``ordered`` (already in order) without comparing
    its values: sortedcontainers' own layout, sublists of its load factor and their
    maxima, which its ``update`` builds after sorting. That sort of 200,000 expiry
    entries took 90 ms in one piece (Python compares integers this large slowly)."""
    load = target._load  # type: ignore[attr-defined]
    lists = [ordered[start : start + load] for start in range(0, len(ordered), load)]
    target._lists = lists  # type: ignore[attr-defined]
    target._maxes = [part[-1] for part in lists]  # type: ignore[attr-defined]
    target._len = len(ordered)  # type: ignore[attr-defined]


def _plain(records: SortedDict[str, Stored]) -> dict[str, Stored]:
    """A SortedDict as the dict it is, for dict's own methods (its key list untouched)."""
    return cast("dict[str, Stored]", records)


def _in_range(entries: list[Entry], after: int, until: int) -> list[str] | None:
    """The ids of the sorted ``entries`` that expire in (after, until]; None for more than
    REPLAY_LIMIT."""
    low, high = bisect_left(entries, (after + 1, "")), bisect_left(entries, (until + 1, ""))
    return [sid for _, sid in entries[low:high]] if high - low <= REPLAY_LIMIT else None


def _steps(length: int) -> Iterator[slice]:
    """Slices of STEP items covering ``length`` items."""
    return (slice(start, start + STEP) for start in range(0, length, STEP))


@dataclass
class _Plan:
    """What an import writes, against a snapshot (Prepared._plan)."""

    writes: list[Stored] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)  # written ids the snapshot lacks
    replaced: set[str] = field(default_factory=set)  # written ids the snapshot holds
    entries: list[Entry] = field(default_factory=list)  # expiry entries of the writes
    skipped: list[Entry] = field(default_factory=list)  # ... of the live ones not written


class Prepared:
    """An import planned against a snapshot taken at ``now``, and the store's indexes
    after it."""

    def __init__(self, records: Sequence[Stored], now: int, on_conflict: OnConflict) -> None:
        self.records = records  # in the document's order
        self.now = now
        self.on_conflict = on_conflict
        self.records_after: SortedDict[str, Stored] = SortedDict()
        self.expiry_after: SortedList[Entry] = SortedList()
        self._index: dict[str, int] = {}  # imported id -> its place in the document
        self._clashes: set[str] = set()  # imported ids live in the store and the import
        self._expired = 0  # imported records expired at ``now``
        self._expiry_before: list[Entry] = []  # the snapshot's expiry index
        self._incoming: list[Entry] = []  # expiry entries of the records live at ``now``

    async def prepare(
        self, ids: list[str], keys: list[str], values: list[Stored], expiry: list[Entry]
    ) -> None:
        """Plan the import against the snapshot (its ids in order, its dict's keys and
        values, its expiry index) and build the indexes after it, a step at a time.
        Raises ImportRejected for a clash under on_conflict="error" (IMPORT-4)."""
        self._expiry_before = expiry
        # Filled as the dict it is (SortedDict subclasses dict), its key list at the end.
        after = _plain(self.records_after)
        for part in _steps(len(keys)):
            dict.update(after, zip(keys[part], values[part], strict=True))
            await asyncio.sleep(0)
        plan = await self._plan(after)
        for part in _steps(len(plan.writes)):
            written = plan.writes[part]
            dict.update(after, zip(map(stored_id, written), written, strict=True))
            await asyncio.sleep(0)
        ordered = await merged_in_steps([ids, await sorted_in_steps(plan.new_ids)])
        fill_sorted(self.records_after._list, ordered)  # type: ignore[attr-defined]
        kept: list[Entry] = []
        for part in _steps(len(expiry)):
            kept += [e for e in expiry[part] if e[1] not in plan.replaced]
            await asyncio.sleep(0)
        entries = await sorted_in_steps(plan.entries)
        fill_sorted(self.expiry_after, await merged_in_steps([kept, entries]))
        skipped = await sorted_in_steps(plan.skipped)
        self._incoming = await merged_in_steps([entries, skipped]) if skipped else entries

    async def _plan(self, before: dict[str, Stored]) -> _Plan:
        """plan_import against ``before`` (the snapshot), a step at a time."""
        now, replace = self.now, self.on_conflict == "replace"
        index, clashes = self._index, self._clashes
        plan = _Plan()
        for part in _steps(len(self.records)):
            for place, kept in enumerate(self.records[part], part.start):
                record = as_record(kept)
                index[record.id] = place
                if not record.is_live(now):
                    self._expired += 1
                    continue
                current = before.get(record.id)
                if current is None:
                    plan.new_ids.append(record.id)
                else:
                    if as_record(current).is_live(now):
                        clashes.add(record.id)
                        if not replace:
                            if record.expires_ms is not None:
                                plan.skipped.append((record.expires_ms, record.id))
                            continue
                    plan.replaced.add(record.id)
                plan.writes.append(kept)
                if record.expires_ms is not None:
                    plan.entries.append((record.expires_ms, record.id))
            await asyncio.sleep(0)
        if clashes and self.on_conflict == "error":
            places = await sorted_in_steps([(index[sid], sid) for sid in clashes])
            problems: list[Problem] = []
            for part in _steps(len(places)):
                problems += clash_problems(places[part])
                await asyncio.sleep(0)
            raise ImportRejected(problems)
        return plan

    def commit(self, live: dict[str, Stored], now: int, journal: Journal) -> ImportReport | None:
        """Under the store's lock: plan again, against the ``live`` records at ``now``,
        the ids whose answer may have changed since the snapshot (see the module's
        docstring), patching the indexes after the import for them. The import's report,
        or None when it must be prepared again; ImportRejected for a clash under
        on_conflict="error" (IMPORT-4), the store unchanged."""
        if journal.replaced or now < self.now or len(journal.ids) > REPLAY_LIMIT:
            return None
        stored = _in_range(self._expiry_before, self.now, now)
        incoming = _in_range(self._incoming, self.now, now)
        if stored is None or incoming is None:
            return None
        for sid in {*journal.ids, *stored, *incoming}:
            current = live.get(sid)
            self._replan(sid, None if current is None else as_record(current), now)
        if self._clashes and self.on_conflict == "error":
            raise ImportRejected(clash_problems(sorted((self._index[s], s) for s in self._clashes)))
        return counted_report(
            len(self.records), self._expired, len(self._clashes), self.on_conflict
        )

    def _replan(self, sid: str, current: Record | None, now: int) -> None:
        """Plan id ``sid`` again against the store's ``current`` record at ``now``."""
        place = self._index.get(sid)
        final = current
        if place is not None:
            record = as_record(self.records[place])
            self._expired -= not record.is_live(self.now)  # what the preparation counted
            self._clashes.discard(sid)
            if not record.is_live(now):
                self._expired += 1
            else:
                clash = current is not None and current.is_live(now)
                if clash:
                    self._clashes.add(sid)
                if not clash or self.on_conflict == "replace":
                    final = record
        self._set(sid, final)

    def _set(self, sid: str, record: Record | None) -> None:
        """The indexes after the import hold ``record`` for ``sid`` (None: nothing)."""
        old = _plain(self.records_after).get(sid)
        if old is not None and stored_expiry(old) is not None:
            self.expiry_after.discard((stored_expiry(old), sid))
        if record is None:
            if old is not None:
                del self.records_after[sid]
            return
        self.records_after[sid] = stored(record)
        if record.expires_ms is not None:
            self.expiry_after.add((record.expires_ms, sid))
