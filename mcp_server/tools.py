"""The fifteen tools, one function each: arguments in, one store call in a worker thread, a result
from convert.

The store and the settings are injected (see mcp_server.lifespan), so each tool can also
be called directly with them. Every refusal of the store becomes a tool error with the
store's own message (mcp_server.errors); `create_server` registers the tools.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import tool
from pydantic import Field

from jobstore import echoed
from mcp_server.arguments import (
    DEFAULT_LIMIT,
    DEFAULT_POLICY,
    DEFAULT_TAIL_LINES,
    DEFAULT_WAIT_SECONDS,
    ONE_CALL_DEFAULT_WAIT_SECONDS,
    BaseArg,
    CommitArg,
    CwdArg,
    DecisionArg,
    EffortArg,
    FolderFilterArg,
    IncludeDiffArg,
    JobIdArg,
    LimitArg,
    ModelArg,
    PolicyArg,
    PromptArg,
    PromptsArg,
    ReviewPromptArg,
    SandboxArg,
    SessionArg,
    SteerMessageArg,
    TailLinesArg,
    TimeoutArg,
    TitleArg,
    UncommittedArg,
    WaitSecondsArg,
    WorktreeArg,
)
from mcp_server.convert import (
    apply_result,
    batch_result,
    cancel_result,
    codex_result,
    discard_result,
    job_view,
    list_result,
    ping_result,
    sessions_result,
    start_result,
    talk_result,
    wait_result,
)
from mcp_server.errors import in_thread
from mcp_server.lifespan import InjectedSettings, InjectedStore
from mcp_server.runs import start_batch, start_review, start_run
from mcp_server.schemas import (
    ApplyResult,
    BatchResult,
    CancelResult,
    CodexResult,
    DiscardResult,
    EntryStatusName,
    ListResult,
    PingResult,
    PollView,
    SessionsResult,
    StartResult,
    TalkResult,
    WaitResult,
)
from mcp_server.waiting import wait_for_job

StatusFilterArg = Annotated[EntryStatusName | None, Field(description="only jobs in this status")]


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
    *,
    store: InjectedStore,
    settings: InjectedSettings,
) -> StartResult:
    """Start a codex job in the background and return its job_id at once (never waits).

    Then call codex_wait(job_id): it returns when the job ends, or after ~50 s with status
    still running, in which case call codex_wait again. Give session_id to continue an
    earlier codex session. The default approval_policy auto-edit lets codex edit files in cwd
    (workspace-write sandbox, no approvals); suggest is read-only; full-auto has no sandbox.
    """
    arguments = dict(locals())  # the options are picked from the arguments by name
    record = await in_thread(start_run, store, settings, arguments)
    # At once: a new session's id comes with codex's first event, and the result says so.
    return start_result(record)


@tool(annotations={"title": "Show a codex job", "readOnlyHint": True})
async def codex_poll(
    job_id: JobIdArg,
    tail_lines: TailLinesArg = DEFAULT_TAIL_LINES,
    include_diff: IncludeDiffArg = False,
    *,
    store: InjectedStore,
) -> PollView:
    """Show a job now, without waiting: status, exit code, times, session, error, codex's
    last message, the end of its output (readable lines), commands run, files changed and
    token usage; with include_diff, the diff of what it changed in its git repository.
    To wait for the end instead, call codex_wait."""
    return await in_thread(lambda: job_view(store, store.get(job_id), tail_lines, include_diff=include_diff))


@tool(annotations={"title": "Wait for a codex job", "readOnlyHint": True})
async def codex_wait(
    job_id: JobIdArg,
    timeout_seconds: TimeoutArg = DEFAULT_WAIT_SECONDS,
    *,
    ctx: Context,
    store: InjectedStore,
) -> WaitResult:
    """Wait for a job to end: returns as soon as it does (with codex's answer in last_message),
    or after timeout_seconds with status still running and finished=false; then call
    codex_wait again. Sends progress notifications while it waits."""
    outcome = await wait_for_job(store, job_id, timeout_seconds, ctx)
    return await in_thread(wait_result, store, outcome)


@tool(annotations={"title": "List codex jobs", "readOnlyHint": True})
async def codex_list(
    limit: LimitArg = DEFAULT_LIMIT,
    status: StatusFilterArg = None,
    cwd: FolderFilterArg = None,
    *,
    store: InjectedStore,
) -> ListResult:
    """List jobs, waiting ones first (they need a person), then newest first, optionally only
    those in one status or under one folder.
    Jobs whose record cannot be read are listed with status unreadable and the reason."""
    if cwd is not None and not os.path.isabs(os.path.expanduser(cwd)):
        raise ToolError(f"cwd {echoed(cwd)} is not an absolute path", log_level=logging.INFO)
    return list_result(await in_thread(store.list_jobs, limit, status, cwd))


@tool(
    annotations={
        "title": "Cancel a codex job",
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
    }
)
async def codex_cancel(job_id: JobIdArg, *, store: InjectedStore) -> CancelResult:
    """Cancel a queued or running job: stops codex and every process it started. A job
    that already ended is left as it is (changed=false)."""
    outcome = await in_thread(store.cancel, job_id)
    return cancel_result(outcome.record, outcome.changed, outcome.message)


@tool(annotations={"title": "Apply a worktree job's change", "readOnlyHint": False, "idempotentHint": False})
async def codex_apply(job_id: JobIdArg, *, store: InjectedStore) -> ApplyResult:
    """Bring an ended worktree job's change into its repository's working tree as uncommitted
    changes (the uncommitted work there is kept). If it conflicts, nothing is changed and the
    answer names the files and the job's branch to merge by hand. A job is applied once."""
    applied = await in_thread(store.apply, job_id)
    return apply_result(job_id, applied)


@tool(
    annotations={
        "title": "Discard a worktree job's worktree",
        "readOnlyHint": False,
        "destructiveHint": True,
    }
)
async def codex_discard(job_id: JobIdArg, *, store: InjectedStore) -> DiscardResult:
    """Remove an ended worktree job's worktree and its branch codex/<job id> (only what the
    job made; its record and recorded diff stay). Refused while the job runs."""
    removed = await in_thread(store.discard, job_id)
    return discard_result(job_id, removed)


@tool(annotations={"title": "Steer a running codex job", "readOnlyHint": False, "openWorldHint": True})
async def codex_steer(job_id: JobIdArg, message: SteerMessageArg, *, store: InjectedStore) -> TalkResult:
    """Send a message into a running job's turn: codex reads it as the newest thing you said
    and answers it in the same turn (a command it runs finishes first). For a job that is
    queued, ended or between turns, an error says so and nothing changes."""
    return talk_result(await in_thread(store.steer, job_id, message))


@tool(annotations={"title": "Interrupt a codex job", "readOnlyHint": False, "destructiveHint": True})
async def codex_interrupt(job_id: JobIdArg, *, store: InjectedStore) -> TalkResult:
    """Interrupt a running job's turn: codex stops, the commands it started are stopped, and
    the job ends interrupted. Its session goes on: codex_start(prompt, cwd, session_id=...)."""
    return talk_result(await in_thread(store.interrupt, job_id))


@tool(annotations={"title": "Answer a waiting codex job", "readOnlyHint": False, "openWorldHint": True})
async def codex_answer(job_id: JobIdArg, decision: DecisionArg, *, store: InjectedStore) -> TalkResult:
    """Answer the question of a waiting job (codex_poll shows it: a command to run, a patch
    to apply). Ask the person first. The first answer wins; a later one is refused."""
    return talk_result(await in_thread(store.answer, job_id, decision))


@tool(annotations={"title": "Start a codex review", "readOnlyHint": False, "openWorldHint": True})
async def codex_review(
    cwd: CwdArg,
    uncommitted: UncommittedArg = None,
    base: BaseArg = None,
    commit: CommitArg = None,
    title: TitleArg = None,
    prompt: ReviewPromptArg = None,
    model: ModelArg = None,
    *,
    store: InjectedStore,
    settings: InjectedSettings,
) -> StartResult:
    """Start a read-only codex code review in the background; returns its job_id at once.
    Give one target (uncommitted, base or commit) or custom instructions in prompt; with
    none, the uncommitted changes are reviewed. Then codex_wait(job_id) for the findings."""
    arguments = dict(locals())  # the options are picked from the arguments by name
    record = await in_thread(start_review, store, settings, arguments)
    return start_result(record)


@tool(annotations={"title": "List codex sessions", "readOnlyHint": True})
async def codex_sessions(limit: LimitArg = DEFAULT_LIMIT, *, store: InjectedStore) -> SessionsResult:
    """List codex sessions, most recently active first, each with its turns (job, prompt,
    status, final message). Continue one with codex_start(prompt, cwd, session_id=...)."""
    return await in_thread(lambda: sessions_result(store, store.sessions(limit)))


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
    wait_seconds: WaitSecondsArg = ONE_CALL_DEFAULT_WAIT_SECONDS,
    *,
    ctx: Context,
    store: InjectedStore,
    settings: InjectedSettings,
) -> CodexResult:
    """Run codex and wait for its answer in one call: starts a job, waits up to wait_seconds
    (at most 50, under the client's tool timeout) and returns the answer if codex finished.
    Otherwise it returns the job_id: go on with codex_wait(job_id), as after codex_start."""
    arguments = dict(locals())  # the options are picked from the arguments by name
    record = await in_thread(start_run, store, settings, arguments)
    waited = 0.0
    if wait_seconds > 0:
        outcome = await wait_for_job(store, record.job_id, wait_seconds, ctx)
        record, waited = outcome.record, outcome.waited_seconds
    return await in_thread(codex_result, store, record, waited)


