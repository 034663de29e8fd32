"""The UI's picture of the store apart from its widgets: jobs, sessions, and what each read changed.

No Textual here. Worker threads read the store; the screen feeds what they read to
these models, and the change each returns says what to redraw, which jobs ended (a
toast each), whether the sessions must be read again, and which reads are owed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from jobstore import SessionInfo
from tui.jobs import STATUSES, JobRow, Stamp

# A young unreadable job is most likely one being created (its folder appears before its
# record): it is read again this many times, a little later each time.
UNREADABLE_RETRIES = 5
UNREADABLE_YOUNG = timedelta(seconds=30)
UNREADABLE_RETRY_STEP = 0.3  # seconds; the n-th retry waits n steps


@dataclass(frozen=True)
class JobsChange:
    """What one batch of reads changed."""

    changed: tuple[JobRow, ...] = ()  # new rows and rows that read differently
    removed: tuple[str, ...] = ()  # jobs gone from the store
    ended: tuple[JobRow, ...] = ()  # jobs seen reaching their end while announced
    asking: tuple[JobRow, ...] = ()  # jobs seen starting to wait for an answer while announced
    retry: tuple[tuple[str, float], ...] = ()  # (job, seconds): read this job again after
    sessions_changed: bool = False  # a session's turn came, went, or changed status

    @property
    def empty(self) -> bool:
        return not (self.changed or self.removed)


class JobsModel:
    """Every job the UI knows, by id. A later read of a job always wins over an earlier one."""

    def __init__(self) -> None:
        self.rows: dict[str, JobRow] = {}
        self.active_ids: set[str] = set()
        self._unreadable_tries: dict[str, int] = {}

    def get(self, job_id: str | None) -> JobRow | None:
        return self.rows.get(job_id) if job_id is not None else None

    def apply(
        self, rows: Iterable[JobRow], gone: Iterable[tuple[str, float]], *, announce: bool, now: datetime
    ) -> JobsChange:
        """Take in rows read and jobs found gone (job_id, when the read began). `announce`:
        jobs that end here are reported in `ended` (not during the first load)."""
        changed: list[JobRow] = []
        ended: list[JobRow] = []
        asking: list[JobRow] = []
        retry: list[tuple[str, float]] = []
        sessions_changed = False
        for row in rows:
            old = self.rows.get(row.job_id)
            if old is not None and old.read_at > row.read_at:
                continue  # an older read arriving late
            self.rows[row.job_id] = row
            if old is not None and old == _same_read(row, old):
                continue
            changed.append(row)
            if (row.session_id or (old is not None and old.session_id)) and (
                old is None
                or (old.status, old.session_id, old.finished_at)
                != (row.status, row.session_id, row.finished_at)
            ):
                sessions_changed = True
            if announce and row.is_terminal and (old is None or not old.is_terminal):
                ended.append(row)
            if announce and row.question is not None and (old is None or old.question != row.question):
                asking.append(row)
            if row.is_unreadable:
                delay = self._retry_delay(row, now)
                if delay is not None:
                    retry.append((row.job_id, delay))
            else:
                self._unreadable_tries.pop(row.job_id, None)
            if row.is_active:
                self.active_ids.add(row.job_id)
            else:
                self.active_ids.discard(row.job_id)
        removed: list[str] = []
        for job_id, read_at in gone:
            old = self.rows.get(job_id)
            if old is not None and old.read_at <= read_at:
                del self.rows[job_id]
                self.active_ids.discard(job_id)
                self._unreadable_tries.pop(job_id, None)
                removed.append(job_id)
                sessions_changed = sessions_changed or old.session_id is not None
        return JobsChange(
            tuple(changed), tuple(removed), tuple(ended), tuple(asking), tuple(retry), sessions_changed
        )

    def _retry_delay(self, row: JobRow, now: datetime) -> float | None:
        created = row.created_at
        if created is None or now - created > UNREADABLE_YOUNG:
            return None
        tries = self._unreadable_tries.get(row.job_id, 0)
        if tries >= UNREADABLE_RETRIES:
            return None
        self._unreadable_tries[row.job_id] = tries + 1
        return UNREADABLE_RETRY_STEP * (tries + 1)

    def counts(self) -> dict[str, int]:
        """Jobs per status, every status present (in the status bar's order)."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.rows.values():
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    @property
    def any_running(self) -> bool:
        return any(self.rows[job_id].is_running for job_id in self.active_ids)

    def recheck_ids(self) -> set[str]:
        """Jobs a rescan reads again whatever their files say: active and unreadable ones."""
        return self.active_ids | {job_id for job_id, row in self.rows.items() if row.is_unreadable}

    def stamps(self) -> dict[str, Stamp | None]:
        return {job_id: row.stamp for job_id, row in self.rows.items()}

    def watched_ids(self, selected: str | None) -> set[str]:
        """Jobs whose folders are worth watching: the active ones and the one shown."""
        ids = set(self.active_ids)
        if selected is not None:
            ids.add(selected)
        return ids


def _same_read(row: JobRow, old: JobRow) -> JobRow:
    """`row` with the bookkeeping fields of `old`, to compare what is shown."""
    return replace(row, read_at=old.read_at, stamp=old.stamp)


@dataclass
class ReadQueue:
    """Which reads of the store run and which are owed, so that a flood of changes becomes
    one reader of each kind at a time. The screen starts what these methods hand out."""

    loaded: bool = False  # the first full load is done
    refreshing: bool = False
    rescanning: bool = False
    rescan_owed: bool = False
    dirty: set[str] = field(default_factory=set)

    def refresh(self, job_ids: Iterable[str]) -> list[str] | None:
        """These jobs changed: the ids to read now (newest first), or None while a read runs."""
        self.dirty.update(job_ids)
        if not self.dirty or self.refreshing:
            return None
        ids, self.dirty = self.dirty, set()
        self.refreshing = True
        return sorted(ids, reverse=True)

    def refresh_done(self) -> list[str] | None:
        self.refreshing = False
        return self.refresh(())

    def rescan(self) -> bool:
        """A rescan is wanted: True to start it now; False when one runs or the first load is
        not done yet. Then one is owed, handed out by `rescan_done` or `load_done`; an owed
        rescan is a full one, as what was missed meanwhile is not known."""
        if not self.loaded or self.rescanning:
            self.rescan_owed = True
            return False
        self.rescanning = True
        return True

    def rescan_done(self) -> bool:
        """The rescan ended: True to start the owed (full) one now."""
        self.rescanning = False
        return self._owed()

    def load_done(self) -> bool:
        """The first load ended: True to start the rescan owed since (a full one)."""
        self.loaded = True
        return self._owed()

    def _owed(self) -> bool:
        if not self.rescan_owed:
            return False
        self.rescan_owed = False
        self.rescanning = True
        return True

    @property
    def idle(self) -> bool:
        return self.loaded and not (self.refreshing or self.rescanning or self.dirty or self.rescan_owed)


@dataclass(frozen=True)
class SessionsChange:
    rebuild: bool  # the order or the set of sessions changed: draw the tree again
    changed: tuple[SessionInfo, ...] = ()  # otherwise, the sessions whose turns changed


def _signature(session: SessionInfo) -> tuple[object, ...]:
    return tuple((turn.job_id, str(turn.status), turn.finished_at) for turn in session.turns)


class SessionsModel:
    """The sessions shown, whether they need reading again, and what a new read changed."""

    def __init__(self) -> None:
        self.sessions: dict[str, SessionInfo] = {}
        self.order: list[str] = []
        self._signatures: dict[str, tuple[object, ...]] = {}
        self.stale = True  # read them (again) when they are next shown
        self.reading = False

    def invalidate(self) -> None:
        self.stale = True

    def begin_read(self) -> bool:
        """True: start a read now (stale and none running)."""
        if self.reading or not self.stale:
            return False
        self.stale = False
        self.reading = True
        return True

    def read_failed(self) -> None:
        self.reading = False

    def update(self, sessions: list[SessionInfo]) -> SessionsChange:
        self.reading = False
        order = [s.session_id for s in sessions]
        signatures = {s.session_id: _signature(s) for s in sessions}
        if order != self.order:
            change = SessionsChange(rebuild=True)
        else:
            change = SessionsChange(
                rebuild=False,
                changed=tuple(
                    s for s in sessions if signatures[s.session_id] != self._signatures.get(s.session_id)
                ),
            )
        self.sessions = {s.session_id: s for s in sessions}
        self.order = order
        self._signatures = signatures
        return change
