"""Sleeping until something happens: inotify on files and folders, pidfds of processes, one fd to wait on.

A `Wakeup` gathers what may wake its owner (a folder or file changing, a process
exiting, a byte on a pipe) behind one epoll fd, so a thread blocks in one call
with no timer, and an event loop can wait for that fd to turn readable. Where
the system lacks inotify or pidfds, `reliable` is False and callers add a
timeout of their own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import threading
from pathlib import Path
from typing import Self

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_ONLYDIR = 0x01000000  # add_watch flags: only if the path is a folder,
IN_DONT_FOLLOW = 0x02000000  # and never through a symlink (the store's rule for its files)
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
# What changes a folder's entries: a file renamed into it (atomic writes), created, deleted.
FOLDER_CHANGES = IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
_libc: ctypes.CDLL | None = None


def _inotify_lib() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.inotify_init1  # noqa: B018 - raises AttributeError where there is none
        except (OSError, AttributeError):
            return None
    return _libc


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
        self._inotify: int | None = None
        self._pidfds: dict[int, int] = {}
        self._watches: set[bytes] = set()
        self.reliable = True
        lib = _inotify_lib()
        fd = lib.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC) if lib is not None else -1
        if fd < 0:
            self.reliable = False
        else:
            self._inotify = fd
            self._epoll.register(fd, select.EPOLLIN)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def watch_path(self, path: Path | str, mask: int) -> bool:
        """Wake on `mask` events of `path` (a file or a folder); False if it cannot be watched."""
        lib = _inotify_lib()
        if self._inotify is None or lib is None:
            return False
        name = os.fsencode(path)
        if lib.inotify_add_watch(self._inotify, name, mask) < 0:
            return False
        self._watches.add(name)
        return True

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

    def wait(self, timeout: float | None) -> bool:
        """Sleep until something watched happens or `timeout` seconds pass (None: no limit)."""
        return bool(self._epoll.poll(-1 if timeout is None else epoll_timeout(timeout)))

    def clear(self) -> None:
        """Forget the inotify events that woke us (callers re-check what they care about);
        an exited process stays readable, so stop watching it."""
        if self._inotify is not None:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._inotify, 64 * 1024):
                    pass
        for pid, pidfd in list(self._pidfds.items()):
            if select.select([pidfd], [], [], 0)[0]:
                self._epoll.unregister(pidfd)
                os.close(pidfd)
                del self._pidfds[pid]

    def close(self) -> None:
        for pidfd in self._pidfds.values():
            os.close(pidfd)
        self._pidfds.clear()
        if self._inotify is not None:
            # Closing an inotify fd waits for the kernel to retire its watches (an RCU grace
            # period, 10-20 ms): not on the path of whoever waited.
            threading.Thread(target=os.close, args=(self._inotify,), daemon=True).start()
            self._inotify = None
        self._epoll.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JobWakeup(Wakeup):
    """Wakes whoever waits for a job: its folder's entries changing (its record is replaced
    atomically, its markers appear) or one of its processes exiting (a job reads lost then)."""

    def __init__(self, job_dir: Path) -> None:
        super().__init__()
        if not self.watch_path(job_dir, FOLDER_CHANGES):
            self.reliable = False

    def sleep(self, remaining: float, pids: tuple[int | None, ...], *, fallback_tick: float) -> None:
        """Sleep until something of the job changes or `remaining` seconds pass. A process
        that could not be watched (gone already, or no pidfds) means looking again after
        `fallback_tick` instead."""
        watched = all(self.watch_process(pid) for pid in pids if pid)
        limit = remaining if self.reliable and watched else min(remaining, fallback_tick)
        self.wait(limit)
        self.clear()
