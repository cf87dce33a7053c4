"""Is a recorded concurrent history linearizable with respect to the executable model?

A *history* is a list of :class:`Operation`: who called what (the input), when the call
started and returned (monotonic nanoseconds), and what came back. It is linearizable
(CONC-1) when every operation can be given one instant between its call and its return
so that, run in the order of those instants, the sequential :class:`~.model.Model`
returns exactly what the store returned.

The search is Wing & Gong's, with Lowe's memoisation (as Porcupine and Knossos do it):
the history is a doubly linked list of call and return events in time order; the
search repeatedly *linearizes* an operation whose call precedes every pending return
(removing its two events from the list), and backtracks when it meets a return event it
cannot pass. A cache of (set of linearized operations, model state) pairs prunes every
configuration seen before, which makes typical histories cost near-linear time.

* **Partitioning.** Sessions with different ids are independent objects (P-compositionality):
  the operations on one id (create, get, replace, update, touch, delete) are checked as
  a history of their own, against a model holding that one session. Operations that span
  ids (list, count, purge_expired) cannot be split; when a history holds any, the whole
  history is checked once more against the full-store model (after every per-id part
  passed), with the per-id results as the fast path.
* **Unknown outcomes.** A call that timed out, was cancelled or lost its connection may or
  may not have taken effect: the search may linearize it anywhere after its call, with
  any result, or leave it out. Its return time is when the kit knew it was over (a
  cancelled task has finished) or ``None`` (it may still be running: infinity).
* **Time bound.** The search is NP-complete in general; past ``time_limit`` seconds it
  stops and answers ``unknown``, which the kit reports as *not verified*, never as a pass.

The model state of one session is a small hashable tuple ``(data as canonical JSON,
version, created, updated, expires, owner)``, absent when there is none; the state of the
store is the sorted tuple of ``(id, session)`` pairs, expired-but-unpurged ones included
(purge_expired counts them).

**Timeless histories.** Histories recorded on clocks the kit does not control (child
processes on the real clock) are checked with ``timeless=True``: the time fields
(created, updated, expires) are zeroed in every model state, in what the model expects and
in what the store returned (:func:`untimed`), so only data, version and owner are
compared, and no session ever expires in the model. Such histories must not depend on
expiry: sessions without ttl, or with a ttl far longer than the history lasts.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from sessionstore import SessionStoreError

from ._history_client import bump as bump
from ._history_client import canonical as canonical
from ._history_client import observe as observe
from ._history_client import observe_session as observe_session
from .model import Model, ModelSession

# --- operations -----------------------------------------------------------------------------

#: Operations that read or write one session id; the others span the store.
PER_ID = frozenset({"create", "get", "replace", "update", "touch", "delete"})
WHOLE_STORE = frozenset({"list", "count", "purge"})

#: A session as the checker compares it: (data JSON, version, created, updated, expires, owner).
Observed = tuple[str, int, int, int, "int | None", "str | None"]
#: ("ok", value) or ("error", error class name); None is an unknown outcome.
Outcome = tuple[str, Any] | None
Record = tuple[str, int, int, int, "int | None", "str | None"]
State = tuple[tuple[str, Record], ...]

Status = Literal["linearizable", "not linearizable", "unknown"]


@dataclass(frozen=True)
class Operation:
    """One call of a concurrent history.

    ``input`` is JSON-able: ``{"op": name, "now": clock ms, "id": ..., other arguments}``;
    ``output`` is ``("ok", value)``, ``("error", "VersionConflict")`` or None (unknown).
    """

    client: int
    input: dict[str, Any]
    call: int
    output: Outcome
    ret: int | None

    @property
    def unknown(self) -> bool:
        return self.output is None

    @property
    def name(self) -> str:
        return str(self.input["op"])

    @property
    def key(self) -> str | None:
        return str(self.input["id"]) if self.name in PER_ID else None


def _untimed_session(session: Observed) -> Observed:
    data, version, _created, _updated, _expires, owner = session
    return (data, version, 0, 0, None, owner)


def untimed(name: str, output: Outcome) -> Outcome:
    """``output`` of operation ``name`` without its time fields (created, updated and
    expires zeroed): what a timeless check compares."""
    if output is None or output[0] != "ok" or output[1] is None:
        return output
    if name == "list":
        return ("ok", tuple((i, _untimed_session(s)) for i, s in output[1]))
    if name in ("create", "get", "replace", "update", "touch"):
        return ("ok", _untimed_session(output[1]))
    return output


# --- the model, one step at a time -----------------------------------------------------------


def _model_of(state: State, now: int, default_ttl_ms: int | None) -> Model:
    model = Model(now, default_ttl_ms)
    for session_id, (data, version, created, updated, expires, owner) in state:
        model.records[session_id] = ModelSession(
            session_id, json.loads(data), version, created, updated, expires, owner
        )
    return model


def _state_of(model: Model) -> State:
    return tuple(
        (i, (canonical(r.data), r.version, r.created, r.updated, r.expires, r.owner))
        for i, r in sorted(model.records.items())
    )


def _apply(model: Model, inp: dict[str, Any]) -> Any:
    name = inp["op"]
    sid = inp.get("id", "")
    if name == "create":
        return model.create(sid, inp["data"], inp["ttl_ms"], inp["owner"])
    if name == "get":
        return model.get(sid, inp["owner"])
    if name == "replace":
        return model.replace(sid, inp["data"], inp["expected_version"], inp["ttl_ms"])
    if name == "update":
        found = model.live(sid)
        new = bump(json.loads(canonical(found.data)), inp["key"]) if found else {}
        return model.replace(sid, new, None, inp["ttl_ms"])
    if name == "touch":
        return model.touch(sid, inp["ttl_ms"], inp["owner"])
    if name == "delete":
        return model.delete(sid, inp["expected_version"], inp["owner"])
    if name == "list":
        return [model.get(i) for i in model.live_ids()]
    if name == "count":
        return model.count()
    if name == "purge":
        return model.purge_expired()
    raise ValueError(f"unknown operation {name!r}")


def step(
    state: State, inp: dict[str, Any], default_ttl_ms: int | None, timeless: bool = False
) -> tuple[State, Outcome]:
    """Run one operation on the model: the state after it and the outcome it expects
    (both without time fields if ``timeless``)."""
    model = _model_of(state, inp["now"], default_ttl_ms)
    try:
        outcome: Outcome = ("ok", observe(inp["op"], _apply(model, inp)))
    except SessionStoreError as exc:
        return state, ("error", type(exc).__name__)  # the model changes nothing when it raises
    if timeless:
        return tuple((i, _untimed_session(r)) for i, r in _state_of(model)), untimed(
            inp["op"], outcome
        )
    return _state_of(model), outcome


def matches(inp: dict[str, Any], expected: Outcome, actual: Outcome) -> bool:
    if actual is None:
        return True
    if inp["op"] == "purge" and expected is not None and expected[0] == actual[0] == "ok":
        # PURGE-1: it removes *at most* the expired sessions (expired ones are invisible
        # either way, so how many it really removed is not observable otherwise).
        return type(actual[1]) is int and 0 <= actual[1] <= expected[1]
    return expected == actual


# --- the search ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The checker's answer for a history (or, when not linearizable, its failing part)."""

    status: Status
    #: The failing part of the history (one session's operations, or the whole history).
    history: list[Operation] = field(default_factory=list)
    #: Which part failed: a session id, or None for the whole-store check.
    part: str | None = None
    #: Indexes (into ``history``) of the longest sequence the search could linearize.
    longest: list[int] = field(default_factory=list)
    #: The parts checked, and the seconds the search took.
    parts: int = 0
    seconds: float = 0.0
    default_ttl_ms: int | None = None
    timeless: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "linearizable"

    def explain(self) -> str:
        if self.status == "linearizable":
            return f"linearizable ({self.parts} parts, {self.seconds:.3f} s)"
        if self.status == "unknown":
            return f"not verified: the search hit its time bound after {self.seconds:.1f} s"
        return timeline(
            self.history, self.part, self.longest, self.default_ttl_ms, timeless=self.timeless
        )


