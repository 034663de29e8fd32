"""codex run as `codex exec --json` for one job: started, followed to its exit, its tree stopped.

codex runs in a new process group with stdin closed (or the prompt file) and stdout+stderr
appended to output.txt. Codex writes straight to the file, not through the runner, so
its output survives the runner. Following it learns the session id and keeps a summary;
a cancel request becomes SIGTERM / grace / SIGKILL for codex's whole tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psutil

from jobstore import fsio, inotify
from jobstore.events import Summary, total_tokens
from jobstore.job_life import JobLife, Outcome, codex_outcome, log
from jobstore.output_file import OutputFollower
from jobstore.processes import (
    descendants,
    is_child_subreaper,
    marked_processes,
    signal_group,
    signal_processes,
    start_time_of,
    terminate_tree,
    wait_gone,
)
from jobstore.record import parse_iso
from jobstore.watch import Wakeup

FALLBACK_TICK_SECONDS = 0.1
SUMMARY_EVERY_SECONDS = 0.5
# The parser sees whole events up to this size; longer lines are cut (and counted).
MAX_EVENT_BYTES = 1024 * 1024
_MAX_COMMAND_BYTES = 4 * 1024 * 1024


@contextlib.contextmanager
def signals_wake(wakeup: Wakeup) -> Iterator[Callable[[], None]]:
    """Signals to this process (a cancel) wake `wakeup` through the wakeup fd; yields the call
    that forgets the signals seen (the handlers have noted them)."""
    signal_read, signal_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous_wakeup_fd = signal.set_wakeup_fd(signal_write)

    def forget() -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(signal_read, 512):
                pass

    try:
        wakeup.watch_fd(signal_read)
        yield forget
    finally:
        signal.set_wakeup_fd(previous_wakeup_fd)
        os.close(signal_read)
        os.close(signal_write)


def _earliest(tick: float | None, *deadlines: float | None) -> float | None:
    """Seconds until the earliest of the monotonic `deadlines` (or `tick`); None: no limit."""
    now = time.monotonic()
    waits = [d - now for d in deadlines if d is not None and d != float("inf")]
    if tick is not None:
        waits.append(tick)
    return max(min(waits), 0) if waits else None


class CodexExec:
    """One job's codex process and what its event stream told so far."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.follower: OutputFollower | None = None
        self.summary = Summary()
        self.last_raw_line: str | None = None
        self._summary_dirty = False
        # The first summary is due one pause after the runner starts, not at codex's first
        # event: a job shorter than that writes it once, at its end (readers build it from
        # the output meanwhile).
        self._summary_written_at = time.monotonic()

    # ------------------------------------------------------------------ start

    def start(self, life: JobLife) -> bool:
        """Spawn codex for the job, unless a cancel came first (False: codex never started).
        Raises OSError or StoreRefused when it cannot start."""
        layout, job_id = life.layout, life.job_id
        # Every file of the job is opened without following a symlink, and only if ours.
        command = json.loads(fsio.read_file(layout.command(job_id), limit=_MAX_COMMAND_BYTES))
        out_fd = fsio.open_file(layout.output(job_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            # Pre-created private, so codex's own write of it does not follow the umask.
            fsio.create_empty(layout.last_message(job_id))
            if life.cancel.requested():  # the last moment before codex exists
                return False
            env = {**os.environ, **life.marker_env}
            self.follower = OutputFollower(
                layout.output(job_id),
                os.fstat(out_fd).st_size,
                max_line_bytes=MAX_EVENT_BYTES,
                max_line_chars=MAX_EVENT_BYTES,
            )
            self.proc = self.spawn(life, command, out_fd, env)
        finally:
            os.close(out_fd)
        # codex is our unreaped child: its pid cannot be reused, so this start time is its own.
        self.started_at = start_time_of(self.proc.pid)
        life.write(None, codex_pid=self.proc.pid, codex_pgid=self.proc.pid, codex_started_at=self.started_at)
        return True

    def spawn(
        self, life: JobLife, command: dict[str, Any], out_fd: int, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        """codex exec, its stdout and stderr appended to the output, its prompt (if not in
        its argv) on stdin."""
        stdin_path = life.layout.prompt_file(life.job_id) if command.get("stdin") else None
        stdin = fsio.open_file(stdin_path, os.O_RDONLY) if stdin_path else subprocess.DEVNULL
        try:
            return subprocess.Popen(
                command["argv"],
                stdin=stdin,  # never a pipe: codex would wait on it
                stdout=out_fd,
                stderr=out_fd,
                cwd=life.cwd,
                env=env,
                start_new_session=True,  # its own process group: cancel signals the group
                close_fds=True,
            )
        finally:
            if stdin_path:
                os.close(stdin)

    # ----------------------------------------------------------------- follow

    def follow(self, life: JobLife) -> Outcome:
        """Follow codex until it exits, asleep between events: codex exiting (its pidfd),
        its output growing or the cancel marker appearing (inotify), a signal (the wakeup
        pipe). Timeouts only for what is due: a summary to write, a cancel's grace. The
        outcome comes from codex's exit and its whole event stream."""
        assert self.proc is not None and self.follower is not None, "codex was not started"
        proc, follower = self.proc, self.follower
        cancel_deadline: float | None = None
        with Wakeup() as wakeup, signals_wake(wakeup) as forget_signals:
            wakeup.watch_process(proc.pid)
            wakeup.watch_path(life.layout.output(life.job_id), inotify.IN_MODIFY)
            wakeup.watch_path(
                life.layout.job_dir(life.job_id), inotify.IN_CREATE | inotify.IN_MOVED_TO, folder=True
            )
            # Without inotify or pidfds, look again at this pace.
            fallback_tick = None if wakeup.reliable else FALLBACK_TICK_SECONDS
            while True:
                returncode = proc.poll()
                if returncode is not None:
                    self._drain(life)
                    return codex_outcome(
                        returncode,
                        self.summary,
                        cancel_requested=life.cancel.requested(),
                        last_raw_line=self.last_raw_line,
                    )
                before = follower.offset
                self._consume(life, follower.read_new())
                # A read that filled its budget left more to read: look again at once.
                backlog = follower.offset - before >= follower.max_read_bytes
                cancel_deadline = self.escalate_cancel(life, cancel_deadline, life.cancel.requested())
                summary_due = self.write_summary(life)
                wakeup.wait(0 if backlog else _earliest(fallback_tick, summary_due, cancel_deadline))
                wakeup.clear()
                forget_signals()

    def escalate_cancel(self, life: JobLife, deadline: float | None, requested: bool) -> float | None:
        """A cancel's steps: SIGTERM to codex's tree when it is first seen, SIGKILL once the
        grace is over. Returns the next deadline (inf: nothing more to do)."""
        if deadline is None and requested:
            self._signal_quietly(life, signal.SIGTERM)
            return time.monotonic() + life.port.cancel_grace
        if deadline is not None and time.monotonic() >= deadline:
            self._signal_quietly(life, signal.SIGKILL)
            return float("inf")
        return deadline

    def _drain(self, life: JobLife) -> None:
        """Read codex's output to its very end (each read is bounded; a fast writer may have
        left hundreds of MB unread), then the last line even without its newline."""
        assert self.follower is not None
        while True:
            before = self.follower.offset
            self._consume(life, self.follower.read_new())
            if self.follower.offset == before:
                break
        self._consume(life, self.follower.read_new(final=True))

    def _consume(self, life: JobLife, lines: list[str]) -> None:
        for line in lines:
            before = self.summary.session_id
            self.summary.feed_line(line)
            if line.strip() and not line.lstrip().startswith("{"):
                self.last_raw_line = line.strip()[:500]
            session_id = self.summary.session_id
            if session_id and session_id != before:
                # In the session index at once; in the record with its next write (the
                # summary's, or the job's end): a short job's start and end cost one write less.
                try:
                    if session_id != life.record.session_id:
                        life.port.index_session(session_id)
                    life.defer(session_id=session_id)
                except Exception as exc:
                    log(f"cannot record session id: {exc}")
            self._summary_dirty = True

    def write_summary(self, life: JobLife, *, force: bool = False) -> float | None:
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
            # The runner is the summary's one writer.
            fsio.write_json_atomic(life.layout.summary(life.job_id), summary, durable=False)
            self._summary_dirty = False
            self._summary_written_at = now
        except Exception as exc:
            log(f"cannot write summary: {exc}")
            self._summary_written_at = now  # try again after the usual pause
            return now + SUMMARY_EVERY_SECONDS
        if not force:  # at the cleanup, the job's end writes them
            try:
                life.write_deferred()
            except Exception as exc:
                log(f"cannot record {', '.join(life.deferred)}: {exc}")
        return None

    # ------------------------------------------------------------------- stop

    def _signal_quietly(self, life: JobLife, sig: int) -> None:
        try:
            self._signal_tree(life, sig)
        except Exception as exc:
            log(f"cannot signal codex's tree: {exc!r}")

    def _signal_tree(self, life: JobLife, sig: int) -> None:
        # codex's group (its leader is our unreaped child, proven by its start time), every
        # descendant (codex runs shell commands in sessions of their own, which the group
        # signal does not reach), and whatever carries the job's marker.
        assert self.proc is not None
        signal_group(self.proc.pid, sig, leader_started_at=self.started_at)
        signal_processes([*descendants(os.getpid()), *self._marked(life)], sig)

    def _marked(self, life: JobLife) -> list[psutil.Process]:
        if life.record.pid_started_at is None:
            return []
        return marked_processes(life.job_id, life.marker_secret, life.record.pid_started_at)

    def stop_leftovers(self, life: JobLife) -> None:
        """Whatever codex started and left behind was reparented to us (subreaper) or carries
        the job's marker: nothing of the job may outlive it. SIGTERM, a second, SIGKILL.
        As a subreaper, every orphan of codex's tree is ours, so a clean end looks only at our
        tree; the marker scan reads every process of the machine (in a burst of jobs, each end
        paid for all the others' processes) and is kept for when the kernel adopts nothing for us."""
        if descendants(os.getpid()) or (not is_child_subreaper() and self._marked(life)):
            terminate_tree(None, None, None, 1.0, extra_roots=[os.getpid()])
            # Marked processes outside our tree (reparented elsewhere): gone before the end is recorded.
            marked = self._marked(life)
            signal_processes(marked, signal.SIGKILL)
            wait_gone(marked, 2.0)

    def count_review_tokens(self, life: JobLife) -> None:
        """A review's tokens are its sub-agent's: codex reports the review turn's as zeros."""
        thread_id = self.summary.session_id
        if life.record.kind != "review" or total_tokens(self.summary.usage) or thread_id is None:
            return
        # Imported here: only a review's runner reads codex's sessions (~10 ms of imports).
        from jobstore.review_usage import review_usage

        since = parse_iso(life.record.started_at or life.record.created_at) or datetime.now(UTC)
        usage = review_usage(life.port.codex_home, thread_id, since)
        if usage:
            self.summary.usage = usage
            self._summary_dirty = True

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
