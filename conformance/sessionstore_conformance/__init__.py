"""sessionstore_conformance: the conformance kit for session stores.

Point it at a store (a URL or ``package.module:factory``) with the CLI
``sessionstore-conformance run TARGET``, the pytest option ``--sessionstore=TARGET``,
or :func:`run`; it reports, clause by clause of spec/SPEC.md, what the store does.
"""

from __future__ import annotations

from .checks import REGISTRY, Check, Ctx
from .clock import FakeClock
from .errors import ClauseViolation, UsageError
from .model import Model
from .runner import CheckResult, ClauseResult, Report, run
from .spec import Clause, clauses

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
