"""The conformance kit as a plain pytest module, for mutation testing (docs/mutation.md).

mutmut selects, for each mutant, the tests that ran the mutated function and hands their
pytest node ids back to pytest as arguments. The kit's own plugin items
(``pytest --sessionstore=memory://``) have no file in their node id, so pytest cannot
select them by id; here the same checks are one parametrized test with ids such as
``benchmarks/mutation/kit_items.py::test_check[create_existing]``. Each test runs one
registered check through the runner's ``run_check`` on a fresh memory store, exactly as
the CLI and the plugin do, and fails when the check fails. A check that cannot decide
(unknown) or needs a capability the store lacks is skipped: it kills no mutant.

Every check runs on two targets (``MUTATION_TARGETS``, comma-separated): ``memory://``,
the store as users open it, and ``configured:store`` (configured.py), a memory store
whose limits and ``default_ttl`` differ from the defaults, so that a mutant which
ignores the store's configuration is seen. Item ids read ``test_check[memory-NAME]``
and ``test_check[configured-NAME]``.

Effort: the ``ci`` profile (derandomized, so a verdict replays), with fewer Hypothesis
examples (``MUTATION_EXAMPLES``, default 30) and a smaller large store
(``MUTATION_LARGE_STORE``, default 12,000 sessions): each mutant runs every check that touches
the mutated function, and the stateful suite dominates that cost. Checks run cheapest
first (conftest.py; mutmut passes ``-x``), so a mutant dies on the first check that sees it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as Settings

from sessionstore import Capabilities
from sessionstore_conformance.checks import REGISTRY, scale
from sessionstore_conformance.checks.registry import Check, Harness
from sessionstore_conformance.driver import Driver
from sessionstore_conformance.profiles import PROFILES
from sessionstore_conformance.runner import _has, _probe, run_check
from sessionstore_conformance.target import resolve

TARGETS = os.environ.get("MUTATION_TARGETS", "memory://,configured:store").split(",")
EXAMPLES = int(os.environ.get("MUTATION_EXAMPLES", "30"))
#: Sessions that large_store fills the store with (70,000 in the ci profile): past the
#: 10,000 of common key scans is enough for the memory store, which pages no scan, and
#: the fill of 70,000 took half of the whole kit's time under every surviving mutant.
scale.TARGET["ci"] = int(os.environ.get("MUTATION_LARGE_STORE", "12000"))
#: Every check but the latency budgets (PERF-1, a SHOULD): mutmut's trampoline adds a
#: lookup to every call, so the unmutated store itself misses a budget here, and a
#: mutant's speed is not what this run measures.
CHECKS = [c for c in REGISTRY if not all(clause.startswith("PERF-") for clause in c.clauses)]


def target_name(target: str) -> str:
    """A short item id for a target: its scheme or module (``memory``, ``configured``)."""
    return target.partition(":")[0]


@pytest.fixture(scope="module", params=TARGETS, ids=target_name)
def harness(request: pytest.FixtureRequest) -> Iterator[tuple[Harness, Capabilities, set[str]]]:
    factory = resolve(request.param)
    with Driver() as driver:
        caps, _type, hooks = driver.call(_probe, factory)
        settings = Settings(PROFILES["ci"], max_examples=EXAMPLES)
        yield Harness(driver, factory, settings, "ci"), caps, hooks


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_check(check: Check, harness: tuple[Harness, Capabilities, set[str]]) -> None:
    kit, caps, hooks = harness
    missing = [r for r in check.requires if not _has(r, caps, hooks)]
    if missing:
        pytest.skip(f"the store does not declare {', '.join(missing)}")
    result = run_check(check, kit)
    if result.status == "failed":
        pytest.fail(f"violates {', '.join(result.blamed)}: {result.message}", pytrace=False)
    if result.status == "unknown":
        pytest.skip(f"not verified: {result.message}")
