"""The shared semantics beyond the kit: the fast depth check agrees with the data; owners
and ttls that once crashed a store are refused; validation without decoding refuses
exactly what the spec refuses; a written session's lazily decoded data is private."""

from __future__ import annotations

import collections
import copy
import datetime
import enum
import math
import pickle
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionstore import InvalidSession, Session
from sessionstore.semantics import (
    _STRICT,
    _at_most,
    _round_trips,
    check_owner,
    encode_data,
    kept,
    too_deep,
    ttl_to_ms,
)

# Strings full of what could fool a text-level depth count: quotes, backslashes, brackets.
_tricky = st.text(alphabet='"\\[]{}ab ', max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | _tricky,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky, inner, max_size=4),
    max_leaves=60,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=1500)
@given(_json, st.integers(0, 8))
def test_too_deep_agrees_with_the_depth_of_the_data(value: Any, limit: int) -> None:
    assert too_deep(orjson.dumps(value), limit) == (depth(value) > limit)


@given(st.lists(st.sampled_from([b"{", b"[", b"]", b"x"])).map(b"".join), st.integers(0, 8))
def test_at_most_agrees_with_counting_brackets(text: bytes, limit: int) -> None:
    assert _at_most(text, limit) == (text.count(b"{") + text.count(b"[") <= limit)


def nested(levels: int) -> dict[str, Any]:
    """A dict ``levels`` deep, beside many shallow objects (so the bracket count is high)."""
    data: dict[str, Any] = {"items": [{"k": i} for i in range(50)]}
    inner = data
    for _ in range(levels - 1):
        inner["d"] = {}
        inner = inner["d"]
    return data


def test_the_depth_limit_is_exact_with_many_containers() -> None:
    assert encode_data(nested(32))  # 32 levels: the limit (VAL-4)
    with pytest.raises(InvalidSession, match="deeper than 32"):
        encode_data(nested(33))


@pytest.mark.parametrize("owner", ["\ud800", "me\udfff", "é\udc80"])
def test_an_owner_with_a_lone_surrogate_is_refused(owner: str) -> None:
    with pytest.raises(InvalidSession, match="lone surrogate"):
        check_owner(owner)


@pytest.mark.parametrize("ttl", [1e308, -1e308, 10**400, 1.7976931348623157e308])
def test_a_huge_ttl_is_refused_not_overflowing(ttl: float) -> None:
    with pytest.raises(InvalidSession, match="ttl must be between"):
        ttl_to_ms(ttl)


# --- validation without decoding (encode_data's fast path, _round_trips) -----------------


class Colour(enum.IntEnum):
    RED = 1


class Word(str, enum.Enum):
    HI = "hi"


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Mapping(dict):  # type: ignore[type-arg]
    pass


class Items(list):  # type: ignore[type-arg]
    pass


#: Values VAL-2/VAL-3 refuse, many of which orjson encodes all the same (tuples, NaN and
#: the infinities as null, enum members, UUIDs, Fragments, bool as a key of its own).
BAD_VALUES: dict[str, Any] = {
    "tuple": (1, 2),
    "empty tuple": (),
    "tuple in a list": [[1], (2,)],
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "nan beside finite floats": [1.5, math.nan, 2.5],
    "IntEnum": Colour.RED,
    "str Enum": Word.HI,
    "str subclass": Text("x"),
    "int subclass": Number(3),
    "float subclass": Real(1.5),
    "dict subclass": Mapping(a=1),
    "OrderedDict": collections.OrderedDict(a=1),
    "list subclass": Items([1]),
    "2**53": 2**53,
    "-(2**53)": -(2**53),
    "10**30": 10**30,
    "int key": {1: "a"},
    "bool key": {True: "a"},
    "None key": {None: "a"},
    "str subclass key": {Text("k"): 1},
    "str Enum key": {Word.HI: 1},
    "UUID": uuid.UUID(int=7),
    "Fragment": orjson.Fragment(b"[1]"),
    "set": {1},
    "bytes": b"x",
    "datetime": datetime.datetime(2030, 1, 1),
    "complex": 1j,
    "lone surrogate": "a\ud800",
    "lone surrogate key": {"\udfff": 1},
}
#: Where a bad value is put: each wraps it at a different depth and kind of container,
#: beside ordinary values of every JSON type (so the fast path has work on each level).
PLACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "top": lambda v: {"a": 1, "bad": v, "s": "x", "f": 0.5, "n": None, "t": True},
    "in a list": lambda v: {"l": ["x", 2, 0.5, None, False, v]},
    "in a nested object": lambda v: {"o": {"p": {"q": v, "r": [1.5]}}, "s": "x"},
    "at depth 31": lambda v: nested_value(30, v),
}


def nested_value(levels: int, value: Any) -> dict[str, Any]:
    """``value`` inside ``levels`` objects below the top one."""
    data: dict[str, Any] = {"v": value}
    for _ in range(levels):
        data = {"d": data, "x": 1.0}
    return data


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", BAD_VALUES)
def test_every_value_the_spec_refuses_is_refused_wherever_it_is(name: str, place: str) -> None:
    data = PLACES[place](BAD_VALUES[name])
    with pytest.raises(InvalidSession, match=r"session data (at '/|holds a string)"):
        encode_data(data)
    try:
        orjson.dumps(data, option=_STRICT)
    except TypeError:
        return  # orjson refuses it: the fast path is never asked
    assert not _round_trips(data, 32)  # the fast path itself lets nothing through


