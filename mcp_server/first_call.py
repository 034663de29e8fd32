"""Build, before the first request, what a tool call builds on its first use.

The entry point defers building the MCP SDK's and FastMCP's pydantic models until
each is first used (`mcp_server.__main__.models_built_on_first_use`): start-up pays only
for what `initialize` needs. A tool call uses a handful more (the `tools/call` request
and result of the negotiated protocol version, FastMCP's tool result, the tool's own
result model) and building them made a new server's first `codex_start` ~30 ms slower
than its second. They are built here, once, while nothing waits: `tools/list` and the
calls of a new server cost what they cost later.

Only public paths are used (the SDK's request and result validators on sample messages,
`model_rebuild`, each tool run with an argument no tool takes, which FastMCP refuses after
building the tool's validator and before running anything): an SDK that renamed or dropped
one builds on first use as before, never fails a start.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastmcp import FastMCP

log = logging.getLogger("codex_async_mcp")

_SAMPLE_CALL = {"name": "codex_poll", "arguments": {"job_id": "0"}}
_SAMPLE_RESULT: dict[str, Any] = {
    "content": [{"type": "text", "text": "0"}],
    "structuredContent": {"job_id": "0"},
    "isError": False,
}


# No tool has an argument of this name: every tool refuses it (strict input validation).
_NO_SUCH_ARGUMENT = {"\0": 0}


def build_first_call_models(server: FastMCP) -> None:
    """Build the models a `tools/call` round uses, for every protocol version the SDK speaks,
    every result model of our tools, and each tool's argument validator."""
    _build_protocol_models()
    with contextlib.suppress(Exception):
        import anyio

        anyio.run(_build_tool_validators, server)


async def _build_tool_validators(server: FastMCP) -> None:
    for tool in await server.list_tools():
        try:
            await tool.run(dict(_NO_SUCH_ARGUMENT))
        except Exception:  # refused, as intended: its validator is built and cached
            continue
        log.warning("tool %s ran with an argument it does not take", tool.name)


def _build_protocol_models() -> None:
    from pydantic import BaseModel

    from mcp_server import schemas

    models: list[type[BaseModel]] = [
        model
        for _name, model in inspect.getmembers(schemas, inspect.isclass)
        if issubclass(model, BaseModel) and model.__module__ == schemas.__name__
    ]
    with contextlib.suppress(ImportError):
        from fastmcp.tools.base import ToolResult
        from mcp_types import CallToolResult, TextContent

        models += [ToolResult, CallToolResult, TextContent]  # the result, before its wire shape
    for model in models:
        with contextlib.suppress(Exception):
            model.model_rebuild()
    try:
        from mcp_types import methods
        from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
    except ImportError:
        return
    for version in KNOWN_PROTOCOL_VERSIONS:
        # A version or method an SDK does not know raises: it is simply not built ahead.
        with contextlib.suppress(Exception):
            methods.parse_client_request("tools/call", version, _SAMPLE_CALL)
        with contextlib.suppress(Exception):
            methods.serialize_server_result("tools/call", version, _SAMPLE_RESULT)
