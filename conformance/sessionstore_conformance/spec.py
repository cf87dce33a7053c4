"""The spec's clauses, parsed from the SPEC.md that ships inside ``sessionstore``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

CLAUSE_LINE = re.compile(r"^- \*\*([A-Z]+-[0-9]+)\*\* \((MUST|SHOULD|MAY)\) (.*)$")
#: Clauses that bind only stores declaring a capability (others bind every store).
CAPABILITY_OF = {
    "LIVE-4": "injectable_clock",
    "DUR-1": "durable",
    "DUR-2": "durable",
    "PROC-1": "multi_process",
    "CONC-2": "multi_process",
}


@dataclass(frozen=True)
class Clause:
    id: str
    level: str
    text: str

    @property
    def capability(self) -> str | None:
        return CAPABILITY_OF.get(self.id)


def spec_text() -> str:
    return (files("sessionstore") / "_spec" / "SPEC.md").read_text(encoding="utf-8")


@cache
def clauses() -> dict[str, Clause]:
    """Every clause of the spec, in the order the spec gives them."""
    found: dict[str, Clause] = {}
    for line in spec_text().splitlines():
        match = CLAUSE_LINE.match(line.strip())
        if match:
            found[match[1]] = Clause(match[1], match[2], match[3])
    return found
