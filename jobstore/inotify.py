"""inotify, the one binding: files and folders of the store watched for chosen events.

Every watch of the project goes through `Inotify.watch`: the job's runner and `codex_wait`
(`jobstore.watch`), and codex-tui's watch of the store and of the output shown. No watch
follows a symlink (IN_DONT_FOLLOW), and a folder is watched only if it is one
(IN_ONLYDIR): only the store's root may be reached through a symlink, as the store itself
allows (`follow`). Where the system has no inotify, `available` is False and callers
watch another way. Public: the adapters import it (see `jobstore/__init__.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import threading
from dataclasses import dataclass
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
IN_Q_OVERFLOW = 0x4000  # events were dropped: whatever is watched may have changed
IN_IGNORED = 0x8000  # the watch is gone (its path was deleted or the watch removed)
IN_ONLYDIR = 0x01000000  # watch flags: only if the path is a folder,
IN_DONT_FOLLOW = 0x02000000  # and never through a symlink (the store's rule for its files)
# What changes a folder's entries: a file renamed into it (atomic writes), created, deleted.
FOLDER_CHANGES = IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)
_libc: ctypes.CDLL | None = None


def _libc_with_inotify() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.inotify_init1  # noqa: B018 - raises AttributeError where there is none
        except (OSError, AttributeError):
            return None
    return _libc


@dataclass(frozen=True)
class InotifyEvent:
    wd: int  # the watch it belongs to (-1 for a queue overflow)
    mask: int
    name: str  # the entry of a watched folder it is about; "" for the watched path itself


class Inotify:
    """One inotify descriptor (non-blocking, close-on-exec) and its watches."""

    def __init__(self) -> None:
        self._fd: int | None = None
        lib = _libc_with_inotify()
        fd = lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC) if lib is not None else -1
        if fd >= 0:
            self._fd = int(fd)

    @property
    def available(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int:
        """The descriptor to wait on (readable when events are queued); only if `available`."""
        if self._fd is None:
            raise ValueError("no inotify descriptor")
        return self._fd

    def watch(self, path: Path | str, mask: int, *, folder: bool = False, follow: bool = False) -> int | None:
        """Watch `path` for `mask` (watching it again replaces its mask): its watch
        descriptor, None if it cannot be watched (missing, a symlink, not a folder where
        `folder`...). `follow` (the store's root only) allows a symlink to a folder."""
        lib = _libc_with_inotify()
        if self._fd is None or lib is None:
            return None
        flags = mask | (IN_ONLYDIR if folder else 0) | (0 if follow and folder else IN_DONT_FOLLOW)
        wd = lib.inotify_add_watch(self._fd, os.fsencode(path), flags)
        return int(wd) if wd >= 0 else None

    def unwatch(self, wd: int) -> None:
        lib = _libc_with_inotify()
        if self._fd is not None and lib is not None:
            lib.inotify_rm_watch(self._fd, wd)  # fails harmlessly if the kernel removed it already

    def read(self) -> list[InotifyEvent]:
        """The events queued now (none: an empty list); never blocks."""
        return self._parse(self._read_queued())

    def discard(self) -> None:
        """Forget the events queued now (for callers that re-check what they care about)."""
        self._read_queued()

    def _read_queued(self) -> bytes:
        data = b""
        if self._fd is not None:
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(self._fd, 64 * 1024):
                    data += chunk
        return data

    @staticmethod
    def _parse(data: bytes) -> list[InotifyEvent]:
        events = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            raw_name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
            offset += _HEADER.size + length
            events.append(InotifyEvent(wd, mask, os.fsdecode(raw_name)))
        return events

    def close(self, *, in_background: bool = False) -> None:
        """Close the descriptor. Closing waits for the kernel to retire its watches (an RCU
        grace period, 10-20 ms): `in_background` keeps that off the caller's path."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if in_background:
            threading.Thread(target=os.close, args=(fd,), daemon=True).start()
        else:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
