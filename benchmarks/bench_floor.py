"""How near its raw engine can a memory store that keeps the contract get? (issue 15)

    python -m benchmarks.bench_floor [--sizes 200,1024,4096,65536] [--rounds 3]
                                     [--calls 20000] [--store 10000]

Issue 15 asks the memory store for every point operation within 2x of its raw engine
(``benchmarks/harness/raw_memory.py``: a dict of orjson bytes that encodes and
size-checks on write and decodes a private copy on read) and ``get`` within 1.3x. Four
subjects do each operation in one process, in rotating order, at each payload size:

* ``raw`` -- the harness's raw engine;
* ``floor`` -- raw plus the work the contract itself asks of every store, each piece
  the cheapest this project has, and nothing of our store's own design: the id checked
  (VAL-1) and the ttl converted and checked (VAL-6, TTL-1) where a call names them; the
  data validated by ``encode_data`` (VAL-2..VAL-5: exact JSON types, safe integers,
  finite floats, depth, size); stored data decoded as ``decode_data`` does (ERR-3: what
  does not decode to an object is corruption); and a ``Session`` returned (REC-1: the
  id, data, version and three times; a write's data the bytes just written, as
  ``Session.from_json_ms`` allows). No lock, no closed check, no owner check, no index;
* ``indexed`` -- floor plus the two indexes the store keeps for the issue's other
  targets, as sortedcontainers (the well-kept sorted collection for Python; pure
  Python): ids in order (LIST-1 paging by cursor in O(log n + limit) rather than a scan
  of every key) and (expires_ms, id) pairs (count in O(1), and PURGE-2);
* ``ours`` -- MemoryStore.

A cell is the fastest of ``--rounds`` rounds of five blocks of ``--calls`` / 5 calls, in
microseconds per call, the coroutines driven without an event loop (none suspends).
Printed: raw's time, each subject's ratio to raw, and ours / indexed (what our store's
own design costs beyond the floor with indexes). Where ``floor / raw`` or
``indexed / raw`` exceeds the target, no store doing that work in this way can meet it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from sortedcontainers import SortedList

from benchmarks.bench_memory_revs import per_call, run_coroutine
from benchmarks.harness.raw_memory import RawMemory
from benchmarks.harness.workload import TTL_S, bump, payload
from sessionstore import Session
from sessionstore.backends.memory import MemoryStore
from sessionstore.semantics import check_id, decode_data, encode_data, system_now_ms, ttl_to_ms

OPS = ("get", "replace", "update", "touch", "create", "delete")
SUBJECTS = ("raw", "floor", "indexed", "ours")
#: Issue 15's target for each operation, as a ratio to raw.
TARGET = {"get": 1.3, "replace": 2.0, "update": 2.0, "touch": 2.0, "create": 2.0, "delete": 2.0}
Kept = tuple[bytes, int, int, int, int | None]  # data, version, created, updated, expires


class Floor:
    """The raw engine plus the contract's own work per call (see the module's docstring)."""

    def __init__(self) -> None:
        self.records: dict[str, Kept] = {}

    def _live(self, sid: str, now: int) -> Kept:
        kept = self.records[sid]
        expires = kept[4]
        if expires is not None and expires <= now:
            raise KeyError(sid)
        return kept

    async def create(self, data: Any, *, id: str, ttl: int) -> Session:
        encoded = encode_data(data)
        check_id(id)
        ttl_ms = ttl_to_ms(ttl)
        now = system_now_ms()
        held = self.records.get(id)
        if held is not None and (held[4] is None or now < held[4]):
            raise KeyError(f"{id} exists")
        self.records[id] = (encoded, 1, now, now, now + ttl_ms)
        return Session.from_json_ms(id, encoded, 1, now, now, now + ttl_ms)

    async def get(self, id: str) -> Session | None:
        check_id(id)
        now = system_now_ms()
        kept = self.records.get(id)
        if kept is None or (kept[4] is not None and kept[4] <= now):
            return None
        return Session.from_ms(id, decode_data(kept[0], id), *kept[1:])

    async def replace(self, id: str, data: Any) -> Session:
        check_id(id)
        encoded = encode_data(data)
        now = system_now_ms()
        _, version, created, _, expires = self._live(id, now)
        self.records[id] = (encoded, version + 1, created, now, expires)
        return Session.from_json_ms(id, encoded, version + 1, created, now, expires)

    async def update(self, id: str, fn: Callable[[Any], Any]) -> Session:
        check_id(id)
        now = system_now_ms()
        data, version, created, _, expires = self._live(id, now)
        encoded = encode_data(fn(decode_data(data, id)))
        self.records[id] = (encoded, version + 1, created, now, expires)
        return Session.from_json_ms(id, encoded, version + 1, created, now, expires)

    async def touch(self, id: str, ttl: int) -> Session:
        check_id(id)
        ttl_ms = ttl_to_ms(ttl)
        now = system_now_ms()
        data, version, created, updated, _ = self._live(id, now)
        self.records[id] = (data, version, created, updated, now + ttl_ms)
        return Session.from_ms(id, decode_data(data, id), version, created, updated, now + ttl_ms)

    async def delete(self, id: str) -> bool:
        check_id(id)
        self._live(id, system_now_ms())
        del self.records[id]
        return True


class Indexed(Floor):
    """Floor, keeping the ids in order and the (expires_ms, id) pairs sorted. Only the
    operations that change an index differ: create, touch and delete (a write without
    a ttl keeps its expiry). They repeat Floor's lines rather than call them: a hook
    or a super() call would add to one subject's time a call the other does not pay."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: SortedList[str] = SortedList()
        self.expiry: SortedList[tuple[int, str]] = SortedList()

    async def create(self, data: Any, *, id: str, ttl: int) -> Session:
        encoded = encode_data(data)
        check_id(id)
        ttl_ms = ttl_to_ms(ttl)
        now = system_now_ms()
        held = self.records.get(id)
        if held is not None and (held[4] is None or now < held[4]):
            raise KeyError(f"{id} exists")
        if held is None:
            self.ids.add(id)
        elif held[4] is not None:
            self.expiry.discard((held[4], id))
        self.expiry.add((now + ttl_ms, id))
        self.records[id] = (encoded, 1, now, now, now + ttl_ms)
        return Session.from_json_ms(id, encoded, 1, now, now, now + ttl_ms)

    async def touch(self, id: str, ttl: int) -> Session:
        check_id(id)
        ttl_ms = ttl_to_ms(ttl)
        now = system_now_ms()
        data, version, created, updated, expires = self._live(id, now)
        if expires != now + ttl_ms:
            if expires is not None:
                self.expiry.discard((expires, id))
            self.expiry.add((now + ttl_ms, id))
        self.records[id] = (data, version, created, updated, now + ttl_ms)
        return Session.from_ms(id, decode_data(data, id), version, created, updated, now + ttl_ms)

    async def delete(self, id: str) -> bool:
        check_id(id)
        expires = self._live(id, system_now_ms())[4]
        del self.records[id]
        self.ids.remove(id)
        if expires is not None:
            self.expiry.discard((expires, id))
        return True


