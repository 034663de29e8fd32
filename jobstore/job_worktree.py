"""A worktree job's own git worktree: made before codex starts, its diff at the end, applied or
discarded on purpose.

Where things live:
- the worktree: `<store>/worktrees/<job id>/` (private to the store's owner), on the branch
  `codex/<job id>`, made by git's own `git worktree add`: the person's `.git` gets the
  worktree's admin entry (`.git/worktrees/<job id>/`) and the branch, as `git worktree list`
  shows. That is the one deliberate write into the person's `.git`, made through the safe
  runner (`jobstore.git`); nothing else of theirs is written;
- the job's private git folder, `<job>/worktree-git/` (a `SnapshotArea`: our configuration,
  objects of our own with the person's as alternates): the start (HEAD plus the person's
  uncommitted changes, tracked and untracked, ignored files left out) is a snapshot there,
  the worktree's files are checked out from it, and the end, the diff and the apply's merge
  are made there. The person's index, stash, branches and objects are only read.

The branch starts at the person's HEAD; their uncommitted changes are uncommitted changes in
the worktree too (their objects stay in our folder, never in the person's `.git/objects`).
The job's change is the worktree's diff against the start: exact, whatever else runs.

Applying merges the job's change (start → end) into the person's working tree as it is now
(`git merge-tree`, in the private folder: no merge driver of theirs can run) and writes only
the files the merge changed, as uncommitted changes: their index is untouched. A conflict
changes nothing and names the files. Discarding removes the worktree and the branch, after
checking they are the ones recorded when the job made them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jobstore import fsio
from jobstore.echo import echoed
from jobstore.errors import InvalidInput
from jobstore.git import Git, GitFailed, RepositoryPaths, repository_paths
from jobstore.layout import StoreLayout
from jobstore.record import JobRecord, now_iso
from jobstore.worktree_diff import (
    SnapshotArea,
    WorktreeDiff,
    read_worktree_diff,
    with_end,
    with_skipped,
    write_worktree_diff,
)

BRANCH_PREFIX = "codex/"
# The worktree's size is counted over at most this many entries (a read that writes nothing).
MAX_SIZE_ENTRIES = 200_000
_NAMES_PER_COMMAND = 1000  # file names given to one git command (argv has a limit)
# Our commits in the private folder: fixed names and dates, so nothing of the person's is read.
_COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "codex-async",
    "GIT_AUTHOR_EMAIL": "codex-async@localhost",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "codex-async",
    "GIT_COMMITTER_EMAIL": "codex-async@localhost",
    "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}


def branch_name(job_id: str) -> str:
    return f"{BRANCH_PREFIX}{job_id}"


def check_worktree_repository(cwd: str) -> RepositoryPaths:
    """The repository a worktree job of `cwd` gets its worktree from; InvalidInput, before
    anything is written, when it cannot have one (not git, bare, a submodule, no commit yet,
    a corrupt index)."""
    repo = repository_paths(cwd)
    if repo is None:
        raise InvalidInput(f"cwd {echoed(cwd)} is not in a git working tree: a worktree job needs one")
    git = Git(repo.top)
    try:
        superproject = git.run("rev-parse", "--show-superproject-working-tree").strip()
    except GitFailed as exc:
        raise InvalidInput(f"cannot read the repository of {echoed(cwd)}: {exc}") from None
    if superproject:
        raise InvalidInput(
            f"cwd {echoed(cwd)} is in a submodule of {echoed(superproject)}: give a folder of a "
            "repository of its own for a worktree job"
        )
    try:
        git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except GitFailed:
        raise InvalidInput(
            f"the repository {echoed(repo.top)} has no commit yet: a worktree starts from one"
        ) from None
    try:
        git.run("ls-files", "--cached", "-z", limit=1)  # reads the index: a corrupt one fails
    except GitFailed as exc:
        raise InvalidInput(f"the repository {echoed(repo.top)} cannot be used: {exc}") from None
    return repo


@dataclass(frozen=True)
class MadeWorktree:
    path: str  # the worktree's top folder
    cwd: str  # where codex runs: the job's folder at the same place inside the worktree


def record_worktree_plan(layout: StoreLayout, record: JobRecord, repo: RepositoryPaths) -> dict[str, str]:
    """The record's fields naming what the job is about to make (written before git makes it)."""
    return {
        "worktree_repo": repo.top,
        "worktree_path": str(layout.worktree_dir(record.job_id)),
        "worktree_branch": branch_name(record.job_id),
        "worktree_owner": record.job_id,
    }


