"""The job's runner: a detached process that runs codex for one job and records how it ended.

Started by the store as `python -m jobstore.runner <root> <job_id>` in a session of
its own, it outlives the process that started the job (even a SIGKILL of it). It
spawns codex in a new process group with stdin closed and stdout+stderr appended
to output.txt, follows the output to learn the session id and keep a summary,
turns a cancel request (SIGTERM to the runner, or the job's `cancel` marker) into
SIGTERM / grace / SIGKILL for codex's whole tree, and finally records the exit
code, the status the exit deserves, and starts the next queued job.

Codex writes straight to the file, not through this process, so its output
survives the runner; if the runner dies, the job reads `running` while codex
lives and `lost` after.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

from jobstore import fsio, watch
from jobstore.errors import StoreRefused, StoreWriteError
from jobstore.events import Summary, total_tokens
from jobstore.processes import (
    JOB_MARKER_ENV,
    MARKER_FIELD,
    become_child_subreaper,
    descendants,
    job_marker,
    marked_processes,
    new_marker_secret,
    signal_group,
    signal_processes,
    start_time_of,
    terminate_tree,
    wait_gone,
)
from jobstore.record import JobRecord, now_iso, parse_iso
from jobstore.settings import Settings
from jobstore.states import JobStatus, can_transition
from jobstore.store import JobStore, UnreadableRecord
from jobstore.tail import OutputFollower
from jobstore.watch import Wakeup
from jobstore.worktree_diff import record_worktree_end, record_worktree_start

FALLBACK_TICK_SECONDS = 0.1
SUMMARY_EVERY_SECONDS = 0.5
# The runner's parser sees whole events up to this size; longer lines are cut (and counted).
MAX_EVENT_BYTES = 1024 * 1024


END_RETRY_MAX_SECONDS = 5.0  # a full disk: retry recording the end at least this often
_MAX_COMMAND_BYTES = 4 * 1024 * 1024


def _earliest(tick: float | None, *deadlines: float | None) -> float | None:
    """Seconds until the earliest of the monotonic `deadlines` (or `tick`); None: no limit."""
    now = time.monotonic()
    waits = [d - now for d in deadlines if d is not None and d != float("inf")]
    if tick is not None:
        waits.append(tick)
    return max(min(waits), 0) if waits else None


def final_status(
    returncode: int, summary: Summary, *, cancel_requested: bool, last_raw_line: str | None
) -> tuple[JobStatus, str | None]:
    """What an exit means. Only a clean exit after a finished turn is `done`."""
    if returncode == 0 and summary.turn_completed and not summary.turn_failed:
        return JobStatus.DONE, None
    if cancel_requested:
        return JobStatus.CANCELLED, "cancelled on request"
    detail = summary.last_error or last_raw_line
    if returncode < 0:
        name = _signal_name(-returncode)
        return JobStatus.ERROR, f"codex was killed by {name}" + (f"; last error: {detail}" if detail else "")
    if returncode == 0:
        return JobStatus.ERROR, "codex exited 0 without finishing its turn" + (
            f": {detail}" if detail else ""
        )
    return JobStatus.ERROR, f"codex exited with code {returncode}" + (f": {detail}" if detail else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Runner:
    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.layout = store.layout
        # Set from a signal handler: a plain flag, since a lock taken there could deadlock
        # against the same lock held by the code the signal interrupted.
        self.cancel_signalled = False
        self.summary = Summary()
        self.last_raw_line: str | None = None
        self.outcome: tuple[JobStatus, int | None, str | None] | None = None
        self.codex_started_at: float | None = None
        self.marker_secret = new_marker_secret()
        self._summary_dirty = False
        self._summary_written_at = 0.0

    def run(self) -> int:
        os.chdir("/")  # hold no folder of the starter's busy
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        become_child_subreaper()
        # The starter marks the job running under the scheduler lock right after spawning
        # us; taking the lock once orders our writes after its.
        with fsio.file_lock(self.layout.scheduler_lock):
            pass
        record = self.store.read_record(self.job_id)
        self.record = record
        if record.status != JobStatus.RUNNING:
            return 0  # cancelled or settled before we got here
        if record.pid != os.getpid():
            return 0  # the starter gave up on us (a late zygote fork) and spawned another
        record_worktree_start(self.store, self.job_id, record.cwd)  # never raises
        try:
            proc = self._spawn_codex(record)
        except (OSError, StoreRefused) as exc:
            self._finish(JobStatus.ERROR, None, f"could not start codex: {exc}")
            return 1
        returncode = self._follow(proc)
        # The outcome comes from codex's exit and its whole event stream, decided here,
        # before any cleanup: nothing that fails from now on can change it.
        status, error = final_status(
            returncode,
            self.summary,
            cancel_requested=self._cancel_requested(),
            last_raw_line=self.last_raw_line,
        )
        self.outcome = (status, returncode, error)
        self._cleanup(self.follower.close)
        self._cleanup(self._count_review_tokens)
        self._cleanup(self._stop_leftovers)
        self._cleanup(lambda: record_worktree_end(self.store, self.job_id))
        self._finish(status, returncode, error)
        return 0

    def _count_review_tokens(self) -> None:
        """A review's tokens are its sub-agent's: codex reports the review turn's as zeros."""
        thread_id = self.summary.session_id
        if self.record.kind != "review" or total_tokens(self.summary.usage) or thread_id is None:
            return
        # Imported here: only a review's runner reads codex's sessions (~10 ms of imports).
        from jobstore.review_usage import review_usage

        since = parse_iso(self.record.started_at or self.record.created_at) or datetime.now(UTC)
        usage = review_usage(Settings.from_env().codex_home, thread_id, since)
        if usage:
            self.summary.usage = usage
            self._summary_dirty = True

    def _cleanup(self, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception as exc:
            print(f"runner: cleanup step {step.__name__} failed: {exc!r}", file=sys.stderr)

    def _spawn_codex(self, record: JobRecord) -> subprocess.Popen[bytes]:
        # Every file of the job is opened without following a symlink, and only if ours.
        command = json.loads(fsio.read_file(self.layout.command(self.job_id), limit=_MAX_COMMAND_BYTES))
        argv: list[str] = command["argv"]
        stdin_path = self.layout.prompt_file(self.job_id) if command.get("stdin") else None
        out_fd = fsio.open_file(self.layout.output(self.job_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        # Pre-created private, so codex's own write of it does not follow the umask.
        fsio.create_empty(self.layout.last_message(self.job_id))
        # Our start time and the job's marker are recorded before codex exists, so every
        # process of its tree is provably the job's from its first moment.
        self._record(
            None,
            pid_started_at=start_time_of(os.getpid()),
            extra={**record.extra, MARKER_FIELD: self.marker_secret},
        )
        env = {**os.environ, JOB_MARKER_ENV: job_marker(self.job_id, self.marker_secret)}
        stdin = fsio.open_file(stdin_path, os.O_RDONLY) if stdin_path else subprocess.DEVNULL
        try:
            self.follower = OutputFollower(
                self.layout.output(self.job_id),
                os.fstat(out_fd).st_size,
                max_line_bytes=MAX_EVENT_BYTES,
                max_line_chars=MAX_EVENT_BYTES,
            )
            proc = subprocess.Popen(
                argv,
                stdin=stdin,  # never a pipe: codex would wait on it
                stdout=out_fd,
                stderr=out_fd,
                cwd=record.cwd,
                env=env,
                start_new_session=True,  # its own process group: cancel signals the group
                close_fds=True,
            )
        finally:
            os.close(out_fd)
            if stdin_path:
                os.close(stdin)
        # codex is our unreaped child: its pid cannot be reused, so this start time is its own.
        self.codex_started_at = start_time_of(proc.pid)
        self._record(None, codex_pid=proc.pid, codex_pgid=proc.pid, codex_started_at=self.codex_started_at)
        return proc

    def _record(self, status: JobStatus | None, **fields: object) -> None:
        """Write to the job's record; if someone deleted or damaged it meanwhile, put back
        what this runner knows, so the job's end is never lost."""
        try:
            if status is None:
                self.record = self.store.update(self.job_id, **fields)
            else:
                self.record = self.store.transition(self.job_id, status, **fields) or self.record
            return
        except UnreadableRecord as exc:
            print(f"runner: job record damaged ({exc}); restoring it", file=sys.stderr)
        for name, value in fields.items():
            setattr(self.record, name, value)
        if status is not None and can_transition(self.record.status, status):
            self.record.status = status
            self.record.finished_at = self.record.finished_at or now_iso()
        self.store.restore(self.record)
        if status is not None and status.is_terminal:
            self.store.release_slot(self.job_id)

    def _follow(self, proc: subprocess.Popen[bytes]) -> int:
        """Follow codex until it exits, asleep between events: codex exiting (its pidfd),
        its output growing or the cancel marker appearing (inotify), a signal (the wakeup
        pipe). Timeouts only for what is due: a summary to write, a cancel's grace."""
        cancel_deadline: float | None = None
        with Wakeup() as wakeup:
            signal_read, signal_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            previous_wakeup_fd = signal.set_wakeup_fd(signal_write)
            try:
                wakeup.watch_fd(signal_read)
                wakeup.watch_process(proc.pid)
                wakeup.watch_path(self.layout.output(self.job_id), watch.IN_MODIFY)
                wakeup.watch_path(self.layout.job_dir(self.job_id), watch.IN_CREATE | watch.IN_MOVED_TO)
                # Without inotify or pidfds, look again at this pace.
                fallback_tick = None if wakeup.reliable else FALLBACK_TICK_SECONDS
                while True:
                    returncode = proc.poll()
                    if returncode is not None:
                        self._drain()
                        return returncode
                    before = self.follower.offset
                    self._consume(self.follower.read_new())
                    # A read that filled its budget left more to read: look again at once.
                    backlog = self.follower.offset - before >= self.follower.max_read_bytes
                    if cancel_deadline is None and self._cancel_requested():
                        cancel_deadline = time.monotonic() + self.store.cancel_grace
                        self._cleanup(lambda: self._signal_tree(proc.pid, signal.SIGTERM))
                    elif cancel_deadline is not None and time.monotonic() >= cancel_deadline:
                        self._cleanup(lambda: self._signal_tree(proc.pid, signal.SIGKILL))
                        cancel_deadline = float("inf")
                    summary_due = self._maybe_write_summary()
                    wakeup.wait(0 if backlog else _earliest(fallback_tick, summary_due, cancel_deadline))
                    wakeup.clear()
                    with contextlib.suppress(BlockingIOError):
                        while os.read(signal_read, 512):
                            pass
            finally:
                signal.set_wakeup_fd(previous_wakeup_fd)
                os.close(signal_read)
                os.close(signal_write)

    def _drain(self) -> None:
        """Read codex's output to its very end (each read is bounded; a fast writer may have
        left hundreds of MB unread), then the last line even without its newline."""
        while True:
            before = self.follower.offset
            self._consume(self.follower.read_new())
            if self.follower.offset == before:
                break
        self._consume(self.follower.read_new(final=True))

    def _cancel_requested(self) -> bool:
        if not self.cancel_signalled and self.layout.cancel_marker(self.job_id).exists():
            self.cancel_signalled = True
        return self.cancel_signalled

    def _on_signal(self, signum: int, frame: object) -> None:
        self.cancel_signalled = True

    def _signal_tree(self, codex_pid: int, sig: int) -> None:
        # codex's group (its leader is our unreaped child, proven by its start time), every
        # descendant (codex runs shell commands in sessions of their own, which the group
        # signal does not reach), and whatever carries the job's marker.
        signal_group(codex_pid, sig, leader_started_at=self.codex_started_at)
        signal_processes([*descendants(os.getpid()), *self._marked()], sig)

    def _marked(self) -> list[psutil.Process]:
        if self.record.pid_started_at is None:
            return []
        return marked_processes(self.job_id, self.marker_secret, self.record.pid_started_at)

    def _stop_leftovers(self) -> None:
        # Whatever codex started and left behind was reparented to us (subreaper) or carries
        # the job's marker: nothing of the job may outlive it. SIGTERM, a second, SIGKILL.
        if descendants(os.getpid()) or self._marked():
            terminate_tree(None, None, None, 1.0, extra_roots=[os.getpid()])
            # Marked processes outside our tree (reparented elsewhere): gone before the end is recorded.
            marked = self._marked()
            signal_processes(marked, signal.SIGKILL)
            wait_gone(marked, 2.0)

    def _consume(self, lines: list[str]) -> None:
        for line in lines:
            before = self.summary.session_id
            self.summary.feed_line(line)
            if line.strip() and not line.lstrip().startswith("{"):
                self.last_raw_line = line.strip()[:500]
            if self.summary.session_id and self.summary.session_id != before:
                try:
                    self.store.record_session_id(self.job_id, self.summary.session_id)
                except Exception as exc:
                    print(f"runner: cannot record session id: {exc}", file=sys.stderr)
            self._summary_dirty = True

    def _maybe_write_summary(self, *, force: bool = False) -> float | None:
        """Write the summary if it changed and is due; return when the next write is due
        (a monotonic time), None if nothing waits to be written."""
        now = time.monotonic()
        if not self._summary_dirty:
            return None
        due = self._summary_written_at + SUMMARY_EVERY_SECONDS
        if not force and now < due:
            return due
        try:
            # A cache of the output: atomic, but not worth an fsync per update.
            summary = self.summary.to_dict()
            fsio.write_json_atomic(self.layout.summary(self.job_id), summary, durable=False)
            self._summary_dirty = False
            self._summary_written_at = now
        except Exception as exc:
            print(f"runner: cannot write summary: {exc}", file=sys.stderr)
            self._summary_written_at = now  # try again after the usual pause
            return now + SUMMARY_EVERY_SECONDS
        return None

    def _finish(self, status: JobStatus, returncode: int | None, error: str | None) -> None:
        self._cleanup(lambda: self._maybe_write_summary(force=True))
        self._cleanup(lambda: fsio.make_private(self.layout.job_dir(self.job_id)))
        self.record_end(status, returncode, error)
        self._cleanup(self.store.schedule)

    def record_end(self, status: JobStatus, returncode: int | None, error: str | None) -> None:
        """Record the job's end. On a full disk the end stays in memory and is written as
        soon as the disk lets it (meanwhile the job reads running: its runner lives)."""
        delay = FALLBACK_TICK_SECONDS
        while True:
            try:
                self._record(status, exit_code=returncode, error=error)
                return
            except StoreWriteError as exc:
                if not os.path.lexists(self.layout.job_dir(self.job_id)):
                    # The job was deleted (its store removed, e.g. the demo's on quit): nothing
                    # is left to record the end in, and waiting would keep this process forever.
                    return
                with contextlib.suppress(OSError):  # the log is on the same full disk
                    print(f"runner: cannot record the end yet ({exc}); retrying", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, END_RETRY_MAX_SECONDS)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m jobstore.runner STORE_ROOT JOB_ID", file=sys.stderr)
        return 2
    root, job_id = args
    store = JobStore(Path(root))
    runner = Runner(store, job_id)
    try:
        return runner.run()
    except Exception as exc:
        print(f"runner: {exc!r}", file=sys.stderr)
        try:
            if runner.outcome is not None:
                # codex's end was known before this failure: record that, not the failure.
                runner.record_end(*runner.outcome)
            else:
                # Record why, so the job never reads as running or done after a runner failure.
                store.transition(job_id, JobStatus.ERROR, error=f"the job's runner failed: {exc}")
        finally:
            store.schedule()
        return 1


if __name__ == "__main__":
    sys.exit(main())
