"""The one reader of a job's output: lines by byte offset, forwards and backwards, and their bounds."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

import jobstore.output_file as output_file
from jobstore.cut_lines import CUT_END_BYTES
from jobstore.output_file import MAX_LINE_CHARS, OutputFile, may_be_one_event


def reference_lines(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, bytes) of every line, the obvious way."""
    lines, pos = [], 0
    for segment in data.split(b"\n"):
        lines.append((pos, min(pos + len(segment) + 1, len(data)), segment))
        pos += len(segment) + 1
    if data.endswith(b"\n") or not data:
        lines.pop()
    return lines


def test_lines_forwards_and_backwards_match_a_plain_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny blocks and lines make every edge frequent: lines longer than a block, a block
    # ending on a newline, empty lines, a last line without its newline.
    monkeypatch.setattr(output_file, "BLOCK", 64)
    monkeypatch.setattr(output_file, "LINE_BYTES", 40)
    rng = random.Random(7)
    path = tmp_path / "output.txt"
    pattern = re.compile(b"xyz")
    for _ in range(150):
        parts = [
            "".join(rng.choice("abcxyz ") for _ in range(rng.choice([0, 1, 30, 63, 64, 65, 300])))
            for _ in range(rng.randint(0, 20))
        ]
        data = ("\n".join(parts) + rng.choice(["", "\n"])).encode()
        path.write_bytes(data)
        expected = reference_lines(data)
        with OutputFile.open(path) as f:
            forward = list(f.forward(0))
            assert [(line.start, line.end) for line in forward] == [(a, b) for a, b, _ in expected]
            assert [line.complete for line in forward] == [data[b - 1 : b] == b"\n" for _, b, _ in expected]
            backward = [(line.start, line.end) for line in f.backward(len(data))]
            assert backward == [(a, b) for a, b, _ in reversed(expected)]
            for line, (_, _, raw) in zip(forward, expected, strict=True):
                assert line.text.startswith(raw[:40].decode()) and "\n" not in line.text
                assert ("cut: the line has" in line.text) == (len(raw) > 40)
            hits = [(a, b) for a, b, raw in expected if b"xyz" in raw[:40]]
            assert [(line.start, line.end) for line in f.forward(0, pattern=pattern)] == hits
            assert [(line.start, line.end) for line in f.backward(len(data), pattern=pattern)] == hits[::-1]


def test_a_huge_line_costs_what_a_short_one_does(tmp_path: Path) -> None:
    path = tmp_path / "output.txt"
    with open(path, "wb") as f:
        f.write(b"first\n")
        f.truncate(6 + 300 * 1024 * 1024)  # a 300 MB line of NULs (a sparse file: no disk used)
        f.seek(0, 2)
        f.write(b"\nlast\n")
    with OutputFile.open(path) as f:
        lines = list(f.forward(0))
        assert [line.text for line in (lines[0], lines[2])] == ["first", "last"]
        huge = lines[1]
        assert huge.end - huge.start == 300 * 1024 * 1024 + 1
        assert len(huge.text) < MAX_LINE_CHARS + 60 + CUT_END_BYTES
        assert "cut: the line has 314,572,800 bytes" in huge.text
        assert "\x00" not in huge.text  # NULs are shown, not emitted
        assert [line.text for line in f.backward(f.size())] == ["last", huge.text, "first"]


def bytes_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the reads every OutputFile makes from now on."""
    reads: list[int] = []
    read = OutputFile.read

    def counted(self: OutputFile, offset: int, length: int) -> bytes:
        data = read(self, offset, length)
        reads.append(len(data))
        return data

    monkeypatch.setattr(OutputFile, "read", counted)
    return reads


EVENT = b'{"type": "item.started", "item": {"id": "i1", "type": "command_execution", "status": "running"}}'


def test_a_huge_line_of_text_ended_by_an_event_is_shown_by_its_end_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # codex printed 24 MB without a newline, then an event: the line ends as an object, but
    # that object starts after the text, so the line is no event and its head is not looked for.
    path = tmp_path / "output.txt"
    with open(path, "wb") as f:
        f.write(b'{"type": "turn.started"}\n')
        f.write(b"x" * (24 * 1024 * 1024) + EVENT + b"\n")
    reads = bytes_read(monkeypatch)
    with OutputFile.open(path) as f:
        tail = f.tail(40)
    assert sum(reads) < 512 * 1024, f"read {sum(reads):,} bytes"
    assert len(tail.lines) == 1 and tail.lines[0].endswith(EVENT.decode())
    assert "cut: the line has" in tail.lines[0] and len(tail.lines[0]) < MAX_LINE_CHARS + 60 + CUT_END_BYTES


def test_a_huge_event_still_has_its_head_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "output.txt"
    output = 'a "quoted" line, a backslash \\ and {braces} [brackets]\n' * 300_000
    item = {"type": "command_execution", "command": "make", "aggregated_output": output}
    event = {"type": "item.completed", "item": item}
    line = json.dumps(event).encode()
    path.write_bytes(b'{"type": "turn.started"}\n' + line + b"\n")
    reads = bytes_read(monkeypatch)
    with OutputFile.open(path) as f:
        tail = f.tail(40)
    assert tail.lines[-1].startswith('{"type": "item.completed"')
    assert f"cut: the line has {len(line):,} bytes" in tail.lines[-1]
    assert sum(reads) > len(line)  # read back to where the line starts


@pytest.mark.parametrize(
    ("end", "may_be"),
    [
        (b"plain text without a newline", False),
        (b"x" * 100 + EVENT, False),
        (b"x" * 100 + EVENT + b"  ", False),
        (b'he said \\"hi\\" [x] {y}", "exit_code": 0, "status": "completed"}}', True),  # inside a string
        (b'ends\\\\", "status": "completed"}}', True),  # an escaped backslash ends a string
        (b'" ' + EVENT, False),  # the object follows other text
        (b"   " + EVENT, True),  # only blanks before it: its start may be the line's
        (b'\\\\", "exit_code": 0}}', True),  # backslashes up to the start: cannot tell
        (b'1, 2]}, "more": {"a": [3]}}', True),  # the object starts before what is read
    ],
)
def test_may_be_one_event(end: bytes, may_be: bool) -> None:
    assert may_be_one_event(end) is may_be
