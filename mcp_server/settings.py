"""The server's own settings (the store reads its own from the environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from jobstore import APPROVAL_POLICIES, InvalidInput
from jobstore.options import permissiveness

ENV_MAX_POLICY = "CODEX_ASYNC_MAX_POLICY"
ENV_LOG_FILE = "CODEX_ASYNC_LOG_FILE"

# What each permissiveness level lets codex do, in words a person reading a refusal understands.
LEVEL_WORDS = {
    0: "only read files (read-only sandbox)",
    1: "edit files in its workspace (workspace-write sandbox)",
    2: "run with no sandbox at all",
}


@dataclass(frozen=True)
class ServerSettings:
    # The most permissive approval policy the server accepts; "full-auto" means no cap.
    max_policy: str = "full-auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        raw = env.get(ENV_MAX_POLICY, "")
        if not raw.strip():
            return cls()
        value = raw.strip().lower()
        if value not in APPROVAL_POLICIES:
            raise InvalidInput(
                f"{ENV_MAX_POLICY}={raw!r} is not a valid policy; use one of: {', '.join(APPROVAL_POLICIES)}"
            )
        return cls(max_policy=value)

    @property
    def max_level(self) -> int:
        return permissiveness(self.max_policy, None)

    def check_allowed(self, approval_policy: str, sandbox: str | None) -> None:
        """Refuse a job that would be more permissive than the operator's cap.

        Uses the effective permissiveness, so an explicit sandbox cannot get around the cap.
        """
        level = permissiveness(approval_policy, sandbox)
        if level <= self.max_level:
            return
        asked = f"approval_policy={approval_policy!r}" + (f" with sandbox={sandbox!r}" if sandbox else "")
        allowed = [p for p in APPROVAL_POLICIES if permissiveness(p, None) <= self.max_level]
        raise InvalidInput(
            f"refused: {asked} would let codex {LEVEL_WORDS[level]}, but this server's operator "
            f"allows at most {self.max_policy!r} (codex may {LEVEL_WORDS[self.max_level]}; set by "
            f"{ENV_MAX_POLICY}). Use approval_policy {' or '.join(repr(p) for p in allowed)} "
            "and no more permissive sandbox"
        )
