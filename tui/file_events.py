"""inotify read by the app's event loop at a bounded rate: the TUI's watch of job folders and files.

watchfiles cannot be told which events to ignore: a folder it watches reports every write
to every file in it, and its thread handles each one (a job printing a million lines cost
the app ~4 s of CPU in that thread alone). Here each path is watched for the events asked
for only, and the fd is read at most once per `interval`: between two reads the kernel
folds a file's repeated writes into one queued event, so a flood costs a few wake-ups a
second, and a single change is delivered at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobstore.inotify import IN_IGNORED, IN_Q_OVERFLOW, Inotify


@dataclass(frozen=True)
class FileEvent:
    path: Path  # the watched path, or the file in the watched folder the event names
    watched: Path  # the watched path itself
    mask: int


class PathWatch:
    """A few paths watched for chosen inotify events, delivered in batches to `deliver`
    on the event loop that first adds a path; at most one batch per `interval` seconds.
    An overflow is delivered as one event per watched path with `IN_Q_OVERFLOW` set.
    `available` is False where there is no inotify: callers watch another way."""

    def __init__(self, deliver: Callable[[list[FileEvent]], object], *, interval: float) -> None:
        self._deliver = deliver
        self.interval = interval
        self._inotify: Inotify | None = Inotify()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paths: dict[int, Path] = {}  # wd -> watched path
        self._resume: asyncio.TimerHandle | None = None
        if not self._inotify.available:
            self._inotify = None

    @property
    def available(self) -> bool:
        return self._inotify is not None

    @property
    def wds(self) -> frozenset[int]:
        """The watches in place (the kernel drops one whose path is deleted)."""
        return frozenset(self._paths)

    def add(self, path: Path, mask: int, *, folder: bool = False, follow: bool = False) -> int | None:
        """Watch `path` (a file, or a `folder`; through a symlink only with `follow`, for the
        store's root) for `mask`; its watch descriptor, None if it cannot be watched (it
        does not exist...). Watching a path again replaces its mask."""
        if self._inotify is None:
            return None
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._inotify.fileno(), self._read)
        wd = self._inotify.watch(path, mask, folder=folder, follow=follow)
        if wd is not None:
            self._paths[wd] = path
        return wd

    def remove(self, wd: int) -> None:
        if self._paths.pop(wd, None) is not None and self._inotify is not None:
            self._inotify.unwatch(wd)

    def close(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
        if self._inotify is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._inotify.fileno())
            self._inotify.close()
            self._inotify = None
        self._paths.clear()

    def _read(self) -> None:
        """The fd is readable: deliver what is queued, then leave it unread for `interval`."""
        if self._inotify is None or self._loop is None:
            return
        events = self._events()
        if self.interval > 0:
            self._loop.remove_reader(self._inotify.fileno())
            self._resume = self._loop.call_later(self.interval, self._rearm)
        if events:
            self._deliver(events)

    def _rearm(self) -> None:
        self._resume = None
        if self._inotify is not None and self._loop is not None:
            self._loop.add_reader(self._inotify.fileno(), self._read)

    def _events(self) -> list[FileEvent]:
        events: list[FileEvent] = []
        assert self._inotify is not None
        for event in self._inotify.read():
            if event.mask & IN_Q_OVERFLOW:
                events += [FileEvent(path, path, IN_Q_OVERFLOW) for path in self._paths.values()]
                continue
            watched = self._paths.get(event.wd)
            if watched is None:
                continue  # a watch removed meanwhile
            if event.mask & IN_IGNORED:
                del self._paths[event.wd]
            path = watched / event.name if event.name else watched
            events.append(FileEvent(path, watched, event.mask))
        return events
