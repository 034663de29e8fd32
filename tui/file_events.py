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
import contextlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobstore.watch import _inotify_lib

IN_Q_OVERFLOW = 0x4000  # events were dropped: whatever is watched may have changed
IN_IGNORED = 0x8000  # the watch is gone (its path was deleted or the watch removed)
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


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
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paths: dict[int, Path] = {}  # wd -> watched path
        self._resume: asyncio.TimerHandle | None = None
        lib = _inotify_lib()
        fd = lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC) if lib is not None else -1
        if fd >= 0:
            self._fd = fd

    @property
    def available(self) -> bool:
        return self._fd is not None

    @property
    def wds(self) -> frozenset[int]:
        """The watches in place (the kernel drops one whose path is deleted)."""
        return frozenset(self._paths)

    def add(self, path: Path, mask: int) -> int | None:
        """Watch `path` (a file or a folder) for `mask`; its watch descriptor, None if it cannot
        be watched (it does not exist...). Watching a path again replaces its mask."""
        lib = _inotify_lib()
        if self._fd is None or lib is None:
            return None
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._fd, self._read)
        wd = lib.inotify_add_watch(self._fd, os.fsencode(path), mask)
        if wd < 0:
            return None
        self._paths[wd] = path
        return int(wd)

    def remove(self, wd: int) -> None:
        lib = _inotify_lib()
        if self._paths.pop(wd, None) is not None and self._fd is not None and lib is not None:
            lib.inotify_rm_watch(self._fd, wd)  # fails harmlessly if the kernel removed it already

    def close(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
        if self._fd is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
        self._paths.clear()

    def _read(self) -> None:
        """The fd is readable: deliver what is queued, then leave it unread for `interval`."""
        if self._fd is None or self._loop is None:
            return
        data = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self._fd, 64 * 1024):
                data += chunk
        events = self._parse(data)
        if self.interval > 0:
            self._loop.remove_reader(self._fd)
            self._resume = self._loop.call_later(self.interval, self._rearm)
        if events:
            self._deliver(events)

    def _rearm(self) -> None:
        self._resume = None
        if self._fd is not None and self._loop is not None:
            self._loop.add_reader(self._fd, self._read)

    def _parse(self, data: bytes) -> list[FileEvent]:
        events: list[FileEvent] = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            raw_name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
            offset += _HEADER.size + length
            if mask & IN_Q_OVERFLOW:
                events += [FileEvent(path, path, IN_Q_OVERFLOW) for path in self._paths.values()]
                continue
            watched = self._paths.get(wd)
            if watched is None:
                continue  # a watch removed meanwhile
            if mask & IN_IGNORED:
                del self._paths[wd]
            path = watched / os.fsdecode(raw_name) if raw_name else watched
            events.append(FileEvent(path, watched, mask))
        return events
