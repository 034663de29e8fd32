"""The starter's side of the runner zygote (`jobstore.zygote`): ask the store's zygote to fork a
runner, start a zygote (with a server, or when the store starts jobs often), wait for one
being born, and find the one serving a store.

This side never imports the runner: the scheduler uses it, and the runner builds on the
scheduler. Whatever goes wrong here, the caller spawns the runner itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import struct
import sys
import time
from pathlib import Path

from jobstore.processes import JOB_MARKER_ENV

REPLY_TIMEOUT_SECONDS = 0.5
BUSY_SECONDS = 60.0
RESPAWN_SECONDS = 5.0
# A zygote being born answers within ~0.1-0.3 s (it imports the runner); a start waits this
# long for it rather than spawning a runner (~100 ms of CPU) that the zygote would fork in ~2.
BIRTH_WAIT_SECONDS = 2.0
_BIRTH_POLL_SECONDS = 0.005
# Room in the zygote's command line for a runner's job id (see `jobstore.zygote._retitle`).
TITLE_ROOM = "-" * 64
_PACKAGE_DIR = Path(__file__).resolve().parent
_last_fallback: dict[Path, float] = {}
_spawned_at: dict[Path, float] = {}
# Zygotes this process started and that have not answered yet: root -> (pid, when).
_births: dict[Path, tuple[int, float]] = {}


@functools.cache
def code_identity() -> str:
    """Which interpreter and which code a zygote runs: a zygote whose code was changed on
    disk since it started no longer matches, and is replaced."""
    newest = max((p.stat().st_mtime_ns for p in _PACKAGE_DIR.glob("*.py")), default=0)
    return f"{sys.executable}|{_PACKAGE_DIR}|{newest}"


def startup_env(env: dict[str, str] | os._Environ[str]) -> str:
    """What of an environment changes how Python starts (PYTHONPATH, ...): a runner forked
    from a zygote started with other values would not be the runner a spawn gives."""
    return repr(sorted((k, v) for k, v in env.items() if k.startswith("PYTHON")))


def socket_address(root: Path) -> bytes:
    """The store's zygote's abstract socket name (a leading NUL: no file anywhere)."""
    digest = hashlib.sha256(os.fsencode(os.path.abspath(root))).hexdigest()[:32]
    return f"\0codex-async-zygote-{os.getuid()}-{digest}".encode()


def peer_is_us(sock: socket.socket) -> bool:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


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
            sock.connect(socket_address(root))
            if not peer_is_us(sock):
                return None  # never hand our environment to another user's process
            identity = code_identity() + startup_env(env)
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
            sock.connect(socket_address(root))
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid, uid, _gid = struct.unpack("3i", creds)
    return int(pid) if uid == os.getuid() else None


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def launch_zygote(root: Path, env: dict[str, str]) -> int | None:
    """Start the store's zygote now unless one serves it: a server does at its start, so
    that its first job is forked like the others, and again at each periodic check (which,
    answered, keeps a serving zygote from its idle exit). Its pid, for the caller to reap;
    None if one serves, inside a job's tree, or if it cannot be spawned."""
    if JOB_MARKER_ENV in env:
        return None  # never a zygote inside a job's tree: every runner it forks would seem the job's
    if serving_pid(root) is not None:
        return None
    now = time.monotonic()
    born = _births.get(root)
    if born is not None and now - born[1] < BIRTH_WAIT_SECONDS:
        return None  # one is being born
    pid = _spawn(root, env)
    if pid is not None:
        _spawned_at[root] = now
        _births[root] = (pid, now)
    return pid


def await_birth(root: Path) -> None:
    """If this process started the store's zygote moments ago and it does not answer yet,
    wait (at most `BIRTH_WAIT_SECONDS` from its spawn) until it does. Called before the
    scheduler's lock is taken, so the waiting blocks no other starter."""
    born = _births.get(root)
    if born is None:
        return
    pid, spawned = born
    deadline = spawned + BIRTH_WAIT_SECONDS
    while time.monotonic() < deadline:
        if serving_pid(root) is not None:
            break
        try:
            os.kill(pid, 0)
        except OSError:
            break  # it died (or exited: another zygote serves the store)
        time.sleep(_BIRTH_POLL_SECONDS)
    _births.pop(root, None)


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
    return _spawn(root, env)


def _spawn(root: Path, env: dict[str, str]) -> int | None:
    try:
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "jobstore.zygote", str(root), TITLE_ROOM],
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
