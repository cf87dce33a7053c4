"""Mutants that are correct one call at a time but not atomic: each awaits in the middle
of an operation, between what it read and what it writes. The sequential suite passes
them; only the linearizability check (CONC-1) can reject them.
"""

from __future__ import annotations

import asyncio

from sessionstore import TTL, JSONObject, Session, VersionConflict
from sessionstore.backends._stored import as_record, session_of
from sessionstore.backends.memory import MemoryStore
from sessionstore.contract import Updater
from sessionstore.semantics import (
    Record,
    check_id,
    check_owner,
    check_version,
    decode_data,
    encode_data,
    ttl_to_ms,
)

from .stores import Mutant, held


class UpdateReadAwaitWrite(MemoryStore):
    """update reads the record, awaits, then writes what it computed from the stale read:
    concurrent updates overwrite each other (and reuse one version number)."""

    async def update(
        self, id: str, fn: Updater, *, ttl: TTL | None = None, owner: str | None = None
    ) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        # bad input is refused before anything is read (ERR-2)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            current = as_record(self._require(id, self._now(), owner))
        encoded = encode_data(fn(decode_data(current.data, id)), self.limits)
        await asyncio.sleep(0)
        with self._lock:
            record = self._written(current, encoded, self._now(), ttl_ms)
        return session_of(record)


class ReplaceCheckAwaitWrite(MemoryStore):
    """replace compares expected_version, awaits, then writes: two compare-and-sets with
    the same expected version can both succeed."""

    async def replace(
        self,
        id: str,
        data: JSONObject,
        *,
        expected_version: int | None = None,
        ttl: TTL | None = None,
        owner: str | None = None,
    ) -> Session:
        check_id(id, self.limits)
        encoded = encode_data(data, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        # bad input is refused before anything is read (ERR-2)
        ttl_ms = None if ttl is None else ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            current = as_record(self._require(id, self._now(), owner))
            if expected_version is not None and expected_version != current.version:
                raise VersionConflict(
                    f"session {id!r} is at version {current.version}, not {expected_version}",
                    expected=expected_version,
                    actual=current.version,
                )
        await asyncio.sleep(0)
        with self._lock:
            latest: Record = held(self, id) or current
            record = self._written(latest, encoded, self._now(), ttl_ms)
        return session_of(record)


class TouchWritesStale(MemoryStore):
    """touch reads the record, awaits, then writes the record it read with the new expiry,
    clobbering any write (or delete) that happened meanwhile."""

    async def touch(self, id: str, ttl: TTL, *, owner: str | None = None) -> Session:
        check_id(id, self.limits)
        check_owner(owner, self.limits)
        ttl_ms = ttl_to_ms(ttl, self.limits)
        with self._lock:
            self._open_check()
            now = self._now()
            current = as_record(self._require(id, now, owner))
            decode_data(current.data, id)  # ERR-3, as the reference store
        await asyncio.sleep(0)
        record = Record(
            id,
            current.data,
            current.version,
            current.created_ms,
            current.updated_ms,
            now + ttl_ms,
            current.owner,
        )
        with self._lock:
            self._put(record)
        return record.to_session()


class DeleteCheckAwaitDelete(MemoryStore):
    """delete checks that a live session is there, awaits, then removes whatever is there
    and answers True: it races create (removing the new session) and other deletes (two
    deletes of one session both answer True)."""

    async def delete(
        self, id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> bool:
        check_id(id, self.limits)
        check_version(expected_version)
        check_owner(owner, self.limits)
        with self._lock:
            self._open_check()
            kept = self._live(id, self._now(), owner)
            if kept is None:
                return False
            current = as_record(kept)
            if expected_version is not None and expected_version != current.version:
                raise VersionConflict(
                    f"session {id!r} is at version {current.version}, not {expected_version}",
                    expected=expected_version,
                    actual=current.version,
                )
        await asyncio.sleep(0)
        with self._lock:
            there = held(self, id)
            if there is not None:
                self._remove(there)
        return True


#: Caught only by concurrency: the sequential checks pass every one of them.
CONCURRENT: list[Mutant] = [
    Mutant(UpdateReadAwaitWrite, ("CONC-1",)),
    Mutant(ReplaceCheckAwaitWrite, ("CONC-1",)),
    Mutant(TouchWritesStale, ("CONC-1",)),
    Mutant(DeleteCheckAwaitDelete, ("CONC-1",)),
]
