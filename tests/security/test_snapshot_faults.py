"""A job's start snapshot of a large tree: a cancel stops it at once and codex never starts; a runner
killed in the middle of it leaves, once the job is settled, no git process and no temporary file."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.job_life import CANCELLED_BEFORE_CODEX
from jobstore.processes import marked_processes, marker_secret_of, wait_gone
from jobstore.worktree_diff import CODEX_NEVER_STARTED, DIFF_NOT_RECORDED, read_worktree_diff
from tests.helpers import wait_until
from tests.jobstore.test_worktree_diff import committed_repository

# A sparse file: git reads (and hashes, and compresses) all of it, the disk holds none of it.
LARGE_BYTES = 1024 * 1024 * 1024


@pytest.fixture
def large_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = committed_repository(tmp_path / "large", {"small.txt": "small\n"})
    with open(repo / "large.bin", "wb") as f:
        f.truncate(LARGE_BYTES)
    monkeypatch.setenv("CODEX_ASYNC_SNAPSHOT_MAX_MB", "4096")  # the runner snapshots it
    return repo


@pytest.fixture
def codex_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake codex's log of its argv: every run (not its probes) is a start of codex."""
    log = tmp_path / "codex-argv.log"
    monkeypatch.setenv("FAKE_CODEX_ARGV_LOG", str(log))
    yield log


def runs_of_codex(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    argvs = [json.loads(line) for line in log.read_text().splitlines()]
    return [argv for argv in argvs if "--version" not in argv and "--help" not in argv]


def the_job_s_git(store: JobStore, job_id: str, command: str) -> list[psutil.Process]:
    """The job's git processes running `command` (found by the job's marker)."""
    record = store.read_record(job_id)
    secret = marker_secret_of(record)
    if secret is None or record.pid_started_at is None:
        return []
    found = []
    for proc in marked_processes(job_id, secret, record.pid_started_at):
        try:
            if proc.name() == "git" and command in proc.cmdline():
                found.append(proc)
        except psutil.Error:
            continue
    return found


def no_process_of(store: JobStore, job_id: str) -> bool:
    record = store.read_record(job_id)
    secret = marker_secret_of(record)
    assert secret is not None and record.pid_started_at is not None
    return not marked_processes(job_id, secret, record.pid_started_at)


def cancelled_while_git_adds(store: JobStore, options: RunOptions, codex_runs: Path) -> str:
    """Start a job, cancel it while its git hashes the tree (`git add`); check that git was
    stopped, codex never started, and no process of the job is left. Returns the job's id."""
    job_id = store.start(options).job_id
    adding = wait_until(lambda: the_job_s_git(store, job_id, "add"), timeout=60)
    outcome = store.cancel(job_id, wait=30)
    assert outcome.message == f"job {job_id} cancelled before codex started"
    record = store.get(job_id)
    assert record.status == JobStatus.CANCELLED and record.error == CANCELLED_BEFORE_CODEX
    assert record.codex_pid is None and runs_of_codex(codex_runs) == []
    assert wait_gone(adding, 0) == []  # git was stopped, not waited for
    assert no_process_of(store, job_id)
    return job_id


def test_a_cancel_during_the_start_snapshot_stops_it_and_codex_never_starts(
    store: JobStore, large_tree: Path, codex_runs: Path
) -> None:
    job_id = cancelled_while_git_adds(store, RunOptions(prompt="hello", cwd=str(large_tree)), codex_runs)
    assert not store.layout.snapshot_dir(job_id).exists()
    diff = read_worktree_diff(store, job_id)
    assert diff is not None and diff.ended and diff.error == CODEX_NEVER_STARTED


def test_a_runner_killed_mid_snapshot_leaves_nothing_once_the_job_is_settled(
    store: JobStore, large_tree: Path, codex_runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    job_id = store.start(RunOptions(prompt="hello", cwd=str(large_tree))).job_id
    wait_until(lambda: the_job_s_git(store, job_id, "add"), timeout=60)
    record = store.read_record(job_id)
    runner = psutil.Process(record.pid)
    assert runner.create_time() > 0
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: not runner.is_running() or runner.status() == psutil.STATUS_ZOMBIE)
    assert the_job_s_git(store, job_id, "add")  # the orphan, still hashing: what settling stops
    settled = store.settle(job_id)
    assert settled.status == JobStatus.LOST
    assert no_process_of(store, job_id)
    assert not store.layout.snapshot_dir(job_id).exists()
    assert os.listdir(temp) == []
    assert runs_of_codex(codex_runs) == []
    diff = read_worktree_diff(store, job_id)
    assert diff is not None and diff.ended and diff.error == DIFF_NOT_RECORDED
