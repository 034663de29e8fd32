"""Class 6, a finished job recorded as it finished: the outcome comes from codex's exit and
its whole event stream, decided before cleanup; process scans survive processes vanishing."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jobstore import JobStatus, JobStore, RunOptions
from jobstore import processes as procs
from jobstore.record import JobRecord
from tests.helpers import wait_until
from tests.security.attack import TURN_COMPLETED, make_script_codex

# codex finishes its turn and exits 0, leaving a child behind in a session of its own: the
# runner's cleanup then scans the process table while other processes come and go.
LEAVES_A_CHILD = (
    "subprocess.Popen(['sleep', '30'], start_new_session=True)\n"
    "emit({'type': 'item.completed', 'item': {'id': 'a', 'type': 'agent_message', 'text': 'ok'}})\n"
    + TURN_COMPLETED
)


def start(store: JobStore, workdir: Path, prompt: str = "go") -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))


def vanished_processes(count: int = 5) -> list[psutil.Process]:
    """psutil handles of processes that have exited since: what a scan meets under churn."""
    handles = []
    for _ in range(count):
        child = subprocess.Popen(["true"])
        handles.append(psutil.Process(child.pid))
        child.wait()
    return handles


@pytest.fixture
def vanishing_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scan of the process table meets processes that exit between two reads."""
    real_iter = psutil.process_iter

    def process_iter(*args: object, **kwargs: object) -> Iterator[psutil.Process]:
        yield from vanished_processes(2)
        yield from real_iter(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psutil, "process_iter", process_iter)


def test_every_scan_tolerates_vanishing_processes(
    vanishing_table: None, store: JobStore, workdir: Path
) -> None:
    job = store.wait(start(store, workdir).job_id, 30)
    # The runner records the end, then starts queued work and exits: let it.
    wait_until(lambda: not procs.is_alive(job.pid, job.pid_started_at))
    dead = vanished_processes(1)[0]
    assert procs.descendants(dead.pid) == []
    assert procs.marked_processes(job.job_id, "x" * 32, 0) == []
    assert procs.terminate_tree(dead.pid, 1.0, dead.pid, 0.1, extra_roots=[dead.pid]) == []
    assert procs.terminate_job_tree(job, 0.1) == []
    procs.signal_processes(vanished_processes(2), 15)
    assert procs.wait_gone(vanished_processes(2), 0.1) == []
    assert not procs.is_alive(dead.pid, 1.0) and not procs.is_same_process(dead.pid, 1.0)


def churn(stop: threading.Event) -> None:
    """Short-lived processes, one after another, until told to stop."""
    while not stop.is_set():
        subprocess.run(["true"], check=False)


def test_jobs_end_done_beside_a_churn_of_short_lived_processes(tmp_path: Path, workdir: Path) -> None:
    codex = make_script_codex(tmp_path / "bin", LEAVES_A_CHILD)
    store = JobStore(tmp_path / "store", max_jobs=4, codex_bin=str(codex), cancel_grace=2)
    stop = threading.Event()
    churners = [threading.Thread(target=churn, args=(stop,)) for _ in range(3)]
    for thread in churners:
        thread.start()
    try:
        jobs = [start(store, workdir, f"job {i}") for i in range(12)]
        finals = [store.wait(job.job_id, 120) for job in jobs]
    finally:
        stop.set()
        for thread in churners:
            thread.join()
    assert [(f.status, f.exit_code, f.error) for f in finals] == [(JobStatus.DONE, 0, None)] * len(jobs)


def test_a_cleanup_that_fails_cannot_change_the_outcome(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loaded by the runner's interpreter (its PYTHONPATH): every cleanup step it takes fails
    # the way a vanished process makes it fail.
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "cmdline = open('/proc/self/cmdline', 'rb').read()\n"
        "if b'jobstore.runner' in cmdline or b'jobstore.zygote' in cmdline:\n"
        "    import jobstore.fsio, jobstore.processes\n"
        "    def vanished(*args, **kwargs):\n"
        "        raise ProcessLookupError(3, 'No such process')\n"
        "    for name in ('terminate_tree', 'descendants', 'marked_processes', 'signal_processes'):\n"
        "        setattr(jobstore.processes, name, vanished)\n"
        "    jobstore.fsio.make_private = vanished\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    )
    codex = make_script_codex(tmp_path / "bin", LEAVES_A_CHILD)
    store = JobStore(tmp_path / "store", codex_bin=str(codex), cancel_grace=2)
    final = store.wait(start(store, workdir).job_id, 60)
    procs.terminate_job_tree(final, 1.0)  # the broken cleanup left codex's child behind
    assert (final.status, final.exit_code, final.error) == (JobStatus.DONE, 0, None)
    log = store.layout.runner_log(final.job_id).read_text()
    assert "No such process" in log  # the failure happened, and was only logged


BIG_OUTPUT = (
    "line = json.dumps({'type': 'item.completed', 'item': {'id': 'x', 'type': 'agent_message', "
    "'text': 'y' * 900}}) + '\\n'\n"
    "block = (line * 1024).encode()\n"
    "for _ in range(160):\n"
    "    sys.stdout.buffer.write(block)\n"
    "sys.stdout.flush()\n"
)


@pytest.mark.parametrize("final_newline", [True, False])
def test_a_job_that_prints_150_mb_fast_then_completes_is_done(
    tmp_path: Path, workdir: Path, final_newline: bool
) -> None:
    # The last line, turn.completed, with or without its newline.
    no_newline = "sys.stdout.write(json.dumps({'type': 'turn.completed'}))\n"
    end = TURN_COMPLETED if final_newline else no_newline
    codex = make_script_codex(tmp_path / "bin", BIG_OUTPUT + end)
    store = JobStore(tmp_path / "store", codex_bin=str(codex), cancel_grace=2)
    final = store.wait(start(store, workdir).job_id, 300)
    assert store.layout.output(final.job_id).stat().st_size > 150 * 1024 * 1024
    assert (final.status, final.exit_code, final.error) == (JobStatus.DONE, 0, None)
