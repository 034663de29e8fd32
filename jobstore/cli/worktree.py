"""`codex-async`'s worktree verbs: diff, apply and discard a job's change."""

from __future__ import annotations

import argparse

from jobstore.cli.output import say, say_json
from jobstore.errors import InvalidInput
from jobstore.store import JobStore
from jobstore.worktree_diff import WorktreeDiff, read_worktree_diff

# `apply`'s exit code when the change conflicts (nothing was changed).
EXIT_CONFLICT = 5


def diff(store: JobStore, args: argparse.Namespace) -> int:
    """What the job changed in its repository (a worktree job: its worktree's diff)."""
    store.get(args.job_id)  # no such job: refused as such
    recorded = read_worktree_diff(store, args.job_id)
    if recorded is None:
        raise InvalidInput(f"job {args.job_id} recorded no diff: its folder is in no git repository")
    return say_diff(f"job {args.job_id}", recorded, args)


def say_diff(job: str, recorded: WorktreeDiff, args: argparse.Namespace, **more: object) -> int:
    """A recorded diff as `diff` prints it (`--json`: its record, its text and `more`)."""
    if args.json:
        say_json({**more, **recorded.to_dict(), "diff": recorded.diff})
        return 0
    if not recorded.ended:
        say(f"{job} has not ended: its diff is recorded when it does")
        return 0
    for problem in (recorded.error, recorded.notice):
        if problem:
            say(f"note: {problem}")
    say(recorded.diff or "(no change)", multiline=True)
    return 0


def apply(store: JobStore, args: argparse.Namespace) -> int:
    applied = store.apply(args.job_id)
    if args.json:
        say_json(
            {
                "job_id": args.job_id,
                "applied": applied.clean,
                "changed_files": applied.changed,
                "conflicts": applied.conflicts,
                "branch": applied.branch,
                "worktree": applied.worktree,
            }
        )
    elif applied.clean:
        say(f"applied job {args.job_id}: {len(applied.changed)} file(s) changed, uncommitted")
        for name in applied.changed:
            say(f"  {name}")
    else:
        say(f"not applied: job {args.job_id}'s change conflicts in {', '.join(applied.conflicts)}")
        say(f"nothing was changed; merge branch {applied.branch} by hand (worktree {applied.worktree})")
    return 0 if applied.clean else EXIT_CONFLICT


def discard(store: JobStore, args: argparse.Namespace) -> int:
    removed = store.discard(args.job_id)
    if args.json:
        say_json({"job_id": args.job_id, "removed": removed})
    else:
        say(f"discarded job {args.job_id}'s worktree: {', '.join(removed) or 'nothing was left to remove'}")
    return 0


COMMANDS = {"diff": diff, "apply": apply, "discard": discard}
