"""The data every subject is measured on: session payloads of a given encoded size,
ids, and the export document that fills a store.

One document per (store size, payload) cell is built once and handed, as the same
bytes, to every subject's ``load`` (the timed ``import``): ours reads it with
``import_``, the raw engines and the peers parse it with orjson and store what they
keep. It is written with the store's own export writer (sessionstore.export), so it is
exactly what ``export`` produces.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sessionstore.export import DOCUMENT_TAIL, document_head, record_json

#: Every timed operation, in the order the runner measures them. ``import`` is the bulk
#: load that fills the store; ``purge`` removes the 1% of sessions made expired before it.
OPS = (
    "import",
    "create",
    "get",
    "replace",
    "update",
    "touch",
    "list",
    "count",
    "delete",
    "purge",
    "export",
)
#: The ttl of every session written, in seconds (an hour: nothing expires by itself).
TTL_S = 3600
#: Sessions listed per ``list`` call.
PAGE = 100


def payload(size: int, n: int = 0) -> dict[str, Any]:
    """A session's data that encodes to ``size`` bytes of JSON (at least ~60): a few
    typed fields and a filler string, so that encoding does realistic work."""
    data: dict[str, Any] = {
        "user": {"id": 12345, "roles": ["admin", "editor"]},
        "n": n,
        "flags": {"beta": True},
        "pad": "",
    }
    data["pad"] = "x" * max(0, size - len(orjson.dumps(data)))
    return data


def session_id(i: int) -> str:
    """The id of the i-th session of a fill; ids sort in the order they are made."""
    return f"s{i:08d}"


def document(count: int, size: int, now_ms: int | None = None) -> bytes:
    """An export document of ``count`` live sessions whose data encode to ``size`` bytes,
    each expiring TTL_S from now."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    expires = now + TTL_S * 1000
    data = orjson.dumps(payload(size))
    records = (record_json((session_id(i), data, 1, now, now, expires, None)) for i in range(count))
    return b"".join((document_head(now), b"\n", b",\n".join(records), DOCUMENT_TAIL))


def bump(data: dict[str, Any]) -> dict[str, Any]:
    """The ``update`` callback every subject runs: one counter incremented."""
    data["n"] += 1
    return data
