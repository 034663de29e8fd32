"""Messages: the only way worker threads and the watcher talk to the UI."""

from __future__ import annotations

from textual.message import Message

from jobstore import SessionInfo
from tui.jobs import JobRow
from tui.watcher import StoreChanges


class StoreChanged(Message):
    """The watcher saw files change (or a rescan is due)."""

    def __init__(self, changes: StoreChanges) -> None:
        super().__init__()
        self.changes = changes


class JobsRead(Message):
    """Rows read from the store, and jobs found gone (job_id, read_at)."""

    def __init__(
        self,
        rows: list[JobRow],
        gone: list[tuple[str, float]],
        *,
        source: str,
        total: int | None = None,
        complete: bool = True,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.rows = rows
        self.gone = gone
        self.source = source  # "load", "refresh" or "rescan"
        self.total = total
        self.complete = complete
        self.error = error


class SessionsRead(Message):
    def __init__(self, sessions: list[SessionInfo], error: str | None = None) -> None:
        super().__init__()
        self.sessions = sessions
        self.error = error


class CancelFinished(Message):
    """`store.cancel` returned: `ok` if the cancel took, `ended` if the job has ended."""

    def __init__(self, job_id: str, message: str, *, ok: bool, ended: bool) -> None:
        super().__init__()
        self.job_id = job_id
        self.message = message
        self.ok = ok
        self.ended = ended


class OpenJob(Message):
    """Show this job in the jobs view (from the sessions view or a form)."""

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id


class ContinueSession(Message):
    """Start a new turn of this session."""

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id


class CancelJob(Message):
    """The Cancel button was pressed for this job."""

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id


class SessionFetched(Message):
    """A session read for the continue form (or why it could not be)."""

    def __init__(self, session: SessionInfo | None, error: str | None) -> None:
        super().__init__()
        self.session = session
        self.error = error
