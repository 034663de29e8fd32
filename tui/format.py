"""How values look on screen: ages, durations, token counts, status marks, stored text made safe.
No Textual here.

Every stored string the UI shows outside the output pane (prompts, folders, errors, session
ids, codex's answers) goes through `safe`, `block` or `one_line`: jobstore's one sanitiser
shows control characters visibly, so a record cannot set the window title, write the
clipboard or clear the screen. Widgets put the result in Rich `Text` (never markup), and
the app's toasts are plain text too (`CodexTuiApp.notify`).
"""

from __future__ import annotations

import re
from datetime import datetime

from jobstore import UNREADABLE, JobStatus, terminal_safe
from tui.jobs import JobRow

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

# A mark per status; their colours come from the theme (tui.theme).
STATUS_GLYPHS: dict[str, str] = {
    JobStatus.RUNNING: "●",
    JobStatus.WAITING: "◆",
    JobStatus.QUEUED: "◌",
    JobStatus.DONE: "✓",
    JobStatus.ERROR: "✗",
    JobStatus.CANCELLED: "⊘",
    JobStatus.LOST: "?",
    JobStatus.INTERRUPTED: "■",
    UNREADABLE: "!",
}


def status_glyph(status: str, *, frame: int | None = None) -> str:
    if status == JobStatus.RUNNING and frame is not None:
        return SPINNER_FRAMES[frame % len(SPINNER_FRAMES)]
    return STATUS_GLYPHS.get(status, "·")


def status_label(row: JobRow) -> str:
    if row.is_running and row.cancel_requested:
        return "cancelling"
    return row.status


def span(seconds: float) -> str:
    """A short duration: 0.8s, 45s, 3m05s, 1h02m, 2d03h. Under a second in tenths (a quick
    job is not `0s`), from one second on rounded to the nearest unit shown."""
    if seconds < 1:
        return f"{max(0, int(seconds * 10)) / 10:.1f}s"
    total = int(seconds + 0.5)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, coarse: 12s, 5m, 3h, 4d, 2y."""
    if then is None:
        return "—"
    total = max(0, int((now - then).total_seconds()))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m"
    if total < 86400:
        return f"{total // 3600}h"
    if total < 365 * 86400:
        return f"{total // 86400}d"
    return f"{total // (365 * 86400)}y"


def age_changes_in(then: datetime, now: datetime) -> float:
    """Seconds until `age(then, now)` reads differently: ages in seconds change every
    second, in minutes every minute, in hours every hour, older ones once a day."""
    total = max(0.0, (now - then).total_seconds())
    if total < 60:
        step = 1
    elif total < 3600:
        step = 60
    elif total < 86400:
        step = 3600
    else:
        step = 86400
    return step - total % step


def duration(row: JobRow, now: datetime) -> str:
    if row.started_at is None:
        return "—"
    end = row.finished_at or (now if row.is_active else None)
    if end is None:
        return "—"
    return span((end - row.started_at).total_seconds())


def tokens(value: int | None) -> str:
    if value is None:
        return ""
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.1f}M"


def safe(text: str | None) -> str:
    """Stored text for one line of the screen: newlines and every other control shown visibly."""
    return terminal_safe(text or "")


def block(text: str | None) -> str:
    """Stored text that may span lines: newlines kept, every other control shown visibly."""
    return terminal_safe(text or "", multiline=True)


# Only ordinary spaces and line ends fold into one space; other controls stay to be shown.
_FOLDED = re.compile(r"[ \t\r\n]+")


def one_line(text: str, limit: int = 200) -> str:
    """Stored text folded onto one line, made safe, and cut to `limit` characters."""
    line = safe(_FOLDED.sub(" ", text).strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


SHORT_SESSION_CHARS = 8


def short_session(session_id: str | None) -> str:
    """A session id in 8 characters that tell sessions apart: its last ones. codex's ids are
    UUIDv7, time first, so sessions started within a minute share their first 8 characters;
    the end is random. (The filter matches any part of the id, these 8 too.)"""
    return safe(session_id[-SHORT_SESSION_CHARS:]) if session_id else ""


def byte_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
