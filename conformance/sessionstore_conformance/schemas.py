"""The spec's JSON Schemas, read from the installed ``sessionstore`` package."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource


def _load(name: str) -> dict[str, Any]:
    text = (files("sessionstore") / "_spec" / "schema" / name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def export_validator() -> Draft202012Validator:
    session, export = _load("session.schema.json"), _load("export.schema.json")
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in (session, export)
    )
    return Draft202012Validator(
        export, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def export_errors(document: Any) -> list[str]:
    """Every schema violation of an export document, as 'pointer: message'."""
    return [
        f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in export_validator().iter_errors(document)
    ]
