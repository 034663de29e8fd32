"""Watching the store's files with watchfiles and turning changes into messages.

Only a handful of folders are watched, none recursively, so the cost does not grow
with the number of jobs (inotify watches are a limited resource):

  <root>                     the store's folders appearing or going
  jobs/                      job folders created (a new job) or removed (pruned)
  queue/, running/           markers: a job queued, started, ended
  sessions/                  a session gained a turn
  jobs/<id>/ of active jobs  meta.json, summary.json, output.txt of queued and running jobs
  jobs/<id>/ of the selected job

The set of job folders follows the UI (`set_jobs`); a change restarts the watch,
after which the watched jobs are re-read so nothing that changed in between is missed.
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

from jobstore.ids import is_job_id
from jobstore.layout import StoreLayout

log = logging.getLogger(__name__)

_SUBDIRS = ("jobs", "queue", "running", "sessions")
_JOB_FILES = frozenset({"meta.json", "summary.json", "cancel", "last_message.txt"})
_OUTPUT = "output.txt"


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


def accept(change: Change, path: str) -> bool:
    """watchfiles filter: drop locks, temporary files and files the UI does not show."""
    name = path.rsplit("/", 1)[-1]
    return not (name.endswith(".tmp") or name in ("lock", "scheduler.lock", "runner.log", "command.json"))


def classify(root: Path, changes: Iterable[tuple[Change, str]]) -> StoreChanges:
    job_ids: set[str] = set()
    output_ids: set[str] = set()
    sessions = False
    structure = False
    root_str = str(root)
    for _change, raw in changes:
        path = Path(raw)
        if raw == root_str or not raw.startswith(root_str + "/"):
            structure = True  # the root itself (or a parent while waiting for it)
            continue
        parts = path.relative_to(root).parts
        top = parts[0]
        if len(parts) == 1:
            if top in _SUBDIRS:
                structure = True
            continue
        if top == "jobs":
            job_id = parts[1]
            if not is_job_id(job_id):
                continue
            if len(parts) == 2:
                job_ids.add(job_id)
            elif parts[2] == _OUTPUT:
                output_ids.add(job_id)
            elif parts[2] in _JOB_FILES:
                job_ids.add(job_id)
        elif top in ("queue", "running"):
            if is_job_id(parts[1]):
                job_ids.add(parts[1])
        elif top == "sessions":
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
        root: Path,
        post: Callable[[StoreChanges], None],
        *,
        debounce_ms: int = 200,
        step_ms: int = 50,
    ) -> None:
        self.root = root
        self.layout = StoreLayout(root)
        self.post = post
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self._jobs: frozenset[str] = frozenset()
        self._restart = asyncio.Event()
        self.watching: tuple[Path, ...] = ()  # for tests and diagnostics
        self.running = asyncio.Event()  # set once the store itself is being watched

    def set_jobs(self, job_ids: Iterable[str]) -> None:
        """Watch these jobs' folders (active jobs and the selected one)."""
        wanted = frozenset(j for j in job_ids if is_job_id(j))
        if wanted != self._jobs:
            self._jobs = wanted
            self._restart.set()

    def _paths(self) -> tuple[list[Path], frozenset[str]]:
        paths = [self.root]
        paths += [self.root / name for name in _SUBDIRS if (self.root / name).is_dir()]
        jobs = frozenset(j for j in self._jobs if self.layout.job_dir(j).is_dir())
        paths += [self.layout.job_dir(j) for j in sorted(jobs)]
        return paths, jobs

    async def run(self) -> None:
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
                    watch_filter=accept,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                    stop_event=self._restart,
                    recursive=False,
                    ignore_permission_denied=True,
                ):
                    changes = classify(self.root, raw)
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
