"""A job's life in its runner as an ordered list of steps, and the walk through them.

Each step may end the life early with an `Outcome` (codex could not start; a cancel);
the step that follows codex ends it with the outcome codex's exit and events deserve.
The walk decides the outcome before any cleanup: then it cleans up after every step that
ran, last first, and no cleanup can change the outcome. Recording it is the runner's.
A cancel requested before a `cancellable` step (every step before codex starts) ends the
life there: codex never starts for a job cancelled before it did.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jobstore.errors import UnreadableRecord
from jobstore.events import Summary
from jobstore.job_port import JobPort
from jobstore.processes import (
    JOB_MARKER_ENV,
    MARKER_FIELD,
    is_same_process,
    job_marker,
    marker_secret_of,
    new_marker_secret,
    start_time_of,
)
from jobstore.record import JobRecord, now_iso
from jobstore.states import JobStatus, can_transition

CANCELLED_BEFORE_CODEX = "cancelled before codex started"


@dataclass(frozen=True)
class Outcome:
    """How a job ended: its status, codex's exit code (None: codex never ran) and why."""

    status: JobStatus
    exit_code: int | None
    error: str | None


def codex_outcome(
    returncode: int, summary: Summary, *, cancel_requested: bool, last_raw_line: str | None
) -> Outcome:
    """What codex's exit means. Only a clean exit after a finished turn is `done`."""
    if returncode == 0 and summary.turn_completed and not summary.turn_failed:
        return Outcome(JobStatus.DONE, returncode, None)
    if cancel_requested:
        return Outcome(JobStatus.CANCELLED, returncode, "cancelled on request")
    detail = summary.last_error or last_raw_line
    if returncode < 0:
        name = _signal_name(-returncode)
        why = f"codex was killed by {name}" + (f"; last error: {detail}" if detail else "")
    elif returncode == 0:
        why = "codex exited 0 without finishing its turn" + (f": {detail}" if detail else "")
    else:
        why = f"codex exited with code {returncode}" + (f": {detail}" if detail else "")
    return Outcome(JobStatus.ERROR, returncode, why)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class CancelRequest:
    """Whether the job was asked to stop: its cancel marker in the store, or a signal to its
    runner. The signal handler only sets a plain flag: a lock taken there could deadlock
    against the same lock held by the code the signal interrupted."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.signalled = False

    def on_signal(self, signum: int, frame: object) -> None:
        self.signalled = True

    def requested(self) -> bool:
        if not self.signalled and self.marker.exists():
            self.signalled = True
        return self.signalled


class JobLife:
    """What the steps of one job's life share: the job's port, its record as last written,
    where codex runs, its process marker, its cancel request."""

    def __init__(self, port: JobPort, record: JobRecord, cancel: CancelRequest) -> None:
        self.port = port
        self.job_id = port.job_id
        self.layout = port.layout
        self.record = record
        self.cwd = record.cwd  # where codex runs: a step preparing the folder may move it
        self.cancel = cancel
        # Every process of the job carries it (see `jobstore.processes`).
        # Chosen by the starter with our pid (`scheduler.with_new_marker`); a new one for a
        # record that has none (a job admitted by an earlier release).
        self.marker_secret = marker_secret_of(record) or new_marker_secret()
        self.outcome: Outcome | None = None  # decided once, before any cleanup
        self.deferred: dict[str, object] = {}  # fields for the record's next write (see `defer`)

    @property
    def marker_env(self) -> dict[str, str]:
        """The job's marker, in the environment of every process the job starts."""
        return {JOB_MARKER_ENV: job_marker(self.job_id, self.marker_secret)}

    def record_identity(self) -> None:
        """Record the runner's start time and the job's marker before any process of the job
        exists (git's for the snapshot, codex), so every one of them is provably the job's from
        its first moment and found by the job's cleanup even if the runner is killed. From
        here on a cancel also signals the runner. The starter recorded them with our pid:
        then there is nothing to write."""
        if is_same_process(os.getpid(), self.record.pid_started_at) and (
            marker_secret_of(self.record) == self.marker_secret
        ):
            return
        self.write(
            None,
            pid_started_at=start_time_of(os.getpid()),
            extra={**self.record.extra, MARKER_FIELD: self.marker_secret},
        )

    def defer(self, **fields: object) -> None:
        """Fields the record gets with its next write (its end, at the latest; the follow
        step writes them when its summary is due): a write fewer per job where a moment's
        delay misleads no reader."""
        self.deferred.update(fields)

    def write_deferred(self) -> None:
        """Write the deferred fields now, if any wait."""
        if self.deferred:
            self.write(None)

    def write(self, status: JobStatus | None, **fields: object) -> None:
        """Write to the job's record (with the deferred fields); if someone deleted or damaged
        it meanwhile, put back what this life knows, so the job's end is never lost."""
        fields = {**self.deferred, **fields}
        try:
            if status is None:
                self.record = self.port.update(**fields)
            else:
                moved = self.port.transition(status, **fields)
                if moved is None and self.deferred:
                    # The job ended elsewhere first (that end stands): what waited still lands.
                    moved = self.port.update(**self.deferred)
                self.record = moved or self.record
            self.deferred = {}
            return
        except UnreadableRecord as exc:
            log(f"job record damaged ({exc}); restoring it")
        for name, value in fields.items():
            setattr(self.record, name, value)
        if status is not None and can_transition(self.record.status, status):
            self.record.status = status
            self.record.finished_at = self.record.finished_at or now_iso()
        self.port.restore(self.record)
        self.deferred = {}
        if status is not None and status.is_terminal:
            self.port.release_slot()


class Step(Protocol):
    """One step of a job's life."""

    # Whether a cancel requested before this step ends the life there, the step not run:
    # true of every step before codex starts (following codex stops it on a cancel).
    cancellable: bool

    def run(self, life: JobLife) -> Outcome | None:
        """Do the step; an outcome ends the life here."""
        ...

    def clean_up(self, life: JobLife) -> None:
        """Undo or finish what `run` left, after the outcome is decided (never changing it)."""
        ...


def walk(life: JobLife, steps: Sequence[Step]) -> Outcome:
    """Walk the steps in order until one ends the life; then clean up after every step that
    ran, last first (also when a step raised). Returns the outcome, also kept in `life`."""
    ran: list[Step] = []
    try:
        for step in steps:
            if step.cancellable and life.cancel.requested():
                life.outcome = Outcome(JobStatus.CANCELLED, None, CANCELLED_BEFORE_CODEX)
                break
            ran.append(step)
            life.outcome = step.run(life)
            if life.outcome is not None:
                break
        if life.outcome is None:
            life.outcome = Outcome(JobStatus.ERROR, None, "the job's steps ended without an outcome")
        return life.outcome
    finally:
        for step in reversed(ran):
            try:
                step.clean_up(life)
            except Exception as exc:
                log(f"cleanup after {type(step).__name__} failed: {exc!r}")


def log(message: str) -> None:
    """The runner's log (its stderr is the job's runner.log)."""
    print(f"runner: {message}", file=sys.stderr)
