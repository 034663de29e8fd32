"""How the app is configured: the real settings, and the frozen ones tests run with."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TuiConfig:
    """Everything that differs between a person's session and a test run."""

    store_path: Path
    # Where `codex-tui` was started: the default folder for a new job.
    launch_cwd: Path = field(default_factory=lambda: Path(os.getcwd()))
    # The app's idea of "now" (ages, durations). Tests freeze it.
    clock: Callable[[], datetime] = utc_now
    # Watch the store's files (watchfiles). Tests that snapshot turn it off.
    watch: bool = True
    # Animated spinner for running jobs; off: a static marker.
    spinner: bool = True
    # Cursor blink and similar animations.
    animations: bool = True
    theme: str | None = None
    codex_bin: str | None = None
    # Settle slots and markers (and start queued jobs) when the app starts.
    reconcile_on_start: bool = True
    # A slow safety rescan: file events can be dropped under load.
    rescan_seconds: float = 15.0
    # How often ages and durations are redrawn.
    clock_tick_seconds: float = 5.0
    spinner_seconds: float = 0.25
    # The newest jobs are shown first; the rest are loaded in pages behind them.
    first_page: int = 100
    page_size: int = 500
    # Output: how many raw lines are read from the end when a job is opened, and how
    # many rendered lines are kept in memory while following.
    output_tail_lines: int = 2_000
    output_max_lines: int = 10_000
    # Appends larger than this (e.g. after a long pause) are skipped, not read.
    output_max_jump_bytes: int = 8 * 1024 * 1024
    # Filesystem watch batching (milliseconds).
    watch_debounce_ms: int = 200
    watch_step_ms: int = 20

    @classmethod
    def for_tests(cls, store_path: Path, *, now: datetime, **overrides: object) -> TuiConfig:
        """A deterministic configuration: frozen clock, no watcher, no animation."""
        values: dict[str, object] = {
            "clock": lambda: now,
            "watch": False,
            "spinner": False,
            "animations": False,
            "theme": "textual-dark",
            "reconcile_on_start": False,
            "rescan_seconds": 0.0,
            "clock_tick_seconds": 0.0,
            "launch_cwd": store_path.parent,
        }
        values.update(overrides)
        return cls(store_path=store_path, **values)  # type: ignore[arg-type]
