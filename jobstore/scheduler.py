"""Slots and processes: admit a new job, start queued ones, spawn and reap runners, settle jobs
whose processes are gone, and stop a job's processes on cancel.

The store runs at most its settings' `max_jobs` jobs at once (read from the store under
the lock each time: every process obeys the same limit). A job holding a slot has a
marker in `running/`, one waiting has one in `queue/`; all slot accounting holds the
store-wide `scheduler.lock`, so any number of processes may schedule at once. The store
is checked (ownership, modes, no symlinks) before anything queued in it is executed.
Runners are spawned detached (their own session); a thread of the process that spawned
one reaps it the moment it exits, so none lingers as a zombie.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobstore import fsio, zygote_client
from jobstore.errors import JobStoreError, StoreRefused, StoreWriteError
from jobstore.layout import FileKind
from jobstore.options import check_codex_path
from jobstore.processes import (
    MARKER_FIELD,
    catches_signal,
    is_alive,
    marker_secret_of,
    new_marker_secret,
    signal_process,
    start_time_of,
    terminate_job_tree,
)
from jobstore.record import JobRecord, now_iso, parse_iso
from jobstore.records import Records
from jobstore.sessions import SessionIndex
from jobstore.settings import StoreSettings, check_max_jobs
from jobstore.states import JobStatus

_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
# A job marked running whose runner pid was not written yet: its starter may still be
# writing it, so it counts as alive this long after its start.
_UNRECORDED_PID_GRACE = timedelta(seconds=30)
LOST_ERROR = (
    "the job's processes are gone and no end was recorded (its runner was killed, or the machine restarted)"
)


# The runner's log is ours alone: never through a symlink, never appended to someone else's.
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW


def _reap(pid: int) -> None:
    """Wait for a runner we spawned, so that it never lingers as our zombie. A runner is
    detached (its own session) but stays our child until it exits: one thread each, as
    long as the job runs, costs less than making every starter a double-forking parent."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel did: the record as it is now, whether the cancel changed the job, and
    a message that says what really happened."""

    record: JobRecord
    changed: bool
    message: str


def with_new_marker(extra: dict[str, object]) -> dict[str, object]:
    """A new runner's `extra`: the job's process marker, chosen with the runner's pid, so the
    runner finds its identity (pid, start time, marker) recorded and has no write to make
    before codex starts."""
    return {**extra, MARKER_FIELD: new_marker_secret()}


def job_alive(record: JobRecord) -> bool:
    """Whether a job's runner or codex still runs (pids checked against their start times)."""
    if record.pid is None and record.codex_pid is None:
        started = parse_iso(record.started_at)
        return started is not None and datetime.now(UTC) - started < _UNRECORDED_PID_GRACE
    return is_alive(record.pid, record.pid_started_at) or is_alive(record.codex_pid, record.codex_started_at)


