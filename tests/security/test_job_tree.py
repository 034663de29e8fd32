"""Class 5, the whole tree even after the runner dies: every process of a job carries a
marker a stranger cannot fake, and settling the job stops all of them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from jobstore import JobStore, RunOptions
from jobstore.processes import (
    JOB_MARKER_ENV,
    job_marker,
    marked_processes,
    marker_secret_of,
    terminate_job_tree,
)
from jobstore.record import JobRecord
from tests.helpers import wait_until


def gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def orphaned_job(store: JobStore, workdir: Path) -> tuple[JobRecord, list[psutil.Process]]:
    """A job whose runner was SIGKILLed and whose codex then exited, leaving its children
    (one in a session of its own, one in codex's group) behind."""
    job = store.start(RunOptions.checked(prompt="child please", cwd=str(workdir)))
    record = wait_until(lambda: (r := store.read_record(job.job_id)).codex_pid and r)
    codex = psutil.Process(record.codex_pid)
    children = wait_until(lambda: len(k := codex.children()) >= 2 and k)
    os.kill(record.pid, signal.SIGKILL)  # type: ignore[arg-type]
    codex.kill()
    wait_until(lambda: gone(codex))
    assert not any(gone(c) for c in children)
    return store.read_record(job.job_id), children


def test_a_runner_killed_with_children_in_their_own_sessions_leaves_nothing(
    store: JobStore, workdir: Path
) -> None:
    record, children = orphaned_job(store, workdir)
    secret = marker_secret_of(record)
    assert secret is not None
    assert {p.pid for p in children} <= {
        p.pid for p in marked_processes(record.job_id, secret, record.pid_started_at or 0)
    }
    terminate_job_tree(record, grace=1.0)
    assert all(gone(c) for c in children)
    assert marked_processes(record.job_id, secret, 0) == []


def test_settling_a_job_whose_runner_was_killed_leaves_nothing(store: JobStore, workdir: Path) -> None:
    record, children = orphaned_job(store, workdir)
    wait_until(lambda: store.get(record.job_id).status == "lost")  # reported by a read: it stops nothing
    assert not any(gone(c) for c in children)
    settled = store.settle(record.job_id)
    assert settled.status == "lost"
    assert all(gone(c) for c in children)  # gone by the time the end is recorded


def test_a_record_never_holds_a_pid_without_its_start_time(store: JobStore, workdir: Path) -> None:
    store.configure(max_jobs=1)
    first = store.start(RunOptions.checked(prompt="hold sleep=30", cwd=str(workdir)))
    queued = store.start(RunOptions.checked(prompt="after", cwd=str(workdir)))
    assert first.pid is not None and first.pid_started_at is not None  # as admitted, and as written
    assert store.read_record(first.job_id).pid_started_at is not None
    assert queued.status == "queued" and queued.pid is None
    store.cancel(first.job_id)
    started = wait_until(lambda: (r := store.read_record(queued.job_id)).pid and r)  # by the scheduler
    assert started.pid_started_at is not None


def marked_stranger(value: str, *user: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, JOB_MARKER_ENV: value}
    return subprocess.Popen([*user, "sleep", "300"], env=env, start_new_session=True)


def test_a_stranger_cannot_fake_the_marker(store: JobStore, workdir: Path) -> None:
    record, _ = orphaned_job(store, workdir)
    secret = marker_secret_of(record)
    assert secret is not None
    wrong_secret = marked_stranger(job_marker(record.job_id, "0" * 32))
    other_job = marked_stranger(job_marker("01aaaaaaaaaaaa", secret))
    try:
        terminate_job_tree(record, grace=1.0)
        assert wrong_secret.poll() is None and other_job.poll() is None
    finally:
        for proc in (wrong_secret, other_job):
            proc.kill()
            proc.wait()


def test_a_marked_process_older_than_the_job_is_not_trusted() -> None:
    proc = marked_stranger(job_marker("01aaaaaaaaaaaa", "s3cret"))
    try:
        started = psutil.Process(proc.pid).create_time()
        # Popen returns as exec closes its pipe, before the kernel has set the new
        # environment up: /proc/PID/environ reads empty for a moment.
        wait_until(
            lambda: [p.pid for p in marked_processes("01aaaaaaaaaaaa", "s3cret", started)] == [proc.pid]
        )
        assert marked_processes("01aaaaaaaaaaaa", "s3cret", started + 5) == []
    finally:
        proc.kill()
        proc.wait()


def test_another_users_process_is_never_trusted() -> None:
    if os.getuid() != 0 or not os.path.exists("/usr/sbin/runuser"):
        pytest.skip("needs root and runuser to start a process as a second user (nobody)")
    proc = marked_stranger(job_marker("01aaaaaaaaaaaa", "s3cret"), "/usr/sbin/runuser", "-u", "nobody", "--")
    sleepers: list[psutil.Process] = []
    try:
        sleepers = wait_until(lambda: [c for c in psutil.Process(proc.pid).children() if c.name() == "sleep"])
        assert sleepers[0].uids().real != os.getuid()
        marked = marked_processes("01aaaaaaaaaaaa", "s3cret", time.time() - 60)
        assert sleepers[0].pid not in {p.pid for p in marked}  # runuser itself is root's, ours
    finally:
        for sleeper in sleepers:
            sleeper.kill()
        proc.kill()
        proc.wait()


def test_the_real_codex_leaves_nothing_after_its_runner_is_killed(
    real_store: JobStore, git_repo: Path
) -> None:
    """The real codex runs a command that starts a process in a session of its own; the
    runner is SIGKILLed (as by the OOM killer) and codex finishes without it."""
    options = RunOptions.checked(
        prompt="RUN_COMMAND: setsid sleep 300 & sleep 3; echo started",
        cwd=str(git_repo),
        approval_policy="full-auto",
    )
    job = real_store.start(options)
    record = wait_until(lambda: (r := real_store.read_record(job.job_id)).codex_pid and r, timeout=60)
    secret = marker_secret_of(record)
    assert secret is not None and record.pid_started_at is not None

    def sleepers() -> list[psutil.Process]:
        found = []
        for proc in marked_processes(job.job_id, secret, record.pid_started_at or 0):
            with contextlib.suppress(psutil.Error):  # a process may end between the two looks
                if proc.cmdline() == ["sleep", "300"]:
                    found.append(proc)
        return found

    sleeper = wait_until(sleepers, timeout=60)[0]
    os.kill(record.pid, signal.SIGKILL)  # type: ignore[arg-type]
    codex = psutil.Process(record.codex_pid)
    wait_until(lambda: gone(codex), timeout=60)
    assert not gone(sleeper)  # the leftover the issue saw living on forever
    terminate_job_tree(real_store.read_record(job.job_id), grace=1.0)
    assert gone(sleeper)
    assert marked_processes(job.job_id, secret, 0) == []


def test_a_runner_is_signalled_only_once_it_handles_the_signal() -> None:
    # A cancel signals a runner only when the kernel says it catches SIGTERM (before that,
    # SIGTERM would kill it without recording anything; it finds the cancel marker instead).
    from jobstore.processes import catches_signal

    ready = (
        "import signal, time; signal.signal(signal.SIGTERM, lambda *a: None); "
        "print(1, flush=True); time.sleep(30)"
    )
    with (
        subprocess.Popen(
            [sys.executable, "-c", "import time; print(1, flush=True); time.sleep(30)"],
            stdout=subprocess.PIPE,
        ) as plain,
        subprocess.Popen([sys.executable, "-c", ready], stdout=subprocess.PIPE) as handling,
    ):
        try:
            assert plain.stdout is not None and handling.stdout is not None
            plain.stdout.readline()
            handling.stdout.readline()
            assert not catches_signal(plain.pid, signal.SIGTERM)
            assert catches_signal(handling.pid, signal.SIGTERM)
            assert catches_signal(plain.pid, signal.SIGINT)  # Python's own KeyboardInterrupt handler
            assert not catches_signal(None, signal.SIGTERM)
        finally:
            plain.kill()
            handling.kill()
