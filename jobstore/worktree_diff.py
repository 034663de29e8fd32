"""What a job changed in its git working tree: a snapshot when it starts, the diff when it ends.

When a job's folder is inside a git repository, its runner calls `record_worktree_start` before codex
starts and `record_worktree_end` after it exits. Each takes a snapshot of the whole working tree
(tracked and untracked files, .gitignore obeyed) as a git tree object. The diff between the two
trees is kept in the job's folder (`worktree.diff`, with `worktree.json` describing it), so it
stays what the job did even after later edits. It covers every way a file changed (codex's
patches, `sed -i`, `echo >>` in a shell command, new files). Jobs of the store that ran in the
same repository meanwhile are named: their changes may be in the diff.

The person's repository is only read. The snapshots are made in the job's own `snapshot/` folder:
a git folder of ours (our configuration: none of the repository's filters, hooks or other
programs exist there; see jobstore.git), a copy of the repository's index (its stat cache spares
hashing unchanged files), and an object folder that borrows the repository's objects as
alternates, so every object written goes there and never into the person's `.git`. The folder
is removed once the diff is recorded, and when the job is settled. Files over the size bound are
left out (and named in the record) rather than delay codex's start. Every git process carries the
job's marker and is killed at once when `stop()` says the job was cancelled.

Recording never fails a job: what goes wrong is kept as the diff's `error`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jobstore import fsio
from jobstore.errors import JobStoreError
from jobstore.git import Git, GitFailed, GitStopped, RepositoryPaths, repository_paths
from jobstore.layout import FileKind, StoreLayout
from jobstore.record import now_iso
from jobstore.records import Records

MAX_DIFF_BYTES = 16 * 1024 * 1024
_MAX_META_BYTES = 1024 * 1024
_MAX_EXCLUDE_BYTES = 1024 * 1024
# Of the files left out of a snapshot, this many are named in the record (all are counted).
_MAX_NAMED_SKIPPED = 100
CODEX_NEVER_STARTED = "codex never started: no diff to record"
DIFF_NOT_RECORDED = "not recorded: the job's runner ended before its diff was"


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
    # Files left out of the snapshots for their size: how many, the bound, the first few names.
    skipped_count: int = 0
    skipped_over_mb: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def notice(self) -> str | None:
        """What the diff cannot show, said plainly (None when it shows everything)."""
        if not self.skipped_count:
            return None
        files = "file" if self.skipped_count == 1 else "files"
        return (
            f"not snapshotted: {self.skipped_count} {files} over {self.skipped_over_mb} MB "
            "(their changes are not in this diff)"
        )

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
            "skipped_count": self.skipped_count,
            "skipped_over_mb": self.skipped_over_mb,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class Snapshot:
    tree: str
    skipped: list[str]  # files left out for their size (every one)


class SnapshotArea:
    """The job's own place for its snapshots: a git folder of ours, an index, objects."""

    def __init__(
        self,
        folder: Path,
        repo: RepositoryPaths,
        env: Mapping[str, str],
        stop: Callable[[], bool],
        *,
        index_name: str = "index",
    ):
        self.folder = folder
        self.repo = repo
        self.git_dir = folder / "git"
        self.index = folder / index_name
        self.git = Git(
            repo.top,
            git_dir=str(self.git_dir),
            index=str(self.index),
            alternate_objects=[os.path.join(repo.common_dir, "objects")],
            env=env,
            stop=stop,
        )

    def create(self) -> None:
        """A fresh git folder: our configuration only, the repository's ignore rules, and
        the repository's index to start from."""
        fsio.remove_tree(self.folder)
        fsio.ensure_dir(self.folder)
        for sub in ("git", "git/refs", "git/objects", "git/info"):
            os.mkdir(self.folder / sub, 0o700)
        fsio.write_bytes_atomic(self.git_dir / "HEAD", b"ref: refs/heads/snapshot\n", durable=False)
        sha256 = self.repo.object_format == "sha256"
        config = f"[core]\n\trepositoryformatversion = {1 if sha256 else 0}\n\tbare = false\n"
        if sha256:
            config += "[extensions]\n\tobjectFormat = sha256\n"
        fsio.write_bytes_atomic(self.git_dir / "config", config.encode(), durable=False)
        with contextlib.suppress(OSError):
            exclude = _read(Path(self.repo.exclude), _MAX_EXCLUDE_BYTES)
            fsio.write_bytes_atomic(self.git_dir / "info" / "exclude", exclude, durable=False)
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(self.repo.index, self.index)  # its mtime too: git re-reads files no older than it

    def snapshot(self, max_file_bytes: int) -> Snapshot:
        """The whole working tree as a tree object: tracked and untracked files as they are
        now, but those over `max_file_bytes` (a tracked one keeps its indexed version)."""
        try:
            skipped = self._too_large(max_file_bytes)
            self._add_all(skipped)
        except GitStopped:
            raise
        except GitFailed:
            # An index git cannot use from elsewhere (a split index): start from nothing.
            fsio.remove_if_exists(self.index)
            skipped = self._too_large(max_file_bytes)
            self._add_all(skipped)
        return Snapshot(self.git.run("write-tree").strip(), skipped)

    def _too_large(self, max_file_bytes: int) -> list[str]:
        listed = self.git.run_bytes("ls-files", "-z", "--cached", "--others", "--exclude-standard")
        top = os.fsencode(self.repo.top)
        large = []
        for name in dict.fromkeys(listed.split(b"\0")):
            with contextlib.suppress(OSError):
                if name and os.lstat(os.path.join(top, name)).st_size > max_file_bytes:
                    large.append(os.fsdecode(name))
        return large

    def _add_all(self, skipped: list[str]) -> None:
        pathspecs = self.folder / f"{self.index.name}.pathspecs"
        spec = b"".join(b":(top,exclude,literal)" + os.fsencode(name) + b"\0" for name in skipped)
        fsio.write_bytes_atomic(pathspecs, b":/\0" + spec, durable=False)
        self.git.run("add", "--all", f"--pathspec-from-file={pathspecs}", "--pathspec-file-nul")

    def diff(self, start_tree: str, end_tree: str) -> tuple[str, str]:
        """(`--name-status` lines, the diff cut at MAX_DIFF_BYTES)"""
        names = self.git.run("diff", "--no-color", "--name-status", "-M", start_tree, end_tree)
        diff = self.git.run("diff", "--no-color", "-M", start_tree, end_tree, limit=MAX_DIFF_BYTES)
        return names, diff


