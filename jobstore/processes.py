"""Process identity, liveness and whole-tree termination.

A pid alone says little: pids are reused. A process is "ours and alive" only if
the pid exists, is not a zombie, and started at the time we recorded for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterable

import psutil

# Start times are derived from clock ticks since boot; the same process always
# yields the same value, a reused pid a different one.
_START_TIME_TOLERANCE = 0.02

_PR_SET_CHILD_SUBREAPER = 36


def start_time_of(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def is_alive(pid: int | None, started_at: float | None) -> bool:
    """True if `pid` is still the process that started at `started_at` and has not exited."""
    if not pid or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if started_at is not None and abs(proc.create_time() - started_at) > _START_TIME_TOLERANCE:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        # Not allowed to look is not the same as gone.
        return True


def become_child_subreaper() -> bool:
    """Let orphaned descendants reparent to this process, so none escape cleanup (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def signal_processes(procs: Iterable[psutil.Process], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            proc.send_signal(sig)


def signal_group(pgid: int | None, sig: int) -> None:
    if not pgid or pgid <= 1:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes exit; return those still alive after `timeout`."""
    _, alive = psutil.wait_procs(list(procs), timeout=max(timeout, 0))
    return [p for p in alive if _really_alive(p)]


def _really_alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def group_members(pgid: int | None) -> list[psutil.Process]:
    """Live processes whose process group is `pgid`."""
    if not pgid or pgid <= 1:
        return []
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def terminate_tree(
    root_pid: int | None,
    root_started_at: float | None,
    pgid: int | None,
    grace: float,
    *,
    extra_roots: Iterable[int] = (),
) -> None:
    """SIGTERM a process, its process group and all its descendants; SIGKILL what remains
    after `grace` seconds. Descendants that left the group (setsid) are found by walking
    the tree, so nothing of the job is left behind."""
    targets = _collect(root_pid, root_started_at, pgid, extra_roots)
    if not targets:
        return
    signal_group(pgid, signal.SIGTERM)
    signal_processes(targets, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while True:
        # Children may fork while dying: recollect until everything is gone.
        remaining = wait_gone(targets, min(0.2, max(deadline - time.monotonic(), 0)))
        targets = _merge(remaining, _collect(root_pid, root_started_at, pgid, extra_roots))
        if not targets or time.monotonic() >= deadline:
            break
    if targets:
        signal_group(pgid, signal.SIGKILL)
        signal_processes(targets, signal.SIGKILL)
        wait_gone(targets, 2.0)


def _collect(
    root_pid: int | None,
    root_started_at: float | None,
    pgid: int | None,
    extra_roots: Iterable[int],
) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    if root_pid and is_alive(root_pid, root_started_at):
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(psutil.Process(root_pid))
        found.extend(descendants(root_pid))
    for pid in extra_roots:
        found.extend(descendants(pid))
    # Linux never hands out a pid that is still some group's id, so members of the
    # codex group are the job's own processes for as long as any of them lives.
    found.extend(group_members(pgid))
    return _merge(found, [])


def _merge(a: Iterable[psutil.Process], b: Iterable[psutil.Process]) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    me = os.getpid()
    for proc in [*a, *b]:
        if proc.pid != me:
            seen.setdefault(proc.pid, proc)
    return list(seen.values())
