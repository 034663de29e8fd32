"""What a job changed in its git working tree: a snapshot when it starts, the diff when it ends.

When a job's folder is inside a git repository, its runner calls `record_worktree_start` before codex
starts and `record_worktree_end` after it exits. Each takes a snapshot of the whole working tree
(tracked and untracked files, .gitignore obeyed) as a git tree object, written through a
temporary index: the user's index, stash list, refs and files are never touched. The diff
between the two trees is kept in the job's folder (`worktree.diff`, with `worktree.json`
describing it), so it stays what the job did even after later edits. It covers every way a
file changed (codex's patches, `sed -i`, `echo >>` in a shell command, new files). Jobs of the
store that ran in the same repository meanwhile are named: their changes may be in the diff.

Recording never fails a job: what goes wrong is kept as the diff's `error`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jobstore import fsio
from jobstore.errors import JobStoreError
from jobstore.layout import FileKind, StoreLayout
from jobstore.record import now_iso
from jobstore.records import Records

GIT_TIMEOUT_SECONDS = 300.0
MAX_DIFF_BYTES = 16 * 1024 * 1024
_MAX_META_BYTES = 1024 * 1024
# Nothing from the repository's configuration runs: no fsmonitor hook, no external diff or
# textconv program, no hooks.
_GIT = ("git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "--no-pager")


class GitFailed(Exception):
    pass


class InStore(Protocol):
    """Whatever knows its store's layout: the facade (`JobStore`), a job's port."""

    @property
    def layout(self) -> StoreLayout: ...


@dataclass(frozen=True)
class WorktreeDiff:
    """What a job changed in its repository, as recorded in its folder."""

    repo: str
    started_at: str
    start_tree: str
    ended_at: str | None = None  # None: the job has not ended (or its end was not recorded)
    end_tree: str | None = None
    diff: str = ""
    truncated: bool = False  # the diff was longer than MAX_DIFF_BYTES and is cut there
    # (status letter as `git diff --name-status` gives it, path)
    files: list[tuple[str, str]] = field(default_factory=list)
    # Jobs of the store that ran in the same repository while this one did.
    other_jobs: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "started_at": self.started_at,
            "start_tree": self.start_tree,
            "ended_at": self.ended_at,
            "end_tree": self.end_tree,
            "truncated": self.truncated,
            "files": [list(f) for f in self.files],
            "other_jobs": self.other_jobs,
            "error": self.error,
        }


def _git(cwd: str, *args: str, index: str | None = None, limit: int | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE")}
    if index is not None:
        env["GIT_INDEX_FILE"] = index
    with subprocess.Popen(
        [*_GIT, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            out, err = _communicate(proc, limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise GitFailed(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS:.0f}s") from None
    if proc.returncode not in (0, None) and not (limit is not None and len(out) > limit):
        message = err.decode("utf-8", "replace").strip().splitlines()
        raise GitFailed(f"git {args[0]}: {message[-1] if message else f'exit {proc.returncode}'}")
    return out.decode("utf-8", "replace")


def _communicate(proc: subprocess.Popen[bytes], limit: int | None) -> tuple[bytes, bytes]:
    if limit is None:
        return proc.communicate(timeout=GIT_TIMEOUT_SECONDS)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read(limit + 1)  # a diff may be huge: read what is kept, then stop git
    if len(out) > limit:
        proc.kill()
    proc.wait(timeout=GIT_TIMEOUT_SECONDS)
    return out, proc.stderr.read(64 * 1024)


def repository_of(folder: str) -> str | None:
    """The top folder of the git working tree holding `folder`, or None."""
    if not _may_be_in_a_repository(folder):
        return None  # no git run for a folder outside any repository (most of a job's cost)
    try:
        top = _git(folder, "rev-parse", "--show-toplevel").strip()
    except (GitFailed, OSError):
        return None
    return top or None


def _may_be_in_a_repository(folder: str) -> bool:
    """Whether git could find a working tree from `folder`: a `.git` in it or a parent, or
    git told where by its environment."""
    if "GIT_DIR" in os.environ or "GIT_WORK_TREE" in os.environ:
        return True
    path = os.path.realpath(folder)
    while not os.path.lexists(os.path.join(path, ".git")):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return True


def snapshot_tree(repo: str) -> str:
    """The whole working tree as a tree object: tracked and untracked files, as they are now.
    Built in a temporary copy of the index (its stat cache spares hashing unchanged files)."""
    with tempfile.TemporaryDirectory(prefix="codex-async-index-") as folder:
        index = os.path.join(folder, "index")
        real_index = os.path.join(repo, _git(repo, "rev-parse", "--git-path", "index").strip())
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(real_index, index)  # its mtime too: git re-reads files no older than it
        try:
            _git(repo, "add", "--all", "--", ".", index=index)
        except GitFailed:
            # An index git cannot use from elsewhere (a split index): start from nothing.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(index)
            _git(repo, "add", "--all", "--", ".", index=index)
        return _git(repo, "write-tree", index=index).strip()


def _meta_path(layout: StoreLayout, job_id: str) -> Path:
    return layout.job_file(layout.job_dir(job_id), FileKind.WORKTREE)


def _diff_path(layout: StoreLayout, job_id: str) -> Path:
    return layout.job_file(layout.job_dir(job_id), FileKind.WORKTREE_DIFF)


def _jobs_in_repo(records: Records, job_ids: list[str], repo: str) -> list[str]:
    """Of `job_ids`, those that ran (started) with a folder inside `repo`."""
    found = []
    prefix = os.path.realpath(repo).rstrip(os.sep) + os.sep
    for job_id in job_ids:
        try:
            record = records.read(job_id)
        except (JobStoreError, OSError):
            continue
        real = os.path.realpath(record.cwd)
        if record.started_at is not None and (real + os.sep).startswith(prefix):
            found.append(job_id)
    return found


def record_worktree_start(layout: StoreLayout, job_id: str, cwd: str) -> None:
    """Snapshot the working tree of the repository holding `cwd`, if any. Never raises."""
    try:
        repo = repository_of(cwd)
        if repo is None:
            return
        started_at = now_iso()
        try:
            tree, error = snapshot_tree(repo), None
        except (GitFailed, OSError) as exc:
            tree, error = "", f"no snapshot of the working tree at the start: {exc}"
        records = Records(layout)
        running = sorted(records.running_ids() - {job_id}, reverse=True)
        others = _jobs_in_repo(records, running, repo)
        meta = WorktreeDiff(repo, started_at, tree, other_jobs=others, error=error)
        fsio.write_json_atomic(_meta_path(layout, job_id), meta.to_dict())
    except Exception as exc:  # the job runs whatever happens here
        print(f"runner: cannot snapshot the working tree: {exc!r}", file=sys.stderr)


def record_worktree_end(layout: StoreLayout, job_id: str) -> None:
    """Record the diff from the start's snapshot to the working tree now. Never raises."""
    try:
        start = _read_recorded(layout, job_id)
        if start is None or start.ended:
            return
        records = Records(layout)
        newer = [j for j in records.job_ids() if j > job_id]
        others = sorted(set(start.other_jobs) | set(_jobs_in_repo(records, newer, start.repo)))
        end = _end_of(start, others)
        fsio.write_bytes_atomic(_diff_path(layout, job_id), end.diff.encode("utf-8"))
        fsio.write_json_atomic(_meta_path(layout, job_id), end.to_dict())
    except Exception as exc:
        print(f"runner: cannot record what the job changed: {exc!r}", file=sys.stderr)