GOOD: dict[str, Any] = {
    "bools stay bools": {"t": True, "f": False, "l": [True, 1, False, 0]},
    "-0.0": {"z": -0.0, "l": [-0.0]},
    "the safe integers' ends": {"hi": 2**53 - 1, "lo": -(2**53 - 1)},
    "floats whose sum overflows": {"a": 1.7976931348623157e308, "b": [1e308, 1e308]},
    "the largest floats and -inf's neighbours": {"l": [-1.7976931348623157e308, 5e-324]},
    "nulls beside floats": {"n": None, "f": 0.1, "l": [None, 2.5, None]},
    "empty containers": {"d": {}, "l": [], "ld": [{}, []]},
    "32 levels": nested_value(30, {}),
    "a shared sub-object": {"a": (shared := {"k": [1, 2.5]}), "b": shared},
}


@pytest.mark.parametrize("name", GOOD)
def test_valid_data_is_accepted_and_comes_back_with_the_same_types(name: str) -> None:
    data = GOOD[name]
    back = orjson.loads(encode_data(data))
    assert back == data
    assert typed(back) == typed(data)  # True is not 1, -0.0 keeps its sign, ints stay ints


def typed(value: Any) -> Any:
    """The value with every atom paired with its exact type (and a float with its sign)."""
    if type(value) is dict:
        return {k: typed(v) for k, v in value.items()}
    if type(value) is list:
        return [typed(v) for v in value]
    if type(value) is float:
        return (float, math.copysign(1.0, value), value)
    return (type(value), value)


def test_the_depth_limit_holds_on_the_fast_path() -> None:
    assert _round_trips(nested_value(30, {}), 32)  # the top object, 30, and {}: 32 levels
    assert not _round_trips(nested_value(31, {}), 32)
    assert _round_trips(nested_value(30, [1]), 32)  # an atom adds no level
    assert not _round_trips(nested_value(30, [[]]), 32)
    assert _round_trips(nested_value(30, [[]]), 33)
    assert _round_trips({"a": [[]]}, 3) and not _round_trips({"a": [[]]}, 2)
    with pytest.raises(InvalidSession, match="deeper than 32"):
        encode_data(nested_value(31, {}))


def valid(value: Any, depth: int = 1) -> bool:
    """VAL-2..VAL-4 as the spec words them: the reference the fast path must agree with."""
    kind = type(value)
    if kind is dict or kind is list:
        items = list(value.items()) if kind is dict else list(enumerate(value))
        return depth <= 32 and all(
            (kind is list or (type(k) is str and valid(k))) and valid(v, depth + 1)
            for k, v in items
        )
    if kind is str:
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if kind is int:
        return bool(abs(value) <= 2**53 - 1)
    if kind is float:
        return math.isfinite(value)
    return kind is bool or value is None


_atoms = (
    st.none()
    | st.booleans()
    | st.integers(-(2**54), 2**54)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=3)
    | st.sampled_from([Colour.RED, Word.HI, Text("t"), Number(1), Real(0.5), (1,), ()])
)
_anything = st.recursive(
    _atoms,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=2) | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=1500)
@given(st.dictionaries(st.text(max_size=3), _anything, max_size=5))
def test_encode_data_accepts_exactly_what_the_spec_allows(data: dict[str, Any]) -> None:
    if valid(data):
        back = orjson.loads(encode_data(data))
        assert typed(back) == typed(data)
    else:
        with pytest.raises(InvalidSession):
            encode_data(data)


# --- the session a write returns: data decoded on first read -----------------------------


def written(data: dict[str, Any]) -> Session:
    return Session.from_json_ms("s1", kept(encode_data(data)), 2, 1000, 2000, None, "ada")


def test_a_written_session_decodes_its_data_once_and_keeps_it() -> None:
    session = written({"a": [1, 2.5], "b": None})
    first = session.data
    assert first == {"a": [1, 2.5], "b": None}
    first["a"].append(3)  # the caller's own copy: its changes stay in this session
    assert session.data is first and session.data["a"] == [1, 2.5, 3]
    assert written({"a": [1, 2.5], "b": None}).data == {"a": [1, 2.5], "b": None}


def test_a_written_session_equals_the_decoded_one_and_pickles() -> None:
    data = {"x": {"y": [True, -0.0, "é"]}}
    eager = Session.from_ms("s1", copy.deepcopy(data), 2, 1000, 2000, None, "ada")
    assert written(data) == eager and eager == written(data)
    assert repr(written(data)) == repr(eager)
    assert pickle.loads(pickle.dumps(written(data))) == eager
    match written(data):
        case Session(id="s1", data={"x": {"y": [True, _, "é"]}}, version=2):
            pass
        case _:
            pytest.fail("a written session does not match by its data")


def test_readers_racing_on_the_first_read_all_get_the_same_data() -> None:
    def read(session: Session, barrier: threading.Barrier, seen: list[int]) -> None:
        barrier.wait()
        seen.append(id(session.data))

    for _ in range(20):
        session, barrier = written({"k": list(range(2000))}), threading.Barrier(8)
        seen: list[int] = []
        threads = [threading.Thread(target=read, args=(session, barrier, seen)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 8 and len(set(seen)) == 1
