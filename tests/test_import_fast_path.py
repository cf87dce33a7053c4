"""Imports from JSON text take a faster validation path for session data; it must accept
and reject exactly what the full path does (the data vectors of spec/vectors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from sessionstore import ImportRejected
from sessionstore.export import parse_export

VECTORS = Path(__file__).resolve().parents[1] / "spec" / "vectors" / "data.json"
CASES = [
    (f"{group['description']}: {test['description']}", test["data"], test["valid"])
    for group in json.loads(VECTORS.read_text())
    for test in group["tests"]
]


def document(data: Any) -> dict[str, Any]:
    stamp = "2030-01-01T00:00:00.000Z"
    record = {
        "id": "x",
        "data": data,
        "version": 1,
        "created_at": stamp,
        "updated_at": stamp,
        "expires_at": None,
    }
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": stamp,
        "sessions": [record],
    }


def accepted(doc: Any) -> bool:
    try:
        parse_export(doc)
    except ImportRejected:
        return False
    return True


@pytest.mark.parametrize(("name", "data", "valid"), CASES, ids=[c[0] for c in CASES])
def test_text_and_objects_are_judged_alike(name: str, data: Any, valid: bool) -> None:
    doc = document(data)
    as_text = json.dumps(doc).encode()  # stdlib: keeps integers beyond 2**53 exact
    assert accepted(doc) is valid
    assert accepted(as_text) is valid


def test_round_trip_bytes_are_identical() -> None:
    data = {"a": [1, 2.5, None, True, {"b": "ü"}], "n": 2**53 - 1}
    (from_text,) = parse_export(orjson.dumps(document(data)))
    (from_object,) = parse_export(document(data))
    assert from_text.data == from_object.data
