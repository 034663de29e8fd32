"""How values look on screen (tui.format): durations and short session ids."""

from __future__ import annotations

import pytest

from tui import format as fmt


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0.0s"),
        (0.8, "0.8s"),
        (0.99, "0.9s"),
        (1.0, "1s"),
        (1.3, "1s"),
        (1.6, "2s"),
        (45.2, "45s"),
        (59.6, "1m00s"),
        (185, "3m05s"),
        (3720, "1h02m"),
        (2 * 86400 + 3 * 3600, "2d03h"),
        (-3, "0.0s"),
    ],
)
def test_span_shows_quick_jobs_in_tenths_and_rounds_the_rest(seconds: float, shown: str) -> None:
    assert fmt.span(seconds) == shown


def test_short_session_tells_apart_sessions_started_within_a_minute() -> None:
    # codex 0.171's session ids are UUIDv7: the first 8 characters are the start time.
    first = "01a24893-1e8e-79f2-bed9-e0ab1302a149"
    second = "01a24893-4c10-7a01-8c3d-51f0aa0042be"
    assert first[:8] == second[:8]
    assert fmt.short_session(first) == "1302a149"
    assert fmt.short_session(second) == "aa0042be"


def test_short_session_of_none_and_of_unsafe_text() -> None:
    assert fmt.short_session(None) == ""
    assert "\x1b" not in fmt.short_session("session-\x1b[2J")
