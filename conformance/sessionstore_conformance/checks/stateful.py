"""The stateful suite: a Hypothesis state machine that plays random sequences of every
operation against the store and the executable model at once, comparing them after every
step.

:class:`SessionStoreMachine` is the spec as rules. Each rule draws what it needs, notes
the call it is about to make (so a shrunk counterexample reads as a story), applies it
to the store and then to the model, and compares the two. Its docstring cites the clauses
it exercises; a disagreement blames the clause that governs the outcome the model
expected (``replace`` expected to conflict and did not: REPLACE-2), plus the clauses of
each field that differs and of the liveness or owner rule that decided the outcome. An
exception where the contract has none (a ``TypeError``, ``StoreUnavailable`` from
``count``) is a disagreement too, blamed the same way. Invariants check what must hold
after every step: every id reads as the model says (and shows no mutation the kit made to
data after a call returned it or was given it: COPY-1), and the count.

Two modes (:class:`Mode`), one machine:

* **On the injected clock** (stores declaring ``injectable_clock``): writes take ttls,
  the clock moves (also to the exact expiry instants), and every field is compared
  exactly. This decides every clause below, the expiry clauses included.
* **In real time** (every other store): no ttl on data writes, so sessions never expire
  during a run; ``touch`` and imports use expiries a day away (or a day past), and no
  rule moves a clock. The model adopts the instant the store stamped on each write
  (``updated_at``; for ``touch``, ``expires_at`` less the ttl) once that instant lies
  within the call's wall-clock window widened by the tolerance (``harness.tolerance_ms``
  if the harness has one, else 250 ms); every other comparison stays exact, so a field
  stamped once is compared exactly ever after. This decides :data:`CLOCK_FREE_CLAUSES`.

The runner reads a check's clauses statically, so the suite is registered twice over one
run: ``stateful`` (every store) claims the clock-free clauses, and ``stateful_expiry``
(stores with an injected clock) claims the expiry clauses of the same run.

Shrinking is bounded: once a failure is seen, Hypothesis may shrink it for
:data:`SHRINK_BUDGET` seconds (by profile); then the smallest failure seen is reported.
A run is seeded (``harness.seed``, else a fresh seed unless the profile is derandomized),
and the seed is printed with the counterexample, so a failure can be replayed.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from hypothesis import note, seed
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sessionstore import ImportRejected, OnConflict, Session, SessionStoreError
from sessionstore.semantics import from_ms, to_ms

from ..clock import FakeClock
from ..errors import ClauseViolation
from ..model import Model, ModelSession
from ..target import opened
from ..wire.transforms import incrementing
from .helpers import FIELDS, differences
from .registry import Harness, check

# --- what the machine draws ------------------------------------------------------------------

POOL = ["s0", "s1", "s2", "s3"]
SAFE = 2**53 - 1
DAY_MS = 86_400_000


class Ttl(NamedTuple):
    """A ttl as passed to the store, and its milliseconds written out (TTL-1), so the model
    does no conversion of its own."""

    value: Any
    ms: int | None

    def __repr__(self) -> str:
        return repr(self.value)


class Read(NamedTuple):
    """A read the invariant makes: what it is (for messages), the call, and the clauses
    its raising fails."""

    what: str
    call: Callable[[], Awaitable[Any]]
    clauses: tuple[str, ...]


NO_TTL = Ttl(None, None)
#: ttls on the injected clock: down to the millisecond, so expiry boundaries are reached.
TTLS = [
    NO_TTL,
    Ttl(0.001, 1),
    Ttl(0.002, 2),
    Ttl(0.5, 500),
    Ttl(1, 1000),
    Ttl(2.5, 2500),
    Ttl(60, 60_000),
    Ttl(timedelta(milliseconds=3), 3),
]


@dataclass(frozen=True)
class Mode:
    """What the machine may draw, by how it keeps time."""

    name: str
    #: ttls of create, replace and update
    write_ttls: st.SearchStrategy[Ttl]
    #: ttls of touch
    touch_ttls: st.SearchStrategy[Ttl]
    #: where the expiry of an imported record lies, in ms from now (None: never)
    import_lives: st.SearchStrategy[int | None]


#: Writes take ttls down to the millisecond, so expiry boundaries are reached.
CLOCKED = Mode(
    "on the injected clock",
    st.sampled_from(TTLS),
    st.sampled_from(TTLS[1:]),
    st.sampled_from([None, -1000, 0, 1, 5000]),
)
#: Nothing expires during a run: no ttl on writes, touch and imports a day away (or past).
REAL_TIME = Mode(
    "in real time",
    st.just(NO_TTL),
    st.sampled_from([Ttl(3600, 3_600_000), Ttl(timedelta(days=1), DAY_MS)]),
    st.sampled_from([None, -DAY_MS, DAY_MS]),
)
OWNERS = [None, None, "alice", "bob"]
#: A principal that owns nothing: every owned session is invisible to it (OWN-2).
STRANGER = "mallory"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)


values = st.recursive(scalars, _containers, max_leaves=4)
json_objects = st.dictionaries(st.text(max_size=4), values, max_size=3)
#: Put by the kit into data a call returned or was given; a read that shows it breaks COPY-1.
PROBE = "__kit_probe__"


#: ids the store generated (CREATE-2), drawn as freely as the fixed pool.
generated = Bundle("generated")
ids = st.sampled_from(POOL) | generated
owners = st.sampled_from(OWNERS)
#: choices that depend on the machine's mode (st.runner() is the machine)
write_ttls = st.runner().flatmap(lambda machine: machine.mode.write_ttls)
touch_ttls = st.runner().flatmap(lambda machine: machine.mode.touch_ttls)
import_lives = st.runner().flatmap(lambda machine: machine.mode.import_lives)

#: Rules that move the clock or need expiring sessions run on the injected clock only.
on_the_injected_clock = precondition(lambda machine: machine.clock is not None)

# --- what the machine decides ----------------------------------------------------------------

#: Decided in both modes.
CLOCK_FREE_CLAUSES = (
    "REC-1",
    "REC-2",
    "REC-3",
    "REC-4",
    "TTL-3",
    "CREATE-1",
    "CREATE-2",
    "CREATE-3",
    "GET-1",
    "GET-2",
    "REPLACE-1",
    "REPLACE-2",
    "REPLACE-3",
    "UPDATE-1",
    "UPDATE-3",
    "TOUCH-1",
    "DELETE-1",
    "DELETE-2",
    "LIST-1",
    "LIST-2",
    "COUNT-1",
    "EXPORT-1",
    "IMPORT-3",
    "IMPORT-4",
    "IMPORT-5",
    "IMPORT-6",
    "OWN-1",
    "OWN-2",
    "COPY-1",
)
#: Decided on the injected clock only: they need sessions that expire mid-run.
EXPIRY_CLAUSES = ("LIVE-1", "LIVE-2", "LIVE-3", "TTL-2", "CREATE-4", "TOUCH-2", "PURGE-1")

#: The clauses of each field, blamed when the store's value of it differs from the model's.
FIELD_CLAUSES = {
    "data": ("REC-2",),
    "version": ("REC-3",),
    "created_at": ("REC-4",),
    "updated_at": ("REC-4",),
    "expires_at": ("TTL-2", "TTL-3", "TOUCH-1"),
    "owner": ("OWN-1",),
    "id": ("REC-1",),
}
#: Clauses to blame, by the outcome the model expected ("ok" or an error class name).
Blame = tuple[str, ...] | dict[str, tuple[str, ...]]
#: ("ok", value) or ("error", exception)
Outcome = tuple[str, Any]

#: Seconds Hypothesis may shrink a failure, by profile, before the smallest seen is reported.
SHRINK_BUDGET = {"ci": 15.0, "dev": 30.0, "thorough": 120.0}
#: The real-time mode's tolerance when the harness states none.
TOLERANCE_MS = 250


def _describe(outcome: Outcome) -> str:
    kind, value = outcome
    if kind == "ok":
        return f"returned {value!r}"
    return f"raised {type(value).__name__}" + (
        "" if isinstance(value, SessionStoreError) else f"({value})"
    )


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class WallClock(FakeClock):
    """The real clock, handed to a store in real time that takes ``clock=`` all the same."""

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc)


def _stamp(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _document(records: list[ModelSession], now: int) -> dict[str, Any]:
    """An export document holding ``records``, exported at ``now``."""
    return {
        "format": "sessionstore-export",
        "format_version": 1,
        "exported_at": _stamp(now),
        "sessions": [
            {
                "id": r.id,
                "data": r.data,
                "version": r.version,
                "created_at": _stamp(r.created),
                "updated_at": _stamp(r.updated),
                "expires_at": None if r.expires is None else _stamp(r.expires),
                "owner": r.owner,
            }
            for r in records
        ],
    }


def _ttl_ms(default: float | timedelta | None) -> int | None:
    if default is None:
        return None
    span = default if isinstance(default, timedelta) else timedelta(seconds=default)
    return round(span / timedelta(milliseconds=1))


class Instant(NamedTuple):
    """How to read, from a write's result, the instant the store took as now."""

    read: Callable[[Session], int | None]
    #: blamed when that instant lies outside the call's window
    clauses: tuple[str, ...]


