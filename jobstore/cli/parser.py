"""`codex-async`'s command line: the commands, their options, and the ages they take."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version

from jobstore.echo import echoed
from jobstore.options import CODEX_PATHS, JobOptions, ReviewOptions, RunOptions

DESCRIPTION = "`codex-async`: the job store from the shell, for people, scripts and troubleshooting."
_AGE_RE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

EXIT_CODES = """exit codes:
  0  done (wait, follow: the job ended done)
  1  the store or codex could not do it (no such job, unreadable store, codex missing)
  2  bad usage, or a value the store refuses (nothing was written)
  3  wait: --timeout passed while the job was still queued or running
  4  wait, follow: the job ended, but not done (error, cancelled, interrupted or lost)
  5  apply: the job's change conflicts with the working tree (nothing was changed)
  130  follow or wait stopped by Ctrl-C (the job keeps running)"""


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `12h`, `7d`, `2w`."""
    match = _AGE_RE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{echoed(text)} is not an age such as 30m, 12h, 7d or 2w")
    return timedelta(seconds=float(match[1]) * _AGE_UNITS[match[2]])


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{echoed(text)} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{echoed(text)}: seconds must not be negative")
    return value


def _common(*, top: bool) -> argparse.ArgumentParser:
    """--store and --json, accepted before the command and after it. After it they are
    SUPPRESSed by default, so that a value given before is not overwritten."""
    common = argparse.ArgumentParser(add_help=False)
    default = None if top else argparse.SUPPRESS
    common.add_argument(
        "--store",
        default=default,
        help="the store's folder (default: $CODEX_ASYNC_HOME or ~/.codex-async)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print JSON (control characters escaped; it parses to the exact values)",
    )
    return common


def _option_flags(parser: argparse.ArgumentParser, carrier: type[JobOptions]) -> None:
    """The carrier's options that have a flag, as its fields describe them (`--reasoning-effort`
    for reasoning_effort; a true-or-false option is a flag without a value)."""
    for each, spec in carrier.specs():
        if spec.flag_help is None:
            continue
        flag = "--" + each.name.replace("_", "-")
        if isinstance(each.default, bool):
            parser.add_argument(flag, action="store_true", help=spec.flag_help)
        elif each.type == "bool | None":
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=spec.flag_help
            )
        else:
            default = None if each.default is dataclasses.MISSING else each.default
            parser.add_argument(flag, default=default, metavar=spec.metavar, help=spec.flag_help)


def version() -> str:
    try:
        return _package_version("codex-async-mcp")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+unknown"


# Adds commands of another package (the team's `worker`), or flags to a built-in one (the
# team's `--redis` of list, show and follow): it gets the helper that makes (or finds) one.
ParserExtension = Callable[[Callable[[str, str], argparse.ArgumentParser]], None]


def build_parser(extend: ParserExtension | None = None) -> argparse.ArgumentParser:
    after = _common(top=False)
    parser = argparse.ArgumentParser(
        prog="codex-async",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"codex-async {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    made: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, text: str) -> argparse.ArgumentParser:
        """A new command, or the one of that name already made (an extension adds its flags)."""
        if name not in made:
            made[name] = sub.add_parser(name, help=text, description=text, parents=[after])
        return made[name]

    p = command("list", "the newest jobs, as a table")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--status", help="only jobs in this status (running, queued, done, error, ...)")
    p.add_argument("--cwd", help="only jobs in this folder or below it")

    p = command("show", "one job's record and the end of its output")
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--tail", type=int, default=20, help="rendered lines of output (default 20)")

    p = command("follow", "a job's output as it comes, until the job ends (Ctrl-C stops following)")
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--tail", type=int, default=20, help="lines already written to show first (default 20)")

    p = command("start", "start a codex job in the background and print its id")
    p.add_argument("prompt", nargs="?", metavar="PROMPT", help="what codex should do (default: read stdin)")
    _option_flags(p, RunOptions)

    p = command(
        "review",
        "start a read-only codex review of one target (default: the uncommitted changes), "
        "or with custom instructions, and print its id",
    )
    p.add_argument(
        "prompt", nargs="?", metavar="INSTRUCTIONS", help="custom review instructions (instead of a target)"
    )
    _option_flags(p, ReviewOptions)

    p = command("sessions", "codex sessions, the most recently active first, each with its turns")
    p.add_argument("--limit", type=int, default=20, help="at most this many sessions (default 20)")

    p = command("wait", "wait for a job to end; the exit code says how it ended")
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS", help="give up after this")

    p = command("restart", "start a new job with the options of an ended one")
    p.add_argument("job_id", metavar="JOB_ID")

    p = command("cancel", "cancel a queued or running job, and every process it started")
    p.add_argument("job_id", metavar="JOB_ID")

    p = command("steer", "send a message into a running job's turn: codex answers it in that turn")
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("message", nargs="?", metavar="MESSAGE", help="your message (default: read stdin)")

    p = command("interrupt", "end a running job's turn and stop its commands; its session goes on")
    p.add_argument("job_id", metavar="JOB_ID")

    p = command("answer", "answer the question of a waiting job (show prints it); the first answer wins")
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("decision", choices=("approve", "deny"), help="approve: codex does it; deny: it does not")

    p = command("prune", "delete finished jobs older than an age")
    p.add_argument("--older-than", type=parse_age, required=True, metavar="AGE", help="e.g. 30m, 12h, 7d, 2w")

    p = command("diff", "what a job changed in its git repository (a worktree job: its worktree's diff)")
    p.add_argument("job_id", metavar="JOB_ID")

    p = command(
        "apply",
        "bring an ended worktree job's change into the working tree as uncommitted changes "
        "(nothing changes on a conflict)",
    )
    p.add_argument("job_id", metavar="JOB_ID")

    p = command("discard", "remove an ended worktree job's worktree and its branch")
    p.add_argument("job_id", metavar="JOB_ID")

    command("reconcile", "record jobs whose processes died as lost, and start queued ones")

    p = command("config", "show the store's settings, or change them for every process using it")
    p.add_argument("--max-jobs", type=int, metavar="N", help="how many jobs may run at once")
    p.add_argument(
        "--worktree",
        choices=("on", "off"),
        help="whether a job runs in a git worktree of its own unless it says (default off)",
    )
    p.add_argument(
        "--codex-path",
        choices=CODEX_PATHS,
        help="how new runs drive codex: app-server (default, when codex has it: steer, interrupt, "
        "questions) or exec (`codex exec --json`); reviews always run as exec",
    )
    if extend is not None:
        extend(command)
    return parser
