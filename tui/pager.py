"""A job's output in the person's pager.

The output is opened by the store, with its rules (`JobStore.open_output`). The pager is
`$PAGER` (else `less`), resolved by the shell that starts it, and reads a
copy of the output made safe on the way (`terminal_safe`): whatever `$PAGER` is, no
escape sequence codex printed reaches the terminal. The output streams through a pipe:
a 1 GB output costs a block of memory, and quitting the pager stops the copy.
"""

from __future__ import annotations

import codecs
import contextlib
import subprocess
from typing import IO

from jobstore import OutputFile, terminal_safe

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
