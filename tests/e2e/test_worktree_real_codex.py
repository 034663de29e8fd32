"""Worktree jobs with the real codex CLI against the fake model: two at once in one repository,
the person's tree, index and stash untouched before, during and after; each job's diff only its
own; apply beside the person's edit; a conflicting apply changes nothing; discard."""

from __future__ import annotations

from pathlib import Path

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.worktree_diff import read_worktree_diff
from tests.helpers import wait_until
from tests.jobstore.test_worktree_diff import git
from tests.worktree_repo import BRANCH, UNCOMMITTED_NOTES, person_state


def start(store: JobStore, cwd: Path, command: str) -> str:
    options = RunOptions.checked(
        prompt=f"RUN_COMMAND: {command}", cwd=str(cwd), approval_policy="full-auto", worktree=True
    )
    return store.start(options).job_id


def test_two_worktree_jobs_at_once_then_apply_conflict_and_discard(
    real_store: JobStore, person_repo: Path
) -> None:
    git(person_repo, "stash", "push", "-q", "--include-untracked", "--", "draft.txt")
    (person_repo / "draft.txt").write_text("an untracked file of the person's\n")
    before = person_state(person_repo)
    one = start(real_store, person_repo, "sleep 2; echo one > one.txt")
    two = start(real_store, person_repo, "sleep 2; echo replaced by job two > notes.txt")
    wait_until(lambda: all(real_store.get(job).codex_pid for job in (one, two)), timeout=60)
    assert person_state(person_repo) == before  # during
    for job in (one, two):
        final = real_store.wait(job, 90)
        assert final.status == JobStatus.DONE, final.error
    assert person_state(person_repo) == before  # after

    diff_one, diff_two = (read_worktree_diff(real_store, job) for job in (one, two))
    assert diff_one is not None and diff_one.files == [("A", "one.txt")] and "+one" in diff_one.diff
    assert diff_two is not None and diff_two.files == [("M", "notes.txt")]
    assert "-the person's uncommitted edit" in diff_two.diff  # it started from what the person saw

    applied = real_store.apply(one)
    assert applied.clean and applied.changed == ["one.txt"]
    assert (person_repo / "one.txt").read_text() == "one\n"
    assert (person_repo / "notes.txt").read_text() == UNCOMMITTED_NOTES  # beside the person's edit
    assert (person_repo / ".git" / "index").read_bytes() == before["index"]

    (person_repo / "notes.txt").write_text("the person rewrote it meanwhile\n")
    now = person_state(person_repo)
    refused = real_store.apply(two)
    assert refused.conflicts == ["notes.txt"] and refused.branch == BRANCH + two
    assert person_state(person_repo) == now

    for job in (one, two):
        real_store.discard(job)
        assert str(real_store.layout.worktree_dir(job)) not in git(person_repo, "worktree", "list")
        assert BRANCH + job not in git(person_repo, "branch", "--list")
    assert git(person_repo, "stash", "list") == before["stash"].decode()
