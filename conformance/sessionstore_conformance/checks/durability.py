"""Durability and processes (DUR-1, DUR-2, PROC-1, CAP-2), all through the store's ``url``.

* close and reopen in this process, field by field (DUR-1);
* kill -9 of a writer process at random points, then reopen (DUR-2);
* increments through ``update`` from several processes at once (PROC-1).

Child processes run :mod:`sessionstore_conformance._writer` with this interpreter. They
use the real clock and write no ttl, so they never disagree with the kit's FakeClock
about liveness. Every wait for a child is bounded, and every child is killed and reaped
whatever happens.

An ``exec:`` target's url opens only in another server (driver protocol, 4.3), so there
every reopen is a server attached to it (:func:`..target.reopen`), the writer of the
crash check is such a server, killed with SIGKILL while the kit writes through it
(:func:`_attached_write_and_kill`), and the increments come from attached servers, each
driven by a task of the kit (:func:`_attached_increments`). What is verified afterwards
is the same.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from sessionstore import Session, SessionStore, SessionStoreError, StoreUnavailable, VersionConflict

from .. import _writer, profiles
from ..clock import FakeClock
from ..errors import ClauseViolation, NotVerified, expect, expect_raises
from ..target import StoreFactory, attaches, opened, reopen
from ..wire.transforms import incrementing, setting
from .helpers import differences, expect_same
from .registry import Ctx, Harness, check

T = TypeVar("T")
log = logging.getLogger(__name__)

WRITER = (sys.executable, "-m", "sessionstore_conformance._writer")
#: Seconds a child may take to start and open the store.
START_TIMEOUT = 30.0
#: Seconds a crash-loop writer may go without acknowledging a write, or take to die.
STEP_TIMEOUT = 10.0
#: Seconds the increment processes may take altogether.
RUN_TIMEOUT = 120.0
#: The crash check kills the writer after 1..MAX_ACKS acknowledged writes, or at an
#: instant up to MAX_DELAY seconds after it opened the store.
MAX_ACKS = 200
MAX_DELAY = 0.2
#: The multi-process check: PROCESSES processes, each incrementing COUNTERS sessions
#: INCREMENTS times.
PROCESSES = 4
INCREMENTS = 50
COUNTERS = 3


# --- shared tools -----------------------------------------------------------------------


def store_url(store: Any) -> str:
    """The store's ``url`` (CAP-2). A store behind the driver protocol has one only if
    its server offers ``attach`` (driver protocol, 4.3); without it, what needs a second
    instance is not verified."""
    if getattr(store, "json_only", False) and not hasattr(store, "url"):
        raise NotVerified(
            ("CAP-2",),
            "the store's server does not offer attach (driver protocol, 4.3): the kit "
            "cannot open a second instance on its data",
        )
    url = getattr(store, "url", None)
    expect(
        isinstance(url, str) and "://" in url,
        "CAP-2",
        f"the store declares durable or multi_process, but its url is {url!r}, not a store URL",
    )
    return str(url)


@asynccontextmanager
async def reopened(
    factory: StoreFactory, url: str, clock: FakeClock, clauses: tuple[str, ...], what: str
) -> AsyncIterator[SessionStore]:
    """``open_store(url)``, or ``attach`` in a server of its own for an ``exec:`` target
    (:func:`..target.reopen`); failing to open breaks ``clauses``."""
    manager = reopen(factory, url, clock)
    try:
        store = await manager.__aenter__()
    except Exception as exc:
        raise ClauseViolation(
            clauses, f"{what}: opening {url!r} again raised {type(exc).__name__}: {exc}"
        ) from exc
    try:
        yield store
    finally:
        await manager.__aexit__(None, None, None)


async def all_sessions(store: SessionStore) -> dict[str, Session]:
    """Every live session, by id, following list cursors."""
    found: dict[str, Session] = {}
    cursor: str | None = None
    while True:
        page = await store.list(cursor=cursor, limit=min(1000, store.limits.max_list_limit))
        found.update((s.id, s) for s in page.sessions)
        cursor = page.cursor
        if cursor is None:
            return found


def _tail(errors: IO[bytes], limit: int = 1500) -> str:
    errors.seek(0)
    text = errors.read().decode("utf-8", errors="replace").strip()
    if not text:
        return "(nothing on stderr)"
    return text if len(text) <= limit else "..." + text[-limit:]


async def _bounded(waiting: Awaitable[T], seconds: float, clauses: tuple[str, ...], what: str) -> T:
    try:
        return await asyncio.wait_for(waiting, seconds)
    except asyncio.TimeoutError:
        raise ClauseViolation(clauses, f"{what} (waited {seconds:g} s)") from None


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Kill (SIGKILL) and wait for a child that is still running; never hangs."""
    if proc.returncode is None:
        with suppress(ProcessLookupError):
            proc.kill()
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), STEP_TIMEOUT)


