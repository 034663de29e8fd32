"""The demo's simulated codex plays its jobs through the real store and runner."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jobstore import JobStatus, JobStore, RunOptions, read_worktree_diff
from tests.conftest import stop_everything
from tests.helpers import processes_matching, wait_until
from tui.demo import scenarios, setup


@pytest.fixture
def demo_store(tmp_path: Path) -> Iterator[tuple[JobStore, Path]]:
    before = dict(os.environ)
    env = setup.prepare(tmp_path, speed=0.05)
    assert dict(os.environ) == before  # the demo passes codex_bin on; it sets no variable
    store = JobStore(env.store_root, codex_bin=str(env.codex_bin), cancel_grace=2)
    yield store, env.project
    stop_everything(store)


def test_demo_plays_every_kind_of_job(demo_store: tuple[JobStore, Path]) -> None:
    store, project = demo_store
    player = threading.Thread(target=setup.play, args=(store, project), kwargs={"pace": 0.1})
    player.start()
    by_prompt = wait_until(
        lambda: (
            (jobs := {j.prompt: j for j in store.list_jobs(limit=50)}) and scenarios.AUDIT in jobs and jobs
        ),
        timeout=30,
    )
    audit = by_prompt[scenarios.AUDIT]

    def hour_long() -> list[psutil.Process]:
        """The demo's hour-long command: its own project's, not another demo's on the machine."""
        found = []
        for proc in processes_matching("sleep 3600"):
            with contextlib.suppress(psutil.Error):
                if proc.cwd().startswith(str(project)):
                    found.append(proc)
        return found

    wait_until(hour_long, timeout=20)
    player.join(60)
    jobs = {j.prompt: store.wait(j.job_id, 30) for j in store.list_jobs(limit=50) if j.job_id != audit.job_id}
    assert jobs[scenarios.FEATURE].status == JobStatus.DONE
    assert jobs[scenarios.FIX_TESTS].status == JobStatus.DONE
    assert jobs[scenarios.MIGRATION].status == JobStatus.ERROR
    assert jobs["Review uncommitted changes"].status == JobStatus.DONE
    first, second = jobs[scenarios.EXPLAIN], jobs[scenarios.FOLLOW_UP]
    assert second.status == JobStatus.DONE and second.session_id == first.session_id
    kinds = {line.kind for line in store.rendered_tail(jobs[scenarios.FEATURE].job_id, 200)}
    assert {"reasoning", "command", "agent", "file_change", "todo", "usage"} <= kinds
    assert store.get(audit.job_id).status == JobStatus.RUNNING
    assert store.cancel(audit.job_id).record.status == JobStatus.CANCELLED
    assert hour_long() == []


def test_the_demo_s_feature_job_runs_in_a_worktree_whose_change_can_be_applied(
    demo_store: tuple[JobStore, Path],
) -> None:
    store, project = demo_store
    job = store.start(RunOptions.checked(prompt=scenarios.FEATURE, cwd=str(project), worktree=True))
    assert store.wait(job.job_id, 60).status == JobStatus.DONE
    recorded = read_worktree_diff(store, job.job_id)
    assert recorded is not None and sorted(recorded.files) == [("M", "README.md"), ("M", "src/cli.py")]
    assert "--verbose" not in (project / "src" / "cli.py").read_text()
    applied = store.apply(job.job_id)
    assert applied.clean and "--verbose" in (project / "src" / "cli.py").read_text()
    assert "return a - b" in (project / "app.py").read_text()  # the demo's uncommitted edit kept