#: A data write's now is its updated_at (REC-4).
WRITTEN = Instant(lambda s: to_ms(s.updated_at), ("REC-4",))


def touched(ttl: Ttl) -> Instant:
    """A touch's now is its new expires_at less the ttl (TOUCH-1)."""
    assert ttl.ms is not None
    ms = ttl.ms
    return Instant(
        lambda s: None if s.expires_at is None else to_ms(s.expires_at) - ms, ("TOUCH-1",)
    )


# --- one run's search ------------------------------------------------------------------------


@dataclass
class Search:
    """One run's shrink budget and the smallest failure seen so far."""

    budget: float
    smallest: ClauseViolation | None = None
    steps: int = 0
    first_failure: float | None = None

    def failed(self, violation: ClauseViolation, steps: int) -> None:
        self.first_failure = self.first_failure or time.monotonic()
        if self.smallest is None or steps <= self.steps:
            self.smallest, self.steps = violation, steps

    @property
    def spent(self) -> bool:
        return (
            self.first_failure is not None and time.monotonic() - self.first_failure > self.budget
        )


class _ShrinkBudgetSpent(BaseException):
    """Raised through Hypothesis (a BaseException, so it is not taken for a failure)."""


# --- the machine -----------------------------------------------------------------------------


class SessionStoreMachine(RuleBasedStateMachine):
    """The contract as a state machine over the store that ``harness`` opens.

    ``clocked``: drive the store on an injected :class:`FakeClock` (it must declare
    ``injectable_clock``); else run in real time. ``search`` collects the failures of
    one run and bounds its shrinking (unbounded when not given).
    """

    def __init__(
        self, harness: Harness, *, clocked: bool = True, search: Search | None = None
    ) -> None:
        super().__init__()
        self.harness = harness
        self.search = search or Search(budget=math.inf)  # no bound but Hypothesis's own
        self.clock = FakeClock() if clocked else None
        self.tolerance_ms: int = getattr(harness, "tolerance_ms", None) or TOLERANCE_MS
        self._cm = opened(harness.factory, self.clock or WallClock())
        self.store = harness.driver.enter(self._cm)
        default_ms = _ttl_ms(self.store.default_ttl)
        self.model = Model(self.now(), default_ms)
        self.story: list[str] = []
        self.known: set[str] = set(POOL)  # every id the invariants read
        self.mode = CLOCKED if clocked else REAL_TIME
        if not clocked and default_ms is not None and default_ms < 3_600_000:
            # A default_ttl under an hour would expire sessions mid-run: ask for a day.
            a_day = st.just(Ttl(timedelta(days=1), DAY_MS))
            self.mode = dataclasses.replace(self.mode, write_ttls=a_day)

    def teardown(self) -> None:
        self.harness.driver.exit(self._cm)
        # Stop at the end of an example, its draws done (stopping sooner looks to Hypothesis
        # like flaky data generation); never during the final replay of the minimal failure.
        if self.search.spent and not current_build_context().is_final:
            raise _ShrinkBudgetSpent

    # --- plumbing ------------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.ms if self.clock is not None else _wall_ms()

    def say(self, line: str) -> None:
        """Note the step about to run: the shrunk counterexample reads as these lines."""
        self.story.append(line)
        note(line)

    def fail(self, clauses: tuple[str, ...], message: str) -> ClauseViolation:
        """The violation to raise, carrying the story so far (the counterexample)."""
        violation = ClauseViolation(tuple(dict.fromkeys(clauses)), message)
        steps = [f"{n:3}. {line}" for n, line in enumerate(self.story, 1)]
        violation.counterexample = "\n".join([*steps, f"     -> {message}"])
        self.search.failed(violation, len(self.story))
        return violation

    def call(
        self, operation: Callable[[], Awaitable[Any]], what: str, clauses: tuple[str, ...]
    ) -> Any:
        """The store's answer to a call that must not raise; an exception fails ``clauses``,
        with the story so far."""
        try:
            return self.harness.driver.call(operation)
        except Exception as exc:
            raise self.fail(clauses, f"{what}: raised {type(exc).__name__}({exc})") from exc

    def apply(
        self,
        operation: Callable[[], Awaitable[Any]],
        model: Callable[[], Any],
        instant: Instant | None = None,
    ) -> tuple[Outcome, Outcome]:
        """Call the store, then the model at the store's now; their outcomes.

        On the injected clock the model's now is the clock's. In real time it is the
        instant the store stamped (``instant``), once that lies within the call's
        wall-clock window ± the tolerance; for calls that stamp nothing, the window's start.
        """
        started = _wall_ms()
        try:
            actual: Outcome = ("ok", self.harness.driver.call(operation))
        except Exception as exc:  # anything but the contract's errors is a wrong outcome
            actual = ("error", exc)
        if self.clock is None:
            self.model.now = self.instant(actual, instant, started, _wall_ms())
        try:
            expected: Outcome = ("ok", model())
        except SessionStoreError as exc:
            expected = ("error", exc)
        return expected, actual

    def instant(self, actual: Outcome, instant: Instant | None, started: int, ended: int) -> int:
        if instant is None or actual[0] != "ok" or not isinstance(actual[1], Session):
            return started
        stamped = instant.read(actual[1])
        if stamped is None:
            return started  # the comparison shows what is missing
        low, high = started - self.tolerance_ms, ended + self.tolerance_ms
        if not low <= stamped <= high:
            raise self.fail(
                instant.clauses,
                f"the store's now was {_stamp(stamped)}, outside the call's wall-clock "
                f"window {_stamp(started)}..{_stamp(ended)} ± {self.tolerance_ms} ms",
            )
        return stamped

    def presence_clauses(self, session_id: str, owner: str | None = None) -> tuple[str, ...]:
        """The liveness or owner rule that decided whether the model saw the session."""
        found = self.model.records.get(session_id)
        if found is not None and not found.live(self.model.now):
            return ("LIVE-1",) if found.expires == self.model.now else ("LIVE-2",)
        if found is not None and owner is not None and found.owner not in (None, owner):
            return ("OWN-2",)
        return ()

    def compare(
        self,
        what: str,
        blame: Blame,
        expected: Outcome,
        actual: Outcome,
        session_id: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Store and model must agree; a disagreement blames the clause that governs the
        outcome the model expected (e.g. VersionConflict -> REPLACE-2)."""
        self.expect_own_copy(what, actual)
        extra = self.presence_clauses(session_id, owner) if session_id else ()
        key = type(expected[1]).__name__ if expected[0] == "error" else "ok"
        clauses = blame if isinstance(blame, tuple) else blame.get(key, blame["ok"])
        if expected[0] != actual[0] or (
            expected[0] == "error" and type(expected[1]) is not type(actual[1])
        ):
            raise self.fail(
                extra + clauses,
                f"{what}: the model {_describe(expected)}, the store {_describe(actual)}",
            )
        if expected[0] == "ok" and isinstance(expected[1], Session):
            diff = differences(expected[1], actual[1])
            if diff:
                blamed = tuple(c for f in diff for c in FIELD_CLAUSES.get(f, ()))
                raise self.fail(
                    extra + blamed + clauses,
                    f"{what}: returned {actual[1]!r}, expected {expected[1]!r} ({', '.join(diff)})",
                )
        elif expected[0] == "ok" and expected[1] != actual[1]:
            raise self.fail(
                extra + clauses, f"{what}: returned {actual[1]!r}, expected {expected[1]!r}"
            )
        self.poke(actual[1])

    def expect_own_copy(self, what: str, actual: Outcome) -> None:
        """COPY-1: no data the kit mutated after a call shows in a later read."""
        if actual[0] == "ok" and isinstance(actual[1], Session) and PROBE in actual[1].data:
            raise self.fail(
                ("COPY-1",),
                f"{what}: shows {PROBE!r}, which the kit wrote into data a call returned "
                "or was given, after the call",
            )

    def poke(self, value: Any) -> None:
        """Mutate data a call returned or was given (COPY-1): the store must not see it."""
        if isinstance(value, dict):
            value[PROBE] = [1]
        elif isinstance(value, Session) and isinstance(value.data, dict):
            value.data[PROBE] = [1]

    def version_for(self, session_id: str, choice: str) -> int | None:
        found = self.model.live(session_id)
        current = found.version if found else 1
        return {
            "none": None,
            "current": current,
            "stale": max(1, current - 1),
            "ahead": current + 1,
        }[choice]

    # --- rules: writes -------------------------------------------------------------------

    @rule(session_id=st.sampled_from(POOL), data=json_objects, ttl=write_ttls, owner=owners)
    def create(self, session_id: str, data: dict[str, Any], ttl: Ttl, owner: str | None) -> None:
        """CREATE-1, CREATE-3, CREATE-4, TTL-2, TTL-3, OWN-1: create with a chosen id makes a
        new session, unless one is live under that id (whatever its owner)."""
        self.say(f"create({data!r}, id={session_id!r}, ttl={ttl!r}, owner={owner!r})")
        expected, actual = self.apply(
            lambda: self.store.create(data, ttl=ttl.value, id=session_id, owner=owner),
            lambda: self.model.create(session_id, data, ttl.ms, owner),
            WRITTEN,
        )
        blame: Blame = {"ok": ("CREATE-1",), "SessionExists": ("CREATE-3",)}
        self.compare(f"create(id={session_id!r})", blame, expected, actual, session_id)
        self.poke(data)  # COPY-1: the caller's dict is its own after the call

    @rule(target=generated, data=json_objects, ttl=write_ttls)
    def create_generated_id(self, data: dict[str, Any], ttl: Ttl) -> str:
        """CREATE-1, CREATE-2: create without an id generates one no live session has."""
        self.say(f"create({data!r}, ttl={ttl!r})")
        started = _wall_ms()
        made = self.call(lambda: self.store.create(data, ttl=ttl.value), "create()", ("CREATE-1",))
        if self.clock is None:
            self.model.now = self.instant(("ok", made), WRITTEN, started, _wall_ms())
        if self.model.live(made.id) is not None:
            raise self.fail(
                ("CREATE-2",), f"create() generated the id of a live session: {made.id!r}"
            )
        self.say(f"   ... it generated {made.id!r}")
        expected = self.model.create(made.id, data, ttl.ms, None)
        self.compare("create()", ("CREATE-1", "CREATE-2"), ("ok", expected), ("ok", made))
        self.poke(data)
        self.known.add(made.id)
        return str(made.id)

    @rule(
        session_id=ids,
        data=json_objects,
        ttl=write_ttls,
        choice=st.sampled_from(["none", "current", "stale", "ahead"]),
    )
    def replace(self, session_id: str, data: dict[str, Any], ttl: Ttl, choice: str) -> None:
        """REPLACE-1..3, TTL-2, TTL-3, REC-3: replace writes new data and bumps the version,
        unless the expected version differs or no session is live."""
        version = self.version_for(session_id, choice)
        self.say(f"replace({session_id!r}, {data!r}, expected_version={version}, ttl={ttl!r})")
        expected, actual = self.apply(
            lambda: self.store.replace(session_id, data, expected_version=version, ttl=ttl.value),
            lambda: self.model.replace(session_id, data, version, ttl.ms),
            WRITTEN,
        )
        blame: Blame = {
            "ok": ("REPLACE-1",),
            "VersionConflict": ("REPLACE-2",),
            "SessionNotFound": ("REPLACE-3",),
        }
        self.compare(
            f"replace({session_id!r}, expected_version={version})",
            blame,
            expected,
            actual,
            session_id,
        )
        self.poke(data)

    @rule(session_id=ids, key=st.sampled_from(["n", "m"]), ttl=write_ttls)
    def update(self, session_id: str, key: str, ttl: Ttl) -> None:
        """UPDATE-1, UPDATE-3, TTL-2, TTL-3: update writes fn's result on a private copy of
        the data, as replace does; with no live session it raises SessionNotFound."""

        bump = incrementing(key)  # +1, or 0 where there is no int or it would pass SAFE
        found = self.model.live(session_id)
        new = bump(copy.deepcopy(found.data)) if found else {}
        self.say(f"update({session_id!r}, bump {key!r}, ttl={ttl!r})")
        expected, actual = self.apply(
            lambda: self.store.update(session_id, bump, ttl=ttl.value),
            lambda: self.model.replace(session_id, new, None, ttl.ms),
            WRITTEN,
        )
        blame: Blame = {"ok": ("UPDATE-1",), "SessionNotFound": ("UPDATE-3",)}
        self.compare(f"update({session_id!r}, bump {key!r})", blame, expected, actual, session_id)

    @rule(session_id=ids, ttl=touch_ttls, owner=owners)
    def touch(self, session_id: str, ttl: Ttl, owner: str | None) -> None:
        """TOUCH-1, TOUCH-2, OWN-2: touch moves the expiry only; it never revives."""
        assert ttl.ms is not None
        ms = ttl.ms
        self.say(f"touch({session_id!r}, {ttl!r}, owner={owner!r})")
        expected, actual = self.apply(
            lambda: self.store.touch(session_id, ttl.value, owner=owner),
            lambda: self.model.touch(session_id, ms, owner),
            touched(ttl),
        )
        blame: Blame = {"ok": ("TOUCH-1",), "SessionNotFound": ("TOUCH-2",)}
        self.compare(
            f"touch({session_id!r}, {ttl!r}, owner={owner!r})",
            blame,
            expected,
            actual,
            session_id,
            owner,
        )

    @rule(session_id=ids, choice=st.sampled_from(["none", "current", "ahead"]), owner=owners)
    def delete(self, session_id: str, choice: str, owner: str | None) -> None:
        """DELETE-1, DELETE-2, OWN-2: delete removes the live session it may see, unless the
        expected version differs; with none live it returns False."""
        version = self.version_for(session_id, choice)
        self.say(f"delete({session_id!r}, expected_version={version}, owner={owner!r})")
        expected, actual = self.apply(
            lambda: self.store.delete(session_id, expected_version=version, owner=owner),
            lambda: self.model.delete(session_id, version, owner),
        )
        blame: Blame = {"ok": ("DELETE-1",), "VersionConflict": ("DELETE-2",)}
        what = f"delete({session_id!r}, expected_version={version}, owner={owner!r})"
        self.compare(what, blame, expected, actual, session_id, owner)

    @rule()
    def purge_expired(self) -> None:
        """PURGE-1, LIVE-3: purge removes at most the expired sessions; nobody sees it."""
        self.say("purge_expired()")
        most = len(self.model.expired_ids())
        self.model.purge_expired()
        removed = self.call(self.store.purge_expired, "purge_expired()", ("PURGE-1",))
        if not (isinstance(removed, int) and 0 <= removed <= most):
            raise self.fail(
                ("PURGE-1",), f"purge_expired() returned {removed!r}; {most} were expired"
            )

    @rule(
        drawn=st.lists(
            st.tuples(st.sampled_from(POOL), import_lives, st.integers(1, 9), json_objects),
            max_size=3,
            unique_by=lambda record: record[0],
        ),
        on_conflict=st.sampled_from(["error", "skip", "replace"]),
    )
    def import_(
        self, drawn: list[tuple[str, int | None, int, dict[str, Any]]], on_conflict: OnConflict
    ) -> None:
        """IMPORT-3..6: import skips expired records, settles conflicts by on_conflict,
        keeps every field as written and reports what it did."""
        now = self.now()
        records = [
            ModelSession(
                i, body, version, now - 5000, now - 10, None if life is None else now + life, None
            )
            for i, life, version, body in drawn
        ]
        doc = _document(records, now)
        picked = [r.id for r in records]
        told = ", ".join(f"{i!r} v{version} expiring in {life} ms" for i, life, version, _ in drawn)
        self.say(f"import_([{told}], on_conflict={on_conflict!r})")
        expected, actual = self.apply(
            lambda: self.store.import_(doc, on_conflict=on_conflict),
            lambda: self.model.import_(records, on_conflict),
        )
        if expected[0] == "error":  # the model says SessionExists; the store must reject
            expected = ("error", ImportRejected([]))
        blame: Blame = {"ok": ("IMPORT-3", "IMPORT-4", "IMPORT-6"), "ImportRejected": ("IMPORT-4",)}
        self.compare(f"import_({picked}, on_conflict={on_conflict!r})", blame, expected, actual)

    # --- rules: reads --------------------------------------------------------------------

    @rule(session_id=ids, owner=owners)
    def get(self, session_id: str, owner: str | None) -> None:
        """GET-1, OWN-2: get returns the live session the caller may see, else None."""
        self.say(f"get({session_id!r}, owner={owner!r})")
        expected, actual = self.apply(
            lambda: self.store.get(session_id, owner=owner),
            lambda: self.model.get(session_id, owner),
        )
        what = f"get({session_id!r}, owner={owner!r})"
        self.compare(what, ("GET-1",), expected, actual, session_id, owner)

    @rule(limit=st.integers(1, 4))
    def list_everything(self, limit: int) -> None:
        """LIST-1, LIST-2: following cursors yields every live session once, in id order,
        at most ``limit`` a page."""
        self.say(f"list every page (limit={limit})")
        seen: list[Session] = []
        cursor = None
        for _ in range(len(self.model.records) + 2):
            page = self.call(
                functools.partial(self.store.list, cursor=cursor, limit=limit),
                f"list(cursor={cursor!r}, limit={limit})",
                ("LIST-1",),
            )
            if len(page.sessions) > limit:
                raise self.fail(("LIST-1",), f"list(limit={limit}) returned {len(page.sessions)}")
            seen += page.sessions
            cursor = page.cursor
            if cursor is None:
                break
        got, want = [s.id for s in seen], self.model.live_ids()
        if got != want:
            blamed = ("LIST-1",) if sorted(got) == want else ("LIST-2",)
            raise self.fail(
                blamed + ("LIVE-2",), f"listing with limit {limit} gave {got}, expected {want}"
            )
        for s in seen:
            self.compare(
                f"list item {s.id!r}", ("LIST-1",), ("ok", self.model.get(s.id)), ("ok", s)
            )

    @rule()
    def export(self) -> None:
        """EXPORT-1, OWN-1: export holds exactly the live sessions, every field."""
        self.say("export()")
        doc = self.call(self.store.export, "export()", ("EXPORT-1",))
        got = {s.id: s for s in doc.sessions}
        want = self.model.snapshot()
        if sorted(got) != sorted(want):
            raise self.fail(
                ("EXPORT-1", "LIVE-2"), f"export holds {sorted(got)}, expected {sorted(want)}"
            )
        for session_id, item in got.items():
            exported = Session(**{f: getattr(item, f) for f in FIELDS})
            self.compare(
                f"export of {session_id!r}",
                ("EXPORT-1",),
                ("ok", want[session_id]),
                ("ok", exported),
            )

    # --- rules: the clock ----------------------------------------------------------------

    @on_the_injected_clock
    @rule(ms=st.sampled_from([0, 1, 2, 499, 500, 999, 1000, 60_000]))
    def advance_clock(self, ms: int) -> None:
        """LIVE-1, LIVE-2: time passes; the invariants then see who expired."""
        assert self.clock is not None
        self.say(f"advance the clock {ms} ms")
        self.clock.advance(ms)
        self.model.now = self.clock.ms

    @on_the_injected_clock
    @precondition(lambda machine: machine.model.expiries())
    @rule(data=st.data(), before=st.booleans())
    def advance_to_expiry(self, data: st.DataObject, before: bool) -> None:
        """LIVE-1: the clock stops at an expiry instant, or 1 ms before it."""
        assert self.clock is not None
        target = data.draw(st.sampled_from(self.model.expiries()), label="expiry")
        self.say(f"set the clock to {'1 ms before ' if before else ''}an expiry, {_stamp(target)}")
        self.clock.set_ms(max(target - before, self.model.now))
        self.model.now = self.clock.ms

    # --- invariants ----------------------------------------------------------------------

    def read_all(self, reads: list[Read]) -> list[Any]:
        """The store's answers to ``reads``, in order, made in one driver call: the
        invariant reads every id after every step, and a driver call per read cost a loop
        start each. The first read that raises fails its clauses, as :meth:`call` words
        it; no read after it is made."""

        async def in_turn() -> tuple[list[Any], tuple[Read, Exception] | None]:
            answers: list[Any] = []
            for read in reads:
                try:
                    answers.append(await read.call())
                except Exception as exc:
                    return answers, (read, exc)
            return answers, None

        answers, raised = self.harness.driver.call(in_turn)
        if raised is not None:
            read, exc = raised
            message = f"{read.what}: raised {type(exc).__name__}({exc})"
            raise self.fail(read.clauses, message) from exc
        return answers

    @invariant()
    def every_read_agrees_with_the_model(self) -> None:
        """After every step, in this order:

        - GET-1, COPY-1 and each field's clause: every id reads exactly as in the model,
          and no data the kit mutated after a call shows;
        - OWN-2: a call on behalf of another principal sees no owned session;
        - COUNT-1, LIVE-2: count counts live sessions only."""
        known = sorted(self.known)
        owned = [i for i in self.model.live_ids() if self.model.records[i].owner is not None]
        get, stranger = self.store.get, {"owner": STRANGER}
        reads = [Read(f"get({i!r})", functools.partial(get, i), ("GET-1",)) for i in known]
        reads += [
            Read(
                f"get({i!r}, owner={STRANGER!r})", functools.partial(get, i, **stranger), ("GET-1",)
            )
            for i in owned
        ]
        reads.append(Read("count()", self.store.count, ("COUNT-1",)))
        answers = self.read_all(reads)
        n = len(known)
        for read, session_id, actual in zip(reads[:n], known, answers[:n], strict=True):
            what, expected = read.what, self.model.get(session_id)
            self.expect_own_copy(what, ("ok", actual))
            diff = differences(expected, actual)
            if diff:
                blamed = tuple(c for f in diff for c in FIELD_CLAUSES.get(f, ()))
                raise self.fail(
                    self.presence_clauses(session_id) + blamed + ("GET-1",),
                    f"{what} is {actual!r}, expected {expected!r}",
                )
            self.poke(actual)
        for read, session_id, seen in zip(reads[n:-1], owned, answers[n:-1], strict=True):
            if seen is not None:
                owner = self.model.records[session_id].owner
                raise self.fail(
                    ("OWN-2", "GET-1"), f"{read.what} returned {seen!r}; it is owned by {owner!r}"
                )
        counted = answers[-1]
        if counted != self.model.count():
            raise self.fail(
                ("COUNT-1", "LIVE-2"),
                f"count() returned {counted!r}, expected {self.model.count()}",
            )


# --- running it ------------------------------------------------------------------------------


def verify(harness: Harness, *, clocked: bool, shrink_budget: float | None = None) -> None:
    """Run the machine over ``harness``'s store; raise the smallest failure found, its
    counterexample ending with how to replay it. ``shrink_budget``: seconds, else by profile."""
    search = Search(shrink_budget or SHRINK_BUDGET.get(harness.profile, 30.0))

    def fresh() -> SessionStoreMachine:
        return SessionStoreMachine(harness, clocked=clocked, search=search)

    chosen = harness.seed
    if chosen is None and not harness.settings.derandomize:
        chosen = secrets.randbits(32)  # a fresh run, but one that can be replayed
    replay = (
        f"replay: --seed {chosen} (profile {harness.profile})"
        if chosen is not None
        else f"replay: the same run (profile {harness.profile} is derandomized)"
    )
    factory = fresh if chosen is None else seed(chosen)(fresh)
    mode = (CLOCKED if clocked else REAL_TIME).name
    try:
        with with_reporter(lambda value: None):  # the counterexample is ours
            # Hypothesis takes any callable returning a machine (its docstring), not only a class
            run_state_machine_as_test(factory, settings=harness.settings)  # type: ignore[arg-type]
    except ClauseViolation as violation:
        violation.counterexample += f"\n({mode}; {replay})"
        raise violation from None
    except (_ShrinkBudgetSpent, Flaky):
        smallest = search.smallest
        if smallest is None:
            raise
        why = (
            f"shrinking stopped after {search.budget:g} s: the smallest failure seen"
            if search.spent
            else "the failure did not recur on replay: results depend on real time "
            "or on the store's own randomness"
        )
        smallest.counterexample += f"\n({mode}; {why}; {replay})"
        raise smallest from None


#: The one run of the current kit run, shared by the two registrations below.
_last: list[tuple[Harness, ClauseViolation | None]] = []


def _verdict(harness: Harness) -> None:
    if not _last or _last[0][0] is not harness:
        clocked = harness.driver.call(_has_clock, harness)
        try:
            verify(harness, clocked=clocked)
            outcome = None
        except ClauseViolation as violation:
            outcome = violation
        _last[:] = [(harness, outcome)]
    failure = _last[0][1]
    if failure is not None:
        raise failure


async def _has_clock(harness: Harness) -> bool:
    async with opened(harness.factory, FakeClock()) as store:
        return bool(store.capabilities.injectable_clock)


@check(*CLOCK_FREE_CLAUSES)
def check_stateful(harness: Harness) -> None:
    """Random sequences of every operation agree with the executable model (on the injected
    clock when the store takes one, else in real time within the stated tolerance)."""
    _verdict(harness)


@check(*EXPIRY_CLAUSES, requires=("injectable_clock",))
def check_stateful_expiry(harness: Harness) -> None:
    """The same run on the injected clock: sessions expire mid-run, at exact boundaries."""
    _verdict(harness)
