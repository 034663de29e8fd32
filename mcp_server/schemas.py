"""What each tool returns. FastMCP derives every tool's output schema from these models.

The models are also what strict clients validate `structuredContent` against, and
what Claude Code hands to the calling model, so every result carries its own
`next` hint rather than relying on the text form alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobstore import LISTABLE_STATUSES, JobKind, JobStatus

JobKindName = JobKind
if TYPE_CHECKING:
    JobStatusName = str
    EntryStatusName = str
else:
    # The store's own names, in its order (Literal[("a", "b")] is Literal["a", "b"]).
    JobStatusName = Literal[tuple(status.value for status in JobStatus)]
    EntryStatusName = Literal[LISTABLE_STATUSES]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommandRun(_Result):
    command: str
    exit_code: int | None = Field(description="None while the command runs")
    status: str


class FileChange(_Result):
    path: str
    kind: str = Field(description="add, update or delete")


class StartResult(_Result):
    """A job that was just created: running, or queued behind the store's parallel limit."""

    job_id: str
    kind: JobKindName
    status: JobStatusName
    pid: int | None = Field(
        description="the job's runner process (codex's own pid shows in codex_poll as codex_pid); "
        "None while queued"
    )
    session_id: str | None = Field(description="the codex session, when already known")
    cwd: str
    next: str


class QuestionView(_Result):
    """What a waiting job's codex asks a person."""

    kind: str = Field(description="command (run this command?) or file_change (apply this patch?)")
    command: str | None
    cwd: str | None
    files: list[str] = Field(description="the files a patch changes")
    reason: str | None
    asked_at: str | None
    waiting_seconds: float | None = Field(description="how long it has waited for an answer")
    text: str = Field(description="the question in one line")


class JobView(_Result):
    """A job as codex_poll and codex_wait show it."""

    job_id: str
    kind: JobKindName
    status: JobStatusName
    exit_code: int | None
    prompt: str = Field(description="the prompt, shortened if long")
    cwd: str
    approval_policy: str
    sandbox: str | None
    model: str | None
    session_id: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None = Field(description="run time so far, or in total once ended")
    pid: int | None = Field(description="the job's runner process")
    codex_pid: int | None
    error: str | None
    last_message: str | None = Field(description="codex's last agent message: its answer once done")
    output: str = Field(description="the end of codex's output, rendered for reading, one line each")
    output_lines: int
    commands: list[CommandRun] = Field(description="the last shell commands codex ran, with exit codes")
    commands_total: int = Field(description="how many commands codex ran in all")
    file_changes: list[FileChange] = Field(description="the last files codex changed")
    file_changes_total: int
    usage: dict[str, int] | None = Field(description="token usage of the finished turn")
    question: QuestionView | None = Field(
        default=None, description="while status is waiting: what codex asks; answer it with codex_answer"
    )
    next: str


class WorktreeDiffView(_Result):
    """What a job changed in its git repository, recorded from its start to its end."""

    repo: str
    ended: bool = Field(description="False while the job runs: the diff is recorded when it ends")
    files: list[FileChange] = Field(description="the files changed; kind is git's letter (A, M, D, R...)")
    other_jobs: list[str] = Field(
        description="jobs that ran in the same repository meanwhile: some changes may be theirs"
    )
    diff: str = Field(description="the unified diff (git diff), cut when long")
    truncated: bool
    error: str | None


class PollView(JobView):
    """A job as codex_poll shows it: with what it changed in its repository when asked."""

    worktree_diff: WorktreeDiffView | None = Field(
        default=None,
        description="with include_diff: what the job changed in its git repository (null: not asked, "
        "or its folder is no git repository)",
    )


class WaitResult(JobView):
    finished: bool = Field(description="True once the job has ended (any final status)")
    timed_out: bool = Field(description="True when the wait ended because the time given ran out")
    waited_seconds: float


class ListEntry(_Result):
    job_id: str
    status: EntryStatusName
    kind: JobKindName | None = None
    prompt: str | None = None
    cwd: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    session_id: str | None = None
    error: str | None = None
    client: str | None = Field(default=None, description="the client that started it, if it said (MCP tasks)")


class ListResult(_Result):
    jobs: list[ListEntry] = Field(description="waiting jobs first (they need a person), then newest first")
    count: int


class CancelResult(_Result):
    job_id: str
    status: JobStatusName
    changed: bool = Field(description="False when the job had already ended: nothing was done")
    message: str
    exit_code: int | None


class ApplyResult(_Result):
    job_id: str
    applied: bool = Field(
        description="False: the change conflicts with the working tree; nothing was changed"
    )
    changed_files: list[str] = Field(description="the files written into the working tree (uncommitted)")
    conflicts: list[str] = Field(description="the files whose changes conflict (nothing was written)")
    branch: str = Field(description="the job's branch, to merge by hand")
    worktree: str = Field(description="the job's worktree, where its change is")
    message: str


class DiscardResult(_Result):
    job_id: str
    removed: list[str] = Field(description="the worktree and branch removed (only the job's own)")
    message: str


class TalkResult(_Result):
    """What a steer, interrupt or answer did."""

    job_id: str
    status: JobStatusName
    handled: bool = Field(
        description="True once the job's runner carried it out; False: sent, and it will be, in order"
    )
    message: str
    next: str


class SessionTurn(_Result):
    job_id: str
    prompt: str
    status: JobStatusName
    created_at: str
    final_message: str | None


class SessionEntry(_Result):
    session_id: str
    cwd: str
    updated_at: str
    turns: list[SessionTurn] = Field(description="oldest first")


class SessionsResult(_Result):
    sessions: list[SessionEntry] = Field(description="most recently active first")
    count: int
    next: str


class CodexResult(_Result):
    """The one-call form: the answer if codex finished in time, else how to go on."""

    job_id: str
    status: JobStatusName
    finished: bool
    answer: str | None = Field(description="codex's final message, once the job has ended")
    exit_code: int | None
    error: str | None
    session_id: str | None
    waited_seconds: float
    next: str


class BatchJob(_Result):
    job_id: str
    status: JobStatusName
    pid: int | None
    prompt: str


class BatchResult(_Result):
    jobs: list[BatchJob] = Field(description="one per prompt, in the order given")
    running: int
    queued: int
    next: str


class PingResult(_Result):
    ok: bool
    server_version: str
    server_pid: int
    store_root: str
    max_jobs: int = Field(description="how many jobs run at once; more are queued")
    max_policy: str = Field(description="the most permissive approval_policy this server accepts")
    codex_version: str | None
    codex_path: str | None
    codex_error: str | None = Field(description="why codex cannot be used, when it cannot")


# ---- a team's queue (CODEX_ASYNC_REDIS set): the same results, with where a team job runs


class _TeamFields(_Result):
    host: str | None = Field(
        default=None, description="team job: the machine that took it (null while queued, or a local job)"
    )
    local_job_id: str | None = Field(
        default=None, description="team job: its id in that machine's store (codex-async show it there)"
    )
    requested_host: str | None = Field(
        default=None, description="team job: the machine it was asked to run on (null: any)"
    )


class TeamPollView(PollView, _TeamFields):
    """A job as codex_poll shows it on a team's queue: a team job read from Redis, or a local one."""


class TeamWaitResult(WaitResult, _TeamFields):
    """codex_wait's result on a team's queue."""


class TeamListEntry(ListEntry, _TeamFields):
    pass


class TeamListResult(_Result):
    jobs: list[TeamListEntry] = Field(description="the team's jobs, newest first")
    count: int
