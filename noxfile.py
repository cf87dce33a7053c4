"""Every CI job as a nox session.

    nox                      # lint, typecheck, tests (Python 3.11), docs
    nox -s tests             # the test suite on Python 3.11 but the slow tests; args go to pytest
    nox -s slow              # the slow tests: fresh-venv installs, more kit runs
    nox -s tests_matrix      # the test suite on every supported Python
    nox -s conformance       # the kit against every backend: memory, sqlite, redis
    nox -s "conformance(backend='redis')"   # one backend; `-- [options]` go to the kit
    nox -s kit -- TARGET [options]          # the kit against any store URL or factory
    nox -s lint typecheck docs
    nox -s bench [-- --quick]   # one harness: our stores, raw engines and peers (benchmarks/harness)

The Redis runs start a throwaway redis-server (tests/redis_server.py), or use
SESSION_STORE_URL / REDIS_URL when set; the server comes from the Debian package
redis-server, which .ci/run installs.

Each session builds its own virtualenv; nothing is reused from a dev venv.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests", "docs"]

DEFAULT_PYTHON = "3.11"
SUPPORTED_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

PROJECT = ("-e", ".[conformance]")
# The test extra (pyproject.toml) holds the test dependencies: one list, not two.
WITH_TESTS = ("-e", ".[test]")
TYPECHECK_DEPS = ("mypy", "sortedcontainers-stubs", "types-jsonschema")


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _hypothesis_env() -> dict[str, str]:
    """On CI, our own Hypothesis tests load the derandomized profile "ci" (tests/conftest.py)."""
    return {"HYPOTHESIS_PROFILE": "ci"} if _in_ci() else {}


def _run_tests(session: nox.Session, markers: str, extras: str = "test") -> None:
    session.install("-e", f".[{extras}]")
    session.run("pytest", "-m", markers, *session.posargs, env=_hypothesis_env())


@nox.session(python=DEFAULT_PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite on the default Python, without the tests marked slow
    (arguments are passed to pytest)."""
    _run_tests(session, "not slow")


@nox.session(python=DEFAULT_PYTHON)
def slow(session: nox.Session) -> None:
    """Run the slow tests: installs into fresh virtualenvs (the bare package, the example
    store package), the kit on every toolkit store variant, the sequential kit on each racy
    store (only linearizability may reject it), a small run of the benchmark harness with
    a peer and its plots (arguments go to pytest)."""
    _run_tests(session, "slow", "test,bench")


@nox.session(python=SUPPORTED_PYTHONS)
def tests_matrix(session: nox.Session) -> None:
    """Run the test suite, without the slow tests, on every supported Python
    (arguments are passed to pytest)."""
    _run_tests(session, "not slow")


#: The kit's matrix: each backend and how its session reaches a fresh target.
BACKENDS = ("memory", "sqlite", "redis")
#: What a whole run of the matrix demands beyond PASS: every SHOULD met (--strict), and
#: no MUST clause left unverified where the store offers every hook. The memory store
#: has no backend to lose, so ERR-4 stays unknown there (docs/conformance.md).
VERDICT = {
    "memory": ["--strict"],
    "sqlite": ["--strict", "--require-verified"],
    "redis": ["--strict", "--require-verified"],
}


def _kit_options(session: nox.Session, backend: str) -> list[str]:
    """The session's arguments for the kit; on CI, the derandomized ci profile; for a
    whole run (no -k selection), the matrix's strict verdict."""
    options = list(session.posargs)
    if _in_ci() and "--profile" not in options:
        options += ["--profile", "ci"]
    if not any(o in ("-k", "--only") or o.startswith("--only=") for o in options):
        options += VERDICT[backend]
    return options


@nox.session(python=DEFAULT_PYTHON)
@nox.parametrize("backend", BACKENDS)
def conformance(session: nox.Session, backend: str) -> None:
    """Run the conformance kit against one reference backend and print its clause report
    (`nox -s conformance` runs the whole matrix; arguments after `--` go to the kit)."""
    if session.posargs and not session.posargs[0].startswith("-"):
        session.error(f"{session.posargs[0]!r} looks like a TARGET: use nox -s kit -- TARGET")
    kit = ["sessionstore-conformance", "run"]
    env = _hypothesis_env()
    if backend == "memory":
        session.install(*PROJECT)
        session.run(*kit, "memory://", *_kit_options(session, backend), env=env)
    elif backend == "sqlite":
        session.install(*PROJECT)
        target = f"sqlite:///{Path(session.create_tmp()).absolute()}/kit.db"
        session.run(*kit, target, *_kit_options(session, backend), env=env)
    else:
        session.install("-e", ".[conformance,redis]")
        # The helper starts redis-server on a free port (or takes SESSION_STORE_URL /
        # REDIS_URL) and puts its URL where the command says {REDIS_URL}.
        helper = ["python", "tests/redis_server.py", "--"]
        session.run(*helper, *kit, "{REDIS_URL}", *_kit_options(session, backend), env=env)


@nox.session(python=DEFAULT_PYTHON)
def kit(session: nox.Session) -> None:
    """Run the conformance kit against TARGET: `nox -s kit -- TARGET [options]`
    (TARGET: a store URL or package.module:factory)."""
    if not session.posargs:
        session.error("usage: nox -s kit -- TARGET [options]")
    session.install("-e", ".[conformance,redis]")
    session.run("sessionstore-conformance", "run", *session.posargs, env=_hypothesis_env())


@nox.session(python=DEFAULT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=DEFAULT_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over both packages (configuration: [tool.mypy] in pyproject.toml)."""
    session.install(*WITH_TESTS, *TYPECHECK_DEPS)
    session.run("mypy", "--strict", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (warnings are errors), then check it:
    every clause's anchor, the navigation, the generated pages, and in headless Chromium
    no horizontal overflow at 1280 px (tests/test_docs_site.py, on the site just built;
    arguments go to pytest)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
    site = str(Path("site").absolute())
    session.run("pytest", "tests/test_docs_site.py", *session.posargs, env={"DOCS_SITE": site})


@nox.session(python=DEFAULT_PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark harness (benchmarks/harness): our stores, their raw engines and the
    peers on the same data; tables on stdout, bench.json and plots in benchmarks/results
    (arguments go to the harness: `nox -s bench -- --quick`, `-- --sizes 1e3,1e6`)."""
    session.install("-e", ".[bench]")  # the peers and matplotlib: the bench extra only
    session.run("python", "-m", "benchmarks.harness", *session.posargs)


@nox.session(python=DEFAULT_PYTHON)
def mutation(session: nox.Session) -> None:
    """Mutation testing of the memory store and the shared semantics with the kit as the
    only test suite (docs/mutation.md; arguments: mutant names to run)."""
    session.install(*WITH_TESTS, "mutmut>=3.8,<4")
    session.run("sh", "benchmarks/mutation/run.sh", *session.posargs, external=True)
