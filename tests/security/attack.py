"""Shared pieces of the attack suite: hostile text, and checks that a terminal never sees it raw."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What a model steered by a hostile repository might print, by what it would do to a terminal.
HOSTILE = {
    "osc0-title": "\x1b]0;pwned-title\x07",
    "osc52-clipboard": "\x1b]52;c;cm0gLXJmIH4K\x07",
    "csi-clear-screen": "\x1b[2J\x1b[H",
    "c1-csi": "\x9b2J\x9d0;c1-title\x9c",
    "del-and-cr": "safe\x7f\rOVERWRITTEN",
    "bidi-override": "invoice\u202egnp.exe\u2066x\u2069",
    "bell-backspace": "\x07\x08\x08\x0bvt\x0cff",
}

_BIDI_AND_SEPARATORS = {
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}


def unsafe_characters(text: str) -> list[str]:
    """Characters a terminal would act on rather than show: C0 but tab and newline, DEL, C1,
    bidi controls and line separators."""
    bad = []
    for char in text:
        code = ord(char)
        if (code < 0x20 and char not in "\t\n") or 0x7F <= code < 0xA0 or code in _BIDI_AND_SEPARATORS:
            bad.append(f"U+{code:04X} {unicodedata.name(char, '')}")
    return bad


def run_cli(store_root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`codex-async` as a user runs it: its own process, its real stdout and stderr bytes."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "jobstore.cli", "--store", str(store_root), *args],
        capture_output=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )
