"""`codex-async steer | interrupt | answer`: talking to a running job from the shell."""

from __future__ import annotations

import argparse
import sys

from jobstore.cli.output import say, say_json
from jobstore.errors import InvalidInput
from jobstore.store import JobStore
from jobstore.talk import Question, TalkOutcome


def _told(outcome: TalkOutcome, args: argparse.Namespace) -> int:
    if args.json:
        say_json({"job": outcome.record.to_dict(), "handled": outcome.handled, "message": outcome.message})
    else:
        say(outcome.message)
        say(f"job {outcome.record.job_id} is {outcome.record.status}")
    return 0


def steer(store: JobStore, args: argparse.Namespace) -> int:
    if args.message is not None:
        message = str(args.message)
    elif sys.stdin.isatty():
        raise InvalidInput("give a MESSAGE, or pipe one on stdin (codex-async steer --help)")
    else:
        message = sys.stdin.read()
    return _told(store.steer(args.job_id, message), args)


def interrupt(store: JobStore, args: argparse.Namespace) -> int:
    return _told(store.interrupt(args.job_id), args)


def answer(store: JobStore, args: argparse.Namespace) -> int:
    return _told(store.answer(args.job_id, args.decision), args)


def question_lines(question: Question, job_id: str) -> list[str]:
    """A waiting job's question as `show` prints it (made safe by `say`)."""
    waited = question.waiting_seconds()
    since = f" (waiting {int(waited)} s)" if waited is not None else ""
    return [f"QUESTION{since}: {question.describe()}", f"answer it: codex-async answer {job_id} approve|deny"]


COMMANDS = {"steer": steer, "interrupt": interrupt, "answer": answer}
