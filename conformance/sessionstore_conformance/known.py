"""Known failures: clauses an implementer knows their store breaks, each with a reason.

A run reports such a clause as "known failure" instead of failing on it, and fails the
other way round when the clause starts to pass ("unexpected pass"), so the list cannot
go stale: fixing the store forces the entry out. The file is TOML, either a file of its
own or the project's ``pyproject.toml``::

    [known-failures]                                   # a file of its own
    "TTL-2" = "expiry is rounded to whole seconds by the engine"

    [tool.sessionstore-conformance.known-failures]     # in pyproject.toml
    "TTL-2" = "expiry is rounded to whole seconds by the engine"
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .errors import UsageError
from .spec import clauses

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

TABLE = "known-failures"


def _table(document: dict[str, Any]) -> Any:
    tool = document.get("tool", {})
    if isinstance(tool, dict) and TABLE in tool.get("sessionstore-conformance", {}):
        return tool["sessionstore-conformance"][TABLE]
    return document.get(TABLE)


def load_known_failures(path: str | Path) -> dict[str, str]:
    """The clause ids and reasons in ``path``; UsageError for anything unclear."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"known failures: cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"known failures: {path} is not TOML: {exc}") from None
    table = _table(document)
    if not isinstance(table, dict):
        raise UsageError(
            f"known failures: {path} has no [{TABLE}] table "
            f"(or [tool.sessionstore-conformance.{TABLE}] in pyproject.toml)"
        )
    known = clauses()
    for clause_id, reason in table.items():
        if clause_id not in known:
            raise UsageError(f"known failures: {clause_id!r} in {path} is not a clause of the spec")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"known failures: {clause_id} in {path} needs a reason (a string)")
    return {clause_id: reason.strip() for clause_id, reason in table.items()}