async def _spawn(*args: str, stdin: int, errors: IO[bytes]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *WRITER, *args, stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=errors
    )


async def _ready(
    proc: asyncio.subprocess.Process,
    errors: IO[bytes],
    url: str,
    clauses: tuple[str, ...],
    what: str,
) -> None:
    """Wait for the child's ``ready``: it opened ``url`` (CAP-2)."""
    assert proc.stdout is not None
    line = await _bounded(
        proc.stdout.readline(),
        START_TIMEOUT,
        clauses,
        f"{what}: a process given store.url {url!r} did not open it",
    )
    if line.strip() != _writer.READY.encode():
        await _reap(proc)
        raise ClauseViolation(
            clauses,
            f"{what}: a process could not open store.url {url!r} "
            f"(exit status {proc.returncode}): {_tail(errors)}",
        )


# --- CAP-2 and DUR-1: the url, close and reopen ----------------------------------------


@check("CAP-2")
async def check_url_reopens(ctx: Ctx) -> None:
    """A store declaring durable or multi_process has a url that reopens the same sessions."""
    caps = getattr(ctx.store, "capabilities", None)
    if not (getattr(caps, "durable", False) or getattr(caps, "multi_process", False)):
        return  # CAP-2 asks nothing of a store that declares neither
    store = ctx.store
    url = store_url(store)
    made = await store.create({"cap": 2}, id="cap-2")
    async with reopened(
        ctx.factory, url, ctx.clock, ("CAP-2",), "opening store.url beside the store"
    ) as other:
        expect_same(made, await other.get("cap-2"), "CAP-2", f"a session read through {url!r}")
        back = await other.create({"cap": "back"}, id="cap-2-back")
    expect_same(back, await store.get("cap-2-back"), "CAP-2", f"a session written through {url!r}")


async def _expect_exactly(
    factory: StoreFactory, url: str, clock: FakeClock, acked: dict[str, Session], when: str
) -> None:
    """Reopen ``url``: exactly the acknowledged sessions, field by field."""
    async with reopened(factory, url, clock, ("DUR-1", "CAP-2"), when) as again:
        found = await all_sessions(again)
        count = await again.count()
    lost = sorted(set(acked) - set(found))
    extra = sorted(set(found) - set(acked))
    expect(not lost, "DUR-1", f"{when}: acknowledged sessions {lost} are missing")
    expect(
        not extra,
        "DUR-1",
        f"{when}: sessions {extra} are present but were deleted or never written",
    )
    for session_id, session in acked.items():
        expect_same(session, found[session_id], "DUR-1", f"{when}: session {session_id!r}")
    expect(count == len(acked), "DUR-1", f"{when}: count() is {count}, not {len(acked)}")


@check("DUR-1", "CAP-2", requires=("durable",))
async def check_reopen(ctx: Ctx) -> None:
    """Every acknowledged write survives close and reopen, field by field; nothing else does."""
    store = ctx.store
    url = store_url(store)
    acked: dict[str, Session] = {}
    for made in (
        await store.create({"k": "plain"}, id="dur-a"),
        await store.create(
            {"k": "owned", "n": [1, 2.5, None, True], "deep": {"x": {"y": "z"}}},
            id="dur-b",
            ttl=3600,
            owner="ada",
        ),
        await store.create({"k": "short"}, id="dur-c", ttl=60),
        await store.create({"k": "doomed"}, id="dur-d"),
        await store.create({"k": "generated"}),
    ):
        acked[made.id] = made
    ctx.clock.advance(1500)
    acked["dur-a"] = await store.replace("dur-a", {"k": "replaced"}, ttl=120)
    # update callbacks as protocol transforms, so that a store behind the driver protocol
    # runs them itself (driver protocol, 5.14)
    acked["dur-b"] = await store.update("dur-b", setting(n=[1, 2.5, None, True, 3]), owner="ada")
    acked["dur-c"] = await store.touch("dur-c", 7200)
    expect(await store.delete("dur-d"), "DELETE-1", "delete of a live session returned False")
    del acked["dur-d"]
    with expect_raises(VersionConflict, "REPLACE-2", "replace with a stale expected_version"):
        await store.replace("dur-a", {"k": "refused"}, expected_version=99)
    ctx.clock.advance(250)
    acked["dur-e"] = await store.create({"k": "last"}, id="dur-e", ttl=30)
    acked["dur-a"] = await store.update("dur-a", setting(k="updated"), ttl=600)
    await store.close()
    factory = ctx.factory
    await _expect_exactly(factory, url, ctx.clock, acked, f"after close and opening {url!r}")

    # One more write in the reopened store, then close and reopen once more.
    when = "reopening store.url"
    async with reopened(factory, url, ctx.clock, ("DUR-1", "CAP-2"), when) as again:
        acked["dur-c"] = await again.update("dur-c", setting(k="again"))
    await _expect_exactly(
        factory, url, ctx.clock, acked, "after one write, close and a second reopen"
    )


