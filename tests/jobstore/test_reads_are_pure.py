"""Reads are pure: on a store holding a lost job and a queued one, with process creation made to
fail, every read succeeds, reports the lost job as lost, and changes no file. Recording the
loss (and starting the queued job) is `settle()`'s work, done only when asked."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobstore import JobRecord, JobStatus, JobStore, RunOptions
from jobstore.scheduler import job_alive
from tests.conftest import stop_everything
from tests.helpers import wait_until
from tests.mcp_server.mcp_helpers import call_ok
from tests.mcp_server.test_mcp_server import connect

Snapshot = dict[str, tuple[bytes | None, int]]


def snapshot(root: Path) -> Snapshot:
    """Every path under the store with its bytes (None for a folder) and its mtime."""
    found: Snapshot = {".": (None, root.stat().st_mtime_ns)}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(root))] = (None if path.is_dir() else path.read_bytes(), st.st_mtime_ns)
    return found


@dataclass(frozen=True)
class LostAndQueued:
    store: JobStore
    lost: JobRecord
    queued: JobRecord


@pytest.fixture
def lost_and_queued(tmp_path: Path, fake_codex: Path, workdir: Path) -> Iterator[LostAndQueued]:
    """A store of one slot: a job whose runner and codex were killed (it still reads `running`
    on disk, holding the slot) and a job queued behind it."""
    store = JobStore(tmp_path / "store", max_jobs=1, codex_bin=str(fake_codex), cancel_grace=2.0)
    first = store.start(RunOptions.checked(prompt="sleep=60", cwd=str(workdir)))
    second = store.start(RunOptions.checked(prompt="quick", cwd=str(workdir)))
    assert second.status == JobStatus.QUEUED
    running = wait_until(lambda: (r := store.read_record(first.job_id)).codex_pid and r.session_id and r)
    os.kill(running.pid, signal.SIGKILL)  # type: ignore[arg-type]  # the runner first: it records nothing
    os.kill(running.codex_pid, signal.SIGKILL)  # type: ignore[arg-type]
    wait_until(lambda: not job_alive(store.read_record(first.job_id)))
    assert store.read_record(first.job_id).status == JobStatus.RUNNING
    yield LostAndQueued(store, running, second)
    stop_everything(store)


@pytest.fixture
def no_new_processes(lost_and_queued: LostAndQueued, monkeypatch: pytest.MonkeyPatch) -> LostAndQueued:
    """The store above, once made, in a process that can start no other."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a read tried to start a process")

    for name in ("posix_spawn", "posix_spawnp", "fork"):
        monkeypatch.setattr(os, name, refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    return lost_and_queued


def assert_reads_lost(record: JobRecord) -> None:
    assert record.status == JobStatus.LOST
    assert "not recorded" in (record.error or "")


def test_store_reads_change_nothing_and_start_nothing(no_new_processes: LostAndQueued) -> None:
    store, lost, queued = no_new_processes.store, no_new_processes.lost, no_new_processes.queued
    before = snapshot(store.root)

    assert_reads_lost(store.get(lost.job_id))
    assert store.get(queued.job_id).status == JobStatus.QUEUED
    assert_reads_lost(store.wait(lost.job_id, 0))
    assert store.newest_job_ids(5) == store.job_ids() == sorted([lost.job_id, queued.job_id], reverse=True)
    listed = {e.job_id: e for e in store.list_jobs()}
    assert_reads_lost(listed[lost.job_id])  # type: ignore[arg-type]
    assert listed[queued.job_id].status == JobStatus.QUEUED
    assert [e.job_id for e in store.list_jobs(status="lost")] == [lost.job_id]
    assert store.list_jobs(status="running") == []
    assert [e.job_id for e in store.list_jobs(status="queued")] == [queued.job_id]
    (session,) = store.sessions()
    assert session.session_id == lost.session_id
    assert_reads_lost(session.turns[0])
    assert store.output_tail(lost.job_id).lines
    assert store.rendered_tail(lost.job_id)
    assert store.summary(lost.job_id).session_id == lost.session_id
    store.final_message(lost.job_id)

    assert snapshot(store.root) == before


async def test_codex_poll_changes_nothing_and_starts_nothing(
    no_new_processes: LostAndQueued, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, lost, queued = no_new_processes.store, no_new_processes.lost, no_new_processes.queued
    # The server's periodic check is a write with an owner of its own (it settles lost
    # jobs, and starts the store's zygote): keep it out of this test of a read.
    monkeypatch.setattr(store, "reconcile", lambda: None)
    monkeypatch.setattr(store, "keep_runners_warm", lambda: None)
    before = snapshot(store.root)
    async with connect(store) as session:
        polled = await call_ok(session, "codex_poll", {"job_id": lost.job_id})
        assert polled["status"] == "lost" and "not recorded" in polled["error"]
        polled = await call_ok(session, "codex_poll", {"job_id": queued.job_id})
        assert polled["status"] == "queued"
    assert snapshot(store.root) == before


def test_settle_records_the_loss_and_starts_queued_work(lost_and_queued: LostAndQueued) -> None:
    store, lost, queued = lost_and_queued.store, lost_and_queued.lost, lost_and_queued.queued
    settled = store.settle(lost.job_id)
    assert settled.status == JobStatus.LOST and "not recorded" not in (settled.error or "")
    assert store.read_record(lost.job_id).status == JobStatus.LOST
    assert store.wait(queued.job_id, 20).status == JobStatus.DONE
    assert store.settle(lost.job_id) == store.read_record(lost.job_id)  # a second settle changes nothing
