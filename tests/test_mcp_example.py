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


async def _server_log_of(tmp_path: Path, name: str, work: Any) -> str:
    """Run ``work(session)`` against a server on the memory store; the server's stderr."""
    env = {"SESSION_STORE_URL": "memory://", "COLUMNS": "200"}
    log_path = tmp_path / f"{name}.log"
    with anyio.fail_after(RUN_TIMEOUT), log_path.open("w") as errlog:
        async with connect(env, tmp_path, errlog) as session:
            await work(session)
    return log_path.read_text()


async def _refused(session: Any, tool: str, **arguments: Any) -> str:
    """What the tool error that the call must give says, after the SDK's prefix. A crash
    (an exception other than ToolError) would say nothing: only the prefix."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    (content,) = result.content
    prefix = f"Error executing tool {tool}: "
    assert content.text.startswith(prefix), content.text
    return str(content.text.removeprefix(prefix))


async def test_bad_input_is_a_clear_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_stdio, "PROCESS_TERMINATION_TIMEOUT", 20.0)
    long_id = "a" * 300

    async def work(session: Any) -> None:
        # an id no store can hold (VAL-1: at most 128 characters of A-Z a-z 0-9 _ -)
        for tool, arguments in [
            ("advance", {"session_id": long_id, "note": "x"}),
            ("status", {"session_id": long_id}),
            ("end_workflow", {"session_id": long_id}),
            ("status", {"session_id": "no spaces allowed"}),
        ]:
            text = await _refused(session, tool, **arguments)
            assert text.startswith("invalid input: session id must be 1-128 characters"), text
            assert long_id not in text
        # a well-formed id that names no workflow
        assert "no workflow" in await _refused(session, "status", session_id="unknown")
        assert "no workflow" in await _refused(session, "advance", session_id="unknown", note="x")
        # more than the store keeps in one session (VAL-5: 1 MiB of data)
        started = await call(session, "start_workflow", name="big")
        text = await _refused(
            session, "advance", session_id=started["session_id"], note="x" * 2**20
        )
        assert text.startswith("too large: session data is") and len(text) < 300, text
        assert (await _refused(session, "start_workflow", name="x" * 2**20)).startswith("too large")
        # and the server still answers
        assert (await call(session, "status", session_id=started["session_id"]))["steps"] == []

    log = await _server_log_of(tmp_path, "bad-input", work)
    assert "Traceback" not in log and "unexpected exception" not in log, log


async def test_times_are_in_the_spec_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REC-5: RFC 3339, UTC, exactly three fractional digits and a literal Z."""
    from datetime import datetime, timedelta, timezone

    from sessionstore.export import TIMESTAMP_PATTERN

    monkeypatch.setattr(mcp_stdio, "PROCESS_TERMINATION_TIMEOUT", 20.0)
    seen: list[str] = []

    async def work(session: Any) -> None:
        started = await call(session, "start_workflow", name="clock")
        advanced = await call(session, "advance", session_id=started["session_id"], note="n")
        seen.extend([started["expires_at"], advanced["expires_at"]])

    before = datetime.now(timezone.utc)
    await _server_log_of(tmp_path, "times", work)
    after = datetime.now(timezone.utc)
    for text in seen:
        assert TIMESTAMP_PATTERN.fullmatch(text), text
        expires = datetime.fromisoformat(text.replace("Z", "+00:00"))
        hour = timedelta(hours=1)
        assert before + hour - timedelta(milliseconds=1) <= expires <= after + hour
