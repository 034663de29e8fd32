"""`codex-async`'s commands over the store: list, show, start, review, sessions, restart, cancel, prune,
reconcile, config (diff, apply and discard are in `jobstore.cli.worktree`; steer, interrupt and
answer in `jobstore.cli.talk`)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from jobstore.cli.output import Column, say, say_json, say_output_line, table, terminal_width
from jobstore.cli.talk import question_lines
from jobstore.errors import InvalidInput
from jobstore.options import ReviewOptions, RunOptions
from jobstore.record import JobEntry, JobRecord, parse_iso
from jobstore.sessions import SessionInfo
from jobstore.store import JobStore
from jobstore.talk import Question

LIST_COLUMNS = (
    Column("JOB"),
    Column("STATUS"),
    Column("CREATED", drop_rank=2),
    Column("FOLDER", drop_rank=1, max_width=24),
    Column("PROMPT"),
)


# A session's turns: the folder is the session's, shown once above them.
TURN_COLUMNS = (Column("JOB"), Column("STATUS"), Column("CREATED", drop_rank=1), Column("PROMPT"))


def _created(value: str | None) -> str:
    when = parse_iso(value)
    return when.astimezone().strftime("%m-%d %H:%M") if when else ""


def _first_line(text: str) -> str:
    # Split on newlines only: other line breaks (\v, \f, \u2028) are shown, not hidden.
    return next((line.strip(" \t") for line in text.split("\n") if line.strip(" \t")), "")


def list_row(entry: JobEntry) -> list[str]:
    """One job's cells: the prompt's first line, or why the record cannot be read."""
    if isinstance(entry, JobRecord):
        status = "cancelling" if entry.cancel_requested_at and entry.status.is_active else entry.status
        folder = os.path.basename(entry.cwd.rstrip(os.sep)) or entry.cwd
        return [entry.job_id, str(status), _created(entry.created_at), folder, _first_line(entry.prompt)]
    return [entry.job_id, str(entry.status), "", "", entry.reason]


def turn_row(turn: JobRecord) -> list[str]:
    job, status, created, _folder, prompt = list_row(turn)
    return [job, status, created, prompt]


def list_jobs(store: JobStore, args: argparse.Namespace) -> int:
    cwd = os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else None
    entries = store.list_jobs(limit=args.limit, status=args.status, cwd=cwd)
    if args.json:
        say_json([entry.to_dict() for entry in entries])
    elif not entries:
        say("no jobs" + (f" in status {args.status}" if args.status else ""))
    else:
        for line in table(LIST_COLUMNS, [list_row(e) for e in entries], terminal_width()):
            say(line)
    return 0


def show(store: JobStore, args: argparse.Namespace) -> int:
    record = store.get(args.job_id)
    if record.worktree_path is None:
        say_json(record.to_dict())
    else:
        say_json({**record.to_dict(), "worktree_bytes": store.worktree_size(args.job_id)})
    if not args.json:
        for line in store.rendered_tail(args.job_id, args.tail):
            say_output_line(line)
        question = Question.of(record)
        if question is not None:
            for text in question_lines(question, record.job_id):
                say(text)
    return 0


def _prompt_from(args: argparse.Namespace) -> str:
    if args.prompt is not None:
        return str(args.prompt)
    if sys.stdin.isatty():
        raise InvalidInput("give a PROMPT, or pipe one on stdin (codex-async start --help)")
    return sys.stdin.read()


def announce(record: JobRecord, args: argparse.Namespace, verb: str = "started") -> int:
    if args.json:
        say_json(record.to_dict())
        return 0
    say(f"{verb} job {record.job_id} ({record.status}) in {record.cwd}")
    say(f"follow it: codex-async follow {record.job_id}   wait for it: codex-async wait {record.job_id}")
    return 0


def _cwd_from(args: argparse.Namespace) -> str:
    return os.path.abspath(os.path.expanduser(args.cwd)) if args.cwd else os.getcwd()


def start(store: JobStore, args: argparse.Namespace) -> int:
    given = RunOptions.given(vars(args))
    options = RunOptions.checked(**{**given, "prompt": _prompt_from(args), "cwd": _cwd_from(args)})
    return announce(store.start(options), args)


def review(store: JobStore, args: argparse.Namespace) -> int:
    options = ReviewOptions.checked(**{**ReviewOptions.given(vars(args)), "cwd": _cwd_from(args)})
    return announce(store.start_review(options), args)


def sessions(store: JobStore, args: argparse.Namespace) -> int:
    found = store.sessions(args.limit)
    if args.json:
        say_json([session_data(session) for session in found])
        return 0
    if not found:
        say("no sessions")
    width = terminal_width()
    for session in found:
        turns = f"{len(session.turns)} turn{'s' if len(session.turns) != 1 else ''}"
        when = _created(session.updated_at)
        say(f"session {session.session_id}  {turns}, last active {when}, in {session.cwd}")
        for line in table(TURN_COLUMNS, [turn_row(turn) for turn in session.turns], width - 2):
            say(f"  {line}")
    return 0


def session_data(session: SessionInfo) -> dict[str, object]:
    return {
        "session_id": session.session_id,
        "cwd": session.cwd,
        "updated_at": session.updated_at,
        "turns": [turn.to_dict() for turn in session.turns],
    }


def restart(store: JobStore, args: argparse.Namespace) -> int:
    """A new job with the options the ended one was started with (a continued session
    continues the same session again; a review reviews the same target)."""
    old = store.get(args.job_id)
    if old.status.is_active:
        raise InvalidInput(
            f"job {old.job_id} is still {old.status}: wait for it or cancel it before restarting it"
        )
    if old.kind == "review":
        record = store.start_review(ReviewOptions.from_record(old))
    else:
        record = store.start(RunOptions.from_record(old))
    return announce(record, args, verb=f"restarted {old.job_id} as")


def cancel(store: JobStore, args: argparse.Namespace) -> int:
    outcome = store.cancel(args.job_id)
    if args.json:
        say_json({"job": outcome.record.to_dict(), "changed": outcome.changed, "message": outcome.message})
    else:
        say(outcome.message)
    return 0


def prune(store: JobStore, args: argparse.Namespace) -> int:
    removed = store.prune(args.older_than)
    if args.json:
        say_json(removed)
    else:
        say(f"removed {len(removed)} finished job{'s' if len(removed) != 1 else ''}")
    return 0


def reconcile(store: JobStore, args: argparse.Namespace) -> int:
    store.reconcile()
    if args.json:
        say_json({"reconciled": True, "at": datetime.now().astimezone().isoformat()})
    else:
        say("reconciled: jobs whose processes died are recorded lost, queued jobs started")
    return 0


def config(store: JobStore, args: argparse.Namespace) -> int:
    worktree = None if args.worktree is None else args.worktree == "on"
    changing = args.max_jobs is not None or args.codex_path is not None or worktree is not None
    settings = (
        store.configure(max_jobs=args.max_jobs, codex_path=args.codex_path, worktree=worktree)
        if changing
        else store.store_settings()
    )
    if args.json:
        say_json({"store": str(store.root), **settings.to_dict()})
    else:
        say(f"store {store.root}")
        say(f"max_jobs {settings.max_jobs}  (jobs run at once by every process using this store)")
        say(
            f"codex_path {settings.codex_path}  (how new runs drive codex: app-server can be steered, "
            "interrupted and asked; exec cannot)"
        )
        worktree_text = "on" if settings.worktree else "off"
        say(f"worktree {worktree_text}  (whether a job runs in a git worktree of its own)")
    return 0


COMMANDS = {
    "list": list_jobs,
    "show": show,
    "start": start,
    "review": review,
    "sessions": sessions,
    "restart": restart,
    "cancel": cancel,
    "prune": prune,
    "reconcile": reconcile,
    "config": config,
}
