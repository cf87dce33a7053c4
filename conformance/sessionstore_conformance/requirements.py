"""What each capability and test hook unlocks: the clauses a store gets verified by
declaring or offering it, derived from the registry (``sessionstore-conformance clauses
--requirements``).

A check names what it ``requires`` (:class:`~.checks.registry.Check`); the runner skips
it when the store lacks one, and :func:`~.runner.decide` then leaves each of its clauses
**unknown** unless another check that can run verifies it. Separately, a few clauses
bind only stores that declare a capability (:data:`~.spec.CAPABILITY_OF`): without it
they are **not claimed**. So, for one requirement R, with everything else in place:

- *not claimed without R*: the clauses bound to R;
- *unknown without R*: the clauses that every check verifying them requires R for,
  less those bound to R (not claimed wins over unknown);
- the checks that need R.

Written once here, from the same data the runner uses, so the implementer's guide
(docs/guide.md) prints what the kit does rather than a copy that can drift.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sessionstore import Capabilities

from .checks import REGISTRY, Check
from .checks.registry import HOOKS
from .spec import clauses


@dataclass(frozen=True)
class Requirement:
    name: str
    #: "capability" (a flag of ``store.capabilities``) or "hook" (an attribute the kit
    #: looks up on the store: a test hook or ``url``)
    kind: str
    checks: tuple[str, ...]
    not_claimed_without: tuple[str, ...]
    unknown_without: tuple[str, ...]


def _requirement(name: str, kind: str, registry: list[Check]) -> Requirement:
    bound = tuple(c.id for c in clauses().values() if c.capability == name)
    needing = [check for check in registry if name in check.requires]
    runs_without = {
        cid for check in registry if name not in check.requires for cid in check.clauses
    }
    only_with = tuple(
        cid
        for cid in clauses()
        if cid not in bound and cid not in runs_without and any(cid in c.clauses for c in needing)
    )
    return Requirement(name, kind, tuple(c.name for c in needing), bound, only_with)


def requirements(registry: list[Check] | None = None) -> list[Requirement]:
    """Every capability (in the order of :class:`Capabilities`), then every hook."""
    registry = REGISTRY if registry is None else registry
    named = [(f.name, "capability") for f in fields(Capabilities)] + [(h, "hook") for h in HOOKS]
    return [_requirement(name, kind, registry) for name, kind in named]


def markdown_table(found: list[Requirement]) -> str:
    """The requirements as a Markdown table (what the CLI prints, what the guide shows)."""

    def cell(items: tuple[str, ...]) -> str:
        return ", ".join(items) or "—"

    lines = [
        "| requirement | kind | not claimed without it | unknown without it | checks that need it |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in found:
        lines.append(
            f"| `{r.name}` | {r.kind} | {cell(r.not_claimed_without)} | "
            f"{cell(r.unknown_without)} | {cell(r.checks)} |"
        )
    return "\n".join(lines)
