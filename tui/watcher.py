"""Watching the store's files and turning changes into messages.

Only a handful of folders are watched, none recursively, so the cost does not grow
with the number of jobs (inotify watches are a limited resource): those the store names
(`JobStore.watch_paths`: its root and folders, and the folders of the active jobs and the
selected one). What a changed path is, the store says too (`JobStore.classify`); no file
name is spelled here.

Where there is inotify, every folder is watched with it (`tui.file_events`) for the events
that matter only: entries created, renamed in or out, deleted, files closed after writing,
the folder itself going away; never writes: a job's output grows a line at a time, and
watchfiles would handle every write (a flood of a million lines cost ~4 s of CPU). A change
is delivered at once, where watchfiles waits for a quiet `step` after it (~45 ms for a new
job, whose start writes several files) and wakes its thread every step while nothing
changes. The output on screen is followed by the output view's own watch of that one file.
The set of job folders follows the UI (`set_jobs`); a job whose folder starts being
watched is re-read so nothing that changed before is missed. Without inotify, all of it is
watched with watchfiles, and a change of the set of job folders restarts that watch.
A store that does not exist yet is waited for by watching its nearest existing parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from jobstore import FileKind, JobStore
from jobstore.inotify import FOLDER_CHANGES, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_Q_OVERFLOW
from tui.file_events import FileEvent, PathWatch

log = logging.getLogger(__name__)

# Files whose change means the job's row may read differently.
_RECORD_KINDS = frozenset(
    {
        FileKind.JOB_DIR,
        FileKind.META,
        FileKind.SUMMARY,
        FileKind.CANCEL_MARKER,
        FileKind.LAST_MESSAGE,
        FileKind.QUEUED_MARKER,
        FileKind.RUNNING_MARKER,
    }
)
_SHOWN_KINDS = _RECORD_KINDS | {FileKind.OUTPUT, FileKind.SESSION_INDEX}
# A job folder's entries changing, and files closed after writing (last_message.txt is
# written in place; output.txt is closed when codex ends). Never a write: see above.
JOB_FOLDER_EVENTS = FOLDER_CHANGES | IN_CLOSE_WRITE
# The store's folders: the same, and entries renamed away (a job folder moved out of jobs/).
STORE_FOLDER_EVENTS = JOB_FOLDER_EVENTS | IN_MOVED_FROM


@dataclass(frozen=True)
class StoreChanges:
    """What changed, in the terms the UI cares about."""

    job_ids: frozenset[str] = frozenset()  # records to read again
    output_ids: frozenset[str] = frozenset()  # outputs that grew
    sessions: bool = False  # the session index changed
    rescan: bool = False  # anything may have changed: compare the whole store
    # The watch was restarted: jobs may have come or gone in between. Compare the listing
    # and re-read the active jobs (cheap), not every record.
    listing: bool = False
    structure: bool = field(default=False, compare=False)  # the watched folders changed

    @property
    def empty(self) -> bool:
        return not (self.job_ids or self.output_ids or self.sessions or self.rescan or self.listing)


def classify(store: JobStore, changes: Iterable[tuple[Change, str]]) -> StoreChanges:
    """What a batch of file events means to the UI. Paths the store calls OTHER (locks,
    temporary files) are ignored, except the store's own folders: those change the watch."""
    job_ids: set[str] = set()
    output_ids: set[str] = set()
    sessions = False
    structure = False
    folders = {str(path) for path in store.watch_paths()}
    for _change, raw in changes:
        found = store.classify(raw)
        if found is None or raw in folders:
            structure = True  # the root or one of its folders (or a parent, while waiting for it)
            continue
        if found.kind == FileKind.OUTPUT and found.job_id is not None:
            output_ids.add(found.job_id)
        elif found.kind in _RECORD_KINDS and found.job_id is not None:
            job_ids.add(found.job_id)
        elif found.kind == FileKind.SESSION_INDEX:
            sessions = True
    return StoreChanges(
        frozenset(job_ids), frozenset(output_ids), sessions, rescan=structure, structure=structure
    )


def nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


class StoreWatcher:
    """Runs as an async worker of the app; calls `post` with each batch of changes."""

    def __init__(
        self,
        store: JobStore,
        post: Callable[[StoreChanges], object],
        *,
        debounce_ms: int = 200,
        step_ms: int = 50,
    ) -> None:
        self.store = store
        self.root = store.root
        self._folders = frozenset(str(path) for path in store.watch_paths())
        self.post = post
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self._jobs: frozenset[str] = frozenset()
        self._restart = asyncio.Event()
        self._job_watch: PathWatch | None = None  # set while running, where there is inotify
        self._job_wds: dict[str, int] = {}  # job id -> its folder's watch
        self._resync = False  # the store's folders changed: watch them again, compare everything
        self.watching: tuple[Path, ...] = ()  # the store's folders watched (tests, diagnostics)
        self.running = asyncio.Event()  # set once the store itself is being watched

    @property
    def watched_jobs(self) -> frozenset[str]:
        """The jobs whose folders are watched now (for tests and diagnostics)."""
        if self._job_watch is not None:
            return frozenset(self._job_wds)
        return frozenset(
            job_id for job_id in self._jobs if self.store.layout.job_dir(job_id) in self.watching
        )

    def set_jobs(self, job_ids: Iterable[str]) -> None:
        """Watch these jobs' folders (active jobs and the selected one)."""
        wanted = frozenset(job_ids)
        if wanted != self._jobs:
            self._jobs = wanted
            if self._job_watch is not None:
                self._sync_job_watches()
            else:
                self._restart.set()

    def _sync_job_watches(self) -> None:
        """Add and remove job folders' watches to match `set_jobs`; re-read the added jobs."""
        watch = self._job_watch
        if watch is None:
            return
        for job_id in [job_id for job_id in self._job_wds if job_id not in self._jobs]:
            watch.remove(self._job_wds.pop(job_id))
        added = set()
        for job_id in sorted(self._jobs - self._job_wds.keys()):
            wd = watch.add(self.store.layout.job_dir(job_id), JOB_FOLDER_EVENTS, folder=True)
            if wd is not None:  # a folder not there (yet, or any more): the rescans see it
                self._job_wds[job_id] = wd
                added.add(job_id)
        if added:
            self.post(StoreChanges(frozenset(added), frozenset(added)))

    def _folder_events(self, events: list[FileEvent]) -> None:
        """From the inotify watch: what changed, in the UI's terms. A job folder's own event
        (deleted, moved) reads as its job's; one of the store's folders changing, as a reason
        to watch them again and compare everything; dropped events, as everything changed."""
        if any(event.mask & IN_Q_OVERFLOW for event in events):
            ids = frozenset(self._job_wds)
            self.post(StoreChanges(ids, ids, sessions=True, rescan=True))
            return
        if self._job_watch is not None:  # watches the kernel removed (the folder went away)
            alive = self._job_watch.wds
            for job_id in [job_id for job_id, wd in self._job_wds.items() if wd not in alive]:
                del self._job_wds[job_id]
        paths = [str(event.path) for event in events]
        changes = classify(
            self.store, [(Change.modified, path) for path in paths if self.accept(Change.modified, path)]
        )
        if changes.structure:
            self._resync = True
            self._restart.set()
        if not changes.empty:
            self.post(changes)

    def _paths(self) -> tuple[list[Path], frozenset[str]]:
        """Without inotify: the existing folders to watch with watchfiles (the store's and
        the jobs'), and the jobs among them."""
        ids = sorted(self._jobs)
        paths = self.store.watch_paths(ids)
        store_folders = [path for path in paths[: len(paths) - len(ids)] if path.is_dir()]
        job_folders = {job_id: path for job_id, path in zip(ids, paths[len(paths) - len(ids) :], strict=True)}
        jobs = frozenset(job_id for job_id, path in job_folders.items() if path.is_dir())
        return [*store_folders, *(job_folders[job_id] for job_id in sorted(jobs))], jobs

    def accept(self, change: Change, path: str) -> bool:
        """watchfiles filter: only files the UI shows, and the store's folders themselves;
        locks, temporary files, logs and the like are dropped."""
        found = self.store.classify(path)
        return found is None or found.kind in _SHOWN_KINDS or path in self._folders

    async def run(self) -> None:
        # Folder events come a few at a time (a job's start makes its folder and markers
        # within milliseconds): read at most every step, the second batch is not held long.
        job_watch = PathWatch(self._folder_events, interval=self.step_ms / 1000)
        try:
            if job_watch.available:
                self._job_watch = job_watch
                await self._watch_with_inotify(job_watch)
            else:
                await self._watch_with_watchfiles()
        finally:
            self._job_watch = None
            self._job_wds.clear()
            job_watch.close()

    async def _watch_with_inotify(self, watch: PathWatch) -> None:
        """The store's folders and the job folders, all through `watch` (see the module)."""
        self._resync = True  # the first watch: whatever happened before it is read
        while True:
            if await self._wait_for_root():
                self._resync = True
            self._restart = asyncio.Event()
            folders = [path for path in self.store.watch_paths() if path.is_dir()]
            # Watched only as folders, never through a symlink; only the root may be one (a store
            # kept elsewhere), as the store itself allows.
            added = [
                (path, watch.add(path, STORE_FOLDER_EVENTS, folder=True, follow=path == self.root))
                for path in folders
            ]
            store_wds = [wd for _, wd in added if wd is not None]
            self.watching = tuple(path for path, wd in added if wd is not None)
            # Watched again from scratch: the folders may have been replaced meanwhile.
            for wd in self._job_wds.values():
                watch.remove(wd)
            self._job_wds.clear()
            self._sync_job_watches()
            jobs = frozenset(self._job_wds)
            self.post(StoreChanges(jobs, jobs, sessions=True, rescan=self._resync, listing=True))
            self._resync = False
            self.running.set()
            await self._restart.wait()
            self.running.clear()
            for wd in store_wds:
                watch.remove(wd)

    async def _watch_with_watchfiles(self) -> None:
        """Where there is no inotify: the store's folders and the job folders, restarted when
        the set of job folders changes."""
        resync = True  # the first watch, and after anything that may have hidden changes
        while True:
            try:
                if await self._wait_for_root():
                    resync = True
                self._restart = asyncio.Event()
                paths, jobs = self._paths()
                self.watching = tuple(paths)
                # Whatever happened while no watch was in place: read it again.
                self.post(StoreChanges(jobs, jobs, sessions=True, rescan=resync, listing=True))
                resync = False
                self.running.set()
                async for raw in awatch(
                    *paths,
                    watch_filter=self.accept,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                    stop_event=self._restart,
                    recursive=False,
                    ignore_permission_denied=True,
                ):
                    changes = classify(self.store, raw)
                    if changes.structure:
                        resync = True
                        self._restart.set()
                    if not changes.empty:
                        self.post(changes)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a folder went away under the watch, a watch limit...
                log.warning("watching %s failed: %r; retrying", self.root, exc)
                self.running.clear()
                resync = True
                await asyncio.sleep(1.0)

    async def _wait_for_root(self) -> bool:
        """Return once the store's root exists (True if it had to wait), without polling."""
        waited = False
        while not self.root.is_dir():
            waited = True
            self.running.clear()
            parent = nearest_existing(self.root.parent)
            self.watching = (parent,)
            stop = asyncio.Event()
            with contextlib.suppress(FileNotFoundError, OSError):
                async for _ in awatch(
                    parent,
                    watch_filter=None,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                    stop_event=stop,
                    recursive=False,
                    rust_timeout=10_000,
                    yield_on_timeout=True,
                    ignore_permission_denied=True,
                ):
                    # A parent of the root may appear first: then watch that one instead.
                    if self.root.is_dir() or nearest_existing(self.root.parent) != parent:
                        stop.set()
                        break
            if not self.root.is_dir():
                await asyncio.sleep(0.05)
        return waited
