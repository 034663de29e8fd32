"""The one sanitiser for stored text shown on a terminal: control characters made visible.

Everything codex prints, and every string a record holds (error, cwd, prompt, ...), may
come from a model a hostile repository steers. Escape sequences in it could set the
window title (OSC 0), write the clipboard (OSC 52), clear the screen (CSI 2J) or
reorder what is shown (bidi overrides). `terminal_safe` shows each such character as a
visible symbol instead: C0 controls as their Control Pictures (ESC as ␛), DEL as ␡,
C1 controls and Unicode format characters that change what a reader sees as `\\x9b` /
`\\u202e`. A tab stays a tab; a newline stays only where the text may span lines.
"""

from __future__ import annotations

import json
from typing import Any

# Bidi embeddings, overrides and isolates, marks, and line/paragraph separators: they
# reorder or break what is displayed without being visible themselves.
_FORMAT_CHARS = (
    [0x061C, 0x200E, 0x200F, 0x2028, 0x2029]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
    + [0xFFF9, 0xFFFA, 0xFFFB]
)


def _table(*, keep_newlines: bool) -> dict[int, str]:
    table: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
    del table[0x09]  # a tab is harmless and belongs in text
    if keep_newlines:
        del table[0x0A]
    table[0x7F] = "\u2421"  # ␡
    table.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
    table.update({code: f"\\u{code:04x}" for code in _FORMAT_CHARS})
    return table


_ONE_LINE = _table(keep_newlines=False)
_MULTI_LINE = _table(keep_newlines=True)


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """`text` with every control and invisible format character shown visibly, never emitted.
    `multiline` keeps newlines (a block of output); otherwise they show as ␊ (a table cell,
    a status line, a toast). Use it on every stored string before it reaches a terminal."""
    return text.translate(_MULTI_LINE if multiline else _ONE_LINE)


def json_for_terminal(data: Any, *, indent: int | None = 1) -> str:
    """`data` as JSON that is safe on a terminal and still parses to the same values: every
    non-ASCII and control character is a \\u escape (DEL too, which JSON leaves raw).
    `indent=None`: one line (JSON lines)."""
    return json.dumps(data, indent=indent, ensure_ascii=True).replace("\x7f", "\\u007f")
