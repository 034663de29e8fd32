"""Driving the MCP server from tests: over stdio with the official MCP client, or in memory.

Reusable for end-to-end tests with the real codex CLI: `stdio_session(env)` starts the
installed `codex-async-mcp` console script with exactly the environment given (plus the
MCP SDK's safe defaults such as PATH and HOME) and yields an initialized `ClientSession`.
`call_ok` / `call_error` call a tool and check the result against the tool's declared
output schema, so every test also checks the structured-content contract.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

VENV_BIN = Path(sys.executable).parent
ALL_TOOLS = frozenset(
    {
        "codex_start",
        "codex_poll",
        "codex_wait",
        "codex_list",
        "codex_cancel",
        "codex_steer",
        "codex_interrupt",
        "codex_answer",
        "codex_review",
        "codex_sessions",
        "codex",
        "codex_batch",
        "codex_apply",
        "codex_discard",
        "ping",
    }
)
SERVER_SCRIPT = "codex-async-mcp"
# Every call of a test gets an answer well within this, or the test fails instead of hanging.
READ_TIMEOUT_SECONDS = 90.0

ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None]]


def server_command() -> str:
    """The installed console script (`pip install -e .` puts it next to the interpreter)."""
    found = VENV_BIN / SERVER_SCRIPT
    if found.exists():
        return str(found)
    on_path = shutil.which(SERVER_SCRIPT)
    if on_path is None:
        raise RuntimeError(f"{SERVER_SCRIPT} is not installed: run `pip install -e .` first")
    return on_path


def server_env(store_root: Path, codex_bin: Path | str | None, **extra: str) -> dict[str, str]:
    """The environment for a server over `store_root` using `codex_bin` (None: CODEX_BIN unset)."""
    env = {
        "CODEX_ASYNC_HOME": str(store_root),
        "CODEX_ASYNC_CANCEL_GRACE": "2",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
    }
    if codex_bin is not None:
        env["CODEX_BIN"] = str(codex_bin)
    env.update(extra)
    return env


@asynccontextmanager
async def stdio_session(
    env: Mapping[str, str],
    *,
    args: Sequence[str] = (),
    command: str | None = None,
    stderr_path: Path | None = None,
    cwd: Path | None = None,
) -> AsyncIterator[ClientSession]:
    """Start the server as a subprocess and yield an initialized MCP client session over stdio.

    The server's stderr (its log) goes to `stderr_path` when given. Leaving the block closes
    the server's stdin, which makes it exit; jobs it started keep running (they are detached).
    """
    params = StdioServerParameters(
        command=command or server_command(), args=list(args), env=dict(env), cwd=cwd
    )
    errlog = open(stderr_path, "a", encoding="utf-8") if stderr_path else open(os.devnull, "w")  # noqa: SIM115
    try:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=READ_TIMEOUT_SECONDS) as session,
        ):
            await session.initialize()
            yield session
    finally:
        errlog.close()


class ToolSession(Protocol):
    """What `call_ok` needs: an MCP ClientSession (or anything shaped like one)."""

    async def list_tools(self) -> Any: ...

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any) -> Any: ...


_schemas: weakref.WeakKeyDictionary[Any, dict[str, dict[str, Any] | None]] = weakref.WeakKeyDictionary()


async def output_schemas(session: ToolSession) -> dict[str, dict[str, Any] | None]:
    """Each tool's declared output schema, from tools/list (cached per session)."""
    if session not in _schemas:
        listed = await session.list_tools()
        _schemas[session] = {tool.name: tool.output_schema for tool in listed.tools}
    return _schemas[session]


def result_text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def check_against_schema(name: str, schema: dict[str, Any] | None, structured: Any) -> None:
    assert schema is not None, f"{name} declares no output schema"
    assert isinstance(structured, dict), f"{name} returned no structured content"
    jsonschema.validate(structured, schema)


async def call_ok(
    session: ToolSession,
    name: str,
    arguments: dict[str, Any] | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured content, checked against its schema."""
    result = await session.call_tool(name, arguments or {}, progress_callback=progress)
    assert not result.is_error, f"{name}({json.dumps(arguments)}) failed: {result_text(result)}"
    schemas = await output_schemas(session)
    check_against_schema(name, schemas.get(name), result.structured_content)
    assert result_text(result).strip(), f"{name} returned no text form"
    return result.structured_content


async def call_error(session: ToolSession, name: str, arguments: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail with a tool error; return the error's text."""
    result = await session.call_tool(name, arguments or {})
    assert result.is_error, f"{name}({json.dumps(arguments)}) should have failed: {result_text(result)}"
    text = result_text(result)
    assert text.strip(), f"{name} failed without a message"
    assert "Traceback" not in text, text
    return text


async def start_job(session: ToolSession, cwd: Path, prompt: str, **kw: Any) -> dict[str, Any]:
    """codex_start in `cwd`; must succeed."""
    return await call_ok(session, "codex_start", {"prompt": prompt, "cwd": str(cwd), **kw})


async def wait_done(session: ToolSession, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """One codex_wait that must see the job end."""
    result = await call_ok(session, "codex_wait", {"job_id": job_id, "timeout_seconds": timeout})
    assert result["finished"], result
    return result
