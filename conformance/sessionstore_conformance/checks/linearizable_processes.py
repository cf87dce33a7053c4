"""Linearizability of histories recorded in separate processes (CONC-1, CONC-2, PROC-1).

For stores that declare ``multi_process`` (and so expose ``url``, CAP-2). Hypothesis
generates a scenario of :mod:`.linearizable`'s kind, restricted to what the real clock
cannot disturb: no ttl (touch gives an hour), no clock moves, one batch of
2..:data:`CLIENTS` clients. The kit's process makes the prefix calls, then starts one
child process per client (:mod:`.._history_client`), each opening the store from its
``url`` and given its list of calls on stdin; once every child has opened the store, one
line on each child's stdin releases them together: it names one start instant on
CLOCK_MONOTONIC, 50 ms ahead, which every child spins to (a pipe wake-up alone spread
their starts over 10-30 ms on a loaded machine, longer than a client's calls took).
The :func:`.linearizable.duels` come first, 10 rounds each. Each child prints one record per call
(invocation and return on CLOCK_MONOTONIC, shared by all processes of the host, so the
intervals are comparable), the kit's process reads every session back, and the merged
history is checked *timeless* (:func:`..linearizability.check` with ``timeless=True``):
created/updated/expires come from the children's real clocks and are not compared.

Every child is killed (SIGKILL) and reaped, with bounded waits, whatever happens.

An ``exec:`` target's store lives in a server process whose url only another server can
open (driver protocol, 4.3): there each client is a server of its own attached to the
store's data, driven from the kit's loop, and the calls are timed in the kit's process
(each interval then contains the server's own; the check is as strict, a little
less sensitive).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from contextlib import AsyncExitStack
from typing import IO, Any

from sessionstore import SessionStore, open_store

from .. import _history_client as client
from .. import linearizability as lin
from ..clock import FakeClock
from ..errors import ClauseViolation
from ..target import StoreFactory, attaches, opened, reopen
from .durability import START_TIMEOUT, _bounded, _reap, _tail, store_url
from .linearizable import (
    READ_BACK,
    Scenario,
    Step,
    _default_ttl_ms,
    _fewer,
    _verify,
    duels,
    play,
    untimed_scenarios,
)
from .registry import Harness, check

CLAUSES = ("CONC-1", "CONC-2", "PROC-1")
#: At most this many client processes at once.
CLIENTS = 3
#: Rounds of each of the :func:`.linearizable.duels`: enough for the client processes to
#: overlap even when a loaded machine starts them milliseconds apart.
ROUNDS = 10
#: How far ahead of the release the clients' common start instant is (ns): time for
#: every child to read its line on a loaded machine.
START_AHEAD_NS = 50_000_000
#: Seconds the clients may take, together, once released.
RUN_TIMEOUT = 60.0

# --- scenarios: no ttl, no clock moves, no pauses or cancels (nothing to yield to) ------

process_scenarios = untimed_scenarios(pause=0, cancels=False, clients=CLIENTS, batches=1)

# --- playing a scenario with client processes -------------------------------------------


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _operation(number: int, record: dict[str, Any]) -> lin.Operation:
    """The operation of one of :func:`.._history_client.call`'s records, by client ``number``."""
    out = record["output"]
    output: lin.Outcome = None if out is None else (str(out[0]), _freeze(out[1]))
    return lin.Operation(number, record["input"], record["call"], output, record["ret"])


