"""Class 10 (the store's side), what you start, you reap: a process that starts jobs (the UI,
the server) keeps no zombie of any runner it spawned, without anyone calling reconcile."""

from __future__ import annotations

from pathlib import Path

import psutil

from jobstore import JobStatus, JobStore, RunOptions
from tests.helpers import wait_until

JOBS = 4


def zombie_children() -> list[int]:
    zombies = []
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                zombies.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return zombies


def exited(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_runners_are_reaped_as_they_exit(store: JobStore, workdir: Path) -> None:
    jobs = [store.start(RunOptions.checked(prompt=f"quick {n}", cwd=str(workdir))) for n in range(JOBS)]
    finals = [store.wait(job.job_id, 30) for job in jobs]
    assert [f.status for f in finals] == [JobStatus.DONE] * JOBS
    runner_pids = [f.pid for f in finals if f.pid is not None]
    assert len(runner_pids) == JOBS
    wait_until(lambda: all(exited(pid) for pid in runner_pids))
    wait_until(lambda: not zombie_children())


def test_queued_jobs_started_by_another_runner_leave_no_zombie_here(
    tmp_path: Path, fake_codex: Path, workdir: Path
) -> None:
    """Jobs queued behind a limit of 1 are started by the runner of the job before them; the
    one this process spawned is reaped all the same."""
    store = JobStore(tmp_path / "one-slot", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=1)
    jobs = [store.start(RunOptions.checked(prompt=f"quick {n}", cwd=str(workdir))) for n in range(JOBS)]
    assert [store.wait(job.job_id, 60).status for job in jobs] == [JobStatus.DONE] * JOBS
    wait_until(lambda: not zombie_children())
