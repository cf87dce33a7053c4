"""``sessionstore``: the operator's command line — export, import, migrate, purge, stats,
inspect — for any store ``open_store`` can open.

Which store: ``--store URL``, else the ``SESSION_STORE_*`` environment when it names one
(``SESSION_STORE_URL`` or ``SESSION_STORE_TYPE``). With neither, a command refuses to
guess: the default memory store would be empty, and what is written to it lost. A
command that only reads never creates a store (an SQLite file must exist); ``import`` and
``migrate --to`` refuse a store that vanishes when the command exits (the memory store).

Exit status: 0 success; 1 the operation failed (the store refused or failed: unreachable,
invalid document, conflict, unknown session; a file could not be read or written);
2 bad usage (an unknown option, a bad store URL, URL option or ``SESSION_STORE_*`` value,
no store named); 141 stdout was closed early (``export | head``), quietly, as a program
killed by SIGPIPE. Errors are one line each (:mod:`sessionstore.terminal`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import aclosing, asynccontextmanager, closing, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, TypeVar, get_args
from urllib.parse import quote

import click
import orjson

from .config import StoreConfig
from .contract import SessionStore
from .errors import ConfigurationError, ImportRejected, SessionStoreError
from .export import format_timestamp
from .factory import ENV_PREFIX, backend_name, open_store, sqlite_path, store_config
from .outputs import OutputRefused, output_file
from .redaction import short_id
from .terminal import Meter, report_error, shows_progress
from .transfer import export_pieces, file_pieces, import_pieces
from .urls import redact
from .values import OnConflict, Session

T = TypeVar("T")
STORE_HELP = "Store URL (sqlite:///file.db, redis://host/0); default: SESSION_STORE_URL or SESSION_STORE_TYPE."
EPILOG = "Exit status: 0 success, 1 the operation failed, 2 bad usage."
NO_STORE = (
    "no store named: give --store URL (e.g. --store sqlite:///sessions.db) "
    f"or set {ENV_PREFIX}URL (or {ENV_PREFIX}TYPE and {ENV_PREFIX}PATH)"
)
#: The exit status of a program that SIGPIPE ended, as shells report it.
CLOSED_PIPE_STATUS = 128 + getattr(signal, "SIGPIPE", 13)


class _Refused(click.UsageError):
    """Bad usage that this CLI finds (click finds the rest): its message says it all."""


class _ClosedPipe(Exception):
    """stdout's reader has gone; carried past click, which would exit 1 on EPIPE."""


class _Commands(click.Group):
    """The command group: whichever command fails, and however, the user gets one line
    (JSON under ``--json``) and the exit status the docs give, never a traceback for a
    failure the user can fix."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> Any:
        argv = sys.argv[1:] if args is None else list(args)
        extra["standalone_mode"] = False
        try:
            result = super().main(argv, *rest, **extra)
            sys.stdout.flush()  # here, so that a full disk is reported, not ignored
        except (_ClosedPipe, BrokenPipeError):
            _quiet_on_closed_pipe()
        except click.exceptions.NoArgsIsHelpError as exc:  # no command: help, as bad usage
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(2)
        except click.Abort:  # Ctrl-C
            report_error("interrupted", 130, None, "--json" in argv)
            sys.exit(130)
        except Exception as exc:
            status, message = _failure(exc)
            report_error(message, status, exc, "--json" in argv)
            sys.exit(status)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _ClosedPipe from None


def _failure(exc: Exception) -> tuple[int, str]:
    """The exit status and the one-line message for an exception; anything not listed
    here is a bug, and keeps its traceback."""
    if isinstance(exc, _Refused):
        return 2, exc.format_message()
    if isinstance(exc, click.UsageError):
        command = exc.ctx.command_path if exc.ctx else "sessionstore"
        return 2, f"{exc.format_message()} (see {command} --help)"
    if isinstance(exc, click.ClickException):
        return exc.exit_code, exc.format_message()
    if isinstance(exc, ConfigurationError):
        return 2, str(exc)
    if isinstance(exc, ImportRejected):
        return 1, f"import rejected, {len(exc.problems)} problem(s)"
    if isinstance(exc, SessionStoreError):
        return 1, str(exc)
    if isinstance(exc, OSError):
        return 1, str(exc)
    raise exc


def _quiet_on_closed_pipe() -> None:
    """The reader of stdout has gone (``export | head``): stop without a word, as a
    program that SIGPIPE ends does. stdout points at /dev/null from here on, or Python
    would fail once more when it flushes stdout on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # not a real file descriptor (a test's captured stdout)
    sys.exit(CLOSED_PIPE_STATUS)


