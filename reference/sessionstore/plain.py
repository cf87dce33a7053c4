"""Plainly valid export records, recognised fast (for the import reader, IMPORT-7).

An import spends most of its time on records that are valid. :func:`plain_fields`
accepts only records that ``SessionRecord`` (pydantic) accepts, with the same values, and
gives up (``None``) on anything else, which the caller then has pydantic judge, for its
exact messages; ``tests/test_importing.py`` holds the agreement tests.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .export import TIMESTAMP_PATTERN
from .semantics import MAX_SAFE_INTEGER
from .times import DAY_MS, EPOCH_ORDINAL
from .values import JSONObject

#: A record's fields once schema-valid: id, data, version, created, updated, expires, owner.
Fields = tuple[str, JSONObject, int, int, int, int | None, str | None]

_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # SessionRecord.id's pattern
_MAX_OWNER = 256  # SessionRecord.owner's max_length
# A timestamp is "YYYY-MM-DDTHH:MM" then ":SS." then "mmmZ", and TIMESTAMP_PATTERN checks
# the three parts independently: a text whose parts are each valid is valid. So each part
# costs a dictionary look-up: seconds and milliseconds from fixed tables, minutes from a
# cache, filled as they are seen (few in an export, bounded all the same).
_SECOND_MS = {f":{second:02d}.": second * 1000 for second in range(60)}
_MILLI_MS = {f"{milli:03d}Z": milli for milli in range(1000)}
_minute_ms: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> epoch ms of that minute


def timestamp_ms(text: str) -> int | None:
    """Epoch ms of a string matching TIMESTAMP_PATTERN; None for a day that does not exist
    (e.g. February 30)."""
    minute = _minute_ms.get(text[:16])
    if minute is None:
        try:
            day = date.fromisoformat(text[:10]).toordinal() - EPOCH_ORDINAL
        except ValueError:
            return None
        minute = day * DAY_MS + int(text[11:13]) * 3_600_000 + int(text[14:16]) * 60_000
        if len(_minute_ms) >= 65536:
            _minute_ms.clear()
        _minute_ms[text[:16]] = minute
    return minute + _SECOND_MS[text[16:20]] + _MILLI_MS[text[20:]]


def _plain_ms(value: Any) -> int | None:
    """Epoch ms of a valid timestamp, else None."""
    if type(value) is not str:
        return None
    minute = _minute_ms.get(value[:16])
    if minute is None:  # not seen yet, or not a minute
        return timestamp_ms(value) if TIMESTAMP_PATTERN.fullmatch(value) else None
    second, milli = _SECOND_MS.get(value[16:20]), _MILLI_MS.get(value[20:])
    return None if second is None or milli is None else minute + second + milli


def forget_timestamps() -> None:
    """Drop the minutes cached (an import calls this when it ends)."""
    _minute_ms.clear()


def plain_fields(value: Any) -> Fields | None:
    """The fields of a record that is plainly valid against SessionRecord, or None for
    anything else — which pydantic then judges, for its exact messages. Accepting here
    implies pydantic accepts with the same values (tests/test_importing.py)."""
    if type(value) is not dict or len(value) != 6 + ("owner" in value):
        return None
    try:  # the six required keys; with the count above, no key is missing or extra
        sid, data, version = value["id"], value["data"], value["version"]
        created_at, updated_at, expires_at = (
            value["created_at"],
            value["updated_at"],
            value["expires_at"],
        )
    except KeyError:
        return None
    owner = value.get("owner")
    if type(version) is float and version.is_integer():
        version = int(version)  # JSON Schema's integer includes 1.0 (export._integral)
    if (
        type(sid) is not str
        or _ID.fullmatch(sid) is None
        or type(data) is not dict
        or type(version) is not int
        or not 1 <= version <= MAX_SAFE_INTEGER
        or (owner is not None and (type(owner) is not str or not 1 <= len(owner) <= _MAX_OWNER))
    ):
        return None
    created = _plain_ms(created_at)
    updated = created if updated_at == created_at else _plain_ms(updated_at)
    expires = None if expires_at is None else _plain_ms(expires_at)
    if created is None or updated is None or (expires is None and expires_at is not None):
        return None
    return sid, data, version, created, updated, expires, owner
