"""Worktree jobs with the real runner and real git (a fake codex): start, diff, apply, discard."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStatus, JobStore, RunOptions
from jobstore.worktree_diff import read_worktree_diff
from tests.jobstore.test_worktree_diff import committed_repository, git

BRANCH = "codex/"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = committed_repository(tmp_path / "repo", {"src/app.py": "print(1)\n", "notes.txt": "first\n"})
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "notes.txt").write_text("first\nthe person's uncommitted edit\n")
    (repo / "draft.txt").write_text("an untracked file of the person's\n")
    (repo / "debug.log").write_text("ignored\n")
    git(repo, "stash", "list")
    return repo


def person_state(repo: Path) -> dict[str, bytes]:
    """What must never change while a worktree job runs: the index, HEAD, stash, the files."""
    state = {
        "index": (repo / ".git" / "index").read_bytes(),
        "HEAD": git(repo, "rev-parse", "HEAD").encode(),
        "stash": git(repo, "stash", "list").encode(),
        "branches_of_person": git(repo, "branch", "--list", "main").encode(),
    }
    for path in sorted(repo.rglob("*")):
        if ".git" not in path.relative_to(repo).parts and path.is_file():
            state[str(path.relative_to(repo))] = path.read_bytes()
    return state


def run_worktree_job(store: JobStore, cwd: Path, prompt: str) -> str:
    record = store.start(RunOptions(prompt=prompt, cwd=str(cwd), worktree=True))
    ended = store.wait(record.job_id, timeout=60)
    assert ended.status == JobStatus.DONE, ended.error
    return record.job_id


def test_a_worktree_job_changes_only_its_worktree_and_applies_beside_the_persons_edit(
    store: JobStore, repo: Path
) -> None:
    before = person_state(repo)
    objects_before = sorted(p.name for p in (repo / ".git" / "objects").rglob("*"))
    job_id = run_worktree_job(store, repo / "src", "write=made.py")
    record = store.get(job_id)
    assert person_state(repo) == before
    assert record.worktree_branch == BRANCH + job_id
    assert record.worktree_path == str(store.layout.worktree_dir(job_id))
    worktree = Path(record.worktree_path)
    # It started from what the person sees; codex ran at the same folder inside it.
    assert (worktree / "notes.txt").read_text() == "first\nthe person's uncommitted edit\n"
    assert (worktree / "draft.txt").exists() and not (worktree / "debug.log").exists()
    assert (worktree / "src" / "made.py").exists()
    recorded = read_worktree_diff(store, job_id)
    assert recorded is not None and recorded.error is None
    assert recorded.files == [("A", "src/made.py")]
    assert "written by the job" in recorded.diff
    # Our snapshots' objects are ours: the person's object store gained none of them.
    assert sorted(p.name for p in (repo / ".git" / "objects").rglob("*")) == objects_before
    assert str(worktree) in git(repo, "worktree", "list")
    size = store.worktree_size(job_id)
    assert size is not None and size > 0

    applied = store.apply(job_id)
    assert applied.clean and applied.changed == ["src/made.py"]
    assert (repo / "src" / "made.py").read_text() == "written by the job: made.py\n"
    assert (repo / "notes.txt").read_text() == "first\nthe person's uncommitted edit\n"
    assert (repo / ".git" / "index").read_bytes() == before["index"]
    assert store.get(job_id).applied_at is not None
    with pytest.raises(InvalidInput, match="applied already"):
        store.apply(job_id)

    removed = store.discard(job_id)
    assert removed == [str(worktree), BRANCH + job_id]
    assert str(worktree) not in git(repo, "worktree", "list")
    assert BRANCH + job_id not in git(repo, "branch", "--list")
    assert not worktree.exists()


def test_a_conflicting_apply_changes_nothing_and_names_the_file(store: JobStore, repo: Path) -> None:
    job_id = run_worktree_job(store, repo, "write=notes.txt")
    (repo / "notes.txt").write_text("the person rewrote it meanwhile\n")
    before = person_state(repo)
    applied = store.apply(job_id)
    assert applied.conflicts == ["notes.txt"] and applied.branch == BRANCH + job_id
    assert person_state(repo) == before
    assert store.get(job_id).applied_at is None


def test_two_worktree_jobs_each_record_only_their_own_change(store: JobStore, repo: Path) -> None:
    first = store.start(RunOptions(prompt="write=one.txt sleep=1", cwd=str(repo), worktree=True))
    second = store.start(RunOptions(prompt="write=two.txt sleep=1", cwd=str(repo), worktree=True))
    for job in (first, second):
        assert store.wait(job.job_id, timeout=60).status == JobStatus.DONE
    one, two = (read_worktree_diff(store, job.job_id) for job in (first, second))
    assert one is not None and one.files == [("A", "one.txt")]
    assert two is not None and two.files == [("A", "two.txt")]


def test_the_stores_setting_decides_when_the_caller_does_not(store: JobStore, repo: Path) -> None:
    assert store.store_settings().worktree is False
    plain = store.start(RunOptions(prompt="hi", cwd=str(repo)))
    assert store.get(plain.job_id).worktree is False
    store.configure(worktree=True)
    job = store.start(RunOptions(prompt="hi", cwd=str(repo)))
    assert store.get(job.job_id).worktree is True
    assert store.wait(job.job_id, timeout=60).status == JobStatus.DONE


@pytest.mark.parametrize("kind", ["not git", "bare", "no commit", "corrupt index", "submodule"])
def test_a_repository_that_cannot_have_a_worktree_is_refused_before_the_job_exists(
    store: JobStore, tmp_path: Path, repo: Path, kind: str
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
            ["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(repo), "sub"],
            cwd=committed_repository(folder, {"a.txt": "a\n"}),
            check=True,
            capture_output=True,
        )
        folder = folder / "sub"
    with pytest.raises(InvalidInput):
        store.start(RunOptions(prompt="hi", cwd=str(folder), worktree=True))
    assert store.job_ids() == []


def test_discard_is_refused_while_the_job_runs_and_pruning_discards(store: JobStore, repo: Path) -> None:
    job = store.start(RunOptions(prompt="sleep=300", cwd=str(repo), worktree=True))
    with pytest.raises(InvalidInput, match="once it has ended"):
        store.discard(job.job_id)
    store.cancel(job.job_id, wait=20)
    record = store.get(job.job_id)
    assert record.is_terminal
    from datetime import timedelta

    store.prune(timedelta(0))
    assert BRANCH + job.job_id not in git(repo, "branch", "--list")
    assert not store.layout.worktree_dir(job.job_id).exists()
