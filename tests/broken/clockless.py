"""Broken stores without an injectable clock: the kit's real-time mode must reject each.

Each is :class:`~clockless.ClocklessMemoryStore` (the reference memory store on the wall
clock) with one bug. The liveness bugs sit well beyond the kit's tolerance (250 ms):
a store whose liveness clock is 600 ms off from the clock it stamps with.
"""

from __future__ import annotations

import math
from typing import Any

from clockless import ClocklessMemoryStore

from sessionstore import JSONObject
from sessionstore.backends._stored import Stored

#: How far the broken stores' liveness clock is off (ms): beyond the 250 ms tolerance.
OFF_MS = 600


class ExpiresEarly(ClocklessMemoryStore):
    """Decides liveness by a clock 600 ms ahead of the one it stamps with: a session
    vanishes 600 ms before its expires_at (breaks LIVE-1)."""

    off_ms = OFF_MS

    def _live(self, session_id: str, now: int, owner: str | None = None) -> Stored | None:
        return super()._live(session_id, now + self.off_ms, owner)


class ExpiresLate(ClocklessMemoryStore):
    """Decides liveness by a clock 600 ms behind: an expired session stays readable for
    600 ms after its expires_at (breaks LIVE-1, LIVE-2)."""

    off_ms = OFF_MS

    def _live(self, session_id: str, now: int, owner: str | None = None) -> Stored | None:
        return super()._live(session_id, now - self.off_ms, owner)


def _rounded(value: Any) -> Any:
    if type(value) is float:
        rounded = float(f"{value:.15g}")
        return rounded if math.isfinite(rounded) else value
    if type(value) is dict:
        return {k: _rounded(v) for k, v in value.items()}
    if type(value) is list:
        return [_rounded(v) for v in value]
    return value


class RoundsFloats(ClocklessMemoryStore):
    """Keeps floats to 15 significant digits, as a backend storing decimal text of
    limited precision would: 1/3 comes back changed (breaks REC-2)."""

    def _encode(self, data: object) -> tuple[bytes, JSONObject]:
        return super()._encode(_rounded(data))


def expires_early(*, clock: Any) -> ExpiresEarly:
    return ExpiresEarly(clock=clock)


def expires_late(*, clock: Any) -> ExpiresLate:
    return ExpiresLate(clock=clock)


def rounds_floats(*, clock: Any) -> RoundsFloats:
    return RoundsFloats(clock=clock)
