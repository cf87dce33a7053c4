"""A gallery of deliberately broken session stores: the conformance kit must reject each."""

from __future__ import annotations

from .concurrent import CONCURRENT
from .delayed import LATENCY
from .slow import SLOW as SLOW
from .stores import GALLERY, Mutant

__all__ = ["CONCURRENT", "GALLERY", "LATENCY", "Mutant"]
