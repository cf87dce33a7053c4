"""The executable model: the spec as a small, sequential, obviously correct program.

It is the oracle of the stateful suite (and of the concurrency checks): every
operation on a store is replayed on the model, and the two must agree. Time is in
epoch milliseconds and moves only when the caller sets ``now``. It imports nothing from
the reference stores but their value types and errors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from sessionstore import (
    ImportReport,
    JSONObject,
    Session,
    SessionExists,
    SessionNotFound,
    VersionConflict,
)


@dataclass(frozen=True)
class ModelSession:
    id: str
    data: JSONObject
    version: int
    created: int
    updated: int
    expires: int | None
    owner: str | None

    def live(self, now: int) -> bool:  # LIVE-1
        return self.expires is None or now < self.expires

    def as_session(self) -> Session:
        return Session.from_ms(
            self.id,
            copy.deepcopy(self.data),
            self.version,
            self.created,
            self.updated,
            self.expires,
            self.owner,
        )


class Model:
    """Sessions in a dict; expired ones stay until ``purge_expired``, invisible (LIVE-2)."""

    def __init__(self, now: int, default_ttl_ms: int | None = None) -> None:
        self.now = now
        self.default_ttl_ms = default_ttl_ms
        self.records: dict[str, ModelSession] = {}

    # --- queries ------------------------------------------------------------------------

    def live(self, session_id: str, owner: str | None = None) -> ModelSession | None:
        found = self.records.get(session_id)
        if found is None or not found.live(self.now):
            return None
        if owner is not None and found.owner is not None and found.owner != owner:
            return None  # OWN-2
        return found

    def live_ids(self) -> list[str]:
        return sorted(i for i, r in self.records.items() if r.live(self.now))

    def expired_ids(self) -> list[str]:
        return sorted(i for i, r in self.records.items() if not r.live(self.now))

    def expiries(self) -> list[int]:
        """The expiry instants not yet passed: where a clock may stop next."""
        ahead = {r.expires for r in self.records.values() if r.expires is not None}
        return sorted(e for e in ahead if e >= self.now)

    def get(self, session_id: str, owner: str | None = None) -> Session | None:
        found = self.live(session_id, owner)
        return None if found is None else found.as_session()

    def count(self) -> int:
        return len(self.live_ids())

    # --- writes (raise the store's errors, change nothing when they do) -----------------

    def _require(self, session_id: str, owner: str | None) -> ModelSession:
        found = self.live(session_id, owner)
        if found is None:
            raise SessionNotFound(session_id)
        return found

    def _expiry(self, ttl_ms: int | None, current: int | None) -> int | None:
        return current if ttl_ms is None else self.now + ttl_ms

    def create(
        self, session_id: str, data: JSONObject, ttl_ms: int | None, owner: str | None
    ) -> Session:
        if self.live(session_id) is not None:
            raise SessionExists(session_id)  # CREATE-3, whatever the owner
        ttl_ms = self.default_ttl_ms if ttl_ms is None else ttl_ms
        expires = None if ttl_ms is None else self.now + ttl_ms
        record = ModelSession(
            session_id, copy.deepcopy(data), 1, self.now, self.now, expires, owner
        )
        self.records[session_id] = record
        return record.as_session()

    def replace(
        self,
        session_id: str,
        data: JSONObject,
        expected_version: int | None,
        ttl_ms: int | None,
        owner: str | None = None,
    ) -> Session:
        current = self._require(session_id, owner)
        if expected_version is not None and expected_version != current.version:
            raise VersionConflict("", expected=expected_version, actual=current.version)
        record = replace(
            current,
            data=copy.deepcopy(data),
            version=current.version + 1,
            updated=self.now,
            expires=self._expiry(ttl_ms, current.expires),
        )
        self.records[session_id] = record
        return record.as_session()

    def touch(self, session_id: str, ttl_ms: int, owner: str | None = None) -> Session:
        current = self._require(session_id, owner)
        record = replace(current, expires=self.now + ttl_ms)
        self.records[session_id] = record
        return record.as_session()

    def delete(
        self, session_id: str, expected_version: int | None, owner: str | None = None
    ) -> bool:
        current = self.live(session_id, owner)
        if current is None:
            return False
        if expected_version is not None and expected_version != current.version:
            raise VersionConflict("", expected=expected_version, actual=current.version)
        del self.records[session_id]
        return True

    def purge_expired(self) -> int:
        expired = self.expired_ids()
        for session_id in expired:
            del self.records[session_id]
        return len(expired)

    def import_(self, sessions: list[ModelSession], on_conflict: str) -> ImportReport:
        fresh = [s for s in sessions if s.live(self.now)]
        clashes = {s.id for s in fresh if self.live(s.id) is not None}
        if clashes and on_conflict == "error":
            raise SessionExists(", ".join(sorted(clashes)))  # the store raises ImportRejected
        for record in fresh:
            if record.id not in clashes or on_conflict == "replace":
                self.records[record.id] = record
        kept = len(clashes) if on_conflict == "skip" else 0
        return ImportReport(
            imported=len(fresh) - len(clashes),
            skipped_expired=len(sessions) - len(fresh),
            skipped_conflict=kept,
            replaced=len(clashes) - kept,
        )

    def snapshot(self) -> dict[str, Any]:
        return {i: self.records[i].as_session() for i in self.live_ids()}
