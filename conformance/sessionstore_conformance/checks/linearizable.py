"""Linearizability of recorded concurrent histories (CONC-1, CONC-2).

Hypothesis generates a scenario — a sequential prefix, then batches of parallel
clients, each a short list of create/get/replace/update/touch/delete/list/count/purge
calls on a few shared ids, with the clock frozen during a batch and moved only between
batches (so expiry is deterministic). The kit plays it against the store, recording
every call's invocation and return time (``perf_counter_ns``), input and outcome, and
checks the history with :mod:`..linearizability` against the executable model. A
failing scenario shrinks; its smallest failing part is shown as a timeline.

Every run first plays the :func:`duels` (explicit examples): every client hammering one
session with the same racing call, so the classic races are met whatever Hypothesis
draws. Before each batch every client makes one harmless, unrecorded call
(:func:`warm`), so that a store which opens a connection per caller has them all open
and no racer starts late.

Stores without ``injectable_clock`` are checked too, on the real clock: they get
:data:`timeless_scenarios` (no ttl, touch gives :data:`LONG_TTL_MS`, no clock move) and
their histories are compared without the time fields (``timeless``), as the process
check (:mod:`.linearizable_processes`) does.

Three ways to be concurrent, by what the store declares:

* ``linearizable_tasks`` — tasks on one event loop, one store (every store). The kit
  yields (``asyncio.sleep(0)``) before each call, runs each call as a task of its own,
  and sometimes cancels a call right after it starts (its outcome is then unknown), so
  stores that await mid-operation interleave. A store whose operations never await
  cannot interleave on one loop: it is linearizable there by construction.
* ``linearizable_instances`` — stores declaring ``multi_process`` (which expose ``url``,
  CAP-2): two instances opened on the same backing data, tasks on one loop alternating
  between them (CONC-2).
* ``linearizable_threads`` — stores declaring ``multi_process``: one thread per client,
  each with its own event loop and its own instance opened from ``url``.

For an ``exec:`` target the second instance is another server process attached to the
first's data (:func:`..target.reopen`; driver protocol, 4.3): the instances and threads
checks then play their clients through several processes, on the kit's clock.

A failing scenario shrinks for at most :data:`SHRINK_BUDGET` seconds; then the smallest
failure seen is reported. A history the checker cannot decide within :data:`TIME_LIMIT`
makes the check *not verified* (:class:`~..errors.NotVerified`): CONC-1 is then reported
unknown, whatever the other checks of the clause say.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import example, given, seed
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter

from sessionstore import (
    Capabilities,
    SessionStore,
    SessionStoreError,
    StoreUnavailable,
)

from .. import linearizability as lin
from .._history_client import perform as perform
from ..clock import FakeClock
from ..errors import ClauseViolation, NotVerified
from ..target import StoreFactory, opened, reopen
from .durability import store_url
from .registry import Harness, check

IDS = ["a", "b", "c"]
#: Seconds a call may take before its outcome is recorded as unknown.
CALL_TIMEOUT = 10.0
#: Seconds the checker may spend on one history before answering "not verified".
TIME_LIMIT = 5.0

# --- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One call: its input (without the clock), the yields before it, whether to cancel it."""

    input: dict[str, Any]
    pause: int = 0
    cancel: bool = False

    def __repr__(self) -> str:
        extra = (f" pause={self.pause}" if self.pause else "") + (
            " cancelled" if self.cancel else ""
        )
        return lin.describe_input(self.input) + extra


@dataclass(frozen=True)
class Batch:
    advance_ms: int
    clients: tuple[tuple[Step, ...], ...]


@dataclass(frozen=True)
class Scenario:
    prefix: tuple[Step, ...]
    batches: tuple[Batch, ...]

    def describe(self) -> str:
        lines = [f"prefix: {list(self.prefix)}"]
        for n, batch in enumerate(self.batches, 1):
            lines.append(f"batch {n} (clock +{batch.advance_ms} ms):")
            lines += [f"  client {c}: {list(steps)}" for c, steps in enumerate(batch.clients, 1)]
        return "\n".join(lines)


