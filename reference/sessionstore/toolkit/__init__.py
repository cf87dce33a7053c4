"""The implementer's toolkit: what a new session store is built from.

Two ways to write a store, both on the same semantics as the reference stores:

* **Subclass** :class:`RecordStore` and write four storage primitives — ``read``,
  a conditional ``write``, a conditional ``remove`` and an ordered ``scan`` — and the
  base class implements the whole contract (spec/SPEC.md) on them: validation, ttls,
  versions, owners, liveness by the injected clock, export, import, streaming, closing.
* **Write the store yourself** with the helpers below: the very functions the memory,
  SQLite and Redis stores call (they keep their own engine-native atomic paths).

Stability: this module follows semantic versioning on its own. The names in
``__all__``, their signatures and the contract each one documents change only in a
major version of sessionstore; a minor version may add names, optional parameters and
overridable methods with defaults. Anything reached another way (``sessionstore.
semantics``, ``sessionstore.export``, ``sessionstore.importing``, names with a leading
underscore) may change in any version.

The helpers, by the rule they keep:

Records and data
    ``Record`` — a stored session: id, data as compact UTF-8 JSON bytes, version, the
    three times in epoch milliseconds, owner; ``is_live``, ``visible_to``,
    ``check_version``, ``to_session``, and ``to_written_session`` for a record just
    written, whose session decodes the data only when the caller reads it.
    ``encode_data(data, limits)`` — validate data (VAL-2..VAL-5), return its bytes.
    ``encode_checked`` — the bytes and a decoded copy to hand back.
    ``decode_data(raw, id)`` — stored bytes to data; CorruptSession if they do not
    decode to an object (ERR-3). ``kept(encoded)`` — an exact-size copy of encoded bytes
    for a store that holds them in memory. ``sessions_of(records)`` — many records to
    sessions, yielding to the event loop between steps.
Arguments
    ``check_id``, ``check_owner``, ``check_version``, ``check_limit``,
    ``check_on_conflict`` — VAL-1, VAL-7, LIST-3; each returns its argument or raises
    InvalidSession. ``ttl_to_ms(ttl, limits)`` — TTL-1, VAL-6: a ttl in whole ms.
    ``new_id(limits)`` — a fresh id of at most ``limits.max_id_length`` characters (CREATE-2).
Time and visibility
    ``now_ms_function(clock)`` — the store's clock as epoch ms (LIVE-4, REC-5).
    ``to_ms``, ``from_ms`` — aware datetime to epoch ms and back. ``visible(stored,
    owner)`` — OWN-2.
Export
    ``export_document(now_ms, batches)`` — the ExportDocument of live records
    (EXPORT-1). ``chunked_document(now_ms, batches)`` — the same as bytes pieces, in the
    canonical one-record-a-line layout (EXPORT-2, EXPORT-3). ``record_to_export`` — one
    record as a SessionRecord. ``ExportDocument``, ``SessionRecord`` — the schema's
    models.
Import
    ``document_records(doc, limits)`` — what ``import_`` takes, validated into records
    or ImportRejected with every problem (IMPORT-1). ``collect_records(chunks, limits)``
    — the same for ``import_chunks`` (IMPORT-7). ``read_export(chunks, sink, limits)`` —
    the streaming reader behind it, handing validated records to a ``RecordSink`` in
    batches. ``plan_import(records, now_ms, clashes, on_conflict)`` — what to write and
    the report (IMPORT-3, IMPORT-4, IMPORT-6). ``import_report`` — the report alone, for
    a store that plans in its engine.
Lifecycle and opening
    ``ClosesOnExit`` — ``async with store:`` closes the store (CLOSE-1).
    ``split_url(url)`` — a store URL's parts, or ConfigurationError if malformed.
    ``url_options(config, allowed)`` — its query options, checked against ``allowed``
    (``namespace`` falls back to the config's): for a ``sessionstore.backends`` opener.
"""

from __future__ import annotations

from ..backends._lifecycle import ClosesOnExit
from ..export import (
    ExportDocument,
    SessionRecord,
    check_on_conflict,
    chunked_document,
    export_document,
    import_report,
    plan_import,
    record_to_export,
)
from ..factory import split_url, url_options
from ..importing import Chunks, RecordSink, collect_records, document_records, read_export
from ..semantics import (
    Record,
    check_id,
    check_limit,
    check_owner,
    check_version,
    decode_data,
    encode_checked,
    encode_data,
    from_ms,
    kept,
    new_id,
    now_ms_function,
    sessions_of,
    to_ms,
    ttl_to_ms,
    visible,
)
from ._base import CORRUPT_DATA, RecordStore, Write

__all__ = [
    "CORRUPT_DATA",
    "Chunks",
    "ClosesOnExit",
    "ExportDocument",
    "Record",
    "RecordSink",
    "RecordStore",
    "SessionRecord",
    "Write",
    "check_id",
    "check_limit",
    "check_on_conflict",
    "check_owner",
    "check_version",
    "chunked_document",
    "collect_records",
    "decode_data",
    "document_records",
    "encode_checked",
    "encode_data",
    "export_document",
    "from_ms",
    "import_report",
    "kept",
    "new_id",
    "now_ms_function",
    "plan_import",
    "read_export",
    "record_to_export",
    "sessions_of",
    "split_url",
    "to_ms",
    "ttl_to_ms",
    "url_options",
    "visible",
]
