"""The store against real processes: queueing, cancelling trees, crashes and pid reuse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from jobstore import JobStatus, JobStore, RunOptions, processes, scheduler
from jobstore.processes import is_alive, start_time_of
from jobstore.record import JobRecord
from jobstore.records import Records
from tests.helpers import processes_matching, wait_until


def run(store: JobStore, workdir: Path, prompt: str) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))


def test_jobs_over_the_limit_queue_and_run_in_order(tmp_path: Path, fake_codex: Path, workdir: Path) -> None:
    store = JobStore(tmp_path / "s", max_jobs=2, codex_bin=str(fake_codex), cancel_grace=2)
    jobs = [run(store, workdir, f"job {i} sleep=0.6") for i in range(6)]
    assert [j.status for j in jobs[:2]] == [JobStatus.RUNNING] * 2
    assert [j.status for j in jobs[2:]] == [JobStatus.QUEUED] * 4
    most = 0
    started_order: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = [store.get(j.job_id) for j in jobs]
        running = [r for r in records if r.status == JobStatus.RUNNING]
        most = max(most, len(running))
        for r in running:
            if r.job_id not in started_order:
                started_order.append(r.job_id)
        if all(r.is_terminal for r in records):
            break
        time.sleep(0.02)
    assert all(store.get(j.job_id).status == JobStatus.DONE for j in jobs)
    assert most <= 2
    assert started_order == [j.job_id for j in jobs]  # FIFO
    # An ended job gives up its slot right after its end is written: the last may still be doing so.
    wait_until(lambda: not list(store.layout.running_dir.iterdir()))
    assert not list(store.layout.queue_dir.iterdir())


def test_cancel_running_job_stops_its_whole_tree(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "child please")
    record = wait_until(lambda: (r := store.get(job.job_id)).codex_pid and r)
    wait_until(lambda: len(store.rendered_tail(job.job_id, 10)) >= 2)
    codex = psutil.Process(record.codex_pid)
    tree = wait_until(lambda: len(k := codex.children(recursive=True)) >= 2 and k)
    outcome = store.cancel(job.job_id)
    assert outcome.changed
    assert outcome.record.status == JobStatus.CANCELLED
    assert outcome.record.finished_at
    for proc in [codex, *tree]:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    # Cancelling again changes nothing.
    again = store.cancel(job.job_id)
    assert not again.changed and "already ended" in again.message
    assert store.get(job.job_id).to_dict() == outcome.record.to_dict()


def test_cancel_queued_job(tmp_path: Path, fake_codex: Path, workdir: Path) -> None:
    store = JobStore(tmp_path / "s", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=2)
    first = run(store, workdir, "sleep=30")
    second = run(store, workdir, "never runs")
    assert second.status == JobStatus.QUEUED
    outcome = store.cancel(second.job_id)
    assert outcome.changed and outcome.record.status == JobStatus.CANCELLED
    store.cancel(first.job_id)
    assert store.get(second.job_id).started_at is None
    assert store.get(second.job_id).pid is None


def test_only_the_first_start_to_queue_rechecks_the_running_jobs(
    tmp_path: Path, fake_codex: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JobStore(tmp_path / "s", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=2)
    first = run(store, workdir, "sleep=30")
    rechecks: list[int] = []
    real_recheck = scheduler.Scheduler._reconcile_slots_locked

    def counted(self: scheduler.Scheduler) -> set[str]:
        rechecks.append(1)
        return real_recheck(self)

    monkeypatch.setattr(scheduler.Scheduler, "_reconcile_slots_locked", counted)
    queued = [run(store, workdir, f"queued {i}") for i in range(3)]
    assert [q.status for q in queued] == [JobStatus.QUEUED] * 3
    assert len(rechecks) == 1  # the first to queue, at a full store: not each one after it
    store.cancel(first.job_id)  # its slot frees: the queue moves on, oldest first
    wait_until(lambda: store.get(queued[0].job_id).status != JobStatus.QUEUED)
    for job in queued:
        store.cancel(job.job_id)


def test_cancel_of_finished_job_changes_nothing(store: JobStore, workdir: Path) -> None:
    done = store.wait(run(store, workdir, "quick").job_id, 20)
    before = store.layout.meta(done.job_id).read_bytes()
    outcome = store.cancel(done.job_id)
    assert not outcome.changed and outcome.record.status == JobStatus.DONE
    assert store.layout.meta(done.job_id).read_bytes() == before


def test_runner_turns_sigterm_into_a_cancel(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=30")
    wait_until(lambda: store.get(job.job_id).codex_pid)
    os.kill(job.pid, signal.SIGTERM)  # type: ignore[arg-type]
    final = store.wait(job.job_id, 10)
    assert final.status == JobStatus.CANCELLED


def test_two_cancels_at_once_record_one_end(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=30")
    wait_until(lambda: store.get(job.job_id).codex_pid)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.cancel(job.job_id))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.record.status for r in results} == {JobStatus.CANCELLED}
    assert len({r.record.finished_at for r in results}) == 1


def test_job_outlives_sigkill_of_the_process_that_started_it(store: JobStore, workdir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from jobstore import JobStore, RunOptions
        store = JobStore({str(store.root)!r}, codex_bin={store.codex_bin!r})
        job = store.start(RunOptions.checked(prompt="sleep=1.5", cwd={str(workdir)!r}))
        print(job.job_id, flush=True)
        time.sleep(600)
        """
    )
    starter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    job_id = starter.stdout.readline().strip()  # type: ignore[union-attr]
    wait_until(lambda: store.get(job_id).codex_pid)
    starter.kill()
    starter.wait()
    final = store.wait(job_id, 20)
    assert final.status == JobStatus.DONE and final.exit_code == 0


