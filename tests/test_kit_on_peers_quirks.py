"""Right stores that the kit once failed: behaviour met on stores we did not write
(examples/peers, docs/peers.md), each reduced to the memory store and one quirk."""

from __future__ import annotations

from sessionstore import StoreUnavailable
from sessionstore.backends.memory import MemoryStore
from sessionstore_conformance.runner import run


class CleansUpOnClose(MemoryStore):
    """Like a store on a shared server that deletes its keys when it closes (the redis-py
    wrapper of examples/peers): with the server gone, ``close`` raises StoreUnavailable,
    as ERR-4 asks of every call that cannot reach the backend; closing again does
    nothing (CLOSE-1)."""

    reachable = True
    closing = False

    async def disconnect_for_testing(self) -> None:
        self.reachable = False

    async def get(self, id: str, **options: object) -> object:
        if not self.reachable:
            raise StoreUnavailable("the backend is gone")
        return await super().get(id, **options)  # type: ignore[arg-type]

    async def create(self, *args: object, **options: object) -> object:
        if not self.reachable:
            raise StoreUnavailable("the backend is gone")
        return await super().create(*args, **options)  # type: ignore[arg-type]

    async def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        await super().close()
        if not self.reachable:
            raise StoreUnavailable("cannot delete the keys: the backend is gone")


def test_a_close_that_cannot_reach_the_backend_meets_err_4() -> None:
    """The old kit closed the store after the check and failed ERR-4 with "unexpected
    StoreUnavailable", the very error ERR-4 asks for."""
    report = run(CleansUpOnClose, profile="ci", select=lambda check: check.name == "backend_down")
    (result,) = report.checks
    assert result.status == "passed", result.message
    assert {c.clause.id: c.outcome for c in report.clauses}["ERR-4"] == "pass"