# --- DUR-2: kill -9 of a writer process -------------------------------------------------


@dataclass
class CrashTally:
    trials: int = 0
    #: acknowledged writes verified present after the kills
    acked: int = 0
    #: trials killed at a random instant (the others after a random number of acks)
    by_time: int = 0
    #: in-flight (unacknowledged) writes found applied, whole
    in_flight: int = 0

    def __str__(self) -> str:
        return (
            f"{self.trials} trials ({self.by_time} killed at a random instant), "
            f"{self.acked} acknowledged writes checked, "
            f"{self.in_flight} in-flight writes found applied"
        )


@check("DUR-2", requires=("durable",))
def check_crash(harness: Harness) -> None:
    """A writer process killed with SIGKILL loses no acknowledged write; the store reopens."""
    trials = profiles.crash_trials(harness.settings)
    derandomize = bool(harness.settings.derandomize)
    seed = 2030 if derandomize else random.SystemRandom().randrange(2**32)
    tally = harness.driver.call(_crash_trials, harness.factory, trials, seed)
    log.info("crash check (DUR-2): %s; seed %d", tally, seed)


async def _crash_trials(factory: StoreFactory, trials: int, seed: int) -> CrashTally:
    clock = FakeClock()
    async with opened(factory, clock) as store:
        url = store_url(store)
    # No connection of ours stays open: each reopen recovers from what the kill left.
    rng = random.Random(seed)
    tally = CrashTally()
    for trial in range(trials):
        by_time = rng.random() < 0.5
        if by_time:
            delay = rng.uniform(0.0, MAX_DELAY)
            how = f"killed {delay * 1000:.0f} ms after opening the store"
            target: float = delay
        else:
            target = rng.randint(1, MAX_ACKS)
            how = f"killed once {target:.0f} acknowledgements were read"
        where = f"trial {trial + 1} of {trials} (seed {seed}, {how}; before it: {tally})"
        if attaches(factory):
            acks = await _attached_write_and_kill(factory, url, f"t{trial}", by_time, target, where)
        else:
            acks = await _write_and_kill(url, f"t{trial}", by_time, target, where)
        await _verify_crash(factory, url, clock, f"t{trial}", acks, where, tally)
        tally.trials += 1
        tally.by_time += by_time
    return tally


async def _write_and_kill(
    url: str, prefix: str, by_time: bool, target: float, where: str
) -> list[tuple[int, Session]]:
    """Run a crash-loop writer, SIGKILL it, and return its acknowledged writes."""
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryFile() as errors:
        proc = await _spawn("crash", url, prefix, stdin=asyncio.subprocess.DEVNULL, errors=errors)
        try:
            assert proc.stdout is not None
            await _ready(proc, errors, url, ("CAP-2", "DUR-2"), where)
            read: list[bytes] = []
            deadline = loop.time() + target
            while True:
                if by_time:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                else:
                    if len(read) >= target:
                        break
                    left = STEP_TIMEOUT
                try:
                    line = await asyncio.wait_for(proc.stdout.readline(), left)
                except asyncio.TimeoutError:
                    if by_time:
                        break
                    raise ClauseViolation(
                        ("DUR-2",), f"{where}: the writer acknowledged nothing for {left:g} s"
                    ) from None
                if not line:
                    break  # the writer ended on its own
                read.append(line)
            with suppress(ProcessLookupError):
                proc.kill()  # SIGKILL, wherever the writer is
            what = f"{where}: the killed writer's output did not end"
            rest = await _bounded(proc.stdout.read(), STEP_TIMEOUT, ("DUR-2",), what)
            code = await _bounded(proc.wait(), STEP_TIMEOUT, ("DUR-2",), what)
        finally:
            await _reap(proc)
        if code not in (0, -signal.SIGKILL):
            raise ClauseViolation(
                ("DUR-2",),
                f"{where}: the writer failed before it was killed (exit status {code}): "
                f"{_tail(errors)}",
            )
    # Each complete line is an acknowledged write; a cut-off last line is ignored.
    lines = b"".join(read + [rest]).split(b"\n")[:-1]
    acks = [_writer.parse_ack(line.decode()) for line in lines]
    if [j for j, _ in acks] != list(range(len(acks))):
        raise RuntimeError(f"the writer's acknowledgements are out of sequence: {lines[:5]!r}")
    return acks


