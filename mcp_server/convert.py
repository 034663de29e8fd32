"""Store records to the tools' results: every result model is built here, and nowhere else.

Functions taking a store read files: call them in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import mcp_types
from pydantic import BaseModel

from jobstore import (
    UNREADABLE,
    Applied,
    CodexUnavailable,
    JobEntry,
    JobRecord,
    JobStatus,
    JobStore,
    Question,
    RenderedLine,
    SessionInfo,
    Summary,
    TalkOutcome,
    parse_iso,
    read_worktree_diff,
    terminal_safe,
    visible_data,
)
from mcp_server import __version__
from mcp_server.render import render_text
from mcp_server.schemas import (
    ApplyResult,
    BatchJob,
    BatchResult,
    CancelResult,
    CodexResult,
    CommandRun,
    DiscardResult,
    FileChange,
    JobView,
    ListEntry,
    ListResult,
    PingResult,
    PollView,
    QuestionView,
    SessionEntry,
    SessionsResult,
    SessionTurn,
    StartResult,
    TalkResult,
    TeamListEntry,
    TeamListResult,
    TeamPollView,
    TeamWaitResult,
    WaitResult,
    WorktreeDiffView,
)
from mcp_server.settings import ServerSettings
from mcp_server.waiting import WaitOutcome

if TYPE_CHECKING:  # the team's types, for annotations only: `team` is loaded on a team's server alone
    from jobstore import WorktreeDiff
    from team import TeamApplied, TeamJob, TeamOutput

PROMPT_PREVIEW_CHARS = 300
LIST_PROMPT_CHARS = 120
SESSION_MESSAGE_CHARS = 1_000


def shorten(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def duration_seconds(record: JobRecord) -> float | None:
    started = parse_iso(record.started_at)
    if started is None:
        return None
    ended = parse_iso(record.finished_at) or datetime.now(UTC)
    return round(max((ended - started).total_seconds(), 0.0), 1)


def wait_hint(job_id: str) -> str:
    return (
        f"call codex_wait(job_id={job_id!r}) to wait for the result (it returns within 50 s; call it "
        "again while the job is still running), or codex_poll for progress without waiting"
    )


def next_hint(record: JobRecord) -> str:
    """What the calling model should do next with this job."""
    question = Question.of(record)
    if question is not None:
        return (
            f"{question.describe()}. Ask the person, then codex_answer(job_id={record.job_id!r}, "
            "decision='approve' or 'deny'); the job waits until then"
        )
    if not record.is_terminal:
        return wait_hint(record.job_id)
    if record.status in (JobStatus.DONE, JobStatus.INTERRUPTED) and record.session_id:
        return (
            f"job ended ({record.status}). To follow up in the same codex session: "
            f"codex_start(prompt=..., cwd={record.cwd!r}, session_id={record.session_id!r})"
        )
    return f"job ended ({record.status}); see error and output for what happened"


def start_result(record: JobRecord) -> StartResult:
    hint = next_hint(record)
    if record.session_id is None and not record.is_terminal:
        hint += (
            ". session_id is null until codex starts its session (its first event, "
            "a moment after the job starts running): codex_poll or codex_wait show it then"
        )
    return StartResult(
        job_id=record.job_id,
        kind=record.kind,
        status=record.status.value,
        pid=record.pid,
        session_id=record.session_id,
        cwd=record.cwd,
        next=hint,
    )


def batch_job(record: JobRecord) -> BatchJob:
    return BatchJob(
        job_id=record.job_id,
        status=record.status.value,
        pid=record.pid,
        prompt=shorten(record.prompt, LIST_PROMPT_CHARS),
    )


RECENT_ITEMS = 20
WAIT_TAIL_LINES = 20
ViewT = TypeVar("ViewT", bound=JobView)


def _job_view(
    model: type[ViewT], store: JobStore, record: JobRecord, tail_lines: int, next_text: str, **extra: Any
) -> ViewT:
    """A JobView, or a model extending it with `extra` fields; reads the job's output tail
    and summary."""
    job_id = record.job_id
    lines = store.rendered_tail(job_id, tail_lines)
    summary = store.summary(job_id)
    return model(
        **_output_fields(lines, summary, store.final_message(job_id, summary)),
        job_id=job_id,
        kind=record.kind,
        status=record.status.value,
        exit_code=record.exit_code,
        prompt=shorten(record.prompt, PROMPT_PREVIEW_CHARS),
        cwd=record.cwd,
        approval_policy=record.approval_policy,
        sandbox=record.sandbox,
        model=record.model,
        session_id=record.session_id or summary.session_id,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_seconds=duration_seconds(record),
        pid=record.pid,
        codex_pid=record.codex_pid,
        error=record.error,
        question=question_view(record),
        next=next_text,
        **extra,
    )


def _output_fields(
    lines: Sequence[RenderedLine], summary: Summary, last_message: str | None
) -> dict[str, Any]:
    """A JobView's fields about what codex did: its answer, its output's end, its commands."""
    return {
        "last_message": last_message,
        "output": "\n".join(line.text for line in lines),
        "output_lines": len(lines),
        # Only the latest: a long run's full lists would make every poll heavy to send and check.
        "commands": [
            CommandRun(command=c.command, exit_code=c.exit_code, status=c.status)
            for c in summary.commands[-RECENT_ITEMS:]
        ],
        "commands_total": len(summary.commands),
        "file_changes": [
            FileChange(path=str(c.get("path", "")), kind=str(c.get("kind", "")))
            for c in summary.file_changes[-RECENT_ITEMS:]
        ],
        "file_changes_total": len(summary.file_changes),
        "usage": summary.usage,
    }


def question_view(record: JobRecord) -> QuestionView | None:
    """A waiting job's question, every string made terminal-safe (codex's text)."""
    question = Question.of(record)
    if question is None:
        return None

    def safe(text: str | None) -> str | None:
        return None if text is None else terminal_safe(text)

    waited = question.waiting_seconds()
    return QuestionView(
        kind=question.kind,
        command=safe(question.command),
        cwd=safe(question.cwd),
        files=[terminal_safe(f) for f in question.files],
        reason=safe(question.reason),
        asked_at=question.asked_at,
        waiting_seconds=None if waited is None else round(waited, 1),
        text=question.describe(),
    )


def talk_result(outcome: TalkOutcome) -> TalkResult:
    """What codex_steer, codex_interrupt and codex_answer return."""
    record = outcome.record
    return TalkResult(
        job_id=record.job_id,
        status=record.status.value,
        handled=outcome.handled,
        message=terminal_safe(outcome.message),
        next=next_hint(record),
    )


MAX_DIFF_CHARS = 64 * 1024  # of a diff in a tool's answer


def job_view(store: JobStore, record: JobRecord, tail_lines: int, *, include_diff: bool = False) -> PollView:
    """Everything codex_poll shows of a job (and what it changed, when asked)."""
    diff = worktree_diff_view(store, record.job_id) if include_diff else None
    return _job_view(PollView, store, record, tail_lines, next_hint(record), worktree_diff=diff)


def worktree_diff_view(store: JobStore, job_id: str) -> WorktreeDiffView | None:
    recorded = read_worktree_diff(store, job_id)
    return None if recorded is None else diff_view(recorded)


def diff_view(recorded: WorktreeDiff) -> WorktreeDiffView:
    """A recorded diff as a tool shows it (a local job's, or a team job's as its machine published it)."""
    cut = len(recorded.diff) > MAX_DIFF_CHARS
    return WorktreeDiffView(
        repo=recorded.repo,
        ended=recorded.ended,
        files=[FileChange(path=path, kind=kind) for kind, path in recorded.files],
        other_jobs=recorded.other_jobs,
        diff=recorded.diff[:MAX_DIFF_CHARS] + ("\n… (cut)" if cut else ""),
        truncated=recorded.truncated or cut,
        # What the diff leaves out rides with its error: the tool's schema stays as it is.
        error="; ".join(part for part in (recorded.error, recorded.notice) if part) or None,
    )


def wait_result(store: JobStore, outcome: WaitOutcome) -> WaitResult:
    """codex_wait's result: the job as codex_poll shows it, and how the wait ended."""
    record = outcome.record
    next_text = (
        next_hint(record)
        if outcome.finished
        else f"still {record.status} after {outcome.waited_seconds:.0f} s: call "
        f"codex_wait(job_id={record.job_id!r}) again, or codex_cancel to stop it"
    )
    return _job_view(
        WaitResult,
        store,
        record,
        WAIT_TAIL_LINES,
        next_text,
        finished=outcome.finished,
        timed_out=not outcome.finished,
        waited_seconds=outcome.waited_seconds,
    )


def list_entry(entry: JobEntry) -> ListEntry:
    if not isinstance(entry, JobRecord):
        return ListEntry(job_id=entry.job_id, status=UNREADABLE, error=entry.reason)
    return ListEntry(
        job_id=entry.job_id,
        status=entry.status.value,
        kind=entry.kind,
        prompt=shorten(entry.prompt, LIST_PROMPT_CHARS),
        cwd=entry.cwd,
        created_at=entry.created_at,
        finished_at=entry.finished_at,
        exit_code=entry.exit_code,
        session_id=entry.session_id,
        error=entry.error,
        client=entry.client,
    )


def cancel_result(record: JobRecord, changed: bool, message: str) -> CancelResult:
    return CancelResult(
        job_id=record.job_id,
        status=record.status.value,
        changed=changed,
        message=message,
        exit_code=record.exit_code,
    )


def apply_result(job_id: str, applied: Applied) -> ApplyResult:
    if applied.clean:
        message = f"applied: {len(applied.changed)} file(s) changed in the working tree, uncommitted"
    else:
        message = (
            f"not applied: the change conflicts with the working tree in {', '.join(applied.conflicts)}; "
            f"nothing was changed. Merge branch {applied.branch} by hand (its change is uncommitted in "
            f"{applied.worktree}), or codex_discard it"
        )
    return ApplyResult(
        job_id=job_id,
        applied=applied.clean,
        changed_files=applied.changed,
        conflicts=applied.conflicts,
        branch=applied.branch,
        worktree=applied.worktree,
        message=message,
    )


def team_apply_result(team_job_id: str, applied: TeamApplied) -> ApplyResult:
    """codex_apply of a team job: its change as published, applied to this machine's working tree."""
    change = applied.change
    branch = f"codex/{change.local_job_id}"
    where = f"{change.host}:{change.recorded.repo}"
    if applied.clean:
        message = (
            f"applied here in {applied.cwd}: {len(applied.changed)} file(s) changed in the working tree, "
            f"uncommitted (team job {team_job_id}, made on {change.host})"
        )
    else:
        message = (
            f"not applied: the change conflicts with the working tree in {', '.join(applied.conflicts)}; "
            f"nothing was changed. Its branch {branch} and worktree are on {change.host}: merge it "
            f"there by hand, or edit the files here and call codex_apply again"
        )
    return ApplyResult(
        job_id=team_job_id,
        applied=applied.clean,
        changed_files=applied.changed,
        conflicts=applied.conflicts,
        branch=branch,
        worktree=where,
        message=message,
    )


def discard_result(job_id: str, removed: list[str]) -> DiscardResult:
    what = ", ".join(removed) if removed else "nothing was left to remove"
    return DiscardResult(job_id=job_id, removed=removed, message=f"discarded: {what}")


def session_entry(store: JobStore, session: SessionInfo) -> SessionEntry:
    turns = []
    for turn in session.turns:
        message = store.final_message(turn.job_id) if turn.is_terminal else None
        turns.append(
            SessionTurn(
                job_id=turn.job_id,
                prompt=shorten(turn.prompt, PROMPT_PREVIEW_CHARS),
                status=turn.status.value,
                created_at=turn.created_at,
                final_message=None if message is None else shorten(message, SESSION_MESSAGE_CHARS),
            )
        )
    return SessionEntry(
        session_id=session.session_id, cwd=session.cwd, updated_at=session.updated_at, turns=turns
    )


def list_result(entries: Sequence[JobEntry]) -> ListResult:
    jobs = [list_entry(entry) for entry in entries]
    return ListResult(jobs=jobs, count=len(jobs))


def sessions_result(store: JobStore, sessions: Sequence[SessionInfo]) -> SessionsResult:
    """codex_sessions' result; reads each ended turn's final message."""
    entries = [session_entry(store, session) for session in sessions]
    return SessionsResult(
        sessions=entries,
        count=len(entries),
        next="continue a session with codex_start(prompt=..., cwd=..., session_id=...)",
    )


def codex_result(store: JobStore, record: JobRecord, waited_seconds: float) -> CodexResult:
    """The one-call `codex` result for `record` as it is after the wait; reads codex's answer
    once the job has ended."""
    ended = record.is_terminal
    return CodexResult(
        job_id=record.job_id,
        status=record.status.value,
        finished=ended,
        answer=store.final_message(record.job_id) if ended else None,
        exit_code=record.exit_code,
        error=record.error,
        session_id=record.session_id,
        waited_seconds=waited_seconds,
        next=next_hint(record) if ended else f"codex is still working. {wait_hint(record.job_id)}",
    )


def batch_result(records: Sequence[JobRecord]) -> BatchResult:
    jobs = [batch_job(record) for record in records]
    return BatchResult(
        jobs=jobs,
        running=sum(1 for record in records if record.status == "running"),
        queued=sum(1 for record in records if record.status == "queued"),
        next="call codex_wait(job_id) for each job (again while it is still running); "
        "codex_list(status='running') shows what is still going",
    )


def ping_result(store: JobStore, settings: ServerSettings) -> PingResult:
    """ping's result; asks the codex CLI for its version (once per store)."""
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


def text_content(structured: dict[str, Any]) -> list[mcp_types.ContentBlock]:
    """The text form every result is sent with: its structured content laid out for reading."""
    return [mcp_types.TextContent(type="text", text=render_text(structured))]


def call_tool_result(result: BaseModel) -> mcp_types.CallToolResult:
    """A result model as a successful tools/call answer, exactly as a tool returning it sends it
    (structured content, and its text form from the ReadableResults middleware)."""
    structured = visible_data(result.model_dump(mode="json"))
    return mcp_types.CallToolResult(
        content=text_content(structured), structured_content=structured, is_error=False
    )


# ---- a team's queue: team jobs (read from Redis by `team`) as the same results


