"""A clock the kit controls, injected into stores that declare ``injectable_clock``."""

from __future__ import annotations

from datetime import datetime, timezone

from sessionstore.semantics import from_ms, to_ms

#: Every run starts at the same instant, so runs are reproducible.
START = datetime(2030, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """Callable like a store's clock; moves only when the kit says so."""

    def __init__(self, start: datetime = START) -> None:
        self._ms = to_ms(start)

    def __call__(self) -> datetime:
        return from_ms(self._ms)

    @property
    def ms(self) -> int:
        return self._ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock never goes back")
        self._ms += ms

    def set_ms(self, ms: int) -> None:
        self.advance(ms - self._ms)