async def _attached_write_and_kill(
    factory: StoreFactory, url: str, prefix: str, by_time: bool, target: float, where: str
) -> list[tuple[int, Session]]:
    """The crash loop of :mod:`.._writer` for an ``exec:`` target: a server of its own
    attached to ``url`` makes the writes, each acknowledged when its answer reaches the
    kit; the kit SIGKILLs that server at an instant (``by_time``) or with the write after
    the ``target``-th acknowledgement sent (in flight). Its acknowledged writes."""
    acks: list[tuple[int, Session]] = []
    killed = False
    async with reopened(factory, url, FakeClock(), ("CAP-2", "DUR-2"), where) as store:

        def kill() -> None:
            nonlocal killed
            killed = True
            store.kill()  # type: ignore[attr-defined]  # a WireStore

        timer = asyncio.get_running_loop().call_later(target, kill) if by_time else None
        try:
            for j in itertools.count():
                op, session_id, data = _writer.crash_write(prefix, j)
                write = (
                    store.create(data, id=session_id)
                    if op == "create"
                    else store.update(session_id, incrementing("n"))
                )
                if not by_time and len(acks) >= target:
                    sending = asyncio.ensure_future(write)
                    await asyncio.sleep(0)  # the write is on its way to the server
                    kill()
                    with suppress(StoreUnavailable):
                        await sending
                    break
                what = f"{where}: the writer acknowledged nothing"
                acks.append((j, await _bounded(write, STEP_TIMEOUT, ("DUR-2",), what)))
        except StoreUnavailable as exc:
            if not killed:
                raise ClauseViolation(
                    ("DUR-2",), f"{where}: the writer failed before it was killed: {exc}"
                ) from exc
        finally:
            if timer is not None:
                timer.cancel()
    return acks


def _applied_whole(op: str, acked: Session | None, found: Session, data: dict[str, Any]) -> bool:
    """Is ``found`` the in-flight write applied whole (on top of ``acked``, if any)?"""
    if found.expires_at is not None or found.owner is not None or found.data != data:
        return False
    if op == "create":
        return acked is None and found.version == 1 and found.created_at == found.updated_at
    return (
        acked is not None
        and found.version == acked.version + 1
        and found.created_at == acked.created_at
        and found.updated_at >= acked.updated_at
    )


async def _verify_crash(
    factory: StoreFactory,
    url: str,
    clock: FakeClock,
    prefix: str,
    acks: list[tuple[int, Session]],
    where: str,
    tally: CrashTally,
) -> None:
    expected = {session.id: session for _, session in acks}  # the last ack of each id
    op, pending_id, data = _writer.crash_write(prefix, len(acks))  # the write in flight
    if op == "update":
        counter = expected.get(pending_id)
        data = {**counter.data, "n": counter.data["n"] + 1} if counter else data
    when = f"{where}: reopening after kill -9"
    async with reopened(factory, url, clock, ("DUR-2",), when) as store:
        try:
            everything = await all_sessions(store)
        except SessionStoreError as exc:
            raise ClauseViolation(
                ("DUR-2",), f"{where}: the store reopened after kill -9 fails: {exc!r}"
            ) from exc
        # This trial's sessions only: the last trial's cleanup is not what is checked.
        found = {i: s for i, s in everything.items() if i.startswith(f"{prefix}-")}
        lost = sorted(set(expected) - set(found))
        expect(
            not lost,
            "DUR-2",
            f"{where}: {len(lost)} of {len(acks)} acknowledged writes lost, e.g. {lost[:3]}",
        )
        for session_id, got in found.items():
            want = expected.get(session_id)
            if session_id == pending_id and _applied_whole(op, want, got, data):
                tally.in_flight += 1
                continue
            expect(
                want is not None,
                ("DUR-1", "DUR-2"),
                f"{where}: session {session_id!r} is present but no write of it was "
                f"acknowledged, nor applied whole by the write in flight: {got!r}",
            )
            diff = differences(want, got)
            expect(
                not diff,
                "DUR-2",
                f"{where}: session {session_id!r} differs from its last acknowledged write "
                f"(and from the write in flight) in {', '.join(diff)}: "
                f"acknowledged {want!r}, found {got!r}",
            )
        for session_id in everything:  # keep the namespace small for the next trial
            await store.delete(session_id)
    tally.acked += len(acks)


