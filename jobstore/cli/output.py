"""How `codex-async` prints: every stored string through the sanitiser, tables fitted to the terminal.

Every line the command prints goes through `say` or `say_json` (or a table built here),
so stored text (prompts, folders, errors, codex's output) reaches a terminal only with
its control characters made visible (`jobstore.sanitize`).
"""

from __future__ import annotations

import shutil
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from jobstore.events import RenderedLine
from jobstore.sanitize import json_for_terminal, terminal_safe

_DIM, _PLAIN = "\x1b[2m", "\x1b[0m"


def say(text: str, *, multiline: bool = False, file: TextIO | None = None) -> None:
    """Print one line (or a block, with `multiline`) of text that may hold stored strings."""
    print(terminal_safe(text, multiline=multiline), file=file or sys.stdout, flush=True)


def say_output_line(line: RenderedLine) -> None:
    """One rendered line of a job's output. codex's own notices (start-up warnings) are
    folded onto one line of the terminal and dimmed there, so they do not crowd its output."""
    if line.kind != "notice":
        say(line.text)
        return
    folded = fit(terminal_safe(line.text), terminal_width())
    # Our escape codes around text made safe first: codex's text never carries its own.
    print(f"{_DIM}{folded}{_PLAIN}" if sys.stdout.isatty() else folded, flush=True)


def say_json(data: Any) -> None:
    print(json_for_terminal(data), flush=True)


def say_json_line(data: Any) -> None:
    """One JSON object on one line (a stream of them: JSON lines)."""
    print(json_for_terminal(data, indent=None), flush=True)


def complain(text: str) -> None:
    """An error, on stderr, as one line prefixed with the command's name."""
    say(f"codex-async: {text}", file=sys.stderr)


def terminal_width() -> int:
    """The terminal's width ($COLUMNS first; 80 when output is not a terminal)."""
    return max(shutil.get_terminal_size((80, 24)).columns, 20)


def cell_width(text: str) -> int:
    """Columns `text` takes on a terminal: wide (CJK, emoji) characters take two,
    combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) == "Cf":
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """`text` cut to `width` columns, with … where it was cut."""
    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        size = cell_width(char)
        if used + size > width - 1:
            break
        out.append(char)
        used += size
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    return text + " " * max(width - cell_width(text), 0)


@dataclass(frozen=True)
class Column:
    title: str
    # Dropped (in this order, lowest first) when the terminal is too narrow for the last column.
    drop_rank: int = 0
    max_width: int | None = None


def table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, *, min_last: int = 24
) -> list[str]:
    """A header and aligned rows, every cell made safe. The last column (the prompt) takes
    what is left of `width`; columns with a drop rank go, lowest first, while it would get
    fewer than `min_last` columns."""
    # Only tabs become spaces (they break alignment); every other control shows, never hides.
    safe = [[terminal_safe(cell.replace("\t", " ")) for cell in row] for row in rows]
    keep = list(range(len(columns)))
    gap = 2

    def widths(kept: list[int]) -> list[int]:
        out = []
        for index in kept[:-1]:
            natural = max([cell_width(columns[index].title), *(cell_width(r[index]) for r in safe)])
            limit = columns[index].max_width
            out.append(min(natural, limit) if limit else natural)
        return out

    fixed = widths(keep)
    droppable = sorted((c.drop_rank, i) for i, c in enumerate(columns) if c.drop_rank)
    while width - sum(fixed) - gap * len(fixed) < min_last and droppable:
        keep.remove(droppable.pop(0)[1])
        fixed = widths(keep)
    last = max(width - sum(fixed) - gap * len(fixed), 8)
    sizes = [*fixed, last]
    lines = []
    for row in [[c.title for c in columns], *safe]:
        cells = [fit(row[index], size) for index, size in zip(keep, sizes, strict=True)]
        padded = [pad(cell, size) for cell, size in zip(cells[:-1], sizes, strict=False)]
        lines.append((" " * gap).join([*padded, cells[-1]]).rstrip())
    return lines
