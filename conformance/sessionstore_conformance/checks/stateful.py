"""The stateful suite: a Hypothesis state machine that runs random sequences of every
operation (and clock moves, to the exact expiry boundaries) against the store and the
executable model at once, comparing results after every step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.reporting import with_reporter
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sessionstore import ImportRejected, Session, SessionStoreError
from sessionstore.semantics import from_ms

from ..clock import FakeClock
from ..errors import ClauseViolation
from ..model import Model, ModelSession
from ..target import opened
from .helpers import FIELDS, differences
from .registry import Harness, check

POOL = ["s0", "s1", "s2", "s3"]
SAFE = 2**53 - 1
#: ttl values and their milliseconds, written out so the model does no conversion of its own.
TTLS: list[tuple[Any, int | None]] = [
    (None, None),
    (0.001, 1),
    (0.002, 2),
    (0.5, 500),
    (1, 1000),
    (2.5, 2500),
    (60, 60_000),
    (timedelta(milliseconds=3), 3),
]
OWNERS = [None, None, "alice", "bob"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
json_objects = st.dictionaries(st.text(max_size=4), values, max_size=4)
FIELD_CLAUSES = {
    "data": ("REC-2",),
    "version": ("REC-3",),
    "created_at": ("REC-4",),
    "updated_at": ("REC-4",),
    "expires_at": ("TTL-2", "TTL-3", "TOUCH-1"),
    "owner": ("OWN-1",),
    "id": ("REC-1",),
}
STATEFUL_CLAUSES = (
    "REC-1",
    "REC-2",
    "REC-3",
    "REC-4",
    "LIVE-1",
    "LIVE-2",
    "LIVE-3",
    "TTL-2",
    "TTL-3",
    "CREATE-1",
    "CREATE-2",
    "CREATE-3",
    "CREATE-4",
    "GET-1",
    "GET-2",
    "REPLACE-1",
    "REPLACE-2",
    "REPLACE-3",
    "UPDATE-1",
    "UPDATE-3",
    "TOUCH-1",
    "TOUCH-2",
    "DELETE-1",
    "DELETE-2",
    "LIST-1",
    "LIST-2",
    "COUNT-1",
    "PURGE-1",
    "EXPORT-1",
    "IMPORT-3",
    "IMPORT-4",
    "IMPORT-5",
    "IMPORT-6",
    "OWN-1",
    "OWN-2",
)


#: Clauses to blame, by the outcome the model expected ("ok" or an error class name).
Blame = tuple[str, ...] | dict[str, tuple[str, ...]]


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except SessionStoreError as exc:
        return "error", type(exc)


def _describe(outcome: tuple[str, Any]) -> str:
    kind, value = outcome
    return f"raised {value.__name__}" if kind == "error" else f"returned {value!r}"


def build_machine(harness: Harness) -> type[RuleBasedStateMachine]:
    class SessionStoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = FakeClock()
            self._cm = opened(harness.factory, self.clock)
            self.store = harness.driver.enter(self._cm)
            default = self.store.default_ttl
            default_ms = (
                None
                if default is None
                else round(
                    (default if isinstance(default, timedelta) else timedelta(seconds=default))
                    / timedelta(milliseconds=1)
                )
            )
            self.model = Model(self.clock.ms, default_ms)
            self.generated: list[str] = []

        def teardown(self) -> None:
            harness.driver.exit(self._cm)

        # --- plumbing -------------------------------------------------------------------

        def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return harness.driver.call(method, *args, **kwargs)

        def ids(self) -> list[str]:
            return POOL + self.generated

        def presence_clauses(self, session_id: str, owner: str | None = None) -> tuple[str, ...]:
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
            expected: tuple[str, Any],
            actual: tuple[str, Any],
            session_id: str | None = None,
            owner: str | None = None,
        ) -> None:
            """Store and model must agree; a disagreement blames the clause that governs
            the outcome the model expected (e.g. VersionConflict -> REPLACE-2)."""
            extra = self.presence_clauses(session_id, owner) if session_id else ()
            key = expected[1].__name__ if expected[0] == "error" else "ok"
            clauses = blame if isinstance(blame, tuple) else blame.get(key, blame["ok"])
            if expected[0] != actual[0] or (
                expected[0] == "error" and expected[1] is not actual[1]
            ):
                raise ClauseViolation(
                    extra + clauses,
                    f"{what}: the model {_describe(expected)}, the store {_describe(actual)}",
                )
            if expected[0] == "ok" and isinstance(expected[1], Session):
                diff = differences(expected[1], actual[1])
                if diff:
                    blamed = tuple(c for f in diff for c in FIELD_CLAUSES.get(f, ()))
                    raise ClauseViolation(
                        extra + blamed + clauses,
                        f"{what}: returned {actual[1]!r}, expected {expected[1]!r} ({', '.join(diff)})",
                    )
            elif expected[0] == "ok" and expected[1] != actual[1]:
                raise ClauseViolation(
                    extra + clauses, f"{what}: returned {actual[1]!r}, expected {expected[1]!r}"
                )

        # --- rules ----------------------------------------------------------------------

        @rule(
            session_id=st.sampled_from(POOL),
            data=json_objects,
            ttl=st.sampled_from(TTLS),
            owner=st.sampled_from(OWNERS),
        )
        def create(
            self,
            session_id: str,
            data: dict[str, Any],
            ttl: tuple[Any, int | None],
            owner: str | None,
        ) -> None:
            expected = _outcome(lambda: self.model.create(session_id, data, ttl[1], owner))
            actual = _outcome(
                lambda: self.call(self.store.create, data, ttl=ttl[0], id=session_id, owner=owner)
            )
            clauses: Blame = {"ok": ("CREATE-1",), "SessionExists": ("CREATE-3",)}
            self.compare(f"create(id={session_id!r})", clauses, expected, actual, session_id)

        @rule(data=json_objects, ttl=st.sampled_from(TTLS))
        def create_generated_id(self, data: dict[str, Any], ttl: tuple[Any, int | None]) -> None:
            made = self.call(self.store.create, data, ttl=ttl[0])
            expected = _outcome(lambda: self.model.create(made.id, data, ttl[1], None))
            if expected[0] == "error":
                raise ClauseViolation(
                    ("CREATE-2",), f"create() generated the id of a live session: {made.id!r}"
                )
            self.compare("create()", ("CREATE-1", "CREATE-2"), expected, ("ok", made))
            self.generated.append(made.id)

        @rule(data=st.data(), owner=st.sampled_from(OWNERS))
        def get(self, data: st.DataObject, owner: str | None) -> None:
            session_id = data.draw(st.sampled_from(self.ids()), label="id")
            expected = ("ok", self.model.get(session_id, owner))
            actual = _outcome(lambda: self.call(self.store.get, session_id, owner=owner))
            self.compare(
                f"get({session_id!r}, owner={owner!r})",
                ("GET-1",),
                expected,
                actual,
                session_id,
                owner,
            )

        @rule(
            data=st.data(),
            new=json_objects,
            ttl=st.sampled_from(TTLS),
            expected_version=st.sampled_from(["none", "current", "stale", "ahead"]),
        )
        def replace(
            self,
            data: st.DataObject,
            new: dict[str, Any],
            ttl: tuple[Any, int | None],
            expected_version: str,
        ) -> None:
            session_id = data.draw(st.sampled_from(self.ids()), label="id")
            found = self.model.live(session_id)
            current = found.version if found else 1
            version = {
                "none": None,
                "current": current,
                "stale": max(1, current - 1),
                "ahead": current + 1,
            }[expected_version]
            expected = _outcome(lambda: self.model.replace(session_id, new, version, ttl[1]))
            actual = _outcome(
                lambda: self.call(
                    self.store.replace, session_id, new, expected_version=version, ttl=ttl[0]
                )
            )
            self.compare(
                f"replace({session_id!r}, expected_version={version})",
                {
                    "ok": ("REPLACE-1",),
                    "VersionConflict": ("REPLACE-2",),
                    "SessionNotFound": ("REPLACE-3",),
                },
                expected,
                actual,
                session_id,
            )

        @rule(data=st.data(), key=st.sampled_from(["n", "m"]), ttl=st.sampled_from(TTLS))
        def update(self, data: st.DataObject, key: str, ttl: tuple[Any, int | None]) -> None:
            session_id = data.draw(st.sampled_from(self.ids()), label="id")

            def bump(d: dict[str, Any]) -> dict[str, Any]:
                d[key] = d[key] + 1 if type(d.get(key)) is int and abs(d[key]) < SAFE else 0
                return d

            found = self.model.live(session_id)
            expected = _outcome(
                lambda: self.model.replace(
                    session_id, bump(dict(found.data)) if found else {}, None, ttl[1]
                )
            )
            actual = _outcome(lambda: self.call(self.store.update, session_id, bump, ttl=ttl[0]))
            self.compare(
                f"update({session_id!r}, bump {key!r})",
                {"ok": ("UPDATE-1",), "SessionNotFound": ("UPDATE-3",)},
                expected,
                actual,
                session_id,
            )

        @rule(data=st.data(), ttl=st.sampled_from(TTLS[1:]), owner=st.sampled_from(OWNERS))
        def touch(self, data: st.DataObject, ttl: tuple[Any, int], owner: str | None) -> None:
            session_id = data.draw(st.sampled_from(self.ids()), label="id")
            expected = _outcome(lambda: self.model.touch(session_id, ttl[1], owner))
            actual = _outcome(lambda: self.call(self.store.touch, session_id, ttl[0], owner=owner))
            self.compare(
                f"touch({session_id!r}, {ttl[0]!r}, owner={owner!r})",
                {"ok": ("TOUCH-1",), "SessionNotFound": ("TOUCH-2",)},
                expected,
                actual,
                session_id,
                owner,
            )

        @rule(
            data=st.data(),
            expected_version=st.sampled_from(["none", "current", "stale"]),
            owner=st.sampled_from(OWNERS),
        )
        def delete(self, data: st.DataObject, expected_version: str, owner: str | None) -> None:
            session_id = data.draw(st.sampled_from(self.ids()), label="id")
            found = self.model.live(session_id)
            current = found.version if found else 1
            version = {"none": None, "current": current, "stale": current + 1}[expected_version]
            expected = _outcome(lambda: self.model.delete(session_id, version, owner))
            actual = _outcome(
                lambda: self.call(
                    self.store.delete, session_id, expected_version=version, owner=owner
                )
            )
            self.compare(
                f"delete({session_id!r}, expected_version={version}, owner={owner!r})",
                {"ok": ("DELETE-1",), "VersionConflict": ("DELETE-2",)},
                expected,
                actual,
                session_id,
                owner,
            )

        @rule(limit=st.integers(1, 4))
        def list_everything(self, limit: int) -> None:
            seen: list[Session] = []
            cursor = None
            for _ in range(len(self.model.records) + 2):
                page = self.call(self.store.list, cursor=cursor, limit=limit)
                if len(page.sessions) > limit:
                    raise ClauseViolation(
                        ("LIST-1",), f"list(limit={limit}) returned {len(page.sessions)}"
                    )
                seen += page.sessions
                cursor = page.cursor
                if cursor is None:
                    break
            got = [s.id for s in seen]
            want = self.model.live_ids()
            if got != want:
                blamed = ("LIST-1",) if sorted(got) == want else ("LIST-2",)
                raise ClauseViolation(
                    blamed + ("LIVE-2",), f"listing with limit {limit} gave {got}, expected {want}"
                )
            for s in seen:
                self.compare(
                    f"list item {s.id!r}", ("LIST-1",), ("ok", self.model.get(s.id)), ("ok", s)
                )

        @rule()
        def count(self) -> None:
            self.compare(
                "count()",
                ("COUNT-1", "LIVE-2"),
                ("ok", self.model.count()),
                _outcome(lambda: self.call(self.store.count)),
            )

        @rule()
        def purge_expired(self) -> None:
            most = len(self.model.expired_ids())
            self.model.purge_expired()
            removed = self.call(self.store.purge_expired)
            if not (isinstance(removed, int) and 0 <= removed <= most):
                raise ClauseViolation(
                    ("PURGE-1",), f"purge_expired() returned {removed!r}; {most} were expired"
                )

        @rule()
        def export(self) -> None:
            doc = self.call(self.store.export)
            got = {s.id: s for s in doc.sessions}
            want = self.model.snapshot()
            if sorted(got) != sorted(want):
                raise ClauseViolation(
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

        @rule(data=st.data(), on_conflict=st.sampled_from(["error", "skip", "replace"]))
        def import_(self, data: st.DataObject, on_conflict: str) -> None:
            picked = data.draw(
                st.lists(st.sampled_from(POOL), unique=True, max_size=3), label="ids"
            )
            records = []
            for session_id in picked:
                life = data.draw(
                    st.sampled_from([None, -1000, 0, 1, 5000]), label=f"{session_id} expires in"
                )
                version = data.draw(st.integers(1, 9), label=f"{session_id} version")
                body = data.draw(json_objects, label=f"{session_id} data")
                now = self.model.now
                records.append(
                    ModelSession(
                        session_id,
                        body,
                        version,
                        now - 5000,
                        now - 10,
                        None if life is None else now + life,
                        None,
                    )
                )
            doc = {
                "format": "sessionstore-export",
                "format_version": 1,
                "exported_at": _stamp(self.model.now),
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
            expected = _outcome(lambda: self.model.import_(records, on_conflict))
            try:
                actual: tuple[str, Any] = (
                    "ok",
                    self.call(self.store.import_, doc, on_conflict=on_conflict),
                )
            except ImportRejected:
                actual = ("error", ImportRejected)
            except SessionStoreError as exc:
                actual = ("error", type(exc))
            if (
                expected[0] == "error"
            ):  # the model says SessionExists; the store must say ImportRejected
                expected = ("error", ImportRejected)
            self.compare(
                f"import_({picked}, on_conflict={on_conflict!r})",
                {"ok": ("IMPORT-3", "IMPORT-4", "IMPORT-6"), "ImportRejected": ("IMPORT-4",)},
                expected,
                actual,
            )

        @rule(ms=st.sampled_from([0, 1, 2, 499, 500, 999, 1000, 60_000]))
        def advance_clock(self, ms: int) -> None:
            self.clock.advance(ms)
            self.model.now = self.clock.ms

        @precondition(
            lambda self: any(
                r.expires is not None and r.expires >= self.model.now
                for r in self.model.records.values()
            )
        )
        @rule(data=st.data(), before=st.booleans())
        def advance_to_expiry(self, data: st.DataObject, before: bool) -> None:
            ends = sorted(
                {
                    r.expires
                    for r in self.model.records.values()
                    if r.expires is not None and r.expires >= self.model.now
                }
            )
            target = data.draw(st.sampled_from(ends), label="expiry") - (1 if before else 0)
            self.clock.set_ms(max(target, self.model.now))
            self.model.now = self.clock.ms

        @invariant()
        def every_session_matches(self) -> None:
            for session_id in self.ids():
                expected = self.model.get(session_id)
                actual = self.call(self.store.get, session_id)
                diff = differences(expected, actual)
                if diff:
                    blamed = tuple(c for f in diff for c in FIELD_CLAUSES.get(f, ()))
                    raise ClauseViolation(
                        self.presence_clauses(session_id) + blamed + ("GET-1",),
                        f"get({session_id!r}) is {actual!r}, expected {expected!r}",
                    )
                if actual is not None:  # COPY-1: what a caller holds is its own
                    actual.data["__kit_probe__"] = [1]
                    again = self.call(self.store.get, session_id)
                    if again is not None and "__kit_probe__" in again.data:
                        raise ClauseViolation(
                            ("COPY-1",), f"mutating get({session_id!r})'s data changed the store"
                        )

    return SessionStoreMachine


def _stamp(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@check(*STATEFUL_CLAUSES, requires=("injectable_clock",))
def check_stateful(harness: Harness) -> None:
    """Random sequences of every operation and clock move agree with the executable model."""
    machine = build_machine(harness)
    lines: list[str] = []
    try:
        with with_reporter(lambda value: lines.append(str(value))):
            run_state_machine_as_test(machine, settings=harness.settings)
    except ClauseViolation as violation:
        # Hypothesis attaches the minimal failing program as notes (PEP 678) or reports it.
        steps = lines + [n for n in getattr(violation, "__notes__", []) if not n.startswith(" ")]
        violation.counterexample = "\n".join(steps)
        raise
