"""Class 4, signals only after identity is proven: a pid with its recorded start time, a
group only while its leader is proven; strangers named by a record are never signalled."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.processes import (
    UnprovenProcess,
    signal_group,
    signal_process,
    start_time_of,
    terminate_tree,
)
from jobstore.record import JobRecord
from jobstore.records import Records
from tests.security.attack import TURN_COMPLETED, make_script_codex


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not the job's, leading a process group of its own."""
    proc = subprocess.Popen(["sleep", "300"], process_group=0)
    yield proc
    proc.kill()
    proc.wait()


def alive(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


def test_a_pid_without_start_time_is_never_signalled(stranger: subprocess.Popen[bytes]) -> None:
    with pytest.raises(UnprovenProcess):
        signal_process(stranger.pid, None, signal.SIGTERM)
    with pytest.raises(UnprovenProcess):
        signal_group(stranger.pid, signal.SIGTERM, leader_started_at=None)
    assert alive(stranger)


def test_a_reused_pid_is_never_signalled(stranger: subprocess.Popen[bytes]) -> None:
    wrong_start = (start_time_of(stranger.pid) or 0) - 50.0  # the job's process, long gone
    assert not signal_process(stranger.pid, wrong_start, signal.SIGTERM)
    assert not signal_group(stranger.pid, signal.SIGTERM, leader_started_at=wrong_start)
    assert terminate_tree(stranger.pid, wrong_start, stranger.pid, 0.2) == []
    assert alive(stranger)


def test_the_proven_process_is_signalled(stranger: subprocess.Popen[bytes]) -> None:
    assert signal_process(stranger.pid, start_time_of(stranger.pid), signal.SIGTERM)
    assert stranger.wait(10) == -signal.SIGTERM


def test_a_group_whose_leader_is_gone_is_not_signalled_as_a_group() -> None:
    """Once the leader exits, its group id proves nothing: the members left in it are not
    signalled through the group (the job's own are found by their marker instead)."""
    leader = subprocess.Popen(["sleep", "300"], process_group=0)
    member = subprocess.Popen(["sleep", "300"], process_group=leader.pid)
    try:
        leader_started = start_time_of(leader.pid)
        leader.kill()
        leader.wait()
        assert not signal_group(leader.pid, signal.SIGTERM, leader_started_at=leader_started)
        assert terminate_tree(leader.pid, leader_started, leader.pid, 0.2) == []
        assert alive(member)
    finally:
        member.kill()
        member.wait()


def running_record(store: JobStore, workdir: Path, **fields: object) -> JobRecord:
    """A finished job turned back into a `running` one whose processes are as given."""
    job = store.wait(store.start(RunOptions.checked(prompt="quick", cwd=str(workdir))).job_id, 30)
    assert job.status == JobStatus.DONE
    with Records(store.layout).locked(job.job_id) as record:
        record.status = JobStatus.RUNNING
        record.finished_at = None
        for name, value in fields.items():
            setattr(record, name, value)
    return store.read_record(job.job_id)


def dead_pid() -> tuple[int, float]:
    proc = subprocess.Popen(["true"])
    started = start_time_of(proc.pid)
    proc.wait()
    assert started is not None
    return proc.pid, started


def test_cancel_spares_a_stranger_group_named_by_the_record(
    store: JobStore, workdir: Path, stranger: subprocess.Popen[bytes]
) -> None:
    runner_pid, runner_started = dead_pid()
    codex_pid, codex_started = dead_pid()
    job = running_record(
        store,
        workdir,
        pid=runner_pid,
        pid_started_at=runner_started,
        codex_pid=codex_pid,
        codex_started_at=codex_started,
        codex_pgid=stranger.pid,
    )
    store.cancel(job.job_id, wait=5)
    assert alive(stranger)


def test_cancel_spares_a_stranger_recorded_without_start_time(
    store: JobStore, workdir: Path, stranger: subprocess.Popen[bytes]
) -> None:
    runner_pid, runner_started = dead_pid()
    job = running_record(
        store,
        workdir,
        pid=runner_pid,
        pid_started_at=runner_started,
        codex_pid=stranger.pid,
        codex_started_at=None,
        codex_pgid=stranger.pid,
    )
    store.cancel(job.job_id, wait=5)
    assert alive(stranger)


def test_the_runner_proves_itself_before_codex_exists(tmp_path: Path, workdir: Path) -> None:
    """codex, at its first instruction, finds its job's record already holding the runner's
    start time and the tree's marker: there is no moment in which they are missing."""
    body = (
        "meta = os.path.join(os.path.dirname(args[args.index('--output-last-message') + 1]), 'meta.json')\n"
        "record = json.load(open(meta))\n"
        "emit({'type': 'item.completed', 'item': {'id': 'm', 'type': 'agent_message', 'text': "
        "json.dumps([record['pid_started_at'], bool(record['extra'].get('process_marker')), "
        "os.environ.get('CODEX_ASYNC_JOB', '')])}})\n" + TURN_COMPLETED
    )
    codex = make_script_codex(tmp_path / "bin", body)
    store = JobStore(tmp_path / "store", codex_bin=str(codex), cancel_grace=2)
    job = store.wait(store.start(RunOptions.checked(prompt="probe", cwd=str(workdir))).job_id, 30)
    assert job.status == JobStatus.DONE, job.error
    started_at, has_marker, marker_env = json.loads(store.summary(job.job_id).last_agent_message or "")
    assert isinstance(started_at, float) and has_marker
    assert marker_env == f"{job.job_id}:{job.extra['process_marker']}"
    assert job.pid_started_at == started_at
