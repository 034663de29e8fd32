"""The on-disk protocol of jobs: read and validate a record, lock, write atomically, move along
the state machine, restore, markers, and assembling a new job. Files only: no processes.

Every write here is a step of a named operation further up (the scheduler, the job's
port or the facade); nothing here decides when to write.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from jobstore import fsio
from jobstore.errors import JobNotFound, StoreRefused, StoreWriteError, UnreadableRecord
from jobstore.ids import check_job_id, is_job_id, new_job_id
from jobstore.job_index import IndexUnusable, JobIndex
from jobstore.layout import STAGING_PREFIX, FileKind, StoreLayout
from jobstore.output_file import OutputFile, Tail
from jobstore.record import JobRecord, now_iso, parse_iso
from jobstore.states import JobStatus, can_transition

# A record holds a prompt of at most 512 KiB (escaped in JSON: up to six times that).
MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_CACHE_BYTES = 64 * 1024 * 1024  # summary.json, last_message.txt
# A staging folder older than this whose creator holds no lock on it was left by a crash.
STALE_STAGING_SECONDS = 60.0


class Records:
    """The records, markers and job folders of one store."""

    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout
        self.index = JobIndex(layout.job_index, layout.jobs_dir, layout.scheduler_lock)
        self._ensured = False
        self._verified = False
        # The staging folders this process is assembling, each flocked while it does.
        self._staging_locks: dict[str, int] = {}
        self._staging_guard = threading.Lock()

    # ------------------------------------------------------------------ trust

    def verify(self, *, again: bool = False) -> None:
        """Refuse (StoreRefused) a store whose root or folders are not ours, are symlinks or
        may be written by group or others. Checked once for reading (a folder's owner and
        mode only change by our own hand or root's); `again` before anything is executed."""
        if self._verified and not again:
            return
        complete = True
        for path in self.layout.folders:
            try:
                os.close(fsio.open_folder(path, follow=path == self.layout.root))
            except FileNotFoundError:
                complete = False  # nothing there to read yet; checked again next time
        self._verified = complete

    # ------------------------------------------------------------------ reading

    def exists(self, job_id: str) -> bool:
        return os.path.lexists(self.layout.job_dir(job_id))

    def read(self, job_id: str) -> JobRecord:
        """The record as stored. Raises JobNotFound, or UnreadableRecord for a job folder
        whose meta.json is missing, empty, not a valid record, or not a plain private file
        of ours in a private folder of ours (no symlink is followed)."""
        check_job_id(job_id)
        self.verify()
        try:
            raw = fsio.read_file(self.layout.meta(job_id), limit=MAX_RECORD_BYTES)
        except FileNotFoundError:
            if self.exists(job_id):
                raise UnreadableRecord(f"job {job_id} has no meta.json") from None
            raise JobNotFound(f"no job {job_id} in the store at {self.layout.root}") from None
        except StoreRefused as exc:
            raise UnreadableRecord(f"job {job_id}: {exc}") from None
        except OSError as exc:
            raise UnreadableRecord(f"job {job_id}: cannot read meta.json ({exc.strerror})") from exc
        try:
            record = JobRecord.from_json_bytes(raw)
        except (ValueError, TypeError) as exc:
            raise UnreadableRecord(f"job {job_id}: {exc}") from None
        if record.job_id != job_id:
            raise UnreadableRecord(
                f"job {job_id}: meta.json field job_id is {record.job_id!r}: the record of another job"
            )
        return record

    def job_ids(self) -> list[str]:
        """Every job id in the store, newest first (ids sort by creation time): the folder
        listed, which for all of them is cheaper than the index checked id by id."""
        self.verify()
        return list(self._listed_ids())

    def newest_ids(self) -> Iterator[str]:
        """The job ids of `job_ids`, in its order, taken lazily from the end of the job index
        (see job_index.py): the newest 20 cost the same among 1,000 jobs or 100,000. An id
        whose folder is gone is skipped; an index that cannot be trusted (missing in a store
        of an earlier version, damaged, not ours, missing a job that holds a marker) gives
        way to listing the folder, the rest of the way. Nothing is written: writers repair."""
        self.verify()
        return self._newest_ids()

    def _newest_ids(self) -> Iterator[str]:
        last: str | None = None
        try:
            for job_id in self.index.newest(self.queued_ids() | self.running_ids()):
                if self.exists(job_id):
                    last = job_id
                    yield job_id
        except IndexUnusable:
            # Those already given were the newest: go on below the last of them.
            yield from (job_id for job_id in self._listed_ids() if last is None or job_id < last)

    def _listed_ids(self) -> Iterator[str]:
        try:
            names = os.listdir(self.layout.jobs_dir)
        except FileNotFoundError:
            return iter(())
        names.sort(reverse=True)
        return (name for name in names if is_job_id(name))

    def queued_ids(self) -> set[str]:
        self.verify()
        return _ids_in(self.layout.queue_dir)

    def running_ids(self) -> set[str]:
        self.verify()
        return _ids_in(self.layout.running_dir)

    def output_tail(self, job_id: str, lines: int) -> Tail:
        """The end of the job's output.txt (none yet: no lines); see `open_output`."""
        output = self.open_output(job_id)
        if output is None:
            return Tail([], 0, False)
        with output:
            return output.tail(lines)

    def open_output(self, job_id: str) -> OutputFile | None:
        """The job's output.txt, open for reading if it is a plain private file of ours (no
        symlink followed); None while there is none. Raises JobNotFound for a job the store
        does not hold, UnreadableRecord for an output the store's rules refuse."""
        check_job_id(job_id)
        if not self.exists(job_id):
            raise JobNotFound(f"no job {job_id} in the store at {self.layout.root}")
        try:
            self.verify()
            return OutputFile.open(self.layout.output(job_id))
        except FileNotFoundError:
            return None
        except StoreRefused as exc:
            raise UnreadableRecord(f"job {job_id}: {exc}") from None
        except OSError as exc:
            raise UnreadableRecord(f"job {job_id}: cannot read output.txt ({exc.strerror})") from None

    def read_cache(self, job_id: str, kind: FileKind) -> bytes | None:
        """A file the runner keeps beside the record (summary, last message); None when
        missing or not a plain file of ours."""
        try:
            return fsio.read_file(
                self.layout.job_file(self.layout.job_dir(job_id), kind), limit=MAX_CACHE_BYTES
            )
        except (OSError, StoreRefused):
            return None

    # ------------------------------------------------------------------ writing

    def ensure(self) -> None:
        """Create the store's folders (private to the user). Writers call this; readers need not.
        Done once; a store deleted meanwhile is made again when a write is refused."""
        if self._ensured:
            return
        for path in self.layout.folders:
            fsio.ensure_dir(path, follow=path == self.layout.root)
        self._ensured = self._verified = True

    def write(self, record: JobRecord) -> None:
        """Write the record; the caller holds the job's lock (its one writer)."""
        fsio.write_json_atomic(self.layout.meta(record.job_id), record.to_dict())

    @contextlib.contextmanager
    def job_lock(self, job_id: str) -> Iterator[None]:
        """The job's record's one writer at a time: an flock on the job's folder (no lock file,
        no inode of its own), and on the `lock` file that earlier versions made, where it
        exists, so that a runner of such a version still running takes turns with us."""
        folder, legacy = self.layout.job_dir(job_id), self.layout.job_lock(job_id)
        with fsio.folder_lock(folder), fsio.lock_if_present(legacy):
            yield

    @contextlib.contextmanager
    def locked(self, job_id: str) -> Iterator[JobRecord]:
        """Read-modify-write: the record, locked against other writers; written back after
        if the block changed it."""
        with self.job_lock(job_id):
            record = self.read(job_id)
            before = record.to_dict()
            yield record
            if record.to_dict() != before:
                self.write(record)

    def update(self, job_id: str, **fields: object) -> JobRecord:
        """Set fields of a job's record (never its status: see `transition`)."""
        if "status" in fields:
            raise ValueError("use transition() to change a job's status")
        with self.locked(job_id) as record:
            for name, value in fields.items():
                setattr(record, name, value)
        return record

    def transition(self, job_id: str, new: JobStatus, **fields: object) -> JobRecord | None:
        """Move the job to `new` if the state machine allows it from where it is now; an
        ended job gives up its slot. Returns the new record, or None when the job had
        already moved on (e.g. it ended on its own while a cancel was on its way): the
        first end wins."""
        with self.locked(job_id) as record:
            if not can_transition(record.status, new):
                return None
            record.status = new
            for name, value in fields.items():
                setattr(record, name, value)
            if new.is_terminal and record.finished_at is None:
                record.finished_at = now_iso()
        if new.is_terminal:
            self.release_slot(job_id)
        return record

    def restore(self, record: JobRecord) -> bool:
        """Put back a record whose meta.json was deleted or damaged under a live job.
        A readable record is never overwritten. Returns whether it was written."""
        with self.job_lock(record.job_id):
            try:
                self.read(record.job_id)
                return False
            except UnreadableRecord:
                self.write(record)
                return True

    # ------------------------------------------------------------------ markers

    def mark_queued(self, job_id: str) -> None:
        fsio.link_marker(self.layout.marker_source, self.layout.queued_marker(job_id))

    def mark_running(self, job_id: str) -> None:
        """Take a slot: the job leaves the queue."""
        fsio.link_marker(self.layout.marker_source, self.layout.running_marker(job_id))
        fsio.remove_if_exists(self.layout.queued_marker(job_id))

    def unmark_queued(self, job_id: str) -> None:
        fsio.remove_if_exists(self.layout.queued_marker(job_id))

    def release_slot(self, job_id: str) -> None:
        """The job holds no slot and waits for none."""
        fsio.remove_if_exists(self.layout.running_marker(job_id))
        fsio.remove_if_exists(self.layout.queued_marker(job_id))

    def request_cancel(self, job_id: str) -> JobRecord:
        """Note a cancel request in the record and leave the `cancel` marker the runner looks
        for. Returns the record as it is now (already ended: unchanged)."""
        with self.locked(job_id) as record:
            if record.is_terminal:
                return record
            if record.cancel_requested_at is None:
                record.cancel_requested_at = now_iso()
            fsio.create_empty(self.layout.cancel_marker(job_id))
        return record

    # ------------------------------------------------------- a new job's folder

    def claim_staging(self) -> tuple[str, Path]:
        """A fresh job id and its hidden staging folder, where the job is assembled."""
        for _ in range(20):
            job_id = new_job_id()
            staging = self.layout.staging_dir(job_id)
            if self.exists(job_id):
                continue
            try:
                os.mkdir(staging, fsio.DIR_MODE)
                fd = fsio.open_folder(staging)
            except FileExistsError:
                continue
            except FileNotFoundError:
                self._ensured = False  # someone removed the store's folders: make them again
                self.ensure()
                continue
            except OSError as exc:
                raise StoreWriteError(f"cannot create {staging}: {exc.strerror or exc}") from exc
            # Held until the job is published or discarded: a staging folder nobody holds
            # is a crashed creator's, and removed once stale.
            fsio.try_lock_folder(fd)
            with self._staging_guard:
                self._staging_locks[job_id] = fd
            return job_id, staging
        raise StoreWriteError("could not find a free job id")

    def stage_inputs(
        self,
        staging: Path,
        *,
        argv: list[str],
        stdin_text: str | None,
        app_server: dict[str, Any] | None = None,
    ) -> None:
        """The runner's inputs (`app_server`: what it asks codex's app-server for). Not
        records: only meta.json needs to be durable, and one fsync is most of what a start costs."""
        prompt = self.layout.job_file(staging, FileKind.PROMPT)
        if stdin_text is not None:
            fsio.write_bytes_atomic(prompt, stdin_text.encode("utf-8"), durable=False)
        command: dict[str, Any] = {"argv": argv, "stdin": prompt.name if stdin_text is not None else None}
        if app_server is not None:
            command["app_server"] = app_server
        fsio.write_json_atomic(self.layout.job_file(staging, FileKind.COMMAND), command, durable=False)
        fsio.create_empty(self.layout.job_file(staging, FileKind.OUTPUT))

    def publish(self, record: JobRecord, staging: Path) -> None:
        """Write the record into the staging folder, add the job to the index and rename the
        folder into place: no reader ever sees a job folder without a meta.json. The caller
        holds the scheduler lock (the index's appends and rebuilds take turns under it)."""
        fsio.write_json_atomic(self.layout.job_file(staging, FileKind.META), record.to_dict())
        # Indexed before it appears: a crash in between leaves an id without a folder
        # (skipped), never a job the index misses.
        self.index.add(record.job_id)
        try:
            os.rename(staging, self.layout.job_dir(record.job_id))
        except OSError as exc:
            raise StoreWriteError(f"cannot create job {record.job_id}: {exc.strerror or exc}") from exc
        self.index.seal()
        self._unlock_staging(record.job_id)

    def discard(self, job_id: str, staging: Path) -> None:
        """Remove every trace of a job whose creation failed."""
        self.release_slot(job_id)
        for folder in (staging, self.layout.job_dir(job_id)):
            with contextlib.suppress(OSError, StoreRefused):
                fsio.remove_tree(folder)
        self._unlock_staging(job_id)

    def _unlock_staging(self, job_id: str) -> None:
        with self._staging_guard:
            fd = self._staging_locks.pop(job_id, None)
        if fd is not None:
            os.close(fd)

    def prune(self, cutoff: datetime) -> list[str]:
        """Delete the jobs recorded as ended before `cutoff`; return their ids. A job that
        cannot be read is never deleted: it may not be ours."""
        removed = []
        for job_id in self.job_ids():
            try:
                record = self.read(job_id)
            except (UnreadableRecord, JobNotFound):
                continue
            ended = parse_iso(record.finished_at or record.created_at)
            if record.is_terminal and ended is not None and ended < cutoff:
                self.delete(job_id)
                removed.append(job_id)
        if removed:
            self.check_index()  # drops their ids
        return removed

    def check_index(self) -> bool:
        """Rebuild the job index if it disagrees with the job folders (see JobIndex.check)."""
        return self.index.check()

    def delete(self, job_id: str) -> None:
        """Delete a job's folder (refused for one that is not ours: StoreRefused)."""
        fsio.remove_tree(self.layout.job_dir(job_id))

    def remove_stale_staging(self) -> list[str]:
        """Remove staging folders left by creators that crashed (a server killed during
        codex_start): older than a minute and locked by nobody. Returns their names."""
        removed = []
        try:
            names = [n for n in os.listdir(self.layout.jobs_dir) if n.startswith(STAGING_PREFIX)]
        except FileNotFoundError:
            return []
        for name in names:
            path = self.layout.jobs_dir / name
            with contextlib.suppress(OSError, StoreRefused):
                fd = fsio.open_folder(path)
                try:
                    if time.time() - os.fstat(fd).st_mtime < STALE_STAGING_SECONDS:
                        continue
                    if not fsio.try_lock_folder(fd):
                        continue  # its creator is still at work
                    fsio.remove_tree(path)
                    removed.append(name)
                finally:
                    os.close(fd)
        return removed


def _ids_in(folder: Path) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if is_job_id(n)}
    except FileNotFoundError:
        return set()
