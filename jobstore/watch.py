"""Sleeping until something happens: inotify on files and folders (`jobstore.inotify`),
pidfds of processes, one fd to wait on.

A `Wakeup` gathers what may wake its owner (a folder or file changing, a process
exiting, a byte on a pipe) behind one epoll fd, so a thread blocks in one call
with no timer, and an event loop can wait for that fd to turn readable. Where
the system lacks inotify or pidfds, `reliable` is False and callers add a
timeout of their own.
"""

from __future__ import annotations

import contextlib
import os
import select
from pathlib import Path
from typing import Self

from jobstore.inotify import FOLDER_CHANGES, Inotify

# The longest single sleep: epoll takes at most ~24 days (in ms, an int), and every caller
# looks at its deadline again when it wakes, so a longer one just sleeps in steps.
MAX_SLEEP_SECONDS = 86_400.0


def epoll_timeout(seconds: float) -> float:
    """`seconds` as epoll can take it: never negative or nan (0), never past MAX_SLEEP_SECONDS."""
    return min(seconds, MAX_SLEEP_SECONDS) if seconds > 0 else 0.0


class Wakeup:
    """One fd that turns readable when a watched path changes, a watched process exits or a
    watched fd turns readable. Call `clear()` after each wake-up."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._inotify = Inotify()
        self._pidfds: dict[int, int] = {}
        self.reliable = self._inotify.available
        if self._inotify.available:
            self._epoll.register(self._inotify.fileno(), select.EPOLLIN)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def watch_path(self, path: Path | str, mask: int, *, folder: bool = False) -> bool:
        """Wake on `mask` events of `path` (a file, or a `folder`; never through a symlink);
        False if it cannot be watched."""
        return self._inotify.watch(path, mask, folder=folder) is not None

    def watch_process(self, pid: int | None) -> bool:
        """Wake when process `pid` exits (already gone: at once). False without pidfds."""
        if not pid or pid <= 0 or pid in self._pidfds:
            return pid in self._pidfds
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = None
        except (OSError, AttributeError):
            self.reliable = False
            return False
        if pidfd is None:
            return False  # gone already: the caller's next check sees it
        self._pidfds[pid] = pidfd
        self._epoll.register(pidfd, select.EPOLLIN)
        return True

    def watch_fd(self, fd: int) -> None:
        self._epoll.register(fd, select.EPOLLIN)

    def unwatch_fd(self, fd: int) -> None:
        """Stop watching `fd` (e.g. a pipe at its end, which would stay readable)."""
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)

    def wait(self, timeout: float | None) -> bool:
        """Sleep until something watched happens or `timeout` seconds pass (None: no limit)."""
        return bool(self._epoll.poll(-1 if timeout is None else epoll_timeout(timeout)))

    def clear(self) -> None:
        """Forget the inotify events that woke us (callers re-check what they care about);
        an exited process stays readable, so stop watching it."""
        self._inotify.discard()
        self._forget_exited()

    def _forget_exited(self) -> bool:
        """Stop watching the processes that exited; whether any did."""
        exited = False
        for pid, pidfd in list(self._pidfds.items()):
            if select.select([pidfd], [], [], 0)[0]:
                self._epoll.unregister(pidfd)
                os.close(pidfd)
                del self._pidfds[pid]
                exited = True
        return exited

    def close(self) -> None:
        for pidfd in self._pidfds.values():
            os.close(pidfd)
        self._pidfds.clear()
        self._inotify.close(in_background=True)  # not on the path of whoever waited
        self._epoll.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JobWakeup(Wakeup):
    """Wakes whoever waits for a job: its folder's entries changing (its record is replaced
    atomically, its markers appear) or one of its processes exiting (a job reads lost then)."""

    def __init__(self, job_dir: Path, record_name: str = "meta.json") -> None:
        super().__init__()
        # The record is replaced by a temporary file of the same stem, renamed over it.
        self._record_name = record_name
        self._record_stem = f".{record_name}."
        if not self.watch_path(job_dir, FOLDER_CHANGES, folder=True):
            self.reliable = False

    def clear_changes(self) -> bool:
        """Like `clear()`, and whether what woke us may change what a waiter reads of the job:
        its record replaced, its folder moved or removed, one of its processes gone, or
        events lost. The runner's other files (summary, logs) change often and
        change neither."""
        events = self._inotify.read()
        exited = self._forget_exited()
        return exited or any(
            e.wd < 0 or not e.name or e.name == self._record_name or e.name.startswith(self._record_stem)
            for e in events
        )

    def sleep(self, remaining: float, pids: tuple[int | None, ...], *, fallback_tick: float) -> bool:
        """Sleep until something of the job changes or `remaining` seconds pass. A process
        that could not be watched (gone already, or no pidfds) means looking again after
        `fallback_tick` instead. Whether the job is worth reading again: woken by a change
        that can matter to a waiter (see `clear_changes`), or by the time passing."""
        watched = all(self.watch_process(pid) for pid in pids if pid)
        limit = remaining if self.reliable and watched else min(remaining, fallback_tick)
        if not self.wait(limit):
            return True
        return self.clear_changes()
