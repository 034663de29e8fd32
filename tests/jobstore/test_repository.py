"""Recognising a git repository from its files (jobstore.repository), as the review check does:
a `.git` entry is a repository only if it is one, and the first one found going up decides."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jobstore import InvalidInput, ReviewOptions
from jobstore.repository import in_git_repository


def git_init(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def test_an_empty_git_folder_in_a_parent_is_no_repository(tmp_path: Path) -> None:
    """The machine where two tests failed: an empty `.git` folder above made any folder below
    pass the review check, and codex then failed outside a repository."""
    (tmp_path / ".git").mkdir()
    inside = tmp_path / "project" / "src"
    inside.mkdir(parents=True)
    assert not in_git_repository(inside)
    with pytest.raises(InvalidInput, match="not in a git repository"):
        ReviewOptions.checked(cwd=str(inside))


def test_a_real_repository_and_its_subfolders(tmp_path: Path) -> None:
    repo = git_init(tmp_path / "repo")
    (repo / "src" / "deep").mkdir(parents=True)
    assert in_git_repository(repo) and in_git_repository(repo / "src" / "deep")
    assert ReviewOptions.checked(cwd=str(repo / "src")).uncommitted
    assert not in_git_repository(tmp_path)


def test_the_first_git_entry_going_up_decides(tmp_path: Path) -> None:
    repo = git_init(tmp_path / "repo")
    stray = repo / "vendored"
    (stray / ".git").mkdir(parents=True)  # empty: not a repository, and it hides the one above
    assert not in_git_repository(stray)


def test_a_git_file_pointing_to_a_git_folder(tmp_path: Path) -> None:
    """A linked worktree (its `objects/` and `refs/` in the folder `commondir` names) and a
    submodule-style `.git` file are repositories; one pointing nowhere is not."""
    repo = git_init(tmp_path / "repo")
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "first",
        ],
        check=True,
    )
    linked = tmp_path / "linked"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(linked)], check=True)
    assert (linked / ".git").is_file() and in_git_repository(linked)

    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    assert in_git_repository(moved)
    relative = tmp_path / "relative"
    relative.mkdir()
    (relative / ".git").write_text("gitdir: ../repo/.git\n")
    assert in_git_repository(relative)

    for text in ("gitdir: /nonexistent/.git\n", "not a gitdir line\n", ""):
        (moved / ".git").write_text(text)
        assert not in_git_repository(moved), text


def test_a_git_fifo_is_never_read(tmp_path: Path) -> None:
    """A planted FIFO named `.git` would block a reader forever: it is no repository."""
    os.mkfifo(tmp_path / ".git")
    assert not in_git_repository(tmp_path)