class Scheduler:
    def __init__(
        self, records: Records, sessions: SessionIndex, *, max_jobs: int, cancel_grace: float
    ) -> None:
        self.records = records
        self.sessions = sessions
        self.layout = records.layout
        # Only seeds a store without settings: the store's own limit is the one obeyed.
        self.seed_max_jobs = max_jobs
        self.cancel_grace = cancel_grace

    # ------------------------------------------------------------- settings

    @property
    def max_jobs(self) -> int:
        """The store's job limit (the seed while the store has no settings yet)."""
        return self.settings().max_jobs

    def settings(self) -> StoreSettings:
        """The store's settings (the seed's while the store has none yet)."""
        return StoreSettings.load(self.layout.settings_file) or StoreSettings(self.seed_max_jobs)

    def seed_settings(self) -> None:
        """Give a store without settings the seed's (a writer opening the store does this)."""
        if self.layout.settings_file.exists():
            return
        with fsio.file_lock(self.layout.scheduler_lock):
            if StoreSettings.load(self.layout.settings_file) is None:
                StoreSettings(self.seed_max_jobs).save(self.layout.settings_file)

    def configure(
        self, *, max_jobs: int | None = None, codex_path: str | None = None, worktree: bool | None = None
    ) -> StoreSettings:
        """Change the store's settings for every process using it (those not given stay); a
        higher job limit starts queued work at once, a lower one lets running jobs finish;
        a codex path and the worktree default apply to runs started afterwards."""
        if max_jobs is not None:
            check_max_jobs(max_jobs)
        if codex_path is not None:
            check_codex_path(codex_path)
        with fsio.file_lock(self.layout.scheduler_lock):
            try:
                current = self.settings()
            except StoreRefused:  # damaged: this is how it is fixed (what is not given: the seed's)
                current = StoreSettings(self.seed_max_jobs)
            settings = StoreSettings(
                max_jobs if max_jobs is not None else current.max_jobs,
                codex_path if codex_path is not None else current.codex_path,
                worktree if worktree is not None else current.worktree,
            )
            settings.save(self.layout.settings_file)
            self._schedule_locked()
        return settings

    # ------------------------------------------------------------ lost jobs

    def is_lost(self, record: JobRecord) -> bool:
        return record.status.is_started and not job_alive(record)

    def reported(self, job_id: str) -> JobRecord:
        """The job's record as a read reports it: a `running` job whose processes are gone
        reads `lost` (see `report_lost`). A runner may record the end and exit between our
        read of the record and our look at its processes, so a job found dead is read once
        more: whatever it recorded before it died is in that read, and a job that has just
        ended never reads lost."""
        record = self.records.read(job_id)
        if not self.is_lost(record):
            return record
        again = self.records.read(job_id)
        if again == record:
            return self.report_lost(record)
        return self.report_lost(again) if self.is_lost(again) else again

    def report_lost(self, record: JobRecord, *, why: str = "not recorded as lost yet") -> JobRecord:
        """How a read shows a job whose processes are gone: `lost`, in a copy; nothing written."""
        return dataclasses.replace(
            record,
            status=JobStatus.LOST,
            session_id=record.session_id or self.sessions.session_id_from_output(record.job_id),
            error=f"{LOST_ERROR}; {why}",
        )

    def settle(self, job_id: str) -> JobRecord:
        """Record a job whose processes are gone as `lost`, then start queued work. Returns
        the record; on a store that refuses writes, the lost job as reported, unrecorded."""
        try:
            record = self._settle_one(job_id)
            with contextlib.suppress(JobStoreError):
                self.schedule()
        except StoreWriteError as exc:
            record = self.records.read(job_id)
            if self.is_lost(record):
                return self.report_lost(record, why=f"not recorded: {exc}")
        return record

    def _settle_one(self, job_id: str) -> JobRecord:
        self.records.read(job_id)  # an unreadable job (not ours, a symlink) is never locked or written
        with self.records.job_lock(job_id):
            record = self.records.read(job_id)
            if not self.is_lost(record):
                return record
        # Its runner and codex are gone, but codex's commands in sessions of their own may
        # live on: nothing of the job's tree outlives its recorded end.
        terminate_job_tree(record, self.cancel_grace)
        self._discard_snapshot(job_id)
        session_id = record.session_id or self.sessions.session_id_from_output(job_id)
        updated = self.records.transition(job_id, JobStatus.LOST, session_id=session_id, error=LOST_ERROR)
        if session_id and not record.session_id:
            with contextlib.suppress(StoreWriteError):
                self.sessions.append(session_id, job_id)
        return updated or self.records.read(job_id)

    def _discard_snapshot(self, job_id: str) -> None:
        """A job whose runner died leaves its snapshot folder: removed, and its diff said not
        recorded. Never blocks settling."""
        # Loaded here, on this rare path: `import jobstore` stays without the diff's modules.
        from jobstore.worktree_diff import DIFF_NOT_RECORDED, discard_snapshot

        with contextlib.suppress(JobStoreError, OSError):
            discard_snapshot(self.layout, job_id, DIFF_NOT_RECORDED)

    # ------------------------------------------------------------ admission

    def admit(self, record: JobRecord, staging: Path) -> None:
        """Start a new job at once if a slot is free and nobody queues before it, else queue
        it. Its record is written once, in the state it is admitted in, and the job folder
        appears (renamed from `staging`) with it. Sets `record` to what was written."""
        zygote_client.await_birth(self.layout.root)  # outside the lock: no other starter waits
        with fsio.file_lock(self.layout.scheduler_lock):
            self._admit_locked(record, staging)

    def _admit_locked(self, record: JobRecord, staging: Path) -> None:
        job_id = record.job_id
        self.records.verify(again=True)
        limit = self.max_jobs
        queued = self.records.queued_ids()
        running = self.records.running_ids()
        if not queued and len(running) >= limit:
            running = self._reconcile_slots_locked()
        if queued or len(running) >= limit:
            self.records.publish(record, staging)
            self.records.mark_queued(job_id)
            # With every slot taken nothing can start: the first start to queue has just
            # re-checked the slots, a runner's end schedules, and so does the periodic
            # reconcile; re-checking every running job again here cost each queued start
            # ~10 ms with 100 running.
            if len(running) < limit:
                self._schedule_locked()
            record.status = self.records.read(job_id).status
            return
        self.records.mark_running(job_id)
        try:
            pid = self._spawn_runner(job_id, staging)
        except OSError as exc:
            record.status = JobStatus.ERROR
            record.error = f"could not start the job's runner: {exc}"
            record.finished_at = now_iso()
            self.records.publish(record, staging)
            self.records.release_slot(job_id)
            return
        record.status = JobStatus.RUNNING
        record.pid = pid
        record.pid_started_at = start_time_of(pid)  # never a pid without its start time
        record.extra = with_new_marker(record.extra)
        record.started_at = now_iso()
        # The runner waits for the scheduler lock we hold before it reads this record.
        self.records.publish(record, staging)

    # ----------------------------------------------------------- scheduling

    def schedule(self) -> list[str]:
        """Start queued jobs, oldest first, while the store has free slots."""
        # Nothing queued: nothing to start, and no wait for the lock (a job queued after this
        # look is started by its own admission, which schedules after queueing it).
        try:
            with os.scandir(self.layout.queue_dir) as queued:
                if not any(queued):
                    return []
        except FileNotFoundError:
            return []
        with fsio.file_lock(self.layout.scheduler_lock):
            return self._schedule_locked()

    def reconcile(self) -> None:
        """Settle slots and markers against the records and the processes (like pueue on
        start): jobs whose processes are gone are recorded lost; then fill free slots. The job
        index is checked against the job folders last, and rebuilt if they disagree."""
        if not self.layout.running_dir.is_dir():
            return
        with fsio.file_lock(self.layout.scheduler_lock):
            self.records.verify(again=True)
            self._reconcile_slots_locked()
            for job_id in self.records.queued_ids():
                with contextlib.suppress(JobStoreError):
                    if self.records.read(job_id).status != JobStatus.QUEUED:
                        self.records.unmark_queued(job_id)
            self._schedule_locked()
        self.records.remove_stale_staging()
        # Out of the lock: reading the folder is ~1 µs a job; a rebuild takes the lock itself.
        self.records.check_index()

    def _schedule_locked(self) -> list[str]:
        # Nothing queued is executed from a store that is not (or no longer) private.
        self.records.verify(again=True)
        queued = sorted(self.records.queued_ids())
        if not queued:
            return []
        limit = self.max_jobs
        running = self.records.running_ids()
        if len(running) >= limit:
            running = self._reconcile_slots_locked()
        started: list[str] = []
        for job_id in queued:
            if len(running) >= limit:
                break
            try:
                record = self.records.read(job_id)
            except JobStoreError:
                self.records.unmark_queued(job_id)
                continue
            if record.status != JobStatus.QUEUED:
                self.records.unmark_queued(job_id)
                continue
            self.records.mark_running(job_id)
            running.add(job_id)
            try:
                pid = self._spawn_runner(job_id)
            except OSError as exc:
                self.records.transition(
                    job_id, JobStatus.ERROR, error=f"could not start the job's runner: {exc}"
                )
                continue
            self.records.transition(
                job_id,
                JobStatus.RUNNING,
                pid=pid,
                pid_started_at=start_time_of(pid),
                extra=with_new_marker(record.extra),
                started_at=now_iso(),
            )
            started.append(job_id)
        return started

    def _reconcile_slots_locked(self) -> set[str]:
        """Drop slot markers of jobs that no longer run (recording lost ones); return the
        ones that do."""
        holding: set[str] = set()
        for job_id in self.records.running_ids():
            try:
                record = self.records.read(job_id)
            except JobStoreError:
                fsio.remove_if_exists(self.layout.running_marker(job_id))
                continue
            if self.is_lost(record):
                record = self._settle_one(job_id)
            if record.status.is_started:
                holding.add(job_id)
            else:
                fsio.remove_if_exists(self.layout.running_marker(job_id))
                if record.status == JobStatus.QUEUED:
                    self.records.mark_queued(job_id)
        return holding

    # -------------------------------------------------------------- runners

    def runner_env(self) -> dict[str, str]:
        """A runner's environment (and so codex's): ours, with our package importable."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env["CODEX_ASYNC_CANCEL_GRACE"] = str(self.cancel_grace)
        return env

    def launch_zygote(self) -> None:
        """Have the store's zygote serve from now on (started if none answers)."""
        pid = zygote_client.launch_zygote(self.layout.root, self.runner_env())
        if pid is not None:
            threading.Thread(target=_reap, args=(pid,), name="reap-zygote", daemon=True).start()

    def _spawn_runner(self, job_id: str, job_dir: Path | None = None) -> int:
        """Start `python -m jobstore.runner` for the job (forked by the store's zygote when one
        answers, else spawned); returns its pid."""
        env = self.runner_env()  # passed on to the runner and so to codex
        log = str(self.layout.job_file(job_dir or self.layout.job_dir(job_id), FileKind.RUNNER_LOG))
        # The store's zygote forks one in ~1 ms; without one, spawn it (and a zygote for next time).
        log_fd = os.open(log, _LOG_FLAGS, fsio.FILE_MODE)
        try:
            forked = zygote_client.start_runner(self.layout.root, job_id, env, log_fd)
        finally:
            os.close(log_fd)
        if forked is not None:
            return forked  # the zygote's child, reaped by it
        zygote_pid = zygote_client.spawn_zygote(self.layout.root, env)
        if zygote_pid is not None:
            threading.Thread(target=_reap, args=(zygote_pid,), name="reap-zygote", daemon=True).start()
        # posix_spawn (vfork-like) costs a fraction of fork+exec of a large process; our own
        # fds are close-on-exec by default, so the runner inherits none but these.
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "jobstore.runner", str(self.layout.root), job_id],
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, log, _LOG_FLAGS, fsio.FILE_MODE),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,  # outlives whoever started it, and its terminal's signals
        )
        threading.Thread(target=_reap, args=(pid,), name=f"reap-runner-{pid}", daemon=True).start()
        return pid

    # ---------------------------------------------------------------- cancel

    def cancel(self, job_id: str, wait: Callable[[str, float], JobRecord], timeout: float) -> CancelOutcome:
        """Stop a queued or running job (see JobStore.cancel); `wait` waits for its end."""
        record = self.records.read(job_id)
        if self.is_lost(record):
            record = self.settle(job_id)
        if record.is_terminal:
            return CancelOutcome(
                record, False, f"job {job_id} already ended ({record.status}); nothing to cancel"
            )
        if record.status == JobStatus.QUEUED:
            done = self.cancel_queued(job_id)
            if done is not None:
                return CancelOutcome(done, True, f"job {job_id} was queued and is now cancelled")
        unrecorded: StoreWriteError | None = None
        try:
            record = self.records.request_cancel(job_id)
        except StoreWriteError as exc:
            # A full disk must not stop a cancel: signalling the runner needs no disk, and the
            # runner keeps retrying to record the end.
            unrecorded = exc
        if record.is_terminal:
            return CancelOutcome(record, False, f"job {job_id} already ended ({record.status})")
        self.stop(record)
        final = wait(job_id, timeout)
        if final.is_terminal and final.status != JobStatus.CANCELLED:
            return CancelOutcome(
                final, False, f"job {job_id} ended on its own ({final.status}) before the cancel took effect"
            )
        if final.is_terminal:
            before = " before codex started" if final.codex_pid is None else ""
            return CancelOutcome(final, True, f"job {job_id} cancelled{before}")
        why = f": the store cannot be written ({unrecorded})" if unrecorded else ""
        return CancelOutcome(final, True, f"job {job_id} asked to stop; its end is not recorded yet{why}")

    def cancel_queued(self, job_id: str) -> JobRecord | None:
        """Cancel a job still waiting for a slot; None if it had left the queue."""
        with fsio.file_lock(self.layout.scheduler_lock):
            done = self.records.transition(job_id, JobStatus.CANCELLED, error="cancelled before it started")
            self.records.unmark_queued(job_id)
        return done

    def stop(self, record: JobRecord) -> None:
        """Stop a running job whose cancel was requested: its runner stops the tree (SIGTERM,
        grace, SIGKILL) and records the end; with the runner gone, do both here."""
        if is_alive(record.pid, record.pid_started_at):
            # Signalled only once it is ready for it (the kernel says it handles SIGTERM;
            # before, SIGTERM would kill it unrecorded) and proven by its start time. A runner
            # not ready yet finds the job's cancel marker before codex runs.
            if (
                record.pid_started_at is not None
                and marker_secret_of(record) is not None
                and catches_signal(record.pid, signal.SIGTERM)
            ):
                signal_process(record.pid, record.pid_started_at, signal.SIGTERM)
            return
        terminate_job_tree(record, self.cancel_grace)  # codex may still run without its runner
        self._discard_snapshot(record.job_id)
        self.records.transition(
            record.job_id,
            JobStatus.CANCELLED,
            error="cancelled; the job's runner had died, so codex's exit code is unknown",
        )
        self.schedule()
