"""The Diff tab: what the selected job changed in its git repository, in colour.

The runner recorded it (`jobstore.worktree_diff`): the working tree at the job's start
against the working tree at its end, so it stays true after later edits. The diff is
codex's doing, hence untrusted: every line is made terminal-safe before it is drawn.
A worktree job's tab also says where its worktree is, its size, whether it was applied or
discarded, and offers Apply and Discard (each asks first: `tui.screens.job_actions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static
from textual.worker import Worker

from jobstore import JobRecord, JobStore, JobStoreError, terminal_safe
from tui import format as fmt
from tui.messages import WorktreeAsked
from tui.theme import palette_of
from tui.workers import Task, failed_worker

if TYPE_CHECKING:
    from textual.widgets import RichLog

    from jobstore import WorktreeDiff

MAX_LINES_SHOWN = 5_000


class DiffView(Vertical):
    """The recorded diff of one job."""

    BINDINGS = [Binding("y", "copy_diff", "Copy diff", tooltip="Copy the whole diff to the clipboard")]

    @dataclass
    class DiffRead(Message):
        key: tuple[str, str]
        diff: WorktreeDiff | None
        worktree: WorktreeInfo | None = None

    def __init__(self, store: JobStore, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.active = False  # the tab is shown: read what is selected
        self.key: tuple[str, str] | None = None  # (job id, status) asked for
        self.diff: WorktreeDiff | None = None
        self._drawn: tuple[str, str] | None = None
        # Made when the tab is first shown (_build); drawn into only after that.
        self._summary_line: Static | None = None
        self._copy_button: Button | None = None
        self._apply_button: Button | None = None
        self._discard_button: Button | None = None
        self._lines: RichLog | None = None
        self.worktree: WorktreeInfo | None = None

    def _build(self) -> None:
        """The tab's parts, made the first time it is shown: most people never open it, and
        RichLog's import (rich.pretty) costs the app's start ~10 ms (benchmarks/: first paint)."""
        from textual.widgets import RichLog

        self._summary_line = Static("", id="diff-summary")
        self._copy_button = Button("Copy diff (y)", id="copy-diff", compact=True)
        self._apply_button = Button("Apply (a)", id="apply-diff", compact=True, variant="primary")
        self._discard_button = Button("Discard (x)", id="discard-diff", compact=True, variant="error")
        self._apply_button.display = self._discard_button.display = False
        self._lines = RichLog(id="diff-lines", highlight=False, markup=False, wrap=False, auto_scroll=False)
        head = Horizontal(
            self._summary_line, self._apply_button, self._discard_button, self._copy_button, id="diff-head"
        )
        self.mount_all([head, self._lines])

    def show_job(self, job_id: str | None, status: str = "") -> None:
        """The selected job (and its status: a new status may mean a diff recorded)."""
        self.key = (job_id, status) if job_id is not None else None
        if self.active:
            self._load()

    def reload(self, job_id: str) -> None:
        """Read the job again (applied or discarded: its status did not change)."""
        if self.key is not None and self.key[0] == job_id:
            self._drawn = None
            if self.active:
                self._load()

    def activate(self, active: bool) -> None:
        self.active = active
        if active:
            if self._lines is None:
                self._build()
            self._load()

    def _load(self) -> None:
        key = self.key
        if key is None:
            self._draw(None, None)
            return
        if key == self._drawn:
            return
        self.run_worker(
            lambda: self.post_message(self.DiffRead(key, self._diff(key[0]), self._worktree(key[0]))),
            thread=True,
            group=Task.FINAL,
            name="read the job's diff",
            exit_on_error=False,
        )

    def _diff(self, job_id: str) -> WorktreeDiff | None:
        """In the worker: the diff the runner recorded. Its reader (and the safe git it
        imports) loads here, the first time a diff is shown, not at the app's start."""
        from jobstore import read_worktree_diff

        return read_worktree_diff(self.store, job_id)

    def _worktree(self, job_id: str) -> WorktreeInfo | None:
        """The job's worktree as the tab shows it (its size: a bounded read); None: it has none."""
        try:
            record = self.store.get(job_id)
        except JobStoreError:
            return None
        if not record.worktree:
            return None
        return WorktreeInfo(record, self.store.worktree_size(job_id))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        failed_worker(self, event)

    @on(DiffRead)
    def _read(self, message: DiffRead) -> None:
        message.stop()
        if message.key == self.key:
            self._draw(message.key, message.diff, message.worktree)

    def _draw(
        self, key: tuple[str, str] | None, diff: WorktreeDiff | None, worktree: WorktreeInfo | None = None
    ) -> None:
        self._drawn = key
        self.diff = diff
        self.worktree = worktree
        log, summary, copy = self._lines, self._summary_line, self._copy_button
        assert log is not None and summary is not None and copy is not None, "drawn before it was built"
        assert self._apply_button is not None and self._discard_button is not None
        log.clear()
        summary.update(self._summary(key, diff))
        if worktree is not None:
            summary.update(Text.assemble(self._summary(key, diff), "\n", worktree.text()))
        open_worktree = worktree is not None and worktree.open
        self._apply_button.display = (
            open_worktree and worktree is not None and worktree.record.applied_at is None
        )
        self._discard_button.display = open_worktree
        copy.display = diff is not None and bool(diff.diff)
        if diff is None or not diff.diff:
            return
        palette = palette_of(self.app)
        styles = {
            "+": palette.style("done"),
            "-": palette.style("error-text"),
            "@": palette.style("session"),
        }
        lines = diff.diff.splitlines()
        for line in lines[:MAX_LINES_SHOWN]:
            safe = terminal_safe(line)
            if line.startswith(("diff --git", "+++", "---", "index ", "new file", "deleted file", "rename ")):
                log.write(Text(safe, style="bold"))
            else:
                log.write(Text(safe, style=styles.get(line[:1], "")))
        if len(lines) > MAX_LINES_SHOWN:
            log.write(
                Text(f"… {len(lines) - MAX_LINES_SHOWN:,} more lines: y copies the whole diff", style="dim")
            )
        log.scroll_home(animate=False)

    def _summary(self, key: tuple[str, str] | None, diff: WorktreeDiff | None) -> Text:
        palette = palette_of(self.app)
        if key is None:
            return Text("No job selected.", style="dim")
        if diff is None:
            return Text(
                "Nothing recorded: the job's folder is not in a git repository, or the job has not started.",
                style="dim",
            )
        text = Text()
        text.append(terminal_safe(diff.repo), style="bold")
        if not diff.ended:
            text.append("  the job is running: its diff is recorded when it ends", style="dim")
        elif diff.files:
            count = len(diff.files)
            text.append(f"  {count} file{'s' if count != 1 else ''} changed", style="dim")
        elif not diff.error:
            text.append("  nothing changed", style="dim")
        if diff.truncated:
            text.append("  (cut: the diff is larger than what is kept)", style=palette.style("notice"))
        if diff.other_jobs:
            others = ", ".join(diff.other_jobs)
            text.append(
                f"\nOther jobs ran in this repository meanwhile ({others}): "
                "some of these changes may be theirs.",
                style=palette.style("notice"),
            )
        if diff.notice:
            text.append(f"\n{diff.notice}", style=palette.style("notice"))
        if diff.error:
            text.append(f"\n{terminal_safe(diff.error)}", style=palette.style("error-text"))
        return text

    @on(Button.Pressed, "#apply-diff, #discard-diff")
    def _worktree_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.worktree is not None:
            verb = "apply" if event.button.id == "apply-diff" else "discard"
            self.post_message(WorktreeAsked(self.worktree.record.job_id, verb))

    @on(Button.Pressed, "#copy-diff")
    def _copy_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_copy_diff()

    def action_copy_diff(self) -> None:
        if self.diff is None or not self.diff.diff:
            self.notify("No diff to copy.", severity="warning")
            return
        self.app.copy_to_clipboard(self.diff.diff)
        self.notify(f"Copied the diff ({len(self.diff.diff.splitlines()):,} lines).")


@dataclass(frozen=True)
class WorktreeInfo:
    """A worktree job's record and its worktree's size (None: gone, or too many files to count)."""

    record: JobRecord
    size: int | None

    @property
    def open(self) -> bool:
        """Ended, not discarded: it can be applied or discarded."""
        return (
            self.record.is_terminal
            and self.record.discarded_at is None
            and self.record.worktree_path is not None
        )

    def text(self) -> Text:
        record = self.record
        text = Text("worktree ", style="dim")
        if record.worktree_path is None:
            text.append("not made", style="dim")
            return text
        text.append(terminal_safe(record.worktree_path), style="bold")
        text.append(f"  branch {terminal_safe(record.worktree_branch or '')}", style="dim")
        if self.size is not None and record.discarded_at is None:
            text.append(f"  {fmt.byte_size(self.size)}", style="dim")
        if record.applied_at is not None:
            text.append("  applied", style="bold")
        if record.discarded_at is not None:
            text.append("  discarded", style="dim")
        return text