@tool(annotations={"title": "Start many codex jobs", "readOnlyHint": False, "openWorldHint": True})
async def codex_batch(
    prompts: PromptsArg,
    cwd: CwdArg,
    approval_policy: PolicyArg = DEFAULT_POLICY,
    sandbox: SandboxArg = None,
    model: ModelArg = None,
    reasoning_effort: EffortArg = None,
    worktree: WorktreeArg = None,
    *,
    store: InjectedStore,
    settings: InjectedSettings,
) -> BatchResult:
    """Start one background codex job per prompt, all in cwd with the same settings, and
    return their job_ids at once. Jobs beyond the store's parallel limit are queued and
    start as others end. Nothing is started if any prompt is invalid. Then codex_wait each."""
    arguments = dict(locals())  # the options are picked from the arguments by name
    records = await in_thread(start_batch, store, settings, prompts, arguments)
    return batch_result(records)


@tool(annotations={"title": "Check the server", "readOnlyHint": True})
async def ping(*, store: InjectedStore, settings: InjectedSettings) -> PingResult:
    """Check that the server works: its version, its job store, and the codex CLI it uses."""
    return await in_thread(ping_result, store, settings)


TOOLS = (
    codex_start,
    codex_poll,
    codex_wait,
    codex_list,
    codex_cancel,
    codex_steer,
    codex_interrupt,
    codex_answer,
    codex_review,
    codex_sessions,
    codex,
    codex_batch,
    codex_apply,
    codex_discard,
    ping,
)