@contextmanager
def _file_errors(action: str) -> Iterator[None]:
    """An OSError while doing ``action`` (e.g. "write out.json") is a failed operation,
    told in one line; a closed pipe stays quiet."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise click.ClickException(f"cannot {action}: {exc.strerror or exc}") from None


def _run(work: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(work())  # type: ignore[arg-type]


def _outlives_the_command(store: SessionStore) -> bool:
    caps = store.capabilities
    return caps.durable or caps.multi_process or caps.multi_host


def _config(url: str | None, reads_only: bool) -> StoreConfig:
    """The checked config of the store a command names (a bad URL or SESSION_STORE_*
    value: exit status 2). ``reads_only``: an SQLite file must exist already (stats on a
    mistyped path must not create it, nor its folder)."""
    config = store_config(url)
    if config.url is None and "type" not in config.model_fields_set:
        raise _Refused(NO_STORE)
    if reads_only and backend_name(config) == "sqlite":
        path = Path(sqlite_path(config)).absolute()
        if not path.is_file():
            raise click.ClickException(f"no SQLite database at {path} (this command creates none)")
        if not _holds_sessions(path):
            raise click.ClickException(
                f"{path} is not a sessionstore database (this command changes nothing in it)"
            )
    return config


def _holds_sessions(path: Path) -> bool:
    """Whether an SQLite file was set up by a store (its ``sessionstore_meta`` table), seen
    through a read-only connection: opening a store in any other file would add its
    tables there. A file that cannot be read so is left to the store to explain."""
    try:
        uri = f"file:{quote(str(path))}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sessionstore_meta'")
            return found.fetchone() is not None
    except sqlite3.Error:
        return True


@asynccontextmanager
async def _store(
    url: str | None, *, reads_only: bool = False, keeps: str | None = None
) -> AsyncIterator[SessionStore]:
    """Open the store a command names. ``keeps``: the command writes sessions that must
    outlive it ("import into", "migrate into"): a memory store is refused."""
    config = _config(url, reads_only)
    async with open_store(config) as store:
        if keeps and not _outlives_the_command(store):
            where = redact(config.url) if config.url else config.type
            raise _Refused(
                f"refusing to {keeps} {where}: a {type(store).__name__} lives only as long as "
                "this command; name a store that keeps sessions, e.g. sqlite:///sessions.db"
            )
        yield store


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


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(package_name="sessionstore")
def main() -> None:
    """Operate a session store: move, back up, inspect and clean sessions."""


store_option = click.option("--store", "url", metavar="URL", help=STORE_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress display.")
conflict_option = click.option(
    "--on-conflict",
    type=click.Choice(get_args(OnConflict)),
    default="error",
    show_default=True,
    help="What to do with ids that are live in the target store.",
)


@main.command(epilog=EPILOG)
@store_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Where to write the export document (- for stdout). A regular file is replaced "
    "atomically; a symlink, FIFO or device (/dev/stdout) is written in place.",
)
@quiet_option
def export(url: str | None, output: str, quiet: bool) -> None:
    """Write a point-in-time export of every live session (export.schema.json)."""

    async def work() -> int:
        async with _store(url, reads_only=True) as store:
            # Not over the document itself, when it goes to the same terminal.
            shown = shows_progress(quiet) and not (output == "-" and sys.stdout.isatty())
            meter = Meter("export", "sessions", await store.count() if shown else None, shown)
            pieces = meter.sessions(export_pieces(store))  # streamed (EXPORT-2)
            # closed here, while the loop runs, also when writing stops early (a full
            # disk, a closed pipe): left to the loop's shutdown, the store's iterator
            # and its snapshot would be closed in no set order
            with meter.showing():
                async with aclosing(pieces):
                    if output == "-":
                        with _file_errors("write the export to stdout"):
                            return await _write(pieces, sys.stdout.buffer)
                    try:
                        with _file_errors(f"write {output}"), output_file(Path(output)) as file:
                            return await _write(pieces, file)
                    except OutputRefused as exc:
                        raise _Refused(str(exc)) from None

    size = _run(work)
    if output != "-":
        click.echo(f"exported {size:,} bytes to {output}", err=True)


async def _write(pieces: AsyncIterator[bytes], out: IO[bytes]) -> int:
    written = 0
    async for piece in pieces:
        out.write(piece)
        written += len(piece)
    out.flush()
    return written


@main.command(name="import", epilog=EPILOG)
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True))
@store_option
@conflict_option
@json_option
@quiet_option
def import_command(
    source: str, url: str | None, on_conflict: OnConflict, as_json: bool, quiet: bool
) -> None:
    """Import an export document from SOURCE (a file, or - for stdin): all or nothing."""
    try:  # opened here, so that a missing file is bad usage (exit status 2)
        file = sys.stdin.buffer if source == "-" else Path(source).open("rb")  # noqa: SIM115
    except OSError as exc:
        raise _Refused(f"cannot read {source}: {exc.strerror or exc}") from None

    async def work() -> dict[str, int]:
        async with _store(url, keeps="import into") as store:
            size = os.fstat(file.fileno()).st_size if file.seekable() else None
            meter = Meter("import", "bytes", size or None, shows_progress(quiet))
            with meter.showing(), _file_errors(f"read {source}"):
                async with aclosing(file_pieces(file)) as pieces:  # read in pieces (IMPORT-7)
                    return asdict(await import_pieces(store, meter.bytes(pieces), on_conflict))

    try:
        result = _run(work)
    finally:
        file.close()
    _emit(as_json, result, ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))


@main.command(epilog=EPILOG)
@click.option("--from", "source", metavar="URL", required=True, help="Store to copy from.")
@click.option("--to", "target", metavar="URL", required=True, help="Store to copy into.")
@conflict_option
@json_option
@quiet_option
def migrate(source: str, target: str, on_conflict: OnConflict, as_json: bool, quiet: bool) -> None:
    """Copy every live session from one store into another (export, then import)."""

    async def work() -> dict[str, int]:
        async with (
            _store(source, reads_only=True) as origin,
            _store(target, keeps="migrate into") as destination,
        ):
            shown = shows_progress(quiet)
            meter = Meter("migrate", "sessions", await origin.count() if shown else None, shown)
            with meter.showing():  # streamed from store to store
                async with aclosing(meter.sessions(export_pieces(origin))) as pieces:
                    report = asdict(await import_pieces(destination, pieces, on_conflict))
        return {"exported": sum(report.values()), **report}

    result = _run(work)
    _emit(as_json, result, ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))


@main.command(epilog=EPILOG)
@store_option
@json_option
@quiet_option
def purge(url: str | None, as_json: bool, quiet: bool) -> None:
    """Remove expired sessions now."""

    async def work() -> int:
        async with _store(url) as store:
            shown = shows_progress(quiet)
            expired = await _expired(store) if shown else None
            meter = Meter("purge", "sessions", expired, shown)
            with meter.showing():
                watch = asyncio.create_task(_watch_purge(store, expired, meter))
                try:
                    removed = await store.purge_expired()
                finally:
                    watch.cancel()
                meter.add(removed - meter.count)
            return removed

    removed = _run(work)
    _emit(as_json, {"removed": removed}, f"removed {removed} expired sessions")


async def _expired(store: SessionStore) -> int | None:
    """Expired sessions not yet purged, when the store's ``stats`` says."""
    stats = getattr(store, "stats", None)
    found = None if stats is None else (await stats()).get("expired_unpurged")
    return found if isinstance(found, int) else None


async def _watch_purge(store: SessionStore, expired: int | None, meter: Meter) -> None:
    """Progress of a purge: the expired sessions gone so far, asked of the store a few
    times a second (the stores purge in batches, letting other calls in between)."""
    if not expired:
        return
    while True:
        await asyncio.sleep(0.25)
        left = await _expired(store)
        if left is not None:
            meter.add(max(0, expired - left - meter.count))


@main.command(epilog=EPILOG)
@store_option
@json_option
def stats(url: str | None, as_json: bool) -> None:
    """Live sessions, expired ones not yet purged, and storage size (when the store says)."""

    async def work() -> dict[str, Any]:
        async with _store(url, reads_only=True) as store:
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
        async with _store(url, reads_only=True) as store:
            return await store.get(session_id)

    session = _run(work)
    if session is None:
        raise click.ClickException(f"no live session with id {short_id(session_id)}")
    click.echo(orjson.dumps(_session_json(session), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
