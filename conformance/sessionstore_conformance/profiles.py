"""Hypothesis settings profiles of the kit: ``ci`` (derandomized), ``dev``, ``thorough``;
each profile's time limit per check; and :func:`seeded`, how a check replays a run's seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

from .time_limits import CHECK_TIMEOUT as CHECK_TIMEOUT  # re-exported: the runner reads it here

T = TypeVar("T", bound=Callable[..., Any])


def _profile(examples: int, steps: int, *, derandomize: bool = False) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        derandomize=derandomize,
        deadline=None,  # a store's latency is the latency budgets' business, not Hypothesis's
        database=None,  # the kit never writes into the user's working directory
        report_multiple_bugs=False,  # one minimal counterexample, blamed on its clauses
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


PROFILES = {
    "ci": _profile(100, 50, derandomize=True),
    "dev": _profile(100, 50),
    "thorough": _profile(1000, 100),
}

assert PROFILES.keys() == CHECK_TIMEOUT.keys(), "each profile needs its time limit"

for _name, _settings in PROFILES.items():
    settings.register_profile(f"sessionstore-{_name}", _settings)

#: How many times the crash check (DUR-2) kills a writer process, per profile.
CRASH_TRIALS = {"ci": 10, "dev": 20, "thorough": 100}


def crash_trials(profile: settings) -> int:
    """The crash check's trial count for these settings: by profile, else by their size."""
    for name, known in PROFILES.items():
        if profile is known:
            return CRASH_TRIALS[name]
    return max(10, min(100, profile.max_examples // 10))


def seeded(test: T, run_seed: int | None) -> T:
    """``test`` (a ``@given`` function or a state machine class) replaying ``run_seed``.

    Every Hypothesis check applies it to what it runs, with the harness's or ctx's
    ``seed``: ``run_state_machine_as_test(seeded(Machine, harness.seed), ...)`` or
    ``seeded(given(...)(body), harness.seed)()``. Without a seed (None) the test is
    returned as it is: the profile decides (``ci`` is derandomized)."""
    return test if run_seed is None else seed(run_seed)(test)
