"""`codex-async`: a small command line over the store, for scripts and troubleshooting.

codex-async list [--limit N] [--status S]
codex-async show JOB_ID [--tail N]
codex-async cancel JOB_ID
codex-async prune --older-than 7d
codex-async reconcile
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import TextIO

from jobstore.errors import JobStoreError
from jobstore.record import JobRecord
from jobstore.sanitize import json_for_terminal, terminal_safe
from jobstore.store import JobStore

_AGE_RE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `12h`, `7d`, `2w`."""
    match = _AGE_RE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age such as 30m, 12h, 7d or 2w")
    return timedelta(seconds=float(match[1]) * _AGE_UNITS[match[2]])


def _line(entry: object) -> str:
    """One job as one line; every stored string in it made safe for the terminal."""
    if isinstance(entry, JobRecord):
        prompt = entry.prompt.splitlines()[0][:60] if entry.prompt else ""
        fields = [entry.job_id, f"{entry.status:<9}", entry.created_at[:19], entry.cwd, prompt]
    else:
        data = entry.to_dict()  # type: ignore[attr-defined]
        fields = [str(data["job_id"]), "unreadable", str(data["error"])]
    return "  ".join(terminal_safe(field) for field in fields)


def _say(text: str, *, multiline: bool = False, file: TextIO | None = None) -> None:
    """Every line the command prints goes through here (or is JSON from json_for_terminal)."""
    print(terminal_safe(text, multiline=multiline), file=file or sys.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codex-async", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="the store's root (default: $CODEX_ASYNC_HOME or ~/.codex-async)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="the newest jobs")
    p_list.add_argument("--limit", type=int, default=20)
    p_list.add_argument("--status")
    p_show = sub.add_parser("show", help="one job's record and the end of its output")
    p_show.add_argument("job_id")
    p_show.add_argument("--tail", type=int, default=20)
    p_cancel = sub.add_parser("cancel", help="cancel a queued or running job")
    p_cancel.add_argument("job_id")
    p_prune = sub.add_parser("prune", help="delete finished jobs older than an age")
    p_prune.add_argument("--older-than", type=parse_age, required=True, metavar="AGE")
    sub.add_parser("reconcile", help="settle jobs whose processes died, and start queued ones")
    args = parser.parse_args(argv)

    store = JobStore(args.store)
    try:
        if args.command == "list":
            entries = store.list_jobs(limit=args.limit, status=args.status)
            if args.json:
                print(json_for_terminal([e.to_dict() for e in entries]))
            else:
                print("\n".join(_line(e) for e in entries) or "no jobs")
        elif args.command == "show":
            record = store.get(args.job_id)
            print(json_for_terminal(record.to_dict()))
            if not args.json:
                for line in store.rendered_tail(args.job_id, args.tail):
                    _say(line.text)
        elif args.command == "cancel":
            outcome = store.cancel(args.job_id)
            _say(outcome.message)
        elif args.command == "prune":
            removed = store.prune(args.older_than)
            print(json_for_terminal(removed) if args.json else f"removed {len(removed)} finished jobs")
        elif args.command == "reconcile":
            store.reconcile()
            print("reconciled")
    except JobStoreError as exc:
        _say(f"codex-async: {exc}", multiline=True, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