class Clients:
    """Up to :data:`CLIENTS` client processes, started when first needed and serving one
    job after another (a process start costs far more than a history); :meth:`close`
    kills and reaps them. After any failure they are all killed: the next job starts
    new ones."""

    def __init__(self) -> None:
        self.procs: list[tuple[asyncio.subprocess.Process, IO[bytes]]] = []

    async def _start(self, count: int) -> None:
        while len(self.procs) < count:
            errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *client.COMMAND,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=errors,
                )
            except BaseException:
                errors.close()
                raise
            self.procs.append((proc, errors))

    async def close(self) -> None:
        procs, self.procs = self.procs, []
        for proc, errors in procs:
            if proc.stdin is not None:
                proc.stdin.close()
            await _reap(proc)
            errors.close()

    async def _line(self, number: int, seconds: float, what: str) -> bytes:
        proc, errors = self.procs[number - 1]
        assert proc.stdout is not None
        line = await _bounded(proc.stdout.readline(), seconds, CLAUSES, what)
        if not line:
            await _reap(proc)
            raise ClauseViolation(
                ("PROC-1",),
                f"{what}: client process {number} ended (exit status {proc.returncode}): "
                f"{_tail(errors)}",
            )
        return line.rstrip(b"\n")

    async def _records(self, number: int, calls: int, what: str) -> list[lin.Operation]:
        ops = [
            _operation(number, json.loads(await self._line(number, RUN_TIMEOUT, what)))
            for _ in range(calls)
        ]
        done = await self._line(number, RUN_TIMEOUT, what)
        if done != client.DONE.encode():
            raise ClauseViolation(("PROC-1",), f"{what}: client {number} said {done!r}")
        return ops

    async def run(self, url: str, clients: tuple[tuple[Step, ...], ...]) -> list[lin.Operation]:
        """Each client's calls in a process of its own, released together: their records."""
        what = f"{len(clients)} client processes on store.url {url!r}"
        try:
            await self._start(len(clients))
            mine = self.procs[: len(clients)]
            for (proc, _), steps in zip(mine, clients, strict=True):
                job = {"url": url, "calls": [s.input for s in steps]}
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(job).encode() + b"\n")
                await proc.stdin.drain()
            for number in range(1, len(clients) + 1):
                ready = await self._line(number, START_TIMEOUT, f"{what}: opening the store")
                if ready != client.READY.encode():
                    raise ClauseViolation(("CAP-2",), f"{what}: client {number} said {ready!r}")
            # Every client opened the store: release them together, at one instant a little
            # ahead (each spins to it), so that their first calls meet.
            start = time.monotonic_ns() + START_AHEAD_NS
            for proc, _ in mine:
                assert proc.stdin is not None
                proc.stdin.write(b"%d\n" % start)
            await asyncio.gather(*(proc.stdin.drain() for proc, _ in mine if proc.stdin))
            parts = await asyncio.gather(
                *(self._records(n, len(steps), what) for n, steps in enumerate(clients, 1))
            )
        except BaseException:
            await self.close()
            raise
        return [op for part in parts for op in part]


async def play_processes(scenario: Scenario, url: str, clients: Clients) -> list[lin.Operation]:
    """The prefix and read-backs from this process (client 0, real clock), each batch's
    clients as child processes."""
    async with open_store(url) as store:
        history = [_operation(0, await client.call(store, s.input)) for s in scenario.prefix]
        for batch in scenario.batches:
            history += await clients.run(url, batch.clients)
            history += [_operation(0, await client.call(store, s.input)) for s in READ_BACK]
    return history


async def play_servers(
    scenario: Scenario, factory: StoreFactory, store: SessionStore, url: str, clock: FakeClock
) -> list[lin.Operation]:
    """For an ``exec:`` target: client 0 on the store itself, each batch client on a
    server of its own attached to ``url`` (:data:`CLIENTS` processes besides the
    store's), all driven from this loop and timed here (:func:`.linearizable.play`)."""
    async with AsyncExitStack() as stack:
        others = [
            await stack.enter_async_context(reopen(factory, url, clock)) for _ in range(CLIENTS)
        ]
        return await play(scenario, [store, *others], clock)


def _processes(
    harness: Harness, scenario: Scenario, clock: FakeClock, clients: Clients
) -> tuple[list[lin.Operation], int | None]:
    manager = opened(harness.factory, clock)
    store = harness.driver.enter(manager)  # holds the namespace open; clients open its url
    try:
        url = store_url(store)
        if attaches(harness.factory):
            history = harness.driver.call(
                play_servers, scenario, harness.factory, store, url, clock
            )
        else:
            history = harness.driver.call(play_processes, scenario, url, clients)
        return history, _default_ttl_ms(store)
    finally:
        harness.driver.exit(manager)


@check(*CLAUSES, requires=("multi_process", "url"))
def check_linearizable_processes(harness: Harness) -> None:
    """Histories of client processes, each opening the store's url, are linearizable."""
    clients = Clients()

    def player(
        harness: Harness, scenario: Scenario, clock: FakeClock
    ) -> tuple[list[lin.Operation], int | None]:
        return _processes(harness, scenario, clock, clients)

    try:
        _verify(
            _fewer(harness, 10),
            "linearizable_processes",
            CLAUSES,
            player,
            strategy=process_scenarios,
            timeless=True,
            races=duels(ROUNDS, CLIENTS),
        )
    finally:
        harness.driver.call(clients.close)
