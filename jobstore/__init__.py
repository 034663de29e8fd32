"""codex-async job store: durable codex jobs on the filesystem.

Plain Python (no UI or MCP imports). The MCP server and the terminal UI are thin
adapters over `JobStore`; they meet only in the files it keeps.
"""

from jobstore.errors import (
    CodexUnavailable,
    InvalidInput,
    JobNotFound,
    JobStoreError,
    StoreWriteError,
)
from jobstore.events import RenderedLine, Summary, render_line
from jobstore.options import (
    APPROVAL_POLICIES,
    DEFAULT_APPROVAL_POLICY,
    REASONING_EFFORTS,
    SANDBOXES,
    ReviewOptions,
    RunOptions,
)
from jobstore.record import JobEntry, JobRecord, UnreadableJob
from jobstore.states import JobStatus
from jobstore.store import CancelOutcome, JobStore, SessionInfo, UnreadableRecord

__all__ = [
    "APPROVAL_POLICIES",
    "DEFAULT_APPROVAL_POLICY",
    "REASONING_EFFORTS",
    "SANDBOXES",
    "CancelOutcome",
    "CodexUnavailable",
    "InvalidInput",
    "JobEntry",
    "JobNotFound",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "JobStoreError",
    "RenderedLine",
    "ReviewOptions",
    "RunOptions",
    "SessionInfo",
    "StoreWriteError",
    "Summary",
    "UnreadableJob",
    "UnreadableRecord",
    "render_line",
]
