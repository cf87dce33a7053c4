"""sessionstore_conformance: the conformance kit for session stores.

Point it at a store (a URL or ``package.module:factory``) with the CLI
``sessionstore-conformance run TARGET``, the pytest option ``--sessionstore=TARGET``,
or :func:`run`; it reports, clause by clause of spec/SPEC.md, what the store does.

The names below are imported on first use: the pytest plugin lives in this package and
is loaded into every pytest run, also where the ``conformance`` extra (Hypothesis) is not
installed (:mod:`.extra`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .extra import kit_module

if TYPE_CHECKING:
    from .checks import REGISTRY, Check, Ctx
    from .clock import FakeClock
    from .errors import ClauseViolation, UsageError
    from .model import Model
    from .runner import CheckResult, ClauseResult, Report, run
    from .spec import Clause, clauses

#: Each public name and the module that defines it.
_HOMES = {
    "REGISTRY": ".checks",
    "Check": ".checks",
    "Ctx": ".checks",
    "FakeClock": ".clock",
    "ClauseViolation": ".errors",
    "UsageError": ".errors",
    "Model": ".model",
    "CheckResult": ".runner",
    "ClauseResult": ".runner",
    "Report": ".runner",
    "run": ".runner",
    "Clause": ".spec",
    "clauses": ".spec",
}

__all__ = [
    "REGISTRY",
    "Check",
    "CheckResult",
    "Clause",
    "ClauseResult",
    "ClauseViolation",
    "Ctx",
    "FakeClock",
    "Model",
    "Report",
    "UsageError",
    "clauses",
    "run",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(kit_module(home), name)
    globals()[name] = value  # found by the module's own lookup from now on
    return value
