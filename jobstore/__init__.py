"""codex-async job store: durable codex jobs on the filesystem.

Plain Python (no UI or MCP imports). The MCP server and the terminal UI are thin
adapters over `JobStore`; they meet only in the files it keeps.

The public surface, the only door the adapters (`mcp_server`, `tui`) use: the names in
`__all__`, imported from `jobstore` itself, and one public submodule, `jobstore.inotify`
(the watch of files and folders: its many event constants would crowd this namespace).
Every other submodule is private to the store: it may change shape without the adapters
noticing, and it cannot open the store's files around its rules (no symlink followed,
owner and mode checked). `lint-imports` checks it (pyproject.toml).

The names below are imported eagerly when `import jobstore` loads them anyway (the store
needs them); those of modules only some screens or tools need (a session's conversation,
codex's own sessions, a job's diff, the safe git) are loaded on first use, so `import jobstore` costs
the CLI, the server's and codex-tui's start no more than before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jobstore.echo import echoed
from jobstore.errors import (
    CodexUnavailable,
    InvalidInput,
    JobNotFound,
    JobStoreError,
    StoreRefused,
    StoreWriteError,
    UnreadableRecord,
)
from jobstore.events import LineKind, RenderedLine, Summary, render_line, total_tokens
from jobstore.ids import created_at as job_created_at
from jobstore.ids import is_job_id
from jobstore.layout import FileKind, StoreFile
from jobstore.options import (
    APPROVAL_POLICIES,
    ASKING_POLICIES,
    CODEX_PATHS,
    DEFAULT_APPROVAL_POLICY,
    REASONING_EFFORTS,
    SANDBOXES,
    ReviewOptions,
    RunOptions,
    permissiveness,
)
from jobstore.output_file import OutputFile, OutputFollower, RawLine, Tail, clip_line, output_lines
from jobstore.record import JobEntry, JobKind, JobRecord, UnreadableJob, parse_iso
from jobstore.sanitize import terminal_safe, visible_data
from jobstore.sessions import SessionInfo
from jobstore.settings import ENV_MAX_POLICY, LOG_LEVELS, NO_POLICY_CAP, Settings
from jobstore.states import LISTABLE_STATUSES, UNREADABLE, JobStatus
from jobstore.store import CancelOutcome, JobStore
from jobstore.talk import DECISION_CHOICES, Question, TalkOutcome
from jobstore.watch import JobWakeup

if TYPE_CHECKING:
    from jobstore.codex_sessions import CodexSessions, RolloutFile, RolloutHead
    from jobstore.conversation import Conversation, Turn, conversation_of_session
    from jobstore.git import Git, GitFailed
    from jobstore.job_worktree import Applied
    from jobstore.worktree_diff import WorktreeDiff, read_worktree_diff

# Public names loaded on first use, and the module each comes from.
_LOADED_ON_USE = {
    "CodexSessions": "jobstore.codex_sessions",
    "RolloutFile": "jobstore.codex_sessions",
    "RolloutHead": "jobstore.codex_sessions",
    "Conversation": "jobstore.conversation",
    "Turn": "jobstore.conversation",
    "conversation_of_session": "jobstore.conversation",
    "Git": "jobstore.git",
    "GitFailed": "jobstore.git",
    "Applied": "jobstore.job_worktree",
    "WorktreeDiff": "jobstore.worktree_diff",
    "read_worktree_diff": "jobstore.worktree_diff",
}


def __getattr__(name: str) -> object:
    module = _LOADED_ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'jobstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


__all__ = [
    "APPROVAL_POLICIES",
    "ASKING_POLICIES",
    "CODEX_PATHS",
    "DECISION_CHOICES",
    "DEFAULT_APPROVAL_POLICY",
    "ENV_MAX_POLICY",
    "LISTABLE_STATUSES",
    "LOG_LEVELS",
    "NO_POLICY_CAP",
    "REASONING_EFFORTS",
    "SANDBOXES",
    "UNREADABLE",
    "CancelOutcome",
    "CodexSessions",
    "CodexUnavailable",
    "Conversation",
    "FileKind",
    "Git",
    "GitFailed",
    "InvalidInput",
    "JobEntry",
    "JobKind",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "JobStoreError",
    "JobWakeup",
    "LineKind",
    "OutputFile",
    "OutputFollower",
    "Question",
    "RawLine",
    "RenderedLine",
    "ReviewOptions",
    "RolloutFile",
    "RolloutHead",
    "RunOptions",
    "SessionInfo",
    "Settings",
    "StoreFile",
    "StoreRefused",
    "StoreWriteError",
    "Summary",
    "TalkOutcome",
    "Tail",
    "Turn",
    "UnreadableJob",
    "UnreadableRecord",
    "WorktreeDiff",
    "Applied",
    "clip_line",
    "conversation_of_session",
    "echoed",
    "is_job_id",
    "output_lines",
    "job_created_at",
    "parse_iso",
    "permissiveness",
    "read_worktree_diff",
    "render_line",
    "terminal_safe",
    "total_tokens",
    "visible_data",
]
