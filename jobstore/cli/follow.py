"""`codex-async follow` and `wait`: a job's output as it comes, and its end as an exit code."""

from __future__ import annotations

import argparse
import sys
import time

from jobstore.cli.output import say, say_json, say_json_line, say_output_line
from jobstore.events import RenderedLine, render_line
from jobstore.record import JobRecord
from jobstore.states import JobStatus
from jobstore.store import MAX_TAIL_LINES, JobStore, check_limit

EXIT_DONE = 0
EXIT_TIMED_OUT = 3
EXIT_ENDED_BADLY = 4
EXIT_INTERRUPTED = 130
POLL_SECONDS = 0.2
# Raw lines read per rendered line wanted: many events (turn.started, ...) render to none.
_RAW_PER_RENDERED = 4


def ended_code(record: JobRecord) -> int:
    return EXIT_DONE if record.status == JobStatus.DONE else EXIT_ENDED_BADLY


def describe_end(record: JobRecord) -> str:
    text = f"job {record.job_id} {record.status}"
    if record.exit_code is not None:
        text += f" (exit {record.exit_code})"
    if record.error and record.status != JobStatus.DONE:
        text += f": {record.error}"
    return text


def print_rendered(lines: list[RenderedLine], args: argparse.Namespace) -> None:
    """Rendered lines of output, each as a line (or a JSON line with --json): what follow prints."""
    for line in lines:
        if args.json:
            say_json_line({"kind": line.kind, "text": line.text})
        else:
            say_output_line(line)


def _stopped(job_id: str, args: argparse.Namespace) -> int:
    if not args.json:
        say(
            f"stopped following; job {job_id} keeps running (codex-async cancel {job_id} stops it)",
            file=sys.stderr,
        )
    return EXIT_INTERRUPTED


def follow(store: JobStore, args: argparse.Namespace) -> int:
    """The end of the output, then every rendered line as it is written, until the job ends."""
    wanted = check_limit("tail", args.tail, MAX_TAIL_LINES)
    record = store.get(args.job_id)
    tail = store.output_tail(record.job_id, min(wanted * _RAW_PER_RENDERED, MAX_TAIL_LINES))
    print_rendered([r for line in tail.lines for r in render_line(line)][-wanted:], args)
    follower = store.follow_output(record.job_id, offset=tail.size)
    try:
        while True:
            ended = record.is_terminal  # read before the output: nothing written after it is missed
            print_rendered([r for line in follower.read_new(final=ended) for r in render_line(line)], args)
            if ended:
                break
            time.sleep(POLL_SECONDS)
            record = store.get(record.job_id)
    except KeyboardInterrupt:
        return _stopped(record.job_id, args)
    finally:
        follower.close()
    if args.json:
        say_json_line({"job": record.to_dict()})
    else:
        say(describe_end(record))
    return ended_code(record)


def wait(store: JobStore, args: argparse.Namespace) -> int:
    """Block until the job ends or --timeout passes; print how it ended."""
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while True:
            remaining = 60.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
            record = store.wait(args.job_id, remaining)
            if record.is_terminal or deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        return _stopped(args.job_id, args)
    if args.json:
        say_json(record.to_dict())
    elif record.is_terminal:
        say(describe_end(record))
    else:
        say(f"job {record.job_id} still {record.status} after {args.timeout:g} s")
    return ended_code(record) if record.is_terminal else EXIT_TIMED_OUT