def discard_snapshot(layout: StoreLayout, job_id: str, why: str) -> None:
    """Remove a job's snapshot folder and, if its diff was not recorded, say `why` in the record
    (a job cancelled before codex started; a job settled after its runner died)."""
    fsio.remove_tree(layout.snapshot_dir(job_id))
    meta = layout.job_file(layout.job_dir(job_id), FileKind.WORKTREE)
    recorded = _read_meta(meta)
    if recorded is not None and not recorded.ended:
        ended = dataclasses.replace(recorded, ended_at=now_iso(), error=recorded.error or why)
        fsio.write_json_atomic(meta, ended.to_dict())


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


def record_worktree_start(
    layout: StoreLayout,
    job_id: str,
    cwd: str,
    *,
    env: Mapping[str, str],
    stop: Callable[[], bool],
    max_file_bytes: int,
) -> None:
    """Snapshot the working tree of the repository holding `cwd`, if any; git is killed as soon
    as `stop()` is true. `env` (the job's marker) is given to every git process. Never raises."""
    try:
        repo = repository_paths(cwd)
        if repo is None:
            return
        started_at = now_iso()
        # Said first, so that a runner killed mid-snapshot leaves a record its settling completes.
        fsio.write_json_atomic(_meta_path(layout, job_id), WorktreeDiff(repo.top, started_at, "").to_dict())
        area = SnapshotArea(layout.snapshot_dir(job_id), repo, env, stop)
        skipped: list[str] = []
        try:
            area.create()
            snapshot = area.snapshot(max_file_bytes)
            tree, skipped, error = snapshot.tree, snapshot.skipped, None
        except GitStopped:
            fsio.remove_tree(area.folder)
            meta = WorktreeDiff(repo.top, started_at, "", now_iso(), error=CODEX_NEVER_STARTED)
            fsio.write_json_atomic(_meta_path(layout, job_id), meta.to_dict())
            return
        except (GitFailed, OSError, JobStoreError) as exc:
            tree, error = "", f"no snapshot of the working tree at the start: {exc}"
        records = Records(layout)
        running = sorted(records.running_ids() - {job_id}, reverse=True)
        others = _jobs_in_repo(records, running, repo.top)
        meta = WorktreeDiff(repo.top, started_at, tree, other_jobs=others, error=error)
        meta = _with_skipped(meta, skipped, max_file_bytes)
        fsio.write_json_atomic(_meta_path(layout, job_id), meta.to_dict())
    except Exception as exc:  # the job runs whatever happens here
        print(f"runner: cannot snapshot the working tree: {exc!r}", file=sys.stderr)


