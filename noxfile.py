"""Every CI job as a nox session.

    nox                      # lint, typecheck, tests (Python 3.11), docs
    nox -s tests             # the test suite on Python 3.11; extra args go to pytest
    nox -s tests_matrix      # the test suite on every supported Python
    nox -s conformance       # the kit against memory://; `-- TARGET [options]` to change it
    nox -s lint typecheck docs

Each session builds its own virtualenv; nothing is reused from a dev venv.
"""

from __future__ import annotations

import os

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


def _run_tests(session: nox.Session) -> None:
    session.install(*WITH_TESTS)
    session.run("pytest", *session.posargs, env=_hypothesis_env())


@nox.session(python=DEFAULT_PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite on the default Python (arguments are passed to pytest)."""
    _run_tests(session)


@nox.session(python=SUPPORTED_PYTHONS)
def tests_matrix(session: nox.Session) -> None:
    """Run the test suite on every supported Python (arguments are passed to pytest)."""
    _run_tests(session)


@nox.session(python=DEFAULT_PYTHON)
def conformance(session: nox.Session) -> None:
    """Run the conformance kit and print its clause report.

    Default target: the reference memory store. `nox -s conformance -- TARGET [options]`
    replaces the default (TARGET: a store URL or package.module:factory).
    """
    session.install(*PROJECT)
    if session.posargs:
        args = list(session.posargs)
    else:
        args = ["memory://"]
        if _in_ci():
            args += ["--profile", "ci"]
    session.run("sessionstore-conformance", "run", *args, env=_hypothesis_env())


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
    """Build the documentation site into site/ (warnings are errors)."""
    session.install("mkdocs")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
