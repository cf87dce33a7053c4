"""A memory store configured away from every default: the kit's second target in
mutation testing (docs/mutation.md).

The spec lets a store be constructed with other ``limits`` (it then applies and exposes
those, *Validation limits*) and with a ``default_ttl`` (TTL-3). On a store built with the
defaults, a store that ignores its configuration looks exactly right: a mutant that
drops a ``limits`` argument falls back to the defaults, and one that loses
``default_ttl`` gives sessions no expiry, as the default does. Here the limits differ
from the spec's defaults and ``default_ttl`` is set, so both show.
"""

from __future__ import annotations

from datetime import timedelta

from sessionstore import Limits
from sessionstore.backends.memory import MemoryStore
from sessionstore.values import Clock

#: Every limit but one tighter than the default, max_ttl looser: a ttl between the two
#: tops is accepted here and refused by a store that validates it against the defaults
#: anywhere, even after the first check (REPLACE-1's expiry is computed under the lock).
#: 32 id characters is exactly the length of a generated id (24 random bytes, URL-safe
#: base64): a store's generated ids must be ids it accepts (CREATE-2, VAL-1).
LIMITS = Limits(
    max_id_length=32,
    max_owner_length=40,
    max_depth=12,
    max_data_bytes=65_536,
    min_ttl=timedelta(milliseconds=1),
    max_ttl=timedelta(days=5000),
    max_list_limit=250,
)
#: Longer than the default max_ttl, so a store that checks it against the defaults shows
#: too; far longer than any check moves the clock.
DEFAULT_TTL = timedelta(days=4000)


def store(*, clock: Clock | None = None) -> MemoryStore:
    """A fresh memory store with :data:`LIMITS` and :data:`DEFAULT_TTL`."""
    return MemoryStore(clock=clock, default_ttl=DEFAULT_TTL, limits=LIMITS)
