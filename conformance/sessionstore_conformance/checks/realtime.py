"""Time in the checks, one code path for both modes (LIVE-4 and its note).

**Clocked mode** (the store declares ``injectable_clock``): the kit's :class:`FakeClock`
is the store's clock. Time moves only when a check lets it pass, a call takes no time,
and every instant is exact: expiry is tested at the boundary (LIVE-1: live at
``expires_at - 1 ms``, expired at ``expires_at``).

**Real-time mode** (no ``injectable_clock``): the store keeps time itself. The kit reads
the wall clock (``time.time``: the UTC epoch the store's timestamps use) when it
invokes a call and when the call returns, and lets time pass by sleeping. It assumes
the store's clock agrees with its own within the *tolerance* (``tolerance_ms``,
:data:`DEFAULT_TOLERANCE_MS` unless configured). A session written with ttl ``T`` by a
call spanning ``[t0, t1]`` expires somewhere in ``[t0 + T, t1 + T]`` (:meth:`Span.after`);
so a read must see it live if the read *returned* before ``t0 + T - tolerance``, and
must not see it if the read was *invoked* at or after ``t1 + T + tolerance``. A read in
between decides nothing (:func:`due` says None): the check tries again, and after
:data:`ATTEMPTS` undecided tries reports *not verified*. A slow machine can thus make a
clause unknown, never failed; and no clause passes unless a decided read showed it.

With the injected clock the same rule holds with a tolerance of 0 and ``t0 == t1``:
exactly LIVE-1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: How far (ms) the store's clock may be from the kit's wall clock in real-time mode.
DEFAULT_TOLERANCE_MS = 250
#: Tries at a real-time observation before its clauses are reported not verified.
ATTEMPTS = 3
#: Real-time mode reads "just before" an expiry this long (ms) ahead of the tolerance,
#: time for the read to return; a slower read decides nothing and is tried again.
READ_MARGIN_MS = 100
#: The shortest ttl (ms) the real-time checks use; see :func:`short_ttl_ms`.
SHORT_TTL_MS = 1000


def wall_ms() -> int:
    """The wall clock in whole epoch milliseconds, as a store truncates its own (REC-5)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Span:
    """The kit's instants (epoch ms) at which a call was invoked and returned."""

    start: int
    end: int

    def after(self, ms: int) -> Span:
        """Where an expiry ``ms`` after this call lies (the store's now is inside the span)."""
        return Span(self.start + ms, self.end + ms)


def due(expiry: Span, read: Span, tolerance_ms: int) -> bool | None:
    """Must a session expiring within ``expiry`` be gone for a read spanning ``read``?
    False: it must be live; True: it must be expired; None: the read decides nothing."""
    if read.end < expiry.start - tolerance_ms:
        return False
    if read.start >= expiry.end + tolerance_ms:
        return True
    return None


def short_ttl_ms(tolerance_ms: int) -> int:
    """A ttl short enough to sleep through, long enough that a read well inside the
    tolerance is still decidable: 1 s, or four tolerances when those are longer."""
    return max(SHORT_TTL_MS, 4 * tolerance_ms)


def mode_line(injectable_clock: bool, tolerance_ms: int = DEFAULT_TOLERANCE_MS) -> str:
    """The line a report prints to say how expiry was checked."""
    if injectable_clock:
        return "time: injected clock (expiry checked exactly, at the boundary)"
    return (
        f"time: real-time mode, no injectable clock (expiry checked on the wall clock "
        f"within a tolerance of {tolerance_ms} ms)"
    )
