"""A session as the conversation it was: each turn's prompt, answer, commands, file changes,
status, time and tokens. Built from a job of the store (`turn_of_job`) or from one of codex's
own session files (`jobstore.codex_sessions`); the UI shows both the same way."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal, Protocol

from jobstore.errors import JobStoreError
from jobstore.events import Summary, total_tokens
from jobstore.record import JobRecord, parse_iso
from jobstore.states import JobStatus

if TYPE_CHECKING:
    from jobstore.sessions import SessionInfo

# A turn of one of codex's own sessions with no end recorded (still running, or codex was stopped).
UNFINISHED: Final = "unfinished"
# A turn's status: its job's, or UNFINISHED.
TurnStatus = JobStatus | Literal["unfinished"]


class TurnReader(Protocol):
    """What reading a store's session as a conversation needs of the store (`JobStore`)."""

    def summary(self, job_id: str) -> Summary: ...

    def final_message(self, job_id: str, summary: Summary | None = None) -> str | None: ...


@dataclass(frozen=True)
class CommandRun:
    """A command (or tool call) codex ran during a turn."""

    command: str
    exit_code: int | None = None
    output: str = ""  # what it printed, as far as it was kept


@dataclass(frozen=True)
class Turn:
    prompt: str
    answer: str | None = None
    status: TurnStatus = UNFINISHED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tokens: int | None = None
    commands: tuple[CommandRun, ...] = ()
    file_changes: tuple[tuple[str, str], ...] = ()  # (kind: add/update/delete/..., path)
    error: str | None = None
    job_id: str | None = None  # the store's job that was this turn, if any
    # A person's messages steered into the running turn: (commands run before it, its text).
    steered: tuple[tuple[int, str], ...] = ()
    # Records the reader did not understand, kept by name with how often they came.
    other: tuple[tuple[str, int], ...] = ()

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class Conversation:
    session_id: str
    cwd: str
    turns: tuple[Turn, ...]
    started_here: bool  # False: one of codex's own sessions, not started through the store
    source: str = ""  # where it was read from (a rollout file), for the reader's information
    details: dict[str, str] = field(default_factory=dict)  # e.g. codex version, originator


def turn_of_job(record: JobRecord, summary: Summary | None, answer: str | None) -> Turn:
    """A job of the store as a turn of its session."""
    commands: tuple[CommandRun, ...] = ()
    changes: tuple[tuple[str, str], ...] = ()
    tokens = None
    steered: tuple[tuple[int, str], ...] = ()
    if summary is not None:
        steered = tuple(
            (int(s.get("after_commands") or 0), str(s.get("text") or "")) for s in summary.steered
        )
        commands = tuple(CommandRun(c.command, c.exit_code) for c in summary.commands)
        changes = tuple((c.get("kind", ""), c.get("path", "")) for c in summary.file_changes)
        tokens = total_tokens(summary.usage)
    return Turn(
        prompt=record.prompt,
        answer=answer,
        status=record.status,
        started_at=parse_iso(record.started_at or record.created_at),
        finished_at=parse_iso(record.finished_at),
        tokens=tokens,
        commands=commands,
        file_changes=changes,
        error=record.error if record.status.is_terminal and record.status != JobStatus.DONE else None,
        job_id=record.job_id,
        steered=steered,
    )


def conversation_of_session(store: TurnReader, session: SessionInfo) -> Conversation:
    """A session of the store as a conversation: each job's summary and answer, read now."""
    turns = []
    for record in session.turns:
        summary: Summary | None = None
        answer: str | None = None
        with contextlib.suppress(JobStoreError, OSError):
            summary = store.summary(record.job_id)
        with contextlib.suppress(JobStoreError, OSError):
            answer = store.final_message(record.job_id, summary)
        turns.append(turn_of_job(record, summary, answer))
    return Conversation(session.session_id, session.cwd, tuple(turns), started_here=True)
