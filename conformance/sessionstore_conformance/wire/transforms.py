"""Update callbacks as data: the closed vocabulary of the driver protocol (section 5.14).

The kit's checks build their ``update`` callbacks from these steps. A :class:`Transform`
is an ordinary callable for stores in this process, and its :attr:`Transform.steps` go
over the wire unchanged for stores in another one, where the server rebuilds the same
callback around the store's own ``update`` (UPDATE-1, UPDATE-2). :func:`apply` is the one
definition of what the steps do, used on both sides.

Steps mutate the callback's argument in place and return it (so that a store letting the
argument alias its state shows it, COPY-1), unless a ``return`` step hands back another
value; ``raise`` throws. A callback that is not a Transform cannot be sent: the driver
refuses it with :class:`~sessionstore_conformance.errors.Inexpressible`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

#: The largest integer an increment may reach (VAL-3): beyond it the key restarts at 0.
SAFE = 2**53 - 1
STEP_NAMES = ("set", "unset", "merge", "increment", "return", "raise")
#: Steps that end the callback: only ever the last one.
FINAL = ("return", "raise")


class TransformError(ValueError):
    """The steps are not the protocol's vocabulary (the server answers ProtocolError)."""


class TransformRaised(Exception):
    """What a ``raise`` step throws where no exception object of the caller's is at hand
    (in a server); the server recognises it by identity (5.13)."""


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """RFC 7396 JSON Merge Patch, applied in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _increment(data: dict[str, Any], key: str, by: int) -> None:
    value = data.get(key)
    ok = type(value) is int and abs(value + by) <= SAFE
    data[key] = value + by if ok else 0  # type: ignore[operator]  # ok: value is an int


def check_steps(steps: Any) -> list[dict[str, Any]]:
    """The steps if they are the vocabulary's, else :class:`TransformError`."""
    if not isinstance(steps, list):
        raise TransformError("transforms must be an array of steps")
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in STEP_NAMES:
            raise TransformError(f"step {i} is not one of {', '.join(STEP_NAMES)}: {step!r}")
        (name, arg), last = next(iter(step.items())), i == len(steps) - 1
        if name in FINAL and not last:
            raise TransformError(f"step {i}: {name!r} must be the last step")
        bad = {
            "set": not isinstance(arg, dict),
            "unset": not (isinstance(arg, list) and all(isinstance(k, str) for k in arg)),
            "merge": not isinstance(arg, dict),
            "increment": not (
                isinstance(arg, dict)
                and arg.keys() == {"key", "by"}
                and isinstance(arg["key"], str)
                and type(arg["by"]) is int
            ),
            "return": False,
            "raise": not isinstance(arg, str),
        }[name]
        if bad:
            raise TransformError(f"step {i}: bad argument for {name!r}: {arg!r}")
    return steps


def apply(steps: list[dict[str, Any]], data: Any, raise_: Callable[[str], BaseException]) -> Any:
    """Run ``steps`` on ``data`` (in place) and return the callback's result; a ``raise``
    step throws ``raise_(message)``."""
    for step in steps:
        ((name, arg),) = step.items()
        if name == "set":
            data.update(copy.deepcopy(arg))
        elif name == "unset":
            for key in arg:
                data.pop(key, None)
        elif name == "merge":
            _merge(data, arg)
        elif name == "increment":
            _increment(data, arg["key"], arg["by"])
        elif name == "return":
            return arg
        else:
            raise raise_(arg)
    return data


class Transform:
    """An update callback made of protocol steps; callable like any ``fn(data) -> data``.

    ``returning`` keeps the very object it was given (not a copy), so that in-process
    checks can still see whether a store aliases what a callback returned (COPY-1); a
    ``raising`` Transform throws the caller's own exception object (UPDATE-2).
    ``observe`` (see :meth:`observed`) sees the argument of each call made in this
    process; a store in another process calls its own copy of the steps, unobserved."""

    __slots__ = ("error", "observe", "steps")

    def __init__(
        self,
        steps: list[dict[str, Any]],
        error: BaseException | None = None,
        observe: Callable[[Any], object] | None = None,
    ) -> None:
        self.steps = check_steps(steps)
        self.error = error
        self.observe = observe

    def __call__(self, data: Any) -> Any:
        if self.observe is not None:
            self.observe(data)
        return apply(self.steps, data, self._raise)

    def _raise(self, message: str) -> BaseException:
        return self.error if self.error is not None else TransformRaised(message)

    def then(self, other: Transform) -> Transform:
        """This transform's steps followed by ``other``'s."""
        return Transform(self.steps + other.steps, other.error or self.error, self.observe)

    def observed(self, observe: Callable[[Any], object]) -> Transform:
        """The same steps; ``observe`` sees each argument first (in this process only)."""
        return Transform(self.steps, self.error, observe)

    def __repr__(self) -> str:
        return f"Transform({self.steps!r})"


def identity() -> Transform:
    """``lambda d: d``."""
    return Transform([])


def setting(values: Mapping[str, Any] | None = None, /, **more: Any) -> Transform:
    """Sets top-level keys: ``lambda d: {**d, **values}``."""
    return Transform([{"set": {**(values or {}), **more}}])


def unsetting(*keys: str) -> Transform:
    return Transform([{"unset": list(keys)}])


def merging(patch: Mapping[str, Any]) -> Transform:
    """Applies an RFC 7396 merge patch."""
    return Transform([{"merge": dict(patch)}])


def incrementing(key: str, by: int = 1) -> Transform:
    """Adds ``by`` to the integer at ``key``; 0 where there is none or it would overflow."""
    return Transform([{"increment": {"key": key, "by": by}}])


def returning(value: Any) -> Transform:
    """``lambda d: value``: any value, valid data or not (UPDATE-2)."""
    return Transform([{"return": value}])


def raising(error: BaseException) -> Transform:
    """``fn`` that raises ``error`` (UPDATE-2); its message goes over the wire."""
    return Transform([{"raise": str(error) or type(error).__name__}], error)
