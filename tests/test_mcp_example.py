"""The MCP example server (docs/examples/mcp_workflow_server.py), driven through the SDK's
own stdio client: workflow state outlives the server process on the SQLite store."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest

mcp = pytest.importorskip("mcp")
mcp_stdio = pytest.importorskip("mcp.client.stdio")

pytestmark = pytest.mark.anyio

SERVER = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mcp_workflow_server.py"
#: Bounds one server run (spawn, handshake, calls, shutdown); a hung server fails the test.
RUN_TIMEOUT = 60
#: Bounds each request.
REQUEST_TIMEOUT = 30


@asynccontextmanager
async def connect(env: dict[str, str], cwd: Path, errlog: TextIO) -> AsyncIterator[Any]:
    """Start the example server as a subprocess and open an initialized client session;
    leaving closes the server's stdin, and the server exits."""
    params = mcp.StdioServerParameters(
        command=sys.executable, args=[str(SERVER)], env=env, cwd=str(cwd)
    )
    async with (
        mcp.stdio_client(params, errlog=errlog) as (read, write),
        mcp.ClientSession(read, write, read_timeout_seconds=REQUEST_TIMEOUT) as session,
    ):
        await session.initialize()
        yield session


async def call(session: Any, tool: str, **arguments: Any) -> Any:
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, mcp.types.CallToolResult)
    assert not result.is_error, result.content
    return result.structured_content


async def test_workflow_state_survives_a_server_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More grace than the SDK's 2 s before it kills a server that does not exit on
    # stdin EOF: a loaded CI machine must not turn a clean shutdown into a kill.
    monkeypatch.setattr(mcp_stdio, "PROCESS_TERMINATION_TIMEOUT", 20.0)
    db = tmp_path / "mcp.db"
    env = {
        "SESSION_STORE_URL": f"sqlite:///{db}",  # an absolute path: sqlite:////tmp/...
        "COLUMNS": "200",  # the SDK logs through rich: wide lines, so messages stay unwrapped
    }
    stderr_path = tmp_path / "server-1.log"

    with anyio.fail_after(RUN_TIMEOUT), stderr_path.open("w") as errlog:
        async with connect(env, tmp_path, errlog) as session:
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert {"start_workflow", "advance", "status", "end_workflow"} <= tools

            started = await call(session, "start_workflow", name="onboarding")
            sid = started["session_id"]
            assert started["steps"] == [] and started["version"] == 1
            await call(session, "advance", session_id=sid, note="collect details")
            advanced = await call(session, "advance", session_id=sid, note="verify email")
            assert advanced["version"] == 3
            assert [s["number"] for s in advanced["steps"]] == [1, 2]

    assert db.exists()
    # The server left on stdin EOF through its lifespan (store closed), not by a kill.
    assert "workflow store closed" in " ".join(stderr_path.read_text().split())

    # A new server process on the same file sees the same workflow.
    with anyio.fail_after(RUN_TIMEOUT), (tmp_path / "server-2.log").open("w") as errlog:
        async with connect(env, tmp_path, errlog) as session:
            state = await call(session, "status", session_id=sid)
            assert state["name"] == "onboarding"
            assert state["steps"] == [
                {"number": 1, "note": "collect details"},
                {"number": 2, "note": "verify email"},
            ]
            assert state["version"] == 3  # status touches: the expiry moves, the version does not
            assert state["expires_at"] is not None

            assert await call(session, "end_workflow", session_id=sid) == {"result": True}
            gone = await session.call_tool("status", {"session_id": sid})
            assert gone.is_error
            assert "no workflow" in gone.content[0].text
