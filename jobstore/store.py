"""`JobStore`: the one entry point the MCP server, the UI and the CLI use, over the store's layers.

All state lives in files under the store's root (see `layout.py`); any number of
processes may share one store. The layers, none importing one above it (import-linter
checks it, imports inside functions counted): `records` (the on-disk protocol, no
processes) < `sessions` (the session index) < `scheduler` (slots, starting runners,
settling lost jobs) < `job_port` (what a running job writes) < the job's runner
(`runner`, walking `job_steps`) < `zygote` (forks runners) < this facade, which the
adapters use and the runner never does.

Reads never write a file and never start a process: get, entry, job_ids, newest_job_ids, list_jobs,
output_tail, rendered_tail, open_output, follow_output, summary, final_message, sessions,
session, wait, watch_paths, classify. A `running` job whose processes are gone reads `lost`, "not
recorded as lost yet", until it is settled. (codex_info runs `codex --version`.)

One owner for each write:
- start / start_review: whoever starts a job (server tools, the UI's form);
- cancel (which also settles a lost job it is asked to cancel): server, UI, CLI;
- the job's own record, session id, slot and end: its runner, through `JobPort`, which
  at the job's end also starts the next queued job;
- settle(job_id): `codex_wait` when the job it waited for reads lost;
- reconcile(): the server's and the UI's periodic check, and the CLI's `reconcile`;
- prune: the CLI's `prune` (both also remove staging folders a crashed creator left,
  and rebuild the job index when it disagrees with the job folders; a start appends to it);
- configure: the CLI's `config` (the store's settings, obeyed by every process).

The store is trusted only as far as it is private: a root or folder that is not the user's
own, or that group or others may write, is refused (StoreRefused, saying how to fix it)
for reading and for writing; a job folder or file that is not a plain entry of ours is
listed as unreadable and never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobstore import fsio
from jobstore.app_server_schema import has_app_server
from jobstore.codex_cli import (
    CodexInfo,
    build_app_server_command,
    build_review_argv,
    build_run_argv,
    probe_codex,
)
from jobstore.echo import echoed
from jobstore.errors import InvalidInput, JobNotFound, JobStoreError, UnreadableRecord
from jobstore.events import RenderedLine, Summary, render_line
from jobstore.git import repository_paths
from jobstore.ids import check_job_id
from jobstore.layout import FileKind, StoreFile, StoreLayout
from jobstore.options import ASKING_POLICIES, ReviewOptions, RunOptions, check_absolute_path
from jobstore.output_file import OutputFile, OutputFollower, Tail
from jobstore.record import JobEntry, JobKind, JobRecord, UnreadableJob, now_iso, parse_iso
from jobstore.records import Records
from jobstore.scheduler import CancelOutcome, Scheduler
from jobstore.sessions import SessionIndex, SessionInfo
from jobstore.settings import Settings, StoreSettings, check_cancel_grace
from jobstore.states import LISTABLE_STATUSES, JobStatus
from jobstore.talk import (
    REPLY_TIMEOUT_SECONDS,
    TalkOutcome,
    Verb,
    check_can_talk,
    check_decision,
    check_steer_text,
    deliver,
)
from jobstore.watch import JobWakeup

if TYPE_CHECKING:
    from jobstore.job_worktree import Applied
    from jobstore.worktree_diff import WorktreeDiff

__all__ = ["CancelOutcome", "JobStore", "SessionInfo", "TalkOutcome", "UnreadableRecord", "check_limit"]

MAX_LIST_LIMIT = 10_000
MAX_TAIL_LINES = 10_000
_SUMMARY_REBUILD_LINES = 2_000
# What may name a change applied from another machine (a team job id): a plain file name.
_CHANGE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_limit(name: str, value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number")
    if value < 1 or value > maximum:
        raise InvalidInput(f"{name} must be between 1 and {maximum:,}, not {value:,}")
    return value


class JobStore:
    def __init__(
        self,
        root: Path | str | None = None,
        *,
        max_jobs: int | None = None,
        codex_bin: str | None = None,
        cancel_grace: float | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Arguments left out come from `settings`, else from the environment."""
        if settings is None:
            explicit = None not in (root, max_jobs, codex_bin, cancel_grace)
            # With every argument given, the environment is not read at all.
            settings = Settings(store_root=Path()) if explicit else Settings.from_env()
        # Absolute: runners work from "/" and get the root on their command line.
        self.root = (Path(root).expanduser() if root is not None else settings.store_root).absolute()
        self.layout = StoreLayout(self.root)
        # Seeds a new store's settings; the store's own limit is the one every process obeys.
        seed_max_jobs = max_jobs if max_jobs is not None else settings.max_jobs
        self.codex_bin = codex_bin if codex_bin is not None else settings.codex_bin
        self.cancel_grace = (
            check_cancel_grace(cancel_grace) if cancel_grace is not None else settings.cancel_grace
        )
        self._records = Records(self.layout)
        self._sessions = SessionIndex(self.layout)
        self._scheduler = Scheduler(
            self._records, self._sessions, max_jobs=seed_max_jobs, cancel_grace=self.cancel_grace
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> JobStore:
        return cls(settings.store_root, settings=settings)

    # ------------------------------------------------------------------ setup

    def ensure(self) -> None:
        """Create the store's folders (private to the user) and its settings if it has none;
        refuse a store that is not private (StoreRefused). Writers call this; readers need not."""
        self._records.ensure()
        self._scheduler.seed_settings()

    @property
    def max_jobs(self) -> int:
        """How many jobs the store runs at once: its own setting, obeyed by every process."""
        return self._scheduler.max_jobs

    def store_settings(self) -> StoreSettings:
        """The settings every process using this store obeys (read, never written)."""
        return self._scheduler.settings()

    def configure(
        self, *, max_jobs: int | None = None, codex_path: str | None = None, worktree: bool | None = None
    ) -> StoreSettings:
        """Change the store's settings for every process using it (queued work starts at
        once under a higher limit; running jobs finish under a lower one; the codex path,
        `app-server` or `exec`, applies to runs started afterwards)."""
        self.ensure()
        return self._scheduler.configure(max_jobs=max_jobs, codex_path=codex_path, worktree=worktree)

    def codex_info(self) -> CodexInfo:
        return probe_codex(self.codex_bin)

    def learn_codex(self) -> CodexInfo:
        """What a start asks of codex (its version and flags, whether its app-server is
        usable), asked now and cached: a server does this off its main thread at start, so
        its first job does not run the probes."""
        info = self.codex_info()
        if self.store_settings().codex_path == "app-server":
            has_app_server(info)
        return info

    def watch_paths(self, job_ids: Iterable[str] = ()) -> list[Path]:
        """The folders a watcher of the store watches (none recursively): the root, its
        folders, and the folders of `job_ids`. Some may not exist yet."""
        return [*self.layout.folders, *(self.layout.job_dir(job_id) for job_id in job_ids)]

    def classify(self, path: Path | str) -> StoreFile | None:
        """What a path in the store is (see `FileKind`); None for a path outside it."""
        return self.layout.classify(path)

    # ---------------------------------------------------------------- reading

    def read_record(self, job_id: str) -> JobRecord:
        """The record as stored, without checking it against the processes."""
        return self._records.read(job_id)

    def get(self, job_id: str) -> JobRecord:
        """The job's record; a `running` job whose processes are gone reads `lost` (unrecorded)."""
        return self._scheduler.reported(job_id)

    def entry(self, job_id: str) -> JobEntry:
        try:
            return self.get(job_id)
        except UnreadableRecord as exc:
            return UnreadableJob(job_id, str(exc))

    def job_ids(self) -> list[str]:
        """Every job id in the store, newest first (ids sort by creation time)."""
        return self._records.job_ids()

    def newest_job_ids(self, limit: int) -> list[str]:
        """The newest `limit` ids of `job_ids`, read from the end of the job index: the same
        cost among 1,000 jobs or 100,000 (job_ids lists them all)."""
        return list(itertools.islice(self._records.newest_ids(), limit))

    def list_jobs(self, limit: int = 20, status: str | None = None, cwd: str | None = None) -> list[JobEntry]:
        """The newest `limit` jobs, optionally only those in `status` and/or under `cwd`;
        `waiting` jobs first (they need a person), then the others, newest first."""
        check_limit("limit", limit, MAX_LIST_LIMIT)
        if status is not None and status not in LISTABLE_STATUSES:
            valid = ", ".join(LISTABLE_STATUSES)
            raise InvalidInput(f"unknown status {echoed(status)}; valid values: {valid}")
        cwd_filter = os.path.realpath(check_absolute_path("cwd", cwd)) if cwd is not None else None
        out: list[JobEntry] = []
        waiting = self._waiting_ids() if status is None else []
        candidates = self._candidate_ids(status)
        for job_id in [*waiting, *(i for i in candidates if i not in waiting)] if waiting else candidates:
            entry = self.entry(job_id)
            if status is not None and entry.status != status:
                continue
            if cwd_filter is not None and not (
                isinstance(entry, JobRecord) and _is_within(entry.cwd, cwd_filter)
            ):
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out

    def _waiting_ids(self) -> list[str]:
        """Jobs waiting for an answer, newest first (they hold slots: only those are read)."""
        waiting = []
        for job_id in sorted(self._records.running_ids(), reverse=True):
            with contextlib.suppress(JobStoreError):
                if self._records.read(job_id).status == JobStatus.WAITING:
                    waiting.append(job_id)
        return waiting

    def _candidate_ids(self, status: str | None) -> Iterable[str]:
        # Active jobs have markers: no need to read every record to find them.
        if status == JobStatus.QUEUED:
            return sorted(self._records.queued_ids(), reverse=True)
        if status in (JobStatus.RUNNING, JobStatus.WAITING):  # both hold a slot
            return sorted(self._records.running_ids(), reverse=True)
        return self._records.newest_ids()  # taken only as far as the listing goes

    def output_tail(self, job_id: str, lines: int = 50) -> Tail:
        check_limit("tail_lines", lines, MAX_TAIL_LINES)
        return self._records.output_tail(job_id, lines)

    def open_output(self, job_id: str) -> OutputFile | None:
        """The job's output for reading by offset (the TUI's pane, its pager), opened with
        the store's rules: None while there is none; UnreadableRecord when refused (a
        symlink, a file not ours or writable by others). The caller closes it."""
        return self._records.open_output(job_id)

    def follow_output(self, job_id: str, offset: int = 0) -> OutputFollower:
        """What is appended to the job's output from `offset` (`OutputFollower.read_new`,
        which raises StoreRefused for a refused file). The caller closes it."""
        check_job_id(job_id)
        return OutputFollower(self.layout.output(job_id), offset)

    def rendered_tail(self, job_id: str, lines: int = 50) -> list[RenderedLine]:
        """The end of the output made readable: the last `lines` rendered lines (fewer only
        when the output holds fewer). Many events render to none (turn.started), so more raw
        lines are read until enough render."""
        raw_lines = check_limit("tail_lines", lines, MAX_TAIL_LINES)
        while True:
            tail = self.output_tail(job_id, raw_lines)
            rendered = [r for line in tail.lines for r in render_line(line)]
            exhausted = len(tail.lines) < raw_lines or tail.truncated or raw_lines == MAX_TAIL_LINES
            if len(rendered) >= lines or exhausted:
                return rendered[-lines:]
            raw_lines = min(raw_lines * 2, MAX_TAIL_LINES)

    def summary(self, job_id: str) -> Summary:
        """The runner's summary of the event stream; rebuilt from the output's end if absent
        or damaged (it is only a cache)."""
        cached = self._records.read_cache(job_id, FileKind.SUMMARY)
        with contextlib.suppress(ValueError, TypeError):
            return Summary.from_dict(json.loads(cached or b""))
        summary = Summary()
        for line in self.output_tail(job_id, _SUMMARY_REBUILD_LINES).lines:
            summary.feed_line(line)
        return summary

    def final_message(self, job_id: str, summary: Summary | None = None) -> str | None:
        """codex's final message (its answer), else its last agent message so far. Pass the
        `summary` already read, if any, so it is not read twice."""
        text = (self._records.read_cache(job_id, FileKind.LAST_MESSAGE) or b"").decode("utf-8", "replace")
        if text.strip():
            return text
        return (summary or self.summary(job_id)).last_agent_message

    def sessions(self, limit: int = 20) -> list[SessionInfo]:
        """Codex sessions with their turns, the most recently active first."""
        check_limit("limit", limit, MAX_LIST_LIMIT)
        self._records.verify()
        out: list[SessionInfo] = []
        for session_id in self._sessions.session_ids():
            session = self.session(session_id, missing_ok=True)
            if session is not None:
                out.append(session)
            if len(out) >= limit:
                break
        return out

    def session(self, session_id: str, *, missing_ok: bool = False) -> SessionInfo | None:
        job_ids = self._sessions.job_ids(session_id)
        if job_ids is None:
            if missing_ok:
                return None
            raise JobNotFound(f"no session {session_id} in the store")
        turns = []
        for job_id in job_ids:
            with contextlib.suppress(JobNotFound, UnreadableRecord):
                turns.append(self.get(job_id))
        if not turns:
            if missing_ok:
                return None
            raise JobNotFound(f"session {session_id} has no jobs left in the store")
        return SessionInfo(session_id, turns)

    def wait(self, job_id: str, timeout: float, *, interval: float = 0.1) -> JobRecord:
        """Block until the job ends (or reads lost) or `timeout` passes; the record either way."""
        deadline = time.monotonic() + (timeout if timeout > 0 else 0)  # nan: no wait
        with JobWakeup(self.layout.job_dir(job_id)) as wakeup:  # asleep until the job changes
            record = self.get(job_id)
            while True:
                remaining = deadline - time.monotonic()
                if record.is_terminal or remaining <= 0:
                    return record
                if wakeup.sleep(remaining, (record.pid, record.codex_pid), fallback_tick=interval):
                    record = self.get(job_id)

    # ---------------------------------------------------------------- writing

    def start(self, options: RunOptions, *, client: str | None = None) -> JobRecord:
        """Create a job for a codex run (or a continued session) and start or queue it.
        `client` says who started it (e.g. an MCP client's name), kept in its record."""
        info = self.codex_info()  # fails before anything is written if codex is unusable
        options = self._with_worktree_decided(options)
        if options.session_id is None:
            return self._start_run(info, options, client)
        self.ensure()
        with self._sessions.one_turn_at_a_time():
            self._check_session_resumable(options.session_id)
            return self._start_run(info, options, client, self._session_worktree(options))

    def _with_worktree_decided(self, options: RunOptions) -> RunOptions:
        """`options` saying whether the job gets a worktree (the store's setting when they do
        not, or the session's when it has one); a repository that cannot have one is refused
        here, before the job exists."""
        worktree = options.worktree
        if worktree is None and options.session_id is not None:
            session = self.session(options.session_id, missing_ok=True)
            worktree = True if session and any(t.worktree for t in session.turns) else None
        if worktree is None:
            worktree = self.store_settings().worktree
        if worktree:
            # Loaded on use: git is no cost of a store whose jobs have no worktree.
            from jobstore.job_worktree import check_worktree_repository

            check_worktree_repository(options.cwd)
        return dataclasses.replace(options, worktree=worktree)

    def _session_worktree(self, options: RunOptions) -> dict[str, str]:
        """A later turn of a worktree job's session continues in its worktree: the record's
        fields naming it (none for a job without a worktree, or when it was discarded)."""
        if not options.worktree or options.session_id is None:
            return {}
        from jobstore.job_worktree import shared_worktree

        session = self.session(options.session_id, missing_ok=True)
        for turn in reversed(session.turns if session else []):
            shared = shared_worktree(turn)
            if shared is not None:
                return shared
        return {}

    def codex_path_for(self, info: CodexInfo, options: RunOptions) -> str:
        """How a run goes: through codex's app-server when the store's setting says so and
        the installed codex has one (`jobstore.app_server_schema`), else `codex exec`. A
        policy that asks a person needs the app-server: refused (InvalidInput) without it."""
        wanted = self.store_settings().codex_path
        path = "app-server" if wanted == "app-server" and has_app_server(info) else "exec"
        if path == "exec" and options.approval_policy in ASKING_POLICIES:
            why = (
                "the store runs codex as `codex exec` "
                "(`codex-async config --codex-path app-server` changes that)"
                if wanted == "exec"
                else f"codex {info.version_string} at {info.path} has no usable app-server"
            )
            raise InvalidInput(
                f"approval_policy {options.approval_policy!r} asks a person before codex acts, "
                f"which needs codex's app-server, but {why}"
            )
        return path

    def _start_run(
        self,
        info: CodexInfo,
        options: RunOptions,
        client: str | None,
        fields: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        path = self.codex_path_for(info, options)
        app_server: dict[str, Any] | None = None
        build: Callable[[Path], tuple[list[str], bool]]
        if path == "app-server":
            command = build_app_server_command(info, options)
            app_server = command["app_server"]
            build = lambda last: (command["argv"], False)  # noqa: E731 (the prompt goes in JSON)
        else:
            build = lambda last: build_run_argv(info, options, last_message_path=last)  # noqa: E731
        return self._create(
            kind="run",
            options=options,
            client=client,
            codex_path=path,
            info=info,
            build=build,
            app_server=app_server,
            fields=fields or {},
        )

    def start_review(self, options: ReviewOptions, *, client: str | None = None) -> JobRecord:
        info = self.codex_info()
        return self._create(
            kind="review",
            options=options,
            client=client,
            codex_path="exec",  # reviews run as exec on either setting (no review/start)
            info=info,
            build=lambda last: build_review_argv(info, options, last_message_path=last),
        )

    def _check_session_resumable(self, session_id: str) -> None:
        # A session this store has not seen may still be codex's own (started elsewhere), so
        # it is allowed; a known one takes one turn at a time.
        session = self.session(session_id, missing_ok=True)
        busy = next((t for t in session.turns if t.status.is_active), None) if session else None
        if busy is not None:
            raise InvalidInput(
                f"session {session_id} already has a turn in progress (job {busy.job_id}); "
                "wait for it to end before continuing the session"
            )

    def _create(
        self,
        *,
        kind: JobKind,
        options: RunOptions | ReviewOptions,
        client: str | None,
        info: CodexInfo,
        build: Callable[[Path], tuple[list[str], bool]],
        codex_path: str,
        app_server: dict[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        """Write a new job for `options`; `build` makes codex's argv, given where codex's last
        message goes. A prompt too large for argv (a run's, a review's instructions) goes on stdin."""
        self.ensure()
        job_id, staging = self._records.claim_staging()
        try:
            argv, via_stdin = build(self.layout.last_message(job_id))
            self._records.stage_inputs(
                staging, argv=argv, stdin_text=options.prompt if via_stdin else None, app_server=app_server
            )
            record = JobRecord(
                job_id=job_id,
                status=JobStatus.QUEUED,
                kind=kind,
                created_at=now_iso(),
                codex_version=info.version_string,
                client=client,
                codex_path=codex_path,
                **options.record_fields(),
                **(fields or {}),  # a later turn's worktree: its session's
            )
            self._scheduler.admit(record, staging)
            if record.session_id:
                self._sessions.append(record.session_id, job_id)
        except BaseException:
            self._records.discard(job_id, staging)  # never leave a half-created job behind
            raise
        return record

    def cancel(self, job_id: str, *, wait: float | None = None) -> CancelOutcome:
        """Stop a queued or running job, its whole process tree included.

        A finished job is left as it is; a lost one is recorded lost. `wait` bounds how
        long to wait for the runner to record the end (default: the grace period plus a
        little)."""
        check_job_id(job_id)
        return self._scheduler.cancel(job_id, self.wait, self.cancel_grace + 3 if wait is None else wait)

    def apply(self, job_id: str) -> Applied:
        """Bring an ended worktree job's change into the person's working tree as uncommitted
        changes (theirs kept). On a conflict nothing changes and the answer names the files
        (and the branch to merge by hand). A job is applied once."""
        from jobstore.job_worktree import apply_worktree
        from jobstore.worktree_diff import read_worktree_diff

        with self._worktree_job(job_id, "apply") as record:
            if record.applied_at is not None:
                raise InvalidInput(f"job {job_id} was applied already, at {record.applied_at}")
            recorded = read_worktree_diff(self, job_id)
            if recorded is None:
                raise InvalidInput(f"job {job_id} recorded no change to apply")
            applied = apply_worktree(self.layout, record, recorded)
            if applied.clean:
                record.applied_at = now_iso()
            return applied

    def worktree_patch(self, job_id: str, max_bytes: int) -> tuple[WorktreeDiff, bytes | None]:
        """An ended worktree job's recorded change, and the same change as a patch another
        machine applies without this one's objects (None: longer than `max_bytes`). Raises
        InvalidInput (no change recorded), GitFailed or OSError."""
        from jobstore.job_worktree import worktree_patch
        from jobstore.worktree_diff import read_worktree_diff

        record = self.get(job_id)
        recorded = read_worktree_diff(self, job_id)
        if not record.worktree or record.worktree_path is None or recorded is None:
            raise InvalidInput(f"job {job_id} made no worktree: it has no change to publish")
        return recorded, worktree_patch(self.layout, record, recorded, max_bytes)

    def apply_patch(self, key: str, cwd: str, patch: bytes) -> tuple[list[str], list[str]]:
        """Apply a change made on another machine (`worktree_patch` there) to the working tree
        holding `cwd`, as `apply` does: uncommitted, nothing written on a conflict, the person's
        `.git` only read. `key` (a name, e.g. a team job id) is applied once on this machine.
        (changed, conflicts)."""
        from jobstore.job_worktree import apply_patch

        if not _CHANGE_KEY.fullmatch(key):
            raise InvalidInput(f"{echoed(key)} cannot name a change")
        repo = repository_paths(cwd)
        if repo is None:
            raise InvalidInput(f"cwd {echoed(cwd)} is not in a git working tree here: nothing to apply to")
        places = self.layout.applied_patches_dir
        fsio.ensure_dir(places)
        fsio.make_private(places)
        mark = places / f"{key}.applied"
        with fsio.file_lock(places / f"{key}.lock"):
            if os.path.lexists(mark):
                raise InvalidInput(f"{key} was applied already on this machine ({mark})")
            changed, conflicts = apply_patch(places / key, repo, patch)
            if not conflicts:
                fsio.write_bytes_atomic(mark, f"{now_iso()} {repo.top}\n".encode())
        return changed, conflicts

    def discard(self, job_id: str) -> list[str]:
        """Remove an ended worktree job's worktree and branch (only the ones it made); returns
        what was removed. The job's record and diff stay."""
        from jobstore.job_worktree import remove_worktree

        with self._worktree_job(job_id, "discard") as record:
            if record.discarded_at is not None:
                raise InvalidInput(f"job {job_id}'s worktree was discarded already, at {record.discarded_at}")
            removed = remove_worktree(self.layout, record)
            record.discarded_at = now_iso()
            return removed

    @contextlib.contextmanager
    def _worktree_job(self, job_id: str, verb: str) -> Iterator[JobRecord]:
        """The record of an ended worktree job whose worktree is still there, locked."""
        check_job_id(job_id)
        self.get(job_id)  # a job whose runner died reads lost first
        with self._records.locked(job_id) as record:
            if not record.worktree:
                raise InvalidInput(f"job {job_id} did not run in a worktree: there is nothing to {verb}")
            if not record.is_terminal:
                raise InvalidInput(f"job {job_id} is {record.status}: {verb} it once it has ended")
            if record.worktree_path is None:
                raise InvalidInput(f"job {job_id} made no worktree: there is nothing to {verb}")
            if verb == "apply" and record.discarded_at is not None:
                raise InvalidInput(f"job {job_id}'s worktree was discarded at {record.discarded_at}")
            yield record

    def worktree_size(self, job_id: str) -> int | None:
        """The bytes of a worktree job's worktree (a bounded read); None if it has none."""
        from jobstore.job_worktree import worktree_size

        record = self.get(job_id)
        if not record.worktree_path or record.discarded_at is not None:
            return None
        return worktree_size(record.worktree_path)

    # ------------------------------------------------ talking to a running job

    def steer(self, job_id: str, text: str, *, timeout: float = REPLY_TIMEOUT_SECONDS) -> TalkOutcome:
        """Send a person's message into the job's running turn (codex reads it as the turn's
        newest user message and answers it). InvalidInput, nothing changed, for a job that
        is queued, ended, run as exec, or between turns."""
        return self._talk(job_id, "steer", timeout, text=check_steer_text(text))

    def interrupt(self, job_id: str, *, timeout: float = REPLY_TIMEOUT_SECONDS) -> TalkOutcome:
        """End the job's running turn: its commands are stopped and the job ends
        `interrupted` (its session continues with a new turn, as after `done`)."""
        outcome = self._talk(job_id, "interrupt", timeout)
        if not outcome.handled:
            return outcome
        final = self.wait(job_id, self.cancel_grace + 3)
        return TalkOutcome(final, True, outcome.message)

    def answer(self, job_id: str, decision: str, *, timeout: float = REPLY_TIMEOUT_SECONDS) -> TalkOutcome:
        """Answer the question a `waiting` job asks (`approve` or `deny`). The first answer
        wins: a later one, or one to a job with no question, is "already answered"."""
        return self._talk(job_id, "answer", timeout, decision=check_decision(decision))

    def _talk(self, job_id: str, verb: Verb, timeout: float, **what: str) -> TalkOutcome:
        check_job_id(job_id)
        record = self.get(job_id)
        check_can_talk(record, verb)
        reply = deliver(self.layout, record, verb, timeout=timeout, **what)
        if reply is None:
            message = f"sent to job {job_id}; its runner has not handled it yet (it will, in order)"
            return TalkOutcome(self.get(job_id), False, message)
        if not reply.ok:
            raise InvalidInput(f"job {job_id}: {reply.message}")
        return TalkOutcome(self.get(job_id), True, f"job {job_id}: {reply.message}")

    def prune(self, older_than: timedelta) -> list[str]:
        """Delete jobs recorded as ended more than `older_than` ago (a worktree job's worktree
        and branch discarded first); return their ids."""
        if older_than.total_seconds() < 0:
            raise InvalidInput("older_than must not be negative")
        self._discard_worktrees_ended_before(datetime.now(UTC) - older_than)
        removed = self._records.prune(datetime.now(UTC) - older_than)
        self._records.remove_stale_staging()
        return removed

    # ----------------------------------------------------- settling, scheduling

    def settle(self, job_id: str) -> JobRecord:
        """Record a job whose processes are gone as `lost` (session index updated), then
        start queued work. Returns the record."""
        check_job_id(job_id)
        return self._scheduler.settle(job_id)

    def reconcile(self) -> None:
        """Settle every running job whose processes are gone, fix markers, start queued work,
        rebuild the job index if it disagrees with the job folders."""
        self._scheduler.reconcile()

    def keep_runners_warm(self) -> None:
        """Have the store's zygote ready to fork runners (started if none answers; asked, a
        serving one stays). A server calls this at its start and at each periodic check, so
        no job of it pays for spawning a runner: a job started before the zygote answers
        waits for it (at most `zygote_client.BIRTH_WAIT_SECONDS`). Never raises: without a
        zygote, runners are spawned."""
        self._scheduler.launch_zygote()

    def _discard_worktrees_ended_before(self, cutoff: datetime) -> None:
        """Discard the worktrees whose every job (a session's turns share one) ended before
        `cutoff`: pruning those jobs leaves nothing that could apply or continue them."""
        sharing: dict[str, list[JobRecord]] = {}
        for job_id in self.job_ids():
            with contextlib.suppress(JobStoreError, OSError):
                record = self.read_record(job_id)
                if record.worktree_path:
                    sharing.setdefault(record.worktree_path, []).append(record)
        for records in sharing.values():
            ended = [parse_iso(record.finished_at) for record in records if record.is_terminal]
            if len(ended) == len(records) and all(when and when < cutoff for when in ended):
                live = [record for record in records if record.discarded_at is None]
                for record in live[:1]:  # one discard removes the worktree they share
                    with contextlib.suppress(JobStoreError, OSError):
                        self.discard(record.job_id)


def _is_within(path: str, folder: str) -> bool:
    real = os.path.realpath(path)
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)
