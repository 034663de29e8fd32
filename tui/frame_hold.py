"""Holding an app's repaints for a moment, so that what changes together is drawn together.

Textual draws at most one frame per 1/60 s, and a change made a few milliseconds after a
frame waits for the next one or two (~30 ms). A selection in the jobs table is such a
case: the cursor moves, then the job's detail and output are read; held, the three are
drawn in one frame instead of the cursor first and the output after.
"""

from __future__ import annotations

import contextlib

from textual.app import App
from textual.timer import Timer


class FrameHold:
    """At most one hold at a time, released by `release()` or after `seconds`."""

    def __init__(self, app: App[object], seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._held: contextlib.ExitStack | None = None
        self._deadline: Timer | None = None

    @property
    def held(self) -> bool:
        return self._held is not None

    def hold(self) -> None:
        if self._held is not None:
            return
        self._held = contextlib.ExitStack()
        self._held.enter_context(self.app.batch_update())
        self._deadline = self.app.set_timer(self.seconds, self.release, name="frame hold")

    def release(self) -> None:
        held, self._held = self._held, None
        if self._deadline is not None:
            self._deadline.stop()
            self._deadline = None
        if held is not None:
            held.close()  # repaints resume: what changed meanwhile is drawn in one frame