def shared_worktree(turn: JobRecord) -> dict[str, str] | None:
    """The record fields of a later turn of `turn`'s session that continues in `turn`'s
    worktree; None when `turn` has no worktree left to continue in."""
    if not turn.worktree_path or turn.discarded_at is not None or not os.path.isdir(turn.worktree_path):
        return None
    assert turn.worktree_repo is not None and turn.worktree_branch is not None
    return {
        "worktree_repo": turn.worktree_repo,
        "worktree_path": turn.worktree_path,
        "worktree_branch": turn.worktree_branch,
        "worktree_owner": turn.worktree_owner or turn.job_id,
    }


def continue_in_worktree(layout: StoreLayout, record: JobRecord) -> MadeWorktree:
    """A later turn of a worktree job's session: it runs in the same worktree, and its diff
    counts from the worktree's start (the session's change so far)."""
    assert record.worktree_path is not None and record.worktree_owner is not None
    owner_start = read_worktree_diff(InLayout(layout), record.worktree_owner)
    if owner_start is None or not owner_start.start_tree or not os.path.isdir(record.worktree_path):
        raise InvalidInput(f"the session's worktree {echoed(record.worktree_path)} is gone")
    started = WorktreeDiff(owner_start.repo, now_iso(), owner_start.start_tree)
    write_worktree_diff(layout, record.job_id, started)
    return MadeWorktree(record.worktree_path, _inside(record, owner_start.repo))


def _inside(record: JobRecord, top: str) -> str:
    """The job's folder at the same place inside its worktree (given inside the worktree
    or inside the person's repository)."""
    assert record.worktree_path is not None
    real = os.path.realpath(record.cwd)
    base = record.worktree_path if _is_within(real, record.worktree_path) else os.path.realpath(top)
    return os.path.normpath(os.path.join(record.worktree_path, os.path.relpath(real, base)))


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _owner(record: JobRecord) -> str:
    return record.worktree_owner or record.job_id


def make_worktree(
    layout: StoreLayout,
    record: JobRecord,
    repo: RepositoryPaths,
    *,
    env: Mapping[str, str],
    stop: Callable[[], bool],
    max_file_bytes: int,
) -> MadeWorktree:
    """The job's worktree, made as `record` says (see `record_worktree_plan`), holding what the
    person sees. Raises GitFailed (GitStopped on a cancel) or OSError; what was made is then
    removed by `remove_worktree`."""
    job_id = record.job_id
    assert record.worktree_path is not None and record.worktree_branch is not None
    started_at = now_iso()
    write_worktree_diff(layout, job_id, WorktreeDiff(repo.top, started_at, ""))
    area = SnapshotArea(layout.worktree_git_dir(job_id), repo, env, stop)
    area.create()
    start = area.snapshot(max_file_bytes)
    fsio.ensure_dir(layout.worktrees_dir)
    fsio.make_private(layout.worktrees_dir)
    person = Git(repo.top, env=env, stop=stop)
    person.run("worktree", "add", "--no-checkout", "-b", record.worktree_branch, record.worktree_path, "HEAD")
    worktree = Git(record.worktree_path, env=env, stop=stop)
    worktree.run("read-tree", "HEAD")  # its index: the branch's commit (uncommitted changes show as such)
    inside = _worktree_paths(repo, record.worktree_path)
    checkout = SnapshotArea(area.folder, inside, env, stop)
    # The start's files, from our folder (our objects hold the untracked ones): `-u` keeps
    # their stat data in our index, so the end's snapshot hashes only what codex changed.
    checkout.git.run("checkout-index", "--all", "--force", "-u")
    cwd = _inside(record, repo.top)
    os.makedirs(cwd, mode=0o700, exist_ok=True)  # a folder without files is in no snapshot
    begun = with_skipped(WorktreeDiff(repo.top, started_at, start.tree), start.skipped, max_file_bytes)
    write_worktree_diff(layout, job_id, begun)
    return MadeWorktree(record.worktree_path, cwd)


def record_worktree_job_end(
    layout: StoreLayout, record: JobRecord, *, env: Mapping[str, str], max_file_bytes: int
) -> None:
    """Record the worktree's diff against its start (the job's change, nothing else's).
    Never raises: what goes wrong is kept as the diff's error."""
    start = read_worktree_diff(InLayout(layout), record.job_id)
    if start is None or start.ended or not start.start_tree or record.worktree_path is None:
        return
    ended = dataclasses.replace(start, ended_at=now_iso())
    try:
        repo = _person_repo(record)
        inside = _worktree_paths(repo, record.worktree_path)
        area = SnapshotArea(layout.worktree_git_dir(_owner(record)), inside, env, lambda: False)
        end = area.snapshot(max_file_bytes)
        names, diff = area.diff(start.start_tree, end.tree)
        recorded = with_end(ended, end, names, diff, max_file_bytes)
    except (GitFailed, OSError, InvalidInput) as exc:
        recorded = dataclasses.replace(ended, error=f"no snapshot of the job's worktree at the end: {exc}")
    write_worktree_diff(layout, record.job_id, recorded)


