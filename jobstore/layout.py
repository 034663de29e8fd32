"""Where each piece of the store lives on disk, and what a path in it is. The one place for paths.

<root>/
  jobs/<job_id>/meta.json        the job record (atomic replace)
  jobs/<job_id>/output.txt       everything codex printed, appended as it comes
  jobs/<job_id>/command.json     the argv the runner executes
  jobs/<job_id>/prompt.txt       the prompt, when too large for argv (fed on stdin)
  jobs/<job_id>/last_message.txt codex's final message (--output-last-message)
  jobs/<job_id>/summary.json     the runner's running summary of the event stream
  jobs/<job_id>/runner.log       the runner's own diagnostics
  jobs/<job_id>/worktree.json    the git working tree at the job's start and end (worktree_diff.py)
  jobs/<job_id>/worktree.diff    what the working tree gained from the start to the end
  jobs/<job_id>/snapshot/        the snapshots' own git folder, index and objects, while the job runs
  jobs/<job_id>/cancel           present once a cancel was asked for
  jobs/<job_id>/messages/        steer, interrupt, answer: one file a message, in order (messages.py)
  jobs/<job_id>/lock             flock of a job's record by earlier versions (now: the job's folder)
  jobs/.new-<job_id>/            a job being assembled; renamed into place with its record
  queue/<job_id>                 a job waiting for a slot (FIFO by id)
  running/<job_id>               a job holding one of the store's slots
  marker                         the one empty file every queue and slot marker is a hard link of
  sessions/<session_id>          job ids of a codex session's turns, one a line
  settings.json                  the store's settings (the job limit), obeyed by every process
  jobs.index                     every job's id, one a line, in creation order (job_index.py)
  scheduler.lock                 flock around slot accounting
  sessions.lock                  flock around checking and starting a session's turn
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from jobstore.ids import check_job_id, check_session_id, is_job_id, is_session_id

STAGING_PREFIX = ".new-"  # never a job id, so never listed


class FileKind(StrEnum):
    """What a path in the store is, for those that watch the store's files."""

    JOB_DIR = "job_dir"
    META = "meta"
    OUTPUT = "output"
    SUMMARY = "summary"
    LAST_MESSAGE = "last_message"
    RUNNER_LOG = "runner_log"
    COMMAND = "command"
    PROMPT = "prompt"
    CANCEL_MARKER = "cancel_marker"
    WORKTREE = "worktree"
    WORKTREE_DIFF = "worktree_diff"
    SNAPSHOT = "snapshot"
    QUEUED_MARKER = "queued_marker"
    RUNNING_MARKER = "running_marker"
    SESSION_INDEX = "session_index"
    OTHER = "other"  # the root, its folders, locks, temporary files


@dataclass(frozen=True)
class StoreFile:
    """A classified path: its kind and the job or session it belongs to, if any."""

    kind: FileKind
    job_id: str | None = None
    session_id: str | None = None


# The files of a job folder, by name.
_JOB_FILES = {
    "meta.json": FileKind.META,
    "output.txt": FileKind.OUTPUT,
    "summary.json": FileKind.SUMMARY,
    "last_message.txt": FileKind.LAST_MESSAGE,
    "runner.log": FileKind.RUNNER_LOG,
    "command.json": FileKind.COMMAND,
    "prompt.txt": FileKind.PROMPT,
    "cancel": FileKind.CANCEL_MARKER,
    "worktree.json": FileKind.WORKTREE,
    "worktree.diff": FileKind.WORKTREE_DIFF,
    "snapshot": FileKind.SNAPSHOT,
}
_FILE_NAMES = {kind: name for name, kind in _JOB_FILES.items()}
_MARKER_DIRS = {"queue": FileKind.QUEUED_MARKER, "running": FileKind.RUNNING_MARKER}


