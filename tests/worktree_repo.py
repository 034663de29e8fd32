"""A person's repository for worktree jobs' tests: a commit, an uncommitted edit, an untracked
file, an ignored one; and what of it must never change while a job runs."""

from __future__ import annotations

from pathlib import Path

from tests.jobstore.test_worktree_diff import committed_repository, git

BRANCH = "codex/"
UNCOMMITTED_NOTES = "first\nthe person's uncommitted edit\n"


def person_repository(repo: Path) -> Path:
    committed_repository(repo, {"src/app.py": "print(1)\n", "notes.txt": "first\n"})
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "notes.txt").write_text(UNCOMMITTED_NOTES)
    (repo / "draft.txt").write_text("an untracked file of the person's\n")
    (repo / "debug.log").write_text("ignored\n")
    return repo


def person_state(repo: Path) -> dict[str, bytes]:
    """The index, HEAD, the stash, the person's branch, every file of the working tree."""
    state = {
        "index": (repo / ".git" / "index").read_bytes(),
        "HEAD": git(repo, "rev-parse", "HEAD").encode(),
        "stash": git(repo, "stash", "list").encode(),
        "refs": git(repo, "for-each-ref", "refs/heads/main", "refs/stash").encode(),
    }
    for path in sorted(repo.rglob("*")):
        if ".git" not in path.relative_to(repo).parts and path.is_file():
            state[str(path.relative_to(repo))] = path.read_bytes()
    return state


def objects_of(repo: Path) -> list[str]:
    """The person's object store, file by file."""
    return sorted(str(path.relative_to(repo)) for path in (repo / ".git" / "objects").rglob("*"))
