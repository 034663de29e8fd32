"""Talking to a running job from any process: steer it, interrupt it, answer its question.

Each is checked first against the job's record (a clear InvalidInput, nothing written, for
a job that cannot take it: queued, ended, run as exec, no question waiting), then sent
through the job's messages folder (`jobstore.messages`), where its runner finds it even if
the sender exits at once; the sender waits a bounded time for the runner's reply, which
says what happened. The runner decides in the end (the turn may have ended meanwhile):
its refusal is an InvalidInput too; no reply in time is a `TalkOutcome` saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from jobstore import messages
from jobstore.errors import InvalidInput
from jobstore.ids import check_job_id
from jobstore.layout import StoreLayout
from jobstore.options import check_prompt
from jobstore.record import JobRecord, parse_iso
from jobstore.sanitize import terminal_safe
from jobstore.states import JobStatus

DECISION_CHOICES = ("approve", "deny")
# How long a sender waits for the runner to handle its message (a steer waits for codex
# to accept it; an interrupt for the turn's commands to stop).
REPLY_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class TalkOutcome:
    """What a steer, interrupt or answer did: the job's record after it, whether its runner
    has handled it (False: sent, and it will be), and a sentence saying what happened."""

    record: JobRecord
    handled: bool
    message: str


Verb = Literal["steer", "interrupt", "answer"]


@dataclass(frozen=True)
class Question:
    """What a `waiting` job's codex asks (its record's `question`, raw as codex sent it:
    show it through `describe` or `terminal_safe`)."""

    id: int
    kind: str  # "command": run this command? "file_change": apply this patch?
    command: str | None
    cwd: str | None
    files: tuple[str, ...]
    reason: str | None
    asked_at: str | None

    @classmethod
    def of(cls, record: JobRecord) -> Question | None:
        """The job's open question; None unless it is waiting for an answer."""
        data: dict[str, Any] | None = record.question
        if record.status != JobStatus.WAITING or not data:
            return None

        def text(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        files = data.get("files")
        return cls(
            id=data["id"] if isinstance(data.get("id"), int) else 0,
            kind=text("kind") or "command",
            command=text("command"),
            cwd=text("cwd"),
            files=tuple(f for f in files if isinstance(f, str)) if isinstance(files, list) else (),
            reason=text("reason"),
            asked_at=text("asked_at"),
        )

    def waiting_seconds(self, now: datetime | None = None) -> float | None:
        """How long the question has waited for an answer."""
        asked = parse_iso(self.asked_at)
        if asked is None:
            return None
        return max(((now or datetime.now(UTC)) - asked).total_seconds(), 0.0)

    def describe(self) -> str:
        """One line for a person, terminal-safe: what codex wants to do, and why."""
        if self.kind == "command":
            what = f"run `{self.command or '?'}`" + (f" in {self.cwd}" if self.cwd else "")
        else:
            what = "change " + (", ".join(self.files) if self.files else "files")
        why = f" ({self.reason})" if self.reason else ""
        return terminal_safe(f"codex asks to {what}{why}: approve or deny")


def check_can_talk(record: JobRecord, verb: Verb) -> None:
    """Refuse (InvalidInput) what the job cannot take now; nothing is written."""
    job = f"job {record.job_id}"
    if record.status == JobStatus.QUEUED:
        raise InvalidInput(f"{job} has not started yet (queued): there is no turn to {verb}")
    if record.is_terminal:
        if verb == "answer":
            raise InvalidInput(f"{job} already ended ({record.status}): there is no question to answer")
        raise InvalidInput(
            f"{job} already ended ({record.status}): there is no turn to {verb}; "
            "continue its session with a new turn instead"
        )
    if record.codex_path != "app-server":
        raise InvalidInput(
            f"{job} runs as `codex exec`, which cannot be {'answered' if verb == 'answer' else verb + 'ed'}; "
            "only jobs run through codex's app-server can "
            "(`codex-async config --codex-path app-server`); cancel it instead"
        )
    if verb == "answer" and (record.status != JobStatus.WAITING or record.question is None):
        raise InvalidInput(f"already answered: {job} has no question waiting")


def check_decision(decision: object) -> str:
    if not isinstance(decision, str) or decision not in DECISION_CHOICES:
        raise InvalidInput(f"unknown decision {decision!r}; valid values: {', '.join(DECISION_CHOICES)}")
    return decision


def deliver(
    layout: StoreLayout,
    record: JobRecord,
    verb: Verb,
    *,
    text: str | None = None,
    decision: str | None = None,
    timeout: float = REPLY_TIMEOUT_SECONDS,
) -> messages.Reply | None:
    """Send the checked message and wait up to `timeout` for the runner's reply (None: none yet)."""
    check_job_id(record.job_id)
    question_id = record.question.get("id") if verb == "answer" and record.question else None
    sent = messages.send(
        layout,
        record.job_id,
        verb,
        text=text,
        decision=decision,
        question_id=question_id if isinstance(question_id, int) else None,
    )
    return messages.await_reply(layout, record.job_id, sent.number, timeout)


def check_steer_text(text: object) -> str:
    return check_prompt(text, name="message")
