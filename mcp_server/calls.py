"""The tools that start a job, as a table, and their calls outside FastMCP's dispatch (e.g. as MCP tasks).

`JOB_TOOLS` says of each tool that starts one job how it starts it, whether it waits for
the end, whether it may run as an MCP task, and what it answers: callers look a tool up
there instead of comparing names.

`admit_job_call` checks raw arguments exactly as the tool does (the same pydantic
validation of the tool's own signature, strict as the server is, then the store's
checks and the operator's cap) and starts the job, without waiting for it.
`job_call_result` is the tools/call answer the inline tool gives for a job as it is now.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import without_injected_parameters
from pydantic import BaseModel, ConfigDict, create_model
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError, to_json

from jobstore import JobKind, JobRecord, JobStore, echoed
from mcp_server.convert import call_tool_result, codex_result, start_result
from mcp_server.errors import describe_validation_error, in_thread
from mcp_server.runs import start_review, start_run
from mcp_server.settings import ServerSettings
from mcp_server.tools import codex, codex_review, codex_start

Starter = Callable[[JobStore, ServerSettings, Mapping[str, Any], str | None], JobRecord]


def _started(store: JobStore, record: JobRecord, waited_seconds: float) -> BaseModel:
    return start_result(record)


@dataclass(frozen=True)
class JobTool:
    """A tool that starts one job."""

    function: Callable[..., Any]  # the tool itself: its signature is its arguments
    start: Starter  # checks the tool's arguments by name and starts the job
    kind: JobKind  # the kind of job it starts
    waits: bool  # waits for the job's end (up to its wait_seconds) before answering
    as_task: bool  # may be answered as an MCP task (its result read later from the store)
    # The result it answers with for a job as it is (its tools/call result's model).
    answer: Callable[[JobStore, JobRecord, float], BaseModel]

    @property
    def name(self) -> str:
        return self.function.__name__


JOB_TOOLS: dict[str, JobTool] = {
    each.name: each
    for each in (
        JobTool(codex_start, start_run, kind="run", waits=False, as_task=False, answer=_started),
        JobTool(codex, start_run, kind="run", waits=True, as_task=True, answer=codex_result),
        JobTool(codex_review, start_review, kind="review", waits=False, as_task=True, answer=_started),
    )
}
TASK_TOOLS = tuple(name for name, each in JOB_TOOLS.items() if each.as_task)


def job_tool(name: str) -> JobTool:
    """The tool called `name`; ValueError if it starts no job."""
    found = JOB_TOOLS.get(name)
    if found is None:
        raise ValueError(f"{echoed(name)} does not start a job; job tools: {', '.join(JOB_TOOLS)}")
    return found


def task_tool_for(kind: JobKind) -> JobTool:
    """The task tool that answers for a job of `kind` (a task's result is that tool's)."""
    return next(each for each in JOB_TOOLS.values() if each.as_task and each.kind == kind)


@functools.cache
def _argument_model(function: Callable[..., Any]) -> tuple[type[BaseModel], list[str]]:
    """A model of the tool's arguments as FastMCP validates them: its signature without the
    injected store, settings and context, with the same annotated types and defaults, and
    no other argument allowed."""
    name = function.__name__
    visible = without_injected_parameters(function)  # FastMCP's own view
    signature = inspect.signature(visible)
    fields: dict[str, Any] = {
        param: (visible.__annotations__[param], ... if spec.default is spec.empty else spec.default)
        for param, spec in signature.parameters.items()
    }
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, list(signature.parameters)


def check_job_arguments(tool: str, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """`arguments` of a job tool's call, validated as the tool validates them; raises the
    ToolError (same message) the tool's call would fail with."""
    return check_arguments(job_tool(tool).function, arguments)


def check_arguments(function: Callable[..., Any], arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """`arguments` of a call of the tool `function`, validated as FastMCP validates them (see
    `check_job_arguments`)."""
    tool = function.__name__
    model, params = _argument_model(function)
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
    """Start the job a job tool's call asks for and return its record at once (running, or
    queued behind the store's limit); a wait (`codex`'s wait_seconds) is checked, not used.

    Refuses exactly as the inline tool does, with a ToolError carrying the same message, and
    then nothing was written. `client` (who asked) is kept in the job's record from its
    first write.
    """
    checked = check_job_arguments(tool, arguments)
    return await in_thread(JOB_TOOLS[tool].start, store, settings, checked, client)


def job_call_result(
    store: JobStore, tool: str, record: JobRecord, waited_seconds: float = 0.0
) -> mcp_types.CallToolResult:
    """The tools/call result the inline `tool` returns for `record` (content and structured
    content, never isError: a job that failed is reported in the result, as inline).

    `codex`: the CodexResult (with codex's answer once the job has ended; `waited_seconds` is
    what it reports as waited). `codex_start`, `codex_review`: the StartResult.
    Reads the job's files: call it in a worker thread.
    """
    return call_tool_result(job_tool(tool).answer(store, record, waited_seconds))
