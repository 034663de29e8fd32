"""The store's job index: every job's id, one a line, in (nearly) creation order, so that the
newest jobs are read from the end of one small file instead of by listing a folder of
100,000 (listing cost ~1 µs a job; the end of the index costs the same at any size).

<root>/jobs.index holds lines of exactly `LINE_BYTES` bytes: a job id and a newline, so a
reader finds line k by arithmetic, like a tail. It is kept true by the one writer of each
job: `add`, called under the scheduler lock, appends the id *before* the job's folder is
renamed into place, so every job folder's id is in the index (a crash in between leaves an
id without a folder, which readers skip, and a partial last line, which they ignore).
Once the folder is in place the writer seals the index: sets its mtime to the job folder's.
A reader trusts the index only while the two agree, so a job folder that appeared any other
way (by hand, or by a process of an earlier version that knows no index) makes it list the
folder until a writer next seals; a staging folder (a start under way) briefly does too.
Ids are made before the lock is taken, so concurrent creators append slightly out of order;
`add` keeps every id newer than all ids more than `MAX_DISORDER` lines before it (else it
rewrites the index sorted), which tells a reader how far back it must read.

Reads never write: an index that is missing, damaged, a symlink, not ours, unsealed or
missing a job makes `newest` raise `IndexUnusable` and the caller lists the folder instead
(correct, only slower). Writers repair: `add` rebuilds a missing or damaged index, and
`check` (the periodic reconcile, prune) compares it with the folder and rebuilds it when
they disagree, e.g. after a process of an earlier version created jobs without appending
them, or after a power loss ate appends (they are not fsynced: the folder is the truth,
the index a cache).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path

from jobstore import fsio
from jobstore.errors import StoreRefused, StoreWriteError
from jobstore.ids import JOB_ID_LENGTH, JOB_ID_PATTERN, is_job_id

LINE_BYTES = JOB_ID_LENGTH + 1
# How far (in lines) an id may sit after an older one; `add` keeps it so.
MAX_DISORDER = 64
# Lines a reader takes at a time from the end; more than MAX_DISORDER, so each read
# proves some of its ids newer than everything before it.
CHUNK_LINES = 256

Stamp = tuple[int, ...]
# Lines of job ids, checked in one pass (not one call a line: 100,000 lines are read by `check`).
_ID_LINES = re.compile(rf"(?:{JOB_ID_PATTERN}\n)*")


class IndexUnusable(Exception):
    """The index cannot be trusted for this read: list the folder instead."""


class JobIndex:
    """The index of one store's jobs (see the module's docstring)."""

    def __init__(self, path: Path, jobs_dir: Path, lock: Path) -> None:
        self.path = path
        self.jobs_dir = jobs_dir
        self.lock = lock  # the scheduler lock: held around every append and rebuild
        self._checked: Stamp | None = None

    # ------------------------------------------------------------------ reading

    def newest(self, expected: Collection[str] = ()) -> Iterator[str]:
        """The index's ids, newest first, each once (their folders are not checked). An id of
        `expected` (jobs holding markers: the ones an earlier version may have created) that
        would rank among them, is not in the index and has a folder means the index misses
        jobs. Raises IndexUnusable, possibly after yielding some ids (those were right)."""
        try:
            fd = fsio.open_file(self.path, os.O_RDONLY)
        except (OSError, StoreRefused) as exc:
            raise IndexUnusable(str(exc)) from None
        try:
            index = os.fstat(fd)
            if index.st_mtime_ns != _mtime_ns(self.jobs_dir):
                raise IndexUnusable("the job folders changed since the index was sealed")
            # A partial last line is an append cut short: its job's folder was never renamed in.
            position = index.st_size // LINE_BYTES
            unread = set(expected)
            seen: set[str] = set()
            pending: list[str] = []  # read, not yet proved newest
            while True:
                start = max(0, position - CHUNK_LINES)
                ids = _read_lines(fd, start, position)
                # Every id before `start` is older than each id from start + MAX_DISORDER on.
                floor = min(ids[MAX_DISORDER:]) if start > 0 else ""
                for job_id in ids:
                    if job_id not in seen:
                        seen.add(job_id)
                        pending.append(job_id)
                for job_id in [j for j in unread if j >= floor]:
                    unread.discard(job_id)
                    if job_id not in seen and os.path.lexists(self.jobs_dir / job_id):
                        raise IndexUnusable(f"job {job_id} is not in the index")
                pending.sort(reverse=True)
                proved = sum(1 for job_id in pending if job_id >= floor)
                yield from pending[:proved]
                del pending[:proved]
                if start == 0:
                    return
                position = start
        finally:
            os.close(fd)

    def read_all(self) -> list[str]:
        """Every id of the index, in file order, checked to keep within MAX_DISORDER; raises
        IndexUnusable otherwise."""
        try:
            fd = fsio.open_file(self.path, os.O_RDONLY)
        except (OSError, StoreRefused) as exc:
            raise IndexUnusable(str(exc)) from None
        try:
            size = os.fstat(fd).st_size
            if size % LINE_BYTES:
                raise IndexUnusable("a partial line")
            ids = _read_lines(fd, 0, size // LINE_BYTES)
        finally:
            os.close(fd)
        newest_before = ""  # the newest id more than MAX_DISORDER lines back
        for index in range(MAX_DISORDER + 1, len(ids)):
            newest_before = max(newest_before, ids[index - MAX_DISORDER - 1])
            if ids[index] <= newest_before:
                raise IndexUnusable(f"job {ids[index]} is out of order")
        return ids

    # ------------------------------------------------------------------ writing

    def add(self, job_id: str) -> None:
        """Append `job_id`, whose folder the caller is about to rename into place; the caller
        holds the scheduler lock. A missing, damaged or refused index is rebuilt, one whose
        end `job_id` is too old for is rewritten sorted. When neither works the index is
        removed (readers list the folder); when even that fails, StoreWriteError: the job
        must not be created where listings would miss it."""
        try:
            fd = fsio.open_file(self.path, os.O_RDWR | os.O_APPEND)
        except (OSError, StoreRefused):
            self._rebuild_or_remove(job_id)
            return
        try:
            size = os.fstat(fd).st_size
            fits = size % LINE_BYTES == 0 and _fits_at_end(fd, size // LINE_BYTES, job_id)
        except (OSError, IndexUnusable):
            fits = False
        try:
            # One write of a short line with O_APPEND lands whole (we also hold the lock).
            if fits and os.write(fd, f"{job_id}\n".encode("ascii")) != LINE_BYTES:
                raise OSError("a short write")  # a partial line readers ignore: the job would be missed
        except OSError:
            self._remove()
            return
        finally:
            os.close(fd)
        if not fits:
            self._rebuild_or_remove(job_id)

    def check(self) -> bool:
        """Compare the index with the job folders, and rebuild it (under the scheduler lock)
        when they disagree or it is unusable. Skipped when neither changed since this
        process last found them in agreement. Returns whether it rebuilt."""
        stamp = self._stamp()
        if stamp is None or stamp == self._checked:
            return False
        try:
            indexed = set(self.read_all())
            try:
                names = set(os.listdir(self.jobs_dir))
            except FileNotFoundError:
                names = set()
            # Every id a folder, every folder an id (the few other names checked one by one).
            agree = indexed <= names and not any(map(is_job_id, names - indexed))
        except IndexUnusable:
            agree = False
        with fsio.file_lock(self.lock):  # no start between the look at the folder and the seal
            if not agree:
                self._rebuild_or_remove(None)
            elif _mtime_ns(self.jobs_dir) == stamp[1]:  # else changed meanwhile: left as it is
                self._seal_at(stamp[1])
        self._checked = self._stamp()
        return not agree

    def seal(self) -> None:
        """Stamp the index with the job folder's mtime, after a writer put a job folder in
        place (its id appended before): readers trust the index while the two agree."""
        with contextlib.suppress(OSError):
            self._seal_at(_mtime_ns(self.jobs_dir))

    def _seal_at(self, folder_mtime_ns: int) -> None:
        try:
            fd = fsio.open_file(self.path, os.O_RDONLY)
        except (OSError, StoreRefused):
            return  # no index to seal: readers list the folder
        try:
            os.utime(fd, ns=(folder_mtime_ns, folder_mtime_ns))
        finally:
            os.close(fd)

    def rebuild(self, also: str | None = None) -> None:
        """Write the index afresh from the job folders (and `also`, a job about to be renamed
        in), sorted, replacing whatever is there (a symlink is replaced, never followed).
        The caller holds the scheduler lock, so no append is lost to the replaced file."""
        folder_mtime = _mtime_ns(self.jobs_dir)  # before it is read: a change meanwhile unseals
        ids = self._folder_ids()
        if also is not None:
            ids.add(also)
        data = "".join(f"{job_id}\n" for job_id in sorted(ids)).encode("ascii")
        # Durable: an empty index left by a crash would hide every job until the next check.
        fsio.write_bytes_atomic(self.path, data)
        self._seal_at(folder_mtime)

    def _rebuild_or_remove(self, also: str | None) -> None:
        try:
            self.rebuild(also)
        except (OSError, StoreWriteError, StoreRefused):
            self._remove()

    def _remove(self) -> None:
        try:
            fsio.remove_if_exists(self.path)
        except OSError as exc:
            raise StoreWriteError(f"cannot update or remove the job index {self.path}: {exc}") from exc

    def _folder_ids(self) -> set[str]:
        try:
            return {name for name in os.listdir(self.jobs_dir) if is_job_id(name)}
        except FileNotFoundError:
            return set()

    def _stamp(self) -> Stamp | None:
        """What changes when a job folder comes or goes, or the index is written: the
        folder's (inode, mtime), then the index's."""
        try:
            folder = os.stat(self.jobs_dir)
        except FileNotFoundError:
            return None
        index: Stamp = ()
        with contextlib.suppress(OSError):
            st = os.lstat(self.path)
            index = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid)
        return (folder.st_ino, folder.st_mtime_ns, *index)


def _mtime_ns(folder: Path) -> int:
    return os.stat(folder).st_mtime_ns


def _read_lines(fd: int, start: int, end: int) -> list[str]:
    """Lines [start, end) of the index as ids; IndexUnusable for anything else."""
    if end <= start:
        return []
    data = os.pread(fd, (end - start) * LINE_BYTES, start * LINE_BYTES)
    if len(data) != (end - start) * LINE_BYTES:
        raise IndexUnusable("the index is shorter than it was")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise IndexUnusable("a line that is not a job id") from None
    if _ID_LINES.fullmatch(text) is None:
        raise IndexUnusable("a line that is not a job id")
    ids = text.split("\n")
    ids.pop()  # after the last newline
    return ids


def _fits_at_end(fd: int, lines: int, job_id: str) -> bool:
    """Whether `job_id` may be appended after `lines` lines: newer than every id more than
    MAX_DISORDER lines before it. The ids before the last 2 * MAX_DISORDER + 1 lines are
    older than one of the MAX_DISORDER + 1 lines before the last MAX_DISORDER (the order the
    index keeps), so only the end is read; all of it must be ids (IndexUnusable)."""
    end = _read_lines(fd, max(0, lines - 2 * MAX_DISORDER - 1), lines)
    return all(job_id > other for other in end[: max(0, len(end) - MAX_DISORDER)])
