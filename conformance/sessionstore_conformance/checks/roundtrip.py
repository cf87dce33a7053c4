"""REC-2 without any clock: generated JSON objects round-trip through every path.

A Hypothesis property: each generated object is written by ``create``, ``replace`` and
``update`` and read back by the write's own answer, ``get``, ``list``, ``export`` and an
import of the export's JSON text; every answer must be JSON-equal to what was written
(:func:`json_equal`: same keys, same values, integers stay integers). The data leans on
what backends get wrong: astral and control characters, keys with odd characters,
integers at the edges of ±(2**53 - 1), floats that binary cannot hold exactly (0.1, 1e-7,
the smallest subnormal, the largest double), empty containers, and nesting right up to
the store's depth limit. No session expires, so the check runs the same with or without
an injected clock.

Effort follows the profile; ``--seed`` replays a run. Shrinking a failure stops after
:data:`SHRINK_BUDGET` seconds, and the smallest failure seen is reported.
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given, seed
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter

from sessionstore import SessionStore, SessionStoreError

from ..clock import FakeClock
from ..errors import ClauseViolation
from ..target import opened
from ..wire.transforms import returning
from .registry import Harness, check

SAFE = 2**53 - 1
#: Examples per profile: each makes about ten store calls.
EXAMPLES = {"ci": 40, "dev": 100, "thorough": 500}
#: Seconds Hypothesis may spend shrinking a failure before the smallest seen is reported.
SHRINK_BUDGET = 10.0

ODD_TEXT = ["", "😀", "\U0010ffff", "\x00", 'a"b\\c', "\u2028\u2029", "é", "e\u0301", "\ufeff"]
ODD_KEYS = ["", " ", ".", "a.b", "$ref", "__proto__", "/", "~0~1", "\x00", "😀", "key:colon"]
ODD_INTS = [0, -1, SAFE, -SAFE, SAFE - 1, 2**31, -(2**31) - 1, 2**32]
ODD_FLOATS = [
    0.1,
    1e-7,
    5e-324,
    1.7976931348623157e308,
    -0.0,
    1 / 3,
    2.5e-8,
    -2.2250738585072014e-308,
]

texts = st.sampled_from(ODD_TEXT) | st.text(max_size=12)
keys = st.sampled_from(ODD_KEYS) | st.text(max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(ODD_INTS)
    | st.integers(-SAFE, SAFE)
    | st.sampled_from(ODD_FLOATS)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars | st.just({}) | st.just([]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def nested(depth: int, leaf: Any) -> Any:
    """``depth`` containers, alternating object and array, around ``leaf``."""
    for level in range(depth):
        leaf = {"d": leaf} if level % 2 else [leaf]
    return leaf


def objects(max_depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects the store must accept: free-form, or nested to exactly its limit."""
    deep = st.builds(lambda leaf: {"deep": nested(max_depth - 1, leaf)}, scalars)
    return st.dictionaries(keys, values, max_size=6) | deep


def json_equal(written: Any, read: Any) -> bool:
    """JSON equality (REC-2): same keys and values, key order aside; an integer must stay
    an integer, while a float may come back as the equal integer (the note under REC-5)."""
    if type(written) is bool or written is None or type(written) is str:
        return type(read) is type(written) and read == written
    if type(written) is int:
        return type(read) is int and read == written
    if type(written) is float:
        return type(read) in (float, int) and read == written
    if type(written) is list:
        return (
            type(read) is list
            and len(read) == len(written)
            and all(json_equal(w, r) for w, r in zip(written, read, strict=True))
        )
    if type(written) is dict:
        return (
            type(read) is dict
            and read.keys() == written.keys()
            and all(json_equal(v, read[k]) for k, v in written.items())
        )
    return False


async def round_trips(store: SessionStore, session_id: str, data: dict[str, Any]) -> None:
    """Write ``data`` every way and read it back every way; raise at the first difference."""

    def same(read: Any, path: str) -> None:
        if not json_equal(data, read):
            raise ClauseViolation(("REC-2",), f"{path} gave {read!r} for the data written")

    try:
        same((await store.create(data, id=session_id)).data, "create's answer")
        got = await store.get(session_id)
        same(got and got.data, "get after create")
        same((await store.replace(session_id, data)).data, "replace's answer")
        got = await store.get(session_id)
        same(got and got.data, "get after replace")
        same((await store.update(session_id, returning(data))).data, "update's answer")
        got = await store.get(session_id)
        same(got and got.data, "get after update")
        listed = [s for s in (await store.list(limit=1)).sessions if s.id == session_id]
        same(listed[0].data if listed else None, "list")
        exported = await store.export()
        same(next((s.data for s in exported.sessions if s.id == session_id), None), "export")
        await store.delete(session_id)
        await store.import_(exported.to_json())
        got = await store.get(session_id)
        same(got and got.data, "get after importing the export's JSON text")
    except SessionStoreError as exc:
        raise ClauseViolation(
            ("REC-2",), f"the store refused valid data: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        await store.delete(session_id)


class _ShrinkBudgetSpent(BaseException):
    """Raised through Hypothesis (a BaseException, so it is not taken for a failure)."""


@check("REC-2")
def check_data_round_trips(harness: Harness) -> None:
    """Generated JSON objects come back JSON-equal from every write and read path."""
    manager = opened(harness.factory, FakeClock())
    store = harness.driver.enter(manager)
    failures: list[tuple[dict[str, Any], ClauseViolation]] = []
    shrinking = [0.0]
    counter = iter(range(10**9))
    settings = Settings(
        harness.settings,
        max_examples=EXAMPLES.get(harness.profile, EXAMPLES["dev"]),
        derandomize=harness.settings.derandomize and harness.seed is None,
    )

    @settings
    @given(data=objects(store.limits.max_depth))
    def data_round_trips(data: dict[str, Any]) -> None:
        if shrinking[0] and time.monotonic() - shrinking[0] > SHRINK_BUDGET:
            raise _ShrinkBudgetSpent
        try:
            harness.driver.call(round_trips, store, f"rt{next(counter)}", data)
        except ClauseViolation as violation:
            failures.append((data, violation))
            shrinking[0] = shrinking[0] or time.monotonic()
            raise

    test = data_round_trips if harness.seed is None else seed(harness.seed)(data_round_trips)
    try:
        with with_reporter(lambda value: None):  # the counterexample is ours
            test()
    except (ClauseViolation, Flaky, _ShrinkBudgetSpent):
        if not failures:
            raise
        data, violation = min(failures, key=lambda f: len(repr(f[0])))
        violation.counterexample = f"data = {data!r}"
        raise violation from None
    finally:
        harness.driver.exit(manager)
