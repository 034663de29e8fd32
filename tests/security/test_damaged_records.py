"""Class 8, damaged records and leftovers: every field of a record is checked with its type and
a bad record is listed as unreadable beside the others; stale staging folders are removed;
on a full disk the true end is still recorded and every message says what really happened."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobstore import JobStatus, JobStore, RunOptions, StoreWriteError, UnreadableJob, fsio
from jobstore.ids import new_job_id
from mcp_server.convert import list_result
from tests.helpers import wait_until
from tests.security.attack import REPO, TURN_COMPLETED, make_script_codex, run_cli

BAD_FIELDS: list[tuple[str, Any]] = [
    ("pid", "123"),
    ("pid", 1.5),
    ("pid", True),
    ("pid", [1]),
    ("pid", -5),
    ("pid", 0),
    ("codex_pid", {"a": 1}),
    ("pid_started_at", "yesterday"),
    ("pid_started_at", -1.0),
    ("exit_code", "0"),
    ("exit_code", 1e9),
    ("status", "paused"),
    ("status", None),
    ("kind", "exec"),
    ("created_at", 123),
    ("created_at", "not a date"),
    ("finished_at", "x" * 100),
    ("prompt", ["a"]),
    ("prompt", "x" * 3_000_000),
    ("cwd", None),
    ("error", 5),
    ("session_id", "../../etc"),
    ("review", ["base"]),
    ("extra", [1, 2]),
    ("schema_version", "1"),
    ("job_id", "01bbbbbbbbbbbb"),  # another job's record copied in
]


def ended(store: JobStore, workdir: Path, prompt: str = "quick") -> str:
    job = store.start(RunOptions.checked(prompt=prompt, cwd=str(workdir)))
    assert store.wait(job.job_id, 30).status == JobStatus.DONE
    return job.job_id


def damaged_copy(store: JobStore, job_id: str, field: str, value: Any) -> str:
    bad_id = new_job_id()
    shutil.copytree(store.layout.job_dir(job_id), store.layout.job_dir(bad_id))
    record = json.loads(store.layout.meta(job_id).read_text())
    record |= {"job_id": bad_id, field: value}
    store.layout.meta(bad_id).write_text(json.dumps(record))
    return bad_id


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={str(v)[:12]}" for f, v in BAD_FIELDS])
def test_a_bad_field_is_listed_as_unreadable_beside_the_rest(
    store: JobStore, workdir: Path, field: str, value: Any
) -> None:
    good = ended(store, workdir)
    bad = damaged_copy(store, good, field, value)
    entries = {e.job_id: e for e in store.list_jobs()}
    assert set(entries) == {good, bad}
    assert isinstance(entries[bad], UnreadableJob) and field in entries[bad].reason
    assert not isinstance(entries[good], UnreadableJob)
    assert list_result(list(entries.values())).count == 2  # MCP codex_list's result
    store.sessions()
    store.reconcile()
    store.prune(timedelta(days=1))
    result = run_cli(store.root, "list")
    assert result.returncode == 0 and b"Traceback" not in result.stderr
    assert b"unreadable" in result.stdout and good.encode() in result.stdout


def test_a_record_with_non_finite_numbers_is_unreadable(store: JobStore, workdir: Path) -> None:
    good = ended(store, workdir)
    for value in ("NaN", "Infinity", "-Infinity"):
        bad = damaged_copy(store, good, "pid_started_at", 12345.5)
        raw = store.layout.meta(bad).read_text().replace("12345.5", value)
        store.layout.meta(bad).write_text(raw)
        assert isinstance(store.entry(bad), UnreadableJob)


def staging(store: JobStore, age: float) -> Path:
    store.ensure()
    path = store.layout.staging_dir(new_job_id())
    path.mkdir(mode=0o700)
    (path / "command.json").write_text("{}")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


@pytest.mark.parametrize("how", ["reconcile", "prune"])
def test_stale_staging_folders_are_removed_and_live_ones_kept(store: JobStore, how: str) -> None:
    stale = staging(store, 3600)
    fresh = staging(store, 0)
    held = staging(store, 3600)
    fd = fsio.open_folder(held)
    try:
        assert fsio.try_lock_folder(fd)  # its creator is still at work
        if how == "reconcile":
            store.reconcile()
        else:
            store.prune(timedelta(days=1))
        assert not stale.exists() and fresh.exists() and held.exists()
    finally:
        os.close(fd)


def test_a_creator_holds_its_staging_folder_until_the_job_is_published(
    store: JobStore, workdir: Path
) -> None:
    records = store._records
    job_id, folder = records.claim_staging()
    fd = fsio.open_folder(folder)
    try:
        assert not fsio.try_lock_folder(fd)
    finally:
        os.close(fd)
    records.discard(job_id, folder)
    assert not folder.exists()


def disk_filling_codex(bin_dir: Path, go: Path) -> Path:
    return make_script_codex(
        bin_dir, f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n" + TURN_COMPLETED
    )


def test_on_a_full_disk_the_runner_keeps_the_end_and_records_it_when_it_can(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's record writes fail with ENOSPC (while `full` exists) right when codex
    ends: the job does not read lost or error; once the disk has room, `done` with exit 0."""
    full, go = tmp_path / "disk-full", tmp_path / "go"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "from jobstore import fsio\n"
        "from jobstore.errors import StoreWriteError\n"
        "def failing(real):\n"
        "    def write(path, data, *, durable=True, **kw):\n"
        f"        if path.name == 'meta.json' and os.path.exists({str(full)!r}):\n"
        f"            open({str(full)!r} + '.tries', 'a').write('x')\n"
        "            raise StoreWriteError(f'cannot write {path}: No space left on device')\n"
        "        return real(path, data, durable=durable, **kw)\n"
        "    return write\n"
        "fsio.write_bytes_atomic = failing(fsio.write_bytes_atomic)\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(hook)]))
    codex = disk_filling_codex(tmp_path / "bin", go)
    store = JobStore(tmp_path / "store", max_jobs=2, codex_bin=str(codex), cancel_grace=1)
    job = store.start(RunOptions.checked(prompt="hello", cwd=str(workdir)))
    wait_until(lambda: store.get(job.job_id).codex_pid)
    full.touch()
    go.touch()
    wait_until(lambda: Path(f"{full}.tries").exists() and len(Path(f"{full}.tries").read_text()) >= 2)
    assert store.get(job.job_id).status == JobStatus.RUNNING  # its runner lives, holding the end
    full.unlink()
    final = store.wait(job.job_id, 30)
    assert (final.status, final.exit_code, final.error) == (JobStatus.DONE, 0, None)


def test_a_cancel_on_a_full_disk_works_and_says_so(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.start(RunOptions.checked(prompt="sleep=30", cwd=str(workdir)))
    wait_until(lambda: store.get(job.job_id).pid_started_at)

    def failing(real: Callable[..., None]) -> Callable[..., None]:
        def full_disk(path: Path, data: bytes, *, durable: bool = True, **kw: bool) -> None:
            if path.name == "meta.json":
                raise StoreWriteError(f"cannot write {path}: No space left on device")
            real(path, data, durable=durable, **kw)

        return full_disk

    # This process's writes only.
    monkeypatch.setattr(fsio, "write_bytes_atomic", failing(fsio.write_bytes_atomic))
    outcome = store.cancel(job.job_id)
    assert outcome.changed and outcome.record.status == JobStatus.CANCELLED
    assert "fail" not in outcome.message and "cancelled" in outcome.message
