"""MCP tasks on a team's queue: the task id is the team job id, and every answer is read from
Redis, so any server of the team (on any machine) answers `tasks/get` and `tasks/cancel` for a
task another one created, as a local server does for a job of its store (mcp_server.tasks).

A `codex` call that opts in is put on the team's queue (its arguments checked as the team's
`codex` tool checks them, `host` included) and answered as a task at once. How a team job maps
to a task: queued or running -> `working` (its status message says where); ended -> `completed`
with the result the team's `codex` tool returns for it (`isError` unless it ended `done`);
cancelled -> `cancelled`; an id Redis does not know -> -32602. A team job's questions are not
carried across machines (`input_required` is not used): `tasks/update` of a team job is refused.
`codex_review` is not on the team's queue yet: refused as the tool is. Local job ids (tasks
made before, or by a server without a team) are answered from this machine's store as before.
"""

from __future__ import annotations

import logging
from typing import Any

import mcp_types
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.server.extensions import ToolCallContinuation, ToolCallOutcome
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from jobstore import InvalidInput, JobNotFound, JobStatus, JobStore, JobStoreError, echoed
from mcp_server.calls import TASK_TOOLS, check_arguments
from mcp_server.convert import call_tool_result, iso_time, team_codex_result
from mcp_server.settings import ServerSettings
from mcp_server.tasks import (
    TASKS_EXTENSION,
    JobTasks,
    TaskIdParams,
    TaskState,
    TaskStatus,
    UpdateTaskParams,
    client_label,
    elapsed_since,
    one_line,
    waited_seconds_between,
    wire_time,
)
from mcp_server.team_tools import NOT_ON_THE_TEAM, codex, enqueue_run, is_team_job
from team import TeamClient, TeamJob, TeamOutput

log = logging.getLogger("codex_async_mcp")


def team_task_status(job: TeamJob) -> TaskStatus:
    if not job.is_terminal:
        return "working"
    return "cancelled" if job.status == JobStatus.CANCELLED else "completed"


def team_status_message(job: TeamJob, output: TeamOutput) -> str | None:
    """What a person watching the task wants to read now."""
    if job.status == JobStatus.QUEUED:
        where = f"the machine {job.asked.host}" if job.asked.host else "a worker of the team"
        return f"queued on the team's queue: waiting for {where}"
    if job.status == JobStatus.RUNNING:
        head = f"codex running on {job.host}{elapsed_since(iso_time(job.started_at))}"
        summary = output.summary()
        current = summary.commands[-1] if summary.commands else None
        if current is not None and current.exit_code is None and current.status == "in_progress":
            return one_line(f"{head}: $ {current.command}")
        if summary.last_agent_message:
            return one_line(f"{head}: {summary.last_agent_message}")
        return f"{head}: thinking"
    reason = job.describe_end()
    return one_line(reason) if reason else None


def team_task_state(job: TeamJob, output: TeamOutput, result_type: str) -> TaskState:
    """The task for the team job `job` now."""
    status = team_task_status(job)
    result = None
    if status == "completed":
        waited = waited_seconds_between(iso_time(job.asked.enqueued_at), iso_time(job.finished_at))
        answer = call_tool_result(team_codex_result(job, output, waited))
        if job.status != JobStatus.DONE:
            answer.is_error = True
        result = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        result.pop("resultType", None)  # a tools/call result inside a task, not a response
    created = wire_time(iso_time(job.asked.enqueued_at)) or ""
    moments = (job.finished_at, job.started_at, job.asked.enqueued_at)
    updated = wire_time(iso_time(next(each for each in moments if each is not None))) or created
    return TaskState(
        task_id=job.team_job_id,
        status=status,
        created_at=created,
        last_updated_at=updated,
        status_message=None if status == "completed" else team_status_message(job, output),
        result=result,
        result_type=result_type,
    )


class TeamJobTasks(JobTasks):
    """The tasks extension on a team's server: `codex` calls become team jobs; any server of
    the team answers for them. Local job ids go to the store's tasks as before."""

    def __init__(self, store: JobStore, settings: ServerSettings, team: TeamClient) -> None:
        super().__init__(store, settings)
        self.team = team

    async def intercept_tool_call(
        self,
        params: mcp_types.CallToolRequestParams,
        context: Context,
        call_next: ToolCallContinuation,
    ) -> ToolCallOutcome:
        if params.name not in TASK_TOOLS or context.client_extension_settings(TASKS_EXTENSION) is None:
            return await call_next()
        if params.name in NOT_ON_THE_TEAM:
            raise ToolError(NOT_ON_THE_TEAM[params.name], log_level=logging.INFO)
        # The same checks and refusals (ToolError, nothing queued) as the team's inline `codex`.
        arguments = check_arguments(codex, params.arguments)
        job = await enqueue_run(self.team, self.server_settings, arguments)
        log.info("%s queued team job %s as a task", client_label(context), job.team_job_id)
        return await self._team_state(job, "task")

    async def _team_job(self, task_id: str) -> TeamJob:
        try:
            return await self.team.job(task_id)
        except (JobNotFound, InvalidInput) as exc:
            raise MCPError(
                code=mcp_types.INVALID_PARAMS, message=f"no such task {echoed(task_id)}: {exc}"
            ) from None
        except JobStoreError as exc:  # the team's Redis does not answer
            raise MCPError(code=mcp_types.INTERNAL_ERROR, message=str(exc)) from None

    async def _team_state(self, job: TeamJob, result_type: str) -> TaskState:
        try:
            output = await self.team.output(job.team_job_id)
        except JobStoreError as exc:
            raise MCPError(code=mcp_types.INTERNAL_ERROR, message=str(exc)) from None
        return team_task_state(job, output, result_type)

    async def get_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> TaskState:
        if not is_team_job(params.task_id):
            return await super().get_task(ctx, params)
        return await self._team_state(await self._team_job(params.task_id), "complete")

    async def update_task(
        self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams
    ) -> dict[str, Any]:
        if not is_team_job(params.task_id):
            return await super().update_task(ctx, params)
        job = await self._team_job(params.task_id)
        raise MCPError(
            code=mcp_types.INVALID_PARAMS,
            message=f"task {job.team_job_id} is a team job: its questions are answered on its machine "
            f"({job.host or 'not started yet'}), not across machines yet",
        )

    async def cancel_task(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> TaskState:
        """Ask for the team job's cancel (idempotent: a second cancel, or one of an ended job,
        changes nothing)."""
        if not is_team_job(params.task_id):
            return await super().cancel_task(ctx, params)
        await self._team_job(params.task_id)  # an unknown id: -32602, nothing asked
        try:
            job, _, message = await self.team.cancel(params.task_id)
        except JobStoreError as exc:
            raise MCPError(code=mcp_types.INTERNAL_ERROR, message=str(exc)) from None
        log.info("task %s: %s", params.task_id, message)
        return await self._team_state(job, "complete")
