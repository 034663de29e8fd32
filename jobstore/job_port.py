"""`JobPort`: what a running job may write, and nothing else: its record, its session id, its
slot, its end, and (once it has ended) starting the next queued job.

The job's runner writes through this port, never through the facade (`jobstore.store`),
which keeps only what the adapters use. Built over the same layers the facade is:
`Records`, `SessionIndex`, `Scheduler`.
"""

from __future__ import annotations

from pathlib import Path

from jobstore.ids import check_session_id
from jobstore.layout import StoreLayout
from jobstore.record import JobRecord
from jobstore.records import Records
from jobstore.scheduler import Scheduler
from jobstore.sessions import SessionIndex
from jobstore.settings import Settings
from jobstore.states import JobStatus


class JobPort:
    """One job's side of the store. `settings` left out come from the environment (a runner
    gets its store's cancel grace there from whoever started it)."""

    def __init__(self, root: Path, job_id: str, settings: Settings | None = None) -> None:
        settings = settings if settings is not None else Settings.from_env()
        self.job_id = job_id
        self.layout = StoreLayout(root.absolute())
        self.cancel_grace = settings.cancel_grace
        self.snapshot_max_file_bytes = settings.snapshot_max_file_bytes
        self.codex_home = settings.codex_home  # codex's own sessions: a review's tokens are there
        self._records = Records(self.layout)
        self._sessions = SessionIndex(self.layout)
        self._scheduler = Scheduler(
            self._records, self._sessions, max_jobs=settings.max_jobs, cancel_grace=settings.cancel_grace
        )

    def read(self) -> JobRecord:
        """The job's record as stored."""
        return self._records.read(self.job_id)

    def update(self, **fields: object) -> JobRecord:
        """Set fields of the job's record (never its status: see `transition`)."""
        return self._records.update(self.job_id, **fields)

    def transition(self, new: JobStatus, **fields: object) -> JobRecord | None:
        """Move the job to `new` if the state machine allows it; None if it had moved on."""
        return self._records.transition(self.job_id, new, **fields)

    def restore(self, record: JobRecord) -> bool:
        """Put back the job's record deleted or damaged under it; never overwrites a readable one."""
        return self._records.restore(record)

    def release_slot(self) -> None:
        self._records.release_slot(self.job_id)

    def index_session(self, session_id: str) -> None:
        """The job in the session index of `session_id` (its record gets the id from the caller)."""
        self._sessions.append(check_session_id(session_id), self.job_id)

    def schedule(self) -> list[str]:
        """Start queued jobs while the store has free slots (the job's end freed one)."""
        return self._scheduler.schedule()
