"""Records as the memory store keeps them: plain tuples, out of the garbage collector's
sight (issue 12, item 3).

CPython's cyclic collector stops tracking a plain tuple once it finds that the tuple
holds only atoms (str, bytes, int, None), and never stops tracking a named tuple. A full
collection walks every tracked object in one piece, so 100,000 sessions kept as
:class:`~sessionstore.semantics.Record` added about 120 ms to every full collection in
the process — whichever call triggered it — and kept as plain tuples add nothing
(``gc.collect()`` beside a store of 100,000: 150 ms against 22 ms, on a loaded 2-core
machine). The store turns a Record into this form when it keeps it and back when it
reads it, a C call each way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from operator import itemgetter
from typing import cast

from ..export import RecordFields
from ..semantics import Record

#: A Record's fields in a plain tuple, in the Record's order.
Stored = RecordFields

#: The id, data and expiry of a stored record (Record's field order).
stored_id = itemgetter(0)
stored_data = itemgetter(1)
stored_expiry = itemgetter(5)


#: Record -> Stored and back, each one C call (no Python frame: these run on every
#: operation of the store).
stored = cast("Callable[[Record], Stored]", tuple)
as_record = cast("Callable[[Stored], Record]", partial(tuple.__new__, Record))


def as_records(kept: Iterable[Stored]) -> list[Record]:
    return list(map(as_record, kept))
