"""What an error message shows of a value it was given: bounded, and safe to print or to hand
to a model. A caller's value (a task id, a path, an option) can be a megabyte long or hold
escape sequences; a message repeats at most `MAX_ECHO_CHARS` of it, made visible."""

from __future__ import annotations

import reprlib

from jobstore.sanitize import terminal_safe

MAX_ECHO_CHARS = 80


def echoed(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """`value` as `repr` writes it, cut to about `limit` characters (the cut marked, with
    the whole length), every control or invisible character shown visibly."""
    if isinstance(value, str) and len(value) > limit:
        # Cut before `repr`: a million characters are never copied into a message.
        return terminal_safe(f"{value[:limit]!r}… ({len(value):,} characters)")
    # reprlib: a huge list or dict is abbreviated while it is written, not after.
    shortened = reprlib.Repr()
    shortened.maxstring = shortened.maxother = limit
    text = shortened.repr(value)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text):,} characters)"
    return terminal_safe(text)
