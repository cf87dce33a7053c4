"""The durability checks (DUR-1, DUR-2, PROC-1, CAP-2): they pass the reference SQLite
store, ask nothing of the memory store, and reject broken SQLite stores.

The kit's child processes open a store only by its ``url``, through
``sessionstore.open_store`` (CAP-2). So the broken stores are real backends: a module
and a ``*.dist-info`` directory written into a temporary directory register them under
the ``sessionstore.backends`` entry-point group (schemes ``lazysqlite`` and
``racysqlite``); that directory goes on ``sys.path`` here and on ``PYTHONPATH`` for the
children. The kit itself has no test hook for this.
"""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sessionstore_conformance.checks import Check
from sessionstore_conformance.profiles import PROFILES, crash_trials
from sessionstore_conformance.runner import Report, run

CHECKS = {"url_reopens", "reopen", "crash", "processes"}
CLAUSES = ("DUR-1", "DUR-2", "PROC-1", "CAP-2")

BROKEN_MODULE = '''
"""Broken SQLite stores, registered as backends lazysqlite:// and racysqlite://."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urlsplit

from sessionstore import SessionNotFound
from sessionstore.backends.sqlite import SQLiteStore
from sessionstore.factory import url_options


class LazyCommits(SQLiteStore):
    """Commits only every 5th write; close() (or a crash) rolls back the rest."""

    def _attempt(self, begin, work, *args):
        if begin != "BEGIN IMMEDIATE":  # reads, and the setup on open
            return super()._attempt(begin, work, *args)

        def lazily(db, now, *args):
            if not db.connection.in_transaction:
                db.execute("BEGIN IMMEDIATE")
            result = work(db, now, *args)
            self.pending = getattr(self, "pending", 0) + 1
            if self.pending % 5 == 0:
                db.execute("COMMIT")
            return result

        return super()._attempt(None, lazily, *args)


class RacyUpdate(SQLiteStore):
    """update reads, sleeps 1 ms, then writes in a second transaction: lost updates."""

    async def update(self, id, fn, *, ttl=None, owner=None):
        current = await self.get(id, owner=owner)
        if current is None:
            raise SessionNotFound(id)
        await asyncio.sleep(0.001)
        return await self.replace(id, fn(current.data), ttl=ttl, owner=owner)


def _open(cls, scheme, config, clock):
    options = url_options(config, {"namespace"})
    path = unquote(urlsplit(config.url).path)[1:]
    store = cls(path, namespace=options.get("namespace", "sessions"), clock=clock)
    store.url = scheme + store.url.removeprefix("sqlite")
    return store.open()


def open_lazy(config, clock):
    return _open(LazyCommits, "lazysqlite", config, clock)


def open_racy(config, clock):
    return _open(RacyUpdate, "racysqlite", config, clock)
'''

ENTRY_POINTS = """\
[sessionstore.backends]
lazysqlite = kit_broken_stores:open_lazy
racysqlite = kit_broken_stores:open_racy
"""


def outcomes(report: Report) -> dict[str, str]:
    return {c.clause.id: c.outcome for c in report.clauses if c.clause.id in CLAUSES}


def failing(report: Report) -> set[str]:
    return {c.clause.id for c in report.clauses if c.outcome == "fail"}


def only(*names: str) -> Callable[[Check], bool]:
    def select(check: Check) -> bool:
        return check.name in names

    return select


def show(report: Report) -> None:
    for result in report.checks:
        print(f"{result.check.name}: {result.status} in {result.seconds:.2f} s {result.message}")


@pytest.fixture(scope="module")
def broken_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Register the broken backends, here and for child processes."""
    root = tmp_path_factory.mktemp("broken_backends")
    (root / "kit_broken_stores.py").write_text(textwrap.dedent(BROKEN_MODULE))
    dist = root / "kit_broken_stores-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-broken-stores\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    inherited = os.environ.get("PYTHONPATH")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), inherited])))
        yield root


def test_trial_counts_follow_the_profile() -> None:
    assert [crash_trials(PROFILES[name]) for name in ("ci", "dev", "thorough")] == [10, 20, 100]


def test_sqlite_store_passes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sessionstore_conformance.checks.durability")
    report = run(f"sqlite:///{tmp_path}/kit.db", profile="ci", select=only(*CHECKS))
    show(report)
    print(caplog.text)
    assert [r.status for r in report.checks] == ["passed"] * len(CHECKS)
    assert outcomes(report) == dict.fromkeys(CLAUSES, "pass")
    assert "crash check (DUR-2): 10 trials" in caplog.text


def test_memory_store_claims_nothing_here() -> None:
    report = run("memory://", profile="ci", select=only(*CHECKS))
    status = {r.check.name: r.status for r in report.checks}
    assert status == {
        "url_reopens": "passed",  # CAP-2 holds vacuously: no durable, no multi_process
        "reopen": "skipped",
        "crash": "skipped",
        "processes": "skipped",
    }
    assert outcomes(report) == {
        "DUR-1": "not claimed",
        "DUR-2": "not claimed",
        "PROC-1": "not claimed",
        "CAP-2": "pass",
    }


def test_kit_catches_writes_lost_at_close_and_crash(broken_backends: Path, tmp_path: Path) -> None:
    report = run(f"lazysqlite:///{tmp_path}/lazy.db", profile="ci", select=only("reopen", "crash"))
    show(report)
    assert report.store_type == "LazyCommits"
    assert {"DUR-1", "DUR-2"} <= failing(report)
    results = {r.check.name: r for r in report.checks}
    assert "DUR-1" in results["reopen"].blamed
    assert "DUR-2" in results["crash"].blamed
    assert "acknowledged write" in results["crash"].message


def test_kit_catches_lost_updates_across_processes(broken_backends: Path, tmp_path: Path) -> None:
    report = run(
        f"racysqlite:///{tmp_path}/racy.db",
        profile="ci",
        select=only("url_reopens", "reopen", "processes"),
    )
    show(report)
    assert report.store_type == "RacyUpdate"
    assert failing(report) == {"PROC-1", "CONC-1"}
    assert outcomes(report)["DUR-1"] == "pass"
    assert outcomes(report)["CAP-2"] == "pass"
    (processes,) = [r for r in report.checks if r.check.name == "processes"]
    assert "lost updates" in processes.message
