"""Worktree jobs in a hostile repository: start, diff, apply and discard run none of its programs,
and write no object into its `.git/objects`; a cancel while the worktree is made stops git at
once, codex never starts, and nothing of the worktree is left."""

from __future__ import annotations

import os
from pathlib import Path

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.worktree_diff import read_worktree_diff
from tests.jobstore.test_worktree_diff import git
from tests.security.test_hostile_git import fingerprint, hostile, markers  # noqa: F401  (fixtures)
from tests.security.test_snapshot_faults import (  # noqa: F401  (fixtures)
    cancelled_while_git_adds,
    codex_runs,
    large_tree,
)
from tests.worktree_repo import BRANCH


def test_a_worktree_job_runs_none_of_a_hostile_repository_s_programs(
    store: JobStore,
    hostile: Path,  # noqa: F811
    markers: Path,  # noqa: F811
) -> None:
    (hostile / "b.y").write_text("bee, the person's uncommitted edit\n")
    objects_before = fingerprint(hostile / ".git" / "objects")
    job = store.start(
        RunOptions(prompt="write=a.txt write=new.y write=new.z", cwd=str(hostile), worktree=True)
    )
    assert store.wait(job.job_id, timeout=60).status == JobStatus.DONE
    recorded = read_worktree_diff(store, job.job_id)
    assert recorded is not None and recorded.error is None
    assert sorted(recorded.files) == [("A", "new.y"), ("A", "new.z"), ("M", "a.txt")]
    applied = store.apply(job.job_id)
    assert applied.clean and sorted(applied.changed) == ["a.txt", "new.y", "new.z"]
    assert (hostile / "b.y").read_text() == "bee, the person's uncommitted edit\n"
    assert store.discard(job.job_id) == [str(store.layout.worktree_dir(job.job_id)), BRANCH + job.job_id]
    assert os.listdir(markers) == []
    assert fingerprint(hostile / ".git" / "objects") == objects_before


def test_a_cancel_while_the_worktree_is_made_stops_git_and_codex_never_starts(
    store: JobStore,
    large_tree: Path,  # noqa: F811
    codex_runs: Path,  # noqa: F811
) -> None:
    options = RunOptions(prompt="hello", cwd=str(large_tree), worktree=True)
    job_id = cancelled_while_git_adds(store, options, codex_runs)
    assert not store.layout.worktree_dir(job_id).exists()
    assert not store.layout.worktree_git_dir(job_id).exists()
    assert BRANCH + job_id not in git(large_tree, "branch", "--list")
    assert str(store.layout.worktree_dir(job_id)) not in git(large_tree, "worktree", "list")


def test_a_published_patch_applies_into_a_hostile_repository_running_none_of_its_programs(
    store: JobStore,
    hostile: Path,  # noqa: F811
    markers: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    job = store.start(
        RunOptions(prompt="write=a.txt write=new.y write=new.z", cwd=str(hostile), worktree=True)
    )
    assert store.wait(job.job_id, timeout=60).status == JobStatus.DONE
    _, patch = store.worktree_patch(job.job_id, 8 * 1024 * 1024)
    assert patch is not None
    store.discard(job.job_id)  # only the patch is left: the apply cannot use the job's objects
    objects_before = fingerprint(hostile / ".git" / "objects")
    index_before = (hostile / ".git" / "index").read_bytes()

    changed, conflicts = JobStore(tmp_path / "other").apply_patch("team-hostile", str(hostile), patch)

    assert conflicts == [] and sorted(changed) == ["a.txt", "new.y", "new.z"]
    assert (hostile / "new.y").read_text() == "written by the job: new.y\n"
    assert os.listdir(markers) == []
    assert fingerprint(hostile / ".git" / "objects") == objects_before
    assert (hostile / ".git" / "index").read_bytes() == index_before
