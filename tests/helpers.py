"""Small helpers shared by tests: waiting on state, finding leftover processes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil

T = TypeVar("T")

# The real codex CLI's version, as pinned for the end-to-end tests in tools/package.json.
PINNED_CODEX_VERSION: str = json.loads(
    (Path(__file__).resolve().parent.parent / "tools" / "package.json").read_text()
)["dependencies"]["@openai/codex"]


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def processes_matching(text: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if text in cmdline and proc.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found
