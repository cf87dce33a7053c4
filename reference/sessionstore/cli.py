"""``sessionstore``: the operator's command line — export, import, migrate, purge, stats,
inspect — for any store ``open_store`` can open.

Exit status: 0 success; 1 the store refused or failed (unreachable, invalid document,
conflict, unknown session); 2 bad usage.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar, get_args

import click
import orjson
from rich.console import Console

from .contract import SessionStore
from .errors import ImportRejected, SessionStoreError
from .export import format_timestamp
from .factory import open_store
from .redaction import short_id
from .transfer import AtomicFile, copy_store, import_file, write_export
from .values import OnConflict, Session

T = TypeVar("T")
STORE_HELP = "Store URL (memory://, sqlite:///file.db); default: the SESSION_STORE_* environment."
EPILOG = "Exit status: 0 success, 1 the store refused or failed, 2 bad usage."

err = Console(stderr=True, highlight=False)


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one command's coroutine; store errors become exit status 1 with a clear line."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except ImportRejected as exc:
        err.print(f"[bold red]error:[/] import rejected, {len(exc.problems)} problem(s):")
        for problem in exc.problems[:50]:
            err.print(f"  {problem}")
        sys.exit(1)
    except SessionStoreError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)


@asynccontextmanager
async def _store(url: str | None) -> AsyncIterator[SessionStore]:
    async with open_store(url) as store:
        yield store


@contextmanager
def _working(message: str, quiet: bool) -> Iterator[None]:
    """A spinner with elapsed time on the terminal while a long call runs."""
    if quiet or not sys.stderr.isatty():
        yield
        return
    with err.status(message):
        yield


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(text)


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "data": session.data,
        "version": session.version,
        "created_at": format_timestamp(session.created_at),
        "updated_at": format_timestamp(session.updated_at),
        "expires_at": None if session.expires_at is None else format_timestamp(session.expires_at),
        "owner": session.owner,
    }


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(package_name="sessionstore")
def main() -> None:
    """Operate a session store: move, back up, inspect and clean sessions."""


store_option = click.option("--store", "url", metavar="URL", help=STORE_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@main.command(epilog=EPILOG)
@store_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Where to write the export document (- for stdout).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def export(url: str | None, output: str, quiet: bool) -> None:
    """Write a point-in-time export of every live session (export.schema.json)."""

    async def work() -> int:
        async with _store(url) as store:
            if output == "-":
                return await write_export(store, sys.stdout.buffer)
            target = AtomicFile(Path(output))  # streamed into place (EXPORT-2)
            try:
                with _working("exporting…", quiet):
                    size = await write_export(store, target.file)
            except BaseException:
                target.abort()
                raise
            target.commit()
            return size

    size = _run(work)
    if output != "-":
        err.print(f"exported {size:,} bytes to {output}")


@main.command(name="import", epilog=EPILOG)
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True, exists=False))
@store_option
@click.option(
    "--on-conflict",
    type=click.Choice(get_args(OnConflict)),
    default="error",
    show_default=True,
    help="What to do with ids that are live in the store.",
)
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def import_command(
    source: str, url: str | None, on_conflict: OnConflict, as_json: bool, quiet: bool
) -> None:
    """Import an export document from SOURCE (a file, or - for stdin): all or nothing."""
    try:  # opened here, so that a missing file is bad usage (exit status 2)
        opened = nullcontext(sys.stdin.buffer) if source == "-" else Path(source).open("rb")  # noqa: SIM115
    except OSError as exc:
        raise click.BadParameter(str(exc), param_hint="SOURCE") from exc

    async def work() -> dict[str, int]:
        async with _store(url) as store:
            with _working("importing…", quiet), opened as file:  # read in pieces (IMPORT-7)
                report = await import_file(store, file, on_conflict)
        return asdict(report)

    result = _run(work)
    _emit(as_json, result, ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))


@main.command(epilog=EPILOG)
@click.option("--from", "source", metavar="URL", required=True, help="Store to copy from.")
@click.option("--to", "target", metavar="URL", required=True, help="Store to copy into.")
@click.option(
    "--on-conflict",
    type=click.Choice(get_args(OnConflict)),
    default="error",
    show_default=True,
    help="What to do with ids that are live in the target.",
)
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def migrate(source: str, target: str, on_conflict: OnConflict, as_json: bool, quiet: bool) -> None:
    """Copy every live session from one store into another (export, then import)."""

    async def work() -> dict[str, int]:
        async with _store(source) as origin, _store(target) as destination:
            with _working("migrating…", quiet):  # streamed from store to store
                report = await copy_store(origin, destination, on_conflict)
        return {"exported": sum(asdict(report).values()), **asdict(report)}

    result = _run(work)
    _emit(as_json, result, ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))


@main.command(epilog=EPILOG)
@store_option
@json_option
def purge(url: str | None, as_json: bool) -> None:
    """Remove expired sessions now."""

    async def work() -> int:
        async with _store(url) as store:
            return await store.purge_expired()

    removed = _run(work)
    _emit(as_json, {"removed": removed}, f"removed {removed} expired sessions")


@main.command(epilog=EPILOG)
@store_option
@json_option
def stats(url: str | None, as_json: bool) -> None:
    """Live sessions, expired ones not yet purged, and storage size (when the store says)."""

    async def work() -> dict[str, Any]:
        async with _store(url) as store:
            found: dict[str, Any] = {"store": type(store).__name__, "live": await store.count()}
            extra = getattr(store, "stats", None)
            if extra is not None:
                found.update(await extra())
            return found

    result = _run(work)
    _emit(as_json, result, "\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))


@main.command(epilog=EPILOG)
@click.argument("session_id")
@store_option
def inspect(session_id: str, url: str | None) -> None:
    """Print one live session as JSON (exit status 1 when there is none)."""

    async def work() -> Session | None:
        async with _store(url) as store:
            return await store.get(session_id)

    session = _run(work)
    if session is None:
        err.print(f"[bold red]error:[/] no live session with id {short_id(session_id)}")
        sys.exit(1)
    click.echo(orjson.dumps(_session_json(session), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