def test_codex_killed_is_an_error_with_its_signal(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=30")
    codex_pid = wait_until(lambda: store.get(job.job_id).codex_pid)
    os.kill(codex_pid, signal.SIGKILL)
    final = store.wait(job.job_id, 10)
    assert final.status == JobStatus.ERROR
    assert final.exit_code == -signal.SIGKILL
    assert "SIGKILL" in (final.error or "")


def test_runner_killed_job_runs_on_then_reads_lost(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=1.5")
    record = wait_until(lambda: (r := store.get(job.job_id)).codex_pid and r)
    os.kill(record.pid, signal.SIGKILL)  # type: ignore[arg-type]
    time.sleep(0.3)
    assert store.get(job.job_id).status == JobStatus.RUNNING  # codex still works
    final = store.wait(job.job_id, 20)
    assert final.status == JobStatus.LOST
    assert final.exit_code is None
    assert final.session_id == record.session_id or final.session_id


def test_reused_pid_is_not_mistaken_for_the_job(store: JobStore, workdir: Path) -> None:
    done = store.wait(run(store, workdir, "quick").job_id, 20)
    stranger = subprocess.Popen(["sleep", "30"])
    # A stranger that started later than the job's processes by more than a start time's
    # tolerance (a quick job may end within a clock tick of the stranger's start).
    while (start_time_of(stranger.pid) or 0) - (done.codex_started_at or 0) < 0.1:
        stranger.kill()
        stranger.wait()
        time.sleep(0.05)
        stranger = subprocess.Popen(["sleep", "30"])
    try:
        # Pretend the job still runs, under pids that now belong to a stranger.
        with Records(store.layout).locked(done.job_id) as rec:
            rec.status = JobStatus.RUNNING
            rec.finished_at = None
            rec.exit_code = None
            rec.pid = stranger.pid
            rec.codex_pid = stranger.pid
        assert store.get(done.job_id).status == JobStatus.LOST
    finally:
        stranger.kill()
        stranger.wait()


def test_process_with_matching_start_time_counts_as_alive(store: JobStore, workdir: Path) -> None:
    done = store.wait(run(store, workdir, "quick").job_id, 20)
    init = psutil.Process(1)
    with Records(store.layout).locked(done.job_id) as rec:
        rec.status = JobStatus.RUNNING
        rec.pid = 1
        rec.pid_started_at = init.create_time()
    assert store.get(done.job_id).status == JobStatus.RUNNING


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_cancel_racing_natural_end_records_one_end(store: JobStore, workdir: Path, delay: float) -> None:
    job = run(store, workdir, "sleep=0.3")
    wait_until(lambda: store.get(job.job_id).codex_pid)
    time.sleep(0.2 + delay)
    outcome = store.cancel(job.job_id)
    final = store.get(job.job_id)
    assert final.status in (JobStatus.DONE, JobStatus.CANCELLED)
    assert outcome.record.status == final.status
    assert outcome.changed == (final.status == JobStatus.CANCELLED)


def exited(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_no_job_process_outlives_the_tests(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "child sleep=30")
    record = wait_until(lambda: (r := store.get(job.job_id)).codex_pid and r)
    runner = psutil.Process(record.pid)
    assert store.cancel(job.job_id).record.status == JobStatus.CANCELLED
    # The runner records the end, then schedules the next job and exits: wait for that exit
    # (by its pid), then nothing of the store's may remain.
    wait_until(lambda: exited(runner))
    assert not processes_matching(f"jobstore.runner {store.root}")
    assert not processes_matching(f"{store.root}/jobs/{job.job_id}")


def test_a_natural_end_leaves_none_of_codex_s_orphans(store: JobStore, workdir: Path) -> None:
    # codex exits on its own, leaving a grandchild in a session of its own and a plain one:
    # both are orphans the runner (a subreaper) adopted, and the end stops them before it is
    # recorded, with no scan of the machine's processes.
    job = run(store, workdir, "child sleep=0.5")
    record = wait_until(lambda: (r := store.get(job.job_id)).codex_pid and r)
    codex = psutil.Process(record.codex_pid)
    children = wait_until(lambda: len(k := codex.children()) >= 2 and k)
    ended = store.wait(job.job_id, timeout=30)
    assert ended.status == JobStatus.DONE
    assert all(exited(child) for child in children)


def test_the_runner_knows_it_adopts_orphans() -> None:
    code = (
        "from jobstore.processes import become_child_subreaper, is_child_subreaper; "
        "before = is_child_subreaper(); become_child_subreaper(); print(before, is_child_subreaper())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_access_denied_is_not_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobstore import processes

    def denied(self: psutil.Process) -> float:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "create_time", denied)
    assert processes.is_alive(1, 123.0)


def test_a_session_takes_one_turn_at_a_time(store: JobStore, workdir: Path) -> None:
    from jobstore import InvalidInput

    first = store.wait(run(store, workdir, "first turn").job_id, 20)
    outcomes: list[object] = []

    def continue_session() -> None:
        try:
            options = RunOptions.checked(
                prompt="next turn sleep=3", cwd=str(workdir), session_id=first.session_id
            )
            outcomes.append(store.start(options))
        except InvalidInput as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=continue_session) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [o for o in outcomes if isinstance(o, JobRecord)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(started) == 1 and len(refused) == 2
    assert all("already has a turn in progress" in str(e) for e in refused)


@pytest.mark.parametrize("prompt", ["please fail", "quick"])
def test_a_read_never_reports_lost_for_a_job_whose_runner_just_recorded_its_end(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch, prompt: str
) -> None:
    # The reader is "preempted" between reading the record (running) and looking at the
    # job's processes, for as long as the runner takes to record the end and exit: the
    # race seen under load, made certain.
    real_job_alive = scheduler.job_alive
    looks: list[bool] = []

    def late_look(record: JobRecord) -> bool:
        if not looks:
            wait_until(lambda: not is_alive(record.pid, record.pid_started_at), timeout=30)
        looks.append(real_job_alive(record))
        return looks[-1]

    job = run(store, workdir, prompt)
    monkeypatch.setattr(scheduler, "job_alive", late_look)
    seen = store.get(job.job_id)
    assert looks[0] is False  # the first look found the runner gone
    assert seen.status == (JobStatus.ERROR if prompt == "please fail" else JobStatus.DONE)
    assert seen == store.read_record(job.job_id)  # what the runner recorded, as it is


class PausedOnce:
    """The real clocks, as a process sees them when it is paused for 50 ms right after its
    first read of the wall clock (a loaded machine): both clocks jump ahead together."""

    CLOCK_BOOTTIME = time.CLOCK_BOOTTIME

    def __init__(self) -> None:
        self.paused = 0.0

    def time(self) -> float:
        now = time.time() + self.paused
        self.paused = 0.05
        return now

    def clock_gettime(self, clock: int) -> float:
        return time.clock_gettime(clock) + self.paused

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


def test_a_pause_between_clock_reads_never_makes_a_live_process_look_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded = start_time_of(os.getpid())
    assert recorded is not None
    monkeypatch.setattr(processes, "time", PausedOnce())
    assert is_alive(os.getpid(), recorded)
    assert processes.is_same_process(os.getpid(), recorded)
    assert start_time_of(os.getpid()) == pytest.approx(recorded, abs=0.005)
