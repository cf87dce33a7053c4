"""Records as the memory store keeps them: plain tuples, out of the garbage collector's
sight (issue 12, item 3).

CPython's cyclic collector stops tracking a plain tuple once it finds that the tuple
holds only atoms (str, bytes, int, None), and never stops tracking a named tuple. A full
collection walks every tracked object in one piece, so 100,000 sessions kept as
:class:`~sessionstore.semantics.Record` added about 120 ms to every full collection in
the process — whichever call triggered it — and kept as plain tuples add nothing
(``gc.collect()`` beside a store of 100,000: 150 ms against 22 ms, on a loaded 2-core
machine). The store turns a Record into this form when it keeps it and back when it
reads it, a C call each way. The point operations work on the plain tuple itself, by
field index: building a Record to read two fields of it was a tenth of a ``get``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from operator import itemgetter
from typing import Final, cast

from ..export import RecordFields
from ..semantics import Record, decode_data
from ..values import JSONObject, Session

#: A Record's fields in a plain tuple, in the Record's order.
Stored = RecordFields

#: The index of each field in a stored record (Record's field order).
ID: Final = 0
DATA: Final = 1
VERSION: Final = 2
CREATED: Final = 3
UPDATED: Final = 4
EXPIRES: Final = 5
OWNER: Final = 6

#: The id, data and expiry of a stored record, as functions (for map).
stored_id = itemgetter(ID)
stored_data = itemgetter(DATA)
stored_expiry = itemgetter(EXPIRES)


#: Record -> Stored and back, each one C call (no Python frame: these run on every
#: operation of the store).
stored = cast("Callable[[Stored], Stored]", tuple)
as_record = cast("Callable[[Stored], Record]", partial(tuple.__new__, Record))


def as_records(kept: Iterable[Stored]) -> list[Record]:
    return list(map(as_record, kept))


def session_of(kept: Stored, data: JSONObject | None = None) -> Session:
    """The caller's view of a stored record (Record.to_session); ``data`` is a fresh
    decoded copy when the caller has one."""
    sid = kept[ID]
    if data is None:
        data = decode_data(kept[DATA], sid)
    return Session.from_ms(sid, data, kept[VERSION], kept[CREATED], kept[UPDATED],
                           kept[EXPIRES], kept[OWNER])  # fmt: skip


def written_session_of(kept: Stored) -> Session:
    """The caller's view of a record just written from validated data
    (Record.to_written_session): its bytes are decoded when the data is first read."""
    return Session.from_json_ms(*kept)
