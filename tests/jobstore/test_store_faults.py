"""Faults at the store level: a full or read-only disk, records damaged under a running job."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions, StoreWriteError, UnreadableJob
from jobstore.processes import is_alive
from jobstore.record import JobRecord
from jobstore.records import Records
from tests.helpers import wait_until


def run(store: JobStore, workdir: Path, prompt: str) -> JobRecord:
    return store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_refused_writes_leave_no_half_job_and_keep_old_records(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    earlier = store.wait(run(store, workdir, "earlier").job_id, 20)
    wait_until(lambda: not store.layout.running_marker(earlier.job_id).exists())  # slot freed after the end
    before = snapshot(store.root)
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StoreWriteError, match=os.strerror(code)):
        run(store, workdir, "doomed")
    monkeypatch.setattr(os, "fsync", real_fsync)
    after = snapshot(store.root)
    after.pop("scheduler.lock", None)
    before.pop("scheduler.lock", None)
    assert after == before
    assert store.job_ids() == [earlier.job_id]
    assert store.get(earlier.job_id).status == JobStatus.DONE
    assert not any(p.name.endswith(".tmp") for p in store.root.rglob("*"))


def test_failed_update_keeps_the_previous_record(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.wait(run(store, workdir, "x").job_id, 20)
    before = store.layout.meta(job.job_id).read_bytes()
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_write)
    with pytest.raises(StoreWriteError):
        Records(store.layout).update(job.job_id, error="never lands")
    monkeypatch.undo()
    assert store.layout.meta(job.job_id).read_bytes() == before


def test_output_deleted_while_running(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=1")
    wait_until(lambda: store.get(job.job_id).codex_pid)
    store.layout.output(job.job_id).unlink()
    assert store.rendered_tail(job.job_id, 10) == []
    final = store.wait(job.job_id, 20)
    assert final.status == JobStatus.DONE and final.exit_code == 0


def test_meta_deleted_while_running_is_unreadable_then_restored(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=1.5")
    # Once codex's session is recorded, the runner writes nothing more until the end.
    wait_until(lambda: store.get(job.job_id).session_id)
    store.layout.meta(job.job_id).unlink()
    (entry,) = store.list_jobs()
    assert isinstance(entry, UnreadableJob) and "no meta.json" in entry.reason
    final = wait_until(lambda: (e := store.entry(job.job_id)).is_terminal and e, timeout=20)
    assert final.status == JobStatus.DONE and final.exit_code == 0


def test_meta_garbled_while_running_is_restored_at_the_end(store: JobStore, workdir: Path) -> None:
    job = run(store, workdir, "sleep=1.5")
    wait_until(lambda: store.get(job.job_id).session_id)  # the runner's last write before the end
    store.layout.meta(job.job_id).write_bytes(b'{"job_id": "trunc')
    assert isinstance(store.entry(job.job_id), UnreadableJob)
    final = wait_until(lambda: (e := store.entry(job.job_id)).is_terminal and e, timeout=20)
    assert final.status == JobStatus.DONE
    assert not list(store.layout.running_dir.iterdir())


def test_summary_damaged_is_rebuilt(store: JobStore, workdir: Path) -> None:
    job = store.wait(run(store, workdir, "x").job_id, 20)
    store.layout.summary(job.job_id).write_bytes(b"\x00garbage")
    assert store.summary(job.job_id).turn_completed


def test_lost_job_on_a_store_that_refuses_writes_reads_lost(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = store.wait(run(store, workdir, "x").job_id, 20)
    with Records(store.layout).locked(done.job_id) as rec:
        rec.status = JobStatus.RUNNING
        rec.pid = rec.codex_pid = 999_999_999
    before = store.layout.meta(done.job_id).read_bytes()

    def refuse(fd: int) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "fsync", refuse)
    record = store.get(done.job_id)
    assert record.status == JobStatus.LOST and "not recorded" in (record.error or "")
    assert store.layout.meta(done.job_id).read_bytes() == before


def test_a_runner_whose_store_was_deleted_exits(store: JobStore, workdir: Path) -> None:
    """Removing a store under a running job (the demo does on quit) leaves no runner waiting forever
    to record an end it has nowhere to write."""
    job = store.start(RunOptions.checked(prompt="short sleep=1", cwd=str(workdir)))
    record = wait_until(lambda: (r := store.read_record(job.job_id)).codex_pid and r)
    # The runner may write while the store goes (rmtree then meets a new file): remove until gone.
    wait_until(lambda: shutil.rmtree(store.root, ignore_errors=True) or not store.root.exists())
    wait_until(lambda: not is_alive(record.pid, record.pid_started_at), timeout=30)
