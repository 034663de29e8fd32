"""Where the store lives and the settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from jobstore.errors import InvalidInput

DEFAULT_MAX_JOBS = 5
DEFAULT_CANCEL_GRACE_SECONDS = 5.0


def default_root() -> Path:
    """`$CODEX_ASYNC_HOME`, else `~/.codex-async`."""
    env = os.environ.get("CODEX_ASYNC_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".codex-async"


def _positive_number_from_env(name: str, default: float, *, integer: bool) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a {'whole ' if integer else ''}number") from None
    if value <= 0:
        raise InvalidInput(f"{name}={raw!r} must be greater than zero")
    return value


def max_jobs_from_env() -> int:
    """`CODEX_ASYNC_MAX_JOBS`: how many jobs of the store may run at once."""
    return int(_positive_number_from_env("CODEX_ASYNC_MAX_JOBS", DEFAULT_MAX_JOBS, integer=True))


def cancel_grace_from_env() -> float:
    """`CODEX_ASYNC_CANCEL_GRACE`: seconds between SIGTERM and SIGKILL on cancel."""
    return _positive_number_from_env("CODEX_ASYNC_CANCEL_GRACE", DEFAULT_CANCEL_GRACE_SECONDS, integer=False)
