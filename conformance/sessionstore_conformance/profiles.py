"""Hypothesis settings profiles of the kit: ``ci`` (derandomized), ``dev``, ``thorough``."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,  # a store's latency is the latency budgets' business, not Hypothesis's
    "database": None,  # the kit never writes into the user's working directory
    "report_multiple_bugs": False,  # one minimal counterexample, blamed on its clauses
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}

PROFILES = {
    "ci": settings(max_examples=100, stateful_step_count=50, derandomize=True, **_COMMON),  # type: ignore[arg-type]
    "dev": settings(max_examples=100, stateful_step_count=50, **_COMMON),  # type: ignore[arg-type]
    "thorough": settings(max_examples=1000, stateful_step_count=100, **_COMMON),  # type: ignore[arg-type]
}

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
