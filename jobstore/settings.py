"""Settings from the environment: the one module that reads os.environ for configuration.

CODEX_ASYNC_HOME          the store's folder (default ~/.codex-async)
CODEX_ASYNC_MAX_JOBS      how many jobs of the store may run at once (default 5)
CODEX_ASYNC_CANCEL_GRACE  seconds between SIGTERM and SIGKILL on cancel (default 5)
CODEX_BIN                 the codex binary (default: `codex` on PATH)
CODEX_ASYNC_MAX_POLICY    the most permissive approval policy a server accepts (default full-auto)
CODEX_ASYNC_LOG_FILE      where the server logs (default: stderr)
CODEX_ASYNC_LOG_LEVEL     DEBUG, INFO, WARNING or ERROR (default INFO)
CODEX_HOME                where codex keeps its own sessions, read by the UI (default ~/.codex)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobstore.errors import InvalidInput
from jobstore.options import APPROVAL_POLICIES

ENV_HOME = "CODEX_ASYNC_HOME"
ENV_MAX_JOBS = "CODEX_ASYNC_MAX_JOBS"
ENV_CANCEL_GRACE = "CODEX_ASYNC_CANCEL_GRACE"
ENV_CODEX_BIN = "CODEX_BIN"
ENV_MAX_POLICY = "CODEX_ASYNC_MAX_POLICY"
ENV_LOG_FILE = "CODEX_ASYNC_LOG_FILE"
ENV_LOG_LEVEL = "CODEX_ASYNC_LOG_LEVEL"
ENV_CODEX_HOME = "CODEX_HOME"

DEFAULT_MAX_JOBS = 5
DEFAULT_CANCEL_GRACE_SECONDS = 5.0
NO_POLICY_CAP = "full-auto"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
            max_jobs=int(_positive(ENV_MAX_JOBS, value(ENV_MAX_JOBS), DEFAULT_MAX_JOBS, integer=True)),
            cancel_grace=_positive(
                ENV_CANCEL_GRACE, value(ENV_CANCEL_GRACE), DEFAULT_CANCEL_GRACE_SECONDS, integer=False
            ),
            codex_bin=value(ENV_CODEX_BIN),
            max_policy=_choice(ENV_MAX_POLICY, value(ENV_MAX_POLICY), NO_POLICY_CAP, APPROVAL_POLICIES),
            log_file=value(ENV_LOG_FILE),
            log_level=_choice(ENV_LOG_LEVEL, value(ENV_LOG_LEVEL), "INFO", LOG_LEVELS, upper=True),
            codex_home=Path(codex_home).expanduser() if codex_home else Path.home() / ".codex",
        )


def _positive(name: str, raw: str | None, default: float, *, integer: bool) -> float:
    if raw is None:
        return default
    try:
        number = int(raw) if integer else float(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a {'whole ' if integer else ''}number") from None
    if not number > 0 or number == float("inf"):
        raise InvalidInput(f"{name}={raw!r} must be greater than zero")
    return number


def _choice(name: str, raw: str | None, default: str, valid: tuple[str, ...], *, upper: bool = False) -> str:
    if raw is None:
        return default
    chosen = raw.strip().upper() if upper else raw.strip().lower()
    if chosen not in valid:
        raise InvalidInput(f"{name}={raw!r} is not a valid {_WHAT[name]}; use one of: {', '.join(valid)}")
    return chosen


_WHAT = {ENV_MAX_POLICY: "policy", ENV_LOG_LEVEL: "log level"}
