"""The tokens a review used, which codex's event stream does not report.

`codex exec review` runs the review in a sub-agent session of its own and reports the
review turn's usage as zeros (codex 0.169 to 0.171). The sub-agent's rollout
(`$CODEX_HOME/sessions/.../rollout-*.jsonl`, its `session_meta` naming the review's thread
as `parent_thread_id`) counts the real tokens in its `token_count` events. Read-only, and
bounded: only rollouts begun after the review, each read up to a cap.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobstore.codex_rollout import MAX_LINE_BYTES, split_record
from jobstore.codex_sessions import MAX_HEAD_BYTES, CodexSessions

MAX_SUBAGENT_ROLLOUT_BYTES = 16 * 1024 * 1024
# A rollout's name carries its start to the second, in UTC; the job's start is the runner's.
_CLOCK_SLACK = timedelta(seconds=5)


def review_usage(codex_home: Path, thread_id: str, since: datetime) -> dict[str, int] | None:
    """The token usage of the sub-agent sessions of review thread `thread_id` begun after
    `since`, summed (each session's last `token_count` total); None if none is found."""
    total: Counter[str] = Counter()
    found = False
    for rollout in CodexSessions(codex_home).rollouts():
        if rollout.created_at is None or rollout.created_at < since - _CLOCK_SLACK:
            continue
        if _parent_of(rollout.path) != thread_id:
            continue
        usage = _last_total_usage(rollout.path)
        if usage is not None:
            found = True
            total.update(usage)
    return dict(total) if found else None


def _parent_of(path: Path) -> str | None:
    """The thread that started this session, from its first record (`session_meta`)."""
    for line in _lines(path, MAX_HEAD_BYTES):
        kind, payload = _record(line)
        parent = payload.get("parent_thread_id")
        return parent if kind == "session_meta" and isinstance(parent, str) else None
    return None


def _last_total_usage(path: Path) -> dict[str, int] | None:
    """The last `token_count` total of a rollout: only lines naming token_count are parsed."""
    usage: dict[str, int] | None = None
    for line in _lines(path, MAX_SUBAGENT_ROLLOUT_BYTES):
        if b'"token_count"' in line:
            kind, payload = _record(line)
            if kind == "event_msg" and payload.get("type") == "token_count":
                usage = _counts(payload.get("info")) or usage
    return usage


def _lines(path: Path, limit: int) -> Iterator[bytes]:
    """The whole lines of a file, up to `limit` bytes read, streamed (memory: one line); a
    line longer than codex_rollout's cap, or one still being written, is skipped."""
    read = 0
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NOFOLLOW)) as f:
            while read < limit:
                line = f.readline(MAX_LINE_BYTES + 1)
                if not line:
                    return
                read += len(line)
                if line.endswith(b"\n"):
                    yield line
    except OSError:
        return


def _record(line: bytes) -> tuple[str, dict[str, Any]]:
    try:
        record = json.loads(line)
    except ValueError:
        return "", {}
    return split_record(record) if isinstance(record, dict) else ("", {})


def _counts(info: Any) -> dict[str, int] | None:
    totals = info.get("total_token_usage") if isinstance(info, dict) else None
    if not isinstance(totals, dict):
        return None
    return {
        name: value
        for name, value in totals.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
