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
    # Tag characters spell words a model reads and a person never sees ("ign", as in "ignore ...").
    "tag-characters": "ok" + "".join(chr(0xE0000 + ord(c)) for c in "ign"),
    "zero-width": "pa\u200bss\u200dword\ufeff",
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
    """Characters a terminal would act on rather than show, or that show nothing: C0 but tab
    and newline, DEL, C1, bidi controls, line separators, every format character (Cf)."""
    bad = []
    for char in text:
        code = ord(char)
        if (
            (code < 0x20 and char not in "\t\n")
            or 0x7F <= code < 0xA0
            or code in _BIDI_AND_SEPARATORS
            or unicodedata.category(char) == "Cf"
        ):
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


def make_script_codex(bin_dir: Path, body: str) -> Path:
    """A `codex` that answers the version, flag and app-server probes as tests/fakes/fake_codex.py
    does (it has no app-server: its jobs run as exec) and, for a run, executes the Python `body`
    (with `emit(event)` and `args` defined)."""
    fake = REPO / "tests" / "fakes" / "fake_codex.py"
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "codex"
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, runpy, subprocess, sys, time\n"
        "args = sys.argv[1:]\n"
        "if args == ['--version'] or '--help' in args or args[:1] == ['app-server']:\n"
        f"    sys.argv[0] = {str(fake)!r}\n"
        f"    runpy.run_path({str(fake)!r}, run_name='__main__')\n"
        "def emit(event):\n"
        "    sys.stdout.write(json.dumps(event) + '\\n')\n"
        "    sys.stdout.flush()\n"
        "emit({'type': 'thread.started', 'thread_id': '0199a000-0000-7000-8000-000000000001'})\n"
        "emit({'type': 'turn.started'})\n" + body + "\n"
    )
    path.chmod(0o755)
    return path


TURN_COMPLETED = "emit({'type': 'turn.completed', 'usage': {'input_tokens': 1, 'output_tokens': 1}})\n"