def iso_time(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()


def team_wait_hint(job: TeamJob) -> str:
    if job.status == JobStatus.QUEUED:
        where = f"for the machine {job.asked.host}" if job.asked.host else "for any machine"
        return f"queued on the team's queue {where}: {wait_hint(job.team_job_id)}"
    return f"running on {job.host} (its job {job.local_job_id} there): {wait_hint(job.team_job_id)}"


def team_next_hint(job: TeamJob, session_id: str | None) -> str:
    """What the calling model should do next with this team job."""
    if not job.is_terminal:
        return team_wait_hint(job)
    if job.status in (JobStatus.DONE, JobStatus.INTERRUPTED) and session_id and job.host:
        # A codex session lives on the machine that ran it: its next turn must run there too.
        return (
            f"job ended ({job.status}) on {job.host}. To follow up in the same codex session (it lives "
            f"on that machine): codex_start(prompt=..., cwd={job.cwd!r}, session_id={session_id!r}, "
            f"host={job.host!r})"
        )
    return f"job ended ({job.status}); see error and output for what happened"


def team_start_result(job: TeamJob) -> StartResult:
    return StartResult(
        job_id=job.team_job_id,
        kind="run",
        status=job.status.value,
        pid=None,
        session_id=None,
        cwd=job.cwd,
        next=team_next_hint(job, None)
        + ". It runs on whichever worker of the team takes it (codex_poll shows its host)",
    )


TeamViewT = TypeVar("TeamViewT", TeamPollView, TeamWaitResult)


def _team_job_view(
    model: type[TeamViewT],
    job: TeamJob,
    output: TeamOutput,
    tail_lines: int,
    next_text: str | None,
    **extra: Any,
) -> TeamViewT:
    summary = output.summary()
    session_id = summary.session_id or job.option("session_id")
    duration = None
    if job.started_at is not None:
        until = job.finished_at if job.finished_at is not None else datetime.now(UTC).timestamp()
        duration = round(max(until - job.started_at, 0.0), 1)
    return model(
        **_output_fields(output.rendered(tail_lines), summary, summary.last_agent_message),
        job_id=job.team_job_id,
        kind="run",
        status=job.status.value,
        exit_code=job.exit_code,
        prompt=shorten(job.prompt, PROMPT_PREVIEW_CHARS),
        cwd=job.cwd,
        approval_policy=job.option("approval_policy") or "",
        sandbox=job.option("sandbox"),
        model=job.option("model"),
        session_id=session_id,
        created_at=iso_time(job.asked.enqueued_at) or "",
        started_at=iso_time(job.started_at),
        finished_at=iso_time(job.finished_at),
        duration_seconds=duration,
        pid=None,  # the processes are on the job's machine: their ids mean nothing here
        codex_pid=None,
        error=job.describe_end(),
        next=next_text if next_text is not None else team_next_hint(job, session_id),
        host=job.host,
        local_job_id=job.local_job_id,
        requested_host=job.asked.host,
        **extra,
    )


def team_poll_view(
    job: TeamJob, output: TeamOutput, tail_lines: int, diff: WorktreeDiffView | None = None
) -> TeamPollView:
    return _team_job_view(TeamPollView, job, output, tail_lines, None, worktree_diff=diff)


def team_wait_result(job: TeamJob, output: TeamOutput, waited_seconds: float) -> TeamWaitResult:
    finished = job.is_terminal
    next_text = (
        None
        if finished
        else f"still {job.status} after {waited_seconds:.0f} s: call codex_wait(job_id={job.team_job_id!r}) "
        "again, or codex_cancel to stop it"
    )
    return _team_job_view(
        TeamWaitResult,
        job,
        output,
        WAIT_TAIL_LINES,
        next_text,
        finished=finished,
        timed_out=not finished,
        waited_seconds=waited_seconds,
    )


def team_poll_view_of(view: PollView) -> TeamPollView:
    """A local job's view as a team's server answers it (its team fields empty)."""
    return TeamPollView.model_validate(view.model_dump())


def team_wait_result_of(result: WaitResult) -> TeamWaitResult:
    return TeamWaitResult.model_validate(result.model_dump())


def team_list_result(jobs: Sequence[TeamJob]) -> TeamListResult:
    entries = [
        TeamListEntry(
            job_id=job.team_job_id,
            status=job.status.value,
            kind="run",
            prompt=shorten(job.prompt, LIST_PROMPT_CHARS),
            cwd=job.cwd,
            created_at=iso_time(job.asked.enqueued_at),
            finished_at=iso_time(job.finished_at),
            exit_code=job.exit_code,
            error=job.describe_end(),
            host=job.host,
            local_job_id=job.local_job_id,
            requested_host=job.asked.host,
        )
        for job in jobs
    ]
    return TeamListResult(jobs=entries, count=len(entries))


def team_cancel_result(job: TeamJob, changed: bool, message: str) -> CancelResult:
    return CancelResult(
        job_id=job.team_job_id,
        status=job.status.value,
        changed=changed,
        message=message,
        exit_code=job.exit_code,
    )


def team_codex_result(job: TeamJob, output: TeamOutput | None, waited_seconds: float) -> CodexResult:
    """The one-call `codex` result for a team job; its answer read from `output` once it ended."""
    summary = output.summary() if output is not None else Summary()
    ended = job.is_terminal
    return CodexResult(
        job_id=job.team_job_id,
        status=job.status.value,
        finished=ended,
        answer=summary.last_agent_message if ended else None,
        exit_code=job.exit_code,
        error=job.describe_end(),
        session_id=summary.session_id,
        waited_seconds=waited_seconds,
        next=team_next_hint(job, summary.session_id)
        if ended
        else f"codex is still working. {team_wait_hint(job)}",
    )


def team_batch_result(jobs: Sequence[TeamJob]) -> BatchResult:
    return BatchResult(
        jobs=[
            BatchJob(
                job_id=job.team_job_id,
                status=job.status.value,
                pid=None,
                prompt=shorten(job.prompt, LIST_PROMPT_CHARS),
            )
            for job in jobs
        ],
        running=sum(1 for job in jobs if job.status == JobStatus.RUNNING),
        queued=sum(1 for job in jobs if job.status == JobStatus.QUEUED),
        next="call codex_wait(job_id) for each job (again while it is still running); "
        "codex_list(status='running') shows what is still going on the team",
    )