def record_worktree_end(
    layout: StoreLayout, job_id: str, *, env: Mapping[str, str], max_file_bytes: int
) -> None:
    """Record the diff from the start's snapshot to the working tree now, then remove the
    snapshot folder. Never raises."""
    start = _read_meta(_meta_path(layout, job_id))
    if start is None or start.ended:
        return  # no repository (so no snapshot folder), or already recorded
    folder = layout.snapshot_dir(job_id)
    try:
        records = Records(layout)
        newer = [j for j in records.job_ids() if j > job_id]
        others = sorted(set(start.other_jobs) | set(_jobs_in_repo(records, newer, start.repo)))
        end = _end_of(folder, start, others, env, max_file_bytes)
        fsio.write_bytes_atomic(_diff_path(layout, job_id), end.diff.encode("utf-8"))
        fsio.write_json_atomic(_meta_path(layout, job_id), end.to_dict())
    except Exception as exc:
        print(f"runner: cannot record what the job changed: {exc!r}", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            fsio.remove_tree(folder)


def _end_of(
    folder: Path, start: WorktreeDiff, others: list[str], env: Mapping[str, str], max_file_bytes: int
) -> WorktreeDiff:
    ended = dataclasses.replace(start, ended_at=now_iso(), other_jobs=others)
    if not start.start_tree:
        return ended
    repo = repository_paths(start.repo)
    try:
        if repo is None or repo.top != start.repo:
            raise GitFailed(f"{start.repo} is no longer a git working tree")
        # The start's folder: its index knows the files the start hashed, its objects hold the start.
        area = SnapshotArea(folder, repo, env, lambda: False)
        snapshot = area.snapshot(max_file_bytes)
        names, diff = area.diff(start.start_tree, snapshot.tree)
    except (GitFailed, OSError) as exc:
        return dataclasses.replace(ended, error=f"no snapshot of the working tree at the end: {exc}")
    return with_end(ended, snapshot, names, diff, max_file_bytes)


def with_end(
    ended: WorktreeDiff, snapshot: Snapshot, names: str, diff: str, max_file_bytes: int
) -> WorktreeDiff:
    """`ended` holding the end's snapshot and its diff (`SnapshotArea.diff`'s answer)."""
    truncated = len(diff.encode("utf-8")) > MAX_DIFF_BYTES
    if truncated:
        diff = diff.encode("utf-8")[:MAX_DIFF_BYTES].decode("utf-8", "ignore")
    files = [_name_status(line) for line in names.splitlines() if line.strip()]
    recorded = dataclasses.replace(ended, end_tree=snapshot.tree, diff=diff, truncated=truncated, files=files)
    return _with_skipped(recorded, [*ended.skipped, *snapshot.skipped], max_file_bytes, ended.skipped_count)


def write_worktree_diff(layout: StoreLayout, job_id: str, recorded: WorktreeDiff) -> None:
    """Keep `recorded` as the job's diff (its text beside its description)."""
    if recorded.ended:
        fsio.write_bytes_atomic(_diff_path(layout, job_id), recorded.diff.encode("utf-8"))
    fsio.write_json_atomic(_meta_path(layout, job_id), recorded.to_dict())


def with_skipped(diff: WorktreeDiff, skipped: list[str], max_file_bytes: int) -> WorktreeDiff:
    """`diff` naming the files left out of a snapshot for their size."""
    return _with_skipped(diff, skipped, max_file_bytes)


def _with_skipped(
    diff: WorktreeDiff, skipped: list[str], max_file_bytes: int, counted_before: int = 0
) -> WorktreeDiff:
    """`diff` naming the files left out for their size (at the start, the end, or both)."""
    unique = list(dict.fromkeys(skipped))
    count = max(len(unique), counted_before)
    if not count:
        return diff
    over_mb = max(1, max_file_bytes // (1024 * 1024))
    return dataclasses.replace(
        diff, skipped_count=count, skipped_over_mb=over_mb, skipped=unique[:_MAX_NAMED_SKIPPED]
    )


def _name_status(line: str) -> tuple[str, str]:
    status, _, paths = line.partition("\t")
    return status[:1] or "?", paths.replace("\t", " → ")


def read_worktree_diff(store: InStore, job_id: str) -> WorktreeDiff | None:
    """What the job changed in its repository; None when nothing was recorded (its folder
    is no git repository, or the job has not started)."""
    recorded = _read_meta(_meta_path(store.layout, job_id))
    if recorded is None or not recorded.ended:
        return recorded
    diff = ""
    with contextlib.suppress(OSError):
        diff = _read(_diff_path(store.layout, job_id), MAX_DIFF_BYTES + 1024).decode("utf-8", "replace")
    return dataclasses.replace(recorded, diff=diff)


def _read_meta(path: Path) -> WorktreeDiff | None:
    try:
        data = json.loads(_read(path, _MAX_META_BYTES))
    except (ValueError, UnicodeDecodeError, OSError):
        return None
    if not isinstance(data, dict):
        return None
    return WorktreeDiff(
        repo=_str(data.get("repo")),
        started_at=_str(data.get("started_at")),
        start_tree=_str(data.get("start_tree")),
        ended_at=_str(data.get("ended_at")) or None,
        end_tree=_str(data.get("end_tree")) or None,
        truncated=bool(data.get("truncated")),
        files=[
            (_str(f[0]), _str(f[1])) for f in data.get("files") or [] if isinstance(f, list) and len(f) == 2
        ],
        other_jobs=[j for j in data.get("other_jobs") or [] if isinstance(j, str)],
        error=_str(data.get("error")) or None,
        skipped_count=_count(data.get("skipped_count")),
        skipped_over_mb=_count(data.get("skipped_over_mb")),
        skipped=[name for name in data.get("skipped") or [] if isinstance(name, str)][:_MAX_NAMED_SKIPPED],
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


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
