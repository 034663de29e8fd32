"""A job's life as an explicit state machine, and the names of its states.

    queued -> running -> done | error | cancelled | interrupted | lost
    running <-> waiting -> done | error | cancelled | interrupted | lost
    queued -> cancelled | error          (cancelled while waiting, or could not start)

`done` means codex exited 0 *and* finished its turn; anything else that ends is
`error`, `cancelled` (a cancel was asked for), `interrupted` (its turn was interrupted
on request; its session continues like a done one's) or `lost` (the job's processes
are gone and no end was recorded). `waiting` is a running job whose codex asks a person
a question (run this command? apply this patch?): it holds its slot. Terminal states
never change again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"
    LOST = "lost"
    INTERRUPTED = "interrupted"

    @property
    def is_active(self) -> bool:
        """Waiting for a slot or running: the job may still change."""
        return self in _ACTIVE

    @property
    def is_started(self) -> bool:
        """Running or waiting for an answer: the job's runner and codex live, a slot is held."""
        return self in _STARTED

    @property
    def is_terminal(self) -> bool:
        """Ended: the record never changes status again."""
        return not self.is_active


_STARTED = frozenset({JobStatus.RUNNING, JobStatus.WAITING})
_ACTIVE = frozenset({JobStatus.QUEUED, *_STARTED})
_ENDS = frozenset(
    {JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.LOST}
)

# The pseudo-status of a job folder whose record cannot be read (see record.UnreadableJob).
UNREADABLE: Final = "unreadable"
Unreadable = Literal["unreadable"]

# Every status a listing may show or be filtered by, in the state machine's order.
LISTABLE_STATUSES: tuple[str, ...] = (*(status.value for status in JobStatus), UNREADABLE)

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.ERROR}),
    JobStatus.RUNNING: frozenset({JobStatus.WAITING, *_ENDS}),
    JobStatus.WAITING: frozenset({JobStatus.RUNNING, *_ENDS}),
}


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in _ALLOWED.get(current, frozenset())
