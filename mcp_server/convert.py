"""Store records to result models. Functions taking a store read files: call them in a worker thread."""

from __future__ import annotations

from datetime import UTC, datetime

from jobstore import JobEntry, JobRecord, JobStore, SessionInfo
from jobstore.record import parse_iso
from mcp_server.schemas import (
    BatchJob,
    CancelResult,
    CommandRun,
    FileChange,
    JobView,
    ListEntry,
    SessionEntry,
    SessionTurn,
    StartResult,
)

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
    if not record.is_terminal:
        return wait_hint(record.job_id)
    if record.status == "done" and record.session_id:
        return (
            f"job ended ({record.status}). To follow up in the same codex session: "
            f"codex_start(prompt=..., cwd={record.cwd!r}, session_id={record.session_id!r})"
        )
    return f"job ended ({record.status}); see error and output for what happened"


def start_result(record: JobRecord) -> StartResult:
    return StartResult(
        job_id=record.job_id,
        kind=record.kind,
        status=record.status.value,
        pid=record.pid,
        session_id=record.session_id,
        cwd=record.cwd,
        next=next_hint(record),
    )


def batch_job(record: JobRecord) -> BatchJob:
    return BatchJob(
        job_id=record.job_id,
        status=record.status.value,
        pid=record.pid,
        prompt=shorten(record.prompt, LIST_PROMPT_CHARS),
    )


RECENT_ITEMS = 20


def job_view(store: JobStore, record: JobRecord, tail_lines: int) -> JobView:
    """Everything codex_poll shows of a job; reads its output tail and summary."""
    job_id = record.job_id
    lines = store.rendered_tail(job_id, tail_lines)
    summary = store.summary(job_id)
    return JobView(
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
        last_message=store.final_message(job_id, summary),
        output="\n".join(line.text for line in lines),
        output_lines=len(lines),
        # Only the latest: a long run's full lists would make every poll heavy to send and check.
        commands=[
            CommandRun(command=c.command, exit_code=c.exit_code, status=c.status)
            for c in summary.commands[-RECENT_ITEMS:]
        ],
        commands_total=len(summary.commands),
        file_changes=[
            FileChange(path=str(c.get("path", "")), kind=str(c.get("kind", "")))
            for c in summary.file_changes[-RECENT_ITEMS:]
        ],
        file_changes_total=len(summary.file_changes),
        usage=summary.usage,
        next=next_hint(record),
    )


def list_entry(entry: JobEntry) -> ListEntry:
    if not isinstance(entry, JobRecord):
        return ListEntry(job_id=entry.job_id, status="unreadable", error=entry.reason)
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
    )


def cancel_result(record: JobRecord, changed: bool, message: str) -> CancelResult:
    return CancelResult(
        job_id=record.job_id,
        status=record.status.value,
        changed=changed,
        message=message,
        exit_code=record.exit_code,
    )


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
