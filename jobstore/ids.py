"""Job ids: short, safe in a path, unique across processes, ordered by creation time.

An id is 10 characters of millisecond timestamp and 4 random characters, both in
lowercase Crockford base32, so sorting ids sorts jobs by creation time and
`os.listdir` + sort gives the newest jobs without reading any record.
Uniqueness across processes is finally guaranteed by creating the job folder
with `mkdir`, which fails if the id was already taken.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import UTC, datetime
from typing import TypeGuard

from jobstore.echo import echoed
from jobstore.errors import InvalidInput

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 10
_RANDOM_CHARS = 4
JOB_ID_LENGTH = _TIME_CHARS + _RANDOM_CHARS
JOB_ID_PATTERN = rf"[{_ALPHABET}]{{{JOB_ID_LENGTH}}}"  # a regular expression
_JOB_ID_RE = re.compile(JOB_ID_PATTERN)

_lock = threading.Lock()
_last_ms = 0


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_job_id() -> str:
    """A fresh id; strictly increasing within this process."""
    global _last_ms
    with _lock:
        now_ms = max(time.time_ns() // 1_000_000, _last_ms + 1)
        _last_ms = now_ms
    # os.urandom, not `secrets`: the latter pulls in hashlib, a cost every job runner pays.
    return _encode(now_ms, _TIME_CHARS) + _encode(int.from_bytes(os.urandom(3)), _RANDOM_CHARS)


def created_at(job_id: str) -> datetime | None:
    """When the job was created, read from its id (useful when its record is unreadable)."""
    if not is_job_id(job_id):
        return None
    ms = 0
    for char in job_id[:_TIME_CHARS]:
        ms = ms * 32 + _ALPHABET.index(char)
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def is_job_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _JOB_ID_RE.fullmatch(value) is not None


def check_job_id(value: object) -> str:
    """Return `value` if it is a well-formed job id, else raise InvalidInput.

    This is the only gate between a caller's string and a path in the store,
    so `../x`, `/etc`, NUL bytes and the like never reach the filesystem.
    """
    if not is_job_id(value):
        raise InvalidInput(
            f"invalid job id {echoed(value)}: a job id is {JOB_ID_LENGTH} characters of 0-9 and a-z "
            "(as returned by codex_start or shown by codex_list)"
        )
    return value


_SESSION_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")


def is_session_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _SESSION_ID_RE.fullmatch(value) is not None


def check_session_id(value: object) -> str:
    """Codex thread ids are UUIDs; accept that shape (and nothing path-like)."""
    if not is_session_id(value):
        raise InvalidInput(
            f"invalid session id {echoed(value)}: expected a codex session (thread) id such as "
            "'01a1fb0e-1565-7113-93f8-60fc9caf5d10'"
        )
    return value