datas = st.dictionaries(st.sampled_from(["n", "m"]), st.integers(0, 3), max_size=2)
ttls = st.sampled_from([None, 1000, 1, 500, 60_000])
touch_ttls = st.sampled_from([1000, 1, 500, 60_000])
owners = st.sampled_from([None, None, "alice"])
asking = st.sampled_from([None, "alice", "bob"])
versions = st.sampled_from([None, 1, 2, 1, 3])


def _op(name: str, **args: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"op": st.just(name), **args})


#: How often each call is drawn (writes race, so they come most often).
WEIGHTS = {"replace": 3, "update": 3, "touch": 2, "delete": 2, "create": 1, "get": 1}


def calls_on(
    ids: st.SearchStrategy[str],
    ttls: st.SearchStrategy[int | None] = ttls,
    touch_ttls: st.SearchStrategy[int] = touch_ttls,
) -> st.SearchStrategy[dict[str, Any]]:
    """Calls on the sessions ``ids`` draws from, with ttls drawn from ``ttls`` (and, for
    touch, ``touch_ttls``)."""
    table = {
        "replace": _op("replace", id=ids, data=datas, expected_version=versions, ttl_ms=ttls),
        "update": _op("update", id=ids, key=st.sampled_from(["n", "m"]), ttl_ms=ttls),
        "touch": _op("touch", id=ids, ttl_ms=touch_ttls, owner=asking),
        "delete": _op("delete", id=ids, expected_version=versions, owner=asking),
        "create": _op("create", id=ids, data=datas, ttl_ms=ttls, owner=owners),
        "get": _op("get", id=ids, owner=asking),
    }
    names = [name for name, weight in WEIGHTS.items() for _ in range(weight)]
    return st.sampled_from(names).flatmap(table.__getitem__)


def steps_of(
    calls: st.SearchStrategy[dict[str, Any]], pause: int, cancels: bool = True
) -> st.SearchStrategy[Step]:
    """Steps making ``calls``, each after up to ``pause`` yields, one in ten cancelled
    (if ``cancels``)."""
    cancel = st.integers(0, 9).map(lambda n: n == 9) if cancels else st.just(False)
    return st.builds(Step, calls, pause=st.integers(0, pause), cancel=cancel)


whole_store = st.one_of(_op("list"), _op("count"), _op("purge"))
#: Mostly calls on shared ids (most on the first), now and then one across the store.
anything = st.integers(0, 9).flatmap(
    lambda n: whole_store if n == 9 else calls_on(st.sampled_from([IDS[0], *IDS]))
)
#: Clients doing anything, each at its own pace.
mixed = st.lists(st.lists(steps_of(anything, 2), min_size=1, max_size=4), min_size=2, max_size=3)
#: Clients in lockstep on one session: every client making the same calls, or each its own.
hot = steps_of(calls_on(st.just(IDS[0])), 0)
same = st.builds(
    lambda calls, n: [calls] * n, st.lists(hot, min_size=1, max_size=3), st.integers(2, 3)
)
own = st.lists(st.lists(hot, min_size=1, max_size=3), min_size=2, max_size=3)
batches = st.builds(
    Batch,
    advance_ms=st.sampled_from([0, 1, 499, 500, 1000]),
    clients=st.sampled_from([mixed, same, same, own])
    .flatmap(lambda kind: kind)
    .map(lambda cs: tuple(tuple(c) for c in cs)),
)


def _create(session_id: str, **args: st.SearchStrategy[Any]) -> st.SearchStrategy[Step]:
    return st.builds(Step, _op("create", id=st.just(session_id), data=datas, **args))


scenarios = st.builds(
    Scenario,
    # The prefix creates the sessions the batches fight over, the first one always.
    prefix=st.builds(
        lambda first, others: (first, *others),
        _create(IDS[0], ttl_ms=st.sampled_from([None, 60_000]), owner=st.none()),
        st.lists(
            st.sampled_from(IDS[1:]).flatmap(
                lambda i: _create(i, ttl_ms=st.sampled_from([None, 1000, 60_000]), owner=owners)
            ),
            max_size=len(IDS) - 1,
            unique_by=lambda step: str(step.input["id"]),
        ),
    ),
    batches=st.lists(batches, min_size=1, max_size=3).map(tuple),
)

#: Touch needs a ttl: one far longer than any history lasts, so nothing expires.
LONG_TTL_MS = 3_600_000