@dataclass(frozen=True)
class Applied:
    """What applying a job's change did: the files written, or the conflicts (nothing written)."""

    changed: list[str]
    conflicts: list[str]
    branch: str
    worktree: str

    @property
    def clean(self) -> bool:
        return not self.conflicts


def apply_worktree(layout: StoreLayout, record: JobRecord, recorded: WorktreeDiff) -> Applied:
    """Merge the job's change into the person's working tree as it is now; on a conflict
    nothing is written. Raises GitFailed/OSError/InvalidInput when it cannot be tried."""
    assert record.worktree_path is not None and record.worktree_branch is not None
    if not recorded.start_tree or not recorded.end_tree:
        raise InvalidInput(
            f"job {record.job_id} has no recorded change to apply ({recorded.error or 'no end'})"
        )
    repo = _person_repo(record)
    folder = layout.worktree_git_dir(_owner(record))
    area = SnapshotArea(folder, repo, _COMMIT_ENV, lambda: False, index_name="apply-index")
    person_now = _snapshot_person_now(area)
    git = area.git
    base = git.run("commit-tree", recorded.start_tree, "-m", "start").strip()
    ours = git.run("commit-tree", person_now, "-p", base, "-m", "the person's tree").strip()
    theirs = git.run("commit-tree", recorded.end_tree, "-p", base, "-m", "the job's end").strip()
    status, out = git.run_allowing(
        frozenset({1}), "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs
    )
    fields = out.split("\0")
    applied = Applied([], [], record.worktree_branch, record.worktree_path)
    if status == 1:
        return dataclasses.replace(applied, conflicts=sorted({name for name in fields[1:] if name}))
    changed = _write_merged(area, person_now, fields[0].strip())
    return dataclasses.replace(applied, changed=changed)


def _snapshot_person_now(area: SnapshotArea) -> str:
    """The person's working tree as it is now, as a tree in `area` (whose index then holds it)."""
    fsio.remove_if_exists(area.index)
    with contextlib.suppress(FileNotFoundError):
        shutil.copy2(area.repo.index, area.index)  # its stat cache spares hashing unchanged files
    return area.snapshot(2**62).tree  # nothing left out: the merge must see every file


def _write_merged(area: SnapshotArea, person_now: str, merged: str) -> list[str]:
    """Write into the person's working tree the files that differ between `person_now` and
    `merged` (checked out from our index, deletions never through a symlinked folder): the
    names changed. Their index is never written."""
    git = area.git
    listed = git.run("diff-tree", "-r", "-z", "--no-renames", "--name-status", person_now, merged)
    parts = [part for part in listed.split("\0") if part]
    changes = list(zip(parts[0::2], parts[1::2], strict=False))
    git.run("read-tree", merged)
    written = [name for letter, name in changes if letter != "D"]
    for first in range(0, len(written), _NAMES_PER_COMMAND):
        git.run("checkout-index", "--force", "--", *written[first : first + _NAMES_PER_COMMAND])
    for letter, name in changes:
        if letter == "D":
            _remove_inside(area.repo.top, name)
    fsio.remove_if_exists(area.index)
    return [name for _, name in changes]


def worktree_patch(
    layout: StoreLayout, record: JobRecord, recorded: WorktreeDiff, max_bytes: int
) -> bytes | None:
    """The job's change (start → end) as a patch another machine can apply without our
    objects: `git diff --binary --full-index`, made in the job's private git folder (which
    holds both trees). None when it is longer than `max_bytes`. Raises GitFailed/OSError/
    InvalidInput when it cannot be made."""
    if not recorded.start_tree or not recorded.end_tree:
        raise InvalidInput(f"job {record.job_id} has no recorded change ({recorded.error or 'no end'})")
    repo = _person_repo(record)
    area = SnapshotArea(layout.worktree_git_dir(_owner(record)), repo, {}, lambda: False)
    # No renames: a patch of adds and deletes applies the same whatever rename detection finds.
    patch = area.git.run_bytes(
        "diff",
        "--no-color",
        "--binary",
        "--full-index",
        "--no-renames",
        recorded.start_tree,
        recorded.end_tree,
        limit=max_bytes,
    )
    return None if len(patch) > max_bytes else patch


