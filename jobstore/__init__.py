"""codex-async job store: durable codex jobs on the filesystem.

Plain Python (no UI or MCP imports). The MCP server and the terminal UI are thin
adapters over `JobStore`; they meet only in the files it keeps.
"""

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
from jobstore.events import RenderedLine, Summary, render_line
from jobstore.layout import FileKind, StoreFile
from jobstore.options import (
    APPROVAL_POLICIES,
    DEFAULT_APPROVAL_POLICY,
    REASONING_EFFORTS,
    SANDBOXES,
    ReviewOptions,
    RunOptions,
)
from jobstore.record import JobEntry, JobKind, JobRecord, UnreadableJob
from jobstore.sessions import SessionInfo
from jobstore.settings import Settings
from jobstore.states import LISTABLE_STATUSES, UNREADABLE, JobStatus
from jobstore.store import CancelOutcome, JobStore

__all__ = [
    "APPROVAL_POLICIES",
    "DEFAULT_APPROVAL_POLICY",
    "LISTABLE_STATUSES",
    "REASONING_EFFORTS",
    "SANDBOXES",
    "UNREADABLE",
    "CancelOutcome",
    "CodexUnavailable",
    "FileKind",
    "InvalidInput",
    "JobEntry",
    "JobKind",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "JobStoreError",
    "RenderedLine",
    "ReviewOptions",
    "RunOptions",
    "SessionInfo",
    "Settings",
    "StoreFile",
    "StoreRefused",
    "StoreWriteError",
    "Summary",
    "UnreadableJob",
    "UnreadableRecord",
    "echoed",
    "render_line",
]
