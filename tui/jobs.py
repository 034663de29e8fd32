"""What the UI knows about a job, read from the store off the UI thread, and the filter.

No Textual here: these functions run in worker threads and their results travel
to the UI in messages. Status names come from jobstore's `JobStatus` and `UNREADABLE`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jobstore import (
    UNREADABLE,
    JobNotFound,
    JobRecord,
    JobStatus,
    JobStore,
    JobStoreError,
    Question,
    UnreadableJob,
    is_job_id,
    job_created_at,
    parse_iso,
    total_tokens,
)

_BY_NAME = {status.value: status for status in JobStatus}
# The status bar's order: what needs a person, what runs, what waits, how jobs ended, then
# records that cannot be read.
STATUSES: tuple[str, ...] = (
    *sorted(
        (s for s in JobStatus if s.is_active), key=lambda s: (s != JobStatus.WAITING, s != JobStatus.RUNNING)
    ),
    *(s for s in JobStatus if s.is_terminal),
    UNREADABLE,
)
# Statuses the status bar shows only while some job has them (rare, and one needs a person:
# it stands out by appearing), so the usual line keeps its room.
SHOWN_WHEN_ANY = frozenset({JobStatus.WAITING.value, JobStatus.INTERRUPTED.value})


def is_active_status(status: str) -> bool:
    known = _BY_NAME.get(status)
    return known is not None and known.is_active


def is_terminal_status(status: str) -> bool:
    known = _BY_NAME.get(status)
    return known is not None and known.is_terminal


# The job folder's (mtime_ns, inode) when it was read. Records are replaced by a rename in
# their folder, which changes the folder's mtime: a different stamp, a record to read again.
Stamp = tuple[int, int]


@dataclass(frozen=True)
class JobRow:
    """One job as the UI shows it."""

    job_id: str
    status: str  # a JobStatus, or UNREADABLE
    prompt: str = ""
    cwd: str = ""
    kind: str = "run"
    session_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tokens: int | None = None
    error: str | None = None
    exit_code: int | None = None
    approval_policy: str = ""
    model: str | None = None
    cancel_requested: bool = False
    client: str | None = None  # who started the job, when it said (e.g. "claude-code 2.1.329 (MCP task)")
    # A worktree job's: "worktree", "applied" or "discarded"; None for a job without one.
    worktree: str | None = None
    turn_completed: bool = False  # codex's output says its turn completed
    codex_path: str | None = None  # "app-server": a person can steer it, interrupt it, answer it
    question: Question | None = None  # what a `waiting` job asks
    stamp: Stamp | None = None
    # time.monotonic() when the read began: a later read always wins.
    read_at: float = 0.0

    @property
    def is_active(self) -> bool:
        return is_active_status(self.status)

    @property
    def is_terminal(self) -> bool:
        return is_terminal_status(self.status)

    @property
    def is_running(self) -> bool:
        return self.status == JobStatus.RUNNING

    @property
    def is_waiting(self) -> bool:
        return self.status == JobStatus.WAITING

    @property
    def can_talk(self) -> bool:
        """A person can steer or interrupt it now (its runner drives codex's app-server)."""
        return self.codex_path == "app-server" and self.status in (JobStatus.RUNNING, JobStatus.WAITING)

    @property
    def is_unreadable(self) -> bool:
        return self.status == UNREADABLE

    @property
    def first_line(self) -> str:
        for line in self.prompt.splitlines():
            if line.strip():
                return line.strip()
        return ""

    @property
    def project(self) -> str:
        return short_project(self.cwd)

    def search_text(self) -> str:
        return " ".join(
            part
            for part in (
                self.job_id,
                self.status,
                self.cwd,
                self.prompt,
                self.session_id or "",
                self.error or "",
            )
            if part
        ).lower()


_HOME = os.path.expanduser("~")


def short_project(cwd: str) -> str:
    if not cwd:
        return ""
    path = cwd.rstrip(os.sep) or os.sep
    if path == _HOME:
        return "~"
    return os.path.basename(path) or path


def job_folders(store: JobStore, job_ids: list[str]) -> list[Path]:
    """The folders of `job_ids`, in that order (the store's watch paths end with them)."""
    if not job_ids:
        return []
    return store.watch_paths(job_ids)[-len(job_ids) :]


def folder_stamp(folder: Path) -> Stamp | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino)


def worktree_state(record: JobRecord) -> str | None:
    """How the job's worktree stands, as the UI words it; None: the job has none."""
    if not record.worktree:
        return None
    if record.discarded_at is not None:
        return "worktree discarded"
    return "worktree applied" if record.applied_at is not None else "worktree"