Op = Callable[[int], Coroutine[Any, Any, Any]]


def operations(
    subject: Any, raw: bool, held: list[str], fresh: list[str], size: int
) -> dict[str, Op]:
    """Each operation as a function of the call's number: the harness's raw engine takes
    no ttl and returns nothing; the others take the store's arguments."""
    data, n = payload(size), len(held)
    if raw:
        return {
            "get": lambda i: subject.get(held[i % n]),
            "replace": lambda i: subject.replace(held[i % n], data),
            "update": lambda i: subject.update(held[i % n]),
            "touch": lambda i: subject.touch(held[i % n]),
            "create": lambda i: subject.create(fresh[i], data),
            "delete": lambda i: subject.delete(fresh[i]),
        }
    return {
        "get": lambda i: subject.get(held[i % n]),
        "replace": lambda i: subject.replace(held[i % n], data),
        "update": lambda i: subject.update(held[i % n], bump),
        "touch": lambda i: subject.touch(held[i % n], TTL_S),
        "create": lambda i: subject.create(data, id=fresh[i], ttl=TTL_S),
        "delete": lambda i: subject.delete(fresh[i]),
    }


def measure(size: int, rounds: int, calls: int, store_size: int) -> dict[tuple[str, str], float]:
    """The fastest microseconds per call of each (subject, op) at one payload size."""
    held = [f"s{i:08d}" for i in range(store_size)]
    subjects = {"raw": RawMemory(), "floor": Floor(), "indexed": Indexed(), "ours": MemoryStore()}
    ops: dict[str, dict[str, Op]] = {}
    for name, subject in subjects.items():
        fill = operations(subject, name == "raw", held, held, size)["create"]
        for i in range(store_size):
            run_coroutine(fill(i))
    best: dict[tuple[str, str], float] = {}
    names = list(SUBJECTS)
    for turn in range(rounds):
        fresh = [f"n{turn}{i:08d}" for i in range(calls)]  # created, then deleted
        for name in names:
            ops[name] = operations(subjects[name], name == "raw", held, fresh, size)
        for op in OPS:
            for name in names[turn % 4 :] + names[: turn % 4]:  # who goes first rotates
                took = per_call(calls, ops[name][op])
                best[name, op] = min(best.get((name, op), took), took)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="200,1024,4096,65536")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--store", type=int, default=10000)
    opts = parser.parse_args()
    print(f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}; "
          f"{opts.rounds} rounds, {opts.calls:,} calls, {opts.store:,} sessions in the store")  # fmt: skip
    print("\n| op | payload | target | raw µs | floor / raw | indexed / raw | ours / raw "
          "| ours / indexed |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in map(int, opts.sizes.split(",")):
        best = measure(size, opts.rounds, opts.calls, opts.store)
        for op in OPS:
            raw = best["raw", op]
            floor, indexed, ours = (best[name, op] / raw for name in SUBJECTS[1:])
            print(f"| {op} | {size} B | {TARGET[op]}x | {raw:.2f} | {floor:.2f}x | "
                  f"{indexed:.2f}x | {ours:.2f}x | {ours / indexed:.2f}x |")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
