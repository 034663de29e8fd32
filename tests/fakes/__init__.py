"""Test doubles: the fake codex (tests and benchmarks) and the fake model service (end-to-end)."""

from __future__ import annotations

import sys
from pathlib import Path

FAKE_CODEX = Path(__file__).resolve().parent / "fake_codex.py"


def install_fake_codex(bin_dir: Path, version: str | None = None, *, lenient: bool = False) -> Path:
    """Write an executable `bin_dir/codex` that runs the one fake codex (fake_codex.py).

    `version` is what `codex --version` answers; `lenient` accepts a prompt not after `--`
    (the argv other servers build). `python -IS`: no site-packages, nothing from the caller's
    PYTHON* variables, so a run costs the interpreter's start and little more."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "codex"
    settings = "".join(
        f"{name}={value}; export {name}\n"
        for name, value in (("FAKE_CODEX_VERSION", version), ("FAKE_CODEX_LENIENT", "1" if lenient else None))
        if value
    )
    path.write_text(f'#!/bin/sh\n{settings}exec "{sys.executable}" -IS "{FAKE_CODEX}" "$@"\n')
    path.chmod(0o755)
    return path
