"""An MCP server that keeps per-client workflow state in a sessionstore store.

Each workflow is one session: ``start_workflow`` creates it and returns its id, the
client passes that id back to ``advance``, ``status`` and ``end_workflow``. Because the
state lives in the store rather than in the process, a workflow survives a server
restart when the store is durable (SQLite).

The store comes from the environment (see ``sessionstore.StoreConfig``)::

    SESSION_STORE_URL=sqlite:///workflows.db python mcp_workflow_server.py
    SESSION_STORE_TYPE=sqlite SESSION_STORE_PATH=./data/workflows.db python mcp_workflow_server.py

With neither set it is the memory store: fine to try the tools, gone on restart.

Requires the ``mcp`` SDK, version 2 (``pip install "mcp>=2"``; its ``MCPServer`` is
what version 1 called ``FastMCP``).
"""

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

from mcp.server.mcpserver import Context, MCPServer, authenticated_principal
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from sessionstore import (
    InvalidSession,
    Session,
    SessionNotFound,
    SessionService,
    SessionStore,
    SessionTooLarge,
    StoreUnavailable,
    open_store,
)
from sessionstore.export import format_timestamp

#: An idle workflow expires after this long; every use pushes the expiry out again.
SESSION_TTL = timedelta(hours=1)

log = logging.getLogger("workflow_server")


@asynccontextmanager
async def lifespan(server: MCPServer) -> AsyncIterator[SessionService]:
    """Open the store for the server's lifetime, with expired workflows purged every
    5 minutes; both are closed when the server stops (on stdio: when stdin closes)."""
    async with open_store() as store, SessionService(store, purge_interval=300) as service:
        log.info("workflow store open: %s", type(store).__name__)
        yield service
    log.info("workflow store closed")


mcp = MCPServer(
    "workflow",
    instructions="Start a workflow, advance it step by step, and ask for its status.",
    lifespan=lifespan,
)


#: What a tool receives (as its ``ctx`` argument): the lifespan's SessionService is in
#: ``ctx.request_context.lifespan_context``.
Ctx = Context[SessionService, Any]


class Step(BaseModel):
    number: int
    note: str


class WorkflowState(BaseModel):
    """What start_workflow, advance and status return (as structured content)."""

    session_id: str
    name: str
    steps: list[Step]
    #: The session's version: 1 at start, +1 per step.
    version: int
    #: When the workflow expires unless used again: the spec's timestamp format (REC-5),
    #: RFC 3339 in UTC with milliseconds, e.g. 2026-01-31T12:00:00.000Z.
    expires_at: str | None


def _store(ctx: Ctx) -> SessionStore:
    return ctx.request_context.lifespan_context.store


def _owner(ctx: Ctx) -> str | None:
    """The authenticated client, as a session owner: another client then sees this
    client's workflows as nonexistent (spec OWN-2). Over stdio there is no
    authentication, so workflows are unowned and anyone holding the id may use it."""
    principal = authenticated_principal(ctx.request_context)
    if principal is None:
        return None
    # Hashed: a fixed-length owner, well within the store's 256-character limit.
    return hashlib.sha256(principal.encode()).hexdigest()


def _state(session: Session) -> WorkflowState:
    data = session.data
    return WorkflowState(
        session_id=session.id,
        name=data["name"],
        steps=[Step(**step) for step in data["steps"]],
        version=session.version,
        expires_at=None if session.expires_at is None else format_timestamp(session.expires_at),
    )


@contextmanager
def answering(session_id: str | None = None) -> Iterator[None]:
    """The store's refusals as tool errors: the client gets one clear line (``is_error``)
    and the server logs one line, where any other exception is logged with its traceback
    and reaches the client as "Error executing tool"."""
    try:
        yield
    except SessionNotFound:
        raise ToolError(f"no workflow {session_id!r} (it may have expired)") from None
    except SessionTooLarge as exc:  # a subclass of InvalidSession: caught first
        raise ToolError(f"too large: {exc}") from None
    except InvalidSession as exc:  # e.g. an id that is not 1-128 of A-Z a-z 0-9 _ -
        raise ToolError(f"invalid input: {exc}") from None
    except StoreUnavailable as exc:
        raise ToolError(f"the workflow store is unavailable, try again later: {exc}") from None


@mcp.tool()
async def start_workflow(name: str, ctx: Ctx) -> WorkflowState:
    """Start a new workflow; keep its session_id for the other tools."""
    with answering():
        session = await _store(ctx).create(
            {"name": name, "steps": []}, ttl=SESSION_TTL, owner=_owner(ctx)
        )
    return _state(session)


@mcp.tool()
async def advance(session_id: str, note: str, ctx: Ctx) -> WorkflowState:
    """Record the next step of a workflow."""

    def add_step(data: dict[str, Any]) -> dict[str, Any]:
        # Runs inside the store's atomic read-modify-write: two concurrent calls
        # get distinct step numbers, and neither step is lost.
        data["steps"].append({"number": len(data["steps"]) + 1, "note": note})
        return data

    with answering(session_id):
        # ttl= also refreshes the expiry, as touch would.
        session = await _store(ctx).update(session_id, add_step, ttl=SESSION_TTL, owner=_owner(ctx))
    return _state(session)


@mcp.tool()
async def status(session_id: str, ctx: Ctx) -> WorkflowState:
    """The workflow's steps so far; using it keeps the workflow alive."""
    with answering(session_id):
        # touch: read and refresh the expiry in one call; data and version are unchanged.
        session = await _store(ctx).touch(session_id, SESSION_TTL, owner=_owner(ctx))
    return _state(session)


@mcp.tool()
async def end_workflow(session_id: str, ctx: Ctx) -> bool:
    """Delete a workflow; False if there was none."""
    with answering(session_id):
        return await _store(ctx).delete(session_id, owner=_owner(ctx))


if __name__ == "__main__":
    mcp.run()  # stdio: the client starts this process and talks over stdin/stdout
