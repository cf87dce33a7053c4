"""The ``conformance`` extra: what the kit needs beyond sessionstore's own dependencies.

``pip install sessionstore`` alone installs the kit's code but not Hypothesis, anyio or
jsonschema. The pytest plugin (loaded into every pytest run through the ``pytest11``
entry point) and the CLI's ``--help`` must work without them, so they import the kit
through :func:`kit_module`, and only when it is used: a missing dependency is then one
line naming the extra to install, not a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL = "pip install 'sessionstore[conformance]'"


class MissingExtra(ModuleNotFoundError):
    """The kit was used without the ``conformance`` extra installed."""


def kit_module(name: str) -> ModuleType:
    """The kit's module ``name`` (``.runner``), imported; :class:`MissingExtra` when a
    third-party module it needs is not installed."""
    try:
        return importlib.import_module(name, __package__)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing.startswith("sessionstore"):
            raise  # the kit's own module is missing: a broken install, not the extra
        raise MissingExtra(
            f"the conformance kit needs {missing}, from the conformance extra: {INSTALL}",
            name=missing,
        ) from exc


def load_kit() -> None:
    """Import the whole kit (checks, runner, report) at once, so that a missing extra
    shows before any work starts rather than halfway through a run."""
    for name in (".runner", ".report"):
        kit_module(name)
