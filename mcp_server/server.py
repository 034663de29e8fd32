"""The FastMCP app: one tool per store operation, each a thin call into `JobStore`.

Every blocking store call runs in a worker thread; every refusal of the store is a
tool error with the store's own message; every result is a model from `schemas`.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from pydantic import Field

from jobstore import (
    CodexUnavailable,
    InvalidInput,
    JobRecord,
    JobStore,
    ReviewOptions,
    RunOptions,
)
from mcp_server import __version__
from mcp_server.convert import (
    batch_job,
    cancel_result,
    job_view,
    list_entry,
    next_hint,
    session_entry,
    start_result,
    wait_hint,
)
from mcp_server.errors import in_thread, tool_errors
from mcp_server.middleware import ReadableResults
from mcp_server.schemas import (
    BatchResult,
    CancelResult,
    CodexResult,
    EntryStatusName,
    JobView,
    ListResult,
    PingResult,
    SessionsResult,
    StartResult,
    WaitResult,
)
from mcp_server.settings import ServerSettings
from mcp_server.waiting import wait_for_job

MAX_WAIT_SECONDS = 600
DEFAULT_WAIT_SECONDS = 50
ONE_CALL_MAX_WAIT_SECONDS = 50
MAX_LIMIT = 1_000
MAX_TAIL_LINES = 1_000
MAX_BATCH = 100
WAIT_TAIL_LINES = 20

ApprovalPolicy = Literal["suggest", "auto-edit", "full-auto"]
Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]
ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]

INSTRUCTIONS = """\
Runs OpenAI Codex jobs in the background, so a long codex task never hits the client's tool timeout.
The loop: codex_start(prompt, cwd) returns a job_id at once; codex_wait(job_id) returns as soon as \
the job ends or after at most ~50 s with status still running, in which case call codex_wait again. \
codex_poll shows progress without waiting; codex_cancel stops a job and everything it started. \
`codex` does start + one wait in a single call. Follow up in the same codex session with \
codex_start(session_id=...) (see codex_sessions). Jobs survive restarts of this server."""

POLICY_DOC = (
    "auto-edit (default): codex edits files in cwd (workspace-write sandbox) and runs commands "
    "without asking; suggest: read-only sandbox; full-auto: no sandbox at all"
)

# Parameter types, shared by the tools that take them.
PromptArg = Annotated[str, Field(description="what codex should do, in plain words")]
CwdArg = Annotated[str, Field(description="absolute path of an existing folder codex works in")]
PolicyArg = Annotated[ApprovalPolicy, Field(description=POLICY_DOC)]
SandboxArg = Annotated[
    Sandbox | None,
    Field(description="override the sandbox the approval_policy implies (still subject to the server's cap)"),
]
ModelArg = Annotated[str | None, Field(description="codex model name; default: codex's own configuration")]
EffortArg = Annotated[ReasoningEffort | None, Field(description="model reasoning effort")]
SessionArg = Annotated[
    str | None,
    Field(description="continue this codex session (from codex_start, codex_poll or codex_sessions)"),
]
JobIdArg = Annotated[str, Field(description="the job id returned by codex_start (or shown by codex_list)")]
LimitArg = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="how many to return")]


def create_server(store: JobStore, settings: ServerSettings | None = None) -> FastMCP:
    """The MCP server over `store`. `settings` default to the environment's."""
    settings = settings if settings is not None else ServerSettings.from_env()
    mcp = FastMCP(
        "codex-async",
        instructions=INSTRUCTIONS,
        version=__version__,
        middleware=[ReadableResults()],
        mask_error_details=False,
        # The arguments must match the advertised schema: "5" is not a number, nor true a 1.
        strict_input_validation=True,
    )

    def checked_run(**fields: object) -> RunOptions:
        options = RunOptions.checked(**fields)
        settings.check_allowed(options.approval_policy, options.sandbox)
        return options

    async def start_run(**fields: object) -> JobRecord:
        """Check a run's options against the store and the policy cap, then start it."""
        return await in_thread(lambda: store.start(checked_run(**fields)))

    @mcp.tool(annotations={"title": "Start a codex job", "readOnlyHint": False, "openWorldHint": True})
    async def codex_start(
        prompt: PromptArg,
        cwd: CwdArg,
        approval_policy: PolicyArg = "auto-edit",
        sandbox: SandboxArg = None,
        model: ModelArg = None,
        reasoning_effort: EffortArg = None,
        session_id: SessionArg = None,
    ) -> StartResult:
        """Start a codex job in the background and return its job_id at once (never waits).

        Then call codex_wait(job_id): it returns when the job ends, or after ~50 s with status
        still running, in which case call codex_wait again. Give session_id to continue an
        earlier codex session. The default approval_policy auto-edit lets codex edit files in cwd
        (workspace-write sandbox, no approvals); suggest is read-only; full-auto has no sandbox.
        """

        return start_result(
            await start_run(
                prompt=prompt,
                cwd=cwd,
                approval_policy=approval_policy,
                sandbox=sandbox,
                model=model,
                reasoning_effort=reasoning_effort,
                session_id=session_id,
            )
        )

    @mcp.tool(annotations={"title": "Show a codex job", "readOnlyHint": True})
    async def codex_poll(
        job_id: JobIdArg,
        tail_lines: Annotated[
            int, Field(ge=1, le=MAX_TAIL_LINES, description="how many lines of output to show")
        ] = 40,
    ) -> JobView:
        """Show a job now, without waiting: status, exit code, times, session, error, codex's
        last message, the end of its output (readable lines), commands run, files changed and
        token usage. To wait for the end instead, call codex_wait."""

        def run() -> JobView:
            return job_view(store, store.get(job_id), tail_lines)

        return await in_thread(run)

    @mcp.tool(annotations={"title": "Wait for a codex job", "readOnlyHint": True})
    async def codex_wait(
        job_id: JobIdArg,
        ctx: Context,
        timeout_seconds: Annotated[
            float,
            Field(
                gt=0,
                le=MAX_WAIT_SECONDS,
                allow_inf_nan=False,
                description="longest wait in seconds; keep it under the client's tool timeout (~60 s)",
            ),
        ] = DEFAULT_WAIT_SECONDS,
    ) -> WaitResult:
        """Wait for a job to end: returns as soon as it does (with codex's answer in last_message),
        or after timeout_seconds with status still running and finished=false; then call
        codex_wait again. Sends progress notifications while it waits."""
        outcome = await wait_for_job(store, job_id, timeout_seconds, ctx)

        def view() -> JobView:
            return job_view(store, outcome.record, WAIT_TAIL_LINES)

        shown = await in_thread(view)
        data = shown.model_dump()
        if not outcome.finished:
            data["next"] = (
                f"still {outcome.record.status} after {outcome.waited_seconds:.0f} s: call "
                f"codex_wait(job_id={job_id!r}) again, or codex_cancel to stop it"
            )
        return WaitResult(
            **data,
            finished=outcome.finished,
            timed_out=not outcome.finished,
            waited_seconds=outcome.waited_seconds,
        )

    @mcp.tool(annotations={"title": "List codex jobs", "readOnlyHint": True})
    async def codex_list(
        limit: LimitArg = 20,
        status: Annotated[EntryStatusName | None, Field(description="only jobs in this status")] = None,
        cwd: Annotated[str | None, Field(description="only jobs in this folder or below it")] = None,
    ) -> ListResult:
        """List jobs, newest first, optionally only those in one status or under one folder.
        Jobs whose record cannot be read are listed with status unreadable and the reason."""
        if cwd is not None and not os.path.isabs(os.path.expanduser(cwd)):
            raise ToolError(f"cwd {cwd!r} is not an absolute path", log_level=logging.INFO)
        entries = await in_thread(store.list_jobs, limit, status, cwd)
        jobs = [list_entry(e) for e in entries]
        return ListResult(jobs=jobs, count=len(jobs))

    @mcp.tool(
        annotations={
            "title": "Cancel a codex job",
            "readOnlyHint": False,
            "destructiveHint": True,
            "idempotentHint": True,
        }
    )
    async def codex_cancel(job_id: JobIdArg) -> CancelResult:
        """Cancel a queued or running job: stops codex and every process it started. A job
        that already ended is left as it is (changed=false)."""
        outcome = await in_thread(store.cancel, job_id)
        return cancel_result(outcome.record, outcome.changed, outcome.message)

    @mcp.tool(annotations={"title": "Start a codex review", "readOnlyHint": False, "openWorldHint": True})
    async def codex_review(
        cwd: CwdArg,
        uncommitted: Annotated[
            bool | None, Field(description="review staged, unstaged and new files")
        ] = None,
        base: Annotated[str | None, Field(description="review the changes against this branch")] = None,
        commit: Annotated[str | None, Field(description="review the changes of this commit")] = None,
        title: Annotated[str | None, Field(description="commit title to show (with commit)")] = None,
        prompt: Annotated[
            str | None, Field(description="custom review instructions (instead of a target)")
        ] = None,
        model: ModelArg = None,
    ) -> StartResult:
        """Start a read-only codex code review in the background; returns its job_id at once.
        Give one target (uncommitted, base or commit) or custom instructions in prompt; with
        none, the uncommitted changes are reviewed. Then codex_wait(job_id) for the findings."""

        def run() -> JobRecord:
            options = ReviewOptions.checked(
                cwd=cwd,
                uncommitted=bool(uncommitted),
                base=base,
                commit=commit,
                title=title,
                prompt=prompt,
                model=model,
            )
            settings.check_allowed(options.approval_policy, None)
            return store.start_review(options)

        return start_result(await in_thread(run))

    @mcp.tool(annotations={"title": "List codex sessions", "readOnlyHint": True})
    async def codex_sessions(limit: LimitArg = 20) -> SessionsResult:
        """List codex sessions, most recently active first, each with its turns (job, prompt,
        status, final message). Continue one with codex_start(prompt, cwd, session_id=...)."""

        def run() -> SessionsResult:
            sessions = [session_entry(store, s) for s in store.sessions(limit)]
            return SessionsResult(
                sessions=sessions,
                count=len(sessions),
                next="continue a session with codex_start(prompt=..., cwd=..., session_id=...)",
            )

        return await in_thread(run)

    @mcp.tool(annotations={"title": "Run codex and wait", "readOnlyHint": False, "openWorldHint": True})
    async def codex(
        prompt: PromptArg,
        cwd: CwdArg,
        ctx: Context,
        approval_policy: PolicyArg = "auto-edit",
        sandbox: SandboxArg = None,
        model: ModelArg = None,
        reasoning_effort: EffortArg = None,
        session_id: SessionArg = None,
        wait_seconds: Annotated[
            float,
            Field(
                ge=0,
                le=ONE_CALL_MAX_WAIT_SECONDS,
                allow_inf_nan=False,
                description="how long to wait for the answer in this call",
            ),
        ] = 45,
    ) -> CodexResult:
        """Run codex and wait for its answer in one call: starts a job, waits up to wait_seconds
        (at most 50, under the client's tool timeout) and returns the answer if codex finished.
        Otherwise it returns the job_id: go on with codex_wait(job_id), as after codex_start."""

        record = await start_run(
            prompt=prompt,
            cwd=cwd,
            approval_policy=approval_policy,
            sandbox=sandbox,
            model=model,
            reasoning_effort=reasoning_effort,
            session_id=session_id,
        )
        outcome = await wait_for_job(store, record.job_id, wait_seconds, ctx) if wait_seconds > 0 else None
        final = outcome.record if outcome else record
        answer = await in_thread(store.final_message, final.job_id) if final.is_terminal else None
        hint = next_hint(final) if final.is_terminal else f"codex is still working. {wait_hint(final.job_id)}"
        return CodexResult(
            job_id=final.job_id,
            status=final.status.value,
            finished=final.is_terminal,
            answer=answer,
            exit_code=final.exit_code,
            error=final.error,
            session_id=final.session_id,
            waited_seconds=outcome.waited_seconds if outcome else 0.0,
            next=hint,
        )

    @mcp.tool(annotations={"title": "Start many codex jobs", "readOnlyHint": False, "openWorldHint": True})
    async def codex_batch(
        prompts: Annotated[
            list[str],
            Field(min_length=1, max_length=MAX_BATCH, description="one codex job per prompt"),
        ],
        cwd: CwdArg,
        approval_policy: PolicyArg = "auto-edit",
        sandbox: SandboxArg = None,
        model: ModelArg = None,
        reasoning_effort: EffortArg = None,
    ) -> BatchResult:
        """Start one background codex job per prompt, all in cwd with the same settings, and
        return their job_ids at once. Jobs beyond the store's parallel limit are queued and
        start as others end. Nothing is started if any prompt is invalid. Then codex_wait each."""

        def run() -> list[JobRecord]:
            checked: list[RunOptions] = []
            for index, text in enumerate(prompts):
                try:
                    checked.append(
                        checked_run(
                            prompt=text,
                            cwd=cwd,
                            approval_policy=approval_policy,
                            sandbox=sandbox,
                            model=model,
                            reasoning_effort=reasoning_effort,
                        )
                    )
                except InvalidInput as exc:
                    raise InvalidInput(f"prompts[{index}]: {exc}; nothing was started") from None
            store.codex_info()  # codex missing or unusable: refuse before writing anything
            started: list[JobRecord] = []
            for options in checked:
                try:
                    started.append(store.start(options))
                except Exception as exc:
                    if not started:
                        raise
                    ids = ", ".join(r.job_id for r in started)
                    raise ToolError(
                        f"started {len(started)} of {len(checked)} jobs ({ids}), then failed: {exc}"
                    ) from exc
            return started

        records = await in_thread(run)
        jobs = [batch_job(r) for r in records]
        queued = sum(1 for j in jobs if j.status == "queued")
        return BatchResult(
            jobs=jobs,
            running=sum(1 for j in jobs if j.status == "running"),
            queued=queued,
            next="call codex_wait(job_id) for each job (again while it is still running); "
            "codex_list(status='running') shows what is still going",
        )

    @mcp.tool(annotations={"title": "Check the server", "readOnlyHint": True})
    async def ping() -> PingResult:
        """Check that the server works: its version, its job store, and the codex CLI it uses."""

        def run() -> PingResult:
            version = path = error = None
            try:
                info = store.codex_info()
                version, path = info.version_string, info.path
            except CodexUnavailable as exc:
                error = str(exc)
            return PingResult(
                ok=True,
                server_version=__version__,
                server_pid=os.getpid(),
                store_root=str(store.root),
                max_jobs=store.max_jobs,
                max_policy=settings.max_policy,
                codex_version=version,
                codex_path=path,
                codex_error=error,
            )

        with tool_errors():
            return await in_thread(run)

    return mcp
