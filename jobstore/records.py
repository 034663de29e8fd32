"""The on-disk protocol of jobs: read and validate a record, lock, write atomically, move along
the state machine, restore, markers, and assembling a new job. Files only: no processes.

Every write here is a step of a named operation one layer up (the scheduler or the
facade); nothing here decides when to write.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from jobstore import fsio
from jobstore.errors import JobNotFound, StoreWriteError, UnreadableRecord
from jobstore.ids import check_job_id, is_job_id, new_job_id
from jobstore.layout import FileKind, StoreLayout
from jobstore.record import JobRecord, now_iso
from jobstore.states import JobStatus, can_transition


class Records:
    """The records, markers and job folders of one store."""

    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout
        self._ensured = False

    # ------------------------------------------------------------------ reading

    def exists(self, job_id: str) -> bool:
        return self.layout.job_dir(job_id).is_dir()

    def read(self, job_id: str) -> JobRecord:
        """The record as stored. Raises JobNotFound, or UnreadableRecord for a job folder
        whose meta.json is missing, empty or not a record."""
        check_job_id(job_id)
        try:
            raw = self.layout.meta(job_id).read_bytes()
        except FileNotFoundError:
            if self.exists(job_id):
                raise UnreadableRecord(f"job {job_id} has no meta.json") from None
            raise JobNotFound(f"no job {job_id} in the store at {self.layout.root}") from None
        except OSError as exc:
            raise UnreadableRecord(f"job {job_id}: cannot read meta.json ({exc.strerror})") from exc
        try:
            return JobRecord.from_json_bytes(raw)
        except (ValueError, TypeError) as exc:
            raise UnreadableRecord(f"job {job_id}: {exc}") from None

    def job_ids(self) -> list[str]:
        """Every job id in the store, newest first (ids sort by creation time)."""
        return sorted(_ids_in(self.layout.jobs_dir), reverse=True)

    def queued_ids(self) -> set[str]:
        return _ids_in(self.layout.queue_dir)

    def running_ids(self) -> set[str]:
        return _ids_in(self.layout.running_dir)

    # ------------------------------------------------------------------ writing

    def ensure(self) -> None:
        """Create the store's folders (private to the user). Writers call this; readers need not.
        Done once; a store deleted meanwhile is made again when a write is refused."""
        if self._ensured:
            return
        for path in self.layout.folders:
            fsio.ensure_dir(path)
        self._ensured = True

    def write(self, record: JobRecord) -> None:
        fsio.write_json_atomic(self.layout.meta(record.job_id), record.to_dict())

    @contextlib.contextmanager
    def locked(self, job_id: str) -> Iterator[JobRecord]:
        """Read-modify-write: the record, locked against other writers; written back after
        if the block changed it."""
        with fsio.file_lock(self.layout.job_lock(job_id)):
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
        with fsio.file_lock(self.layout.job_lock(record.job_id)):
            try:
                self.read(record.job_id)
                return False
            except UnreadableRecord:
                self.write(record)
                return True

    # ------------------------------------------------------------------ markers

    def mark_queued(self, job_id: str) -> None:
        fsio.create_empty(self.layout.queued_marker(job_id))

    def mark_running(self, job_id: str) -> None:
        """Take a slot: the job leaves the queue."""
        fsio.create_empty(self.layout.running_marker(job_id))
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
                staging.mkdir(mode=fsio.DIR_MODE)
            except FileExistsError:
                continue
            except FileNotFoundError:
                self._ensured = False  # someone removed the store's folders: make them again
                self.ensure()
                continue
            except OSError as exc:
                raise StoreWriteError(f"cannot create {staging}: {exc.strerror or exc}") from exc
            return job_id, staging
        raise StoreWriteError("could not find a free job id")

    def stage_inputs(self, staging: Path, *, argv: list[str], stdin_text: str | None) -> None:
        """The runner's inputs. Not records: only meta.json needs to be durable, and one
        fsync is most of what a start costs."""
        prompt = self.layout.job_file(staging, FileKind.PROMPT)
        if stdin_text is not None:
            fsio.write_bytes_atomic(prompt, stdin_text.encode("utf-8"), durable=False)
        fsio.write_json_atomic(
            self.layout.job_file(staging, FileKind.COMMAND),
            {"argv": argv, "stdin": prompt.name if stdin_text is not None else None},
            durable=False,
        )
        fsio.create_empty(self.layout.job_file(staging, FileKind.OUTPUT))

    def publish(self, record: JobRecord, staging: Path) -> None:
        """Write the record into the staging folder and rename it into place: no reader
        ever sees a job folder without a meta.json."""
        fsio.write_json_atomic(self.layout.job_file(staging, FileKind.META), record.to_dict())
        try:
            os.rename(staging, self.layout.job_dir(record.job_id))
        except OSError as exc:
            raise StoreWriteError(f"cannot create job {record.job_id}: {exc.strerror or exc}") from exc

    def discard(self, job_id: str, staging: Path) -> None:
        """Remove every trace of a job whose creation failed."""
        self.release_slot(job_id)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(self.layout.job_dir(job_id), ignore_errors=True)

    def delete(self, job_id: str) -> None:
        shutil.rmtree(self.layout.job_dir(job_id), ignore_errors=True)


def _ids_in(folder: Path) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if is_job_id(n)}
    except FileNotFoundError:
        return set()
