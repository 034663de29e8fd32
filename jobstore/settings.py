"""Settings from the environment (the one module that reads os.environ for configuration), and
the store's own settings, kept in the store.

CODEX_ASYNC_HOME          the store's folder (default ~/.codex-async)
CODEX_ASYNC_MAX_JOBS      how many jobs of the store may run at once (default 5, 1 to 1000)
CODEX_ASYNC_CANCEL_GRACE  seconds between SIGTERM and SIGKILL on cancel (default 5, at most 3600)
CODEX_BIN                 the codex binary (default: `codex` on PATH)
CODEX_ASYNC_MAX_POLICY    the most permissive approval policy a server accepts (default full-auto)
CODEX_ASYNC_LOG_FILE      where the server logs (default: stderr)
CODEX_ASYNC_LOG_LEVEL     DEBUG, INFO, WARNING or ERROR (default INFO)
CODEX_HOME                where codex keeps its own sessions, read by the UI (default ~/.codex)
CODEX_ASYNC_SNAPSHOT_MAX_MB  files larger than this are left out of a job's git snapshots
                          (default 50, at most 4096)

The job limit belongs to the store, not to a process: `<root>/settings.json` holds it and
every process using the store obeys it (servers, UIs, runners, `codex-async reconcile`
from any shell). CODEX_ASYNC_MAX_JOBS (or JobStore's max_jobs) only seeds a store that has
no settings yet; `codex-async config --max-jobs N` changes it afterwards. So does the way
codex runs: `codex-async config --codex-path app-server|exec` (app-server, the default, is
used when the installed codex has it; exec cannot be steered, interrupted or asked), and
whether jobs run in a git worktree of their own by default (`codex-async config --worktree on`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobstore import fsio
from jobstore.echo import echoed
from jobstore.errors import InvalidInput, StoreRefused
from jobstore.options import APPROVAL_POLICIES, CODEX_PATHS, DEFAULT_CODEX_PATH, check_codex_path

ENV_HOME = "CODEX_ASYNC_HOME"
ENV_MAX_JOBS = "CODEX_ASYNC_MAX_JOBS"
ENV_CANCEL_GRACE = "CODEX_ASYNC_CANCEL_GRACE"
ENV_CODEX_BIN = "CODEX_BIN"
ENV_MAX_POLICY = "CODEX_ASYNC_MAX_POLICY"
ENV_LOG_FILE = "CODEX_ASYNC_LOG_FILE"
ENV_LOG_LEVEL = "CODEX_ASYNC_LOG_LEVEL"
ENV_CODEX_HOME = "CODEX_HOME"
ENV_SNAPSHOT_MAX_MB = "CODEX_ASYNC_SNAPSHOT_MAX_MB"

DEFAULT_MAX_JOBS = 5
MAX_JOBS_CEILING = 1000
DEFAULT_CANCEL_GRACE_SECONDS = 5.0
# An hour: far more than any program needs to exit on SIGTERM, and every deadline built on
# it stays an ordinary number (1e308 seconds made the sleeps overflow).
MAX_CANCEL_GRACE_SECONDS = 3600.0
NO_POLICY_CAP = "full-auto"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_SNAPSHOT_MAX_MB = 50
SNAPSHOT_MAX_MB_CEILING = 4096  # hashing more than this before codex starts is no snapshot's job


@dataclass(frozen=True)
class Settings:
    store_root: Path
    max_jobs: int = DEFAULT_MAX_JOBS
    cancel_grace: float = DEFAULT_CANCEL_GRACE_SECONDS
    codex_bin: str | None = None  # None: `codex` on PATH
    max_policy: str = NO_POLICY_CAP  # "full-auto" sets no cap
    log_file: str | None = None  # None: stderr
    log_level: str = "INFO"
    codex_home: Path = field(default_factory=lambda: Path.home() / ".codex")
    snapshot_max_mb: int = DEFAULT_SNAPSHOT_MAX_MB
    # Whether CODEX_ASYNC_MAX_JOBS was given: it seeds a new store, and is ignored (and
    # reported by `codex-async config`) where the store says otherwise.
    max_jobs_from_env: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `environ` (default: this process's); an empty variable
        counts as unset. A bad value raises InvalidInput naming the variable."""
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            raw = env.get(name, "")
            return raw if raw.strip() else None

        home = value(ENV_HOME)
        codex_home = value(ENV_CODEX_HOME)
        return cls(
            store_root=Path(home).expanduser() if home else Path.home() / ".codex-async",
            max_jobs=int(
                _bounded(ENV_MAX_JOBS, value(ENV_MAX_JOBS), DEFAULT_MAX_JOBS, MAX_JOBS_CEILING, integer=True)
            ),
            cancel_grace=_bounded(
                ENV_CANCEL_GRACE,
                value(ENV_CANCEL_GRACE),
                DEFAULT_CANCEL_GRACE_SECONDS,
                MAX_CANCEL_GRACE_SECONDS,
                integer=False,
            ),
            codex_bin=value(ENV_CODEX_BIN),
            max_policy=_choice(ENV_MAX_POLICY, value(ENV_MAX_POLICY), NO_POLICY_CAP, APPROVAL_POLICIES),
            log_file=value(ENV_LOG_FILE),
            log_level=_choice(ENV_LOG_LEVEL, value(ENV_LOG_LEVEL), "INFO", LOG_LEVELS, upper=True),
            codex_home=Path(codex_home).expanduser() if codex_home else Path.home() / ".codex",
            max_jobs_from_env=value(ENV_MAX_JOBS) is not None,
            snapshot_max_mb=int(
                _bounded(
                    ENV_SNAPSHOT_MAX_MB,
                    value(ENV_SNAPSHOT_MAX_MB),
                    DEFAULT_SNAPSHOT_MAX_MB,
                    SNAPSHOT_MAX_MB_CEILING,
                    integer=True,
                )
            ),
        )

    @property
    def snapshot_max_file_bytes(self) -> int:
        return self.snapshot_max_mb * 1024 * 1024


