"""Process identity, liveness and termination: a process is signalled only once proven the job's.

A pid alone says little: pids are reused. A process is "the job's" only if the pid
exists and started at the time recorded for it, or if it carries the job's marker
(`CODEX_ASYNC_JOB=<job id>:<secret>` in the environment it was started with, which every
descendant inherits), runs as our user and started after the job. Every scan of the
process table tolerates processes vanishing at any point of it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from jobstore.record import JobRecord

# Start times are a process's clock ticks since boot (/proc/PID/stat, never changing) plus the
# boot's epoch time to the microsecond; the same process always yields the same value, a reused
# pid a different one. (psutil adds /proc/stat's btime instead: a whole second that moves by one
# when the clock is adjusted, so the same process's time could jump by a second; records
# written that way are still recognised.)
_START_TIME_TOLERANCE = 0.02
# The boot epoch's reads, taken again while they straddle a pause longer than this.
_BOOT_EPOCH_MAX_WIDTH = 0.001
_BOOT_EPOCH_TRIES = 8
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A process may vanish between any two reads of /proc: all of these mean "not there (any more)".
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, ProcessLookupError, FileNotFoundError)

JOB_MARKER_ENV = "CODEX_ASYNC_JOB"
# Where a job's record keeps its marker's secret (in `extra`, until the record has a field).
MARKER_FIELD = "process_marker"


class UnprovenProcess(ValueError):
    """A signal was asked for a process or group whose identity cannot be proven."""


def start_time_of(pid: int) -> float | None:
    try:
        return _since_boot(pid) + _boot_epoch()
    except (*_GONE, OSError, ValueError, IndexError):
        return None


def _boot_epoch() -> float:
    """When the machine booted, in epoch seconds: the wall clock minus the time since boot.
    The wall clock is read between two reads of the boot clock: a process paused between
    its reads (tens of ms on a loaded machine, more than a start time's tolerance) would
    misplace every start time it computes, and read a live process as gone. So a read whose
    two boot-clock reads are far apart is taken again; the tightest one is used."""
    best_width, best = float("inf"), 0.0
    for _ in range(_BOOT_EPOCH_TRIES):
        before = time.clock_gettime(time.CLOCK_BOOTTIME)
        wall = time.time()
        after = time.clock_gettime(time.CLOCK_BOOTTIME)
        if after - before < best_width:
            best_width, best = after - before, wall - (before + after) / 2
        if best_width <= _BOOT_EPOCH_MAX_WIDTH:
            break
    return best


def _since_boot(pid: int) -> float:
    """When `pid` started, in seconds since boot (its clock ticks in /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19]) / _CLOCK_TICKS


def _started_at(proc: psutil.Process, recorded: float) -> bool:
    """Whether `proc` started at `recorded` (in either way a start time was recorded)."""
    try:
        if _same_start(_since_boot(proc.pid) + _boot_epoch(), recorded):
            return True
    except (OSError, ValueError, IndexError):
        pass
    # The two ways differ by a constant fraction of a second, so a stranger started that much
    # later could match the other way: only a value psutil could have written (a whole number
    # of clock ticks after a whole-second boot time) is compared its way.
    return _psutil_written(recorded) and _same_start(proc.create_time(), recorded)


def _psutil_written(recorded: float) -> bool:
    ticks = recorded * _CLOCK_TICKS
    return abs(ticks - round(ticks)) < 1e-3


def is_alive(pid: int | None, started_at: float | None) -> bool:
    """True if `pid` may still be the process that started at `started_at` and has not exited.
    For liveness only: an unknown start time or a denied look counts as alive. Never use
    this to decide a signal: see `signal_process`."""
    if not pid or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if started_at is not None and not _started_at(proc, started_at):
            return False
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except _GONE:
        return False
    except psutil.AccessDenied:
        return True  # not allowed to look is not the same as gone


def is_same_process(pid: int | None, started_at: float | None) -> bool:
    """True only if `pid` is, provably, the live process that started at `started_at`."""
    if started_at is None or not pid or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        return _started_at(proc, started_at) and proc.status() != psutil.STATUS_ZOMBIE
    except (*_GONE, psutil.AccessDenied):
        return False


def _same_start(actual: float, recorded: float) -> bool:
    return abs(actual - recorded) <= _START_TIME_TOLERANCE


