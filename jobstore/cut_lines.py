"""A line too long to keep whole, as every reader of a job's output keeps it: its head and its
end, the cut marked between (`cut_line`), and the three read back (`split_cut`).

A command with a large output is one such line: its command at the head, its exit code and
the end of its output at the end; `jobstore.events` renders it from the two.
"""

from __future__ import annotations

import re

CUT_END_BYTES = 8 * 1024  # of a cut line's end, kept
# A cut line may still parse as JSON (head and end inside one string): the mark is looked
# for first. Text that only looks cut renders no differently from what it says.
_CUT = " … [cut: the line has "
_CUT_MARK = re.compile(r" … \[cut: the line has ([\d,]+) bytes\] … ")


def cut_line(head: str, length: int, end: str) -> str:
    """A line of `length` bytes as kept: its `head` and its `end`, the cut marked between."""
    return f"{head}{_CUT}{length:,} bytes] … {end}"


def split_cut(text: str) -> tuple[str, int, str] | None:
    """(head, length in bytes, end) of a line `cut_line` made; None for any other line."""
    if _CUT not in text:  # most lines: a plain substring test, no expression
        return None
    parts = _CUT_MARK.split(text, maxsplit=1)
    if len(parts) != 3:
        return None
    head, length, end = parts
    return head, int(length.replace(",", "")), end
