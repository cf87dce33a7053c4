"""Language-neutral behaviour vectors: operation sequences with the results the model
predicts, written as driver-protocol requests and responses (spec/driver-protocol.md)
into spec/vectors/behaviour/sequences.json, so that a store in any language can be checked by its
own test runner, without the kit (issue 14, item 4).

Theory of operation. Each group starts a fresh store on a clock standing at START_MS.
Its steps are drawn from a seeded generator over a small pool of ids, owners, ttls and
data, so that ids collide, owners hide sessions from each other, versions conflict and
sessions expire at exact boundaries; every step is applied to the executable model
(model.py) and recorded with the response the model gives: ``ok`` with the wire form of
the result, or ``error`` with the contract's error name (and ``expected``/``actual`` for
a VersionConflict). Clock steps are the protocol's ``clock.advance``. Generation is
deterministic: ``python -m sessionstore_conformance.behaviour_vectors`` rewrites the file
byte for byte the same, and a test checks that it is up to date.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sessionstore import Session, SessionExists, SessionNotFound, VersionConflict

from .model import Model

#: The clock at the start of every group: 2030-01-01T00:00:00.000Z.
START_MS = 1_893_456_000_000
SEED = 14
GROUPS = 40
STEPS = 30
IDS = ("a", "b", "c")
OWNERS = (None, None, "p", "q")
#: Seconds, each a whole number of milliseconds (TTL-1's rounding is checked elsewhere).
TTLS = (None, None, 0.001, 1, 2.5)
ADVANCES_MS = (0, 1, 999, 1000, 1500)
CLAUSES = [
    "REC-3", "REC-4", "LIVE-1", "LIVE-2", "TTL-2", "TTL-3", "CREATE-1", "CREATE-3",
    "CREATE-4", "GET-1", "REPLACE-1", "REPLACE-2", "REPLACE-3", "UPDATE-1", "UPDATE-3",
    "TOUCH-1", "TOUCH-2", "DELETE-1", "DELETE-2", "COUNT-1", "PURGE-1", "OWN-1", "OWN-2",
]  # fmt: skip


def _timestamp(moment: datetime) -> str:
    """REC-5: RFC 3339, UTC, milliseconds (exact: no float in between)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def wire_session(session: Session | None) -> dict[str, Any] | None:
    """A session as the protocol writes it (3.1)."""
    if session is None:
        return None
    expires = session.expires_at
    return {
        "id": session.id,
        "data": session.data,
        "version": session.version,
        "created_at": _timestamp(session.created_at),
        "updated_at": _timestamp(session.updated_at),
        "expires_at": None if expires is None else _timestamp(expires),
        "owner": session.owner,
    }


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else round(ttl * 1000)


def _update(model: Model, args: dict[str, Any]) -> Session:
    """update as the model sees it: the transform on a copy of the data, then a write."""
    current = model.get(args["id"], args["owner"])
    if current is None:
        raise SessionNotFound(args["id"])  # UPDATE-3
    data = dict(current.data)
    step = args["transforms"][0]
    if "increment" in step:
        key = step["increment"]["key"]
        value = data.get(key)
        data[key] = value + 1 if type(value) is int else 0
    else:
        data.update(step["set"])
    return model.replace(args["id"], data, None, _ms(args["ttl"]), args["owner"])


def _step(rng: random.Random, model: Model) -> dict[str, Any]:
    """One request, applied to the model, with its predicted response."""
    op = rng.choice(
        ["create", "create", "get", "replace", "update", "touch", "delete", "count",
         "purge_expired", "clock.advance", "clock.advance"]
    )  # fmt: skip
    sid, owner, ttl = rng.choice(IDS), rng.choice(OWNERS), rng.choice(TTLS)
    version = rng.choice([None, None, 1, 2])
    data = {"n": rng.randint(0, 3), "s": rng.choice(["", "x", "é😀"])}
    calls: dict[str, tuple[dict[str, Any], Any]] = {
        "create": (
            {"data": data, "ttl": ttl, "id": sid, "owner": owner},
            lambda a: wire_session(model.create(a["id"], a["data"], _ms(a["ttl"]), a["owner"])),
        ),
        "get": (
            {"id": sid, "owner": owner},
            lambda a: wire_session(model.get(a["id"], a["owner"])),
        ),
        "replace": (
            {"id": sid, "data": data, "expected_version": version, "ttl": ttl, "owner": owner},
            lambda a: wire_session(
                model.replace(a["id"], a["data"], a["expected_version"], _ms(a["ttl"]), a["owner"])
            ),
        ),
        "update": (
            {
                "id": sid,
                "transforms": [
                    rng.choice([{"increment": {"key": "n", "by": 1}}, {"set": {"t": 1}}])
                ],
                "ttl": ttl,
                "owner": owner,
            },
            lambda a: wire_session(_update(model, a)),
        ),
        "touch": (
            {"id": sid, "ttl": ttl or 1, "owner": owner},
            lambda a: wire_session(model.touch(a["id"], _ms(a["ttl"]) or 0, a["owner"])),
        ),
        "delete": (
            {"id": sid, "expected_version": version, "owner": owner},
            lambda a: model.delete(a["id"], a["expected_version"], a["owner"]),
        ),
        "count": ({}, lambda a: model.count()),
        "purge_expired": ({}, lambda a: model.purge_expired()),
        "clock.advance": ({"ms": rng.choice(ADVANCES_MS)}, lambda a: _advance(model, a["ms"])),
    }
    args, call = calls[op]
    step: dict[str, Any] = {"op": op, "args": args}
    try:
        step["ok"] = call(args)
    except VersionConflict as conflict:
        step["error"] = {
            "type": "VersionConflict",
            "expected": conflict.expected,
            "actual": conflict.actual,
        }
    except (SessionNotFound, SessionExists) as error:
        step["error"] = {"type": type(error).__name__}
    return step


def _advance(model: Model, ms: int) -> None:
    model.now += ms


def generate(seed: int = SEED, groups: int = GROUPS, steps: int = STEPS) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    vectors = []
    for n in range(groups):
        model = Model(START_MS)
        vectors.append(
            {
                "description": f"random sequence {n + 1} of {groups} (seed {seed})",
                "clauses": CLAUSES,
                "start_ms": START_MS,
                "steps": [_step(rng, model) for _ in range(steps)],
            }
        )
    return vectors


def render(vectors: list[dict[str, Any]]) -> str:
    """The file's text: one step a line, so that a change reads as a short diff."""
    lines = ["["]
    for g, group in enumerate(vectors):
        head = {k: v for k, v in group.items() if k != "steps"}
        lines.append("  " + json.dumps(head, ensure_ascii=False)[:-1] + ', "steps": [')
        for s, step in enumerate(group["steps"]):
            comma = "," if s < len(group["steps"]) - 1 else ""
            lines.append("    " + json.dumps(step, ensure_ascii=False) + comma)
        lines.append("  ]}" + ("," if g < len(vectors) - 1 else ""))
    lines.append("]")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path("spec/vectors/behaviour/sequences.json")
    path.write_text(render(generate()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