def untimed_scenarios(
    *, pause: int, cancels: bool, clients: int, batches: int
) -> st.SearchStrategy[Scenario]:
    """Scenarios the real clock cannot disturb, for stores the kit cannot give its clock
    and for client processes: no ttl (touch gives :data:`LONG_TTL_MS`), no clock moves,
    up to ``batches`` batches of 2..``clients`` clients. Their histories are checked
    timeless (no time field compared)."""

    def untimed_calls(ids: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
        return calls_on(ids, ttls=st.none(), touch_ttls=st.just(LONG_TTL_MS))

    def steps(calls: st.SearchStrategy[dict[str, Any]], pause: int) -> st.SearchStrategy[Step]:
        return steps_of(calls, pause, cancels)

    anything = st.integers(0, 9).flatmap(
        lambda n: whole_store if n == 9 else untimed_calls(st.sampled_from([IDS[0], *IDS]))
    )
    mixed = st.lists(
        st.lists(steps(anything, pause), min_size=1, max_size=4), min_size=2, max_size=clients
    )
    hot = steps(untimed_calls(st.just(IDS[0])), 0)
    same = st.builds(
        lambda calls, n: [calls] * n, st.lists(hot, min_size=1, max_size=3), st.integers(2, clients)
    )
    own = st.lists(st.lists(hot, min_size=1, max_size=3), min_size=2, max_size=clients)
    batch = st.builds(
        Batch,
        advance_ms=st.just(0),
        clients=st.sampled_from([mixed, same, same, own])
        .flatmap(lambda kind: kind)
        .map(lambda cs: tuple(tuple(c) for c in cs)),
    )
    return st.builds(
        Scenario,
        prefix=st.builds(
            lambda first, others: (first, *others),
            _create(IDS[0], ttl_ms=st.none(), owner=st.none()),
            st.lists(
                st.sampled_from(IDS[1:]).flatmap(
                    lambda i: _create(i, ttl_ms=st.none(), owner=owners)
                ),
                max_size=len(IDS) - 1,
                unique_by=lambda step: str(step.input["id"]),
            ),
        ),
        batches=st.lists(batch, min_size=1, max_size=batches).map(tuple),
    )


#: For stores without an injectable clock: tasks and threads on the real clock.
timeless_scenarios = untimed_scenarios(pause=2, cancels=True, clients=3, batches=3)


def duels(rounds: int, clients: int = 3) -> tuple[Scenario, ...]:
    """Scenarios that always race, played first in every run whatever Hypothesis draws:
    ``clients`` clients hammering session ``a`` the same way, ``rounds`` times each, so
    that a race is met even when the clients start far apart (client processes on a
    loaded machine). Untimed: valid for timed and timeless checks alike."""
    sid = IDS[0]

    def steps(*inputs: dict[str, Any]) -> tuple[Step, ...]:
        return tuple(Step(i) for i in inputs)

    create: dict[str, Any] = {"op": "create", "id": sid, "data": {}, "ttl_ms": None, "owner": None}
    update: dict[str, Any] = {"op": "update", "id": sid, "key": "n", "ttl_ms": None}
    touch: dict[str, Any] = {"op": "touch", "id": sid, "ttl_ms": LONG_TTL_MS, "owner": None}
    delete: dict[str, Any] = {"op": "delete", "id": sid, "expected_version": None, "owner": None}

    def cas(client: int, version: int) -> dict[str, Any]:
        return {
            "op": "replace",
            "id": sid,
            "data": {"n": client},
            "expected_version": version,
            "ttl_ms": None,
        }

    everyone = range(1, clients + 1)
    races = [
        # lost updates (UPDATE-1)
        [steps(*[update] * rounds) for _ in everyone],
        # compare-and-set: one winner per version (REPLACE-2)
        [steps(*(cas(c, v) for v in range(1, rounds + 1))) for c in everyone],
        # a stale touch undoing updates (TOUCH-1)
        [steps(*[touch] * rounds), *(steps(*[update] * rounds) for _ in everyone[1:])],
        # deletes and creates of one id: one winner each time (DELETE-1, CREATE-3)
        [steps(*[delete, create] * rounds) for _ in everyone],
    ]
    prefix = steps(create)
    return tuple(Scenario(prefix, (Batch(0, tuple(race)),)) for race in races)


#: After every batch, client 0 reads every session back, so a write lost in the batch shows.
READ_BACK = tuple(Step({"op": "get", "id": i, "owner": None}) for i in IDS)

# --- recording -------------------------------------------------------------------------------


def _read_outcome(call: asyncio.Future[Any]) -> None:
    """Mark a call's error as seen: when wait_for is cancelled as the call fails, Python
    3.11 leaves that error unread, and asyncio printed "Task exception was never
    retrieved" with its traceback (65 of them in a conformance run on Redis)."""
    if not call.cancelled():
        call.exception()


async def record(client: int, store: SessionStore, step: Step, now: int) -> lin.Operation:
    """Make one call, timing it; a timeout, cancellation or lost connection is unknown."""
    for _ in range(step.pause):
        await asyncio.sleep(0)
    inp = {**step.input, "now": now}
    call = time.perf_counter_ns()
    call_task = asyncio.ensure_future(perform(store, inp))
    call_task.add_done_callback(_read_outcome)
    task = asyncio.ensure_future(asyncio.wait_for(call_task, CALL_TIMEOUT))
    if step.cancel:
        await asyncio.sleep(0)
        task.cancel()
    output: lin.Outcome
    try:
        output = ("ok", lin.observe(inp["op"], await task))
    except (asyncio.CancelledError, asyncio.TimeoutError, StoreUnavailable):
        output = None  # may or may not have taken effect
    except SessionStoreError as exc:
        output = ("error", type(exc).__name__)
    except Exception as exc:  # not an error of the contract: the model never expects it
        output = ("error", f"{type(exc).__name__}: {exc}")
    return lin.Operation(client, inp, call, output, time.perf_counter_ns())


async def _client(
    history: list[lin.Operation],
    client: int,
    store: SessionStore,
    steps: tuple[Step, ...],
    now: int,
) -> None:
    for s in steps:
        history.append(await record(client, store, s, now))


async def warm(store: SessionStore, client: int) -> None:
    """A harmless call (``get`` of an id no scenario uses), unrecorded, so that whatever
    the store keeps per caller (a connection) exists before the client races: a client
    still connecting would start too late to meet the others' calls."""
    with contextlib.suppress(SessionStoreError):
        await store.get(f"warm-{client}")


async def play(
    scenario: Scenario, stores: list[SessionStore], clock: FakeClock
) -> list[lin.Operation]:
    """Clients as tasks on this loop; client c (0 the prefix and read-backs, 1.. a batch's
    clients) uses ``stores[c % len(stores)]``, so with one store more than clients each
    client has one of its own. Before each batch, the batch's clients warm up together."""
    history = [await record(0, stores[0], s, clock.ms) for s in scenario.prefix]
    for batch in scenario.batches:
        clock.advance(batch.advance_ms)
        now = clock.ms
        clients = range(1, len(batch.clients) + 1)
        await asyncio.gather(*(warm(stores[c % len(stores)], c) for c in clients))
        await asyncio.gather(
            *(
                _client(history, c, stores[c % len(stores)], s, now)
                for c, s in zip(clients, batch.clients, strict=True)
            )
        )
        history += [await record(0, stores[0], s, now) for s in READ_BACK]
    return history


def play_threads(
    scenario: Scenario,
    url: str,
    clock: FakeClock,
    timed: bool = True,
    factory: StoreFactory | None = None,
) -> list[lin.Operation]:
    """One thread per client, each with its own loop and store opened from ``url`` (given
    ``clock`` if ``timed``; for an ``exec:`` target ``factory``, a server of its own
    attached to ``url``); the caller moves the clock between batches while every client waits at a
    barrier."""
    width = max(len(b.clients) for b in scenario.batches)
    barrier = threading.Barrier(width + 1, timeout=60)
    history: list[lin.Operation] = []
    errors: list[BaseException] = []

    async def client(c: int) -> None:
        async with reopen(factory, url, clock if timed else None) as store:
            await warm(store, c)
            barrier.wait()
            if c == 0:
                history.extend([await record(0, store, s, clock.ms) for s in scenario.prefix])
            barrier.wait()
            for batch in scenario.batches:
                barrier.wait()
                mine = batch.clients[c] if c < len(batch.clients) else ()
                for s in mine:
                    history.append(await record(c + 1, store, s, clock.ms))
                barrier.wait()
                if c == 0:  # the others wait: the clock must not move before this is done
                    history.extend([await record(0, store, s, clock.ms) for s in READ_BACK])
                barrier.wait()

    def worker(c: int) -> None:
        try:
            asyncio.run(client(c))
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in range(width)]
    for t in threads:
        t.start()
    try:
        barrier.wait()
        barrier.wait()
        for batch in scenario.batches:
            clock.advance(batch.advance_ms)
            barrier.wait()
            barrier.wait()
            barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return history


