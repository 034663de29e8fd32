"""What the jobs screen does with a job's output: copy its id or its final answer, page it.

Copies go through Textual's `copy_to_clipboard` (OSC 52). The pager is `$PAGER` (else
`less`), resolved by the shell that starts it, and reads a copy of the output made
safe on the way (`terminal_safe`): whatever `$PAGER` is, no escape sequence codex
printed reaches the terminal. The output streams through a pipe: a 1 GB output costs a
block of memory, and quitting the pager stops the copy.
"""

from __future__ import annotations

import codecs
import contextlib
import subprocess
from typing import IO

from textual import work
from textual.app import SuspendNotSupported
from textual.screen import Screen

from jobstore import JobStore, JobStoreError, OutputFile, terminal_safe
from tui.workers import Task

PAGER_COMMAND = "exec ${PAGER:-less}"  # the shell reads $PAGER from the environment passed on
_BLOCK = 256 * 1024


def copy_safely(output: OutputFile, sink: IO[bytes]) -> None:
    """Write the output to `sink` with every control and format character made visible."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    offset = 0
    while block := output.read(offset, _BLOCK):
        offset += len(block)
        sink.write(terminal_safe(decoder.decode(block), multiline=True).encode())
    sink.write(terminal_safe(decoder.decode(b"", final=True), multiline=True).encode())


def page_file(output: OutputFile) -> int:
    """Show the output in the person's pager, made safe; the pager's exit code."""
    pager = subprocess.Popen(["sh", "-c", PAGER_COMMAND], stdin=subprocess.PIPE)
    assert pager.stdin is not None
    try:
        copy_safely(output, pager.stdin)
    except BrokenPipeError:
        pass  # the pager quit before reading it all
    finally:
        with contextlib.suppress(BrokenPipeError):
            pager.stdin.close()
    return pager.wait()


class OutputActions(Screen[None]):
    """Copy and page the selected job's output. The jobs screen sets the state declared here."""

    store: JobStore
    selected_job_id: str | None

    def action_copy_job_id(self) -> None:
        job_id = self.selected_job_id
        if job_id is None:
            self.notify("No job selected.", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(job_id)
        self.notify(f"Copied the job id {job_id}.", timeout=3)

    def action_copy_answer(self) -> None:
        job_id = self.selected_job_id
        if job_id is None:
            self.notify("No job selected.", severity="warning", timeout=3)
            return
        self._read_answer(job_id)

    @work(thread=True, group=Task.FINAL, name="read the final answer", exit_on_error=False)
    def _read_answer(self, job_id: str) -> None:
        try:
            answer = self.store.final_message(job_id)
        except (JobStoreError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"Cannot read the answer: {exc}", severity="error")
            return
        self.app.call_from_thread(self._copy_answer, job_id, answer)

    def _copy_answer(self, job_id: str, answer: str | None) -> None:
        if not answer:
            self.notify(f"{job_id} has no answer yet.", severity="warning", timeout=3)
            return
        # Pasted into a terminal later: controls made visible here too.
        self.app.copy_to_clipboard(terminal_safe(answer, multiline=True))
        self.notify(f"Copied the answer of {job_id} ({len(answer):,} characters).", timeout=3)

    def action_open_pager(self) -> None:
        job_id = self.selected_job_id
        try:
            output = self.store.open_output(job_id) if job_id is not None else None
        except JobStoreError as exc:  # refused (a symlink...), or the job is gone
            self.notify(f"Cannot read the output: {exc}", severity="error")
            return
        if output is None:
            self.notify("No output to show.", severity="warning", timeout=3)
            return
        try:
            with output, self.app.suspend():
                code = page_file(output)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand the screen to a pager.", severity="error")
            return
        except OSError as exc:
            self.notify(f"Cannot open the pager: {exc}", severity="error")
            return
        if code > 0:
            self.notify(f"The pager ($PAGER, else less) ended with exit code {code}.", severity="warning")