def _bounded(name: str, raw: str | None, default: float, limit: float, *, integer: bool) -> float:
    """A number from the environment within (0, limit]; anything else (not a number, nan,
    inf, zero, negative, huge) is refused naming the variable and the allowed range."""
    if raw is None:
        return default
    allowed = f"use {'a whole number' if integer else 'a number'} greater than zero and at most {limit:g}"
    try:
        number = int(raw) if integer else float(raw)
    except ValueError:
        raise InvalidInput(
            f"{name}={echoed(raw)} is not a {'whole ' if integer else ''}number; {allowed}"
        ) from None
    if not 0 < number <= limit:  # nan compares false: refused too
        raise InvalidInput(f"{name}={echoed(raw)} is out of range; {allowed}")
    return number


def check_cancel_grace(value: object, what: str = "cancel_grace") -> float:
    """A cancel grace given in code (JobStore's argument), held to the variable's range."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_CANCEL_GRACE_SECONDS
    ):
        raise InvalidInput(
            f"{what} must be a number of seconds greater than zero and at most {MAX_CANCEL_GRACE_SECONDS:g}, "
            f"not {echoed(value)}"
        )
    return float(value)


def _choice(name: str, raw: str | None, default: str, valid: tuple[str, ...], *, upper: bool = False) -> str:
    if raw is None:
        return default
    chosen = raw.strip().upper() if upper else raw.strip().lower()
    if chosen not in valid:
        raise InvalidInput(
            f"{name}={echoed(raw)} is not a valid {_WHAT[name]}; use one of: {', '.join(valid)}"
        )
    return chosen


_WHAT = {ENV_MAX_POLICY: "policy", ENV_LOG_LEVEL: "log level"}


def check_max_jobs(value: object, what: str = "max_jobs") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JOBS_CEILING:
        raise InvalidInput(f"{what} must be a whole number from 1 to {MAX_JOBS_CEILING}, not {echoed(value)}")
    return value


_KEYS = frozenset({"max_jobs", "codex_path", "worktree"})


@dataclass(frozen=True)
class StoreSettings:
    """The settings every process using a store obeys, kept in `<root>/settings.json`."""

    max_jobs: int
    codex_path: str = DEFAULT_CODEX_PATH  # how new runs drive codex: see CODEX_PATHS
    # Whether a job runs in a git worktree of its own when its caller does not say.
    worktree: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"max_jobs": self.max_jobs, "codex_path": self.codex_path, "worktree": self.worktree}

    @classmethod
    def load(cls, path: Path) -> StoreSettings | None:
        """The store's settings; None when it has none yet. A damaged file is refused (the
        store starts nothing until it is fixed) with how to fix it."""
        try:
            raw = fsio.read_file(path, limit=64 * 1024)
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
            # A store written before codex_path or worktree existed holds only some of them.
            if not isinstance(data, dict) or "max_jobs" not in data or not set(data) <= _KEYS:
                raise ValueError(
                    f'it must hold {{"max_jobs": N, "codex_path": {"|".join(CODEX_PATHS)}, '
                    '"worktree": true or false}'
                )
            codex_path = check_codex_path(data.get("codex_path", DEFAULT_CODEX_PATH))
            worktree = data.get("worktree", False)
            if not isinstance(worktree, bool):
                raise ValueError("worktree must be true or false")
            return cls(check_max_jobs(data["max_jobs"]), codex_path, worktree)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreRefused(
                f"the store's settings {path} are damaged ({exc}); no job starts until they are "
                "fixed: run `codex-async config --max-jobs N --codex-path app-server`"
            ) from None

    def save(self, path: Path) -> None:
        """Replace the store's settings atomically."""
        fsio.write_json_atomic(path, self.to_dict())
