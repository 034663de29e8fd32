"""codex's own sessions: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`, read-only.

Cheap with thousands of files: `list` looks at names and sizes only (a scandir per day
folder); `head` reads the start of one file (its folder and first prompt) when a row is
shown, cached; `conversation` parses one whole file when a person opens it
(`jobstore.codex_rollout`, tolerant of the format's drift between codex versions).
Nothing here writes to CODEX_HOME.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jobstore.codex_rollout import RolloutRecords, as_str, prompt_of, read_conversation, split_record
from jobstore.conversation import Conversation
from jobstore.record import parse_iso

_NAME_RE = re.compile(
    r"^rollout-(?P<time>\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)-(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.jsonl$"
)
HEAD_BYTES = 256 * 1024
MAX_HEAD_BYTES = 4 * 1024 * 1024  # a first line (the session's instructions) may be long


@dataclass(frozen=True)
class RolloutFile:
    """A session file, as its name and size tell it (nothing read)."""

    session_id: str
    path: Path
    created_at: datetime | None  # from the name (UTC)
    modified: float  # mtime: the session's last activity
    size: int


@dataclass(frozen=True)
class RolloutHead:
    """The start of a session file: where it ran and its first prompt."""

    cwd: str = ""
    first_prompt: str = ""
    cli_version: str = ""
    originator: str = ""


class CodexSessions:
    """The sessions under one CODEX_HOME."""

    def __init__(self, codex_home: Path) -> None:
        self.codex_home = codex_home
        self.sessions_dir = codex_home / "sessions"
        self._heads: dict[Path, tuple[int, RolloutHead]] = {}
        self.heads_read = 0  # files opened for their head (tests watch this stays small)

    def rollouts(self, limit: int | None = None) -> list[RolloutFile]:
        """Every session file, the most recently active first (names and sizes only)."""
        found = [f for folder in self._day_folders() for f in _rollouts_in(folder)]
        found.sort(key=lambda f: (f.modified, f.path.name), reverse=True)
        return found if limit is None else found[:limit]

    def _day_folders(self) -> list[Path]:
        days = []
        for year in _subfolders(self.sessions_dir, 4):
            for month in _subfolders(year, 2):
                days.extend(_subfolders(month, 2))
        return days

    def find(self, session_id: str) -> RolloutFile | None:
        """The newest file of this session, if codex keeps one."""
        found = [f for f in self.rollouts() if f.session_id == session_id.lower()]
        return found[0] if found else None

    def head(self, rollout: RolloutFile) -> RolloutHead:
        """The file's folder and first prompt, read once (again only while it has no prompt
        yet and has grown)."""
        cached = self._heads.get(rollout.path)
        if cached is not None and (cached[1].first_prompt or cached[0] == rollout.size):
            return cached[1]
        self.heads_read += 1
        head = _read_head(rollout.path)
        self._heads[rollout.path] = (rollout.size, head)
        return head

    def conversation(self, rollout: RolloutFile) -> Conversation:
        return read_conversation(rollout.path, rollout.session_id)


def _subfolders(folder: Path, digits: int) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [
                Path(e.path)
                for e in entries
                if len(e.name) == digits and e.name.isdigit() and e.is_dir(follow_symlinks=False)
            ]
    except OSError:
        return []


def _rollouts_in(folder: Path) -> list[RolloutFile]:
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = _NAME_RE.match(entry.name)
                if match is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                created = _name_time(match.group("time"))
                found.append(
                    RolloutFile(match.group("id").lower(), Path(entry.path), created, st.st_mtime, st.st_size)
                )
    except OSError:
        pass
    return found


def _name_time(stamp: str) -> datetime | None:
    day, _, clock = stamp.partition("T")
    return parse_iso(f"{day}T{clock.replace('-', ':')}+00:00")


def _read_head(path: Path) -> RolloutHead:
    limit = HEAD_BYTES
    while True:
        head = RolloutHead()
        try:
            for record in RolloutRecords(path, limit):
                head = _head_from(record, head)
                if head.first_prompt:
                    return head
        except OSError:
            return RolloutHead()
        if head.cwd or limit >= MAX_HEAD_BYTES:
            return head
        limit *= 4  # no whole first record yet: a very long one


def _head_from(record: dict[str, Any], head: RolloutHead) -> RolloutHead:
    kind, payload = split_record(record)
    if kind == "session_meta" or (kind == "" and "instructions" in record):
        return replace(
            head,
            cwd=head.cwd or as_str(payload.get("cwd")),
            cli_version=head.cli_version or as_str(payload.get("cli_version")),
            originator=head.originator or as_str(payload.get("originator")),
        )
    if kind == "turn_context" and not head.cwd:
        return replace(head, cwd=as_str(payload.get("cwd")))
    prompt = prompt_of(kind, payload)
    if prompt and not head.first_prompt:
        return replace(head, first_prompt=prompt)
    return head
