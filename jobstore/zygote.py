"""The runner zygote: one process per store that has imported the runner and forks one per job.

A new Python runner costs ~60 ms of interpreter start and imports before codex
starts; a fork of a process that already has them costs ~1 ms. The starter (under
the scheduler lock, as before) sends the zygote the job id, its environment, its
umask and the runner log's open fd over a Unix socket; the zygote
forks, the child becomes a session of its own and runs `jobstore.runner` exactly
as a spawned runner would, and the zygote answers with the child's pid.

The zygote is only a faster way to start a runner, never the only one: whatever
goes wrong (no zygote, a stale or hung one, another user's socket) the starter
spawns the runner itself (`python -m jobstore.runner`) after at most
`REPLY_TIMEOUT_SECONDS`, and, if the store starts jobs often, a zygote for next time. A runner owes the
zygote nothing once forked: it survives the zygote, the server and the client.
A runner runs only if the job's record names its pid, so a late fork after a
fallback never makes a second runner. The socket is in Linux's abstract namespace
(named after the store and the user; no file in the store, gone with its process,
and binding it is the lock that keeps one zygote a store), and both ends check that
the other runs as the same user: a stranger squatting the name only causes
fallbacks. An idle zygote exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from jobstore.processes import JOB_MARKER_ENV

REPLY_TIMEOUT_SECONDS = 0.5
IDLE_EXIT_SECONDS = 60.0
_MAX_REQUEST_BYTES = 4 * 1024 * 1024
_PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def code_identity() -> str:
    """Which interpreter and which code a zygote runs: a zygote whose code was changed on
    disk since it started no longer matches, and is replaced."""
    newest = max((p.stat().st_mtime_ns for p in _PACKAGE_DIR.glob("*.py")), default=0)
    return f"{sys.executable}|{_PACKAGE_DIR}|{newest}"


def _startup_env(env: dict[str, str] | os._Environ[str]) -> str:
    """What of an environment changes how Python starts (PYTHONPATH, ...): a runner forked
    from a zygote started with other values would not be the runner a spawn gives."""
    return repr(sorted((k, v) for k, v in env.items() if k.startswith("PYTHON")))


def _socket_address(root: Path) -> bytes:
    """The store's zygote's abstract socket name (a leading NUL: no file anywhere)."""
    digest = hashlib.sha256(os.fsencode(os.path.abspath(root))).hexdigest()[:32]
    return f"\0codex-async-zygote-{os.getuid()}-{digest}".encode()


def _peer_is_us(sock: socket.socket) -> bool:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


# ------------------------------------------------------------------ the starter's side


def start_runner(root: Path, job_id: str, env: dict[str, str], log_fd: int) -> int | None:
    """Have the store's zygote fork a runner for `job_id`; its pid, or None if no zygote
    answered in time (the caller then spawns the runner itself)."""
    if JOB_MARKER_ENV in env:
        # Started from inside a job: a spawned runner carries that job's marker where
        # marker scans look (/proc/PID/environ, set only by exec), a forked one would not.
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(REPLY_TIMEOUT_SECONDS)
            sock.connect(_socket_address(root))
            if not _peer_is_us(sock):
                return None  # never hand our environment to another user's process
            identity = code_identity() + _startup_env(env)
            request = {"identity": identity, "job_id": job_id, "env": env, "umask": _umask()}
            payload = json.dumps(request).encode()
            message = struct.pack("!I", len(payload)) + payload
            sent = socket.send_fds(sock, [message], [log_fd])
            sock.sendall(message[sent:])
            reply = b""
            while chunk := sock.recv(64):
                reply += chunk
            return int(reply) if reply.isdigit() else None
    except (OSError, ValueError):
        return None


def serving_pid(root: Path) -> int | None:
    """The pid of the zygote serving the store, if one answers (our user's only)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(REPLY_TIMEOUT_SECONDS)
            sock.connect(_socket_address(root))
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid, uid, _gid = struct.unpack("3i", creds)
    return int(pid) if uid == os.getuid() else None


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def spawn_zygote(root: Path, env: dict[str, str]) -> int | None:
    """Called when a runner had to be spawned: start the store's zygote in the background if
    the store starts jobs often (a spawn already happened within `BUSY_SECONDS`; a store
    with a job now and then is not worth a resident process), at most once in
    `RESPAWN_SECONDS`. Its pid, for the caller to reap; it exits at once if one runs."""
    now = time.monotonic()
    busy = now - _last_fallback.get(root, -BUSY_SECONDS) < BUSY_SECONDS
    _last_fallback[root] = now
    if JOB_MARKER_ENV in env:
        return None  # never a zygote inside a job's tree: every runner it forks would seem the job's
    if not busy or now - _spawned_at.get(root, -RESPAWN_SECONDS) < RESPAWN_SECONDS:
        return None
    _spawned_at[root] = now
    try:
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "jobstore.zygote", str(root), _TITLE_ROOM],
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
    except OSError:
        return None


