"""The shared semantics beyond the kit: the fast depth check agrees with the data; owners
and ttls that once crashed a store are refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionstore import InvalidSession
from sessionstore.semantics import _at_most, check_owner, encode_data, too_deep, ttl_to_ms

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
