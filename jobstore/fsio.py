"""Atomic record writes and inter-process locks: the only way the store touches disk state.

Records are replaced, never edited in place: write a temporary file next to the
target, fsync it, rename it over the target. A reader sees the old record or the
new one, never half of one; a failed write (ENOSPC, EROFS) leaves the old one.
Read-modify-write cycles hold an `flock` on a lock file so that concurrent
writers in different processes never lose each other's updates.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobstore.errors import StoreWriteError

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_dir(path: Path) -> None:
    """Create `path` (and parents) private to the user; tighten an existing one."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreWriteError(f"cannot create folder {path}: {exc.strerror or exc}") from exc


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` in one step. `durable` fsyncs before the rename, so a
    crash cannot leave an empty file behind the new name; job records always are."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    raw = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    write_bytes_atomic(path, raw, durable=durable)


def create_empty(path: Path) -> None:
    """Create an empty private file (a marker); an existing one is fine."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
        os.close(fd)
    except OSError as exc:
        raise StoreWriteError(f"cannot create {path}: {exc.strerror or exc}") from exc


def make_private(folder: Path) -> None:
    """Tighten the files in `folder` that another program created with its own umask."""
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mode & 0o077:
                path.chmod(FILE_MODE)


def remove_if_exists(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def append_line(path: Path, line: str) -> None:
    """Append one short line; O_APPEND makes concurrent appends of a line land whole."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) for the block."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise StoreWriteError(f"cannot open lock {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock
