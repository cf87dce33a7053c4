"""Blunt concurrency checks on one event loop (CONC-1); linearizability comes later."""

from __future__ import annotations

from typing import Any

import anyio

from sessionstore import SessionExists, VersionConflict

from ..errors import expect
from .registry import Ctx, check

TASKS = 50


def _increment(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "n": data["n"] + 1}


@check("CONC-1", "UPDATE-1")
async def check_concurrent_updates(ctx: Ctx) -> None:
    """N concurrent increments through update leave exactly N."""
    store = ctx.store
    made = await store.create({"n": 0})
    async with anyio.create_task_group() as tg:
        for _ in range(TASKS):
            tg.start_soon(store.update, made.id, _increment)
    final = await store.get(made.id)
    expect(
        final is not None and final.data["n"] == TASKS,
        ("CONC-1", "UPDATE-1"),
        f"{TASKS} concurrent increments left n={final.data['n'] if final else None}: lost updates",
    )
    expect(
        final is not None and final.version == TASKS + 1,
        ("CONC-1", "REC-3"),
        f"{TASKS} concurrent updates left version {final.version if final else None}",
    )


async def _count_winners(call: Any, error: type[Exception]) -> tuple[int, list[Exception]]:
    wins = 0
    odd: list[Exception] = []

    async def attempt() -> None:
        nonlocal wins
        try:
            await call()
            wins += 1
        except error:
            pass
        except Exception as exc:
            odd.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(TASKS):
            tg.start_soon(attempt)
    return wins, odd


@check("CONC-1", "CREATE-3")
async def check_concurrent_creates(ctx: Ctx) -> None:
    """Concurrent creates of one id: exactly one succeeds."""
    store = ctx.store
    wins, odd = await _count_winners(lambda: store.create({}, id="race"), SessionExists)
    expect(not odd, "CONC-1", f"concurrent creates raised {odd[:2]!r}")
    expect(
        wins == 1,
        ("CONC-1", "CREATE-3"),
        f"{wins} of {TASKS} concurrent creates of one id succeeded",
    )


@check("CONC-1", "REPLACE-2")
async def check_concurrent_compare_and_set(ctx: Ctx) -> None:
    """Concurrent replaces with the same expected_version: exactly one succeeds."""
    store = ctx.store
    made = await store.create({"n": 0})
    wins, odd = await _count_winners(
        lambda: store.replace(made.id, {"n": 1}, expected_version=made.version), VersionConflict
    )
    expect(not odd, "CONC-1", f"concurrent replaces raised {odd[:2]!r}")
    expect(
        wins == 1,
        ("CONC-1", "REPLACE-2"),
        f"{wins} of {TASKS} replaces with the same expected_version succeeded",
    )
