"""Shared stores through the driver protocol (spec/driver-protocol.md, 4.3; issue 14).

An ``exec:`` target whose server says ``shared`` gets its second instances as other
server processes attached to the first one's data: the multi-process clauses (CONC-2,
PROC-1) and the reopen clauses (CAP-2, DUR-1, DUR-2) are decided for it, not left
unknown. A store atomic within one process only (:mod:`broken.shared`) is shown to lose
updates across two processes, directly, and the kit fails it on CONC-2 and PROC-1
through the protocol while it passes the single-process checks. A store that does not
share (the TypeScript memory store) has those clauses not claimed, saying why.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from broken.shared import PATH_VARIABLE, factory
from test_driver import SERVE, _server, _validators
from test_typescript_driver import DRIVER, node  # noqa: F401  (a fixture: the built driver)

from sessionstore import open_store
from sessionstore_conformance.clock import FakeClock
from sessionstore_conformance.report import to_markdown
from sessionstore_conformance.runner import Report, run
from sessionstore_conformance.wire.client import ExecTarget

TESTS = Path(__file__).resolve().parent
#: The checks that need a second instance on the store's data, by the clauses they decide.
MULTI = ("linearizable_instances", "linearizable_threads", "linearizable_processes", "processes")
REOPEN = ("url_reopens", "reopen", "crash")


@pytest.fixture(autouse=True)
def _servers_find_the_gallery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Servers import tests/broken as the tests do; the broken store's file is per test."""
    path = os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv(PATH_VARIABLE, str(tmp_path / "local-lock.db"))


def _kit(target: str, *checks: str) -> Report:
    return run(target, select=lambda check: check.name in checks, profile="ci")


def _outcomes(report: Report, *clauses: str) -> dict[str, str]:
    return {c.clause.id: c.outcome for c in report.clauses if c.clause.id in clauses}


def _statuses(report: Report) -> dict[str, tuple[str, str]]:
    return {r.check.name: (r.status, r.message) for r in report.checks}


# --- the broken store's one defect, shown directly --------------------------------------

