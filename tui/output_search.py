"""What `/`, `n`/`N` and the jumps look for in a job's output: text, commands, errors, agent messages.

A `Query` answers the same question in three places: on a shown line (to highlight it),
on the rendered lines of one raw line (the window's lines, or one read by a scan of the
file), and as a regular expression over raw bytes that lets a scan of the file skip the
blocks that cannot hold a hit. That expression is only used when it is sound: every
line it rules out would not match (text search in the raw view, and the event types
that commands, errors and agent messages come from).
No Textual here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from jobstore import RenderedLine, clip_line, render_line, terminal_safe

# A line longer than this is shown cut (the pager shows it whole): what the view holds stays small.
SHOWN_CHARS = 2_000


def shown_text(text: str) -> str:
    """A line as the output pane shows it: tabs expanded, controls made visible, cut."""
    return terminal_safe(clip_line(text, SHOWN_CHARS).expandtabs(4))


class Target(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    ERROR = "error"
    AGENT = "agent"


# Raw event text that every line of a kind comes from (see jobstore.events.render_event).
_EVENT_BYTES = {
    Target.COMMAND: re.compile(rb"command_execution|mcp_tool_call|web_search"),
    Target.ERROR: re.compile(rb"error|turn\.failed|command_execution"),
    Target.AGENT: re.compile(rb"agent_message"),
}

NAMES = {Target.COMMAND: "command", Target.ERROR: "error", Target.AGENT: "agent message"}


@dataclass(frozen=True)
class Query:
    target: Target
    text: str = ""

    @classmethod
    def for_text(cls, text: str) -> Query:
        return cls(Target.TEXT, text)

    @property
    def case_sensitive(self) -> bool:
        """Smart case, as in less and vim: an upper-case letter makes the search exact."""
        return self.text != self.text.lower()

    @property
    def description(self) -> str:
        return repr(self.text) if self.target == Target.TEXT else NAMES[self.target]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where a text search matches in a shown text (nothing for the jumps)."""
        if self.target != Target.TEXT or not self.text:
            return []
        haystack, needle = (text, self.text) if self.case_sensitive else (text.lower(), self.text.lower())
        if len(haystack) != len(text):  # lower() changed a length: no highlight to place
            return []
        found: list[tuple[int, int]] = []
        at = haystack.find(needle)
        while at >= 0:
            found.append((at, at + len(needle)))
            at = haystack.find(needle, at + len(needle))
        return found

    def line_matches(self, line: RenderedLine) -> bool:
        """A shown line is a hit (for the jumps, the line a command, error or message starts)."""
        if self.target == Target.TEXT:
            text = shown_text(line.text)
            return (self.text in text) if self.case_sensitive else (self.text.lower() in text.lower())
        if self.target == Target.COMMAND:
            return line.kind == "command" or line.text.startswith(("$ ", "… $ "))
        if self.target == Target.ERROR:
            return line.kind == "error"
        return line.kind == "agent"

    def hit_in_event(self, raw_text: str, *, raw_view: bool) -> int | None:
        """For one raw line: which of its shown lines is the hit (raw view: the line itself)."""
        if raw_view and self.target == Target.TEXT:
            return 0 if self.line_matches(RenderedLine("raw", raw_text)) else None
        rendered = render_line(raw_text)
        for index, line in enumerate(rendered):
            if self.line_matches(line):
                return 0 if raw_view else index
        return None

    def block_pattern(self, *, raw_view: bool) -> re.Pattern[bytes] | None:
        """Raw bytes every hit's line contains, to skip whole blocks; None: read every line."""
        if self.target != Target.TEXT:
            return _EVENT_BYTES[self.target]
        # The raw view shows the bytes themselves: printable ASCII is found as it is typed
        # (two spaces could be an expanded tab, so not those).
        text = self.text
        if not raw_view or not text or not (text.isascii() and text.isprintable()) or "  " in text:
            return None
        return re.compile(re.escape(text.encode()), 0 if self.case_sensitive else re.IGNORECASE)
