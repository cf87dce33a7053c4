"""Run the kit's items cheapest first: mutmut passes each mutant's tests in no set order
and stops at the first failure (-x), so a mutant that a quick check sees never waits for
the stateful search."""

from __future__ import annotations

import pytest

#: The searches that cost seconds per run, in the order they should run (last of all).
SLOW = (
    "purge_many_exact",
    "large_imports_beside_writes",
    "real_time_ignored",
    "data_round_trips",
    "purge_cost",
    "import_chunks",
    "export_chunks",
    "linearizable_threads",
    "linearizable_instances",
    "linearizable_tasks",
    "stateful",
    "stateful_expiry",
    "large_store",
)


def _cost(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    name = callspec.params["check"].name if callspec else ""
    return SLOW.index(name) + 1 if name in SLOW else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_cost)
