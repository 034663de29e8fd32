"""The session index: which jobs were the turns of each codex session.

`sessions/<session_id>` holds the ids of the session's jobs, one a line, appended
(O_APPEND: concurrent appends of a line land whole). A job is appended when it
continues a session, when its runner learns the session id, or when it is settled
as lost with the id found in its output.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from jobstore import fsio
from jobstore.errors import StoreRefused
from jobstore.events import Summary
from jobstore.ids import check_session_id, is_job_id, is_session_id
from jobstore.layout import StoreLayout
from jobstore.record import JobRecord

_HEAD_BYTES_FOR_SESSION = 64 * 1024
_MAX_INDEX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class SessionInfo:
    """A codex session and the jobs that were its turns, oldest first."""

    session_id: str
    turns: list[JobRecord]

    @property
    def updated_at(self) -> str:
        return max((t.finished_at or t.started_at or t.created_at) for t in self.turns)

    @property
    def cwd(self) -> str:
        return self.turns[-1].cwd


class SessionIndex:
    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout

    def session_ids(self) -> list[str]:
        """Every session in the index, the most recently extended first."""
        try:
            entries = list(os.scandir(self.layout.sessions_dir))
        except FileNotFoundError:
            return []
        entries.sort(key=_mtime, reverse=True)
        return [entry.name for entry in entries if is_session_id(entry.name)]

    def job_ids(self, session_id: str) -> list[str] | None:
        """The session's job ids, oldest first; None if the store has no such session."""
        check_session_id(session_id)
        try:
            raw = fsio.read_file(self.layout.session_index(session_id), limit=_MAX_INDEX_BYTES)
        except (FileNotFoundError, StoreRefused):
            return None  # a symlink or a stranger's file is no session of ours
        text = raw.decode("utf-8", "replace")
        return sorted({line.strip() for line in text.splitlines() if is_job_id(line.strip())})

    def append(self, session_id: str, job_id: str) -> None:
        fsio.append_line(self.layout.session_index(session_id), job_id)

    @contextlib.contextmanager
    def one_turn_at_a_time(self) -> Iterator[None]:
        """Held while checking that a session is idle and starting its next turn."""
        with fsio.file_lock(self.layout.session_lock):
            yield

    def session_id_from_output(self, job_id: str) -> str | None:
        """The session id codex announced at the start of the job's output, if any."""
        try:
            fd = fsio.open_file(self.layout.output(job_id), os.O_RDONLY)
        except (OSError, StoreRefused):
            return None
        try:
            head = os.read(fd, _HEAD_BYTES_FOR_SESSION)
        finally:
            os.close(fd)
        summary = Summary()
        for line in head.decode("utf-8", "replace").splitlines():
            summary.feed_line(line)
            if summary.session_id:
                return summary.session_id
        return None


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:
        return 0.0