# --- the checks ------------------------------------------------------------------------------


def _default_ttl_ms(store: SessionStore) -> int | None:
    default = store.default_ttl
    if default is None:
        return None
    span = default if isinstance(default, timedelta) else timedelta(seconds=default)
    return round(span / timedelta(milliseconds=1))


Player = Callable[[Harness, Scenario, FakeClock], tuple[list[lin.Operation], int | None]]


def _verify(
    harness: Harness,
    name: str,
    clauses: tuple[str, ...],
    player: Player,
    strategy: st.SearchStrategy[Scenario] = scenarios,
    timeless: bool = False,
    races: tuple[Scenario, ...] = (),
) -> None:
    """Play ``races`` (explicit examples) and generated scenarios, check each; raise on
    the smallest failing one. ``timeless``: compare no time fields (histories recorded
    on the real clock)."""
    seen = {"histories": 0, "operations": 0}
    unverified: list[list[lin.Operation]] = []
    failures: list[tuple[Scenario, lin.Verdict, list[lin.Operation]]] = []
    shrinking = [0.0]  # when the first failure was seen

    @Settings(harness.settings)
    @given(strategy)
    def scenario_is_linearizable(scenario: Scenario) -> None:
        # Checked before playing, not after: while shrinking, most examples fail.
        if shrinking[0] and time.monotonic() - shrinking[0] > SHRINK_BUDGET:
            raise _ShrinkBudgetSpent
        clock = FakeClock()
        history, default_ms = player(harness, scenario, clock)
        verdict = lin.check(
            history, default_ttl_ms=default_ms, time_limit=TIME_LIMIT, timeless=timeless
        )
        seen["histories"] += 1
        seen["operations"] += len(history)
        if verdict.status == "unknown":
            unverified.append(history)
        elif not verdict.ok:
            failures.append((scenario, verdict, history))
            shrinking[0] = shrinking[0] or time.monotonic()
            raise _failure(clauses, scenario, verdict)

    for race in reversed(races):  # examples run in the order written
        scenario_is_linearizable = example(race)(scenario_is_linearizable)
    if harness.seed is not None:  # --seed replays a run
        scenario_is_linearizable = seed(harness.seed)(scenario_is_linearizable)
    try:
        with with_reporter(lambda value: None):  # the counterexample is ours, not Hypothesis's
            scenario_is_linearizable()
    except ClauseViolation as violation:
        _save(name, failures)
        raise violation from None
    except (Flaky, _ShrinkBudgetSpent) as stopped:
        # Threads interleave differently on a replay (Flaky), or shrinking took too long:
        # report the smallest failure seen.
        if not failures:
            raise
        failures.sort(key=lambda f: (len(f[2]), len(f[1].history)), reverse=True)
        _save(name, failures)
        raise _failure(clauses, *failures[-1][:2]) from stopped
    finally:
        LAST_RUN[name] = dict(seen)
    if unverified:
        for n, history in enumerate(unverified[:5]):
            lin.save_history(history, f"{name}-unverified-{n}")
        raise NotVerified(
            clauses,
            f"{len(unverified)} of {seen['histories']} recorded histories could not be "
            f"decided within {TIME_LIMIT:g} s each: linearizability not verified",
        )


