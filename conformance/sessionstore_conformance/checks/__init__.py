"""Every check of the kit. Importing this package fills :data:`REGISTRY`."""

from __future__ import annotations

from . import basics, concurrency, imports, stateful, validation  # noqa: F401 - registration
from .registry import REGISTRY, Check, Ctx

__all__ = ["REGISTRY", "Check", "Ctx"]
