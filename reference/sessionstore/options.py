"""Store options checked once, wherever they come from: a URL's query (text), a
constructor argument (a number) or the environment. A value out of range is one
:class:`~sessionstore.errors.ConfigurationError` that names the option; each rule is
written here once, so ``?lock_timeout=nan`` and ``SQLiteStore(lock_timeout=nan)`` are
refused alike.
"""

from __future__ import annotations

import math

from .errors import ConfigurationError


def positive_seconds(name: str, value: object) -> float:
    """A positive, finite number of seconds (text or a number). NaN or an infinity would
    make a wait endless, and zero or less would make it fail at once."""
    try:
        number = float(value) if isinstance(value, (str, int, float)) else math.nan
    except ValueError:
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return number


def whole_mib(name: str, value: object) -> int:
    """A whole number of MiB, zero or more (text or an int)."""
    try:
        number = int(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if type(number) is not int or number < 0:
        raise ConfigurationError(f"{name} must be a whole number of MiB >= 0, got {value!r}")
    return number
