"""The memory store's raw engine: a dict holding orjson bytes, doing the work the
contract requires and no more — encode and size-check on write, a decoded private copy
on read, a version and an expiry per session.

What a plain dict cannot do cheaply shows as such: it has no order, so ``list`` picks
the next page from every key (O(n)); it has no expiry index, so ``count`` and ``purge``
scan every record (O(n)). Those are the costs our store's indexes exist to avoid.
"""

from __future__ import annotations

import heapq
import time
from datetime import datetime
from typing import Any

import orjson

from sessionstore.values import DEFAULT_LIMITS

from .subject import Data, Ids, Subject
from .workload import PAGE, TTL_S, bump

MAX_BYTES = DEFAULT_LIMITS.max_data_bytes
Record = tuple[bytes, int, int]  # data, version, expires_ms


def _now() -> int:
    return time.time_ns() // 1_000_000


def _encode(data: Data) -> bytes:
    encoded = orjson.dumps(data)
    if len(encoded) > MAX_BYTES:
        raise ValueError("session data too large")
    return encoded


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp[:-1] + "+00:00").timestamp() * 1000)


class RawMemory(Subject):
    name = "raw:memory"
    kind = "raw"
    engine = "memory"

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}

    def _live(self, id: str) -> Record:
        record = self.records[id]
        if record[2] <= _now():
            raise KeyError(id)
        return record

    async def load(self, document: bytes) -> None:
        for s in orjson.loads(document)["sessions"]:
            self.records[s["id"]] = (_encode(s["data"]), s["version"], _ms(s["expires_at"]))

    async def create(self, id: str, data: Data) -> None:
        encoded = _encode(data)
        now = _now()
        current = self.records.get(id)
        if current is not None and current[2] > now:
            raise KeyError(f"{id} exists")
        self.records[id] = (encoded, 1, now + TTL_S * 1000)

    async def get(self, id: str) -> Any:
        record = self.records.get(id)
        return None if record is None or record[2] <= _now() else orjson.loads(record[0])

    async def replace(self, id: str, data: Data) -> None:
        encoded = _encode(data)
        _, version, expires = self._live(id)
        self.records[id] = (encoded, version + 1, expires)

    async def update(self, id: str) -> None:
        data, version, expires = self._live(id)
        self.records[id] = (_encode(bump(orjson.loads(data))), version + 1, expires)

    async def touch(self, id: str) -> Any:
        data, version, _ = self._live(id)
        self.records[id] = (data, version, _now() + TTL_S * 1000)
        return orjson.loads(data)  # touch returns the session, data included

    async def delete(self, id: str) -> None:
        self._live(id)
        del self.records[id]

    async def list(self, cursor: str) -> Any:
        records, now = self.records, _now()
        after = heapq.nsmallest(PAGE, (k for k, r in records.items() if k > cursor and r[2] > now))
        return [(k, orjson.loads(records[k][0])) for k in after]

    async def count(self) -> int:
        now = _now()
        return sum(1 for record in self.records.values() if record[2] > now)

    async def expire(self, ids: Ids) -> None:
        for id in ids:
            data, version, _ = self.records[id]
            self.records[id] = (data, version, 0)

    async def purge(self) -> None:
        now = _now()
        for id in [id for id, record in self.records.items() if record[2] <= now]:
            del self.records[id]

    async def export(self) -> bytes:
        now = _now()
        sessions = [
            {"id": id, "data": orjson.Fragment(r[0]), "version": r[1], "expires_ms": r[2]}
            for id, r in self.records.items()
            if r[2] > now
        ]
        return orjson.dumps({"sessions": sessions})
