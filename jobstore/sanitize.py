"""The one sanitiser for stored text shown to a person or a model: hidden characters made visible.

Everything codex prints, and every string a record holds (error, cwd, prompt, ...), may
come from a model a hostile repository steers. Escape sequences in it could set the
window title (OSC 0), write the clipboard (OSC 52), clear the screen (CSI 2J); bidi
overrides reorder what is shown; invisible format characters (tag characters, zero-width
spaces) can spell instructions a model reads and a person never sees. `terminal_safe`
shows each such character as a visible symbol instead: C0 controls as their Control
Pictures (ESC as ␛), DEL as ␡, C1 controls as `\\x9b`, every Unicode format character
(category Cf) and the line/paragraph separators as `<U+202E>`. A tab stays a tab; a
newline stays only where the text may span lines. One exception keeps emoji readable: a
zero-width joiner between two pictographs (👩‍💻) stays, since it joins them into one
visible glyph and hides nothing; anywhere else it is shown.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

# Every Unicode format character (category Cf; tests/security checks this against the
# running Python's Unicode data), the whole tag block U+E0000-E007F, the Egyptian
# hieroglyph format controls up to U+1343F (Unicode 15 adds some), and the line and
# paragraph separators, which break a line without being a newline.
_FORMAT_RANGES = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
)
_ZWJ = "\u200d"
# What may stand on either side of a joiner inside an emoji sequence: pictographs, their
# skin tones, and the emoji presentation selector before the joiner.
_PICTOGRAPH = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21ff\u2300-\u23ff\u24c2\u25a0-\u27bf"
    "\u2934\u2935\u2b00-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)


def _shown_forms(*, keep_newlines: bool) -> dict[str, str]:
    """How each control character shows (the format characters show as `<U+XXXX>`)."""
    forms = {chr(code): chr(0x2400 + code) for code in range(0x20)}
    del forms["\t"]  # a tab is harmless and belongs in text
    if keep_newlines:
        del forms["\n"]
    forms["\x7f"] = "\u2421"  # ␡
    forms.update({chr(code): f"\\x{code:02x}" for code in range(0x80, 0xA0)})
    return forms


def _format_class() -> str:
    parts = []
    for first, last in _FORMAT_RANGES:
        if first <= ord(_ZWJ) <= last:  # the joiner has its own rule
            if first < ord(_ZWJ):
                parts.append(f"{chr(first)}-{chr(ord(_ZWJ) - 1)}")
            if last > ord(_ZWJ):
                parts.append(f"{chr(ord(_ZWJ) + 1)}-{chr(last)}")
        else:
            parts.append(chr(first) if first == last else f"{chr(first)}-{chr(last)}")
    return "".join(parts)


def _hidden(forms: dict[str, str]) -> re.Pattern[str]:
    controls = "".join(re.escape(char) for char in forms)
    lone_joiner = f"{_ZWJ}(?:(?<![{_PICTOGRAPH}\ufe0f]{_ZWJ})|(?![{_PICTOGRAPH}]))"
    return re.compile(f"[{controls}{_format_class()}]|{lone_joiner}")


def _replacer(forms: dict[str, str]) -> Callable[[re.Match[str]], str]:
    shown_as = dict(forms)
    for first, last in _FORMAT_RANGES:
        shown_as.update({chr(code): f"<U+{code:04X}>" for code in range(first, last + 1)})
    return lambda match: shown_as[match.group()]


_ONE_LINE_FORMS = _shown_forms(keep_newlines=False)
_MULTI_LINE_FORMS = _shown_forms(keep_newlines=True)
# ASCII text (most of codex's output) only has controls: str.translate is fastest there. Every
# ASCII character is in the table, those that stay as themselves: translate then never looks
# one up in vain (a KeyError each, for each distinct character of each string).
_ONE_LINE_ASCII = {code: code for code in range(0x80)} | str.maketrans(_ONE_LINE_FORMS)
_MULTI_LINE_ASCII = {code: code for code in range(0x80)} | str.maketrans(_MULTI_LINE_FORMS)


@functools.cache
def _non_ascii(multiline: bool) -> tuple[re.Pattern[str], Callable[[re.Match[str]], str]]:
    """The expression and replacement for other text, built when first needed (not at import:
    every start of the TUI and the CLI imports this module)."""
    forms = _MULTI_LINE_FORMS if multiline else _ONE_LINE_FORMS
    return _hidden(forms), _replacer(forms)


def terminal_safe(text: str, *, multiline: bool = False) -> str:
    """`text` with every control and invisible format character shown visibly, never emitted.
    `multiline` keeps newlines (a block of output); otherwise they show as ␊ (a table cell,
    a status line, a toast). Use it on every stored string before a person or a model reads it."""
    if text.isprintable():  # most strings: no control or format character (see _nothing_hidden)
        return text
    if text.isascii():
        return text.translate(_MULTI_LINE_ASCII if multiline else _ONE_LINE_ASCII)
    # One line that is not printable has something to show; a block may be printable line by line.
    if multiline and _nothing_hidden(text, multiline=True):
        return text
    hidden, shown = _non_ascii(multiline)
    return hidden.sub(shown, text)


def _nothing_hidden(text: str, *, multiline: bool) -> bool:
    """True only if `text` has no character `terminal_safe` would show differently: each one
    (a control, a format character, a line or paragraph separator) is one Python does not
    count as printable, so printable text, line by line, has none. Much faster than the
    expression: False says only that the expression must look (a tab, a no-break space)."""
    if not multiline:
        return text.isprintable()
    return all(line.isprintable() for line in text.split("\n"))


def visible_data(data: Any) -> Any:
    """JSON data (a tool's answer to a model) with every string made visible as a block of text
    (`terminal_safe(multiline=True)`); keys are ours and stay as they are."""
    if isinstance(data, str):
        return terminal_safe(data, multiline=True)
    if isinstance(data, dict):
        return {key: visible_data(value) for key, value in data.items()}
    if isinstance(data, list):
        return [visible_data(item) for item in data]
    return data


def json_for_terminal(data: Any, *, indent: int | None = 1) -> str:
    """`data` as JSON that is safe on a terminal and still parses to the same values: every
    non-ASCII and control character is a \\u escape (DEL too, which JSON leaves raw).
    `indent=None`: one line (JSON lines)."""
    return json.dumps(data, indent=indent, ensure_ascii=True).replace("\x7f", "\\u007f")