def apply_patch(folder: Path, repo: RepositoryPaths, patch: bytes) -> tuple[list[str], list[str]]:
    """Apply a published patch (see `worktree_patch`) to the person's working tree as it is
    now, as `apply_worktree` merges: in a private git folder (`folder`, ours; the person's
    objects only borrowed), onto a snapshot of their tree, three-way where the patch's
    preimages are known here, then only the changed files written. (changed, conflicts):
    on a conflict nothing is written. git refuses paths outside the tree, into `.git`, or
    through a symlink in the snapshot. Raises GitFailed/OSError when it cannot be tried."""
    area = SnapshotArea(folder, repo, _COMMIT_ENV, lambda: False)
    area.create()
    try:
        person_now = _snapshot_person_now(area)
        patch_file = folder / "change.patch"
        fsio.write_bytes_atomic(patch_file, patch, durable=False)
        names = _patch_files(area, patch_file)
        if _apply_to_index(area, person_now, patch_file, None):
            return _write_merged(area, person_now, area.git.run("write-tree").strip()), []
        # Which files do not apply: each tried alone (nothing is written either way).
        conflicts = [name for name in names if not _apply_to_index(area, person_now, patch_file, name)]
        return [], conflicts or names
    finally:
        fsio.remove_tree(folder)


def _patch_files(area: SnapshotArea, patch_file: Path) -> list[str]:
    listed = area.git.run("apply", "--numstat", "-z", str(patch_file))
    # `--numstat -z`: "added\tdeleted\tpath\0" (no renames in our patches).
    return sorted({entry.split("\t", 2)[-1] for entry in listed.split("\0") if entry.count("\t") >= 2})


def _apply_to_index(area: SnapshotArea, person_now: str, patch_file: Path, only: str | None) -> bool:
    """Apply the patch (or only one file of it) to our index, which first holds `person_now`;
    whether it applied without a conflict."""
    area.git.run("read-tree", person_now)
    include = [] if only is None else [f"--include={_glob_literal(only)}"]
    status, _ = area.git.run_allowing(
        frozenset({1}), "apply", "--cached", "--3way", "--whitespace=nowarn", *include, str(patch_file)
    )
    if status != 0:
        return False
    return not area.git.run("ls-files", "--unmerged", "-z", limit=1)


def _glob_literal(name: str) -> str:
    """`name` as a pattern of `git apply --include` that matches only itself."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in name)


def remove_worktree(layout: StoreLayout, record: JobRecord) -> list[str]:
    """Remove the job's worktree and branch, if they are the ones it recorded making (a
    worktree at another place, or a branch holding commits the job did not start from, is
    left alone); then its private git folder. Returns what was removed."""
    removed: list[str] = []
    path, branch, top, owner = (
        record.worktree_path,
        record.worktree_branch,
        record.worktree_repo,
        _owner(record),
    )
    if path != str(layout.worktree_dir(owner)) or branch != branch_name(owner) or not top:
        return removed  # not the job's own (a record edited by hand): nothing is touched
    person = Git(top)
    with contextlib.suppress(GitFailed, OSError):
        listed = person.run("worktree", "list", "--porcelain", "-z").split("\0")
        if f"worktree {path}" in listed:
            person.run("worktree", "remove", "--force", "--force", path)
            removed.append(path)
    with contextlib.suppress(GitFailed, OSError):
        person.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        person.run("branch", "-D", "--", branch)
        removed.append(branch)
    if os.path.lexists(path) and path not in removed:
        fsio.remove_tree(Path(path))  # a worktree git forgot (a runner killed mid-way): ours alone
    fsio.remove_tree(layout.worktree_git_dir(owner))
    return removed


def worktree_size(path: str) -> int | None:
    """The worktree's size in bytes (its files, not the shared objects); None when it is gone
    or holds more than MAX_SIZE_ENTRIES entries (the cost stays bounded). Reads only."""
    total = 0
    seen = 0
    pending = [path]
    try:
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > MAX_SIZE_ENTRIES:
                        return None
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        return None
    return total


def _person_repo(record: JobRecord) -> RepositoryPaths:
    repo = repository_paths(record.worktree_repo or "")
    if repo is None or repo.top != record.worktree_repo:
        raise InvalidInput(f"{echoed(record.worktree_repo)} is no longer a git working tree")
    return repo


def _worktree_paths(repo: RepositoryPaths, worktree: str) -> RepositoryPaths:
    """The worktree as a snapshot sees it: its files, the repository's ignore rules."""
    return dataclasses.replace(repo, top=worktree, index=os.path.join(worktree, ".no-index"))


def _remove_inside(top: str, name: str) -> None:
    """Remove a file the merge deleted, never through a symlinked folder."""
    target = os.path.join(top, name)
    expected = os.path.normpath(os.path.join(os.path.realpath(top), os.path.dirname(name)))
    if os.path.realpath(os.path.dirname(target)) == expected:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)


@dataclass(frozen=True)
class InLayout:
    """A layout as `read_worktree_diff` asks for it (a job's side has no facade)."""

    layout: StoreLayout