#: Seconds Hypothesis may spend shrinking a failing scenario before the kit reports the
#: smallest failure seen so far.
SHRINK_BUDGET = 5.0


class _ShrinkBudgetSpent(BaseException):
    """Raised through Hypothesis (a BaseException, so it is not taken for a failure)."""


#: Histories and operations checked by each check's last run (for reports and benchmarks).
LAST_RUN: dict[str, dict[str, int]] = {}


def _failure(clauses: tuple[str, ...], scenario: Scenario, verdict: lin.Verdict) -> ClauseViolation:
    what = "the whole store" if verdict.part is None else f"session {verdict.part!r}"
    calls = sorted(verdict.history, key=lambda op: op.call)
    overlap = any(
        b.call <= (math.inf if a.ret is None else a.ret) for a, b in itertools.pairwise(calls)
    )
    why = (
        "no order of its calls within their intervals explains the results"
        if overlap
        else "its calls do not even overlap: the store disagrees with the model sequentially"
    )
    violation = ClauseViolation(
        clauses,
        f"a concurrent history of {len(verdict.history)} operations on {what} is not "
        f"linearizable: {why}",
    )
    violation.counterexample = f"{verdict.explain()}\n\nscenario:\n{scenario.describe()}"
    return violation


def _save(name: str, failures: list[tuple[Scenario, lin.Verdict, list[lin.Operation]]]) -> None:
    if failures:
        _, verdict, history = failures[-1]
        lin.save_history(history, f"{name}-failing")
        lin.save_history(verdict.history, f"{name}-failing-part")


