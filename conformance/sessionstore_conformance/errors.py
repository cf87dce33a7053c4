"""How a check says that a store broke the contract."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: Every violation raised while the runner witnesses a check (see :func:`witnessing`).
_witnessed: list[list[ClauseViolation]] = []


class ClauseViolation(AssertionError):
    """The store broke the named clauses; ``message`` says how."""

    def __init__(self, clauses: tuple[str, ...] | list[str], message: str) -> None:
        self.clauses = tuple(clauses)
        self.message = message
        #: the minimal failing program or history, when a search found one
        self.counterexample = ""
        super().__init__(f"[{', '.join(self.clauses)}] {message}")
        if _witnessed:
            _witnessed[-1].append(self)


@contextmanager
def witnessing() -> Iterator[list[ClauseViolation]]:
    """Collects every violation made within the block, even those that a failure of the
    test machinery (Hypothesis's ``Flaky``) hides: what the kit saw, for the right blame."""
    seen: list[ClauseViolation] = []
    _witnessed.append(seen)
    try:
        yield seen
    finally:
        _witnessed.remove(seen)


class NotVerified(Exception):
    """The check could not decide (e.g. a search hit its time bound): the clauses it names
    are reported *unknown* — not verified, never a pass."""

    def __init__(self, clauses: tuple[str, ...] | list[str], message: str) -> None:
        self.clauses = tuple(clauses)
        self.message = message
        super().__init__(f"[{', '.join(self.clauses)}] not verified: {message}")


class UsageError(Exception):
    """The kit was pointed at something it cannot use (exit status 2)."""


class EmptySelection(UsageError):
    """No check was selected: a run that verifies nothing must not pass (exit status 2)."""


def expect(condition: object, clauses: str | tuple[str, ...], message: str) -> None:
    if not condition:
        raise ClauseViolation((clauses,) if isinstance(clauses, str) else clauses, message)


@contextmanager
def expect_raises(
    error: type[BaseException], clauses: str | tuple[str, ...], what: str
) -> Iterator[None]:
    """The block must raise ``error`` (or a subclass); anything else breaks ``clauses``."""
    ids = (clauses,) if isinstance(clauses, str) else clauses
    try:
        yield
    except error:
        return
    except Exception as exc:  # the wrong error is a violation too, not a crash of the kit
        raise ClauseViolation(
            ids, f"{what}: raised {type(exc).__name__}({exc}) instead of {error.__name__}"
        ) from exc
    raise ClauseViolation(ids, f"{what}: returned normally instead of raising {error.__name__}")


class Inexpressible(BaseException):
    """A call the kit made cannot be sent to a store in another process: a Python-only
    value, or an ``update`` callback that is not a protocol transform (see
    spec/driver-protocol.md, section 9). The check cannot decide: *unknown*, never a pass
    or a fail. A BaseException, so that no check's ``except Exception`` (nor
    ``expect_raises``) takes it for the store's answer."""