#: One process: open the store at argv[2] (``broken``: the broken class through its
#: factory's attach; ``sound``: open_store, the reference SQLite store), say ready, wait
#: for a line, increment session "n" argv[3] times through update.
INCREMENTER = """
import asyncio, sys
from sessionstore import open_store
from broken.shared import factory

async def main(kind, url, count):
    manager = await factory.attach(url, clock=None) if kind == "broken" else open_store(url)
    async with manager as store:
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(count):
            await store.update("n", lambda d: {**d, "n": d["n"] + 1})

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""
COUNT = 12


async def _counter() -> str:
    """A fresh broken store holding session "n" at 0: its url."""
    async with await factory(clock=None) as store:
        await store.create({"n": 0}, id="n")
        return str(store.url)


async def _final(url: str) -> tuple[int, int]:
    async with open_store(url) as store:
        session = await store.get("n")
        assert session is not None
        return session.data["n"], session.version


def _two_processes(kind: str, url: str) -> tuple[int, int]:
    """Two processes released together, each making COUNT increments: n and version."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", INCREMENTER, kind, url, str(COUNT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert [proc.wait(timeout=120) for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            proc.kill()
    return asyncio.run(_final(url))


def test_the_broken_store_loses_updates_across_two_processes() -> None:
    """Its one defect: each process's updates wait 50 ms between read and write, so two
    processes running at once overwrite each other (the reference store does not)."""
    n, version = _two_processes("broken", asyncio.run(_counter()))
    assert n < 2 * COUNT and version == 2 * COUNT + 1  # every write landed, increments lost
    sound = _two_processes("sound", asyncio.run(_counter()))
    assert sound == (2 * COUNT, 2 * COUNT + 1)


@pytest.mark.anyio
async def test_the_broken_store_is_atomic_within_one_process() -> None:
    """Two instances in one process, updating concurrently: no update lost (its lock)."""
    url = await _counter()

    async def increments(store: Any) -> None:
        for _ in range(COUNT // 2):
            await store.update("n", lambda d: {**d, "n": d["n"] + 1})

    one, two = factory.attach(url, clock=None), factory.attach(url, clock=None)
    async with await one as first, await two as second:
        await asyncio.gather(increments(first), increments(second), increments(first))
    assert await _final(url) == (3 * (COUNT // 2), 3 * (COUNT // 2) + 1)


# --- the kit through the protocol ----------------------------------------------------------

BROKEN = f"exec:{SERVE} broken.shared:factory"
#: Checks of one instance that the broken store passes: its updates are atomic in process.
ONE_INSTANCE = ("update", "update_failures", "url_reopens")


def test_the_kit_fails_the_broken_shared_store_on_conc_2_through_exec() -> None:
    report = _kit(BROKEN, "linearizable_instances", *ONE_INSTANCE)
    statuses = _statuses(report)
    assert {name: statuses[name][0] for name in ONE_INSTANCE} == dict.fromkeys(
        ONE_INSTANCE, "passed"
    ), statuses
    assert statuses["linearizable_instances"][0] == "failed"
    assert "not linearizable" in statuses["linearizable_instances"][1]
    assert _outcomes(report, "CONC-2", "CAP-2") == {"CONC-2": "fail", "CAP-2": "pass"}


@pytest.mark.slow
def test_the_kit_fails_the_broken_shared_store_on_proc_1_through_exec() -> None:
    """Across attached servers its updates are lost (PROC-1, CONC-2); on tasks of one
    server they are not (linearizable_tasks passes)."""
    report = _kit(BROKEN, "linearizable_tasks", "processes", "linearizable_processes")
    statuses = _statuses(report)
    assert statuses["linearizable_tasks"][0] == "passed", statuses
    assert "lost updates" in statuses["processes"][1]
    assert _outcomes(report, "PROC-1", "CONC-2") == {"PROC-1": "fail", "CONC-2": "fail"}


def test_the_kit_passes_sqlite_on_proc_1_and_conc_2_through_exec(tmp_path: Path) -> None:
    """The reference SQLite store served over the protocol: several server processes on
    one file decide PROC-1, CONC-2, CAP-2 and DUR-1 (they were unknown before). The
    increments of ``processes`` (PROC-1 too) run with the slow tests."""
    db = tmp_path / "shared.db"
    report = _kit(f"exec:{SERVE} sqlite:///{db}", "linearizable_processes", "reopen")
    assert _outcomes(report, "PROC-1", "CONC-2", "CAP-2", "DUR-1") == dict.fromkeys(
        ("PROC-1", "CONC-2", "CAP-2", "DUR-1"), "pass"
    ), _statuses(report)


@pytest.mark.slow
def test_every_shared_check_passes_sqlite_through_exec(tmp_path: Path) -> None:
    report = _kit(f"exec:{SERVE} sqlite:///{tmp_path / 'all.db'}", *MULTI, *REOPEN)
    assert {name: s for name, (s, _) in _statuses(report).items()} == dict.fromkeys(
        (*MULTI, *REOPEN), "passed"
    ), _statuses(report)
    clauses = ("CONC-1", "CONC-2", "PROC-1", "CAP-2", "DUR-1", "DUR-2")
    assert _outcomes(report, *clauses) == dict.fromkeys(clauses, "pass")


@pytest.mark.slow
def test_every_shared_check_passes_redis_through_exec(redis_url: str) -> None:
    report = _kit(f"exec:{SERVE} {redis_url}", *MULTI, *REOPEN)
    statuses = {name: s for name, (s, _) in _statuses(report).items()}
    assert statuses == {**dict.fromkeys(MULTI, "passed"), "url_reopens": "passed",
                        "reopen": "skipped", "crash": "skipped"}, _statuses(report)  # fmt: skip
    assert _outcomes(report, "CONC-2", "PROC-1", "CAP-2", "DUR-1", "DUR-2") == {
        "CONC-2": "pass",
        "PROC-1": "pass",
        "CAP-2": "pass",
        "DUR-1": "not claimed",  # Redis's persistence is the server's setting
        "DUR-2": "not claimed",
    }


@pytest.mark.slow
def test_a_store_that_does_not_share_has_the_multi_process_clauses_not_claimed(
    node: str,  # noqa: F811  (the fixture imported above)
) -> None:
    """The TypeScript memory store declares neither multi_process nor shared: CONC-2 and
    PROC-1 are not claimed (not failed, not unknown), and the report says why."""
    report = _kit(f"exec:{node} {DRIVER} memory", *MULTI, *REOPEN)
    assert not report.capabilities.multi_process
    assert _outcomes(report, "CONC-2", "PROC-1", "DUR-1", "DUR-2") == dict.fromkeys(
        ("CONC-2", "PROC-1", "DUR-1", "DUR-2"), "not claimed"
    )
    rows = {line.split("|")[1].strip(): line for line in to_markdown(report).splitlines()
            if line.startswith("| ")}  # fmt: skip
    for clause in ("CONC-2", "PROC-1"):
        assert "the store does not declare multi_process" in rows[clause], rows[clause]


# --- the protocol: reset's url, attach ------------------------------------------------------


def test_two_servers_share_a_store_through_attach(tmp_path: Path) -> None:
    """What the kit does with a shared server, message by message, valid against the
    schemas: the second server attaches to the url the first's reset answered, and each
    sees what the other wrote (4.2, 4.3)."""
    requests, responses = _validators()
    servers = [
        subprocess.Popen(
            [*SERVE.split(), f"sqlite:///{tmp_path / 'two.db'}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    ids = iter(range(100))

    def ask(server: int, op: str, **args: Any) -> Any:
        request = {"id": next(ids), "op": op, "args": args}
        assert not list(requests.iter_errors(request)), request
        pipe_in, pipe_out = servers[server].stdin, servers[server].stdout
        assert pipe_in is not None and pipe_out is not None
        pipe_in.write(json.dumps(request).encode() + b"\n")
        pipe_in.flush()
        answer = json.loads(pipe_out.readline())
        assert not list(responses.iter_errors(answer)), answer
        assert answer["id"] == request["id"] and "ok" in answer, answer
        return answer["ok"]

    try:
        hellos = [ask(n, "hello", protocol=[1], client="test") for n in (0, 1)]
        assert all(h["shared"] and "attach" in h["optional"] for h in hellos), hellos
        url = ask(0, "reset", clock_ms=1_893_456_000_000)["url"]
        assert isinstance(url, str)
        ask(0, "create", data={"by": 0}, id="a")
        assert ask(1, "attach", url=url, clock_ms=1_893_456_000_000) == {"url": url}
        assert ask(1, "get", id="a")["data"] == {"by": 0}
        ask(1, "create", data={"by": 1}, id="b")
        assert ask(0, "get", id="b")["data"] == {"by": 1}
        assert ask(0, "count") == ask(1, "count") == 2
        ask(1, "close")
        assert ask(0, "count") == 2  # closing one instance leaves the data
    finally:
        for server in servers:
            server.kill()
            server.wait()


# --- the client's side of sharing --------------------------------------------------------


def test_a_multi_process_store_whose_server_cannot_attach_is_unknown(tmp_path: Path) -> None:
    """A server declaring multi_process without attach: what needs a second instance is
    unknown (never passed), and says that attach is missing."""
    target = _server(tmp_path, "say({'id': req['id'], 'ok': 0 if req['op'] == 'count' else None})")
    script = tmp_path / "server.py"
    script.write_text(script.read_text().replace("multi_process=False", "multi_process=True"))
    report = _kit(target, "processes", "linearizable_instances")
    assert _outcomes(report, "PROC-1", "CONC-2") == {"PROC-1": "unknown", "CONC-2": "unknown"}
    assert "does not offer attach" in _statuses(report)["processes"][1]


@pytest.mark.anyio
async def test_a_cancelled_call_ends_once_the_server_has_answered(tmp_path: Path) -> None:
    """A request sent cannot be recalled: cancelling its caller waits for the answer, so
    the call has taken effect, if at all, before the caller moves on (a call left running
    in the server past its batch broke linearizable_instances on exec:sqlite)."""
    target = ExecTarget(
        _server(tmp_path, "time.sleep(0.3); say({'id': req['id'], 'ok': None})"), 20
    )
    store = await target(clock=FakeClock())
    call = asyncio.ensure_future(store.get("a"))
    await asyncio.sleep(0.05)  # sent, not answered
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert store._child is not None and store._child.idle  # its answer came: nothing in flight
    assert await store.get("b") is None  # and the server goes on
    target.stop_servers()


@pytest.mark.anyio
async def test_callers_that_see_one_clock_move_send_one_clock_set(tmp_path: Path) -> None:
    """Several calls on one server after the kit's clock moved (the clients of a batch
    warming up): one clock.set, sent while nothing else is in flight (2.3), not one each."""
    log = tmp_path / "ops.log"
    target = _server(
        tmp_path,
        f"open({str(log)!r}, 'a').write(req['op'] + ' '); say({{'id': req['id'], 'ok': None}})",
    )
    script = tmp_path / "server.py"
    script.write_text(
        script.read_text()
        .replace("injectable_clock=False", "injectable_clock=True")
        .replace("clock=False", "clock=True")
    )
    exec_target = ExecTarget(target, 20)
    clock = FakeClock()
    store = await exec_target(clock=clock)
    clock.advance(1000)
    await asyncio.gather(*(store.get(f"s{n}") for n in range(3)))
    assert log.read_text().split() == ["clock.set", "get", "get", "get"]
    exec_target.stop_servers()
