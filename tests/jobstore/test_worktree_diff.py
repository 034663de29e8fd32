"""What a job changed in its git repository: recorded by the real runner against a real git repo."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.git import repository_paths
from jobstore.worktree_diff import SnapshotArea, read_worktree_diff
from tests.helpers import wait_until

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )
    return done.stdout


def committed_repository(repo: Path, files: dict[str, str]) -> Path:
    """A repository at `repo` whose one commit holds `files` (path: text)."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = committed_repository(
        tmp_path / "repo",
        {"src/app.py": "def add(a, b):\n    return a + b\n", "notes.txt": "first\n", ".gitignore": "*.log\n"},
    )
    (repo / "notes.txt").write_text("first\nuncommitted before the job\n")  # not the job's doing
    git(repo, "stash", "list")
    return repo


def codex_started(store: JobStore, job_id: str) -> bool:
    """Whether codex runs for the job: its start snapshot is behind it, so the folder's changes
    count from here (a cancel before codex starts leaves no diff to record)."""
    recorded = read_worktree_diff(store, job_id)
    return recorded is not None and store.get(job_id).codex_pid is not None


def start(store: JobStore, cwd: Path, prompt: str = "sleep=300") -> str:
    record = store.start(RunOptions(prompt=prompt, cwd=str(cwd)))
    wait_until(lambda: codex_started(store, record.job_id))
    return record.job_id


def end(store: JobStore, job_id: str) -> None:
    store.cancel(job_id, wait=20)
    wait_until(lambda: store.get(job_id).is_terminal)


def test_the_diff_covers_shell_edits_appends_and_new_files(store: JobStore, repo: Path) -> None:
    index_before = (repo / ".git" / "index").read_bytes()
    job_id = start(store, repo / "src")  # a job in a subfolder still records the whole repository
    # What codex's shell commands would do: sed -i, echo >>, a new untracked file, a removal.
    subprocess.run(["sed", "-i", "s/a + b/a * b/", "src/app.py"], cwd=repo, check=True)
    subprocess.run("echo appended >> notes.txt", shell=True, cwd=repo, check=True)
    (repo / "src" / "new_module.py").write_text("VALUE = 1\n")
    (repo / "debug.log").write_text("ignored by .gitignore\n")
    end(store, job_id)

    diff = read_worktree_diff(store, job_id)
    assert diff is not None and diff.ended and diff.error is None
    assert diff.repo == str(repo)
    assert sorted(diff.files) == [("A", "src/new_module.py"), ("M", "notes.txt"), ("M", "src/app.py")]
    assert "-    return a + b\n+    return a * b\n" in diff.diff
    # The uncommitted line from before the job is context, not the job's change.
    assert " uncommitted before the job\n+appended\n" in diff.diff
    assert "+VALUE = 1" in diff.diff
    assert "debug.log" not in diff.diff
    assert diff.other_jobs == []
    # The user's index, stash list and branch are as they were.
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "stash", "list") == ""
    assert git(repo, "status", "--porcelain").splitlines() == [
        " M notes.txt",
        " M src/app.py",
        "?? src/new_module.py",
    ]


def test_the_diff_stays_true_after_later_edits(store: JobStore, repo: Path) -> None:
    job_id = start(store, repo)
    (repo / "notes.txt").write_text("the job's text\n")
    end(store, job_id)
    before = read_worktree_diff(store, job_id)
    (repo / "notes.txt").write_text("a later edit\n")
    after = read_worktree_diff(store, job_id)
    assert before is not None and after == before
    assert "+the job's text" in after.diff and "later" not in after.diff


def test_jobs_that_ran_in_the_same_repository_meanwhile_are_named(store: JobStore, repo: Path) -> None:
    first = start(store, repo)
    second = start(store, repo / "src")
    # A job outside the repository is never named (tmp_path is no repository).
    elsewhere = store.start(RunOptions(prompt="sleep=300", cwd=str(repo.parent))).job_id
    wait_until(lambda: store.get(elsewhere).status == JobStatus.RUNNING)
    end(store, second)
    end(store, first)
    end(store, elsewhere)
    first_diff = read_worktree_diff(store, first)
    second_diff = read_worktree_diff(store, second)
    assert first_diff is not None and first_diff.other_jobs == [second]
    assert second_diff is not None and second_diff.other_jobs == [first]
    assert read_worktree_diff(store, elsewhere) is None


def test_a_job_outside_a_repository_records_nothing(store: JobStore, workdir: Path) -> None:
    record = store.start(RunOptions(prompt="hello", cwd=str(workdir)))
    final = store.wait(record.job_id, 20)
    assert final.status == JobStatus.DONE
    assert read_worktree_diff(store, record.job_id) is None
    assert repository_paths(str(workdir)) is None


def snapshot_tree(repo: str, folder: Path) -> str:
    """A snapshot of `repo`'s working tree made in `folder` (left there to be read)."""
    paths = repository_paths(repo)
    assert paths is not None
    area = SnapshotArea(folder, paths, {}, lambda: False)
    area.create()
    return area.snapshot(2**62).tree


def in_snapshot(repo: Path, folder: Path, *args: str) -> str:
    """git in `repo` that also sees the objects a snapshot wrote into its own `folder`."""
    env = {**os.environ, "GIT_OBJECT_DIRECTORY": str(folder / "git" / "objects")}
    env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = str(repo / ".git" / "objects")
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env)
    return done.stdout


def test_a_snapshot_of_a_repository_without_commits(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    tree = snapshot_tree(str(repo), tmp_path / "snapshot")
    assert in_snapshot(repo, tmp_path / "snapshot", "ls-tree", "--name-only", tree).split() == ["a.txt"]
    assert git(repo, "status", "--porcelain").split() == ["??", "a.txt"]  # still untracked


def test_a_same_size_edit_in_the_index_s_second_is_seen(repo: Path, tmp_path: Path) -> None:
    # git trusts an index entry whose size and mtime (in seconds) match, unless the index is no
    # older than the file ("racy git"): the snapshot's copy of the index must keep its time.
    git(repo, "config", "core.trustctime", "false")
    app, second = repo / "src" / "app.py", int(os.stat(repo / "src" / "app.py").st_mtime) - 100
    os.utime(app, (second, second))
    git(repo, "add", "src/app.py")
    app.write_text("def add(a, b):\n    return a - b\n")  # same size, same second
    os.utime(app, (second, second + 0.5))
    os.utime(repo / ".git" / "index", (second, second))
    tree = snapshot_tree(str(repo), tmp_path / "snapshot")
    blob = in_snapshot(repo, tmp_path / "snapshot", "rev-parse", f"{tree}:src/app.py")
    assert blob == git(repo, "hash-object", "src/app.py")