class _TimeUp(Exception):
    pass


def _search(
    ops: Sequence[Operation],
    start: State,
    default_ttl_ms: int | None,
    deadline: float,
    timeless: bool = False,
) -> tuple[bool, list[int]]:
    """Wing-Gong-Lowe over ``ops``: (linearizable?, the longest linearization found)."""
    events: list[tuple[float, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        events.append((math.inf if op.ret is None else op.ret, 1, i))
    events.sort()  # calls before returns at equal times: such operations overlap
    size = len(events)
    # Node 0 is the list's head; node k (1..size) is events[k - 1].
    nxt = list(range(1, size + 2))
    nxt[size] = -1
    prv = list(range(-1, size))
    is_call = [False] + [kind == 0 for _, kind, _ in events]
    op_of = [-1] + [i for _, _, i in events]
    ret_node = [0] * len(ops)
    for node in range(1, size + 1):
        if not is_call[node]:
            ret_node[op_of[node]] = node

    def lift(node: int) -> None:
        for n in (node, ret_node[op_of[node]]):
            nxt[prv[n]] = nxt[n]
            if nxt[n] != -1:
                prv[nxt[n]] = prv[n]

    def unlift(node: int) -> None:
        for n in (ret_node[op_of[node]], node):
            nxt[prv[n]] = n
            if nxt[n] != -1:
                prv[nxt[n]] = n

    steps: dict[tuple[State, int], list[State]] = {}

    def successors(state: State, i: int) -> list[State]:
        """States the model may be in after linearizing op i now (none: it cannot go now)."""
        found = steps.get((state, i))
        if found is None:
            op = ops[i]
            after, expected = step(state, op.input, default_ttl_ms, timeless)
            if op.unknown:
                found = [after] if after == state else [after, state]  # took effect, or not
            else:
                found = [after] if matches(op.input, expected, op.output) else []
            steps[(state, i)] = found
        return found

    cache: set[tuple[int, State]] = set()
    stack: list[tuple[int, State, int]] = []
    longest: list[int] = []
    state, linearized, choice = start, 0, 0
    node = nxt[0]
    budget = 0
    while nxt[0] != -1:
        budget += 1
        if budget & 1023 == 0 and time.monotonic() > deadline:
            raise _TimeUp
        if is_call[node]:
            i = op_of[node]
            options = successors(state, i)
            while choice < len(options):
                after = options[choice]
                key = (linearized | (1 << i), after)
                if key not in cache:
                    cache.add(key)
                    stack.append((node, state, choice))
                    state, linearized = after, key[0]
                    lift(node)
                    if len(stack) > len(longest):
                        longest = [op_of[n] for n, _, _ in stack]
                    node, choice = nxt[0], 0
                    break
                choice += 1
            else:
                node, choice = nxt[node], 0
        else:  # a return event: the operation it ends was not linearized before it
            if not stack:
                return False, longest
            node, state, choice = stack.pop()
            linearized &= ~(1 << op_of[node])
            unlift(node)
            choice += 1
    return True, longest


def check(
    history: Iterable[Operation],
    *,
    default_ttl_ms: int | None = None,
    time_limit: float = 10.0,
    initial: State = (),
    timeless: bool = False,
) -> Verdict:
    """Is ``history`` linearizable? Per-id parts first, then the whole store if needed.

    ``initial`` is the store's state before the history (empty by default). ``timeless``
    compares no time fields and lets nothing expire (see the module's docstring).
    """
    ops = list(history)
    if timeless:
        ops = [replace(op, output=untimed(op.name, op.output)) for op in ops]
        initial = tuple((i, _untimed_session(r)) for i, r in initial)
    started = time.monotonic()
    deadline = started + time_limit
    by_id: dict[str, list[Operation]] = {}
    whole = False
    for op in ops:
        if op.key is None:
            whole = True
        else:
            by_id.setdefault(op.key, []).append(op)
    parts: list[tuple[str | None, list[Operation], State]] = [
        (key, part, tuple(s for s in initial if s[0] == key))
        for key, part in sorted(by_id.items(), key=lambda kv: len(kv[1]))
    ]
    if whole:
        parts.append((None, ops, initial))
    failures: list[Verdict] = []
    timed_out = False
    checked = 0
    for key, part, start in parts:
        if key is None and failures:
            break  # the whole-store check would only repeat a per-id failure
        try:
            good, longest = _search(part, start, default_ttl_ms, deadline, timeless)
        except _TimeUp:
            timed_out = True
            break
        checked += 1
        if not good:
            failures.append(
                Verdict(
                    "not linearizable",
                    part,
                    key,
                    longest,
                    default_ttl_ms=default_ttl_ms,
                    timeless=timeless,
                )
            )
    seconds = time.monotonic() - started
    if failures:
        smallest = min(failures, key=lambda v: len(v.history))
        smallest.parts, smallest.seconds = checked, seconds
        return smallest
    status: Status = "unknown" if timed_out else "linearizable"
    return Verdict(
        status, parts=checked, seconds=seconds, default_ttl_ms=default_ttl_ms, timeless=timeless
    )


# --- showing and saving histories ------------------------------------------------------------


def describe_input(inp: dict[str, Any]) -> str:
    name = inp["op"]
    args = [repr(inp["id"])] if "id" in inp else []
    for k, v in inp.items():
        if k in ("op", "id", "now") or (v is None and k != "expected_version"):
            continue
        if k == "expected_version" and v is None:
            continue
        args.append(f"{k}={canonical(v) if k == 'data' else repr(v)}")
    return f"{name}({', '.join(args)})"


def describe_output(output: Outcome) -> str:
    if output is None:
        return "? (outcome unknown)"
    kind, value = output
    if kind == "error":
        return f"raises {value}"
    if isinstance(value, tuple) and len(value) == 6 and isinstance(value[0], str):
        data, version, _c, _u, expires, owner = value
        extra = f" expires={expires}" if expires is not None else ""
        extra += f" owner={owner!r}" if owner is not None else ""
        return f"{data} v{version}{extra}"
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{i}: {describe_output(('ok', s))}" for i, s in value) + "]"
    return repr(value)


def timeline(
    ops: Sequence[Operation],
    part: str | None = None,
    longest: Sequence[int] | None = None,
    default_ttl_ms: int | None = None,
    width: int = 32,
    *,
    timeless: bool = False,
) -> str:
    """The history as a readable timeline: one line per call, its interval drawn on an
    axis of event ranks (so the order of calls and returns is what you see)."""
    order = sorted(range(len(ops)), key=lambda i: (ops[i].call, i))
    times = sorted({op.call for op in ops} | {op.ret for op in ops if op.ret is not None})
    rank = {t: n for n, t in enumerate(times)}
    scale = (width - 1) / max(1, len(times) - 1)
    first = min((op.call for op in ops), default=0)
    what = "the whole store" if part is None else f"session {part!r}"
    lines = [
        f"not linearizable: {len(ops)} operations on {what} "
        f"(times in µs from the first call; '>' means it may still be running)"
    ]
    for n, i in enumerate(order):
        op = ops[i]
        a = round(rank[op.call] * scale)
        b = width - 1 if op.ret is None else round(rank[op.ret] * scale)
        bar = " " * a + "[" + "=" * max(0, b - a - 1) + ("]" if op.ret is not None else ">")
        span = (
            f"{(op.call - first) / 1000:8.1f}..{'?':>8}"
            if op.ret is None
            else f"{(op.call - first) / 1000:8.1f}..{(op.ret - first) / 1000:8.1f}"
        )
        lines.append(
            f"  #{n:<2} c{op.client:<2} |{bar:<{width + 1}}| {span}  t={op.input['now']}  "
            f"{describe_input(op.input)} -> {describe_output(op.output)}"
        )
    label = {i: n for n, i in enumerate(order)}
    if longest is not None:
        state: State = ()
        done = set(longest)
        for i in longest:
            state, _ = step(state, ops[i].input, default_ttl_ms, timeless)
        seq = ", ".join(f"#{label[i]}" for i in longest) or "nothing"
        lines.append(f"  longest linearizable sequence: {seq}")
        pending = [i for i in order if i not in done]
        if pending:
            ends = [r for r in (ops[i].ret for i in pending) if r is not None]
            horizon: float = min(ends) if ends else math.inf
            for i in pending:
                if ops[i].call <= horizon:
                    _, expected = step(state, ops[i].input, default_ttl_ms, timeless)
                    lines.append(
                        f"    next could be #{label[i]}, but the model says "
                        f"{describe_output(expected)}, the store said "
                        f"{describe_output(ops[i].output)}"
                    )
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def to_porcupine(ops: Sequence[Operation]) -> list[dict[str, Any]]:
    """The history in Porcupine's shape (``ClientId, Input, Call, Output, Return``), times
    in ns from the first call; an unknown outcome has ``Output: {"unknown": true}`` and,
    when it may still be running, ``Return: null``."""
    first = min((op.call for op in ops), default=0)
    return [
        {
            "ClientId": op.client,
            "Input": op.input,
            "Call": op.call - first,
            "Output": (
                {"unknown": True} if op.output is None else {op.output[0]: _jsonable(op.output[1])}
            ),
            "Return": None if op.ret is None else op.ret - first,
        }
        for op in sorted(ops, key=lambda o: o.call)
    ]


def from_porcupine(items: Sequence[dict[str, Any]]) -> list[Operation]:
    """The inverse of :func:`to_porcupine` (for replaying a saved history)."""

    def freeze(value: Any) -> Any:
        return tuple(freeze(v) for v in value) if isinstance(value, list) else value

    ops = []
    for item in items:
        out = item["Output"]
        output: Outcome = None
        if "ok" in out:
            output = ("ok", freeze(out["ok"]))
        elif "error" in out:
            output = ("error", out["error"])
        ops.append(Operation(item["ClientId"], item["Input"], item["Call"], output, item["Return"]))
    return ops


#: Where failing (and unverified) histories are saved; None: nowhere.
_save_dir: str | None = os.environ.get("SESSIONSTORE_SAVE_HISTORIES") or None


def save_histories_to(directory: str | None) -> None:
    """Save the histories of failing or unverified checks as Porcupine JSON in ``directory``."""
    global _save_dir
    _save_dir = directory


def save_history(ops: Sequence[Operation], name: str) -> Path | None:
    """Write ``ops`` as ``<dir>/<name>.json`` if saving is on; return the path."""
    if _save_dir is None:
        return None
    path = Path(_save_dir)
    path.mkdir(parents=True, exist_ok=True)
    target = path / f"{name}.json"
    target.write_text(json.dumps(to_porcupine(ops), indent=1) + "\n", encoding="utf-8")
    return target