BUSY_SECONDS = 60.0
RESPAWN_SECONDS = 5.0
_last_fallback: dict[Path, float] = {}
_spawned_at: dict[Path, float] = {}
# Room in the zygote's command line for a runner's job id (see `_retitle`).
_TITLE_ROOM = "-" * 64


def _retitle(words: list[str]) -> None:
    """Rewrite this process's command line in place (what ps, psutil and /proc show): a
    forked runner reads `python -m jobstore.runner ROOT JOB_ID`, as a spawned one does.
    The kernel shows the bytes between arg_start and arg_end of /proc/self/stat."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[45]), int(fields[46])  # fields 48 and 49, counted from the state
    new = b"\0".join(os.fsencode(w) for w in words) + b"\0"
    room = end - start
    if len(new) > room:
        return
    ctypes.memmove(start, new.ljust(room, b"\0"), room)


# ------------------------------------------------------------------ the zygote


def serve(root: Path) -> int:
    """Run the store's zygote until it has been idle for `IDLE_EXIT_SECONDS`."""
    from jobstore import runner, watch  # noqa: F401 - imported here once, for every runner

    watch.Wakeup().close()  # loads libc for inotify once

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(_socket_address(root))
    except OSError:
        listener.close()
        return 0  # another zygote serves this store
    listener.listen(128)
    listener.settimeout(IDLE_EXIT_SECONDS)
    identity = code_identity() + _startup_env(os.environ)
    # Runners are reaped by the kernel; each runner sets SIGCHLD back for codex.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.collect()
    gc.freeze()  # children share these pages instead of copying them on the next GC
    keep: tuple[int, ...] = (listener.fileno(),)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            with conn:
                if not _serve_one(conn, root, identity, keep):
                    break  # stale code: a fresh zygote replaces this one
    finally:
        listener.close()
    return 0


def _serve_one(conn: socket.socket, root: Path, identity: str, keep: tuple[int, ...]) -> bool:
    """Fork a runner for one request; False when this zygote should exit."""
    from jobstore.ids import check_job_id

    fds: list[int] = []
    try:
        conn.settimeout(2.0)
        if not _peer_is_us(conn):
            return True
        data, fds, _flags, _addr = socket.recv_fds(conn, 64 * 1024, 1)
        if len(data) < 4 or len(fds) != 1:
            return True
        (length,) = struct.unpack("!I", data[:4])
        if length > _MAX_REQUEST_BYTES:
            return True
        data = data[4:]
        while len(data) < length:
            chunk = conn.recv(min(length - len(data), 1024 * 1024))
            if not chunk:
                return True
            data += chunk
        request = json.loads(data)
        if request.get("identity") != identity:
            return False
        job_id = check_job_id(request["job_id"])
        env = {str(k): str(v) for k, v in dict(request["env"]).items()}
        umask = int(request["umask"])
        pid = os.fork()
        if pid == 0:
            _become_runner(root, job_id, env, umask, fds[0], (*keep, conn.fileno()))
        conn.sendall(str(pid).encode())
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return True
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _become_runner(
    root: Path, job_id: str, env: dict[str, str], umask: int, log_fd: int, close: tuple[int, ...]
) -> None:
    """In the forked child: become exactly what `python -m jobstore.runner` would be. Never returns."""
    code = 1
    try:
        os.setsid()  # outlives the zygote and whoever started the job, and their terminals
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            os.close(fd)  # the listening socket above all: it must not outlive the zygote
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.umask(umask)
        os.environ.clear()
        os.environ.update(env)  # the starter's, passed on to codex
        with contextlib.suppress(OSError, ValueError, IndexError):
            _retitle([sys.executable, "-m", "jobstore.runner", str(root), job_id])
        from jobstore import runner

        code = runner.main([str(root), job_id])
    except BaseException as exc:
        with contextlib.suppress(Exception):
            print(f"runner (forked by the zygote): {exc!r}", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):  # the second: room for a runner's command line
        print("usage: python -m jobstore.zygote STORE_ROOT", file=sys.stderr)
        return 2
    started = time.monotonic()
    code = serve(Path(args[0]))
    print(f"zygote: exiting after {time.monotonic() - started:.0f} s", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
