"""The UI's models without Textual: what each read changes, which reads are owed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobstore import UNREADABLE, JobRecord, JobStatus, SessionInfo
from tui.jobs import STATUSES, JobRow
from tui.model import UNREADABLE_RETRIES, JobsModel, ReadQueue, SessionsModel

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
JOB = "01jwqzedn0r7n2"
OTHER = "01jwqzk04gq8e9"


def row(job_id: str = JOB, status: str = JobStatus.RUNNING, *, read_at: float = 1.0, **fields: Any) -> JobRow:
    return JobRow(job_id, status, read_at=read_at, **fields)


def test_statuses_come_from_the_store_vocabulary() -> None:
    assert set(STATUSES) == {*(s.value for s in JobStatus), UNREADABLE}
    assert STATUSES[:3] == ("waiting", "running", "queued") and STATUSES[-1] == UNREADABLE
    assert row(status=JobStatus.QUEUED).is_active and row(status="done").is_terminal
    assert not row(status=UNREADABLE).is_active and not row(status=UNREADABLE).is_terminal


def test_a_read_reports_new_changed_and_unchanged_rows() -> None:
    model = JobsModel()
    first = model.apply([row(), row(OTHER, JobStatus.DONE)], [], announce=False, now=NOW)
    assert {r.job_id for r in first.changed} == {JOB, OTHER} and not first.ended
    assert model.active_ids == {JOB} and model.any_running
    # The same content read again (a later read, a new stamp) changes nothing shown.
    again = model.apply([row(read_at=2.0, stamp=(1, 2))], [], announce=True, now=NOW)
    assert again.empty and not again.changed
    # An older read arriving late is dropped.
    late = model.apply([row(status=JobStatus.DONE, read_at=0.5)], [], announce=True, now=NOW)
    assert late.empty and model.rows[JOB].status == JobStatus.RUNNING


def test_ended_jobs_are_announced_once_and_not_during_the_load() -> None:
    model = JobsModel()
    loaded = model.apply([row(OTHER, JobStatus.ERROR)], [], announce=False, now=NOW)
    assert loaded.ended == ()
    model.apply([row()], [], announce=True, now=NOW)
    ended = model.apply([row(status=JobStatus.DONE, read_at=2.0)], [], announce=True, now=NOW)
    assert [r.job_id for r in ended.ended] == [JOB] and model.active_ids == set()
    assert model.counts()["done"] == 1 and model.counts()["error"] == 1
    later = model.apply([row(status=JobStatus.DONE, read_at=3.0, tokens=5)], [], announce=True, now=NOW)
    assert later.changed and not later.ended


def test_removed_jobs_and_sessions_invalidated() -> None:
    model = JobsModel()
    change = model.apply([row(session_id="s1")], [], announce=False, now=NOW)
    assert change.sessions_changed
    assert not model.apply([row(read_at=2.0, session_id="s1")], [], announce=True, now=NOW).sessions_changed
    turned = model.apply(
        [row(status=JobStatus.DONE, read_at=3.0, session_id="s1")], [], announce=True, now=NOW
    )
    assert turned.sessions_changed
    # Gone: only if the read that found it gone began after the row's own read.
    assert model.apply([], [(JOB, 1.0)], announce=True, now=NOW).removed == ()
    gone = model.apply([], [(JOB, 4.0)], announce=True, now=NOW)
    assert gone.removed == (JOB,) and JOB not in model.rows and gone.sessions_changed


def test_a_young_unreadable_job_is_read_again_a_few_times() -> None:
    model = JobsModel()
    young = row(status=UNREADABLE, created_at=NOW - timedelta(seconds=2))
    delays = []
    for n in range(UNREADABLE_RETRIES + 2):
        change = model.apply(
            [row(status=UNREADABLE, read_at=n + 1, error=str(n), created_at=young.created_at)],
            [],
            announce=True,
            now=NOW,
        )
        delays += [delay for _job, delay in change.retry]
    assert len(delays) == UNREADABLE_RETRIES and delays == sorted(delays)
    old = row(OTHER, UNREADABLE, created_at=NOW - timedelta(hours=1))
    assert model.apply([old], [], announce=True, now=NOW).retry == ()
    assert model.recheck_ids() == {JOB, OTHER}


def test_read_queue_collapses_floods_and_owes_rescans() -> None:
    reads = ReadQueue()
    assert reads.rescan() is False  # before the first load: owed
    assert reads.refresh([JOB]) == [JOB]
    assert reads.refresh([OTHER]) is None  # one reader at a time
    assert reads.refresh_done() == [OTHER]
    assert reads.refresh_done() is None and not reads.refreshing
    assert reads.load_done() is True  # the owed rescan starts now
    assert reads.rescan() is False  # one runs: owed again
    assert reads.rescan_done() is True
    assert reads.rescan_done() is False and reads.idle


def session(session_id: str, *statuses: JobStatus) -> SessionInfo:
    turns = [
        JobRecord(
            job_id=f"01jwqzedn0r7{n:02d}",
            status=status,
            kind="run",
            prompt="p",
            cwd="/tmp",
            approval_policy="auto-edit",
            created_at="2025-06-02T09:00:00.000+00:00",
        )
        for n, status in enumerate(statuses)
    ]
    return SessionInfo(session_id, turns)


def test_sessions_model_says_what_to_redraw() -> None:
    model = SessionsModel()
    assert model.begin_read() and not model.begin_read()  # one read at a time
    first = model.update([session("a", JobStatus.DONE), session("b", JobStatus.RUNNING)])
    assert first.rebuild
    model.invalidate()
    assert model.begin_read()
    same_order = model.update([session("a", JobStatus.DONE), session("b", JobStatus.DONE)])
    assert not same_order.rebuild and [s.session_id for s in same_order.changed] == ["b"]
    reordered = model.update([session("b", JobStatus.DONE), session("a", JobStatus.DONE)])
    assert reordered.rebuild
    assert not model.stale and not model.reading