def _end_of(start: WorktreeDiff, others: list[str]) -> WorktreeDiff:
    ended_at = now_iso()
    if not start.start_tree:
        return WorktreeDiff(start.repo, start.started_at, "", ended_at, other_jobs=others, error=start.error)
    try:
        end_tree = snapshot_tree(start.repo)
        trees = (start.start_tree, end_tree)
        names = _git(start.repo, "diff", "--no-color", "--no-ext-diff", "--name-status", "-M", *trees)
        diff = _git(
            start.repo,
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "-M",
            *trees,
            limit=MAX_DIFF_BYTES,
        )
    except (GitFailed, OSError) as exc:
        error = f"no snapshot of the working tree at the end: {exc}"
        return WorktreeDiff(
            start.repo, start.started_at, start.start_tree, ended_at, other_jobs=others, error=error
        )
    truncated = len(diff.encode("utf-8")) > MAX_DIFF_BYTES
    if truncated:
        diff = diff.encode("utf-8")[:MAX_DIFF_BYTES].decode("utf-8", "ignore")
    files = [_name_status(line) for line in names.splitlines() if line.strip()]
    return WorktreeDiff(
        start.repo,
        start.started_at,
        start.start_tree,
        ended_at,
        end_tree,
        diff,
        truncated,
        files,
        others,
    )


def _name_status(line: str) -> tuple[str, str]:
    status, _, paths = line.partition("\t")
    return status[:1] or "?", paths.replace("\t", " → ")


def read_worktree_diff(store: InStore, job_id: str) -> WorktreeDiff | None:
    """What the job changed in its repository; None when nothing was recorded (its folder
    is no git repository, or the job has not started)."""
    return _read_recorded(store.layout, job_id)


def _read_recorded(layout: StoreLayout, job_id: str) -> WorktreeDiff | None:
    try:
        data = json.loads(_read(_meta_path(layout, job_id), _MAX_META_BYTES))
    except (ValueError, UnicodeDecodeError, OSError):
        return None
    if not isinstance(data, dict):
        return None
    diff = ""
    if data.get("ended_at"):
        with contextlib.suppress(OSError):
            diff = _read(_diff_path(layout, job_id), MAX_DIFF_BYTES + 1024).decode("utf-8", "replace")
    return WorktreeDiff(
        repo=_str(data.get("repo")),
        started_at=_str(data.get("started_at")),
        start_tree=_str(data.get("start_tree")),
        ended_at=_str(data.get("ended_at")) or None,
        end_tree=_str(data.get("end_tree")) or None,
        diff=diff,
        truncated=bool(data.get("truncated")),
        files=[
            (_str(f[0]), _str(f[1])) for f in data.get("files") or [] if isinstance(f, list) and len(f) == 2
        ],
        other_jobs=[j for j in data.get("other_jobs") or [] if isinstance(j, str)],
        error=_str(data.get("error")) or None,
    )


def _read(path: Path, limit: int) -> bytes:
    """A file of the job's folder, never through a symlink, refused past `limit` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        data = os.read(fd, limit + 1)
        while len(data) <= limit and (more := os.read(fd, limit + 1 - len(data))):
            data += more
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"more than {limit:,} bytes", str(path))
    return data


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