@dataclass(frozen=True)
class StoreLayout:
    """Every path of the store. Its folders are computed once (cached on the instance): with
    10,000 jobs, building them again for each file read was a tenth of reading a row."""

    root: Path

    @functools.cached_property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @functools.cached_property
    def queue_dir(self) -> Path:
        return self.root / "queue"

    @functools.cached_property
    def running_dir(self) -> Path:
        return self.root / "running"

    @functools.cached_property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @functools.cached_property
    def worktrees_dir(self) -> Path:
        """Where worktree jobs' git worktrees live (made on first use: most stores have none)."""
        return self.root / "worktrees"

    def worktree_dir(self, job_id: str) -> Path:
        return self.worktrees_dir / check_job_id(job_id)

    def worktree_git_dir(self, job_id: str) -> Path:
        """The private git folder of the worktree `job_id` made: its start, the ends of the
        session's turns in it, and the applies live there; it goes when the worktree does."""
        return self.worktrees_dir / f"{check_job_id(job_id)}.git"

    @functools.cached_property
    def applied_patches_dir(self) -> Path:
        """Where changes published by other machines (a team's worktree jobs) are applied from:
        one private git folder per change while it is applied, and a mark once it was."""
        return self.root / "applied-patches"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    @property
    def job_index(self) -> Path:
        return self.root / "jobs.index"

    @property
    def marker_source(self) -> Path:
        return self.root / "marker"

    @property
    def scheduler_lock(self) -> Path:
        return self.root / "scheduler.lock"

    @property
    def session_lock(self) -> Path:
        return self.root / "sessions.lock"

    @functools.cached_property
    def folders(self) -> tuple[Path, ...]:
        """The store's own folders, the root first."""
        return (self.root, self.jobs_dir, self.queue_dir, self.running_dir, self.sessions_dir)

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / check_job_id(job_id)

    def staging_dir(self, job_id: str) -> Path:
        return self.jobs_dir / f"{STAGING_PREFIX}{check_job_id(job_id)}"

    def job_file(self, job_dir: Path, kind: FileKind) -> Path:
        """The file of `kind` inside a job folder (also a staging one)."""
        return job_dir / _FILE_NAMES[kind]

    def meta(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.META)

    def output(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.OUTPUT)

    def command(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.COMMAND)

    def prompt_file(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.PROMPT)

    def last_message(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.LAST_MESSAGE)

    def summary(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.SUMMARY)

    def runner_log(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.RUNNER_LOG)

    def cancel_marker(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.CANCEL_MARKER)

    def messages_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "messages"

    def snapshot_dir(self, job_id: str) -> Path:
        return self.job_file(self.job_dir(job_id), FileKind.SNAPSHOT)

    def job_lock(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "lock"

    def queued_marker(self, job_id: str) -> Path:
        return self.queue_dir / check_job_id(job_id)

    def running_marker(self, job_id: str) -> Path:
        return self.running_dir / check_job_id(job_id)

    def session_index(self, session_id: str) -> Path:
        return self.sessions_dir / check_session_id(session_id)

    def classify(self, path: Path | str) -> StoreFile | None:
        """What `path` is in this store (by name only: nothing is read), or None when it is
        not inside the store."""
        try:
            parts = Path(path).relative_to(self.root).parts
        except ValueError:
            return None
        if len(parts) < 2:
            return StoreFile(FileKind.OTHER)
        top, name = parts[0], parts[1]
        if top == "jobs" and is_job_id(name):
            if len(parts) == 2:
                return StoreFile(FileKind.JOB_DIR, job_id=name)
            kind = _JOB_FILES.get(parts[2], FileKind.OTHER) if len(parts) == 3 else FileKind.OTHER
            return StoreFile(kind, job_id=name)
        if top in _MARKER_DIRS and len(parts) == 2 and is_job_id(name):
            return StoreFile(_MARKER_DIRS[top], job_id=name)
        if top == "sessions" and len(parts) == 2 and is_session_id(name):
            return StoreFile(FileKind.SESSION_INDEX, session_id=name)
        return StoreFile(FileKind.OTHER)
