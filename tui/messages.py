"""Messages: how worker threads, the watcher and widgets tell the jobs screen what happened.

One class per kind of result, so a handler never asks where a result came from. A
worker that fails posts none of these: see `tui.workers` for what happens then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from jobstore import SessionInfo
from tui.jobs import JobRow
from tui.watcher import StoreChanges

if TYPE_CHECKING:  # the team's modules load redis: only when the team view opens
    from team import TeamJob
    from tui.output_source import OutputChunk

# ------------------------------------------------------------------ from the watcher


@dataclass
class StoreChanged(Message):
    """The watcher saw files change (or a rescan is due)."""

    changes: StoreChanges


# ------------------------------------------------------------------ results of workers


@dataclass
class RowsRead(Message):
    """Rows read from the store, and jobs found gone (job_id, when the read began)."""

    rows: list[JobRow]
    gone: list[tuple[str, float]]


@dataclass
class PageLoaded(RowsRead):
    """A page of the first load, newest jobs first; `complete` on the last one."""

    total: int = 0
    complete: bool = True


@dataclass
class RowsRefreshed(RowsRead):
    """Jobs read again because their files changed."""


@dataclass
class Rescanned(RowsRead):
    """The store's listing compared with what is shown."""


@dataclass
class Reconciled(Message):
    """`store.reconcile()` returned: lost jobs are recorded and queued work started.
    `full`: compare every job with the store next, not only the listing."""

    full: bool = True


@dataclass
class SessionsRead(Message):
    sessions: list[SessionInfo]


@dataclass
class SessionFetched(Message):
    """A session read for the continue form."""

    session: SessionInfo


@dataclass
class CancelFinished(Message):
    """`store.cancel` answered: `ok` if the cancel took, `ended` if the job has ended."""

    job_id: str
    message: str
    ok: bool
    ended: bool


@dataclass
class WorktreeDone(Message):
    """`store.apply` or `store.discard` answered (`ok`: it did what was asked)."""

    job_id: str
    message: str
    ok: bool


@dataclass
class TalkFinished(Message):
    """A steer, interrupt or answer returned: `message` says what happened (or why not)."""

    job_id: str
    message: str
    ok: bool


# ------------------------------------------------------------------ requests from widgets


@dataclass
class WorktreeAsked(Message):
    """Apply ("apply") or discard ("discard") a worktree job's change (a button was pressed)."""

    job_id: str
    verb: str


@dataclass
class OpenJob(Message):
    """Show this job in the jobs view (from the sessions view or a form)."""

    job_id: str


@dataclass
class ContinueSession(Message):
    """Start a new turn of this session."""

    session_id: str


@dataclass
class CancelJob(Message):
    """The Cancel button was pressed for this job."""

    job_id: str


@dataclass
class TalkToJob(Message):
    """A button to talk to this job was pressed: "message" (open the message line),
    "interrupt", "approve" or "deny"."""

    job_id: str
    what: str


# ------------------------------------------------------------------ the team view's workers


@dataclass
class TeamJobsRead(Message):
    """The team's newest jobs, newest first, as Redis has them now."""

    jobs: list[TeamJob]


@dataclass
class TeamUnreachable(Message):
    """The team's Redis did not answer (`cause`: what the connection said); the reader tries
    again in `retry_seconds`. What is shown stays, said to be as last read."""

    cause: str
    retry_seconds: float


@dataclass
class TeamOutputRead(Message):
    """Lines of the shown team job's output (`generation`: which showing asked); `job`: the
    job as read with them (None: not read again); `problem`: why a read failed (tried again)."""

    generation: int
    chunk: OutputChunk | None
    job: TeamJob | None = None
    problem: str | None = None


@dataclass
class TeamCancelFinished(Message):
    """`TeamClient.cancel` answered: the job as it is now (None: the call failed), what happens."""

    team_job_id: str
    job: TeamJob | None
    message: str
    ok: bool
