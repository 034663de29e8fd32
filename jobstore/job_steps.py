"""The steps of a job's life, in the order its runner walks them (see `jobstore.job_life`).

1. record the job's identity: the record names the runner and the job's marker before any
   process of the job exists;
2. prepare the working directory: the snapshot of its git working tree (its end, the diff,
   is recorded when the job cleans up), or, for a worktree job, the job's own git worktree
   (codex runs inside it; its diff is recorded at the cleanup), stopped at once by a cancel;
3. start codex, then record its pid;
4. follow codex to its exit: the outcome, from its exit code and its whole event stream;
then, last step first, each step's cleanup (codex's leftovers stopped, the diff recorded),
and the runner records the end and starts the next queued job.

A new step goes into `job_steps()` at its place in the life. A worktree job prepares its own
git worktree (`jobstore.job_worktree`) instead of a snapshot of the person's tree. codex runs
as `codex exec --json` (`jobstore.codex_exec`) or through its app-server
(`jobstore.codex_app_server`), as the job's record says: the same start and follow steps.
"""

from __future__ import annotations

from jobstore.codex_app_server import CodexAppServer
from jobstore.codex_exec import CodexExec
from jobstore.errors import JobStoreError, StoreRefused
from jobstore.git import GitFailed, GitStopped
from jobstore.job_life import CANCELLED_BEFORE_CODEX, JobLife, Outcome, Step, log
from jobstore.job_worktree import (
    check_worktree_repository,
    continue_in_worktree,
    make_worktree,
    record_worktree_job_end,
    record_worktree_plan,
    remove_worktree,
)
from jobstore.record import JobRecord, now_iso
from jobstore.states import JobStatus
from jobstore.worktree_diff import (
    CODEX_NEVER_STARTED,
    discard_snapshot,
    record_worktree_end,
    record_worktree_start,
)


class RecordIdentity:
    """The runner's start time and the job's marker in the record, before any process of the
    job exists: every one carries the marker, so the job's cleanup finds them all."""

    cancellable = True

    def run(self, life: JobLife) -> Outcome | None:
        try:
            life.record_identity()
        except (OSError, StoreRefused) as exc:
            return Outcome(JobStatus.ERROR, None, f"could not start codex: {exc}")
        return None

    def clean_up(self, life: JobLife) -> None:
        """Nothing: the record keeps the job's identity."""


class SnapshotWorktree:
    """The git working tree holding the job's folder, as it is before codex starts (git is
    stopped at once by a cancel); at the cleanup, as it is after: the diff is what the job
    changed (nothing to compare when codex never started). Never fails the job."""

    cancellable = True

    def run(self, life: JobLife) -> Outcome | None:
        record_worktree_start(
            life.layout,
            life.job_id,
            life.cwd,
            env=life.marker_env,
            stop=life.cancel.requested,
            max_file_bytes=life.port.snapshot_max_file_bytes,
        )
        return None

    def clean_up(self, life: JobLife) -> None:
        if life.record.codex_pid is None:
            discard_snapshot(life.layout, life.job_id, CODEX_NEVER_STARTED)
            return
        record_worktree_end(
            life.layout, life.job_id, env=life.marker_env, max_file_bytes=life.port.snapshot_max_file_bytes
        )


class MakeWorktree:
    """A worktree job's own git worktree, holding what the person sees, made before codex
    starts (git is stopped at once by a cancel, and what was made is removed); codex runs at
    the job's folder inside it. At the cleanup, the worktree's diff against its start is
    recorded; a job whose codex never started leaves no worktree behind."""

    cancellable = True

    def run(self, life: JobLife) -> Outcome | None:
        try:
            if life.record.worktree_owner not in (None, life.job_id):
                life.cwd = continue_in_worktree(life.layout, life.record).cwd
                return None
            repo = check_worktree_repository(life.record.cwd)
            life.write(None, **record_worktree_plan(life.layout, life.record, repo))
            made = make_worktree(
                life.layout,
                life.record,
                repo,
                env=life.marker_env,
                stop=life.cancel.requested,
                max_file_bytes=life.port.snapshot_max_file_bytes,
            )
        except GitStopped:
            return Outcome(JobStatus.CANCELLED, None, CANCELLED_BEFORE_CODEX)
        except (GitFailed, OSError, JobStoreError) as exc:
            return Outcome(JobStatus.ERROR, None, f"could not make the job's worktree: {exc}")
        life.cwd = made.cwd
        return None

    def clean_up(self, life: JobLife) -> None:
        if life.record.codex_pid is None:
            if life.record.worktree_owner == life.job_id:  # a later turn's worktree is its session's
                removed = remove_worktree(life.layout, life.record)
                log(f"codex never started: removed {', '.join(removed) or 'nothing'} of the job's worktree")
                life.write(None, discarded_at=now_iso())
            discard_snapshot(life.layout, life.job_id, CODEX_NEVER_STARTED)
            return
        record_worktree_job_end(
            life.layout, life.record, env=life.marker_env, max_file_bytes=life.port.snapshot_max_file_bytes
        )


class StartCodex:
    """codex spawned for the job (`codex exec --json` or `codex app-server`, its command in
    the job's folder)."""

    cancellable = True

    def __init__(self, codex: CodexExec) -> None:
        self.codex = codex

    def run(self, life: JobLife) -> Outcome | None:
        try:
            started = self.codex.start(life)
        except (OSError, StoreRefused) as exc:
            return Outcome(JobStatus.ERROR, None, f"could not start codex: {exc}")
        return None if started else Outcome(JobStatus.CANCELLED, None, CANCELLED_BEFORE_CODEX)

    def clean_up(self, life: JobLife) -> None:
        self.codex.close()
        self.codex.stop_leftovers(life)
        self.codex.count_review_tokens(life)
        self.codex.write_summary(life, force=True)


class FollowCodex:
    """codex followed until it exits; a cancel stops its whole tree. Ends the life."""

    cancellable = False  # codex runs: a cancel is turned into stopping it, and its exit decides

    def __init__(self, codex: CodexExec) -> None:
        self.codex = codex

    def run(self, life: JobLife) -> Outcome | None:
        return self.codex.follow(life)

    def clean_up(self, life: JobLife) -> None:
        """Nothing: starting codex cleans up after codex."""


def job_steps(record: JobRecord | None = None) -> list[Step]:
    """A job's life, in order: codex driven the way the job's record says; a worktree job
    prepares its own worktree instead of a snapshot."""
    codex = CodexAppServer() if record is not None and record.codex_path == "app-server" else CodexExec()
    prepare: Step = MakeWorktree() if record is not None and record.worktree else SnapshotWorktree()
    return [RecordIdentity(), prepare, StartCodex(codex), FollowCodex(codex)]
