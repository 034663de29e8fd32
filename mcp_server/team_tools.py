"""The tools on a team's queue (`CODEX_ASYNC_REDIS` set): starts go to the team, team jobs are read
from Redis (package `team`), local jobs as before.

What each tool does on a team's server:
- `codex_start`, `codex`, `codex_batch`: the options checked as for a local start (and against
  this server's cap), then put on the team's queue; the answer is the team job id at once (`codex`
  waits as it does locally). `host` asks for one machine; a continued session (`session_id`)
  must name the machine that ran it, where its codex session lives.
- `codex_poll`, `codex_wait`, `codex_cancel`: a team job id is answered from Redis (its output
  rendered and made visible as a local job's is); a local job id (from before, or another door)
  from this machine's store, as before.
- `codex_list`: the team's jobs, newest first.
- Refused with an error saying why (`TeamRefusals`), never done on this machine's store by
  mistake: `codex_review` and `codex_sessions` (not on the team's queue yet; sessions live on each
  machine), and steer, interrupt, answer and discard of a team job (its runner and its worktree
  are on its machine: run `codex-async` there with its local job id).
- `codex_poll` with `include_diff`, `codex_apply`: a worktree team job's change as its machine
  published it when it ended (team.change): read, or applied to this machine's working tree of
  the job's cwd (a team shares paths), as a local job's is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import mcp_types
from fastmcp import Context
from fastmcp.dependencies import Depends
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import tool
from fastmcp.tools.base import ToolResult
from pydantic import Field

from jobstore import InvalidInput, echoed, is_job_id
from mcp_server.arguments import (
    DEFAULT_LIMIT,
    DEFAULT_POLICY,
    DEFAULT_TAIL_LINES,
    DEFAULT_WAIT_SECONDS,
    ONE_CALL_DEFAULT_WAIT_SECONDS,
    CwdArg,
    EffortArg,
    FolderFilterArg,
    IncludeDiffArg,
    JobIdArg,
    LimitArg,
    ModelArg,
    PolicyArg,
    PromptArg,
    PromptsArg,
    SandboxArg,
    SessionArg,
    TailLinesArg,
    TimeoutArg,
    WaitSecondsArg,
    WorktreeArg,
)
from mcp_server.convert import (
    apply_result,
    cancel_result,
    diff_view,
    job_view,
    team_apply_result,
    team_batch_result,
    team_cancel_result,
    team_codex_result,
    team_list_result,
    team_poll_view,
    team_poll_view_of,
    team_start_result,
    team_wait_result,
    team_wait_result_of,
    wait_result,
)
from mcp_server.errors import in_thread, tool_errors
from mcp_server.lifespan import InjectedSettings, InjectedState, InjectedStore
from mcp_server.runs import checked_run
from mcp_server.schemas import (
    ApplyResult,
    BatchResult,
    CancelResult,
    CodexResult,
    StartResult,
    TeamListResult,
    TeamPollView,
    TeamWaitResult,
    WorktreeDiffView,
)
from mcp_server.settings import ServerSettings
from mcp_server.tools import StatusFilterArg
from mcp_server.waiting import wait_for_job, wait_for_team_job
from team import TeamClient, TeamJob


def current_team(state: InjectedState) -> TeamClient:
    if state.team is None:  # a team tool on a server made without a team
        raise RuntimeError("this server has no team's queue: build it with create_server(..., team=...)")
    return state.team


# What a team tool declares to be given the team's client (left out of its input schema).
InjectedTeam = Annotated[TeamClient, Depends(current_team)]

HostArg = Annotated[
    str | None,
    Field(
        description="the machine of the team to run on (a worker's host id); default: whichever worker "
        "takes it first. Required with session_id: a codex session lives on the machine that ran it"
    ),
]


def is_team_job(job_id: str) -> bool:
    """A team job id (anything that is not a local job id: team ids are never one)."""
    return not is_job_id(job_id)


async def enqueue_run(team: TeamClient, settings: ServerSettings, arguments: Mapping[str, Any]) -> TeamJob:
    """A run's options checked as for a local start (and against the cap), put on the team's queue."""
    options = await in_thread(checked_run, settings, arguments)
    host = arguments.get("host")
    if options.session_id is not None and host is None:
        raise ToolError(
            f"session_id {echoed(options.session_id)}: a codex session lives on the machine that ran it; "
            "give host=<that machine> (codex_poll of its team job shows its host)",
            log_level=logging.INFO,
        )
    with tool_errors():
        return await team.enqueue(options, host)


@tool(annotations={"title": "Start a codex job", "readOnlyHint": False, "openWorldHint": True})
async def codex_start(
    prompt: PromptArg,
    cwd: CwdArg,
    approval_policy: PolicyArg = DEFAULT_POLICY,
    sandbox: SandboxArg = None,
    model: ModelArg = None,
    reasoning_effort: EffortArg = None,
    session_id: SessionArg = None,
    worktree: WorktreeArg = None,
    host: HostArg = None,
    *,
    team: InjectedTeam,
    settings: InjectedSettings,
) -> StartResult:
    """Put a codex job on the team's queue and return its job_id at once (never waits); a worker
    of the team runs it on its machine (host: one machine in particular).

    Then call codex_wait(job_id): it returns when the job ends, or after ~50 s with status
    still running, in which case call codex_wait again. The default approval_policy auto-edit
    lets codex edit files in cwd (workspace-write sandbox, no approvals); suggest is read-only;
    full-auto has no sandbox. cwd must exist here and on the machine that runs the job.
    """
    arguments = dict(locals())  # the options are picked from the arguments by name
    return team_start_result(await enqueue_run(team, settings, arguments))


@tool(annotations={"title": "Show a codex job", "readOnlyHint": True})
async def codex_poll(
    job_id: JobIdArg,
    tail_lines: TailLinesArg = DEFAULT_TAIL_LINES,
    include_diff: IncludeDiffArg = False,
    *,
    store: InjectedStore,
    team: InjectedTeam,
) -> TeamPollView:
    """Show a job now, without waiting: status, exit code, times, the machine it runs on,
    session, codex's last message, the end of its output (readable lines), commands run,
    files changed and token usage (include_diff: a team job's diff as its machine published it).
    To wait for the end instead, call codex_wait."""
    if not is_team_job(job_id):
        local = await in_thread(
            lambda: job_view(store, store.get(job_id), tail_lines, include_diff=include_diff)
        )
        return team_poll_view_of(local)
    with tool_errors():
        job = await team.job(job_id)
        diff = await team_diff(team, job) if include_diff else None
        return team_poll_view(job, await team.output(job_id), tail_lines, diff)


async def team_diff(team: TeamClient, job: TeamJob) -> WorktreeDiffView:
    """A team job's diff as its machine published it (a worktree job's, as it ended)."""
    change = await team.change(job.team_job_id)
    if change is not None:
        return diff_view(change.recorded)
    if not job.is_terminal:
        return WorktreeDiffView(
            repo=job.cwd,
            ended=False,
            files=[],
            other_jobs=[],
            diff="",
            truncated=False,
            error="a worktree team job's diff is published by its machine when it ends",
        )
    raise InvalidInput(
        f"include_diff: team job {job.team_job_id} published no diff (only a worktree job does); "
        f"on its machine ({job.host or 'not started'}): "
        f"`codex-async diff {job.local_job_id or '<its local job id>'}`"
    )


@tool(annotations={"title": "Apply a worktree job's change", "readOnlyHint": False, "idempotentHint": False})
async def codex_apply(job_id: JobIdArg, *, store: InjectedStore, team: InjectedTeam) -> ApplyResult:
    """Bring an ended worktree job's change into its repository's working tree on this machine as
    uncommitted changes (the uncommitted work there is kept). A team job's change is the one its
    machine published: it is applied to the working tree of the job's cwd here. If it conflicts,
    nothing is changed and the answer names the files. A job is applied once (per machine)."""
    if not is_team_job(job_id):
        return apply_result(job_id, await in_thread(store.apply, job_id))
    with tool_errors():
        return team_apply_result(job_id, await team.apply(store, job_id))


@tool(annotations={"title": "Wait for a codex job", "readOnlyHint": True})
async def codex_wait(
    job_id: JobIdArg,
    timeout_seconds: TimeoutArg = DEFAULT_WAIT_SECONDS,
    *,
    ctx: Context,
    store: InjectedStore,
    team: InjectedTeam,
) -> TeamWaitResult:
    """Wait for a job to end: returns as soon as it does (with codex's answer in last_message),
    or after timeout_seconds with status still running and finished=false; then call
    codex_wait again. Sends progress notifications while it waits."""
    if not is_team_job(job_id):
        outcome = await wait_for_job(store, job_id, timeout_seconds, ctx)
        return team_wait_result_of(await in_thread(wait_result, store, outcome))
    with tool_errors():
        job, waited = await wait_for_team_job(team, job_id, timeout_seconds, ctx)
        return team_wait_result(job, await team.output(job_id), waited)


@tool(annotations={"title": "List codex jobs", "readOnlyHint": True})
async def codex_list(
    limit: LimitArg = DEFAULT_LIMIT,
    status: StatusFilterArg = None,
    cwd: FolderFilterArg = None,
    *,
    team: InjectedTeam,
) -> TeamListResult:
    """List the team's jobs, newest first, each with the machine that runs (or ran) it,
    optionally only those in one status or under one folder."""
    if cwd is not None and not os.path.isabs(os.path.expanduser(cwd)):
        raise ToolError(f"cwd {echoed(cwd)} is not an absolute path", log_level=logging.INFO)
    folder = None if cwd is None else os.path.normpath(os.path.expanduser(cwd))
    with tool_errors():
        return team_list_result(await team.jobs(limit, status, folder))


@tool(
    annotations={
        "title": "Cancel a codex job",
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
    }
)
async def codex_cancel(job_id: JobIdArg, *, store: InjectedStore, team: InjectedTeam) -> CancelResult:
    """Cancel a queued or running job, wherever it runs: its machine stops codex and every
    process it started (a queued one never starts). A job that already ended is left as it
    is (changed=false)."""
    if not is_team_job(job_id):
        outcome = await in_thread(store.cancel, job_id)
        return cancel_result(outcome.record, outcome.changed, outcome.message)
    with tool_errors():
        return team_cancel_result(*await team.cancel(job_id))


@tool(annotations={"title": "Run codex and wait", "readOnlyHint": False, "openWorldHint": True})
async def codex(
    prompt: PromptArg,
    cwd: CwdArg,
    approval_policy: PolicyArg = DEFAULT_POLICY,
    sandbox: SandboxArg = None,
    model: ModelArg = None,
    reasoning_effort: EffortArg = None,
    session_id: SessionArg = None,
    worktree: WorktreeArg = None,
    host: HostArg = None,
    wait_seconds: WaitSecondsArg = ONE_CALL_DEFAULT_WAIT_SECONDS,
    *,
    ctx: Context,
    team: InjectedTeam,
    settings: InjectedSettings,
) -> CodexResult:
    """Run codex on the team and wait for its answer in one call: queues a job, waits up to
    wait_seconds (at most 50, under the client's tool timeout) and returns the answer if codex
    finished. Otherwise it returns the job_id: go on with codex_wait(job_id)."""
    arguments = dict(locals())  # the options are picked from the arguments by name
    job = await enqueue_run(team, settings, arguments)
    waited = 0.0
    with tool_errors():
        if wait_seconds > 0:
            job, waited = await wait_for_team_job(team, job.team_job_id, wait_seconds, ctx)
        output = await team.output(job.team_job_id) if job.is_terminal else None
    return team_codex_result(job, output, waited)


@tool(annotations={"title": "Start many codex jobs", "readOnlyHint": False, "openWorldHint": True})
async def codex_batch(
    prompts: PromptsArg,
    cwd: CwdArg,
    approval_policy: PolicyArg = DEFAULT_POLICY,
    sandbox: SandboxArg = None,
    model: ModelArg = None,
    reasoning_effort: EffortArg = None,
    worktree: WorktreeArg = None,
    host: HostArg = None,
    *,
    team: InjectedTeam,
    settings: InjectedSettings,
) -> BatchResult:
    """Put one codex job per prompt on the team's queue, all in cwd with the same settings, and
    return their job_ids at once; the team's workers share them. Nothing is queued if any
    prompt is invalid. Then codex_wait each."""
    arguments = dict(locals())  # the options are picked from the arguments by name
    for index, text in enumerate(prompts):  # all checked before the first is queued
        try:
            await in_thread(checked_run, settings, {**arguments, "prompt": text})
        except ToolError as exc:
            raise ToolError(f"prompts[{index}]: {exc}; nothing was queued") from None
    jobs: list[TeamJob] = []
    for text in prompts:
        try:
            jobs.append(await enqueue_run(team, settings, {**arguments, "prompt": text}))
        except ToolError as exc:
            if not jobs:
                raise
            ids = ", ".join(job.team_job_id for job in jobs)
            raise ToolError(
                f"queued {len(jobs)} of {len(prompts)} jobs ({ids}), then failed: {exc}"
            ) from None
    return team_batch_result(jobs)


TEAM_TOOLS = {
    each.__name__: each
    for each in (
        codex_start,
        codex_poll,
        codex_wait,
        codex_list,
        codex_cancel,
        codex,
        codex_batch,
        codex_apply,
    )
}

# Tools that do not reach across machines yet, and why (said instead of acting on this store).
NOT_ON_THE_TEAM = {
    "codex_review": "codex_review does not run on the team's queue yet (the team's workers take runs "
    "only): use codex_start with a review prompt, or a server without CODEX_ASYNC_REDIS",
    "codex_sessions": "codex_sessions does not reach across machines yet: a codex session lives on the "
    "machine that ran it (`codex-async sessions` there); continue one with codex_start(prompt, cwd, "
    "session_id=..., host=<that machine>)",
}
# Tools that act on one job's runner or worktree: for a team job, on its machine only. (Discard
# too: the worktree and branch are the job's machine's; its published change stays readable.)
ON_THE_JOBS_MACHINE = {
    "codex_steer": "steer",
    "codex_interrupt": "interrupt",
    "codex_answer": "answer",
    "codex_discard": "discard",
}


def refusal(name: str, arguments: Mapping[str, Any] | None) -> str | None:
    """Why a call cannot be done on a team's server, or None when it can."""
    if name in NOT_ON_THE_TEAM:
        return NOT_ON_THE_TEAM[name]
    job_id = (arguments or {}).get("job_id")
    if name in ON_THE_JOBS_MACHINE and isinstance(job_id, str) and is_team_job(job_id):
        return (
            f"{name} does not reach across machines yet: {echoed(job_id)} is a team job, and its runner "
            "and worktree are on the machine that runs it. There (codex_poll shows its host and its "
            f"local job id): codex-async {ON_THE_JOBS_MACHINE[name]} <local job id>"
        )
    return None


class TeamRefusals(Middleware):
    """Refuses, with the reason, what a team's server cannot do yet (see `refusal`)."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[mcp_types.CallToolRequestParams],
        call_next: CallNext[mcp_types.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        reason = refusal(context.message.name, context.message.arguments)
        if reason is not None:
            raise ToolError(reason, log_level=logging.INFO)
        return await call_next(context)


def team_tools(local: Sequence[Any]) -> list[Any]:
    """The tools of a team's server, in the local server's order: a team version where there is one."""
    return [TEAM_TOOLS.get(each.__name__, each) for each in local]
