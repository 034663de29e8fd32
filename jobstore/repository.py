"""Is a folder inside a git repository? Answered from the files alone, without running git.

Running git here would run what a hostile repository configures (fsmonitor, for one), and
a bare `.git` entry proves nothing (an empty `.git` folder is not a repository). So: going
up from the folder, the first `.git` entry decides, and none above it is looked at. It is
a repository if it is a git folder (`HEAD`, `objects/`, `refs/`), or a file reading
`gitdir: <path>` that points to one (a linked worktree or a submodule; a worktree's
`objects/` and `refs/` are in the folder its `commondir` names).
"""

from __future__ import annotations

import os
from pathlib import Path

GIT_ENTRY = ".git"
_GITDIR_PREFIX = "gitdir:"
# A `.git` file or `commondir` holds one path; more than this is not one of git's.
_MAX_POINTER_BYTES = 4096


def _read_pointer(path: Path) -> str | None:
    """The first line of a small regular file (never a FIFO or a device), else None."""
    try:
        if not path.is_file():
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            raw = os.read(fd, _MAX_POINTER_BYTES)
        finally:
            os.close(fd)
    except OSError:
        return None
    text = raw.decode("utf-8", "replace")
    return text.splitlines()[0].strip() if text.strip() else None


def _is_git_folder(folder: Path) -> bool:
    common = folder
    pointer = _read_pointer(folder / "commondir")
    if pointer is not None:
        common = folder / pointer  # relative to the git folder, or absolute
    return (folder / "HEAD").is_file() and (common / "objects").is_dir() and (common / "refs").is_dir()


def _is_repository_entry(entry: Path) -> bool:
    if entry.is_dir():
        return _is_git_folder(entry)
    pointer = _read_pointer(entry)
    if pointer is None or not pointer.startswith(_GITDIR_PREFIX):
        return False
    target = pointer[len(_GITDIR_PREFIX) :].strip()
    return bool(target) and _is_git_folder(entry.parent / target)


def in_git_repository(folder: Path) -> bool:
    """True if `folder` (absolute) is in a git work tree: the first `.git` going up is a real
    repository (an empty or broken one is not, and stops the search)."""
    for parent in (folder, *folder.parents):
        entry = parent / GIT_ENTRY
        if os.path.lexists(entry):
            return _is_repository_entry(entry)
    return False