def signal_process(pid: int | None, started_at: float | None, sig: int) -> bool:
    """Send `sig` to `pid` if it is the process that started at `started_at`; return whether
    it was sent. Refuses (UnprovenProcess) without a start time. Through a pidfd where the
    system has them, so the pid cannot be reused between the check and the signal."""
    if started_at is None:
        raise UnprovenProcess(f"refusing to signal pid {pid}: its start time was never recorded")
    if not pid or pid <= 0:
        return False
    try:
        pidfd = os.pidfd_open(pid)
    except _GONE:
        return False
    except OSError:
        pidfd = None  # no pidfd support: check, then kill (a far narrower window than none)
    try:
        if not is_same_process(pid, started_at):
            return False
        if pidfd is None:
            os.kill(pid, sig)
        else:
            signal.pidfd_send_signal(pidfd, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


def signal_group(pgid: int | None, sig: int, *, leader_started_at: float | None) -> bool:
    """Signal process group `pgid` only while its leader is proven: the process `pgid` that
    started at `leader_started_at` and still leads that group. Refuses without a start time.
    (A group id is never handed out again while its leader lives.)"""
    if leader_started_at is None:
        raise UnprovenProcess(f"refusing to signal group {pgid}: its leader's start time is unknown")
    if not pgid or pgid <= 1:
        return False
    try:
        if not is_same_process(pgid, leader_started_at) or os.getpgid(pgid) != pgid:
            return False
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def become_child_subreaper() -> bool:
    """Let orphaned descendants reparent to this process, so none escape cleanup (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def is_child_subreaper() -> bool:
    """Whether the kernel reparents this process's orphaned descendants to it (asked, not assumed)."""
    flag = ctypes.c_int(0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    return flag.value != 0


def descendants(pid: int) -> list[psutil.Process]:
    """Live descendants of `pid` (empty if it is gone). Each result is bound to its start
    time: psutil refuses to signal it once its pid belongs to another process. Read from the
    kernel's lists of each process's children (a few reads), not a scan of every process."""
    if not _children_lists():
        try:
            return list(psutil.Process(pid).children(recursive=True))
        except (*_GONE, psutil.AccessDenied, OSError):
            return []
    found: list[psutil.Process] = []
    pending = _child_pids(pid)
    seen = {pid}
    while pending:
        child = pending.pop()
        if child in seen:
            continue
        seen.add(child)
        try:
            found.append(psutil.Process(child))
        except (*_GONE, psutil.AccessDenied):
            continue
        pending += _child_pids(child)
    return found


@functools.cache
def _children_lists() -> bool:
    """Whether the kernel lists each thread's children (/proc/PID/task/TID/children)."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _child_pids(pid: int) -> list[int]:
    """The children of `pid` (of each of its threads) now; empty if it is gone."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found += [int(word) for word in f.read().split()]
    return found


def catches_signal(pid: int | None, sig: int) -> bool:
    """Whether process `pid` has a handler for `sig` now (the kernel's SigCgt mask): a runner
    has one for SIGTERM from the moment it can turn it into a cancel, not before."""
    if not pid or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def signal_processes(procs: Iterable[psutil.Process], sig: int) -> None:
    """Signal psutil processes; each is checked against its start time first (by psutil)."""
    for proc in procs:
        with contextlib.suppress(*_GONE, psutil.AccessDenied, PermissionError):
            proc.send_signal(sig)


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes exit; return those still alive after `timeout`."""
    try:
        _, alive = psutil.wait_procs(list(procs), timeout=max(timeout, 0))
    except _GONE:
        alive = list(procs)
    return [p for p in alive if _really_alive(p)]


def _really_alive(proc: psutil.Process) -> bool:
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except _GONE:
        return False
    except psutil.AccessDenied:
        return True


# ------------------------------------------------------------------ job marker


def new_marker_secret() -> str:
    return secrets.token_hex(16)


def job_marker(job_id: str, secret: str) -> str:
    """The value of CODEX_ASYNC_JOB for every process of the job's tree."""
    return f"{job_id}:{secret}"


def marker_secret_of(record: JobRecord) -> str | None:
    value = record.extra.get(MARKER_FIELD) if isinstance(record.extra, dict) else None
    return value if isinstance(value, str) and value else None


def marked_processes(job_id: str, secret: str, not_before: float) -> list[psutil.Process]:
    """Processes that carry the job's marker, run as our user and started no earlier than
    `not_before` (the job's start): a stranger can set the variable but not know the
    secret, and another user's or an older process is never trusted."""
    wanted = job_marker(job_id, secret)
    uid, me = os.getuid(), os.getpid()
    found = []
    for proc in _candidates(uid, not_before - _START_TIME_TOLERANCE, f"{JOB_MARKER_ENV}={wanted}"):
        try:
            if proc.pid == me or proc.uids().real != uid:
                continue
            # Either way of recording a start time (see _START_TIME_TOLERANCE) may be the job's.
            started = max(start_time_of(proc.pid) or 0.0, proc.create_time())
            if started < not_before - _START_TIME_TOLERANCE:
                continue
            if proc.environ().get(JOB_MARKER_ENV) == wanted and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (*_GONE, psutil.AccessDenied, OSError):
            continue
    return found


def _candidates(uid: int, not_before: float, variable: str) -> Iterable[psutil.Process]:
    """Processes that may be ours, no older than `not_before` and carrying `variable`
    (NAME=value): a cheap first look at each pid (who owns its /proc entry, its start, its
    environment's bytes) spares building a psutil view of every process; the caller checks
    each candidate in full."""
    needle = os.fsencode(variable) + b"\0"
    try:
        # A second early: a start recorded psutil's way may be up to a second off ours.
        earliest_ticks = (not_before - 1.0 - _boot_epoch()) * _CLOCK_TICKS
        names = os.listdir("/proc")
    except OSError:
        yield from psutil.process_iter()
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue  # another user's (or not dumpable: its environment is unreadable)
            with open(f"/proc/{name}/stat", "rb") as f:
                started_ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
            if started_ticks < earliest_ticks:
                continue
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = b"\0" + f.read()
            if b"\0" + needle not in environ and not environ.endswith(b"\0" + needle[:-1]):
                continue
            yield psutil.Process(int(name))
        except (*_GONE, psutil.AccessDenied, OSError, ValueError, IndexError):
            continue


# ------------------------------------------------------------------ termination


def _proven(pid: int | None, started_at: float | None) -> list[psutil.Process]:
    """The process `pid` (bound to its start time) and its descendants, if it is proven."""
    if pid is None or not is_same_process(pid, started_at):
        return []
    try:
        proc = psutil.Process(pid)
    except _GONE:
        return []
    return [proc, *descendants(pid)]


def _terminate(
    collect: Callable[[], list[psutil.Process]],
    grace: float,
    *,
    signal_groups: Callable[[int], None] = lambda sig: None,
) -> list[int]:
    """SIGTERM what `collect` finds, give it `grace` seconds, SIGKILL what remains;
    collect again each round, since children may fork while dying. Returns the pids signalled."""
    targets = _merge(collect())
    signalled = {p.pid for p in targets}
    if not targets:
        return []
    signal_groups(signal.SIGTERM)
    signal_processes(targets, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while True:
        remaining = wait_gone(targets, min(0.2, max(deadline - time.monotonic(), 0)))
        fresh = [p for p in collect() if p.pid not in {t.pid for t in targets}]
        signal_processes(fresh, signal.SIGTERM)
        targets = _merge([*remaining, *fresh])
        signalled.update(p.pid for p in fresh)
        if not targets or time.monotonic() >= deadline:
            break
    for _ in range(3):  # anything forked during the last round is caught by the next
        if not targets:
            break
        signal_groups(signal.SIGKILL)
        signal_processes(targets, signal.SIGKILL)
        signalled.update(p.pid for p in targets)
        wait_gone(targets, 2.0)
        targets = _merge(collect())
    return sorted(signalled)


def terminate_tree(
    root_pid: int | None,
    root_started_at: float | None,
    pgid: int | None,
    grace: float,
    *,
    extra_roots: Iterable[int] = (),
) -> list[int]:
    """Stop a proven process, its descendants and its group (only while the group's leader is
    proven: `pgid == root_pid`), and the descendants of `extra_roots` (our own children).
    Nothing unproven is signalled. Returns the pids signalled."""
    roots = list(extra_roots)
    group_proven = pgid is not None and pgid == root_pid and root_started_at is not None

    def collect() -> list[psutil.Process]:
        found = _proven(root_pid, root_started_at)
        for pid in roots:
            found += descendants(pid)
        return found

    def signal_groups(sig: int) -> None:
        if group_proven:
            signal_group(pgid, sig, leader_started_at=root_started_at)

    return _terminate(collect, grace, signal_groups=signal_groups)


def terminate_job_tree(record: JobRecord, grace: float) -> list[int]:
    """Stop everything of a job's tree, even after its runner died: the runner and codex
    (each proven by its start time), their descendants, codex's group (while its leader is
    proven), and every process carrying the job's marker (codex's descendants in sessions
    of their own included). SIGTERM, `grace` seconds, SIGKILL. Returns the pids signalled.
    For the step that settles a job, and for a cancel whose runner is gone."""
    secret = marker_secret_of(record)
    not_before = record.pid_started_at or record.codex_started_at

    def collect() -> list[psutil.Process]:
        found = _proven(record.pid, record.pid_started_at)
        found += _proven(record.codex_pid, record.codex_started_at)
        if secret is not None and not_before is not None:
            found += marked_processes(record.job_id, secret, not_before)
        return found

    def signal_groups(sig: int) -> None:
        proven_leader = record.codex_pgid == record.codex_pid and record.codex_started_at is not None
        if proven_leader:
            signal_group(record.codex_pgid, sig, leader_started_at=record.codex_started_at)

    return _terminate(collect, grace, signal_groups=signal_groups)


def _merge(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    me = os.getpid()
    for proc in procs:
        if proc.pid != me:
            seen.setdefault(proc.pid, proc)
    return list(seen.values())
