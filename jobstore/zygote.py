"""The runner zygote, its serving side: one process per store that has imported the runner and
forks one per job. (The starter's side, which never imports the runner, is `zygote_client`.)

A new Python runner costs ~60 ms of interpreter start and imports before codex
starts; a fork of a process that already has them costs ~1 ms. The starter (under
the scheduler lock, as before) sends the zygote the job id, its environment, its
umask and the runner log's open fd over a Unix socket; the zygote
forks, the child becomes a session of its own and runs `jobstore.runner` exactly
as a spawned runner would, and the zygote answers with the child's pid.

The zygote is only a faster way to start a runner, never the only one: whatever
goes wrong (no zygote, a stale or hung one, another user's socket) the starter
spawns the runner itself (`python -m jobstore.runner`) after at most
`zygote_client.REPLY_TIMEOUT_SECONDS`, and, if the store starts jobs often, a zygote
for next time. A runner owes the zygote nothing once forked: it survives the zygote,
the server and the client.
A runner runs only if the job's record names its pid, so a late fork after a
fallback never makes a second runner. The socket is in Linux's abstract namespace
(named after the store and the user; no file in the store, gone with its process,
and binding it is the lock that keeps one zygote a store), and both ends check that
the other runs as the same user: a stranger squatting the name only causes
fallbacks. An idle zygote exits; an MCP server starts the store's zygote as it starts and
asks it at each periodic check (`JobStore.keep_runners_warm`), so while a server runs, its
jobs are forked even when they come minutes apart, its first one included.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from jobstore import runner, watch
from jobstore.ids import check_job_id
from jobstore.zygote_client import code_identity, peer_is_us, socket_address, startup_env

IDLE_EXIT_SECONDS = 60.0
_MAX_REQUEST_BYTES = 4 * 1024 * 1024


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


def serve(root: Path) -> int:
    """Run the store's zygote until it has been idle for `IDLE_EXIT_SECONDS`."""
    watch.Wakeup().close()  # loads libc for inotify once

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(socket_address(root))
    except OSError:
        listener.close()
        return 0  # another zygote serves this store
    listener.listen(128)
    listener.settimeout(IDLE_EXIT_SECONDS)
    identity = code_identity() + startup_env(os.environ)
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
    fds: list[int] = []
    try:
        conn.settimeout(2.0)
        if not peer_is_us(conn):
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