def row_from_record(
    record: JobRecord,
    *,
    tokens: int | None,
    stamp: Stamp | None,
    read_at: float,
    turn_completed: bool = False,
) -> JobRow:
    return JobRow(
        job_id=record.job_id,
        status=record.status,
        prompt=record.prompt,
        cwd=record.cwd,
        kind=record.kind,
        session_id=record.session_id,
        created_at=parse_iso(record.created_at),
        started_at=parse_iso(record.started_at),
        finished_at=parse_iso(record.finished_at),
        tokens=tokens,
        error=record.error,
        exit_code=record.exit_code,
        approval_policy=record.approval_policy,
        model=record.model,
        cancel_requested=record.cancel_requested_at is not None,
        client=record.client,
        worktree=worktree_state(record),
        turn_completed=turn_completed,
        codex_path=record.codex_path,
        question=Question.of(record),
        stamp=stamp,
        read_at=read_at,
    )


def unreadable_row(job_id: str, reason: str, *, stamp: Stamp | None, read_at: float) -> JobRow:
    return JobRow(
        job_id=job_id,
        status=UNREADABLE,
        error=reason,
        created_at=job_created_at(job_id),
        stamp=stamp,
        read_at=read_at,
    )


def read_row(store: JobStore, job_id: str, folder: Path) -> JobRow | None:
    """The job as the UI shows it, or None when it is no longer in the store. Never raises."""
    read_at = time.monotonic()
    stamp = folder_stamp(folder)
    try:
        entry = store.entry(job_id)
    except JobNotFound:
        return None
    except JobStoreError as exc:
        return unreadable_row(job_id, str(exc), stamp=stamp, read_at=read_at)
    except Exception as exc:  # a worker must not die on one odd job
        return unreadable_row(job_id, f"cannot read this job: {exc!r}", stamp=stamp, read_at=read_at)
    if isinstance(entry, UnreadableJob):
        return unreadable_row(job_id, entry.reason, stamp=stamp, read_at=read_at)
    tokens: int | None = None
    turn_completed = False
    if entry.status != JobStatus.QUEUED:
        with contextlib.suppress(JobStoreError, OSError, ValueError, TypeError):
            summary = store.summary(job_id)
            tokens = total_tokens(summary.usage)
            turn_completed = summary.turn_completed
    return row_from_record(entry, tokens=tokens, stamp=stamp, read_at=read_at, turn_completed=turn_completed)


def read_rows(store: JobStore, job_ids: Iterable[str]) -> tuple[list[JobRow], list[tuple[str, float]]]:
    """Rows for `job_ids`, and (job_id, read_at) for those that are gone."""
    rows: list[JobRow] = []
    gone: list[tuple[str, float]] = []
    ids = [job_id for job_id in job_ids if is_job_id(job_id)]
    for job_id, folder in zip(ids, job_folders(store, ids), strict=True):
        started = time.monotonic()
        row = read_row(store, job_id, folder)
        if row is None:
            gone.append((job_id, started))
        else:
            rows.append(row)
    return rows, gone


def rescan(
    store: JobStore,
    known: set[str],
    recheck: set[str],
    stamps: Mapping[str, Stamp | None] | None = None,
) -> tuple[list[str], list[str]]:
    """Which jobs to read again and which are gone, from a listing of the store.

    New jobs and those in `recheck` (active and unreadable ones: a running job's
    processes may be gone without any file changing; it then reads `lost`) are read
    again. Finished records do not change, so the others are compared only when
    `stamps` is given (a full rescan): one stat per job folder.
    """
    ids = store.job_ids()
    folders = job_folders(store, ids) if stamps is not None else []
    to_read = [
        job_id
        for index, job_id in enumerate(ids)
        if job_id not in known
        or job_id in recheck
        or (stamps is not None and stamps.get(job_id) != folder_stamp(folders[index]))
    ]
    present = set(ids)
    gone = [job_id for job_id in known if job_id not in present]
    return to_read, gone


def count_statuses(rows: Iterable[JobRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


@dataclass(frozen=True)
class JobFilter:
    """What `/` typed: words that must all match.

    A status name (`running`, `error`...) or `status:NAME` keeps jobs in that status
    (a prefix is enough: `status:err`); `project:NAME` (or `p:`) keeps jobs whose folder
    contains NAME; any other word must appear in the job's id, prompt, folder, session or error.
    """

    text: str = ""
    statuses: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> JobFilter:
        statuses: list[str] = []
        projects: list[str] = []
        words: list[str] = []
        for token in text.lower().split():
            name, sep, value = token.partition(":")
            if sep and name in ("status", "s", "is") and value:
                statuses.append(value)
            elif sep and name in ("project", "p", "cwd") and value:
                projects.append(value)
            elif token in STATUSES:
                statuses.append(token)
            else:
                words.append(token)
        return cls(text.strip(), tuple(statuses), tuple(projects), tuple(words))

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.projects or self.words)

    def matches(self, row: JobRow) -> bool:
        if self.statuses and not any(row.status.startswith(s) for s in self.statuses):
            return False
        cwd = row.cwd.lower()
        if any(p not in cwd for p in self.projects):
            return False
        if self.words:
            haystack = row.search_text()
            return all(w in haystack for w in self.words)
        return True
