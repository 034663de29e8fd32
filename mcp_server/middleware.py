"""One middleware around every tool call: readable argument errors, codex's text made visible
(`jobstore.terminal_safe`: no hidden character reaches the calling model), and a readable text form."""

from __future__ import annotations

from typing import Any

import mcp_types
from fastmcp.exceptions import ToolError, ValidationError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from pydantic import ValidationError as PydanticValidationError

from jobstore import visible_data
from mcp_server.convert import text_content
from mcp_server.errors import describe_validation_error


class ReadableResults(Middleware):
    async def on_call_tool(
        self,
        context: MiddlewareContext[mcp_types.CallToolRequestParams],
        call_next: CallNext[mcp_types.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        try:
            result = await call_next(context)
        except ValidationError as exc:
            cause = exc.__cause__
            if not isinstance(cause, PydanticValidationError):
                raise
            name = context.message.name
            params = await _param_names(context, name)
            raise ToolError(describe_validation_error(name, cause, params)) from None
        if not isinstance(result, ToolResult):  # a task (mcp_server.tasks) answered the call
            return result
        if isinstance(result.structured_content, dict):
            # Validated against the output schema already; made visible, it keeps its shape.
            result.structured_content = visible_data(result.structured_content)
            if not result.is_error:
                # The text form is the same data laid out for reading instead of one JSON line.
                result.content = text_content(result.structured_content)
        return result


async def _param_names(context: MiddlewareContext[Any], name: str) -> list[str] | None:
    ctx = context.fastmcp_context
    if ctx is None:
        return None
    try:
        tool = await ctx.fastmcp.get_tool(name)
    except Exception:  # only used to improve a message
        return None
    if tool is None:
        return None
    return list(tool.parameters.get("properties", {}))
