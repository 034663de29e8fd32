"""The server's own settings, taken from `jobstore.settings.Settings` (which reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass

from jobstore import (
    APPROVAL_POLICIES,
    ENV_MAX_POLICY,
    NO_POLICY_CAP,
    InvalidInput,
    Settings,
    echoed,
    permissiveness,
)

# How often the server settles lost jobs and starts queued work (see mcp_server.server).
CHECK_INTERVAL_SECONDS = 30.0

# What each permissiveness level lets codex do, in words a person reading a refusal understands.
LEVEL_WORDS = {
    0: "only read files (read-only sandbox)",
    1: "edit files in its workspace (workspace-write sandbox)",
    2: "run with no sandbox at all",
}


@dataclass(frozen=True)
class ServerSettings:
    # The most permissive approval policy the server accepts; "full-auto" means no cap.
    max_policy: str = NO_POLICY_CAP
    check_interval: float = CHECK_INTERVAL_SECONDS

    def __post_init__(self) -> None:
        if self.max_policy not in APPROVAL_POLICIES:
            valid = ", ".join(APPROVAL_POLICIES)
            raise InvalidInput(f"max_policy {echoed(self.max_policy)} is not a policy; use one of: {valid}")
        if not self.check_interval > 0:
            raise InvalidInput(f"check_interval must be greater than zero, not {echoed(self.check_interval)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerSettings:
        return cls(max_policy=settings.max_policy)

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
        asked = f"approval_policy={echoed(approval_policy)}" + (
            f" with sandbox={echoed(sandbox)}" if sandbox else ""
        )
        allowed = [p for p in APPROVAL_POLICIES if permissiveness(p, None) <= self.max_level]
        raise InvalidInput(
            f"refused: {asked} would let codex {LEVEL_WORDS[level]}, but this server's operator "
            f"allows at most {echoed(self.max_policy)} (codex may {LEVEL_WORDS[self.max_level]}; set by "
            f"{ENV_MAX_POLICY}). Use approval_policy {' or '.join(repr(p) for p in allowed)} "
            "and no more permissive sandbox"
        )
