"""Every check of the kit. Importing this package fills :data:`REGISTRY`."""

from __future__ import annotations

from . import basics as basics
from . import concurrency as concurrency
from . import copies as copies
from . import durability as durability
from . import errors_carry as errors_carry
from . import exactness as exactness
from . import fields_kept as fields_kept
from . import imports as imports
from . import latency as latency
from . import linearizable as linearizable
from . import linearizable_processes as linearizable_processes
from . import roundtrip as roundtrip
from . import scale as scale
from . import stateful as stateful
from . import validation as validation
from .registry import REGISTRY, Check, Ctx

__all__ = ["REGISTRY", "Check", "Ctx"]
