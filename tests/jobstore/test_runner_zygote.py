"""Runners forked by the store's zygote: jobs outlive whatever starts runners, and one limit holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.record import JobRecord
from jobstore.zygote_client import serving_pid
from tests.helpers import processes_matching, wait_until


def run(store: JobStore, workdir: Path, prompt: str) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))


def codex_processes(store: JobStore) -> int:
    """Live fake codex runs of the store's jobs (the truth, not the records)."""
    count = 0
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("status") != psutil.STATUS_ZOMBIE and "exec" in cmdline:
            count += any(f"{store.root}/jobs/" in part for part in cmdline)
    return count


@pytest.fixture
def zygote_store(tmp_path: Path, fake_codex: Path, workdir: Path) -> Iterator[JobStore]:
    """A store whose zygote serves (its first two jobs were spawned: the second, a sign that
    the store starts jobs often, started the zygote)."""
    store = JobStore(tmp_path / "store", max_jobs=4, codex_bin=str(fake_codex), cancel_grace=2.0)
    first = run(store, workdir, "first")
    assert serving_pid(store.root) is None  # one job is not worth a resident process
    second = run(store, workdir, "second")
    assert [store.wait(j.job_id, 30).status for j in (first, second)] == [JobStatus.DONE] * 2
    wait_until(lambda: serving_pid(store.root))
    yield store
    pid = serving_pid(store.root)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def test_a_runner_forked_by_the_zygote_looks_and_ends_like_a_spawned_one(
    zygote_store: JobStore, workdir: Path
) -> None:
    zygote = serving_pid(zygote_store.root)
    job = run(zygote_store, workdir, "forked sleep=0.5")
    wait_until(lambda: zygote_store.get(job.job_id).codex_pid)
    record = zygote_store.get(job.job_id)
    assert record.pid is not None
    # The zygote's child, in a session of its own, under the runner's own command line.
    assert [p.pid for p in processes_matching(f"jobstore.runner {zygote_store.root} {job.job_id}")] == [
        record.pid
    ]
    assert os.getsid(record.pid) == record.pid
    assert record.pid != zygote
    final = zygote_store.wait(job.job_id, 30)
    assert (final.status, final.exit_code, final.error) == (JobStatus.DONE, 0, None)


def test_a_job_survives_the_death_of_the_zygote_that_forked_its_runner(
    zygote_store: JobStore, workdir: Path
) -> None:
    job = run(zygote_store, workdir, "survivor sleep=1")
    wait_until(lambda: zygote_store.get(job.job_id).codex_pid)
    zygote = serving_pid(zygote_store.root)
    assert zygote is not None
    os.kill(zygote, signal.SIGKILL)
    wait_until(lambda: serving_pid(zygote_store.root) is None)
    # A job started with no zygote is spawned instead, and ends as well.
    after = run(zygote_store, workdir, "after the zygote died")
    finals = [zygote_store.wait(j.job_id, 30) for j in (job, after)]
    assert [(f.status, f.exit_code) for f in finals] == [(JobStatus.DONE, 0)] * 2


def test_a_job_survives_the_death_of_the_process_that_started_it(
    zygote_store: JobStore, workdir: Path, fake_codex: Path
) -> None:
    script = textwrap.dedent(
        """
        import sys
        from jobstore import JobStore, RunOptions
        root, codex, cwd = sys.argv[1:]
        store = JobStore(root, max_jobs=4, codex_bin=codex, cancel_grace=2.0)
        print(store.start(RunOptions.checked(prompt="orphan sleep=1", cwd=cwd)).job_id, flush=True)
        sys.stdin.read()  # killed while waiting here
        """
    )
    argv = [sys.executable, "-c", script, str(zygote_store.root), str(fake_codex), str(workdir)]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as starter:
        assert starter.stdout is not None
        job_id = starter.stdout.readline().strip()
        starter.kill()
    final = zygote_store.wait(job_id, 30)
    assert (final.status, final.exit_code) == (JobStatus.DONE, 0)


