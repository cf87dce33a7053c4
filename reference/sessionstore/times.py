"""Time as the contract keeps it: integer milliseconds since the Unix epoch, UTC (REC-5)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .errors import InvalidSession

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)
#: Below this (the year 2191), ms / 1000 as a float rounds back to the exact millisecond.
_FAST_FROM_MS_LIMIT = 7_000_000_000_000


def to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (sub-ms part dropped)."""
    if moment.tzinfo is None:
        raise InvalidSession("times must be timezone-aware datetimes")
    return (moment - EPOCH) // _ONE_MS


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    if 0 <= ms < _FAST_FROM_MS_LIMIT:
        return datetime.fromtimestamp(ms / 1000, timezone.utc)  # 3x faster than the sum
    return EPOCH + _ONE_MS * ms
