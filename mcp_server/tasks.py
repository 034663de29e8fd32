"""MCP tasks (extension io.modelcontextprotocol/tasks, protocol 2026-07-28) backed by the job store.

A task is a job: its taskId is the job id, and every answer is read from the store, so a
task created through one server process is answered by any other on the same store (after
a crash, a reconnect, `claude --continue`). How a job maps to a task:

- `queued`, `running` -> `working`, with a statusMessage saying what codex is doing;
- `waiting` (codex asks: run this command? apply this patch?) -> `input_required`, the
  question in `inputRequests` as one form elicitation (`decision`: approve or deny), keyed
  by job and question; `tasks/update` with its `inputResponses` answers it (accept with a
  decision; decline: deny; cancel: no answer, the job goes on waiting). The first answer
  wins: a later one, or one to a question already gone, is an error saying so;
- `interrupted` -> `completed`, marked `isError` like `error` (its turn did not finish);
- `done` -> `completed` with the result the inline tool returns;
- `error`, `lost` (a failed turn ends `error`) -> `completed` with that same result marked
  `isError`: the model reads what went wrong (error, exit code, session) as it would inline,
  and a job whose end was not `done` is never reported as a success;
- `cancelled` -> `cancelled`, its statusMessage saying why;
- a job the store no longer has (never made, or pruned) -> JSON-RPC error -32602.

Only the tools `mcp_server.calls.JOB_TOOLS` marks `as_task` (`codex`, `codex_review`) become
tasks, and only for a request that opts in; every other call, and every client that does not
opt in, gets the tools exactly as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import anyio.to_thread
import mcp_types
from fastmcp import Context
from fastmcp.server.extensions import MethodBinding, ServerExtension, ToolCallContinuation, ToolCallOutcome
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

from jobstore import (
    DECISION_CHOICES,
    InvalidInput,
    JobNotFound,
    JobRecord,
    JobStatus,
    JobStore,
    JobStoreError,
    Question,
    UnreadableRecord,
    echoed,
    parse_iso,
    terminal_safe,
)
from mcp_server.calls import TASK_TOOLS, admit_job_call, job_call_result, task_tool_for
from mcp_server.errors import in_thread
from mcp_server.settings import ServerSettings

log = logging.getLogger("codex_async_mcp")

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
# Each poll reads a record and a summary: cheap, but a codex turn takes seconds to minutes,
# so a couple of seconds between polls costs the answer little and the machine nothing.
POLL_INTERVAL_MS = 2_000
# Jobs stay in the store until a person prunes them (`codex-async prune`): no expiry to announce.
TTL_MS: int | None = None
STATUS_MESSAGE_CHARS = 200

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]


class TaskIdParams(mcp_types.RequestParams):
    task_id: str


class UpdateTaskParams(TaskIdParams):
    input_responses: dict[str, Any] | None = None


class TaskState(BaseModel):
    """A task as tasks/get (and the tools/call that created it) sends it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = TTL_MS
    poll_interval_ms: int = POLL_INTERVAL_MS
    status_message: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, Any] | None = None
    result_type: str = Field(default="complete")

    @model_serializer(mode="wrap")
    def _always_ttl(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The wire is dumped without None values, but ttlMs must be present (null: no expiry).
        data: dict[str, Any] = handler(self)
        data.setdefault("ttlMs", self.ttl_ms)
        return data


def wire_time(value: str | None) -> str | None:
    moment = parse_iso(value)
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def one_line(text: str, limit: int = STATUS_MESSAGE_CHARS) -> str:
    """codex's words made safe to show in a client's status line: one line, every control and
    format character shown visibly (line ends fold into spaces)."""
    flat = terminal_safe(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def elapsed_text(record: JobRecord) -> str:
    return elapsed_since(record.started_at)


def elapsed_since(moment: str | None) -> str:
    started = parse_iso(moment)
    if started is None:
        return ""
    seconds = max(int((datetime.now(UTC) - started).total_seconds()), 0)
    return f" for {seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f" for {seconds}s"


def status_message(store: JobStore, record: JobRecord) -> str | None:
    """What a person watching the task wants to read now. Reads the job's summary."""
    if record.status == JobStatus.QUEUED:
        return f"queued: waiting for a free slot (this store runs {store.max_jobs} codex jobs at once)"
    question = Question.of(record)
    if question is not None:
        return one_line(f"waiting{elapsed_since(question.asked_at)}: {question.describe()}")
    if record.status == JobStatus.RUNNING:
        summary = store.summary(record.job_id)
        head = f"codex running{elapsed_text(record)}"
        current = summary.commands[-1] if summary.commands else None
        if current is not None and current.exit_code is None and current.status == "in_progress":
            return one_line(f"{head}: $ {current.command}")
        if summary.last_agent_message:
            return one_line(f"{head}: {summary.last_agent_message}")
        if summary.commands:
            return one_line(
                f"{head}, {len(summary.commands)} commands so far: $ {summary.commands[-1].command}"
            )
        return f"{head}: thinking"
    if record.error:
        return one_line(f"{record.status}: {record.error}")
    return None


def task_status(record: JobRecord) -> TaskStatus:
    if record.status == JobStatus.WAITING:
        return "input_required"
    if not record.is_terminal:
        return "working"
    return "cancelled" if record.status == JobStatus.CANCELLED else "completed"


def waited_seconds(record: JobRecord) -> float:
    """How long the caller has waited for the job: from its creation to its end (or now)."""
    return waited_seconds_between(record.created_at, record.finished_at)


def waited_seconds_between(created_at: str | None, finished_at: str | None) -> float:
    begun = parse_iso(created_at)
    ended = parse_iso(finished_at) or datetime.now(UTC)
    return round(max((ended - begun).total_seconds(), 0.0), 1) if begun else 0.0


def task_state(store: JobStore, record: JobRecord, result_type: str) -> TaskState:
    """The task for `record` now. Blocking (reads the job's files): call it in a worker thread."""
    status = task_status(record)
    result = None
    if status == "completed":
        # The task tool that starts a job of this kind answers for it.
        tool = task_tool_for(record.kind)
        answer = job_call_result(store, tool.name, record, waited_seconds(record) if tool.waits else 0.0)
        if record.status != JobStatus.DONE:
            answer.is_error = True
        result = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        result.pop("resultType", None)  # a tools/call result inside a task, not a response
    question = Question.of(record)
    created = wire_time(record.created_at) or record.created_at
    updated = wire_time(record.finished_at or record.started_at or record.created_at) or created
    return TaskState(
        task_id=record.job_id,
        status=status,
        created_at=created,
        last_updated_at=updated,
        status_message=None if status == "completed" else status_message(store, record),
        result=result,
        input_requests=input_requests(record.job_id, question) if question is not None else None,
        result_type=result_type,
    )


DECISION_FIELD = "decision"


def input_key(job_id: str, question: Question) -> str:
    """The key of a question's input request: one per question, so a stale answer is known."""
    return f"{job_id}-question-{question.id}"


def input_requests(job_id: str, question: Question) -> dict[str, Any]:
    """A waiting job's question as the one form elicitation a client shows its person."""
    schema = {
        "type": "object",
        "properties": {
            DECISION_FIELD: {
                "type": "string",
                "title": "Your answer",
                "enum": list(DECISION_CHOICES),
                "description": "approve: codex does it; deny: it does not, and goes on",
            }
        },
        "required": [DECISION_FIELD],
    }
    params = {"mode": "form", "message": question.describe(), "requestedSchema": schema}
    return {input_key(job_id, question): {"method": "elicitation/create", "params": params}}


def decision_of(response: Any) -> str | None:
    """The decision in an elicitation's answer: accept with a decision, decline is deny, a
    cancel (dismissed) is none."""
    if not isinstance(response, Mapping):
        raise ValueError("an input response must be an elicitation result (action, content)")
    action = response.get("action")
    if action == "decline":
        return "deny"
    if action == "cancel":
        return None
    content = response.get("content")
    decision = content.get(DECISION_FIELD) if isinstance(content, Mapping) else None
    if action != "accept" or decision not in DECISION_CHOICES:
        raise ValueError(
            f"answer with action accept and {DECISION_FIELD} one of {', '.join(DECISION_CHOICES)}"
        )
    return str(decision)


def client_label(context: Context) -> str:
    """Which client opted in, as the job record keeps it."""
    request = context.request_context
    meta = (request.meta if request is not None else None) or {}
    info = meta.get(mcp_types.CLIENT_INFO_META_KEY)
    name = version = ""
    if isinstance(info, Mapping):
        name, version = str(info.get("name") or ""), str(info.get("version") or "")
    who = one_line(f"{name} {version}", 80) or "an MCP client"
    return f"{who} (MCP task)"


class JobTasks(ServerExtension):
    """The tasks extension over one store: `codex`/`codex_review` calls become durable jobs."""

    identifier = TASKS_EXTENSION

    def __init__(self, store: JobStore, settings: ServerSettings) -> None:
        self.store = store
        self.server_settings = settings

    def methods(self) -> Sequence[MethodBinding]:
        versions = frozenset(MODERN_PROTOCOL_VERSIONS)
        return (
            MethodBinding("tasks/get", TaskIdParams, self.get_task, versions),
            MethodBinding("tasks/update", UpdateTaskParams, self.update_task, versions),
            MethodBinding("tasks/cancel", TaskIdParams, self.cancel_task, versions),
        )

    async def intercept_tool_call(
        self,
        params: mcp_types.CallToolRequestParams,
        context: Context,
        call_next: ToolCallContinuation,
    ) -> ToolCallOutcome:
        if params.name not in TASK_TOOLS or context.client_extension_settings(TASKS_EXTENSION) is None:
            return await call_next()
        # Same checks and refusals (ToolError, nothing written) as the inline tool.
        label = client_label(context)
        record = await admit_job_call(
            self.store, self.server_settings, params.name, params.arguments, client=label
        )
        created = await in_thread(lambda: task_state(self.store, record, "task"))
        log.info("%s started job %s as a task (%s)", label, record.job_id, params.name)
        return created

    async def _read(self, task_id: str) -> JobRecord:
        """The job behind `task_id`; a job that reads lost is recorded so (as codex_wait does)."""

        def read() -> JobRecord:
            record = self.store.get(task_id)
            return self.store.settle(task_id) if record.status == JobStatus.LOST else record

        try:
            return await anyio.to_thread.run_sync(read)
        except (JobNotFound, UnreadableRecord) as exc:
            raise MCPError(
                code=mcp_types.INVALID_PARAMS, message=f"no such task {echoed(task_id)}: {exc}"
            ) from None
        except JobStoreError as exc:  # a malformed id, a store that cannot be read
            raise MCPError(code=mcp_types.INVALID_PARAMS, message=f"task {echoed(task_id)}: {exc}") from None

    async def _state(self, record: JobRecord) -> TaskState:
        try:
            return await anyio.to_thread.run_sync(task_state, self.store, record, "complete")
        except JobStoreError as exc:  # a file of the job refused (a symlinked output...): said so
            raise MCPError(code=mcp_types.INVALID_PARAMS, message=f"task {record.job_id!r}: {exc}") from None

    async def get_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> TaskState:
        return await self._state(await self._read(params.task_id))

    async def update_task(
        self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams
    ) -> dict[str, Any]:
        """Answer a waiting job's question with the response to its input request."""
        record = await self._read(params.task_id)
        for key, response in (params.input_responses or {}).items():
            question = Question.of(record)
            if question is None or key != input_key(record.job_id, question):
                raise MCPError(
                    code=mcp_types.INVALID_PARAMS,
                    message=f"already answered: task {params.task_id} has no open question {key!r}",
                )
            try:
                decision = decision_of(response)
            except ValueError as exc:
                raise MCPError(code=mcp_types.INVALID_PARAMS, message=str(exc)) from None
            if decision is None:
                continue  # dismissed: the question stays open
            try:
                outcome = await anyio.to_thread.run_sync(self.store.answer, params.task_id, decision)
            except InvalidInput as exc:
                raise MCPError(code=mcp_types.INVALID_PARAMS, message=str(exc)) from None
            except JobStoreError as exc:
                raise MCPError(code=mcp_types.INTERNAL_ERROR, message=str(exc)) from None
            log.info("task %s: %s", params.task_id, outcome.message)
        return {}

    async def cancel_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> TaskState:
        """Cancel the job (idempotent: a second cancel, or one of a job that ended, changes nothing)."""
        record = await self._read(params.task_id)
        if not record.is_terminal:
            try:
                outcome = await anyio.to_thread.run_sync(self.store.cancel, params.task_id)
                record = outcome.record
            except JobStoreError as exc:
                raise MCPError(code=mcp_types.INTERNAL_ERROR, message=str(exc)) from None
            log.info("task %s: %s", params.task_id, outcome.message)
        return await self._state(record)
