"""`codex-async`: the job store from the shell, for people, scripts and troubleshooting.

codex-async list [--limit N] [--status S] [--cwd DIR]
codex-async show JOB_ID [--tail N]
codex-async follow JOB_ID [--tail N]
codex-async start [PROMPT] [--cwd DIR] [--approval-policy P] [--sandbox S] [--model M]
                  [--reasoning-effort E] [--session-id ID] [--worktree]
codex-async wait JOB_ID [--timeout SECONDS]
codex-async restart JOB_ID
codex-async cancel JOB_ID
codex-async steer JOB_ID [MESSAGE]
codex-async interrupt JOB_ID
codex-async answer JOB_ID approve|deny
codex-async prune --older-than 7d
codex-async reconcile
codex-async diff JOB_ID
codex-async apply JOB_ID
codex-async discard JOB_ID
codex-async config [--max-jobs N] [--worktree on|off] [--codex-path app-server|exec]

--store DIR and --json go before or after the command.
"""

from __future__ import annotations

from jobstore.cli.main import main
from jobstore.cli.parser import parse_age, version

__all__ = ["main", "parse_age", "version"]
