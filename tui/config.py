"""How the app is configured: built from jobstore's `Settings` in `tui.__main__`, or frozen for tests.
Nothing here reads the environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jobstore import JobStore, Settings

NOTIFY_CHOICES = ("toast", "bell", "desktop")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TuiConfig:
    """Everything that differs between a person's session and a test run."""

    # The store's settings: its folder, codex, slots, cancel grace.
    settings: Settings
    # Where `codex-tui` was started: the default folder for a new job.
    launch_cwd: Path = field(default_factory=Path.cwd)
    # The app's idea of "now" (ages, durations). Tests freeze it.
    clock: Callable[[], datetime] = utc_now
    # Watch the store's files (watchfiles). Tests that snapshot turn it off.
    watch: bool = True
    # Animated spinner for running jobs; off: a static marker.
    spinner: bool = True
    # Cursor blink and similar animations.
    animations: bool = True
    theme: str | None = None
    # When a job ends: "toast" (always shown), "bell" (and the terminal bell), "desktop" (and a
    # desktop notification through notify-send, else the bell).
    notify_end: str = "toast"
    # The periodic check, on start and with each safety rescan: record lost jobs, fix slots
    # and markers, start queued jobs (reads never do).
    reconcile: bool = True
    # A slow safety rescan: file events can be dropped under load.
    rescan_seconds: float = 15.0
    # How often ages and durations are redrawn.
    clock_tick_seconds: float = 5.0
    spinner_seconds: float = 0.25
    # The newest jobs are shown first; the rest are loaded in pages behind them.
    first_page: int = 100
    page_size: int = 1_000
    # Output: how many raw lines are read from the end when a job is opened, and how
    # many rendered lines are kept in memory while following.
    output_tail_lines: int = 500
    output_max_lines: int = 10_000
    # Filesystem watch batching (milliseconds).
    watch_debounce_ms: int = 200
    watch_step_ms: int = 20

    # The team's Redis (checked: team.check_redis_url); None: no team view.
    redis_url: str | None = None
    # Open on the team view (`--team`) rather than this machine's jobs.
    team_first: bool = False
    # The team view: how many of the newest team jobs it lists, how often it lists them again
    # (the state stream tells starts and ends at once; an enqueue or a cancel asked, only a
    # listing; 0: never), how long a read of the state stream blocks, how often a running job's
    # output is read, and how long it waits before trying an unreachable Redis again.
    team_limit: int = 100
    team_relist_seconds: float = 3.0
    team_block_seconds: float = 1.0
    team_output_seconds: float = 0.2
    team_retry_seconds: float = 2.0
    # A read of the team's Redis not answered within this is said as Redis not answering.
    team_read_seconds: float = 5.0

    def open_store(self) -> JobStore:
        return JobStore.from_settings(self.settings)
