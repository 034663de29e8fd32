"""Class 3, symlinks and foreign files inside the store: no open, create, write, chmod or
delete in the store follows a symlink; a job folder or file that is not a plain entry of ours
is listed as unreadable and never written (cancel, settle, prune, the runner's files)."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions, StoreRefused, UnreadableJob, UnreadableRecord, fsio
from tests.helpers import wait_until


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the store with a file a symlink may point at (mode 0644)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    victim = folder / "victim"
    victim.write_text("untouched\n")
    victim.chmod(0o644)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.name: (stat.S_IMODE(p.stat().st_mode), p.read_bytes() if p.is_file() else b"")
        for p in sorted(folder.iterdir())
    }


def ended(store: JobStore, workdir: Path, prompt: str = "quick") -> str:
    job = store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))
    assert store.wait(job.job_id, 30).status == JobStatus.DONE
    return job.job_id


def test_a_job_folder_that_is_a_symlink_is_unreadable_and_never_written(
    store: JobStore, workdir: Path, outside: Path
) -> None:
    job_id = ended(store, workdir)
    job_dir = store.layout.job_dir(job_id)
    # The stranger's folder holds a record that reads "running", with our job's name.
    for path in job_dir.iterdir():
        os.replace(path, outside / path.name)
    job_dir.rmdir()
    meta = (outside / "meta.json").read_text().replace('"status": "done"', '"status": "running"')
    (outside / "meta.json").write_text(meta)
    job_dir.symlink_to(outside)
    before = snapshot(outside)
    (entry,) = store.list_jobs()
    assert isinstance(entry, UnreadableJob) and "symlink" in entry.reason
    with pytest.raises(UnreadableRecord):
        store.cancel(job_id)
    with pytest.raises(UnreadableRecord):
        store.settle(job_id)
    store.reconcile()
    assert store.prune(older_than=timedelta(0)) == []
    assert snapshot(outside) == before and job_dir.is_symlink()


@pytest.mark.parametrize("name", ["meta.json", "output.txt", "summary.json", "last_message.txt"])
def test_a_file_of_a_job_that_is_a_symlink_is_never_followed(
    store: JobStore, workdir: Path, outside: Path, name: str
) -> None:
    job_id = ended(store, workdir)
    path = store.layout.job_dir(job_id) / name
    path.unlink()
    path.symlink_to(outside / "victim")
    before = snapshot(outside)
    entry = store.entry(job_id)
    if name == "meta.json":
        assert isinstance(entry, UnreadableJob) and "symlink" in entry.reason
    else:
        assert "untouched" not in (store.final_message(job_id) or "")
        if name == "output.txt":
            with pytest.raises(UnreadableRecord, match="output.txt"):
                store.output_tail(job_id)
    fsio.make_private(store.layout.job_dir(job_id))
    assert snapshot(outside) == before


def test_the_runner_never_writes_through_a_symlinked_output(
    tmp_path: Path, fake_codex: Path, workdir: Path, outside: Path
) -> None:
    store = JobStore(tmp_path / "one-slot", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=1)
    first = store.start(RunOptions.checked(prompt="sleep=1", cwd=str(workdir)))
    queued = store.start(RunOptions.checked(prompt="quick", cwd=str(workdir)))
    assert queued.status == JobStatus.QUEUED
    output = store.layout.output(queued.job_id)
    output.unlink()
    output.symlink_to(outside / "victim")
    before = snapshot(outside)
    store.wait(first.job_id, 30)
    final = wait_until(lambda: (r := store.get(queued.job_id)).is_terminal and r)
    assert final.status == JobStatus.ERROR and "symlink" in (final.error or "")
    assert snapshot(outside) == before


@pytest.mark.parametrize("name", ["lock", "cancel"])
def test_cancel_never_creates_through_a_symlink(
    store: JobStore, workdir: Path, outside: Path, name: str
) -> None:
    job = store.start(RunOptions.checked(prompt="sleep=30", cwd=str(workdir)))
    wait_until(lambda: store.get(job.job_id).codex_pid)
    (store.layout.job_dir(job.job_id) / name).unlink(missing_ok=True)
    (store.layout.job_dir(job.job_id) / name).symlink_to(outside / "planted")
    with pytest.raises(StoreRefused, match="symlink"):
        store.cancel(job.job_id)
    assert not (outside / "planted").exists()
    (store.layout.job_dir(job.job_id) / name).unlink()  # let the fixture stop the job


def test_a_session_index_that_is_a_symlink_is_neither_read_nor_appended_to(
    store: JobStore, workdir: Path, outside: Path
) -> None:
    job_id = ended(store, workdir)
    session_id = store.get(job_id).session_id
    assert session_id is not None
    index = store.layout.session_index(session_id)
    index.unlink()
    (outside / "victim").write_text(f"{job_id}\n")
    index.symlink_to(outside / "victim")
    before = snapshot(outside)
    assert store.session(session_id, missing_ok=True) is None
    with pytest.raises(StoreRefused, match="symlink"):
        fsio.append_line(index, job_id)
    assert snapshot(outside) == before


def test_a_job_folder_with_a_foreign_file_is_unreadable(store: JobStore, workdir: Path) -> None:
    """A record that is not a plain file (a folder, a fifo) is reported, never read."""
    job_id = ended(store, workdir)
    meta = store.layout.meta(job_id)
    meta.unlink()
    os.mkfifo(meta, 0o600)  # opening it to read would block forever
    entry = store.entry(job_id)
    assert isinstance(entry, UnreadableJob) and "not a plain file" in entry.reason
    meta.unlink()
    meta.mkdir(mode=0o700)
    assert isinstance(store.entry(job_id), UnreadableJob)


def test_prune_never_deletes_through_a_symlinked_job_folder(
    store: JobStore, workdir: Path, outside: Path
) -> None:
    job_id = ended(store, workdir)
    job_dir = store.layout.job_dir(job_id)
    fsio.remove_tree(job_dir)
    job_dir.symlink_to(outside)
    with pytest.raises(StoreRefused):
        fsio.remove_tree(job_dir)
    assert (outside / "victim").read_text() == "untouched\n"
