"""The job tools (`codex`, `codex_review`) called outside FastMCP's dispatch, e.g. answered as MCP tasks.

`admit_job_call` checks raw arguments exactly as the tool does (the same pydantic
validation of the tool's own signature, strict as the server is, then the store's
checks and the operator's cap) and starts the job, without waiting for it.
`job_call_result` is the tools/call answer the inline tool gives for a job as it is now.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import without_injected_parameters
from pydantic import BaseModel, ConfigDict, create_model
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError, to_json

from jobstore import JobRecord, JobStore
from mcp_server.convert import call_tool_result, codex_result, start_result
from mcp_server.errors import describe_validation_error, in_thread
from mcp_server.runs import checked_run, start_review
from mcp_server.settings import ServerSettings
from mcp_server.tools import codex, codex_review

JOB_TOOLS = ("codex", "codex_review")


def _argument_model(tool: Callable[..., Any]) -> tuple[type[BaseModel], list[str]]:
    """A model of `tool`'s arguments as FastMCP validates them: its signature without the
    injected store, settings and context, with the same annotated types and defaults, and
    no other argument allowed."""
    visible = without_injected_parameters(tool)  # FastMCP's own view of the tool's arguments
    signature = inspect.signature(visible)
    fields: dict[str, Any] = {
        name: (visible.__annotations__[name], ... if param.default is param.empty else param.default)
        for name, param in signature.parameters.items()
    }
    model = create_model(f"{tool.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, list(signature.parameters)


_MODELS = {"codex": _argument_model(codex), "codex_review": _argument_model(codex_review)}


def check_job_arguments(tool: str, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """`arguments` of a `codex` or `codex_review` call, validated as the tool validates them;
    raises the ToolError (same message) the tool's call would fail with."""
    if tool not in _MODELS:
        raise ValueError(f"{tool!r} does not start a job; job tools: {', '.join(JOB_TOOLS)}")
    model, params = _MODELS[tool]
    try:
        # As FastMCP's strict_input_validation does: JSON data validated as JSON, strictly.
        checked = model.model_validate_json(to_json(dict(arguments or {})), strict=True)
    except PydanticValidationError as exc:
        raise ToolError(describe_validation_error(tool, exc, params)) from None
    except PydanticSerializationError as exc:  # e.g. a lone surrogate: worded as FastMCP words it
        raise ToolError(f"Error calling tool {tool!r}: {exc}") from None
    return dict(checked)


async def admit_job_call(
    store: JobStore,
    settings: ServerSettings,
    tool: str,
    arguments: Mapping[str, Any] | None,
    *,
    client: str | None = None,
) -> JobRecord:
    """Start the job a `codex` or `codex_review` call asks for and return its record at once
    (running, or queued behind the store's limit); `codex`'s wait_seconds is checked, not used.

    Refuses exactly as the inline tool does, with a ToolError carrying the same message, and
    then nothing was written. `client` (who asked) is kept in the job's record from its
    first write.
    """
    checked = check_job_arguments(tool, arguments)
    if tool == "codex":
        return await in_thread(
            lambda: store.start(
                checked_run(
                    settings,
                    prompt=checked["prompt"],
                    cwd=checked["cwd"],
                    approval_policy=checked["approval_policy"],
                    sandbox=checked["sandbox"],
                    model=checked["model"],
                    reasoning_effort=checked["reasoning_effort"],
                    session_id=checked["session_id"],
                ),
                client=client,
            )
        )
    return await in_thread(
        lambda: start_review(
            store,
            settings,
            cwd=checked["cwd"],
            uncommitted=checked["uncommitted"],
            base=checked["base"],
            commit=checked["commit"],
            title=checked["title"],
            prompt=checked["prompt"],
            model=checked["model"],
            client=client,
        )
    )


def job_call_result(
    store: JobStore, tool: str, record: JobRecord, waited_seconds: float = 0.0
) -> mcp_types.CallToolResult:
    """The tools/call result the inline `tool` returns for `record` (content and structured
    content, never isError: a job that failed is reported in the result, as inline).

    `codex`: the CodexResult (with codex's answer once the job has ended; `waited_seconds` is
    what it reports as waited). `codex_review`: the StartResult the inline tool returns.
    Reads the job's files: call it in a worker thread.
    """
    if tool == "codex":
        return call_tool_result(codex_result(store, record, waited_seconds))
    if tool == "codex_review":
        return call_tool_result(start_result(record))
    raise ValueError(f"{tool!r} does not start a job; job tools: {', '.join(JOB_TOOLS)}")
