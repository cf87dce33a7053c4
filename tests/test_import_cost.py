"""What ``import sessionstore`` and the pytest plugin import: the cheap core only.

``import sessionstore`` must stay under 100 ms (issue 12): pydantic-settings alone costs
about 200 ms, pydantic and asyncio about 50 ms each. Timings on a shared machine are
noise, so these tests check the cause instead: which modules a fresh interpreter holds
after the import. The names whose modules need them are imported on first use.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Modules that ``import sessionstore`` must not import (each costs 15-200 ms), and the
#: kit's extra, which the plugin must not import either.
HEAVY = (
    "pydantic",
    "pydantic_settings",
    "asyncio",
    "importlib.metadata",
    "orjson",
    "sortedcontainers",
    "redis",
    "click",
    "rich",
    "hypothesis",
)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_sessionstore_imports_no_heavy_module() -> None:
    loaded = _modules_after("import sessionstore")
    assert "sessionstore" in loaded
    assert sorted(loaded & set(HEAVY)) == []
    # the backends, the service and the CLI come with their first use
    assert not {m for m in loaded if m.startswith("sessionstore.backends")}
    assert "sessionstore.service" not in loaded and "sessionstore.cli" not in loaded


def test_the_lazy_names_are_the_real_ones() -> None:
    import sessionstore
    from sessionstore.config import StoreConfig
    from sessionstore.export import ExportDocument, SessionRecord
    from sessionstore.service import BackupError, SessionService

    assert sessionstore.StoreConfig is StoreConfig
    assert sessionstore.ExportDocument is ExportDocument
    assert sessionstore.SessionRecord is SessionRecord
    assert sessionstore.SessionService is SessionService
    assert sessionstore.BackupError is BackupError
    with pytest.raises(AttributeError, match="no attribute 'StoreConfg'"):
        _ = sessionstore.StoreConfg
    # every name of __all__ is there, lazy or not
    assert all(getattr(sessionstore, name) is not None for name in sessionstore.__all__)


def test_opening_a_store_imports_what_it_needs() -> None:
    loaded = _modules_after(
        "import asyncio, sessionstore\n"
        "async def main():\n"
        "    async with sessionstore.open_store('memory://') as store:\n"
        "        await store.create({'a': 1})\n"
        "asyncio.run(main())"
    )
    assert {"pydantic_settings", "sessionstore.backends.memory"} <= loaded


def test_the_pytest_plugin_imports_nothing_of_the_kit() -> None:
    """Loaded into every pytest run (pytest11): without --sessionstore it only adds options."""
    pytest_alone = _modules_after("import pytest")
    loaded = _modules_after("import pytest, sessionstore_conformance.plugin") - pytest_alone
    assert sorted(loaded & set(HEAVY)) == []
    assert loaded == {
        "sessionstore_conformance",
        "sessionstore_conformance.extra",
        "sessionstore_conformance.plugin",
        "sessionstore_conformance.time_limits",
    }


def test_the_kit_package_names_come_on_first_use() -> None:
    loaded = _modules_after("from sessionstore_conformance import REGISTRY, run")
    assert {"hypothesis", "sessionstore_conformance.runner"} <= loaded
