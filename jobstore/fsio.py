"""Every touch of the store's disk state: private folders, atomic writes, locks, no symlinks.

Records are replaced, never edited in place: write a temporary file next to the
target, fsync it, rename it over the target. A reader sees the old record or the
new one, never half of one, even one that opened it many writes ago; a failed write
(ENOSPC, EROFS) leaves the old one.
Read-modify-write cycles hold an `flock` on a lock file so that concurrent
writers in different processes never lose each other's updates.

The store is a security boundary (see SECURITY.md): like ssh's StrictModes, a folder
or file that is not the user's own, or that group or others may write, is refused
(`StoreRefused`, saying how to fix it). Nothing here follows a symlink: a file is
opened relative to its folder's descriptor (opened with O_NOFOLLOW and checked) and
with O_NOFOLLOW itself.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pwd
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobstore.errors import StoreRefused, StoreWriteError

DIR_MODE = 0o700
FILE_MODE = 0o600
_WRITABLE_BY_OTHERS = 0o022
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_private(path: Path, st: os.stat_result) -> None:
    """Refuse an entry that is not ours or that group or others may write."""
    me = os.geteuid()
    if st.st_uid != me:
        raise StoreRefused(
            f"refusing {path}: it belongs to {_user(st.st_uid)}, not to you ({_user(me)}), so whoever "
            f"owns it can run commands as you. If it is yours, fix it with `sudo chown -R {_user(me)} "
            f"{path}`; otherwise use a store of your own (--store or CODEX_ASYNC_HOME)"
        )
    if st.st_mode & _WRITABLE_BY_OTHERS:
        raise StoreRefused(
            f"refusing {path}: group or others may write it (mode {stat.S_IMODE(st.st_mode):04o}), so "
            f"they can run commands as you. Check that nothing was planted in it, then fix it with "
            f"`chmod {'700' if stat.S_ISDIR(st.st_mode) else '600'} {path}`"
        )


def open_folder(path: Path, *, follow: bool = False) -> int:
    """A descriptor of the store folder `path`, checked to be our own private folder. Only
    the root may be reached through a symlink (`follow`): a user may keep the store
    elsewhere. Raises FileNotFoundError for a missing folder, StoreRefused for a bad one."""
    try:
        fd = os.open(path, _FOLDER_FLAGS | (0 if follow else os.O_NOFOLLOW))
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        raise StoreRefused(
            f"refusing {path}: it is a symlink or not a folder, where the store keeps a folder of "
            f"its own. Remove it (`rm {path}`) if nothing of yours is behind it"
        ) from None
    try:
        check_private(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def folder(path: Path, *, follow: bool = False) -> Iterator[int]:
    fd = open_folder(path, follow=follow)
    try:
        yield fd
    finally:
        os.close(fd)


def ensure_dir(path: Path, *, follow: bool = False) -> None:
    """Create `path` and every missing parent private to the user, whatever the umask; an
    existing folder that is ours but readable by others is tightened to 0700, one that is
    not ours, not a plain folder or writable by group or others is refused (StoreRefused)."""
    missing = []
    parent = path
    while not os.path.lexists(parent) and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, DIR_MODE)  # 0700 & ~umask is 0700 or tighter
        except FileExistsError:
            pass  # made meanwhile, by us or not: checked below
        except OSError as exc:
            raise StoreWriteError(f"cannot create folder {created}: {exc.strerror or exc}") from exc
        with folder(created) as fd:
            os.fchmod(fd, DIR_MODE)  # exactly 0700, also under a umask that removes our own bits
    with folder(path, follow=follow) as fd:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, DIR_MODE)


def _refuse_link(path: Path) -> StoreRefused:
    return StoreRefused(
        f"refusing {path}: it is a symlink; nothing in the store follows one. "
        f"Remove it (`rm {path}`) if nothing of yours is behind it"
    )


def open_file(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """Open (or create, with O_CREAT) a file in a store folder: the folder is checked, no
    symlink is followed, and the file must be a plain file of ours that group and others
    cannot write. Raises StoreRefused for a bad folder or file, OSError otherwise."""
    with folder(path.parent) as dir_fd:
        try:
            fd = os.open(path.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the name is a symlink
                raise _refuse_link(path) from None
            raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StoreRefused(f"refusing {path}: it is not a plain file. Remove it (`rm -r {path}`)")
        check_private(path, st)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(path: Path, *, limit: int) -> bytes:
    """The bytes of a store file (see `open_file`), refused when larger than `limit`."""
    fd = open_file(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise StoreRefused(f"refusing {path}: {size:,} bytes, more than it may hold ({limit:,})")
        chunks = []
        while chunk := os.read(fd, max(size, 64 * 1024)):
            chunks.append(chunk)
            if sum(map(len, chunks)) > limit:
                raise StoreRefused(f"refusing {path}: more than it may hold ({limit:,} bytes)")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True, exclusive: bool = False) -> None:
    """Replace `path` with `data` in one step. `durable` fsyncs before the rename, so a
    crash cannot leave an empty file behind the new name; job records always are.
    `exclusive`: never replace; an existing `path` raises FileExistsError (nothing written)."""
    tmp = f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        dir_fd = open_folder(path.parent)
    except OSError as exc:
        raise StoreWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=dir_fd
        )
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
            finally:
                os.unlink(tmp, dir_fd=dir_fd)
        else:
            os.replace(
                tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd
            )  # replaces a link, never follows it
    except FileExistsError:
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise StoreWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(dir_fd)


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    """`data` as JSON in `path`, replaced in one step (see `write_bytes_atomic`). Always a new
    file renamed over the old one: a reader that opened the old one keeps reading all of it,
    however many writes follow (a file rewritten in place, even a spare swapped in by name,
    could be emptied under a reader that opened it two writes ago)."""
    # Compact: json's C encoder, not its pure-Python one (which any indent means).
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    write_bytes_atomic(path, raw, durable=durable)


def create_empty(path: Path) -> None:
    """Create an empty private file (a marker); an existing one of ours is fine."""
    try:
        os.close(open_file(path, os.O_WRONLY | os.O_CREAT))
    except OSError as exc:
        raise StoreWriteError(f"cannot create {path}: {exc.strerror or exc}") from exc


def make_private(folder_path: Path) -> None:
    """Tighten the plain files of ours in `folder_path` that another program created with its
    own umask; nothing else is touched, and no symlink followed."""
    with folder(folder_path) as dir_fd:
        for name in os.listdir(dir_fd):
            with contextlib.suppress(OSError):
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if not (stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o077):
                    continue
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    if os.fstat(fd).st_ino == st.st_ino:
                        os.fchmod(fd, FILE_MODE)
                finally:
                    os.close(fd)


def remove_if_exists(path: Path) -> None:
    # unlink removes a symlink itself, never what it points to; the folder is the store's own.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def remove_tree(path: Path) -> None:
    """Delete a folder of the store (a job's), refusing one that is not ours or a symlink;
    inside it, symlinks are removed, never followed (shutil's fd-based rmtree)."""
    with contextlib.suppress(FileNotFoundError):
        os.close(open_folder(path))
        with folder(path.parent) as parent_fd:
            shutil.rmtree(path.name, dir_fd=parent_fd)


def append_line(path: Path, line: str) -> None:
    """Append one short line; O_APPEND makes concurrent appends of a line land whole."""
    try:
        fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreWriteError(f"cannot write {path}: {exc.strerror or exc}") from exc


def link_marker(source: Path, path: Path) -> None:
    """Mark `path` with a hard link of the store's one empty marker file `source` (made on first
    use): a slot or queue marker then has no inode of its own, so taking and giving back a slot
    neither creates nor frees one. On ext4 without a journal every inode freed in the last
    minutes is skipped, one by one, by each new file's allocation: a burst of jobs paid for the
    inodes of every job before it. An existing marker is fine; a source too linked to take
    more falls back to a file of the marker's own."""
    try:
        with folder(source.parent) as source_fd, folder(path.parent) as dir_fd:
            try:
                st = os.stat(source.name, dir_fd=source_fd, follow_symlinks=False)
            except FileNotFoundError:
                create_empty(source)
                st = os.stat(source.name, dir_fd=source_fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise StoreRefused(f"refusing {source}: it is not a plain file. Remove it (`rm -r {source}`)")
            check_private(source, st)
            try:
                os.link(
                    source.name, path.name, src_dir_fd=source_fd, dst_dir_fd=dir_fd, follow_symlinks=False
                )
            except FileExistsError:
                return
            except OSError as exc:
                if exc.errno != errno.EMLINK:
                    raise
                create_empty(path)
    except OSError as exc:
        raise StoreWriteError(f"cannot create {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _held(fd: int) -> Iterator[None]:
    """An exclusive flock on the open `fd` for the block; the fd is closed after (which releases it)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on the store folder `path` itself for the block: a lock that
    needs no file (and no inode) of its own."""
    try:
        fd = open_folder(path)
    except OSError as exc:
        raise StoreWriteError(f"cannot lock {path}: {exc.strerror or exc}") from exc
    with _held(fd):
        yield


@contextlib.contextmanager
def lock_if_present(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on the lock file `path` for the block if it exists; never create it."""
    try:
        fd = open_file(path, os.O_RDWR)
    except FileNotFoundError:
        yield
        return
    except OSError as exc:
        raise StoreWriteError(f"cannot open lock {path}: {exc.strerror or exc}") from exc
    with _held(fd):
        yield


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) for the block."""
    try:
        fd = open_file(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise StoreWriteError(f"cannot open lock {path}: {exc.strerror or exc}") from exc
    with _held(fd):
        yield


def try_lock_folder(fd: int) -> bool:
    """Take an exclusive flock on an open folder without waiting; False if another holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
