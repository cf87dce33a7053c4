"""What the operator CLI shows besides its results: errors and progress.

* **Errors** are one line on stderr, ``error: …``, never wrapped (a file or a pipe gets
  the line whole), or under ``--json`` one JSON object on stdout, where a script reads.
  An import rejection adds a line per problem, at most :data:`PROBLEMS_SHOWN` of them
  and then how many more (``--json`` lists them all).
* **Progress** is drawn on stderr only when stderr is a terminal: counts, rate and time
  while an export, import or migration runs. Piped or redirected, nothing is shown.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing, contextmanager
from typing import Any

import click
import orjson

from .errors import ImportRejected, SessionStoreError

#: Problems of a rejected import printed as text; --json gives every one.
PROBLEMS_SHOWN = 50


def error_payload(message: str, status: int, exc: BaseException | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"error": message, "exit_status": status}
    if isinstance(exc, SessionStoreError):
        payload["type"] = type(exc).__name__
    if isinstance(exc, ImportRejected):
        payload["problems"] = [{"pointer": p.pointer, "message": p.message} for p in exc.problems]
    return payload


def report_error(message: str, status: int, exc: BaseException | None, as_json: bool) -> None:
    """Print one error as the user asked for it (the caller exits with ``status``)."""
    if as_json:
        click.echo(orjson.dumps(error_payload(message, status, exc)).decode())
        return
    problems = exc.problems if isinstance(exc, ImportRejected) else []
    head = click.style("error:", fg="red", bold=True) + " " + message + (":" if problems else "")
    click.echo(head, err=True)
    if problems:
        for problem in problems[:PROBLEMS_SHOWN]:
            click.echo(f"  {problem}", err=True)
        hidden = len(problems) - PROBLEMS_SHOWN
        if hidden > 0:
            click.echo(f"  … and {hidden} more (--json lists every problem)", err=True)


def shows_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class Meter:
    """Counts what flows through a transfer and, on a terminal, shows the count, the
    rate and the time taken. ``unit`` is ``"sessions"`` or ``"bytes"``."""

    def __init__(self, what: str, unit: str, total: int | None, shown: bool) -> None:
        self.what, self.unit, self.total, self.shown = what, unit, total, shown
        self.count = 0
        self.started = time.monotonic()
        self._advance: Callable[[int], None] = self._add

    def _add(self, amount: int) -> None:
        self.count += amount

    @contextmanager
    def showing(self) -> Iterator[Meter]:
        if not self.shown:
            yield self
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        if self.unit == "bytes":
            columns: list[Any] = [DownloadColumn(), TransferSpeedColumn()]
        else:
            of = "" if self.total is None else " of {task.total:,.0f}"
            columns = [
                TextColumn("{task.completed:,.0f}" + of + " sessions"),
                TextColumn("{task.fields[rate]}"),
            ]
        bar = [BarColumn()] if self.total is not None else []
        progress = Progress(
            TextColumn("{task.description}"),
            *bar,
            *columns,
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        task = progress.add_task(self.what, total=self.total, rate="")

        def advance(amount: int) -> None:
            self.count += amount
            speed = progress.tasks[0].speed
            rate = "" if speed is None else f"{speed:,.0f} sessions/s"
            progress.update(task, completed=self.count, rate=rate)

        self._advance = advance
        with progress:
            yield self
        self._advance = self._add
        click.echo(self.summary(), err=True)

    def summary(self) -> str:
        """E.g. ``export: 100,000 sessions in 1.2 s (83,333 sessions/s)``."""
        seconds = time.monotonic() - self.started
        rate = f" ({self.count / seconds:,.0f} {self.unit}/s)" if seconds > 0 else ""
        return f"{self.what}: {self.count:,} {self.unit} in {seconds:.1f} s{rate}"

    def add(self, amount: int) -> None:
        self._advance(amount)

    async def sessions(self, pieces: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """``pieces`` of an export document, counting its records: in the canonical
        layout (``export_chunks``) each record starts a line, and nothing else does
        with a ``{``. Closing this closes ``pieces``."""
        async with aclosing(pieces):
            async for piece in pieces:
                self._advance(piece.count(b"\n{"))
                yield piece

    async def bytes(self, pieces: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        async with aclosing(pieces):
            async for piece in pieces:
                self._advance(len(piece))
                yield piece
