"""The one error policy for the UI's worker threads.

A worker turns what the store refuses (JobStoreError, OSError) into its result when that
result has a place to show it: a form's error line, a cancel's answer, a line in the
output pane. Anything else it leaves uncaught. Textual then marks the worker failed
(`exit_on_error=False`: the app keeps running) and tells only the widget or screen that
ran it; that owner reports it through `failed_worker` (once, as `Could not <the worker's
name>: <why>`) and releases whatever the worker held (a read in progress), so the next
change reads again.
"""

from __future__ import annotations

from enum import StrEnum

from textual.widget import Widget
from textual.worker import Worker, WorkerState

from jobstore import JobStoreError


class Task(StrEnum):
    """A kind of work, used as the worker's group."""

    LOAD = "load"
    REFRESH = "refresh"
    RESCAN = "rescan"
    RECONCILE = "reconcile"
    SESSIONS = "sessions"
    SESSION = "session"
    CANCEL = "cancel"
    WORKTREE = "worktree"
    TALK = "talk"
    START = "start"
    FINAL = "final"
    OUTPUT = "output"
    WATCH = "watcher"
    TEAM = "team"  # the team view's reader of the state stream and listings
    TEAM_OUTPUT = "team output"
    TEAM_CANCEL = "team cancel"


def failure_text(what: str, error: BaseException | None) -> str:
    """How a failed worker is reported: the store's own words for its errors, the
    exception's repr for anything unexpected."""
    if error is None:
        reason = "it stopped"
    elif isinstance(error, JobStoreError | OSError):
        reason = str(error)
    else:
        reason = repr(error)
    return f"Could not {what}: {reason}"


def failed_worker(owner: Widget, event: Worker.StateChanged) -> Worker[object] | None:
    """The worker of `event` if it failed, reported in a toast; None for any other change."""
    if event.state != WorkerState.ERROR:
        return None
    worker = event.worker
    owner.notify(failure_text(worker.name, worker.error), severity="error", timeout=8)
    return worker