# --- PROC-1: several processes ----------------------------------------------------------


@check("PROC-1", "CONC-1", requires=("multi_process",))
async def check_processes(ctx: Ctx) -> None:
    """Increments through update from several processes at once: none lost, no lock error."""
    store = ctx.store
    url = store_url(store)
    ids = [f"proc-{i}" for i in range(COUNTERS)]
    for session_id in ids:
        await store.create({"n": 0}, id=session_id)
    if attaches(ctx.factory):
        await _attached_increments(ctx.factory, url, ctx.clock, ids)
    else:
        await _writer_increments(url, ids)
    total = PROCESSES * INCREMENTS
    for session_id in ids:
        final = await store.get(session_id)
        n = final.data.get("n") if final else None
        expect(
            final is not None and n == total,
            ("PROC-1", "CONC-1"),
            f"{PROCESSES} processes incremented {session_id!r} {total} times in all, "
            f"but n is {n}: lost updates",
        )
        expect(
            final is not None and final.version == total + 1,
            ("PROC-1", "REC-3"),
            f"{total} updates from {PROCESSES} processes left {session_id!r} at version "
            f"{final.version if final else None}, not {total + 1}",
        )


async def _writer_increments(url: str, ids: list[str]) -> None:
    """:data:`PROCESSES` writer processes (:mod:`.._writer`) opening ``url``, released
    together, each incrementing every id :data:`INCREMENTS` times."""
    procs: list[tuple[asyncio.subprocess.Process, IO[bytes]]] = []
    with ExitStack() as files:
        try:
            for _ in range(PROCESSES):
                errors: IO[bytes] = files.enter_context(tempfile.TemporaryFile())
                proc = await _spawn(
                    "increment",
                    url,
                    ",".join(ids),
                    str(INCREMENTS),
                    stdin=asyncio.subprocess.PIPE,
                    errors=errors,
                )
                procs.append((proc, errors))
            for proc, errors in procs:
                await _ready(proc, errors, url, ("CAP-2",), f"{PROCESSES} incrementing processes")
            # All opened the store: release them at once (communicate writes the line).
            await _bounded(
                asyncio.gather(*(proc.communicate(b"go\n") for proc, _ in procs)),
                RUN_TIMEOUT,
                ("PROC-1",),
                f"{PROCESSES} processes doing {COUNTERS * INCREMENTS} updates each did not finish",
            )
        finally:
            for proc, _ in procs:
                await _reap(proc)
        for number, (proc, errors) in enumerate(procs, 1):
            stderr = _tail(errors)
            expect(
                proc.returncode == 0 and "Traceback" not in stderr,
                "PROC-1",
                f"incrementing process {number} of {PROCESSES} failed "
                f"(exit status {proc.returncode}): {stderr}",
            )


async def _attached_increments(
    factory: StoreFactory, url: str, clock: FakeClock, ids: list[str]
) -> None:
    """The same with :data:`PROCESSES` servers attached to ``url`` (an ``exec:`` target),
    each driven by a task of the kit making its increments one after another."""
    async with AsyncExitStack() as stack:
        stores = [
            await stack.enter_async_context(
                reopened(factory, url, clock, ("CAP-2",), f"{PROCESSES} incrementing servers")
            )
            for _ in range(PROCESSES)
        ]
        await asyncio.gather(*(s.get("warm") for s in stores))  # each has opened the store

        async def increments(number: int, store: SessionStore) -> None:
            try:
                for _ in range(INCREMENTS):
                    for session_id in ids:
                        await store.update(session_id, incrementing("n"))
            except SessionStoreError as exc:
                raise ClauseViolation(
                    ("PROC-1",),
                    f"incrementing server {number} of {PROCESSES} failed: "
                    f"{type(exc).__name__}: {exc}",
                ) from exc

        await _bounded(
            asyncio.gather(*(increments(n, s) for n, s in enumerate(stores, 1))),
            RUN_TIMEOUT,
            ("PROC-1",),
            f"{PROCESSES} servers doing {COUNTERS * INCREMENTS} updates each did not finish",
        )
