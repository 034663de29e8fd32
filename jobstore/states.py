"""A job's life as an explicit state machine.

    queued -> running -> done | error | cancelled | lost
    queued -> cancelled | error          (cancelled while waiting, or could not start)

`done` means codex exited 0 *and* finished its turn; anything else that ends is
`error`, `cancelled` (a cancel was asked for) or `lost` (the job's processes are
gone and no end was recorded). Terminal states never change again.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.LOST})
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.ERROR}),
    JobStatus.RUNNING: frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.LOST}),
}


class InvalidTransition(Exception):
    """A writer tried to move a job along an edge the state machine does not have."""


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in _ALLOWED.get(current, frozenset())


def check_transition(current: JobStatus, new: JobStatus) -> None:
    if not can_transition(current, new):
        raise InvalidTransition(f"a job cannot go from {current} to {new}")
