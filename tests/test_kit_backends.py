"""The reference backends and the kit's matrix.

The whole kit runs against every reference backend in the ``conformance`` nox session
(noxfile.py), which CI runs with ``--strict`` and, where the store offers every hook,
``--require-verified``: a failing, non-strict or unverified clause fails CI there. The
memory store's verdict is also read clause by clause in tests/test_kit_on_memory.py.
What is checked here is cheap: each backend declares exactly the capabilities the
matrix's verdict relies on, and the matrix covers every backend the factory knows.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import pytest

from sessionstore import available_backends, open_store

ROOT = Path(__file__).resolve().parent.parent


class Backend(NamedTuple):
    """A reference backend: its target URL in a temporary folder and what it declares."""

    name: str
    target: Callable[[Path], str]
    capabilities: frozenset[str]


#: The in-process backends (test_round_trips.py pairs each with each); Redis, which needs
#: a server, is checked in test_redis_store.py and below.
BACKENDS = [
    Backend("memory", lambda tmp: "memory://", frozenset({"injectable_clock"})),
    Backend(
        "sqlite",
        lambda tmp: f"sqlite:///{tmp.absolute()}/kit.db",  # absolute: sqlite:////...
        frozenset({"injectable_clock", "durable", "multi_process"}),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
async def test_each_backend_declares_its_capabilities(backend: Backend, tmp_path: Path) -> None:
    async with open_store(backend.target(tmp_path)) as store:
        declared = {name for name, on in asdict(store.capabilities).items() if on}
    assert declared == backend.capabilities


def test_the_redis_store_declares_sharing_across_hosts() -> None:
    redis = pytest.importorskip("sessionstore.backends.redis")
    declared = {name for name, on in asdict(redis.RedisStore.capabilities).items() if on}
    assert declared == {"injectable_clock", "multi_process", "multi_host"}


def _noxfile_constant(name: str) -> object:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"noxfile.py has no {name}")


def test_the_matrix_covers_every_builtin_backend_strictly() -> None:
    backends = _noxfile_constant("BACKENDS")
    verdict = _noxfile_constant("VERDICT")
    assert isinstance(backends, tuple) and isinstance(verdict, dict)
    builtin = {"memory", "sqlite", "redis"} & set(available_backends())
    assert builtin <= set(backends) == set(verdict)
    assert all("--strict" in verdict[b] for b in backends)
    # only the memory store lacks a hook (disconnect_for_testing: ERR-4 stays unknown)
    assert {b for b in backends if "--require-verified" not in verdict[b]} == {"memory"}
