"""Messages to a running job (steer, interrupt, answer), through its folder: durable and in order.

    jobs/<job_id>/messages/000001.json        a message, written whole (atomic, never replaced)
    jobs/<job_id>/messages/000001.reply.json  what its runner did with it

Any process may send (the MCP server, the CLI, codex-tui): the next free number is taken
by an exclusive link, so two senders never share one, and a sender that exits at once
loses nothing: the file is there for the runner, which watches the folder (inotify) and
handles each message once, in number order, writing its reply; a sender may wait for it.
Every file follows the store's rules (`fsio`): private, no symlink followed.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jobstore import fsio, inotify, watch
from jobstore.errors import StoreRefused
from jobstore.layout import StoreLayout
from jobstore.record import now_iso

MessageKind = Literal["steer", "interrupt", "answer"]
MESSAGE_KINDS: tuple[MessageKind, ...] = ("steer", "interrupt", "answer")
_MAX_MESSAGE_BYTES = 1024 * 1024
_MESSAGE_RE = re.compile(r"(\d{6,})\.json")
_DIGITS = 6


@dataclass(frozen=True)
class Message:
    """One message to a job: what it asks and its number (its place in the order)."""

    number: int
    kind: MessageKind
    text: str | None = None  # steer: the person's message
    decision: str | None = None  # answer: approve or deny
    question_id: int | None = None  # answer: the question it answers

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "decision": self.decision,
            "question_id": self.question_id,
            "sent_at": now_iso(),
        }


@dataclass(frozen=True)
class Reply:
    """What the runner did with a message: whether it took effect, and a sentence saying what."""

    ok: bool
    message: str


def message_path(layout: StoreLayout, job_id: str, number: int) -> Path:
    return layout.messages_dir(job_id) / f"{number:0{_DIGITS}d}.json"


def reply_path(layout: StoreLayout, job_id: str, number: int) -> Path:
    return layout.messages_dir(job_id) / f"{number:0{_DIGITS}d}.reply.json"


def send(
    layout: StoreLayout,
    job_id: str,
    kind: MessageKind,
    *,
    text: str | None = None,
    decision: str | None = None,
    question_id: int | None = None,
) -> Message:
    """Write a message for the job's runner under the next free number; durable on return."""
    folder = layout.messages_dir(job_id)
    fsio.ensure_dir(folder)
    number = max(numbers(layout, job_id), default=0) + 1
    while True:
        message = Message(number, kind, text, decision, question_id)
        data = json.dumps(message.to_dict(), ensure_ascii=False).encode("utf-8")
        try:
            fsio.write_bytes_atomic(message_path(layout, job_id, number), data, exclusive=True)
            return message
        except FileExistsError:
            number += 1  # another sender took it meanwhile


def numbers(layout: StoreLayout, job_id: str) -> list[int]:
    """The numbers of the job's messages, in order."""
    try:
        with fsio.folder(layout.messages_dir(job_id)) as fd:
            names = os.listdir(fd)
    except FileNotFoundError:
        return []
    return sorted(int(m[1]) for name in names if (m := _MESSAGE_RE.fullmatch(name)))


def read_message(layout: StoreLayout, job_id: str, number: int) -> Message | None:
    """The message of that number; None when it cannot be read as one (never ours, damaged)."""
    try:
        data = json.loads(fsio.read_file(message_path(layout, job_id, number), limit=_MAX_MESSAGE_BYTES))
    except (OSError, StoreRefused, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in MESSAGE_KINDS:
        return None
    text, decision, question_id = data.get("text"), data.get("decision"), data.get("question_id")
    return Message(
        number,
        data["kind"],
        text if isinstance(text, str) else None,
        decision if isinstance(decision, str) else None,
        question_id if isinstance(question_id, int) and not isinstance(question_id, bool) else None,
    )


def write_reply(layout: StoreLayout, job_id: str, number: int, reply: Reply) -> None:
    data = {"ok": reply.ok, "message": reply.message, "handled_at": now_iso()}
    fsio.write_json_atomic(reply_path(layout, job_id, number), data)


def read_reply(layout: StoreLayout, job_id: str, number: int) -> Reply | None:
    """The runner's reply to a message; None while it has not handled it."""
    try:
        data = json.loads(fsio.read_file(reply_path(layout, job_id, number), limit=_MAX_MESSAGE_BYTES))
    except FileNotFoundError:
        return None
    except (OSError, StoreRefused, ValueError):
        return Reply(False, "its reply cannot be read")
    if not isinstance(data, dict):
        return Reply(False, "its reply cannot be read")
    return Reply(data.get("ok") is True, str(data.get("message") or ""))


def await_reply(layout: StoreLayout, job_id: str, number: int, timeout: float) -> Reply | None:
    """The reply to a message, waiting up to `timeout` seconds for the runner to write it
    (asleep until the folder changes); None when it has not come by then."""
    deadline = time.monotonic() + timeout
    with watch.Wakeup() as wakeup:
        arrivals = inotify.IN_MOVED_TO | inotify.IN_CREATE
        watched = wakeup.watch_path(layout.messages_dir(job_id), arrivals, folder=True)
        watched = wakeup.watch_path(layout.job_dir(job_id), inotify.FOLDER_CHANGES, folder=True) and watched
        while True:
            reply = read_reply(layout, job_id, number)
            remaining = deadline - time.monotonic()
            if reply is not None or remaining <= 0:
                return reply
            wakeup.wait(remaining if watched and wakeup.reliable else min(remaining, 0.1))
            wakeup.clear()


class Inbox:
    """The runner's side: the messages it has not handled yet, in order, each handled once."""

    def __init__(self, layout: StoreLayout, job_id: str) -> None:
        self.layout = layout
        self.job_id = job_id
        self.folder = layout.messages_dir(job_id)
        self.handled_through = 0

    def ensure(self) -> None:
        """The folder exists before the runner watches it (a sender also creates it)."""
        fsio.ensure_dir(self.folder)

    def take(self) -> list[Message]:
        """Messages after the last one taken, in order, each taken once (its reply follows
        when it is handled); one that cannot be read gets its reply here."""
        out = []
        for number in numbers(self.layout, self.job_id):
            if number <= self.handled_through:
                continue
            self.handled_through = number
            message = read_message(self.layout, self.job_id, number)
            if message is None:
                self.reply(number, Reply(False, "the message cannot be read"))
                continue
            out.append(message)
        return out

    def reply(self, number: int, reply: Reply) -> None:
        """Record how message `number` was handled."""
        write_reply(self.layout, self.job_id, number, reply)
