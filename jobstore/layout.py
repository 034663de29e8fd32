"""Where each piece of the store lives on disk. One place, so nobody builds paths by hand.

<root>/
  jobs/<job_id>/meta.json        the job record (atomic replace)
  jobs/<job_id>/output.txt       everything codex printed, appended as it comes
  jobs/<job_id>/command.json     the argv the runner executes
  jobs/<job_id>/prompt.txt       the prompt, when too large for argv (fed on stdin)
  jobs/<job_id>/last_message.txt codex's final message (--output-last-message)
  jobs/<job_id>/summary.json     the runner's running summary of the event stream
  jobs/<job_id>/runner.log       the runner's own diagnostics
  jobs/<job_id>/cancel           present once a cancel was asked for
  jobs/<job_id>/lock             flock for read-modify-write of meta.json
  queue/<job_id>                 a job waiting for a slot (FIFO by id)
  running/<job_id>               a job holding one of the store's slots
  sessions/<session_id>          job ids of a codex session's turns, one a line
  scheduler.lock                 flock around slot accounting
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobstore.ids import check_job_id, check_session_id


@dataclass(frozen=True)
class StoreLayout:
    root: Path

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def queue_dir(self) -> Path:
        return self.root / "queue"

    @property
    def running_dir(self) -> Path:
        return self.root / "running"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def scheduler_lock(self) -> Path:
        return self.root / "scheduler.lock"

    @property
    def session_lock(self) -> Path:
        return self.root / "sessions.lock"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / check_job_id(job_id)

    def meta(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "meta.json"

    def output(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "output.txt"

    def command(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "command.json"

    def prompt_file(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "prompt.txt"

    def last_message(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "last_message.txt"

    def summary(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "summary.json"

    def runner_log(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "runner.log"

    def cancel_marker(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "cancel"

    def job_lock(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "lock"

    def queued_marker(self, job_id: str) -> Path:
        return self.queue_dir / check_job_id(job_id)

    def running_marker(self, job_id: str) -> Path:
        return self.running_dir / check_job_id(job_id)

    def session_index(self, session_id: str) -> Path:
        return self.sessions_dir / check_session_id(session_id)