def test_a_stale_or_missing_zygote_never_loses_a_job(tmp_path: Path, fake_codex: Path, workdir: Path) -> None:
    # Every start of a fresh store falls back to spawning while its zygote starts up.
    store = JobStore(tmp_path / "store", max_jobs=8, codex_bin=str(fake_codex), cancel_grace=2.0)
    jobs = [run(store, workdir, f"burst {i}") for i in range(8)]
    finals = [store.wait(j.job_id, 60) for j in jobs]
    assert [f.status for f in finals] == [JobStatus.DONE] * 8
    pid = serving_pid(store.root)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def test_one_limit_across_processes_starting_jobs_at_once(
    tmp_path: Path, workdir: Path, fake_codex: Path
) -> None:
    limit = 2
    store = JobStore(tmp_path / "shared", max_jobs=limit, codex_bin=str(fake_codex), cancel_grace=2.0)
    script = textwrap.dedent(
        """
        import sys
        from jobstore import JobStore, RunOptions
        root, codex, cwd, limit = sys.argv[1:]
        store = JobStore(root, max_jobs=int(limit), codex_bin=codex, cancel_grace=2.0)
        for i in range(4):
            print(store.start(RunOptions.checked(prompt=f"shared {i} sleep=0.3", cwd=cwd)).job_id)
        """
    )
    argv = [sys.executable, "-c", script, str(store.root), str(fake_codex), str(workdir), str(limit)]
    most = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal most
        while not stop.is_set():
            most = max(most, codex_processes(store))
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    starters = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    ids = [line for s in starters for line in s.communicate()[0].split()]
    finals = [store.wait(job_id, 60) for job_id in ids]
    stop.set()
    sampler.join()
    assert [f.status for f in finals] == [JobStatus.DONE] * 12
    assert 1 <= most <= limit
    pid = serving_pid(store.root)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def test_a_job_started_from_inside_a_job_gets_a_spawned_runner_and_no_zygote(
    tmp_path: Path, fake_codex: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outer job's marker must reach the nested runner where marker scans look (its
    # exec'd environment); a zygote would also pass it to runners of unrelated jobs.
    monkeypatch.setenv("CODEX_ASYNC_JOB", "01m8aaaaaaaaaa:0123456789abcdef0123456789abcdef")
    store = JobStore(tmp_path / "nested", max_jobs=4, codex_bin=str(fake_codex), cancel_grace=2.0)
    for prompt in ("nested one", "nested two"):
        job = run(store, workdir, prompt)
        assert psutil.Process(job.pid).ppid() == os.getpid()  # spawned by us, not forked
        assert store.wait(job.job_id, 30).status == JobStatus.DONE
    assert serving_pid(store.root) is None


def test_a_start_time_does_not_move_when_the_boot_time_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # /proc/stat's btime is a whole second that moves when the clock is adjusted; a start time
    # recorded by a long-lived process (the zygote's runners) must still prove the same process.
    from jobstore import processes

    recorded = processes.start_time_of(os.getpid())
    assert recorded is not None
    moved = psutil.boot_time() + 1.0
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: moved)
    assert processes.is_same_process(os.getpid(), recorded)
    assert processes.is_alive(os.getpid(), recorded)
    assert not processes.is_same_process(os.getpid(), recorded + 1.0)


def test_a_store_kept_warm_forks_its_very_first_runner(
    tmp_path: Path, fake_codex: Path, workdir: Path
) -> None:
    # What a server does at its start: the zygote is born while the first start waits for it
    # (at most a moment) instead of spawning a runner.
    store = JobStore(tmp_path / "store", max_jobs=4, codex_bin=str(fake_codex), cancel_grace=2.0)
    store.keep_runners_warm()
    job = run(store, workdir, "first sleep=2")
    zygote = serving_pid(store.root)
    try:
        assert zygote is not None
        record = store.get(job.job_id)
        assert record.pid is not None
        assert psutil.Process(record.pid).ppid() == zygote  # forked, not spawned by us
        final = store.wait(job.job_id, 30)
        assert (final.status, final.exit_code) == (JobStatus.DONE, 0)
        # Kept warm again (a server's periodic check): the serving zygote is asked, not replaced.
        store.keep_runners_warm()
        assert serving_pid(store.root) == zygote
        assert len(processes_matching(f"jobstore.zygote {store.root}")) == 1
    finally:
        if zygote is not None:
            os.kill(zygote, signal.SIGKILL)


def test_no_zygote_is_kept_warm_inside_a_job(
    tmp_path: Path, fake_codex: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobstore.processes import JOB_MARKER_ENV

    monkeypatch.setenv(JOB_MARKER_ENV, "job:secret")
    store = JobStore(tmp_path / "store", codex_bin=str(fake_codex))
    store.keep_runners_warm()
    assert serving_pid(store.root) is None
    assert processes_matching(f"jobstore.zygote {store.root}") == []
