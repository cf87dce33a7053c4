"""Each profile's time limit per check, with no import of the kit behind it.

The CLI's and the pytest plugin's options list the profiles and their limits; they are
read here, so that ``--help`` and the plugin's loading work without the ``conformance``
extra (Hypothesis), which the profiles' settings in :mod:`.profiles` need.
"""

from __future__ import annotations

#: Seconds each check may take, per profile (``--check-timeout`` overrides): a store that
#: stops answering fails that check's clauses with "no answer in N s", and the run goes on.
CHECK_TIMEOUT = {"ci": 120.0, "dev": 300.0, "thorough": 1800.0}

#: The profiles' names, as the options offer them.
PROFILE_NAMES = sorted(CHECK_TIMEOUT)

#: The latency tiers of PERF-1, as the options offer them (their budgets: :mod:`.latency`).
TIER_NAMES = ("in-process", "local-disk", "network")
