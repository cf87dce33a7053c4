"""The pytest plugin (auto-loaded through the ``pytest11`` entry point).

``pytest --sessionstore=TARGET`` (or ``sessionstore = TARGET`` in the ini file) adds one
test item per kit check, named after the check and its clause ids, and prints the
clause-by-clause report at the end of the run (:mod:`.pytest_kit`).

This module is loaded into every pytest run of every project that has sessionstore
installed, with or without the ``conformance`` extra: it only adds the options, and
imports the kit when a target is given. Without the extra, that is a usage error of one
line naming it; without a target, nothing of the kit is imported.
"""

from __future__ import annotations

import pytest

from .extra import MissingExtra, kit_module
from .time_limits import CHECK_TIMEOUT, PROFILE_NAMES, TIER_NAMES


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sessionstore", "sessionstore conformance kit")
    group.addoption(
        "--sessionstore",
        metavar="TARGET",
        default=None,
        help="Run the conformance kit against TARGET: a store URL, module:factory or "
        "'exec:COMMAND ARGS' (a store in another language, spec/driver-protocol.md).",
    )
    group.addoption(
        "--sessionstore-profile",
        choices=PROFILE_NAMES,
        default=None,
        help="Hypothesis effort for the kit (default: ci when $CI is set, else dev).",
    )
    group.addoption(
        "--sessionstore-seed",
        type=int,
        default=None,
        help="Seed the kit's random choices, to replay a failing run.",
    )
    group.addoption(
        "--sessionstore-call-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exec: targets: time limit per call to the store's server (default 30 s).",
    )
    group.addoption(
        "--sessionstore-check-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Time limit per kit check (default per profile: "
        + ", ".join(f"{name} {limit:g} s" for name, limit in CHECK_TIMEOUT.items())
        + ").",
    )
    group.addoption(
        "--sessionstore-tolerance-ms",
        type=int,
        default=None,
        metavar="MS",
        help="How far a store without an injectable clock may be off in real time.",
    )
    group.addoption(
        "--sessionstore-strict",
        action="store_true",
        help="A SHOULD/MAY clause that is not met fails its item (default: xfail).",
    )
    group.addoption(
        "--sessionstore-require-verified",
        action="store_true",
        help="A MUST clause left unknown (not verified) fails the run: for CI.",
    )
    group.addoption(
        "--sessionstore-latency-tier",
        choices=list(TIER_NAMES),
        default=None,
        help="The latency tier whose budgets apply (default: from the store's capabilities).",
    )
    group.addoption(
        "--sessionstore-budget",
        action="append",
        default=[],
        metavar="PCT=DURATION",
        help="A latency budget in place of the tier's, e.g. p99=2ms; repeatable.",
    )
    group.addoption(
        "--sessionstore-enforce-budgets",
        action="store_true",
        help="An operation over its latency budget fails its item and the run (default: xfail).",
    )
    group.addoption(
        "--sessionstore-known-failures",
        metavar="FILE",
        help="TOML file of clauses known to fail, with reasons: their items xfail, and the "
        "run fails if one passes (also the ini option sessionstore_known_failures).",
    )
    parser.addini("sessionstore", "conformance kit TARGET (as --sessionstore)", default=None)
    parser.addini(
        "sessionstore_known_failures",
        "known-failures file (as --sessionstore-known-failures)",
        default=None,
    )


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--sessionstore") or config.getini("sessionstore")
    if not target:
        return
    try:
        kit = kit_module(".pytest_kit")
    except MissingExtra as exc:
        raise pytest.UsageError(f"--sessionstore: {exc}") from None
    kit.start(config, str(target))
