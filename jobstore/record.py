"""The job record kept in `jobs/<job_id>/meta.json`, and how it is read back."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> JobRecord:
        if not isinstance(data, dict):
            raise ValueError("meta.json does not hold a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        missing = [
            name for name in ("job_id", "status", "kind", "prompt", "cwd", "created_at") if name not in data
        ]
        if missing:
            raise ValueError(f"meta.json lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["status"] = JobStatus(values["status"])
        except ValueError:
            raise ValueError(f"meta.json has an unknown status {data['status']!r}") from None
        values.setdefault("approval_policy", "")
        record = cls(**values)
        for name in ("job_id", "prompt", "cwd", "created_at"):
            if not isinstance(getattr(record, name), str):
                raise ValueError(f"meta.json field {name} is not text")
        return record

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
