"""The job store: the single source of truth that the MCP server and the UI both adapt.

All state lives in files under the store's root (see `layout.py`). Any number of
processes may use one store at once: records are replaced atomically, updates
hold a per-job flock, and slot accounting holds a store-wide flock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobstore import fsio
from jobstore.codex_cli import CodexInfo, build_review_argv, build_run_argv, probe_codex
from jobstore.config import cancel_grace_from_env, default_root, max_jobs_from_env
from jobstore.errors import InvalidInput, JobNotFound, JobStoreError, StoreWriteError
from jobstore.events import RenderedLine, Summary, render_line
from jobstore.ids import check_job_id, check_session_id, is_job_id, new_job_id
from jobstore.layout import StoreLayout
from jobstore.options import ReviewOptions, RunOptions, check_absolute_path
from jobstore.processes import is_alive, terminate_tree
from jobstore.record import JobEntry, JobRecord, UnreadableJob, now_iso, parse_iso
from jobstore.states import JobStatus, can_transition
from jobstore.tail import Tail, read_tail

MAX_LIST_LIMIT = 10_000
STAGING_PREFIX = ".new-"  # a job being assembled; never listed (not a job id)
MAX_TAIL_LINES = 10_000
_HEAD_BYTES_FOR_SESSION = 64 * 1024
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


class UnreadableRecord(JobStoreError):
    """The job exists but its meta.json cannot be read (empty, truncated, garbage)."""


@dataclass(frozen=True)
class CancelOutcome:
    record: JobRecord
    changed: bool
    message: str


@dataclass(frozen=True)
class SessionInfo:
    """A codex session and the jobs that were its turns, oldest first."""

    session_id: str
    turns: list[JobRecord]

    @property
    def updated_at(self) -> str:
        return max((t.finished_at or t.started_at or t.created_at) for t in self.turns)

    @property
    def cwd(self) -> str:
        return self.turns[-1].cwd


def check_limit(name: str, value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number")
    if value < 1 or value > maximum:
        raise InvalidInput(f"{name} must be between 1 and {maximum:,}, not {value:,}")
    return value


class JobStore:
    def __init__(
        self,
        root: Path | str | None = None,
        *,
        max_jobs: int | None = None,
        codex_bin: str | None = None,
        cancel_grace: float | None = None,
    ) -> None:
        # Absolute: runners work from "/" and get the root on their command line.
        self.root = (Path(root).expanduser() if root is not None else default_root()).absolute()
        self.layout = StoreLayout(self.root)
        self.max_jobs = max_jobs if max_jobs is not None else max_jobs_from_env()
        self.codex_bin = codex_bin
        self.cancel_grace = cancel_grace if cancel_grace is not None else cancel_grace_from_env()
        self._runner_pids: list[int] = []
        self._ensured = False
        self._runners_lock = threading.Lock()

    # ------------------------------------------------------------------ setup

    def ensure(self) -> None:
        """Create the store's folders (private to the user). Writers call this; readers need not.
        Done once per JobStore; a store deleted meanwhile is made again on the next refusal."""
        if self._ensured:
            return
        for path in (
            self.root,
            self.layout.jobs_dir,
            self.layout.queue_dir,
            self.layout.running_dir,
            self.layout.sessions_dir,
        ):
            fsio.ensure_dir(path)
        self._ensured = True

    def codex_info(self) -> CodexInfo:
        return probe_codex(self.codex_bin)

    # ---------------------------------------------------------------- reading

    def exists(self, job_id: str) -> bool:
        return self.layout.job_dir(job_id).is_dir()

    def read_record(self, job_id: str) -> JobRecord:
        """The record as stored, without reconciling it against the processes."""
        meta = self.layout.meta(job_id)
        try:
            raw = meta.read_bytes()
        except FileNotFoundError:
            if self.layout.job_dir(job_id).is_dir():
                raise UnreadableRecord(f"job {job_id} has no meta.json") from None
            raise JobNotFound(f"no job {job_id} in the store at {self.root}") from None
        except OSError as exc:
            raise UnreadableRecord(f"job {job_id}: cannot read meta.json ({exc.strerror})") from exc
        try:
            return JobRecord.from_json_bytes(raw)
        except (ValueError, TypeError) as exc:
            raise UnreadableRecord(f"job {job_id}: {exc}") from None

    def get(self, job_id: str) -> JobRecord:
        """The job's record, with a `running` job whose processes are gone turned `lost`."""
        check_job_id(job_id)
        record = self.read_record(job_id)
        if record.status == JobStatus.RUNNING and not self._job_alive(record):
            try:
                record = self._mark_lost(job_id)
            except StoreWriteError as exc:
                # A store we may not write (read-only, full): say what is true, unrecorded.
                record.status = JobStatus.LOST
                record.error = f"the job's processes are gone; not recorded: {exc}"
        return record

    def entry(self, job_id: str) -> JobEntry:
        try:
            return self.get(job_id)
        except UnreadableRecord as exc:
            return UnreadableJob(job_id, str(exc))

    def job_ids(self) -> list[str]:
        """Every job id in the store, newest first (ids sort by creation time)."""
        try:
            names = os.listdir(self.layout.jobs_dir)
        except FileNotFoundError:
            return []
        return sorted((n for n in names if is_job_id(n)), reverse=True)

    def list_jobs(
        self,
        limit: int = 20,
        status: str | None = None,
        cwd: str | None = None,
    ) -> list[JobEntry]:
        """The newest `limit` jobs, optionally only those in `status` and/or under `cwd`."""
        check_limit("limit", limit, MAX_LIST_LIMIT)
        wanted: JobStatus | str | None = None
        if status is not None:
            if status == "unreadable":
                wanted = "unreadable"
            else:
                try:
                    wanted = JobStatus(status)
                except ValueError:
                    valid = ", ".join([*(s.value for s in JobStatus), "unreadable"])
                    raise InvalidInput(f"unknown status {status!r}; valid values: {valid}") from None
        cwd_filter = os.path.realpath(check_absolute_path("cwd", cwd)) if cwd is not None else None
        ids = self._candidate_ids(wanted)
        out: list[JobEntry] = []
        for job_id in ids:
            entry = self.entry(job_id)
            if wanted is not None and entry.status != wanted:
                continue
            if cwd_filter is not None and not (
                isinstance(entry, JobRecord) and _is_within(entry.cwd, cwd_filter)
            ):
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out

    def _candidate_ids(self, wanted: JobStatus | str | None) -> list[str]:
        # Active jobs have markers: no need to read every record to find them.
        if wanted == JobStatus.QUEUED:
            return sorted(_ids_in(self.layout.queue_dir), reverse=True)
        if wanted == JobStatus.RUNNING:
            return sorted(_ids_in(self.layout.running_dir), reverse=True)
        return self.job_ids()

    def output_tail(self, job_id: str, lines: int = 50) -> Tail:
        check_limit("tail_lines", lines, MAX_TAIL_LINES)
        if not self.exists(job_id):
            raise JobNotFound(f"no job {job_id} in the store at {self.root}")
        return read_tail(self.layout.output(job_id), lines)

    def rendered_tail(self, job_id: str, lines: int = 50) -> list[RenderedLine]:
        """The end of the output made readable: at most `lines` rendered lines."""
        raw = self.output_tail(job_id, lines).lines
        rendered = [r for line in raw for r in render_line(line)]
        return rendered[-lines:]

    def summary(self, job_id: str) -> Summary:
        """The runner's summary of the event stream; rebuilt from the output's end if absent."""
        path = self.layout.summary(job_id)
        try:
            return Summary.from_dict(json.loads(path.read_bytes()))
        except FileNotFoundError:
            pass
        except (ValueError, TypeError, OSError):
            pass  # a damaged summary is only a cache: rebuild it below
        summary = Summary()
        for line in self.output_tail(job_id, 2_000).lines:
            summary.feed_line(line)
        return summary

    def final_message(self, job_id: str, summary: Summary | None = None) -> str | None:
        """codex's final message (its answer), else its last agent message so far. Pass the
        `summary` already read, if any, so it is not read twice."""
        with contextlib.suppress(OSError):
            text = self.layout.last_message(job_id).read_text("utf-8", "replace")
            if text.strip():
                return text
        return (summary or self.summary(job_id)).last_agent_message

    def sessions(self, limit: int = 20) -> list[SessionInfo]:
        """Codex sessions with their turns, the most recently active first."""
        check_limit("limit", limit, MAX_LIST_LIMIT)
        try:
            entries = list(os.scandir(self.layout.sessions_dir))
        except FileNotFoundError:
            return []
        entries.sort(key=lambda e: _mtime(e), reverse=True)
        out: list[SessionInfo] = []
        for entry in entries:
            session = self.session(entry.name, missing_ok=True)
            if session is not None:
                out.append(session)
            if len(out) >= limit:
                break
        return out

    def session(self, session_id: str, *, missing_ok: bool = False) -> SessionInfo | None:
        check_session_id(session_id)
        try:
            text = self.layout.session_index(session_id).read_text("utf-8", "replace")
        except FileNotFoundError:
            if missing_ok:
                return None
            raise JobNotFound(f"no session {session_id} in the store") from None
        turns = []
        for job_id in sorted({line.strip() for line in text.splitlines() if is_job_id(line.strip())}):
            with contextlib.suppress(JobNotFound, UnreadableRecord):
                turns.append(self.get(job_id))
        if not turns:
            if missing_ok:
                return None
            raise JobNotFound(f"session {session_id} has no jobs left in the store")
        return SessionInfo(session_id, turns)

    def wait(self, job_id: str, timeout: float, *, interval: float = 0.1) -> JobRecord:
        """Block until the job ends or `timeout` passes; return the record either way."""
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            record = self.get(job_id)
            remaining = deadline - time.monotonic()
            if record.is_terminal or remaining <= 0:
                return record
            time.sleep(min(interval, remaining))

    # ---------------------------------------------------------------- writing

    def start(self, options: RunOptions) -> JobRecord:
        """Create a job for a codex run (or a continued session) and start or queue it."""
        info = self.codex_info()  # fails before anything is written if codex is unusable
        if options.session_id is None:
            return self._start_run(info, options)
        # One turn of a session at a time: check and start under one lock.
        self.ensure()
        with fsio.file_lock(self.layout.session_lock):
            self._check_session_resumable(options.session_id)
            return self._start_run(info, options)

    def _start_run(self, info: CodexInfo, options: RunOptions) -> JobRecord:
        return self._create(
            kind="run",
            prompt=options.prompt,
            cwd=options.cwd,
            fields={
                "approval_policy": options.approval_policy,
                "sandbox": options.sandbox,
                "model": options.model,
                "reasoning_effort": options.reasoning_effort,
                "session_id": options.session_id,
                "resumes_session": options.session_id,
                "codex_version": info.version_string,
            },
            build=lambda last: build_run_argv(info, options, last_message_path=last),
        )

    def start_review(self, options: ReviewOptions) -> JobRecord:
        info = self.codex_info()
        return self._create(
            kind="review",
            prompt=options.describe(),
            cwd=options.cwd,
            fields={
                "approval_policy": options.approval_policy,
                "model": options.model,
                "review": options.target(),
                "codex_version": info.version_string,
            },
            build=lambda last: build_review_argv(info, options, last_message_path=last),
            stdin_text=options.prompt,
        )

    def _check_session_resumable(self, session_id: str) -> None:
        # A session this store has not seen may still be codex's own (started elsewhere), so
        # it is allowed; a known one takes one turn at a time.
        session = self.session(session_id, missing_ok=True)
        if session and any(t.status in (JobStatus.RUNNING, JobStatus.QUEUED) for t in session.turns):
            busy = next(t for t in session.turns if not t.is_terminal)
            raise InvalidInput(
                f"session {session_id} already has a turn in progress (job {busy.job_id}); "
                "wait for it to end before continuing the session"
            )

    def _create(
        self,
        *,
        kind: str,
        prompt: str,
        cwd: str,
        fields: dict[str, object],
        build: Callable[[Path], tuple[list[str], bool]],
        stdin_text: str | None = None,
    ) -> JobRecord:
        self.ensure()
        # The job is assembled in a hidden staging folder and renamed into place with its
        # record, so no reader ever sees a job folder without a meta.json.
        job_id, staging = self._claim_staging_dir()
        try:
            argv, via_stdin = build(self.layout.last_message(job_id))
            # Inputs of the runner, not records: only meta.json needs to be durable, and
            # one fsync is most of what a start costs.
            if via_stdin:
                fsio.write_bytes_atomic(
                    staging / self.layout.prompt_file(job_id).name,
                    (stdin_text or prompt).encode("utf-8"),
                    durable=False,
                )
            fsio.write_json_atomic(
                staging / self.layout.command(job_id).name,
                {"argv": argv, "stdin": "prompt.txt" if via_stdin else None},
                durable=False,
            )
            fsio.create_empty(staging / self.layout.output(job_id).name)
            record = JobRecord(
                job_id=job_id,
                status=JobStatus.QUEUED,
                kind=kind,  # type: ignore[arg-type]
                prompt=prompt,
                cwd=cwd,
                created_at=now_iso(),
                approval_policy=str(fields.pop("approval_policy")),
                **fields,  # type: ignore[arg-type]
            )
            with fsio.file_lock(self.layout.scheduler_lock):
                self._admit_locked(record, staging)
            if record.session_id:
                fsio.append_line(self.layout.session_index(record.session_id), job_id)
        except BaseException:
            # Never leave a half-created job behind.
            fsio.remove_if_exists(self.layout.queued_marker(job_id))
            fsio.remove_if_exists(self.layout.running_marker(job_id))
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(self.layout.job_dir(job_id), ignore_errors=True)
            raise
        return record

    def _admit_locked(self, record: JobRecord, staging: Path) -> None:
        """Start a new job at once if a slot is free and nobody queues before it, else
        queue it. Its record is written once, in the state it is admitted in, and the job
        folder appears (renamed from `staging`) with it."""
        job_id = record.job_id
        queued = _ids_in(self.layout.queue_dir)
        running = _ids_in(self.layout.running_dir)
        if not queued and len(running) >= self.max_jobs:
            running = self._reconcile_slots_locked()
        if queued or len(running) >= self.max_jobs:
            self._publish(record, staging)
            fsio.create_empty(self.layout.queued_marker(job_id))
            self._schedule_locked()
            record.status = self.read_record(job_id).status
            return
        fsio.create_empty(self.layout.running_marker(job_id))
        try:
            pid, pid_started = self._spawn_runner(job_id, staging)
        except OSError as exc:
            record.status = JobStatus.ERROR
            record.error = f"could not start the job's runner: {exc}"
            record.finished_at = now_iso()
            self._publish(record, staging)
            fsio.remove_if_exists(self.layout.running_marker(job_id))
            return
        record.status = JobStatus.RUNNING
        record.pid = pid
        record.pid_started_at = pid_started
        record.started_at = now_iso()
        # The runner waits for the scheduler lock we hold before it reads this record.
        self._publish(record, staging)

    def _publish(self, record: JobRecord, staging: Path) -> None:
        fsio.write_json_atomic(staging / "meta.json", record.to_dict())
        try:
            os.rename(staging, self.layout.job_dir(record.job_id))
        except OSError as exc:
            raise StoreWriteError(f"cannot create job {record.job_id}: {exc.strerror or exc}") from exc

    def _claim_staging_dir(self) -> tuple[str, Path]:
        for _ in range(20):
            job_id = new_job_id()
            staging = self.layout.jobs_dir / f"{STAGING_PREFIX}{job_id}"
            if self.layout.job_dir(job_id).exists():
                continue
            try:
                staging.mkdir(mode=fsio.DIR_MODE)
            except FileExistsError:
                continue
            except FileNotFoundError:
                self._ensured = False  # someone removed the store's folders: make them again
                self.ensure()
                continue
            except OSError as exc:
                raise StoreWriteError(f"cannot create {staging}: {exc.strerror or exc}") from exc
            return job_id, staging
        raise StoreWriteError("could not find a free job id")

    def _write(self, record: JobRecord) -> None:
        fsio.write_json_atomic(self.layout.meta(record.job_id), record.to_dict())

    @contextlib.contextmanager
    def locked_record(self, job_id: str) -> Iterator[JobRecord]:
        """Read-modify-write: the record, locked against other writers; written back after."""
        with fsio.file_lock(self.layout.job_lock(job_id)):
            record = self.read_record(job_id)
            before = record.to_dict()
            yield record
            if record.to_dict() != before:
                self._write(record)

    def update(self, job_id: str, **fields: object) -> JobRecord:
        """Set fields of a job's record (never its status: see `transition`)."""
        if "status" in fields:
            raise ValueError("use transition() to change a job's status")
        with self.locked_record(job_id) as record:
            for name, value in fields.items():
                setattr(record, name, value)
        return record

    def transition(self, job_id: str, new: JobStatus, **fields: object) -> JobRecord | None:
        """Move the job to `new` if the state machine allows it from where it is now.

        Returns the new record, or None when the job had already moved on (e.g. it
        ended on its own while a cancel was on its way): the first end wins.
        """
        with self.locked_record(job_id) as record:
            if not can_transition(record.status, new):
                return None
            record.status = new
            for name, value in fields.items():
                setattr(record, name, value)
            if new.is_terminal and record.finished_at is None:
                record.finished_at = now_iso()
        if new.is_terminal:
            self.release_slot(job_id)
        return record

    def restore(self, record: JobRecord) -> bool:
        """Put back a record whose meta.json was deleted or damaged under a live job.
        A readable record is never overwritten. Returns whether it was written."""
        with fsio.file_lock(self.layout.job_lock(record.job_id)):
            try:
                self.read_record(record.job_id)
                return False
            except UnreadableRecord:
                self._write(record)
                return True

    def record_session_id(self, job_id: str, session_id: str) -> None:
        check_session_id(session_id)
        with self.locked_record(job_id) as record:
            known = record.session_id
            record.session_id = session_id
        if known != session_id:
            fsio.append_line(self.layout.session_index(session_id), job_id)

    def cancel(self, job_id: str, *, wait: float | None = None) -> CancelOutcome:
        """Stop a queued or running job, its whole process tree included.

        A finished job is left as it is. `wait` bounds how long to wait for the
        runner to record the end (default: the grace period plus a little).
        """
        record = self.get(job_id)
        if record.is_terminal:
            return CancelOutcome(
                record, False, f"job {job_id} already ended ({record.status}); nothing to cancel"
            )
        if record.status == JobStatus.QUEUED:
            with fsio.file_lock(self.layout.scheduler_lock):
                done = self.transition(job_id, JobStatus.CANCELLED, error="cancelled before it started")
                fsio.remove_if_exists(self.layout.queued_marker(job_id))
            if done is not None:
                return CancelOutcome(done, True, f"job {job_id} was queued and is now cancelled")
            record = self.get(job_id)
            if record.is_terminal:
                return CancelOutcome(record, False, f"job {job_id} already ended ({record.status})")
        with self.locked_record(job_id) as record:
            if record.is_terminal:
                return CancelOutcome(record, False, f"job {job_id} already ended ({record.status})")
            if record.cancel_requested_at is None:
                record.cancel_requested_at = now_iso()
            fsio.create_empty(self.layout.cancel_marker(job_id))
        if is_alive(record.pid, record.pid_started_at):
            # The runner stops the tree (SIGTERM, grace, SIGKILL) and records the end.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(record.pid, signal.SIGTERM)  # type: ignore[arg-type]
        else:
            self._cancel_without_runner(record)
        final = self.wait(job_id, self.cancel_grace + 3 if wait is None else wait)
        if final.is_terminal and final.status != JobStatus.CANCELLED:
            return CancelOutcome(
                final, False, f"job {job_id} ended on its own ({final.status}) before the cancel took effect"
            )
        state = "cancelled" if final.is_terminal else "being cancelled"
        return CancelOutcome(final, True, f"job {job_id} {state}")

    def _cancel_without_runner(self, record: JobRecord) -> None:
        # The runner is gone (killed); codex may still run: stop it ourselves.
        terminate_tree(record.codex_pid, record.codex_started_at, record.codex_pgid, self.cancel_grace)
        self.transition(
            record.job_id,
            JobStatus.CANCELLED,
            error="cancelled; the job's runner had died, so codex's exit code is unknown",
        )
        self.schedule()

    def prune(self, older_than: timedelta) -> list[str]:
        """Delete finished jobs that ended more than `older_than` ago; return their ids."""
        if older_than.total_seconds() < 0:
            raise InvalidInput("older_than must not be negative")
        cutoff = datetime.now(UTC) - older_than
        removed = []
        for job_id in self.job_ids():
            try:
                record = self.get(job_id)
            except (UnreadableRecord, JobNotFound):
                continue
            ended = parse_iso(record.finished_at or record.created_at)
            if record.is_terminal and ended is not None and ended < cutoff:
                shutil.rmtree(self.layout.job_dir(job_id), ignore_errors=True)
                removed.append(job_id)
        return removed

    # ------------------------------------------------------------- scheduling

    def schedule(self) -> list[str]:
        """Start queued jobs, oldest first, while the store has free slots."""
        if not self.layout.queue_dir.is_dir():
            return []
        with fsio.file_lock(self.layout.scheduler_lock):
            return self._schedule_locked()

    def reconcile(self) -> None:
        """After a crash or restart: settle slots and markers against the records and the
        processes (like pueue on start), then fill free slots."""
        if not self.layout.running_dir.is_dir():
            return
        with fsio.file_lock(self.layout.scheduler_lock):
            self._reconcile_slots_locked()
            for job_id in _ids_in(self.layout.queue_dir):
                with contextlib.suppress(JobStoreError):
                    if self.read_record(job_id).status != JobStatus.QUEUED:
                        fsio.remove_if_exists(self.layout.queued_marker(job_id))
            self._schedule_locked()

    def _schedule_locked(self) -> list[str]:
        self._reap_runners()
        queued = sorted(_ids_in(self.layout.queue_dir))
        if not queued:
            return []
        running = _ids_in(self.layout.running_dir)
        if len(running) >= self.max_jobs:
            running = self._reconcile_slots_locked()
        started: list[str] = []
        for job_id in queued:
            if len(running) >= self.max_jobs:
                break
            try:
                record = self.read_record(job_id)
            except JobStoreError:
                fsio.remove_if_exists(self.layout.queued_marker(job_id))
                continue
            if record.status != JobStatus.QUEUED:
                fsio.remove_if_exists(self.layout.queued_marker(job_id))
                continue
            fsio.create_empty(self.layout.running_marker(job_id))
            fsio.remove_if_exists(self.layout.queued_marker(job_id))
            running.add(job_id)
            try:
                pid, pid_started = self._spawn_runner(job_id)
            except OSError as exc:
                self.transition(job_id, JobStatus.ERROR, error=f"could not start the job's runner: {exc}")
                continue
            self.transition(
                job_id,
                JobStatus.RUNNING,
                pid=pid,
                pid_started_at=pid_started,
                started_at=now_iso(),
            )
            started.append(job_id)
        return started

    def _reconcile_slots_locked(self) -> set[str]:
        """Drop slot markers of jobs that no longer run; return the ones that do."""
        holding: set[str] = set()
        for job_id in _ids_in(self.layout.running_dir):
            try:
                record = self.read_record(job_id)
            except JobStoreError:
                fsio.remove_if_exists(self.layout.running_marker(job_id))
                continue
            if record.status == JobStatus.RUNNING and not self._job_alive(record):
                record = self._mark_lost(job_id, schedule=False)
            if record.status == JobStatus.RUNNING:
                holding.add(job_id)
            else:
                fsio.remove_if_exists(self.layout.running_marker(job_id))
                if record.status == JobStatus.QUEUED:
                    fsio.create_empty(self.layout.queued_marker(job_id))
        return holding

    def release_slot(self, job_id: str) -> None:
        fsio.remove_if_exists(self.layout.running_marker(job_id))
        fsio.remove_if_exists(self.layout.queued_marker(job_id))

    def _spawn_runner(self, job_id: str, job_dir: Path | None = None) -> tuple[int, float | None]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env["CODEX_ASYNC_MAX_JOBS"] = str(self.max_jobs)
        env["CODEX_ASYNC_CANCEL_GRACE"] = str(self.cancel_grace)
        log = str((job_dir or self.layout.job_dir(job_id)) / self.layout.runner_log(job_id).name)
        # posix_spawn (vfork-like) costs a fraction of fork+exec of a large process; our own
        # fds are close-on-exec by default, so the runner inherits none but these.
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "jobstore.runner", str(self.root), job_id],
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, fsio.FILE_MODE),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,  # outlives whoever started it, and its terminal's signals
        )
        with self._runners_lock:
            self._runner_pids.append(pid)
        # The runner records its own start time: reading it here would wait for its exec.
        return pid, None

    def _reap_runners(self) -> None:
        # Runners are detached but still our children until they exit: collect them so
        # that they do not linger as zombies.
        with self._runners_lock:
            alive = []
            for pid in self._runner_pids:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
                if done == 0:
                    alive.append(pid)
            self._runner_pids = alive

    # ------------------------------------------------------- liveness, lost

    def _job_alive(self, record: JobRecord) -> bool:
        if record.pid is None and record.codex_pid is None:
            # Marked running but its runner's pid was never written: the starter died
            # between the two; treat as alive for a moment so a slow write can land.
            started = parse_iso(record.started_at)
            return started is not None and datetime.now(UTC) - started < timedelta(seconds=30)
        return is_alive(record.pid, record.pid_started_at) or is_alive(
            record.codex_pid, record.codex_started_at
        )

    def _mark_lost(self, job_id: str, *, schedule: bool = True) -> JobRecord:
        with fsio.file_lock(self.layout.job_lock(job_id)):
            record = self.read_record(job_id)
            if record.status != JobStatus.RUNNING or self._job_alive(record):
                return record
        session_id = record.session_id or self._session_id_from_output(job_id)
        updated = self.transition(
            job_id,
            JobStatus.LOST,
            session_id=session_id,
            error="the job's processes are gone and no end was recorded "
            "(its runner was killed, or the machine restarted)",
        )
        if session_id and not record.session_id:
            with contextlib.suppress(StoreWriteError):
                fsio.append_line(self.layout.session_index(session_id), job_id)
        if schedule:
            with contextlib.suppress(JobStoreError):
                self.schedule()
        return updated or self.read_record(job_id)

    def _session_id_from_output(self, job_id: str) -> str | None:
        try:
            with open(self.layout.output(job_id), "rb") as f:
                head = f.read(_HEAD_BYTES_FOR_SESSION)
        except OSError:
            return None
        summary = Summary()
        for line in head.decode("utf-8", "replace").splitlines():
            summary.feed_line(line)
            if summary.session_id:
                return summary.session_id
        return None


def _ids_in(folder: Path) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if is_job_id(n)}
    except FileNotFoundError:
        return set()


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:
        return 0.0


def _is_within(path: str, folder: str) -> bool:
    real = os.path.realpath(path)
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)
