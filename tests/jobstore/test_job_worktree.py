"""Worktree jobs with the real runner and real git (a fake codex): start, diff, apply, discard."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStatus, JobStore, RunOptions
from jobstore.worktree_diff import read_worktree_diff
from tests.jobstore.test_worktree_diff import committed_repository, git
from tests.worktree_repo import BRANCH, UNCOMMITTED_NOTES, objects_of, person_state


def run_worktree_job(store: JobStore, cwd: Path, prompt: str) -> str:
    record = store.start(RunOptions(prompt=prompt, cwd=str(cwd), worktree=True))
    ended = store.wait(record.job_id, timeout=60)
    assert ended.status == JobStatus.DONE, ended.error
    return record.job_id


def test_a_worktree_job_changes_only_its_worktree_and_applies_beside_the_persons_edit(
    store: JobStore, person_repo: Path
) -> None:
    before = person_state(person_repo)
    objects_before = objects_of(person_repo)
    job_id = run_worktree_job(store, person_repo / "src", "write=made.py")
    record = store.get(job_id)
    assert person_state(person_repo) == before
    assert record.worktree_branch == BRANCH + job_id
    assert record.worktree_path == str(store.layout.worktree_dir(job_id))
    worktree = Path(record.worktree_path)
    # It started from what the person sees; codex ran at the same folder inside it.
    assert (worktree / "notes.txt").read_text() == UNCOMMITTED_NOTES
    assert (worktree / "draft.txt").exists() and not (worktree / "debug.log").exists()
    assert (worktree / "src" / "made.py").exists()
    recorded = read_worktree_diff(store, job_id)
    assert recorded is not None and recorded.error is None
    assert recorded.files == [("A", "src/made.py")]
    assert "written by the job" in recorded.diff
    # Our snapshots' objects are ours: the person's object store gained none of them.
    assert objects_of(person_repo) == objects_before
    assert str(worktree) in git(person_repo, "worktree", "list")
    size = store.worktree_size(job_id)
    assert size is not None and size > 0

    applied = store.apply(job_id)
    assert applied.clean and applied.changed == ["src/made.py"]
    assert (person_repo / "src" / "made.py").read_text() == "written by the job: made.py\n"
    assert (person_repo / "notes.txt").read_text() == UNCOMMITTED_NOTES
    assert (person_repo / ".git" / "index").read_bytes() == before["index"]
    assert store.get(job_id).applied_at is not None
    with pytest.raises(InvalidInput, match="applied already"):
        store.apply(job_id)

    removed = store.discard(job_id)
    assert removed == [str(worktree), BRANCH + job_id]
    assert str(worktree) not in git(person_repo, "worktree", "list")
    assert BRANCH + job_id not in git(person_repo, "branch", "--list")
    assert not worktree.exists()


def test_a_conflicting_apply_changes_nothing_and_names_the_file(store: JobStore, person_repo: Path) -> None:
    job_id = run_worktree_job(store, person_repo, "write=notes.txt")
    (person_repo / "notes.txt").write_text("the person rewrote it meanwhile\n")
    before = person_state(person_repo)
    applied = store.apply(job_id)
    assert applied.conflicts == ["notes.txt"] and applied.branch == BRANCH + job_id
    assert person_state(person_repo) == before
    assert store.get(job_id).applied_at is None


def test_two_worktree_jobs_each_record_only_their_own_change(store: JobStore, person_repo: Path) -> None:
    first = store.start(RunOptions(prompt="write=one.txt sleep=1", cwd=str(person_repo), worktree=True))
    second = store.start(RunOptions(prompt="write=two.txt sleep=1", cwd=str(person_repo), worktree=True))
    for job in (first, second):
        assert store.wait(job.job_id, timeout=60).status == JobStatus.DONE
    one, two = (read_worktree_diff(store, job.job_id) for job in (first, second))
    assert one is not None and one.files == [("A", "one.txt")]
    assert two is not None and two.files == [("A", "two.txt")]


def test_the_stores_setting_decides_when_the_caller_does_not(store: JobStore, person_repo: Path) -> None:
    assert store.store_settings().worktree is False
    plain = store.start(RunOptions(prompt="hi", cwd=str(person_repo)))
    assert store.get(plain.job_id).worktree is False
    store.configure(worktree=True)
    job = store.start(RunOptions(prompt="hi", cwd=str(person_repo)))
    assert store.get(job.job_id).worktree is True
    assert store.wait(job.job_id, timeout=60).status == JobStatus.DONE


@pytest.mark.parametrize("kind", ["not git", "bare", "no commit", "corrupt index", "submodule"])
def test_a_repository_that_cannot_have_a_worktree_is_refused_before_the_job_exists(
    store: JobStore, tmp_path: Path, person_repo: Path, kind: str
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    if kind == "bare":
        git(folder, "init", "-q", "--bare")
    elif kind == "no commit":
        git(folder, "init", "-q")
    elif kind == "corrupt index":
        folder = committed_repository(folder, {"a.txt": "a\n"})
        (folder / ".git" / "index").write_bytes(b"DIRC garbage")
    elif kind == "submodule":
        subprocess.run(
            ["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(person_repo), "sub"],
            cwd=committed_repository(folder, {"a.txt": "a\n"}),
            check=True,
            capture_output=True,
        )
        folder = folder / "sub"
    with pytest.raises(InvalidInput):
        store.start(RunOptions(prompt="hi", cwd=str(folder), worktree=True))
    assert store.job_ids() == []


def test_discard_is_refused_while_the_job_runs_and_pruning_discards(
    store: JobStore, person_repo: Path
) -> None:
    job = store.start(RunOptions(prompt="sleep=300", cwd=str(person_repo), worktree=True))
    with pytest.raises(InvalidInput, match="once it has ended"):
        store.discard(job.job_id)
    store.cancel(job.job_id, wait=20)
    record = store.get(job.job_id)
    assert record.is_terminal
    store.prune(timedelta(0))
    assert BRANCH + job.job_id not in git(person_repo, "branch", "--list")
    assert not store.layout.worktree_dir(job.job_id).exists()


def test_a_later_turn_of_the_session_continues_in_the_same_worktree(
    store: JobStore, person_repo: Path
) -> None:
    first = run_worktree_job(store, person_repo, "write=one.txt")
    session_id = store.get(first).session_id
    later = store.start(RunOptions(prompt="write=two.txt", cwd=str(person_repo), session_id=session_id))
    record = store.wait(later.job_id, timeout=60)
    assert record.status == JobStatus.DONE, record.error
    assert record.worktree and record.worktree_path == store.get(first).worktree_path
    assert record.worktree_owner == first
    session_change = read_worktree_diff(store, later.job_id)
    assert session_change is not None and session_change.files == [("A", "one.txt"), ("A", "two.txt")]
    assert not (person_repo / "one.txt").exists()
    # Pruning every turn of the session discards the worktree they share.
    store.prune(timedelta(seconds=0))
    assert not Path(record.worktree_path or "").exists()