def _tasks(
    harness: Harness, scenario: Scenario, clock: FakeClock
) -> tuple[list[lin.Operation], int | None]:
    async def go() -> tuple[list[lin.Operation], int | None]:
        async with opened(harness.factory, clock) as store:
            return await play(scenario, [store], clock), _default_ttl_ms(store)

    return harness.driver.call(go)


def _instances(
    harness: Harness, scenario: Scenario, clock: FakeClock
) -> tuple[list[lin.Operation], int | None]:
    async def go() -> tuple[list[lin.Operation], int | None]:
        async with opened(harness.factory, clock) as store:
            timed = store.capabilities.injectable_clock
            url = store_url(store)
            async with reopen(harness.factory, url, clock if timed else None) as twin:
                return await play(scenario, [store, twin], clock), _default_ttl_ms(store)

    return harness.driver.call(go)


def _threads(
    harness: Harness, scenario: Scenario, clock: FakeClock
) -> tuple[list[lin.Operation], int | None]:
    manager = opened(harness.factory, clock)
    store = harness.driver.enter(manager)  # holds the namespace open; clients open its url
    try:
        timed = store.capabilities.injectable_clock
        url = store_url(store)
        history = play_threads(scenario, url, clock, timed, harness.factory)
        return history, _default_ttl_ms(store)
    finally:
        harness.driver.exit(manager)


def _fewer(harness: Harness, divisor: int) -> Harness:
    few = max(10, harness.settings.max_examples // divisor)
    return dataclasses.replace(harness, settings=Settings(harness.settings, max_examples=few))


def _declared(harness: Harness) -> Capabilities:
    async def go() -> Capabilities:
        async with opened(harness.factory, FakeClock()) as store:
            return store.capabilities

    return harness.driver.call(go)


def _verify_any_clock(
    harness: Harness, name: str, clauses: tuple[str, ...], player: Player, rounds: int
) -> None:
    """With the kit's clock: timed scenarios (ttls, clock moves between batches). Without:
    :data:`timeless_scenarios` on the real clock, compared without time fields. Either
    way, the :func:`duels` of ``rounds`` rounds first."""
    races = duels(rounds)
    if _declared(harness).injectable_clock:
        _verify(harness, name, clauses, player, races=races)
    else:
        _verify(harness, name, clauses, player, timeless_scenarios, timeless=True, races=races)


@check("CONC-1")
def check_linearizable_tasks(harness: Harness) -> None:
    """Histories of concurrent tasks on one store are linearizable against the model."""
    _verify_any_clock(harness, "linearizable_tasks", ("CONC-1",), _tasks, rounds=2)


@check("CONC-2", requires=("multi_process", "url"))
def check_linearizable_instances(harness: Harness) -> None:
    """Histories of tasks on two instances opened from one url are linearizable together."""
    _verify_any_clock(
        _fewer(harness, 2), "linearizable_instances", ("CONC-2",), _instances, rounds=2
    )


@check("CONC-1", "CONC-2", requires=("multi_process", "url"))
def check_linearizable_threads(harness: Harness) -> None:
    """Histories of threads, each with its own loop and instance, are linearizable."""
    _verify_any_clock(
        _fewer(harness, 4), "linearizable_threads", ("CONC-1", "CONC-2"), _threads, rounds=10
    )
