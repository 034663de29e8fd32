"""The job record kept in `jobs/<job_id>/meta.json`, and how it is read back."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from jobstore.ids import is_job_id, is_session_id
from jobstore.states import UNREADABLE, JobStatus, Unreadable

SCHEMA_VERSION = 1

JobKind = Literal["run", "review"]


def now_iso() -> str:
    """The current time in ISO 8601 with its time zone (UTC)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass
class JobRecord:
    """Everything the store knows about one job. `meta.json` is this, as JSON."""

    job_id: str
    status: JobStatus
    kind: JobKind
    prompt: str
    cwd: str
    approval_policy: str
    created_at: str
    schema_version: int = SCHEMA_VERSION
    sandbox: str | None = None
    model: str | None = None
    reasoning_effort: str | None = None
    # The codex session (thread) id: from `thread.started`, or the session this job continues.
    session_id: str | None = None
    resumes_session: str | None = None
    review: dict[str, str | bool] | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    error: str | None = None
    # `pid` is the job's runner (supervisor): the process that lives exactly as long as the
    # job, owns codex and records its end. SIGTERM to it cancels the job cleanly.
    pid: int | None = None
    pid_started_at: float | None = None
    codex_pid: int | None = None
    codex_pgid: int | None = None
    codex_started_at: float | None = None
    cancel_requested_at: str | None = None
    codex_version: str | None = None
    # Who started the job, when a client said (e.g. "claude-code 2.1.332 (MCP task)").
    client: str | None = None
    # A worktree job runs in a git worktree of its own (see `jobstore.job_worktree`); where it
    # is, its branch and the repository it belongs to are recorded before git makes them, so
    # that only what the job made is ever removed.
    worktree: bool = False
    worktree_repo: str | None = None
    worktree_path: str | None = None
    worktree_branch: str | None = None
    # The job that made the worktree: this one, or an earlier turn of its session.
    worktree_owner: str | None = None
    applied_at: str | None = None
    discarded_at: str | None = None
    # How codex runs: "app-server" (it can be steered, interrupted, asked) or "exec" (None:
    # a job of an older release, run as exec).
    codex_path: str | None = None
    # While the job is `waiting`: codex's question (read it as `jobstore.talk.Question`).
    question: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def to_dict(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict, which deep-copies every value: a record is
        # written several times in each job's life, and asdict was most of a write's CPU.
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        for name in _NESTED_FIELDS:
            if data[name]:
                data[name] = copy.deepcopy(data[name])
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> JobRecord:
        """A record from its JSON, every field checked with its type and range: a damaged or
        planted meta.json raises ValueError naming the field, never a half-valid record."""
        if not isinstance(data, dict):
            raise ValueError("meta.json does not hold a JSON object")
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            raise ValueError(f"meta.json lacks {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name, check in _FIELD_CHECKS.items():
            if name not in data:
                continue
            value = data[name]
            problem = check(value)
            if problem:
                shown = repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                raise ValueError(f"meta.json field {name} is {shown}: {problem}")
            values[name] = value
        values["status"] = JobStatus(values["status"])
        values.setdefault("approval_policy", "")
        return cls(**values)

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> JobRecord:
        if not raw.strip():
            raise ValueError("meta.json is empty")
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"meta.json is not valid JSON ({exc})") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class UnreadableJob:
    """A job folder whose record cannot be read; listed so that nothing disappears silently."""

    job_id: str
    reason: str
    status: Unreadable = UNREADABLE
    is_terminal: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": self.status, "error": self.reason}


JobEntry = JobRecord | UnreadableJob

# What each field of meta.json may hold. A check returns what is wrong, or "" when nothing is.
_MAX_TEXT = 1024 * 1024  # the prompt's own limit is half of this
_MAX_SHORT_TEXT = 4096
_MAX_PID = 2**31 - 1  # a pid_t


def _text(limit: int = _MAX_SHORT_TEXT, *, optional: bool = True) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value is None and optional:
            return ""
        if not isinstance(value, str):
            return "not text"
        return f"longer than {limit:,} characters" if len(value) > limit else ""

    return check


def _whole(low: int, high: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, int):
            return "not a whole number"
        return "" if low <= value <= high else f"not between {low} and {high}"

    return check


def _time_stamp(value: Any) -> str:
    """A process start time (seconds since the epoch)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "not a number"
    return "" if 0 <= value < 1e11 else "not a time"


def _iso(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 64 or parse_iso(value) is None:
        return "not a date and time (ISO 8601)"
    return ""


def _one_of(*choices: str) -> Callable[[Any], str]:
    return lambda value: "" if value in choices else f"not one of {', '.join(choices)}"


def _id(is_valid: Callable[[Any], bool], *, optional: bool = True) -> Callable[[Any], str]:
    return lambda value: "" if (value is None and optional) or is_valid(value) else "not a valid id"


def _review(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict) or len(value) > 16:
        return "not a review target"
    ok = all(
        isinstance(k, str) and isinstance(v, str | bool) and len(k) + len(str(v)) <= _MAX_TEXT
        for k, v in value.items()
    )
    return "" if ok else "not a review target"


def _question(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return "not a question"
    return "longer than allowed" if len(json.dumps(value)) > _MAX_TEXT else ""


def _extra(value: Any) -> str:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return "not an object"
    return "longer than allowed" if len(json.dumps(value)) > _MAX_SHORT_TEXT else ""


_FIELD_CHECKS: dict[str, Callable[[Any], str]] = {
    "job_id": _id(is_job_id, optional=False),
    "status": _one_of(*(status.value for status in JobStatus)),
    "kind": _one_of("run", "review"),
    "prompt": _text(_MAX_TEXT, optional=False),
    "cwd": _text(optional=False),
    "approval_policy": _text(64, optional=False),
    "created_at": lambda value: "not a date and time (ISO 8601)" if value is None else _iso(value),
    "schema_version": lambda value: (
        "" if value == SCHEMA_VERSION and type(value) is int else f"not {SCHEMA_VERSION}"
    ),
    "sandbox": _text(64),
    "model": _text(256),
    "reasoning_effort": _text(64),
    "session_id": _id(is_session_id),
    "resumes_session": _id(is_session_id),
    "review": _review,
    "started_at": _iso,
    "finished_at": _iso,
    "exit_code": _whole(-255, 255),
    "error": _text(_MAX_TEXT),
    "pid": _whole(1, _MAX_PID),
    "pid_started_at": _time_stamp,
    "codex_pid": _whole(1, _MAX_PID),
    "codex_pgid": _whole(1, _MAX_PID),
    "codex_started_at": _time_stamp,
    "cancel_requested_at": _iso,
    "codex_version": _text(256),
    "client": _text(256),
    "worktree": lambda value: "" if isinstance(value, bool) else "not true or false",
    "worktree_repo": _text(),
    "worktree_path": _text(),
    "worktree_branch": _text(256),
    "worktree_owner": _id(is_job_id),
    "applied_at": _iso,
    "discarded_at": _iso,
    "codex_path": lambda value: "" if value in (None, "app-server", "exec") else "not app-server or exec",
    "question": _question,
    "extra": _extra,
}
_REQUIRED = ("job_id", "status", "kind", "prompt", "cwd", "created_at")

_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(JobRecord))
# The fields holding containers: copied, so that a change to the record never changes a dict
# made from it (read-modify-write compares the two).
_NESTED_FIELDS = ("review", "question", "extra")
